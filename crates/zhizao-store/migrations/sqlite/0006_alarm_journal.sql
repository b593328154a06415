-- Every alarm event, for the audit trail: who acknowledged what, when an
-- alarm rose and cleared. alarm_id is the engine's id, unique per tenant
-- across restarts (the engine continues after the largest one here).
CREATE TABLE alarm_journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE RESTRICT,
    alarm_id INTEGER,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    rule TEXT,
    name TEXT,
    source TEXT,
    severity TEXT,
    state TEXT,
    value REAL,
    by_user TEXT,
    comment TEXT,
    flood INTEGER NOT NULL
);

CREATE INDEX alarm_journal_tenant_at ON alarm_journal(tenant_id, at);
