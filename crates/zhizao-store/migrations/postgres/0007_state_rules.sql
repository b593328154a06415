-- A tenant's rules that derive machine states from signals, per equipment
-- type, as JSON checked by the application.
CREATE TABLE state_rules (
    tenant_id BIGINT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    rules TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
