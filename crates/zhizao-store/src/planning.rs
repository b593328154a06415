//! Production planning data: master data (replaced as a whole, in one
//! transaction, after the caller checked it with `MasterData::check`),
//! customer orders, forecasts, MRP runs (their result kept as JSON) and
//! the work orders released from them.

use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::{AssertSqlSafe, FromRow};
use zhizao_plan::book::{
    CapacityChange, MasterBomLine, MasterData, MasterItem, MasterOperation, MasterWorkCentre,
    UnitConversion,
};

use crate::list::{Param, bind_all};
use crate::{BeginWrite, Result, Store, StoreError, now_ms, on_pool};

/// Runs kept per tenant; older ones are deleted when a new one is stored.
pub const RUNS_KEPT: i64 = 20;

/// An enum's serde name as plain text (`"finished"` → `finished`).
fn enum_text<T: Serialize>(v: &T) -> Result<String> {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        Ok(other) => Ok(other.to_string()),
        Err(e) => Err(StoreError::Corrupt(e.to_string())),
    }
}

fn enum_from<T: DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|e| StoreError::Corrupt(format!("`{s}`: {e}")))
}

fn json_from<T: DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("`{s}`: {e}")))
}

fn json_text<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[derive(FromRow)]
struct ItemRow {
    code: String,
    name: String,
    kind: String,
    uom: String,
    lead_time_weeks: i64,
    lot: String,
    safety_stock: f64,
    on_hand: f64,
    allocated: f64,
}

#[derive(FromRow)]
struct BomRow {
    parent: String,
    component: String,
    quantity: f64,
    uom: Option<String>,
    scrap_pct: f64,
    valid_from: Option<String>,
    valid_to: Option<String>,
}

#[derive(FromRow)]
struct CentreRow {
    code: String,
    name: String,
    machines: i64,
    hours_per_week: Option<f64>,
    efficiency: f64,
}

#[derive(FromRow)]
struct OperationRow {
    item: String,
    seq: i64,
    work_centre: String,
    alternatives: String,
    setup_hours: f64,
    run_hours_per_unit: f64,
    min_transfer_batch: Option<f64>,
    queue_hours: f64,
    move_hours: f64,
}

/// A customer order line as stored.
#[derive(Debug, Clone, PartialEq, Serialize, FromRow)]
pub struct CustomerOrder {
    pub id: i64,
    pub number: String,
    pub customer: String,
    pub item: String,
    pub quantity: f64,
    /// `YYYY-MM-DD`.
    pub due_date: String,
    /// 1 (most urgent) to 9.
    pub priority: i64,
    pub status: String,
    pub note: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A customer order as entered (checked by the caller).
#[derive(Debug, Clone, PartialEq)]
pub struct NewCustomerOrder {
    pub number: String,
    pub customer: String,
    pub item: String,
    pub quantity: f64,
    pub due_date: String,
    pub priority: i64,
    pub status: String,
    pub note: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderSort {
    Number,
    DueDate,
    Customer,
    Item,
    Quantity,
    Priority,
    Status,
    CreatedAt,
}

impl OrderSort {
    pub const NAMES: [&'static str; 8] = [
        "number",
        "due_date",
        "customer",
        "item",
        "quantity",
        "priority",
        "status",
        "created_at",
    ];

    /// `due_date`, `-priority`, … into a column and direction.
    pub fn parse(s: &str) -> Option<(OrderSort, bool)> {
        let (desc, key) = match s.strip_prefix('-') {
            Some(k) => (true, k),
            None => (false, s),
        };
        let sort = match key {
            "number" => OrderSort::Number,
            "due_date" => OrderSort::DueDate,
            "customer" => OrderSort::Customer,
            "item" => OrderSort::Item,
            "quantity" => OrderSort::Quantity,
            "priority" => OrderSort::Priority,
            "status" => OrderSort::Status,
            "created_at" => OrderSort::CreatedAt,
            _ => return None,
        };
        Some((sort, desc))
    }

    fn column(self) -> &'static str {
        match self {
            OrderSort::Number => "number",
            OrderSort::DueDate => "due_date",
            OrderSort::Customer => "customer",
            OrderSort::Item => "item",
            OrderSort::Quantity => "quantity",
            OrderSort::Priority => "priority",
            OrderSort::Status => "status",
            OrderSort::CreatedAt => "created_at",
        }
    }
}

/// A page of customer orders: filters, sort and window.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderQuery {
    pub limit: i64,
    pub offset: i64,
    pub sort: OrderSort,
    pub descending: bool,
    pub status: Option<String>,
    pub item: Option<String>,
    /// Due on or after (`YYYY-MM-DD`).
    pub due_from: Option<String>,
    /// Due on or before.
    pub due_to: Option<String>,
    /// Case-insensitive part of the number, customer or item.
    pub search: Option<String>,
}

impl Default for OrderQuery {
    fn default() -> Self {
        Self {
            limit: crate::list::DEFAULT_LIMIT,
            offset: 0,
            sort: OrderSort::DueDate,
            descending: false,
            status: None,
            item: None,
            due_from: None,
            due_to: None,
            search: None,
        }
    }
}

/// Bumps a tenant's master-data version (`$1` tenant, `$2` now), inside
/// the transaction that changes the master data.
const BUMP_MASTER_VERSION: &str = "INSERT INTO plan_master_versions (tenant_id, version, updated_at) VALUES ($1, 1, $2) \
     ON CONFLICT (tenant_id) DO UPDATE SET version = plan_master_versions.version + 1, updated_at = excluded.updated_at";

const ORDER_COLUMNS: &str = "id, number, customer, item, quantity, due_date, priority, status, note, created_at, updated_at";

/// A stored MRP run (its result is the caller's JSON).
#[derive(Debug, Clone, PartialEq, Serialize, FromRow)]
pub struct PlanRun {
    pub id: i64,
    pub kind: String,
    pub by_user: String,
    pub created_at: i64,
    pub result: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, FromRow)]
pub struct WorkOrder {
    pub id: i64,
    pub number: String,
    pub item: String,
    pub quantity: f64,
    pub release_date: String,
    pub due_date: String,
    pub status: String,
    /// JSON: what the order serves.
    pub pegs: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, FromRow)]
pub struct WorkOrderOperation {
    pub work_order_id: i64,
    pub seq: i64,
    pub work_centre: String,
    pub setup_hours: f64,
    pub run_hours: f64,
    pub qty_good: f64,
    pub qty_scrap: f64,
}

/// A work order to create with its operations; the number is given by the
/// store (`WO-000123`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewWorkOrder {
    pub item: String,
    pub quantity: f64,
    pub release_date: String,
    pub due_date: String,
    pub pegs: String,
    /// (seq, work centre, setup hours, run hours for the whole order)
    pub operations: Vec<(i64, String, f64, f64)>,
}

const WORK_ORDER_COLUMNS: &str =
    "id, number, item, quantity, release_date, due_date, status, pegs, created_at, updated_at";

impl Store {
    /// The tenant's master data; empty when none was loaded.
    pub async fn plan_master(&self, tenant_id: i64) -> Result<MasterData> {
        let units: Vec<(String, String, f64)> = on_pool!(self, p => sqlx::query_as(
            "SELECT from_unit, to_unit, factor FROM plan_units WHERE tenant_id = $1 ORDER BY from_unit, to_unit")
            .bind(tenant_id).fetch_all(p).await?);
        let items: Vec<ItemRow> = on_pool!(self, p => sqlx::query_as(
            "SELECT code, name, kind, uom, lead_time_weeks, lot, safety_stock, on_hand, allocated \
             FROM plan_items WHERE tenant_id = $1 ORDER BY code")
            .bind(tenant_id).fetch_all(p).await?);
        let bom: Vec<BomRow> = on_pool!(self, p => sqlx::query_as(
            "SELECT parent, component, quantity, uom, scrap_pct, valid_from, valid_to \
             FROM plan_bom_lines WHERE tenant_id = $1 ORDER BY line_no")
            .bind(tenant_id).fetch_all(p).await?);
        let centres: Vec<CentreRow> = on_pool!(self, p => sqlx::query_as(
            "SELECT code, name, machines, hours_per_week, efficiency \
             FROM plan_work_centres WHERE tenant_id = $1 ORDER BY code")
            .bind(tenant_id).fetch_all(p).await?);
        let ops: Vec<OperationRow> = on_pool!(self, p => sqlx::query_as(
            "SELECT item, seq, work_centre, alternatives, setup_hours, run_hours_per_unit, min_transfer_batch, queue_hours, move_hours \
             FROM plan_operations WHERE tenant_id = $1 ORDER BY item, seq")
            .bind(tenant_id).fetch_all(p).await?);
        let changes: Vec<(String, String, String, f64, String)> = on_pool!(self, p => sqlx::query_as(
            "SELECT work_centre, from_date, to_date, hours_per_week, note \
             FROM plan_capacity_changes WHERE tenant_id = $1 ORDER BY line_no")
            .bind(tenant_id).fetch_all(p).await?);
        Ok(MasterData {
            capacity_changes: changes
                .into_iter()
                .map(
                    |(work_centre, from, to, hours_per_week, note)| CapacityChange {
                        work_centre,
                        from,
                        to,
                        hours_per_week,
                        note,
                    },
                )
                .collect(),
            units: units
                .into_iter()
                .map(|(from, to, factor)| UnitConversion { from, to, factor })
                .collect(),
            items: items
                .into_iter()
                .map(|r| {
                    Ok(MasterItem {
                        kind: enum_from(&r.kind)?,
                        lot: json_from(&r.lot)?,
                        code: r.code,
                        name: r.name,
                        uom: r.uom,
                        lead_time_weeks: usize::try_from(r.lead_time_weeks).unwrap_or(0),
                        safety_stock: r.safety_stock,
                        on_hand: r.on_hand,
                        allocated: r.allocated,
                    })
                })
                .collect::<Result<_>>()?,
            bom: bom
                .into_iter()
                .map(|r| MasterBomLine {
                    parent: r.parent,
                    component: r.component,
                    quantity: r.quantity,
                    uom: r.uom,
                    scrap_pct: r.scrap_pct,
                    valid_from: r.valid_from,
                    valid_to: r.valid_to,
                })
                .collect(),
            work_centres: centres
                .into_iter()
                .map(|r| MasterWorkCentre {
                    code: r.code,
                    name: r.name,
                    machines: u32::try_from(r.machines).unwrap_or(0),
                    hours_per_week: r.hours_per_week,
                    efficiency: r.efficiency,
                })
                .collect(),
            routings: ops
                .into_iter()
                .map(|r| {
                    Ok(MasterOperation {
                        alternatives: json_from(&r.alternatives)?,
                        item: r.item,
                        seq: u32::try_from(r.seq).unwrap_or(0),
                        work_centre: r.work_centre,
                        setup_hours: r.setup_hours,
                        run_hours_per_unit: r.run_hours_per_unit,
                        min_transfer_batch: r.min_transfer_batch,
                        queue_hours: r.queue_hours,
                        move_hours: r.move_hours,
                    })
                })
                .collect::<Result<_>>()?,
        })
    }

    /// Replaces the tenant's master data in one transaction.
    pub async fn put_plan_master(&self, tenant_id: i64, m: &MasterData) -> Result<()> {
        let kinds = m
            .items
            .iter()
            .map(|i| Ok((enum_text(&i.kind)?, json_text(&i.lot)?)))
            .collect::<Result<Vec<_>>>()?;
        let alternatives = m
            .routings
            .iter()
            .map(|o| json_text(&o.alternatives))
            .collect::<Result<Vec<_>>>()?;
        on_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            for table in ["plan_units", "plan_items", "plan_bom_lines", "plan_work_centres", "plan_operations", "plan_capacity_changes"] {
                let sql = format!("DELETE FROM {table} WHERE tenant_id = $1");
                sqlx::query(AssertSqlSafe(sql)).bind(tenant_id).execute(&mut *tx).await?;
            }
            for u in &m.units {
                sqlx::query("INSERT INTO plan_units (tenant_id, from_unit, to_unit, factor) VALUES ($1, $2, $3, $4)")
                    .bind(tenant_id).bind(&u.from).bind(&u.to).bind(u.factor)
                    .execute(&mut *tx).await?;
            }
            for (i, (kind, lot)) in m.items.iter().zip(&kinds) {
                sqlx::query(
                    "INSERT INTO plan_items (tenant_id, code, name, kind, uom, lead_time_weeks, lot, safety_stock, on_hand, allocated) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                    .bind(tenant_id).bind(&i.code).bind(&i.name).bind(kind).bind(&i.uom)
                    .bind(i64::try_from(i.lead_time_weeks).unwrap_or(i64::MAX))
                    .bind(lot).bind(i.safety_stock).bind(i.on_hand).bind(i.allocated)
                    .execute(&mut *tx).await?;
            }
            for (n, l) in m.bom.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO plan_bom_lines (tenant_id, line_no, parent, component, quantity, uom, scrap_pct, valid_from, valid_to) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
                    .bind(tenant_id).bind(n as i64).bind(&l.parent).bind(&l.component).bind(l.quantity)
                    .bind(&l.uom).bind(l.scrap_pct).bind(&l.valid_from).bind(&l.valid_to)
                    .execute(&mut *tx).await?;
            }
            for c in &m.work_centres {
                sqlx::query(
                    "INSERT INTO plan_work_centres (tenant_id, code, name, machines, hours_per_week, efficiency) \
                     VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(tenant_id).bind(&c.code).bind(&c.name).bind(i64::from(c.machines))
                    .bind(c.hours_per_week).bind(c.efficiency)
                    .execute(&mut *tx).await?;
            }
            for (o, alt) in m.routings.iter().zip(&alternatives) {
                sqlx::query(
                    "INSERT INTO plan_operations (tenant_id, item, seq, work_centre, alternatives, setup_hours, run_hours_per_unit, min_transfer_batch, queue_hours, move_hours) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                    .bind(tenant_id).bind(&o.item).bind(i64::from(o.seq)).bind(&o.work_centre).bind(alt)
                    .bind(o.setup_hours).bind(o.run_hours_per_unit).bind(o.min_transfer_batch)
                    .bind(o.queue_hours).bind(o.move_hours)
                    .execute(&mut *tx).await?;
            }
            for (n, c) in m.capacity_changes.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO plan_capacity_changes (tenant_id, line_no, work_centre, from_date, to_date, hours_per_week, note) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)")
                    .bind(tenant_id).bind(n as i64).bind(&c.work_centre).bind(&c.from).bind(&c.to)
                    .bind(c.hours_per_week).bind(&c.note)
                    .execute(&mut *tx).await?;
            }
            sqlx::query(BUMP_MASTER_VERSION)
                .bind(tenant_id).bind(now_ms())
                .execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// How many times the tenant's master data was replaced (0: never).
    pub async fn plan_master_version(&self, tenant_id: i64) -> Result<i64> {
        let v: Option<i64> = on_pool!(self, p => sqlx::query_scalar(
            "SELECT version FROM plan_master_versions WHERE tenant_id = $1")
            .bind(tenant_id).fetch_optional(p).await?);
        Ok(v.unwrap_or(0))
    }

    /// The codes of the tenant's items.
    pub async fn plan_item_codes(&self, tenant_id: i64) -> Result<Vec<String>> {
        Ok(on_pool!(self, p => sqlx::query_scalar(
            "SELECT code FROM plan_items WHERE tenant_id = $1 ORDER BY code")
            .bind(tenant_id).fetch_all(p).await?))
    }

    /// How many items the tenant's master data has.
    pub async fn plan_item_count(&self, tenant_id: i64) -> Result<i64> {
        Ok(on_pool!(self, p => sqlx::query_scalar(
            "SELECT COUNT(*) FROM plan_items WHERE tenant_id = $1")
            .bind(tenant_id).fetch_one(p).await?))
    }
}

impl Store {
    fn order_where(tenant_id: i64, q: &OrderQuery) -> (String, Vec<Param>) {
        let mut sql = String::from(" WHERE tenant_id = $1");
        let mut params = vec![Param::Int(tenant_id)];
        let mut add = |cond: &str, v: String, params: &mut Vec<Param>| {
            params.push(Param::Text(v));
            sql.push_str(" AND ");
            sql.push_str(&cond.replace("{}", &format!("${}", params.len())));
        };
        if let Some(v) = &q.status {
            add("status = {}", v.clone(), &mut params);
        }
        if let Some(v) = &q.item {
            add("item = {}", v.clone(), &mut params);
        }
        if let Some(v) = &q.due_from {
            add("due_date >= {}", v.clone(), &mut params);
        }
        if let Some(v) = &q.due_to {
            add("due_date <= {}", v.clone(), &mut params);
        }
        if let Some(s) = &q.search {
            let pattern = format!("%{}%", s.to_lowercase().replace(['%', '_'], ""));
            add(
                "(LOWER(number) LIKE {} OR LOWER(customer) LIKE {} OR LOWER(item) LIKE {})",
                pattern,
                &mut params,
            );
        }
        (sql, params)
    }

    /// A page of the order book and how many orders match.
    pub async fn list_customer_orders(
        &self,
        tenant_id: i64,
        q: &OrderQuery,
    ) -> Result<(Vec<CustomerOrder>, i64)> {
        let (cond, params) = Self::order_where(tenant_id, q);
        let dir = if q.descending { "DESC" } else { "ASC" };
        let rows_sql = format!(
            "SELECT {ORDER_COLUMNS} FROM customer_orders{cond} ORDER BY {} {dir}, number {dir} LIMIT {} OFFSET {}",
            q.sort.column(),
            q.limit.clamp(1, crate::MAX_LIMIT),
            q.offset.max(0)
        );
        let count_sql = format!("SELECT COUNT(*) FROM customer_orders{cond}");
        on_pool!(self, p => {
            let total: i64 = bind_all!(sqlx::query_scalar(AssertSqlSafe(count_sql.as_str())), &params)
                .fetch_one(p).await?;
            let items: Vec<CustomerOrder> = bind_all!(sqlx::query_as(AssertSqlSafe(rows_sql.as_str())), &params)
                .fetch_all(p).await?;
            Ok((items, total))
        })
    }

    /// Every order of the tenant, by due date (for planning and export).
    pub async fn all_customer_orders(&self, tenant_id: i64) -> Result<Vec<CustomerOrder>> {
        let sql = format!(
            "SELECT {ORDER_COLUMNS} FROM customer_orders WHERE tenant_id = $1 ORDER BY due_date, number"
        );
        Ok(
            on_pool!(self, p => sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .bind(tenant_id).fetch_all(p).await?),
        )
    }

    pub async fn customer_order(&self, tenant_id: i64, id: i64) -> Result<CustomerOrder> {
        self.row_by_id(
            "customer_orders",
            ORDER_COLUMNS,
            "customer order",
            tenant_id,
            id,
        )
        .await
    }

    pub async fn create_customer_order(
        &self,
        tenant_id: i64,
        o: &NewCustomerOrder,
    ) -> Result<CustomerOrder> {
        let now = now_ms();
        let id: i64 = on_pool!(self, p => sqlx::query_scalar(
            "INSERT INTO customer_orders (tenant_id, number, customer, item, quantity, due_date, priority, status, note, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id")
            .bind(tenant_id).bind(&o.number).bind(&o.customer).bind(&o.item).bind(o.quantity)
            .bind(&o.due_date).bind(o.priority).bind(&o.status).bind(&o.note).bind(now)
            .fetch_one(p).await
            .map_err(|e| StoreError::from_write(e, "number", &format!("order `{}`", o.number)))?);
        self.customer_order(tenant_id, id).await
    }

    pub async fn update_customer_order(
        &self,
        tenant_id: i64,
        id: i64,
        o: &NewCustomerOrder,
    ) -> Result<CustomerOrder> {
        let n = on_pool!(self, p => sqlx::query(
            "UPDATE customer_orders SET number = $3, customer = $4, item = $5, quantity = $6, due_date = $7, \
             priority = $8, status = $9, note = $10, updated_at = $11 WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id).bind(id).bind(&o.number).bind(&o.customer).bind(&o.item).bind(o.quantity)
            .bind(&o.due_date).bind(o.priority).bind(&o.status).bind(&o.note).bind(now_ms())
            .execute(p).await
            .map_err(|e| StoreError::from_write(e, "number", &format!("order `{}`", o.number)))?
            .rows_affected());
        if n == 0 {
            return Err(StoreError::NotFound {
                entity: "customer order",
                id,
            });
        }
        self.customer_order(tenant_id, id).await
    }

    pub async fn delete_customer_order(&self, tenant_id: i64, id: i64) -> Result<()> {
        let n = on_pool!(self, p => sqlx::query(
            "DELETE FROM customer_orders WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id).bind(id).execute(p).await?.rows_affected());
        if n == 0 {
            return Err(StoreError::NotFound {
                entity: "customer order",
                id,
            });
        }
        Ok(())
    }

    /// Stores imported orders in one transaction: a number already in the
    /// book is updated, a new one inserted. Returns (inserted, updated).
    pub async fn upsert_customer_orders(
        &self,
        tenant_id: i64,
        orders: &[NewCustomerOrder],
    ) -> Result<(u64, u64)> {
        let now = now_ms();
        on_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            let (mut inserted, mut updated) = (0, 0);
            for o in orders {
                let n = sqlx::query(
                    "UPDATE customer_orders SET customer = $3, item = $4, quantity = $5, due_date = $6, \
                     priority = $7, status = $8, note = $9, updated_at = $10 WHERE tenant_id = $1 AND number = $2")
                    .bind(tenant_id).bind(&o.number).bind(&o.customer).bind(&o.item).bind(o.quantity)
                    .bind(&o.due_date).bind(o.priority).bind(&o.status).bind(&o.note).bind(now)
                    .execute(&mut *tx).await?.rows_affected();
                if n > 0 {
                    updated += 1;
                    continue;
                }
                sqlx::query(
                    "INSERT INTO customer_orders (tenant_id, number, customer, item, quantity, due_date, priority, status, note, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)")
                    .bind(tenant_id).bind(&o.number).bind(&o.customer).bind(&o.item).bind(o.quantity)
                    .bind(&o.due_date).bind(o.priority).bind(&o.status).bind(&o.note).bind(now)
                    .execute(&mut *tx).await?;
                inserted += 1;
            }
            tx.commit().await?;
            Ok((inserted, updated))
        })
    }

    /// The tenant's forecasts: (item, week, quantity).
    pub async fn plan_forecasts(&self, tenant_id: i64) -> Result<Vec<(String, String, f64)>> {
        Ok(on_pool!(self, p => sqlx::query_as(
            "SELECT item, week, quantity FROM plan_forecasts WHERE tenant_id = $1 ORDER BY item, week")
            .bind(tenant_id).fetch_all(p).await?))
    }

    pub async fn put_plan_forecasts(
        &self,
        tenant_id: i64,
        forecasts: &[(String, String, f64)],
    ) -> Result<()> {
        on_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            sqlx::query("DELETE FROM plan_forecasts WHERE tenant_id = $1")
                .bind(tenant_id).execute(&mut *tx).await?;
            for (item, week, qty) in forecasts {
                sqlx::query("INSERT INTO plan_forecasts (tenant_id, item, week, quantity) VALUES ($1, $2, $3, $4)")
                    .bind(tenant_id).bind(item).bind(week).bind(qty)
                    .execute(&mut *tx).await
                    .map_err(|e| StoreError::from_write(e, "forecasts", &format!("a forecast of `{item}` for {week}")))?;
            }
            tx.commit().await?;
        });
        Ok(())
    }
}

impl Store {
    /// Keeps a run's result; only the newest [`RUNS_KEPT`] stay.
    pub async fn insert_plan_run(
        &self,
        tenant_id: i64,
        kind: &str,
        by_user: &str,
        result: &str,
    ) -> Result<i64> {
        let now = now_ms();
        on_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO plan_runs (tenant_id, kind, by_user, created_at, result) VALUES ($1, $2, $3, $4, $5) RETURNING id")
                .bind(tenant_id).bind(kind).bind(by_user).bind(now).bind(result)
                .fetch_one(&mut *tx).await?;
            sqlx::query(
                "DELETE FROM plan_runs WHERE tenant_id = $1 AND id NOT IN \
                 (SELECT id FROM plan_runs WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2)")
                .bind(tenant_id).bind(RUNS_KEPT)
                .execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(id)
        })
    }

    pub async fn latest_plan_run(&self, tenant_id: i64) -> Result<Option<PlanRun>> {
        Ok(on_pool!(self, p => sqlx::query_as(
            "SELECT id, kind, by_user, created_at, result FROM plan_runs WHERE tenant_id = $1 ORDER BY id DESC LIMIT 1")
            .bind(tenant_id).fetch_optional(p).await?))
    }

    /// The runs kept, newest first, without their results.
    pub async fn list_plan_runs(&self, tenant_id: i64) -> Result<Vec<PlanRun>> {
        Ok(on_pool!(self, p => sqlx::query_as(
            "SELECT id, kind, by_user, created_at, '' AS result FROM plan_runs WHERE tenant_id = $1 ORDER BY id DESC")
            .bind(tenant_id).fetch_all(p).await?))
    }
}

impl Store {
    /// Creates work orders with their operations in one transaction,
    /// numbered on from the tenant's highest.
    pub async fn create_work_orders(
        &self,
        tenant_id: i64,
        orders: &[NewWorkOrder],
    ) -> Result<Vec<WorkOrder>> {
        let now = now_ms();
        let ids: Vec<i64> = on_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM work_orders WHERE tenant_id = $1")
                .bind(tenant_id).fetch_one(&mut *tx).await?;
            let mut ids = Vec::with_capacity(orders.len());
            for (k, o) in orders.iter().enumerate() {
                let number = format!("WO-{:06}", count + k as i64 + 1);
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO work_orders (tenant_id, number, item, quantity, release_date, due_date, status, pegs, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, 'released', $7, $8, $8) RETURNING id")
                    .bind(tenant_id).bind(&number).bind(&o.item).bind(o.quantity)
                    .bind(&o.release_date).bind(&o.due_date).bind(&o.pegs).bind(now)
                    .fetch_one(&mut *tx).await
                    .map_err(|e| StoreError::from_write(e, "number", &format!("work order `{number}`")))?;
                for (seq, centre, setup, run) in &o.operations {
                    sqlx::query(
                        "INSERT INTO work_order_operations (work_order_id, seq, work_centre, setup_hours, run_hours, qty_good, qty_scrap) \
                         VALUES ($1, $2, $3, $4, $5, 0, 0)")
                        .bind(id).bind(seq).bind(centre).bind(setup).bind(run)
                        .execute(&mut *tx).await?;
                }
                ids.push(id);
            }
            tx.commit().await?;
            ids
        });
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.work_order(tenant_id, id).await?);
        }
        Ok(out)
    }

    pub async fn work_order(&self, tenant_id: i64, id: i64) -> Result<WorkOrder> {
        self.row_by_id(
            "work_orders",
            WORK_ORDER_COLUMNS,
            "work order",
            tenant_id,
            id,
        )
        .await
    }

    /// A page of work orders by due date, optionally of one status.
    pub async fn list_work_orders(
        &self,
        tenant_id: i64,
        status: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<WorkOrder>, i64)> {
        self.page_by_status(
            "work_orders",
            WORK_ORDER_COLUMNS,
            tenant_id,
            status,
            limit,
            offset,
        )
        .await
    }

    /// The tenant's row `id` of `table`; `table` and `columns` are the
    /// caller's constants.
    async fn row_by_id<T>(
        &self,
        table: &'static str,
        columns: &'static str,
        entity: &'static str,
        tenant_id: i64,
        id: i64,
    ) -> Result<T>
    where
        T: Send
            + Unpin
            + for<'r> FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> FromRow<'r, sqlx::postgres::PgRow>,
    {
        let sql = format!("SELECT {columns} FROM {table} WHERE tenant_id = $1 AND id = $2");
        let row: Option<T> = on_pool!(self, p => sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .bind(tenant_id).bind(id).fetch_optional(p).await?);
        row.ok_or(StoreError::NotFound { entity, id })
    }

    /// Rows of `table` by due date, optionally of one status, and how many
    /// match. `table` and `columns` are the caller's constants.
    async fn page_by_status<T>(
        &self,
        table: &'static str,
        columns: &'static str,
        tenant_id: i64,
        status: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<T>, i64)>
    where
        T: Send
            + Unpin
            + for<'r> FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> FromRow<'r, sqlx::postgres::PgRow>,
    {
        let cond = if status.is_some() {
            " WHERE tenant_id = $1 AND status = $2"
        } else {
            " WHERE tenant_id = $1 AND $2 = ''"
        };
        let rows_sql = format!(
            "SELECT {columns} FROM {table}{cond} ORDER BY due_date, number LIMIT {} OFFSET {}",
            limit.clamp(1, crate::MAX_LIMIT),
            offset.max(0)
        );
        let count_sql = format!("SELECT COUNT(*) FROM {table}{cond}");
        let s = status.unwrap_or("");
        on_pool!(self, p => {
            let total: i64 = sqlx::query_scalar(AssertSqlSafe(count_sql.as_str()))
                .bind(tenant_id).bind(s).fetch_one(p).await?;
            let items: Vec<T> = sqlx::query_as(AssertSqlSafe(rows_sql.as_str()))
                .bind(tenant_id).bind(s).fetch_all(p).await?;
            Ok((items, total))
        })
    }

    /// Open work orders with the good quantity reported at their last
    /// operation (what has been finished), in one query.
    pub async fn open_work_order_progress(&self, tenant_id: i64) -> Result<Vec<(WorkOrder, f64)>> {
        #[derive(FromRow)]
        struct Row {
            #[sqlx(flatten)]
            order: WorkOrder,
            done: f64,
        }
        let sql = format!(
            "SELECT {WORK_ORDER_COLUMNS}, COALESCE((SELECT o.qty_good FROM work_order_operations o \
             WHERE o.work_order_id = work_orders.id ORDER BY o.seq DESC LIMIT 1), 0.0) AS done \
             FROM work_orders WHERE tenant_id = $1 AND status IN ('released', 'in_progress') ORDER BY due_date, number"
        );
        let rows: Vec<Row> = on_pool!(self, p => sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .bind(tenant_id).fetch_all(p).await?);
        Ok(rows.into_iter().map(|r| (r.order, r.done)).collect())
    }

    pub async fn work_order_operations(
        &self,
        tenant_id: i64,
        id: i64,
    ) -> Result<Vec<WorkOrderOperation>> {
        self.work_order(tenant_id, id).await?;
        Ok(on_pool!(self, p => sqlx::query_as(
            "SELECT work_order_id, seq, work_centre, setup_hours, run_hours, qty_good, qty_scrap \
             FROM work_order_operations WHERE work_order_id = $1 ORDER BY seq")
            .bind(id).fetch_all(p).await?))
    }

    /// Moves a work order from `from` to `to`; false when it was no longer
    /// in `from` (someone else moved it first).
    pub async fn set_work_order_status(
        &self,
        tenant_id: i64,
        id: i64,
        from: &str,
        to: &str,
    ) -> Result<bool> {
        let n = on_pool!(self, p => sqlx::query(
            "UPDATE work_orders SET status = $4, updated_at = $5 WHERE tenant_id = $1 AND id = $2 AND status = $3")
            .bind(tenant_id).bind(id).bind(from).bind(to).bind(now_ms())
            .execute(p).await?.rows_affected());
        Ok(n > 0)
    }

    /// Adds reported good and scrap quantities to an operation.
    pub async fn report_work_order_operation(
        &self,
        tenant_id: i64,
        id: i64,
        seq: i64,
        good: f64,
        scrap: f64,
    ) -> Result<()> {
        self.work_order(tenant_id, id).await?;
        let n = on_pool!(self, p => sqlx::query(
            "UPDATE work_order_operations SET qty_good = qty_good + $3, qty_scrap = qty_scrap + $4 \
             WHERE work_order_id = $1 AND seq = $2")
            .bind(id).bind(seq).bind(good).bind(scrap)
            .execute(p).await?.rows_affected());
        if n == 0 {
            return Err(StoreError::NotFound {
                entity: "operation",
                id: seq,
            });
        }
        Ok(())
    }
}

/// A purchase order for a bought item, released from a purchase
/// requisition; open until all of it is received or it is cancelled.
#[derive(Debug, Clone, PartialEq, Serialize, FromRow)]
pub struct PurchaseOrder {
    pub id: i64,
    pub number: String,
    pub item: String,
    pub quantity: f64,
    pub received: f64,
    pub order_date: String,
    pub due_date: String,
    /// `open`, `received` or `cancelled`.
    pub status: String,
    /// JSON: what the order serves.
    pub pegs: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A purchase order to create; numbered by the store (`PO-000123`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewPurchaseOrder {
    pub item: String,
    pub quantity: f64,
    pub order_date: String,
    pub due_date: String,
    pub pegs: String,
}

const PURCHASE_COLUMNS: &str = "id, number, item, quantity, received, order_date, due_date, status, pegs, created_at, updated_at";

impl Store {
    pub async fn create_purchase_orders(
        &self,
        tenant_id: i64,
        orders: &[NewPurchaseOrder],
    ) -> Result<Vec<PurchaseOrder>> {
        let now = now_ms();
        let ids: Vec<i64> = on_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM purchase_orders WHERE tenant_id = $1")
                .bind(tenant_id).fetch_one(&mut *tx).await?;
            let mut ids = Vec::with_capacity(orders.len());
            for (k, o) in orders.iter().enumerate() {
                let number = format!("PO-{:06}", count + k as i64 + 1);
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO purchase_orders (tenant_id, number, item, quantity, received, order_date, due_date, status, pegs, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, 0, $5, $6, 'open', $7, $8, $8) RETURNING id")
                    .bind(tenant_id).bind(&number).bind(&o.item).bind(o.quantity)
                    .bind(&o.order_date).bind(&o.due_date).bind(&o.pegs).bind(now)
                    .fetch_one(&mut *tx).await
                    .map_err(|e| StoreError::from_write(e, "number", &format!("purchase order `{number}`")))?;
                ids.push(id);
            }
            tx.commit().await?;
            ids
        });
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.purchase_order(tenant_id, id).await?);
        }
        Ok(out)
    }

    pub async fn purchase_order(&self, tenant_id: i64, id: i64) -> Result<PurchaseOrder> {
        self.row_by_id(
            "purchase_orders",
            PURCHASE_COLUMNS,
            "purchase order",
            tenant_id,
            id,
        )
        .await
    }

    /// A page of purchase orders by due date, optionally of one status.
    pub async fn list_purchase_orders(
        &self,
        tenant_id: i64,
        status: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<PurchaseOrder>, i64)> {
        self.page_by_status(
            "purchase_orders",
            PURCHASE_COLUMNS,
            tenant_id,
            status,
            limit,
            offset,
        )
        .await
    }

    /// Purchase orders still open (open supply for MRP).
    pub async fn open_purchase_orders(&self, tenant_id: i64) -> Result<Vec<PurchaseOrder>> {
        let sql = format!(
            "SELECT {PURCHASE_COLUMNS} FROM purchase_orders WHERE tenant_id = $1 AND status = 'open' ORDER BY due_date, number"
        );
        Ok(
            on_pool!(self, p => sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .bind(tenant_id).fetch_all(p).await?),
        )
    }

    /// Books `quantity` received against an open purchase order, in one
    /// transaction: the item's stock on hand rises by it (a new master-data
    /// version), and the order is `received` once nothing is left.
    /// `false` when the order is not open.
    pub async fn receive_purchase_order(
        &self,
        tenant_id: i64,
        id: i64,
        quantity: f64,
    ) -> Result<bool> {
        let order = self.purchase_order(tenant_id, id).await?;
        let now = now_ms();
        on_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            let n = sqlx::query(
                "UPDATE purchase_orders SET received = received + $3, \
                 status = CASE WHEN received + $3 >= quantity THEN 'received' ELSE status END, updated_at = $4 \
                 WHERE tenant_id = $1 AND id = $2 AND status = 'open'")
                .bind(tenant_id).bind(id).bind(quantity).bind(now)
                .execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                return Ok(false);
            }
            sqlx::query("UPDATE plan_items SET on_hand = on_hand + $3 WHERE tenant_id = $1 AND code = $2")
                .bind(tenant_id).bind(&order.item).bind(quantity)
                .execute(&mut *tx).await?;
            sqlx::query(BUMP_MASTER_VERSION)
                .bind(tenant_id).bind(now)
                .execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Cancels an open purchase order; `false` when it was not open.
    pub async fn cancel_purchase_order(&self, tenant_id: i64, id: i64) -> Result<bool> {
        self.purchase_order(tenant_id, id).await?;
        let n = on_pool!(self, p => sqlx::query(
            "UPDATE purchase_orders SET status = 'cancelled', updated_at = $3 WHERE tenant_id = $1 AND id = $2 AND status = 'open'")
            .bind(tenant_id).bind(id).bind(now_ms())
            .execute(p).await?.rows_affected());
        Ok(n > 0)
    }
}
