-- Traceability: material lots and serial numbers (units), and which units
-- went into which (links), each link made at an operation of a work order.
CREATE TABLE trace_units (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    code TEXT NOT NULL,
    kind TEXT NOT NULL,
    item TEXT NOT NULL,
    quantity DOUBLE PRECISION,
    work_order TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (tenant_id, code)
);

CREATE TABLE trace_links (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    input_id BIGINT NOT NULL REFERENCES trace_units(id) ON DELETE CASCADE,
    output_id BIGINT NOT NULL REFERENCES trace_units(id) ON DELETE CASCADE,
    quantity DOUBLE PRECISION,
    operation_seq BIGINT,
    at BIGINT NOT NULL
);
CREATE INDEX trace_links_input ON trace_links (input_id);
CREATE INDEX trace_links_output ON trace_links (output_id);
