//! The generated MRP plant through the platform: its master data, orders
//! and open receipts (as released work orders) stored in a fresh embedded
//! store, then MRP runs, net changes and order promises asked over HTTP
//! of a running API, as a planner's screen asks them. Unlike `mrp`, these
//! figures include reading the plant from the store, building the report
//! and keeping the run.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use zhizao_api::AppState;
use zhizao_live::LiveHub;
use zhizao_plan::book::{
    MasterBomLine, MasterData, MasterItem, MasterOperation, MasterWorkCentre, Weeks, format_date,
};
use zhizao_plan::{ItemKind, Plan};
use zhizao_store::{NewCustomerOrder, NewWorkOrder};
use zhizao_tsdb::{Tsdb, TsdbConfig};

use crate::BenchError;
use crate::mrp::{centres, plant, routings};

#[derive(Debug, Clone, Serialize)]
pub struct PlatformMrpReport {
    pub items: usize,
    pub orders: usize,
    pub work_orders: usize,
    /// Storing the master data (one transaction).
    pub store_master_ms: f64,
    /// `POST /plan/runs` regenerative: every run's time, as the client saw it.
    pub regenerate_ms: Vec<f64>,
    /// The run's own planning time (load, plan, report), as it reports.
    pub regenerate_server_ms: Vec<f64>,
    /// The stored run's size.
    pub run_bytes: usize,
    /// `PUT /orders/{id}` then `POST /plan/runs` net change: (n, median, max).
    pub net_change_ms: (usize, f64, f64),
    /// `POST /plan/promise`: (n, median, max).
    pub promise_ms: (usize, f64, f64),
    pub promised_on_time: usize,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn err(e: impl std::fmt::Display) -> BenchError {
    BenchError::Http(e.to_string())
}

/// The generated plant as a tenant keeps it.
fn master_of(
    seed: u64,
    orders: usize,
    horizon: usize,
) -> Result<(MasterData, zhizao_plan::PlanInput), BenchError> {
    let input = plant(seed, orders, horizon);
    let ops = routings(&input, 11);
    let plan = Plan::regenerate(input.clone()).map_err(|e| BenchError::Plan(e.to_string()))?;
    let wcs = centres(&plan, &ops).map_err(|e| BenchError::Plan(e.to_string()))?;
    let mut seq: HashMap<usize, u32> = HashMap::new();
    let master = MasterData {
        units: Vec::new(),
        items: input
            .items
            .iter()
            .map(|i| MasterItem::of(i, String::new(), "pcs".into()))
            .collect(),
        bom: input
            .bom
            .iter()
            .map(|l| MasterBomLine {
                parent: input.items[l.parent].code.clone(),
                component: input.items[l.component].code.clone(),
                quantity: l.quantity,
                uom: None,
                scrap_pct: l.scrap_pct,
                valid_from: None,
                valid_to: None,
            })
            .collect(),
        // A week has 168 hours: a centre's hours are spread over as many
        // machines as it takes.
        work_centres: wcs
            .iter()
            .map(|c| {
                let machines = (c.hours_per_bucket / 120.0).ceil().max(1.0);
                MasterWorkCentre {
                    code: c.code.clone(),
                    name: String::new(),
                    machines: machines as u32,
                    hours_per_week: Some((c.hours_per_bucket / machines).max(1.0)),
                    efficiency: c.efficiency,
                }
            })
            .collect(),
        routings: ops
            .iter()
            .map(|o| {
                let s = seq.entry(o.item).or_insert(0);
                *s += 10;
                MasterOperation {
                    item: input.items[o.item].code.clone(),
                    seq: *s,
                    work_centre: wcs[o.work_centre].code.clone(),
                    alternatives: Vec::new(),
                    setup_hours: o.setup_hours,
                    run_hours_per_unit: o.run_hours_per_unit,
                    min_transfer_batch: None,
                    queue_hours: 0.0,
                    move_hours: 0.0,
                }
            })
            .collect(),
        capacity_changes: Vec::new(),
    };
    Ok((master, input))
}

pub async fn run(
    orders: usize,
    horizon: usize,
    changes: usize,
) -> Result<PlatformMrpReport, BenchError> {
    let (master, input) = master_of(2026, orders, horizon)?;
    let dir = tempfile::tempdir()?;
    let (store, tenant) = crate::fresh_registry(dir.path()).await?;
    store
        .create_user(
            tenant.id,
            "planner",
            "planner-pass-1",
            zhizao_core::Role::Planner,
        )
        .await?;
    let started = Instant::now();
    store.put_plan_master(tenant.id, &master).await?;
    let store_master_ms = started.elapsed().as_secs_f64() * 1000.0;

    // Due dates and receipts from this week's Monday (the API plans from
    // today, in Shanghai when the tenant has no site).
    let today = zhizao_api::planning::local_date("Asia/Shanghai").ok_or_else(|| err("no date"))?;
    let weeks = Weeks::from_today(today, horizon);
    let date = move |bucket: usize, day: i64| {
        format_date(weeks.start_of(bucket) + time::Duration::days(day))
    };
    let codes: Vec<String> = input.items.iter().map(|i| i.code.clone()).collect();
    let code = move |i: usize| codes[i].clone();
    let book: Vec<NewCustomerOrder> = input
        .demands
        .iter()
        .map(|d| NewCustomerOrder {
            number: format!("SO-{:06}", d.id),
            customer: format!("C{:03}", d.id % 300),
            item: code(d.item),
            quantity: d.quantity,
            due_date: date(d.bucket, 2),
            priority: 5,
            status: "open".into(),
            note: String::new(),
        })
        .collect();
    store.upsert_customer_orders(tenant.id, &book).await?;
    let work_orders: Vec<NewWorkOrder> = input
        .receipts
        .iter()
        .filter(|r| {
            !input.items[r.item].kind.is_bought() && input.items[r.item].kind != ItemKind::Phantom
        })
        .map(|r| NewWorkOrder {
            item: code(r.item),
            quantity: r.quantity,
            release_date: date(r.bucket.saturating_sub(1), 0),
            due_date: date(r.bucket, 0),
            pegs: "[]".into(),
            operations: Vec::new(),
        })
        .collect();
    store.create_work_orders(tenant.id, &work_orders).await?;

    let history = Arc::new(Tsdb::open(TsdbConfig::new(dir.path().join("tsdb")))?);
    let state = AppState::new(
        store.clone(),
        Arc::new(LiveHub::default()),
        history,
        1 << 20,
    );
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = http.local_addr()?;
    let api = tokio::spawn(zhizao_api::serve(http, state, std::future::pending()));

    let base = format!("http://{addr}/api/v1");
    let orders_len = book.len();
    let numbers: Vec<String> = book.iter().map(|o| o.number.clone()).collect();
    let result = tokio::task::spawn_blocking(move || -> Result<PlatformMrpReport, BenchError> {
        let agent = ureq::Agent::new_with_defaults();
        let call = |method: &str,
                    path: &str,
                    token: Option<&str>,
                    body: &str|
         -> Result<(String, f64), BenchError> {
            let url = format!("{base}{path}");
            let started = Instant::now();
            let mut res = match method {
                "POST" => {
                    let mut r = agent.post(&url).header("content-type", "application/json");
                    if let Some(t) = token {
                        r = r.header("authorization", &format!("Bearer {t}"));
                    }
                    r.send(body).map_err(err)?
                }
                _ => {
                    let mut r = agent.put(&url).header("content-type", "application/json");
                    if let Some(t) = token {
                        r = r.header("authorization", &format!("Bearer {t}"));
                    }
                    r.send(body).map_err(err)?
                }
            };
            let text = res
                .body_mut()
                .with_config()
                .limit(1 << 31)
                .read_to_string()
                .map_err(err)?;
            Ok((text, started.elapsed().as_secs_f64() * 1000.0))
        };
        let (login, _) = call(
            "POST",
            "/auth/login",
            None,
            r#"{"username":"planner","password":"planner-pass-1"}"#,
        )?;
        let login: serde_json::Value = serde_json::from_str(&login).map_err(err)?;
        let token = login["token"]
            .as_str()
            .ok_or_else(|| err("no token"))?
            .to_owned();
        let t = Some(token.as_str());
        let run_body = format!(r#"{{"kind":"regenerative","weeks":{horizon}}}"#);
        let mut regenerate_ms = Vec::new();
        let mut regenerate_server_ms = Vec::new();
        let mut run_bytes = 0;
        for _ in 0..3 {
            let (text, ms) = call("POST", "/plan/runs", t, &run_body)?;
            let v: serde_json::Value = serde_json::from_str(&text).map_err(err)?;
            regenerate_server_ms.push(
                v["elapsed_ms"]
                    .as_f64()
                    .ok_or_else(|| err(format!("run failed: {}", &text[..text.len().min(300)])))?,
            );
            regenerate_ms.push(ms);
            run_bytes = text.len();
        }
        let mut rng = StdRng::seed_from_u64(7);
        let mut net = Vec::new();
        let net_body = format!(r#"{{"kind":"net_change","weeks":{horizon}}}"#);
        for _ in 0..changes {
            let k = rng.gen_range(0..orders_len);
            let body = serde_json::json!({
                "number": numbers[k],
                "customer": "C000",
                "item": code(rng.gen_range(0..crate::mrp::LEVELS[0])),
                "quantity": rng.gen_range(5..60),
                "due_date": date(rng.gen_range(0..horizon), 3),
            });
            // Order ids are 1.. in insertion order on a fresh store.
            let started = Instant::now();
            call("PUT", &format!("/orders/{}", k + 1), t, &body.to_string())?;
            let (text, _) = call("POST", "/plan/runs", t, &net_body)?;
            net.push(started.elapsed().as_secs_f64() * 1000.0);
            let v: serde_json::Value = serde_json::from_str(&text).map_err(err)?;
            if v["kind"] != "net_change" {
                return Err(err(format!(
                    "a net change regenerated: {}",
                    &text[..text.len().min(300)]
                )));
            }
        }
        let mut promise = Vec::new();
        let mut on_time = 0;
        for _ in 0..changes {
            let body = serde_json::json!({
                "item": code(rng.gen_range(0..crate::mrp::LEVELS[0])),
                "quantity": rng.gen_range(1..100),
                "due_date": date(rng.gen_range(0..horizon), 2),
            });
            let (text, ms) = call("POST", "/plan/promise", t, &body.to_string())?;
            promise.push(ms);
            let v: serde_json::Value = serde_json::from_str(&text).map_err(err)?;
            on_time += usize::from(v["on_time"] == true);
        }
        let net_max = net.iter().copied().fold(0.0, f64::max);
        let promise_max = promise.iter().copied().fold(0.0, f64::max);
        Ok(PlatformMrpReport {
            items: 0,
            orders: orders_len,
            work_orders: 0,
            store_master_ms: 0.0,
            regenerate_ms,
            regenerate_server_ms,
            run_bytes,
            net_change_ms: (net.len(), median(&mut net), net_max),
            promise_ms: (promise.len(), median(&mut promise), promise_max),
            promised_on_time: on_time,
        })
    })
    .await
    .map_err(err)??;
    api.abort();
    Ok(PlatformMrpReport {
        items: master.items.len(),
        work_orders: work_orders.len(),
        store_master_ms,
        ..result
    })
}
