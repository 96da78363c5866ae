-- An observed gateway is a trunk the operator defined on the switch itself
-- (pjsip.conf, a sofia gateway file): Switchboard shows its status and
-- classifies CDRs through it, and never pushes, changes or deletes it on a
-- switch. Existing gateways stay managed (pushed).
ALTER TABLE gateways ADD COLUMN observed BOOLEAN NOT NULL DEFAULT FALSE;
