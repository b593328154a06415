-- Photos attached to nonconformance reports.
CREATE TABLE ncr_photos (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    ncr_id BIGINT NOT NULL REFERENCES ncrs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    bytes BYTEA NOT NULL,
    by_user TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX ncr_photos_ncr ON ncr_photos (ncr_id, id);
