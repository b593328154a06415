-- Inspection plans: one characteristic per row, its definition as JSON
-- (the quality crate owns the shape); code, item, stage and equipment as
-- columns for lookups.
CREATE TABLE quality_characteristics (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    code TEXT NOT NULL,
    item TEXT NOT NULL,
    stage TEXT NOT NULL,
    equipment TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (tenant_id, code)
);

-- One sample (subgroup) of a characteristic: its measured values, or one
-- count with the units inspected, and where it came from.
CREATE TABLE quality_samples (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    characteristic_id BIGINT NOT NULL REFERENCES quality_characteristics(id) ON DELETE CASCADE,
    number BIGINT NOT NULL,
    vals TEXT NOT NULL,
    sample_size DOUBLE PRECISION,
    taken_at BIGINT NOT NULL,
    work_order TEXT NOT NULL,
    operation_seq BIGINT,
    equipment TEXT NOT NULL,
    operator TEXT NOT NULL,
    lot TEXT NOT NULL,
    source TEXT NOT NULL,
    UNIQUE (characteristic_id, number)
);
CREATE INDEX quality_samples_taken ON quality_samples (tenant_id, taken_at);
