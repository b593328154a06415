-- A site's working calendar (shift pattern, working weekdays, holidays and
-- make-up days) as JSON, checked by the application before it is stored;
-- and state changes by machine and time, for KPIs over a period.
CREATE TABLE site_calendars (
    site_id BIGINT PRIMARY KEY REFERENCES sites(id) ON DELETE CASCADE,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE RESTRICT,
    calendar TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX state_events_equipment_ts ON state_events(equipment_id, ts);
