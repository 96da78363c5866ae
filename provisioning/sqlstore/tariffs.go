package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"

	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/rating"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/provisioning"
)

var (
	_ provisioning.TariffStore        = (*Store)(nil)
	_ provisioning.GatewayTariffStore = (*Store)(nil)
)

const tariffPlanCols = `p.id, p.tenant_id, p.name, p.currency, p.time_zone, p.charge_step, p.description, p.rates, p.version, p.created_at, p.updated_at`

func fixTariffPlan(p *provisioning.TariffPlan) { utc(&p.CreatedAt, &p.UpdatedAt) }

// CreateTariffPlan inserts a plan without rates.
func (s *Store) CreateTariffPlan(ctx context.Context, p *provisioning.TariffPlan) error {
	now := s.clock()
	err := s.db.GetContext(ctx, &p.ID, s.q(`INSERT INTO tariff_plans (tenant_id, name, currency, time_zone, charge_step, description, rates, version, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, 0, 1, ?, ?) RETURNING id`),
		p.TenantID, p.Name, string(p.Currency), p.TimeZone, int64(p.ChargeStep), p.Description, s.ts(now), s.ts(now))
	if err != nil {
		p.ID = 0
		return s.writeErr(ctx, "create tariff plan", err, "name", "the tenant already has a tariff plan of that name",
			ref{"tenant_id", "tenant", "tenants", p.TenantID})
	}
	p.Rates, p.Version, p.CreatedAt, p.UpdatedAt = 0, 1, now, now
	return nil
}

// TariffPlan returns plan id.
func (s *Store) TariffPlan(ctx context.Context, id int64) (*provisioning.TariffPlan, error) {
	var p provisioning.TariffPlan
	if err := s.db.GetContext(ctx, &p, s.q(`SELECT `+tariffPlanCols+` FROM tariff_plans p WHERE p.id = ?`), id); err != nil {
		return nil, notFound(err, "tariff plan", id)
	}
	fixTariffPlan(&p)
	return &p, nil
}

// TariffPlans lists plans matching f in ID order.
func (s *Store) TariffPlans(ctx context.Context, f provisioning.TariffPlanFilter) ([]provisioning.TariffPlan, error) {
	base := `SELECT ` + tariffPlanCols + ` FROM tariff_plans p`
	var w where
	if f.Subtree != "" {
		base += ` JOIN tenants t ON t.id = p.tenant_id`
		w.prefix("t.path", f.Subtree)
	}
	if f.TenantID != 0 {
		w.and("p.tenant_id = ?", f.TenantID)
	}
	if f.Name != "" {
		w.and("p.name = ?", f.Name)
	}
	query, args := w.page(base, "p.id", f.Page)
	return list(ctx, s, "tariff plans", query, args, fixTariffPlan)
}

// UpdateTariffPlan saves the plan's settings and bumps its version.
func (s *Store) UpdateTariffPlan(ctx context.Context, p *provisioning.TariffPlan) error {
	now := s.clock()
	var version int64
	err := s.db.GetContext(ctx, &version, s.q(`UPDATE tariff_plans SET name = ?, currency = ?, time_zone = ?, charge_step = ?, description = ?,
		version = version + 1, updated_at = ? WHERE id = ? RETURNING version`),
		p.Name, string(p.Currency), p.TimeZone, int64(p.ChargeStep), p.Description, s.ts(now), p.ID)
	if err != nil {
		if err == sql.ErrNoRows {
			return provisioning.NotFound("tariff plan", p.ID)
		}
		return s.writeErr(ctx, fmt.Sprintf("update tariff plan %d", p.ID), err, "name", "the tenant already has a tariff plan of that name")
	}
	p.Version, p.UpdatedAt = version, now
	return nil
}

// DeleteTariffPlan deletes plan id and its rates unless a tenant, a DID
// or a gateway carries it.
func (s *Store) DeleteTariffPlan(ctx context.Context, id int64) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := exists(ctx, tx, s.q, "tariff_plans", "tariff plan", id); err != nil {
			return err
		}
		var c struct {
			Tenants  int `db:"tenants"`
			DIDs     int `db:"dids"`
			Gateways int `db:"gateways"`
		}
		if err := tx.GetContext(ctx, &c, s.q(`SELECT
			(SELECT COUNT(*) FROM tenant_tariffs WHERE plan_id = ?) AS tenants,
			(SELECT COUNT(*) FROM did_tariffs WHERE plan_id = ?) AS dids,
			(SELECT COUNT(*) FROM gateway_tariffs WHERE plan_id = ?) AS gateways`), id, id, id); err != nil {
			return fmt.Errorf("sqlstore: count users of tariff plan %d: %w", id, err)
		}
		if left := remains(child{c.Tenants, "tenant", "tenants"}, child{c.DIDs, "DID", "DIDs"},
			child{c.Gateways, "gateway", "gateways"}); len(left) > 0 {
			return provisioning.Conflict("", "tariff plan %d is still assigned to %s", id, strings.Join(left, " and "))
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM tariff_rates WHERE plan_id = ?`), id); err != nil {
			return deleteErr("tariff plan", id, err)
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM tariff_plans WHERE id = ?`), id); err != nil {
			return deleteErr("tariff plan", id, err)
		}
		return nil
	})
}

// rateCols are tariff_rates' columns as ReplaceTariffRates writes them.
const (
	rateCols = `plan_id, seq, prefix, destination, grp, price_per_minute, connect_fee, first_increment, next_increment,
		minimum_seconds, free_seconds, days, time_from, time_to, effective_from, effective_to`
	rateColCount = 16
	// rateBatch is the rows of one INSERT: 16 × 1,000 = 16,000 bound
	// values, within SQLite's 32,766 and PostgreSQL's 65,535. Past a few
	// hundred rows a bigger batch gains little; it halves bulkRows'
	// statements for these short rows.
	rateBatch = 1000
)

// ReplaceTariffRates replaces plan id's rates in one transaction: the
// plan's count and version updated first (which locks its row, so two
// imports of one plan take turns and each reads back the version it
// wrote), the old rows deleted, the new ones written. PostgreSQL takes
// them by COPY, SQLite by rateBatch-row INSERTs of one prepared statement.
func (s *Store) ReplaceTariffRates(ctx context.Context, id int64, rates []rating.Rate, progress func(int)) (*provisioning.TariffPlan, error) {
	var (
		p   *provisioning.TariffPlan
		err error
	)
	if s.db.Engine == sqldb.Postgres {
		p, err = s.copyRates(ctx, id, rates, progress)
	} else {
		err = s.inTx(ctx, func(tx *sqlx.Tx) error {
			var plan provisioning.TariffPlan
			if err := tx.GetContext(ctx, &plan, s.q(bumpPlanSQL), len(rates), s.ts(s.clock()), id); err != nil {
				return notFound(err, "tariff plan", id)
			}
			p = &plan
			if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM tariff_rates WHERE plan_id = ?`), id); err != nil {
				return err
			}
			return s.insertRates(ctx, tx, id, rates, progress)
		})
	}
	if err != nil {
		return nil, s.writeErr(ctx, fmt.Sprintf("replace rates of tariff plan %d", id), err, "", "")
	}
	fixTariffPlan(p)
	return p, nil
}

// bumpPlanSQL records a new deck on its plan and returns the plan.
const bumpPlanSQL = `UPDATE tariff_plans SET rates = ?, version = version + 1, updated_at = ? WHERE id = ?
	RETURNING id, tenant_id, name, currency, time_zone, charge_step, description, rates, version, created_at, updated_at`

// copyRates is ReplaceTariffRates on PostgreSQL, on a pgx connection of
// the pool: COPY writes 100,000 rates several times faster than INSERTs.
func (s *Store) copyRates(ctx context.Context, id int64, rates []rating.Rate, progress func(int)) (*provisioning.TariffPlan, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var p provisioning.TariffPlan
	err = conn.Raw(func(dc any) error {
		c := dc.(*stdlib.Conn).Conn()
		tx, err := c.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
		var cur string
		var step int64
		err = tx.QueryRow(ctx, s.q(bumpPlanSQL), len(rates), s.ts(s.clock()), id).Scan(&p.ID, &p.TenantID, &p.Name, &cur,
			&p.TimeZone, &step, &p.Description, &p.Rates, &p.Version, &p.CreatedAt, &p.UpdatedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return provisioning.NotFound("tariff plan", id)
		}
		if err != nil {
			return err
		}
		p.Currency, p.ChargeStep = money.Currency(cur), money.Amount(step)
		if _, err := tx.Exec(ctx, `DELETE FROM tariff_rates WHERE plan_id = $1`, id); err != nil {
			return err
		}
		src := &rateSource{id: id, rates: rates, i: -1, progress: progress}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"tariff_rates"}, rateColumns, src); err != nil {
			return err
		}
		if progress != nil && len(rates) > 0 {
			progress(len(rates))
		}
		return tx.Commit(ctx)
	})
	return &p, err
}

var rateColumns = strings.Fields(strings.ReplaceAll(rateCols, ",", " "))

// rateSource feeds COPY one rate a row, calling progress every rateBatch.
type rateSource struct {
	id       int64
	rates    []rating.Rate
	i        int
	progress func(int)
}

func (r *rateSource) Next() bool {
	r.i++
	if r.progress != nil && r.i > 0 && r.i%rateBatch == 0 && r.i < len(r.rates) {
		r.progress(r.i)
	}
	return r.i < len(r.rates)
}

func (r *rateSource) Values() ([]any, error) { return rateValues(r.id, r.i, &r.rates[r.i]), nil }

func (r *rateSource) Err() error { return nil }

// rateValues are rate r's column values, in rateCols' order, as row i
// (from 0) of plan id.
func rateValues(id int64, i int, r *rating.Rate) []any {
	return []any{id, int64(i + 1), r.Prefix, r.Destination, r.Group, int64(r.PricePerMinute), int64(r.ConnectFee),
		r.FirstIncrement, r.NextIncrement, r.MinimumSeconds, r.FreeSeconds, int(r.Days), int(r.TimeFrom), int(r.TimeTo),
		unixNanos(r.EffectiveFrom), unixNanos(r.EffectiveTo)}
}

func (s *Store) insertRates(ctx context.Context, tx *sqlx.Tx, id int64, rates []rating.Rate, progress func(int)) error {
	var full *sqlx.Stmt
	args := make([]any, 0, rateBatch*rateColCount)
	for start := 0; start < len(rates); start += rateBatch {
		chunk := rates[start:min(start+rateBatch, len(rates))]
		args = args[:0]
		for i := range chunk {
			args = append(args, rateValues(id, start+i, &chunk[i])...)
		}
		query := s.q(`INSERT INTO tariff_rates (` + rateCols + `) VALUES ` + placeholders(len(chunk), rateColCount))
		var err error
		switch {
		case len(chunk) < rateBatch: // the last, shorter batch
			_, err = tx.ExecContext(ctx, query, args...)
		case full == nil:
			if full, err = tx.PreparexContext(ctx, query); err != nil {
				return err
			}
			defer full.Close()
			fallthrough
		default:
			_, err = full.ExecContext(ctx, args...)
		}
		if err != nil {
			return fmt.Errorf("rates %d to %d: %w", start+1, start+len(chunk), err)
		}
		if progress != nil {
			progress(start + len(chunk))
		}
	}
	return nil
}

func unixNanos(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	n := t.UnixNano()
	return &n
}

func fromUnixNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

// rateRow is one tariff_rates row as read (scanned field by field: a
// plan's rates are read 100,000 at a time, and sqlx's StructScan would
// map the columns by reflection on every row).
type rateRow struct {
	Seq            int64         `db:"seq"`
	Prefix         string        `db:"prefix"`
	Destination    string        `db:"destination"`
	Group          string        `db:"grp"`
	PricePerMinute int64         `db:"price_per_minute"`
	ConnectFee     int64         `db:"connect_fee"`
	FirstIncrement int           `db:"first_increment"`
	NextIncrement  int           `db:"next_increment"`
	MinimumSeconds int           `db:"minimum_seconds"`
	FreeSeconds    int           `db:"free_seconds"`
	Days           int           `db:"days"`
	TimeFrom       int           `db:"time_from"`
	TimeTo         int           `db:"time_to"`
	EffectiveFrom  sql.NullInt64 `db:"effective_from"`
	EffectiveTo    sql.NullInt64 `db:"effective_to"`
}

// TariffRates calls fn for each rate of plan id f selects, in deck order,
// from one statement. Destination and group names repeat over thousands
// of rows: one copy of each is kept, as the deck reader does.
func (s *Store) TariffRates(ctx context.Context, id int64, f provisioning.TariffRateFilter, fn func(int64, *rating.Rate) error) error {
	query := `SELECT seq, prefix, destination, grp, price_per_minute, connect_fee, first_increment, next_increment,
		minimum_seconds, free_seconds, days, time_from, time_to, effective_from, effective_to FROM tariff_rates`
	w := where{}
	w.and("plan_id = ?", id)
	if f.After > 0 {
		w.and("seq > ?", f.After)
	}
	w.prefix("prefix", f.Prefix)
	query += w.sql() + " ORDER BY seq"
	args := w.args
	if f.Limit > 0 {
		query += " LIMIT ?"
		args = append(args, f.Limit)
	}
	rows, err := s.db.QueryxContext(ctx, s.q(query), args...)
	if err != nil {
		return fmt.Errorf("sqlstore: read rates of tariff plan %d: %w", id, err)
	}
	defer rows.Close()
	names := map[string]string{}
	intern := func(v string) string {
		if v == "" {
			return ""
		}
		if c, ok := names[v]; ok {
			return c
		}
		if len(names) < 1<<16 {
			names[v] = v
		}
		return v
	}
	var row rateRow
	for rows.Next() {
		if err := rows.Scan(&row.Seq, &row.Prefix, &row.Destination, &row.Group, &row.PricePerMinute, &row.ConnectFee,
			&row.FirstIncrement, &row.NextIncrement, &row.MinimumSeconds, &row.FreeSeconds, &row.Days, &row.TimeFrom, &row.TimeTo,
			&row.EffectiveFrom, &row.EffectiveTo); err != nil {
			return fmt.Errorf("sqlstore: read rates of tariff plan %d: %w", id, err)
		}
		r := rating.Rate{
			Prefix: row.Prefix, Destination: intern(row.Destination), Group: intern(row.Group),
			PricePerMinute: money.Amount(row.PricePerMinute), ConnectFee: money.Amount(row.ConnectFee),
			FirstIncrement: row.FirstIncrement, NextIncrement: row.NextIncrement,
			MinimumSeconds: row.MinimumSeconds, FreeSeconds: row.FreeSeconds,
			Days: rating.Weekdays(row.Days), TimeFrom: rating.TimeOfDay(row.TimeFrom), TimeTo: rating.TimeOfDay(row.TimeTo),
			EffectiveFrom: fromUnixNanos(row.EffectiveFrom), EffectiveTo: fromUnixNanos(row.EffectiveTo),
		}
		if err := fn(row.Seq, &r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlstore: read rates of tariff plan %d: %w", id, err)
	}
	return nil
}

// TariffAssignments returns the own assignments of the given tenants,
// with the path of each plan's owner.
func (s *Store) TariffAssignments(ctx context.Context, tenantIDs []int64) ([]provisioning.TariffAssignment, error) {
	out := []provisioning.TariffAssignment{}
	if len(tenantIDs) == 0 {
		return out, nil
	}
	query, args, err := sqlx.In(`SELECT a.tenant_id, a.plan_id, o.path AS owner_path FROM tenant_tariffs a
		JOIN tariff_plans p ON p.id = a.plan_id JOIN tenants o ON o.id = p.tenant_id WHERE a.tenant_id IN (?)`, tenantIDs)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: tariff assignments: %w", err)
	}
	if err := s.db.SelectContext(ctx, &out, s.q(query), args...); err != nil {
		return nil, fmt.Errorf("sqlstore: tariff assignments: %w", err)
	}
	return out, nil
}

// SetTenantTariffPlan sets or (nil) removes tenant id's own plan.
func (s *Store) SetTenantTariffPlan(ctx context.Context, tenantID int64, planID *int64) error {
	return s.setAssignment(ctx, "tenant_tariffs", "tenant_id", "tenant", "tenants", tenantID, planID)
}

// SetDIDTariffPlan sets or (nil) removes DID id's inbound plan.
func (s *Store) SetDIDTariffPlan(ctx context.Context, didID int64, planID *int64) error {
	return s.setAssignment(ctx, "did_tariffs", "did_id", "did", "dids", didID, planID)
}

// setAssignment writes one row of an assignment table (a constant of
// this package, never input): an upsert, or a delete for nil.
func (s *Store) setAssignment(ctx context.Context, table, key, kind, owners string, id int64, planID *int64) error {
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := exists(ctx, tx, s.q, owners, kind, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM `+table+` WHERE `+key+` = ?`), id); err != nil {
			return err
		}
		if planID == nil {
			return nil
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO `+table+` (`+key+`, plan_id) VALUES (?, ?)`), id, *planID)
		return err
	})
	if err != nil {
		return s.writeErr(ctx, "assign tariff plan", err, "", "", optRef("tariff_plan_id", "tariff plan", "tariff_plans", planID))
	}
	return nil
}

// DIDTariffPlan returns DID id's inbound plan (0: none) and the path of
// the plan's owner.
func (s *Store) DIDTariffPlan(ctx context.Context, didID int64) (int64, string, error) {
	return s.assignedPlan(ctx, "did_tariffs", "did_id", "DID", didID)
}

// SetGatewayTariffPlan sets or (nil) removes gateway id's supplier plan.
func (s *Store) SetGatewayTariffPlan(ctx context.Context, gatewayID int64, planID *int64) error {
	return s.setAssignment(ctx, "gateway_tariffs", "gateway_id", "gateway", "gateways", gatewayID, planID)
}

// GatewayTariffPlan returns gateway id's supplier plan (0: none) and the
// path of the plan's owner.
func (s *Store) GatewayTariffPlan(ctx context.Context, gatewayID int64) (int64, string, error) {
	return s.assignedPlan(ctx, "gateway_tariffs", "gateway_id", "gateway", gatewayID)
}

// assignedPlan reads one row of an assignment table (a constant of this
// package, never input): the plan (0: none) and its owner's path.
func (s *Store) assignedPlan(ctx context.Context, table, key, kind string, id int64) (int64, string, error) {
	var a struct {
		PlanID    int64  `db:"plan_id"`
		OwnerPath string `db:"owner_path"`
	}
	err := s.db.GetContext(ctx, &a, s.q(`SELECT a.plan_id, o.path AS owner_path FROM `+table+` a
		JOIN tariff_plans p ON p.id = a.plan_id JOIN tenants o ON o.id = p.tenant_id WHERE a.`+key+` = ?`), id)
	switch {
	case err == sql.ErrNoRows:
		return 0, "", nil
	case err != nil:
		return 0, "", fmt.Errorf("sqlstore: tariff plan of %s %d: %w", kind, id, err)
	}
	return a.PlanID, a.OwnerPath, nil
}
