//! The alarm journal: every alarm event, kept for the audit trail.

use serde::Serialize;
use sqlx::FromRow;

use crate::{BeginWrite, Result, Store, on_pool};

/// One alarm event as journalled (flat, so both backends store it alike).
#[derive(Debug, Clone, PartialEq, Serialize, FromRow)]
pub struct JournalEntry {
    pub tenant_id: i64,
    pub alarm_id: Option<i64>,
    pub at: i64,
    pub kind: String,
    pub rule: Option<String>,
    pub name: Option<String>,
    pub source: Option<String>,
    pub severity: Option<String>,
    pub state: Option<String>,
    pub value: Option<f64>,
    pub by_user: Option<String>,
    pub comment: Option<String>,
    pub flood: bool,
    /// The alarm after the event, as JSON (to restore it at a restart).
    #[serde(skip)]
    pub alarm: Option<String>,
}

impl Store {
    pub async fn append_alarm_journal(&self, entries: &[JournalEntry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        on_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            for e in entries {
                sqlx::query(
                    "INSERT INTO alarm_journal (tenant_id, alarm_id, at, kind, rule, name, source, severity, state, value, by_user, comment, flood, alarm) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)")
                    .bind(e.tenant_id)
                    .bind(e.alarm_id)
                    .bind(e.at)
                    .bind(&e.kind)
                    .bind(&e.rule)
                    .bind(&e.name)
                    .bind(&e.source)
                    .bind(&e.severity)
                    .bind(&e.state)
                    .bind(e.value)
                    .bind(&e.by_user)
                    .bind(&e.comment)
                    .bind(e.flood)
                    .bind(&e.alarm)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// A tenant's alarm events in `[from, to)`, newest first, `limit` from
    /// `offset`, and how many there are.
    pub async fn alarm_journal(
        &self,
        tenant_id: i64,
        from: i64,
        to: i64,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<JournalEntry>, i64)> {
        let items: Vec<JournalEntry> = on_pool!(self, p => sqlx::query_as(
            "SELECT tenant_id, alarm_id, at, kind, rule, name, source, severity, state, value, by_user, comment, flood, alarm \
             FROM alarm_journal WHERE tenant_id = $1 AND at >= $2 AND at < $3 ORDER BY at DESC, id DESC LIMIT $4 OFFSET $5")
            .bind(tenant_id)
            .bind(from)
            .bind(to)
            .bind(limit)
            .bind(offset)
            .fetch_all(p)
            .await?);
        let total: i64 = on_pool!(self, p => sqlx::query_scalar(
            "SELECT COUNT(*) FROM alarm_journal WHERE tenant_id = $1 AND at >= $2 AND at < $3")
            .bind(tenant_id)
            .bind(from)
            .bind(to)
            .fetch_one(p)
            .await?);
        Ok((items, total))
    }

    /// The alarms of a tenant that are not over, as their latest events
    /// left them (JSON), oldest first.
    pub async fn open_alarms(&self, tenant_id: i64) -> Result<Vec<String>> {
        Ok(on_pool!(self, p => sqlx::query_scalar(
            "SELECT j.alarm FROM alarm_journal j \
             WHERE j.tenant_id = $1 AND j.alarm IS NOT NULL AND j.kind <> 'closed' \
               AND j.id = (SELECT MAX(k.id) FROM alarm_journal k \
                           WHERE k.tenant_id = j.tenant_id AND k.alarm_id = j.alarm_id) \
             ORDER BY j.alarm_id")
            .bind(tenant_id)
            .fetch_all(p)
            .await?))
    }

    /// The largest alarm id journalled for a tenant.
    pub async fn max_alarm_id(&self, tenant_id: i64) -> Result<Option<i64>> {
        Ok(on_pool!(self, p => sqlx::query_scalar(
            "SELECT MAX(alarm_id) FROM alarm_journal WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_one(p)
            .await?))
    }
}
