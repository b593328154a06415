//! Traceability at scale: a pump plant's genealogy of about a million
//! units loaded into a fresh embedded store, then backward questions
//! ("what went into this pump") from random finished serials and forward
//! questions ("where did this lot go") from random material lots, each
//! timed as the store answers it.
//!
//! The plant: material lots (castings, bar stock, impeller blanks), one
//! machined serial per casing, shaft and impeller, each from one lot, and
//! a pump serial assembled from one of each.

use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use zhizao_quality::{Direction, TraceUnit, UnitKind};

use crate::BenchError;

#[derive(Debug, Clone, Serialize)]
pub struct TraceReport {
    pub units: usize,
    pub links: usize,
    pub load_s: f64,
    pub database_mb: f64,
    /// (questions, median ms, slowest ms, mean units in an answer).
    pub backward_cold: (usize, f64, f64, f64),
    pub backward_warm: (usize, f64, f64, f64),
    pub forward_cold: (usize, f64, f64, f64),
    pub forward_warm: (usize, f64, f64, f64),
}

fn unit(code: String, kind: UnitKind, item: &str) -> TraceUnit {
    TraceUnit {
        code,
        kind,
        item: item.to_owned(),
        quantity: None,
        work_order: String::new(),
    }
}

/// The genealogy: units and (input, output) links by position.
pub fn plant(pumps: usize, lots: usize, seed: u64) -> (Vec<TraceUnit>, Vec<(usize, usize)>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut units = Vec::with_capacity(lots + 4 * pumps);
    let mut links = Vec::with_capacity(6 * pumps);
    let materials = [
        ("CASTING-HT250-50", "HT"),
        ("BAR-304", "BAR"),
        ("IMPELLER-BLANK", "IMB"),
    ];
    // Each material gets a third of the lots.
    let mut lot_range = Vec::new();
    for (item, prefix) in materials {
        let first = units.len();
        for i in 0..lots / 3 {
            units.push(unit(format!("{prefix}-L{i:05}"), UnitKind::Lot, item));
        }
        lot_range.push((first, units.len()));
    }
    let parts = [
        ("CASING-50", "CAS"),
        ("SHAFT-304", "SH"),
        ("IMPELLER-50", "IMP"),
    ];
    let mut part_start = Vec::new();
    for (m, (item, prefix)) in parts.iter().enumerate() {
        part_start.push(units.len());
        let (lo, hi) = lot_range[m];
        for i in 0..pumps {
            let me = units.len();
            units.push(unit(format!("{prefix}-{i:07}"), UnitKind::Serial, item));
            // Lots are used in order, as a store issues them, with some mixing.
            let lot = lo + ((i * (hi - lo)) / pumps + rng.gen_range(0..2)).min(hi - lo - 1);
            links.push((lot, me));
        }
    }
    for i in 0..pumps {
        let me = units.len();
        units.push(unit(format!("QJ50-{i:07}"), UnitKind::Serial, "QJ-50"));
        for start in &part_start {
            links.push((start + i, me));
        }
    }
    (units, links)
}

fn summary(ms: &mut [f64], sizes: &[usize]) -> (usize, f64, f64, f64) {
    ms.sort_by(f64::total_cmp);
    let n = ms.len();
    let mean = sizes.iter().sum::<usize>() as f64 / sizes.len().max(1) as f64;
    (
        n,
        ms.get(n / 2).copied().unwrap_or(0.0),
        ms.last().copied().unwrap_or(0.0),
        mean,
    )
}

/// Loads the plant (`pumps` pumps make 4 units each, plus `lots`) and times
/// `questions` questions each way, cold (first time asked) and warm (asked
/// again).
pub async fn run(
    pumps: usize,
    lots: usize,
    questions: usize,
    seed: u64,
) -> Result<TraceReport, BenchError> {
    let dir = tempfile::tempdir()?;
    let (store, tenant) = crate::fresh_registry(dir.path()).await?;
    let (units, links) = plant(pumps, lots, seed);
    let started = Instant::now();
    store.bulk_trace(tenant.id, &units, &links, 0).await?;
    let load_s = started.elapsed().as_secs_f64();
    let database_mb = std::fs::read_dir(dir.path())?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len() as f64)
        .sum::<f64>()
        / 1e6;
    let mut rng = StdRng::seed_from_u64(seed ^ 0xA5A5);
    let lot_count = units.iter().filter(|u| u.kind == UnitKind::Lot).count();
    let pump_first = units.len() - pumps;
    let picks_back: Vec<String> = (0..questions)
        .map(|_| units[pump_first + rng.gen_range(0..pumps)].code.clone())
        .collect();
    let picks_fwd: Vec<String> = (0..questions)
        .map(|_| units[rng.gen_range(0..lot_count)].code.clone())
        .collect();
    let ask = async |codes: &[String],
                     direction: Direction|
           -> Result<(Vec<f64>, Vec<usize>), BenchError> {
        let mut ms = Vec::with_capacity(codes.len());
        let mut sizes = Vec::with_capacity(codes.len());
        for code in codes {
            let t = Instant::now();
            let g = store
                .genealogy(tenant.id, code, direction, 20, 10_000)
                .await?;
            ms.push(t.elapsed().as_secs_f64() * 1e3);
            sizes.push(g.map_or(0, |g| g.units.len()));
        }
        Ok((ms, sizes))
    };
    let (mut bc, bs) = ask(&picks_back, Direction::Backward).await?;
    let (mut bw, _) = ask(&picks_back, Direction::Backward).await?;
    let (mut fc, fs) = ask(&picks_fwd, Direction::Forward).await?;
    let (mut fw, _) = ask(&picks_fwd, Direction::Forward).await?;
    Ok(TraceReport {
        units: units.len(),
        links: links.len(),
        load_s,
        database_mb,
        backward_cold: summary(&mut bc, &bs),
        backward_warm: summary(&mut bw, &bs),
        forward_cold: summary(&mut fc, &fs),
        forward_warm: summary(&mut fw, &fs),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pump_has_one_of_each_part_and_each_part_one_lot() {
        let (units, links) = plant(100, 30, 1);
        assert_eq!(units.len(), 30 + 400);
        assert_eq!(links.len(), 300 + 300);
        let pumps = &units[units.len() - 100..];
        assert!(pumps.iter().all(|u| u.item == "QJ-50"));
        for (i, o) in &links {
            assert!(i < o, "inputs come before outputs");
        }
    }
}
