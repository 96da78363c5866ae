-- Billing (provisioning/billing*.go): each tenant's account settings and
-- its subscriptions (recurring monthly charges). The money itself (the
-- ledger, balances, invoices) is in the CDR store's tables: these rows
-- only say how it is to be charged. Amounts are nano-units
-- (internal/money); dates are ISO 8601 days (YYYY-MM-DD) in UTC.
--
-- tenant_billing: one row per tenant that has settings; a tenant without
-- one is postpaid without a credit limit, in its plan's currency.
-- credit_limit NULL means no limit (postpaid only).
CREATE TABLE tenant_billing (
    tenant_id    INTEGER PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    mode         TEXT NOT NULL,
    credit_limit INTEGER,
    currency     TEXT NOT NULL,
    vat_percent  INTEGER NOT NULL DEFAULT 0,
    updated_at   TIMESTAMP NOT NULL
);

-- subscriptions: a monthly amount charged to the tenant for a service
-- (name) or a DID, from start_date to end_date (inclusive; '' = open).
CREATE TABLE subscriptions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    did_id     INTEGER REFERENCES dids (id) ON DELETE SET NULL,
    amount     INTEGER NOT NULL,
    currency   TEXT NOT NULL,
    start_date TEXT NOT NULL,
    end_date   TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX subscriptions_tenant ON subscriptions (tenant_id);
