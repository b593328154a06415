//! Client mode, for scale-out: instead of devices connecting to each node,
//! every node subscribes to an external broker (Mosquitto, EMQX) with an
//! MQTT 5 shared subscription (`$share/{group}/{filter}`), so the broker
//! splits the messages between the nodes. The session is persistent
//! (clean start off, an expiry), so QoS 1 messages published while a node
//! was away are delivered when it comes back.
//!
//! Acknowledgements are manual: a message is acknowledged to the broker
//! only after its points are durable, as on the built-in endpoint. The
//! topic names the device: it must lie under a registered device's prefix.
//!
//! Sparkplug B is subscribed to without sharing: an edge node's `seq` and
//! aliases make sense only to a host that sees all of its messages. The
//! node announces itself as a Sparkplug host (a retained STATE message
//! with a matching will) and sends rebirth requests through the broker.

use std::sync::Arc;
use std::time::Duration;

use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{LastWill, Packet};
use rumqttc::v5::{AsyncClient, Event, MqttOptions};

use bytes::Bytes;
use zhizao_ingest::sparkplug::Command;

use crate::Rejection;
use crate::gateway::Gateway;

/// Where client mode hands each message: the gateway, or something that
/// wraps it (a benchmark that times it). Returns once the message is
/// durable; commands to send back go into `commands`.
pub trait Deliver: Send + Sync + 'static {
    fn deliver(
        &self,
        topic: &str,
        payload: Bytes,
        commands: &mut Vec<Command>,
    ) -> impl std::future::Future<Output = Result<(), Rejection>> + Send;
}

impl Deliver for Gateway {
    async fn deliver(
        &self,
        topic: &str,
        payload: Bytes,
        commands: &mut Vec<Command>,
    ) -> Result<(), Rejection> {
        Gateway::deliver(self, topic, payload, commands).await
    }
}

#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub host: String,
    pub port: u16,
    /// Must be stable per node: the broker keeps the session under it.
    pub client_id: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Nodes in the same group share the messages.
    pub share_group: String,
    pub topic_filter: String,
    /// How long the broker keeps the session (and queued messages) of a
    /// node that is away.
    pub session_expiry_s: u32,
    /// Take Sparkplug B (`spBv1.0/…`) too.
    pub sparkplug: bool,
}

/// The Sparkplug message types a host takes in (not commands or STATE).
const SPARKPLUG_TYPES: [&str; 6] = ["NBIRTH", "NDEATH", "DBIRTH", "DDEATH", "NDATA", "DDATA"];

impl ClientConfig {
    pub fn new(host: &str, port: u16, client_id: &str) -> ClientConfig {
        ClientConfig {
            host: host.to_owned(),
            port,
            client_id: client_id.to_owned(),
            username: None,
            password: None,
            share_group: "zhizao".into(),
            topic_filter: format!("{}/#", zhizao_ingest::TOPIC_ROOT),
            session_expiry_s: 3600,
            sparkplug: true,
        }
    }

    /// The shared subscription for the JSON convention.
    pub fn subscription(&self) -> String {
        format!("$share/{}/{}", self.share_group, self.topic_filter)
    }

    /// Every filter subscribed to.
    pub fn subscriptions(&self) -> Vec<String> {
        let mut all = vec![self.subscription()];
        if self.sparkplug {
            all.extend(
                SPARKPLUG_TYPES
                    .iter()
                    .map(|t| format!("{}/+/{t}/#", zhizao_ingest::sparkplug::NAMESPACE)),
            );
        }
        all
    }

    /// This node's Sparkplug host STATE topic.
    pub fn state_topic(&self) -> String {
        format!(
            "{}/STATE/{}",
            zhizao_ingest::sparkplug::NAMESPACE,
            self.client_id
        )
    }
}

fn state_payload(online: bool, ts_ms: i64) -> String {
    format!(r#"{{"online":{online},"timestamp":{ts_ms}}}"#)
}

/// Runs until the task is dropped: connects, subscribes, stores, and
/// reconnects with a growing pause (up to 30 s) when the broker goes away.
pub async fn run<D: Deliver>(cfg: ClientConfig, gateway: Arc<D>) {
    let mut opts = MqttOptions::new(&cfg.client_id, &cfg.host, cfg.port);
    opts.set_clean_start(false);
    opts.set_session_expiry_interval(Some(cfg.session_expiry_s));
    opts.set_manual_acks(true);
    opts.set_keep_alive(Duration::from_secs(30));
    opts.set_max_packet_size(Some(crate::MAX_PACKET_BYTES));
    if let (Some(u), Some(p)) = (&cfg.username, &cfg.password) {
        opts.set_credentials(u.clone(), p.clone());
    }
    // Sparkplug 3.0: the will and the birth STATE carry the same time.
    let born_ms = zhizao_store::now_ms();
    if cfg.sparkplug {
        opts.set_last_will(LastWill::new(
            cfg.state_topic(),
            state_payload(false, born_ms),
            QoS::AtLeastOnce,
            true,
            None,
        ));
    }
    let (client, mut events) = AsyncClient::new(opts, 64);
    let mut pause = Duration::from_millis(200);
    // Acks wait here, never on the client's queue: that queue drains only
    // while this task polls, so awaiting room in it could hang forever.
    let mut acks: std::collections::VecDeque<rumqttc::v5::mqttbytes::v5::Publish> =
        std::collections::VecDeque::new();
    loop {
        while let Some(p) = acks.front() {
            if client.try_ack(p).is_err() {
                break;
            }
            acks.pop_front();
        }
        match events.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                pause = Duration::from_millis(200);
                tracing::info!(broker = %cfg.host, port = cfg.port, session_present = ack.session_present, "connected to the MQTT broker");
                // A resumed session keeps its subscription; subscribing
                // again is harmless and covers a new one.
                for filter in cfg.subscriptions() {
                    if let Err(e) = client.try_subscribe(filter, QoS::AtLeastOnce) {
                        tracing::warn!(error = %e, "subscribing failed");
                    }
                }
                if cfg.sparkplug
                    && let Err(e) = client.try_publish(
                        cfg.state_topic(),
                        QoS::AtLeastOnce,
                        true,
                        state_payload(true, born_ms),
                    )
                {
                    tracing::warn!(error = %e, "Sparkplug STATE not published");
                }
            }
            Ok(Event::Incoming(Packet::Publish(first))) => {
                // Take what else has already arrived, and store it all at
                // once: concurrent writes share the store's commits.
                let mut batch = vec![first];
                let mut broken = false;
                while batch.len() < MAX_BATCH {
                    match tokio::time::timeout(Duration::ZERO, events.poll()).await {
                        Ok(Ok(Event::Incoming(Packet::Publish(p)))) => batch.push(p),
                        // Anything else (an ack to our publishes, a ping
                        // response) needs nothing from this loop.
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => {
                            tracing::warn!(error = %e, "MQTT broker connection lost; retrying");
                            broken = true;
                            break;
                        }
                        Err(_) => break,
                    }
                }
                let outcomes = deliver_batch(gateway.as_ref(), &batch).await;
                let mut unavailable = None;
                for (p, (outcome, commands)) in batch.into_iter().zip(outcomes) {
                    for c in commands {
                        // QoS 0, as Sparkplug hosts send commands; a full
                        // queue drops it and the next message that needs
                        // it asks again.
                        let _ = client.try_publish(c.topic, QoS::AtMostOnce, false, c.payload);
                    }
                    match outcome {
                        // Not acknowledged, nor anything after it (acks
                        // go in order): the broker delivers them again
                        // after the reconnect.
                        Err(Rejection::Unavailable(why)) => {
                            unavailable.get_or_insert(why);
                        }
                        _ if unavailable.is_some() || broken => {}
                        _ => acks.push_back(p),
                    }
                }
                if let Some(why) = unavailable {
                    tracing::error!(%why, "history unavailable; reconnecting without acknowledging");
                    let _ = client.try_disconnect();
                }
                if broken {
                    // Packet ids of the broken connection mean nothing on
                    // the next; the broker sends those messages again.
                    acks.clear();
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(30));
                }
            }
            Ok(_) => {}
            Err(e) => {
                // Acks of the broken connection are void; the broker sends
                // those messages again.
                acks.clear();
                tracing::warn!(error = %e, pause_ms = pause.as_millis() as u64, "MQTT broker connection lost; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// Most messages stored in one batch.
const MAX_BATCH: usize = 256;

type Outcome = (Result<(), Rejection>, Vec<Command>);

/// Delivers a batch and returns the outcomes in the batch's order. Messages
/// of one Sparkplug edge node go one after the other (their `seq` and
/// aliases are read in order); all others at once.
async fn deliver_batch<D: Deliver>(
    gateway: &D,
    batch: &[rumqttc::v5::mqttbytes::v5::Publish],
) -> Vec<Outcome> {
    let topics: Vec<String> = batch
        .iter()
        .map(|p| String::from_utf8_lossy(&p.topic).into_owned())
        .collect();
    // Ordering key: the edge node for Sparkplug, else the message itself.
    let mut groups: Vec<(Option<String>, Vec<usize>)> = Vec::new();
    for (i, t) in topics.iter().enumerate() {
        let key = sparkplug_node(t);
        match key
            .as_ref()
            .and_then(|k| groups.iter_mut().find(|(g, _)| g.as_ref() == Some(k)))
        {
            Some((_, members)) => members.push(i),
            None => groups.push((key, vec![i])),
        }
    }
    let runs = groups.into_iter().map(|(_, members)| {
        let topics = &topics;
        async move {
            let mut out = Vec::with_capacity(members.len());
            for i in members {
                let mut commands = Vec::new();
                let r = gateway
                    .deliver(&topics[i], batch[i].payload.clone(), &mut commands)
                    .await;
                out.push((i, (r, commands)));
            }
            out
        }
    });
    let mut all: Vec<(usize, Outcome)> = futures_util::future::join_all(runs)
        .await
        .into_iter()
        .flatten()
        .collect();
    all.sort_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, o)| o).collect()
}

/// `group/node` of a Sparkplug topic.
fn sparkplug_node(topic: &str) -> Option<String> {
    let mut l = topic.split('/');
    match (l.next(), l.next(), l.next(), l.next()) {
        (Some(zhizao_ingest::sparkplug::NAMESPACE), Some(g), Some(_), Some(n)) => {
            Some(format!("{g}/{n}"))
        }
        _ => None,
    }
}
