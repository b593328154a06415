//! KPI reports over more than one machine and more than one shift: a
//! site, area, line or machine rolled up by shift, day, week or month, and
//! the downtime Pareto (stop time by reason). Machines and shifts are
//! summed as time elements and quantities first, and the KPIs computed
//! from the sums, so a month is not an average of shift percentages.

use std::collections::{BTreeMap, HashMap, HashSet};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use zhizao_core::{Equipment, Line};
use zhizao_kpi::calendar::{PlannedShift, Rollup};
use zhizao_kpi::reasons::Reason;
use zhizao_store::Layout;

use crate::AppState;
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::QueryMap;
use crate::history::machine_shifts;
use crate::kpi::{
    MachineSum, PeriodKpi, calendar_error, ideal_cycle_s, period, period_params, site_shifts,
};
use crate::reasons::{is_stop, tree_of};

/// The part of the plant a report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    All,
    Site(i64),
    Area(i64),
    Line(i64),
    Equipment(i64),
}

fn scope_param(q: &HashMap<String, String>) -> Result<Scope, ApiError> {
    let Some(text) = q.get("scope") else {
        return Ok(Scope::All);
    };
    let bad = || {
        ApiError::validation(
            "scope",
            format!("`{text}` is not one of all, site:ID, area:ID, line:ID, equipment:ID"),
        )
    };
    if text == "all" {
        return Ok(Scope::All);
    }
    let (kind, id) = text.split_once(':').ok_or_else(bad)?;
    let id: i64 = id.parse().map_err(|_| bad())?;
    match kind {
        "site" => Ok(Scope::Site(id)),
        "area" => Ok(Scope::Area(id)),
        "line" => Ok(Scope::Line(id)),
        "equipment" => Ok(Scope::Equipment(id)),
        _ => Err(bad()),
    }
}

/// The scope's name and its machines; an id the tenant does not have is
/// not found.
fn machines_in(layout: &Layout, scope: Scope) -> Result<(String, Vec<&Equipment>), ApiError> {
    let missing = |what: &str, id: i64| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} {id} not found"),
        )
        .with_field("scope")
    };
    let site_of_area: HashMap<i64, i64> = layout.areas.iter().map(|a| (a.id, a.site_id)).collect();
    let on_lines = |keep: &dyn Fn(&Line) -> bool| -> Vec<&Equipment> {
        let lines: HashSet<i64> = layout
            .lines
            .iter()
            .filter(|l| keep(l))
            .map(|l| l.id)
            .collect();
        layout
            .equipment
            .iter()
            .filter(|e| lines.contains(&e.line_id))
            .collect()
    };
    Ok(match scope {
        Scope::All => (String::new(), layout.equipment.iter().collect()),
        Scope::Site(id) => {
            let site = layout
                .sites
                .iter()
                .find(|s| s.id == id)
                .ok_or_else(|| missing("site", id))?;
            let machines = on_lines(&|l| site_of_area.get(&l.area_id) == Some(&id));
            (site.name.clone(), machines)
        }
        Scope::Area(id) => {
            let area = layout
                .areas
                .iter()
                .find(|a| a.id == id)
                .ok_or_else(|| missing("area", id))?;
            (area.name.clone(), on_lines(&|l| l.area_id == id))
        }
        Scope::Line(id) => {
            let line = layout
                .lines
                .iter()
                .find(|l| l.id == id)
                .ok_or_else(|| missing("line", id))?;
            (line.name.clone(), on_lines(&|l| l.id == id))
        }
        Scope::Equipment(id) => {
            let e = layout
                .equipment
                .iter()
                .find(|e| e.id == id)
                .ok_or_else(|| missing("equipment", id))?;
            (e.name.clone(), vec![e])
        }
    })
}

/// The planned shifts in `[from, to)` of each site the machines stand in,
/// read once per site.
async fn shifts_of_sites(
    s: &AppState,
    tenant: i64,
    layout: &Layout,
    machines: &[&Equipment],
    from: i64,
    to: i64,
) -> Result<HashMap<i64, Vec<PlannedShift>>, ApiError> {
    let mut out = HashMap::new();
    for e in machines {
        if let Some(site) = layout.site_of_line(e.line_id)
            && !out.contains_key(&site.id)
        {
            out.insert(site.id, site_shifts(s, tenant, site, from, to).await?);
        }
    }
    Ok(out)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KpiReportRow {
    /// The period: `2026-11-30 A` (shift), `2026-11-30` (day), `2026-W49`
    /// (ISO week) or `2026-11` (month), by the local date a shift starts on.
    pub key: String,
    pub kpi: PeriodKpi,
    /// Pieces the machines would have made at their ideal cycle times in
    /// their planned busy time; `null` when one has none.
    pub ideal_output: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KpiReport {
    pub scope: String,
    /// The site's, area's, line's or machine's name; empty for all.
    pub name: String,
    /// shift, day, week or month.
    pub rollup: String,
    pub from: i64,
    pub to: i64,
    pub machines: usize,
    /// One row per period, in time order; periods without planned shifts
    /// have none.
    pub rows: Vec<KpiReportRow>,
    /// Every row summed.
    pub total: Option<PeriodKpi>,
}

struct Bucket {
    start: i64,
    end: i64,
    first: PlannedShift,
    sum: MachineSum,
}

/// ISO 22400-2 KPIs of a site, area, line or machine (default: every
/// machine) per shift, day, week or month in `[from, to)` (default: the
/// last 7 days). Time elements and quantities are summed over machines and
/// shifts, then the KPIs computed from the sums.
#[utoipa::path(get, path = "/kpi/report", tag = "kpi", security(("bearer" = [])),
    params(("scope" = Option<String>, Query, description = "all | site:ID | area:ID | line:ID | equipment:ID"),
           ("rollup" = Option<String>, Query, description = "shift | day (default) | week | month"),
           ("from" = Option<String>, Query, description = "epoch ms, RFC 3339, or -7d"),
           ("to" = Option<String>, Query, description = "epoch ms, RFC 3339, or now")),
    responses((status = 200, body = KpiReport), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn kpi_report(
    State(s): State<AppState>,
    u: AuthUser,
    QueryMap(q): QueryMap,
) -> Result<Json<KpiReport>, ApiError> {
    let tenant = u.tenant();
    let scope = scope_param(&q)?;
    let rollup: Rollup = q
        .get("rollup")
        .map_or(Ok(Rollup::Day), |r| r.parse())
        .map_err(|m| ApiError::validation("rollup", m))?;
    let (from, to) = period_params(&q, 7 * 86_400_000)?;
    let layout = s.store.layout(tenant).await?;
    let (name, machines) = machines_in(&layout, scope)?;
    let shifts_of_site = shifts_of_sites(&s, tenant, &layout, &machines, from, to).await?;
    let mut buckets: BTreeMap<String, Bucket> = BTreeMap::new();
    let mut total = MachineSum::default();
    let mut span: Option<(i64, i64)> = None;
    for e in &machines {
        let Some(shifts) = layout
            .site_of_line(e.line_id)
            .and_then(|site| shifts_of_site.get(&site.id))
        else {
            continue;
        };
        let pri = ideal_cycle_s(e);
        let per_shift = machine_shifts(&s, tenant, e, shifts, from, to).await?;
        for (sh, (a, quantities)) in shifts.iter().zip(&per_shift) {
            let key = sh.rollup_key(rollup).map_err(calendar_error)?;
            let b = buckets.entry(key).or_insert_with(|| Bucket {
                start: sh.start_ms,
                end: sh.end_ms,
                first: sh.clone(),
                sum: MachineSum::default(),
            });
            b.start = b.start.min(sh.start_ms);
            b.end = b.end.max(sh.end_ms);
            b.sum.add(a, quantities, pri);
            total.add(a, quantities, pri);
            span = Some(span.map_or((sh.start_ms, sh.end_ms), |(x, y)| {
                (x.min(sh.start_ms), y.max(sh.end_ms))
            }));
        }
    }
    // In time order: shift codes need not sort as their start times do.
    let mut buckets: Vec<(String, Bucket)> = buckets.into_iter().collect();
    buckets.sort_by_key(|(_, b)| b.start);
    let rows = buckets
        .into_iter()
        .map(|(key, b)| {
            let shift = (rollup == Rollup::Shift).then_some(&b.first);
            let mut kpi = period(
                shift,
                (b.start, b.end),
                &b.sum.accounted,
                b.sum.quantities,
                b.sum.pri_s(),
            );
            if rollup == Rollup::Day {
                kpi.date = Some(key.clone());
            }
            KpiReportRow {
                key,
                kpi,
                ideal_output: b.sum.ideal_output.map(f64::floor),
            }
        })
        .collect();
    let total = span.map(|(a, b)| {
        period(
            None,
            (a, b),
            &total.accounted,
            total.quantities,
            total.pri_s(),
        )
    });
    Ok(Json(KpiReport {
        scope: q.get("scope").cloned().unwrap_or_else(|| "all".into()),
        name,
        rollup: format!("{rollup:?}").to_lowercase(),
        from,
        to,
        machines: machines.len(),
        rows,
        total,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DowntimeItem {
    /// The reason's code, or `state:<state>` for stops nobody explained.
    pub key: String,
    #[schema(value_type = Option<Object>)]
    pub reason: Option<Reason>,
    /// The machine state of unexplained stops.
    pub state: Option<String>,
    pub seconds: f64,
    pub stops: usize,
    /// This item's part of all stop time, and the running total of parts
    /// down the list (the Pareto line), 0 to 1.
    pub share: f64,
    pub cumulative_share: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DowntimePareto {
    pub scope: String,
    pub name: String,
    pub from: i64,
    pub to: i64,
    pub machines: usize,
    pub total_seconds: f64,
    pub stops: usize,
    /// Longest first.
    pub items: Vec<DowntimeItem>,
}

/// The working time of planned shifts: each shift without its breaks.
fn working_windows(shifts: &[PlannedShift]) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    for sh in shifts {
        let mut at = sh.start_ms;
        let mut breaks = sh.breaks.clone();
        breaks.sort_unstable();
        for (b0, b1) in breaks {
            if b0 > at {
                out.push((at, b0.min(sh.end_ms)));
            }
            at = at.max(b1);
        }
        if sh.end_ms > at {
            out.push((at, sh.end_ms));
        }
    }
    out
}

/// How much of `[a, b)` falls in the windows (sorted, disjoint), in ms.
fn overlap(windows: &[(i64, i64)], a: i64, b: i64) -> i64 {
    windows
        .iter()
        .map(|&(w0, w1)| (b.min(w1) - a.max(w0)).max(0))
        .sum()
}

/// Stop time of one reason (or unexplained state), in ms.
struct Tally {
    reason: Option<Reason>,
    state: Option<String>,
    ms: i64,
    stops: usize,
}

/// Stop time (every state but running and setup) of a site, area, line or
/// machine in `[from, to)` (default: the last 24 hours) by the reason
/// operators gave, or by state where none was given, longest first. Only
/// time in planned shifts counts, breaks left out, as in the KPIs; a stop
/// that began before `from` counts from `from`.
#[utoipa::path(get, path = "/kpi/downtime", tag = "kpi", security(("bearer" = [])),
    params(("scope" = Option<String>, Query, description = "all | site:ID | area:ID | line:ID | equipment:ID"),
           ("from" = Option<String>, Query, description = "epoch ms, RFC 3339, or -8h"),
           ("to" = Option<String>, Query, description = "epoch ms, RFC 3339, or now")),
    responses((status = 200, body = DowntimePareto), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn downtime_pareto(
    State(s): State<AppState>,
    u: AuthUser,
    QueryMap(q): QueryMap,
) -> Result<Json<DowntimePareto>, ApiError> {
    let tenant = u.tenant();
    let scope = scope_param(&q)?;
    let (from, to) = period_params(&q, 86_400_000)?;
    let layout = s.store.layout(tenant).await?;
    let (name, machines) = machines_in(&layout, scope)?;
    let (tree, _) = tree_of(&s, tenant).await?;
    let mut by_key: HashMap<String, Tally> = HashMap::new();
    let windows_of_site: HashMap<i64, Vec<(i64, i64)>> =
        shifts_of_sites(&s, tenant, &layout, &machines, from, to)
            .await?
            .into_iter()
            .map(|(site, shifts)| (site, working_windows(&shifts)))
            .collect();
    for e in &machines {
        let Some(windows) = layout
            .site_of_line(e.line_id)
            .and_then(|site| windows_of_site.get(&site.id))
        else {
            continue;
        };
        let (before, events) = s.store.state_events_between(tenant, e.id, from, to).await?;
        let since = before.as_ref().map_or(from, |b| b.ts.min(from));
        let given = s
            .store
            .stop_reasons_between(tenant, e.id, since, to)
            .await?;
        // (began, counted from, state); each lasts until the next change.
        let mut runs: Vec<(i64, i64, &str)> = Vec::with_capacity(events.len() + 1);
        if let Some(b) = &before {
            runs.push((b.ts, from, &b.state));
        }
        runs.extend(events.iter().map(|ev| (ev.ts, ev.ts, ev.state.as_str())));
        for (i, &(began, counted_from, state)) in runs.iter().enumerate() {
            let end = runs.get(i + 1).map_or(to, |next| next.1);
            let ms = overlap(windows, counted_from, end);
            if ms <= 0 || !is_stop(state) {
                continue;
            }
            let reason = given
                .iter()
                .find(|r| r.stop_ts == began)
                .and_then(|r| tree.get(&r.code));
            let key = reason.map_or_else(|| format!("state:{state}"), |r| r.code.clone());
            let item = by_key.entry(key).or_insert_with(|| Tally {
                reason: reason.cloned(),
                state: reason.is_none().then(|| state.to_owned()),
                ms: 0,
                stops: 0,
            });
            item.ms += ms;
            item.stops += 1;
        }
    }
    let total_ms: i64 = by_key.values().map(|v| v.ms).sum();
    let mut ranked: Vec<(String, Tally)> = by_key.into_iter().collect();
    ranked.sort_by(|a, b| b.1.ms.cmp(&a.1.ms).then(a.0.cmp(&b.0)));
    let part = |ms: i64| {
        if total_ms > 0 {
            ms as f64 / total_ms as f64
        } else {
            0.0
        }
    };
    let mut running_ms = 0;
    let items: Vec<DowntimeItem> = ranked
        .into_iter()
        .map(|(key, t)| {
            running_ms += t.ms;
            DowntimeItem {
                key,
                reason: t.reason,
                state: t.state,
                seconds: t.ms as f64 / 1000.0,
                stops: t.stops,
                share: part(t.ms),
                cumulative_share: part(running_ms),
            }
        })
        .collect();
    Ok(Json(DowntimePareto {
        scope: q.get("scope").cloned().unwrap_or_else(|| "all".into()),
        name,
        from,
        to,
        machines: machines.len(),
        total_seconds: total_ms as f64 / 1000.0,
        stops: items.iter().map(|i| i.stops).sum(),
        items,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_time_counts_only_in_shifts_without_breaks() {
        let shift = |start: i64, end: i64, breaks: Vec<(i64, i64)>| PlannedShift {
            date: "2026-11-30".into(),
            shift: "A".into(),
            start_ms: start,
            end_ms: end,
            breaks,
        };
        let w = working_windows(&[shift(0, 100, vec![(40, 50)]), shift(200, 300, vec![])]);
        assert_eq!(w, [(0, 40), (50, 100), (200, 300)]);
        // Through a break and the time between shifts.
        assert_eq!(overlap(&w, 30, 250), 10 + 50 + 50);
        assert_eq!(overlap(&w, 100, 200), 0);
        assert_eq!(overlap(&w, 40, 50), 0);
    }
}
