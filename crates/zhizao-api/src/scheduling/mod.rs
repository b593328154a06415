//! Scheduling the plant: released work orders onto machines and the site
//! calendar, as versions of one schedule per tenant. A run searches for a
//! good schedule from scratch (keeping locked, running and soon-starting
//! operations); an event (a breakdown, a rush order, an overrun) repairs
//! the current version, moving only what it must, then improves it for a
//! second with disruption weighed; a planner's move is checked and
//! repaired around. Dispatch lists and late-order explanations are read
//! from the current version.

pub mod plant;

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zhizao_schedule::{SolveOptions, repair, solve};
use zhizao_store::ScheduleVersion;

use self::plant::{Body, BuildError, Inputs, Move, ObjectiveName, Overrun, PlannedOp};
use crate::AppState;
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::IdPath;
use crate::extract::{QueryMap, ValidJson};

const MINUTE_MS: i64 = 60_000;
/// How far ahead the site calendar is laid out.
const HORIZON_MS: i64 = 12 * 7 * 24 * 3_600_000;

#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleDto {
    /// The version's id; 0 for a move tried without storing it.
    pub id: i64,
    pub reason: String,
    pub by_user: String,
    pub created_at: i64,
    #[serde(flatten)]
    pub body: Body,
}

fn dto(v: &ScheduleVersion, body: Body) -> ScheduleDto {
    ScheduleDto {
        id: v.id,
        reason: v.reason.clone(),
        by_user: v.by_user.clone(),
        created_at: v.created_at,
        body,
    }
}

fn require_scheduler(u: &AuthUser) -> Result<(), ApiError> {
    use zhizao_core::Role;
    if matches!(u.0.role, Role::Admin | Role::Planner) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "role `{}` may not change the schedule; a planner or an admin must do this",
            u.0.role
        )))
    }
}

fn stored_body(v: &ScheduleVersion) -> Result<Body, ApiError> {
    serde_json::from_str(&v.body)
        .map_err(|e| ApiError::unavailable(format!("stored schedule {} is unreadable: {e}", v.id)))
}

/// The current version and its body, if there is one.
async fn current(s: &AppState, tenant: i64) -> Result<Option<(ScheduleVersion, Body)>, ApiError> {
    match s.store.current_schedule(tenant).await? {
        Some(v) => {
            let b = stored_body(&v)?;
            Ok(Some((v, b)))
        }
        None => Ok(None),
    }
}

fn now_minute() -> i64 {
    let now = jiff::Timestamp::now().as_millisecond();
    now - now.rem_euclid(MINUTE_MS)
}

/// The first site's time zone and working time (shifts less breaks) from
/// a day before `origin` to the horizon; without a site, Shanghai and
/// around the clock.
async fn site_time(
    s: &AppState,
    tenant: i64,
    origin: i64,
) -> Result<(jiff::tz::TimeZone, Option<Vec<(i64, i64)>>), ApiError> {
    let q = zhizao_store::ListQuery {
        limit: 1,
        sort: zhizao_store::Sort::Id,
        ..Default::default()
    };
    let site = s
        .store
        .list_sites(tenant, &q)
        .await?
        .items
        .into_iter()
        .next();
    let Some(site) = site else {
        let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap_or(jiff::tz::TimeZone::UTC);
        return Ok((tz, None));
    };
    let tz = jiff::tz::TimeZone::get(&site.timezone)
        .map_err(|e| ApiError::unavailable(format!("site time zone: {e}")))?;
    let calendar = crate::kpi::site_calendar(s, tenant, &site).await?;
    let shifts = calendar
        .shifts_between(origin - 24 * 3_600_000, origin + HORIZON_MS)
        .map_err(|e| ApiError::unavailable(format!("site calendar: {e}")))?;
    let mut working: Vec<(i64, i64)> = Vec::new();
    for sh in shifts {
        let mut breaks = sh.breaks.clone();
        breaks.sort_unstable();
        let mut at = sh.start_ms;
        for (a, b) in breaks {
            if a > at {
                working.push((at, a.min(sh.end_ms)));
            }
            at = at.max(b);
        }
        if sh.end_ms > at {
            working.push((at, sh.end_ms));
        }
    }
    working.sort_unstable();
    let mut merged: Vec<(i64, i64)> = Vec::with_capacity(working.len());
    for (a, b) in working {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    Ok((tz, Some(merged)))
}

/// How a new version is made.
struct Making {
    reason: String,
    objective: ObjectiveName,
    freeze_minutes: u32,
    /// Seconds of search; `None` repairs only.
    search: Option<f64>,
    disruption: u64,
    breakdowns: Vec<plant::Breakdown>,
    rush: Vec<i64>,
    overruns: Vec<Overrun>,
    moved: Option<Move>,
    store: bool,
}

async fn make(
    s: &AppState,
    (tenant, by_user): (i64, &str),
    based_on: Option<&ScheduleVersion>,
    previous: Option<&Body>,
    m: Making,
) -> Result<ScheduleDto, ApiError> {
    let origin = now_minute();
    let master = s.store.plan_master(tenant).await?;
    let orders = s.store.open_work_orders_with_operations(tenant).await?;
    let (tz, working) = site_time(s, tenant, origin).await?;
    let breakdowns: Vec<plant::Breakdown> = m
        .breakdowns
        .into_iter()
        .filter(|b| b.to_ms > origin)
        .collect();
    let input = Inputs {
        origin_ms: origin,
        master: &master,
        orders: &orders,
        working,
        tz,
        previous,
        breakdowns,
        rush: m.rush,
        overruns: m.overruns,
        freeze_minutes: m.freeze_minutes,
        objective: m.objective,
        disruption: m.disruption,
        moved: m.moved,
    };
    let built = plant::build(&input).map_err(|e| match e {
        BuildError::Move(msg) => ApiError::new(StatusCode::CONFLICT, "infeasible", msg),
        BuildError::Data(msg) => {
            ApiError::unavailable(format!("the plant cannot be scheduled: {msg}"))
        }
    })?;
    let instance = built.instance.clone();
    let search = m.search;
    let solution = tokio::task::spawn_blocking(move || match search {
        Some(seconds) => solve(
            &instance,
            &SolveOptions {
                time_limit: Duration::from_secs_f64(seconds),
                max_iterations: None,
                threads: 2,
                seed: 1,
            },
            &AtomicBool::new(false),
        ),
        None => repair(&instance),
    })
    .await
    .map_err(|e| ApiError::unavailable(format!("the scheduler stopped: {e}")))?;
    if let Err(e) = zhizao_schedule::check(&built.instance, &solution) {
        tracing::error!(error = %e, "the scheduler returned a schedule its checker refuses");
        return Err(ApiError::internal());
    }
    let body = plant::body(&built, &solution, &input);
    let now = jiff::Timestamp::now().as_millisecond();
    if !m.store {
        return Ok(ScheduleDto {
            id: 0,
            reason: m.reason,
            by_user: by_user.to_owned(),
            created_at: now,
            body,
        });
    }
    let text = serde_json::to_string(&body).map_err(|_| ApiError::internal())?;
    let id = s
        .store
        .insert_schedule(tenant, based_on.map(|v| v.id), &m.reason, by_user, &text)
        .await?;
    s.hub.schedule_changed(tenant, id, &m.reason, by_user);
    Ok(ScheduleDto {
        id,
        reason: m.reason,
        by_user: by_user.to_owned(),
        created_at: now,
        body,
    })
}

/// The current schedule: machines, operations, orders with their
/// completion, explanations of late orders, costs; `null` before the
/// first run.
#[utoipa::path(get, path = "/schedule", tag = "scheduling", security(("bearer" = [])),
    responses((status = 200, body = Option<ScheduleDto>)))]
pub async fn get_schedule(
    State(s): State<AppState>,
    u: AuthUser,
) -> Result<Json<Option<ScheduleDto>>, ApiError> {
    Ok(Json(
        current(&s, u.tenant()).await?.map(|(v, b)| dto(&v, b)),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionDto {
    pub id: i64,
    pub reason: String,
    pub by_user: String,
    pub created_at: i64,
}

/// The versions kept, newest first.
#[utoipa::path(get, path = "/schedule/versions", tag = "scheduling", security(("bearer" = [])),
    responses((status = 200, body = Vec<VersionDto>)))]
pub async fn list_versions(
    State(s): State<AppState>,
    u: AuthUser,
) -> Result<Json<Vec<VersionDto>>, ApiError> {
    Ok(Json(
        s.store
            .list_schedules(u.tenant())
            .await?
            .into_iter()
            .map(|v| VersionDto {
                id: v.id,
                reason: v.reason,
                by_user: v.by_user,
                created_at: v.created_at,
            })
            .collect(),
    ))
}

/// One kept version, as `GET /schedule` gives the current one; a version
/// no longer kept (or another tenant's) is 404.
#[utoipa::path(get, path = "/schedule/versions/{id}", tag = "scheduling", security(("bearer" = [])),
    params(("id" = i64, Path, description = "version id")),
    responses((status = 200, body = ScheduleDto), (status = 404, description = "No such version kept"),
        (status = 422, description = "The id is not an integer")))]
pub async fn get_version(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
) -> Result<Json<ScheduleDto>, ApiError> {
    let v = s.store.schedule_version(u.tenant(), id).await?;
    let body = stored_body(&v)?;
    Ok(Json(dto(&v, body)))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunBody {
    /// `balanced` (default), `due_dates` or `makespan`.
    #[serde(default)]
    pub objective: Option<ObjectiveName>,
    /// Seconds to search, 0.1 to 120; 5 by default.
    #[serde(default)]
    pub time_limit_s: Option<f64>,
    /// Operations planned to start within this many minutes keep their
    /// place; 60 by default.
    #[serde(default)]
    pub freeze_minutes: Option<u32>,
}

/// Schedule every released and started work order anew. Locked, running
/// and frozen operations keep their place; breakdowns, rush orders and
/// overruns of the current version carry over.
#[utoipa::path(post, path = "/schedule/runs", operation_id = "create_schedule_run", tag = "scheduling", security(("bearer" = [])),
    request_body = RunBody,
    responses((status = 201, body = ScheduleDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_run(
    State(s): State<AppState>,
    u: AuthUser,
    ValidJson(b): ValidJson<RunBody>,
) -> Result<(StatusCode, Json<ScheduleDto>), ApiError> {
    require_scheduler(&u)?;
    let seconds = b.time_limit_s.unwrap_or(5.0);
    if !(seconds.is_finite() && (0.1..=120.0).contains(&seconds)) {
        return Err(ApiError::validation(
            "time_limit_s",
            "time_limit_s: give 0.1 to 120 seconds",
        ));
    }
    let d = run_schedule(&s, (u.tenant(), &u.0.username), &b, seconds).await?;
    Ok((StatusCode::CREATED, Json(d)))
}

/// A run from scratch for `tenant`, carrying over what the current
/// version knows (breakdowns, rush orders, overruns, locks).
pub async fn run_schedule(
    s: &AppState,
    who: (i64, &str),
    b: &RunBody,
    seconds: f64,
) -> Result<ScheduleDto, ApiError> {
    let cur = current(s, who.0).await?;
    let prev = cur.as_ref().map(|c| &c.1);
    let making = Making {
        reason: "run".into(),
        objective: b
            .objective
            .or(prev.map(|p| p.objective))
            .unwrap_or_default(),
        freeze_minutes: b
            .freeze_minutes
            .or(prev.map(|p| p.freeze_minutes))
            .unwrap_or(60),
        search: Some(seconds),
        disruption: 0,
        breakdowns: prev.map(|p| p.breakdowns.clone()).unwrap_or_default(),
        rush: prev.map(|p| p.rush.clone()).unwrap_or_default(),
        overruns: prev.map(|p| p.overruns.clone()).unwrap_or_default(),
        moved: None,
        store: true,
    };
    make(s, who, cur.as_ref().map(|c| &c.0), prev, making).await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A machine is down from `from_ms` (now by default) for `minutes`.
    Breakdown,
    /// A machine is back: its breakdowns end now.
    Repaired,
    /// A work order gets priority.
    Rush,
    /// An operation takes `minutes` longer than planned.
    Overrun,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventBody {
    pub kind: EventKind,
    #[serde(default)]
    pub machine: Option<String>,
    #[serde(default)]
    pub from_ms: Option<i64>,
    #[serde(default)]
    pub minutes: Option<u32>,
    #[serde(default)]
    pub work_order_id: Option<i64>,
    #[serde(default)]
    pub seq: Option<i64>,
    #[serde(default)]
    pub note: Option<String>,
}

/// Something happened on the floor: the current schedule is repaired
/// (only what the event reaches moves), then improved for a second with
/// disruption weighed against lateness.
#[utoipa::path(post, path = "/schedule/events", tag = "scheduling", security(("bearer" = [])),
    request_body = EventBody,
    responses((status = 201, body = ScheduleDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn post_event(
    State(s): State<AppState>,
    u: AuthUser,
    ValidJson(b): ValidJson<EventBody>,
) -> Result<(StatusCode, Json<ScheduleDto>), ApiError> {
    require_scheduler(&u)?;
    let Some((version, body)) = current(&s, u.tenant()).await? else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "there is no schedule yet: run one first",
        ));
    };
    let mut breakdowns = body.breakdowns.clone();
    let mut rush = body.rush.clone();
    let mut overruns = body.overruns.clone();
    let now = now_minute();
    let machine = |field: &str| -> Result<String, ApiError> {
        let code = b
            .machine
            .clone()
            .ok_or_else(|| ApiError::validation(field, format!("{field}: which machine?")))?;
        if body.machines.iter().any(|m| m.code == code) {
            Ok(code)
        } else {
            Err(ApiError::validation(
                field,
                format!("{field}: there is no machine `{code}`"),
            ))
        }
    };
    let minutes = |what: &str| -> Result<u32, ApiError> {
        match b.minutes {
            Some(m) if m > 0 => Ok(m),
            _ => Err(ApiError::validation(
                "minutes",
                format!("minutes: how long {what}, above 0"),
            )),
        }
    };
    let reason = match b.kind {
        EventKind::Breakdown => {
            let code = machine("machine")?;
            let from = b.from_ms.unwrap_or(now).max(now - 24 * 3_600_000);
            let to = from + i64::from(minutes("the machine is down")?) * MINUTE_MS;
            breakdowns.push(plant::Breakdown {
                machine: code.clone(),
                from_ms: from,
                to_ms: to,
                note: b.note.clone().unwrap_or_default(),
            });
            format!("breakdown {code}")
        }
        EventKind::Repaired => {
            let code = machine("machine")?;
            for br in breakdowns
                .iter_mut()
                .filter(|x| x.machine == code && x.to_ms > now)
            {
                br.to_ms = now.max(br.from_ms);
            }
            format!("repaired {code}")
        }
        EventKind::Rush => {
            let id = b.work_order_id.ok_or_else(|| {
                ApiError::validation("work_order_id", "work_order_id: which work order?")
            })?;
            let Some(op) = body.operations.iter().find(|o| o.work_order_id == id) else {
                return Err(ApiError::validation(
                    "work_order_id",
                    format!(
                        "work_order_id: work order {id} is not in the schedule (release it, then run)"
                    ),
                ));
            };
            let number = op.number.clone();
            if !rush.contains(&id) {
                rush.push(id);
            }
            format!("rush {number}")
        }
        EventKind::Overrun => {
            let (Some(id), Some(seq)) = (b.work_order_id, b.seq) else {
                return Err(ApiError::validation(
                    "work_order_id",
                    "work_order_id, seq: which operation overruns?",
                ));
            };
            let Some(op) = body
                .operations
                .iter()
                .find(|o| o.work_order_id == id && o.seq == seq)
            else {
                return Err(ApiError::validation(
                    "seq",
                    format!("seq: operation {seq} of work order {id} is not in the schedule"),
                ));
            };
            let number = op.number.clone();
            let extra = minutes("the operation overruns")?;
            match overruns
                .iter_mut()
                .find(|o| o.work_order_id == id && o.seq == seq)
            {
                Some(o) => o.minutes = o.minutes.saturating_add(extra),
                None => overruns.push(Overrun {
                    work_order_id: id,
                    seq,
                    minutes: extra,
                }),
            }
            format!("overrun {number} {seq}")
        }
    };
    let making = Making {
        reason,
        objective: body.objective,
        freeze_minutes: body.freeze_minutes,
        search: Some(1.0),
        disruption: 5,
        breakdowns,
        rush,
        overruns,
        moved: None,
        store: true,
    };
    let d = make(
        &s,
        (u.tenant(), &u.0.username),
        Some(&version),
        Some(&body),
        making,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(d)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveBody {
    pub machine: String,
    pub start_ms: i64,
    /// Only try it: the answer shows the schedule the move would give.
    #[serde(default)]
    pub dry_run: bool,
}

/// Move an operation to a machine and start (it is locked there); the
/// rest is repaired around it, moving only what the move pushes. 409
/// with the reason when the move is not possible.
#[utoipa::path(patch, path = "/schedule/operations/{work_order_id}/{seq}", tag = "scheduling", security(("bearer" = [])),
    params(("work_order_id" = i64, Path), ("seq" = i64, Path)), request_body = MoveBody,
    responses((status = 200, body = ScheduleDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn move_operation(
    State(s): State<AppState>,
    u: AuthUser,
    Path((id, seq)): Path<(i64, i64)>,
    ValidJson(b): ValidJson<MoveBody>,
) -> Result<Json<ScheduleDto>, ApiError> {
    require_scheduler(&u)?;
    let (version, body) = version_with_operation(&s, u.tenant(), id, seq).await?;
    let making = Making {
        reason: format!("move {id}/{seq}"),
        objective: body.objective,
        freeze_minutes: body.freeze_minutes,
        search: None,
        disruption: 0,
        breakdowns: body.breakdowns.clone(),
        rush: body.rush.clone(),
        overruns: body.overruns.clone(),
        moved: Some(Move {
            key: (id, seq),
            machine: b.machine,
            start_ms: b.start_ms,
        }),
        store: !b.dry_run,
    };
    Ok(Json(
        make(
            &s,
            (u.tenant(), &u.0.username),
            Some(&version),
            Some(&body),
            making,
        )
        .await?,
    ))
}

async fn version_with_operation(
    s: &AppState,
    tenant: i64,
    id: i64,
    seq: i64,
) -> Result<(ScheduleVersion, Body), ApiError> {
    let Some((version, body)) = current(s, tenant).await? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "there is no schedule yet",
        ));
    };
    if !body
        .operations
        .iter()
        .any(|o| o.work_order_id == id && o.seq == seq)
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("operation {seq} of work order {id} is not in the schedule"),
        ));
    }
    Ok((version, body))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LockBody {
    pub locked: bool,
}

/// Lock an operation where it is (later runs keep it there, and the
/// operations before it in its order), or unlock it.
#[utoipa::path(put, path = "/schedule/operations/{work_order_id}/{seq}/lock", tag = "scheduling", security(("bearer" = [])),
    params(("work_order_id" = i64, Path), ("seq" = i64, Path)), request_body = LockBody,
    responses((status = 200, body = ScheduleDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn lock_operation(
    State(s): State<AppState>,
    u: AuthUser,
    Path((id, seq)): Path<(i64, i64)>,
    ValidJson(b): ValidJson<LockBody>,
) -> Result<Json<ScheduleDto>, ApiError> {
    require_scheduler(&u)?;
    let (version, mut body) = version_with_operation(&s, u.tenant(), id, seq).await?;
    for op in body
        .operations
        .iter_mut()
        .filter(|o| o.work_order_id == id && o.seq == seq)
    {
        op.locked = b.locked;
    }
    let reason = format!("{} {id}/{seq}", if b.locked { "lock" } else { "unlock" });
    let text = serde_json::to_string(&body).map_err(|_| ApiError::internal())?;
    let new_id = s
        .store
        .insert_schedule(u.tenant(), Some(version.id), &reason, &u.0.username, &text)
        .await?;
    s.hub
        .schedule_changed(u.tenant(), new_id, &reason, &u.0.username);
    Ok(Json(ScheduleDto {
        id: new_id,
        reason,
        by_user: u.0.username.clone(),
        created_at: jiff::Timestamp::now().as_millisecond(),
        body,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DispatchDto {
    pub machine: plant::MachineDto,
    /// The machine's operations not yet ended, in the order to run them.
    pub operations: Vec<PlannedOp>,
    /// The version the list comes from, and when it was made.
    pub schedule_id: i64,
    pub created_at: i64,
}

/// A machine's dispatch list for the operator terminal (`?machine=CODE`).
#[utoipa::path(get, path = "/schedule/dispatch", tag = "scheduling", security(("bearer" = [])),
    params(("machine" = String, Query)),
    responses((status = 200, body = DispatchDto), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn dispatch_list(
    State(s): State<AppState>,
    u: AuthUser,
    QueryMap(q): QueryMap,
) -> Result<Json<DispatchDto>, ApiError> {
    let Some(code) = q.get("machine").filter(|c| !c.is_empty()) else {
        return Err(ApiError::validation(
            "machine",
            "machine: which machine's list?",
        ));
    };
    let Some((version, body)) = current(&s, u.tenant()).await? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "there is no schedule yet",
        ));
    };
    let Some(machine) = body.machines.iter().find(|m| &m.code == code).cloned() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("there is no machine `{code}` in the schedule"),
        ));
    };
    let now = jiff::Timestamp::now().as_millisecond();
    let mut operations: Vec<PlannedOp> = body
        .operations
        .into_iter()
        .filter(|o| &o.machine == code && o.end_ms > now.min(version.created_at))
        .collect();
    operations.sort_by_key(|o| o.start_ms);
    Ok(Json(DispatchDto {
        machine,
        operations,
        schedule_id: version.id,
        created_at: version.created_at,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProgressDto {
    pub at_ms: i64,
    pub schedule_id: i64,
    /// Earned hours over planned hours due by now, in percent; none when
    /// nothing was due yet.
    pub attainment_pct: Option<f64>,
    pub centres: Vec<plant::CentreProgress>,
    /// The ten orders furthest behind their plan.
    pub behind: Vec<plant::OrderProgress>,
}

/// Plan against actual: by work centre, hours of scheduled work due by
/// now and hours earned by what was reported; the orders furthest behind.
/// `null` before the first schedule.
#[utoipa::path(get, path = "/schedule/progress", tag = "scheduling", security(("bearer" = [])),
    responses((status = 200, body = Option<ProgressDto>)))]
pub async fn schedule_progress(
    State(s): State<AppState>,
    u: AuthUser,
) -> Result<Json<Option<ProgressDto>>, ApiError> {
    let Some((version, body)) = current(&s, u.tenant()).await? else {
        return Ok(Json(None));
    };
    let orders = s
        .store
        .work_orders_with_operations(u.tenant(), true)
        .await?;
    let now = jiff::Timestamp::now().as_millisecond();
    let (centres, mut behind) = plant::progress(&body, &orders, now);
    behind.truncate(10);
    let planned: f64 = centres.iter().map(|c| c.planned_hours).sum();
    let earned: f64 = centres.iter().map(|c| c.earned_hours).sum();
    Ok(Json(Some(ProgressDto {
        at_ms: now,
        schedule_id: version.id,
        attainment_pct: (planned > 1e-9).then(|| 100.0 * earned / planned),
        centres,
        behind,
    })))
}
