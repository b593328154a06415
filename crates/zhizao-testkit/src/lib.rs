//! Test helpers: a fresh store per test on each backend.
//!
//! SQLite stores live in a new temporary folder; PostgreSQL stores get a
//! new schema on the local server (`ZHIZAO_TEST_PG_URL`, default the `test`
//! database on 127.0.0.1:5432) that is dropped when the test ends, so no
//! test depends on what an earlier run left behind.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::str::FromStr;

use rand::Rng;
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use zhizao_store::{Backend, Store};

pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn pg_url() -> String {
    std::env::var("ZHIZAO_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_owned())
}

/// A migrated, empty store that cleans up after itself.
pub struct TestStore {
    pub store: Store,
    schema: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestStore {
    pub fn backend(&self) -> Backend {
        self.store.backend()
    }

    /// Drops the PostgreSQL schema; SQLite folders go with the value.
    pub async fn cleanup(self) {
        self.store.close().await;
        if let Some(schema) = self.schema
            && let Ok(mut conn) = PgConnection::connect(&pg_url()).await
        {
            let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
            let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await;
        }
    }
}

pub async fn sqlite() -> TestStore {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    let store = Store::connect(&url).await.expect("open sqlite");
    store.migrate().await.expect("migrate sqlite");
    TestStore {
        store,
        schema: None,
        _dir: Some(dir),
    }
}

/// A fresh schema name, unique per call.
pub fn fresh_schema_name() -> String {
    let n: u64 = rand::thread_rng().r#gen();
    format!("zt_{}_{n:016x}", std::process::id())
}

pub async fn postgres() -> TestStore {
    let schema = fresh_schema_name();
    let mut conn = PgConnection::connect(&pg_url())
        .await
        .expect("PostgreSQL must run on 127.0.0.1:5432 (see .ci/run)");
    let sql = format!("CREATE SCHEMA {schema}");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut conn)
        .await
        .expect("create schema");
    let opts = PgConnectOptions::from_str(&pg_url())
        .expect("pg url")
        .options([("search_path", schema.as_str())]);
    let store = Store::connect_postgres(opts).await.expect("open pg");
    store.migrate().await.expect("migrate pg");
    TestStore {
        store,
        schema: Some(schema),
        _dir: None,
    }
}

/// One fresh store per backend: every store test runs on both.
pub async fn each_backend() -> Vec<TestStore> {
    vec![sqlite().await, postgres().await]
}

/// Checks that every number, list and null of `want` is in `have`, numbers
/// within `tol`; returns how many leaf values were compared. Objects in
/// `have` may hold more keys than `want`. Panics naming the path of the
/// first difference.
pub fn json_within(
    path: &str,
    have: &serde_json::Value,
    want: &serde_json::Value,
    tol: f64,
) -> usize {
    use serde_json::Value;
    match (have, want) {
        (Value::Number(h), Value::Number(w)) => {
            let (h, w) = (h.as_f64().unwrap(), w.as_f64().unwrap());
            assert!((h - w).abs() <= tol, "{path}: {h} against {w}");
            1
        }
        (Value::Array(h), Value::Array(w)) => {
            assert_eq!(h.len(), w.len(), "{path}");
            h.iter()
                .zip(w)
                .enumerate()
                .map(|(i, (h, w))| json_within(&format!("{path}[{i}]"), h, w, tol))
                .sum()
        }
        (Value::Object(h), Value::Object(w)) => w
            .iter()
            .map(|(k, v)| json_within(&format!("{path}.{k}"), &h[k], v, tol))
            .sum(),
        (h, w) => {
            assert_eq!(h, w, "{path}");
            1
        }
    }
}
