-- One row per call leg, keyed for dedup by (switch, call_id): sources may
-- replay a leg after a reconnect and the store keeps the first copy.
--
-- Times are INTEGER unix microseconds (UTC), not TEXT: integers compare and
-- sort cheaply, keep microsecond precision exactly, and make the keyset
-- predicate (end_time, id) < (?, ?) a plain range scan of an index.
-- AUTOINCREMENT so an id is never reused, even after the newest rows are
-- deleted: API clients hold ids and cursors.
CREATE TABLE cdrs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    switch        TEXT    NOT NULL,
    call_id       TEXT    NOT NULL,
    linked_id     TEXT    NOT NULL DEFAULT '',
    direction     TEXT    NOT NULL DEFAULT '',
    domain        TEXT    NOT NULL DEFAULT '',
    account       TEXT    NOT NULL DEFAULT '',
    gateway       TEXT    NOT NULL DEFAULT '',
    caller_number TEXT    NOT NULL DEFAULT '',
    caller_name   TEXT    NOT NULL DEFAULT '',
    dialed        TEXT    NOT NULL DEFAULT '',
    destination   TEXT    NOT NULL DEFAULT '',
    start_time    INTEGER NOT NULL,
    answer_time   INTEGER,
    end_time      INTEGER NOT NULL,
    duration      INTEGER NOT NULL DEFAULT 0,
    billsec       INTEGER NOT NULL DEFAULT 0,
    disposition   TEXT    NOT NULL DEFAULT '',
    cause         INTEGER NOT NULL DEFAULT 0,
    cause_text    TEXT    NOT NULL DEFAULT '',
    sip_status    INTEGER NOT NULL DEFAULT 0,
    codec         TEXT    NOT NULL DEFAULT '',
    user_agent    TEXT    NOT NULL DEFAULT '',
    raw           TEXT,
    CONSTRAINT cdrs_switch_call_id_key UNIQUE (switch, call_id)
);

-- A tenant's view: one domain's newest CDRs, paged by (end_time, id).
CREATE INDEX cdrs_domain_end_idx ON cdrs (domain, end_time DESC, id DESC);
-- The operator's view (every domain) and retention (DELETE ... WHERE end_time < ?).
CREATE INDEX cdrs_end_idx ON cdrs (end_time DESC, id DESC);

-- Records that could not be stored as CDRs, kept with the reason.
-- received_at is unix microseconds (UTC), like the times of cdrs.
CREATE TABLE cdr_dead_letters (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    source      TEXT    NOT NULL DEFAULT '',
    reason      TEXT    NOT NULL DEFAULT '',
    raw         TEXT    NOT NULL DEFAULT '',
    received_at INTEGER NOT NULL
);
