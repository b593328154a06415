//! Time-series endpoints: JSON writes, InfluxDB 1.x line-protocol writes
//! (`POST /write`), and queries.
//!
//! Line-protocol clients authenticate the way InfluxDB 1.x clients do:
//! `u`/`p` query parameters, HTTP Basic, or `Authorization: Token …` (a
//! Zhizao API token; `Bearer` works too). Passwords checked this way are
//! remembered briefly (as a hash) so a collector writing every second does
//! not pay for argon2 on every request.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zhizao_core::User;
use zhizao_tsdb::lineproto::{self, Precision};
use zhizao_tsdb::{Aggregate, Fill, Point, Query, Value, ValueFilter};

use crate::AppState;
use crate::auth::{AuthUser, user_for_token};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{QueryMap, ValidJson};

/// Largest write body, after gzip decompression.
pub const MAX_WRITE_BYTES: usize = 32 * 1024 * 1024;
const CREDENTIAL_TTL: Duration = Duration::from_secs(300);

/// A time: epoch milliseconds, RFC 3339 text, `now`, or a duration before
/// now such as `-30m`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum TimeArg {
    EpochMs(i64),
    Text(String),
}

impl TimeArg {
    pub(crate) fn to_ns(&self, field: &str) -> Result<i64, String> {
        match self {
            TimeArg::EpochMs(ms) => ms
                .checked_mul(1_000_000)
                .ok_or_else(|| format!("{field}: {ms} ms is out of range")),
            TimeArg::Text(s) if s == "now" => Ok(now_ns()),
            TimeArg::Text(s) if s.starts_with('-') => parse_duration(&s[1..])
                .map(|d| now_ns().saturating_sub(d))
                .ok_or_else(|| format!("{field}: `{s}` is not a relative time like -30m")),
            TimeArg::Text(s) => {
                let t =
                    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                        .map_err(|e| format!("{field}: `{s}` is not RFC 3339 ({e})"))?;
                i64::try_from(t.unix_timestamp_nanos())
                    .map_err(|_| format!("{field}: `{s}` is out of range"))
            }
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JsonPoint {
    /// e.g. `telemetry`.
    pub measurement: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Field name → number, boolean or string. Numbers are stored as floats.
    #[schema(value_type = Object)]
    pub fields: BTreeMap<String, serde_json::Value>,
    /// Epoch ms or RFC 3339; the server's clock when left out.
    pub ts: Option<TimeArg>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteRequest {
    pub points: Vec<JsonPoint>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Rejected {
    /// Index of the point in the request.
    pub index: usize,
    pub field: Option<String>,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WriteResponse {
    /// Field values stored (each field of a point counts once).
    pub accepted: usize,
    pub rejected: Vec<Rejected>,
}

fn now_ns() -> i64 {
    zhizao_store::now_ms().saturating_mul(1_000_000)
}

fn json_value(v: &serde_json::Value) -> Option<Value> {
    match v {
        serde_json::Value::Number(n) => n.as_f64().map(Value::F64),
        serde_json::Value::Bool(b) => Some(Value::Bool(*b)),
        serde_json::Value::String(s) => Some(Value::Str(s.clone())),
        _ => None,
    }
}

/// Write points as JSON; answers once they are durable.
#[utoipa::path(post, path = "/write", tag = "series", security(("bearer" = [])), request_body = WriteRequest,
    responses((status = 200, description = "Stored; `rejected` lists points that were not", body = WriteResponse),
        (status = 401, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn write_json(
    State(s): State<AppState>,
    u: AuthUser,
    ValidJson(req): ValidJson<WriteRequest>,
) -> Result<Json<WriteResponse>, ApiError> {
    let now = now_ns();
    let mut rejected = Vec::new();
    let mut points = Vec::new();
    // Which request point each stored value came from.
    let mut origin = Vec::new();
    for (i, p) in req.points.iter().enumerate() {
        let ts = match p.ts.as_ref().map(|t| t.to_ns("ts")).transpose() {
            Ok(ts) => ts.unwrap_or(now),
            Err(message) => {
                rejected.push(Rejected {
                    index: i,
                    field: Some("ts".into()),
                    message,
                });
                continue;
            }
        };
        if p.fields.is_empty() {
            rejected.push(Rejected {
                index: i,
                field: Some("fields".into()),
                message: "fields: at least one field is needed".into(),
            });
            continue;
        }
        // Shared by the fields of this point.
        let tags: std::sync::Arc<Vec<(String, String)>> =
            std::sync::Arc::new(p.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
        let measurement: std::sync::Arc<str> = p.measurement.as_str().into();
        let mut values = Vec::new();
        for (name, v) in &p.fields {
            match json_value(v) {
                Some(value) => values.push((name, value)),
                None => {
                    values.clear();
                    rejected.push(Rejected {
                        index: i,
                        field: Some(format!("fields.{name}")),
                        message: format!("fields.{name}: must be a number, boolean or string"),
                    });
                    break;
                }
            }
        }
        for (name, value) in values {
            origin.push(i);
            points.push(Point {
                measurement: measurement.clone(),
                tags: tags.clone(),
                field: name.as_str().into(),
                ts,
                value,
            });
        }
    }
    let outcome = s.tsdb.write(u.tenant(), points).await.map_err(|e| {
        tracing::error!(error = %e, "time-series write failed");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "the time-series store cannot take writes now",
        )
    })?;
    for (j, message) in outcome.rejected {
        rejected.push(Rejected {
            index: origin.get(j).copied().unwrap_or(0),
            field: None,
            message,
        });
    }
    rejected.sort_by_key(|r| r.index);
    if outcome.accepted == 0 && !rejected.is_empty() {
        let first = &rejected[0];
        return Err(ApiError::validation(
            first
                .field
                .clone()
                .unwrap_or_else(|| format!("points[{}]", first.index)),
            format!(
                "no point was stored; points[{}]: {}",
                first.index, first.message
            ),
        ));
    }
    Ok(Json(WriteResponse {
        accepted: outcome.accepted,
        rejected,
    }))
}

/// Remembers recently verified Basic/`u`+`p` credentials.
#[derive(Debug, Default)]
pub struct CredentialCache {
    entries: Mutex<HashMap<[u8; 32], (User, Instant)>>,
}

impl CredentialCache {
    fn key(user: &str, password: &str) -> [u8; 32] {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(user.as_bytes());
        h.update([0]);
        h.update(password.as_bytes());
        h.finalize().into()
    }

    async fn verify(&self, state: &AppState, user: &str, password: &str) -> Result<User, ApiError> {
        let key = Self::key(user, password);
        if let Ok(map) = self.entries.lock()
            && let Some((u, at)) = map.get(&key)
            && at.elapsed() < CREDENTIAL_TTL
        {
            return Ok(u.clone());
        }
        let u = state
            .store
            .verify_login(user, password)
            .await?
            .ok_or_else(|| ApiError::unauthorized("wrong username or password"))?;
        if let Ok(mut map) = self.entries.lock() {
            map.retain(|_, (_, at)| at.elapsed() < CREDENTIAL_TTL);
            map.insert(key, (u.clone(), Instant::now()));
        }
        Ok(u)
    }
}

/// The InfluxDB-style error body line-protocol clients expect.
fn influx_error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({"error": message.into()}))).into_response()
}

async fn line_protocol_user(
    s: &AppState,
    params: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<User, ApiError> {
    if let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (scheme, rest) = auth.split_once(' ').unwrap_or((auth, ""));
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer") {
            return user_for_token(s, rest).await;
        }
        if scheme.eq_ignore_ascii_case("basic") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| ApiError::unauthorized("malformed Basic credentials"))?;
            let (user, password) = decoded
                .split_once(':')
                .ok_or_else(|| ApiError::unauthorized("malformed Basic credentials"))?;
            return s.credentials.verify(s, user, password).await;
        }
        return Err(ApiError::unauthorized(format!(
            "unsupported authorization scheme `{scheme}`"
        )));
    }
    match (params.get("u"), params.get("p")) {
        (Some(user), Some(password)) => s.credentials.verify(s, user, password).await,
        _ => Err(ApiError::unauthorized(
            "authentication required: u/p parameters, Basic, or Authorization: Token",
        )),
    }
}

/// The body as text, un-gzipped when it says so; errors as (status, message).
fn decode_body<'a>(
    headers: &HeaderMap,
    body: &'a Bytes,
) -> Result<std::borrow::Cow<'a, str>, (StatusCode, String)> {
    let gzip = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    let bytes = if gzip {
        let mut out = Vec::new();
        let mut dec = flate2::read::GzDecoder::new(&body[..]).take(MAX_WRITE_BYTES as u64 + 1);
        dec.read_to_end(&mut out).map_err(|e| {
            (
                StatusCode::BAD_REQUEST,
                format!("body is not valid gzip: {e}"),
            )
        })?;
        if out.len() > MAX_WRITE_BYTES {
            return Err((
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("body is larger than {MAX_WRITE_BYTES} bytes after decompression"),
            ));
        }
        out
    } else {
        // Plain bodies are read in place.
        return std::str::from_utf8(body)
            .map(std::borrow::Cow::Borrowed)
            .map_err(|e| {
                (
                    StatusCode::BAD_REQUEST,
                    format!("body is not UTF-8 (byte {})", e.valid_up_to()),
                )
            });
    };
    String::from_utf8(bytes)
        .map(std::borrow::Cow::Owned)
        .map_err(|e| {
            (
                StatusCode::BAD_REQUEST,
                format!("body is not UTF-8 (byte {})", e.utf8_error().valid_up_to()),
            )
        })
}

/// InfluxDB 1.x compatible write: line protocol, `?db=NAME&precision=ns|us|ms|s`,
/// gzip bodies accepted. 204 when every line was stored; 400 with
/// `{"error", "accepted_lines", "rejected_lines", "errors":[{"line","message"}]}`
/// when some were not (the good lines are kept).
#[utoipa::path(post, path = "/write", tag = "series",
    params(("db" = Option<String>, Query, description = "accepted for compatibility; data goes to the caller's tenant"),
        ("precision" = Option<String>, Query, description = "ns (default), us, ms or s"),
        ("u" = Option<String>, Query), ("p" = Option<String>, Query)),
    request_body(content = String, content_type = "text/plain"),
    responses((status = 204, description = "All lines stored"), (status = 400, description = "Some lines rejected; the rest stored"),
        (status = 401, description = "Not authenticated"), (status = 413, description = "Body too large")))]
pub async fn write_line_protocol(
    State(s): State<AppState>,
    QueryMap(params): QueryMap,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let user = match line_protocol_user(&s, &params, &headers).await {
        Ok(u) => u,
        Err(e) => return influx_error(StatusCode::UNAUTHORIZED, e.message),
    };
    let precision = match params.get("precision").map(String::as_str) {
        None | Some("") => Precision::Ns,
        Some(p) => match Precision::parse(p) {
            Some(p) => p,
            None => {
                return influx_error(
                    StatusCode::BAD_REQUEST,
                    format!("precision `{p}` is not one of ns, us, ms, s"),
                );
            }
        },
    };
    let text = match decode_body(&headers, &body) {
        Ok(t) => t,
        Err((status, message)) => return influx_error(status, message),
    };
    let parsed = lineproto::parse(&text, precision, now_ns());
    let batch = parsed.batch;
    // Rejected values are named by their line, so keep where lines start.
    let line_index = batch.line_index();
    let outcome = match s.tsdb.write_batch(user.tenant_id, batch).await {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(error = %e, "time-series write failed");
            return influx_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the time-series store cannot take writes now",
            );
        }
    };
    let parse_errors = parsed.errors.len();
    let mut errors: Vec<(usize, String)> = parsed
        .errors
        .into_iter()
        .map(|e| (e.line, e.message))
        .collect();
    let mut bad_lines: Vec<usize> = errors.iter().map(|e| e.0).collect();
    for (j, message) in outcome.rejected {
        let line = line_index.line_of(j);
        bad_lines.push(line);
        errors.push((line, message));
    }
    if errors.is_empty() {
        return StatusCode::NO_CONTENT.into_response();
    }
    errors.sort();
    bad_lines.sort_unstable();
    bad_lines.dedup();
    let total_lines = parsed.good_lines + parse_errors;
    let rejected_lines = bad_lines.len();
    let first = &errors[0];
    let body = serde_json::json!({
        "error": format!("partial write: line {}: {} ({} of {} lines rejected)", first.0, first.1, rejected_lines, total_lines),
        "accepted_lines": total_lines - rejected_lines,
        "rejected_lines": rejected_lines,
        "errors": errors.iter().take(100).map(|(l, m)| serde_json::json!({"line": l, "message": m})).collect::<Vec<_>>(),
    });
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    pub measurement: String,
    /// Field names, or `["*"]` (the default) for all.
    #[serde(default)]
    pub fields: Vec<String>,
    /// Tag equality filters, e.g. `{"equipment":"CUT-01"}`.
    #[serde(default, rename = "where")]
    pub filter: BTreeMap<String, String>,
    pub start: Option<TimeArg>,
    pub end: Option<TimeArg>,
    #[schema(value_type = Option<String>, example = "mean")]
    pub aggregate: Option<Aggregate>,
    /// Bucket width: `500ms`, `10s`, `1m`, `1h`, `1d`.
    pub every: Option<String>,
    #[serde(default)]
    pub group_by: Vec<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "none")]
    pub fill: Fill,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
    /// Keep only points whose value passes these bounds, e.g. `{"gt": 60}`.
    #[schema(value_type = Option<Object>)]
    pub value: Option<ValueFilter>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesDto {
    pub tags: BTreeMap<String, String>,
    pub field: String,
    /// `[epoch_ms, value]` pairs; value is null for null-filled buckets.
    #[schema(value_type = Vec<Vec<Object>>)]
    pub points: Vec<(i64, serde_json::Value)>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueryResponse {
    pub series: Vec<SeriesDto>,
    pub next_cursor: Option<String>,
}

/// Parses `500ms`, `10s`, `1m`, `2h`, `1d` into nanoseconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let n: i64 = n.parse().ok()?;
    let factor: i64 = match unit {
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        _ => return None,
    };
    n.checked_mul(factor).filter(|v| *v > 0)
}

impl QueryRequest {
    /// Checks times and durations and builds the store's query.
    fn into_query(self) -> Result<Query, ApiError> {
        let time = |t: &Option<TimeArg>, field: &'static str| {
            t.as_ref()
                .map(|t| t.to_ns(field))
                .transpose()
                .map_err(|m| ApiError::validation(field, m))
        };
        let every = match &self.every {
            None => None,
            Some(e) => Some(parse_duration(e).ok_or_else(|| {
                ApiError::validation(
                    "every",
                    format!("every: `{e}` is not a duration like 10s, 1m, 1h"),
                )
            })?),
        };
        Ok(Query {
            start: time(&self.start, "start")?,
            end: time(&self.end, "end")?,
            measurement: self.measurement,
            fields: self.fields,
            filter: self.filter.into_iter().collect(),
            aggregate: self.aggregate,
            every,
            group_by: self.group_by,
            fill: self.fill,
            limit: self.limit,
            cursor: self.cursor,
            value: self.value,
        })
    }
}

fn run_query(
    s: &AppState,
    tenant: i64,
    req: QueryRequest,
) -> Result<zhizao_tsdb::QueryResult, ApiError> {
    let q = req.into_query()?;
    s.tsdb
        .query(tenant, &q)
        .map_err(|e| ApiError::validation(e.field, e.to_string()))
}

/// Query history: raw points with a cursor, or aggregates per group.
#[utoipa::path(post, path = "/series/query", tag = "series", security(("bearer" = [])), request_body = QueryRequest,
    responses((status = 200, body = QueryResponse), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn query(
    State(s): State<AppState>,
    u: AuthUser,
    ValidJson(req): ValidJson<QueryRequest>,
) -> Result<Json<QueryResponse>, ApiError> {
    let result = run_query(&s, u.tenant(), req)?;
    Ok(Json(QueryResponse {
        series: result
            .series
            .into_iter()
            .map(|r| SeriesDto {
                tags: r.tags,
                field: r.field,
                points: r
                    .points
                    .into_iter()
                    .map(|(ts, v)| {
                        (
                            ts.div_euclid(1_000_000),
                            v.map_or(serde_json::Value::Null, |v| v.to_json()),
                        )
                    })
                    .collect(),
            })
            .collect(),
        next_cursor: result.next_cursor,
    }))
}

/// Most raw points one export takes; larger ranges are paged with the cursor.
pub const EXPORT_LIMIT: usize = 1_000_000;

/// Export a query's result as a file: `?format=csv` (default) or
/// `?format=parquet`. One row per point: time, tags, field, value. Raw
/// exports hold at most 1,000,000 points; when more remain, the
/// `X-Next-Cursor` header carries the cursor for the next file.
#[utoipa::path(post, path = "/series/export", tag = "series", security(("bearer" = [])), request_body = QueryRequest,
    params(("format" = Option<String>, Query, description = "csv (default) or parquet")),
    responses((status = 200, description = "The file: text/csv, or application/vnd.apache.parquet for format=parquet", content_type = "text/csv"),
        (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn export(
    State(s): State<AppState>,
    u: AuthUser,
    QueryMap(params): QueryMap,
    ValidJson(mut req): ValidJson<QueryRequest>,
) -> Result<Response, ApiError> {
    if let Some(k) = params.keys().find(|k| k.as_str() != "format") {
        return Err(ApiError::validation(
            k.clone(),
            format!("unknown query parameter `{k}`; expected format"),
        ));
    }
    let format = params.get("format").map_or("csv", String::as_str);
    if !matches!(format, "csv" | "parquet") {
        return Err(ApiError::validation(
            "format",
            format!("format: `{format}` is not csv or parquet"),
        ));
    }
    if req.aggregate.is_none() {
        req.limit = Some(req.limit.unwrap_or(EXPORT_LIMIT).min(EXPORT_LIMIT));
    }
    let name: String = req
        .measurement
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let result = run_query(&s, u.tenant(), req)?;
    let (body, content_type) = if format == "csv" {
        (
            zhizao_tsdb::export::to_csv(&result).into_bytes(),
            "text/csv; charset=utf-8",
        )
    } else {
        let bytes = zhizao_tsdb::export::to_parquet(&result).map_err(|e| {
            tracing::error!(error = %e, "parquet export failed");
            ApiError::internal()
        })?;
        (bytes, "application/vnd.apache.parquet")
    };
    let mut res = (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.{format}\""),
            ),
        ],
        body,
    )
        .into_response();
    if let Some(c) = result.next_cursor
        && let Ok(v) = axum::http::HeaderValue::from_str(&c)
    {
        res.headers_mut().insert("x-next-cursor", v);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1m"), Some(60_000_000_000));
        assert_eq!(parse_duration("500ms"), Some(500_000_000));
        assert_eq!(parse_duration("0s"), None);
        assert_eq!(parse_duration("1w"), None);
        assert_eq!(parse_duration("m"), None);
    }
}
