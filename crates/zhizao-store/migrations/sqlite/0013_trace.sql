-- Traceability: material lots and serial numbers (units), and which units
-- went into which (links), each link made at an operation of a work order.
CREATE TABLE trace_units (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    code TEXT NOT NULL,
    kind TEXT NOT NULL,
    item TEXT NOT NULL,
    quantity REAL,
    work_order TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (tenant_id, code)
);

CREATE TABLE trace_links (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    input_id INTEGER NOT NULL REFERENCES trace_units(id) ON DELETE CASCADE,
    output_id INTEGER NOT NULL REFERENCES trace_units(id) ON DELETE CASCADE,
    quantity REAL,
    operation_seq INTEGER,
    at INTEGER NOT NULL
);
CREATE INDEX trace_links_input ON trace_links (input_id);
CREATE INDEX trace_links_output ON trace_links (output_id);
