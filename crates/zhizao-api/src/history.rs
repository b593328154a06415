//! What a machine's KPIs are computed from over a period: its recorded
//! state changes, the reasons given to its stops and its part counters.
//! A request reads a period whole. The live push keeps each machine's
//! running shift and reads only what is new each round, so its cost grows
//! with the plant's new data, not with the shift's length.

use std::collections::{BTreeMap, HashMap};

use zhizao_core::{Equipment, MachineState};
use zhizao_kpi::accounting::Accounted;
use zhizao_kpi::calendar::{PlannedShift, account_shifts};
use zhizao_kpi::reasons::ReasonTree;
use zhizao_kpi::states::{MINOR_STOP_MS, apply_reasons, counter_increase, intervals};
use zhizao_kpi::{Quantities, StateClass};
use zhizao_tsdb::{Aggregate, Query};

use crate::AppState;
use crate::error::ApiError;

/// The counters that give good, scrap and rework quantities.
pub(crate) const COUNTERS: [&str; 3] = ["count_good", "count_scrap", "count_rework"];

/// A counter's last value before the period and its values in it, by ms.
#[derive(Debug, Clone, Default)]
struct Counter {
    before: Option<f64>,
    points: BTreeMap<i64, f64>,
}

impl Counter {
    /// The increase inside `[a, b)` (a fall is a reset).
    fn increase_in(&self, a: i64, b: i64) -> f64 {
        let prior = self
            .points
            .range(..a)
            .next_back()
            .map(|(_, v)| *v)
            .or(self.before);
        let inside: Vec<f64> = self.points.range(a..b.max(a)).map(|(_, v)| *v).collect();
        counter_increase(prior, &inside)
    }
}

/// Unknown state text (a newer gateway's) counts as no data.
fn state_of(text: &str) -> MachineState {
    text.parse().unwrap_or(MachineState::Offline)
}

#[derive(Debug, Clone, Default)]
pub(crate) struct MachineHistory {
    /// Start of the period.
    from: i64,
    /// The last change before the period: when, and to what.
    before: Option<(i64, MachineState)>,
    /// Changes in the period, by time.
    changes: BTreeMap<i64, MachineState>,
    /// Reason codes by the time their stop began.
    reasons: BTreeMap<i64, String>,
    counters: HashMap<&'static str, Counter>,
}

impl MachineHistory {
    /// Reads one machine's history over `[from, to)`.
    pub(crate) async fn read(
        s: &AppState,
        tenant: i64,
        equipment: &Equipment,
        from: i64,
        to: i64,
    ) -> Result<MachineHistory, ApiError> {
        let (before, changes) = s
            .store
            .state_events_between(tenant, equipment.id, from, to)
            .await?;
        // A stop in force at `from` may have been explained before it.
        let since = before.as_ref().map_or(from, |e| e.ts.min(from));
        let reasons = s
            .store
            .stop_reasons_between(tenant, equipment.id, since, to)
            .await?;
        let mut counters = HashMap::new();
        for field in COUNTERS {
            let before = counter_before(s, tenant, &equipment.code, field, from)?;
            let mut points = BTreeMap::new();
            for (_, ts, v) in counter_points(s, tenant, Some(&equipment.code), field, from, to)? {
                points.insert(ts, v);
            }
            counters.insert(field, Counter { before, points });
        }
        Ok(MachineHistory {
            from,
            before: before.map(|e| (e.ts, state_of(&e.state))),
            changes: changes.iter().map(|e| (e.ts, state_of(&e.state))).collect(),
            reasons: reasons.into_iter().map(|r| (r.stop_ts, r.code)).collect(),
            counters,
        })
    }

    /// A change read late: inside the period, or a newer state the period
    /// starts in.
    fn add_change(&mut self, ts: i64, state: MachineState) {
        if ts >= self.from {
            self.changes.insert(ts, state);
        } else if self.before.is_none_or(|(b, _)| ts >= b) {
            self.before = Some((ts, state));
        }
    }

    /// When the reasons that matter to this period may have been given
    /// from: the start of the stop in force at its start.
    fn reasons_since(&self) -> i64 {
        self.before.map_or(self.from, |(ts, _)| ts.min(self.from))
    }

    pub(crate) fn has_reasons(&self) -> bool {
        !self.reasons.is_empty()
    }

    /// Time elements and quantities per shift (each inside `[from, to)`),
    /// stops counted as their reasons say (`tree` is needed only when
    /// some were given).
    pub(crate) fn account(
        &self,
        shifts: &[PlannedShift],
        to: i64,
        tree: Option<&ReasonTree>,
    ) -> Result<Vec<(Accounted, Quantities)>, ApiError> {
        let changes: Vec<(i64, MachineState)> =
            self.changes.iter().map(|(ts, s)| (*ts, *s)).collect();
        let mut states = intervals(
            self.before.map(|(_, s)| s),
            &changes,
            self.from,
            to,
            MINOR_STOP_MS,
        );
        if let Some(tree) = tree {
            let explained: Vec<(i64, StateClass)> = self
                .reasons
                .iter()
                .filter_map(|(ts, code)| Some((*ts, tree.get(code)?.class.state_class())))
                .collect();
            apply_reasons(&mut states, &explained);
        }
        let accounted = account_shifts(shifts, &[], &states)
            .map_err(|e| ApiError::unavailable(format!("recorded states: {e}")))?;
        Ok(shifts
            .iter()
            .zip(accounted)
            .map(|(sh, a)| {
                let inc = |f: &str| {
                    self.counters
                        .get(f)
                        .map_or(0.0, |c| c.increase_in(sh.start_ms, sh.end_ms))
                };
                let (gq, sq, rq) = (inc(COUNTERS[0]), inc(COUNTERS[1]), inc(COUNTERS[2]));
                let q = Quantities {
                    pq: gq + sq + rq,
                    gq,
                    sq,
                    rq,
                    ..Quantities::default()
                };
                (a, q)
            })
            .collect())
    }
}

/// One machine's accounted shifts and quantities over `[from, to)`, read
/// whole.
pub(crate) async fn machine_shifts(
    s: &AppState,
    tenant: i64,
    equipment: &Equipment,
    shifts: &[PlannedShift],
    from: i64,
    to: i64,
) -> Result<Vec<(Accounted, Quantities)>, ApiError> {
    let history = MachineHistory::read(s, tenant, equipment, from, to).await?;
    let tree = if history.has_reasons() {
        Some(crate::reasons::tree_of(s, tenant).await?.0)
    } else {
        None
    };
    history.account(shifts, to, tree.as_ref())
}

fn unavailable(e: zhizao_tsdb::QueryError) -> ApiError {
    ApiError::unavailable(e.to_string())
}

/// A counter's last value before `from` (ms).
fn counter_before(
    s: &AppState,
    tenant: i64,
    code: &str,
    field: &str,
    from: i64,
) -> Result<Option<f64>, ApiError> {
    Ok(s.tsdb
        .query(
            tenant,
            &Query {
                measurement: "telemetry".into(),
                fields: vec![field.into()],
                filter: vec![("equipment".into(), code.into())],
                end: Some(from.saturating_mul(1_000_000)),
                aggregate: Some(Aggregate::Last),
                ..Query::default()
            },
        )
        .map_err(unavailable)?
        .series
        .first()
        .and_then(|x| x.points.first())
        .and_then(|(_, v)| v.as_ref()?.as_f64()))
}

/// Raw values of one counter field in `[from, to)` (ms), of one machine or
/// of every machine: (equipment code, ms, value).
fn counter_points(
    s: &AppState,
    tenant: i64,
    code: Option<&str>,
    field: &str,
    from: i64,
    to: i64,
) -> Result<Vec<(String, i64, f64)>, ApiError> {
    let base = Query {
        measurement: "telemetry".into(),
        fields: vec![field.into()],
        filter: code
            .map(|c| vec![("equipment".to_owned(), c.to_owned())])
            .unwrap_or_default(),
        start: Some(from.saturating_mul(1_000_000)),
        end: Some(to.saturating_mul(1_000_000)),
        limit: Some(100_000),
        ..Query::default()
    };
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = s
            .tsdb
            .query(
                tenant,
                &Query {
                    cursor: cursor.take(),
                    ..base.clone()
                },
            )
            .map_err(unavailable)?;
        for series in &page.series {
            let Some(code) = series.tags.get("equipment") else {
                continue;
            };
            out.extend(
                series.points.iter().filter_map(|(ts, v)| {
                    Some((code.clone(), ts / 1_000_000, v.as_ref()?.as_f64()?))
                }),
            );
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    Ok(out)
}

/// Counter values may reach history this late (a gateway's batch may lag);
/// each round reads this far back again.
const OVERLAP_MS: i64 = 10_000;
/// State changes are read by the number they were recorded under; this
/// much by time as well catches one another node committed out of number
/// order.
const STATE_OVERLAP_MS: i64 = 2_000;
/// Everything is read whole again this often, which also picks up data
/// that arrived later than the overlap.
const FULL_READ_MS: i64 = 5 * 60_000;

/// The live push's copy of every machine's running shift for one tenant.
#[derive(Debug, Default)]
pub(crate) struct ShiftCache {
    /// Equipment id → its history since its running shift began.
    machines: HashMap<i64, MachineHistory>,
    read_to: i64,
    /// The number of the last state change read.
    last_event: i64,
    full_at: i64,
}

impl ShiftCache {
    /// Brings every kept machine up to `now` with one read of each kind
    /// for the whole tenant, or forgets them all when a whole read is due.
    pub(crate) async fn refresh(
        &mut self,
        s: &AppState,
        tenant: i64,
        codes: &HashMap<String, i64>,
        now: i64,
    ) -> Result<(), ApiError> {
        if self.machines.is_empty() || now - self.full_at >= FULL_READ_MS {
            // Numbered before the whole reads: what is recorded meanwhile
            // is read again next round, which is harmless.
            self.last_event = s.store.last_state_event_id().await?;
            self.machines.clear();
            self.full_at = now;
            self.read_to = now;
            return Ok(());
        }
        let since = self.read_to - OVERLAP_MS;
        for (id, e) in s
            .store
            .state_events_recorded_after(tenant, self.last_event, self.read_to - STATE_OVERLAP_MS)
            .await?
        {
            self.last_event = self.last_event.max(id);
            if let Some(h) = self.machines.get_mut(&e.equipment_id) {
                h.add_change(e.ts, state_of(&e.state));
            }
        }
        let reasons_since = self
            .machines
            .values()
            .map(MachineHistory::reasons_since)
            .min()
            .unwrap_or(since);
        let given = s
            .store
            .stop_reasons_of_tenant_between(tenant, reasons_since, now)
            .await?;
        for h in self.machines.values_mut() {
            h.reasons.clear();
        }
        for r in given {
            if let Some(h) = self.machines.get_mut(&r.equipment_id)
                && r.stop_ts >= h.reasons_since()
            {
                h.reasons.insert(r.stop_ts, r.code);
            }
        }
        for field in COUNTERS {
            for (code, ts, v) in counter_points(s, tenant, None, field, since, now)? {
                if let Some(h) = codes.get(&code).and_then(|id| self.machines.get_mut(id))
                    && ts >= h.from
                {
                    h.counters.entry(field).or_default().points.insert(ts, v);
                }
            }
        }
        self.read_to = now;
        Ok(())
    }

    /// A machine's history since `from` (its running shift's start): the
    /// kept one when it covers that shift, else read whole and kept.
    pub(crate) async fn machine(
        &mut self,
        s: &AppState,
        tenant: i64,
        equipment: &Equipment,
        from: i64,
    ) -> Result<&MachineHistory, ApiError> {
        let stale = self
            .machines
            .get(&equipment.id)
            .is_none_or(|h| h.from != from);
        if stale {
            // Not cut at `now`: a change stamped later (a clock ahead) has
            // its number behind the one kept, and would not come again.
            let h = MachineHistory::read(s, tenant, equipment, from, i64::MAX / 2).await?;
            self.machines.insert(equipment.id, h);
        }
        self.machines
            .get(&equipment.id)
            .ok_or_else(|| ApiError::unavailable("machine history"))
    }
}
