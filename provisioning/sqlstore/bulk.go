package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// bulkRows is how many rows one multi-row INSERT carries: 500 rows of 10
// columns stay far below both engines' limits on bound parameters (SQLite
// 32766, PostgreSQL 65535) while cutting round trips by as much.
const bulkRows = 500

// BulkCreateAccounts inserts accounts in one transaction with multi-row
// INSERTs, for seeding benchmarks and imports. Secret and HA1 are stored as
// given (nothing is validated or hashed: that is the Service's job); zero
// timestamps become now. IDs are not reported back: read them with
// Accounts. Either every account is inserted or none is.
func (s *Store) BulkCreateAccounts(ctx context.Context, accounts []provisioning.Account) error {
	if len(accounts) == 0 {
		return nil
	}
	const cols = 10
	now := s.clock()
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		for start := 0; start < len(accounts); start += bulkRows {
			chunk := accounts[start:min(start+bulkRows, len(accounts))]
			args := make([]any, 0, len(chunk)*cols)
			for i := range chunk {
				a := &chunk[i]
				created, updated := a.CreatedAt, a.UpdatedAt
				if created.IsZero() {
					created = now
				}
				if updated.IsZero() {
					updated = created
				}
				args = append(args, a.DomainID, a.Username, a.Secret, a.HA1, a.CallerIDName, a.CallerIDNumber,
					a.Description, a.UserID, s.ts(created), s.ts(updated))
			}
			query := `INSERT INTO accounts (domain_id, username, secret, ha1, caller_id_name, caller_id_number,
				description, user_id, created_at, updated_at) VALUES ` + placeholders(len(chunk), cols)
			if _, err := tx.ExecContext(ctx, s.q(query), args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return s.writeErr(ctx, "bulk create accounts", err, "username", "an account with this username already exists in its domain")
	}
	return nil
}

// BulkCreateTenants inserts tenants in order in one transaction and sets
// their IDs, paths and timestamps, so a later tenant of the slice may name
// an earlier one as its parent.
func (s *Store) BulkCreateTenants(ctx context.Context, tenants []*provisioning.Tenant) error {
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := s.lockTree(ctx, tx); err != nil {
			return err
		}
		for _, t := range tenants {
			if err := s.createTenant(ctx, tx, t); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		for _, t := range tenants { // rolled back: the IDs are nobody's
			t.ID, t.Path = 0, ""
		}
	}
	return err
}

// BulkCreateDomains inserts domains in one transaction and sets their IDs
// and timestamps.
func (s *Store) BulkCreateDomains(ctx context.Context, domains []*provisioning.Domain) error {
	var failed *provisioning.Domain
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		for _, d := range domains {
			if err := s.insertDomain(ctx, tx, d); err != nil {
				failed = d
				return err
			}
		}
		return nil
	})
	if err != nil {
		for _, d := range domains { // rolled back: the IDs are nobody's
			d.ID = 0
		}
	}
	if err != nil && failed != nil {
		return s.writeErr(ctx, "bulk create domains", err, "name", fmt.Sprintf("domain %s already exists", failed.Name),
			ref{"tenant_id", "tenant", "tenants", failed.TenantID})
	}
	return err
}

// placeholders returns "(?, ?), (?, ?)" for rows rows of cols columns.
func placeholders(rows, cols int) string {
	row := "(" + strings.Repeat("?, ", cols-1) + "?)"
	var b strings.Builder
	b.Grow(rows * (len(row) + 2))
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

// BulkCreateRouting inserts routing objects and their references in one
// transaction, for seeding benchmarks and imports: nothing is validated
// (the Service's job), references are recorded as given. refs[i] are
// recs[i]'s references. IDs and timestamps are set on recs.
func (s *Store) BulkCreateRouting(ctx context.Context, recs []*provisioning.RoutingRecord, refs [][]provisioning.RoutingRef) error {
	now := s.clock()
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		for i, r := range recs {
			if err := tx.GetContext(ctx, &r.ID, s.q(`INSERT INTO routing_objects (tenant_id, kind, slot, name, body, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`), r.TenantID, string(r.Kind), r.Slot, r.Name, string(r.Body), s.ts(now), s.ts(now)); err != nil {
				return err
			}
			r.CreatedAt, r.UpdatedAt = now, now
			if i < len(refs) {
				if err := s.writeRefs(ctx, tx, r.ID, refs[i]); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlstore: bulk create routing objects: %w", err)
	}
	return nil
}
