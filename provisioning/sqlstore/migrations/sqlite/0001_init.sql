-- Provisioning schema, SQLite flavour. Keep it in step with
-- ../postgres/0001_init.sql: the same tables, columns, constraints and
-- indexes, spelled for each engine.
--
-- IDs use AUTOINCREMENT so that, as with PostgreSQL identities, the ID of a
-- deleted object is never handed out again: switch adapters and API clients
-- key caches by it. Timestamps are TIMESTAMP columns holding UTC text
-- ("2006-01-02 15:04:05.000000"), which the driver parses back into
-- time.Time and which sorts in time order. Every foreign key restricts
-- deletes (the store checks first and explains; the key is the backstop) and
-- every referencing column is indexed so that the check is a lookup.

CREATE TABLE tenants (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    parent_id  INTEGER REFERENCES tenants (id) ON DELETE RESTRICT,
    name       TEXT NOT NULL,
    -- The materialised ancestor chain "/1/7/12/": a subtree is the range
    -- [path, successor(path)) of this index.
    path       TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX tenants_path ON tenants (path);
CREATE INDEX tenants_parent_id ON tenants (parent_id);

CREATE TABLE domains (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   INTEGER NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
CREATE INDEX domains_tenant_id ON domains (tenant_id, id);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id     INTEGER NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    login         TEXT NOT NULL UNIQUE,
    email         TEXT NOT NULL DEFAULT '',
    first_name    TEXT NOT NULL DEFAULT '',
    last_name     TEXT NOT NULL DEFAULT '',
    role          TEXT NOT NULL CHECK (role IN ('admin', 'tenant-admin', 'user')),
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);
CREATE INDEX users_tenant_id ON users (tenant_id, id);
CREATE INDEX users_email ON users (lower(email));

CREATE TABLE accounts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    domain_id        INTEGER NOT NULL REFERENCES domains (id) ON DELETE RESTRICT,
    username         TEXT NOT NULL,
    secret           TEXT NOT NULL,
    ha1              TEXT NOT NULL,
    caller_id_name   TEXT NOT NULL DEFAULT '',
    caller_id_number TEXT NOT NULL DEFAULT '',
    description      TEXT NOT NULL DEFAULT '',
    user_id          INTEGER REFERENCES users (id) ON DELETE RESTRICT,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    UNIQUE (domain_id, username)
);
-- One domain's page of accounts in ID order is a range scan of this index.
CREATE INDEX accounts_domain_id_id ON accounts (domain_id, id);
CREATE INDEX accounts_user_id ON accounts (user_id);

CREATE TABLE gateways (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       INTEGER REFERENCES tenants (id) ON DELETE RESTRICT,
    name            TEXT NOT NULL UNIQUE,
    host            TEXT NOT NULL,
    port            INTEGER NOT NULL,
    transport       TEXT NOT NULL CHECK (transport IN ('udp', 'tcp', 'tls')),
    username        TEXT NOT NULL DEFAULT '',
    secret          TEXT NOT NULL DEFAULT '',
    register        INTEGER NOT NULL DEFAULT 0 CHECK (register IN (0, 1)),
    qualify_seconds INTEGER NOT NULL DEFAULT 0,
    description     TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
CREATE INDEX gateways_tenant_id ON gateways (tenant_id, id);

CREATE TABLE dids (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   INTEGER NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    number      TEXT NOT NULL UNIQUE,
    account_id  INTEGER REFERENCES accounts (id) ON DELETE RESTRICT,
    description TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
CREATE INDEX dids_tenant_id ON dids (tenant_id, id);
CREATE INDEX dids_account_id ON dids (account_id);

CREATE TABLE tokens (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('admin', 'tenant-admin', 'user')),
    tenant_id  INTEGER REFERENCES tenants (id) ON DELETE RESTRICT,
    hash       TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    -- An admin token has no tenant; every other token has one.
    CHECK ((role = 'admin') = (tenant_id IS NULL))
);
CREATE INDEX tokens_tenant_id ON tokens (tenant_id);
