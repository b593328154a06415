//! Central processing through the platform: KPIs and alarms from what
//! machines send over MQTT.
//!
//! The platform path of the ISO 22400-2 worked examples: each reference
//! shift is played through MQTT as a machine would report it (state
//! messages at their times, running counters), the live hub records the
//! state changes, and `GET /api/v1/equipment/{id}/kpi` must give the
//! published KPIs. The order-level example (AOET, allocation ratio) needs
//! production orders and is checked by the CLI only, for now.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use zhizao_api::{AppState, router};
use zhizao_core::Role;
use zhizao_live::LiveHub;
use zhizao_store::{NewArea, NewDevice, NewEquipment, NewLine, NewSite};

fn reference() -> Value {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = root.join("../../../shared/reference/kpi-cases.json");
    let file = if shared.exists() {
        shared
    } else {
        root.join("../zhizao-kpi/tests/fixtures/kpi-cases.json")
    };
    serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

async fn call(
    app: &axum::Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let body = match body {
        Some(b) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            Body::from(b.to_string())
        }
        None => Body::empty(),
    };
    let res = app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// A tenant with its history, live hub and API, for one test.
struct Plant {
    store: zhizao_store::Store,
    tenant: zhizao_core::Tenant,
    tsdb: Arc<zhizao_tsdb::Tsdb>,
    hub: Arc<LiveHub>,
    state: AppState,
    app: axum::Router,
    _db: zhizao_testkit::TestStore,
    _dir: tempfile::TempDir,
}

impl Plant {
    async fn new() -> Plant {
        let db = zhizao_testkit::sqlite().await;
        let store = db.store.clone();
        let tenant = store.create_tenant("plant", "Plant").await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let tsdb =
            Arc::new(zhizao_tsdb::Tsdb::open(zhizao_tsdb::TsdbConfig::new(dir.path())).unwrap());
        let hub = Arc::new(LiveHub::default());
        let state = AppState::new(store.clone(), hub.clone(), tsdb.clone(), 1 << 20);
        let app = router(state.clone());
        Plant {
            store,
            tenant,
            tsdb,
            hub,
            state,
            app,
            _db: db,
            _dir: dir,
        }
    }

    /// A user with `role`, logged in: the token.
    async fn user(&self, name: &str, role: Role) -> String {
        let password = format!("password-{name}");
        self.store
            .create_user(self.tenant.id, name, &password, role)
            .await
            .unwrap();
        let (status, login) = call(
            &self.app,
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"username": name, "password": password})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{login}");
        login["token"].as_str().unwrap().to_owned()
    }

    /// A machine in its own site (Asia/Shanghai), area and line.
    async fn machine(
        &self,
        site: &str,
        line: (&str, &str),
        code: &str,
        ideal_cycle_s: Option<f64>,
    ) -> (zhizao_core::Site, zhizao_core::Equipment) {
        let t = self.tenant.id;
        let site = self
            .store
            .create_site(
                t,
                NewSite {
                    code: site.into(),
                    name: site.into(),
                    timezone: Some("Asia/Shanghai".into()),
                },
            )
            .await
            .unwrap();
        let area = self
            .store
            .create_area(
                t,
                NewArea {
                    site_id: site.id,
                    code: format!("{}-A", site.code),
                    name: "A".into(),
                },
            )
            .await
            .unwrap();
        let line = self
            .store
            .create_line(
                t,
                NewLine {
                    area_id: area.id,
                    code: line.0.into(),
                    name: line.1.into(),
                },
            )
            .await
            .unwrap();
        let mut attributes = serde_json::Map::new();
        if let Some(c) = ideal_cycle_s {
            attributes.insert("ideal_cycle_s".into(), json!(c));
        }
        let eq = self
            .store
            .create_equipment(
                t,
                NewEquipment {
                    line_id: line.id,
                    code: code.into(),
                    name: code.into(),
                    equipment_type: "cnc".into(),
                    work_cell: None,
                    attributes,
                },
            )
            .await
            .unwrap();
        (site, eq)
    }

    /// An MQTT endpoint feeding this plant, and a device registered for
    /// `prefix` on it: (port, user name, password).
    async fn endpoint(&self, device: &str, prefix: &str) -> (u16, String, String) {
        let gateway = zhizao_mqtt::gateway::Gateway::with_hub(
            self.store.clone(),
            self.tsdb.clone(),
            Some(self.hub.clone()),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(zhizao_mqtt::serve(listener, gateway));
        let (d, password) = self.device(device, prefix).await;
        (port, d, password)
    }

    async fn device(&self, code: &str, prefix: &str) -> (String, String) {
        let (d, password) = self
            .store
            .create_device(
                self.tenant.id,
                &NewDevice {
                    code: code.into(),
                    name: code.into(),
                    topic_prefix: prefix.into(),
                    mapping: None,
                },
            )
            .await
            .unwrap();
        (d.username, password)
    }
}

/// One reference shift as a machine reports it: state changes at minutes
/// after the shift start, and final counters.
struct Played {
    case: &'static str,
    site: &'static str,
    /// Breaks as (minutes after 06:00, length).
    breaks: Vec<(u32, u32)>,
    states: Vec<(u32, &'static str)>,
    ideal_cycle_s: f64,
    good: u32,
    scrap: u32,
    rework: u32,
}

fn played() -> Vec<Played> {
    vec![
        // POT 480, breaks 60 at the end, setup 20, then production.
        Played {
            case: "kpi_shift_with_breaks",
            site: "S1",
            breaks: vec![(420, 60)],
            states: vec![(0, "setup"), (20, "running")],
            ideal_cycle_s: 30.0,
            good: 741,
            scrap: 15,
            rework: 4,
        },
        // POT 480, break 40 at the end; idle 20, setup 25, one breakdown
        // of 45, five minor stops of 2 minutes, running 340.
        Played {
            case: "kpi_shift_with_breakdown",
            site: "S2",
            breaks: vec![(440, 40)],
            states: vec![
                (0, "idle"),
                (20, "setup"),
                (45, "down"),
                (90, "running"),
                (150, "down"),
                (152, "running"),
                (200, "down"),
                (202, "running"),
                (250, "down"),
                (252, "running"),
                (300, "down"),
                (302, "running"),
                (350, "down"),
                (352, "running"),
            ],
            ideal_cycle_s: 48.0,
            good: 392,
            scrap: 8,
            rework: 0,
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_shifts_through_mqtt_give_the_published_kpis() {
    let plant = Plant::new().await;
    let token = plant.user("admin-k", Role::Admin).await;
    // A shift three days ago, 06:00–14:00 China Standard Time (22:00 UTC
    // the day before).
    let shift_start = (zhizao_live::now_ms() / 86_400_000 - 3) * 86_400_000 + 22 * 3_600_000;
    let minute = 60_000i64;
    let reference = reference();
    let mut checked = 0;
    for p in played() {
        let code = format!("{}-M1", p.site);
        let line = format!("{}-L", p.site);
        let (site, eq) = plant
            .machine(p.site, (&line, "L"), &code, Some(p.ideal_cycle_s))
            .await;
        // The site works one shift, 06:00 for 480 minutes, every day.
        let calendar = json!({
            "code": "one-shift",
            "pattern": {"code": "1x8", "shifts": [{"code": "A", "name": "早班", "start_minute": 360, "duration_minutes": 480, "breaks": p.breaks}]},
            "working_weekdays": [1, 2, 3, 4, 5, 6, 7]
        });
        let uri = format!("/api/v1/sites/{}/calendar", site.id);
        let (status, body) =
            call(&plant.app, Method::PUT, &uri, Some(&token), Some(calendar)).await;
        assert_eq!(status, StatusCode::OK, "{body}");

        let prefix = format!("zhizao/v1/{}", p.site);
        let (port, user, password) = plant.endpoint(&format!("GW-{}", p.site), &prefix).await;
        let topic = |kind: &str| format!("{prefix}/{line}/{code}/{kind}");
        let mut messages: Vec<(String, String)> = Vec::new();
        // Counters before the shift, then at its last minute.
        messages.push((topic("telemetry"), json!({"ts": shift_start - minute, "values": {"count_good": 0, "count_scrap": 0, "count_rework": 0}}).to_string()));
        for (m, state) in &p.states {
            messages.push((
                topic("state"),
                json!({"ts": shift_start + i64::from(*m) * minute, "state": state}).to_string(),
            ));
        }
        messages.push((topic("telemetry"), json!({"ts": shift_start + 479 * minute, "values": {"count_good": p.good, "count_scrap": p.scrap, "count_rework": p.rework}}).to_string()));
        publish(port, &user, &password, &messages).await;
        plant.hub.persist_once(&plant.store).await.unwrap();

        let uri = format!(
            "/api/v1/equipment/{}/kpi?from={}&to={}",
            eq.id,
            shift_start,
            shift_start + 480 * minute
        );
        let (status, got) = call(&plant.app, Method::GET, &uri, Some(&token), None).await;
        assert_eq!(status, StatusCode::OK, "{got}");
        assert_eq!(got["shifts"].as_array().unwrap().len(), 1, "{got}");
        let kpis = &got["shifts"][0]["kpis"];
        let case = reference["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == p.case)
            .unwrap();
        let tol = case["tolerance"]["abs"].as_f64().unwrap();
        for (name, want) in case["expected"].as_object().unwrap() {
            // Our names, and seconds where the case has minutes.
            let (ours, scale) = match name.as_str() {
                "mtbf_operating_time_over_failures" => ("mtbf", 60.0),
                "mtbf_iso_FE_plus_1" => ("mtbf_fe_plus_1", 60.0),
                "mttr" => ("mttr", 60.0),
                "oee_identity_PRIxGQ_over_PBT" => ("oee_index", 1.0),
                other => (other, 1.0),
            };
            let have = kpis[ours]
                .as_f64()
                .unwrap_or_else(|| panic!("{}: {ours} missing in {kpis}", p.case));
            let want = want.as_f64().unwrap() * scale;
            assert!(
                (have - want).abs() <= tol * scale,
                "{}: {ours} = {have}, published {want}",
                p.case
            );
            checked += 1;
        }
    }
    assert!(checked >= 25, "{checked}");
}

/// Publishes QoS 1 messages in order and waits for every PUBACK.
async fn publish(port: u16, user: &str, pass: &str, messages: &[(String, String)]) {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    let mut opts = MqttOptions::new(format!("kpi-{user}"), "127.0.0.1", port);
    opts.set_credentials(user, pass);
    let (client, mut events) = AsyncClient::new(opts, 100);
    for (t, b) in messages {
        client
            .publish(t, QoS::AtLeastOnce, false, b.clone())
            .await
            .unwrap();
    }
    let mut acked = 0;
    while acked < messages.len() {
        match tokio::time::timeout(Duration::from_secs(10), events.poll())
            .await
            .unwrap()
        {
            Ok(Event::Incoming(Packet::PubAck(_))) => acked += 1,
            Ok(_) => {}
            Err(e) => panic!("{e}"),
        }
    }
    client.disconnect().await.ok();
}

#[tokio::test]
async fn bad_calendars_and_periods_are_refused_with_the_place() {
    let plant = Plant::new().await;
    let admin = plant.user("admin-b", Role::Admin).await;
    let viewer = plant.user("viewer-b", Role::Viewer).await;
    let app = &plant.app;
    let (site, eq) = plant.machine("S", ("L", "L"), "M", None).await;
    let uri = format!("/api/v1/sites/{}/calendar", site.id);
    // No calendar yet: the default, said so.
    let (status, body) = call(app, Method::GET, &uri, Some(&viewer), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["default"], true);
    assert_eq!(
        body["calendar"]["pattern"]["shifts"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let shift = |start: u32| json!({"code": format!("X{start}"), "name": "x", "start_minute": start, "duration_minutes": 480});
    let cases = [
        (
            json!({"code": "c", "pattern": {"code": "p", "shifts": [shift(360), shift(600)]}}),
            "pattern.shifts[1].start_minute",
        ),
        (
            json!({"code": "c", "pattern": {"code": "p", "shifts": [shift(360)]}, "holidays": ["2026-02-30"]}),
            "holidays[0]",
        ),
        (
            json!({"code": "c", "pattern": {"code": "p", "shifts": [shift(360)]}, "working_weekdays": [0]}),
            "working_weekdays",
        ),
    ];
    for (cal, field) in cases {
        let (status, body) = call(app, Method::PUT, &uri, Some(&admin), Some(cal)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["field"], field, "{body}");
    }
    let good = json!({"code": "c", "pattern": {"code": "p", "shifts": [shift(360)]}});
    let (status, _) = call(app, Method::PUT, &uri, Some(&viewer), Some(good.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(app, Method::PUT, &uri, Some(&admin), Some(good)).await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = call(app, Method::GET, &uri, Some(&viewer), None).await;
    assert_eq!(body["default"], false);

    // Periods: reversed, too long, not a time; and an unknown machine.
    for (q, field) in [
        ("from=-1h&to=-2h", "from"),
        ("from=-200d", "to"),
        ("from=yesterday", "from"),
    ] {
        let (status, body) = call(
            app,
            Method::GET,
            &format!("/api/v1/equipment/{}/kpi?{q}", eq.id),
            Some(&viewer),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{q}: {body}");
        assert_eq!(body["error"]["field"], field, "{q}: {body}");
    }
    let (status, _) = call(
        app,
        Method::GET,
        "/api/v1/equipment/999999/kpi",
        Some(&viewer),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A machine that never reported: its shift time is all "no data", and
    // OEE has no ideal cycle time to work with.
    let (status, body) = call(
        app,
        Method::GET,
        &format!("/api/v1/equipment/{}/kpi?from=-30h", eq.id),
        Some(&viewer),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let total = &body["total"];
    assert!(total["losses"]["no_data"].as_f64().unwrap() > 0.0, "{body}");
    assert_eq!(total["kpis"]["availability"], 0.0);
    assert!(total["kpis"]["oee_index"].is_null());
}

/// The screen's view: each line's running shift up to now, from its
/// machines' reports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_show_their_running_shift() {
    let plant = Plant::new().await;
    let token = plant.user("viewer-l", Role::Viewer).await;
    let (site, _) = plant.machine("S", ("L", "下料线"), "M", Some(30.0)).await;
    // Three 8-hour shifts every day and no breaks, so that what happens
    // now is never planned downtime, whatever the hour the test runs.
    let mut pattern = zhizao_core::ShiftPattern::three_eight();
    for shift in &mut pattern.shifts {
        shift.breaks.clear();
    }
    plant
        .store
        .put_site_calendar(
            plant.tenant.id,
            site.id,
            &zhizao_core::Calendar {
                code: "no-breaks".into(),
                pattern,
                working_weekdays: vec![1, 2, 3, 4, 5, 6, 7],
                holidays: vec![],
                extra_working_days: vec![],
            },
        )
        .await
        .unwrap();
    // Before any report: the running shift (one runs at every hour) is
    // all "no data".
    let (status, body) = call(
        &plant.app,
        Method::GET,
        "/api/v1/kpi/lines",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let item = &body["items"][0];
    assert_eq!(item["name"], "下料线");
    assert_eq!(item["machines"], 1);
    assert!(item["shift"].is_string(), "{body}");
    let start = item["period"]["start"].as_i64().unwrap();
    assert_eq!(item["period"]["kpis"]["availability"], 0.0);

    let (port, user, password) = plant.endpoint("GW", "zhizao/v1/S").await;
    let now = zhizao_live::now_ms();
    let messages = vec![
        (
            "zhizao/v1/S/L/M/telemetry".to_owned(),
            json!({"ts": start - 1000, "values": {"count_good": 0}}).to_string(),
        ),
        (
            "zhizao/v1/S/L/M/state".to_owned(),
            json!({"ts": start, "state": "running"}).to_string(),
        ),
        (
            "zhizao/v1/S/L/M/telemetry".to_owned(),
            json!({"ts": now, "values": {"count_good": 100}}).to_string(),
        ),
    ];
    publish(port, &user, &password, &messages).await;
    plant.hub.persist_once(&plant.store).await.unwrap();
    let (_, body) = call(
        &plant.app,
        Method::GET,
        "/api/v1/kpi/lines",
        Some(&token),
        None,
    )
    .await;
    let p = &body["items"][0]["period"];
    assert_eq!(p["quantities"]["gq"], 100.0, "{body}");
    assert!(p["kpis"]["availability"].as_f64().unwrap() > 0.99, "{body}");
    assert!(p["kpis"]["oee_index"].as_f64().is_some(), "{body}");
    // At a 30 s ideal cycle, the planned busy time so far could give this many.
    let pbt = p["time"]["pbt"].as_f64().unwrap();
    assert_eq!(
        body["items"][0]["ideal_output"],
        (pbt / 30.0).floor(),
        "{body}"
    );

    // The screen's state strip: each machine's states over the last hours.
    let line_id = body["items"][0]["line_id"].as_i64().unwrap();
    let uri = format!("/api/v1/live/timeline?line_id={line_id}&hours=24");
    let (status, tl) = call(&plant.app, Method::GET, &uri, Some(&token), None).await;
    assert_eq!(status, StatusCode::OK, "{tl}");
    let m = &tl["machines"][0];
    assert_eq!(m["code"], "M");
    let segments = m["segments"].as_array().unwrap();
    assert_eq!(segments.len(), 1, "{tl}");
    assert_eq!(segments[0]["state"], "running");
    assert_eq!(
        segments[0]["start"]
            .as_i64()
            .unwrap()
            .max(tl["from"].as_i64().unwrap()),
        segments[0]["start"].as_i64().unwrap()
    );
    let (status, _) = call(
        &plant.app,
        Method::GET,
        "/api/v1/live/timeline?hours=99",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Screens get the same figures pushed on the live feed.
    let mut live = plant.hub.subscribe();
    let pusher = tokio::spawn(zhizao_api::kpi::push_line_kpis(
        plant.state.clone(),
        Duration::from_millis(100),
    ));
    let pushed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let env = live.recv().await.unwrap();
            if let zhizao_live::LiveMessage::LineKpi {
                update, line_id, ..
            } = &env.message
            {
                return (*line_id, update.quantities.gq, update.kpis.availability);
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(pushed.0, body["items"][0]["line_id"].as_i64().unwrap());
    assert_eq!(pushed.1, 100.0);
    assert!(pushed.2.unwrap() > 0.99);

    // What arrives later reaches the push without a whole read: more
    // parts, and a breakdown from now on.
    let now = zhizao_live::now_ms();
    let later = vec![
        (
            "zhizao/v1/S/L/M/telemetry".to_owned(),
            json!({"ts": now, "values": {"count_good": 130}}).to_string(),
        ),
        (
            "zhizao/v1/S/L/M/state".to_owned(),
            json!({"ts": now, "state": "down"}).to_string(),
        ),
    ];
    publish(port, &user, &password, &later).await;
    plant.hub.persist_once(&plant.store).await.unwrap();
    // The counter is in history at once, the state change once the hub
    // has recorded it: a round may see the one before the other, so wait
    // for a push that has both.
    let before = pushed.2.unwrap();
    let (good, availability) = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let env = live.recv().await.unwrap();
            if let zhizao_live::LiveMessage::LineKpi { update, .. } = &env.message
                && update.quantities.gq == 130.0
                && update.kpis.availability.is_some_and(|a| a < before)
            {
                return (update.quantities.gq, update.kpis.availability.unwrap());
            }
        }
    })
    .await
    .expect("a push with the new parts and the breakdown");
    pusher.abort();
    assert_eq!(good, 130.0);
    assert!(availability < before, "the breakdown counts");
    // The push and a whole read agree.
    let (_, whole) = call(
        &plant.app,
        Method::GET,
        "/api/v1/kpi/lines",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(whole["items"][0]["period"]["quantities"]["gq"], 130.0);
    // Under five minutes so far: a minor stop, not yet a failure.
    assert!(
        whole["items"][0]["period"]["losses"]["minor_stop"]
            .as_f64()
            .unwrap()
            > 0.0
    );
}

/// Alarm rules through the API, fed by MQTT, acknowledged by a person.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarms_from_rules_to_acknowledgement() {
    let plant = Plant::new().await;
    let admin = plant.user("admin-a", Role::Admin).await;
    let viewer = plant.user("viewer-a", Role::Viewer).await;
    let (store, tenant, hub, app) = (&plant.store, &plant.tenant, &plant.hub, &plant.app);

    // Bad rules are refused with their place; nothing is applied.
    let bad = json!({"rules": [{"id": "x", "name": "x", "severity": "high", "condition": {"kind": "expression", "expr": "(temp > 1"}}]});
    let (status, body) = call(
        app,
        Method::PUT,
        "/api/v1/alarm-rules",
        Some(&admin),
        Some(bad),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "rules[0].condition.expr");
    let rules = json!({"rules": [{"id": "hot", "name": "温度过高", "severity": "high",
        "condition": {"kind": "above", "field": "temperature", "limit": 80, "deadband": 5}}]});
    let (status, _) = call(
        app,
        Method::PUT,
        "/api/v1/alarm-rules",
        Some(&viewer),
        Some(rules.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = call(
        app,
        Method::PUT,
        "/api/v1/alarm-rules",
        Some(&admin),
        Some(rules),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        store
            .alarm_rules(tenant.id)
            .await
            .unwrap()
            .map(|j| j.contains("温度过高")),
        Some(true)
    );
    let (_, body) = call(app, Method::GET, "/api/v1/alarm-rules", Some(&viewer), None).await;
    assert_eq!(body["rules"][0]["id"], "hot");

    let mut live = hub.subscribe();
    let (port, user, password) = plant.endpoint("GW", "zhizao/v1/S").await;
    let now = zhizao_live::now_ms();
    let t = |ms: i64, v: f64| {
        (
            "zhizao/v1/S/L/M7/telemetry".to_owned(),
            json!({"ts": now - 10_000 + ms, "values": {"temperature": v}}).to_string(),
        )
    };
    publish(
        port,
        &user,
        &password,
        &[t(0, 70.0), t(1000, 85.0), t(2000, 82.0)],
    )
    .await;

    let (_, body) = call(app, Method::GET, "/api/v1/alarms", Some(&viewer), None).await;
    let active = body["active"].as_array().unwrap();
    assert_eq!(active.len(), 1, "one alarm, not one per hot sample: {body}");
    assert_eq!(active[0]["source"], "M7");
    assert_eq!(active[0]["value"], 85.0);
    let id = active[0]["id"].as_i64().unwrap();
    // Live subscribers heard it.
    let heard = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let env = live.recv().await.unwrap();
            if let zhizao_live::LiveMessage::Alarm { event, .. } = &env.message {
                return event.kind.clone();
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(heard, zhizao_alarm::EventKind::Raised);

    let uri = format!("/api/v1/alarms/{id}/acknowledge");
    let (status, body) = call(
        app,
        Method::POST,
        &uri,
        Some(&viewer),
        Some(json!({"comment": "已通知维修"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["alarm"]["acknowledged"]["by"], "viewer-a");
    let (status, _) = call(app, Method::POST, &uri, Some(&viewer), Some(json!({}))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    // Cooling below the deadband closes the acknowledged alarm.
    publish(port, &user, &password, &[t(3000, 74.0)]).await;
    let (_, body) = call(app, Method::GET, "/api/v1/alarms", Some(&viewer), None).await;
    assert_eq!(body["active"], json!([]), "{body}");
    let kinds: Vec<&str> = body["recent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["closed", "acknowledged", "raised"]);
    let (status, _) = call(
        app,
        Method::POST,
        &format!("/api/v1/alarms/{id}/shelve"),
        Some(&viewer),
        Some(json!({"minutes": 10})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(
        app,
        Method::POST,
        "/api/v1/alarms/1/shelve",
        Some(&viewer),
        Some(json!({"minutes": 0})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // The journal keeps every event, with who acknowledged and why.
    hub.persist_once(store).await.unwrap();
    let (status, journal) = call(
        app,
        Method::GET,
        "/api/v1/alarms/history",
        Some(&viewer),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{journal}");
    assert_eq!(journal["total"], 3, "{journal}");
    let kinds: Vec<&str> = journal["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    // Newest first by event time: the samples carry the device's times,
    // the acknowledgement the server's.
    let mut sorted = kinds.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, ["acknowledged", "closed", "raised"]);
    let times: Vec<i64> = journal["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["at"].as_i64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    let ack = journal["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "acknowledged")
        .unwrap();
    assert_eq!(ack["by_user"], "viewer-a");
    assert_eq!(ack["comment"], "已通知维修");
    assert_eq!(ack["severity"], "high");
    let (status, _) = call(
        app,
        Method::GET,
        "/api/v1/alarms/history?limit=9999",
        Some(&viewer),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // New rules go on numbering after the journal: ids never repeat.
    let rules = json!({"rules": [{"id": "hot2", "name": "温度过高", "severity": "low",
        "condition": {"kind": "above", "field": "temperature", "limit": 50}}]});
    let (status, _) = call(
        app,
        Method::PUT,
        "/api/v1/alarm-rules",
        Some(&admin),
        Some(rules),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    publish(port, &user, &password, &[t(4000, 60.0)]).await;
    let (_, body) = call(app, Method::GET, "/api/v1/alarms", Some(&viewer), None).await;
    assert!(body["active"][0]["id"].as_i64().unwrap() > id, "{body}");
}

/// A stop explained as planned maintenance becomes planned downtime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reason_changes_what_a_stop_counts_as() {
    let plant = Plant::new().await;
    let token = plant.user("op-r", Role::Viewer).await;
    let (store, tenant, hub, app) = (&plant.store, &plant.tenant, &plant.hub, &plant.app);
    let (_, eq) = plant.machine("S", ("L", "L"), "M", None).await;
    let (port, user, password) = plant.endpoint("GW", "zhizao/v1/S").await;
    // The default calendar's morning shift three days ago: running, down
    // 07:00–07:30, running.
    let shift = (zhizao_live::now_ms() / 86_400_000 - 3) * 86_400_000 + 22 * 3_600_000;
    let minute = 60_000;
    let state = |m: i64, s: &str| {
        (
            "zhizao/v1/S/L/M/state".to_owned(),
            json!({"ts": shift + m * minute, "state": s}).to_string(),
        )
    };
    publish(
        port,
        &user,
        &password,
        &[state(0, "running"), state(60, "down"), state(90, "running")],
    )
    .await;
    hub.persist_once(store).await.unwrap();

    let kpi_uri = format!(
        "/api/v1/equipment/{}/kpi?from={}&to={}",
        eq.id,
        shift,
        shift + 480 * minute
    );
    let (_, before) = call(app, Method::GET, &kpi_uri, Some(&token), None).await;
    let b = &before["shifts"][0];
    assert_eq!(b["time"]["planned_downtime"], 1800.0, "the break: {before}");
    assert_eq!(b["losses"]["breakdown"], 1800.0, "{before}");
    assert_eq!(b["failures"], 1);

    // The stop is listed; its reason is given by the operator.
    let stops_uri = format!(
        "/api/v1/equipment/{}/stops?from={}&to={}",
        eq.id,
        shift,
        shift + 480 * minute
    );
    let (status, stops) = call(app, Method::GET, &stops_uri, Some(&token), None).await;
    assert_eq!(status, StatusCode::OK, "{stops}");
    assert_eq!(stops.as_array().unwrap().len(), 1, "{stops}");
    let start = stops[0]["start"].as_i64().unwrap();
    assert_eq!(start, shift + 60 * minute);
    assert_eq!(stops[0]["seconds"], 1800.0);
    // Asked up to a time within the stop, its end is the change after it.
    let (_, cut) = call(
        app,
        Method::GET,
        &format!(
            "/api/v1/equipment/{}/stops?from={shift}&to={}",
            eq.id,
            start + 10 * minute
        ),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(cut[0]["start"], start, "{cut}");
    assert_eq!(cut[0]["end"], start + 30 * minute, "{cut}");
    assert_eq!(cut[0]["seconds"], 1800.0);
    let reason_uri = format!("/api/v1/equipment/{}/stops/{start}/reason", eq.id);
    for (body, field) in [(json!({"code": "no.such.reason"}), "code")] {
        let (status, e) = call(app, Method::PUT, &reason_uri, Some(&token), Some(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert_eq!(e["error"]["field"], field);
    }
    let wrong = format!("/api/v1/equipment/{}/stops/{}/reason", eq.id, start + 1);
    let (status, e) = call(
        app,
        Method::PUT,
        &wrong,
        Some(&token),
        Some(json!({"code": "planned.maintenance"})),
    )
    .await;
    assert_eq!(
        (status, e["error"]["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("start"))
    );
    let (status, given) = call(
        app,
        Method::PUT,
        &reason_uri,
        Some(&token),
        Some(json!({"code": "planned.maintenance", "comment": "换主轴皮带"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{given}");
    assert_eq!(given["reason"]["zh"], "计划保养");
    assert_eq!(given["by"], "op-r");

    let (_, after) = call(app, Method::GET, &kpi_uri, Some(&token), None).await;
    let a = &after["shifts"][0];
    assert_eq!(a["time"]["planned_downtime"], 3600.0, "{after}");
    assert_eq!(a["losses"]["breakdown"], 0.0);
    assert_eq!(a["failures"], 0);
    assert!(
        a["kpis"]["availability"].as_f64().unwrap() > b["kpis"]["availability"].as_f64().unwrap()
    );
    let (_, stops) = call(app, Method::GET, &stops_uri, Some(&token), None).await;
    assert_eq!(stops[0]["reason"]["code"], "planned.maintenance");
    assert_eq!(stops[0]["comment"], "换主轴皮带");

    // The tree: the default until set; only editors may set it; a bad
    // tree is refused with its place.
    let (_, tree) = call(
        app,
        Method::GET,
        "/api/v1/downtime-reasons",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(tree["default"], true);
    let (status, _) = call(
        app,
        Method::PUT,
        "/api/v1/downtime-reasons",
        Some(&token),
        Some(json!({"reasons": []})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    store
        .create_user(tenant.id, "admin-r", "password-r2", Role::Admin)
        .await
        .unwrap();
    let (_, login) = call(
        app,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({"username": "admin-r", "password": "password-r2"})),
    )
    .await;
    let admin = login["token"].as_str().unwrap().to_owned();
    let bad = json!({"reasons": [{"code": "a.b", "zh": "甲", "en": "a", "class": "breakdown"}]});
    let (status, e) = call(
        app,
        Method::PUT,
        "/api/v1/downtime-reasons",
        Some(&admin),
        Some(bad),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["field"], "reasons[0].code");
    // A code a stop was given stays; its names may change.
    let mut reasons = tree["tree"]["reasons"].as_array().unwrap().clone();
    reasons.retain(|r| r["code"] != "planned.maintenance");
    let (status, e) = call(
        app,
        Method::PUT,
        "/api/v1/downtime-reasons",
        Some(&admin),
        Some(json!({"reasons": reasons})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`planned.maintenance` is the reason of 1 stop"),
        "{e}"
    );
    let mut renamed = tree["tree"]["reasons"].as_array().unwrap().clone();
    for r in &mut renamed {
        if r["code"] == "planned.maintenance" {
            r["zh"] = json!("计划维护保养");
        }
    }
    let (status, e) = call(
        app,
        Method::PUT,
        "/api/v1/downtime-reasons",
        Some(&admin),
        Some(json!({"reasons": renamed})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{e}");
    let (_, stops) = call(app, Method::GET, &stops_uri, Some(&token), None).await;
    assert_eq!(stops[0]["reason"]["zh"], "计划维护保养");
}

/// A lathe that sends only numbers gets its state from the rules of its
/// equipment type.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_rules_turn_signals_into_states() {
    let plant = Plant::new().await;
    let admin = plant.user("admin-s", Role::Admin).await;
    let (_, eq) = plant.machine("S", ("L", "L"), "M", None).await;
    let rules = json!({"types": [{"equipment_type": "cnc", "rules": [
        {"state": "down", "when": "alarm_active == 1"},
        {"state": "running", "when": "spindle_speed > 100"},
        {"state": "idle", "when": "true"}
    ]}]});
    let bad = json!({"types": [{"equipment_type": "cnc", "rules": [{"state": "running", "when": "spindle_speed >"}]}]});
    let (status, e) = call(
        &plant.app,
        Method::PUT,
        "/api/v1/state-rules",
        Some(&admin),
        Some(bad),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["field"], "types[0].rules[0].when");
    let (status, body) = call(
        &plant.app,
        Method::PUT,
        "/api/v1/state-rules",
        Some(&admin),
        Some(rules),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, got) = call(
        &plant.app,
        Method::GET,
        "/api/v1/state-rules",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(got["types"][0]["equipment_type"], "cnc");

    let (port, user, password) = plant.endpoint("GW", "zhizao/v1/S").await;
    let now = zhizao_live::now_ms();
    let t = |ms: i64, values: Value| {
        (
            "zhizao/v1/S/L/M/telemetry".to_owned(),
            json!({"ts": now + ms, "values": values}).to_string(),
        )
    };
    let state = || {
        plant
            .hub
            .machines(plant.tenant.id)
            .get(&eq.id)
            .map(|m| m.state)
    };
    publish(
        port,
        &user,
        &password,
        &[t(0, json!({"spindle_speed": 1200, "alarm_active": 0}))],
    )
    .await;
    assert_eq!(state(), Some(zhizao_core::MachineState::Running));
    publish(
        port,
        &user,
        &password,
        &[t(1000, json!({"alarm_active": 1}))],
    )
    .await;
    assert_eq!(
        state(),
        Some(zhizao_core::MachineState::Down),
        "the alarm bit wins over the spindle"
    );
    publish(
        port,
        &user,
        &password,
        &[t(2000, json!({"alarm_active": 0, "spindle_speed": 0}))],
    )
    .await;
    assert_eq!(state(), Some(zhizao_core::MachineState::Idle));
    // The derived changes are recorded like reported ones, for the KPIs.
    plant.hub.persist_once(&plant.store).await.unwrap();
    let (_, events) = plant
        .store
        .state_events_between(plant.tenant.id, eq.id, now - 1, now + 10_000)
        .await
        .unwrap();
    let states: Vec<&str> = events.iter().map(|e| e.state.as_str()).collect();
    assert_eq!(states, ["running", "down", "idle"]);
}

/// A press that only counts parts runs while the count rises, and turns
/// idle when the count stops, even if it sends nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_press_runs_while_its_count_rises() {
    let plant = Plant::new().await;
    let admin = plant.user("admin-p", Role::Admin).await;
    let (_, eq) = plant.machine("S", ("L", "L"), "P", None).await;
    let rules = json!({"types": [{"equipment_type": "cnc", "rules": [
        {"state": "running", "when": "count_good_rise_s < 30"},
        {"state": "idle", "when": "true"}
    ]}]});
    let (status, body) = call(
        &plant.app,
        Method::PUT,
        "/api/v1/state-rules",
        Some(&admin),
        Some(rules),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let gateway = zhizao_mqtt::gateway::Gateway::with_hub(
        plant.store.clone(),
        plant.tsdb.clone(),
        Some(plant.hub.clone()),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(zhizao_mqtt::serve(listener, gateway.clone()));
    let (user, password) = plant.device("GW", "zhizao/v1/S").await;
    let now = zhizao_live::now_ms();
    let count = |ms: i64, n: i64| {
        (
            "zhizao/v1/S/L/P/telemetry".to_owned(),
            json!({"ts": now + ms, "values": {"count_good": n}}).to_string(),
        )
    };
    let state = || {
        plant
            .hub
            .machines(plant.tenant.id)
            .get(&eq.id)
            .map(|m| (m.state, m.since))
    };
    // The first count is a baseline; the second is a rise.
    publish(port, &user, &password, &[count(0, 10)]).await;
    assert_eq!(state().map(|s| s.0), Some(zhizao_core::MachineState::Idle));
    publish(port, &user, &password, &[count(5_000, 11)]).await;
    assert_eq!(
        state().map(|s| s.0),
        Some(zhizao_core::MachineState::Running)
    );
    // Quiet: 29 s after the rise it still runs, 31 s after it is idle.
    gateway.tick_state_rules(now + 34_000).await;
    assert_eq!(
        state().map(|s| s.0),
        Some(zhizao_core::MachineState::Running)
    );
    gateway.tick_state_rules(now + 36_000).await;
    assert_eq!(
        state(),
        Some((zhizao_core::MachineState::Idle, now + 36_000))
    );
    // The next part: running again.
    publish(port, &user, &password, &[count(40_000, 12)]).await;
    assert_eq!(
        state().map(|s| s.0),
        Some(zhizao_core::MachineState::Running)
    );
}

/// Two machines in two sites over two shifts: the report sums them per
/// shift, day and scope, the new stop states count as their losses, and
/// the downtime Pareto ranks stop time by reason (or by state where no
/// reason was given).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_roll_up_machines_and_periods_and_rank_downtime() {
    let plant = Plant::new().await;
    let token = plant.user("planner", Role::Viewer).await;
    let (store, hub, app) = (&plant.store, &plant.hub, &plant.app);
    let (s1, m1) = plant.machine("S1", ("L1", "L1"), "M1", Some(60.0)).await;
    let (_, m2) = plant.machine("S2", ("L2", "L2"), "M2", Some(30.0)).await;
    let (port, u1, p1) = plant.endpoint("GW1", "zhizao/v1/S1").await;
    let (u2, p2) = plant.device("GW2", "zhizao/v1/S2").await;
    // The morning shift (A, 06:00 Shanghai) three days ago; its break is
    // minutes 225–255.
    let shift = (zhizao_live::now_ms() / 86_400_000 - 3) * 86_400_000 + 22 * 3_600_000;
    let minute = 60_000;
    let state = |site: &str, line: &str, code: &str, m: i64, s: &str| {
        (
            format!("zhizao/v1/{site}/{line}/{code}/state"),
            json!({"ts": shift + m * minute, "state": s}).to_string(),
        )
    };
    let one = |m, s| state("S1", "L1", "M1", m, s);
    publish(
        port,
        &u1,
        &p1,
        &[one(0, "running"), one(60, "down"), one(90, "running")],
    )
    .await;
    let two = |m, s| state("S2", "L2", "M2", m, s);
    publish(
        port,
        &u2,
        &p2,
        &[
            two(0, "running"),
            two(120, "starved"),
            two(140, "running"),
            two(170, "blocked"),
            two(180, "running"),
            two(300, "planned_stop"),
            two(315, "running"),
        ],
    )
    .await;
    hub.persist_once(store).await.unwrap();

    let get = |uri: String| {
        let token = token.clone();
        async move {
            let (status, body) = call(app, Method::GET, &uri, Some(&token), None).await;
            assert_eq!(status, StatusCode::OK, "{uri}: {body}");
            body
        }
    };
    let two_shifts = format!("from={shift}&to={}", shift + 960 * minute);
    let by_shift = get(format!("/api/v1/kpi/report?rollup=shift&{two_shifts}")).await;
    assert_eq!(by_shift["machines"], 2, "{by_shift}");
    let rows = by_shift["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{by_shift}");
    let (a, b) = (&rows[0]["kpi"], &rows[1]["kpi"]);
    assert_eq!(
        (a["shift"].as_str(), b["shift"].as_str()),
        (Some("A"), Some("B"))
    );
    assert!(rows[0]["key"].as_str().unwrap().ends_with(" A"));
    assert_eq!(a["time"]["pot"], 2.0 * 28_800.0);
    // Two breaks and the planned stop.
    assert_eq!(a["time"]["planned_downtime"], 2.0 * 1800.0 + 900.0, "{a}");
    assert_eq!(a["losses"]["breakdown"], 1800.0);
    assert_eq!(a["losses"]["starved"], 1200.0);
    assert_eq!(a["losses"]["blocked"], 600.0);
    assert_eq!(a["failures"], 1);
    assert_eq!(b["time"]["planned_downtime"], 2.0 * 1800.0, "{b}");
    assert_eq!(b["losses"]["breakdown"], 0.0);
    // A day is both shifts; the total is the day.
    let by_day = get(format!("/api/v1/kpi/report?{two_shifts}")).await;
    let day = &by_day["rows"].as_array().unwrap();
    assert_eq!(day.len(), 1, "{by_day}");
    assert_eq!(day[0]["kpi"]["time"]["pot"], 4.0 * 28_800.0);
    assert_eq!(day[0]["kpi"]["time"]["planned_downtime"], 8100.0);
    assert_eq!(day[0]["kpi"]["losses"]["starved"], 1200.0);
    assert_eq!(day[0]["kpi"]["date"], day[0]["key"]);
    assert_eq!(by_day["total"]["time"], day[0]["kpi"]["time"]);
    let week = get(format!("/api/v1/kpi/report?rollup=week&{two_shifts}")).await;
    let key = week["rows"][0]["key"].as_str().unwrap().to_owned();
    assert!(key.len() == 8 && key.contains("-W"), "{key}");
    // One site: only its machine.
    let site = get(format!(
        "/api/v1/kpi/report?scope=site:{}&rollup=month&{two_shifts}",
        s1.id
    ))
    .await;
    assert_eq!(site["machines"], 1);
    assert_eq!(site["name"], "S1");
    assert_eq!(site["rows"][0]["kpi"]["losses"]["starved"], 0.0);
    assert_eq!(site["rows"][0]["kpi"]["losses"]["breakdown"], 1800.0);
    let machine = get(format!(
        "/api/v1/kpi/report?scope=equipment:{}&{two_shifts}",
        m2.id
    ))
    .await;
    assert_eq!(machine["rows"][0]["kpi"]["losses"]["blocked"], 600.0);
    // Bad scopes and roll-ups are named.
    for (query, status, field) in [
        ("scope=floor:1", StatusCode::UNPROCESSABLE_ENTITY, "scope"),
        ("scope=area:987654", StatusCode::NOT_FOUND, "scope"),
        ("rollup=year", StatusCode::UNPROCESSABLE_ENTITY, "rollup"),
    ] {
        let uri = format!("/api/v1/kpi/report?{query}");
        let (got, e) = call(app, Method::GET, &uri, Some(&token), None).await;
        assert_eq!(
            (got, e["error"]["field"].as_str()),
            (status, Some(field)),
            "{e}"
        );
    }

    // The Pareto of the first shift, by state while nobody explained.
    let first = format!("from={shift}&to={}", shift + 480 * minute);
    let pareto = get(format!("/api/v1/kpi/downtime?{first}")).await;
    let keys = |p: &Value| {
        p["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["key"].as_str().unwrap().to_owned(),
                    i["seconds"].as_f64().unwrap(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        keys(&pareto),
        [
            ("state:down".to_owned(), 1800.0),
            ("state:starved".to_owned(), 1200.0),
            ("state:planned_stop".to_owned(), 900.0),
            ("state:blocked".to_owned(), 600.0),
        ],
        "{pareto}"
    );
    assert_eq!(pareto["total_seconds"], 4500.0);
    assert_eq!(pareto["stops"], 4);
    assert_eq!(pareto["items"][3]["cumulative_share"], 1.0);
    // An operator explains the breakdown as waiting for the crane; a
    // window that starts inside the starved stop counts it from there.
    let (status, given) = call(
        app,
        Method::PUT,
        &format!(
            "/api/v1/equipment/{}/stops/{}/reason",
            m1.id,
            shift + 60 * minute
        ),
        Some(&token),
        Some(json!({"code": "material.crane"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{given}");
    let pareto = get(format!(
        "/api/v1/kpi/downtime?from={}&to={}",
        shift + 130 * minute,
        shift + 480 * minute
    ))
    .await;
    assert_eq!(
        keys(&pareto),
        [
            ("state:planned_stop".to_owned(), 900.0),
            ("state:blocked".to_owned(), 600.0),
            ("state:starved".to_owned(), 600.0),
        ],
        "{pareto}"
    );
    let whole = get(format!(
        "/api/v1/kpi/downtime?scope=line:{}&{first}",
        m1.line_id
    ))
    .await;
    assert_eq!(keys(&whole), [("material.crane".to_owned(), 1800.0)]);
    assert_eq!(whole["items"][0]["reason"]["zh"], "等待吊运");
    assert_eq!(whole["machines"], 1);
}
