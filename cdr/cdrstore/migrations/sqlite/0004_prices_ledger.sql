-- Priced CDRs (issue 15): each leg's cost, in nano-units of its currency
-- (internal/money.Amount: an exact integer, never a float), with the rate
-- and the plan that priced it. cost NULL = not priced; unpriced says why.
ALTER TABLE cdrs ADD COLUMN cost INTEGER;
ALTER TABLE cdrs ADD COLUMN currency TEXT NOT NULL DEFAULT '';
ALTER TABLE cdrs ADD COLUMN rate_prefix TEXT NOT NULL DEFAULT '';
ALTER TABLE cdrs ADD COLUMN rate_destination TEXT NOT NULL DEFAULT '';
ALTER TABLE cdrs ADD COLUMN rate_group TEXT NOT NULL DEFAULT '';
ALTER TABLE cdrs ADD COLUMN plan TEXT NOT NULL DEFAULT '';
ALTER TABLE cdrs ADD COLUMN unpriced TEXT NOT NULL DEFAULT '';

-- The ledger: every movement of a tenant's balance, in nano-units of its
-- currency, signed (a call's charge is negative, a payment positive). A
-- balance is the sum of its entries; balances keeps that sum current, and
-- both change in one transaction, the one that stores the CDR for a
-- charge. Entries are never updated nor deleted (CDR retention leaves
-- them), so the ledger is the audit of every balance.
--
-- kind:
--   charge  a priced CDR's cost, one per (switch, call_id) ever: a leg
--           stored again (replayed after retention deleted it) is not
--           charged again.
--   rerate  a re-pricing's difference for one CDR, one per (run, switch,
--           call_id, currency): a change of currency is a refund in the
--           old one and a charge in the new one.
--   payment money received; credit: an adjustment granted. Both may carry
--           a reference (a payment id, an idempotency key) that is unique
--           per tenant, so a payment submitted twice is booked once.
CREATE TABLE ledger (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  INTEGER NOT NULL,
    currency   TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    amount     INTEGER NOT NULL,
    switch     TEXT    NOT NULL DEFAULT '',
    call_id    TEXT    NOT NULL DEFAULT '',
    rerate_run INTEGER NOT NULL DEFAULT 0,
    reference  TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX ledger_charge_key ON ledger (switch, call_id) WHERE kind = 'charge';
CREATE UNIQUE INDEX ledger_rerate_key ON ledger (rerate_run, switch, call_id, currency) WHERE kind = 'rerate';
CREATE UNIQUE INDEX ledger_reference_key ON ledger (tenant_id, kind, reference) WHERE kind IN ('payment', 'credit') AND reference <> '';

-- The running balance of each tenant in each currency it was charged or
-- paid in (a plan's currency may change; amounts in two currencies are
-- never added). balance = SUM(ledger.amount) of the tenant and currency.
CREATE TABLE balances (
    tenant_id  INTEGER NOT NULL,
    currency   TEXT    NOT NULL,
    balance    INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, currency)
);

-- One row per rerate run: its period and scope, and when it finished
-- (NULL: running, or interrupted; running it again is safe, see
-- rerate.go).
CREATE TABLE rerate_runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    from_time   INTEGER NOT NULL,
    to_time     INTEGER NOT NULL,
    tenant_id   INTEGER,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    examined    INTEGER NOT NULL DEFAULT 0,
    changed     INTEGER NOT NULL DEFAULT 0
);
