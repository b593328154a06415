//! Pagination, sorting and filtering shared by every list endpoint.

use serde::Serialize;

/// Largest page a caller may ask for.
pub const MAX_LIMIT: i64 = 500;
pub const DEFAULT_LIMIT: i64 = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    Id,
    Code,
    Name,
    CreatedAt,
}

impl Sort {
    /// Parses `code`, `-name`, … into a column and direction.
    pub fn parse(s: &str) -> Option<(Sort, bool)> {
        let (desc, key) = match s.strip_prefix('-') {
            Some(k) => (true, k),
            None => (false, s),
        };
        let sort = match key {
            "id" => Sort::Id,
            "code" => Sort::Code,
            "name" => Sort::Name,
            "created_at" => Sort::CreatedAt,
            _ => return None,
        };
        Some((sort, desc))
    }

    fn column(self) -> &'static str {
        match self {
            Sort::Id => "id",
            Sort::Code => "code",
            Sort::Name => "name",
            Sort::CreatedAt => "created_at",
        }
    }
}

/// A validated list request.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub limit: i64,
    pub offset: i64,
    pub sort: Sort,
    pub descending: bool,
    /// Case-insensitive substring of code or name.
    pub search: Option<String>,
    /// Filters as (condition template, value); `{}` in the template stands
    /// for the bound value, e.g. `line_id = {}`. Templates are static so no
    /// user text reaches the SQL.
    pub filters: Vec<(&'static str, Filter)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Int(i64),
    Text(String),
}

impl Default for ListQuery {
    fn default() -> Self {
        Self {
            limit: DEFAULT_LIMIT,
            offset: 0,
            sort: Sort::Code,
            descending: false,
            search: None,
            filters: Vec::new(),
        }
    }
}

/// One page of results with the total count for the pager.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// Bind values of a dynamically built statement.
#[derive(Debug, Clone)]
pub(crate) enum Param {
    Int(i64),
    Text(String),
    OptText(Option<String>),
}

/// Builds `WHERE …` (tenant first) and `ORDER BY … LIMIT … OFFSET …` for a
/// table; returns the clause text and the parameters it numbers from `$1`.
pub(crate) fn where_clause(tenant_id: i64, q: &ListQuery) -> (String, Vec<Param>) {
    let mut sql = String::from(" WHERE tenant_id = $1");
    let mut params = vec![Param::Int(tenant_id)];
    for (col, f) in &q.filters {
        params.push(match f {
            Filter::Int(v) => Param::Int(*v),
            Filter::Text(v) => Param::Text(v.clone()),
        });
        let placeholder = format!("${}", params.len());
        sql.push_str(" AND ");
        sql.push_str(&col.replace("{}", &placeholder));
    }
    if let Some(s) = &q.search {
        let pattern = format!("%{}%", s.to_lowercase().replace(['%', '_'], ""));
        params.push(Param::Text(pattern));
        let n = params.len();
        sql.push_str(&format!(
            " AND (LOWER(code) LIKE ${n} OR LOWER(name) LIKE ${n})"
        ));
    }
    (sql, params)
}

pub(crate) fn order_clause(q: &ListQuery) -> String {
    let dir = if q.descending { "DESC" } else { "ASC" };
    format!(
        " ORDER BY {} {dir}, id {dir} LIMIT {} OFFSET {}",
        q.sort.column(),
        q.limit.clamp(1, MAX_LIMIT),
        q.offset.max(0)
    )
}

/// Binds `params` in order onto a sqlx query of either backend.
macro_rules! bind_all {
    ($query:expr, $params:expr) => {{
        let mut q = $query;
        for p in $params {
            q = match p {
                $crate::list::Param::Int(v) => q.bind(*v),
                $crate::list::Param::Text(v) => q.bind(v.clone()),
                $crate::list::Param::OptText(v) => q.bind(v.clone()),
            };
        }
        q
    }};
}
pub(crate) use bind_all;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_keys_parse_with_direction() {
        assert_eq!(Sort::parse("code"), Some((Sort::Code, false)));
        assert_eq!(Sort::parse("-name"), Some((Sort::Name, true)));
        assert_eq!(Sort::parse("password_hash"), None);
    }

    #[test]
    fn where_clause_numbers_parameters_in_order() {
        let q = ListQuery {
            search: Some("Cut%".into()),
            filters: vec![("line_id = {}", Filter::Int(3))],
            ..Default::default()
        };
        let (sql, params) = where_clause(9, &q);
        assert_eq!(
            sql,
            " WHERE tenant_id = $1 AND line_id = $2 AND (LOWER(code) LIKE $3 OR LOWER(name) LIKE $3)"
        );
        assert_eq!(params.len(), 3);
        assert!(matches!(&params[2], Param::Text(p) if p == "%cut%"));
    }

    #[test]
    fn order_clause_clamps_limit() {
        let q = ListQuery {
            limit: 10_000,
            offset: -5,
            ..Default::default()
        };
        assert_eq!(
            order_clause(&q),
            " ORDER BY code ASC, id ASC LIMIT 500 OFFSET 0"
        );
    }
}
