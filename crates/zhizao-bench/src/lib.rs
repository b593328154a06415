//! Benchmarks of the platform's parts against the standard data sets named
//! in BENCHMARKS.md. Each run prints what it measured and how.
//!
//! `tsdb`: the standard industrial data set, sent as line protocol in
//! batches of 5,000 lines, either straight into an embedded store
//! (isolates the store) or over HTTP to any InfluxDB 1.x-compatible
//! `/write` endpoint (ours or InfluxDB's, with the same client).

pub mod dataset;
pub mod kpi;
pub mod live;
pub mod mqtt;
pub mod mrp;
pub mod mrp_platform;
pub mod reschedule;
pub mod trace;

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use zhizao_tsdb::lineproto::{self, Precision};
use zhizao_tsdb::{Aggregate, Query, Tsdb, TsdbConfig, ValueFilter};

pub use dataset::Dataset;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Store(#[from] zhizao_tsdb::TsdbError),
    #[error("query: {0}")]
    Query(#[from] zhizao_tsdb::QueryError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("http: {0}")]
    Http(String),
    #[error("mqtt: {0}")]
    Mqtt(String),
    #[error("kpi: {0}")]
    Kpi(String),
    #[error("live: {0}")]
    Live(String),
    #[error("mrp: {0}")]
    Plan(String),
    #[error("registry: {0}")]
    Registry(#[from] zhizao_store::StoreError),
}

/// A fresh embedded registry in `dir`, migrated, with the tenant `bench`.
pub(crate) async fn fresh_registry(
    dir: &std::path::Path,
) -> Result<(zhizao_store::Store, zhizao_core::Tenant), BenchError> {
    let store =
        zhizao_store::Store::connect(&format!("sqlite://{}", dir.join("z.db").display())).await?;
    store.migrate().await?;
    let tenant = store.create_tenant("bench", "Bench").await?;
    Ok((store, tenant))
}

/// One ingest run's figures.
#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    pub target: String,
    pub lines: u64,
    /// Field values (InfluxDB's docs call a line a point; we count values).
    pub points: u64,
    pub batch_lines: usize,
    pub concurrency: usize,
    pub seconds: f64,
    pub lines_per_s: f64,
    pub points_per_s: f64,
    /// One past the data set's last timestamp, ns (for time-bounded queries).
    pub end_ns: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct QueryTiming {
    pub name: &'static str,
    pub cold_ms: f64,
    pub warm_ms: f64,
    pub series_returned: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct EmbeddedReport {
    pub ingest: IngestReport,
    pub segment_bytes: u64,
    pub rollup_bytes: u64,
    /// Segments and rollups, per value.
    pub bytes_per_point: f64,
    pub peak_rss_mib: Option<f64>,
    pub queries: Vec<QueryTiming>,
}

/// Peak resident set size of this process (Linux), MiB.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The three dashboard queries of BENCHMARKS.md.
pub fn dashboard_queries(d: &Dataset) -> Vec<(&'static str, Query)> {
    let end = d.end_ns();
    vec![
        (
            "last value per device",
            Query {
                measurement: "telemetry".into(),
                fields: vec!["temp_spindle".into()],
                aggregate: Some(Aggregate::Last),
                group_by: vec!["device".into()],
                ..Default::default()
            },
        ),
        (
            "1-minute mean per device, last hour",
            Query {
                measurement: "telemetry".into(),
                fields: vec!["temp_spindle".into()],
                start: Some(end - 3_600_000_000_000),
                end: Some(end),
                aggregate: Some(Aggregate::Mean),
                every: Some(60_000_000_000),
                group_by: vec!["device".into()],
                ..Default::default()
            },
        ),
        (
            "count of temperatures above 60 over the whole range",
            Query {
                measurement: "telemetry".into(),
                fields: vec!["temp_spindle".into()],
                aggregate: Some(Aggregate::Count),
                value: Some(ValueFilter {
                    gt: Some(60.0),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ),
    ]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Ingests the data set into an embedded store in `dir`, flushes, reopens,
/// and times the dashboard queries cold (first after reopen) and warm
/// (median of 5).
pub fn run_embedded(
    d: &Dataset,
    dir: &std::path::Path,
    concurrency: usize,
    progress: &dyn Fn(u64, u64),
) -> Result<EmbeddedReport, BenchError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let db = Tsdb::open(TsdbConfig::new(dir))?;
    let batches = d.batches();
    let total = batches.len() as u64;
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let start = Instant::now();
    let failure: Mutex<Option<BenchError>> = Mutex::new(None);
    rt.block_on(async {
        let workers = (0..concurrency.max(1)).map(|_| async {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(body) = batches.get(i) else { break };
                let parsed = lineproto::parse(body, Precision::Ns, 0);
                if let Err(e) = db.write_batch(1, parsed.batch).await {
                    if let Ok(mut f) = failure.lock() {
                        *f = Some(e.into());
                    }
                    break;
                }
                let n = done.fetch_add(1, Ordering::SeqCst) as u64 + 1;
                progress(n, total);
            }
        });
        futures_util::future::join_all(workers).await;
    });
    if let Some(e) = failure.into_inner().ok().flatten() {
        return Err(e);
    }
    let seconds = start.elapsed().as_secs_f64();
    rt.block_on(db.flush())?;
    let peak = peak_rss_mib();
    let stats = db.stats();
    drop(db);
    let db = Tsdb::open(TsdbConfig::new(dir))?;
    let mut queries = Vec::new();
    for (name, q) in dashboard_queries(d) {
        let t = Instant::now();
        let r = db.query(1, &q)?;
        let cold = t.elapsed();
        let mut warm = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            db.query(1, &q)?;
            warm.push(t.elapsed());
        }
        warm.sort();
        queries.push(QueryTiming {
            name,
            cold_ms: ms(cold),
            warm_ms: ms(warm[2]),
            series_returned: r.series.len(),
        });
    }
    let points = d.points();
    Ok(EmbeddedReport {
        ingest: IngestReport {
            target: "embedded store".into(),
            lines: d.lines(),
            points,
            batch_lines: d.batch_lines,
            concurrency,
            seconds,
            lines_per_s: d.lines() as f64 / seconds,
            points_per_s: points as f64 / seconds,
            end_ns: d.end_ns(),
        },
        segment_bytes: stats.segment_bytes,
        rollup_bytes: stats.rollup_bytes,
        bytes_per_point: (stats.segment_bytes + stats.rollup_bytes) as f64 / points as f64,
        peak_rss_mib: peak,
        queries,
    })
}

/// Sends the data set to an InfluxDB 1.x-compatible `/write` endpoint with
/// `concurrency` blocking clients (keep-alive), batches in order.
pub fn run_http(
    d: &Dataset,
    write_url: &str,
    auth: Option<&str>,
    concurrency: usize,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<IngestReport, BenchError> {
    let batches = d.batches();
    let total = batches.len() as u64;
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let failure: Mutex<Option<String>> = Mutex::new(None);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..concurrency.max(1) {
            s.spawn(|| {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(120)))
                    .build()
                    .into();
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(body) = batches.get(i) else { break };
                    let mut req = agent.post(write_url).header("Content-Type", "text/plain");
                    if let Some(a) = auth {
                        req = req.header("Authorization", a);
                    }
                    match req.send(body.as_bytes()) {
                        Ok(res) if res.status().as_u16() == 204 => {
                            let n = done.fetch_add(1, Ordering::SeqCst) as u64 + 1;
                            progress(n, total);
                        }
                        Ok(res) => {
                            if let Ok(mut f) = failure.lock() {
                                *f = Some(format!("batch {i}: status {}", res.status()));
                            }
                            break;
                        }
                        Err(e) => {
                            if let Ok(mut f) = failure.lock() {
                                *f = Some(format!("batch {i}: {e}"));
                            }
                            break;
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().ok().flatten() {
        return Err(BenchError::Http(e));
    }
    let seconds = start.elapsed().as_secs_f64();
    let points = d.points();
    Ok(IngestReport {
        target: write_url.to_owned(),
        lines: d.lines(),
        points,
        batch_lines: d.batch_lines,
        concurrency,
        seconds,
        lines_per_s: d.lines() as f64 / seconds,
        points_per_s: points as f64 / seconds,
        end_ns: d.end_ns(),
    })
}
