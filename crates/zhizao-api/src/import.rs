//! CSV upload of historical data: the body is CSV text, the query string
//! says how columns map to history. The answer reports every rejected row
//! by row and column; the good rows are stored. The command line
//! (`zhizao import csv`) sends large files here in chunks.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use zhizao_ingest::TsUnit;
use zhizao_ingest::csv::{CsvMapping, RowError, parse_csv};

use crate::AppState;
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::QueryMap;

/// Rows reported back at most; the counts cover all of them.
const MAX_REPORTED: usize = 1000;

#[derive(Debug, Serialize, ToSchema)]
pub struct RowErrorDto {
    pub row: u64,
    pub column: Option<String>,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportReport {
    /// Data rows read (the header not counted).
    pub rows: u64,
    pub accepted_rows: u64,
    pub rejected_rows: u64,
    pub points: u64,
    /// The first 1,000 rejected rows, in row order.
    pub errors: Vec<RowErrorDto>,
}

fn mapping(q: &HashMap<String, String>) -> Result<(CsvMapping, u64), ApiError> {
    let get = |k: &str| q.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let time_unit = match get("time_unit").unwrap_or("ms") {
        "s" => TsUnit::S,
        "ms" => TsUnit::Ms,
        "us" => TsUnit::Us,
        "ns" => TsUnit::Ns,
        other => {
            return Err(ApiError::validation(
                "time_unit",
                format!("time_unit: `{other}` is not one of s, ms, us, ns"),
            ));
        }
    };
    let mut fixed_tags = BTreeMap::new();
    for pair in get("tags")
        .unwrap_or("")
        .split(',')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once(':').ok_or_else(|| {
            ApiError::validation("tags", format!("tags: `{pair}` is not key:value"))
        })?;
        fixed_tags.insert(k.trim().to_owned(), v.trim().to_owned());
    }
    let first_row = match get("first_row") {
        None => 1,
        Some(v) => v.parse::<u64>().ok().filter(|n| *n >= 1).ok_or_else(|| {
            ApiError::validation("first_row", "first_row: must be a whole number ≥ 1")
        })?,
    };
    Ok((
        CsvMapping {
            measurement: get("measurement").unwrap_or("telemetry").to_owned(),
            time_column: get("time_column").unwrap_or("time").to_owned(),
            time_unit,
            tag_columns: get("tag_columns")
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
            fixed_tags,
        },
        first_row,
    ))
}

/// Import a CSV text into history. Query: `measurement` (default
/// telemetry), `time_column` (default time), `time_unit` (s|ms|us|ns,
/// default ms; RFC 3339 text is always accepted), `tag_columns` (comma
/// separated), `tags` (fixed, `key:value,…`), `first_row` (the row number of
/// this text's header, for chunks of a larger file).
#[utoipa::path(post, path = "/import/csv", tag = "series", security(("bearer" = [])),
    params(("measurement" = Option<String>, Query), ("time_column" = Option<String>, Query),
        ("time_unit" = Option<String>, Query), ("tag_columns" = Option<String>, Query),
        ("tags" = Option<String>, Query), ("first_row" = Option<u64>, Query)),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, description = "Good rows stored; the report lists the others", body = ImportReport),
        (status = 401, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn import_csv(
    State(s): State<AppState>,
    u: AuthUser,
    QueryMap(q): QueryMap,
    body: Bytes,
) -> Result<Json<ImportReport>, ApiError> {
    let (m, first_row) = mapping(&q)?;
    let text = std::str::from_utf8(&body).map_err(|e| {
        ApiError::validation(
            "body",
            format!("body: not UTF-8 (byte {})", e.valid_up_to()),
        )
    })?;
    let batch = parse_csv(text, &m, first_row).map_err(|e| {
        ApiError::validation(
            e.column.clone().unwrap_or_else(|| "body".into()),
            e.to_string(),
        )
    })?;
    let mut errors: Vec<RowError> = batch.errors;
    let mut rows_of_points = Vec::new();
    let mut points = Vec::new();
    for (row, pts) in batch.rows {
        rows_of_points.extend(std::iter::repeat_n(row, pts.len()));
        points.extend(pts);
    }
    let total_points = points.len() as u64;
    let outcome = s
        .tsdb
        .write(u.tenant(), points)
        .await
        .map_err(|e| ApiError::unavailable(format!("history cannot take writes now: {e}")))?;
    let mut bad_rows: std::collections::BTreeSet<u64> = errors.iter().map(|e| e.row).collect();
    for (i, why) in &outcome.rejected {
        let row = rows_of_points.get(*i).copied().unwrap_or(0);
        if bad_rows.insert(row) {
            errors.push(RowError {
                row,
                column: None,
                message: why.clone(),
            });
        }
    }
    errors.sort_by_key(|e| e.row);
    let rejected_rows = bad_rows.len() as u64;
    Ok(Json(ImportReport {
        rows: batch.rows_read,
        accepted_rows: batch.rows_read - rejected_rows,
        rejected_rows,
        points: total_points - outcome.rejected.len() as u64,
        errors: errors
            .into_iter()
            .take(MAX_REPORTED)
            .map(|e| RowErrorDto {
                row: e.row,
                column: e.column,
                message: e.message,
            })
            .collect(),
    }))
}
