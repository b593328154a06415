//! Downtime reasons: a tenant's reason tree (stored as JSON the caller
//! checked) and the reason given for each stop of a machine; and the rules
//! that derive a machine's state from its signals.

use serde::Serialize;
use sqlx::FromRow;

use crate::calendars::TenantDoc;
use crate::{Result, Store, on_pool};

/// The reason given for one stop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, FromRow)]
pub struct StopReason {
    pub equipment_id: i64,
    /// When the stop began (epoch ms).
    pub stop_ts: i64,
    pub code: String,
    pub comment: String,
    pub by_user: String,
    pub created_at: i64,
}

impl Store {
    pub async fn reason_tree(&self, tenant_id: i64) -> Result<Option<String>> {
        self.tenant_doc(TenantDoc::ReasonTree, tenant_id).await
    }

    pub async fn put_reason_tree(&self, tenant_id: i64, tree_json: &str) -> Result<()> {
        self.put_tenant_doc(TenantDoc::ReasonTree, tenant_id, tree_json)
            .await
    }

    /// Gives (or replaces) the reason of the stop that began at `stop_ts`.
    pub async fn set_stop_reason(&self, tenant_id: i64, r: &StopReason) -> Result<()> {
        // The machine must be the tenant's.
        self.get_equipment(tenant_id, r.equipment_id).await?;
        on_pool!(self, p => sqlx::query(
            "INSERT INTO stop_reasons (tenant_id, equipment_id, stop_ts, code, comment, by_user, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (equipment_id, stop_ts) DO UPDATE SET code = excluded.code, \
             comment = excluded.comment, by_user = excluded.by_user, created_at = excluded.created_at")
            .bind(tenant_id)
            .bind(r.equipment_id)
            .bind(r.stop_ts)
            .bind(&r.code)
            .bind(&r.comment)
            .bind(&r.by_user)
            .bind(r.created_at)
            .execute(p)
            .await
            .map(|_| ())?);
        Ok(())
    }

    /// The reason codes given to a tenant's stops, with how many stops
    /// have each, by code.
    pub async fn reason_codes_in_use(&self, tenant_id: i64) -> Result<Vec<(String, i64)>> {
        Ok(on_pool!(self, p => sqlx::query_as(
            "SELECT code, COUNT(*) FROM stop_reasons WHERE tenant_id = $1 GROUP BY code ORDER BY code")
            .bind(tenant_id)
            .fetch_all(p)
            .await?))
    }

    /// Reasons of every machine's stops that began in `[from, to)`.
    pub async fn stop_reasons_of_tenant_between(
        &self,
        tenant_id: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<StopReason>> {
        Ok(on_pool!(self, p => sqlx::query_as(
            "SELECT equipment_id, stop_ts, code, comment, by_user, created_at FROM stop_reasons \
             WHERE tenant_id = $1 AND stop_ts >= $2 AND stop_ts < $3 ORDER BY equipment_id, stop_ts")
            .bind(tenant_id)
            .bind(from)
            .bind(to)
            .fetch_all(p)
            .await?))
    }

    /// Reasons of a machine's stops that began in `[from, to)`, in order.
    pub async fn stop_reasons_between(
        &self,
        tenant_id: i64,
        equipment_id: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<StopReason>> {
        Ok(on_pool!(self, p => sqlx::query_as(
            "SELECT equipment_id, stop_ts, code, comment, by_user, created_at FROM stop_reasons \
             WHERE tenant_id = $1 AND equipment_id = $2 AND stop_ts >= $3 AND stop_ts < $4 ORDER BY stop_ts")
            .bind(tenant_id)
            .bind(equipment_id)
            .bind(from)
            .bind(to)
            .fetch_all(p)
            .await?))
    }
}

impl Store {
    /// A tenant's state rules as stored JSON; `None` when never set.
    pub async fn state_rules(&self, tenant_id: i64) -> Result<Option<String>> {
        self.tenant_doc(TenantDoc::StateRules, tenant_id).await
    }

    pub async fn put_state_rules(&self, tenant_id: i64, rules_json: &str) -> Result<()> {
        self.put_tenant_doc(TenantDoc::StateRules, tenant_id, rules_json)
            .await
    }
}
