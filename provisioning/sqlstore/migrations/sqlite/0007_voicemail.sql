-- Voicemail messages (provisioning/voicemail_messages.go): recorded by a
-- switch, indexed here with a copy of the audio. A deleted message keeps
-- its row (deleted_at) so that the switch's id cannot be deposited twice.
CREATE TABLE voicemail_messages (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id        INTEGER NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    box_id           INTEGER NOT NULL REFERENCES routing_objects (id) ON DELETE CASCADE,
    switch           TEXT NOT NULL,
    switch_ref       TEXT NOT NULL,
    caller_id_number TEXT NOT NULL DEFAULT '',
    caller_id_name   TEXT NOT NULL DEFAULT '',
    received_at      TIMESTAMP NOT NULL,
    duration_ms      INTEGER NOT NULL,
    read             BOOLEAN NOT NULL DEFAULT FALSE,
    notified_at      TIMESTAMP,
    deleted_at       TIMESTAMP,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX voicemail_messages_switch_ref ON voicemail_messages (switch, switch_ref);
CREATE INDEX voicemail_messages_box ON voicemail_messages (box_id, id);

CREATE TABLE voicemail_audio (
    message_id INTEGER PRIMARY KEY REFERENCES voicemail_messages (id) ON DELETE CASCADE,
    wav        BLOB NOT NULL
);
