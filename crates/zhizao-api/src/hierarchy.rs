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

/// Generates the five CRUD handlers of one entity of the hierarchy, with
/// their OpenAPI descriptions. Bodies convert into the store's `New*` and
/// `*Patch` types through `From`; reads are open to every role, writes
/// need a master-data editor.
macro_rules! crud_handlers {
    (
        name: $name:literal,
        collection: $collection:literal,
        item: $item:literal,
        list_params: ($($list_params:tt)*),
        filters: $filters:expr,
        dto: $dto:ty,
        create_body: $create_body:ty,
        update_body: $update_body:ty,
        handlers: $list:ident, $create:ident, $get:ident, $update:ident, $delete:ident,
        store: $s_list:ident, $s_create:ident, $s_get:ident, $s_update:ident, $s_delete:ident $(,)?
    ) => {
        #[utoipa::path(get, path = $collection, tag = "hierarchy", summary = concat!("List ", $name),
            security(("bearer" = [])), params($($list_params)*),
            responses((status = 200, body = PageDto<$dto>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
        pub async fn $list(State(s): State<AppState>, u: AuthUser, QueryMap(q): QueryMap) -> ApiResult<Json<PageDto<$dto>>> {
            Ok(page(s.store.$s_list(u.tenant(), &list_query(&q, $filters)?).await?))
        }

        #[utoipa::path(post, path = $collection, tag = "hierarchy", summary = concat!("Create ", $name),
            security(("bearer" = [])), request_body = $create_body,
            responses((status = 201, body = $dto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
        pub async fn $create(State(s): State<AppState>, u: AuthUser, ValidJson(b): ValidJson<$create_body>) -> ApiResult<(StatusCode, Json<$dto>)> {
            u.require_master_data_editor()?;
            Ok((StatusCode::CREATED, Json(s.store.$s_create(u.tenant(), b.into()).await?.into())))
        }

        #[utoipa::path(get, path = $item, tag = "hierarchy", summary = concat!("Get one of ", $name),
            security(("bearer" = [])), params(("id" = i64, Path)),
            responses((status = 200, body = $dto), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
        pub async fn $get(State(s): State<AppState>, u: AuthUser, IdPath(id): IdPath) -> ApiResult<Json<$dto>> {
            Ok(Json(s.store.$s_get(u.tenant(), id).await?.into()))
        }

        #[utoipa::path(patch, path = $item, tag = "hierarchy", summary = concat!("Change fields of one of ", $name),
            security(("bearer" = [])), params(("id" = i64, Path)), request_body = $update_body,
            responses((status = 200, body = $dto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
        pub async fn $update(State(s): State<AppState>, u: AuthUser, IdPath(id): IdPath, ValidJson(b): ValidJson<$update_body>) -> ApiResult<Json<$dto>> {
            u.require_master_data_editor()?;
            Ok(Json(s.store.$s_update(u.tenant(), id, b.into()).await?.into()))
        }

        #[utoipa::path(delete, path = $item, tag = "hierarchy", summary = concat!("Delete one of ", $name, " (refused while it has children)"),
            security(("bearer" = [])), params(("id" = i64, Path)),
            responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
        pub async fn $delete(State(s): State<AppState>, u: AuthUser, IdPath(id): IdPath) -> ApiResult<StatusCode> {
            u.require_master_data_editor()?;
            s.store.$s_delete(u.tenant(), id).await?;
            Ok(StatusCode::NO_CONTENT)
        }
    };
}

impl From<CreateSite> for NewSite {
    fn from(b: CreateSite) -> Self {
        NewSite {
            code: b.code,
            name: b.name,
            timezone: b.timezone,
        }
    }
}
impl From<UpdateSite> for SitePatch {
    fn from(b: UpdateSite) -> Self {
        SitePatch {
            code: b.code,
            name: b.name,
            timezone: b.timezone,
        }
    }
}
impl From<CreateArea> for NewArea {
    fn from(b: CreateArea) -> Self {
        NewArea {
            site_id: b.site_id,
            code: b.code,
            name: b.name,
        }
    }
}
impl From<UpdateArea> for AreaPatch {
    fn from(b: UpdateArea) -> Self {
        AreaPatch {
            site_id: b.site_id,
            code: b.code,
            name: b.name,
        }
    }
}
impl From<CreateLine> for NewLine {
    fn from(b: CreateLine) -> Self {
        NewLine {
            area_id: b.area_id,
            code: b.code,
            name: b.name,
        }
    }
}
impl From<UpdateLine> for LinePatch {
    fn from(b: UpdateLine) -> Self {
        LinePatch {
            area_id: b.area_id,
            code: b.code,
            name: b.name,
        }
    }
}
impl From<CreateEquipment> for NewEquipment {
    fn from(b: CreateEquipment) -> Self {
        NewEquipment {
            line_id: b.line_id,
            code: b.code,
            name: b.name,
            equipment_type: b.equipment_type,
            work_cell: b.work_cell,
            attributes: b.attributes,
        }
    }
}
impl From<UpdateEquipment> for EquipmentPatch {
    fn from(b: UpdateEquipment) -> Self {
        EquipmentPatch {
            line_id: b.line_id,
            code: b.code,
            name: b.name,
            equipment_type: b.equipment_type,
            work_cell: b.work_cell,
            attributes: b.attributes,
        }
    }
}

crud_handlers! {
    name: "sites",
    collection: "/sites",
    item: "/sites/{id}",
    list_params: (PageParams),
    filters: &[],
    dto: SiteDto,
    create_body: CreateSite,
    update_body: UpdateSite,
    handlers: list_sites, create_site, get_site, update_site, delete_site,
    store: list_sites, create_site, get_site, update_site, delete_site,
}

crud_handlers! {
    name: "areas",
    collection: "/areas",
    item: "/areas/{id}",
    list_params: (PageParams, ("site_id" = Option<i64>, Query, description = "only areas of this site")),
    filters: AREA_FILTERS,
    dto: AreaDto,
    create_body: CreateArea,
    update_body: UpdateArea,
    handlers: list_areas, create_area, get_area, update_area, delete_area,
    store: list_areas, create_area, get_area, update_area, delete_area,
}

crud_handlers! {
    name: "lines",
    collection: "/lines",
    item: "/lines/{id}",
    list_params: (PageParams,
        ("area_id" = Option<i64>, Query, description = "only lines of this area"),
        ("site_id" = Option<i64>, Query, description = "only lines of this site")),
    filters: LINE_FILTERS,
    dto: LineDto,
    create_body: CreateLine,
    update_body: UpdateLine,
    handlers: list_lines, create_line, get_line, update_line, delete_line,
    store: list_lines, create_line, get_line, update_line, delete_line,
}

crud_handlers! {
    name: "equipment",
    collection: "/equipment",
    item: "/equipment/{id}",
    list_params: (PageParams,
        ("line_id" = Option<i64>, Query, description = "only equipment of this line"),
        ("equipment_type" = Option<String>, Query, description = "only equipment of this type"),
        ("work_cell" = Option<String>, Query, description = "only equipment of this work cell")),
    filters: EQUIPMENT_FILTERS,
    dto: EquipmentDto,
    create_body: CreateEquipment,
    update_body: UpdateEquipment,
    handlers: list_equipment, create_equipment, get_equipment, update_equipment, delete_equipment,
    store: list_equipment, create_equipment, get_equipment, update_equipment, delete_equipment,
}
