-- Call recording (provisioning/routing_recording.go, recordings.go): a DID
-- may record its calls; recorded calls are kept here with their audio
-- until expires_at. A deleted recording keeps its row (deleted_at) so that
-- the switch's id cannot be deposited twice.
ALTER TABLE dids ADD COLUMN record BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE recordings (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   INTEGER NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    switch      TEXT NOT NULL,
    switch_ref  TEXT NOT NULL,
    started_at  TIMESTAMP NOT NULL,
    duration_ms INTEGER NOT NULL,
    bytes       INTEGER NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    deleted_at  TIMESTAMP,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX recordings_switch_ref ON recordings (switch, switch_ref);
CREATE INDEX recordings_tenant ON recordings (tenant_id, id);
CREATE INDEX recordings_expiry ON recordings (expires_at) WHERE deleted_at IS NULL;

CREATE TABLE recording_audio (
    recording_id INTEGER PRIMARY KEY REFERENCES recordings (id) ON DELETE CASCADE,
    wav          BLOB NOT NULL
);
