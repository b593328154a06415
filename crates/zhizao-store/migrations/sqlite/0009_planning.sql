-- Production planning: a tenant's master data (units, items, bills of
-- material, work centres, routings; replaced as a whole after the
-- application checked it), customer orders and forecasts, MRP runs as the
-- JSON they produced, the work orders released from them with their
-- operations, and the purchase orders released from purchase
-- requisitions.
-- Bumped by every replacement of the master data, so a plan built on it
-- knows whether it is still current.
CREATE TABLE plan_master_versions (
    tenant_id INTEGER PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE plan_units (
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    from_unit TEXT NOT NULL,
    to_unit TEXT NOT NULL,
    factor REAL NOT NULL,
    PRIMARY KEY (tenant_id, from_unit, to_unit)
);

CREATE TABLE plan_items (
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    uom TEXT NOT NULL,
    lead_time_weeks INTEGER NOT NULL,
    lot TEXT NOT NULL,
    safety_stock REAL NOT NULL,
    on_hand REAL NOT NULL,
    allocated REAL NOT NULL,
    PRIMARY KEY (tenant_id, code)
);

CREATE TABLE plan_bom_lines (
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    line_no INTEGER NOT NULL,
    parent TEXT NOT NULL,
    component TEXT NOT NULL,
    quantity REAL NOT NULL,
    uom TEXT,
    scrap_pct REAL NOT NULL,
    valid_from TEXT,
    valid_to TEXT,
    PRIMARY KEY (tenant_id, line_no)
);

CREATE TABLE plan_work_centres (
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    machines INTEGER NOT NULL,
    -- NULL: from the plant calendar.
    hours_per_week REAL,
    efficiency REAL NOT NULL,
    PRIMARY KEY (tenant_id, code)
);

CREATE TABLE plan_operations (
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    item TEXT NOT NULL,
    seq INTEGER NOT NULL,
    work_centre TEXT NOT NULL,
    alternatives TEXT NOT NULL,
    setup_hours REAL NOT NULL,
    run_hours_per_unit REAL NOT NULL,
    min_transfer_batch REAL,
    queue_hours REAL NOT NULL,
    move_hours REAL NOT NULL,
    PRIMARY KEY (tenant_id, item, seq)
);

CREATE TABLE plan_capacity_changes (
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    line_no INTEGER NOT NULL,
    work_centre TEXT NOT NULL,
    from_date TEXT NOT NULL,
    to_date TEXT NOT NULL,
    hours_per_week REAL NOT NULL,
    note TEXT NOT NULL,
    PRIMARY KEY (tenant_id, line_no)
);

CREATE TABLE customer_orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    number TEXT NOT NULL,
    customer TEXT NOT NULL,
    item TEXT NOT NULL,
    quantity REAL NOT NULL,
    due_date TEXT NOT NULL,
    priority INTEGER NOT NULL,
    status TEXT NOT NULL,
    note TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (tenant_id, number)
);
CREATE INDEX customer_orders_due ON customer_orders (tenant_id, due_date);

CREATE TABLE plan_forecasts (
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    item TEXT NOT NULL,
    week TEXT NOT NULL,
    quantity REAL NOT NULL,
    PRIMARY KEY (tenant_id, item, week)
);

CREATE TABLE plan_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    by_user TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    result TEXT NOT NULL
);
CREATE INDEX plan_runs_tenant ON plan_runs (tenant_id, id);

CREATE TABLE work_orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    number TEXT NOT NULL,
    item TEXT NOT NULL,
    quantity REAL NOT NULL,
    release_date TEXT NOT NULL,
    due_date TEXT NOT NULL,
    status TEXT NOT NULL,
    pegs TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (tenant_id, number)
);

CREATE TABLE work_order_operations (
    work_order_id INTEGER NOT NULL REFERENCES work_orders(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    work_centre TEXT NOT NULL,
    setup_hours REAL NOT NULL,
    run_hours REAL NOT NULL,
    qty_good REAL NOT NULL,
    qty_scrap REAL NOT NULL,
    PRIMARY KEY (work_order_id, seq)
);

CREATE TABLE purchase_orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    number TEXT NOT NULL,
    item TEXT NOT NULL,
    quantity REAL NOT NULL,
    received REAL NOT NULL,
    order_date TEXT NOT NULL,
    due_date TEXT NOT NULL,
    status TEXT NOT NULL,
    pegs TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (tenant_id, number)
);
