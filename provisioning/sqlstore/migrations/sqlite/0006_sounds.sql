-- Sound files (provisioning/sounds.go): one row per upload, its audio
-- converted once to every rate the switches play, kept beside the row so
-- every daemon on the database serves the same file.
CREATE TABLE sounds (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id     INTEGER NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    name          TEXT NOT NULL,
    source_format TEXT NOT NULL,
    source_bytes  INTEGER NOT NULL,
    duration_ms   INTEGER NOT NULL,
    sha256        TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX sounds_tenant_name ON sounds (tenant_id, name);

CREATE TABLE sound_audio (
    sound_id INTEGER NOT NULL REFERENCES sounds (id) ON DELETE CASCADE,
    rate     INTEGER NOT NULL,
    wav      BLOB NOT NULL,
    PRIMARY KEY (sound_id, rate)
);
