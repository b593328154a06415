-- The alarm as it stood after each event (JSON), so alarms that are not
-- over come back after a restart with their acknowledgement and shelving.
ALTER TABLE alarm_journal ADD COLUMN alarm TEXT;

CREATE INDEX alarm_journal_tenant_alarm ON alarm_journal(tenant_id, alarm_id);
