-- Standard costs per item for the cost of poor quality: what a scrapped
-- unit loses, and what reworking one costs.
CREATE TABLE quality_costs (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    item TEXT NOT NULL,
    unit_cost DOUBLE PRECISION NOT NULL,
    rework_cost DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (tenant_id, item)
);
