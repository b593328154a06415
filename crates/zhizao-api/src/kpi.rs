//! KPIs over HTTP: a site's calendar, and one machine's ISO 22400-2 time
//! elements, quantities and KPIs per planned shift over a period, computed
//! from the state changes and counters the platform recorded. The formulas
//! and conventions are in `docs/kpis.md`; the computing is in `zhizao-kpi`.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use zhizao_core::{Calendar, ShiftPattern};
use zhizao_kpi::accounting::Accounted;
use zhizao_kpi::calendar::{PlannedShift, SiteCalendar};
use zhizao_kpi::{Failures, Inputs, Kpis, Quantities, TimeElements};

use crate::AppState;
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{IdPath, QueryMap, ValidJson};
use crate::history::{ShiftCache, machine_shifts};
use crate::series::TimeArg;

/// Longest period one request may cover.
const MAX_PERIOD_MS: i64 = 93 * 86_400_000;

/// The calendar a site without one works to: three 8-hour shifts, every day.
pub(crate) fn default_calendar() -> Calendar {
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

pub(crate) fn calendar_error(e: zhizao_kpi::calendar::CalendarError) -> ApiError {
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

pub(crate) fn time_param(
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

/// `from` and `to` of a request (default: the `default_span_ms` up to
/// now); `to` is cut at now, and the period must be short enough.
pub(crate) fn period_params(
    q: &HashMap<String, String>,
    default_span_ms: i64,
) -> Result<(i64, i64), ApiError> {
    let now = zhizao_live::now_ms();
    let to = time_param(q, "to", now)?.min(now);
    let from = time_param(q, "from", to - default_span_ms)?;
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
    Ok((from, to))
}

/// A period's elements, quantities and KPIs in seconds, as the API gives
/// them.
pub(crate) fn period(
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

pub(crate) fn ideal_cycle_s(e: &zhizao_core::Equipment) -> Option<f64> {
    e.attributes
        .get("ideal_cycle_s")
        .and_then(serde_json::Value::as_f64)
        .filter(|x| *x > 0.0)
}

/// Shifts or machines summed: elements, losses, failures and quantities
/// add up; the ideal time Σ PRI × PQ is kept so a sum of machines with
/// different cycle times still has a right effectiveness.
#[derive(Default)]
pub(crate) struct MachineSum {
    pub(crate) accounted: Accounted,
    pub(crate) quantities: Quantities,
    /// Σ PRI × PQ in seconds; `None` once a machine without PRI produced.
    pub(crate) ideal_s: Option<f64>,
    /// Σ PBT / PRI: the pieces the machines would have made at their ideal
    /// cycle time in their planned busy time; `None` once a machine
    /// without PRI was planned.
    pub(crate) ideal_output: Option<f64>,
    pub(crate) any: bool,
}

impl MachineSum {
    pub(crate) fn add(&mut self, a: &Accounted, q: &Quantities, pri_s: Option<f64>) {
        let t = &mut self.accounted;
        t.time = t.time.add(&a.time);
        t.breakdown += a.breakdown;
        t.minor_stop += a.minor_stop;
        t.blocked += a.blocked;
        t.starved += a.starved;
        t.no_data += a.no_data;
        t.failures += a.failures;
        t.restoration_times.extend(&a.restoration_times);
        t.operating_intervals.extend(&a.operating_intervals);
        let s = &mut self.quantities;
        s.pq += q.pq;
        s.gq += q.gq;
        s.sq += q.sq;
        s.rq += q.rq;
        let ideal = match pri_s {
            Some(p) => Some(p * q.pq),
            None if q.pq == 0.0 => Some(0.0),
            None => None,
        };
        self.ideal_s = if self.any {
            self.ideal_s.zip(ideal).map(|(x, y)| x + y)
        } else {
            ideal
        };
        // Time elements are in ms here, PRI in seconds.
        let could = match pri_s {
            Some(p) => Some(a.time.pbt / 1000.0 / p),
            None if a.time.pbt == 0.0 => Some(0.0),
            None => None,
        };
        self.ideal_output = if self.any {
            self.ideal_output.zip(could).map(|(x, y)| x + y)
        } else {
            could
        };
        self.any = true;
    }

    /// The one PRI that gives the sum's ideal time.
    pub(crate) fn pri_s(&self) -> Option<f64> {
        let pq = self.quantities.pq;
        self.ideal_s.filter(|_| pq > 0.0).map(|i| i / pq)
    }
}

/// A site's calendar (the default when none is set) in its time zone.
pub(crate) async fn site_calendar(
    s: &AppState,
    tenant: i64,
    site: &zhizao_core::Site,
) -> Result<SiteCalendar, ApiError> {
    let calendar = s
        .store
        .site_calendar(tenant, site.id)
        .await?
        .unwrap_or_else(default_calendar);
    SiteCalendar::new(calendar, &site.timezone).map_err(calendar_error)
}

/// A site's planned shifts that overlap `[from, to)`, cut to it: only
/// the part inside the request counts.
pub(crate) async fn site_shifts(
    s: &AppState,
    tenant: i64,
    site: &zhizao_core::Site,
    from: i64,
    to: i64,
) -> Result<Vec<PlannedShift>, ApiError> {
    Ok(site_calendar(s, tenant, site)
        .await?
        .shifts_between(from, to)
        .map_err(calendar_error)?
        .into_iter()
        .map(|mut sh| {
            sh.start_ms = sh.start_ms.max(from);
            sh.end_ms = sh.end_ms.min(to);
            sh
        })
        .filter(|sh| sh.end_ms > sh.start_ms)
        .collect())
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
    let (from, to) = period_params(&q, 86_400_000)?;
    let equipment = s.store.get_equipment(tenant, id).await?;
    let layout = s.store.layout(tenant).await?;
    let site = layout
        .site_of_line(equipment.line_id)
        .cloned()
        .ok_or_else(|| ApiError::unavailable("the equipment's site was not found"))?;
    let shifts = site_shifts(&s, tenant, &site, from, to).await?;
    let pri_s = ideal_cycle_s(&equipment);
    let per_shift = machine_shifts(&s, tenant, &equipment, &shifts, from, to).await?;
    let mut out = Vec::with_capacity(shifts.len());
    let mut sum = MachineSum::default();
    for (sh, (a, quantities)) in shifts.iter().zip(&per_shift) {
        out.push(period(
            Some(sh),
            (sh.start_ms, sh.end_ms),
            a,
            *quantities,
            pri_s,
        ));
        sum.add(a, quantities, pri_s);
    }
    let (sum_a, sum_q) = (sum.accounted, sum.quantities);
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

#[derive(Debug, Serialize, ToSchema)]
pub struct LineShiftKpi {
    pub line_id: i64,
    pub code: String,
    pub name: String,
    pub site_id: i64,
    /// The running shift of the line's site; `null` when none is running.
    pub date: Option<String>,
    pub shift: Option<String>,
    pub machines: usize,
    /// The line's machines summed over the running shift up to now.
    pub period: Option<PeriodKpi>,
    /// Pieces the line would have made so far at its machines' ideal cycle
    /// times in their planned busy time; `null` when a machine has none.
    pub ideal_output: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LineShiftKpis {
    pub items: Vec<LineShiftKpi>,
}

/// Every line's KPIs for its site's running shift, up to now: the line's
/// machines' time elements and quantities summed, then the KPIs of the
/// sums (effectiveness uses each machine's own ideal cycle time).
#[utoipa::path(get, path = "/kpi/lines", tag = "kpi", security(("bearer" = [])),
    responses((status = 200, body = LineShiftKpis)))]
pub async fn line_kpis(
    State(s): State<AppState>,
    u: AuthUser,
) -> Result<Json<LineShiftKpis>, ApiError> {
    Ok(Json(LineShiftKpis {
        items: running_line_kpis(&s, u.tenant(), None).await?,
    }))
}

/// Every line's KPIs for its site's running shift, up to now. With a
/// cache (the live push), machines' shifts are kept between calls and
/// only what is new is read.
async fn running_line_kpis(
    s: &AppState,
    tenant: i64,
    mut cache: Option<&mut ShiftCache>,
) -> Result<Vec<LineShiftKpi>, ApiError> {
    let now = zhizao_live::now_ms();
    let layout = s.store.layout(tenant).await?;
    let mut tree = None;
    if let Some(c) = cache.as_deref_mut() {
        let codes: HashMap<String, i64> = layout
            .equipment
            .iter()
            .map(|e| (e.code.clone(), e.id))
            .collect();
        c.refresh(s, tenant, &codes, now).await?;
    }
    let mut running: HashMap<i64, Option<PlannedShift>> = HashMap::new();
    for site in &layout.sites {
        let shift = site_calendar(s, tenant, site)
            .await?
            .shifts_between(now - 1, now)
            .map_err(calendar_error)?
            .into_iter()
            .find(|sh| sh.start_ms <= now && now < sh.end_ms)
            .map(|mut sh| {
                sh.end_ms = now;
                sh
            });
        running.insert(site.id, shift);
    }
    let mut items = Vec::with_capacity(layout.lines.len());
    for line in &layout.lines {
        let Some(site) = layout.site_of_line(line.id) else {
            continue;
        };
        let shift = running.get(&site.id).cloned().flatten();
        let machines: Vec<&zhizao_core::Equipment> = layout
            .equipment
            .iter()
            .filter(|e| e.line_id == line.id)
            .collect();
        let mut period_kpi = None;
        let mut ideal_output = None;
        if let Some(sh) = &shift {
            let mut sum = MachineSum::default();
            for e in &machines {
                let one = match cache.as_deref_mut() {
                    Some(c) => {
                        let h = c.machine(s, tenant, e, sh.start_ms).await?;
                        if h.has_reasons() && tree.is_none() {
                            tree = Some(crate::reasons::tree_of(s, tenant).await?.0);
                        }
                        h.account(std::slice::from_ref(sh), now, tree.as_ref())?
                    }
                    None => {
                        machine_shifts(
                            s,
                            tenant,
                            e,
                            std::slice::from_ref(sh),
                            sh.start_ms,
                            sh.end_ms,
                        )
                        .await?
                    }
                };
                for (a, q) in &one {
                    sum.add(a, q, ideal_cycle_s(e));
                }
            }
            if sum.any {
                ideal_output = sum.ideal_output.map(f64::floor);
                period_kpi = Some(period(
                    Some(sh),
                    (sh.start_ms, sh.end_ms),
                    &sum.accounted,
                    sum.quantities,
                    sum.pri_s(),
                ));
            }
        }
        items.push(LineShiftKpi {
            line_id: line.id,
            code: line.code.clone(),
            name: line.name.clone(),
            site_id: site.id,
            date: shift.as_ref().map(|x| x.date.clone()),
            shift: shift.as_ref().map(|x| x.shift.clone()),
            machines: machines.len(),
            period: period_kpi,
            ideal_output,
        });
    }
    Ok(items)
}

/// Pushes each line's running-shift KPIs to live subscribers, when they
/// changed. It keeps every machine's running shift between rounds, so a
/// round reads only what is new (see `history`).
#[derive(Debug, Default)]
pub struct LineKpiPusher {
    last: HashMap<(i64, i64), String>,
    caches: HashMap<i64, ShiftCache>,
}

impl LineKpiPusher {
    /// One round over every tenant; returns how many lines were pushed.
    pub async fn round(&mut self, s: &AppState) -> usize {
        let tenants = match s.store.tenant_ids().await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, "KPI push: tenants unavailable");
                return 0;
            }
        };
        let mut pushed = 0;
        for tenant in tenants {
            let cache = self.caches.entry(tenant).or_default();
            let items = match running_line_kpis(s, tenant, Some(cache)).await {
                Ok(i) => i,
                Err(e) => {
                    tracing::warn!(tenant, error = %e.message, "KPI push skipped");
                    continue;
                }
            };
            for item in items {
                let Some(p) = item.period else { continue };
                let fingerprint =
                    serde_json::to_string(&(&p.kpis, &p.quantities)).unwrap_or_default();
                if self.last.get(&(tenant, item.line_id)) == Some(&fingerprint) {
                    continue;
                }
                self.last.insert((tenant, item.line_id), fingerprint);
                s.hub.line_kpi(
                    zhizao_live::Placement {
                        tenant_id: tenant,
                        site_id: item.site_id,
                        line_id: item.line_id,
                        equipment_id: 0,
                    },
                    zhizao_live::LineKpiUpdate {
                        ideal_output: item.ideal_output,
                        date: item.date,
                        shift: item.shift,
                        start: p.start,
                        end: p.end,
                        kpis: p.kpis,
                        quantities: p.quantities,
                    },
                );
                pushed += 1;
            }
        }
        pushed
    }
}

/// Every line's running-shift KPIs computed by reading each machine's
/// shift whole, as `GET /api/v1/kpi/lines` does (for comparison with the
/// push's rounds in benchmarks).
pub async fn whole_line_kpis(s: &AppState, tenant: i64) -> Result<usize, ApiError> {
    Ok(running_line_kpis(s, tenant, None).await?.len())
}

/// Runs a [`LineKpiPusher`] round every `every` until the task is dropped;
/// each round's time goes to the `kpi_push_round_seconds` metric.
pub async fn push_line_kpis(s: AppState, every: std::time::Duration) {
    let mut pusher = LineKpiPusher::default();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        let started = std::time::Instant::now();
        pusher.round(&s).await;
        s.metrics
            .kpi_push_round
            .observe(started.elapsed().as_secs_f64());
    }
}
