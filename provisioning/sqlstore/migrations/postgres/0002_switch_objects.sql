-- Objects Switchboard created on a switch (for example PJSIP endpoints
-- pushed over ARI). Reconcile deletes only these, and never what an
-- operator configured by hand.
CREATE TABLE switch_objects (
    switch     TEXT COLLATE "C" NOT NULL,
    kind       TEXT COLLATE "C" NOT NULL,
    object_id  TEXT COLLATE "C" NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (switch, kind, object_id)
);
