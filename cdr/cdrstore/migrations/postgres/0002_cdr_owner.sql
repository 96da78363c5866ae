-- The owner of each CDR: the tenant that owned its domain when it was
-- ingested, stamped by the pipeline. Queries scope by it, never by the
-- domain name, which can change hands (issue 11: a tenant that created a
-- domain another had deleted read that tenant's calls). NULL = no known
-- owner: visible to admins only.
--
-- Adding a nullable column without default changes only the catalog, of
-- cdrs and every attached partition (including one pending detach).
ALTER TABLE cdrs ADD COLUMN tenant_id BIGINT;

-- A day table left detached by an interrupted Retain is attached again by
-- the store when its day is written (partitions.go): it needs the column
-- too, or ATTACH would refuse it.
DO $$
DECLARE t text;
BEGIN
    FOR t IN
        SELECT c.relname FROM pg_class c
        WHERE c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = 'cdrs'::regclass)
          AND c.relkind = 'r' AND c.relname LIKE 'cdrs\_p%' AND NOT c.relispartition
    LOOP
        EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS tenant_id BIGINT', t);
    END LOOP;
END $$;

-- A tenant's view: its newest CDRs, paged by (end_time, id). Partitioned:
-- every partition gets its own copy.
CREATE INDEX cdrs_tenant_end_idx ON cdrs (tenant_id, end_time DESC, id DESC);

-- Rows stored before this migration are stamped once, from the domains'
-- owners at that time, by Migrate (backfill.go) right after this file:
-- the domains table belongs to provisioning and may not exist in a CDR-only
-- database. The row below says that is still to do.
CREATE TABLE cdr_owner_backfill (pending BOOLEAN NOT NULL);
INSERT INTO cdr_owner_backfill (pending) VALUES (true);
