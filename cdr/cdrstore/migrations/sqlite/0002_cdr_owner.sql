-- The owner of each CDR: the tenant that owned its domain when it was
-- ingested, stamped by the pipeline. Queries scope by it, never by the
-- domain name, which can change hands (issue 11: a tenant that created a
-- domain another had deleted read that tenant's calls). NULL = no known
-- owner: visible to admins only.
ALTER TABLE cdrs ADD COLUMN tenant_id INTEGER;

-- A tenant's view: its newest CDRs, paged by (end_time, id).
CREATE INDEX cdrs_tenant_end_idx ON cdrs (tenant_id, end_time DESC, id DESC);

-- Rows stored before this migration are stamped once, from the domains'
-- owners at that time, by Migrate (backfill.go) right after this file:
-- the domains table belongs to provisioning and may not exist in a CDR-only
-- database. The row below says that is still to do.
CREATE TABLE cdr_owner_backfill (pending INTEGER NOT NULL);
INSERT INTO cdr_owner_backfill (pending) VALUES (1);
