-- Objects Switchboard created on a switch (for example PJSIP endpoints
-- pushed over ARI). Reconcile deletes only these, and never what an
-- operator configured by hand.
CREATE TABLE switch_objects (
    switch     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    object_id  TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (switch, kind, object_id)
);
