-- Supplier costs (issue 15, LCR): what the gateway's carrier charges for
-- a leg that went to it (the buy price), next to cost (the sell price), in
-- nano-units of supplier_currency, with the supplier plan and the prefix
-- of its rate. supplier_cost NULL = no supplier price: a leg that did not
-- go to a gateway (supplier_unpriced empty), or one that could not be
-- priced (supplier_unpriced says why). Never charged to a balance: the
-- ledger is not touched.
ALTER TABLE cdrs ADD COLUMN supplier_cost INTEGER;
ALTER TABLE cdrs ADD COLUMN supplier_currency TEXT NOT NULL DEFAULT '';
ALTER TABLE cdrs ADD COLUMN supplier_prefix TEXT NOT NULL DEFAULT '';
ALTER TABLE cdrs ADD COLUMN supplier_plan TEXT NOT NULL DEFAULT '';
ALTER TABLE cdrs ADD COLUMN supplier_unpriced TEXT NOT NULL DEFAULT '';
