package provisioning_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/rating"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

// FuzzReplaceTariffRates uploads arbitrary bytes as a plan's deck through
// the Service into SQLite: they are either refused as invalid input (never
// an internal error), the plan left as it was, or stored so that the
// export reads back to the same rates and the plan counts them.
func FuzzReplaceTariffRates(f *testing.F) {
	for _, s := range []string{
		deckHeader + "1,USA,North America,0.0100,0,60,60\n",
		"prefix,price_per_minute,days,time_from,time_to,effective_from\n49,0.03,mon-fri,08:00,18:00,2026-03-08\n",
		"prefix;price_per_minute\n49;0,03\n",
		"prefix,price_per_minute\n1,1\n1,2\n",
		"prefix,price_per_minute,destination\n1,0,\"a\nb\"\n",
		"",
	} {
		f.Add([]byte(s))
	}
	ctx := context.Background()
	db, err := sqldb.Open(ctx, "sqlite:"+filepath.Join(f.TempDir(), "f.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	if err := sqlstore.Migrate(ctx, db); err != nil {
		f.Fatal(err)
	}
	svc := provisioning.NewService(sqlstore.New(db), provisioning.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	admin := provisioning.AdminScope()
	tn := &provisioning.Tenant{Name: "fuzz"}
	if err := svc.CreateTenant(ctx, admin, tn); err != nil {
		f.Fatal(err)
	}
	p := &provisioning.TariffPlan{TenantID: tn.ID, Name: "fuzz", Currency: "USD", TimeZone: "America/New_York", ChargeStep: money.MustParse("0.0001")}
	if err := svc.CreateTariffPlan(ctx, admin, p); err != nil {
		f.Fatal(err)
	}
	ny, err := time.LoadLocation(p.TimeZone)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, deck []byte) {
		before, err := svc.TariffPlan(ctx, admin, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		imp, err := svc.ReplaceTariffRates(ctx, admin, p.ID, bytes.NewReader(deck), provisioning.RateImportOptions{})
		if err != nil {
			if !errors.Is(err, provisioning.ErrInvalid) && !errors.Is(err, provisioning.ErrTooLarge) {
				t.Fatalf("not refused as invalid input: %v", err)
			}
			after, err := svc.TariffPlan(ctx, admin, p.ID)
			if err != nil || after.Version != before.Version || after.Rates != before.Rates {
				t.Fatalf("a refused deck changed the plan: %+v, %v", after, err)
			}
			return
		}
		var out strings.Builder
		if err := svc.ExportTariffRates(ctx, admin, p.ID, &out, nil, rating.DeckOptions{}); err != nil {
			t.Fatal(err)
		}
		want, err := rating.ReadDeck(bytes.NewReader(deck), rating.DeckOptions{Location: ny})
		if err != nil {
			t.Fatal(err)
		}
		got, err := rating.ReadDeck(strings.NewReader(out.String()), rating.DeckOptions{Location: ny})
		if err != nil {
			t.Fatalf("the export does not read back: %v\n%s", err, out.String())
		}
		if len(got) != len(want) || imp.Plan.Rates != len(want) {
			t.Fatalf("%d rates imported, %d exported, plan counts %d", len(want), len(got), imp.Plan.Rates)
		}
		for i := range got {
			if !sameRate(&got[i], &want[i]) {
				t.Fatalf("rate %d: exported %+v, imported %+v", i+1, got[i], want[i])
			}
		}
	})
}

// sameRate compares rates, effective bounds as instants.
func sameRate(a, b *rating.Rate) bool {
	x, y := *a, *b
	if !x.EffectiveFrom.Equal(y.EffectiveFrom) || !x.EffectiveTo.Equal(y.EffectiveTo) {
		return false
	}
	x.EffectiveFrom, x.EffectiveTo = y.EffectiveFrom, y.EffectiveTo
	return x == y
}
