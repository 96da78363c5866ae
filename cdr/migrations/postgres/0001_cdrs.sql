-- One row per call leg, partitioned by day of end_time (UTC) so that
-- retention drops a whole day at once instead of deleting rows one by one,
-- and a time-range query reads only the days it covers.
--
-- The partitions, cdrs_pYYYYMMDD each holding [day, day + 1) UTC, are not
-- created here: the store creates them ahead (EnsurePartitions) and on
-- demand before an insert needs one, so an old imported leg also lands.
-- There is no DEFAULT partition on purpose: one would make every new
-- partition scan it and would forbid DETACH ... CONCURRENTLY, and a row no
-- partition takes makes the insert fail (and retry after creating it)
-- rather than be lost.
--
-- id has no unique index: a partitioned table's unique indexes must
-- include end_time. It is an identity, so unique per row in practice, and
-- with end_time it is the keyset of every page.
--
-- raw is json, not jsonb: it is kept for audit, so the switch's bytes are
-- stored verbatim (jsonb would reorder keys and drop whitespace) yet still
-- validated and queryable with ->>.
CREATE TABLE cdrs (
    id            BIGINT GENERATED ALWAYS AS IDENTITY,
    switch        TEXT        NOT NULL,
    call_id       TEXT        NOT NULL,
    linked_id     TEXT        NOT NULL DEFAULT '',
    direction     TEXT        NOT NULL DEFAULT '',
    domain        TEXT        NOT NULL DEFAULT '',
    account       TEXT        NOT NULL DEFAULT '',
    gateway       TEXT        NOT NULL DEFAULT '',
    caller_number TEXT        NOT NULL DEFAULT '',
    caller_name   TEXT        NOT NULL DEFAULT '',
    dialed        TEXT        NOT NULL DEFAULT '',
    destination   TEXT        NOT NULL DEFAULT '',
    start_time    TIMESTAMPTZ NOT NULL,
    answer_time   TIMESTAMPTZ,
    end_time      TIMESTAMPTZ NOT NULL,
    duration      INTEGER     NOT NULL DEFAULT 0,
    billsec       INTEGER     NOT NULL DEFAULT 0,
    disposition   TEXT        NOT NULL DEFAULT '',
    cause         INTEGER     NOT NULL DEFAULT 0,
    cause_text    TEXT        NOT NULL DEFAULT '',
    sip_status    INTEGER     NOT NULL DEFAULT 0,
    codec         TEXT        NOT NULL DEFAULT '',
    user_agent    TEXT        NOT NULL DEFAULT '',
    raw           JSON
) PARTITION BY RANGE (end_time);

-- Partitioned indexes: every partition gets its own copy.
-- A tenant's view: one domain's newest CDRs, paged by (end_time, id).
CREATE INDEX cdrs_domain_end_idx ON cdrs (domain, end_time DESC, id DESC);
-- The operator's view (every domain).
CREATE INDEX cdrs_end_idx ON cdrs (end_time DESC, id DESC);

-- The dedup key of every stored leg. A partitioned table can enforce
-- UNIQUE (switch, call_id) only per partition, and a replay of yesterday's
-- leg must be refused as surely as one of today's, so the key lives here,
-- written in the same statement as the row. end_time says which partition
-- holds the row: retention deletes the keys of the days it drops, so keys
-- go with their rows.
CREATE TABLE cdr_keys (
    switch   TEXT        NOT NULL,
    call_id  TEXT        NOT NULL,
    end_time TIMESTAMPTZ NOT NULL,
    CONSTRAINT cdr_keys_pkey PRIMARY KEY (switch, call_id)
);
CREATE INDEX cdr_keys_end_idx ON cdr_keys (end_time);

-- Records that could not be stored as CDRs, kept with the reason.
CREATE TABLE cdr_dead_letters (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source      TEXT        NOT NULL DEFAULT '',
    reason      TEXT        NOT NULL DEFAULT '',
    raw         TEXT        NOT NULL DEFAULT '',
    received_at TIMESTAMPTZ NOT NULL
);
