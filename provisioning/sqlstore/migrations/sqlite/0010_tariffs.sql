-- Tariff plans (provisioning/tariffs*.go): a tenant's plans, their rates
-- in a table of their own (100,000+ rows a plan, in deck order by seq),
-- and who carries which plan. Assignments are tables of their own rather
-- than columns of tenants and dids: the tenant and DID rows, read on every
-- call and every listing, stay as they are, and an assignment goes with
-- its tenant or DID (ON DELETE CASCADE) while a plan in use cannot go.
-- Amounts are nano-units (internal/money) and effective bounds Unix
-- nanoseconds, exact on both engines.
CREATE TABLE tariff_plans (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   INTEGER NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    name        TEXT NOT NULL,
    currency    TEXT NOT NULL,
    time_zone   TEXT NOT NULL,
    charge_step INTEGER NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    rates       INTEGER NOT NULL DEFAULT 0,
    version     INTEGER NOT NULL DEFAULT 1,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX tariff_plans_tenant_name ON tariff_plans (tenant_id, name);

CREATE TABLE tariff_rates (
    plan_id          INTEGER NOT NULL REFERENCES tariff_plans (id) ON DELETE CASCADE,
    seq              INTEGER NOT NULL,
    prefix           TEXT NOT NULL,
    destination      TEXT NOT NULL,
    grp              TEXT NOT NULL,
    price_per_minute INTEGER NOT NULL,
    connect_fee      INTEGER NOT NULL,
    first_increment  INTEGER NOT NULL,
    next_increment   INTEGER NOT NULL,
    minimum_seconds  INTEGER NOT NULL,
    free_seconds     INTEGER NOT NULL,
    days             INTEGER NOT NULL,
    time_from        INTEGER NOT NULL,
    time_to          INTEGER NOT NULL,
    effective_from   INTEGER,
    effective_to     INTEGER,
    PRIMARY KEY (plan_id, seq)
) WITHOUT ROWID;

CREATE TABLE tenant_tariffs (
    tenant_id INTEGER PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    plan_id   INTEGER NOT NULL REFERENCES tariff_plans (id) ON DELETE RESTRICT
);
CREATE INDEX tenant_tariffs_plan ON tenant_tariffs (plan_id);

CREATE TABLE did_tariffs (
    did_id  INTEGER PRIMARY KEY REFERENCES dids (id) ON DELETE CASCADE,
    plan_id INTEGER NOT NULL REFERENCES tariff_plans (id) ON DELETE RESTRICT
);
CREATE INDEX did_tariffs_plan ON did_tariffs (plan_id);
