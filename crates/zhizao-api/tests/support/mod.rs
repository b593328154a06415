//! What the API tests of planning and scheduling share: a tenant with a
//! planner and a viewer on a fresh store, and requests with their JSON
//! answers.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use zhizao_api::{AppState, router};
use zhizao_core::Role;
use zhizao_live::LiveHub;

pub struct Reply {
    pub status: StatusCode,
    pub json: Value,
    pub bytes: Vec<u8>,
}

pub async fn send(
    app: &axum::Router,
    method: Method,
    uri: &str,
    token: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Reply {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    if let Some(ct) = content_type {
        req = req.header(header::CONTENT_TYPE, ct);
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    Reply {
        status,
        json: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        bytes,
    }
}

pub async fn call(
    app: &axum::Router,
    method: Method,
    uri: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let r = match body {
        Some(b) => {
            send(
                app,
                method,
                uri,
                token,
                Some("application/json"),
                b.to_string().into_bytes(),
            )
            .await
        }
        None => send(app, method, uri, token, None, Vec::new()).await,
    };
    (r.status, r.json)
}

pub struct Env {
    pub app: axum::Router,
    pub tenant: i64,
    pub planner: String,
    pub viewer: String,
    /// A quality engineer.
    pub quality: String,
    pub store: zhizao_store::Store,
    pub hub: Arc<LiveHub>,
    _db: zhizao_testkit::TestStore,
    _dir: tempfile::TempDir,
}

pub async fn env(db: zhizao_testkit::TestStore) -> Env {
    let store = db.store.clone();
    let tenant = store.create_tenant("plant", "Plant").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tsdb = Arc::new(zhizao_tsdb::Tsdb::open(zhizao_tsdb::TsdbConfig::new(dir.path())).unwrap());
    let hub = Arc::new(LiveHub::default());
    let state = AppState::new(store.clone(), hub.clone(), tsdb, 1 << 20);
    let app = router(state);
    let mut tokens = Vec::new();
    for (name, role) in [
        ("planner", Role::Planner),
        ("viewer", Role::Viewer),
        ("quality", Role::Quality),
    ] {
        let password = format!("password-{name}");
        store
            .create_user(tenant.id, name, &password, role)
            .await
            .unwrap();
        let req = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/auth/login")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                json!({"username": name, "password": password}).to_string(),
            ))
            .unwrap();
        let res = app.clone().oneshot(req).await.unwrap();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        tokens.push(v["token"].as_str().unwrap().to_owned());
    }
    let quality = tokens.pop().unwrap();
    Env {
        app,
        store,
        hub,
        tenant: tenant.id,
        quality,
        viewer: tokens.pop().unwrap(),
        planner: tokens.pop().unwrap(),
        _db: db,
        _dir: dir,
    }
}
