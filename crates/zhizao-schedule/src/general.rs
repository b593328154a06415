//! The plant's search, for everything the benchmarks' job shop lacks:
//! precedence graphs, calendars, setups, release and due dates, fixed
//! operations and any objective. A schedule is each operation's machine
//! and each machine's sequence; a decoder turns them into times, placing
//! every operation as early as its predecessors, its machine's previous
//! operation and setup, the calendar and fixed operations allow. Dispatching
//! rules give the first schedules; late-acceptance hill climbing improves
//! them with moves aimed at what makes the first term of the objective
//! costly (the chain behind the makespan or a late job). A previous
//! schedule is repaired by keeping its sequences and pushing operations
//! only as far as they must go.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::calendar::Calendar;
use crate::model::{Costs, Instance, Objective, Operation, ScheduledOp, Solution, Term};
use crate::search::SolveOptions;

const NONE: usize = usize::MAX;

/// Setup start, setup amount, start and end of an operation placed.
type Placed = (u64, u64, u64, u64);

/// Length of the late-acceptance history.
const HISTORY: usize = 64;

/// The instance flattened: operation `o` of job `job[o]`.
struct Model<'a> {
    n: usize,
    ops: Vec<&'a Operation>,
    objective: &'a Objective,
    job: Vec<usize>,
    index: Vec<usize>,
    preds: Vec<Vec<usize>>,
    succs: Vec<Vec<usize>>,
    modes: Vec<Vec<(usize, u32)>>,
    family: Vec<Option<usize>>,
    split: Vec<bool>,
    /// Machine, start and end of fixed operations.
    fixed: Vec<Option<(usize, u64, u64)>>,
    /// Start, end and family of each machine's fixed operations, by start.
    fixed_on: Vec<Vec<(u64, u64, Option<usize>)>>,
    /// Release (or now) of each operation.
    release: Vec<u64>,
    previous: Vec<Option<(usize, u64)>>,
    calendars: Vec<Calendar>,
    initial_family: Vec<Option<usize>>,
    setups: &'a [Vec<u32>],
    now: u64,
    job_ops: Vec<Vec<usize>>,
    due: Vec<Option<u64>>,
    weight: Vec<u64>,
    /// Work left after each operation along its longest chain of
    /// successors (shortest durations), for the dispatching rules.
    work_after: Vec<u64>,
    free: Vec<usize>,
}

impl<'a> Model<'a> {
    fn new(inst: &'a Instance) -> Self {
        let start = inst.starts();
        let n = inst.operation_count();
        let mut m = Model {
            n,
            ops: inst.jobs.iter().flat_map(|j| &j.operations).collect(),
            objective: &inst.objective,
            job: Vec::with_capacity(n),
            index: Vec::with_capacity(n),
            preds: inst
                .predecessors()
                .into_iter()
                .map(|ps| ps.iter().map(|p| start[p.job] + p.operation).collect())
                .collect(),
            succs: vec![Vec::new(); n],
            modes: Vec::with_capacity(n),
            family: Vec::with_capacity(n),
            split: Vec::with_capacity(n),
            fixed: Vec::with_capacity(n),
            fixed_on: vec![Vec::new(); inst.machines],
            release: Vec::with_capacity(n),
            previous: Vec::with_capacity(n),
            calendars: (0..inst.machines)
                .map(|k| Calendar::new(inst.calendars.get(k).map_or(&[][..], |c| &c.downtime)))
                .collect(),
            initial_family: (0..inst.machines)
                .map(|k| inst.calendars.get(k).and_then(|c| c.initial_family))
                .collect(),
            setups: &inst.setups,
            now: inst.now,
            job_ops: Vec::with_capacity(inst.jobs.len()),
            due: inst.jobs.iter().map(|j| j.due).collect(),
            weight: inst.jobs.iter().map(|j| u64::from(j.weight)).collect(),
            work_after: vec![0; n],
            free: Vec::new(),
        };
        for (j, job) in inst.jobs.iter().enumerate() {
            m.job_ops
                .push((start[j]..start[j] + job.operations.len()).collect());
            for (k, op) in job.operations.iter().enumerate() {
                let o = m.job.len();
                m.job.push(j);
                m.index.push(k);
                m.modes.push(op.modes.clone());
                m.family.push(op.family);
                m.split.push(op.splittable);
                m.release.push(job.release.max(inst.now));
                m.previous.push(op.previous.map(|p| (p.machine, p.start)));
                let fixed = op.fixed.map(|f| {
                    let d = u64::from(op.duration_on(f.machine).unwrap_or(0));
                    (f.machine, f.start, f.start + d)
                });
                if let Some((mc, s, e)) = fixed {
                    let setup = u64::from(op.fixed_setup).min(s);
                    m.fixed_on[mc].push((s - setup, e, op.family));
                } else {
                    m.free.push(o);
                }
                m.fixed.push(fixed);
            }
        }
        for list in &mut m.fixed_on {
            list.sort_unstable_by_key(|f| (f.0, f.1));
        }
        for o in 0..n {
            for i in 0..m.preds[o].len() {
                let p = m.preds[o][i];
                m.succs[p].push(o);
            }
        }
        // Longest chain of work after each operation, from a topological
        // order (the instance is validated acyclic).
        let order = m.topological();
        for &o in order.iter().rev() {
            let own = |x: usize| u64::from(m.modes[x].iter().map(|md| md.1).min().unwrap_or(0));
            m.work_after[o] = m.succs[o]
                .iter()
                .map(|&s| own(s) + m.work_after[s])
                .max()
                .unwrap_or(0);
        }
        m
    }

    fn topological(&self) -> Vec<usize> {
        let mut indeg: Vec<usize> = self.preds.iter().map(Vec::len).collect();
        let mut order: Vec<usize> = (0..self.n).filter(|&o| indeg[o] == 0).collect();
        let mut i = 0;
        while i < order.len() {
            let o = order[i];
            i += 1;
            for &s in &self.succs[o] {
                indeg[s] -= 1;
                if indeg[s] == 0 {
                    order.push(s);
                }
            }
        }
        order
    }

    fn duration(&self, o: usize, machine: usize) -> u64 {
        self.modes[o]
            .iter()
            .find(|x| x.0 == machine)
            .map_or(0, |x| u64::from(x.1))
    }

    /// Where `o` goes on `machine` after an operation that ends at
    /// `after` (of family `fam_prev`), not before `ready`: setup start,
    /// setup amount, start and end. Fixed operations on the machine are
    /// stepped over, their family then counting as the previous one.
    fn place(
        &self,
        o: usize,
        machine: usize,
        mut after: u64,
        mut fam_prev: Option<usize>,
        ready: u64,
    ) -> Placed {
        let cal = &self.calendars[machine];
        let fixed = &self.fixed_on[machine];
        let d = self.duration(o, machine);
        let mut idx = fixed.partition_point(|f| f.1 <= after);
        loop {
            // A fixed operation that begins before this one could comes
            // first.
            if let Some(&(fs, fe, ff)) = fixed.get(idx)
                && fs < after.max(self.now)
            {
                after = after.max(fe);
                fam_prev = ff;
                idx += 1;
                continue;
            }
            after = after.max(self.now);
            let s = u64::from(self.ops[o].setup_after(fam_prev, self.setups));
            let (_, se) = cal.run_split(after, s);
            let (st, en) = cal.run(ready.max(se), d, self.split[o]);
            if let Some(&(fs, fe, ff)) = fixed.get(idx)
                && fs < en
            {
                after = after.max(fe);
                fam_prev = ff;
                idx += 1;
                continue;
            }
            // The setup ends as the operation starts, not as soon as
            // the machine is free.
            let ss = cal.back_split(st, s).max(after);
            return (if s > 0 { ss } else { st }, s, st, en);
        }
    }
}

/// A schedule being searched, with the times its sequences give.
#[derive(Clone)]
struct State {
    machine: Vec<usize>,
    seq: Vec<Vec<usize>>,
    pos: Vec<usize>,
    start: Vec<u64>,
    end: Vec<u64>,
    setup_start: Vec<u64>,
    setup: Vec<u64>,
    /// What held each operation back: a predecessor or the operation
    /// before it on its machine (`NONE` when its release or the calendar
    /// did).
    cause: Vec<usize>,
    costs: Costs,
    key: [u128; 4],
}

impl State {
    fn empty(model: &Model, machines: usize) -> Self {
        let n = model.n;
        State {
            machine: (0..n)
                .map(|o| model.fixed[o].map_or(model.modes[o][0].0, |f| f.0))
                .collect(),
            seq: vec![Vec::new(); machines],
            pos: vec![0; n],
            start: vec![0; n],
            end: vec![0; n],
            setup_start: vec![0; n],
            setup: vec![0; n],
            cause: vec![NONE; n],
            costs: Costs::default(),
            key: [u128::MAX; 4],
        }
    }

    fn append(&mut self, o: usize, m: usize) {
        self.machine[o] = m;
        self.pos[o] = self.seq[m].len();
        self.seq[m].push(o);
    }

    fn remove(&mut self, o: usize) {
        let m = self.machine[o];
        let p = self.pos[o];
        self.seq[m].remove(p);
        for &x in &self.seq[m][p..] {
            self.pos[x] -= 1;
        }
    }

    fn insert(&mut self, o: usize, m: usize, p: usize) {
        let p = p.min(self.seq[m].len());
        self.machine[o] = m;
        self.seq[m].insert(p, o);
        for k in p..self.seq[m].len() {
            let x = self.seq[m][k];
            self.pos[x] = k;
        }
    }

    fn mach_prev(&self, model: &Model, o: usize) -> usize {
        if model.fixed[o].is_some() || self.pos[o] == 0 {
            NONE
        } else {
            self.seq[self.machine[o]][self.pos[o] - 1]
        }
    }

    /// Times and costs from the sequences; `false` when they make a cycle.
    /// With `hold`, no operation starts before its previous start.
    fn decode(
        &mut self,
        model: &Model,
        hold: bool,
        order: &mut Vec<usize>,
        indeg: &mut Vec<usize>,
    ) -> bool {
        let n = model.n;
        order.clear();
        indeg.clear();
        for o in 0..n {
            let d = model.preds[o].len() + usize::from(self.mach_prev(model, o) != NONE);
            indeg.push(d);
            if d == 0 {
                order.push(o);
            }
        }
        let mut i = 0;
        while i < order.len() {
            let o = order[i];
            i += 1;
            let next = if model.fixed[o].is_some() {
                NONE
            } else {
                self.seq[self.machine[o]]
                    .get(self.pos[o] + 1)
                    .copied()
                    .unwrap_or(NONE)
            };
            for &s in model.succs[o].iter().chain(std::iter::once(&next)) {
                if s != NONE {
                    indeg[s] -= 1;
                    if indeg[s] == 0 {
                        order.push(s);
                    }
                }
            }
        }
        if order.len() < n {
            return false;
        }
        for &o in order.iter() {
            if let Some((_, s, e)) = model.fixed[o] {
                let setup = u64::from(model.ops[o].fixed_setup).min(s);
                self.start[o] = s;
                self.end[o] = e;
                self.setup_start[o] = s - setup;
                self.setup[o] = setup;
                self.cause[o] = NONE;
                continue;
            }
            let mut ready = model.release[o];
            let mut cause = NONE;
            for &p in &model.preds[o] {
                if self.end[p] > ready || (cause == NONE && self.end[p] == ready) {
                    ready = self.end[p];
                    cause = p;
                }
            }
            if hold
                && let Some((_, s)) = model.previous[o]
                && s > ready
            {
                ready = s;
                cause = NONE;
            }
            let m = self.machine[o];
            let p = self.mach_prev(model, o);
            let (after, fam) = if p == NONE {
                (0, model.initial_family[m])
            } else {
                (self.end[p], model.family[p])
            };
            let (ss, s, st, en) = model.place(o, m, after, fam, ready);
            if st > ready && p != NONE {
                cause = p;
            }
            self.setup_start[o] = ss;
            self.setup[o] = s;
            self.start[o] = st;
            self.end[o] = en;
            self.cause[o] = cause;
        }
        self.costs = costs(model, self);
        self.key = model.objective.key(&self.costs);
        true
    }

    /// From the operation that sets the objective's first term back
    /// through what held each operation back.
    fn chain(&self, model: &Model, rng: &mut StdRng) -> Vec<usize> {
        let term = match model.objective {
            Objective::Lexicographic { terms } => terms.first().copied().unwrap_or(Term::Makespan),
            Objective::Weighted { tardiness, .. }
                if *tardiness > 0 && self.costs.weighted_tardiness > 0 =>
            {
                Term::Tardiness
            }
            Objective::Weighted { .. } => Term::Makespan,
        };
        let term = if term == Term::Tardiness && self.costs.weighted_tardiness == 0 {
            Term::Makespan
        } else {
            term
        };
        let last = match term {
            Term::Tardiness => {
                let late: Vec<usize> = (0..model.job_ops.len())
                    .filter(|&j| self.lateness(model, j) > 0)
                    .collect();
                late.get(rng.gen_range(0..late.len().max(1)))
                    .and_then(|&j| {
                        model.job_ops[j]
                            .iter()
                            .copied()
                            .max_by_key(|&o| self.end[o])
                    })
            }
            Term::Setup => {
                let with: Vec<usize> = (0..model.n).filter(|&o| self.setup[o] > 0).collect();
                with.get(rng.gen_range(0..with.len().max(1))).copied()
            }
            Term::Disruption => {
                let moved: Vec<usize> = (0..model.n)
                    .filter(|&o| {
                        model.previous[o].is_some_and(|p| p != (self.machine[o], self.start[o]))
                    })
                    .collect();
                moved.get(rng.gen_range(0..moved.len().max(1))).copied()
            }
            Term::Makespan => (0..model.n).max_by_key(|&o| self.end[o]),
        };
        let mut chain = Vec::new();
        let mut o = last.unwrap_or(NONE);
        while o != NONE && chain.len() <= model.n {
            chain.push(o);
            o = self.cause[o];
        }
        chain
    }

    fn lateness(&self, model: &Model, j: usize) -> u64 {
        let done = model.job_ops[j]
            .iter()
            .map(|&o| self.end[o])
            .max()
            .unwrap_or(0);
        model.due[j].map_or(0, |d| done.saturating_sub(d))
    }
}

fn costs(model: &Model, st: &State) -> Costs {
    let mut c = Costs {
        makespan: st.end.iter().copied().max().unwrap_or(0),
        setup_time: st.setup.iter().sum(),
        ..Costs::default()
    };
    for j in 0..model.job_ops.len() {
        c.weighted_tardiness += model.weight[j] * st.lateness(model, j);
    }
    for o in 0..model.n {
        if let Some((m, s)) = model.previous[o] {
            let shift = st.start[o].abs_diff(s)
                + if m == st.machine[o] {
                    0
                } else {
                    model.duration(o, st.machine[o])
                };
            if shift > 0 {
                c.disruption += shift;
                c.moved += 1;
            }
        }
    }
    c
}

#[derive(Clone, Copy)]
enum Rule {
    /// Earliest completion first.
    EarliestEnd,
    /// Earliest due date, then earliest completion.
    DueDate,
    /// Least slack: due date less the work still to do after it.
    Slack,
}

/// A list schedule: of the operations whose predecessors are placed, and
/// their machines, the pair the rule likes best.
fn dispatch(model: &Model, machines: usize, rule: Rule, rng: &mut StdRng) -> State {
    let mut st = State::empty(model, machines);
    let mut indeg: Vec<usize> = model.preds.iter().map(Vec::len).collect();
    let mut ready_ops: Vec<usize> = (0..model.n).filter(|&o| indeg[o] == 0).collect();
    let mut tail: Vec<(u64, Option<usize>)> = (0..machines)
        .map(|m| (0, model.initial_family[m]))
        .collect();
    while !ready_ops.is_empty() {
        // (rule's key, index among the ready, machine, placement)
        type Pick = ((u64, u64, u32), usize, usize, Placed);
        let mut best: Option<Pick> = None;
        for (i, &o) in ready_ops.iter().enumerate() {
            let ready = model.preds[o]
                .iter()
                .map(|&p| st.end[p])
                .fold(model.release[o], u64::max);
            let modes: Vec<usize> = match model.fixed[o] {
                Some((m, _, _)) => vec![m],
                None => model.modes[o].iter().map(|x| x.0).collect(),
            };
            for m in modes {
                let placed = match model.fixed[o] {
                    Some((_, s, e)) => {
                        let setup = u64::from(model.ops[o].fixed_setup).min(s);
                        (s - setup, setup, s, e)
                    }
                    None => model.place(o, m, tail[m].0, tail[m].1, ready),
                };
                let due = model.due[model.job[o]].unwrap_or(u64::MAX / 4);
                let primary = match rule {
                    Rule::EarliestEnd => placed.3,
                    Rule::DueDate => due,
                    Rule::Slack => due.saturating_sub(model.work_after[o]),
                };
                // Fixed operations go first: they hold their place anyway.
                let primary = if model.fixed[o].is_some() { 0 } else { primary };
                let key = (primary, placed.3, rng.r#gen::<u32>());
                if best.as_ref().is_none_or(|b| key < b.0) {
                    best = Some((key, i, m, placed));
                }
            }
        }
        let Some((_, i, m, (ss, s, start, end))) = best else {
            break;
        };
        let o = ready_ops.swap_remove(i);
        if model.fixed[o].is_none() {
            st.append(o, m);
            tail[m] = (end, model.family[o]);
        }
        st.setup_start[o] = ss;
        st.setup[o] = s;
        st.start[o] = start;
        st.end[o] = end;
        for &s in &model.succs[o] {
            indeg[s] -= 1;
            if indeg[s] == 0 {
                ready_ops.push(s);
            }
        }
    }
    st
}

/// The previous schedule's sequences, with operations it did not have
/// (or whose machine can no longer run them) added where they fit best.
fn from_previous(model: &Model, machines: usize) -> State {
    let mut st = State::empty(model, machines);
    let mut placed: Vec<(usize, u64, usize)> = Vec::new();
    let mut rest = Vec::new();
    for &o in &model.free {
        match model.previous[o] {
            Some((m, s)) if model.modes[o].iter().any(|x| x.0 == m) => placed.push((m, s, o)),
            _ => rest.push(o),
        }
    }
    placed.sort_unstable();
    for (m, _, o) in placed {
        st.append(o, m);
    }
    // New operations go at the end of their fastest machine.
    for o in rest {
        let m = model.modes[o].iter().min_by_key(|x| x.1).map_or(0, |x| x.0);
        st.append(o, m);
    }
    st
}

struct Search<'a, 'b> {
    model: &'a Model<'b>,
    rng: StdRng,
    order: Vec<usize>,
    indeg: Vec<usize>,
}

impl Search<'_, '_> {
    fn decode(&mut self, st: &mut State, hold: bool) -> bool {
        st.decode(self.model, hold, &mut self.order, &mut self.indeg)
    }

    /// Changes `st` by one random move aimed at `chain` half the time;
    /// `false` when no move was possible.
    fn perturb(&mut self, st: &mut State, chain: &[usize]) -> bool {
        let model = self.model;
        if model.free.is_empty() {
            return false;
        }
        let free_chain: Vec<usize> = chain
            .iter()
            .copied()
            .filter(|&o| model.fixed[o].is_none())
            .collect();
        let o = if !free_chain.is_empty() && self.rng.gen_bool(0.6) {
            free_chain[self.rng.gen_range(0..free_chain.len())]
        } else {
            model.free[self.rng.gen_range(0..model.free.len())]
        };
        let m = st.machine[o];
        let roll = self.rng.gen_range(0..10);
        if roll < 4 && st.pos[o] > 0 {
            let p = st.pos[o];
            st.seq[m].swap(p - 1, p);
            let (a, b) = (st.seq[m][p - 1], st.seq[m][p]);
            st.pos[a] = p - 1;
            st.pos[b] = p;
            return true;
        }
        if roll < 7 || model.modes[o].len() == 1 {
            let len = st.seq[m].len();
            if len < 2 {
                return false;
            }
            let p = st.pos[o] as i64 + self.rng.gen_range(-6i64..=6);
            st.remove(o);
            st.insert(o, m, p.clamp(0, len as i64 - 1) as usize);
            return true;
        }
        let others: Vec<usize> = model.modes[o]
            .iter()
            .map(|x| x.0)
            .filter(|&x| x != m)
            .collect();
        let target = others[self.rng.gen_range(0..others.len())];
        // Near where its predecessors let it start on that machine.
        let ready = model.preds[o].iter().map(|&p| st.end[p]).max().unwrap_or(0);
        let p = st.seq[target].partition_point(|&x| st.start[x] < ready) as i64
            + self.rng.gen_range(-2i64..=2);
        st.remove(o);
        let len = st.seq[target].len() as i64;
        st.insert(o, target, p.clamp(0, len) as usize);
        true
    }

    fn run(&mut self, start: State, stop: &AtomicBool, deadline: Instant, budget: u64) -> State {
        let mut cur = start;
        let mut best = cur.clone();
        let mut trial = cur.clone();
        let mut history = [cur.key; HISTORY];
        let mut chain = cur.chain(self.model, &mut self.rng);
        for it in 0..budget {
            if it % 32 == 0 && (stop.load(Ordering::Relaxed) || Instant::now() >= deadline) {
                break;
            }
            trial.clone_from(&cur);
            if !self.perturb(&mut trial, &chain) {
                break;
            }
            if !self.decode(&mut trial, false) {
                continue;
            }
            let slot = (it as usize) % HISTORY;
            if trial.key <= cur.key || trial.key <= history[slot] {
                std::mem::swap(&mut cur, &mut trial);
                chain = cur.chain(self.model, &mut self.rng);
                if cur.key < best.key {
                    best.clone_from(&cur);
                }
            }
            if cur.key < history[slot] {
                history[slot] = cur.key;
            }
        }
        best
    }
}

fn solution(model: &Model, st: &State) -> Solution {
    let operations = (0..model.n)
        .map(|o| ScheduledOp {
            job: model.job[o],
            operation: model.index[o],
            machine: model.fixed[o].map_or(st.machine[o], |f| f.0),
            start: st.start[o],
            end: st.end[o],
            setup_start: (st.setup[o] > 0).then_some(st.setup_start[o]),
        })
        .collect();
    Solution {
        makespan: st.costs.makespan,
        operations,
        costs: Some(st.costs),
    }
}

/// Schedules a validated instance: the best of several dispatching rules
/// (and of the previous schedule repaired, when there is one), improved
/// until the options' limits or `stop`.
pub(crate) fn solve(inst: &Instance, options: &SolveOptions, stop: &AtomicBool) -> Solution {
    let model = Model::new(inst);
    let deadline = Instant::now() + options.time_limit;
    let budget = options.max_iterations.unwrap_or(u64::MAX);
    let threads = options.threads.max(1);
    let has_previous = model.previous.iter().any(Option::is_some);
    let results: Vec<State> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let model = &model;
                scope.spawn(move || {
                    let seed = options.seed ^ (t as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                    let mut search = Search {
                        model,
                        rng: StdRng::seed_from_u64(seed),
                        order: Vec::with_capacity(model.n),
                        indeg: Vec::with_capacity(model.n),
                    };
                    let mut starts = Vec::new();
                    if has_previous && t == 0 {
                        let mut st = from_previous(model, inst.machines);
                        if search.decode(&mut st, true) {
                            starts.push(st);
                        }
                    }
                    for rule in [Rule::EarliestEnd, Rule::DueDate, Rule::Slack] {
                        let mut st = dispatch(model, inst.machines, rule, &mut search.rng);
                        if search.decode(&mut st, false) {
                            starts.push(st);
                        }
                    }
                    let first = starts.into_iter().min_by_key(|s| s.key)?;
                    Some(search.run(first, stop, deadline, budget))
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().ok().flatten())
            .collect()
    });
    match results.iter().min_by_key(|s| s.key) {
        Some(best) => solution(&model, best),
        None => repair_model(&model, inst.machines),
    }
}

fn repair_model(model: &Model, machines: usize) -> Solution {
    let mut st = from_previous(model, machines);
    let (mut order, mut indeg) = (Vec::new(), Vec::new());
    if !st.decode(model, true, &mut order, &mut indeg) {
        // The previous sequences close a cycle with the precedence as it
        // now is: fall back to a list schedule, which cannot.
        let mut rng = StdRng::seed_from_u64(0);
        st = dispatch(model, machines, Rule::EarliestEnd, &mut rng);
        st.decode(model, false, &mut order, &mut indeg);
    }
    solution(model, &st)
}

/// The previous schedule kept as it was wherever it still can be: each
/// machine's sequence unchanged, every operation at its previous start
/// unless a predecessor, its machine, the calendar or `now` pushes it
/// later. Operations without a previous place go at the end of their
/// fastest machine. Fast (one pass), for the moment something breaks.
pub fn repair(inst: &Instance) -> Solution {
    repair_model(&Model::new(inst), inst.machines)
}
