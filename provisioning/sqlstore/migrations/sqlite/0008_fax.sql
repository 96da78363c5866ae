-- Received faxes (provisioning/fax_messages.go): the switch's TIFF kept as
-- a PDF. A deleted fax keeps its row (deleted_at) so that the switch's id
-- cannot be deposited twice.
CREATE TABLE faxes (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id        INTEGER NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    box_id           INTEGER NOT NULL REFERENCES routing_objects (id) ON DELETE CASCADE,
    switch           TEXT NOT NULL,
    switch_ref       TEXT NOT NULL,
    caller_id_number TEXT NOT NULL DEFAULT '',
    remote_station   TEXT NOT NULL DEFAULT '',
    pages            INTEGER NOT NULL,
    status           TEXT NOT NULL,
    error            TEXT NOT NULL DEFAULT '',
    received_at      TIMESTAMP NOT NULL,
    notified_at      TIMESTAMP,
    deleted_at       TIMESTAMP,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX faxes_switch_ref ON faxes (switch, switch_ref);
CREATE INDEX faxes_box ON faxes (box_id, id);

CREATE TABLE fax_pdf (
    fax_id INTEGER PRIMARY KEY REFERENCES faxes (id) ON DELETE CASCADE,
    pdf    BLOB NOT NULL
);
