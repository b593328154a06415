//! Liveness, readiness and Prometheus metrics.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

/// The server's metrics and the registry that renders them.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram>,
    pub live_connections: Gauge,
    /// Time of one live KPI push round over every tenant.
    pub kpi_push_round: Histogram,
    history: HistoryGauges,
}

/// Figures of the time-series store, refreshed when metrics are scraped.
#[derive(Default)]
struct HistoryGauges {
    series: Gauge,
    memory_points: Gauge,
    segments: Gauge,
    segment_bytes: Gauge,
    wal_bytes: Gauge,
    points_written: Gauge,
}

impl HistoryGauges {
    fn register(&self, registry: &mut Registry) {
        let sub = registry.sub_registry_with_prefix("history");
        sub.register("series", "Distinct series", self.series.clone());
        sub.register(
            "memory_points",
            "Points in the in-memory tiers",
            self.memory_points.clone(),
        );
        sub.register(
            "segments",
            "Parquet segments on disk",
            self.segments.clone(),
        );
        sub.register(
            "segment_bytes",
            "Bytes of segments on disk",
            self.segment_bytes.clone(),
        );
        sub.register(
            "wal_bytes",
            "Bytes of write-ahead log not yet in segments",
            self.wal_bytes.clone(),
        );
        sub.register(
            "points_written",
            "Values accepted since start (rate() gives points/s)",
            self.points_written.clone(),
        );
    }

    fn update(&self, s: zhizao_tsdb::Stats) {
        let g = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.series.set(g(s.series as u64));
        self.memory_points.set(g(s.memory_points));
        self.segments.set(g(s.segments as u64));
        self.segment_bytes.set(g(s.segment_bytes));
        self.wal_bytes.set(g(s.wal_bytes));
        self.points_written.set(g(s.points_written));
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("zhizao");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        let live_connections = Gauge::default();
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency",
            latency.clone(),
        );
        registry.register(
            "live_connections",
            "Open live WebSocket connections",
            live_connections.clone(),
        );
        let kpi_push_round = Histogram::new(exponential_buckets(0.0005, 2.0, 16));
        registry.register(
            "kpi_push_round_seconds",
            "Time of one live KPI push round (every tenant's lines)",
            kpi_push_round.clone(),
        );
        let history = HistoryGauges::default();
        history.register(&mut registry);
        Self {
            registry,
            requests,
            latency,
            live_connections,
            kpi_push_round,
            history,
        }
    }
}

/// Records count and latency of every request under its route template.
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().to_string();
    let start = Instant::now();
    let res = next.run(req).await;
    metrics
        .latency
        .get_or_create(&RouteLabels {
            route: route.clone(),
        })
        .observe(start.elapsed().as_secs_f64());
    metrics
        .requests
        .get_or_create(&RequestLabels {
            method,
            route,
            status: res.status().as_u16(),
        })
        .inc();
    res
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, description = "alive")))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the relational store answers.
#[utoipa::path(get, path = "/readyz", tag = "ops",
    responses((status = 200, description = "ready"), (status = 503, body = ErrorBody)))]
pub async fn readyz(State(s): State<AppState>) -> Result<&'static str, ApiError> {
    s.store.ping().await.map_err(|e| {
        tracing::warn!(error = %e, "readiness check failed");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "the database is not reachable",
        )
    })?;
    Ok("ready")
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, description = "metrics", content_type = "text/plain")))]
pub async fn metrics(State(s): State<AppState>) -> Response {
    s.metrics.history.update(s.tsdb.stats());
    let mut out = String::new();
    match prometheus_client::encoding::text::encode(&mut out, &s.metrics.registry) {
        Ok(()) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            out,
        )
            .into_response(),
        Err(_) => ApiError::internal().into_response(),
    }
}
