//! The real binary: `demo` on any free port and a new data dir, a second
//! start on the same dir keeps the data, bad configuration is named.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_zhizao");

/// Now, in ms since the epoch: tests write recent times, inside retention.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A minimal HTTP/1.1 exchange; returns (status, body).
fn http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split(' ').nth(1).unwrap().parse().unwrap();
    let (head, rest) = out.split_once("\r\n\r\n").unwrap();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    (status, body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Server {
    fn start(port: u16, dir: &std::path::Path, password: &str) -> Server {
        Server::run("demo", port, dir, password, "127.0.0.1:0")
    }

    fn run(command: &str, port: u16, dir: &std::path::Path, password: &str, mqtt: &str) -> Server {
        // Wrapped at once so a failed start still kills and reaps it.
        let server = Server(
            Command::new(BIN)
                .args([
                    command,
                    "--listen",
                    &format!("127.0.0.1:{port}"),
                    "--data-dir",
                ])
                .arg(dir)
                .env("ZHIZAO_ADMIN_PASSWORD", password)
                .env("ZHIZAO_MQTT_LISTEN", mqtt)
                .env("ZHIZAO_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", port)).is_ok()
                && http(port, "GET", "/healthz", None, None).0 == 200
            {
                return server;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("zhizao demo did not become healthy on port {port}");
    }

    /// Stops with SIGTERM and waits for a clean exit.
    fn stop(mut self) {
        let pid = self.0.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let status = self.0.wait().unwrap();
        assert!(status.success(), "zhizao exited with {status}");
    }
}

fn login(port: u16, password: &str) -> Option<String> {
    let body = format!(r#"{{"username":"admin","password":"{password}"}}"#);
    let (status, body) = http(port, "POST", "/api/v1/auth/login", None, Some(&body));
    (status == 200).then(|| {
        serde_json::from_str::<Value>(&body).unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    })
}

fn equipment_total(port: u16, token: &str) -> i64 {
    let (status, body) = http(port, "GET", "/api/v1/equipment?limit=1", Some(token), None);
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<Value>(&body).unwrap()["total"]
        .as_i64()
        .unwrap()
}

#[test]
fn demo_runs_on_a_fresh_dir_and_keeps_data_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("new-data-dir");
    let port = free_port();
    let server = Server::start(port, &data, "first-password");
    let token = login(port, "first-password").expect("login with ZHIZAO_ADMIN_PASSWORD");
    assert_eq!(equipment_total(port, &token), 42, "demo plant seeded");

    // The simulator's gateways connect over MQTT and report every machine's
    // state: soon no machine is offline.
    // Every machine in some state other than offline.
    let reporting = |counts: &Value| -> i64 {
        let all: i64 = counts
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_i64().unwrap())
            .sum();
        all - counts["offline"].as_i64().unwrap()
    };
    let mut counts = Value::Null;
    for _ in 0..100 {
        let (_, snap) = http(port, "GET", "/api/v1/live/snapshot", Some(&token), None);
        counts = serde_json::from_str::<Value>(&snap).unwrap()["state_counts"].clone();
        if reporting(&counts) == 42 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let non_offline = reporting(&counts);
    assert_eq!(non_offline, 42, "{counts}");
    // The demo's gateways are registered devices, and sending.
    let (_, devices) = http(port, "GET", "/api/v1/devices?limit=100", Some(&token), None);
    let devices: Value = serde_json::from_str(&devices).unwrap();
    assert_eq!(devices["total"], 18, "{devices}");

    // Add a machine, then restart on the same dir.
    let (_, lines) = http(port, "GET", "/api/v1/lines?limit=1", Some(&token), None);
    let line_id = serde_json::from_str::<Value>(&lines).unwrap()["items"][0]["id"]
        .as_i64()
        .unwrap();
    let body = format!(
        r#"{{"line_id":{line_id},"code":"NEW-01","name":"新设备","equipment_type":"drilling"}}"#
    );
    assert_eq!(
        http(port, "POST", "/api/v1/equipment", Some(&token), Some(&body)).0,
        201
    );
    server.stop();

    let port = free_port();
    // A different password on the second start does not replace the first.
    let server = Server::start(port, &data, "other-password");
    assert!(login(port, "other-password").is_none());
    let token = login(port, "first-password").expect("same admin after restart");
    assert_eq!(
        equipment_total(port, &token),
        43,
        "data kept, plant not seeded twice"
    );
    let (status, _) = http(port, "GET", "/api/v1/auth/me", Some(&token), None);
    assert_eq!(status, 200);
    server.stop();
}

#[test]
fn bad_settings_are_named_and_print_config_shows_the_effective_ones() {
    let out = Command::new(BIN)
        .args(["--listen", "nowhere", "serve"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("listen"), "{err}");

    let out = Command::new(BIN)
        .args(["serve", "--print-config"])
        .env("ZHIZAO_LISTEN", "127.0.0.1:9999")
        .env("ZHIZAO_DATA_DIR", "/srv/zz")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("listen = \"127.0.0.1:9999\""), "{text}");
    assert!(
        text.contains("database_url = \"sqlite:///srv/zz/zhizao.db\""),
        "{text}"
    );

    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("zhizao "));
}

#[test]
fn migrate_creates_the_database_and_is_repeatable() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let out = Command::new(BIN)
            .arg("migrate")
            .arg("--data-dir")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(dir.path().join("zhizao.db").is_file());
}

/// Writes line protocol at full speed, kills the server with SIGKILL
/// mid-stream, restarts it, and checks that every acknowledged point is
/// there exactly once.
#[test]
fn acknowledged_history_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let mut server = Server::run("serve", port, &data, "crash-test-pw", "127.0.0.1:0");
    let token = login(port, "crash-test-pw").unwrap();

    const LINES: i64 = 500;
    // Recent times (a day ago, one point a second), inside raw retention.
    let base = now_ms() / 1000 - 86_400;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (token, stop) = (token.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut acked = 0i64;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let body: String = (0..LINES)
                    .map(|i| {
                        let n = acked * LINES + i;
                        format!("crash,device=d{} value={n}i {}\n", n % 7, base + n)
                    })
                    .collect();
                match std::panic::catch_unwind(|| {
                    http(
                        port,
                        "POST",
                        "/write?db=x&precision=s",
                        Some(&token),
                        Some(&body),
                    )
                }) {
                    Ok((204, _)) => acked += 1,
                    _ => break,
                }
            }
            acked
        })
    };
    std::thread::sleep(Duration::from_millis(1500));
    server.0.kill().unwrap(); // SIGKILL: no shutdown path runs
    server.0.wait().unwrap();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let acked_batches = writer.join().unwrap();
    eprintln!("{acked_batches} batches of {LINES} lines acknowledged before the kill");
    assert!(
        acked_batches > 3,
        "only {acked_batches} batches were acknowledged before the kill"
    );
    drop(server);

    let port = free_port();
    let server = Server::run("serve", port, &data, "crash-test-pw", "127.0.0.1:0");
    let token = login(port, "crash-test-pw").unwrap();
    let acked_points = acked_batches * LINES;
    let count = |start: i64, end: i64| {
        let q = format!(
            r#"{{"measurement":"crash","fields":["value"],"start":{},"end":{},"aggregate":"count"}}"#,
            (base + start) * 1000,
            (base + end) * 1000
        );
        let (status, body) = http(port, "POST", "/api/v1/series/query", Some(&token), Some(&q));
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<Value>(&body).unwrap()["series"][0]["points"][0][1]
            .as_i64()
            .unwrap_or(0)
    };
    assert_eq!(
        count(0, acked_points),
        acked_points,
        "every acknowledged point is stored once"
    );
    // The batch in flight at the kill may or may not have been stored, whole or not at all.
    let extra = count(acked_points, acked_points + 10 * LINES);
    assert!(
        extra == 0 || extra == LINES,
        "in-flight batch partly stored: {extra}"
    );
    server.stop();
}

/// Devices publish QoS 1 over the built-in endpoint at full speed; the
/// server is killed with SIGKILL and restarted: every acknowledged message
/// is stored, none twice.
#[test]
fn acknowledged_mqtt_messages_survive_kill_9() {
    use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (port, mqtt_port) = (free_port(), free_port());
    let mqtt = format!("127.0.0.1:{mqtt_port}");
    let mut server = Server::run("serve", port, &data, "mqtt-crash-pw", &mqtt);
    let token = login(port, "mqtt-crash-pw").unwrap();
    let (status, body) = http(
        port,
        "POST",
        "/api/v1/devices",
        Some(&token),
        Some(r#"{"code":"GW-1","topic_prefix":"zhizao/v1/S1"}"#),
    );
    assert_eq!(status, 201, "{body}");
    let created: Value = serde_json::from_str(&body).unwrap();
    let user = created["device"]["username"].as_str().unwrap().to_owned();
    let pass = created["password"].as_str().unwrap().to_owned();
    // One message a millisecond-stamp apart, from a day ago: 3 values each.
    let base = now_ms() - 86_400_000;
    let publisher = std::thread::spawn(move || {
        let mut opts = MqttOptions::new("crash-gw", "127.0.0.1", mqtt_port);
        opts.set_credentials(user, pass);
        let (client, mut conn) = Client::new(opts, 64);
        let sender = std::thread::spawn(move || {
            for k in 0..1_000_000i64 {
                let body = format!(
                    r#"{{"ts":{},"values":{{"a":{k},"b":1.5,"c":true}}}}"#,
                    base + k
                );
                if client
                    .publish(
                        "zhizao/v1/S1/L1/M1/telemetry",
                        QoS::AtLeastOnce,
                        false,
                        body,
                    )
                    .is_err()
                {
                    break;
                }
            }
        });
        let mut acked = 0i64;
        for ev in conn.iter() {
            match ev {
                Ok(Event::Incoming(Packet::PubAck(_))) => acked += 1,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        drop(sender);
        acked
    });
    std::thread::sleep(Duration::from_millis(2000));
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    let acked = publisher.join().unwrap();
    eprintln!("{acked} QoS 1 messages acknowledged before the kill");
    assert!(acked > 10, "only {acked} messages were acknowledged");
    drop(server);

    let port = free_port();
    let server = Server::run("serve", port, &data, "mqtt-crash-pw", "127.0.0.1:0");
    let token = login(port, "mqtt-crash-pw").unwrap();
    let count = |start: i64, end: i64| {
        let q = format!(
            r#"{{"measurement":"telemetry","fields":["a"],"start":{},"end":{},"aggregate":"count"}}"#,
            base + start,
            base + end
        );
        let (status, body) = http(port, "POST", "/api/v1/series/query", Some(&token), Some(&q));
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<Value>(&body).unwrap()["series"][0]["points"][0][1]
            .as_i64()
            .unwrap_or(0)
    };
    // Acknowledgements come in order, so the first `acked` messages are in.
    assert_eq!(
        count(0, acked),
        acked,
        "every acknowledged message is stored once"
    );
    // Stored but never acknowledged: at most what the client had in
    // flight (rumqttc's default window is 100 messages).
    let extra = count(acked, acked + 1_000_000);
    assert!(extra <= 100, "more than the messages in flight: {extra}");
    server.stop();
}

/// Alarms that are not over when the server stops are on the list again
/// after it starts, acknowledged as they were, and clear the normal way.
#[test]
fn open_alarms_survive_a_restart() {
    use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (port, mqtt_port) = (free_port(), free_port());
    let mqtt = format!("127.0.0.1:{mqtt_port}");
    let server = Server::run("serve", port, &data, "alarm-restart-pw", &mqtt);
    let token = login(port, "alarm-restart-pw").unwrap();
    let rules = r#"{"rules":[
        {"id":"hot","name":"温度过高","severity":"high","condition":{"kind":"above","field":"temperature","limit":80}},
        {"id":"wet","name":"湿度过高","severity":"low","condition":{"kind":"above","field":"humidity","limit":90}}]}"#;
    let (status, body) = http(
        port,
        "PUT",
        "/api/v1/alarm-rules",
        Some(&token),
        Some(rules),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = http(
        port,
        "POST",
        "/api/v1/devices",
        Some(&token),
        Some(r#"{"code":"GW-A","topic_prefix":"zhizao/v1/S1"}"#),
    );
    assert_eq!(status, 201, "{body}");
    let created: Value = serde_json::from_str(&body).unwrap();
    let user = created["device"]["username"].as_str().unwrap().to_owned();
    let pass = created["password"].as_str().unwrap().to_owned();
    let publish = move |port: u16, values: &str| {
        let mut opts = MqttOptions::new("alarm-gw", "127.0.0.1", port);
        opts.set_credentials(user.clone(), pass.clone());
        let (client, mut conn) = Client::new(opts, 8);
        let body = format!(r#"{{"ts":{},"values":{values}}}"#, now_ms());
        client
            .publish(
                "zhizao/v1/S1/L1/M1/telemetry",
                QoS::AtLeastOnce,
                false,
                body,
            )
            .unwrap();
        for ev in conn.iter() {
            if matches!(ev.unwrap(), Event::Incoming(Packet::PubAck(_))) {
                break;
            }
        }
    };
    let active = |port: u16, token: &str| {
        let (status, body) = http(port, "GET", "/api/v1/alarms", Some(token), None);
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<Value>(&body).unwrap()["active"]
            .as_array()
            .unwrap()
            .clone()
    };
    publish(mqtt_port, r#"{"temperature":95.0,"humidity":95.0}"#);
    let list = active(port, &token);
    assert_eq!(list.len(), 2, "{list:?}");
    let hot = list.iter().find(|a| a["rule"] == "hot").unwrap().clone();
    let id = hot["id"].as_i64().unwrap();
    let top = list
        .iter()
        .map(|a| a["id"].as_i64().unwrap())
        .max()
        .unwrap();
    let (status, body) = http(
        port,
        "POST",
        &format!("/api/v1/alarms/{id}/acknowledge"),
        Some(&token),
        Some(r#"{"comment":"风扇已检查"}"#),
    );
    assert_eq!(status, 200, "{body}");
    server.stop();

    let (port, mqtt_port) = (free_port(), free_port());
    let mqtt = format!("127.0.0.1:{mqtt_port}");
    let server = Server::run("serve", port, &data, "alarm-restart-pw", &mqtt);
    let token = login(port, "alarm-restart-pw").unwrap();
    let list = active(port, &token);
    assert_eq!(list.len(), 2, "both alarms are back: {list:?}");
    let hot = list.iter().find(|a| a["id"] == id).unwrap();
    assert_eq!(hot["state"], "active_acked");
    assert_eq!(hot["acknowledged"]["comment"], "风扇已检查");
    // Cooler now: the acknowledged alarm is over, the other one clears.
    publish(mqtt_port, r#"{"temperature":20.0,"humidity":50.0}"#);
    let list = active(port, &token);
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["rule"], "wet");
    assert_eq!(list[0]["state"], "cleared_unacked");
    // A new alarm gets a new number.
    publish(mqtt_port, r#"{"temperature":99.0}"#);
    let list = active(port, &token);
    let new = list.iter().find(|a| a["rule"] == "hot").unwrap();
    assert!(new["id"].as_i64().unwrap() > top, "{list:?}");
    server.stop();
}

/// `zhizao import csv` against a running server, in chunks: good rows are
/// stored, bad ones are reported by row and column (numbered as in the
/// file, whatever chunk they fell in) and written to an error file.
#[test]
fn csv_import_keeps_good_rows_and_names_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let server = Server::run("serve", port, &data, "csv-import-pw", "off");
    let token = login(port, "csv-import-pw").unwrap();
    let base = now_ms() - 3_600_000;
    let mut csv = String::from("time,equipment,spindle_temp,note\n");
    for i in 0..10i64 {
        let row = match i {
            3 => format!("not-a-time,CUT-01,{i},x\n"),
            7 => format!("{},,{i},x\n", base + i * 1000),
            8 => format!("{},CUT-01,{i},\"two\nlines\"\n", base + i * 1000),
            _ => format!("{},CUT-01,{i}.5,x\n", base + i * 1000),
        };
        csv.push_str(&row);
    }
    let file = dir.path().join("history.csv");
    std::fs::write(&file, csv).unwrap();
    let errors = dir.path().join("errors.csv");
    let out = Command::new(BIN)
        .args(["import", "csv"])
        .arg(&file)
        .args([
            "--url",
            &format!("http://127.0.0.1:{port}"),
            "--tag-columns",
            "equipment",
            "--tags",
            "site:S1",
            "--chunk-rows",
            "3",
            "--errors",
        ])
        .arg(&errors)
        .env("ZHIZAO_TOKEN", &token)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("10 rows read: 8 stored"), "{stdout}");
    assert!(stdout.contains("row 5, column `time`"), "{stdout}");
    assert!(stdout.contains("row 9, column `equipment`"), "{stdout}");
    let report = std::fs::read_to_string(&errors).unwrap();
    assert_eq!(report.lines().count(), 3, "{report}");
    let q = format!(
        r#"{{"measurement":"telemetry","fields":["spindle_temp"],"where":{{"site":"S1","equipment":"CUT-01"}},"start":{},"end":{},"aggregate":"count"}}"#,
        base,
        base + 60_000
    );
    let (status, body) = http(port, "POST", "/api/v1/series/query", Some(&token), Some(&q));
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["series"][0]["points"][0][1], 8, "{body}");
    // A wrong token stops at once with the server's answer.
    let out = Command::new(BIN)
        .args(["import", "csv"])
        .arg(&file)
        .args(["--url", &format!("http://127.0.0.1:{port}")])
        .env("ZHIZAO_TOKEN", "wrong")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));
    server.stop();
}

/// `zhizao kpi compute FILE --json` gives every expected KPI of the
/// published worked examples within each case's tolerance.
#[test]
fn kpi_compute_matches_the_reference_cases() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = root.join("../../../shared/reference/kpi-cases.json");
    let file = if shared.exists() {
        shared
    } else {
        root.join("../zhizao-kpi/tests/fixtures/kpi-cases.json")
    };
    let out = Command::new(BIN)
        .args(["kpi", "compute", "--json"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let mut checked = 0;
    for case in doc["cases"].as_array().unwrap() {
        let id = case["id"].as_str().unwrap();
        let tol = case["tolerance"]["abs"].as_f64().unwrap();
        for (name, want) in case["expected"].as_object().unwrap() {
            let have = got[id][name].as_f64().unwrap_or(f64::NAN);
            assert!(
                (have - want.as_f64().unwrap()).abs() <= tol,
                "{id}.{name}: {have} against {want}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 30);
    // A broken file is refused with its place.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"cases":[{"id":"a","inputs":{"APT":"x"}}]}"#).unwrap();
    let out = Command::new(BIN)
        .args(["kpi", "compute"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cases[0].inputs.APT"), "{err}");
}

/// `zhizao plan run` and `zhizao plan promise` on a small pump plant: the
/// planned orders, the overloaded lathe, a promise with its reason, and a
/// bad reference named with its place.
#[test]
fn plan_run_and_promise_on_a_plant_file() {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/pump-plant.json"
    );
    let run = |args: &[&str]| {
        let out = Command::new(BIN).args(args).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, stdout, stderr) = run(&["plan", "run", fixture, "--json"]);
    assert!(ok, "{stderr}");
    let plan: Value = serde_json::from_str(&stdout).unwrap();
    let orders: Vec<(String, i64, i64, f64)> = plan["planned_orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["item"].as_str().unwrap().to_owned(),
                o["release"].as_i64().unwrap(),
                o["due"].as_i64().unwrap(),
                o["quantity"].as_f64().unwrap(),
            )
        })
        .collect();
    let o = |i: &str, r, d, q| (i.to_owned(), r, d, q);
    assert_eq!(
        orders,
        [
            // 4 pumps on hand; 12 due in bucket 3, 6 in bucket 6.
            o("QJ-50", 2, 3, 8.0),
            o("QJ-50", 5, 6, 6.0),
            // At least 10 impellers, in fives.
            o("IMPELLER-50", 1, 2, 10.0),
            o("IMPELLER-50", 4, 5, 10.0),
            // 0.8 bar an impeller, 5 % scrap.
            o("BAR-304", 0, 1, 8.4),
            o("BAR-304", 3, 4, 8.4),
        ]
    );
    // The casings come from stock and the open receipt; no order needed.
    assert_eq!(plan["planned_orders"][0]["pegs"][0]["demand"], 101);
    assert_eq!(plan["planned_orders"][2]["pegs"][0]["parent"], "QJ-50");
    assert_eq!(plan["overloads"][0]["work_centre"], "CNC-LATHE");
    assert_eq!(plan["overloads"][0]["load_hours"], 12.5);

    let (ok, stdout, stderr) = run(&[
        "plan",
        "promise",
        fixture,
        "--item",
        "QJ-50",
        "--quantity",
        "10",
        "--bucket",
        "2",
        "--json",
    ]);
    assert!(ok, "{stderr}");
    let p: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(p["bucket"], 7, "{p}");
    assert_eq!(
        (p["reason"].as_str(), p["short"].as_str()),
        (Some("lead_time"), Some("CASING-50"))
    );

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    let text = std::fs::read_to_string(fixture)
        .unwrap()
        .replace(r#""component": "BAR-304""#, r#""component": "BAR-316""#);
    std::fs::write(&bad, text).unwrap();
    let (ok, _, stderr) = run(&["plan", "run", bad.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        stderr.contains("bom[2].component: no item `BAR-316`"),
        "{stderr}"
    );
    let (ok, _, stderr) = run(&[
        "plan",
        "promise",
        fixture,
        "--item",
        "NOPE",
        "--quantity",
        "1",
    ]);
    assert!(!ok && stderr.contains("no item `NOPE`"), "{stderr}");
}

/// `schedule solve --json` gives a schedule that `schedule check` accepts
/// (Brandimarte mk01, best known 40); a bad instance names its line.
#[test]
fn schedule_solve_and_check() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mk01.fjs");
    let out = Command::new(BIN)
        .args([
            "schedule",
            "solve",
            fixture,
            "--time-limit",
            "20",
            "--iterations",
            "3000",
            "--threads",
            "2",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let makespan = v["makespan"].as_u64().unwrap();
    assert!((40..=44).contains(&makespan), "{makespan}");
    assert_eq!(v["operations"].as_array().unwrap().len(), 55);
    let solution = dir.path().join("solution.json");
    std::fs::write(&solution, &out.stdout).unwrap();
    let ok = Command::new(BIN)
        .args(["schedule", "check", fixture, solution.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // A tampered solution is refused with the reason.
    let mut bad = v.clone();
    bad["operations"][0]["end"] = Value::from(bad["operations"][0]["end"].as_u64().unwrap() + 1);
    std::fs::write(&solution, bad.to_string()).unwrap();
    let refused = Command::new(BIN)
        .args(["schedule", "check", fixture, solution.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("takes"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let broken = dir.path().join("broken.txt");
    std::fs::write(&broken, "2 2\n0 3 1 2\n1 4 5 1\n").unwrap();
    let err = Command::new(BIN)
        .args(["schedule", "solve", broken.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!err.status.success());
    assert!(
        String::from_utf8_lossy(&err.stderr).contains("line 3: machine 5 is out of range (0 to 1)"),
        "{}",
        String::from_utf8_lossy(&err.stderr)
    );
    // A plant in JSON: its precedence loops, and the error says where.
    let plant = dir.path().join("plant.json");
    std::fs::write(
        &plant,
        r#"{"machines": 1,
"jobs": [
 {"operations": [{"modes": [[0, 3]]}], "due": 5},
 {"operations": [{"modes": [[0, 4]]}]}
],
"links": [{"before": {"job": 0, "operation": 0}, "after": {"job": 1, "operation": 0}},
          {"before": {"job": 1, "operation": 0}, "after": {"job": 0, "operation": 0}}]}"#,
    )
    .unwrap();
    let err = Command::new(BIN)
        .args(["schedule", "solve", plant.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&err.stderr);
    assert!(!err.status.success());
    assert!(
        stderr.contains("line 4: jobs[1].operations[0]: the precedence is a cycle"),
        "{stderr}"
    );
    let fixed = std::fs::read_to_string(&plant).unwrap().replace(
        r#",
          {"before": {"job": 1, "operation": 0}, "after": {"job": 0, "operation": 0}}"#,
        "",
    );
    std::fs::write(&plant, fixed).unwrap();
    let out = Command::new(BIN)
        .args([
            "schedule",
            "solve",
            plant.to_str().unwrap(),
            "--json",
            "--iterations",
            "100",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["makespan"], 7);
    assert_eq!(v["costs"]["weighted_tardiness"], 0);
}

/// `zhizao spc analyze FILE --json` gives every expected value of the SPC
/// reference cases within each case's tolerance; bad input exits non-zero
/// naming the field.
#[test]
fn spc_analyze_matches_the_reference_cases() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = root.join("../../../shared/reference/spc-cases.json");
    let file = if shared.exists() {
        shared
    } else {
        root.join("../zhizao-spc/tests/fixtures/spc-cases.json")
    };
    let out = Command::new(BIN)
        .args(["spc", "analyze", "--json"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let mut checked = 0;
    for case in doc["cases"].as_array().unwrap() {
        let id = case["id"].as_str().unwrap();
        let tol = case["tolerance"]["abs"].as_f64().unwrap_or(0.0);
        checked += zhizao_testkit::json_within(id, &got[id], &case["expected"], tol);
    }
    assert!(checked >= 300, "{checked}");
    // The summary names each case.
    let out = Command::new(BIN)
        .args(["spc", "analyze"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("cusum_montgomery_table_9_1"));
    // Bad input: non-zero with the field.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"cases":[{"id":"a","chart":"p","data":{"nonconforming":[3,9],"sample_sizes":[50,5]}}]}"#,
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["spc", "analyze"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cases[0].data.nonconforming[1]"), "{err}");
}

/// A connected gauge publishes readings over MQTT to `zhizao serve`: each
/// becomes a sample of its characteristic, acknowledged once stored; a
/// reading of an unknown characteristic is refused with its reason.
#[test]
fn gauge_readings_over_mqtt_become_samples() {
    use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
    let dir = tempfile::tempdir().unwrap();
    let (port, mqtt_port) = (free_port(), free_port());
    let server = Server::run(
        "serve",
        port,
        &dir.path().join("data"),
        "gauge-pw",
        &format!("127.0.0.1:{mqtt_port}"),
    );
    let token = login(port, "gauge-pw").unwrap();
    let characteristic = r#"{"code":"BORE-D","name":"内孔直径","item":"CASING-50","stage":"ipqc","chart":"xbar_r",
        "subgroup_size":3,"lsl":24.97,"usl":25.03,"sampling":{"every_minutes":30},"equipment":"TRN-01"}"#;
    let (status, body) = http(
        port,
        "POST",
        "/api/v1/quality/characteristics",
        Some(&token),
        Some(characteristic),
    );
    assert_eq!(status, 201, "{body}");
    let id = serde_json::from_str::<Value>(&body).unwrap()["id"]
        .as_i64()
        .unwrap();
    let (status, body) = http(
        port,
        "POST",
        "/api/v1/devices",
        Some(&token),
        Some(r#"{"code":"GAUGE-1","topic_prefix":"zhizao/v1/S1/L-TRN"}"#),
    );
    assert_eq!(status, 201, "{body}");
    let created: Value = serde_json::from_str(&body).unwrap();
    let device = created["device"]["id"].as_i64().unwrap();
    let mut opts = MqttOptions::new("gauge-1", "127.0.0.1", mqtt_port);
    opts.set_credentials(
        created["device"]["username"].as_str().unwrap(),
        created["password"].as_str().unwrap(),
    );
    let (client, mut conn) = Client::new(opts, 10);
    let topic = "zhizao/v1/S1/L-TRN/TRN-01/measurement";
    for body in [
        r#"{"characteristic":"BORE-D","values":[25.001,25.0,24.999],"lot":"LCAS-001"}"#,
        r#"{"characteristic":"BORE-D","values":[25.002,25.001,25.0],"lot":"LCAS-001","operator":"张伟"}"#,
        r#"{"characteristic":"SHAFT-OD","values":[20.0]}"#,
    ] {
        client
            .publish(topic, QoS::AtLeastOnce, false, body)
            .unwrap();
    }
    let mut acked = 0;
    for ev in conn.iter() {
        if let Ok(Event::Incoming(Packet::PubAck(_))) = ev {
            acked += 1;
            if acked == 3 {
                break;
            }
        }
    }
    let (status, body) = http(
        port,
        "GET",
        &format!("/api/v1/quality/characteristics/{id}/chart"),
        Some(&token),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let chart: Value = serde_json::from_str(&body).unwrap();
    let samples = chart["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 2, "{body}");
    assert_eq!(samples[0]["source"], "mqtt");
    assert_eq!(samples[0]["equipment"], "TRN-01");
    assert_eq!(samples[0]["operator"], "gauge");
    assert_eq!(samples[1]["operator"], "张伟");
    let (_, body) = http(
        port,
        "GET",
        &format!("/api/v1/devices/{device}/rejections"),
        Some(&token),
        None,
    );
    assert!(body.contains("SHAFT-OD"), "{body}");
    drop(server);
}
