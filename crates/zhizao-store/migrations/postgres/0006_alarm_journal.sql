-- Every alarm event, for the audit trail: who acknowledged what, when an
-- alarm rose and cleared. alarm_id is the engine's id, unique per tenant
-- across restarts (the engine continues after the largest one here).
CREATE TABLE alarm_journal (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE RESTRICT,
    alarm_id BIGINT,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    rule TEXT,
    name TEXT,
    source TEXT,
    severity TEXT,
    state TEXT,
    value DOUBLE PRECISION,
    by_user TEXT,
    comment TEXT,
    flood BOOLEAN NOT NULL
);

CREATE INDEX alarm_journal_tenant_at ON alarm_journal(tenant_id, at);
