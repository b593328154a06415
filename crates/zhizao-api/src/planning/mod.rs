//! Production planning over HTTP: master data, forecasts, MRP runs
//! (regenerative, or net change against the last plan in memory), order
//! promising, what-if capacity changes, and what the big screen shows of
//! the order book. The planning itself is `zhizao-plan`; this module loads
//! a tenant's data from the store, plans off the async threads and keeps
//! the newest plan per tenant in memory for promising and net change.

pub mod orders;
pub mod work_orders;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zhizao_plan::book::{
    self, Booked, CapacityChange, Forecast, MasterData, OpenSupply, OrderLine, OrderStatus, Weeks,
    format_date, parse_date,
};
use zhizao_plan::report::{
    Labeller, OrderFilter, OrderLabel, PlanIndex, PlanReport, PlannedOrderRow, report,
};
use zhizao_plan::{Demand, DemandId, Plan, PlanError, Shortage, WhatIf, promise_with, rough_cut};

use crate::AppState;
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ValidJson;

/// Weeks planned unless a run asks for another horizon.
pub const DEFAULT_WEEKS: usize = 26;

/// The newest plan of a tenant, kept for promising and net change.
#[derive(Clone)]
pub struct CachedPlan {
    /// Released work orders: (item, release week, due week, quantity left).
    pub released: Vec<(usize, usize, usize, f64)>,
    /// Hours one machine works in each week by the plant calendar, when a
    /// centre takes its hours from it.
    pub calendar_hours: Option<Vec<f64>>,
    pub plan: Plan,
    pub index: PlanIndex,
    pub booked: Booked,
    pub master: Arc<MasterData>,
    /// The store's version of the master data the plan was built on.
    pub master_version: i64,
    pub labels: HashMap<DemandId, OrderLabel>,
}

/// Newest plan per tenant.
#[derive(Default)]
pub struct PlanCache(Mutex<HashMap<i64, Arc<CachedPlan>>>);

impl std::fmt::Debug for PlanCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.lock().map(|m| m.len()).unwrap_or(0);
        write!(f, "PlanCache({n} tenants)")
    }
}

impl PlanCache {
    fn get(&self, tenant: i64) -> Option<Arc<CachedPlan>> {
        self.0.lock().ok()?.get(&tenant).cloned()
    }

    /// Takes the tenant's plan out to change it (cloned only when a
    /// request still reads it).
    fn take(&self, tenant: i64) -> Option<CachedPlan> {
        let p = self.0.lock().ok()?.remove(&tenant)?;
        Some(Arc::try_unwrap(p).unwrap_or_else(|shared| (*shared).clone()))
    }

    fn put(&self, tenant: i64, plan: Arc<CachedPlan>) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(tenant, plan);
        }
    }

    /// Forgets a tenant's plan after its master data changed.
    pub fn forget(&self, tenant: i64) {
        if let Ok(mut m) = self.0.lock() {
            m.remove(&tenant);
        }
    }
}

pub(crate) fn plan_error(e: PlanError) -> ApiError {
    ApiError::validation(e.field.clone(), e.to_string())
}

pub(crate) fn require_planner(u: &AuthUser) -> Result<(), ApiError> {
    use zhizao_core::Role;
    if matches!(u.0.role, Role::Admin | Role::Planner) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "role `{}` may not change the plan; a planner or an admin must do this",
            u.0.role
        )))
    }
}

/// Today at the tenant's first site (its time zone), or in Shanghai when
/// there is no site yet.
pub async fn today(s: &AppState, tenant: i64) -> Result<time::Date, ApiError> {
    let tz_name = first_site(s, tenant)
        .await?
        .map_or_else(|| "Asia/Shanghai".to_owned(), |site| site.timezone);
    local_date(&tz_name)
        .or_else(|| local_date("UTC"))
        .ok_or_else(|| ApiError::unavailable("the clock gives no date"))
}

/// The tenant's first site: its calendar and time zone are the plant's.
async fn first_site(s: &AppState, tenant: i64) -> Result<Option<zhizao_core::Site>, ApiError> {
    let q = zhizao_store::ListQuery {
        limit: 1,
        sort: zhizao_store::Sort::Id,
        ..Default::default()
    };
    Ok(s.store
        .list_sites(tenant, &q)
        .await?
        .items
        .into_iter()
        .next())
}

/// Today's date in the IANA time zone `tz`; `None` for an unknown zone.
pub fn local_date(tz: &str) -> Option<time::Date> {
    let d = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::get(tz).ok()?)
        .date();
    let month = time::Month::try_from(u8::try_from(d.month()).ok()?).ok()?;
    time::Date::from_calendar_date(i32::from(d.year()), month, u8::try_from(d.day()).ok()?).ok()
}

/// A request's date field, or a 422 naming it.
pub(crate) fn date_field(field: &str, value: &str) -> Result<time::Date, ApiError> {
    parse_date(value).ok_or_else(|| {
        ApiError::validation(
            field,
            format!("{field}: `{value}` is not a date (YYYY-MM-DD)"),
        )
    })
}

fn stored_date(s: &str, what: &str) -> Result<time::Date, ApiError> {
    parse_date(s).ok_or_else(|| ApiError::unavailable(format!("stored {what} `{s}` is not a date")))
}

/// Everything a run reads, loaded from the store and put on `weeks`.
struct Loaded {
    /// Released work orders: (item, release week, due week, quantity left).
    released: Vec<(usize, usize, usize, f64)>,
    calendar_hours: Option<Vec<f64>>,
    booked: Booked,
    master: Arc<MasterData>,
    master_version: i64,
    labels: HashMap<DemandId, OrderLabel>,
}

/// Hours one machine works in each of `weeks` by the calendar of the
/// tenant's first site (shifts less breaks, on its working days, in its
/// time zone); `None` without a site.
async fn calendar_hours(
    s: &AppState,
    tenant: i64,
    weeks: Weeks,
) -> Result<Option<Vec<f64>>, ApiError> {
    let q = zhizao_store::ListQuery {
        limit: 1,
        sort: zhizao_store::Sort::Id,
        ..Default::default()
    };
    let Some(site) = s
        .store
        .list_sites(tenant, &q)
        .await?
        .items
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let calendar = crate::kpi::site_calendar(s, tenant, &site).await?;
    let tz = jiff::tz::TimeZone::get(&site.timezone)
        .map_err(|e| ApiError::unavailable(format!("site time zone: {e}")))?;
    let midnight = |d: time::Date| -> Result<i64, ApiError> {
        jiff::civil::date(d.year() as i16, u8::from(d.month()) as i8, d.day() as i8)
            .to_zoned(tz.clone())
            .map(|z| z.timestamp().as_millisecond())
            .map_err(|e| ApiError::unavailable(format!("site calendar: {e}")))
    };
    let mut hours = Vec::with_capacity(weeks.count);
    for b in 0..weeks.count {
        let from = midnight(weeks.start_of(b))?;
        let to = midnight(weeks.start_of(b + 1))?;
        let shifts = calendar
            .shifts_between(from, to)
            .map_err(|e| ApiError::unavailable(format!("site calendar: {e}")))?;
        let ms: i64 = shifts
            .iter()
            .map(|sh| {
                let (a, z) = (sh.start_ms.max(from), sh.end_ms.min(to));
                let breaks: i64 = sh
                    .breaks
                    .iter()
                    .map(|&(x, y)| (y.min(z) - x.max(a)).max(0))
                    .sum();
                (z - a).max(0) - breaks
            })
            .sum();
        hours.push(ms as f64 / 3_600_000.0);
    }
    Ok(Some(hours))
}

/// `known` is the plan in memory: while the store's master data is still
/// the version it was built on, its master data and bills of material are
/// used again.
async fn load(
    s: &AppState,
    tenant: i64,
    weeks: Weeks,
    known: Option<Arc<CachedPlan>>,
) -> Result<Loaded, ApiError> {
    let master_version = s.store.plan_master_version(tenant).await?;
    let known = known.filter(|c| c.master_version == master_version);
    let master = match &known {
        Some(c) => c.master.clone(),
        None => Arc::new(s.store.plan_master(tenant).await?),
    };
    let orders = s.store.all_customer_orders(tenant).await?;
    let mut lines = Vec::with_capacity(orders.len());
    let mut labels = HashMap::with_capacity(orders.len());
    for o in &orders {
        let due = stored_date(&o.due_date, "due date")?;
        let status = OrderStatus::parse(&o.status).unwrap_or(OrderStatus::Open);
        let id = o.id as DemandId;
        lines.push(OrderLine {
            id,
            number: o.number.clone(),
            item: o.item.clone(),
            quantity: o.quantity,
            due,
            status,
        });
        labels.insert(
            id,
            OrderLabel {
                number: o.number.clone(),
                customer: o.customer.clone(),
                due,
            },
        );
    }
    let forecasts = s
        .store
        .plan_forecasts(tenant)
        .await?
        .into_iter()
        .map(|(item, week, quantity)| {
            Ok(Forecast {
                item,
                week: stored_date(&week, "forecast week")?,
                quantity,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let mut supply = Vec::new();
    let mut started = Vec::new();
    for (w, done) in s.store.open_work_order_progress(tenant).await? {
        let left = (w.quantity - done).max(0.0);
        let due = stored_date(&w.due_date, "work order due date")?;
        started.push((
            w.item.clone(),
            stored_date(&w.release_date, "work order release date")?,
            due,
            left,
        ));
        supply.push(OpenSupply {
            due,
            item: w.item,
            quantity: left,
        });
    }
    for p in s.store.open_purchase_orders(tenant).await? {
        supply.push(OpenSupply {
            due: stored_date(&p.due_date, "purchase order due date")?,
            quantity: (p.quantity - p.received).max(0.0),
            item: p.item,
        });
    }
    let calendar_hours = if master
        .work_centres
        .iter()
        .any(|c| c.hours_per_week.is_none())
    {
        calendar_hours(s, tenant, weeks).await?
    } else {
        None
    };
    let booked =
        match known.filter(|c| c.booked.weeks == weeks && c.calendar_hours == calendar_hours) {
            Some(c) => c.booked.with_demand(&lines, &forecasts, &supply),
            None => book::build_on_calendar(
                &master,
                &lines,
                &forecasts,
                &supply,
                weeks,
                calendar_hours.as_deref(),
            ),
        }
        .map_err(plan_error)?;
    // Released work orders load their centres from release (or now) to due.
    let items = booked.item_index();
    let released = started
        .iter()
        .filter_map(|(item, release, due, left)| {
            let item = *items.get(item.as_str())?;
            let release = weeks.bucket_of(*release)?;
            let due = weeks
                .bucket_of(*due)
                .unwrap_or(weeks.count - 1)
                .max(release);
            Some((item, release, due, *left))
        })
        .collect();
    Ok(Loaded {
        released,
        calendar_hours,
        booked,
        master,
        master_version,
        labels,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    /// Plans every item from scratch.
    Regenerative,
    /// Replans only what changed demand reaches, from the last plan; a
    /// regeneration when master data, open supply or the weeks changed.
    NetChange,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    #[serde(default = "regenerative")]
    pub kind: RunKind,
    /// Weeks to plan (default 26).
    #[serde(default)]
    pub weeks: Option<usize>,
    /// Plan as of this day (`YYYY-MM-DD`; default today at the first
    /// site).
    #[serde(default)]
    pub as_of: Option<String>,
}

fn regenerative() -> RunKind {
    RunKind::Regenerative
}

impl RunRequest {
    /// A regenerative run from today over `weeks` (default 26).
    pub fn regenerate(weeks: Option<usize>) -> RunRequest {
        RunRequest {
            kind: RunKind::Regenerative,
            weeks,
            as_of: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RunDto {
    pub id: i64,
    /// What was done: `regenerative` or `net_change` (a net change that
    /// had to regenerate says `regenerative`).
    pub kind: RunKind,
    pub as_of: String,
    pub created_at: i64,
    pub by_user: String,
    /// Items planned (all of them in a regeneration).
    pub items_replanned: usize,
    pub elapsed_ms: f64,
    #[schema(value_type = Object)]
    pub report: PlanReport,
}

/// The load of the planned and released orders with `extra` changes.
fn rough_cut_of(c: &CachedPlan, extra: &[WhatIf]) -> Result<zhizao_plan::CapacityLoad, ApiError> {
    let mut changes = c.booked.plant.what_if.clone();
    changes.extend_from_slice(extra);
    rough_cut(
        &c.plan,
        &c.booked.plant.work_centres,
        &c.booked.plant.routings,
        &c.released,
        &changes,
    )
    .map_err(plan_error)
}

/// Plans the tenant, stores the run (as `by_user`'s) and keeps the plan
/// for promising.
pub async fn run_mrp(
    s: &AppState,
    tenant: i64,
    by_user: &str,
    req: &RunRequest,
) -> Result<RunDto, ApiError> {
    let count = req.weeks.unwrap_or(DEFAULT_WEEKS);
    if !(1..=zhizao_plan::book::MAX_WEEKS).contains(&count) {
        return Err(ApiError::validation(
            "weeks",
            format!("weeks: must be 1 to {}", zhizao_plan::book::MAX_WEEKS),
        ));
    }
    let as_of = match &req.as_of {
        Some(d) => date_field("as_of", d)?,
        None => today(s, tenant).await?,
    };
    let weeks = Weeks::from_today(as_of, count);
    let loading = Instant::now();
    let loaded = load(s, tenant, weeks, s.plans.get(tenant)).await?;
    let previous = match req.kind {
        RunKind::NetChange => s.plans.take(tenant),
        RunKind::Regenerative => None,
    };
    let load_ms = loading.elapsed().as_secs_f64() * 1000.0;
    let started = Instant::now();
    let (cached, kind, replanned, report) = tokio::task::spawn_blocking(move || {
        let Loaded {
            released,
            calendar_hours,
            booked,
            master,
            master_version,
            labels,
        } = loaded;
        let (plan, kind, replanned) = match previous {
            Some(prev)
                if prev.master_version == master_version && same_plant(&prev.booked, &booked) =>
            {
                let mut plan = prev.plan;
                let mut replanned = 0;
                for d in
                    demand_changes(plan.input().demands.as_slice(), &booked.plant.input.demands)
                {
                    replanned += plan.change_demand(d)?;
                }
                (plan, RunKind::NetChange, replanned)
            }
            _ => {
                let plan = Plan::regenerate(booked.plant.input.clone())?;
                let n = plan.input().items.len();
                (plan, RunKind::Regenerative, n)
            }
        };
        let load = rough_cut(
            &plan,
            &booked.plant.work_centres,
            &booked.plant.routings,
            &released,
            &booked.plant.what_if,
        )?;
        let index = PlanIndex::new(&plan);
        let report = report(&plan, &booked, &master, &load, &labels, &index);
        Ok::<_, PlanError>((
            Arc::new(CachedPlan {
                released,
                calendar_hours,
                index,
                plan,
                booked,
                master,
                master_version,
                labels,
            }),
            kind,
            replanned,
            report,
        ))
    })
    .await
    .map_err(|e| ApiError::unavailable(format!("planning stopped: {e}")))?
    .map_err(plan_error)?;
    let plan_ms = started.elapsed().as_secs_f64() * 1000.0;
    let elapsed_ms = load_ms + plan_ms;
    let mut dto = RunDto {
        id: 0,
        kind,
        as_of: format_date(as_of),
        created_at: zhizao_store::now_ms(),
        by_user: by_user.to_owned(),
        items_replanned: replanned,
        elapsed_ms,
        report,
    };
    let json = serde_json::to_string(&dto)
        .map_err(|e| ApiError::unavailable(format!("plan not storable: {e}")))?;
    let kind_text = match kind {
        RunKind::Regenerative => "regenerative",
        RunKind::NetChange => "net_change",
    };
    dto.id = s
        .store
        .insert_plan_run(tenant, kind_text, by_user, &json)
        .await?;
    s.plans.put(tenant, cached);
    tracing::debug!(
        tenant,
        ?kind,
        load_ms,
        plan_ms,
        store_ms = started.elapsed().as_secs_f64() * 1000.0 - plan_ms,
        bytes = json.len(),
        "MRP run"
    );
    Ok(dto)
}

/// Same items, bills, supply, centres and weeks: only demand may differ.
fn same_plant(a: &Booked, b: &Booked) -> bool {
    a.weeks == b.weeks
        && a.plant.input.items == b.plant.input.items
        && a.plant.input.bom == b.plant.input.bom
        && a.plant.input.receipts == b.plant.input.receipts
        && a.plant.work_centres == b.plant.work_centres
        && a.plant.routings == b.plant.routings
        && a.plant.what_if == b.plant.what_if
}

/// The demand changes that turn `old` into `new`: changed and added
/// demands, and removed ones as quantity 0.
fn demand_changes(old: &[Demand], new: &[Demand]) -> Vec<Demand> {
    let before: HashMap<DemandId, &Demand> = old.iter().map(|d| (d.id, d)).collect();
    let after: HashMap<DemandId, &Demand> = new.iter().map(|d| (d.id, d)).collect();
    let mut out: Vec<Demand> = new
        .iter()
        .filter(|d| before.get(&d.id).is_none_or(|b| *b != *d))
        .cloned()
        .collect();
    out.extend(
        old.iter()
            .filter(|d| !after.contains_key(&d.id))
            .map(|d| Demand {
                quantity: 0.0,
                ..d.clone()
            }),
    );
    out
}

/// Run MRP on the tenant's master data, order book, forecasts and open
/// work orders, and keep the result.
#[utoipa::path(post, path = "/plan/runs", tag = "planning", security(("bearer" = [])),
    request_body = RunRequest,
    responses((status = 200, body = RunDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_run(
    State(s): State<AppState>,
    u: AuthUser,
    ValidJson(req): ValidJson<RunRequest>,
) -> Result<Json<RunDto>, ApiError> {
    require_planner(&u)?;
    Ok(Json(run_mrp(&s, u.tenant(), &u.0.username, &req).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RunSummaryDto {
    pub id: i64,
    pub kind: String,
    pub by_user: String,
    pub created_at: i64,
}

/// The runs kept (the newest 20), newest first.
#[utoipa::path(get, path = "/plan/runs", tag = "planning", security(("bearer" = [])),
    responses((status = 200, body = [RunSummaryDto])))]
pub async fn list_runs(
    State(s): State<AppState>,
    u: AuthUser,
) -> Result<Json<Vec<RunSummaryDto>>, ApiError> {
    Ok(Json(
        s.store
            .list_plan_runs(u.tenant())
            .await?
            .into_iter()
            .map(|r| RunSummaryDto {
                id: r.id,
                kind: r.kind,
                by_user: r.by_user,
                created_at: r.created_at,
            })
            .collect(),
    ))
}

/// The newest run with its planned orders, exceptions, capacity load and
/// delivery forecast; 404 before the first run.
#[utoipa::path(get, path = "/plan/runs/latest", tag = "planning", security(("bearer" = [])),
    responses((status = 200, body = RunDto), (status = 404, body = ErrorBody)))]
pub async fn latest_run(State(s): State<AppState>, u: AuthUser) -> Result<Response, ApiError> {
    let run = s.store.latest_plan_run(u.tenant()).await?.ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "not_found",
            "no MRP run yet: run one with POST /api/v1/plan/runs",
        )
    })?;
    // Stored as the JSON it was answered with, before the run had an id
    // (the first field, 0 then); the id is put in here.
    let body = match run.result.strip_prefix("{\"id\":0,") {
        Some(rest) => format!("{{\"id\":{},{rest}", run.id),
        None => run.result,
    };
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlannedOrdersDto {
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<PlannedOrderRow>,
    pub total: usize,
    pub limit: usize,
    pub offset: usize,
    /// Monday of the plan's first week.
    pub as_of: String,
}

/// Planned orders of the newest plan, a page at a time, by release week:
/// `purchase=true|false`, `item` (part of the code), `late=true` (its
/// supply chain starts too late), `limit` (≤ 500), `offset`.
#[utoipa::path(get, path = "/plan/orders", tag = "planning", security(("bearer" = [])),
    responses((status = 200, body = PlannedOrdersDto), (status = 422, body = ErrorBody)))]
pub async fn planned_orders(
    State(s): State<AppState>,
    u: AuthUser,
    crate::extract::QueryMap(q): crate::extract::QueryMap,
) -> Result<Json<PlannedOrdersDto>, ApiError> {
    let mut filter = OrderFilter::default();
    let (mut limit, mut offset) = (50usize, 0usize);
    let flag = |k: &str, v: &str| match v {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(ApiError::validation(
            k,
            format!("{k}: `{v}` is not true or false"),
        )),
    };
    for (k, v) in &q {
        match k.as_str() {
            "purchase" if !v.is_empty() => filter.purchase = Some(flag(k, v)?),
            "late" => filter.late = flag(k, v)?,
            "item" if !v.trim().is_empty() => filter.item = Some(v.trim().to_owned()),
            "limit" => {
                limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=500).contains(n))
                    .ok_or_else(|| {
                        ApiError::validation("limit", "limit: must be between 1 and 500")
                    })?;
            }
            "offset" => {
                offset = v.parse().map_err(|_| {
                    ApiError::validation("offset", "offset: must be an integer ≥ 0")
                })?;
            }
            "purchase" | "item" => {}
            other => {
                return Err(ApiError::validation(
                    other,
                    format!(
                        "unknown query parameter `{other}`; expected purchase, item, late, limit, offset"
                    ),
                ));
            }
        }
    }
    let c = current_plan(&s, &u).await?;
    let rows = Labeller::new(&c.plan, &c.booked, &c.master, &c.labels);
    let (items, total) = rows.planned_orders(&c.index, &filter, offset, limit);
    Ok(Json(PlannedOrdersDto {
        items,
        total,
        limit,
        offset,
        as_of: format_date(c.booked.weeks.start),
    }))
}

/// The plan in memory, or a fresh regeneration when there is none.
pub(crate) async fn current_plan(s: &AppState, u: &AuthUser) -> Result<Arc<CachedPlan>, ApiError> {
    if let Some(p) = s.plans.get(u.tenant()) {
        return Ok(p);
    }
    let weeks = Weeks::from_today(today(s, u.tenant()).await?, DEFAULT_WEEKS);
    let loaded = load(s, u.tenant(), weeks, None).await?;
    let cached = tokio::task::spawn_blocking(move || {
        Plan::regenerate(loaded.booked.plant.input.clone()).map(|plan| {
            Arc::new(CachedPlan {
                released: loaded.released,
                calendar_hours: loaded.calendar_hours,
                index: PlanIndex::new(&plan),
                plan,
                booked: loaded.booked,
                master: loaded.master,
                master_version: loaded.master_version,
                labels: loaded.labels,
            })
        })
    })
    .await
    .map_err(|e| ApiError::unavailable(format!("planning stopped: {e}")))?
    .map_err(plan_error)?;
    s.plans.put(u.tenant(), cached.clone());
    Ok(cached)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MasterDto {
    #[schema(value_type = Object)]
    pub master: MasterData,
}

/// The tenant's planning master data: units, items, bills of material,
/// work centres, routings and capacity changes.
#[utoipa::path(get, path = "/plan/master", tag = "planning", security(("bearer" = [])),
    responses((status = 200, body = MasterDto)))]
pub async fn get_master(
    State(s): State<AppState>,
    u: AuthUser,
) -> Result<Json<MasterDto>, ApiError> {
    Ok(Json(MasterDto {
        master: s.store.plan_master(u.tenant()).await?,
    }))
}

/// Replace the planning master data as a whole. It is checked first
/// (codes, references, units, dates, hours, cycles in the bills of
/// material); nothing is stored when anything is wrong.
#[utoipa::path(put, path = "/plan/master", tag = "planning", security(("bearer" = [])),
    request_body(content = Object),
    responses((status = 200, body = MasterDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_master(
    State(s): State<AppState>,
    u: AuthUser,
    ValidJson(master): ValidJson<MasterData>,
) -> Result<Json<MasterDto>, ApiError> {
    require_planner(&u)?;
    let master = check_master(master).await?;
    s.store.put_plan_master(u.tenant(), &master).await?;
    s.plans.forget(u.tenant());
    Ok(Json(MasterDto { master }))
}

/// Checks master data including cycles in its bills of material.
pub(crate) async fn check_master(master: MasterData) -> Result<MasterData, ApiError> {
    tokio::task::spawn_blocking(move || {
        master.check()?;
        // A cycle is found by planning one empty week.
        let weeks = Weeks::from_today(time::macros::date!(2000 - 01 - 03), 1);
        // Centres without hours take them from the calendar at run time.
        let booked = book::build_on_calendar(&master, &[], &[], &[], weeks, Some(&[1.0]))?;
        Plan::regenerate(booked.plant.input)?;
        Ok(master)
    })
    .await
    .map_err(|e| ApiError::unavailable(format!("check stopped: {e}")))?
    .map_err(plan_error)
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForecastDto {
    pub item: String,
    /// Any day of the week forecast; stored as its Monday.
    pub week: String,
    pub quantity: f64,
}

/// The tenant's forecasts per item and week.
#[utoipa::path(get, path = "/plan/forecasts", tag = "planning", security(("bearer" = [])),
    responses((status = 200, body = [ForecastDto])))]
pub async fn get_forecasts(
    State(s): State<AppState>,
    u: AuthUser,
) -> Result<Json<Vec<ForecastDto>>, ApiError> {
    Ok(Json(
        s.store
            .plan_forecasts(u.tenant())
            .await?
            .into_iter()
            .map(|(item, week, quantity)| ForecastDto {
                item,
                week,
                quantity,
            })
            .collect(),
    ))
}

/// Replace the forecasts; customer orders due the same week consume them.
#[utoipa::path(put, path = "/plan/forecasts", tag = "planning", security(("bearer" = [])),
    request_body = [ForecastDto],
    responses((status = 200, body = [ForecastDto]), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_forecasts(
    State(s): State<AppState>,
    u: AuthUser,
    ValidJson(list): ValidJson<Vec<ForecastDto>>,
) -> Result<Json<Vec<ForecastDto>>, ApiError> {
    require_planner(&u)?;
    let items: std::collections::HashSet<String> = s
        .store
        .plan_item_codes(u.tenant())
        .await?
        .into_iter()
        .collect();
    let mut rows = Vec::with_capacity(list.len());
    let mut seen = std::collections::HashSet::new();
    for (k, f) in list.iter().enumerate() {
        let field = |n: &str| format!("[{k}].{n}");
        if !items.contains(&f.item) {
            return Err(ApiError::validation(
                field("item"),
                format!("{}: no item `{}`", field("item"), f.item),
            ));
        }
        let week = date_field(&field("week"), &f.week)?;
        if !(f.quantity.is_finite() && f.quantity >= 0.0) {
            return Err(ApiError::validation(
                field("quantity"),
                format!("{}: must be ≥ 0", field("quantity")),
            ));
        }
        let monday = format_date(Weeks::from_today(week, 1).start);
        if !seen.insert((f.item.clone(), monday.clone())) {
            return Err(ApiError::validation(
                field("week"),
                format!(
                    "{}: `{}` already has a forecast for the week of {monday}",
                    field("week"),
                    f.item
                ),
            ));
        }
        rows.push((f.item.clone(), monday, f.quantity));
    }
    s.store.put_plan_forecasts(u.tenant(), &rows).await?;
    Ok(Json(
        rows.into_iter()
            .map(|(item, week, quantity)| ForecastDto {
                item,
                week,
                quantity,
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromiseRequest {
    pub item: String,
    pub quantity: f64,
    /// The date the customer asks for (`YYYY-MM-DD`).
    pub due_date: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PromiseDto {
    pub requested_date: String,
    /// The earliest date it can be delivered; `null` when not within the
    /// plan's horizon.
    pub promised_date: Option<String>,
    pub on_time: bool,
    /// `material` or `capacity`, when later than asked.
    pub reason: Option<String>,
    /// The item short of material, or the full work centre.
    pub reason_ref: Option<String>,
    pub message: String,
}

/// The earliest date a new order can be delivered without taking anything
/// from orders already planned: material available to promise first,
/// then what can be made in time on centres with hours left.
#[utoipa::path(post, path = "/plan/promise", tag = "planning", security(("bearer" = [])),
    request_body = PromiseRequest,
    responses((status = 200, body = PromiseDto), (status = 422, body = ErrorBody)))]
pub async fn promise_order(
    State(s): State<AppState>,
    u: AuthUser,
    ValidJson(req): ValidJson<PromiseRequest>,
) -> Result<Json<PromiseDto>, ApiError> {
    let due = date_field("due_date", &req.due_date)?;
    let cached = current_plan(&s, &u).await?;
    let weeks = cached.booked.weeks;
    let item = cached
        .plan
        .input()
        .items
        .iter()
        .position(|i| i.code == req.item)
        .ok_or_else(|| ApiError::validation("item", format!("item: no item `{}`", req.item)))?;
    if !(req.quantity.is_finite() && req.quantity > 0.0) {
        return Err(ApiError::validation("quantity", "quantity: must be > 0"));
    }
    let Some(requested) = weeks.bucket_of(due) else {
        return Err(ApiError::validation(
            "due_date",
            format!(
                "due_date: {} is after the plan's last week ({}); plan a longer horizon",
                req.due_date,
                format_date(weeks.end_of(weeks.count - 1))
            ),
        ));
    };
    let c = cached.clone();
    let p = tokio::task::spawn_blocking(move || {
        promise_with(
            &c.plan,
            &c.booked.plant.work_centres,
            &c.booked.plant.routings,
            &c.released,
            &c.booked.plant.what_if,
            item,
            req.quantity,
            requested,
        )
    })
    .await
    .map_err(|e| ApiError::unavailable(format!("promising stopped: {e}")))?
    .map_err(plan_error)?;
    let input = cached.plan.input();
    let (reason, reason_ref) = match p.reason {
        Some(Shortage::LeadTime { item }) => (
            Some("material".to_owned()),
            input.items.get(item).map(|i| i.code.clone()),
        ),
        Some(Shortage::Capacity { work_centre }) => (
            Some("capacity".to_owned()),
            cached
                .booked
                .plant
                .work_centres
                .get(work_centre)
                .map(|c| c.code.clone()),
        ),
        None => (None, None),
    };
    let promised = p.bucket.map(|b| due.max(weeks.start_of(b)));
    let on_time = p.bucket == Some(requested);
    let message = match (promised, &reason, &reason_ref) {
        (Some(_), _, _) if on_time => "can be delivered on the date asked".to_owned(),
        (Some(d), Some(r), Some(x)) => format!(
            "earliest {}: {} `{x}` is short in the week asked",
            format_date(d),
            if r == "material" {
                "material"
            } else {
                "work centre"
            }
        ),
        (None, Some(_), Some(x)) => {
            format!("not within the plan's horizon; `{x}` is what falls short")
        }
        _ => "not within the plan's horizon".to_owned(),
    };
    Ok(Json(PromiseDto {
        requested_date: req.due_date,
        promised_date: promised.map(format_date),
        on_time,
        reason,
        reason_ref,
        message,
    }))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum WhatIfChange {
    /// Hours added to (negative: taken from) a centre in each week from
    /// `from` to `to`: an extra shift, weekend overtime.
    AddHours {
        work_centre: String,
        from: String,
        to: String,
        hours_per_week: f64,
    },
    /// An item's operation on one centre done on its alternative.
    Move {
        item: String,
        from_centre: String,
        to_centre: String,
    },
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WhatIfRequest {
    pub changes: Vec<WhatIfChange>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CentreCompare {
    pub code: String,
    pub load: Vec<f64>,
    pub capacity: Vec<f64>,
    pub what_if_load: Vec<f64>,
    pub what_if_capacity: Vec<f64>,
    pub overloaded_weeks: usize,
    pub what_if_overloaded_weeks: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WhatIfDto {
    pub weeks: Vec<String>,
    pub centres: Vec<CentreCompare>,
    pub overloaded_weeks: usize,
    pub what_if_overloaded_weeks: usize,
}

/// The changes in the plan's terms; a field at fault is named.
fn what_ifs(cached: &CachedPlan, changes: &[WhatIfChange]) -> Result<Vec<WhatIf>, ApiError> {
    let centres = &cached.booked.plant.work_centres;
    let centre = |code: &str, field: String| {
        centres.iter().position(|c| c.code == code).ok_or_else(|| {
            ApiError::validation(field.clone(), format!("{field}: no work centre `{code}`"))
        })
    };
    let weeks = cached.booked.weeks;
    let mut out = Vec::with_capacity(changes.len());
    for (k, c) in changes.iter().enumerate() {
        let f = |n: &str| format!("changes[{k}].{n}");
        out.push(match c {
            WhatIfChange::AddHours {
                work_centre,
                from,
                to,
                hours_per_week,
            } => {
                let (a, b) = (date_field(&f("from"), from)?, date_field(&f("to"), to)?);
                if b < a || !hours_per_week.is_finite() {
                    return Err(ApiError::validation(
                        f("to"),
                        format!("{}: needs `from` ≤ `to` and a number of hours", f("to")),
                    ));
                }
                let first = weeks.index_of(a).max(0);
                let last = (weeks.index_of(b) + 1).min(weeks.count as i64);
                if first >= last {
                    return Err(ApiError::validation(
                        f("from"),
                        format!("{}: the dates are outside the plan's weeks", f("from")),
                    ));
                }
                WhatIf::AddHours {
                    work_centre: centre(work_centre, f("work_centre"))?,
                    from: first as usize,
                    to: last as usize,
                    hours: *hours_per_week,
                }
            }
            WhatIfChange::Move {
                item,
                from_centre,
                to_centre,
            } => WhatIf::Move {
                item: cached
                    .plan
                    .input()
                    .items
                    .iter()
                    .position(|i| &i.code == item)
                    .ok_or_else(|| {
                        ApiError::validation(f("item"), format!("{}: no item `{item}`", f("item")))
                    })?,
                from_centre: centre(from_centre, f("from_centre"))?,
                to_centre: centre(to_centre, f("to_centre"))?,
            },
        });
    }
    Ok(out)
}

/// Load against capacity per centre and week with the changes, beside the
/// live plan's; nothing is changed.
#[utoipa::path(post, path = "/plan/what-if", tag = "planning", security(("bearer" = [])),
    request_body = WhatIfRequest,
    responses((status = 200, body = WhatIfDto), (status = 422, body = ErrorBody)))]
pub async fn what_if(
    State(s): State<AppState>,
    u: AuthUser,
    ValidJson(req): ValidJson<WhatIfRequest>,
) -> Result<Json<WhatIfDto>, ApiError> {
    let cached = current_plan(&s, &u).await?;
    let changes = what_ifs(&cached, &req.changes)?;
    let base = rough_cut_of(&cached, &[])?;
    let trial = rough_cut_of(&cached, &changes)?;
    let over = |l: &[f64], k: &[f64]| l.iter().zip(k).filter(|(l, k)| **l > **k + 1e-9).count();
    let centres: Vec<CentreCompare> = cached
        .booked
        .plant
        .work_centres
        .iter()
        .enumerate()
        .map(|(c, wc)| CentreCompare {
            code: wc.code.clone(),
            overloaded_weeks: over(&base.load[c], &base.capacity[c]),
            what_if_overloaded_weeks: over(&trial.load[c], &trial.capacity[c]),
            load: base.load[c].clone(),
            capacity: base.capacity[c].clone(),
            what_if_load: trial.load[c].clone(),
            what_if_capacity: trial.capacity[c].clone(),
        })
        .collect();
    let weeks = cached.booked.weeks;
    Ok(Json(WhatIfDto {
        weeks: (0..weeks.count)
            .map(|b| format_date(weeks.start_of(b)))
            .collect(),
        overloaded_weeks: centres.iter().map(|c| c.overloaded_weeks).sum(),
        what_if_overloaded_weeks: centres.iter().map(|c| c.what_if_overloaded_weeks).sum(),
        centres,
    }))
}

/// Make the changes part of the live plan: added hours become capacity
/// changes of the centre, a move makes the alternative the operation's
/// centre (the old one becomes an alternative). Then MRP runs again.
#[utoipa::path(post, path = "/plan/what-if/apply", tag = "planning", security(("bearer" = [])),
    request_body = WhatIfRequest,
    responses((status = 200, body = RunDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn apply_what_if(
    State(s): State<AppState>,
    u: AuthUser,
    ValidJson(req): ValidJson<WhatIfRequest>,
) -> Result<Json<RunDto>, ApiError> {
    require_planner(&u)?;
    let cached = current_plan(&s, &u).await?;
    // Checked in the plan's terms first: an unknown centre or a move to a
    // centre that is not an alternative is refused before anything changes.
    let changes = what_ifs(&cached, &req.changes)?;
    rough_cut_of(&cached, &changes)?;
    let mut master = s.store.plan_master(u.tenant()).await?;
    for c in &req.changes {
        match c {
            WhatIfChange::AddHours {
                work_centre,
                from,
                to,
                hours_per_week,
            } => master.capacity_changes.push(CapacityChange {
                work_centre: work_centre.clone(),
                from: from.clone(),
                to: to.clone(),
                hours_per_week: *hours_per_week,
                note: String::new(),
            }),
            WhatIfChange::Move {
                item,
                from_centre,
                to_centre,
            } => {
                for op in master
                    .routings
                    .iter_mut()
                    .filter(|op| &op.item == item && &op.work_centre == from_centre)
                {
                    op.work_centre = to_centre.clone();
                    op.alternatives.retain(|a| a != to_centre);
                    op.alternatives.push(from_centre.clone());
                }
            }
        }
    }
    let master = check_master(master).await?;
    s.store.put_plan_master(u.tenant(), &master).await?;
    s.plans.forget(u.tenant());
    let run = run_mrp(
        &s,
        u.tenant(),
        &u.0.username,
        &RunRequest::regenerate(Some(cached.booked.weeks.count)),
    )
    .await?;
    Ok(Json(run))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MonthBook {
    /// `YYYY-MM`.
    pub month: String,
    pub orders: usize,
    pub quantity: f64,
    pub open: usize,
    pub in_production: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OverloadDto {
    pub code: String,
    pub name: String,
    pub overloaded_weeks: usize,
    pub peak_pct: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LateDto {
    pub number: String,
    pub customer: String,
    pub item: String,
    pub due_date: String,
    pub expected_date: String,
    pub late_weeks: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlanOverviewDto {
    /// Orders still to deliver by the month they are due.
    pub order_book: Vec<MonthBook>,
    /// From the newest run; `null` before the first.
    pub run_at: Option<i64>,
    pub on_time_pct: Option<f64>,
    pub late: Vec<LateDto>,
    pub overloaded: Vec<OverloadDto>,
}

/// What the big screen shows of planning: the order book by due month,
/// the on-time delivery forecast and the overloaded work centres.
#[utoipa::path(get, path = "/plan/overview", tag = "planning", security(("bearer" = [])),
    responses((status = 200, body = PlanOverviewDto)))]
pub async fn overview(
    State(s): State<AppState>,
    u: AuthUser,
) -> Result<Json<PlanOverviewDto>, ApiError> {
    let mut months: BTreeMap<String, MonthBook> = BTreeMap::new();
    for o in s.store.all_customer_orders(u.tenant()).await? {
        let Some(status) = OrderStatus::parse(&o.status).filter(|s| s.is_demand()) else {
            continue;
        };
        let month = o.due_date.get(..7).unwrap_or("").to_owned();
        let m = months.entry(month.clone()).or_insert(MonthBook {
            month,
            orders: 0,
            quantity: 0.0,
            open: 0,
            in_production: 0,
        });
        m.orders += 1;
        m.quantity += o.quantity;
        match status {
            OrderStatus::InProduction => m.in_production += 1,
            _ => m.open += 1,
        }
    }
    let mut dto = PlanOverviewDto {
        order_book: months.into_values().collect(),
        run_at: None,
        on_time_pct: None,
        late: Vec::new(),
        overloaded: Vec::new(),
    };
    if let Some(run) = s.store.latest_plan_run(u.tenant()).await? {
        #[derive(Deserialize)]
        struct Stored {
            report: StoredReport,
        }
        #[derive(Deserialize)]
        struct StoredReport {
            summary: StoredSummary,
            capacity: Vec<StoredCentre>,
            deliveries: Vec<StoredDelivery>,
        }
        #[derive(Deserialize)]
        struct StoredSummary {
            on_time_pct: Option<f64>,
        }
        #[derive(Deserialize)]
        struct StoredCentre {
            code: String,
            name: String,
            overloaded_weeks: usize,
            peak_pct: f64,
        }
        #[derive(Deserialize)]
        struct StoredDelivery {
            number: String,
            customer: String,
            item: String,
            due_date: String,
            expected_date: String,
            late_weeks: usize,
        }
        let r: Stored = serde_json::from_str(&run.result)
            .map_err(|e| ApiError::unavailable(format!("stored run unreadable: {e}")))?;
        dto.run_at = Some(run.created_at);
        dto.on_time_pct = r.report.summary.on_time_pct;
        let mut late: Vec<LateDto> = r
            .report
            .deliveries
            .into_iter()
            .filter(|d| d.late_weeks > 0)
            .map(|d| LateDto {
                number: d.number,
                customer: d.customer,
                item: d.item,
                due_date: d.due_date,
                expected_date: d.expected_date,
                late_weeks: d.late_weeks,
            })
            .collect();
        late.sort_by(|a, b| {
            b.late_weeks
                .cmp(&a.late_weeks)
                .then(a.due_date.cmp(&b.due_date))
        });
        late.truncate(10);
        dto.late = late;
        let mut over: Vec<OverloadDto> = r
            .report
            .capacity
            .into_iter()
            .filter(|c| c.overloaded_weeks > 0)
            .map(|c| OverloadDto {
                code: c.code,
                name: c.name,
                overloaded_weeks: c.overloaded_weeks,
                peak_pct: c.peak_pct,
            })
            .collect();
        over.sort_by(|a, b| b.peak_pct.total_cmp(&a.peak_pct));
        dto.overloaded = over;
    }
    Ok(Json(dto))
}
