//! The plant as a scheduling instance and back: open work orders become
//! jobs, work centres become their machines, the site calendar and
//! breakdowns become downtime, the current schedule becomes the previous
//! placements (locked and frozen operations stay put, running ones go on
//! where they run). The solver's answer becomes the stored schedule, in
//! epoch milliseconds and the plant's codes. Pure: the handlers load and
//! store.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zhizao_plan::book::MasterData;
use zhizao_schedule::{
    Instance, Job, MachineCalendar, Objective, Operation, Placement, Solution, Term,
};
use zhizao_store::{WorkOrder, WorkOrderOperation};

const MINUTE_MS: i64 = 60_000;
/// The solver's time 0 is this long before now, so operations that are
/// running (or were due to start) keep their real start.
const LOOKBACK_MS: i64 = 24 * 3_600_000;

/// An operation of a work order: (work order id, operation seq).
pub type OpKey = (i64, i64);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MachineDto {
    /// `L-TRN-2`: the work centre's code and the machine's number in it.
    pub code: String,
    pub centre: String,
    pub name: String,
}

/// A machine out of service for a while (a breakdown, maintenance).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Breakdown {
    pub machine: String,
    pub from_ms: i64,
    pub to_ms: i64,
    #[serde(default)]
    pub note: String,
}

/// An operation known to take longer than its standard time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Overrun {
    pub work_order_id: i64,
    pub seq: i64,
    pub minutes: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PlannedOp {
    pub work_order_id: i64,
    pub number: String,
    pub item: String,
    pub seq: i64,
    pub centre: String,
    pub machine: String,
    pub start_ms: i64,
    pub end_ms: i64,
    /// When the machine's setup for it begins, if it needs one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup_start_ms: Option<i64>,
    /// Kept where it is by the planner: later runs do not move it.
    #[serde(default)]
    pub locked: bool,
    /// Running, locked or inside the freeze window when this version was
    /// made.
    #[serde(default)]
    pub fixed: bool,
    /// Quantity still to make at this operation.
    pub quantity: f64,
    pub due_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OrderRow {
    pub work_order_id: i64,
    pub number: String,
    pub item: String,
    pub due_ms: i64,
    pub completion_ms: i64,
    /// Minutes past the due date (0 when on time).
    pub tardiness_min: i64,
    pub rush: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChainStepDto {
    pub number: String,
    pub seq: i64,
    pub machine: String,
    pub start_ms: i64,
    pub end_ms: i64,
    /// `predecessor`, `machine`, `release`, `fixed` or `calendar`.
    pub waited_for: String,
}

/// Why an order is late: the chain of operations that ends it, and the
/// machine that chain spends longest on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LateOrder {
    pub work_order_id: i64,
    pub number: String,
    pub tardiness_min: i64,
    pub bottleneck: Option<String>,
    pub chain: Vec<ChainStepDto>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CostsDto {
    pub makespan_ms: i64,
    pub weighted_tardiness_min: u64,
    pub setup_min: u64,
    pub disruption_min: u64,
    /// Operations whose machine or start changed from the version before.
    pub moved: usize,
    pub late_orders: usize,
}

/// One version of the schedule, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Body {
    /// Time 0 of the solver: the minute the version was made.
    pub origin_ms: i64,
    pub objective: ObjectiveName,
    pub freeze_minutes: u32,
    pub machines: Vec<MachineDto>,
    /// The site's working time over the horizon (shifts less breaks); none
    /// means every machine works around the clock.
    #[serde(default)]
    pub working: Option<Vec<(i64, i64)>>,
    #[serde(default)]
    pub breakdowns: Vec<Breakdown>,
    /// Work orders given priority (ten times the weight of others).
    #[serde(default)]
    pub rush: Vec<i64>,
    #[serde(default)]
    pub overruns: Vec<Overrun>,
    pub operations: Vec<PlannedOp>,
    pub orders: Vec<OrderRow>,
    pub late: Vec<LateOrder>,
    pub costs: CostsDto,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ObjectiveName {
    /// Weighted tardiness first, then makespan and setups, by weights.
    #[default]
    Balanced,
    /// Due dates first, then the makespan.
    DueDates,
    /// The shortest makespan, then due dates.
    Makespan,
}

impl ObjectiveName {
    /// The solver's objective; `disruption` weighs moving what was
    /// planned (for rescheduling).
    pub fn objective(self, disruption: u64) -> Objective {
        match self {
            ObjectiveName::Balanced => Objective::Weighted {
                makespan: 1,
                tardiness: 10,
                setup: 1,
                disruption,
            },
            ObjectiveName::DueDates if disruption > 0 => Objective::Weighted {
                makespan: 0,
                tardiness: 10,
                setup: 0,
                disruption,
            },
            ObjectiveName::DueDates => Objective::Lexicographic {
                terms: vec![Term::Tardiness, Term::Makespan],
            },
            ObjectiveName::Makespan if disruption > 0 => Objective::Weighted {
                makespan: 10,
                tardiness: 1,
                setup: 0,
                disruption,
            },
            ObjectiveName::Makespan => Objective::Lexicographic {
                terms: vec![Term::Makespan, Term::Tardiness],
            },
        }
    }
}

/// A planner's move of one operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Move {
    pub key: OpKey,
    pub machine: String,
    pub start_ms: i64,
}

/// What a schedule is made from.
pub struct Inputs<'a> {
    pub origin_ms: i64,
    pub master: &'a MasterData,
    pub orders: &'a [(WorkOrder, Vec<WorkOrderOperation>)],
    pub working: Option<Vec<(i64, i64)>>,
    pub tz: jiff::tz::TimeZone,
    pub previous: Option<&'a Body>,
    pub breakdowns: Vec<Breakdown>,
    pub rush: Vec<i64>,
    pub overruns: Vec<Overrun>,
    pub freeze_minutes: u32,
    pub objective: ObjectiveName,
    /// Weight of disruption against the previous version.
    pub disruption: u64,
    pub moved: Option<Move>,
}

/// A fault that is the request's (a move that cannot be made), or the
/// data's.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BuildError {
    #[error("{0}")]
    Move(String),
    #[error("{0}")]
    Data(String),
}

/// The instance, and how its jobs and operations map to the plant's.
pub struct Built {
    pub instance: Instance,
    /// The flat operation order's keys.
    pub keys: Vec<OpKey>,
    /// Work order index of each job.
    pub order_of_job: Vec<usize>,
    pub quantity: Vec<f64>,
    pub machines: Vec<MachineDto>,
    pub locked: HashSet<OpKey>,
    /// Epoch ms of the solver's time 0.
    pub base_ms: i64,
}

fn machines(
    master: &MasterData,
    orders: &[(WorkOrder, Vec<WorkOrderOperation>)],
) -> Vec<MachineDto> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for c in &master.work_centres {
        seen.insert(c.code.clone());
        for k in 1..=c.machines.max(1) {
            out.push(MachineDto {
                code: format!("{}-{k}", c.code),
                centre: c.code.clone(),
                name: if c.name.is_empty() {
                    format!("{} {k}", c.code)
                } else {
                    format!("{} {k}", c.name)
                },
            });
        }
    }
    // A centre no longer in the master data still has the work released
    // to it: one machine of that name.
    for (_, ops) in orders {
        for op in ops {
            if seen.insert(op.work_centre.clone()) {
                out.push(MachineDto {
                    code: format!("{}-1", op.work_centre),
                    centre: op.work_centre.clone(),
                    name: format!("{} 1", op.work_centre),
                });
            }
        }
    }
    out
}

/// Midnight starting a date (`YYYY-MM-DD`) in `tz`, epoch ms.
fn date_ms(date: &str, tz: &jiff::tz::TimeZone) -> Option<i64> {
    let d: jiff::civil::Date = date.parse().ok()?;
    Some(d.to_zoned(tz.clone()).ok()?.timestamp().as_millisecond())
}

/// Downtime in solver minutes: outside `working` (up to its last end)
/// and the machine's breakdowns.
fn downtime(origin: i64, working: Option<&[(i64, i64)]>, breaks: &[(i64, i64)]) -> Vec<(u64, u64)> {
    let min = |ms: i64| ((ms - origin).max(0) / MINUTE_MS) as u64;
    let min_up = |ms: i64| ((ms - origin).max(0) + MINUTE_MS - 1) as u64 / MINUTE_MS as u64;
    let mut out = Vec::new();
    if let Some(w) = working {
        let mut at = origin;
        for &(a, b) in w {
            if a > at {
                out.push((min(at), min_up(a)));
            }
            at = at.max(b);
        }
    }
    for &(a, b) in breaks {
        if b > origin {
            out.push((min(a), min_up(b)));
        }
    }
    out.retain(|(a, b)| a < b);
    out
}

pub fn build(input: &Inputs) -> Result<Built, BuildError> {
    let now = input.origin_ms;
    let origin = now - LOOKBACK_MS;
    let to_min = |ms: i64| ((ms - origin).max(0) / MINUTE_MS) as u64;
    let machine_list = machines(input.master, input.orders);
    let index: HashMap<&str, usize> = machine_list
        .iter()
        .enumerate()
        .map(|(i, m)| (m.code.as_str(), i))
        .collect();
    let mut by_centre: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, m) in machine_list.iter().enumerate() {
        by_centre.entry(m.centre.as_str()).or_default().push(i);
    }
    let previous: HashMap<OpKey, &PlannedOp> = input
        .previous
        .map(|b| {
            b.operations
                .iter()
                .map(|p| ((p.work_order_id, p.seq), p))
                .collect()
        })
        .unwrap_or_default();
    let extra: HashMap<OpKey, u32> = input
        .overruns
        .iter()
        .map(|o| ((o.work_order_id, o.seq), o.minutes))
        .collect();
    let mut families: HashMap<&str, usize> = HashMap::new();
    // Machines down at the origin: what runs there pauses.
    let down_now: HashSet<usize> = input
        .breakdowns
        .iter()
        .filter(|b| b.from_ms <= now && b.to_ms > now)
        .filter_map(|b| index.get(b.machine.as_str()).copied())
        .collect();
    let mut jobs = Vec::new();
    let mut keys = Vec::new();
    let mut order_of_job = Vec::new();
    let mut quantity = Vec::new();
    let mut locked = HashSet::new();
    for (w, (order, ops)) in input.orders.iter().enumerate() {
        let family = {
            let n = families.len();
            *families.entry(order.item.as_str()).or_insert(n)
        };
        let mut job_ops = Vec::new();
        // The remaining operations in order; a fixed one needs every one
        // before it fixed too.
        let mut all_fixed_so_far = true;
        let mut prev_end_min: u64 = 0;
        // A moved or locked operation pins the ones before it where they
        // are.
        let pin_until = ops
            .iter()
            .filter(|op| {
                let key = (order.id, op.seq);
                input.moved.as_ref().is_some_and(|m| m.key == key)
                    || previous.get(&key).is_some_and(|p| p.locked)
            })
            .map(|op| op.seq)
            .max();
        for op in ops {
            let total = order.quantity.max(f64::MIN_POSITIVE);
            let left = (order.quantity - op.qty_good - op.qty_scrap).max(0.0);
            if left <= 1e-9 {
                continue;
            }
            let key = (order.id, op.seq);
            let routing = input
                .master
                .routings
                .iter()
                .find(|r| r.item == order.item && i64::from(r.seq) == op.seq);
            let mut eligible: Vec<usize> = by_centre
                .get(op.work_centre.as_str())
                .cloned()
                .unwrap_or_default();
            for alt in routing.map(|r| r.alternatives.as_slice()).unwrap_or(&[]) {
                eligible.extend(by_centre.get(alt.as_str()).into_iter().flatten());
            }
            eligible.sort_unstable();
            eligible.dedup();
            let run = (op.run_hours * left / total * 60.0).ceil().max(1.0) as u32
                + extra.get(&key).copied().unwrap_or(0);
            let started = op.qty_good + op.qty_scrap > 0.0;
            // Work pauses over breaks and between shifts and goes on.
            let mut operation = Operation {
                modes: eligible.iter().map(|&m| (m, run)).collect(),
                family: Some(family),
                splittable: true,
                setup: if started {
                    0
                } else {
                    (op.setup_hours * 60.0).round() as u32
                },
                ..Operation::default()
            };
            let prev = previous.get(&key);
            let prev_machine = prev.and_then(|p| index.get(p.machine.as_str()).copied());
            if let (Some(p), Some(m)) = (prev, prev_machine) {
                operation.previous = Some(Placement {
                    machine: m,
                    start: to_min(p.start_ms),
                });
            }
            // Where it must stay: moved there now, locked, running, or
            // about to start.
            let mut fix: Option<(usize, u64)> = None;
            let mut fixed_setup = 0u32;
            if let Some(mv) = input.moved.as_ref().filter(|m| m.key == key) {
                let Some(&m) = index.get(mv.machine.as_str()) else {
                    return Err(BuildError::Move(format!(
                        "there is no machine `{}`",
                        mv.machine
                    )));
                };
                if !eligible.contains(&m) {
                    return Err(BuildError::Move(format!(
                        "{} operation {} cannot run on {}",
                        order.number, op.seq, mv.machine
                    )));
                }
                if mv.start_ms < now {
                    return Err(BuildError::Move(
                        "an operation cannot be moved into the past".into(),
                    ));
                }
                if !all_fixed_so_far {
                    return Err(BuildError::Move(format!(
                        "{} operation {} follows operations that are not placed yet",
                        order.number, op.seq
                    )));
                }
                let start = (to_min(mv.start_ms - 1) + 1).max(to_min(now));
                if start < prev_end_min {
                    return Err(BuildError::Move(format!(
                        "{} operation {} cannot start before the operation before it ends ({})",
                        order.number,
                        op.seq,
                        fmt_ms(origin + prev_end_min as i64 * MINUTE_MS, &input.tz)
                    )));
                }
                fix = Some((m, start));
                locked.insert(key);
            } else if let (Some(p), Some(m)) = (prev, prev_machine) {
                // Due to be running now, or to start within the window.
                let frozen = p.end_ms > now
                    && p.start_ms < now + i64::from(input.freeze_minutes) * MINUTE_MS;
                let pinned = pin_until.is_some_and(|u| op.seq < u);
                // A breakdown where it was planned moves it, locked or not.
                let begins = p.setup_start_ms.unwrap_or(p.start_ms);
                let hit = input
                    .breakdowns
                    .iter()
                    .any(|b| b.machine == p.machine && b.from_ms < p.end_ms && b.to_ms > begins);
                if (p.locked || frozen || pinned) && !hit && eligible.contains(&m) {
                    fix = Some((m, to_min(p.start_ms)));
                    fixed_setup = p
                        .setup_start_ms
                        .map_or(0, |ss| ((p.start_ms - ss).max(0) / MINUTE_MS) as u32);
                }
                // A lock outlives a breakdown that moves it: the next run
                // keeps it where the repair put it.
                if p.locked {
                    locked.insert(key);
                }
            }
            if started && fix.is_none() {
                let m = prev_machine
                    .filter(|m| eligible.contains(m))
                    .or(eligible.first().copied());
                if let Some(m) = m.filter(|m| !down_now.contains(m)) {
                    fix = Some((m, to_min(now)));
                    // Where it runs is a fact, not a choice to weigh.
                    operation.previous = None;
                }
            }
            if let (Some((m, start)), true) = (fix, all_fixed_so_far) {
                let start = start.max(prev_end_min);
                operation.fixed = Some(Placement { machine: m, start });
                operation.fixed_setup = fixed_setup;
                prev_end_min = start + u64::from(run);
            } else {
                all_fixed_so_far = false;
            }
            job_ops.push(operation);
            keys.push(key);
            quantity.push(left);
        }
        if job_ops.is_empty() {
            continue;
        }
        let release = date_ms(&order.release_date, &input.tz).map_or(0, to_min);
        let due = date_ms(&order.due_date, &input.tz).map(|d| to_min(d + 24 * 3_600_000));
        let rush = input.rush.contains(&order.id);
        jobs.push(Job {
            operations: job_ops,
            chain: true,
            release,
            due,
            weight: if rush { 10 } else { 1 },
        });
        order_of_job.push(w);
    }
    let working = input.working.as_deref();
    let calendars = (0..machine_list.len())
        .map(|m| {
            let breaks: Vec<(i64, i64)> = input
                .breakdowns
                .iter()
                .filter(|b| b.machine == machine_list[m].code)
                .map(|b| (b.from_ms, b.to_ms))
                .collect();
            MachineCalendar {
                downtime: downtime(origin, working, &breaks),
                initial_family: None,
            }
        })
        .collect();
    let mut instance = Instance {
        machines: machine_list.len().max(1),
        jobs,
        calendars,
        links: Vec::new(),
        setups: Vec::new(),
        now: to_min(now),
        objective: input.objective.objective(input.disruption),
    };
    if machine_list.is_empty() {
        instance.calendars.clear();
    }
    // Fixed operations that collide (a locked one and a running one on
    // one machine): the later loses its place, and what follows it.
    let moved_path = input.moved.as_ref().and_then(|mv| {
        let flat = keys.iter().position(|k| *k == mv.key)?;
        let starts = instance.starts();
        let j = starts.iter().rposition(|&s| s <= flat)?;
        Some(format!("jobs[{j}].operations[{}].fixed", flat - starts[j]))
    });
    for _ in 0..=keys.len() {
        match instance.validate() {
            Ok(()) => break,
            Err(e) if e.path.ends_with(".fixed") => {
                if Some(&e.path) == moved_path.as_ref() {
                    return Err(BuildError::Move(describe(
                        &e.message,
                        &instance,
                        &keys,
                        &machine_list,
                        input,
                    )));
                }
                // The moved operation lands on one that keeps its place
                // (locked, running or about to start): refuse the move
                // rather than push that one aside.
                if let Some(mp) = moved_path.as_deref().and_then(|p| p.strip_suffix(".fixed"))
                    && e.message.contains(&format!("overlaps {mp} "))
                {
                    let other = e.path.strip_suffix(".fixed").unwrap_or(&e.path);
                    return Err(BuildError::Move(describe(
                        &format!("{other}, which keeps its place, {}", e.message),
                        &instance,
                        &keys,
                        &machine_list,
                        input,
                    )));
                }
                let Some((j, k)) = parse_op_path(&e.path) else {
                    return Err(BuildError::Data(e.to_string()));
                };
                for op in &mut instance.jobs[j].operations[k..] {
                    if op.fixed.take().is_some() {
                        op.fixed_setup = 0;
                    }
                }
            }
            Err(e) => return Err(BuildError::Data(e.to_string())),
        }
    }
    Ok(Built {
        instance,
        keys,
        order_of_job,
        quantity,
        machines: machine_list,
        locked,
        base_ms: origin,
    })
}

fn parse_op_path(path: &str) -> Option<(usize, usize)> {
    let rest = path.strip_prefix("jobs[")?;
    let (j, rest) = rest.split_once("].operations[")?;
    let (k, _) = rest.split_once(']')?;
    Some((j.parse().ok()?, k.parse().ok()?))
}

/// A model message about the moved operation in the plant's words.
fn describe(
    message: &str,
    inst: &Instance,
    keys: &[OpKey],
    machines: &[MachineDto],
    input: &Inputs,
) -> String {
    let starts = inst.starts();
    let mut out = message.to_owned();
    // Replace `jobs[j].operations[k]` by the work order and operation.
    for (j, &s) in starts.iter().enumerate() {
        for k in 0..inst.jobs[j].operations.len() {
            let path = format!("jobs[{j}].operations[{k}]");
            if out.contains(&path) {
                let (wo, seq) = keys[s + k];
                let number = input
                    .orders
                    .iter()
                    .find(|(o, _)| o.id == wo)
                    .map_or_else(|| wo.to_string(), |(o, _)| o.number.clone());
                out = out.replace(&path, &format!("{number} operation {seq}"));
            }
        }
    }
    for (i, m) in machines.iter().enumerate().rev() {
        out = out.replace(&format!("machine {i}"), &m.code);
    }
    format!("the move is not possible: {out}")
}

pub fn fmt_ms(ms: i64, tz: &jiff::tz::TimeZone) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| {
            t.to_zoned(tz.clone())
                .strftime("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|_| ms.to_string())
}

/// The solver's schedule as the stored version.
pub fn body(built: &Built, solution: &Solution, input: &Inputs) -> Body {
    let origin = input.origin_ms;
    let ms = |m: u64| built.base_ms + m as i64 * MINUTE_MS;
    let starts = built.instance.starts();
    let mut operations = Vec::with_capacity(solution.operations.len());
    let mut completion: Vec<i64> = vec![origin; built.instance.jobs.len()];
    for s in &solution.operations {
        let flat = starts[s.job] + s.operation;
        let (wo, seq) = built.keys[flat];
        let order = &input.orders[built.order_of_job[s.job]].0;
        let centre = input.orders[built.order_of_job[s.job]]
            .1
            .iter()
            .find(|o| o.seq == seq)
            .map_or_else(String::new, |o| o.work_centre.clone());
        let op = &built.instance.jobs[s.job].operations[s.operation];
        completion[s.job] = completion[s.job].max(ms(s.end));
        operations.push(PlannedOp {
            work_order_id: wo,
            number: order.number.clone(),
            item: order.item.clone(),
            seq,
            centre,
            machine: built
                .machines
                .get(s.machine)
                .map_or_else(String::new, |m| m.code.clone()),
            start_ms: ms(s.start),
            end_ms: ms(s.end),
            setup_start_ms: s.setup_start.map(ms),
            locked: built.locked.contains(&(wo, seq)),
            fixed: op.fixed.is_some(),
            quantity: built.quantity[flat],
            due_ms: built.instance.jobs[s.job].due.map_or(i64::MAX, ms),
        });
    }
    operations
        .sort_by(|a, b| (a.machine.as_str(), a.start_ms).cmp(&(b.machine.as_str(), b.start_ms)));
    let orders: Vec<OrderRow> = built
        .order_of_job
        .iter()
        .enumerate()
        .map(|(j, &w)| {
            let o = &input.orders[w].0;
            let due = built.instance.jobs[j].due.map_or(i64::MAX, ms);
            OrderRow {
                work_order_id: o.id,
                number: o.number.clone(),
                item: o.item.clone(),
                due_ms: due,
                completion_ms: completion[j],
                tardiness_min: ((completion[j] - due).max(0)) / MINUTE_MS,
                rush: input.rush.contains(&o.id),
            }
        })
        .collect();
    let late: Vec<LateOrder> = zhizao_schedule::late_jobs(&built.instance, solution)
        .into_iter()
        .map(|l| {
            let o = &input.orders[built.order_of_job[l.job]].0;
            LateOrder {
                work_order_id: o.id,
                number: o.number.clone(),
                tardiness_min: l.tardiness as i64,
                bottleneck: l
                    .bottleneck
                    .and_then(|m| built.machines.get(m).map(|x| x.code.clone())),
                chain: l
                    .chain
                    .iter()
                    .map(|c| {
                        let (wo, seq) = built.keys[starts[c.job] + c.operation];
                        let number = input
                            .orders
                            .iter()
                            .find(|(o, _)| o.id == wo)
                            .map_or_else(String::new, |(o, _)| o.number.clone());
                        ChainStepDto {
                            number,
                            seq,
                            machine: built
                                .machines
                                .get(c.machine)
                                .map_or_else(String::new, |m| m.code.clone()),
                            start_ms: ms(c.start),
                            end_ms: ms(c.end),
                            waited_for: serde_json::to_value(c.waited_for)
                                .ok()
                                .and_then(|v| v.as_str().map(str::to_owned))
                                .unwrap_or_default(),
                        }
                    })
                    .collect(),
            }
        })
        .collect();
    let c = solution.costs.unwrap_or_default();
    Body {
        origin_ms: origin,
        objective: input.objective,
        freeze_minutes: input.freeze_minutes,
        machines: built.machines.clone(),
        working: input.working.clone(),
        breakdowns: input.breakdowns.clone(),
        rush: input.rush.clone(),
        overruns: input.overruns.clone(),
        operations,
        costs: CostsDto {
            makespan_ms: ms(c.makespan),
            weighted_tardiness_min: c.weighted_tardiness,
            setup_min: c.setup_time,
            disruption_min: c.disruption,
            moved: c.moved,
            late_orders: late.len(),
        },
        orders,
        late,
    }
}

/// Planned against done at a work centre: hours of scheduled work due by
/// now, and hours earned by what was reported (each operation's share of
/// its quantity times its planned time).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CentreProgress {
    pub centre: String,
    pub planned_hours: f64,
    pub earned_hours: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct OrderProgress {
    pub work_order_id: i64,
    pub number: String,
    pub item: String,
    /// Share of the order's scheduled work due by now, and done, 0–100.
    pub planned_pct: f64,
    pub actual_pct: f64,
    pub due_ms: i64,
}

/// Plan against actual from a schedule version and the work orders as
/// they stand: by centre, and the orders furthest behind first.
pub fn progress(
    body: &Body,
    orders: &[(WorkOrder, Vec<WorkOrderOperation>)],
    now_ms: i64,
) -> (Vec<CentreProgress>, Vec<OrderProgress>) {
    let hour = 3_600_000.0;
    let found: HashMap<OpKey, (f64, f64)> = orders
        .iter()
        .flat_map(|(o, ops)| {
            ops.iter()
                .map(move |op| ((o.id, op.seq), (o.quantity, op.qty_good + op.qty_scrap)))
        })
        .collect();
    let mut centres: Vec<CentreProgress> = Vec::new();
    let mut by_order: HashMap<i64, (f64, f64, f64, &PlannedOp)> = HashMap::new();
    for p in &body.operations {
        let span = (p.end_ms - p.start_ms).max(1) as f64;
        let hours = span / hour;
        let planned = ((now_ms - p.start_ms) as f64 / span).clamp(0.0, 1.0);
        // An order no longer open was finished (or closed): all done.
        let actual = match found.get(&(p.work_order_id, p.seq)) {
            Some(&(ordered, done)) => {
                let at_plan = (ordered - p.quantity).max(0.0);
                ((done - at_plan) / p.quantity.max(f64::MIN_POSITIVE)).clamp(0.0, 1.0)
            }
            None => 1.0,
        };
        let c = match centres.iter_mut().position(|c| c.centre == p.centre) {
            Some(i) => &mut centres[i],
            None => {
                centres.push(CentreProgress {
                    centre: p.centre.clone(),
                    planned_hours: 0.0,
                    earned_hours: 0.0,
                });
                let last = centres.len() - 1;
                &mut centres[last]
            }
        };
        c.planned_hours += planned * hours;
        c.earned_hours += actual * hours;
        let e = by_order
            .entry(p.work_order_id)
            .or_insert((0.0, 0.0, 0.0, p));
        e.0 += planned * hours;
        e.1 += actual * hours;
        e.2 += hours;
    }
    centres.sort_by(|a, b| a.centre.cmp(&b.centre));
    let mut rows: Vec<OrderProgress> = by_order
        .into_values()
        .map(|(planned, actual, total, p)| OrderProgress {
            work_order_id: p.work_order_id,
            number: p.number.clone(),
            item: p.item.clone(),
            planned_pct: 100.0 * planned / total.max(f64::MIN_POSITIVE),
            actual_pct: 100.0 * actual / total.max(f64::MIN_POSITIVE),
            due_ms: p.due_ms,
        })
        .collect();
    rows.sort_by(|a, b| {
        (b.planned_pct - b.actual_pct)
            .total_cmp(&(a.planned_pct - a.actual_pct))
            .then(a.number.cmp(&b.number))
    });
    (centres, rows)
}
