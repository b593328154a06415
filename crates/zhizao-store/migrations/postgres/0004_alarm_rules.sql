-- A tenant's alarm rules as JSON, checked by the alarm engine before they
-- are stored.
CREATE TABLE alarm_rules (
    tenant_id BIGINT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    rules TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
