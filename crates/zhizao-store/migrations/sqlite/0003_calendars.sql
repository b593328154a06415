-- A site's working calendar (shift pattern, working weekdays, holidays and
-- make-up days) as JSON, checked by the application before it is stored;
-- and state changes by machine and time, for KPIs over a period.
CREATE TABLE site_calendars (
    site_id INTEGER PRIMARY KEY REFERENCES sites(id) ON DELETE CASCADE,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE RESTRICT,
    calendar TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE INDEX state_events_equipment_ts ON state_events(equipment_id, ts);
