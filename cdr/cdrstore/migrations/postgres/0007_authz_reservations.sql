-- Real-time authorization reservations (issue 15): what each live call
-- the authorizer allowed holds (a concurrent slot, a start in the
-- calls-per-minute window, the money its whole authorized duration may
-- cost), journaled by provisioning/authz so that a restarted daemon
-- counts the calls still running on its switches. The authorizer writes
-- behind: rows go in, change and go out in batches every ~50 ms, never
-- on an authorization's path.
--
-- released_at NULL: the call is live until expires_at (its authorized
-- seconds plus a grace). Set: the call ended (the switch reported its
-- hangup, or it expired) and settled, its cost at that length, stays
-- deducted until its CDR is booked or the settle window passes. A row
-- whose CDR is stored (its key in cdr_keys) is dead however it looks (its
-- release may not have been flushed): the loader skips it and the pruner
-- deletes it. of_call: the call id of the call this one is a leg of, when
-- the switch authorized the leg ahead of dialling it (authz Call.Of).
-- Amounts are nano-units of currency (internal/money). Not
-- partitioned: it holds the live calls and the last minutes' only.
CREATE TABLE authz_reservations (
    switch      TEXT        COLLATE "C" NOT NULL,
    call_id     TEXT        COLLATE "C" NOT NULL,
    tenant_id   BIGINT      NOT NULL,
    user_id     BIGINT      NOT NULL DEFAULT 0,
    direction   TEXT        NOT NULL,
    destination TEXT        NOT NULL DEFAULT '',
    reserved    BIGINT      NOT NULL DEFAULT 0,
    currency    TEXT        NOT NULL DEFAULT '',
    max_seconds INTEGER     NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    released_at TIMESTAMPTZ,
    settled     BIGINT      NOT NULL DEFAULT 0,
    of_call     TEXT        COLLATE "C" NOT NULL DEFAULT '',
    PRIMARY KEY (switch, call_id)
);
