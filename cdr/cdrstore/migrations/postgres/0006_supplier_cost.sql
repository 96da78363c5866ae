-- Supplier costs (issue 15, LCR): what the gateway's carrier charges for
-- a leg that went to it (the buy price), next to cost (the sell price), in
-- nano-units of supplier_currency, with the supplier plan and the prefix
-- of its rate. supplier_cost NULL = no supplier price: a leg that did not
-- go to a gateway (supplier_unpriced empty), or one that could not be
-- priced (supplier_unpriced says why). Never charged to a balance: the
-- ledger is not touched.
--
-- As in 0004: ADD COLUMN on the partitioned parent reaches every attached
-- partition and, nullable or with a constant default, changes only the
-- catalog (no rewrite however many CDRs are stored); a day table left
-- detached by an interrupted Retain gets the columns too, or ATTACH would
-- refuse it.
ALTER TABLE cdrs
    ADD COLUMN supplier_cost BIGINT,
    ADD COLUMN supplier_currency TEXT NOT NULL DEFAULT '',
    ADD COLUMN supplier_prefix TEXT NOT NULL DEFAULT '',
    ADD COLUMN supplier_plan TEXT NOT NULL DEFAULT '',
    ADD COLUMN supplier_unpriced TEXT NOT NULL DEFAULT '';

DO $$
DECLARE t text;
BEGIN
    FOR t IN
        SELECT c.relname FROM pg_class c
        WHERE c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = 'cdrs'::regclass)
          AND c.relkind = 'r' AND c.relname LIKE 'cdrs\_p%' AND NOT c.relispartition
    LOOP
        EXECUTE format('ALTER TABLE %I
            ADD COLUMN IF NOT EXISTS supplier_cost BIGINT,
            ADD COLUMN IF NOT EXISTS supplier_currency TEXT NOT NULL DEFAULT '''',
            ADD COLUMN IF NOT EXISTS supplier_prefix TEXT NOT NULL DEFAULT '''',
            ADD COLUMN IF NOT EXISTS supplier_plan TEXT NOT NULL DEFAULT '''',
            ADD COLUMN IF NOT EXISTS supplier_unpriced TEXT NOT NULL DEFAULT ''''', t);
    END LOOP;
END $$;
