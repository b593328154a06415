-- Photos attached to nonconformance reports.
CREATE TABLE ncr_photos (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    ncr_id INTEGER NOT NULL REFERENCES ncrs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    bytes BLOB NOT NULL,
    by_user TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX ncr_photos_ncr ON ncr_photos (ncr_id, id);
