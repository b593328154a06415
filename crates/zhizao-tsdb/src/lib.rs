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
//! Not yet here (see the notes): compressed Parquet segments,
//! rollups, retention and compaction; the in-memory tier holds everything.

pub mod hot;
pub mod lineproto;
pub mod model;
pub mod query;
pub mod wal;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot};

pub use hot::SeriesData;
pub use model::{Point, SeriesKey, Value, ValueType};
pub use query::{Aggregate, Fill, Query, QueryError, QueryResult, SeriesResult};
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
}

impl TsdbConfig {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            queue: 64,
            max_group_points: 500_000,
        }
    }
}

/// All series and their points.
#[derive(Debug, Default)]
pub struct State {
    pub(crate) ids: HashMap<SeriesKey, u32>,
    pub(crate) series: Vec<(SeriesKey, SeriesData)>,
    pub(crate) points: u64,
}

impl State {
    fn apply(&mut self, r: Record) {
        match r {
            Record::Series {
                id,
                key,
                value_type,
            } => {
                // Ids are dense and in order; anything else is a log from
                // another store and is skipped rather than misfiled.
                if id as usize == self.series.len() {
                    self.ids.insert(key.clone(), id);
                    self.series.push((key, SeriesData::new(value_type)));
                }
            }
            Record::Points(points) => {
                for (id, ts, value) in points {
                    if let Some((_, data)) = self.series.get_mut(id as usize)
                        && data.upsert(ts, value)
                    {
                        self.points += 1;
                    }
                }
            }
        }
    }

    /// Number of distinct series.
    pub fn series_count(&self) -> usize {
        self.series.len()
    }

    /// Number of stored points (after de-duplication).
    pub fn point_count(&self) -> u64 {
        self.points
    }

    /// Every stored point of a tenant, for tests and export: key, ts, value.
    pub fn dump(&self, tenant: i64) -> Vec<(SeriesKey, i64, Value)> {
        let mut out = Vec::new();
        for (key, data) in self.series.iter().filter(|(k, _)| k.tenant == tenant) {
            for i in 0..data.len() {
                if let Some(v) = data.values.get(i) {
                    out.push((key.clone(), data.ts[i], v));
                }
            }
        }
        out
    }
}

struct Request {
    tenant: i64,
    points: Vec<Point>,
    ack: oneshot::Sender<Result<WriteOutcome, TsdbError>>,
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

impl Tsdb {
    /// Opens the store in `config.dir` (created if missing) and replays its log.
    pub fn open(config: TsdbConfig) -> Result<Tsdb, TsdbError> {
        std::fs::create_dir_all(&config.dir).map_err(|e| TsdbError::io(&config.dir, e))?;
        let (wal, records) = Wal::open(&config.dir.join("wal.log"))?;
        let mut state = State::default();
        for r in records {
            state.apply(r);
        }
        tracing::info!(
            series = state.series.len(),
            points = state.points,
            "time-series store opened"
        );
        let state = Arc::new(RwLock::new(state));
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        let writer_state = state.clone();
        let max_group = config.max_group_points.max(1);
        let writer = std::thread::Builder::new()
            .name("tsdb-writer".into())
            .spawn(move || writer_loop(rx, wal, writer_state, max_group))
            .map_err(|e| TsdbError::io(&config.dir, e))?;
        Ok(Tsdb {
            state,
            tx: Some(tx),
            writer: Some(writer),
        })
    }

    /// Writes points for a tenant. Returns once the accepted points are
    /// durable on disk; waits when the writer is behind (back-pressure).
    pub async fn write(&self, tenant: i64, points: Vec<Point>) -> Result<WriteOutcome, TsdbError> {
        if points.is_empty() {
            return Ok(WriteOutcome::default());
        }
        let tx = self.tx.as_ref().ok_or(TsdbError::Closed)?;
        let (ack, done) = oneshot::channel();
        tx.send(Request {
            tenant,
            points,
            ack,
        })
        .await
        .map_err(|_| TsdbError::Closed)?;
        done.await.map_err(|_| TsdbError::Closed)?
    }

    /// Read access to everything stored.
    pub fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn query(&self, tenant: i64, q: &Query) -> Result<QueryResult, QueryError> {
        query::run(&self.read(), tenant, q)
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

/// Checks one point; returns the reason it cannot be stored.
fn check_point(p: &Point) -> Result<(), String> {
    if p.measurement.is_empty() {
        return Err("measurement is empty".into());
    }
    if p.field.is_empty() {
        return Err("field name is empty".into());
    }
    if let Some((k, _)) = p.tags.iter().find(|(k, _)| k.is_empty()) {
        return Err(format!("tag key `{k}` is empty"));
    }
    if let Value::F64(v) = p.value
        && !v.is_finite()
    {
        return Err(format!(
            "field `{}` is {v}; NaN and infinity are not stored",
            p.field
        ));
    }
    Ok(())
}

fn sorted_key(tenant: i64, p: &Point) -> SeriesKey {
    let mut tags = p.tags.clone();
    tags.sort();
    tags.dedup_by(|a, b| a.0 == b.0);
    SeriesKey {
        tenant,
        measurement: p.measurement.clone(),
        tags,
        field: p.field.clone(),
    }
}

fn writer_loop(
    mut rx: mpsc::Receiver<Request>,
    mut wal: Wal,
    state: Arc<RwLock<State>>,
    max_group: usize,
) {
    let mut failed: Option<String> = None;
    while let Some(first) = rx.blocking_recv() {
        let mut group = vec![first];
        let mut n = group[0].points.len();
        while n < max_group {
            match rx.try_recv() {
                Ok(r) => {
                    n += r.points.len();
                    group.push(r);
                }
                Err(_) => break,
            }
        }
        if let Some(reason) = &failed {
            for r in group {
                let _ = r.ack.send(Err(TsdbError::Failed(reason.clone())));
            }
            continue;
        }

        // Resolve series and types against the stored state plus the
        // series this group creates.
        let mut records = Vec::new();
        let mut outcomes = Vec::with_capacity(group.len());
        {
            let st = state.read().unwrap_or_else(PoisonError::into_inner);
            let mut new_ids: HashMap<SeriesKey, (u32, ValueType)> = HashMap::new();
            let mut points = Vec::with_capacity(n);
            for req in &group {
                let mut outcome = WriteOutcome::default();
                for (i, p) in req.points.iter().enumerate() {
                    if let Err(reason) = check_point(p) {
                        outcome.rejected.push((i, reason));
                        continue;
                    }
                    let key = sorted_key(req.tenant, p);
                    let t = p.value.value_type();
                    let (id, have) = if let Some(&id) = st.ids.get(&key) {
                        (id, st.series[id as usize].1.value_type)
                    } else if let Some(&(id, have)) = new_ids.get(&key) {
                        (id, have)
                    } else {
                        let id = (st.series.len() + new_ids.len()) as u32;
                        records.push(Record::Series {
                            id,
                            key: key.clone(),
                            value_type: t,
                        });
                        new_ids.insert(key, (id, t));
                        (id, t)
                    };
                    if have != t {
                        outcome.rejected.push((
                            i,
                            format!(
                                "type conflict: field `{}` holds {} values; got {}",
                                p.field,
                                have.name(),
                                t.name()
                            ),
                        ));
                        continue;
                    }
                    points.push((id, p.ts, p.value.clone()));
                    outcome.accepted += 1;
                }
                outcomes.push(outcome);
            }
            if !points.is_empty() {
                records.push(Record::Points(points));
            }
        }

        let durable = if records.is_empty() {
            Ok(())
        } else {
            wal.append(&records).and_then(|()| wal.sync())
        };
        match durable {
            Ok(()) => {
                let mut st = state.write().unwrap_or_else(PoisonError::into_inner);
                for r in records {
                    st.apply(r);
                }
                drop(st);
                for (req, outcome) in group.into_iter().zip(outcomes) {
                    let _ = req.ack.send(Ok(outcome));
                }
            }
            Err(e) => {
                // The log may now end in a partial frame; replay drops it.
                // Refuse further writes rather than append after it.
                tracing::error!(error = %e, "write-ahead log failed; writes stop");
                let reason = e.to_string();
                for req in group {
                    let _ = req.ack.send(Err(TsdbError::Failed(reason.clone())));
                }
                failed = Some(reason);
            }
        }
    }
}
