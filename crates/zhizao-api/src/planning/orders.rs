//! The order book over HTTP: customer orders listed, entered, edited and
//! deleted; imported from CSV or XLSX with a report of every bad row (row,
//! column, reason) — nothing is stored unless every row is good, or the
//! caller asked to keep the good ones; exported as CSV or XLSX with the
//! same columns, so an export imports back unchanged.

use std::collections::{HashMap, HashSet};
use std::io::Cursor;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zhizao_plan::book::{OrderStatus, parse_date};
use zhizao_store::{CustomerOrder, NewCustomerOrder, OrderQuery, OrderSort};

use super::require_planner;
use crate::AppState;
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{IdPath, QueryMap, ValidJson};
use crate::hierarchy::PageDto;

/// Rows an import reports back at most; the counts cover all.
const MAX_REPORTED: usize = 1000;

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderDto {
    pub id: i64,
    pub number: String,
    pub customer: String,
    pub item: String,
    pub quantity: f64,
    pub due_date: String,
    pub priority: i64,
    /// `open`, `in_production`, `shipped` or `cancelled`.
    pub status: String,
    pub note: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<CustomerOrder> for OrderDto {
    fn from(o: CustomerOrder) -> Self {
        Self {
            id: o.id,
            number: o.number,
            customer: o.customer,
            item: o.item,
            quantity: o.quantity,
            due_date: o.due_date,
            priority: o.priority,
            status: o.status,
            note: o.note,
            created_at: o.created_at,
            updated_at: o.updated_at,
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderBody {
    pub number: String,
    pub customer: String,
    pub item: String,
    pub quantity: f64,
    /// `YYYY-MM-DD`.
    pub due_date: String,
    /// 1 (most urgent) to 9; 5 when absent.
    #[serde(default)]
    pub priority: Option<i64>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

/// Checks one order; the error is (column, message).
fn check(
    b: &OrderBody,
    items: &HashSet<String>,
) -> Result<NewCustomerOrder, (&'static str, String)> {
    let number = b.number.trim();
    if number.is_empty() || number.chars().count() > 64 || number.chars().any(char::is_control) {
        return Err((
            "number",
            "must be 1 to 64 characters, without control characters".into(),
        ));
    }
    let customer = b.customer.trim();
    if customer.is_empty() || customer.chars().count() > 200 {
        return Err(("customer", "must be 1 to 200 characters".into()));
    }
    let item = b.item.trim();
    if !items.contains(item) {
        return Err(("item", format!("no item `{item}` in the master data")));
    }
    if !(b.quantity.is_finite() && b.quantity > 0.0) {
        return Err(("quantity", format!("{} is not a quantity > 0", b.quantity)));
    }
    let Some(due) = parse_date(&b.due_date) else {
        return Err((
            "due_date",
            format!("`{}` is not a date (YYYY-MM-DD)", b.due_date),
        ));
    };
    let priority = b.priority.unwrap_or(5);
    if !(1..=9).contains(&priority) {
        return Err(("priority", format!("{priority} is not 1 to 9")));
    }
    let status = match b.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => OrderStatus::Open,
        Some(s) => status_of(s).ok_or((
            "status",
            format!("`{s}` is not one of open, in_production, shipped, cancelled"),
        ))?,
    };
    Ok(NewCustomerOrder {
        number: number.to_owned(),
        customer: customer.to_owned(),
        item: item.to_owned(),
        quantity: b.quantity,
        due_date: zhizao_plan::book::format_date(due),
        priority,
        status: status.as_str().to_owned(),
        note: b.note.clone().unwrap_or_default(),
    })
}

/// A status by its key or its Chinese name.
fn status_of(s: &str) -> Option<OrderStatus> {
    OrderStatus::parse(s).or(match s {
        "待生产" | "未开始" => Some(OrderStatus::Open),
        "生产中" => Some(OrderStatus::InProduction),
        "已发货" => Some(OrderStatus::Shipped),
        "已取消" => Some(OrderStatus::Cancelled),
        _ => None,
    })
}

async fn item_codes(s: &AppState, tenant: i64) -> Result<HashSet<String>, ApiError> {
    Ok(s.store.plan_item_codes(tenant).await?.into_iter().collect())
}

fn order_query(q: &HashMap<String, String>) -> Result<OrderQuery, ApiError> {
    let mut out = OrderQuery::default();
    for (k, v) in q {
        let v = v.trim();
        match k.as_str() {
            "limit" => {
                out.limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=zhizao_store::MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        ApiError::validation(
                            "limit",
                            format!("limit: must be between 1 and {}", zhizao_store::MAX_LIMIT),
                        )
                    })?;
            }
            "offset" => {
                out.offset = v.parse().ok().filter(|n| *n >= 0).ok_or_else(|| {
                    ApiError::validation("offset", "offset: must be an integer ≥ 0")
                })?;
            }
            "sort" => {
                let (sort, desc) = OrderSort::parse(v).ok_or_else(|| {
                    ApiError::validation(
                        "sort",
                        format!(
                            "sort: `{v}` is not one of {} (prefix - for descending)",
                            OrderSort::NAMES.join(", ")
                        ),
                    )
                })?;
                out.sort = sort;
                out.descending = desc;
            }
            "status" if !v.is_empty() => {
                let st = OrderStatus::parse(v).ok_or_else(|| {
                    ApiError::validation(
                        "status",
                        format!(
                            "status: `{v}` is not one of open, in_production, shipped, cancelled"
                        ),
                    )
                })?;
                out.status = Some(st.as_str().to_owned());
            }
            "item" if !v.is_empty() => out.item = Some(v.to_owned()),
            "due_from" | "due_to" if !v.is_empty() => {
                let d = super::date_field(k, v)?;
                let d = Some(zhizao_plan::book::format_date(d));
                if k == "due_from" {
                    out.due_from = d;
                } else {
                    out.due_to = d;
                }
            }
            "q" if !v.is_empty() => out.search = Some(v.to_owned()),
            "status" | "item" | "due_from" | "due_to" | "q" | "format" => {}
            other => {
                return Err(ApiError::validation(
                    other,
                    format!(
                        "unknown query parameter `{other}`; expected one of limit, offset, sort, status, item, due_from, due_to, q"
                    ),
                ));
            }
        }
    }
    Ok(out)
}

/// The order book, a page at a time: `sort` by number, due_date (default),
/// customer, item, quantity, priority, status or created_at (`-` for
/// descending); filters `status`, `item`, `due_from`, `due_to`, and `q`
/// (part of the number, customer or item).
#[utoipa::path(get, path = "/orders", tag = "planning", security(("bearer" = [])),
    responses((status = 200, body = PageDto<OrderDto>), (status = 422, body = ErrorBody)))]
pub async fn list_orders(
    State(s): State<AppState>,
    u: AuthUser,
    QueryMap(q): QueryMap,
) -> Result<Json<PageDto<OrderDto>>, ApiError> {
    let q = order_query(&q)?;
    let (items, total) = s.store.list_customer_orders(u.tenant(), &q).await?;
    Ok(Json(PageDto {
        items: items.into_iter().map(OrderDto::from).collect(),
        total,
        limit: q.limit,
        offset: q.offset,
    }))
}

fn invalid((column, message): (&'static str, String)) -> ApiError {
    ApiError::validation(column, format!("{column}: {message}"))
}

/// Enter a customer order; its item must be in the master data.
#[utoipa::path(post, path = "/orders", tag = "planning", security(("bearer" = [])),
    request_body = OrderBody,
    responses((status = 201, body = OrderDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_order(
    State(s): State<AppState>,
    u: AuthUser,
    ValidJson(b): ValidJson<OrderBody>,
) -> Result<(StatusCode, Json<OrderDto>), ApiError> {
    require_planner(&u)?;
    let o = check(&b, &item_codes(&s, u.tenant()).await?).map_err(invalid)?;
    let saved = s.store.create_customer_order(u.tenant(), &o).await?;
    Ok((StatusCode::CREATED, Json(saved.into())))
}

/// One customer order.
#[utoipa::path(get, path = "/orders/{id}", tag = "planning", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = OrderDto), (status = 404, body = ErrorBody)))]
pub async fn get_order(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
) -> Result<Json<OrderDto>, ApiError> {
    Ok(Json(s.store.customer_order(u.tenant(), id).await?.into()))
}

/// Change a customer order (every field; as when entered).
#[utoipa::path(put, path = "/orders/{id}", tag = "planning", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = OrderBody,
    responses((status = 200, body = OrderDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_order(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
    ValidJson(b): ValidJson<OrderBody>,
) -> Result<Json<OrderDto>, ApiError> {
    require_planner(&u)?;
    let o = check(&b, &item_codes(&s, u.tenant()).await?).map_err(invalid)?;
    Ok(Json(
        s.store
            .update_customer_order(u.tenant(), id, &o)
            .await?
            .into(),
    ))
}

/// Delete a customer order.
#[utoipa::path(delete, path = "/orders/{id}", tag = "planning", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_order(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
) -> Result<StatusCode, ApiError> {
    require_planner(&u)?;
    s.store.delete_customer_order(u.tenant(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The file's columns, by their names in either language.
const COLUMNS: [(&str, &[&str]); 8] = [
    (
        "number",
        &["number", "order", "order_number", "订单号", "订单编号"],
    ),
    ("customer", &["customer", "客户"]),
    ("item", &["item", "product", "物料", "产品", "物料编码"]),
    ("quantity", &["quantity", "qty", "数量"]),
    ("due_date", &["due_date", "due", "交期", "交货日期"]),
    ("priority", &["priority", "优先级"]),
    ("status", &["status", "状态"]),
    ("note", &["note", "备注"]),
];

const REQUIRED: [&str; 5] = ["number", "customer", "item", "quantity", "due_date"];

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportRowError {
    /// The row as a spreadsheet numbers it: the header is row 1.
    pub row: u64,
    pub column: Option<String>,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderImportReport {
    /// Data rows read (the header not counted).
    pub rows: u64,
    pub accepted_rows: u64,
    pub rejected_rows: u64,
    /// Whether anything was stored: every row was good, or `keep_good`
    /// was asked for.
    pub applied: bool,
    pub inserted: u64,
    pub updated: u64,
    /// Columns not known, left out.
    pub ignored_columns: Vec<String>,
    /// The first 1,000 rejected rows, in row order.
    pub errors: Vec<ImportRowError>,
}

/// A file as rows of text cells, the header first.
pub(crate) fn read_rows(bytes: &[u8], format: &str) -> Result<Vec<Vec<String>>, ApiError> {
    match format {
        "csv" => {
            let text = std::str::from_utf8(bytes)
                .map_err(|e| ApiError::bad_request(format!("the CSV is not UTF-8 text: {e}")))?;
            let text = text.strip_prefix('\u{feff}').unwrap_or(text);
            let mut rdr = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(text.as_bytes());
            let mut rows = Vec::new();
            for (k, rec) in rdr.records().enumerate() {
                let rec = rec.map_err(|e| {
                    ApiError::bad_request(format!("row {}: not readable as CSV: {e}", k + 1))
                })?;
                rows.push(rec.iter().map(str::to_owned).collect());
            }
            Ok(rows)
        }
        "xlsx" => {
            use calamine::{Data, Reader, Xlsx};
            let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes))
                .map_err(|e| ApiError::bad_request(format!("not an XLSX workbook: {e}")))?;
            let range = book
                .worksheet_range_at(0)
                .ok_or_else(|| ApiError::bad_request("the workbook has no sheet"))?
                .map_err(|e| {
                    ApiError::bad_request(format!("the first sheet is unreadable: {e}"))
                })?;
            let epoch = time::macros::date!(1899 - 12 - 30);
            Ok(range
                .rows()
                .map(|row| {
                    row.iter()
                        .map(|c| match c {
                            Data::Empty => String::new(),
                            Data::String(s) => s.clone(),
                            Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => {
                                format!("{}", *f as i64)
                            }
                            Data::Float(f) => f.to_string(),
                            Data::Int(i) => i.to_string(),
                            Data::Bool(b) => b.to_string(),
                            Data::DateTime(d) => {
                                let days = d.as_f64().floor() as i64;
                                zhizao_plan::book::format_date(epoch + time::Duration::days(days))
                            }
                            Data::DateTimeIso(s) => s.get(..10).unwrap_or(s).to_owned(),
                            Data::DurationIso(s) => s.clone(),
                            Data::Error(e) => format!("#{e:?}"),
                        })
                        .collect()
                })
                .collect())
        }
        other => Err(ApiError::validation(
            "format",
            format!("format: `{other}` is not csv or xlsx"),
        )),
    }
}

/// Import customer orders from CSV or XLSX (`format=csv|xlsx`; XLSX is
/// recognised by its content too). The first row names the columns, in
/// English or Chinese: number/订单号, customer/客户, item/物料,
/// quantity/数量, due_date/交期, and optionally priority/优先级,
/// status/状态, note/备注. An order number already in the book updates
/// that order. Every bad row is reported with its column; nothing is
/// stored when there is one, unless `keep_good=true`.
#[utoipa::path(post, path = "/orders/import", tag = "planning", security(("bearer" = [])),
    request_body(content = String, description = "CSV text or an XLSX workbook"),
    responses((status = 200, body = OrderImportReport), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn import_orders(
    State(s): State<AppState>,
    u: AuthUser,
    QueryMap(q): QueryMap,
    body: Bytes,
) -> Result<Json<OrderImportReport>, ApiError> {
    require_planner(&u)?;
    for k in q.keys() {
        if !matches!(k.as_str(), "format" | "keep_good") {
            return Err(ApiError::validation(
                k.clone(),
                format!("unknown query parameter `{k}`; expected format, keep_good"),
            ));
        }
    }
    let keep_good = match q.get("keep_good").map(String::as_str) {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(v) => {
            return Err(ApiError::validation(
                "keep_good",
                format!("keep_good: `{v}` is not true or false"),
            ));
        }
    };
    let format = match q.get("format") {
        Some(f) => f.as_str(),
        None if body.starts_with(b"PK\x03\x04") => "xlsx",
        None => "csv",
    };
    let rows = read_rows(&body, format)?;
    let Some((header, data)) = rows.split_first() else {
        return Err(ApiError::bad_request(
            "the file is empty: the first row must name the columns",
        ));
    };
    let mut at: HashMap<&str, usize> = HashMap::new();
    let mut ignored_columns = Vec::new();
    for (i, h) in header.iter().enumerate() {
        let name = h.trim().to_lowercase();
        match COLUMNS
            .iter()
            .find(|(_, names)| names.contains(&name.as_str()))
        {
            Some((key, _)) => {
                if at.insert(key, i).is_some() {
                    return Err(ApiError::validation(
                        *key,
                        format!("column `{key}` appears twice in the header"),
                    ));
                }
            }
            None if name.is_empty() => {}
            None => ignored_columns.push(h.trim().to_owned()),
        }
    }
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|c| !at.contains_key(c))
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::validation(
            missing[0],
            format!(
                "the header lacks column(s) {}; it must name number, customer, item, quantity and due_date (订单号, 客户, 物料, 数量, 交期)",
                missing.join(", ")
            ),
        ));
    }
    let items = item_codes(&s, u.tenant()).await?;
    let mut good = Vec::new();
    let mut errors = Vec::new();
    let mut rejected = 0u64;
    let mut numbers: HashMap<String, u64> = HashMap::new();
    let mut rows_read = 0u64;
    for (k, row) in data.iter().enumerate() {
        let row_no = k as u64 + 2;
        if row.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        rows_read += 1;
        let cell = |c: &str| {
            at.get(c)
                .and_then(|&i| row.get(i))
                .map(|v| v.trim().to_owned())
                .unwrap_or_default()
        };
        let result = (|| {
            let quantity = cell("quantity");
            let quantity: f64 = quantity
                .parse()
                .map_err(|_| ("quantity", format!("`{quantity}` is not a number")))?;
            let priority = match cell("priority") {
                p if p.is_empty() => None,
                p => Some(
                    p.parse::<i64>()
                        .map_err(|_| ("priority", format!("`{p}` is not 1 to 9")))?,
                ),
            };
            let body = OrderBody {
                number: cell("number"),
                customer: cell("customer"),
                item: cell("item"),
                quantity,
                due_date: cell("due_date"),
                priority,
                status: Some(cell("status")),
                note: Some(cell("note")),
            };
            let o = check(&body, &items)?;
            if let Some(first) = numbers.get(&o.number) {
                return Err(("number", format!("`{}` is also on row {first}", o.number)));
            }
            Ok(o)
        })();
        match result {
            Ok(o) => {
                numbers.insert(o.number.clone(), row_no);
                good.push(o);
            }
            Err((column, message)) => {
                rejected += 1;
                if errors.len() < MAX_REPORTED {
                    errors.push(ImportRowError {
                        row: row_no,
                        column: Some(column.to_owned()),
                        message: format!("{column}: {message}"),
                    });
                }
            }
        }
    }
    let applied = rejected == 0 || keep_good;
    let (inserted, updated) = if applied && !good.is_empty() {
        s.store.upsert_customer_orders(u.tenant(), &good).await?
    } else {
        (0, 0)
    };
    Ok(Json(OrderImportReport {
        rows: rows_read,
        accepted_rows: good.len() as u64,
        rejected_rows: rejected,
        applied,
        inserted,
        updated,
        ignored_columns,
        errors,
    }))
}

const EXPORT_HEADER: [&str; 8] = [
    "number", "customer", "item", "quantity", "due_date", "priority", "status", "note",
];

/// The order book (with the list's filters) as CSV or XLSX
/// (`format=csv|xlsx`), in the columns the import reads.
#[utoipa::path(get, path = "/orders/export", tag = "planning", security(("bearer" = [])),
    responses((status = 200, description = "CSV text or an XLSX workbook"), (status = 422, body = ErrorBody)))]
pub async fn export_orders(
    State(s): State<AppState>,
    u: AuthUser,
    QueryMap(q): QueryMap,
) -> Result<Response, ApiError> {
    let format = q.get("format").map_or("csv", String::as_str).to_owned();
    let mut query = order_query(&q)?;
    query.limit = zhizao_store::MAX_LIMIT;
    let mut orders = Vec::new();
    loop {
        let (page, total) = s.store.list_customer_orders(u.tenant(), &query).await?;
        let n = page.len() as i64;
        orders.extend(page);
        query.offset += n;
        if n == 0 || query.offset >= total {
            break;
        }
    }
    let cells = |o: &CustomerOrder| {
        [
            o.number.clone(),
            o.customer.clone(),
            o.item.clone(),
            o.quantity.to_string(),
            o.due_date.clone(),
            o.priority.to_string(),
            o.status.clone(),
            o.note.clone(),
        ]
    };
    match format.as_str() {
        "csv" => {
            let mut w = csv::Writer::from_writer(Vec::new());
            let fail = |e: csv::Error| ApiError::unavailable(format!("export failed: {e}"));
            w.write_record(EXPORT_HEADER).map_err(fail)?;
            for o in &orders {
                w.write_record(cells(o)).map_err(fail)?;
            }
            let mut body = "\u{feff}".as_bytes().to_vec();
            body.extend(
                w.into_inner()
                    .map_err(|e| ApiError::unavailable(format!("export failed: {e}")))?,
            );
            Ok((
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"orders.csv\"",
                    ),
                ],
                body,
            )
                .into_response())
        }
        "xlsx" => {
            let fail = |e: rust_xlsxwriter::XlsxError| {
                ApiError::unavailable(format!("export failed: {e}"))
            };
            let mut book = rust_xlsxwriter::Workbook::new();
            let sheet = book.add_worksheet();
            for (c, h) in EXPORT_HEADER.iter().enumerate() {
                sheet.write_string(0, c as u16, *h).map_err(fail)?;
            }
            for (r, o) in orders.iter().enumerate() {
                let r = r as u32 + 1;
                for (c, v) in cells(o).iter().enumerate() {
                    if c == 3 || c == 5 {
                        let x: f64 = v.parse().unwrap_or(0.0);
                        sheet.write_number(r, c as u16, x).map_err(fail)?;
                    } else {
                        sheet.write_string(r, c as u16, v).map_err(fail)?;
                    }
                }
            }
            let body = book.save_to_buffer().map_err(fail)?;
            Ok((
                [
                    (
                        header::CONTENT_TYPE,
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    ),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"orders.xlsx\"",
                    ),
                ],
                body,
            )
                .into_response())
        }
        other => Err(ApiError::validation(
            "format",
            format!("format: `{other}` is not csv or xlsx"),
        )),
    }
}
