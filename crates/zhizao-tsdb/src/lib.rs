//! Time-series history, embedded in the platform.
//!
//! Series are identified by tenant + measurement + tags + field and hold
//! f64, i64, bool or string values at nanosecond timestamps.
//!
//! Write path: callers send batches to one writer thread. The thread
//! resolves series, checks types, appends the group's records to the
//! write-ahead log, syncs once (group commit), applies them to the
//! in-memory tier, and only then acknowledges. The same series and
//! timestamp written twice keeps one value (the last), so redelivery never
//! duplicates. On open the log is replayed; a torn tail is dropped, since it
//! was never acknowledged.
//!
//! When the in-memory tier holds `flush_points` points, it is frozen and
//! written to an immutable, compressed Parquet segment in the background,
//! and the log moves to a new generation that starts with a snapshot of the
//! series catalogue. Once the segment is durable, the log generations it
//! covers are deleted. Queries merge segments, the frozen tier and the hot
//! tier, later tiers winning on equal timestamps.
//!
//! Beside each segment a rollup file holds 1-minute and 1-hour summaries
//! (see [`rollup`]); aggregate queries read rollups where they answer
//! exactly and raw points only at the edges (see [`plan`]). In the
//! background, runs of small files are merged ([`compact`]) and data past
//! each tier's retention is dropped a whole file at a time.

pub mod batch;
pub mod compact;
pub mod export;
pub mod hot;
pub mod lineproto;
pub mod model;
pub mod plan;
pub mod query;
pub mod rollup;
pub mod segment;
pub mod wal;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot};

use batch::Packed;
pub use batch::WriteBatch;
pub use hot::SeriesData;
pub use model::{Point, SeriesKey, Value, ValueType};
pub use query::{Aggregate, Fill, Query, QueryError, QueryResult, SeriesResult, ValueFilter};
use rollup::RollupFile;
use segment::Segment;
use wal::{Record, Wal};

#[derive(Debug, thiserror::Error)]
pub enum TsdbError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot encode a log record: {0}")]
    Encode(String),
    #[error("segment: {0}")]
    Segment(String),
    #[error("the store is closed")]
    Closed,
    #[error("the store stopped accepting writes after a disk error: {0}")]
    Failed(String),
}

impl TsdbError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        TsdbError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// What happened to a written batch: how many points were stored and which
/// were rejected (by index in the batch) and why. Rejected points are not
/// stored; the others are, and are durable.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteOutcome {
    pub accepted: usize,
    pub rejected: Vec<(usize, String)>,
}

#[derive(Debug, Clone)]
pub struct TsdbConfig {
    pub dir: PathBuf,
    /// Write batches queued before writers wait (back-pressure).
    pub queue: usize,
    /// Most points one group commit takes.
    pub max_group_points: usize,
    /// Points in the in-memory tier that start a flush to a segment.
    pub flush_points: u64,
    /// How long each tier is kept; `None` keeps it forever.
    pub retention: Retention,
    /// Segments (or rollup files) with fewer rows than this are "small";
    /// a run of `compact_min_files` small ones is merged into one.
    pub compact_small_rows: usize,
    pub compact_min_files: usize,
    /// The clock retention reads (ns since the epoch); tests set their own.
    pub clock: fn() -> i64,
}

/// Retention per tier, in nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    pub raw: Option<i64>,
    pub minute: Option<i64>,
    pub hour: Option<i64>,
}

impl Retention {
    /// Raw 90 days, 1-minute rollups 2 years, hourly forever.
    pub fn factory_default() -> Retention {
        const DAY: i64 = 86_400_000_000_000;
        Retention {
            raw: Some(90 * DAY),
            minute: Some(730 * DAY),
            hour: None,
        }
    }

    /// Cutoffs at `now`: data before them has expired. Aligned down to the
    /// hour, so a bucket is never half expired.
    pub fn cutoffs(&self, now: i64) -> Cutoffs {
        let at = |keep: Option<i64>| {
            keep.map_or(i64::MIN, |k| {
                rollup::bucket_of(now.saturating_sub(k), rollup::HOUR)
            })
        };
        Cutoffs {
            raw: at(self.raw),
            minute: at(self.minute),
            hour: at(self.hour),
        }
    }
}

/// Times before which each tier's data has expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cutoffs {
    pub raw: i64,
    pub minute: i64,
    pub hour: i64,
}

impl Cutoffs {
    pub fn of_width(&self, width: i64) -> i64 {
        if width == rollup::MINUTE {
            self.minute
        } else {
            self.hour
        }
    }
}

/// Now, in ns since the epoch.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

impl TsdbConfig {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            queue: 64,
            max_group_points: 500_000,
            flush_points: 1_000_000,
            retention: Retention::default(),
            compact_small_rows: 4_000_000,
            compact_min_files: 4,
            clock: now_ns,
        }
    }
}

type Fast = foldhash::fast::RandomState;

/// Series ids and value types of one tag set, by field (the type here
/// spares the writer a trip to the catalogue per value).
type FieldIds = HashMap<Arc<str>, (u32, ValueType), Fast>;

/// Canonical bytes of what the series of one line share: tenant, then the
/// set's key as [`batch::push_set`] writes it (measurement and tags sorted
/// by key, first of a repeated key kept). Built into a reused buffer, so a
/// lookup allocates nothing.
fn set_key(buf: &mut Vec<u8>, tenant: i64, measurement: &str, tags: &[(String, String)]) {
    buf.clear();
    buf.extend_from_slice(&tenant.to_le_bytes());
    fn pairs(t: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> {
        t.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
    if tags.windows(2).all(|w| w[0].0 < w[1].0) {
        batch::push_set(buf, measurement, pairs(tags));
    } else {
        batch::push_set(buf, measurement, pairs(&batch::sorted_tags(tags)));
    }
}

/// Figures for metrics and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub series: usize,
    /// Points in the in-memory tiers (hot and frozen).
    pub memory_points: u64,
    /// Rows in segments (a point rewritten after its flush counts twice).
    pub segment_rows: u64,
    pub segments: usize,
    pub segment_bytes: u64,
    pub rollup_files: usize,
    pub rollup_rows: u64,
    pub rollup_bytes: u64,
    pub wal_bytes: u64,
    /// Values accepted since the store was opened.
    pub points_written: u64,
}

/// The catalogue and the tiers.
#[derive(Debug, Default)]
pub struct State {
    /// Series ids by tag set, then field: one lookup per line of line
    /// protocol, then a cheap one per field.
    sets: HashMap<Vec<u8>, FieldIds, Fast>,
    catalog: Vec<(SeriesKey, ValueType)>,
    hot: Vec<SeriesData>,
    hot_points: u64,
    frozen: Option<Arc<Vec<SeriesData>>>,
    frozen_points: u64,
    /// Sorted by generation.
    segments: Vec<Arc<Segment>>,
    rollups: Vec<Arc<RollupFile>>,
    /// Per series, the newest timestamp in any segment (`i64::MIN`: none).
    seg_max: Vec<i64>,
    /// Per series, its newest point in any tier.
    last: Vec<Option<(i64, Value)>>,
    /// False when an older segment lacked its newest points in the footer;
    /// then `last` may miss some and is not used.
    last_known: bool,
    wal_bytes: u64,
    points_written: u64,
}

impl State {
    fn apply(&mut self, r: Record) {
        match r {
            Record::Series {
                id,
                key,
                value_type,
            } => {
                // Ids are dense and in order; a repeat (a catalogue snapshot
                // at the start of a newer log) is skipped.
                if id as usize == self.catalog.len() {
                    let mut k = Vec::new();
                    set_key(&mut k, key.tenant, &key.measurement, &key.tags);
                    self.sets
                        .entry(k)
                        .or_default()
                        .insert(Arc::from(key.field.as_str()), (id, value_type));
                    self.catalog.push((key, value_type));
                    self.hot.push(SeriesData::new(value_type));
                    if self.seg_max.len() < self.catalog.len() {
                        self.seg_max.push(i64::MIN);
                    }
                    if self.last.len() < self.catalog.len() {
                        self.last.push(None);
                    }
                }
            }
            Record::Points(points) => {
                for (id, ts, value) in points {
                    self.apply_value(id, ts, value);
                }
            }
            Record::Packed(packed) => {
                if packed
                    .for_each(|id, ts, value| self.apply_value(id, ts, value))
                    .is_none()
                {
                    tracing::error!("a packed log record does not decode; its rest is skipped");
                }
            }
        }
    }

    fn apply_value(&mut self, id: u32, ts: i64, value: Value) {
        if let Some(last) = self.last.get_mut(id as usize)
            && last.as_ref().is_none_or(|(t, _)| ts >= *t)
        {
            *last = Some((ts, value.clone()));
        }
        if let Some(data) = self.hot.get_mut(id as usize)
            && data.upsert(ts, value)
        {
            self.hot_points += 1;
        }
    }

    /// Series ids in the order segments store them: by field, then
    /// measurement and tags. A query usually wants one field of many
    /// devices; stored together, they share pages and the others' pages
    /// are skipped.
    fn segment_order(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = (0..self.catalog.len() as u32).collect();
        ids.sort_by(|a, b| {
            let (ka, kb) = (&self.catalog[*a as usize].0, &self.catalog[*b as usize].0);
            (&ka.field, &ka.measurement, &ka.tags, ka.tenant).cmp(&(
                &kb.field,
                &kb.measurement,
                &kb.tags,
                kb.tenant,
            ))
        });
        ids
    }

    /// Records that recreate the catalogue, for the start of a new log.
    fn catalog_snapshot(&self) -> Vec<Record> {
        self.catalog
            .iter()
            .enumerate()
            .map(|(id, (key, value_type))| Record::Series {
                id: id as u32,
                key: key.clone(),
                value_type: *value_type,
            })
            .collect()
    }

    pub fn stats(&self) -> Stats {
        Stats {
            series: self.catalog.len(),
            memory_points: self.hot_points + self.frozen_points,
            segment_rows: self.segments.iter().map(|s| s.rows as u64).sum(),
            segments: self.segments.len(),
            segment_bytes: self.segments.iter().map(|s| s.bytes).sum(),
            rollup_files: self.rollups.len(),
            rollup_rows: self.rollups.iter().map(|r| r.rows as u64).sum(),
            rollup_bytes: self.rollups.iter().map(|r| r.bytes).sum(),
            wal_bytes: self.wal_bytes,
            points_written: self.points_written,
        }
    }
}

enum Request {
    Write {
        tenant: i64,
        batch: WriteBatch,
        ack: oneshot::Sender<Result<WriteOutcome, TsdbError>>,
    },
    /// Write the in-memory tier to a segment now and wait for it.
    Flush(oneshot::Sender<Result<(), TsdbError>>),
    /// Run retention and merging now and wait for it.
    Upkeep(oneshot::Sender<Result<compact::Upkeep, TsdbError>>),
}

/// The store. Dropping it stops the writer after the queued writes.
pub struct Tsdb {
    state: Arc<RwLock<State>>,
    tx: Option<mpsc::Sender<Request>>,
    writer: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Tsdb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tsdb").finish_non_exhaustive()
    }
}

fn wal_name(generation: u64) -> String {
    format!("wal-{generation:08}.log")
}

fn wal_generation(name: &str) -> Option<u64> {
    name.strip_prefix("wal-")?
        .strip_suffix(".log")?
        .parse()
        .ok()
}

fn write_state(state: &RwLock<State>) -> RwLockWriteGuard<'_, State> {
    state.write().unwrap_or_else(PoisonError::into_inner)
}

impl Tsdb {
    /// Opens the store in `config.dir` (created if missing): loads the
    /// indexes of segments and rollup files, rebuilds rollups a crash left
    /// unwritten, and replays the log generations no segment covers.
    pub fn open(config: TsdbConfig) -> Result<Tsdb, TsdbError> {
        let dir = config.dir.clone();
        std::fs::create_dir_all(&dir).map_err(|e| TsdbError::io(&dir, e))?;
        let mut files: Vec<(String, u64, u64, PathBuf)> = Vec::new();
        let mut wal_gens = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(|e| TsdbError::io(&dir, e))? {
            let entry = entry.map_err(|e| TsdbError::io(&dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some((kind, lo, hi)) = segment::parse_name(&name) {
                files.push((kind.to_owned(), lo, hi, entry.path()));
            } else if let Some(g) = wal_generation(&name) {
                wal_gens.push(g);
            } else if name.ends_with(".tmp") {
                // A file whose write never finished; its inputs are still here.
                let _ = std::fs::remove_file(entry.path());
            }
        }
        // A compaction that crashed after its output was in place leaves
        // its inputs: files whose range lies inside another's of the kind.
        let inside = |f: &(String, u64, u64, PathBuf)| {
            files
                .iter()
                .any(|g| g.0 == f.0 && g.1 <= f.1 && f.2 <= g.2 && (g.1, g.2) != (f.1, f.2))
        };
        let (stale, mut files): (Vec<_>, Vec<_>) = files.iter().cloned().partition(inside);
        for f in stale {
            std::fs::remove_file(&f.3).map_err(|e| TsdbError::io(&f.3, e))?;
        }
        files.sort_by_key(|f| (f.1, f.2));
        wal_gens.sort_unstable();
        let covered = files.iter().map(|f| f.2).max();
        let mut state = State {
            last_known: true,
            ..State::default()
        };
        for (kind, lo, hi, path) in &files {
            match kind.as_str() {
                segment::KIND => {
                    state
                        .segments
                        .push(Arc::new(segment::open(path, *lo, *hi)?));
                }
                rollup::KIND => state.rollups.push(Arc::new(rollup::open(path, *lo, *hi)?)),
                _ => {}
            }
        }
        for g in wal_gens
            .iter()
            .filter(|g| covered.is_some_and(|c| **g <= c))
        {
            let path = dir.join(wal_name(*g));
            std::fs::remove_file(&path).map_err(|e| TsdbError::io(&path, e))?;
        }
        wal_gens.retain(|g| covered.is_none_or(|c| *g > c));
        // The catalogue lives in the newest log; read it before the repair.
        let mut current = None;
        let mut replayed = Vec::new();
        for g in wal_gens {
            let path = dir.join(wal_name(g));
            let (wal, records) = Wal::open(&path)?;
            replayed.push(records);
            state.wal_bytes += wal.len();
            current = Some((g, wal));
        }
        // Series first (every log starts with the whole catalogue), then
        // what segments say, then the points of the logs.
        for records in &replayed {
            for r in records
                .iter()
                .filter(|r| matches!(r, Record::Series { .. }))
            {
                state.apply(r.clone());
            }
        }
        compact::repair_rollups(&dir, &mut state)?;
        for seg in &state.segments {
            for (id, rows) in &seg.index {
                if let Some(m) = state.seg_max.get_mut(*id as usize) {
                    *m = (*m).max(rows.max_ts);
                }
            }
            match &seg.last {
                Some(last) => {
                    for (id, (t, v)) in last {
                        if let Some(l) = state.last.get_mut(*id as usize)
                            && l.as_ref().is_none_or(|(lt, _)| t >= lt)
                        {
                            *l = Some((*t, v.clone()));
                        }
                    }
                }
                None => state.last_known = false,
            }
        }
        for records in replayed {
            for r in records
                .into_iter()
                .filter(|r| !matches!(r, Record::Series { .. }))
            {
                state.apply(r);
            }
        }
        let (generation, wal) = match current {
            Some(c) => c,
            None => {
                let g = covered.map_or(0, |c| c + 1);
                let (mut wal, _) = Wal::open(&dir.join(wal_name(g)))?;
                wal.append(&state.catalog_snapshot())?;
                wal.sync()?;
                (g, wal)
            }
        };
        tracing::info!(
            series = state.catalog.len(),
            memory_points = state.hot_points,
            segments = state.segments.len(),
            "time-series store opened"
        );
        let state = Arc::new(RwLock::new(state));
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        let writer = Writer {
            rx,
            wal,
            generation,
            state: state.clone(),
            config: config.clone(),
            flushing: None,
            last_flush_failure: None,
            last_upkeep: None,
            failed: None,
        };
        let handle = std::thread::Builder::new()
            .name("tsdb-writer".into())
            .spawn(move || writer.run())
            .map_err(|e| TsdbError::io(&dir, e))?;
        Ok(Tsdb {
            state,
            tx: Some(tx),
            writer: Some(handle),
        })
    }

    /// Writes points for a tenant. Returns once the accepted points are
    /// durable on disk; waits when the writer is behind (back-pressure).
    /// Rejected indices are positions in `points`.
    pub async fn write(&self, tenant: i64, points: Vec<Point>) -> Result<WriteOutcome, TsdbError> {
        self.write_batch(tenant, WriteBatch::from_points(points))
            .await
    }

    /// Writes a batch (parsed line protocol, say). Rejected indices are
    /// positions among the batch's values; [`WriteBatch::line_index`] names
    /// their lines.
    pub async fn write_batch(
        &self,
        tenant: i64,
        batch: WriteBatch,
    ) -> Result<WriteOutcome, TsdbError> {
        if batch.is_empty() {
            return Ok(WriteOutcome::default());
        }
        self.ask(|ack| Request::Write { tenant, batch, ack }).await
    }

    /// Sends a request to the writer and waits for its answer.
    async fn ask<T>(
        &self,
        request: impl FnOnce(oneshot::Sender<Result<T, TsdbError>>) -> Request,
    ) -> Result<T, TsdbError> {
        let tx = self.tx.as_ref().ok_or(TsdbError::Closed)?;
        let (ack, done) = oneshot::channel();
        tx.send(request(ack)).await.map_err(|_| TsdbError::Closed)?;
        done.await.map_err(|_| TsdbError::Closed)?
    }

    /// Writes the in-memory tier to a segment and waits until it is durable.
    pub async fn flush(&self) -> Result<(), TsdbError> {
        self.ask(Request::Flush).await
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn stats(&self) -> Stats {
        self.read().stats()
    }

    pub fn query(&self, tenant: i64, q: &Query) -> Result<QueryResult, QueryError> {
        let start = q.start.unwrap_or(i64::MIN);
        let end = q.end.unwrap_or(i64::MAX);
        let snap = plan::snapshot(&self.read(), |k| query::matches(q, tenant, k), start, end);
        let selected = plan::select(snap, q).map_err(|e| QueryError {
            field: "store",
            message: e.to_string(),
        })?;
        query::run(&selected, q)
    }

    /// Every stored point of a tenant: key, ts, value (for tests and export).
    pub fn dump(&self, tenant: i64) -> Result<Vec<(SeriesKey, i64, Value)>, TsdbError> {
        let snap = plan::snapshot(&self.read(), |k| k.tenant == tenant, i64::MIN, i64::MAX);
        let wants: Vec<segment::Want> = snap
            .picked
            .iter()
            .map(|p| segment::Want::whole(p.id, p.value_type, i64::MIN, i64::MAX))
            .collect();
        let mut stored = plan::read_segments(&snap.segments, &wants)?;
        let mut out = Vec::new();
        for p in snap.picked {
            let parts = stored.remove(&p.id).into_iter().chain([p.memory]).collect();
            let data = SeriesData::merge(p.value_type, parts);
            for i in 0..data.len() {
                if let Some(v) = data.values.get(i) {
                    out.push((p.key.clone(), data.ts[i], v));
                }
            }
        }
        Ok(out)
    }

    /// Runs one upkeep pass now (retention, merging small files) and
    /// waits for it.
    pub async fn upkeep(&self) -> Result<compact::Upkeep, TsdbError> {
        self.ask(Request::Upkeep).await
    }

    /// Stops accepting writes and waits for the queued ones.
    pub fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.tx.take();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

impl Drop for Tsdb {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Why a new series set cannot be stored, if it cannot. Sets already in
/// the catalogue passed this when they were created.
fn check_new_set(measurement: &str, tags: &[(String, String)]) -> Option<String> {
    if measurement.is_empty() {
        return Some("measurement is empty".into());
    }
    if tags.iter().any(|(k, _)| k.is_empty()) {
        return Some("a tag key is empty".into());
    }
    None
}

/// The single writer: owns the log, applies groups, starts flushes.
struct Writer {
    rx: mpsc::Receiver<Request>,
    wal: Wal,
    generation: u64,
    state: Arc<RwLock<State>>,
    config: TsdbConfig,
    /// The background job (a flush or an upkeep pass), if one runs.
    flushing: Option<JoinHandle<Result<(), TsdbError>>>,
    last_flush_failure: Option<std::time::Instant>,
    /// When upkeep last ran (None: due).
    last_upkeep: Option<std::time::Instant>,
    failed: Option<String>,
}

/// How often retention and merging run when nothing else prompts them.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Pause before retrying a segment flush that failed.
const FLUSH_RETRY: std::time::Duration = std::time::Duration::from_secs(10);

type WriteAck = oneshot::Sender<Result<WriteOutcome, TsdbError>>;

/// Marks a value the writer rejected.
const REJECTED: u32 = u32::MAX;

impl Writer {
    fn run(mut self) {
        while let Some(first) = self.rx.blocking_recv() {
            let mut writes: Vec<(i64, WriteBatch, WriteAck)> = Vec::new();
            let mut flushes = Vec::new();
            let mut upkeeps = Vec::new();
            let mut n = 0;
            let mut next = Some(first);
            while let Some(req) = next.take() {
                match req {
                    Request::Write { tenant, batch, ack } => {
                        n += batch.len();
                        writes.push((tenant, batch, ack));
                    }
                    Request::Flush(ack) => flushes.push(ack),
                    Request::Upkeep(ack) => upkeeps.push(ack),
                }
                if n < self.config.max_group_points {
                    next = self.rx.try_recv().ok();
                }
            }
            let wrote = !writes.is_empty();
            if wrote {
                self.commit(writes);
            }
            if !flushes.is_empty() {
                let result = self.flush_now();
                for ack in flushes {
                    let _ = ack.send(
                        result
                            .as_ref()
                            .map(|_| ())
                            .map_err(|e| TsdbError::Segment(e.to_string())),
                    );
                }
            } else if wrote && self.failed.is_none() {
                self.maybe_flush();
            }
            if !upkeeps.is_empty() {
                self.settle();
                let result = self.upkeep_now();
                for ack in upkeeps {
                    let _ = ack.send(match &result {
                        Ok(u) => Ok(*u),
                        Err(e) => Err(TsdbError::Segment(e.to_string())),
                    });
                }
            }
        }
        if let Some(h) = self.flushing.take() {
            let _ = h.join();
        }
    }

    fn commit(&mut self, group: Vec<(i64, WriteBatch, WriteAck)>) {
        if let Some(reason) = &self.failed {
            for (_, _, ack) in group {
                let _ = ack.send(Err(TsdbError::Failed(reason.clone())));
            }
            return;
        }
        // Resolve each line's set once and each value's series against the
        // catalogue plus the series this group creates; a value's id, or
        // REJECTED, goes to `ids` in batch order.
        let mut records = Vec::new();
        let mut packed = Packed::default();
        let mut resolved: Vec<(WriteBatch, Vec<u32>, WriteOutcome, WriteAck)> =
            Vec::with_capacity(group.len());
        let raw_cutoff = self.config.retention.cutoffs((self.config.clock)()).raw;
        {
            let st = self.state.read().unwrap_or_else(PoisonError::into_inner);
            // Series this group creates: set key → field → (id, type).
            type Created = HashMap<Arc<str>, (u32, ValueType)>;
            let mut created: HashMap<Vec<u8>, Created> = HashMap::new();
            let mut next_id = st.catalog.len() as u32;
            let mut key = Vec::with_capacity(256);
            for (tenant, batch, ack) in group {
                let mut outcome = WriteOutcome::default();
                let mut ids = vec![REJECTED; batch.len()];
                for line in &batch.lines {
                    let values = line.values.start as usize..line.values.end as usize;
                    if line.ts < raw_cutoff {
                        let reason = format!(
                            "timestamp {} is older than the raw-data retention allows (before {})",
                            line.ts, raw_cutoff
                        );
                        outcome.rejected.extend(values.map(|i| (i, reason.clone())));
                        continue;
                    }
                    key.clear();
                    key.extend_from_slice(&tenant.to_le_bytes());
                    key.extend_from_slice(batch.key(line));
                    let known = st.sets.get(key.as_slice());
                    // A new set: decoded and checked once per line.
                    let mut new_set: Option<(String, Vec<(String, String)>)> = None;
                    for i in values.clone() {
                        let (name, value) = &batch.values[i];
                        let field = &batch.names[*name as usize];
                        if let Value::F64(v) = value
                            && !v.is_finite()
                        {
                            outcome.rejected.push((
                                i,
                                format!("field `{field}` is {v}; NaN and infinity are not stored"),
                            ));
                            continue;
                        }
                        let t = value.value_type();
                        let found = known.and_then(|f| f.get(&**field)).copied().or_else(|| {
                            created
                                .get(key.as_slice())
                                .and_then(|f| f.get(&**field))
                                .copied()
                        });
                        let (id, have) = match found {
                            Some(k) => k,
                            None => {
                                if field.is_empty() {
                                    outcome.rejected.push((i, "field name is empty".into()));
                                    continue;
                                }
                                let (measurement, tags) = new_set.get_or_insert_with(|| {
                                    batch::decode_set(batch.key(line)).unwrap_or_default()
                                });
                                if let Some(reason) = check_new_set(measurement, tags) {
                                    outcome.rejected.push((i, reason));
                                    continue;
                                }
                                let id = next_id;
                                next_id += 1;
                                records.push(Record::Series {
                                    id,
                                    key: SeriesKey {
                                        tenant,
                                        measurement: measurement.clone(),
                                        tags: tags.clone(),
                                        field: field.to_string(),
                                    },
                                    value_type: t,
                                });
                                created
                                    .entry(key.clone())
                                    .or_default()
                                    .insert(field.clone(), (id, t));
                                (id, t)
                            }
                        };
                        if have != t {
                            outcome.rejected.push((
                                i,
                                format!(
                                    "type conflict: field `{field}` holds {} values; got {}",
                                    have.name(),
                                    t.name()
                                ),
                            ));
                            continue;
                        }
                        ids[i] = id;
                        outcome.accepted += 1;
                    }
                    packed.push_line(
                        line.ts,
                        values
                            .filter(|&i| ids[i] != REJECTED)
                            .map(|i| (ids[i], &batch.values[i].1)),
                    );
                }
                outcome.rejected.sort_by_key(|r| r.0);
                resolved.push((batch, ids, outcome, ack));
            }
        }
        if !packed.is_empty() {
            records.push(Record::Packed(packed));
        }
        let durable = if records.is_empty() {
            Ok(())
        } else {
            self.wal.append(&records).and_then(|()| self.wal.sync())
        };
        match durable {
            Ok(()) => {
                let mut st = write_state(&self.state);
                for r in records {
                    if let Record::Series { .. } = r {
                        st.apply(r);
                    }
                }
                let mut acks = Vec::with_capacity(resolved.len());
                for (batch, ids, outcome, ack) in resolved {
                    st.points_written += outcome.accepted as u64;
                    let mut values = batch.values.into_iter();
                    for line in &batch.lines {
                        for i in line.values.clone() {
                            let Some((_, value)) = values.next() else {
                                break;
                            };
                            let id = ids[i as usize];
                            if id != REJECTED {
                                st.apply_value(id, line.ts, value);
                            }
                        }
                    }
                    acks.push((ack, outcome));
                }
                st.wal_bytes = self.wal.len();
                drop(st);
                for (ack, outcome) in acks {
                    let _ = ack.send(Ok(outcome));
                }
            }
            Err(e) => {
                // The log may now end in a partial frame; replay drops it.
                // Refuse further writes rather than append after it.
                tracing::error!(error = %e, "write-ahead log failed; writes stop");
                let reason = e.to_string();
                for (_, _, _, ack) in resolved {
                    let _ = ack.send(Err(TsdbError::Failed(reason.clone())));
                }
                self.failed = Some(reason);
            }
        }
    }

    /// Starts a background flush when the hot tier is full and none runs.
    fn maybe_flush(&mut self) {
        if let Some(h) = &self.flushing
            && h.is_finished()
            && let Some(h) = self.flushing.take()
            && let Ok(Err(e)) = h.join()
        {
            tracing::error!(error = %e, "flushing a segment failed; its log is kept, retrying later");
            self.last_flush_failure = Some(std::time::Instant::now());
        }
        if self.flushing.is_some() {
            return;
        }
        let (full, frozen_left) = {
            let st = self.state.read().unwrap_or_else(PoisonError::into_inner);
            (
                st.hot_points >= self.config.flush_points,
                st.frozen.is_some(),
            )
        };
        if frozen_left {
            // A failed flush: retry after a pause, not on every write.
            let due = self
                .last_flush_failure
                .is_none_or(|t| t.elapsed() >= FLUSH_RETRY);
            if due {
                self.spawn_flush(self.generation.saturating_sub(1));
            }
        } else if full {
            if let Err(e) = self.freeze_and_spawn() {
                tracing::error!(error = %e, "could not start a flush");
            }
            self.last_upkeep = None;
        } else if self.last_upkeep.is_none_or(|t| t.elapsed() >= UPKEEP_EVERY) {
            self.spawn_upkeep();
        }
    }

    fn upkeep_now(&mut self) -> Result<compact::Upkeep, TsdbError> {
        self.last_upkeep = Some(std::time::Instant::now());
        compact::upkeep(
            &self.config.dir,
            &self.state,
            self.config.retention.cutoffs((self.config.clock)()),
            self.config.compact_small_rows,
            self.config.compact_min_files,
        )
    }

    /// Runs an upkeep pass on the background slot.
    fn spawn_upkeep(&mut self) {
        self.last_upkeep = Some(std::time::Instant::now());
        let state = self.state.clone();
        let dir = self.config.dir.clone();
        let cutoffs = self.config.retention.cutoffs((self.config.clock)());
        let (small, min_files) = (
            self.config.compact_small_rows,
            self.config.compact_min_files,
        );
        let handle = std::thread::Builder::new()
            .name("tsdb-upkeep".into())
            .spawn(move || {
                let done = compact::upkeep(&dir, &state, cutoffs, small, min_files);
                match &done {
                    Ok(u) if *u != compact::Upkeep::default() => {
                        tracing::info!(?u, "history files merged or expired");
                    }
                    Ok(_) => {}
                    // Not a flush failure: the data is intact; try again later.
                    Err(e) => tracing::error!(error = %e, "history upkeep failed"),
                }
                Ok(())
            });
        match handle {
            Ok(h) => self.flushing = Some(h),
            Err(e) => tracing::error!(error = %e, "cannot start the upkeep thread"),
        }
    }

    /// Waits for any running flush, then flushes what is in memory.
    fn flush_now(&mut self) -> Result<(), TsdbError> {
        self.settle();
        let (empty, frozen_left) = {
            let st = self.state.read().unwrap_or_else(PoisonError::into_inner);
            (st.hot_points == 0, st.frozen.is_some())
        };
        if frozen_left {
            // An earlier flush failed; retry it first.
            self.spawn_flush(self.generation.saturating_sub(1));
            self.wait_for_flush().inspect_err(|_| self.failed_flush())?;
        }
        if empty {
            return Ok(());
        }
        self.freeze_and_spawn()?;
        self.wait_for_flush().inspect_err(|_| self.failed_flush())
    }

    /// Waits for the background job. A failed flush is not this caller's
    /// error: its data stays frozen and is retried (here or after a pause).
    fn settle(&mut self) {
        if let Err(e) = self.wait_for_flush() {
            tracing::error!(error = %e, "flushing a segment failed; its log is kept, retrying later");
            self.failed_flush();
        }
    }

    fn failed_flush(&mut self) {
        self.last_flush_failure = Some(std::time::Instant::now());
    }

    /// Waits for the running flush, if any, and returns its result.
    fn wait_for_flush(&mut self) -> Result<(), TsdbError> {
        match self.flushing.take() {
            Some(h) => h
                .join()
                .map_err(|_| TsdbError::Segment("flush thread panicked".into()))?,
            None => Ok(()),
        }
    }

    /// Moves the hot tier to the frozen slot, rotates the log to a new
    /// generation (starting with the catalogue), and starts the flush.
    fn freeze_and_spawn(&mut self) -> Result<(), TsdbError> {
        if self
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .frozen
            .is_some()
        {
            return Ok(());
        }
        let next = self.generation + 1;
        let path = self.config.dir.join(wal_name(next));
        let (mut wal, _) = Wal::open(&path)?;
        {
            let mut st = write_state(&self.state);
            wal.append(&st.catalog_snapshot())?;
            wal.sync()?;
            // Each series will likely take as many points again: sized so,
            // the new tier grows without copying.
            let fresh: Vec<SeriesData> = st
                .catalog
                .iter()
                .enumerate()
                .map(|(id, (_, t))| {
                    SeriesData::with_capacity(*t, st.hot.get(id).map_or(0, SeriesData::len))
                })
                .collect();
            let frozen = std::mem::replace(&mut st.hot, fresh);
            st.frozen = Some(Arc::new(frozen));
            st.frozen_points = std::mem::take(&mut st.hot_points);
        }
        let old = self.generation;
        self.wal = wal;
        self.generation = next;
        self.spawn_flush(old);
        Ok(())
    }

    /// Writes the frozen tier as segment `generation` on another thread;
    /// on success installs it and deletes the logs it covers.
    fn spawn_flush(&mut self, generation: u64) {
        let state = self.state.clone();
        let dir = self.config.dir.clone();
        let handle = std::thread::Builder::new().name("tsdb-flush".into()).spawn(
            move || -> Result<(), TsdbError> {
                let frozen = match &state.read().unwrap_or_else(PoisonError::into_inner).frozen {
                    Some(f) => f.clone(),
                    None => return Ok(()),
                };
                let (seg_max, earlier, order) = {
                    let st = state.read().unwrap_or_else(PoisonError::into_inner);
                    (st.seg_max.clone(), st.segments.clone(), st.segment_order())
                };
                let series: Vec<(u32, &SeriesData)> = order
                    .iter()
                    .filter_map(|&id| Some((id, frozen.get(id as usize)?)))
                    .filter(|(_, d)| !d.is_empty())
                    .collect();
                let rows = compact::rollups_for(&series, &seg_max, &earlier)?;
                drop(earlier);
                // The segment first: a crash before the rollups are written
                // is repaired on open from the segment.
                let seg = segment::write(&dir, generation, &series)?;
                let rol = rollup::write(&dir, generation, generation, &rows)?;
                {
                    let mut st = write_state(&state);
                    for (id, r) in &seg.index {
                        if let Some(m) = st.seg_max.get_mut(*id as usize) {
                            *m = (*m).max(r.max_ts);
                        }
                    }
                    st.segments.push(Arc::new(seg));
                    st.rollups.push(Arc::new(rol));
                    st.frozen = None;
                    st.frozen_points = 0;
                }
                // The segment is durable; the logs it covers can go.
                for entry in std::fs::read_dir(&dir)
                    .map_err(|e| TsdbError::io(&dir, e))?
                    .flatten()
                {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if wal_generation(&name).is_some_and(|g| g <= generation) {
                        std::fs::remove_file(entry.path())
                            .map_err(|e| TsdbError::io(&entry.path(), e))?;
                    }
                }
                segment::sync_dir(&dir)
            },
        );
        match handle {
            Ok(h) => self.flushing = Some(h),
            Err(e) => tracing::error!(error = %e, "cannot start the flush thread"),
        }
    }
}
