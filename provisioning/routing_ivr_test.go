package provisioning_test

import (
	"bytes"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/audio"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// sound uploads a short tone as sound name of tenant t.
func (f *routingFixture) sound(t *testing.T, e *env, tenant *provisioning.Tenant, name string) *provisioning.Sound {
	t.Helper()
	c := &audio.Clip{Rate: 8000, Samples: make([]int16, 4000)}
	for i := range c.Samples {
		c.Samples[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(i)/8000))
	}
	var b bytes.Buffer
	must(t, c.WriteWAV(&b))
	s := &provisioning.Sound{TenantID: tenant.ID, Name: name}
	must(t, e.svc.CreateSound(e.ctx, provisioning.AdminScope(), s, &b))
	return s
}

// TestIVRMenus: menus are routing objects whose keys are destinations
// (another menu too: "back to the main menu" is no loop, since the caller
// presses a key), whose timeout and invalid branches are followed by
// themselves (a loop through them is refused), and which play the
// tenant's own sounds (kept from deletion while played). The trace
// follows the caller's entries.
func TestIVRMenus(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		f := newRoutingFixture(t, e)
		sc, in := f.tenantAdmin, provisioning.RoutingMeta{TenantID: f.t.ID}
		greeting, sorry := f.sound(t, e, f.t, "greeting"), f.sound(t, e, f.t, "sorry")
		foreign := f.sound(t, e, f.other, "theirs")
		x100 := f.extension(t, e, "100", acct(f.a1))
		sales := &provisioning.HuntGroup{RoutingMeta: in, Number: "500", Name: "sales", Strategy: provisioning.HuntRingAll,
			Members: []provisioning.HuntMember{{Destination: acct(f.a2)}, {Destination: acct(f.a3)}}}
		must(t, e.svc.CreateHuntGroup(e.ctx, sc, sales))

		sub := &provisioning.IVRMenu{RoutingMeta: in, Name: "support", GreetingSoundID: greeting.ID,
			Options: []provisioning.IVROption{{Digit: "1", Destination: acct(f.a3)}}}
		must(t, e.svc.CreateIVRMenu(e.ctx, sc, sub))
		main := &provisioning.IVRMenu{RoutingMeta: in, Number: "800", Name: "main", GreetingSoundID: greeting.ID, InvalidSoundID: &sorry.ID,
			TimeoutSecs: 4, DirectDial: true,
			Options: []provisioning.IVROption{
				{Digit: "1", Destination: dest{Kind: provisioning.DestHuntGroup, ID: sales.ID}},
				{Digit: "2", Destination: dest{Kind: provisioning.DestIVR, ID: sub.ID}},
				{Digit: "#", Destination: ext(x100)},
			},
			Timeout: ext(x100), Invalid: dest{Kind: provisioning.DestBusy}}
		must(t, e.svc.CreateIVRMenu(e.ctx, sc, main))
		if main.Repeats == nil || *main.Repeats != provisioning.DefaultIVRRepeats || main.Plays() != 3 || main.Wait() != 4 {
			t.Errorf("defaults: repeats %v plays %d wait %d", main.Repeats, main.Plays(), main.Wait())
		}
		// The submenu's 0 goes back to the main menu: no loop.
		_, err := e.svc.UpdateIVRMenu(e.ctx, sc, sub.ID, func(m *provisioning.IVRMenu) error {
			m.Options = append(m.Options, provisioning.IVROption{Digit: "0", Destination: dest{Kind: provisioning.DestIVR, ID: main.ID}})
			return nil
		})
		must(t, err)

		p, err := e.svc.RoutingPlan(e.ctx, sc, f.t.ID)
		must(t, err)
		d, ok := p.Number("800")
		if !ok || d.Kind != provisioning.DestIVR {
			t.Fatalf("800 in the plan: %v %v", d, ok)
		}
		now := time.Now()
		for _, tc := range []struct {
			input string
			want  string
		}{
			{"", "menu 4s×3 #,1,2\nring 201@acme.example\n"},
			{"1", "menu 4s×3 #,1,2\nring 202@acme.example,203@acme.example 20s\nhangup\n"},
			{"2", "menu 4s×3 #,1,2\nmenu 5s×3 0,1\nhangup\n"},
			{"2,1", "menu 4s×3 #,1,2\nmenu 5s×3 0,1\nring 203@acme.example\n"},
			{"2,0,#", "menu 4s×3 #,1,2\nmenu 5s×3 0,1\nmenu 4s×3 #,1,2\nring 201@acme.example\n"},
			{"100", "menu 4s×3 #,1,2\nring 201@acme.example\n"}, // direct dial
			{"7", "menu 4s×3 #,1,2\nbusy\n"},                    // invalid
		} {
			var input []string
			if tc.input != "" {
				input = strings.Split(tc.input, ",")
			}
			var b strings.Builder
			for _, s := range p.TraceInput(d, now, "", input) {
				switch s.Do {
				case "menu":
					var keys []string
					for k := range s.Options {
						keys = append(keys, k)
					}
					slices.Sort(keys)
					b.WriteString("menu " + strconv.Itoa(s.Secs) + "s×" + strconv.Itoa(s.Plays) + " " + strings.Join(keys, ",") + "\n")
					if s.Sound != greeting.ID {
						t.Errorf("menu step plays sound %d, want %d", s.Sound, greeting.ID)
					}
				default:
					b.WriteString(steps([]provisioning.Step{s}))
				}
			}
			if b.String() != tc.want {
				t.Errorf("input %q:\n got %s\nwant %s", tc.input, b.String(), tc.want)
			}
		}

		// Refused, naming the field, writing nothing.
		before, _ := e.svc.IVRMenus(e.ctx, sc, provisioning.RoutingFilter{TenantID: f.t.ID})
		for _, tc := range []struct {
			name  string
			m     provisioning.IVRMenu
			field string
			err   error
		}{
			{"no greeting", provisioning.IVRMenu{Name: "x", Options: main.Options}, "greeting_sound_id", provisioning.ErrInvalid},
			{"no keys", provisioning.IVRMenu{Name: "x", GreetingSoundID: greeting.ID}, "options", provisioning.ErrInvalid},
			{"two keys", provisioning.IVRMenu{Name: "x", GreetingSoundID: greeting.ID, Options: []provisioning.IVROption{{Digit: "12", Destination: ext(x100)}}}, "options[0].digit", provisioning.ErrInvalid},
			{"a key twice", provisioning.IVRMenu{Name: "x", GreetingSoundID: greeting.ID, Options: []provisioning.IVROption{{Digit: "1", Destination: ext(x100)}, {Digit: "1", Destination: ext(x100)}}}, "options[1].digit", provisioning.ErrInvalid},
			{"a missing sound", provisioning.IVRMenu{Name: "x", GreetingSoundID: 99999, Options: main.Options}, "greeting_sound_id", provisioning.ErrNotFound},
			{"another tenant's sound", provisioning.IVRMenu{Name: "x", GreetingSoundID: foreign.ID, Options: main.Options}, "greeting_sound_id", provisioning.ErrNotFound},
			{"a number taken", provisioning.IVRMenu{Number: "100", Name: "x", GreetingSoundID: greeting.ID, Options: main.Options}, "number", provisioning.ErrConflict},
			{"timeout too long", provisioning.IVRMenu{Name: "x", GreetingSoundID: greeting.ID, Options: main.Options, TimeoutSecs: 61}, "timeout_seconds", provisioning.ErrInvalid},
			{"a loop through timeouts", provisioning.IVRMenu{Name: "x", GreetingSoundID: greeting.ID, Options: main.Options, Timeout: dest{Kind: provisioning.DestIVR, ID: main.ID}}, "", nil},
		} {
			m := tc.m
			m.RoutingMeta = in
			err := e.svc.CreateIVRMenu(e.ctx, sc, &m)
			if tc.err == nil {
				// The new menu times out to main; main's timeout is x100:
				// no loop yet. Make main time out to it: a loop.
				must(t, err)
				_, err = e.svc.UpdateIVRMenu(e.ctx, sc, main.ID, func(mm *provisioning.IVRMenu) error {
					mm.Timeout = dest{Kind: provisioning.DestIVR, ID: m.ID}
					return nil
				})
				wantField(t, err, provisioning.ErrInvalid, "timeout", "loop")
				must(t, e.svc.DeleteIVRMenu(e.ctx, sc, m.ID))
				continue
			}
			wantField(t, err, tc.err, tc.field, "")
		}
		after, _ := e.svc.IVRMenus(e.ctx, sc, provisioning.RoutingFilter{TenantID: f.t.ID})
		if len(after) != len(before) {
			t.Errorf("refused menus wrote: %d menus, want %d", len(after), len(before))
		}

		// A played sound cannot go; the menu's delete frees it.
		err = e.svc.DeleteSound(e.ctx, sc, sorry.ID)
		wantField(t, err, provisioning.ErrConflict, "", "ivr")
		_, err = e.svc.UpdateIVRMenu(e.ctx, sc, main.ID, func(m *provisioning.IVRMenu) error { m.InvalidSoundID = nil; return nil })
		must(t, err)
		must(t, e.svc.DeleteSound(e.ctx, sc, sorry.ID))
	})
}
