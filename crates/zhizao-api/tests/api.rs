//! The HTTP API end to end on both backends, driven in-process through the
//! router: auth, CRUD, paging, and every kind of bad input answering the
//! documented error while changing nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use zhizao_api::{AppState, router};
use zhizao_core::Role;
use zhizao_live::LiveHub;
use zhizao_store::Store;
use zhizao_testkit::{TestStore, each_backend};

const MAX_BODY: usize = 64 * 1024;

struct Api {
    app: Router,
    store: Store,
    _history_dir: tempfile::TempDir,
}

/// A fresh time-series store in its own folder.
fn history() -> (Arc<zhizao_tsdb::Tsdb>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let tsdb = zhizao_tsdb::Tsdb::open(zhizao_tsdb::TsdbConfig::new(dir.path())).unwrap();
    (Arc::new(tsdb), dir)
}

struct Reply {
    status: StatusCode,
    body: Value,
}

impl Reply {
    /// The error code and field of an error body.
    fn error(&self) -> (&str, Option<&str>) {
        let e = &self.body["error"];
        (e["code"].as_str().unwrap_or("<none>"), e["field"].as_str())
    }
}

impl Api {
    fn new(db: &TestStore) -> Api {
        let (tsdb, dir) = history();
        let state = AppState::new(
            db.store.clone(),
            Arc::new(LiveHub::default()),
            tsdb,
            MAX_BODY,
        );
        Api {
            app: router(state),
            store: db.store.clone(),
            _history_dir: dir,
        }
    }

    async fn send(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Body>,
        content_type: &str,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let has_body = body.is_some();
        if has_body {
            req = req.header(header::CONTENT_TYPE, content_type);
        }
        let res = self
            .app
            .clone()
            .oneshot(req.body(body.unwrap_or_else(Body::empty)).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Reply { status, body }
    }

    async fn get(&self, uri: &str, token: &str) -> Reply {
        self.send(Method::GET, uri, Some(token), None, "").await
    }

    async fn json(&self, method: Method, uri: &str, token: &str, body: Value) -> Reply {
        self.send(
            method,
            uri,
            Some(token),
            Some(Body::from(body.to_string())),
            "application/json",
        )
        .await
    }

    async fn login(&self, username: &str, password: &str) -> String {
        let r = self
            .send(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(Body::from(
                    json!({"username": username, "password": password}).to_string(),
                )),
                "application/json",
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        r.body["token"].as_str().unwrap().to_owned()
    }

    /// A tenant with an admin and a viewer; returns (tenant id, admin token, viewer token).
    async fn tenant(&self, code: &str) -> (i64, String, String) {
        let t = self.store.create_tenant(code, code).await.unwrap();
        self.store
            .create_user(t.id, &format!("{code}-admin"), "password-1", Role::Admin)
            .await
            .unwrap();
        self.store
            .create_user(t.id, &format!("{code}-viewer"), "password-2", Role::Viewer)
            .await
            .unwrap();
        let admin = self.login(&format!("{code}-admin"), "password-1").await;
        let viewer = self.login(&format!("{code}-viewer"), "password-2").await;
        (t.id, admin, viewer)
    }

    /// Site → area → line; returns their ids.
    async fn line(&self, token: &str, prefix: &str) -> (i64, i64, i64) {
        let site = self
            .json(
                Method::POST,
                "/api/v1/sites",
                token,
                json!({"code": format!("{prefix}-S"), "name": "钢构车间"}),
            )
            .await;
        assert_eq!(site.status, StatusCode::CREATED, "{:?}", site.body);
        let site_id = site.body["id"].as_i64().unwrap();
        let area = self
            .json(
                Method::POST,
                "/api/v1/areas",
                token,
                json!({"site_id": site_id, "code": format!("{prefix}-A"), "name": "下料区"}),
            )
            .await;
        assert_eq!(area.status, StatusCode::CREATED, "{:?}", area.body);
        let area_id = area.body["id"].as_i64().unwrap();
        let line = self
            .json(
                Method::POST,
                "/api/v1/lines",
                token,
                json!({"area_id": area_id, "code": format!("{prefix}-L"), "name": "切割线"}),
            )
            .await;
        assert_eq!(line.status, StatusCode::CREATED, "{:?}", line.body);
        (site_id, area_id, line.body["id"].as_i64().unwrap())
    }

    async fn total(&self, path: &str, token: &str) -> i64 {
        let r = self.get(path, token).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        r.body["total"].as_i64().unwrap()
    }
}

#[tokio::test]
async fn login_and_tokens() {
    for db in each_backend().await {
        let api = Api::new(&db);
        api.store.ensure_admin(Some("s3cret-pass")).await.unwrap();
        let token = api.login("admin", "s3cret-pass").await;

        let me = api.get("/api/v1/auth/me", &token).await;
        assert_eq!(me.status, StatusCode::OK);
        assert_eq!(me.body["role"], "admin");
        assert_eq!(me.body["tenant_name"], "默认企业");

        let login = |body: &'static str, ct: &'static str| {
            api.send(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(Body::from(body)),
                ct,
            )
        };
        let wrong = login(
            r#"{"username":"admin","password":"nope"}"#,
            "application/json",
        )
        .await;
        assert_eq!(
            (wrong.status, wrong.error().0),
            (StatusCode::UNAUTHORIZED, "unauthorized")
        );
        let unknown_user = login(
            r#"{"username":"ghost","password":"s3cret-pass"}"#,
            "application/json",
        )
        .await;
        assert_eq!(
            unknown_user.body, wrong.body,
            "must not reveal which usernames exist"
        );
        let extra = login(
            r#"{"username":"admin","password":"x","otp":1}"#,
            "application/json",
        )
        .await;
        assert_eq!(
            (extra.status, extra.error()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                ("validation_failed", Some("otp"))
            )
        );
        let broken = login(r#"{"username":"#, "application/json").await;
        assert_eq!(
            (broken.status, broken.error().0),
            (StatusCode::BAD_REQUEST, "malformed_json")
        );
        let form = login("username=admin", "application/x-www-form-urlencoded").await;
        assert_eq!(form.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

        for bad in [None, Some("garbage"), Some("")] {
            let r = api.send(Method::GET, "/api/v1/sites", bad, None, "").await;
            assert_eq!(
                (r.status, r.error().0),
                (StatusCode::UNAUTHORIZED, "unauthorized"),
                "token {bad:?}"
            );
        }
        let logout = api
            .send(Method::POST, "/api/v1/auth/logout", Some(&token), None, "")
            .await;
        assert_eq!(logout.status, StatusCode::NO_CONTENT);
        assert_eq!(
            api.get("/api/v1/sites", &token).await.status,
            StatusCode::UNAUTHORIZED
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn admins_manage_users_of_their_own_tenant() {
    for db in each_backend().await {
        let api = Api::new(&db);
        let (_, admin, viewer) = api.tenant("u").await;
        let (_, other_admin, _) = api.tenant("o").await;
        let created = api
            .json(
                Method::POST,
                "/api/v1/users",
                &admin,
                json!({"username": "planner-li", "password": "plan-2026", "role": "planner"}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        assert_eq!(created.body["role"], "planner");
        let id = created.body["id"].as_i64().unwrap();
        let planner = api.login("planner-li", "plan-2026").await;
        assert_eq!(
            api.get("/api/v1/auth/me", &planner).await.body["role"],
            "planner"
        );

        let cases = [
            (
                api.json(
                    Method::POST,
                    "/api/v1/users",
                    &admin,
                    json!({"username": "x1", "password": "long-enough", "role": "boss"}),
                )
                .await,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("role"),
            ),
            (
                api.json(
                    Method::POST,
                    "/api/v1/users",
                    &admin,
                    json!({"username": "x1", "password": "short", "role": "viewer"}),
                )
                .await,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("password"),
            ),
            (
                api.json(
                    Method::POST,
                    "/api/v1/users",
                    &admin,
                    json!({"username": "planner-li", "password": "long-enough", "role": "viewer"}),
                )
                .await,
                StatusCode::CONFLICT,
                Some("username"),
            ),
            (
                api.json(
                    Method::POST,
                    "/api/v1/users",
                    &planner,
                    json!({"username": "x2", "password": "long-enough", "role": "admin"}),
                )
                .await,
                StatusCode::FORBIDDEN,
                None,
            ),
            (
                api.get("/api/v1/users", &viewer).await,
                StatusCode::FORBIDDEN,
                None,
            ),
            (
                api.send(
                    Method::DELETE,
                    &format!("/api/v1/users/{id}"),
                    Some(&other_admin),
                    None,
                    "",
                )
                .await,
                StatusCode::NOT_FOUND,
                None,
            ),
        ];
        for (reply, status, field) in &cases {
            assert_eq!(
                (reply.status, reply.error().1),
                (*status, *field),
                "{:?}",
                reply.body
            );
        }
        assert_eq!(
            api.total("/api/v1/users", &admin).await,
            3,
            "admin, viewer, planner"
        );

        let del = api
            .send(
                Method::DELETE,
                &format!("/api/v1/users/{id}"),
                Some(&admin),
                None,
                "",
            )
            .await;
        assert_eq!(del.status, StatusCode::NO_CONTENT);
        assert_eq!(
            api.get("/api/v1/auth/me", &planner).await.status,
            StatusCode::UNAUTHORIZED,
            "sessions end with the user"
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn devices_are_registered_with_a_password_shown_once() {
    for db in each_backend().await {
        let api = Api::new(&db);
        let (tenant, admin, viewer) = api.tenant("dv").await;
        let (_, other_admin, _) = api.tenant("dw").await;
        let created = api
            .json(
                Method::POST,
                "/api/v1/devices",
                &admin,
                json!({"code": "GW-01", "name": "下料线网关", "topic_prefix": "zhizao/v1/S1/L01",
                       "mapping": {"ts": "/header/time", "values": "/data", "ts_unit": "s"}}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        let password = created.body["password"].as_str().unwrap().to_owned();
        let id = created.body["device"]["id"].as_i64().unwrap();
        assert_eq!(created.body["device"]["username"], "dv.GW-01");
        assert_eq!(created.body["device"]["mapping"]["values"], "/data");
        // The password works for the device and is never shown again.
        assert!(
            api.store
                .verify_device("dv.GW-01", &password)
                .await
                .unwrap()
                .is_some()
        );
        let one = api.get(&format!("/api/v1/devices/{id}"), &viewer).await;
        assert_eq!(one.status, StatusCode::OK);
        assert!(one.body.get("password").is_none());
        assert!(!one.body.to_string().contains(&password));
        assert_eq!(api.total("/api/v1/devices", &viewer).await, 1);
        assert_eq!(api.total("/api/v1/devices", &other_admin).await, 0);

        let bad = [
            (
                json!({"code": "GW-02", "topic_prefix": "zhizao/#"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "topic_prefix",
            ),
            (
                json!({"code": "GW-02", "topic_prefix": "zhizao/v1/S1/L01"}),
                StatusCode::CONFLICT,
                "code",
            ),
            (
                json!({"code": "GW-01", "topic_prefix": "zhizao/v1/S9"}),
                StatusCode::CONFLICT,
                "code",
            ),
            (
                json!({"code": "GW-03", "topic_prefix": "zhizao/v1/S3", "mapping": {"values": "data"}}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "mapping.values",
            ),
            (
                json!({"code": "GW-04", "topic_prefix": "zhizao/v1/S4", "colour": "red"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "colour",
            ),
        ];
        for (body, status, field) in bad {
            let r = api
                .json(Method::POST, "/api/v1/devices", &admin, body.clone())
                .await;
            assert_eq!(r.status, status, "{body}: {:?}", r.body);
            assert_eq!(r.error().1, Some(field), "{body}: {:?}", r.body);
        }
        let r = api
            .json(
                Method::POST,
                "/api/v1/devices",
                &viewer,
                json!({"code": "V", "topic_prefix": "v/x"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);

        // No refusals yet; another tenant's device is not found.
        let path = format!("/api/v1/devices/{id}/rejections");
        let r = api.get(&path, &viewer).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body["items"], json!([]));
        assert_eq!(
            api.get(&path, &other_admin).await.status,
            StatusCode::NOT_FOUND
        );

        // A new password: shown once, the old one stops working.
        let path = format!("/api/v1/devices/{id}/password");
        let r = api.json(Method::POST, &path, &viewer, json!({})).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = api.json(Method::POST, &path, &other_admin, json!({})).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let r = api.json(Method::POST, &path, &admin, json!({})).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let renewed = r.body["password"].as_str().unwrap().to_owned();
        let login = |p: String| {
            let store = api.store.clone();
            async move { store.verify_device("dv.GW-01", &p).await.unwrap().is_some() }
        };
        assert!(login(renewed).await);
        assert!(!login(password.clone()).await);

        let r = api
            .send(
                Method::DELETE,
                &format!("/api/v1/devices/{id}"),
                Some(&other_admin),
                None,
                "",
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let r = api
            .send(
                Method::DELETE,
                &format!("/api/v1/devices/{id}"),
                Some(&admin),
                None,
                "",
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        assert!(
            api.store
                .verify_device("dv.GW-01", &password)
                .await
                .unwrap()
                .is_none()
        );
        let _ = tenant;
    }
}

#[tokio::test]
async fn hierarchy_crud_round_trip() {
    for db in each_backend().await {
        let api = Api::new(&db);
        let (_, admin, viewer) = api.tenant("acme").await;
        let (site, area, line) = api.line(&admin, "X").await;

        let created = api
            .json(Method::POST, "/api/v1/equipment", &admin, json!({
                "line_id": line, "code": "CUT-01", "name": "数控切割机 1#", "equipment_type": "cnc_cutting",
                "work_cell": "C1", "attributes": {"power_kw": 45}
            }))
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        let id = created.body["id"].as_i64().unwrap();
        assert_eq!(created.body["attributes"]["power_kw"], 45);
        assert!(created.body["created_at"].as_str().unwrap().ends_with('Z'));

        // Every role reads.
        let got = api.get(&format!("/api/v1/equipment/{id}"), &viewer).await;
        assert_eq!(
            (got.status, got.body["code"].as_str()),
            (StatusCode::OK, Some("CUT-01"))
        );

        let patched = api
            .json(
                Method::PATCH,
                &format!("/api/v1/equipment/{id}"),
                &admin,
                json!({"name": "等离子切割机", "work_cell": null}),
            )
            .await;
        assert_eq!(patched.status, StatusCode::OK, "{:?}", patched.body);
        assert_eq!(patched.body["name"], "等离子切割机");
        assert_eq!(patched.body["work_cell"], Value::Null);
        assert_eq!(patched.body["code"], "CUT-01");

        for (path, field) in [("sites", site), ("areas", area), ("lines", line)] {
            let r = api
                .json(
                    Method::PATCH,
                    &format!("/api/v1/{path}/{field}"),
                    &admin,
                    json!({"name": "改名"}),
                )
                .await;
            assert_eq!(
                (r.status, r.body["name"].as_str()),
                (StatusCode::OK, Some("改名")),
                "{path}"
            );
        }
        assert_eq!(
            api.total(&format!("/api/v1/lines?site_id={site}"), &viewer)
                .await,
            1
        );
        assert_eq!(
            api.total(&format!("/api/v1/areas?site_id={site}"), &viewer)
                .await,
            1
        );

        // A parent with children cannot go; children first, then it can.
        let refused = api
            .send(
                Method::DELETE,
                &format!("/api/v1/lines/{line}"),
                Some(&admin),
                None,
                "",
            )
            .await;
        assert_eq!(
            (refused.status, refused.error().0),
            (StatusCode::CONFLICT, "in_use")
        );
        let del = api
            .send(
                Method::DELETE,
                &format!("/api/v1/equipment/{id}"),
                Some(&admin),
                None,
                "",
            )
            .await;
        assert_eq!(del.status, StatusCode::NO_CONTENT);
        assert_eq!(
            api.get(&format!("/api/v1/equipment/{id}"), &admin)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        for path in [
            format!("lines/{line}"),
            format!("areas/{area}"),
            format!("sites/{site}"),
        ] {
            let r = api
                .send(
                    Method::DELETE,
                    &format!("/api/v1/{path}"),
                    Some(&admin),
                    None,
                    "",
                )
                .await;
            assert_eq!(r.status, StatusCode::NO_CONTENT, "{path}: {:?}", r.body);
        }
        assert_eq!(api.total("/api/v1/sites", &admin).await, 0);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn lists_page_sort_filter_and_search() {
    for db in each_backend().await {
        let api = Api::new(&db);
        let (_, admin, _) = api.tenant("p").await;
        let (_, _, line) = api.line(&admin, "P").await;
        let (_, _, other_line) = api.line(&admin, "Q").await;
        for i in 0..12 {
            let l = if i % 3 == 0 { other_line } else { line };
            let ty = if i % 2 == 0 { "drilling" } else { "welding" };
            let r = api.json(Method::POST, "/api/v1/equipment", &admin, json!({
                "line_id": l, "code": format!("M-{i:02}"), "name": format!("机器 {i}"), "equipment_type": ty
            })).await;
            assert_eq!(r.status, StatusCode::CREATED);
        }
        let page = api
            .get("/api/v1/equipment?limit=5&offset=10&sort=code", &admin)
            .await;
        assert_eq!(page.body["total"], 12);
        let codes: Vec<&str> = page.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, ["M-10", "M-11"]);
        let desc = api
            .get("/api/v1/equipment?limit=1&sort=-code", &admin)
            .await;
        assert_eq!(desc.body["items"][0]["code"], "M-11");
        assert_eq!(
            api.total(&format!("/api/v1/equipment?line_id={other_line}"), &admin)
                .await,
            4
        );
        assert_eq!(
            api.total("/api/v1/equipment?equipment_type=welding", &admin)
                .await,
            6
        );
        assert_eq!(api.total("/api/v1/equipment?q=m-0", &admin).await, 10);
        assert_eq!(
            api.total("/api/v1/equipment?q=%E6%9C%BA%E5%99%A8%201", &admin)
                .await,
            3,
            "search by Chinese name: 机器 1, 10, 11"
        );

        for (query, field) in [
            ("limit=0", "limit"),
            ("limit=abc", "limit"),
            ("offset=-1", "offset"),
            ("sort=password", "sort"),
            ("site_id=1", "site_id"),
            ("line_id=x", "line_id"),
        ] {
            let r = api.get(&format!("/api/v1/equipment?{query}"), &admin).await;
            assert_eq!(
                (r.status, r.error()),
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ("validation_failed", Some(field))
                ),
                "{query}"
            );
        }
        db.cleanup().await;
    }
}

#[tokio::test]
async fn bad_writes_answer_the_documented_error_and_change_nothing() {
    for db in each_backend().await {
        let api = Api::new(&db);
        let (_, admin, viewer) = api.tenant("a").await;
        let (_, other_admin, _) = api.tenant("b").await;
        let (site, area, line) = api.line(&admin, "A").await;
        let (_, _, b_line) = api.line(&other_admin, "B").await;
        let ok = api
            .json(
                Method::POST,
                "/api/v1/equipment",
                &admin,
                json!({"line_id": line, "code": "M1", "name": "n", "equipment_type": "t"}),
            )
            .await;
        assert_eq!(ok.status, StatusCode::CREATED);
        let m1 = ok.body["id"].as_i64().unwrap();

        let before = (
            api.total("/api/v1/sites", &admin).await,
            api.total("/api/v1/areas", &admin).await,
            api.total("/api/v1/lines", &admin).await,
            api.get("/api/v1/equipment?limit=500", &admin).await.body,
            api.get("/api/v1/equipment?limit=500", &other_admin)
                .await
                .body,
        );

        let equipment = |v: Value| api.json(Method::POST, "/api/v1/equipment", &admin, v);
        let cases: Vec<(&str, Reply, StatusCode, &str, Option<&str>)> = vec![
            ("unknown field", equipment(json!({"line_id": line, "code": "M2", "name": "n", "equipment_type": "t", "colour": "red"})).await,
                StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("colour")),
            ("wrong type", equipment(json!({"line_id": "one", "code": "M2", "name": "n", "equipment_type": "t"})).await,
                StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("line_id")),
            ("missing field", equipment(json!({"line_id": line, "code": "M2", "equipment_type": "t"})).await,
                StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("name")),
            ("bad code", equipment(json!({"line_id": line, "code": "M 2", "name": "n", "equipment_type": "t"})).await,
                StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("code")),
            ("missing parent", equipment(json!({"line_id": 999_999, "code": "M2", "name": "n", "equipment_type": "t"})).await,
                StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("line_id")),
            ("another tenant's parent", equipment(json!({"line_id": b_line, "code": "M2", "name": "n", "equipment_type": "t"})).await,
                StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("line_id")),
            ("duplicate code", equipment(json!({"line_id": line, "code": "M1", "name": "n", "equipment_type": "t"})).await,
                StatusCode::CONFLICT, "conflict", Some("code")),
            ("duplicate site code", api.json(Method::POST, "/api/v1/sites", &admin, json!({"code": "A-S", "name": "again"})).await,
                StatusCode::CONFLICT, "conflict", Some("code")),
            ("area under missing site", api.json(Method::POST, "/api/v1/areas", &admin, json!({"site_id": 424_242, "code": "Z", "name": "z"})).await,
                StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("site_id")),
            ("bad timezone", api.json(Method::POST, "/api/v1/sites", &admin, json!({"code": "Z", "name": "z", "timezone": "Mars Base"})).await,
                StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("timezone")),
            ("blank name on patch", api.json(Method::PATCH, &format!("/api/v1/lines/{line}"), &admin, json!({"name": "  "})).await,
                StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("name")),
            ("move line to missing area", api.json(Method::PATCH, &format!("/api/v1/lines/{line}"), &admin, json!({"area_id": 777_777})).await,
                StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("area_id")),
            ("oversized body", api.send(Method::POST, "/api/v1/equipment", Some(&admin),
                Some(Body::from(json!({"line_id": line, "code": "M3", "name": "n", "equipment_type": "t", "attributes": {"blob": "x".repeat(MAX_BODY)}}).to_string())),
                "application/json").await,
                StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", None),
            ("oversized attributes", equipment(json!({"line_id": line, "code": "M3", "name": "n", "equipment_type": "t", "attributes": {"blob": "x".repeat(20_000)}})).await,
                StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("attributes")),
            ("viewer writes", api.json(Method::POST, "/api/v1/equipment", &viewer, json!({"line_id": line, "code": "M4", "name": "n", "equipment_type": "t"})).await,
                StatusCode::FORBIDDEN, "forbidden", None),
            ("viewer deletes", api.send(Method::DELETE, &format!("/api/v1/equipment/{m1}"), Some(&viewer), None, "").await,
                StatusCode::FORBIDDEN, "forbidden", None),
            ("other tenant reads", api.get(&format!("/api/v1/equipment/{m1}"), &other_admin).await,
                StatusCode::NOT_FOUND, "not_found", None),
            ("other tenant patches", api.json(Method::PATCH, &format!("/api/v1/sites/{site}"), &other_admin, json!({"name": "mine"})).await,
                StatusCode::NOT_FOUND, "not_found", None),
            ("other tenant deletes", api.send(Method::DELETE, &format!("/api/v1/areas/{area}"), Some(&other_admin), None, "").await,
                StatusCode::NOT_FOUND, "not_found", None),
            ("non-numeric id", api.get("/api/v1/equipment/abc", &admin).await,
                StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("id")),
            ("unknown route", api.get("/api/v1/nothing-here", &admin).await,
                StatusCode::NOT_FOUND, "not_found", None),
        ];
        for (what, reply, status, code, field) in &cases {
            assert_eq!(reply.status, *status, "{what}: {:?}", reply.body);
            assert_eq!(reply.error(), (*code, *field), "{what}: {:?}", reply.body);
            assert!(
                !reply.body["error"]["message"]
                    .as_str()
                    .unwrap_or("")
                    .is_empty(),
                "{what}: empty message"
            );
        }

        let after = (
            api.total("/api/v1/sites", &admin).await,
            api.total("/api/v1/areas", &admin).await,
            api.total("/api/v1/lines", &admin).await,
            api.get("/api/v1/equipment?limit=500", &admin).await.body,
            api.get("/api/v1/equipment?limit=500", &other_admin)
                .await
                .body,
        );
        assert_eq!(before, after, "a rejected request changed data");
        assert_eq!(
            api.get(&format!("/api/v1/lines/{line}"), &admin).await.body["name"],
            "切割线"
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn health_readiness_metrics_and_snapshot() {
    let db = zhizao_testkit::sqlite().await;
    let api = Api::new(&db);
    let (tenant, admin, _) = api.tenant("h").await;
    let (_, _, line) = api.line(&admin, "H").await;
    api.json(
        Method::POST,
        "/api/v1/equipment",
        &admin,
        json!({"line_id": line, "code": "M1", "name": "n", "equipment_type": "t"}),
    )
    .await;

    assert_eq!(
        api.send(Method::GET, "/healthz", None, None, "")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        api.send(Method::GET, "/readyz", None, None, "")
            .await
            .status,
        StatusCode::OK
    );
    let metrics = api.send(Method::GET, "/metrics", None, None, "").await;
    let text = metrics.body.as_str().unwrap();
    assert!(text.contains("zhizao_http_requests_total{"), "{text}");
    assert!(text.contains("route=\"/api/v1/equipment\""), "{text}");
    assert!(text.contains("zhizao_history_points_written "), "{text}");

    let snap = api.get("/api/v1/live/snapshot", &admin).await;
    assert_eq!(snap.status, StatusCode::OK);
    assert_eq!(
        snap.body["state_counts"]["offline"], 1,
        "a machine without data is offline"
    );
    assert_eq!(snap.body["lines"][0]["equipment"][0]["code"], "M1");
    let _ = tenant;
    db.store.close().await;
    assert_eq!(
        api.send(Method::GET, "/readyz", None, None, "")
            .await
            .status,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test]
async fn openapi_is_3_1_and_covers_every_route() {
    let doc = serde_json::to_value(zhizao_api::openapi()).unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().unwrap();
    let mut documented: Vec<String> = paths
        .iter()
        .flat_map(|(p, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| format!("{} {p}", m.to_uppercase()))
        })
        .collect();
    documented.sort();
    let mut expected: Vec<String> = [
        "POST /api/v1/auth/login",
        "GET /api/v1/auth/me",
        "POST /api/v1/auth/logout",
        "POST /api/v1/auth/tokens",
        "GET /api/v1/users",
        "POST /api/v1/users",
        "DELETE /api/v1/users/{id}",
        "GET /api/v1/sites",
        "POST /api/v1/sites",
        "GET /api/v1/sites/{id}",
        "PATCH /api/v1/sites/{id}",
        "DELETE /api/v1/sites/{id}",
        "GET /api/v1/areas",
        "POST /api/v1/areas",
        "GET /api/v1/areas/{id}",
        "PATCH /api/v1/areas/{id}",
        "DELETE /api/v1/areas/{id}",
        "GET /api/v1/lines",
        "POST /api/v1/lines",
        "GET /api/v1/lines/{id}",
        "PATCH /api/v1/lines/{id}",
        "DELETE /api/v1/lines/{id}",
        "GET /api/v1/equipment",
        "POST /api/v1/equipment",
        "GET /api/v1/equipment/{id}",
        "PATCH /api/v1/equipment/{id}",
        "DELETE /api/v1/equipment/{id}",
        "GET /api/v1/live/snapshot",
        "GET /api/v1/live/timeline",
        "GET /api/v1/devices",
        "POST /api/v1/devices",
        "GET /api/v1/devices/{id}",
        "DELETE /api/v1/devices/{id}",
        "POST /api/v1/devices/{id}/password",
        "GET /api/v1/devices/{id}/rejections",
        "GET /api/v1/sites/{id}/calendar",
        "PUT /api/v1/sites/{id}/calendar",
        "GET /api/v1/equipment/{id}/kpi",
        "GET /api/v1/kpi/lines",
        "GET /api/v1/kpi/report",
        "GET /api/v1/kpi/downtime",
        "GET /api/v1/downtime-reasons",
        "GET /api/v1/state-rules",
        "PUT /api/v1/state-rules",
        "PUT /api/v1/downtime-reasons",
        "GET /api/v1/equipment/{id}/stops",
        "PUT /api/v1/equipment/{id}/stops/{start}/reason",
        "GET /api/v1/alarm-rules",
        "PUT /api/v1/alarm-rules",
        "GET /api/v1/alarms",
        "GET /api/v1/alarms/history",
        "POST /api/v1/alarms/{id}/acknowledge",
        "POST /api/v1/alarms/{id}/shelve",
        "POST /api/v1/write",
        "POST /api/v1/import/csv",
        "POST /api/v1/series/query",
        "POST /api/v1/series/export",
        "GET /api/v1/plan/master",
        "PUT /api/v1/plan/master",
        "GET /api/v1/plan/forecasts",
        "PUT /api/v1/plan/forecasts",
        "GET /api/v1/plan/runs",
        "POST /api/v1/plan/runs",
        "GET /api/v1/plan/runs/latest",
        "GET /api/v1/plan/orders",
        "POST /api/v1/plan/promise",
        "POST /api/v1/plan/what-if",
        "POST /api/v1/plan/what-if/apply",
        "GET /api/v1/plan/overview",
        "POST /api/v1/plan/release",
        "GET /api/v1/orders",
        "POST /api/v1/orders",
        "GET /api/v1/orders/{id}",
        "PUT /api/v1/orders/{id}",
        "DELETE /api/v1/orders/{id}",
        "GET /api/v1/orders/export",
        "POST /api/v1/orders/import",
        "GET /api/v1/work-orders",
        "GET /api/v1/work-orders/{id}",
        "POST /api/v1/work-orders/{id}/status",
        "POST /api/v1/work-orders/{id}/operations/{seq}/report",
        "GET /api/v1/purchase-orders",
        "POST /api/v1/purchase-orders/{id}/receive",
        "POST /api/v1/purchase-orders/{id}/cancel",
        "GET /api/v1/schedule",
        "GET /api/v1/schedule/versions",
        "GET /api/v1/schedule/versions/{id}",
        "POST /api/v1/schedule/runs",
        "POST /api/v1/schedule/events",
        "PATCH /api/v1/schedule/operations/{work_order_id}/{seq}",
        "PUT /api/v1/schedule/operations/{work_order_id}/{seq}/lock",
        "GET /api/v1/schedule/dispatch",
        "GET /api/v1/schedule/progress",
        "POST /api/v1/spc/analyze",
        "GET /api/v1/quality/characteristics",
        "POST /api/v1/quality/characteristics",
        "GET /api/v1/quality/characteristics/{id}",
        "PUT /api/v1/quality/characteristics/{id}",
        "DELETE /api/v1/quality/characteristics/{id}",
        "POST /api/v1/quality/characteristics/{id}/samples",
        "POST /api/v1/quality/samples/import",
        "GET /api/v1/quality/characteristics/{id}/chart",
        "PUT /api/v1/quality/characteristics/{id}/limits",
        "DELETE /api/v1/quality/characteristics/{id}/limits",
        "GET /api/v1/quality/ncrs",
        "POST /api/v1/quality/ncrs",
        "GET /api/v1/quality/ncrs/{id}",
        "POST /api/v1/quality/ncrs/{id}/actions",
        "POST /api/v1/quality/ncrs/{id}/photos",
        "GET /api/v1/quality/ncrs/{id}/photos/{photo}",
        "POST /api/v1/quality/trace",
        "GET /api/v1/quality/trace/{code}",
        "GET /api/v1/quality/kpis",
        "GET /api/v1/quality/costs",
        "PUT /api/v1/quality/costs",
        "POST /write",
        "GET /api/v1/live",
        "GET /api/v1/openapi.json",
        "GET /healthz",
        "GET /readyz",
        "GET /metrics",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    expected.sort();
    assert_eq!(documented, expected);

    // Every documented operation is routed: without a token it answers
    // 401 (or 200 for the open ones), never 404/405.
    let db = zhizao_testkit::sqlite().await;
    let api = Api::new(&db);
    for op in &documented {
        let (method, path) = op.split_once(' ').unwrap();
        let uri = path.replace("{id}", "1");
        let body = (method == "POST" || method == "PATCH").then(|| Body::from("{}"));
        let r = api
            .send(
                method.parse().unwrap(),
                &uri,
                None,
                body,
                "application/json",
            )
            .await;
        assert!(
            !matches!(
                r.status,
                StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
            ),
            "{op} is documented but not routed ({})",
            r.status
        );
    }
    // Secured operations declare the bearer scheme.
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert!(doc["paths"]["/api/v1/sites"]["get"]["security"].is_array());
}

mod live_socket {
    use super::*;
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    use zhizao_core::MachineState;
    use zhizao_live::{Placement, Report};

    async fn next_json<S>(ws: &mut S) -> Value
    where
        S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>>
            + Unpin,
    {
        loop {
            let msg = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next())
                .await
                .expect("a live message within 5 s")
                .expect("stream open")
                .expect("valid frame");
            if let Message::Text(t) = msg {
                return serde_json::from_str(&t).unwrap();
            }
        }
    }

    #[tokio::test]
    async fn streams_scoped_changes_of_the_own_tenant_only() {
        let db = zhizao_testkit::sqlite().await;
        let hub = Arc::new(LiveHub::default());
        let (tsdb, dir) = history();
        let state = AppState::new(db.store.clone(), hub.clone(), tsdb, MAX_BODY);
        let api = Api {
            app: router(state.clone()),
            store: db.store.clone(),
            _history_dir: dir,
        };
        let (tenant, admin, _) = api.tenant("w").await;
        let (other, _, _) = api.tenant("v").await;

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(zhizao_api::serve(listener, state, std::future::pending()));

        // Bad token and bad scope are refused before the upgrade.
        let refused =
            tokio_tungstenite::connect_async(format!("ws://{addr}/api/v1/live?token=nope")).await;
        assert!(refused.is_err());
        let bad_scope = tokio_tungstenite::connect_async(format!(
            "ws://{addr}/api/v1/live?token={admin}&scope=cell:1"
        ))
        .await;
        assert!(bad_scope.is_err());

        let (mut ws, _) = tokio_tungstenite::connect_async(format!(
            "ws://{addr}/api/v1/live?token={admin}&scope=line:7"
        ))
        .await
        .unwrap();
        let hello = next_json(&mut ws).await;
        assert_eq!(
            (hello["type"].as_str(), hello["scope"].as_str()),
            (Some("hello"), Some("line:7"))
        );

        let place = |tenant_id, line_id, equipment_id| Placement {
            tenant_id,
            site_id: 1,
            line_id,
            equipment_id,
        };
        let down = |code: &str| Report::State {
            code: code.into(),
            state: MachineState::Down,
        };
        hub.report(place(other, 7, 1), 1, down("OTHER-TENANT"));
        hub.report(place(tenant, 8, 2), 2, down("OTHER-LINE"));
        hub.report(place(tenant, 7, 3), 3, down("MINE"));
        hub.report(
            place(tenant, 7, 3),
            4,
            Report::Counters {
                good_delta: 2,
                scrap_delta: 0,
                temperature: Some(50.0),
            },
        );

        let first = next_json(&mut ws).await;
        assert_eq!(first["type"], "state");
        assert_eq!(
            first["equipment_code"], "MINE",
            "messages of other tenants or lines leaked: {first}"
        );
        assert_eq!(first["state"], "down");
        let second = next_json(&mut ws).await;
        assert_eq!(
            (second["type"].as_str(), second["good_today"].as_i64()),
            (Some("counters"), Some(2))
        );
        assert!(second["seq"].as_u64() > first["seq"].as_u64());

        // Gone for a while: a client that comes back with the last seq it
        // saw gets exactly what it missed of its scope, in order.
        let last = second["seq"].as_u64().unwrap();
        drop(ws);
        let mine = |code: &str| {
            hub.report(
                place(tenant, 7, 3),
                5,
                Report::State {
                    code: code.into(),
                    state: MachineState::Idle,
                },
            )
        };
        hub.report(place(tenant, 8, 2), 5, down("OTHER-LINE-2"));
        mine("MINE");
        hub.report(
            place(tenant, 7, 3),
            6,
            Report::State {
                code: "MINE".into(),
                state: MachineState::Running,
            },
        );
        let (mut ws, _) = tokio_tungstenite::connect_async(format!(
            "ws://{addr}/api/v1/live?token={admin}&scope=line:7&since={last}"
        ))
        .await
        .unwrap();
        let hello = next_json(&mut ws).await;
        assert_eq!(hello["replayed"], 2, "{hello}");
        let a = next_json(&mut ws).await;
        let b = next_json(&mut ws).await;
        assert_eq!(
            (a["state"].as_str(), b["state"].as_str()),
            (Some("idle"), Some("running"))
        );
        assert!(b["seq"].as_u64() > a["seq"].as_u64() && a["seq"].as_u64() > Some(last));
        // New changes follow the replay, once each.
        hub.report(place(tenant, 7, 3), 7, down("MINE"));
        let c = next_json(&mut ws).await;
        assert_eq!(c["state"], "down");
        assert!(c["seq"].as_u64() > b["seq"].as_u64());
        // A seq the server never reached (it restarted): reload.
        let (mut ws, _) = tokio_tungstenite::connect_async(format!(
            "ws://{addr}/api/v1/live?token={admin}&since=99999999"
        ))
        .await
        .unwrap();
        assert_eq!(next_json(&mut ws).await["resync"], true);
        let bad = tokio_tungstenite::connect_async(format!(
            "ws://{addr}/api/v1/live?token={admin}&since=soon"
        ))
        .await;
        assert!(bad.is_err());
        server.abort();
    }
}

mod series_endpoints {
    use std::io::Write;

    use base64::Engine;

    use super::*;

    async fn line_protocol(
        api: &Api,
        query: &str,
        auth: Option<&str>,
        body: Vec<u8>,
        gzip: bool,
    ) -> Reply {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(format!("/write?{query}"))
            .header(header::CONTENT_TYPE, "text/plain");
        if let Some(a) = auth {
            req = req.header(header::AUTHORIZATION, a);
        }
        if gzip {
            req = req.header(header::CONTENT_ENCODING, "gzip");
        }
        let res = api
            .app
            .clone()
            .oneshot(req.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    fn gz(text: &str) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap()
    }

    async fn count(api: &Api, token: &str, field: &str) -> i64 {
        let r = api
            .json(
                Method::POST,
                "/api/v1/series/query",
                token,
                json!({"measurement": "telemetry", "fields": [field], "aggregate": "count"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        r.body["series"][0]["points"][0][1].as_i64().unwrap_or(0)
    }

    #[tokio::test]
    async fn line_protocol_clients_write_with_every_auth_style() {
        let db = zhizao_testkit::sqlite().await;
        let api = Api::new(&db);
        let (_, admin, _) = api.tenant("lp").await;
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("lp-admin:password-1")
        );
        let made = api
            .json(
                Method::POST,
                "/api/v1/auth/tokens",
                &admin,
                json!({"days": 30}),
            )
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
        let bad_days = api
            .json(
                Method::POST,
                "/api/v1/auth/tokens",
                &admin,
                json!({"days": 0}),
            )
            .await;
        assert_eq!(bad_days.error().1, Some("days"));
        let token = format!("Token {}", made.body["token"].as_str().unwrap());
        let cases: [(&str, Option<&str>, i64); 4] = [
            ("db=plant&u=lp-admin&p=password-1", None, 1),
            ("db=plant&precision=s", Some(basic.as_str()), 2),
            ("db=plant&precision=ms", Some(token.as_str()), 3),
            ("db=plant", Some(token.as_str()), 4),
        ];
        for (query, auth, n) in cases {
            let ts = match query {
                q if q.contains("precision=s") => "1700000000".to_owned(),
                q if q.contains("precision=ms") => "1700000001000".to_owned(),
                _ => format!("{}", 1_700_000_002_000_000_000i64 + n),
            };
            let body = format!(
                "telemetry,equipment=CUT-01,line=L-CUT temperature=6{n}.5,count_good={n}i {ts}\n"
            );
            let r = line_protocol(&api, query, auth, body.into_bytes(), n == 4).await;
            let r = if n == 4 {
                // Same body again, gzipped.
                let body = format!(
                    "telemetry,equipment=CUT-01,line=L-CUT temperature=6{n}.5,count_good={n}i {ts}\n"
                );
                line_protocol(&api, query, auth, gz(&body), true).await
            } else {
                r
            };
            assert_eq!(r.status, StatusCode::NO_CONTENT, "{query}: {:?}", r.body);
        }
        assert_eq!(count(&api, &admin, "temperature").await, 4);

        // Redelivery does not duplicate.
        let again = "telemetry,equipment=CUT-01,line=L-CUT temperature=61.5,count_good=1i 1700000002000000001\n";
        let r = line_protocol(&api, "db=plant", Some(&token), again.into(), false).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        assert_eq!(count(&api, &admin, "temperature").await, 4);

        for (auth, query) in [
            (None, "db=plant"),
            (Some("Token nope"), "db=plant"),
            (None, "u=lp-admin&p=wrong"),
            (Some("Basic !!!"), ""),
        ] {
            let r = line_protocol(&api, query, auth, b"m v=1".to_vec(), false).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{auth:?} {query}");
            assert!(r.body["error"].is_string());
        }
    }

    #[tokio::test]
    async fn bad_lines_are_named_and_the_rest_kept() {
        let db = zhizao_testkit::sqlite().await;
        let api = Api::new(&db);
        let (_, admin, _) = api.tenant("bad").await;
        let token = format!("Token {admin}");
        let seed = line_protocol(
            &api,
            "precision=s",
            Some(&token),
            b"telemetry,equipment=M1 count=5i 100".to_vec(),
            false,
        )
        .await;
        assert_eq!(seed.status, StatusCode::NO_CONTENT);
        let body = [
            "telemetry,equipment=M1 temperature=20.5 101", // 1 ok
            "telemetry,equipment=M1 temperature=NaN 102",  // 2 NaN
            "telemetry,equipment=M1 temperature=inf 103",  // 3 inf
            "telemetry,equipment=M1 count=6.5 104",        // 4 type conflict (count is integer)
            "telemetry,equipment=M1 temperature=21 99999999999999", // 5 out of range for seconds
            "telemetry,equipment=M1",                      // 6 no fields
            "telemetry,equipment=M1 temperature=22 105",   // 7 ok
        ]
        .join("\n");
        let r = line_protocol(&api, "precision=s", Some(&token), body.into_bytes(), false).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
        assert_eq!(
            (
                r.body["accepted_lines"].as_i64(),
                r.body["rejected_lines"].as_i64()
            ),
            (Some(2), Some(5)),
            "{:?}",
            r.body
        );
        let lines: Vec<i64> = r.body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["line"].as_i64().unwrap())
            .collect();
        assert_eq!(lines, vec![2, 3, 4, 5, 6]);
        assert!(
            r.body["errors"][2]["message"]
                .as_str()
                .unwrap()
                .contains("type conflict"),
            "{:?}",
            r.body
        );
        assert!(
            r.body["error"]
                .as_str()
                .unwrap()
                .starts_with("partial write: line 2")
        );
        assert_eq!(
            count(&api, &admin, "temperature").await,
            2,
            "good lines kept"
        );
        assert_eq!(
            count(&api, &admin, "count").await,
            1,
            "the conflicting value was not stored"
        );

        let r = line_protocol(&api, "precision=h", Some(&token), b"m v=1".to_vec(), false).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        let r = line_protocol(&api, "", Some(&token), b"\xff\xfe".to_vec(), false).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        let r = line_protocol(&api, "", Some(&token), b"not gzip".to_vec(), true).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        // A gzip bomb: small on the wire, over the limit once inflated.
        let bomb = gz(&"x".repeat(zhizao_api::series::MAX_WRITE_BYTES + 10));
        let r = line_protocol(&api, "", Some(&token), bomb, true).await;
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            count(&api, &admin, "temperature").await,
            2,
            "nothing else changed"
        );
    }

    #[tokio::test]
    async fn json_writes_and_the_query_shapes() {
        let db = zhizao_testkit::sqlite().await;
        let api = Api::new(&db);
        let (_, admin, _) = api.tenant("js").await;
        let (_, other, _) = api.tenant("js2").await;
        let mut points = Vec::new();
        for i in 0..180 {
            for dev in ["m1", "m2"] {
                points.push(json!({
                    "measurement": "telemetry",
                    "tags": {"equipment": dev, "line": "L1"},
                    "fields": {"temperature": if dev == "m1" { i as f64 } else { 100.0 }, "running": i % 2 == 0},
                    "ts": 1_700_000_040_000i64 + i * 1000
                }));
            }
        }
        points.push(json!({"measurement": "telemetry", "tags": {"equipment": "m1"}, "fields": {"temperature": null}, "ts": 1}));
        points.push(json!({"measurement": "telemetry", "fields": {"x": 1}, "ts": "yesterday"}));
        points.push(json!({"measurement": "telemetry", "tags": {"equipment": "m3", "line": "L1"}, "fields": {"temperature": 1.0}, "ts": "2023-11-14T22:14:00Z"}));
        let r = api
            .json(
                Method::POST,
                "/api/v1/write",
                &admin,
                json!({"points": points}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(r.body["accepted"], 180 * 2 * 2 + 1);
        let rejected: Vec<(i64, &str)> = r.body["rejected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                (
                    x["index"].as_i64().unwrap(),
                    x["field"].as_str().unwrap_or(""),
                )
            })
            .collect();
        assert_eq!(rejected, vec![(360, "fields.temperature"), (361, "ts")]);

        // 1-minute mean per device over 3 minutes.
        let q = json!({"measurement": "telemetry", "fields": ["temperature"], "where": {"line": "L1"},
            "start": 1_700_000_040_000i64, "end": "2023-11-14T22:17:00Z", "aggregate": "mean", "every": "1m", "group_by": ["equipment"]});
        let r = api
            .json(Method::POST, "/api/v1/series/query", &admin, q)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(r.body["series"][0]["tags"], json!({"equipment": "m1"}));
        assert_eq!(
            r.body["series"][0]["points"],
            json!([
                [1_700_000_040_000i64, 29.5],
                [1_700_000_100_000i64, 89.5],
                [1_700_000_160_000i64, 149.5]
            ])
        );
        assert_eq!(r.body["series"][1]["points"][0][1], 100.0);
        assert_eq!(
            r.body["series"][2]["points"],
            json!([[1_700_000_040_000i64, 1.0]]),
            "RFC 3339 times land where epoch ms do"
        );

        // Latest value per device, without a range.
        let r = api.json(Method::POST, "/api/v1/series/query", &admin,
            json!({"measurement": "telemetry", "fields": ["temperature"], "aggregate": "last", "group_by": ["equipment"]})).await;
        assert_eq!(
            r.body["series"][0]["points"],
            json!([[1_700_000_219_000i64, 179.0]])
        );

        // Count of temperatures above a threshold over the whole range.
        let r = api.json(Method::POST, "/api/v1/series/query", &admin,
            json!({"measurement": "telemetry", "fields": ["temperature"], "where": {"equipment": "m1"}, "aggregate": "count", "value": {"gt": 100.0}})).await;
        assert_eq!(r.body["series"][0]["points"][0][1], 79, "{:?}", r.body);

        // Export: CSV and Parquet of the same query; bad format named.
        let export = |format: &'static str, body: Value| {
            let req = Request::builder()
                .method(Method::POST)
                .uri(format!("/api/v1/series/export?format={format}"))
                .header(header::AUTHORIZATION, format!("Bearer {admin}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap();
            api.app.clone().oneshot(req)
        };
        let q = json!({"measurement": "telemetry", "fields": ["temperature"], "where": {"equipment": "m1"}, "limit": 100});
        let res = export("csv", q.clone()).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "text/csv; charset=utf-8"
        );
        assert!(
            res.headers().contains_key("x-next-cursor"),
            "more than 100 points remain"
        );
        let csv = String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec())
            .unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 101);
        assert_eq!(lines[0], "time,equipment,line,field,value");
        assert_eq!(
            lines[1],
            "2023-11-14T22:14:00.000000000Z,m1,L1,temperature,0"
        );
        let res = export("parquet", q.clone()).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..4], b"PAR1");
        let res = export("xlsx", q).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

        // Relative times; a device without points in the window is left out.
        let r = api.json(Method::POST, "/api/v1/series/query", &admin,
            json!({"measurement": "telemetry", "fields": ["temperature"], "start": "-30m", "end": "now", "aggregate": "mean", "every": "1m", "fill": "null"})).await;
        assert_eq!(
            (r.status, &r.body["series"]),
            (StatusCode::OK, &json!([])),
            "{:?}",
            r.body
        );

        // Raw points with a cursor.
        let r = api.json(Method::POST, "/api/v1/series/query", &admin,
            json!({"measurement": "telemetry", "fields": ["running"], "where": {"equipment": "m2"}, "limit": 100})).await;
        assert_eq!(r.body["series"][0]["points"].as_array().unwrap().len(), 100);
        assert_eq!(
            r.body["series"][0]["points"][0],
            json!([1_700_000_040_000i64, true])
        );
        let cursor = r.body["next_cursor"].as_str().unwrap().to_owned();
        let r = api.json(Method::POST, "/api/v1/series/query", &admin,
            json!({"measurement": "telemetry", "fields": ["running"], "where": {"equipment": "m2"}, "limit": 100, "cursor": cursor})).await;
        assert_eq!(r.body["series"][0]["points"].as_array().unwrap().len(), 80);
        assert_eq!(r.body["next_cursor"], Value::Null);

        // Another tenant sees none of it.
        let r = api
            .json(
                Method::POST,
                "/api/v1/series/query",
                &other,
                json!({"measurement": "telemetry"}),
            )
            .await;
        assert_eq!(r.body["series"], json!([]));

        for (body, field) in [
            (
                json!({"measurement": "telemetry", "aggregate": "median"}),
                "aggregate",
            ),
            (
                json!({"measurement": "telemetry", "aggregate": "mean", "every": "1 minute", "start": 0, "end": 1}),
                "every",
            ),
            (
                json!({"measurement": "telemetry", "aggregate": "mean", "every": "1m"}),
                "every",
            ),
            (
                json!({"measurement": "telemetry", "start": "soon"}),
                "start",
            ),
            (
                json!({"measurement": "telemetry", "start": "-30 minutes"}),
                "start",
            ),
            (
                json!({"measurement": "telemetry", "fields": ["running"], "aggregate": "mean"}),
                "aggregate",
            ),
            (json!({"measurement": "telemetry", "select": "*"}), "select"),
        ] {
            let r = api
                .json(Method::POST, "/api/v1/series/query", &admin, body.clone())
                .await;
            assert_eq!(
                (r.status, r.error().1),
                (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
                "{body}: {:?}",
                r.body
            );
        }
        let none = api
            .json(
                Method::POST,
                "/api/v1/write",
                &admin,
                json!({"points": [{"measurement": "m", "fields": {"v": [1]}}]}),
            )
            .await;
        assert_eq!(
            (none.status, none.error().1),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("fields.v"))
        );
    }
}
