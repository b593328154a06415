//! Background upkeep of the files: rollups for a flush, merging runs of
//! small files into one, and retention.
//!
//! Merging keeps generation order, so the newer of two points at one
//! timestamp still wins and rollup rows still fold oldest first. The merged
//! file is written under the run's whole generation range before the
//! inputs go; a crash in between leaves inputs that [`crate::Tsdb::open`]
//! recognises by their range and deletes. Retention drops a file once all
//! of it has expired and, when a file is merged anyway, its expired rows.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use crate::hot::SeriesData;
use crate::model::ValueType;
use crate::plan::read_segments;
use crate::rollup::{self, HOUR, RollupFile, Row, WIDTHS};
use crate::segment::{DataFile, Segment, SegmentWriter, Want};
use crate::{Cutoffs, State, TsdbError, write_state};

fn numeric(t: ValueType) -> bool {
    matches!(t, ValueType::F64 | ValueType::I64)
}

/// Rollup rows for newly flushed points. `seg_max` is each series' newest
/// time in `earlier` segments: a bucket whose new points are all later
/// is a partial; any other bucket is recomputed from every tier, as full.
pub(crate) fn rollups_for(
    series: &[(u32, &SeriesData)],
    seg_max: &[i64],
    earlier: &[Arc<Segment>],
) -> Result<Vec<Row>, TsdbError> {
    // Older points sharing a bucket with rewritten or late ones.
    let mut wants = Vec::new();
    for (id, d) in series {
        let m = seg_max.get(*id as usize).copied().unwrap_or(i64::MIN);
        if !numeric(d.value_type) || d.is_empty() || d.ts[0] > m {
            continue;
        }
        let last_dirty = d.ts[d.ts.partition_point(|&t| t <= m) - 1];
        wants.push(Want::whole(
            *id,
            d.value_type,
            rollup::bucket_of(d.ts[0], HOUR),
            rollup::bucket_of(last_dirty, HOUR).saturating_add(HOUR),
        ));
    }
    let mut older = read_segments(earlier, &wants)?;
    let mut rows = Vec::new();
    for width in WIDTHS {
        for (id, d) in series {
            if !numeric(d.value_type) {
                continue;
            }
            let m = seg_max.get(*id as usize).copied().unwrap_or(i64::MIN);
            let merged = older
                .get(id)
                .map(|o| SeriesData::merge(d.value_type, vec![o.clone(), (*d).clone()]));
            for (bucket, summary) in rollup::summarize(d, width) {
                let dirty = summary.first.as_ref().is_some_and(|(t, _)| *t <= m);
                let (full, summary) = match (&merged, dirty) {
                    (Some(all), true) => {
                        let r = all.range(bucket, bucket.saturating_add(width));
                        (true, rollup::Summary::of(all, r))
                    }
                    (None, true) => (true, summary),
                    (_, false) => (false, summary),
                };
                rows.push(Row {
                    width,
                    series: *id,
                    bucket,
                    full,
                    summary,
                });
            }
        }
    }
    older.clear();
    Ok(rows)
}

/// Writes rollup files for segments that have none (a crash between the
/// two writes), oldest first, and fills in `state.seg_max` as it goes.
pub(crate) fn repair_rollups(dir: &Path, state: &mut State) -> Result<(), TsdbError> {
    let types: Vec<ValueType> = state.catalog.iter().map(|(_, t)| *t).collect();
    let mut seg_max = vec![i64::MIN; types.len()];
    let mut fixed = Vec::new();
    for (k, seg) in state.segments.iter().enumerate() {
        // Files of both kinds are merges of runs of the same flushes, and a
        // flush installs both; so a segment with rollups overlaps one.
        let covered = state
            .rollups
            .iter()
            .any(|r| r.lo <= seg.hi && seg.lo <= r.hi);
        if !covered {
            let wants: Vec<Want> = seg
                .index
                .keys()
                .filter_map(|id| {
                    let t = *types.get(*id as usize)?;
                    Some(Want::whole(*id, t, i64::MIN, i64::MAX))
                })
                .collect();
            let mut data: Vec<(u32, SeriesData)> = seg.read(&wants)?.into_iter().collect();
            data.sort_by_key(|(id, _)| *id);
            let refs: Vec<(u32, &SeriesData)> = data.iter().map(|(id, d)| (*id, d)).collect();
            let rows = rollups_for(&refs, &seg_max, &state.segments[..k])?;
            tracing::warn!(segment = %seg.file.path.display(), "rebuilt the rollups of a segment");
            fixed.push(rollup::write(dir, seg.lo, seg.hi, &rows)?);
        }
        for (id, r) in &seg.index {
            if let Some(m) = seg_max.get_mut(*id as usize) {
                *m = (*m).max(r.max_ts);
            }
        }
    }
    state.rollups.extend(fixed.into_iter().map(Arc::new));
    state.rollups.sort_by_key(|r| (r.lo, r.hi));
    Ok(())
}

/// What one upkeep pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Upkeep {
    pub segments_merged: usize,
    pub rollups_merged: usize,
    pub files_expired: usize,
}

/// A run of at least `min_files` adjacent small items, oldest first,
/// holding at most `cap` rows in all (merging must stay bounded).
fn small_run(
    rows: &[usize],
    small: usize,
    min_files: usize,
    cap: usize,
) -> Option<std::ops::Range<usize>> {
    let mut k = 0;
    while k < rows.len() {
        if rows[k] >= small {
            k += 1;
            continue;
        }
        let start = k;
        let mut sum = 0;
        while k < rows.len() && rows[k] < small && sum + rows[k] <= cap {
            sum += rows[k];
            k += 1;
        }
        if k - start >= min_files {
            return Some(start..k);
        }
        // Too few to merge: skip past this run of small items.
        while k < rows.len() && rows[k] < small {
            k += 1;
        }
    }
    None
}

/// One pass: expire whole files, then merge at most one run of small
/// segments and one of small rollup files.
pub(crate) fn upkeep(
    dir: &Path,
    state: &std::sync::RwLock<State>,
    cutoffs: Cutoffs,
    small: usize,
    min_files: usize,
) -> Result<Upkeep, TsdbError> {
    let mut done = Upkeep::default();
    let (segments, rollups, types, order) = {
        let st = state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let types: Vec<ValueType> = st.catalog.iter().map(|(_, t)| *t).collect();
        (
            st.segments.clone(),
            st.rollups.clone(),
            types,
            st.segment_order(),
        )
    };
    // Whole files past retention.
    let seg_expired = |s: &Segment| s.index.values().all(|r| r.max_ts < cutoffs.raw);
    let rollup_expired = |r: &RollupFile| {
        r.index
            .iter()
            .all(|((w, _), span)| span.max_bucket.saturating_add(*w) <= cutoffs.of_width(*w))
    };
    let gone_segs: Vec<Arc<Segment>> = segments
        .iter()
        .filter(|s| !s.index.is_empty() && seg_expired(s))
        .cloned()
        .collect();
    let gone_rollups: Vec<Arc<RollupFile>> = rollups
        .iter()
        .filter(|r| !r.index.is_empty() && rollup_expired(r))
        .cloned()
        .collect();
    if !gone_segs.is_empty() || !gone_rollups.is_empty() {
        let mut st = write_state(state);
        st.segments
            .retain(|s| !gone_segs.iter().any(|g| Arc::ptr_eq(g, s)));
        st.rollups
            .retain(|r| !gone_rollups.iter().any(|g| Arc::ptr_eq(g, r)));
        for s in &gone_segs {
            s.file.retire();
        }
        for r in &gone_rollups {
            r.file.retire();
        }
        done.files_expired = gone_segs.len() + gone_rollups.len();
    }
    let segments: Vec<Arc<Segment>> = segments
        .into_iter()
        .filter(|s| !gone_segs.iter().any(|g| Arc::ptr_eq(g, s)))
        .collect();
    let rollups: Vec<Arc<RollupFile>> = rollups
        .into_iter()
        .filter(|r| !gone_rollups.iter().any(|g| Arc::ptr_eq(g, r)))
        .collect();

    let seg_rows: Vec<usize> = segments.iter().map(|s| s.rows).collect();
    if let Some(run) = small_run(&seg_rows, small, min_files, small.saturating_mul(4)) {
        let inputs = &segments[run];
        let merged = merge_segments(dir, inputs, &types, &order, cutoffs.raw)?;
        replace(state, inputs, merged, |st| &mut st.segments);
        done.segments_merged = inputs.len();
    }
    let rollup_rows: Vec<usize> = rollups.iter().map(|r| r.rows).collect();
    // A file whose rows of one width have all expired is rewritten alone.
    let width_expired = |r: &RollupFile, w: i64| {
        let mut spans = r.index.iter().filter(|((x, _), _)| *x == w).peekable();
        spans.peek().is_some()
            && spans.all(|(_, s)| s.max_bucket.saturating_add(w) <= cutoffs.of_width(w))
    };
    let stale = rollups
        .iter()
        .position(|r| WIDTHS.iter().any(|w| width_expired(r, *w)));
    // Rollups merge in memory: smaller runs.
    let run = small_run(&rollup_rows, small / 16, min_files, small / 8).or(stale.map(|k| k..k + 1));
    if let Some(run) = run {
        let inputs = &rollups[run];
        let merged = merge_rollups(dir, inputs, &types, cutoffs)?;
        replace(state, inputs, merged, |st| &mut st.rollups);
        done.rollups_merged = inputs.len();
    }
    Ok(done)
}

/// What merging needs of a segment or a rollup file.
trait Stored {
    fn file(&self) -> &DataFile;
    fn range(&self) -> (u64, u64);
}
impl Stored for Segment {
    fn file(&self) -> &DataFile {
        &self.file
    }
    fn range(&self) -> (u64, u64) {
        (self.lo, self.hi)
    }
}
impl Stored for RollupFile {
    fn file(&self) -> &DataFile {
        &self.file
    }
    fn range(&self) -> (u64, u64) {
        (self.lo, self.hi)
    }
}

/// Swaps a merged file in for its inputs, in generation order.
fn replace<T: Stored>(
    state: &std::sync::RwLock<State>,
    inputs: &[Arc<T>],
    merged: T,
    list: impl Fn(&mut State) -> &mut Vec<Arc<T>>,
) {
    let mut st = write_state(state);
    let files = list(&mut st);
    files.retain(|f| !inputs.iter().any(|i| Arc::ptr_eq(i, f)));
    for i in inputs {
        // A file rewritten alone was replaced under its own name.
        if i.file().path != merged.file().path {
            i.file().retire();
        }
    }
    files.push(Arc::new(merged));
    files.sort_by_key(|f| f.range());
}

/// Merges adjacent segments into one, series by series in chunks so
/// memory stays bounded; drops rows before `raw_cutoff`.
fn merge_segments(
    dir: &Path,
    inputs: &[Arc<Segment>],
    types: &[ValueType],
    order: &[u32],
    raw_cutoff: i64,
) -> Result<Segment, TsdbError> {
    const CHUNK_ROWS: usize = 1 << 20;
    let (Some(first), Some(last)) = (inputs.first(), inputs.last()) else {
        return Err(TsdbError::Segment("nothing to merge".into()));
    };
    let mut rows_of: HashMap<u32, usize> = HashMap::new();
    for s in inputs {
        for (id, r) in &s.index {
            *rows_of.entry(*id).or_default() += r.len;
        }
    }
    let mut w = SegmentWriter::create(dir, first.lo, last.hi)?;
    let mut chunk: Vec<Want> = Vec::new();
    let mut chunk_rows = 0;
    let flush_chunk = |chunk: &mut Vec<Want>, w: &mut SegmentWriter| -> Result<(), TsdbError> {
        let mut merged = read_segments(inputs, chunk)?;
        let refs: Vec<(u32, &SeriesData)> = chunk
            .iter()
            .filter_map(|w| Some((w.id, merged.get(&w.id)?)))
            .collect();
        w.append(&refs)?;
        merged.clear();
        chunk.clear();
        Ok(())
    };
    for &id in order {
        let Some(&n) = rows_of.get(&id) else {
            continue;
        };
        let Some(t) = types.get(id as usize) else {
            continue;
        };
        chunk.push(Want::whole(id, *t, raw_cutoff, i64::MAX));
        chunk_rows += n;
        if chunk_rows >= CHUNK_ROWS {
            flush_chunk(&mut chunk, &mut w)?;
            chunk_rows = 0;
        }
    }
    flush_chunk(&mut chunk, &mut w)?;
    w.finish()
}

/// Merges adjacent rollup files, folding rows oldest first; drops rows
/// past their width's retention.
fn merge_rollups(
    dir: &Path,
    inputs: &[Arc<RollupFile>],
    types: &[ValueType],
    cutoffs: Cutoffs,
) -> Result<RollupFile, TsdbError> {
    let (Some(first), Some(last)) = (inputs.first(), inputs.last()) else {
        return Err(TsdbError::Segment("nothing to merge".into()));
    };
    let mut folded: HashMap<(i64, u32), BTreeMap<i64, (bool, rollup::Summary)>> = HashMap::new();
    for f in inputs {
        for r in f.read_all(types)? {
            if r.bucket.saturating_add(r.width) <= cutoffs.of_width(r.width) {
                continue;
            }
            rollup::fold(
                folded.entry((r.width, r.series)).or_default(),
                r.bucket,
                r.full,
                r.summary,
            );
        }
    }
    let mut keys: Vec<(i64, u32)> = folded.keys().copied().collect();
    keys.sort_unstable();
    let mut rows = Vec::new();
    for k in keys {
        if let Some(buckets) = folded.remove(&k) {
            for (bucket, (full, summary)) in buckets {
                rows.push(Row {
                    width: k.0,
                    series: k.1,
                    bucket,
                    full,
                    summary,
                });
            }
        }
    }
    rollup::write(dir, first.lo, last.hi, &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_runs_are_adjacent_and_long_enough() {
        assert_eq!(small_run(&[1, 1, 9, 1, 1, 1], 5, 3, 99), Some(3..6));
        assert_eq!(small_run(&[1, 1, 9, 1, 1], 5, 3, 99), None);
        assert_eq!(small_run(&[1, 1, 1, 1], 5, 3, 99), Some(0..4));
        assert_eq!(small_run(&[], 5, 3, 99), None);
        // The cap ends a run early; a short remainder waits.
        assert_eq!(small_run(&[4, 4, 4, 4, 4], 5, 2, 12), Some(0..3));
        assert_eq!(small_run(&[4, 4, 9, 4, 4, 4], 5, 3, 8), None);
    }
}
