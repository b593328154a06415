//! Last known live status of each machine and the state-change log.
//!
//! The live hub keeps the hot copy in memory; this is the durable copy that
//! lets a restarted node resume its screen. The time-series store will take
//! over the history later.

use serde::Serialize;
use sqlx::FromRow;

use crate::{BeginWrite, Result, Store, on_pool};

#[derive(Debug, Clone, PartialEq, Serialize, FromRow)]
pub struct EquipmentStatus {
    pub equipment_id: i64,
    pub tenant_id: i64,
    pub state: String,
    pub since: i64,
    /// Local calendar day (`YYYY-MM-DD`) the counters belong to.
    pub day: String,
    pub good_today: i64,
    pub scrap_today: i64,
    pub temperature: Option<f64>,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, FromRow)]
pub struct StateEvent {
    pub tenant_id: i64,
    pub equipment_id: i64,
    pub ts: i64,
    pub state: String,
    pub previous: Option<String>,
}

impl Store {
    /// Saves the latest status of many machines in one transaction.
    pub async fn save_statuses(&self, statuses: &[EquipmentStatus]) -> Result<()> {
        const SQL: &str = "INSERT INTO equipment_status \
            (equipment_id, tenant_id, state, since, day, good_today, scrap_today, temperature, updated_at) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
            ON CONFLICT (equipment_id) DO UPDATE SET state = excluded.state, since = excluded.since, \
            day = excluded.day, good_today = excluded.good_today, scrap_today = excluded.scrap_today, \
            temperature = excluded.temperature, updated_at = excluded.updated_at";
        on_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            for s in statuses {
                sqlx::query(SQL)
                    .bind(s.equipment_id)
                    .bind(s.tenant_id)
                    .bind(&s.state)
                    .bind(s.since)
                    .bind(&s.day)
                    .bind(s.good_today)
                    .bind(s.scrap_today)
                    .bind(s.temperature)
                    .bind(s.updated_at)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn load_statuses(&self, tenant_id: i64) -> Result<Vec<EquipmentStatus>> {
        Ok(on_pool!(self, p => sqlx::query_as(
            "SELECT equipment_id, tenant_id, state, since, day, good_today, scrap_today, temperature, updated_at \
             FROM equipment_status WHERE tenant_id = $1 ORDER BY equipment_id")
            .bind(tenant_id)
            .fetch_all(p)
            .await?))
    }

    pub async fn append_state_events(&self, events: &[StateEvent]) -> Result<()> {
        on_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            for e in events {
                sqlx::query("INSERT INTO state_events (tenant_id, equipment_id, ts, state, previous) VALUES ($1, $2, $3, $4, $5)")
                    .bind(e.tenant_id)
                    .bind(e.equipment_id)
                    .bind(e.ts)
                    .bind(&e.state)
                    .bind(&e.previous)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// The newest `limit` state changes of a tenant, newest first.
    pub async fn recent_state_events(&self, tenant_id: i64, limit: i64) -> Result<Vec<StateEvent>> {
        Ok(on_pool!(self, p => sqlx::query_as(
            "SELECT tenant_id, equipment_id, ts, state, previous FROM state_events \
             WHERE tenant_id = $1 ORDER BY ts DESC, id DESC LIMIT $2")
            .bind(tenant_id)
            .bind(limit.clamp(1, 1000))
            .fetch_all(p)
            .await?))
    }

    /// All tenants' ids, for background tasks that run per tenant.
    pub async fn tenant_ids(&self) -> Result<Vec<i64>> {
        Ok(
            on_pool!(self, p => sqlx::query_scalar("SELECT id FROM tenants ORDER BY id")
            .fetch_all(p)
            .await?),
        )
    }
}
