-- A tenant's downtime reason tree (JSON checked by the application), and
-- the reason given for each stop of a machine, keyed by when the stop began.
CREATE TABLE reason_trees (
    tenant_id INTEGER PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    tree TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE stop_reasons (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE RESTRICT,
    equipment_id INTEGER NOT NULL REFERENCES equipment(id) ON DELETE CASCADE,
    stop_ts INTEGER NOT NULL,
    code TEXT NOT NULL,
    comment TEXT NOT NULL,
    by_user TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (equipment_id, stop_ts)
);
