//! Releasing planned orders as work orders (and purchase requisitions as
//! purchase orders), and their life: a work order goes released → in
//! progress → completed → closed (a released order may be closed without
//! being made), with good and scrap quantities reported per operation; a
//! purchase order is open until received in full or cancelled. Open ones
//! are supply for the next MRP run.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zhizao_plan::book::{is_made, routing_of};
use zhizao_plan::report::Labeller;
use zhizao_store::{NewPurchaseOrder, NewWorkOrder, PurchaseOrder, WorkOrder, WorkOrderOperation};

use super::{RunDto, RunRequest, require_planner, run_mrp};
use crate::AppState;
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{IdPath, QueryMap, ValidJson};
use crate::hierarchy::PageDto;

pub const STATUSES: [&str; 4] = ["released", "in_progress", "completed", "closed"];

/// Whether a work order may go from `from` to `to`.
pub fn may_move(from: &str, to: &str) -> bool {
    matches!(
        (from, to),
        ("released", "in_progress")
            | ("released", "closed")
            | ("in_progress", "completed")
            | ("completed", "closed")
    )
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkOrderDto {
    pub id: i64,
    pub number: String,
    pub item: String,
    pub quantity: f64,
    pub release_date: String,
    pub due_date: String,
    pub status: String,
    /// What the order serves, as the MRP run pegged it.
    #[schema(value_type = Object)]
    pub pegs: serde_json::Value,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<WorkOrder> for WorkOrderDto {
    fn from(w: WorkOrder) -> Self {
        Self {
            id: w.id,
            number: w.number,
            item: w.item,
            quantity: w.quantity,
            release_date: w.release_date,
            due_date: w.due_date,
            status: w.status,
            pegs: serde_json::from_str(&w.pegs).unwrap_or(serde_json::Value::Null),
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OperationDto {
    pub seq: i64,
    pub work_centre: String,
    pub setup_hours: f64,
    pub run_hours: f64,
    pub qty_good: f64,
    pub qty_scrap: f64,
}

impl From<WorkOrderOperation> for OperationDto {
    fn from(o: WorkOrderOperation) -> Self {
        Self {
            seq: o.seq,
            work_centre: o.work_centre,
            setup_hours: o.setup_hours,
            run_hours: o.run_hours,
            qty_good: o.qty_good,
            qty_scrap: o.qty_scrap,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkOrderDetail {
    pub order: WorkOrderDto,
    pub operations: Vec<OperationDto>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRequest {
    /// Keys of planned orders of the current plan (`ITEM@due date`, as
    /// `GET /plan/orders` lists them).
    pub keys: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReleaseDto {
    pub work_orders: Vec<WorkOrderDto>,
    pub purchase_orders: Vec<PurchaseOrderDto>,
    /// MRP run again with the new orders as open supply.
    pub run: RunDto,
}

/// Release planned orders of the current plan: production orders become
/// work orders with their routing's operations, purchase requisitions
/// become purchase orders. Every key is checked before anything is
/// created; then MRP runs again, counting them as open supply.
#[utoipa::path(post, path = "/plan/release", tag = "planning", security(("bearer" = [])),
    request_body = ReleaseRequest,
    responses((status = 201, body = ReleaseDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn release(
    State(s): State<AppState>,
    u: AuthUser,
    ValidJson(req): ValidJson<ReleaseRequest>,
) -> Result<(StatusCode, Json<ReleaseDto>), ApiError> {
    require_planner(&u)?;
    if req.keys.is_empty() {
        return Err(ApiError::validation(
            "keys",
            "keys: name at least one planned order",
        ));
    }
    let cached = super::current_plan(&s, &u).await?;
    let rows = Labeller::new(&cached.plan, &cached.booked, &cached.master, &cached.labels);
    let master = &cached.master;
    let mut new = Vec::with_capacity(req.keys.len());
    let mut bought = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (k, key) in req.keys.iter().enumerate() {
        let field = format!("keys[{k}]");
        if !seen.insert(key) {
            return Err(ApiError::validation(
                field.clone(),
                format!("{field}: `{key}` is named twice"),
            ));
        }
        let o = rows.planned_order(&cached.index, key).ok_or_else(|| {
            ApiError::validation(
                field.clone(),
                format!("{field}: the current plan has no planned order `{key}`"),
            )
        })?;
        let pegs = serde_json::to_string(&o.pegs)
            .map_err(|e| ApiError::unavailable(format!("pegs not storable: {e}")))?;
        let made = master
            .items
            .iter()
            .find(|i| i.code == o.item)
            .is_some_and(|i| is_made(i.kind));
        if o.purchase || !made {
            bought.push(NewPurchaseOrder {
                item: o.item.clone(),
                quantity: o.quantity,
                order_date: o.release_date.clone(),
                due_date: o.due_date.clone(),
                pegs,
            });
            continue;
        }
        let operations = routing_of(master, &o.item)
            .into_iter()
            .map(|op| {
                (
                    i64::from(op.seq),
                    op.work_centre.clone(),
                    op.setup_hours,
                    op.run_hours_per_unit * o.quantity,
                )
            })
            .collect();
        new.push(NewWorkOrder {
            item: o.item.clone(),
            quantity: o.quantity,
            release_date: o.release_date.clone(),
            due_date: o.due_date.clone(),
            pegs,
            operations,
        });
    }
    let made = s.store.create_work_orders(u.tenant(), &new).await?;
    let ordered = s.store.create_purchase_orders(u.tenant(), &bought).await?;
    let run = run_mrp(&s, u.tenant(), &u.0.username, &RunRequest::regenerate(None)).await?;
    Ok((
        StatusCode::CREATED,
        Json(ReleaseDto {
            work_orders: made.into_iter().map(WorkOrderDto::from).collect(),
            purchase_orders: ordered.into_iter().map(PurchaseOrderDto::from).collect(),
            run,
        }),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PurchaseOrderDto {
    pub id: i64,
    pub number: String,
    pub item: String,
    pub quantity: f64,
    pub received: f64,
    pub order_date: String,
    pub due_date: String,
    /// `open`, `received` or `cancelled`.
    pub status: String,
    #[schema(value_type = Object)]
    pub pegs: serde_json::Value,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<PurchaseOrder> for PurchaseOrderDto {
    fn from(p: PurchaseOrder) -> Self {
        Self {
            id: p.id,
            number: p.number,
            item: p.item,
            quantity: p.quantity,
            received: p.received,
            order_date: p.order_date,
            due_date: p.due_date,
            status: p.status,
            pegs: serde_json::from_str(&p.pegs).unwrap_or(serde_json::Value::Null),
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

const PURCHASE_STATUSES: [&str; 3] = ["open", "received", "cancelled"];

/// Purchase orders by due date, a page at a time; `status` filters.
#[utoipa::path(get, path = "/purchase-orders", tag = "planning", security(("bearer" = [])),
    responses((status = 200, body = PageDto<PurchaseOrderDto>), (status = 422, body = ErrorBody)))]
pub async fn list_purchase_orders(
    State(s): State<AppState>,
    u: AuthUser,
    QueryMap(q): QueryMap,
) -> Result<Json<PageDto<PurchaseOrderDto>>, ApiError> {
    let (status, lq) = status_and_page(&q, &PURCHASE_STATUSES)?;
    let (items, total) = s
        .store
        .list_purchase_orders(u.tenant(), status.as_deref(), lq.limit, lq.offset)
        .await?;
    Ok(Json(PageDto {
        items: items.into_iter().map(PurchaseOrderDto::from).collect(),
        total,
        limit: lq.limit,
        offset: lq.offset,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiveBody {
    pub quantity: f64,
}

/// Book a delivery against an open purchase order: the item's stock on
/// hand rises by it, and the order is received once nothing is left.
#[utoipa::path(post, path = "/purchase-orders/{id}/receive", tag = "planning", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = ReceiveBody,
    responses((status = 200, body = PurchaseOrderDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn receive_purchase_order(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
    ValidJson(b): ValidJson<ReceiveBody>,
) -> Result<Json<PurchaseOrderDto>, ApiError> {
    require_planner(&u)?;
    if !(b.quantity.is_finite() && b.quantity > 0.0) {
        return Err(ApiError::validation("quantity", "quantity: must be > 0"));
    }
    if !s
        .store
        .receive_purchase_order(u.tenant(), id, b.quantity)
        .await?
    {
        let p = s.store.purchase_order(u.tenant(), id).await?;
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!(
                "purchase order {} is {}; only an open one receives",
                p.number, p.status
            ),
        ));
    }
    Ok(Json(s.store.purchase_order(u.tenant(), id).await?.into()))
}

/// Cancel an open purchase order.
#[utoipa::path(post, path = "/purchase-orders/{id}/cancel", tag = "planning", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = PurchaseOrderDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn cancel_purchase_order(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
) -> Result<Json<PurchaseOrderDto>, ApiError> {
    require_planner(&u)?;
    if !s.store.cancel_purchase_order(u.tenant(), id).await? {
        let p = s.store.purchase_order(u.tenant(), id).await?;
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!(
                "purchase order {} is {} and cannot be cancelled",
                p.number, p.status
            ),
        ));
    }
    Ok(Json(s.store.purchase_order(u.tenant(), id).await?.into()))
}

/// A list's `status` filter (one of `allowed`) and its page.
fn status_and_page(
    q: &std::collections::HashMap<String, String>,
    allowed: &[&str],
) -> Result<(Option<String>, zhizao_store::ListQuery), ApiError> {
    let status = q.get("status").filter(|v| !v.is_empty()).cloned();
    if let Some(st) = &status
        && !allowed.contains(&st.as_str())
    {
        return Err(ApiError::validation(
            "status",
            format!("status: `{st}` is not one of {}", allowed.join(", ")),
        ));
    }
    let mut rest = q.clone();
    rest.remove("status");
    Ok((status, crate::extract::list_query(&rest, &[])?))
}

/// Work orders by due date, a page at a time; `status` filters.
#[utoipa::path(get, path = "/work-orders", tag = "planning", security(("bearer" = [])),
    responses((status = 200, body = PageDto<WorkOrderDto>), (status = 422, body = ErrorBody)))]
pub async fn list_work_orders(
    State(s): State<AppState>,
    u: AuthUser,
    QueryMap(q): QueryMap,
) -> Result<Json<PageDto<WorkOrderDto>>, ApiError> {
    let (status, lq) = status_and_page(&q, &STATUSES)?;
    let (items, total) = s
        .store
        .list_work_orders(u.tenant(), status.as_deref(), lq.limit, lq.offset)
        .await?;
    Ok(Json(PageDto {
        items: items.into_iter().map(WorkOrderDto::from).collect(),
        total,
        limit: lq.limit,
        offset: lq.offset,
    }))
}

/// A work order with its operations.
#[utoipa::path(get, path = "/work-orders/{id}", tag = "planning", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = WorkOrderDetail), (status = 404, body = ErrorBody)))]
pub async fn get_work_order(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
) -> Result<Json<WorkOrderDetail>, ApiError> {
    detail(&s, u.tenant(), id).await.map(Json)
}

async fn detail(s: &AppState, tenant: i64, id: i64) -> Result<WorkOrderDetail, ApiError> {
    let order = s.store.work_order(tenant, id).await?;
    let operations = s.store.work_order_operations(tenant, id).await?;
    Ok(WorkOrderDetail {
        order: order.into(),
        operations: operations.into_iter().map(OperationDto::from).collect(),
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    pub status: String,
}

/// Move a work order on: released → in_progress → completed → closed, or
/// released → closed.
#[utoipa::path(post, path = "/work-orders/{id}/status", tag = "planning", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = StatusBody,
    responses((status = 200, body = WorkOrderDetail), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_status(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
    ValidJson(b): ValidJson<StatusBody>,
) -> Result<Json<WorkOrderDetail>, ApiError> {
    use zhizao_core::Role;
    if !matches!(u.0.role, Role::Admin | Role::Planner | Role::Operator) {
        return Err(ApiError::forbidden(format!(
            "role `{}` may not move work orders",
            u.0.role
        )));
    }
    if !STATUSES.contains(&b.status.as_str()) {
        return Err(ApiError::validation(
            "status",
            format!(
                "status: `{}` is not one of {}",
                b.status,
                STATUSES.join(", ")
            ),
        ));
    }
    let current = s.store.work_order(u.tenant(), id).await?;
    if !may_move(&current.status, &b.status)
        || !s
            .store
            .set_work_order_status(u.tenant(), id, &current.status, &b.status)
            .await?
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!(
                "status: work order {} is {} and cannot become {}",
                current.number, current.status, b.status
            ),
        )
        .with_field("status"));
    }
    detail(&s, u.tenant(), id).await.map(Json)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportBody {
    #[serde(default)]
    pub good: f64,
    #[serde(default)]
    pub scrap: f64,
}

/// Report good and scrap quantities made at an operation (added to what
/// was reported). The first report starts a released order.
#[utoipa::path(post, path = "/work-orders/{id}/operations/{seq}/report", tag = "planning", security(("bearer" = [])),
    params(("id" = i64, Path), ("seq" = i64, Path)), request_body = ReportBody,
    responses((status = 200, body = WorkOrderDetail), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn report_operation(
    State(s): State<AppState>,
    u: AuthUser,
    Path((id, seq)): Path<(i64, i64)>,
    ValidJson(b): ValidJson<ReportBody>,
) -> Result<Json<WorkOrderDetail>, ApiError> {
    for (name, v) in [("good", b.good), ("scrap", b.scrap)] {
        if !(v.is_finite() && v >= 0.0) {
            return Err(ApiError::validation(name, format!("{name}: must be ≥ 0")));
        }
    }
    if b.good + b.scrap <= 0.0 {
        return Err(ApiError::validation(
            "good",
            "good: report a good or scrap quantity above 0",
        ));
    }
    let order = s.store.work_order(u.tenant(), id).await?;
    match order.status.as_str() {
        "released" => {
            s.store
                .set_work_order_status(u.tenant(), id, "released", "in_progress")
                .await?;
        }
        "in_progress" => {}
        other => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!(
                    "work order {} is {other}; quantities are reported while it is in progress",
                    order.number
                ),
            ));
        }
    }
    s.store
        .report_work_order_operation(u.tenant(), id, seq, b.good, b.scrap)
        .await?;
    detail(&s, u.tenant(), id).await.map(Json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_flow_goes_forward_only() {
        assert!(may_move("released", "in_progress"));
        assert!(may_move("released", "closed"));
        assert!(may_move("in_progress", "completed"));
        assert!(may_move("completed", "closed"));
        assert!(!may_move("completed", "in_progress"));
        assert!(!may_move("closed", "released"));
        assert!(!may_move("released", "completed"));
    }
}
