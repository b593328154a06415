//! CRUD for the equipment hierarchy: sites, areas, lines, equipment.
//!
//! Lists, gets and deletes share generic helpers keyed by a [`Record`]
//! description of the table; creates and updates are written per entity
//! because their columns and parent checks differ.

use serde_json::{Map, Value};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, FromRow};
use zhizao_core::{
    Area, Equipment, EquipmentType, FieldError, Line, Site, validate_code, validate_name,
};

use crate::list::{ListQuery, Page, Param, bind_all, order_clause, where_clause};
use crate::{Result, Store, StoreError, now_ms, on_pool};

/// Largest JSON text accepted for an equipment's attributes.
pub const MAX_ATTRIBUTES_BYTES: usize = 16 * 1024;

/// A table whose rows decode on both backends.
trait Record:
    Sized + Send + Unpin + for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow>
{
    const TABLE: &'static str;
    const ENTITY: &'static str;
    const COLUMNS: &'static str;
}

/// A level of the hierarchy made of a parent id, a code and a name.
trait ChildRecord: Record {
    type Parent: Record;
    const PARENT_COLUMN: &'static str;
    /// (parent id, code, name)
    fn parts(&self) -> (i64, &str, &str);
}

#[derive(FromRow)]
struct SiteRow {
    id: i64,
    tenant_id: i64,
    code: String,
    name: String,
    timezone: String,
    created_at: i64,
}
impl Record for SiteRow {
    const TABLE: &'static str = "sites";
    const ENTITY: &'static str = "site";
    const COLUMNS: &'static str = "id, tenant_id, code, name, timezone, created_at";
}
impl From<SiteRow> for Site {
    fn from(r: SiteRow) -> Self {
        Site {
            id: r.id,
            tenant_id: r.tenant_id,
            code: r.code,
            name: r.name,
            timezone: r.timezone,
            created_at: r.created_at,
        }
    }
}

#[derive(FromRow)]
struct AreaRow {
    id: i64,
    tenant_id: i64,
    site_id: i64,
    code: String,
    name: String,
    created_at: i64,
}
impl Record for AreaRow {
    const TABLE: &'static str = "areas";
    const ENTITY: &'static str = "area";
    const COLUMNS: &'static str = "id, tenant_id, site_id, code, name, created_at";
}
impl ChildRecord for AreaRow {
    type Parent = SiteRow;
    const PARENT_COLUMN: &'static str = "site_id";
    fn parts(&self) -> (i64, &str, &str) {
        (self.site_id, &self.code, &self.name)
    }
}
impl From<AreaRow> for Area {
    fn from(r: AreaRow) -> Self {
        Area {
            id: r.id,
            tenant_id: r.tenant_id,
            site_id: r.site_id,
            code: r.code,
            name: r.name,
            created_at: r.created_at,
        }
    }
}

#[derive(FromRow)]
struct LineRow {
    id: i64,
    tenant_id: i64,
    area_id: i64,
    code: String,
    name: String,
    created_at: i64,
}
impl Record for LineRow {
    const TABLE: &'static str = "lines";
    const ENTITY: &'static str = "line";
    const COLUMNS: &'static str = "id, tenant_id, area_id, code, name, created_at";
}
impl ChildRecord for LineRow {
    type Parent = AreaRow;
    const PARENT_COLUMN: &'static str = "area_id";
    fn parts(&self) -> (i64, &str, &str) {
        (self.area_id, &self.code, &self.name)
    }
}
impl From<LineRow> for Line {
    fn from(r: LineRow) -> Self {
        Line {
            id: r.id,
            tenant_id: r.tenant_id,
            area_id: r.area_id,
            code: r.code,
            name: r.name,
            created_at: r.created_at,
        }
    }
}

#[derive(FromRow)]
struct EquipmentRow {
    id: i64,
    tenant_id: i64,
    line_id: i64,
    code: String,
    name: String,
    equipment_type: String,
    work_cell: Option<String>,
    attributes: String,
    created_at: i64,
}
impl Record for EquipmentRow {
    const TABLE: &'static str = "equipment";
    const ENTITY: &'static str = "equipment";
    const COLUMNS: &'static str =
        "id, tenant_id, line_id, code, name, equipment_type, work_cell, attributes, created_at";
}
impl TryFrom<EquipmentRow> for Equipment {
    type Error = StoreError;
    fn try_from(r: EquipmentRow) -> Result<Self> {
        let attributes: Map<String, Value> = serde_json::from_str(&r.attributes)
            .map_err(|e| StoreError::Corrupt(format!("equipment {} attributes: {e}", r.id)))?;
        Ok(Equipment {
            id: r.id,
            tenant_id: r.tenant_id,
            line_id: r.line_id,
            code: r.code,
            name: r.name,
            equipment_type: EquipmentType(r.equipment_type),
            work_cell: r.work_cell,
            attributes,
            created_at: r.created_at,
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct NewSite {
    pub code: String,
    pub name: String,
    pub timezone: Option<String>,
}
#[derive(Debug, Clone, Default)]
pub struct SitePatch {
    pub code: Option<String>,
    pub name: Option<String>,
    pub timezone: Option<String>,
}
#[derive(Debug, Clone, Default)]
pub struct NewArea {
    pub site_id: i64,
    pub code: String,
    pub name: String,
}
#[derive(Debug, Clone, Default)]
pub struct AreaPatch {
    pub site_id: Option<i64>,
    pub code: Option<String>,
    pub name: Option<String>,
}
#[derive(Debug, Clone, Default)]
pub struct NewLine {
    pub area_id: i64,
    pub code: String,
    pub name: String,
}
#[derive(Debug, Clone, Default)]
pub struct LinePatch {
    pub area_id: Option<i64>,
    pub code: Option<String>,
    pub name: Option<String>,
}
#[derive(Debug, Clone, Default)]
pub struct NewEquipment {
    pub line_id: i64,
    pub code: String,
    pub name: String,
    pub equipment_type: String,
    pub work_cell: Option<String>,
    pub attributes: Map<String, Value>,
}
#[derive(Debug, Clone, Default)]
pub struct EquipmentPatch {
    pub line_id: Option<i64>,
    pub code: Option<String>,
    pub name: Option<String>,
    pub equipment_type: Option<String>,
    /// `Some(None)` clears the work cell.
    pub work_cell: Option<Option<String>>,
    pub attributes: Option<Map<String, Value>>,
}

pub const DEFAULT_TIMEZONE: &str = "Asia/Shanghai";

fn validate_timezone(tz: &str) -> Result<(), FieldError> {
    let ok = !tz.is_empty()
        && tz.len() <= 64
        && tz
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+'));
    if ok {
        Ok(())
    } else {
        Err(FieldError::new(
            "timezone",
            format!("`{tz}` is not a time-zone name like Asia/Shanghai"),
        ))
    }
}

fn validate_equipment(e: &NewEquipment) -> Result<(), FieldError> {
    validate_code("code", &e.code)?;
    validate_name("name", &e.name)?;
    validate_code("equipment_type", &e.equipment_type)?;
    if let Some(cell) = &e.work_cell {
        validate_code("work_cell", cell)?;
    }
    let size = serde_json::to_string(&e.attributes).map_or(0, |s| s.len());
    if size > MAX_ATTRIBUTES_BYTES {
        return Err(FieldError::new(
            "attributes",
            format!("is {size} bytes; at most {MAX_ATTRIBUTES_BYTES} are allowed"),
        ));
    }
    Ok(())
}

impl Store {
    async fn list_rows<R: Record>(&self, tenant_id: i64, q: &ListQuery) -> Result<Page<R>> {
        let (filter, params) = where_clause(tenant_id, q);
        let count_sql = format!("SELECT COUNT(*) FROM {}{filter}", R::TABLE);
        let rows_sql = format!(
            "SELECT {} FROM {}{filter}{}",
            R::COLUMNS,
            R::TABLE,
            order_clause(q)
        );
        let (total, items) = on_pool!(self, p => {
            let total: i64 = bind_all!(sqlx::query_scalar(AssertSqlSafe(count_sql.as_str())), &params)
                .fetch_one(p)
                .await?;
            let items: Vec<R> = bind_all!(sqlx::query_as(AssertSqlSafe(rows_sql.as_str())), &params)
                .fetch_all(p)
                .await?;
            (total, items)
        });
        Ok(Page {
            items,
            total,
            limit: q.limit.clamp(1, crate::list::MAX_LIMIT),
            offset: q.offset.max(0),
        })
    }

    async fn get_row<R: Record>(&self, tenant_id: i64, id: i64) -> Result<R> {
        let sql = format!(
            "SELECT {} FROM {} WHERE tenant_id = $1 AND id = $2",
            R::COLUMNS,
            R::TABLE
        );
        let row: Option<R> = on_pool!(self, p => sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .bind(tenant_id)
            .bind(id)
            .fetch_optional(p)
            .await?);
        row.ok_or(StoreError::NotFound {
            entity: R::ENTITY,
            id,
        })
    }

    async fn delete_row<R: Record>(&self, tenant_id: i64, id: i64, children: &str) -> Result<()> {
        let sql = format!("DELETE FROM {} WHERE tenant_id = $1 AND id = $2", R::TABLE);
        let res = on_pool!(self, p => sqlx::query(AssertSqlSafe(sql.as_str())).bind(tenant_id).bind(id).execute(p).await
            .map(|r| r.rows_affected()));
        match res {
            Ok(0) => Err(StoreError::NotFound {
                entity: R::ENTITY,
                id,
            }),
            Ok(_) => Ok(()),
            Err(e) if is_foreign_key_violation(&e) => Err(StoreError::InUse {
                entity: R::ENTITY,
                id,
                message: format!("delete its {children} first"),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Fails with [`StoreError::MissingParent`] unless `id` exists in the
    /// tenant's `R` table.
    async fn require_parent<R: Record>(&self, tenant_id: i64, field: &str, id: i64) -> Result<()> {
        match self.get_row::<R>(tenant_id, id).await {
            Ok(_) => Ok(()),
            Err(StoreError::NotFound { .. }) => Err(StoreError::MissingParent {
                field: field.to_owned(),
                message: format!("{} {id} does not exist", R::ENTITY),
            }),
            Err(e) => Err(e),
        }
    }

    /// Runs an INSERT … RETURNING or UPDATE … RETURNING with `params`,
    /// mapping a unique violation to a conflict on `code`.
    async fn write_row<R: Record>(&self, sql: &str, params: &[Param]) -> Result<R> {
        let article = if R::ENTITY.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        let what = format!("{article} {} with this code", R::ENTITY);
        let row: Option<R> = on_pool!(self, p => bind_all!(sqlx::query_as(AssertSqlSafe(sql)), params)
            .fetch_optional(p)
            .await
            .map_err(|e| StoreError::from_write(e, "code", &what))?);
        row.ok_or_else(|| StoreError::Corrupt(format!("write to {} returned no row", R::TABLE)))
    }

    // ---- sites ----

    pub async fn list_sites(&self, tenant_id: i64, q: &ListQuery) -> Result<Page<Site>> {
        let page = self.list_rows::<SiteRow>(tenant_id, q).await?;
        Ok(map_page(page, Site::from))
    }

    pub async fn get_site(&self, tenant_id: i64, id: i64) -> Result<Site> {
        Ok(self.get_row::<SiteRow>(tenant_id, id).await?.into())
    }

    pub async fn create_site(&self, tenant_id: i64, new: NewSite) -> Result<Site> {
        let tz = new.timezone.unwrap_or_else(|| DEFAULT_TIMEZONE.to_owned());
        validate_code("code", &new.code)?;
        validate_name("name", &new.name)?;
        validate_timezone(&tz)?;
        let sql = format!(
            "INSERT INTO sites (tenant_id, code, name, timezone, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING {}",
            SiteRow::COLUMNS
        );
        let params = [
            Param::Int(tenant_id),
            Param::Text(new.code),
            Param::Text(new.name),
            Param::Text(tz),
            Param::Int(now_ms()),
        ];
        Ok(self.write_row::<SiteRow>(&sql, &params).await?.into())
    }

    pub async fn update_site(&self, tenant_id: i64, id: i64, patch: SitePatch) -> Result<Site> {
        let cur = self.get_site(tenant_id, id).await?;
        let code = patch.code.unwrap_or(cur.code);
        let name = patch.name.unwrap_or(cur.name);
        let tz = patch.timezone.unwrap_or(cur.timezone);
        validate_code("code", &code)?;
        validate_name("name", &name)?;
        validate_timezone(&tz)?;
        let sql = format!(
            "UPDATE sites SET code = $3, name = $4, timezone = $5 WHERE tenant_id = $1 AND id = $2 RETURNING {}",
            SiteRow::COLUMNS
        );
        let params = [
            Param::Int(tenant_id),
            Param::Int(id),
            Param::Text(code),
            Param::Text(name),
            Param::Text(tz),
        ];
        Ok(self.write_row::<SiteRow>(&sql, &params).await?.into())
    }

    pub async fn delete_site(&self, tenant_id: i64, id: i64) -> Result<()> {
        self.delete_row::<SiteRow>(tenant_id, id, "areas").await
    }

    // ---- areas and lines: a parent id, a code and a name ----

    async fn create_child<R: ChildRecord>(
        &self,
        tenant_id: i64,
        parent_id: i64,
        code: String,
        name: String,
    ) -> Result<R> {
        validate_code("code", &code)?;
        validate_name("name", &name)?;
        self.require_parent::<R::Parent>(tenant_id, R::PARENT_COLUMN, parent_id)
            .await?;
        let sql = format!(
            "INSERT INTO {} (tenant_id, {}, code, name, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING {}",
            R::TABLE,
            R::PARENT_COLUMN,
            R::COLUMNS
        );
        let params = [
            Param::Int(tenant_id),
            Param::Int(parent_id),
            Param::Text(code),
            Param::Text(name),
            Param::Int(now_ms()),
        ];
        self.write_row::<R>(&sql, &params).await
    }

    async fn update_child<R: ChildRecord>(
        &self,
        tenant_id: i64,
        id: i64,
        parent_id: Option<i64>,
        code: Option<String>,
        name: Option<String>,
    ) -> Result<R> {
        let cur = self.get_row::<R>(tenant_id, id).await?;
        let (cur_parent, cur_code, cur_name) = cur.parts();
        let parent_id = parent_id.unwrap_or(cur_parent);
        let code = code.unwrap_or_else(|| cur_code.to_owned());
        let name = name.unwrap_or_else(|| cur_name.to_owned());
        validate_code("code", &code)?;
        validate_name("name", &name)?;
        if parent_id != cur_parent {
            self.require_parent::<R::Parent>(tenant_id, R::PARENT_COLUMN, parent_id)
                .await?;
        }
        let sql = format!(
            "UPDATE {} SET {} = $3, code = $4, name = $5 WHERE tenant_id = $1 AND id = $2 RETURNING {}",
            R::TABLE,
            R::PARENT_COLUMN,
            R::COLUMNS
        );
        let params = [
            Param::Int(tenant_id),
            Param::Int(id),
            Param::Int(parent_id),
            Param::Text(code),
            Param::Text(name),
        ];
        self.write_row::<R>(&sql, &params).await
    }

    pub async fn list_areas(&self, tenant_id: i64, q: &ListQuery) -> Result<Page<Area>> {
        let page = self.list_rows::<AreaRow>(tenant_id, q).await?;
        Ok(map_page(page, Area::from))
    }

    pub async fn get_area(&self, tenant_id: i64, id: i64) -> Result<Area> {
        Ok(self.get_row::<AreaRow>(tenant_id, id).await?.into())
    }

    pub async fn create_area(&self, tenant_id: i64, new: NewArea) -> Result<Area> {
        self.create_child::<AreaRow>(tenant_id, new.site_id, new.code, new.name)
            .await
            .map(Area::from)
    }

    pub async fn update_area(&self, tenant_id: i64, id: i64, patch: AreaPatch) -> Result<Area> {
        self.update_child::<AreaRow>(tenant_id, id, patch.site_id, patch.code, patch.name)
            .await
            .map(Area::from)
    }

    pub async fn delete_area(&self, tenant_id: i64, id: i64) -> Result<()> {
        self.delete_row::<AreaRow>(tenant_id, id, "lines").await
    }

    pub async fn list_lines(&self, tenant_id: i64, q: &ListQuery) -> Result<Page<Line>> {
        let page = self.list_rows::<LineRow>(tenant_id, q).await?;
        Ok(map_page(page, Line::from))
    }

    pub async fn get_line(&self, tenant_id: i64, id: i64) -> Result<Line> {
        Ok(self.get_row::<LineRow>(tenant_id, id).await?.into())
    }

    pub async fn create_line(&self, tenant_id: i64, new: NewLine) -> Result<Line> {
        self.create_child::<LineRow>(tenant_id, new.area_id, new.code, new.name)
            .await
            .map(Line::from)
    }

    pub async fn update_line(&self, tenant_id: i64, id: i64, patch: LinePatch) -> Result<Line> {
        self.update_child::<LineRow>(tenant_id, id, patch.area_id, patch.code, patch.name)
            .await
            .map(Line::from)
    }

    pub async fn delete_line(&self, tenant_id: i64, id: i64) -> Result<()> {
        self.delete_row::<LineRow>(tenant_id, id, "equipment").await
    }

    // ---- equipment ----

    pub async fn list_equipment(&self, tenant_id: i64, q: &ListQuery) -> Result<Page<Equipment>> {
        let page = self.list_rows::<EquipmentRow>(tenant_id, q).await?;
        let items = page
            .items
            .into_iter()
            .map(Equipment::try_from)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page {
            items,
            total: page.total,
            limit: page.limit,
            offset: page.offset,
        })
    }

    pub async fn get_equipment(&self, tenant_id: i64, id: i64) -> Result<Equipment> {
        self.get_row::<EquipmentRow>(tenant_id, id)
            .await?
            .try_into()
    }

    pub async fn create_equipment(&self, tenant_id: i64, new: NewEquipment) -> Result<Equipment> {
        validate_equipment(&new)?;
        self.require_parent::<LineRow>(tenant_id, "line_id", new.line_id)
            .await?;
        let sql = format!(
            "INSERT INTO equipment (tenant_id, line_id, code, name, equipment_type, work_cell, attributes, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {}",
            EquipmentRow::COLUMNS
        );
        let params = [
            Param::Int(tenant_id),
            Param::Int(new.line_id),
            Param::Text(new.code),
            Param::Text(new.name),
            Param::Text(new.equipment_type),
            Param::OptText(new.work_cell),
            Param::Text(Value::Object(new.attributes).to_string()),
            Param::Int(now_ms()),
        ];
        self.write_row::<EquipmentRow>(&sql, &params)
            .await?
            .try_into()
    }

    pub async fn update_equipment(
        &self,
        tenant_id: i64,
        id: i64,
        patch: EquipmentPatch,
    ) -> Result<Equipment> {
        let cur = self.get_equipment(tenant_id, id).await?;
        let merged = NewEquipment {
            line_id: patch.line_id.unwrap_or(cur.line_id),
            code: patch.code.unwrap_or(cur.code),
            name: patch.name.unwrap_or(cur.name),
            equipment_type: patch.equipment_type.unwrap_or(cur.equipment_type.0),
            work_cell: patch.work_cell.unwrap_or(cur.work_cell),
            attributes: patch.attributes.unwrap_or(cur.attributes),
        };
        validate_equipment(&merged)?;
        if merged.line_id != cur.line_id {
            self.require_parent::<LineRow>(tenant_id, "line_id", merged.line_id)
                .await?;
        }
        let sql = format!(
            "UPDATE equipment SET line_id = $3, code = $4, name = $5, equipment_type = $6, work_cell = $7, attributes = $8 \
             WHERE tenant_id = $1 AND id = $2 RETURNING {}",
            EquipmentRow::COLUMNS
        );
        let params = [
            Param::Int(tenant_id),
            Param::Int(id),
            Param::Int(merged.line_id),
            Param::Text(merged.code),
            Param::Text(merged.name),
            Param::Text(merged.equipment_type),
            Param::OptText(merged.work_cell),
            Param::Text(Value::Object(merged.attributes).to_string()),
        ];
        self.write_row::<EquipmentRow>(&sql, &params)
            .await?
            .try_into()
    }

    pub async fn delete_equipment(&self, tenant_id: i64, id: i64) -> Result<()> {
        self.delete_row::<EquipmentRow>(tenant_id, id, "records")
            .await
    }
}

/// A tenant's whole equipment hierarchy, for the screen and the simulator.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layout {
    pub sites: Vec<Site>,
    pub areas: Vec<Area>,
    pub lines: Vec<Line>,
    pub equipment: Vec<Equipment>,
}

impl Layout {
    /// The site a line belongs to (through its area).
    pub fn site_of_line(&self, line_id: i64) -> Option<&Site> {
        let line = self.lines.iter().find(|l| l.id == line_id)?;
        let area = self.areas.iter().find(|a| a.id == line.area_id)?;
        self.sites.iter().find(|s| s.id == area.site_id)
    }
}

impl Store {
    async fn all_rows<R: Record>(&self, tenant_id: i64) -> Result<Vec<R>> {
        let sql = format!(
            "SELECT {} FROM {} WHERE tenant_id = $1 ORDER BY id",
            R::COLUMNS,
            R::TABLE
        );
        Ok(
            on_pool!(self, p => sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .bind(tenant_id)
            .fetch_all(p)
            .await?),
        )
    }

    /// Loads the tenant's whole hierarchy in creation order, which for a
    /// seeded plant is process order (cutting before welding before painting).
    pub async fn layout(&self, tenant_id: i64) -> Result<Layout> {
        Ok(Layout {
            sites: self
                .all_rows::<SiteRow>(tenant_id)
                .await?
                .into_iter()
                .map(Site::from)
                .collect(),
            areas: self
                .all_rows::<AreaRow>(tenant_id)
                .await?
                .into_iter()
                .map(Area::from)
                .collect(),
            lines: self
                .all_rows::<LineRow>(tenant_id)
                .await?
                .into_iter()
                .map(Line::from)
                .collect(),
            equipment: self
                .all_rows::<EquipmentRow>(tenant_id)
                .await?
                .into_iter()
                .map(Equipment::try_from)
                .collect::<Result<Vec<_>>>()?,
        })
    }
}

/// SQLite reports `ON DELETE RESTRICT` with its trigger code rather than the
/// foreign-key code, so the message is checked too.
fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    e.as_database_error().is_some_and(|d| {
        d.is_foreign_key_violation() || d.message().contains("FOREIGN KEY constraint failed")
    })
}

fn map_page<R, T>(page: Page<R>, f: impl Fn(R) -> T) -> Page<T> {
    Page {
        items: page.items.into_iter().map(f).collect(),
        total: page.total,
        limit: page.limit,
        offset: page.offset,
    }
}
