-- Production planning: a tenant's master data (units, items, bills of
-- material, work centres, routings; replaced as a whole after the
-- application checked it), customer orders and forecasts, MRP runs as the
-- JSON they produced, the work orders released from them with their
-- operations, and the purchase orders released from purchase
-- requisitions.
-- Bumped by every replacement of the master data, so a plan built on it
-- knows whether it is still current.
CREATE TABLE plan_master_versions (
    tenant_id BIGINT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE plan_units (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    from_unit TEXT NOT NULL,
    to_unit TEXT NOT NULL,
    factor DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (tenant_id, from_unit, to_unit)
);

CREATE TABLE plan_items (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    uom TEXT NOT NULL,
    lead_time_weeks BIGINT NOT NULL,
    lot TEXT NOT NULL,
    safety_stock DOUBLE PRECISION NOT NULL,
    on_hand DOUBLE PRECISION NOT NULL,
    allocated DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (tenant_id, code)
);

CREATE TABLE plan_bom_lines (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    line_no BIGINT NOT NULL,
    parent TEXT NOT NULL,
    component TEXT NOT NULL,
    quantity DOUBLE PRECISION NOT NULL,
    uom TEXT,
    scrap_pct DOUBLE PRECISION NOT NULL,
    valid_from TEXT,
    valid_to TEXT,
    PRIMARY KEY (tenant_id, line_no)
);

CREATE TABLE plan_work_centres (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    machines BIGINT NOT NULL,
    -- NULL: from the plant calendar.
    hours_per_week DOUBLE PRECISION,
    efficiency DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (tenant_id, code)
);

CREATE TABLE plan_operations (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    item TEXT NOT NULL,
    seq BIGINT NOT NULL,
    work_centre TEXT NOT NULL,
    alternatives TEXT NOT NULL,
    setup_hours DOUBLE PRECISION NOT NULL,
    run_hours_per_unit DOUBLE PRECISION NOT NULL,
    min_transfer_batch DOUBLE PRECISION,
    queue_hours DOUBLE PRECISION NOT NULL,
    move_hours DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (tenant_id, item, seq)
);

CREATE TABLE plan_capacity_changes (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    line_no BIGINT NOT NULL,
    work_centre TEXT NOT NULL,
    from_date TEXT NOT NULL,
    to_date TEXT NOT NULL,
    hours_per_week DOUBLE PRECISION NOT NULL,
    note TEXT NOT NULL,
    PRIMARY KEY (tenant_id, line_no)
);

CREATE TABLE customer_orders (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    number TEXT NOT NULL,
    customer TEXT NOT NULL,
    item TEXT NOT NULL,
    quantity DOUBLE PRECISION NOT NULL,
    due_date TEXT NOT NULL,
    priority BIGINT NOT NULL,
    status TEXT NOT NULL,
    note TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (tenant_id, number)
);
CREATE INDEX customer_orders_due ON customer_orders (tenant_id, due_date);

CREATE TABLE plan_forecasts (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    item TEXT NOT NULL,
    week TEXT NOT NULL,
    quantity DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (tenant_id, item, week)
);

CREATE TABLE plan_runs (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    by_user TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    result TEXT NOT NULL
);
CREATE INDEX plan_runs_tenant ON plan_runs (tenant_id, id);

CREATE TABLE work_orders (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    number TEXT NOT NULL,
    item TEXT NOT NULL,
    quantity DOUBLE PRECISION NOT NULL,
    release_date TEXT NOT NULL,
    due_date TEXT NOT NULL,
    status TEXT NOT NULL,
    pegs TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (tenant_id, number)
);

CREATE TABLE work_order_operations (
    work_order_id BIGINT NOT NULL REFERENCES work_orders(id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    work_centre TEXT NOT NULL,
    setup_hours DOUBLE PRECISION NOT NULL,
    run_hours DOUBLE PRECISION NOT NULL,
    qty_good DOUBLE PRECISION NOT NULL,
    qty_scrap DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (work_order_id, seq)
);

CREATE TABLE purchase_orders (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    number TEXT NOT NULL,
    item TEXT NOT NULL,
    quantity DOUBLE PRECISION NOT NULL,
    received DOUBLE PRECISION NOT NULL,
    order_date TEXT NOT NULL,
    due_date TEXT NOT NULL,
    status TEXT NOT NULL,
    pegs TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (tenant_id, number)
);
