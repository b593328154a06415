//! Query planning: which tier answers which part of a query's range.
//!
//! An aggregate over whole hours reads hourly rollups; the partial hours
//! at its edges read 1-minute rollups, and the partial minutes raw points.
//! A bucket is read raw instead when the in-memory tier rewrote points
//! already in segments (its rollup would count them twice), or when a
//! value filter keeps some but not all of its points. `last` with no end
//! before the newest point needs no read at all: each series' newest point
//! is kept in memory.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::hot::SeriesData;
use crate::model::{SeriesKey, Value, ValueType};
use crate::query::{Aggregate, Query, Selected, ValueFilter};
use crate::rollup::{self, Folded, HOUR, MINUTE, RollupFile, Summary};
use crate::segment::{Segment, Want};
use crate::{State, TsdbError};

/// A series a query selected, with what memory holds of it.
#[derive(Debug)]
pub(crate) struct Picked {
    pub id: u32,
    pub key: SeriesKey,
    pub value_type: ValueType,
    /// Frozen and hot tiers over the query range, merged.
    pub memory: SeriesData,
    pub seg_max: i64,
    pub last: Option<(i64, Value)>,
}

/// What a query reads: taken under one lock, so tiers are consistent.
pub(crate) struct Snapshot {
    pub picked: Vec<Picked>,
    pub segments: Vec<Arc<Segment>>,
    pub rollups: Vec<Arc<RollupFile>>,
    pub last_known: bool,
}

pub(crate) fn snapshot(
    st: &State,
    select: impl Fn(&SeriesKey) -> bool,
    start: i64,
    end: i64,
) -> Snapshot {
    let picked = st
        .catalog
        .iter()
        .enumerate()
        .filter(|(_, (k, _))| select(k))
        .map(|(id, (k, t))| {
            let mut parts = Vec::new();
            for tier in st
                .frozen
                .iter()
                .map(|f| f.get(id))
                .chain([st.hot.get(id)])
                .flatten()
            {
                let r = tier.range(start, end);
                if !r.is_empty() {
                    parts.push(tier.slice(r));
                }
            }
            Picked {
                id: id as u32,
                key: k.clone(),
                value_type: *t,
                memory: SeriesData::merge(*t, parts),
                seg_max: st.seg_max.get(id).copied().unwrap_or(i64::MIN),
                last: st.last.get(id).cloned().flatten(),
            }
        })
        .collect();
    Snapshot {
        picked,
        segments: st.segments.clone(),
        rollups: st.rollups.clone(),
        last_known: st.last_known,
    }
}

/// Raw points of the wanted series from segments, merged oldest first.
pub(crate) fn read_segments(
    segments: &[Arc<Segment>],
    wants: &[Want],
) -> Result<HashMap<u32, SeriesData>, TsdbError> {
    let mut parts: HashMap<u32, Vec<SeriesData>> = HashMap::new();
    if wants.is_empty() {
        return Ok(HashMap::new());
    }
    for seg in segments {
        for (id, data) in seg.read(wants)? {
            parts.entry(id).or_default().push(data);
        }
    }
    let types: HashMap<u32, ValueType> = wants.iter().map(|w| (w.id, w.value_type)).collect();
    Ok(parts
        .into_iter()
        .map(|(id, p)| {
            let t = types.get(&id).copied().unwrap_or(ValueType::F64);
            (id, SeriesData::merge(t, p))
        })
        .collect())
}

/// Rollup rows of the wanted series at `width`, folded across files.
pub(crate) fn read_rollups(
    files: &[Arc<RollupFile>],
    width: i64,
    wants: &[Want],
) -> Result<HashMap<u32, Folded>, TsdbError> {
    let mut out: HashMap<u32, Folded> = HashMap::new();
    if wants.is_empty() {
        return Ok(out);
    }
    for f in files {
        for (id, rows) in f.read(width, wants)? {
            let m = out.entry(id).or_default();
            for (bucket, full, s) in rows {
                rollup::fold(m, bucket, full, s);
            }
        }
    }
    Ok(out)
}

/// The parts of `[start, end)` each rollup width answers, and the raw
/// edges. Empty when no rollup fits the query.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Pieces {
    /// (width, lo, hi) with lo and hi on bucket boundaries.
    pub rollup: Vec<(i64, i64, i64)>,
    pub raw: Vec<(i64, i64)>,
}

pub(crate) fn pieces(q: &Query, start: i64, end: i64) -> Pieces {
    if q.aggregate.is_none() {
        return Pieces::default();
    }
    let fits = |w: i64| q.every.is_none_or(|e| e > 0 && e % w == 0);
    let lo = |w| {
        if start == i64::MIN {
            i64::MIN
        } else {
            rollup::ceil_to(start, w)
        }
    };
    let hi = |w| {
        if end == i64::MAX {
            i64::MAX
        } else {
            rollup::bucket_of(end, w)
        }
    };
    let mut p = Pieces::default();
    if !fits(MINUTE) || lo(MINUTE) >= hi(MINUTE) {
        return p;
    }
    let (am, bm) = (lo(MINUTE), hi(MINUTE));
    if fits(HOUR) && lo(HOUR) < hi(HOUR) {
        let (ah, bh) = (lo(HOUR), hi(HOUR));
        p.rollup.push((HOUR, ah, bh));
        p.rollup.push((MINUTE, am, ah));
        p.rollup.push((MINUTE, bh, bm));
    } else {
        p.rollup.push((MINUTE, am, bm));
    }
    p.rollup.retain(|(_, a, b)| a < b);
    p.raw = [(start, am), (bm, end)]
        .into_iter()
        .filter(|(a, b)| a < b)
        .collect();
    p
}

/// Whether every value in `[min, max]` passes the filter, or none does.
fn filter_verdict(f: &ValueFilter, s: &Summary) -> Option<bool> {
    let (lo, hi) = (s.min, s.max);
    if f.accepts(Some(lo)) && f.accepts(Some(hi)) {
        return Some(true);
    }
    let none = f.gt.is_some_and(|b| hi <= b)
        || f.gte.is_some_and(|b| hi < b)
        || f.lt.is_some_and(|b| lo >= b)
        || f.lte.is_some_and(|b| lo > b);
    if none { Some(false) } else { None }
}

/// Sorts and joins touching ranges.
fn normalize(mut r: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    r.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(r.len());
    for (a, b) in r {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// The points of `data` inside `ranges`.
fn restrict(data: &SeriesData, ranges: &[(i64, i64)]) -> SeriesData {
    let parts = ranges
        .iter()
        .map(|(a, b)| data.slice(data.range(*a, *b)))
        .filter(|d| !d.is_empty())
        .collect();
    SeriesData::merge(data.value_type, parts)
}

/// Answers `ranges` of one series from summaries at `width`: stored
/// rollups merged with memory's points. Pushes the buckets it answers onto
/// `sums` and returns the ranges it cannot (memory rewrote a stored point,
/// or the value filter keeps part of the bucket).
fn answer(
    width: i64,
    ranges: &[(i64, i64)],
    stored: Option<&Folded>,
    p: &Picked,
    q: &Query,
    sums: &mut Vec<(i64, Summary)>,
) -> Vec<(i64, i64)> {
    let mut fell = Vec::new();
    for &(lo, hi) in ranges {
        let mem = p.memory.slice(p.memory.range(lo, hi));
        let mut buckets: BTreeMap<i64, (Summary, bool)> = BTreeMap::new();
        if let Some(stored) = stored {
            for (b, (_, s)) in stored.range(lo..hi) {
                buckets.insert(*b, (s.clone(), false));
            }
        }
        for (b, s) in rollup::summarize(&mem, width) {
            // The bucket's first memory point is its oldest: if no newer
            // than the segments' newest, it may rewrite one.
            let dirty = s.first.as_ref().is_some_and(|(t, _)| *t <= p.seg_max);
            let e = buckets.entry(b).or_default();
            e.0.merge(&s);
            e.1 |= dirty;
        }
        for (b, (s, dirty)) in buckets {
            let verdict = match &q.value {
                None => Some(true),
                Some(f) => filter_verdict(f, &s),
            };
            match (dirty, verdict) {
                (false, Some(true)) => sums.push((b, s)),
                (false, Some(false)) => {}
                _ => fell.push((b, b.saturating_add(width))),
            }
        }
    }
    fell
}

/// Builds each series' input to the query: summaries where rollups answer
/// exactly, raw points elsewhere.
pub(crate) fn select(snap: Snapshot, q: &Query) -> Result<Vec<Selected>, TsdbError> {
    let start = q.start.unwrap_or(i64::MIN);
    let end = q.end.unwrap_or(i64::MAX);
    let Snapshot {
        picked,
        segments,
        rollups,
        last_known,
    } = snap;

    let newest_in_range = |p: &Picked| p.last.as_ref().is_none_or(|(t, _)| *t >= start && *t < end);
    if q.aggregate == Some(Aggregate::Last)
        && q.every.is_none()
        && q.value.is_none()
        && last_known
        && picked.iter().all(newest_in_range)
    {
        return Ok(picked
            .into_iter()
            .map(|p| {
                let mut d = SeriesData::new(p.value_type);
                if let Some((t, v)) = p.last {
                    d.upsert(t, v);
                }
                Selected::raw(p.key, d)
            })
            .collect());
    }

    let pieces = pieces(q, start, end);
    let numeric = |t: ValueType| matches!(t, ValueType::F64 | ValueType::I64);
    let rollup_ok = |p: &Picked| !pieces.rollup.is_empty() && numeric(p.value_type);
    let of_width = |w: i64| -> Vec<(i64, i64)> {
        pieces
            .rollup
            .iter()
            .filter(|p| p.0 == w)
            .map(|p| (p.1, p.2))
            .collect()
    };
    // Hours first; an hour they cannot answer falls to minutes, and a
    // minute that cannot either, to raw points.
    let mut summaries: Vec<Vec<(i64, Summary)>> = vec![Vec::new(); picked.len()];
    let mut minute_ranges: Vec<Vec<(i64, i64)>> = vec![of_width(MINUTE); picked.len()];
    let hours = of_width(HOUR);
    if !hours.is_empty() {
        let wants: Vec<Want> = picked
            .iter()
            .filter(|p| rollup_ok(p))
            .map(|p| Want {
                id: p.id,
                value_type: p.value_type,
                ranges: hours.clone(),
            })
            .collect();
        let stored = read_rollups(&rollups, HOUR, &wants)?;
        for (k, p) in picked.iter().enumerate() {
            if rollup_ok(p) {
                let fell = answer(HOUR, &hours, stored.get(&p.id), p, q, &mut summaries[k]);
                minute_ranges[k].extend(fell);
                minute_ranges[k] = normalize(std::mem::take(&mut minute_ranges[k]));
            }
        }
    }
    let wants: Vec<Want> = picked
        .iter()
        .zip(&minute_ranges)
        .filter(|(p, r)| rollup_ok(p) && !r.is_empty())
        .map(|(p, r)| Want {
            id: p.id,
            value_type: p.value_type,
            ranges: r.clone(),
        })
        .collect();
    let stored = read_rollups(&rollups, MINUTE, &wants)?;
    let mut wants: Vec<Want> = Vec::with_capacity(picked.len());
    for (k, p) in picked.iter().enumerate() {
        let mut raw_ranges = Vec::new();
        if rollup_ok(p) {
            raw_ranges.extend(pieces.raw.iter().copied());
            let fell = answer(
                MINUTE,
                &minute_ranges[k],
                stored.get(&p.id),
                p,
                q,
                &mut summaries[k],
            );
            raw_ranges.extend(fell);
        } else {
            raw_ranges.push((start, end));
        }
        wants.push(Want {
            id: p.id,
            value_type: p.value_type,
            ranges: normalize(raw_ranges),
        });
    }
    wants.retain(|w| !w.ranges.is_empty());
    let mut from_segments = read_segments(&segments, &wants)?;
    let ranges: HashMap<u32, &Vec<(i64, i64)>> = wants.iter().map(|w| (w.id, &w.ranges)).collect();
    Ok(picked
        .into_iter()
        .zip(summaries)
        .map(|(p, sums)| {
            let mut parts = Vec::new();
            if let Some(d) = from_segments.remove(&p.id) {
                parts.push(d);
            }
            if let Some(r) = ranges.get(&p.id) {
                let m = restrict(&p.memory, r);
                if !m.is_empty() {
                    parts.push(m);
                }
            }
            Selected {
                key: p.key,
                raw: SeriesData::merge(p.value_type, parts),
                summaries: sums,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_cascade_from_hours_to_raw_edges() {
        let q = Query {
            aggregate: Some(Aggregate::Mean),
            ..Query::default()
        };
        let s = 1_000_000_000;
        let p = pieces(&q, 90 * s, 3 * HOUR + 30 * s);
        assert_eq!(
            p.rollup,
            vec![(HOUR, HOUR, 3 * HOUR), (MINUTE, 2 * MINUTE, HOUR),]
        );
        assert_eq!(
            p.raw,
            vec![(90 * s, 2 * MINUTE), (3 * HOUR, 3 * HOUR + 30 * s)]
        );
        let every_30s = Query {
            every: Some(30 * s),
            ..q.clone()
        };
        assert_eq!(pieces(&every_30s, 0, HOUR), Pieces::default());
        let every_5m = Query {
            every: Some(5 * MINUTE),
            ..q.clone()
        };
        assert_eq!(
            pieces(&every_5m, 0, 2 * HOUR).rollup,
            vec![(MINUTE, 0, 2 * HOUR)]
        );
        assert_eq!(
            pieces(&q, i64::MIN, i64::MAX).rollup,
            vec![(HOUR, i64::MIN, i64::MAX)]
        );
    }

    #[test]
    fn filter_verdicts() {
        let s = Summary {
            count: 3,
            min: 10.0,
            max: 20.0,
            ..Summary::default()
        };
        let f = |gt, lte| ValueFilter {
            gt,
            lte,
            ..ValueFilter::default()
        };
        assert_eq!(filter_verdict(&f(Some(5.0), None), &s), Some(true));
        assert_eq!(filter_verdict(&f(Some(20.0), None), &s), Some(false));
        assert_eq!(filter_verdict(&f(Some(15.0), None), &s), None);
        assert_eq!(filter_verdict(&f(None, Some(9.0)), &s), Some(false));
    }
}
