//! Site calendars and alarm rules (stored as JSON their owners checked),
//! and the state changes of one machine over a period, which KPI
//! computation reads.

use zhizao_core::Calendar;

use crate::{Result, StateEvent, Store, StoreError, now_ms, on_pool};

impl Store {
    /// The site's calendar, `None` when none was set.
    pub async fn site_calendar(&self, tenant_id: i64, site_id: i64) -> Result<Option<Calendar>> {
        // The site must be the tenant's; another tenant's is not found.
        self.get_site(tenant_id, site_id).await?;
        let json: Option<String> = on_pool!(self, p => sqlx::query_scalar(
            "SELECT calendar FROM site_calendars WHERE tenant_id = $1 AND site_id = $2")
            .bind(tenant_id)
            .bind(site_id)
            .fetch_optional(p)
            .await?);
        json.map(|j| {
            serde_json::from_str(&j)
                .map_err(|e| StoreError::Corrupt(format!("calendar of site {site_id}: {e}")))
        })
        .transpose()
    }

    /// Sets the site's calendar; the caller has checked it.
    pub async fn put_site_calendar(
        &self,
        tenant_id: i64,
        site_id: i64,
        calendar: &Calendar,
    ) -> Result<()> {
        self.get_site(tenant_id, site_id).await?;
        let json = serde_json::to_string(calendar)
            .map_err(|e| StoreError::Corrupt(format!("calendar: {e}")))?;
        on_pool!(self, p => sqlx::query(
            "INSERT INTO site_calendars (site_id, tenant_id, calendar, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (site_id) DO UPDATE SET calendar = excluded.calendar, updated_at = excluded.updated_at")
            .bind(site_id)
            .bind(tenant_id)
            .bind(json)
            .bind(now_ms())
            .execute(p)
            .await
            .map(|_| ())?);
        Ok(())
    }

    /// A machine's state changes in `[from, to)`, in order, with the last
    /// change before `from` (the state the period starts in).
    pub async fn state_events_between(
        &self,
        tenant_id: i64,
        equipment_id: i64,
        from: i64,
        to: i64,
    ) -> Result<(Option<StateEvent>, Vec<StateEvent>)> {
        let before: Option<StateEvent> = on_pool!(self, p => sqlx::query_as(
            "SELECT tenant_id, equipment_id, ts, state, previous FROM state_events \
             WHERE tenant_id = $1 AND equipment_id = $2 AND ts < $3 ORDER BY ts DESC, id DESC LIMIT 1")
            .bind(tenant_id)
            .bind(equipment_id)
            .bind(from)
            .fetch_optional(p)
            .await?);
        let within: Vec<StateEvent> = on_pool!(self, p => sqlx::query_as(
            "SELECT tenant_id, equipment_id, ts, state, previous FROM state_events \
             WHERE tenant_id = $1 AND equipment_id = $2 AND ts >= $3 AND ts < $4 ORDER BY ts, id")
            .bind(tenant_id)
            .bind(equipment_id)
            .bind(from)
            .bind(to)
            .fetch_all(p)
            .await?);
        Ok((before, within))
    }

    /// Every machine's state changes recorded after the one numbered
    /// `after`, or stamped at `since` or later, in the order they were
    /// recorded, with their numbers. The live KPI push reads what is new
    /// this way: by number whatever the changes' own times, and by time
    /// for changes another node committed out of number order.
    pub async fn state_events_recorded_after(
        &self,
        tenant_id: i64,
        after: i64,
        since: i64,
    ) -> Result<Vec<(i64, StateEvent)>> {
        let rows: Vec<(i64, i64, i64, String)> = on_pool!(self, p => sqlx::query_as(
            // Two indexed reads (by number, by time), not one OR that
            // would scan the table.
            "SELECT id, equipment_id, ts, state FROM state_events WHERE tenant_id = $1 AND id > $2 \
             UNION \
             SELECT id, equipment_id, ts, state FROM state_events WHERE tenant_id = $1 AND ts >= $3 \
             ORDER BY id")
            .bind(tenant_id)
            .bind(after)
            .bind(since)
            .fetch_all(p)
            .await?);
        Ok(rows
            .into_iter()
            .map(|(id, equipment_id, ts, state)| {
                (
                    id,
                    StateEvent {
                        tenant_id,
                        equipment_id,
                        ts,
                        state,
                        previous: None,
                    },
                )
            })
            .collect())
    }

    /// The number of the latest state change recorded (0 when none).
    pub async fn last_state_event_id(&self) -> Result<i64> {
        let id: Option<i64> = on_pool!(self, p => sqlx::query_scalar(
            "SELECT MAX(id) FROM state_events")
            .fetch_one(p)
            .await?);
        Ok(id.unwrap_or(0))
    }

    /// A machine's first state change in `[from, to)`: what ends the state
    /// it was in at `from`.
    pub async fn first_state_event_between(
        &self,
        tenant_id: i64,
        equipment_id: i64,
        from: i64,
        to: i64,
    ) -> Result<Option<StateEvent>> {
        Ok(on_pool!(self, p => sqlx::query_as(
            "SELECT tenant_id, equipment_id, ts, state, previous FROM state_events \
             WHERE tenant_id = $1 AND equipment_id = $2 AND ts >= $3 AND ts < $4 ORDER BY ts, id LIMIT 1")
            .bind(tenant_id)
            .bind(equipment_id)
            .bind(from)
            .bind(to)
            .fetch_optional(p)
            .await?))
    }
}

/// Documents a tenant keeps one of, as JSON its owner checked. The SQL is
/// fixed per kind; only values are bound.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TenantDoc {
    AlarmRules,
    ReasonTree,
    StateRules,
}

impl TenantDoc {
    /// (select, upsert)
    fn sql(self) -> (&'static str, &'static str) {
        match self {
            TenantDoc::AlarmRules => (
                "SELECT rules FROM alarm_rules WHERE tenant_id = $1",
                "INSERT INTO alarm_rules (tenant_id, rules, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (tenant_id) DO UPDATE SET rules = excluded.rules, updated_at = excluded.updated_at",
            ),
            TenantDoc::ReasonTree => (
                "SELECT tree FROM reason_trees WHERE tenant_id = $1",
                "INSERT INTO reason_trees (tenant_id, tree, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (tenant_id) DO UPDATE SET tree = excluded.tree, updated_at = excluded.updated_at",
            ),
            TenantDoc::StateRules => (
                "SELECT rules FROM state_rules WHERE tenant_id = $1",
                "INSERT INTO state_rules (tenant_id, rules, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (tenant_id) DO UPDATE SET rules = excluded.rules, updated_at = excluded.updated_at",
            ),
        }
    }
}

impl Store {
    pub(crate) async fn tenant_doc(
        &self,
        doc: TenantDoc,
        tenant_id: i64,
    ) -> Result<Option<String>> {
        let (select, _) = doc.sql();
        Ok(on_pool!(self, p => sqlx::query_scalar(select)
            .bind(tenant_id)
            .fetch_optional(p)
            .await?))
    }

    pub(crate) async fn put_tenant_doc(
        &self,
        doc: TenantDoc,
        tenant_id: i64,
        json: &str,
    ) -> Result<()> {
        let (_, upsert) = doc.sql();
        on_pool!(self, p => sqlx::query(upsert)
            .bind(tenant_id)
            .bind(json)
            .bind(now_ms())
            .execute(p)
            .await
            .map(|_| ())?);
        Ok(())
    }

    /// A tenant's alarm rules as stored JSON; `None` when never set.
    pub async fn alarm_rules(&self, tenant_id: i64) -> Result<Option<String>> {
        self.tenant_doc(TenantDoc::AlarmRules, tenant_id).await
    }

    /// Sets a tenant's alarm rules (JSON the caller has checked).
    pub async fn put_alarm_rules(&self, tenant_id: i64, rules_json: &str) -> Result<()> {
        self.put_tenant_doc(TenantDoc::AlarmRules, tenant_id, rules_json)
            .await
    }
}
