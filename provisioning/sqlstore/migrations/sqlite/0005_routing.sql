-- Call routing (provisioning/routing*.go): every routing object kind in
-- one table, the kind's fields as a JSON body. slot is unique per tenant:
-- the numbering plan ("n:<number>", shared by extensions and hunt groups)
-- and a forward's owner and type.
CREATE TABLE routing_objects (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    kind       TEXT NOT NULL,
    slot       TEXT,
    name       TEXT NOT NULL DEFAULT '',
    body       TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX routing_objects_tenant_slot ON routing_objects (tenant_id, slot);
CREATE INDEX routing_objects_tenant_kind ON routing_objects (tenant_id, kind, id);

-- What each routing object points at. A target reference keeps its
-- target from being deleted; an owner reference (target = 0: a forward's
-- account or user) deletes the object with its owner.
CREATE TABLE routing_refs (
    from_id INTEGER NOT NULL REFERENCES routing_objects (id) ON DELETE CASCADE,
    field   TEXT NOT NULL,
    to_kind TEXT NOT NULL,
    to_id   INTEGER NOT NULL,
    target  BOOLEAN NOT NULL,
    PRIMARY KEY (from_id, field)
);
CREATE INDEX routing_refs_to ON routing_refs (to_kind, to_id);

-- A DID's destination, when it is not simply account_id.
ALTER TABLE dids ADD COLUMN dest_kind TEXT;
ALTER TABLE dids ADD COLUMN dest_id INTEGER;
ALTER TABLE dids ADD COLUMN dest_number TEXT;
CREATE INDEX dids_dest ON dids (dest_kind, dest_id);
