//! CRUD endpoints for the equipment hierarchy: sites, areas, lines and
//! equipment. Reads are open to every role of the tenant; writes need admin.
//! Ids of another tenant answer 404, exactly like ids that do not exist.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use zhizao_core::{Area, Equipment, Line, Site};
use zhizao_store::{
    AreaPatch, EquipmentPatch, LinePatch, NewArea, NewEquipment, NewLine, NewSite, Page, SitePatch,
};

use crate::AppState;
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{FilterSpec, IdPath, QueryMap, ValidJson, list_query};

/// RFC 3339 text of an epoch-millisecond time.
pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Paging and search parameters shared by every list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct PageParams {
    /// Page size, 1–500 (default 50).
    limit: Option<i64>,
    /// Rows to skip (default 0).
    offset: Option<i64>,
    /// `id`, `code`, `name` or `created_at`; prefix `-` for descending (default `code`).
    sort: Option<String>,
    /// Case-insensitive text contained in code or name.
    q: Option<String>,
}

/// A page of results.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageDto<T> {
    pub items: Vec<T>,
    /// Rows matching the filters, over all pages.
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

fn page<T, D: From<T>>(p: Page<T>) -> Json<PageDto<D>> {
    Json(PageDto {
        items: p.items.into_iter().map(D::from).collect(),
        total: p.total,
        limit: p.limit,
        offset: p.offset,
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SiteDto {
    pub id: i64,
    pub code: String,
    pub name: String,
    /// IANA time zone of the plant.
    pub timezone: String,
    pub created_at: String,
}
impl From<Site> for SiteDto {
    fn from(s: Site) -> Self {
        Self {
            id: s.id,
            code: s.code,
            name: s.name,
            timezone: s.timezone,
            created_at: rfc3339(s.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AreaDto {
    pub id: i64,
    pub site_id: i64,
    pub code: String,
    pub name: String,
    pub created_at: String,
}
impl From<Area> for AreaDto {
    fn from(a: Area) -> Self {
        Self {
            id: a.id,
            site_id: a.site_id,
            code: a.code,
            name: a.name,
            created_at: rfc3339(a.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LineDto {
    pub id: i64,
    pub area_id: i64,
    pub code: String,
    pub name: String,
    pub created_at: String,
}
impl From<Line> for LineDto {
    fn from(l: Line) -> Self {
        Self {
            id: l.id,
            area_id: l.area_id,
            code: l.code,
            name: l.name,
            created_at: rfc3339(l.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EquipmentDto {
    pub id: i64,
    pub line_id: i64,
    pub code: String,
    pub name: String,
    pub equipment_type: String,
    pub work_cell: Option<String>,
    #[schema(value_type = Object)]
    pub attributes: Map<String, Value>,
    pub created_at: String,
}
impl From<Equipment> for EquipmentDto {
    fn from(e: Equipment) -> Self {
        Self {
            id: e.id,
            line_id: e.line_id,
            code: e.code,
            name: e.name,
            equipment_type: e.equipment_type.0,
            work_cell: e.work_cell,
            attributes: e.attributes,
            created_at: rfc3339(e.created_at),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSite {
    pub code: String,
    pub name: String,
    /// Defaults to `Asia/Shanghai`.
    pub timezone: Option<String>,
}
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSite {
    pub code: Option<String>,
    pub name: Option<String>,
    pub timezone: Option<String>,
}
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateArea {
    pub site_id: i64,
    pub code: String,
    pub name: String,
}
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateArea {
    pub site_id: Option<i64>,
    pub code: Option<String>,
    pub name: Option<String>,
}
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLine {
    pub area_id: i64,
    pub code: String,
    pub name: String,
}
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateLine {
    pub area_id: Option<i64>,
    pub code: Option<String>,
    pub name: Option<String>,
}
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEquipment {
    pub line_id: i64,
    pub code: String,
    pub name: String,
    pub equipment_type: String,
    pub work_cell: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub attributes: Map<String, Value>,
}
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEquipment {
    pub line_id: Option<i64>,
    pub code: Option<String>,
    pub name: Option<String>,
    pub equipment_type: Option<String>,
    /// `null` clears the work cell; leaving the field out keeps it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub work_cell: Option<Option<String>>,
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<Map<String, Value>>,
}

/// Distinguishes a field given as `null` (`Some(None)`) from a missing one (`None`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

const AREA_FILTERS: &[FilterSpec] = &[FilterSpec {
    name: "site_id",
    condition: "site_id = {}",
    integer: true,
}];
const LINE_FILTERS: &[FilterSpec] = &[
    FilterSpec {
        name: "area_id",
        condition: "area_id = {}",
        integer: true,
    },
    FilterSpec {
        name: "site_id",
        condition: "area_id IN (SELECT id FROM areas WHERE site_id = {})",
        integer: true,
    },
];
const EQUIPMENT_FILTERS: &[FilterSpec] = &[
    FilterSpec {
        name: "line_id",
        condition: "line_id = {}",
        integer: true,
    },
    FilterSpec {
        name: "equipment_type",
        condition: "equipment_type = {}",
        integer: false,
    },
    FilterSpec {
        name: "work_cell",
        condition: "work_cell = {}",
        integer: false,
    },
];

type ApiResult<T> = Result<T, ApiError>;

// ---- sites ----

/// List sites.
#[utoipa::path(get, path = "/sites", tag = "hierarchy", security(("bearer" = [])), params(PageParams),
    responses((status = 200, body = PageDto<SiteDto>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list_sites(
    State(s): State<AppState>,
    u: AuthUser,
    QueryMap(q): QueryMap,
) -> ApiResult<Json<PageDto<SiteDto>>> {
    Ok(page(
        s.store
            .list_sites(u.tenant(), &list_query(&q, &[])?)
            .await?,
    ))
}

/// Create a site.
#[utoipa::path(post, path = "/sites", tag = "hierarchy", security(("bearer" = [])), request_body = CreateSite,
    responses((status = 201, body = SiteDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_site(
    State(s): State<AppState>,
    u: AuthUser,
    ValidJson(b): ValidJson<CreateSite>,
) -> ApiResult<(StatusCode, Json<SiteDto>)> {
    u.require_master_data_editor()?;
    let new = NewSite {
        code: b.code,
        name: b.name,
        timezone: b.timezone,
    };
    Ok((
        StatusCode::CREATED,
        Json(s.store.create_site(u.tenant(), new).await?.into()),
    ))
}

/// Get a site.
#[utoipa::path(get, path = "/sites/{id}", tag = "hierarchy", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = SiteDto), (status = 404, body = ErrorBody)))]
pub async fn get_site(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
) -> ApiResult<Json<SiteDto>> {
    Ok(Json(s.store.get_site(u.tenant(), id).await?.into()))
}

/// Change some fields of a site.
#[utoipa::path(patch, path = "/sites/{id}", tag = "hierarchy", security(("bearer" = [])), params(("id" = i64, Path)), request_body = UpdateSite,
    responses((status = 200, body = SiteDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_site(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
    ValidJson(b): ValidJson<UpdateSite>,
) -> ApiResult<Json<SiteDto>> {
    u.require_master_data_editor()?;
    let patch = SitePatch {
        code: b.code,
        name: b.name,
        timezone: b.timezone,
    };
    Ok(Json(
        s.store.update_site(u.tenant(), id, patch).await?.into(),
    ))
}

/// Delete a site that has no areas.
#[utoipa::path(delete, path = "/sites/{id}", tag = "hierarchy", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_site(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    u.require_master_data_editor()?;
    s.store.delete_site(u.tenant(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- areas ----

/// List areas, optionally of one site.
#[utoipa::path(get, path = "/areas", tag = "hierarchy", security(("bearer" = [])),
    params(PageParams, ("site_id" = Option<i64>, Query, description = "only areas of this site")),
    responses((status = 200, body = PageDto<AreaDto>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list_areas(
    State(s): State<AppState>,
    u: AuthUser,
    QueryMap(q): QueryMap,
) -> ApiResult<Json<PageDto<AreaDto>>> {
    Ok(page(
        s.store
            .list_areas(u.tenant(), &list_query(&q, AREA_FILTERS)?)
            .await?,
    ))
}

/// Create an area in a site.
#[utoipa::path(post, path = "/areas", tag = "hierarchy", security(("bearer" = [])), request_body = CreateArea,
    responses((status = 201, body = AreaDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_area(
    State(s): State<AppState>,
    u: AuthUser,
    ValidJson(b): ValidJson<CreateArea>,
) -> ApiResult<(StatusCode, Json<AreaDto>)> {
    u.require_master_data_editor()?;
    let new = NewArea {
        site_id: b.site_id,
        code: b.code,
        name: b.name,
    };
    Ok((
        StatusCode::CREATED,
        Json(s.store.create_area(u.tenant(), new).await?.into()),
    ))
}

/// Get an area.
#[utoipa::path(get, path = "/areas/{id}", tag = "hierarchy", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = AreaDto), (status = 404, body = ErrorBody)))]
pub async fn get_area(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
) -> ApiResult<Json<AreaDto>> {
    Ok(Json(s.store.get_area(u.tenant(), id).await?.into()))
}

/// Change some fields of an area.
#[utoipa::path(patch, path = "/areas/{id}", tag = "hierarchy", security(("bearer" = [])), params(("id" = i64, Path)), request_body = UpdateArea,
    responses((status = 200, body = AreaDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_area(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
    ValidJson(b): ValidJson<UpdateArea>,
) -> ApiResult<Json<AreaDto>> {
    u.require_master_data_editor()?;
    let patch = AreaPatch {
        site_id: b.site_id,
        code: b.code,
        name: b.name,
    };
    Ok(Json(
        s.store.update_area(u.tenant(), id, patch).await?.into(),
    ))
}

/// Delete an area that has no lines.
#[utoipa::path(delete, path = "/areas/{id}", tag = "hierarchy", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_area(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    u.require_master_data_editor()?;
    s.store.delete_area(u.tenant(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- lines ----

/// List lines, optionally of one area or site.
#[utoipa::path(get, path = "/lines", tag = "hierarchy", security(("bearer" = [])),
    params(PageParams, ("area_id" = Option<i64>, Query, description = "only lines of this area"),
        ("site_id" = Option<i64>, Query, description = "only lines of this site")),
    responses((status = 200, body = PageDto<LineDto>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list_lines(
    State(s): State<AppState>,
    u: AuthUser,
    QueryMap(q): QueryMap,
) -> ApiResult<Json<PageDto<LineDto>>> {
    Ok(page(
        s.store
            .list_lines(u.tenant(), &list_query(&q, LINE_FILTERS)?)
            .await?,
    ))
}

/// Create a line in an area.
#[utoipa::path(post, path = "/lines", tag = "hierarchy", security(("bearer" = [])), request_body = CreateLine,
    responses((status = 201, body = LineDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_line(
    State(s): State<AppState>,
    u: AuthUser,
    ValidJson(b): ValidJson<CreateLine>,
) -> ApiResult<(StatusCode, Json<LineDto>)> {
    u.require_master_data_editor()?;
    let new = NewLine {
        area_id: b.area_id,
        code: b.code,
        name: b.name,
    };
    Ok((
        StatusCode::CREATED,
        Json(s.store.create_line(u.tenant(), new).await?.into()),
    ))
}

/// Get a line.
#[utoipa::path(get, path = "/lines/{id}", tag = "hierarchy", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = LineDto), (status = 404, body = ErrorBody)))]
pub async fn get_line(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
) -> ApiResult<Json<LineDto>> {
    Ok(Json(s.store.get_line(u.tenant(), id).await?.into()))
}

/// Change some fields of a line.
#[utoipa::path(patch, path = "/lines/{id}", tag = "hierarchy", security(("bearer" = [])), params(("id" = i64, Path)), request_body = UpdateLine,
    responses((status = 200, body = LineDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_line(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
    ValidJson(b): ValidJson<UpdateLine>,
) -> ApiResult<Json<LineDto>> {
    u.require_master_data_editor()?;
    let patch = LinePatch {
        area_id: b.area_id,
        code: b.code,
        name: b.name,
    };
    Ok(Json(
        s.store.update_line(u.tenant(), id, patch).await?.into(),
    ))
}

/// Delete a line that has no equipment.
#[utoipa::path(delete, path = "/lines/{id}", tag = "hierarchy", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_line(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    u.require_master_data_editor()?;
    s.store.delete_line(u.tenant(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- equipment ----

/// List equipment, optionally of one line, type or work cell.
#[utoipa::path(get, path = "/equipment", tag = "hierarchy", security(("bearer" = [])),
    params(PageParams, ("line_id" = Option<i64>, Query, description = "only equipment of this line"),
        ("equipment_type" = Option<String>, Query, description = "only equipment of this type"),
        ("work_cell" = Option<String>, Query, description = "only equipment of this work cell")),
    responses((status = 200, body = PageDto<EquipmentDto>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list_equipment(
    State(s): State<AppState>,
    u: AuthUser,
    QueryMap(q): QueryMap,
) -> ApiResult<Json<PageDto<EquipmentDto>>> {
    Ok(page(
        s.store
            .list_equipment(u.tenant(), &list_query(&q, EQUIPMENT_FILTERS)?)
            .await?,
    ))
}

/// Create equipment on a line.
#[utoipa::path(post, path = "/equipment", tag = "hierarchy", security(("bearer" = [])), request_body = CreateEquipment,
    responses((status = 201, body = EquipmentDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_equipment(
    State(s): State<AppState>,
    u: AuthUser,
    ValidJson(b): ValidJson<CreateEquipment>,
) -> ApiResult<(StatusCode, Json<EquipmentDto>)> {
    u.require_master_data_editor()?;
    let new = NewEquipment {
        line_id: b.line_id,
        code: b.code,
        name: b.name,
        equipment_type: b.equipment_type,
        work_cell: b.work_cell,
        attributes: b.attributes,
    };
    Ok((
        StatusCode::CREATED,
        Json(s.store.create_equipment(u.tenant(), new).await?.into()),
    ))
}

/// Get one equipment.
#[utoipa::path(get, path = "/equipment/{id}", tag = "hierarchy", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = EquipmentDto), (status = 404, body = ErrorBody)))]
pub async fn get_equipment(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
) -> ApiResult<Json<EquipmentDto>> {
    Ok(Json(s.store.get_equipment(u.tenant(), id).await?.into()))
}

/// Change some fields of an equipment.
#[utoipa::path(patch, path = "/equipment/{id}", tag = "hierarchy", security(("bearer" = [])), params(("id" = i64, Path)), request_body = UpdateEquipment,
    responses((status = 200, body = EquipmentDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_equipment(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
    ValidJson(b): ValidJson<UpdateEquipment>,
) -> ApiResult<Json<EquipmentDto>> {
    u.require_master_data_editor()?;
    let patch = EquipmentPatch {
        line_id: b.line_id,
        code: b.code,
        name: b.name,
        equipment_type: b.equipment_type,
        work_cell: b.work_cell,
        attributes: b.attributes,
    };
    Ok(Json(
        s.store
            .update_equipment(u.tenant(), id, patch)
            .await?
            .into(),
    ))
}

/// Delete an equipment and its live status history.
#[utoipa::path(delete, path = "/equipment/{id}", tag = "hierarchy", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_equipment(
    State(s): State<AppState>,
    u: AuthUser,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    u.require_master_data_editor()?;
    s.store.delete_equipment(u.tenant(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
