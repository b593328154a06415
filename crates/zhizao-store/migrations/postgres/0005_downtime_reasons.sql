-- A tenant's downtime reason tree (JSON checked by the application), and
-- the reason given for each stop of a machine, keyed by when the stop began.
CREATE TABLE reason_trees (
    tenant_id BIGINT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    tree TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE stop_reasons (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE RESTRICT,
    equipment_id BIGINT NOT NULL REFERENCES equipment(id) ON DELETE CASCADE,
    stop_ts BIGINT NOT NULL,
    code TEXT NOT NULL,
    comment TEXT NOT NULL,
    by_user TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (equipment_id, stop_ts)
);
