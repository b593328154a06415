-- Each version of a tenant's production schedule, as one JSON document
-- (operations on machines, breakdowns, locks); the newest is current.
CREATE TABLE schedules (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    reason TEXT NOT NULL,
    by_user TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX schedules_tenant ON schedules (tenant_id, id);
