package cdrstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
)

func TestDeadLetters(t *testing.T) {
	received := base.In(time.FixedZone("X", -3*3600)).Add(789 * time.Nanosecond)
	huge := strings.Repeat("é", 1<<19) + "\xff" // 1 MiB of garbage posted as a CDR
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
			sum := sha256.Sum256([]byte(in[i].Raw))
			w.RawSHA256, w.RawSize = hex.EncodeToString(sum[:]), int64(len(in[i].Raw))
			if !reflect.DeepEqual(g, w) {
				t.Errorf("dead letter %d:\n got %+v\nwant %+v", i, g, w)
			}
		}
		// The 1 MiB upload is kept as an excerpt within the bound, with
		// the hash and size of the whole.
		big := got[3]
		sum := sha256.Sum256([]byte(huge))
		if len(big.Raw) > cdr.MaxDeadLetterExcerpt || len(big.Raw) < cdr.MaxDeadLetterExcerpt-utf8.UTFMax ||
			!strings.HasPrefix(huge, big.Raw) || !utf8.ValidString(big.Raw) {
			t.Errorf("raw of %d bytes stored as %d bytes ending %q", len(huge), len(big.Raw), big.Raw[max(0, len(big.Raw)-40):])
		}
		if big.RawSize != int64(len(huge)) || big.RawSHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("raw size %d, sha256 %s; want %d, %x", big.RawSize, big.RawSHA256, len(huge), sum)
		}
		var stored int64
		if err := db.GetContext(ctx, &stored, `SELECT SUM(LENGTH(raw)) FROM cdr_dead_letters`); err != nil || stored > 4*cdr.MaxDeadLetterExcerpt {
			t.Errorf("cdr_dead_letters holds %d characters of raw (%v), want at most %d", stored, err, 4*cdr.MaxDeadLetterExcerpt)
		}
		if after, err := s.DeadLetters(ctx, got[3].ID, 10); err != nil || len(after) != 0 {
			t.Errorf("after the last: %v, %v", after, err)
		}
	})
}
