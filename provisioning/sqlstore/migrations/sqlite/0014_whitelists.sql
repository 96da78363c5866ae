-- Whitelists (provisioning/whitelists.go): named lists of destination
-- prefixes, a tenant's own (user_id NULL) or one of its users', enforced
-- at call time by provisioning/authz. The prefixes are a JSON array of
-- {"prefix", "description"} read whole with their whitelist (the
-- authorizer compiles them into a set, cached until a change): nothing
-- queries one prefix. A whitelist goes with its tenant or user (ON DELETE
-- CASCADE), as abuse limits. Names are unique per owner.
CREATE TABLE whitelists (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    INTEGER REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    entries    TEXT NOT NULL DEFAULT '[]',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX whitelists_tenant_name ON whitelists (tenant_id, name) WHERE user_id IS NULL;
CREATE UNIQUE INDEX whitelists_user_name ON whitelists (user_id, name) WHERE user_id IS NOT NULL;
