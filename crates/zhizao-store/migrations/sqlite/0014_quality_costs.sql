-- Standard costs per item for the cost of poor quality: what a scrapped
-- unit loses, and what reworking one costs.
CREATE TABLE quality_costs (
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    item TEXT NOT NULL,
    unit_cost REAL NOT NULL,
    rework_cost REAL NOT NULL,
    PRIMARY KEY (tenant_id, item)
);
