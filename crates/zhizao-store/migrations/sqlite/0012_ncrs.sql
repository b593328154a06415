-- Nonconformance reports: the report as JSON (the quality crate owns its
-- shape) with number, status and item as columns for lists.
CREATE TABLE ncrs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    number TEXT NOT NULL,
    status TEXT NOT NULL,
    item TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (tenant_id, number)
);

-- Every change of a report, in order: who did what, from which status to
-- which, with the action as posted.
CREATE TABLE ncr_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    ncr_id INTEGER NOT NULL REFERENCES ncrs(id) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    by_user TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL,
    from_status TEXT NOT NULL,
    to_status TEXT NOT NULL
);
CREATE INDEX ncr_events_ncr ON ncr_events (ncr_id, id);
