-- Supplier plans (provisioning/gateway_tariffs.go, provisioning/lcr.go):
-- what a gateway's supplier charges, a tariff plan like any other, used to
-- order the gateways of a least-cost route and to price a call's gateway
-- leg. A table of its own, like tenant_tariffs and did_tariffs: the
-- gateway rows, read by every switch push, stay as they are; the
-- assignment goes with its gateway (ON DELETE CASCADE) while a plan in
-- use cannot go (ON DELETE RESTRICT, and a 409 from the Service).
CREATE TABLE gateway_tariffs (
    gateway_id BIGINT PRIMARY KEY REFERENCES gateways (id) ON DELETE CASCADE,
    plan_id    BIGINT NOT NULL REFERENCES tariff_plans (id) ON DELETE RESTRICT
);
CREATE INDEX gateway_tariffs_plan ON gateway_tariffs (plan_id);
