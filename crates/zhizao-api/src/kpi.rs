//! KPIs over HTTP: a site's calendar, and one machine's ISO 22400-2 time
//! elements, quantities and KPIs per planned shift over a period, computed
//! from the state changes and counters the platform recorded. The formulas
//! and conventions are in `docs/kpis.md`; the computing is in `zhizao-kpi`.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use zhizao_core::{Calendar, MachineState, ShiftPattern};
use zhizao_kpi::accounting::Accounted;
use zhizao_kpi::calendar::{PlannedShift, SiteCalendar, account_shifts};
use zhizao_kpi::states::{MINOR_STOP_MS, counter_increase, intervals};
use zhizao_kpi::{Failures, Inputs, Kpis, Quantities, TimeElements};
use zhizao_tsdb::{Aggregate, Query};

use crate::AppState;
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{IdPath, QueryMap, ValidJson};
use crate::series::TimeArg;

/// Longest period one request may cover.
const MAX_PERIOD_MS: i64 = 93 * 86_400_000;

/// The calendar a site without one works to: three 8-hour shifts, every day.
fn default_calendar() -> Calendar {
    Calendar {
        code: "default".into(),
        pattern: ShiftPattern::three_eight(),
        working_weekdays: vec![1, 2, 3, 4, 5, 6, 7],
        holidays: Vec::new(),
        extra_working_days: Vec::new(),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SiteCalendarDto {
    #[schema(value_type = Object)]
    pub calendar: Calendar,
    /// True when the site has none set and the default is shown.
    pub default: bool,
    pub timezone: String,
}

/// A site's working calendar (the default one if none was set).
#[utoipa::path(get, path = "/sites/{id}/calendar", tag = "kpi", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = SiteCalendarDto), (status = 404, body = ErrorBody)))]
pub async fn get_calendar(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
) -> Result<Json<SiteCalendarDto>, ApiError> {
    let site = s.store.get_site(u.tenant(), id).await?;
    let stored = s.store.site_calendar(u.tenant(), id).await?;
    Ok(Json(SiteCalendarDto {
        default: stored.is_none(),
        calendar: stored.unwrap_or_else(default_calendar),
        timezone: site.timezone,
    }))
}

/// Set a site's calendar: shift pattern, working weekdays (1 = Monday),
/// holidays and extra working days (`YYYY-MM-DD`).
#[utoipa::path(put, path = "/sites/{id}/calendar", tag = "kpi", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body(content = Object),
    responses((status = 200, body = SiteCalendarDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_calendar(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
    ValidJson(calendar): ValidJson<Calendar>,
) -> Result<Json<SiteCalendarDto>, ApiError> {
    u.require_master_data_editor()?;
    let site = s.store.get_site(u.tenant(), id).await?;
    SiteCalendar::new(calendar.clone(), &site.timezone).map_err(calendar_error)?;
    s.store.put_site_calendar(u.tenant(), id, &calendar).await?;
    Ok(Json(SiteCalendarDto {
        calendar,
        default: false,
        timezone: site.timezone,
    }))
}

fn calendar_error(e: zhizao_kpi::calendar::CalendarError) -> ApiError {
    use zhizao_kpi::calendar::CalendarError as E;
    let field = match &e {
        E::Date { field, .. } | E::Pattern { field, .. } => field.clone(),
        E::Weekday(_) => "working_weekdays".into(),
        E::TimeZone(_) => "timezone".into(),
        E::Range(_) => "calendar".into(),
    };
    ApiError::validation(field, e.to_string())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LossesDto {
    /// ADET by kind, seconds.
    pub breakdown: f64,
    pub minor_stop: f64,
    pub blocked: f64,
    pub starved: f64,
    pub no_data: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodKpi {
    /// Local date the shift starts on; `null` for the total.
    pub date: Option<String>,
    pub shift: Option<String>,
    /// Epoch ms; the part of the shift inside the request (and before now).
    pub start: i64,
    pub end: i64,
    /// Time elements in seconds.
    #[schema(value_type = Object)]
    pub time: TimeElements,
    pub losses: LossesDto,
    #[schema(value_type = Object)]
    pub quantities: Quantities,
    pub failures: u32,
    /// ISO 22400-2 KPIs; `null` where undefined (a zero denominator, no
    /// ideal cycle time).
    #[schema(value_type = Object)]
    pub kpis: Kpis,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EquipmentKpi {
    pub equipment_id: i64,
    pub code: String,
    /// Ideal cycle time in seconds (equipment attribute `ideal_cycle_s`).
    pub ideal_cycle_s: Option<f64>,
    pub timezone: String,
    pub shifts: Vec<PeriodKpi>,
    /// The shifts summed, then the KPIs of the sums.
    pub total: Option<PeriodKpi>,
}

fn time_param(
    q: &HashMap<String, String>,
    name: &'static str,
    default_ms: i64,
) -> Result<i64, ApiError> {
    let Some(text) = q.get(name) else {
        return Ok(default_ms);
    };
    let arg = match text.parse::<i64>() {
        Ok(ms) => TimeArg::EpochMs(ms),
        Err(_) => TimeArg::Text(text.clone()),
    };
    arg.to_ns(name)
        .map(|ns| ns / 1_000_000)
        .map_err(|m| ApiError::validation(name, m))
}

/// A counter's last value before a period, and its (ms, value) points in it.
type CounterPoints = (Option<f64>, Vec<(i64, f64)>);

/// Raw values of one counter field of one machine over `[from, to)` with
/// the last value before it.
fn counter_points(
    s: &AppState,
    tenant: i64,
    code: &str,
    field: &str,
    from: i64,
    to: i64,
) -> Result<CounterPoints, ApiError> {
    let base = Query {
        measurement: "telemetry".into(),
        fields: vec![field.into()],
        filter: vec![("equipment".into(), code.into())],
        ..Query::default()
    };
    let unavailable = |e: zhizao_tsdb::QueryError| ApiError::unavailable(e.to_string());
    let before = s
        .tsdb
        .query(
            tenant,
            &Query {
                end: Some(from.saturating_mul(1_000_000)),
                aggregate: Some(Aggregate::Last),
                ..base.clone()
            },
        )
        .map_err(unavailable)?
        .series
        .first()
        .and_then(|x| x.points.first())
        .and_then(|(_, v)| v.as_ref()?.as_f64());
    let mut points = Vec::new();
    let mut cursor = None;
    loop {
        let page = s
            .tsdb
            .query(
                tenant,
                &Query {
                    start: Some(from.saturating_mul(1_000_000)),
                    end: Some(to.saturating_mul(1_000_000)),
                    limit: Some(100_000),
                    cursor: cursor.take(),
                    ..base.clone()
                },
            )
            .map_err(unavailable)?;
        for series in &page.series {
            points.extend(
                series
                    .points
                    .iter()
                    .filter_map(|(ts, v)| Some((ts / 1_000_000, v.as_ref()?.as_f64()?))),
            );
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    points.sort_by_key(|(t, _)| *t);
    Ok((before, points))
}

/// The increase of a counter inside `[a, b)`, from all its points.
fn increase_in(before: Option<f64>, points: &[(i64, f64)], a: i64, b: i64) -> f64 {
    let prior = points
        .iter()
        .rev()
        .find(|(t, _)| *t < a)
        .map(|(_, v)| *v)
        .or(before);
    let inside: Vec<f64> = points
        .iter()
        .filter(|(t, _)| *t >= a && *t < b)
        .map(|(_, v)| *v)
        .collect();
    counter_increase(prior, &inside)
}

fn period(
    shift: Option<&PlannedShift>,
    (start, end): (i64, i64),
    a: &Accounted,
    quantities: Quantities,
    pri_s: Option<f64>,
) -> PeriodKpi {
    let s = |ms: f64| ms / 1000.0;
    let t = a.time;
    let time = TimeElements {
        pot: s(t.pot),
        planned_downtime: s(t.planned_downtime),
        pbt: s(t.pbt),
        adot: s(t.adot),
        adet: s(t.adet),
        aubt: s(t.aubt),
        aupt: s(t.aupt),
        asut: s(t.asut),
        apt: s(t.apt),
    };
    let inputs = Inputs {
        time,
        quantities,
        pri: pri_s,
        failures: Failures {
            count: a.failures,
            operating_intervals: Some(a.operating_intervals.iter().map(|x| s(*x)).collect()),
            restoration_times: a.restoration_times.iter().map(|x| s(*x)).collect(),
        },
        aoet: None,
        order_aubt: None,
    };
    PeriodKpi {
        date: shift.map(|x| x.date.clone()),
        shift: shift.map(|x| x.shift.clone()),
        start,
        end,
        kpis: Kpis::compute(&inputs),
        time,
        losses: LossesDto {
            breakdown: s(a.breakdown),
            minor_stop: s(a.minor_stop),
            blocked: s(a.blocked),
            starved: s(a.starved),
            no_data: s(a.no_data),
        },
        quantities,
        failures: a.failures,
    }
}

/// One machine's KPIs per planned shift in `[from, to)` (default: the last
/// 24 hours), and for all of them together. Time elements come from the
/// machine's recorded state changes and its site's calendar; quantities
/// from the telemetry counters `count_good`, `count_scrap` and
/// `count_rework`; the ideal cycle time from the equipment attribute
/// `ideal_cycle_s`.
#[utoipa::path(get, path = "/equipment/{id}/kpi", tag = "kpi", security(("bearer" = [])),
    params(("id" = i64, Path), ("from" = Option<String>, Query, description = "epoch ms, RFC 3339, or -24h"),
           ("to" = Option<String>, Query, description = "epoch ms, RFC 3339, or now")),
    responses((status = 200, body = EquipmentKpi), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn equipment_kpi(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
    QueryMap(q): QueryMap,
) -> Result<Json<EquipmentKpi>, ApiError> {
    let tenant = u.tenant();
    let now = zhizao_live::now_ms();
    let to = time_param(&q, "to", now)?.min(now);
    let from = time_param(&q, "from", to - 86_400_000)?;
    if from >= to {
        return Err(ApiError::validation(
            "from",
            "must be before `to` (and before now)",
        ));
    }
    if to - from > MAX_PERIOD_MS {
        return Err(ApiError::validation(
            "to",
            "a request covers at most 93 days",
        ));
    }
    let equipment = s.store.get_equipment(tenant, id).await?;
    let layout = s.store.layout(tenant).await?;
    let site = layout
        .site_of_line(equipment.line_id)
        .cloned()
        .ok_or_else(|| ApiError::unavailable("the equipment's site was not found"))?;
    let calendar = s
        .store
        .site_calendar(tenant, site.id)
        .await?
        .unwrap_or_else(default_calendar);
    let cal = SiteCalendar::new(calendar, &site.timezone).map_err(calendar_error)?;
    let shifts: Vec<PlannedShift> = cal
        .shifts_between(from, to)
        .map_err(calendar_error)?
        .into_iter()
        .map(|mut sh| {
            // Only the part inside the request (and before now) counts.
            sh.start_ms = sh.start_ms.max(from);
            sh.end_ms = sh.end_ms.min(to);
            sh
        })
        .filter(|sh| sh.end_ms > sh.start_ms)
        .collect();
    let (before, changes) = s.store.state_events_between(tenant, id, from, to).await?;
    let parse = |state: &str| {
        state
            .parse::<MachineState>()
            .unwrap_or(MachineState::Offline)
    };
    let changes: Vec<(i64, MachineState)> =
        changes.iter().map(|e| (e.ts, parse(&e.state))).collect();
    let states = intervals(
        before.as_ref().map(|e| parse(&e.state)),
        &changes,
        from,
        to,
        MINOR_STOP_MS,
    );
    let accounted = account_shifts(&shifts, &[], &states)
        .map_err(|e| ApiError::unavailable(format!("recorded states: {e}")))?;
    let mut counters = HashMap::new();
    for field in ["count_good", "count_scrap", "count_rework"] {
        counters.insert(
            field,
            counter_points(&s, tenant, &equipment.code, field, from, to)?,
        );
    }
    let pri_s = equipment
        .attributes
        .get("ideal_cycle_s")
        .and_then(serde_json::Value::as_f64)
        .filter(|x| *x > 0.0);
    let mut out = Vec::with_capacity(shifts.len());
    let mut sum_a = Accounted::default();
    let mut sum_q = Quantities::default();
    for (sh, a) in shifts.iter().zip(&accounted) {
        let inc = |f: &str| {
            counters
                .get(f)
                .map_or(0.0, |(b, p)| increase_in(*b, p, sh.start_ms, sh.end_ms))
        };
        let (gq, sq, rq) = (inc("count_good"), inc("count_scrap"), inc("count_rework"));
        let quantities = Quantities {
            pq: gq + sq + rq,
            gq,
            sq,
            rq,
            ..Quantities::default()
        };
        out.push(period(
            Some(sh),
            (sh.start_ms, sh.end_ms),
            a,
            quantities,
            pri_s,
        ));
        sum_a.time = sum_a.time.add(&a.time);
        for (x, y) in [
            (&mut sum_a.breakdown, a.breakdown),
            (&mut sum_a.minor_stop, a.minor_stop),
            (&mut sum_a.blocked, a.blocked),
            (&mut sum_a.starved, a.starved),
            (&mut sum_a.no_data, a.no_data),
        ] {
            *x += y;
        }
        sum_a.failures += a.failures;
        sum_a.restoration_times.extend(&a.restoration_times);
        sum_a.operating_intervals.extend(&a.operating_intervals);
        sum_q.pq += quantities.pq;
        sum_q.gq += gq;
        sum_q.sq += sq;
        sum_q.rq += rq;
    }
    let total = match (shifts.first(), shifts.last()) {
        (Some(a), Some(b)) => Some(period(None, (a.start_ms, b.end_ms), &sum_a, sum_q, pri_s)),
        _ => None,
    };
    Ok(Json(EquipmentKpi {
        equipment_id: id,
        code: equipment.code,
        ideal_cycle_s: pri_s,
        timezone: site.timezone,
        shifts: out,
        total,
    }))
}
