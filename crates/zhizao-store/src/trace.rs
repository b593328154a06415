//! Traceability: lots and serial numbers, and which went into which. The
//! genealogy is walked with a recursive query over the links (indexed both
//! ways), so a backward or forward question costs what its answer holds,
//! not the size of the history.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::FromRow;
use zhizao_quality::{Direction, TraceRecord, TraceUnit, UnitKind};

use crate::{BeginWrite, Result, Store, StoreError, on_pool};

/// A unit reached by a genealogy question.
#[derive(Debug, Clone, PartialEq, Serialize, FromRow)]
pub struct TracedUnit {
    pub code: String,
    pub kind: String,
    pub item: String,
    pub quantity: Option<f64>,
    pub work_order: String,
    /// Links from the unit asked about (0 for itself).
    pub depth: i64,
}

/// A link between two units of the answer.
#[derive(Debug, Clone, PartialEq, Serialize, FromRow)]
pub struct TracedLink {
    pub input: String,
    pub output: String,
    pub quantity: Option<f64>,
    pub operation_seq: Option<i64>,
    pub at: i64,
}

/// The answer to "what went into it" or "where did it go".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Genealogy {
    pub direction: Direction,
    /// The unit asked about first, then by depth and code.
    pub units: Vec<TracedUnit>,
    pub links: Vec<TracedLink>,
    /// More units were reached than `limit`.
    pub truncated: bool,
}

const UNIT_CHUNK: usize = 400;
const LINK_CHUNK: usize = 500;

fn walk_sql(direction: Direction, select: &str) -> String {
    let (from, to) = match direction {
        Direction::Backward => ("output_id", "input_id"),
        Direction::Forward => ("input_id", "output_id"),
    };
    format!(
        "WITH RECURSIVE walk(id, depth, link) AS ( \
           SELECT id, 0, CAST(NULL AS BIGINT) FROM trace_units WHERE tenant_id = $1 AND code = $2 \
           UNION \
           SELECT l.{to}, w.depth + 1, l.id FROM trace_links l JOIN walk w ON l.{from} = w.id WHERE w.depth < $3 \
         ) {select}"
    )
}

impl Store {
    /// Records that `r.inputs` went into `r.output` (checked by the
    /// caller). The output is registered if new; inputs must exist unless
    /// they are described (kind and item), as a received lot is. A record
    /// that would make a unit its own ancestor is refused.
    pub async fn record_trace(&self, tenant_id: i64, r: &TraceRecord, at: i64) -> Result<()> {
        on_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            let mut ids = Vec::with_capacity(r.inputs.len());
            for (i, input) in r.inputs.iter().enumerate() {
                let found: Option<(i64, String, String)> = sqlx::query_as(
                    "SELECT id, kind, item FROM trace_units WHERE tenant_id = $1 AND code = $2")
                    .bind(tenant_id).bind(&input.code).fetch_optional(&mut *tx).await?;
                let id = match (found, input.kind, &input.item) {
                    (Some((id, kind, item)), k, it) => {
                        if k.is_some_and(|k| k.as_str() != kind) || it.as_ref().is_some_and(|it| *it != item) {
                            return Err(StoreError::Conflict {
                                field: format!("inputs[{i}].code"),
                                message: format!("`{}` is a {kind} of {item}", input.code),
                            });
                        }
                        id
                    }
                    (None, Some(kind), Some(item)) => sqlx::query_scalar(
                        "INSERT INTO trace_units (tenant_id, code, kind, item, quantity, work_order, created_at) \
                         VALUES ($1, $2, $3, $4, $5, '', $6) RETURNING id")
                        .bind(tenant_id).bind(&input.code).bind(kind.as_str()).bind(item)
                        .bind(input.quantity).bind(at)
                        .fetch_one(&mut *tx).await?,
                    (None, _, _) => {
                        return Err(StoreError::MissingParent {
                            field: format!("inputs[{i}].code"),
                            message: format!("`{}` is not known; give its kind and item to register it", input.code),
                        });
                    }
                };
                ids.push(id);
            }
            let o = &r.output;
            let existing: Option<(i64, String, String)> = sqlx::query_as(
                "SELECT id, kind, item FROM trace_units WHERE tenant_id = $1 AND code = $2")
                .bind(tenant_id).bind(&o.code).fetch_optional(&mut *tx).await?;
            let output_id = match existing {
                Some((id, kind, item)) => {
                    if kind != o.kind.as_str() || item != o.item {
                        return Err(StoreError::Conflict {
                            field: "output.code".into(),
                            message: format!("`{}` is a {kind} of {item}", o.code),
                        });
                    }
                    // A loop: the output already went into one of the inputs.
                    let sql = walk_sql(Direction::Forward, "SELECT u.code FROM walk w JOIN trace_units u ON u.id = w.id WHERE w.depth > 0");
                    let downstream: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()))
                        .bind(tenant_id).bind(&o.code).bind(1000_i64).fetch_all(&mut *tx).await?;
                    if let Some(i) = r.inputs.iter().position(|x| downstream.contains(&x.code)) {
                        return Err(StoreError::Conflict {
                            field: format!("inputs[{i}].code"),
                            message: format!("`{}` was made from `{}`; the record would make a loop", r.inputs[i].code, o.code),
                        });
                    }
                    id
                }
                None => sqlx::query_scalar(
                    "INSERT INTO trace_units (tenant_id, code, kind, item, quantity, work_order, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id")
                    .bind(tenant_id).bind(&o.code).bind(o.kind.as_str()).bind(&o.item)
                    .bind(o.quantity).bind(&o.work_order).bind(at)
                    .fetch_one(&mut *tx).await?,
            };
            for (input, id) in r.inputs.iter().zip(&ids) {
                sqlx::query(
                    "INSERT INTO trace_links (tenant_id, input_id, output_id, quantity, operation_seq, at) \
                     VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(tenant_id).bind(id).bind(output_id).bind(input.quantity)
                    .bind(r.operation_seq.map(i64::from)).bind(at)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Loads many units and links at once (a benchmark's or a demo's
    /// history): `links` are (input, output) positions in `units`. Codes
    /// must be new.
    pub async fn bulk_trace(
        &self,
        tenant_id: i64,
        units: &[TraceUnit],
        links: &[(usize, usize)],
        at: i64,
    ) -> Result<()> {
        on_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            for chunk in units.chunks(UNIT_CHUNK) {
                let mut q = sqlx::QueryBuilder::new(
                    "INSERT INTO trace_units (tenant_id, code, kind, item, quantity, work_order, created_at) ");
                q.push_values(chunk, |mut b, u| {
                    b.push_bind(tenant_id).push_bind(&u.code).push_bind(u.kind.as_str()).push_bind(&u.item)
                        .push_bind(u.quantity).push_bind(&u.work_order).push_bind(at);
                });
                q.build().execute(&mut *tx).await?;
            }
            let rows: Vec<(i64, String)> = sqlx::query_as(
                "SELECT id, code FROM trace_units WHERE tenant_id = $1")
                .bind(tenant_id).fetch_all(&mut *tx).await?;
            let ids: HashMap<String, i64> = rows.into_iter().map(|(id, code)| (code, id)).collect();
            let id_of = |i: usize| -> Result<i64> {
                units.get(i).and_then(|u| ids.get(&u.code)).copied().ok_or_else(|| {
                    StoreError::Corrupt(format!("trace link names unit {i}, which was not stored"))
                })
            };
            for chunk in links.chunks(LINK_CHUNK) {
                let pairs = chunk.iter().map(|&(i, o)| Ok((id_of(i)?, id_of(o)?))).collect::<Result<Vec<_>>>()?;
                let mut q = sqlx::QueryBuilder::new(
                    "INSERT INTO trace_links (tenant_id, input_id, output_id, quantity, operation_seq, at) ");
                q.push_values(pairs, |mut b, (i, o)| {
                    b.push_bind(tenant_id).push_bind(i).push_bind(o).push_bind(1.0_f64)
                        .push_bind(None::<i64>).push_bind(at);
                });
                q.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        // A load this size leaves a write-ahead log as big as the data;
        // fold it into the database now rather than make readers search it.
        if let crate::Pool::Sqlite(p) = &self.pool {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(p)
                .await?;
        }
        Ok(())
    }

    /// What went into `code` (backward) or where it went (forward), up to
    /// `max_depth` links away and `limit` units; `None` if it is unknown.
    pub async fn genealogy(
        &self,
        tenant_id: i64,
        code: &str,
        direction: Direction,
        max_depth: i64,
        limit: i64,
    ) -> Result<Option<Genealogy>> {
        // The walk is small and the tables are not: SQLite's planner, not
        // knowing that, may scan the units and probe the walk; a CROSS JOIN
        // keeps the walk outside (PostgreSQL plans it right by itself).
        let join = match self.backend() {
            crate::Backend::Sqlite => "CROSS JOIN",
            crate::Backend::Postgres => "JOIN",
        };
        let units_sql = walk_sql(
            direction,
            &format!(
                "SELECT u.code, u.kind, u.item, u.quantity, u.work_order, CAST(MIN(w.depth) AS BIGINT) AS depth \
                 FROM walk w {join} trace_units u ON u.id = w.id \
                 GROUP BY u.id, u.code, u.kind, u.item, u.quantity, u.work_order \
                 ORDER BY depth, u.code LIMIT $4"
            ),
        );
        let links_sql = walk_sql(
            direction,
            &format!(
                "SELECT DISTINCT i.code AS input, o.code AS output, l.quantity, l.operation_seq, l.at \
                 FROM walk w {join} trace_links l ON l.id = w.link \
                 {join} trace_units i ON i.id = l.input_id {join} trace_units o ON o.id = l.output_id \
                 ORDER BY input, output LIMIT $4"
            ),
        );
        let (mut units, links): (Vec<TracedUnit>, Vec<TracedLink>) = on_pool!(self, p => {
            let units = sqlx::query_as(sqlx::AssertSqlSafe(units_sql.as_str()))
                .bind(tenant_id).bind(code).bind(max_depth).bind(limit + 1)
                .fetch_all(p).await?;
            let links = sqlx::query_as(sqlx::AssertSqlSafe(links_sql.as_str()))
                .bind(tenant_id).bind(code).bind(max_depth).bind(4 * limit)
                .fetch_all(p).await?;
            (units, links)
        });
        if units.is_empty() {
            return Ok(None);
        }
        let truncated = units.len() as i64 > limit;
        units.truncate(limit.max(1) as usize);
        let kept: std::collections::HashSet<&str> = units.iter().map(|u| u.code.as_str()).collect();
        let links = links
            .into_iter()
            .filter(|l| kept.contains(l.input.as_str()) && kept.contains(l.output.as_str()))
            .collect();
        Ok(Some(Genealogy {
            direction,
            units,
            links,
            truncated,
        }))
    }

    /// The kind of a unit, if it is known.
    pub async fn trace_unit_kind(&self, tenant_id: i64, code: &str) -> Result<Option<UnitKind>> {
        let kind: Option<String> = on_pool!(self, p => sqlx::query_scalar(
            "SELECT kind FROM trace_units WHERE tenant_id = $1 AND code = $2")
            .bind(tenant_id).bind(code).fetch_optional(p).await?);
        Ok(kind.as_deref().and_then(UnitKind::parse))
    }
}
