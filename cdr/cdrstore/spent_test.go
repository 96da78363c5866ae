package cdrstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
)

// TestSpent: what a tenant, or some of its accounts, spent since a time
// in one currency: priced legs only, other tenants and currencies apart.
func TestSpent(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newStore(t, db)
		at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
		mk := func(id string, tenant int64, account, cur, cost string, end time.Time) cdr.Record {
			r := leg("pbx1", id, "acme.example", end)
			r.TenantID, r.Account, r.Currency = &tenant, account, money.Currency(cur)
			if cost != "" {
				c := money.MustParse(cost)
				r.Cost = &c
			}
			return r
		}
		mustInsert(t, s, []cdr.Record{
			mk("a", 1, "alice", "USD", "1.25", at),
			mk("b", 1, "bob", "USD", "0.50", at.Add(time.Minute)),
			mk("c", 1, "alice", "USD", "2", at.Add(-2*time.Hour)), // before since
			mk("d", 1, "alice", "EUR", "9", at),                   // another currency
			mk("e", 1, "alice", "USD", "", at),                    // not priced
			mk("f", 2, "alice", "USD", "7", at),                   // another tenant
		})
		since := at.Add(-time.Hour)
		for _, tt := range []struct {
			name     string
			accounts []cdrstore.AccountRef
			want     string
		}{
			{"the tenant", nil, "1.75"},
			{"one account", []cdrstore.AccountRef{{Domain: "acme.example", Username: "alice"}}, "1.25"},
			{"two accounts", []cdrstore.AccountRef{{Domain: "acme.example", Username: "alice"}, {Domain: "acme.example", Username: "bob"}}, "1.75"},
			{"an account of another domain", []cdrstore.AccountRef{{Domain: "other.example", Username: "alice"}}, "0"},
			{"a user without accounts", []cdrstore.AccountRef{}, "0"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.Spent(ctx, 1, "USD", since, tt.accounts)
				if err != nil {
					t.Fatal(err)
				}
				if got.String() != tt.want {
					t.Errorf("spent %s, want %s", got, tt.want)
				}
			})
		}
	})
}
