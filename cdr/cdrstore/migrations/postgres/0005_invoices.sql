-- Billing (issue 15): subscription charges in the ledger, and invoices.
--
-- A subscription's monthly charge is a ledger entry of kind
-- 'subscription' whose reference ("subscription:<id>:<YYYY-MM>") is
-- unique per tenant: the daily job may run any number of times, and be
-- killed anywhere, and each month is charged once.
DROP INDEX ledger_reference_key;
CREATE UNIQUE INDEX ledger_reference_key ON ledger (tenant_id, kind, reference) WHERE kind IN ('payment', 'credit', 'subscription') AND reference <> '';

-- Invoices: one per tenant, month (period 'YYYY-MM') and currency,
-- immutable once stored. number comes from invoice_numbers, a one-row
-- counter incremented in the transaction that stores the invoice: a
-- failed or refused generation rolls its increment back, so numbers have
-- no gaps, and the row's lock makes concurrent generations take turns.
-- Amounts are nano-units; lines is the invoice's lines as JSON.
CREATE TABLE invoice_numbers (
    last BIGINT NOT NULL
);
INSERT INTO invoice_numbers (last) VALUES (0);

CREATE TABLE invoices (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    number      BIGINT NOT NULL UNIQUE,
    tenant_id   BIGINT NOT NULL,
    period      TEXT    NOT NULL,
    currency    TEXT    NOT NULL,
    subtotal    BIGINT NOT NULL,
    vat_percent BIGINT NOT NULL,
    vat         BIGINT NOT NULL,
    total       BIGINT NOT NULL,
    payments    BIGINT NOT NULL,
    lines       TEXT    NOT NULL,
    issued_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (tenant_id, period, currency)
);
