//! Makespan search. A schedule is each operation's machine and each
//! machine's sequence; start times follow as longest paths in the
//! disjunctive graph (job order plus machine order). The search starts
//! from an earliest-completion dispatching rule and improves it by tabu
//! search: moves swap the first or last two operations of a block of the
//! critical path (Nowicki and Smutnicki's N5) and, in a flexible shop,
//! move a critical operation to another of its machines; both are
//! estimated from heads and tails before one is made. When the search stalls it goes
//! back to its best schedule and shakes it. Threads search apart from
//! different seeds; the best schedule wins (ties to the lowest thread), so
//! with an iteration budget the answer depends only on seed and threads.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::model::{Instance, ScheduledOp, Solution};

const NONE: usize = usize::MAX;

/// Machine moves made on a copy per iteration, the best estimated first
/// (those that would close a cycle not counted).
const EXACT_MACHINE_MOVES: usize = 4;

#[derive(Debug, Clone)]
pub struct SolveOptions {
    pub time_limit: Duration,
    /// Tabu iterations per thread; the time limit still applies.
    pub max_iterations: Option<u64>,
    pub threads: usize,
    pub seed: u64,
}

impl Default for SolveOptions {
    fn default() -> Self {
        Self {
            time_limit: Duration::from_secs(10),
            max_iterations: None,
            threads: 1,
            seed: 1,
        }
    }
}

/// The instance flattened: operation `o` of job `job[o]`.
struct Shop {
    n: usize,
    machines: usize,
    job: Vec<usize>,
    index: Vec<usize>,
    job_prev: Vec<usize>,
    job_next: Vec<usize>,
    modes: Vec<Vec<(usize, u32)>>,
    /// Work left in the job from each operation on (shortest durations).
    work_left: Vec<u64>,
}

impl Shop {
    fn new(inst: &Instance) -> Shop {
        let mut s = Shop {
            n: 0,
            machines: inst.machines,
            job: Vec::new(),
            index: Vec::new(),
            job_prev: Vec::new(),
            job_next: Vec::new(),
            modes: Vec::new(),
            work_left: Vec::new(),
        };
        for (j, job) in inst.jobs.iter().enumerate() {
            let ops = &job.operations;
            let first = s.job.len();
            for (k, op) in ops.iter().enumerate() {
                let o = s.job.len();
                s.job.push(j);
                s.index.push(k);
                s.job_prev.push(if k == 0 { NONE } else { o - 1 });
                s.job_next
                    .push(if k + 1 == ops.len() { NONE } else { o + 1 });
                s.modes.push(op.modes.clone());
            }
            let mut left = 0u64;
            let mut tail = vec![0; ops.len()];
            for k in (0..ops.len()).rev() {
                left += u64::from(ops[k].modes.iter().map(|m| m.1).min().unwrap_or(0));
                tail[k] = left;
            }
            s.work_left.extend(tail);
            debug_assert_eq!(s.job.len(), first + ops.len());
        }
        s.n = s.job.len();
        s
    }
}

/// A schedule being searched: machine and duration of each operation,
/// each machine's order, and the heads and tails they give.
#[derive(Clone)]
struct State {
    machine: Vec<usize>,
    dur: Vec<u64>,
    seq: Vec<Vec<usize>>,
    pos: Vec<usize>,
    head: Vec<u64>,
    /// Longest path from an operation's end to the end of the schedule.
    tail: Vec<u64>,
    makespan: u64,
}

impl State {
    fn mach_prev(&self, o: usize) -> usize {
        let p = self.pos[o];
        if p == 0 {
            NONE
        } else {
            self.seq[self.machine[o]][p - 1]
        }
    }

    fn mach_next(&self, o: usize) -> usize {
        let s = &self.seq[self.machine[o]];
        s.get(self.pos[o] + 1).copied().unwrap_or(NONE)
    }

    fn end(&self, o: usize) -> u64 {
        if o == NONE {
            0
        } else {
            self.head[o] + self.dur[o]
        }
    }

    fn after(&self, o: usize) -> u64 {
        if o == NONE {
            0
        } else {
            self.dur[o] + self.tail[o]
        }
    }

    /// Heads, tails and makespan from the sequences; `false` when the
    /// sequences make a cycle (the state is then not a schedule).
    fn evaluate(&mut self, shop: &Shop, order: &mut Vec<usize>, indeg: &mut Vec<u8>) -> bool {
        let n = shop.n;
        order.clear();
        indeg.clear();
        indeg.resize(n, 0);
        for (o, d) in indeg.iter_mut().enumerate() {
            *d = u8::from(shop.job_prev[o] != NONE) + u8::from(self.pos[o] != 0);
            if *d == 0 {
                order.push(o);
            }
        }
        let mut i = 0;
        while i < order.len() {
            let o = order[i];
            i += 1;
            for s in [shop.job_next[o], self.mach_next(o)] {
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
        let mut makespan = 0;
        for &o in order.iter() {
            let h = self.end(shop.job_prev[o]).max(self.end(self.mach_prev(o)));
            self.head[o] = h;
            makespan = makespan.max(h + self.dur[o]);
        }
        for &o in order.iter().rev() {
            self.tail[o] = self
                .after(shop.job_next[o])
                .max(self.after(self.mach_next(o)));
        }
        self.makespan = makespan;
        true
    }

    fn swap(&mut self, u: usize, v: usize) {
        let m = self.machine[u];
        let (a, b) = (self.pos[u], self.pos[v]);
        self.seq[m].swap(a, b);
        self.pos[u] = b;
        self.pos[v] = a;
    }

    fn remove(&mut self, o: usize) {
        let m = self.machine[o];
        let p = self.pos[o];
        self.seq[m].remove(p);
        for &x in &self.seq[m][p..] {
            self.pos[x] -= 1;
        }
    }

    fn insert(&mut self, o: usize, m: usize, p: usize, d: u64) {
        self.machine[o] = m;
        self.dur[o] = d;
        self.seq[m].insert(p, o);
        for k in p..self.seq[m].len() {
            let x = self.seq[m][k];
            self.pos[x] = k;
        }
    }

    /// One critical path, from its first operation to its last.
    fn critical_path(&self, shop: &Shop) -> Vec<usize> {
        let mut path = Vec::new();
        let Some(mut o) = (0..shop.n).find(|&o| self.head[o] + self.dur[o] == self.makespan) else {
            return path;
        };
        loop {
            path.push(o);
            let jp = shop.job_prev[o];
            let mp = self.mach_prev(o);
            // Prefer the machine predecessor: blocks are what N5 moves.
            if mp != NONE && self.end(mp) == self.head[o] {
                o = mp;
            } else if jp != NONE && self.end(jp) == self.head[o] {
                o = jp;
            } else {
                break;
            }
        }
        path.reverse();
        path
    }
}

/// Earliest completion first: of the jobs' next operations and their
/// machines, the pair that finishes first; ties to the job with most work
/// left, then to chance.
fn dispatch(shop: &Shop, rng: &mut StdRng) -> State {
    let n = shop.n;
    let mut st = State {
        machine: vec![0; n],
        dur: vec![0; n],
        seq: vec![Vec::new(); shop.machines],
        pos: vec![0; n],
        head: vec![0; n],
        tail: vec![0; n],
        makespan: 0,
    };
    let mut next: Vec<usize> = (0..n).filter(|&o| shop.job_prev[o] == NONE).collect();
    let mut job_ready: Vec<u64> = vec![0; n];
    let mut mach_ready = vec![0u64; shop.machines];
    while !next.is_empty() {
        let mut best: Option<(u64, u64, u32, usize, usize, u64)> = None;
        for (i, &o) in next.iter().enumerate() {
            for &(m, d) in &shop.modes[o] {
                let start = job_ready[o].max(mach_ready[m]);
                let key = (
                    start + u64::from(d),
                    u64::MAX - shop.work_left[o],
                    rng.r#gen::<u32>(),
                );
                if best.is_none_or(|b| (key.0, key.1, key.2) < (b.0, b.1, b.2)) {
                    best = Some((key.0, key.1, key.2, i, m, u64::from(d)));
                }
            }
        }
        let Some((end, _, _, i, m, d)) = best else {
            break;
        };
        let o = next[i];
        st.machine[o] = m;
        st.dur[o] = d;
        st.pos[o] = st.seq[m].len();
        st.seq[m].push(o);
        st.head[o] = end - d;
        mach_ready[m] = end;
        let s = shop.job_next[o];
        if s == NONE {
            next.swap_remove(i);
        } else {
            job_ready[s] = end;
            next[i] = s;
        }
    }
    st
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Move {
    /// Swap two adjacent operations of a machine.
    Swap(usize, usize),
    /// Move an operation to another machine at a position.
    Reassign(usize, usize, usize),
}

/// Moves around the critical path: N5 swaps, and in a flexible shop each
/// critical operation onto each other machine it may use.
fn neighbours(shop: &Shop, st: &State, flexible: bool, out: &mut Vec<Move>) {
    out.clear();
    let path = st.critical_path(shop);
    let mut blocks: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < path.len() {
        let mut j = i;
        while j + 1 < path.len()
            && st.machine[path[j + 1]] == st.machine[path[i]]
            && st.pos[path[j + 1]] == st.pos[path[j]] + 1
        {
            j += 1;
        }
        blocks.push((i, j));
        i = j + 1;
    }
    let last = blocks.len().saturating_sub(1);
    for (b, &(i, j)) in blocks.iter().enumerate() {
        if j == i {
            continue;
        }
        // N5: the first two of every block but the first, the last two of
        // every block but the last (both when the path is one block).
        let (first, final_block) = (b == 0, b == last);
        if !first || final_block {
            out.push(Move::Swap(path[i], path[i + 1]));
        }
        if !final_block || first {
            out.push(Move::Swap(path[j - 1], path[j]));
        }
    }
    out.sort_unstable_by_key(|m| match *m {
        Move::Swap(a, b) => (a, b, 0),
        Move::Reassign(a, b, c) => (a, b, c),
    });
    out.dedup();
    if flexible {
        for &o in &path {
            for &(m, _) in &shop.modes[o] {
                if m == st.machine[o] {
                    continue;
                }
                // Where its job lets it start, among the machine's order.
                let ready = st.end(shop.job_prev[o]);
                let p = st.seq[m].partition_point(|&x| st.head[x] < ready);
                out.push(Move::Reassign(o, m, p));
            }
        }
    }
}

/// A lower estimate of the makespan after swapping `u` and `v` (`u` just
/// before `v` on one machine), from heads and tails.
fn estimate_swap(shop: &Shop, st: &State, u: usize, v: usize) -> u64 {
    let up = st.mach_prev(u);
    let vn = st.mach_next(v);
    let hv = st.end(shop.job_prev[v]).max(st.end(up));
    let hu = st.end(shop.job_prev[u]).max(hv + st.dur[v]);
    let tu = st.after(shop.job_next[u]).max(st.after(vn));
    let tv = st.after(shop.job_next[v]).max(st.dur[u] + tu);
    (hv + st.dur[v] + tv).max(hu + st.dur[u] + tu)
}

/// An estimate of the makespan with `o` moved to machine `m` at position
/// `p`: the longest path through it there, from heads and tails as they
/// are.
fn estimate_reassign(shop: &Shop, st: &State, o: usize, m: usize, p: usize) -> u64 {
    let Some(&(_, d)) = shop.modes[o].iter().find(|x| x.0 == m) else {
        return u64::MAX;
    };
    let seq = &st.seq[m];
    let pred = if p == 0 { NONE } else { seq[p - 1] };
    let succ = seq.get(p).copied().unwrap_or(NONE);
    let head = st.end(shop.job_prev[o]).max(st.end(pred));
    let tail = st.after(shop.job_next[o]).max(st.after(succ));
    head + u64::from(d) + tail
}

struct Search<'a> {
    shop: &'a Shop,
    flexible: bool,
    rng: StdRng,
    order: Vec<usize>,
    indeg: Vec<u8>,
    /// Tabu until iteration: arcs `a before b` on a machine, and
    /// operations' machines.
    tabu_arc: std::collections::HashMap<(usize, usize), u64>,
    tabu_machine: std::collections::HashMap<(usize, usize), u64>,
}

impl Search<'_> {
    /// Back to the best, shaken by a few random moves; the tabu lists
    /// start again.
    fn shake(&mut self, st: &mut State, best: &State, moves: &mut Vec<Move>) {
        *st = best.clone();
        for _ in 0..3 + self.rng.gen_range(0..5) {
            neighbours(self.shop, st, self.flexible, moves);
            if moves.is_empty() {
                break;
            }
            let mv = moves[self.rng.gen_range(0..moves.len())];
            let keep = st.clone();
            if !self.apply(st, mv) {
                *st = keep;
            }
        }
        self.tabu_arc.clear();
        self.tabu_machine.clear();
    }

    fn apply(&mut self, st: &mut State, mv: Move) -> bool {
        match mv {
            Move::Swap(u, v) => st.swap(u, v),
            Move::Reassign(o, m, p) => {
                st.remove(o);
                let Some(&(_, d)) = self.shop.modes[o].iter().find(|x| x.0 == m) else {
                    return false;
                };
                st.insert(o, m, p.min(st.seq[m].len()), u64::from(d));
            }
        }
        st.evaluate(self.shop, &mut self.order, &mut self.indeg)
    }

    fn tenure(&mut self) -> u64 {
        let base = 8 + (self.shop.n / self.shop.machines.max(1)) as u64 / 2;
        self.rng.gen_range(base..base * 2)
    }

    fn run(&mut self, start: State, stop: &AtomicBool, deadline: Instant, budget: u64) -> State {
        let mut st = start;
        if !st.evaluate(self.shop, &mut self.order, &mut self.indeg) {
            return st;
        }
        let mut best = st.clone();
        let mut moves = Vec::new();
        let mut since_best = 0u64;
        let stall = 2_000 + 20 * self.shop.n as u64;
        for it in 0..budget {
            if it % 64 == 0 && (stop.load(Ordering::Relaxed) || Instant::now() >= deadline) {
                break;
            }
            neighbours(self.shop, &st, self.flexible, &mut moves);
            if moves.is_empty() {
                break;
            }
            // Machine moves are estimated, and the few most promising are
            // then made on a copy to know their makespan.
            let mut valued: Vec<(u64, bool, Move)> = Vec::with_capacity(moves.len());
            let mut machine_moves: Vec<(u64, bool, Move)> = Vec::new();
            for &mv in &moves {
                match mv {
                    Move::Swap(u, v) => valued.push((
                        estimate_swap(self.shop, &st, u, v),
                        self.tabu_arc.get(&(u, v)).is_some_and(|&t| t > it),
                        mv,
                    )),
                    Move::Reassign(o, m, p) => machine_moves.push((
                        estimate_reassign(self.shop, &st, o, m, p),
                        self.tabu_machine.get(&(o, m)).is_some_and(|&t| t > it),
                        mv,
                    )),
                }
            }
            machine_moves.sort_by_key(|c| c.0);
            let mut made = 0;
            for &(_, tabu, mv) in &machine_moves {
                if made == EXACT_MACHINE_MOVES {
                    break;
                }
                let mut trial = st.clone();
                // A move that would close a cycle is no schedule.
                if self.apply(&mut trial, mv) {
                    valued.push((trial.makespan, tabu, mv));
                    made += 1;
                }
            }
            // The best move not tabu (or better than the best found).
            let mut chosen: Option<(u64, Move)> = None;
            let mut fallback: Option<(u64, Move)> = None;
            for (value, tabu, mv) in valued {
                if value == u64::MAX {
                    continue;
                }
                let noise = self.rng.r#gen::<u64>() & 1;
                let key = value * 2 + noise;
                if !tabu || value < best.makespan {
                    if chosen.is_none_or(|c| key < c.0) {
                        chosen = Some((key, mv));
                    }
                } else if fallback.is_none_or(|c| key < c.0) {
                    fallback = Some((key, mv));
                }
            }
            let Some((_, mv)) = chosen.or(fallback) else {
                // Nowhere to go from here: shake the best instead.
                self.shake(&mut st, &best, &mut moves);
                since_best = 0;
                continue;
            };
            // A machine move may close a cycle, and with zero durations so
            // may a swap (a tie hides another path between the two); a
            // cycle is no schedule, so the move is undone.
            let before = matches!(mv, Move::Reassign(..)).then(|| st.clone());
            let t = it + self.tenure();
            match mv {
                Move::Swap(u, v) => {
                    self.tabu_arc.insert((v, u), t);
                    self.tabu_arc.insert((u, v), t);
                }
                Move::Reassign(o, _, _) => {
                    self.tabu_machine.insert((o, st.machine[o]), t);
                }
            }
            if !self.apply(&mut st, mv) {
                match (before, mv) {
                    (Some(b), _) => st = b,
                    (None, Move::Swap(u, v)) => {
                        // Swapping back restores the acyclic order it was.
                        st.swap(v, u);
                        st.evaluate(self.shop, &mut self.order, &mut self.indeg);
                    }
                    (None, Move::Reassign(..)) => {}
                }
                continue;
            }
            if st.makespan < best.makespan {
                best = st.clone();
                since_best = 0;
            } else {
                since_best += 1;
            }
            if since_best > stall {
                self.shake(&mut st, &best, &mut moves);
                since_best = 0;
            }
        }
        best
    }
}

fn solution(shop: &Shop, st: &State) -> Solution {
    let operations = (0..shop.n)
        .map(|o| ScheduledOp {
            job: shop.job[o],
            operation: shop.index[o],
            machine: st.machine[o],
            start: st.head[o],
            end: st.head[o] + st.dur[o],
            setup_start: None,
        })
        .collect();
    Solution {
        makespan: st.makespan,
        operations,
        costs: None,
    }
}

/// The best schedule found within the options' limits; `stop` ends the
/// search early (its best so far is returned). The instance must be valid
/// ([`Instance::validate`]; the parsers see to it). A plain job shop gets
/// the tabu search, anything more the plant's search.
pub fn solve(instance: &Instance, options: &SolveOptions, stop: &AtomicBool) -> Solution {
    let mut s = if instance.is_plain_job_shop() {
        solve_job_shop(instance, options, stop)
    } else {
        crate::general::solve(instance, options, stop)
    };
    if s.costs.is_none() {
        s.costs = crate::check::check(instance, &s).ok();
    }
    s
}

fn solve_job_shop(instance: &Instance, options: &SolveOptions, stop: &AtomicBool) -> Solution {
    let shop = Shop::new(instance);
    let flexible = shop.modes.iter().any(|m| m.len() > 1);
    let deadline = Instant::now() + options.time_limit;
    let budget = options.max_iterations.unwrap_or(u64::MAX);
    let threads = options.threads.max(1);
    let results: Vec<State> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let shop = &shop;
                scope.spawn(move || {
                    let seed = options.seed ^ (t as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                    let mut rng = StdRng::seed_from_u64(seed);
                    let start = dispatch(shop, &mut rng);
                    let mut search = Search {
                        shop,
                        flexible,
                        rng,
                        order: Vec::with_capacity(shop.n),
                        indeg: Vec::with_capacity(shop.n),
                        tabu_arc: Default::default(),
                        tabu_machine: Default::default(),
                    };
                    search.run(start, stop, deadline, budget)
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let best = results
        .iter()
        .min_by_key(|s| s.makespan)
        .cloned()
        .unwrap_or_else(|| {
            let mut rng = StdRng::seed_from_u64(options.seed);
            let mut st = dispatch(&shop, &mut rng);
            let (mut order, mut indeg) = (Vec::new(), Vec::new());
            st.evaluate(&shop, &mut order, &mut indeg);
            st
        });
    solution(&shop, &best)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::check;
    use crate::parse::{Format, parse};

    const FT06: &str = "6 6
2 1 0 3 1 6 3 7 5 3 4 6
1 8 2 5 4 10 5 10 0 10 3 4
2 5 3 4 5 8 0 9 1 1 4 7
1 5 0 5 2 5 3 3 4 8 5 9
2 9 1 3 4 5 5 4 0 3 3 1
1 3 3 3 5 9 0 10 4 4 2 1
";

    fn opts(iterations: u64, threads: usize, seed: u64) -> SolveOptions {
        SolveOptions {
            time_limit: Duration::from_secs(60),
            max_iterations: Some(iterations),
            threads,
            seed,
        }
    }

    #[test]
    fn ft06_reaches_its_optimum_of_55() {
        let inst = parse(FT06, Format::Jssp).unwrap_or_else(|e| panic!("{e}"));
        let s = solve(&inst, &opts(20_000, 1, 7), &AtomicBool::new(false));
        check(&inst, &s).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.makespan, 55);
    }

    #[test]
    fn the_same_seed_threads_and_budget_give_the_same_schedule() {
        let inst = parse(FT06, Format::Jssp).unwrap_or_else(|e| panic!("{e}"));
        let a = solve(&inst, &opts(500, 2, 3), &AtomicBool::new(false));
        let b = solve(&inst, &opts(500, 2, 3), &AtomicBool::new(false));
        assert_eq!(a, b);
    }

    #[test]
    fn a_stopped_search_still_returns_a_schedule() {
        let inst = parse(FT06, Format::Jssp).unwrap_or_else(|e| panic!("{e}"));
        let s = solve(&inst, &opts(1_000_000, 2, 1), &AtomicBool::new(true));
        check(&inst, &s).unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn a_flexible_shop_uses_its_faster_machines() {
        // Two jobs of one operation: machine 0 takes 10, machine 1 takes 3.
        let inst = parse("2 2\n1 2 1 10 2 3\n1 2 1 10 2 3\n", Format::Fjsp)
            .unwrap_or_else(|e| panic!("{e}"));
        let s = solve(&inst, &opts(200, 1, 1), &AtomicBool::new(false));
        check(&inst, &s).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.makespan, 6);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::check::check;
    use crate::model::Operation;
    use proptest::prelude::*;

    /// Random flexible shops: 1–6 jobs of 1–5 operations on 1–4 machines,
    /// each operation on 1–3 machines with durations 0–20.
    fn shop() -> impl Strategy<Value = Instance> {
        (1usize..5).prop_flat_map(|machines| {
            let op =
                proptest::collection::vec((0..machines, 0u32..21), 1..4).prop_map(|mut modes| {
                    modes.sort_by_key(|m| m.0);
                    modes.dedup_by_key(|m| m.0);
                    Operation::on(modes)
                });
            let job = proptest::collection::vec(op, 1..6);
            proptest::collection::vec(job, 1..7)
                .prop_map(move |jobs| Instance::job_shop(machines, jobs))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Every schedule the search returns passes the independent
        /// checker, and the same seed, threads and budget give the same
        /// schedule.
        #[test]
        fn schedules_are_valid_and_repeatable(inst in shop(), seed in 0u64..1000) {
            let o = SolveOptions {
                time_limit: Duration::from_secs(30),
                max_iterations: Some(300),
                threads: 2,
                seed,
            };
            let a = solve(&inst, &o, &AtomicBool::new(false));
            prop_assert!(check(&inst, &a).is_ok(), "{:?}", check(&inst, &a));
            let b = solve(&inst, &o, &AtomicBool::new(false));
            prop_assert_eq!(a, b);
        }
    }
}
