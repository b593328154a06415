//! The demo shop floor working to the schedule, so plan and actual can be
//! compared: each scheduled operation makes its quantity over its planned
//! time at its work order's pace (some orders run slower than planned,
//! a few faster), never ahead of what the operation before it has made;
//! one unit in forty is scrap. Pure: the binary loads the schedule and
//! stores the reports.

use std::collections::HashMap;

/// An operation as the schedule plans it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedWork {
    pub work_order_id: i64,
    pub seq: i64,
    pub start_ms: i64,
    pub end_ms: i64,
    /// Quantity left when it was planned.
    pub quantity: f64,
}

/// Quantities to report at an operation.
#[derive(Debug, Clone, PartialEq)]
pub struct ShopReport {
    pub work_order_id: i64,
    pub seq: i64,
    pub good: f64,
    pub scrap: f64,
}

/// A work order's pace against the plan, from 0.7 to 1.1, fixed by its id
/// and the seed.
pub fn pace(work_order_id: i64, seed: u64) -> f64 {
    let mut x = (work_order_id as u64) ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    0.7 + (x % 1000) as f64 / 2500.0
}

/// What to report now. `done` is each operation's good and scrap so far
/// (by work order and seq, for every operation of the orders, planned or
/// not); `ordered` each work order's quantity.
pub fn reports(
    plan: &[PlannedWork],
    done: &HashMap<(i64, i64), f64>,
    ordered: &HashMap<i64, f64>,
    now_ms: i64,
    seed: u64,
) -> Vec<ShopReport> {
    let mut planned: Vec<&PlannedWork> = plan.iter().collect();
    planned.sort_by_key(|p| (p.work_order_id, p.seq));
    // Each order's operations in seq order, to cap by the one before.
    let mut seqs: HashMap<i64, Vec<i64>> = HashMap::new();
    for &(wo, seq) in done.keys() {
        seqs.entry(wo).or_default().push(seq);
    }
    for v in seqs.values_mut() {
        v.sort_unstable();
    }
    let mut now_done = done.clone();
    let mut out = Vec::new();
    for p in planned {
        let Some(&quantity) = ordered.get(&p.work_order_id) else {
            continue;
        };
        let have = now_done
            .get(&(p.work_order_id, p.seq))
            .copied()
            .unwrap_or(0.0);
        let at_plan = (quantity - p.quantity).max(0.0);
        let span = (p.end_ms - p.start_ms).max(1) as f64;
        let share =
            ((now_ms - p.start_ms) as f64 / span * pace(p.work_order_id, seed)).clamp(0.0, 1.0);
        let mut target = (at_plan + share * p.quantity).floor().min(quantity);
        let before = seqs
            .get(&p.work_order_id)
            .and_then(|v| v.iter().rev().find(|&&s| s < p.seq).copied());
        if let Some(b) = before {
            target = target.min(now_done.get(&(p.work_order_id, b)).copied().unwrap_or(0.0));
        }
        let make = (target - have).floor();
        if make < 1.0 {
            continue;
        }
        let scrap = ((have + make) / 40.0).floor() - (have / 40.0).floor();
        now_done.insert((p.work_order_id, p.seq), have + make);
        out.push(ShopReport {
            work_order_id: p.work_order_id,
            seq: p.seq,
            good: make - scrap,
            scrap,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_follows_the_plan_at_its_pace_and_never_overtakes_its_input() {
        let hour = 3_600_000;
        let plan = vec![
            PlannedWork {
                work_order_id: 1,
                seq: 10,
                start_ms: 0,
                end_ms: 10 * hour,
                quantity: 100.0,
            },
            PlannedWork {
                work_order_id: 1,
                seq: 20,
                start_ms: 0,
                end_ms: 5 * hour,
                quantity: 100.0,
            },
        ];
        let done = HashMap::from([((1, 10), 0.0), ((1, 20), 0.0)]);
        let ordered = HashMap::from([(1, 100.0)]);
        let p = pace(1, 3);
        assert!((0.7..=1.1).contains(&p));
        let r = reports(&plan, &done, &ordered, 5 * hour, 3);
        let cut = (50.0 * p).floor();
        assert_eq!(r[0].good + r[0].scrap, cut);
        // The second operation is planned to be done but has only what
        // the first made.
        assert_eq!(r[1].good + r[1].scrap, cut);
        // Nothing more until time passes; then the rest, never over the
        // order.
        let done = HashMap::from([((1, 10), cut), ((1, 20), cut)]);
        assert!(reports(&plan, &done, &ordered, 5 * hour, 3).is_empty());
        let r = reports(&plan, &done, &ordered, 30 * hour, 3);
        assert_eq!(
            r.iter().map(|x| x.good + x.scrap).sum::<f64>(),
            2.0 * (100.0 - cut)
        );
        assert!(r.iter().all(|x| x.scrap <= (x.good + x.scrap) / 20.0 + 1.0));
    }
}
