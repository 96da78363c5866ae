package cdrstore_test

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
)

func TestDeadLetters(t *testing.T) {
	received := base.In(time.FixedZone("X", -3*3600)).Add(789 * time.Nanosecond)
	huge := strings.Repeat("é", cdrstore.MaxDeadLetterRaw) // twice the limit in bytes
	in := []cdr.DeadLetter{
		{Source: "freeswitch:fs1 json_cdr", Reason: "cdr: invalid record: call_id: empty", Raw: `{"variables":{}}`, ReceivedAt: received},
		{Source: "import Master.csv:17", Reason: "truncated line", Raw: "\"1741964966.42\",\"Ren\xe9e\x00", ReceivedAt: received.Add(time.Second)},
		{Source: "asterisk:pbx1 \xff", Reason: "bad\x00reason", Raw: "", ReceivedAt: time.Time{}},
		{Source: "upload", Reason: "too big", Raw: huge, ReceivedAt: received},
	}
	want := []cdr.DeadLetter{
		{Source: in[0].Source, Reason: in[0].Reason, Raw: in[0].Raw, ReceivedAt: base.Truncate(time.Microsecond)},
		{Source: in[1].Source, Reason: in[1].Reason, Raw: "\"1741964966.42\",\"Ren\uFFFDe\uFFFD", ReceivedAt: base.Add(time.Second).Truncate(time.Microsecond)},
		{Source: "asterisk:pbx1 \uFFFD", Reason: "bad\uFFFDreason", Raw: ""},
	}
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newStore(t, db)
		if got, err := s.DeadLetters(ctx, 0, 0); err != nil || got == nil || len(got) != 0 {
			t.Fatalf("none yet: %v, %v", got, err)
		}
		if err := s.PutDeadLetters(ctx, nil); err != nil {
			t.Fatal(err)
		}
		before := slices.Clone(in)
		start := time.Now()
		if err := s.PutDeadLetters(ctx, in[:2]); err != nil {
			t.Fatal(err)
		}
		if err := s.PutDeadLetters(ctx, in[2:]); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(in, before) {
			t.Error("PutDeadLetters modified its argument")
		}

		// Two pages.
		first, err := s.DeadLetters(ctx, 0, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(first) != 2 {
			t.Fatalf("first page: %d, want 2", len(first))
		}
		rest, err := s.DeadLetters(ctx, first[1].ID, 100)
		if err != nil {
			t.Fatal(err)
		}
		got := append(first, rest...)
		if len(got) != len(in) {
			t.Fatalf("%d dead letters, want %d", len(got), len(in))
		}
		for i, d := range got {
			if i > 0 && d.ID <= got[i-1].ID {
				t.Errorf("ids not ascending: %d after %d", d.ID, got[i-1].ID)
			}
			if d.ReceivedAt.Location() != time.UTC {
				t.Errorf("%d: received at %v, not UTC", i, d.ReceivedAt)
			}
		}
		for i, w := range want {
			g := got[i]
			if i == 2 {
				// A zero time is stored as the time of the call.
				if g.ReceivedAt.Before(start.Add(-time.Second)) || g.ReceivedAt.After(time.Now().Add(time.Second)) {
					t.Errorf("zero received_at stored as %v, want about %v", g.ReceivedAt, start)
				}
				g.ReceivedAt = time.Time{}
			}
			w.ID = g.ID
			if !reflect.DeepEqual(g, w) {
				t.Errorf("dead letter %d:\n got %+v\nwant %+v", i, g, w)
			}
		}
		big := got[3].Raw
		if !strings.HasPrefix(big, huge[:cdrstore.MaxDeadLetterRaw]) ||
			!strings.Contains(big, "[cut: 1048576 more bytes]") || !utf8.ValidString(big) || len(big) > cdrstore.MaxDeadLetterRaw+64 {
			t.Errorf("raw of %d bytes stored as %d bytes ending %q", len(huge), len(big), big[len(big)-40:])
		}
		if after, err := s.DeadLetters(ctx, got[3].ID, 10); err != nil || len(after) != 0 {
			t.Errorf("after the last: %v, %v", after, err)
		}
	})
}
