//! The demo plant's machines as a real plant's gateways would send them:
//! over MQTT, half of them as plain JSON on `zhizao/v1/…` and half as a
//! Sparkplug B edge node per line on `spBv1.0/…`. Each gateway is a device
//! in the registry with its own credentials, so the demo's data takes the
//! same road (log-in, ACL, decode, history, screen) as a factory's.
//!
//! A JSON gateway sends each machine's `telemetry` every simulated second
//! and a `state` message when the state changes. An edge node sends
//! NBIRTH and one DBIRTH per machine, then DDATA by alias; it answers an
//! NCMD `Node Control/Rebirth` with its births, and its will is the NDEATH.

use std::net::SocketAddr;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rumqttc::{AsyncClient, Event, EventLoop, LastWill, MqttOptions, Packet, QoS};
use zhizao_ingest::sparkplug::proto::{Metric, MetricValue, Payload};
use zhizao_ingest::sparkplug::{BD_SEQ_METRIC, NAMESPACE, REBIRTH_METRIC, datatype};
use zhizao_store::{NewDevice, Store};

use crate::{Bound, SimError, Tick, bind};

/// How a gateway sends its machines' data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Json,
    Sparkplug,
}

/// One gateway: a line's machines of one protocol.
struct Gateway {
    protocol: Protocol,
    site: String,
    line: String,
    machines: Vec<Bound>,
}

impl Gateway {
    fn code(&self) -> String {
        let p = match self.protocol {
            Protocol::Json => "json",
            Protocol::Sparkplug => "spb",
        };
        format!("sim-{}-{}-{p}", self.site, self.line)
    }

    fn topic_prefix(&self) -> String {
        match self.protocol {
            Protocol::Json => format!("{}/{}/{}", zhizao_ingest::TOPIC_ROOT, self.site, self.line),
            Protocol::Sparkplug => format!("{NAMESPACE}/{}/{}", self.site, self.line),
        }
    }
}

/// Registers the gateway (or gives the one registered at an earlier start
/// a new password) and returns its MQTT user name and password.
async fn credentials(
    store: &Store,
    tenant_id: i64,
    g: &Gateway,
) -> Result<(String, String), SimError> {
    let code = g.code();
    let (existing, _) = store.list_devices(tenant_id, 1000, 0).await?;
    if let Some(d) = existing.into_iter().find(|d| d.code == code) {
        let password = store.reset_device_password(tenant_id, d.id).await?;
        return Ok((d.username, password));
    }
    let (d, password) = store
        .create_device(
            tenant_id,
            &NewDevice {
                name: format!(
                    "{} {} {}",
                    g.site,
                    g.line,
                    match g.protocol {
                        Protocol::Json => "JSON",
                        Protocol::Sparkplug => "Sparkplug B",
                    }
                ),
                code,
                topic_prefix: g.topic_prefix(),
                mapping: None,
            },
        )
        .await?;
    Ok((d.username, password))
}

/// Runs the simulator for a tenant through the MQTT endpoint at `broker`
/// until the task is dropped. Machines alternate: even ones JSON, odd ones
/// Sparkplug B.
pub async fn run(
    store: Store,
    broker: SocketAddr,
    tenant_id: i64,
    seed: u64,
    speed: f64,
) -> Result<(), SimError> {
    let layout = store.layout(tenant_id).await?;
    let mut rng = StdRng::seed_from_u64(seed);
    let machines = bind(tenant_id, &layout, &mut rng);
    let mut gateways: Vec<Gateway> = Vec::new();
    for (i, m) in machines.into_iter().enumerate() {
        let protocol = if i % 2 == 0 {
            Protocol::Json
        } else {
            Protocol::Sparkplug
        };
        let (site, line) = (m.tag("site"), m.tag("line"));
        match gateways
            .iter_mut()
            .find(|g| g.protocol == protocol && g.site == site && g.line == line)
        {
            Some(g) => g.machines.push(m),
            None => gateways.push(Gateway {
                protocol,
                site,
                line,
                machines: vec![m],
            }),
        }
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (k, g) in gateways.into_iter().enumerate() {
        let (user, password) = credentials(&store, tenant_id, &g).await?;
        let rng = StdRng::seed_from_u64(seed.wrapping_add(k as u64 + 1));
        tasks.spawn(gateway(g, broker, user, password, rng, speed));
    }
    tracing::info!(gateways = tasks.len(), %broker, "simulated gateways publishing over MQTT");
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// What a gateway's connection hands to its simulation loop.
enum FromBroker {
    Connected,
    Rebirth,
}

/// Polls the connection (reconnecting after a pause) and passes on what
/// matters; requests queue in the client meanwhile.
async fn poll(mut events: EventLoop, to_sim: tokio::sync::mpsc::Sender<FromBroker>, ncmd: String) {
    loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                let _ = to_sim.send(FromBroker::Connected).await;
            }
            Ok(Event::Incoming(Packet::Publish(p))) if p.topic == ncmd => {
                let rebirth = <Payload as prost::Message>::decode(p.payload).is_ok_and(|b| {
                    b.metrics.iter().any(|m| {
                        m.name.as_deref() == Some(REBIRTH_METRIC)
                            && m.value == Some(MetricValue::BooleanValue(true))
                    })
                });
                if rebirth {
                    let _ = to_sim.send(FromBroker::Rebirth).await;
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(error = %e, "simulated gateway reconnecting");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn gateway(
    mut g: Gateway,
    broker: SocketAddr,
    user: String,
    password: String,
    mut rng: StdRng,
    speed: f64,
) {
    let code = g.code();
    let mut opts = MqttOptions::new(&code, broker.ip().to_string(), broker.port());
    opts.set_credentials(user, password);
    opts.set_keep_alive(Duration::from_secs(30));
    let bd_seq = (zhizao_live::now_ms() / 1000) as u64 % 256;
    let mut edge = Edge {
        group: g.site.clone(),
        node: g.line.clone(),
        seq: 0,
        bd_seq,
    };
    if g.protocol == Protocol::Sparkplug {
        opts.set_last_will(LastWill::new(
            edge.topic("NDEATH", None),
            edge.death(),
            QoS::AtLeastOnce,
            false,
        ));
    }
    let (client, events) = AsyncClient::new(opts, 256);
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let ncmd = edge.topic("NCMD", None);
    // In a JoinSet, which aborts its tasks when dropped: the poller stops
    // with this gateway, also when the gateway's task is aborted. One left
    // behind would go on sending the old session's queued messages after
    // a new session's births.
    let mut poller = tokio::task::JoinSet::new();
    poller.spawn(poll(events, tx, ncmd.clone()));
    let period = Duration::from_secs_f64(1.0 / speed.max(0.001));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut connected = false;
    loop {
        tokio::select! {
            msg = rx.recv() => {
                let Some(msg) = msg else { break };
                // A new connection starts a new session: births (or all
                // states) first.
                if matches!(msg, FromBroker::Connected) && g.protocol == Protocol::Sparkplug {
                    let _ = client.subscribe(format!("{ncmd}/#"), QoS::AtMostOnce).await;
                }
                connected = true;
                let now = zhizao_live::now_ms();
                match g.protocol {
                    Protocol::Json => {
                        for m in &g.machines {
                            json_state(&client, &g, m, now).await;
                        }
                    }
                    Protocol::Sparkplug => edge.births(&client, &g.machines, now).await,
                }
            }
            _ = tick.tick() => {
                if !connected {
                    continue;
                }
                let now = zhizao_live::now_ms();
                for i in 0..g.machines.len() {
                    let t = g.machines[i].advance(&mut rng);
                    let m = &g.machines[i];
                    match g.protocol {
                        Protocol::Json => {
                            if t.new_state.is_some() {
                                json_state(&client, &g, m, now).await;
                            }
                            let body = format!(
                                r#"{{"ts":{now},"values":{{"temperature":{:.2},"count_good":{},"count_scrap":{}}}}}"#,
                                t.temperature, m.good_total, m.scrap_total
                            );
                            publish(&client, json_topic(&g, m, "telemetry"), body.into_bytes()).await;
                        }
                        Protocol::Sparkplug => edge.data(&client, i, m, &t, now).await,
                    }
                }
            }
        }
    }
}

async fn publish(client: &AsyncClient, topic: String, body: Vec<u8>) {
    if let Err(e) = client.publish(topic, QoS::AtLeastOnce, false, body).await {
        tracing::debug!(error = %e, "simulated gateway could not queue a message");
    }
}

fn json_topic(g: &Gateway, m: &Bound, kind: &str) -> String {
    format!("{}/{}/{kind}", g.topic_prefix(), m.code)
}

async fn json_state(client: &AsyncClient, g: &Gateway, m: &Bound, now: i64) {
    let body = format!(r#"{{"ts":{now},"state":"{}"}}"#, m.machine.state().as_str());
    publish(client, json_topic(g, m, "state"), body.into_bytes()).await;
}

/// An edge node's Sparkplug session.
struct Edge {
    group: String,
    node: String,
    seq: u8,
    bd_seq: u64,
}

/// Aliases of a machine's metrics: machine `i` owns `10(i+1)..10(i+1)+3`.
fn alias(machine: usize, metric: u64) -> u64 {
    (machine as u64 + 1) * 10 + metric
}

const TEMPERATURE: u64 = 0;
const COUNT_GOOD: u64 = 1;
const COUNT_SCRAP: u64 = 2;
const STATE: u64 = 3;

fn metric(name: Option<&str>, alias: u64, dt: u32, value: MetricValue) -> Metric {
    Metric::new(name, Some(alias), dt, value)
}

impl Edge {
    fn topic(&self, kind: &str, device: Option<&str>) -> String {
        match device {
            Some(d) => format!("{NAMESPACE}/{}/{kind}/{}/{d}", self.group, self.node),
            None => format!("{NAMESPACE}/{}/{kind}/{}", self.group, self.node),
        }
    }

    fn death(&self) -> Vec<u8> {
        Payload {
            timestamp: u64::try_from(zhizao_live::now_ms()).ok(),
            metrics: vec![metric(
                Some(BD_SEQ_METRIC),
                0,
                datatype::UINT64,
                MetricValue::LongValue(self.bd_seq),
            )],
            ..Payload::default()
        }
        .to_bytes()
    }

    fn next_seq(&mut self) -> u64 {
        let s = self.seq;
        self.seq = self.seq.wrapping_add(1);
        u64::from(s)
    }

    async fn send(&mut self, client: &AsyncClient, topic: String, now: i64, metrics: Vec<Metric>) {
        let body = Payload {
            timestamp: u64::try_from(now).ok(),
            metrics,
            seq: Some(self.next_seq()),
            ..Payload::default()
        };
        publish(client, topic, body.to_bytes()).await;
    }

    async fn births(&mut self, client: &AsyncClient, machines: &[Bound], now: i64) {
        self.seq = 0;
        let node = vec![
            metric(
                Some(BD_SEQ_METRIC),
                0,
                datatype::UINT64,
                MetricValue::LongValue(self.bd_seq),
            ),
            metric(
                Some(REBIRTH_METRIC),
                1,
                datatype::BOOLEAN,
                MetricValue::BooleanValue(false),
            ),
        ];
        self.send(client, self.topic("NBIRTH", None), now, node)
            .await;
        for (i, m) in machines.iter().enumerate() {
            let metrics = vec![
                metric(
                    Some("temperature"),
                    alias(i, TEMPERATURE),
                    datatype::DOUBLE,
                    MetricValue::DoubleValue(m.machine.temperature()),
                ),
                metric(
                    Some("count_good"),
                    alias(i, COUNT_GOOD),
                    datatype::INT64,
                    MetricValue::LongValue(m.good_total as u64),
                ),
                metric(
                    Some("count_scrap"),
                    alias(i, COUNT_SCRAP),
                    datatype::INT64,
                    MetricValue::LongValue(m.scrap_total as u64),
                ),
                metric(
                    Some("state"),
                    alias(i, STATE),
                    datatype::STRING,
                    MetricValue::StringValue(m.machine.state().as_str().into()),
                ),
            ];
            self.send(client, self.topic("DBIRTH", Some(&m.code)), now, metrics)
                .await;
        }
    }

    async fn data(&mut self, client: &AsyncClient, i: usize, m: &Bound, t: &Tick, now: i64) {
        let mut metrics = vec![
            metric(
                None,
                alias(i, TEMPERATURE),
                datatype::DOUBLE,
                MetricValue::DoubleValue(t.temperature),
            ),
            metric(
                None,
                alias(i, COUNT_GOOD),
                datatype::INT64,
                MetricValue::LongValue(m.good_total as u64),
            ),
            metric(
                None,
                alias(i, COUNT_SCRAP),
                datatype::INT64,
                MetricValue::LongValue(m.scrap_total as u64),
            ),
        ];
        if let Some(s) = t.new_state {
            metrics.push(metric(
                None,
                alias(i, STATE),
                datatype::STRING,
                MetricValue::StringValue(s.as_str().into()),
            ));
        }
        self.send(client, self.topic("DDATA", Some(&m.code)), now, metrics)
            .await;
    }
}

impl Bound {
    fn tag(&self, key: &str) -> String {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    /// One simulated second.
    fn advance(&mut self, rng: &mut StdRng) -> Tick {
        let t = self.machine.step(1.0, rng);
        self.good_total += t.good;
        self.scrap_total += t.scrap;
        t
    }
}
