//! Versions of a tenant's production schedule, each one JSON document (the
//! API owns its shape). A new version names the one it was made from, so
//! two planners changing the schedule at once cannot overwrite each
//! other: the second is told the schedule has changed.

use sqlx::{AssertSqlSafe, FromRow};

use crate::planning::{WorkOrder, WorkOrderOperation};
use crate::{BeginWrite, Result, Store, StoreError, now_ms, on_pool};

/// Versions kept per tenant.
pub const SCHEDULES_KEPT: i64 = 20;

#[derive(Debug, Clone, PartialEq, serde::Serialize, FromRow)]
pub struct ScheduleVersion {
    pub id: i64,
    pub reason: String,
    pub by_user: String,
    pub created_at: i64,
    /// Empty in listings.
    pub body: String,
}

impl Store {
    /// Stores a new version made from `based_on` (the current version's
    /// id, or `None` when there was none); a conflict when the current
    /// version is another by now.
    pub async fn insert_schedule(
        &self,
        tenant_id: i64,
        based_on: Option<i64>,
        reason: &str,
        by_user: &str,
        body: &str,
    ) -> Result<i64> {
        let now = now_ms();
        on_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            let current: Option<i64> = sqlx::query_scalar(
                "SELECT MAX(id) FROM schedules WHERE tenant_id = $1")
                .bind(tenant_id).fetch_one(&mut *tx).await?;
            if current != based_on {
                return Err(StoreError::Conflict {
                    field: "schedule".into(),
                    message: "the schedule was changed meanwhile; load it again".into(),
                });
            }
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO schedules (tenant_id, reason, by_user, created_at, body) VALUES ($1, $2, $3, $4, $5) RETURNING id")
                .bind(tenant_id).bind(reason).bind(by_user).bind(now).bind(body)
                .fetch_one(&mut *tx).await?;
            sqlx::query(
                "DELETE FROM schedules WHERE tenant_id = $1 AND id NOT IN \
                 (SELECT id FROM schedules WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2)")
                .bind(tenant_id).bind(SCHEDULES_KEPT)
                .execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(id)
        })
    }

    pub async fn current_schedule(&self, tenant_id: i64) -> Result<Option<ScheduleVersion>> {
        Ok(on_pool!(self, p => sqlx::query_as(
            "SELECT id, reason, by_user, created_at, body FROM schedules WHERE tenant_id = $1 ORDER BY id DESC LIMIT 1")
            .bind(tenant_id).fetch_optional(p).await?))
    }

    /// One kept version, with its body.
    pub async fn schedule_version(&self, tenant_id: i64, id: i64) -> Result<ScheduleVersion> {
        let row: Option<ScheduleVersion> = on_pool!(self, p => sqlx::query_as(
            "SELECT id, reason, by_user, created_at, body FROM schedules WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id).bind(id).fetch_optional(p).await?);
        row.ok_or(StoreError::NotFound {
            entity: "schedule version",
            id,
        })
    }

    /// The versions kept, newest first, without their bodies.
    pub async fn list_schedules(&self, tenant_id: i64) -> Result<Vec<ScheduleVersion>> {
        Ok(on_pool!(self, p => sqlx::query_as(
            "SELECT id, reason, by_user, created_at, '' AS body FROM schedules WHERE tenant_id = $1 ORDER BY id DESC")
            .bind(tenant_id).fetch_all(p).await?))
    }

    /// Released and started work orders with their operations, by due
    /// date: what there is to schedule.
    pub async fn open_work_orders_with_operations(
        &self,
        tenant_id: i64,
    ) -> Result<Vec<(WorkOrder, Vec<WorkOrderOperation>)>> {
        self.work_orders_with_operations(tenant_id, false).await
    }

    /// Work orders with their operations, by due date: released and
    /// started ones, and with `completed` also the ones completed.
    pub async fn work_orders_with_operations(
        &self,
        tenant_id: i64,
        completed: bool,
    ) -> Result<Vec<(WorkOrder, Vec<WorkOrderOperation>)>> {
        let statuses = if completed {
            "('released', 'in_progress', 'completed')"
        } else {
            "('released', 'in_progress')"
        };
        let orders_sql = format!(
            "SELECT id, number, item, quantity, release_date, due_date, status, pegs, created_at, updated_at \
             FROM work_orders WHERE tenant_id = $1 AND status IN {statuses} ORDER BY due_date, number"
        );
        let ops_sql = format!(
            "SELECT o.work_order_id, o.seq, o.work_centre, o.setup_hours, o.run_hours, o.qty_good, o.qty_scrap \
             FROM work_order_operations o JOIN work_orders w ON w.id = o.work_order_id \
             WHERE w.tenant_id = $1 AND w.status IN {statuses} ORDER BY o.work_order_id, o.seq"
        );
        let (orders, ops): (Vec<WorkOrder>, Vec<WorkOrderOperation>) = on_pool!(self, p => {
            let orders = sqlx::query_as(AssertSqlSafe(orders_sql.as_str()))
                .bind(tenant_id).fetch_all(p).await?;
            let ops = sqlx::query_as(AssertSqlSafe(ops_sql.as_str()))
                .bind(tenant_id).fetch_all(p).await?;
            (orders, ops)
        });
        let mut by_order: std::collections::HashMap<i64, Vec<WorkOrderOperation>> =
            std::collections::HashMap::new();
        for op in ops {
            by_order.entry(op.work_order_id).or_default().push(op);
        }
        Ok(orders
            .into_iter()
            .map(|o| {
                let ops = by_order.remove(&o.id).unwrap_or_default();
                (o, ops)
            })
            .collect())
    }
}
