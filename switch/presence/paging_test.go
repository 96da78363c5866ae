package presence

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func keyOf(r Registration) regKey {
	return regKey{Domain: r.Domain, User: r.User, Contact: r.Contact, Switch: r.Switch}
}

func compareRegKey(a, b regKey) int {
	return cmp.Or(strings.Compare(a.Domain, b.Domain), strings.Compare(a.User, b.User),
		strings.Compare(a.Contact, b.Contact), strings.Compare(a.Switch, b.Switch))
}

// model is the obvious implementation the View is checked against: a
// sorted slice of keys.
type model struct{ ks []regKey }

func (m *model) add(k regKey) {
	if i, found := slices.BinarySearchFunc(m.ks, k, compareRegKey); !found {
		m.ks = slices.Insert(m.ks, i, k)
	}
}

func (m *model) remove(k regKey) {
	if i, found := slices.BinarySearchFunc(m.ks, k, compareRegKey); found {
		m.ks = slices.Delete(m.ks, i, i+1)
	}
}

// page returns the first limit keys matching q after the cursor key.
func (m *model) page(q RegistrationQuery, after *regKey, limit int) []regKey {
	i := 0
	if after != nil {
		i, _ = slices.BinarySearchFunc(m.ks, *after, compareRegKey)
		if i < len(m.ks) && m.ks[i] == *after {
			i++
		}
	}
	var out []regKey
	for _, k := range m.ks[i:] {
		if len(out) == limit {
			break
		}
		if matches(q, k) {
			out = append(out, k)
		}
	}
	return out
}

// TestPagingWithChurn walks 10,000 registrations on two switches page by
// page while registrations are added and removed between pages, before and
// after the cursor. Each page must be exactly the next items of a model
// after the cursor, so every registration present throughout the walk is
// seen exactly once and in order.
func TestPagingWithChurn(t *testing.T) {
	queries := []struct {
		name string
		q    RegistrationQuery
	}{
		{"one domain", RegistrationQuery{Domain: "big.example"}},
		{"everything", RegistrationQuery{}},
		{"scope", RegistrationQuery{Domains: []string{"small.example", "big.example"}}},
		{"one switch", RegistrationQuery{Domain: "big.example", Switch: "sw-b"}},
		{"one user", RegistrationQuery{User: "u00042"}},
	}
	for _, churn := range []bool{false, true} {
		for _, tt := range queries {
			t.Run(fmt.Sprintf("%s/churn=%v", tt.name, churn), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(1, 2))
				v := New()
				feeds := []*Feed{v.Feed("sw-a"), v.Feed("sw-b")}
				m := &model{}
				put := func(domain string, user, contact int) {
					f := feeds[rng.IntN(2)]
					r := reg(domain, fmt.Sprintf("u%05d", user), fmt.Sprintf("sip:%d@10.0.0.1", contact))
					f.PutRegistration(r)
					r.Switch = f.Name()
					m.add(keyOf(r))
				}
				for i := range 10000 {
					put("big.example", i/2, i%2) // two contacts per user
				}
				for i := range 300 {
					put([]string{"a.example", "small.example", "z.example"}[i%3], i, 0)
				}
				stable := map[regKey]bool{}
				for _, k := range m.ks {
					if rng.IntN(2) == 0 {
						stable[k] = true // never deleted: must be seen exactly once
					}
				}

				q := tt.q
				q.Limit = 97
				seen := map[regKey]int{}
				var last *regKey
				for pages := 0; ; pages++ {
					if pages > 1000 {
						t.Fatal("paging does not end")
					}
					got, next := v.Registrations(q)
					want := m.page(q, last, q.Limit)
					gotKeys := make([]regKey, len(got))
					for i, r := range got {
						gotKeys[i] = keyOf(r)
						seen[keyOf(r)]++
					}
					if !slices.Equal(gotKeys, want) {
						t.Fatalf("page %d:\ngot  %v\nwant %v", pages, gotKeys, want)
					}
					if next == "" {
						if more := m.page(q, lastOf(gotKeys, last), 1); len(more) != 0 {
							t.Fatalf("page %d claims to be the last, but %v follows", pages, more)
						}
						break
					}
					last = &gotKeys[len(gotKeys)-1]
					q.After = next
					if !churn {
						continue
					}
					for range 20 { // delete some, anywhere
						k := m.ks[rng.IntN(len(m.ks))]
						if !stable[k] {
							v.Feed(k.Switch).DeleteRegistration(k.Domain, k.User, k.Contact)
							m.remove(k)
						}
					}
					for range 20 { // insert some, anywhere
						put([]string{"big.example", "a.example", "small.example", "zz.example"}[rng.IntN(4)], rng.IntN(6000), 2+rng.IntN(3))
					}
				}
				for k := range stable {
					if matches(tt.q, k) && seen[k] != 1 {
						t.Errorf("%v seen %d times, want once", k, seen[k])
					}
				}
				for k, n := range seen {
					if n != 1 {
						t.Errorf("%v seen %d times", k, n)
					}
				}
			})
		}
	}
}

func lastOf(ks []regKey, prev *regKey) *regKey {
	if len(ks) == 0 {
		return prev
	}
	return &ks[len(ks)-1]
}

func matches(q RegistrationQuery, k regKey) bool {
	return (q.Domain == "" || k.Domain == q.Domain) && (q.Domains == nil || slices.Contains(q.Domains, k.Domain)) &&
		(q.User == "" || k.User == q.User) && (q.Switch == "" || k.Switch == q.Switch)
}

func TestRegistrationsLimit(t *testing.T) {
	v := New()
	f := v.Feed("sw")
	for i := range 1500 {
		f.PutRegistration(reg("d", fmt.Sprintf("%04d", i), "c"))
	}
	tests := []struct {
		limit, want int
		last        bool
	}{
		{0, DefaultLimit, false},
		{-1, DefaultLimit, false},
		{10, 10, false},
		{5000, MaxLimit, false},
	}
	for _, tt := range tests {
		got, next := v.Registrations(RegistrationQuery{Limit: tt.limit})
		if len(got) != tt.want || (next == "") != tt.last {
			t.Errorf("Limit %d: %d items, next %q; want %d items", tt.limit, len(got), next, tt.want)
		}
	}
	// An exactly full last page has no next cursor.
	got, next := v.Registrations(RegistrationQuery{Limit: 500, After: mustCursor(t, v, 999)})
	if len(got) != 500 || next != "" {
		t.Errorf("exactly full last page: %d items, next %q", len(got), next)
	}
}

// mustCursor returns the cursor after the i-th registration.
func mustCursor(t *testing.T, v *View, i int) string {
	t.Helper()
	page, _ := v.Registrations(RegistrationQuery{Limit: MaxLimit})
	return encodeCursor(&page[i])
}

func TestCursor(t *testing.T) {
	v := New()
	v.Feed("sw").PutRegistration(reg("d", "u", "c"))
	good := encodeCursor(&Registration{Domain: "a", User: "b", Contact: "c", Switch: "d"})
	tests := []struct {
		name   string
		cursor string
		valid  bool
	}{
		{"empty", "", true},
		{"made by the view", good, true},
		{"not base64", "!!!", false},
		{"truncated", good[:len(good)-2], false},
		{"trailing bytes", good + "AA", false},
		{"huge length", "_____wE", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidCursor(tt.cursor); got != tt.valid {
				t.Errorf("ValidCursor = %v, want %v", got, tt.valid)
			}
			page, next := v.Registrations(RegistrationQuery{After: tt.cursor})
			if !tt.valid && (len(page) != 0 || next != "") {
				t.Errorf("invalid cursor gave %d items, next %q; want an empty last page", len(page), next)
			}
		})
	}
}

func FuzzCursor(f *testing.F) {
	f.Add("", "", "", "")
	f.Add("example.com", "1001", "sip:1001@10.0.0.1:5060;transport=udp", "asterisk-1")
	f.Add("\x00", "\xff", "ünï", strings.Repeat("x", 300))
	f.Fuzz(func(t *testing.T, d, u, c, s string) {
		want := regKey{d, u, c, s}
		cur := encodeCursor(&Registration{Domain: d, User: u, Contact: c, Switch: s})
		got, ok := decodeCursor(cur)
		if !ok || got != want {
			t.Fatalf("round trip of %q: %+v, %v", cur, got, ok)
		}
		// Arbitrary client input must never panic, and whatever decodes
		// must encode back to the same cursor.
		if k, ok := decodeCursor(d); ok {
			r := Registration{Domain: k.Domain, User: k.User, Contact: k.Contact, Switch: k.Switch}
			if again := encodeCursor(&r); again != d {
				t.Fatalf("%q decodes but re-encodes as %q", d, again)
			}
		}
	})
}

// TestIndexAgainstModel drives one regIndex through random inserts and
// deletes, enough to split and merge chunks, and checks it against a
// sorted slice after each step.
func TestIndexAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	tbl := newRegTable()
	var want []string // "user\x00contact", sorted
	check := func(step int) {
		x := tbl.byDomain["d"]
		if x == nil {
			if len(want) != 0 {
				t.Fatalf("step %d: index dropped with %d entries left", step, len(want))
			}
			return
		}
		var got []string
		for ci, ch := range x.chunks {
			if len(ch) == 0 || len(ch) > maxChunk {
				t.Fatalf("step %d: chunk %d has %d entries", step, ci, len(ch))
			}
			for _, e := range ch {
				got = append(got, e.User+"\x00"+e.Contact)
			}
		}
		if x.n != len(got) || tbl.n != len(got) || !slices.Equal(got, want) {
			t.Fatalf("step %d: index holds %d (n=%d, table n=%d), model %d, or order differs", step, len(got), x.n, tbl.n, len(want))
		}
	}
	for step := range 20000 {
		user := fmt.Sprintf("u%04d", rng.IntN(3000))
		contact := fmt.Sprint(rng.IntN(3))
		k := user + "\x00" + contact
		switch op := rng.IntN(10); {
		case op < 6 || step < 3000: // grow first, then churn
			tbl.put(reg("d", user, contact))
			if i, found := slices.BinarySearch(want, k); !found {
				want = slices.Insert(want, i, k)
			}
		case op < 9:
			tbl.delete("d", user, contact)
			if i, found := slices.BinarySearch(want, k); found {
				want = slices.Delete(want, i, i+1)
			}
		default: // every contact of the user
			tbl.delete("d", user, "")
			i, _ := slices.BinarySearch(want, user+"\x00")
			j := i
			for j < len(want) && strings.HasPrefix(want[j], user+"\x00") {
				j++
			}
			want = slices.Delete(want, i, j)
		}
		if step%97 == 0 {
			check(step)
		}
	}
	check(-1)
	// Emptying the index drops it.
	for _, k := range slices.Clone(want) {
		u, c, _ := strings.Cut(k, "\x00")
		tbl.delete("d", u, c)
	}
	want = nil
	check(-2)
}
