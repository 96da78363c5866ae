-- Abuse limits (provisioning/limits.go): a tenant's own (user_id NULL)
-- and its users', at most one each, enforced at call time by
-- provisioning/authz. A limit goes with its tenant or user (ON DELETE
-- CASCADE): it is a setting of theirs, not an object that should keep
-- them. Costs are nano-units (internal/money); 0 is no limit.
CREATE TABLE limits (
    id               BIGSERIAL PRIMARY KEY,
    tenant_id        BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id          BIGINT REFERENCES users (id) ON DELETE CASCADE,
    concurrent_calls INTEGER NOT NULL DEFAULT 0,
    calls_per_minute INTEGER NOT NULL DEFAULT 0,
    cost_per_hour    BIGINT NOT NULL DEFAULT 0,
    cost_per_day     BIGINT NOT NULL DEFAULT 0,
    cost_per_month   BIGINT NOT NULL DEFAULT 0,
    max_call_seconds INTEGER NOT NULL DEFAULT 0,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX limits_tenant ON limits (tenant_id) WHERE user_id IS NULL;
CREATE UNIQUE INDEX limits_user ON limits (user_id) WHERE user_id IS NOT NULL;
