-- Priced CDRs (issue 15): each leg's cost, in nano-units of its currency
-- (internal/money.Amount: an exact integer, never a float), with the rate
-- and the plan that priced it. cost NULL = not priced; unpriced says why.
--
-- cdrs is partitioned: ADD COLUMN on the parent adds the column to every
-- attached partition. A nullable column, or one whose default is a
-- constant, changes only the catalog (no table rewrite), so this is
-- instant however many CDRs are stored.
ALTER TABLE cdrs
    ADD COLUMN cost BIGINT,
    ADD COLUMN currency TEXT NOT NULL DEFAULT '',
    ADD COLUMN rate_prefix TEXT NOT NULL DEFAULT '',
    ADD COLUMN rate_destination TEXT NOT NULL DEFAULT '',
    ADD COLUMN rate_group TEXT NOT NULL DEFAULT '',
    ADD COLUMN plan TEXT NOT NULL DEFAULT '',
    ADD COLUMN unpriced TEXT NOT NULL DEFAULT '';

-- A day table left detached by an interrupted Retain is attached again by
-- the store when its day is written (partitions.go): it needs the columns
-- too, or ATTACH would refuse it.
DO $$
DECLARE t text;
BEGIN
    FOR t IN
        SELECT c.relname FROM pg_class c
        WHERE c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = 'cdrs'::regclass)
          AND c.relkind = 'r' AND c.relname LIKE 'cdrs\_p%' AND NOT c.relispartition
    LOOP
        EXECUTE format('ALTER TABLE %I
            ADD COLUMN IF NOT EXISTS cost BIGINT,
            ADD COLUMN IF NOT EXISTS currency TEXT NOT NULL DEFAULT '''',
            ADD COLUMN IF NOT EXISTS rate_prefix TEXT NOT NULL DEFAULT '''',
            ADD COLUMN IF NOT EXISTS rate_destination TEXT NOT NULL DEFAULT '''',
            ADD COLUMN IF NOT EXISTS rate_group TEXT NOT NULL DEFAULT '''',
            ADD COLUMN IF NOT EXISTS plan TEXT NOT NULL DEFAULT '''',
            ADD COLUMN IF NOT EXISTS unpriced TEXT NOT NULL DEFAULT ''''', t);
    END LOOP;
END $$;

-- The ledger: every movement of a tenant's balance, in nano-units of its
-- currency, signed (a call's charge is negative, a payment positive). A
-- balance is the sum of its entries; balances keeps that sum current, and
-- both change in one transaction, the one that stores the CDR for a
-- charge. Entries are never updated nor deleted (CDR retention leaves
-- them), so the ledger is the audit of every balance. Not partitioned:
-- its unique keys must hold across all time.
--
-- kind:
--   charge  a priced CDR's cost, one per (switch, call_id) ever: a leg
--           stored again (replayed after retention dropped it) is not
--           charged again.
--   rerate  a re-pricing's difference for one CDR, one per (run, switch,
--           call_id, currency): a change of currency is a refund in the
--           old one and a charge in the new one.
--   payment money received; credit: an adjustment granted. Both may carry
--           a reference (a payment id, an idempotency key) that is unique
--           per tenant, so a payment submitted twice is booked once.
CREATE TABLE ledger (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id  BIGINT      NOT NULL,
    currency   TEXT        NOT NULL,
    kind       TEXT        NOT NULL,
    amount     BIGINT      NOT NULL,
    switch     TEXT        COLLATE "C" NOT NULL DEFAULT '',
    call_id    TEXT        COLLATE "C" NOT NULL DEFAULT '',
    rerate_run BIGINT      NOT NULL DEFAULT 0,
    reference  TEXT        NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX ledger_charge_key ON ledger (switch, call_id) WHERE kind = 'charge';
CREATE UNIQUE INDEX ledger_rerate_key ON ledger (rerate_run, switch, call_id, currency) WHERE kind = 'rerate';
CREATE UNIQUE INDEX ledger_reference_key ON ledger (tenant_id, kind, reference) WHERE kind IN ('payment', 'credit') AND reference <> '';

-- The running balance of each tenant in each currency it was charged or
-- paid in (a plan's currency may change; amounts in two currencies are
-- never added). balance = SUM(ledger.amount) of the tenant and currency.
CREATE TABLE balances (
    tenant_id  BIGINT      NOT NULL,
    currency   TEXT        NOT NULL,
    balance    BIGINT      NOT NULL DEFAULT 0,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, currency)
);

-- One row per rerate run: its period and scope, and when it finished
-- (NULL: running, or interrupted; running it again is safe, see
-- rerate.go).
CREATE TABLE rerate_runs (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    from_time   TIMESTAMPTZ NOT NULL,
    to_time     TIMESTAMPTZ NOT NULL,
    tenant_id   BIGINT,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    examined    BIGINT NOT NULL DEFAULT 0,
    changed     BIGINT NOT NULL DEFAULT 0
);
