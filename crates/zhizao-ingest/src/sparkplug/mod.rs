//! Eclipse Sparkplug B (specification 3.0) as a host application reads
//! it: topics, payloads, and the per-edge-node session that gives them
//! meaning. Data messages name metrics by alias, and an alias means
//! something only after the birth certificate that declared it, so the
//! [`EdgeNodes`] tracker keeps each node's aliases, `bdSeq` and `seq`,
//! and asks for a rebirth (an NCMD with `Node Control/Rebirth`) when it
//! meets a gap in `seq`, an unknown alias or data from a node it has not
//! seen born. No I/O here: the caller stores the points and sends the
//! commands.
//!
//! Mapping to the plant: group → `site`, edge node → `line`, device →
//! `equipment`. Device metrics are stored under `telemetry`, like JSON
//! telemetry; the edge node's own metrics under `edge_node`.

pub mod proto;

use std::collections::HashMap;
use std::sync::Arc;

use prost::Message;
use zhizao_tsdb::{Point, Value};

use crate::{IngestError, err};
use proto::{Metric, MetricValue, Payload};

/// The topic namespace of Sparkplug B.
pub const NAMESPACE: &str = "spBv1.0";
/// The metric a host writes in an NCMD to ask for a rebirth.
pub const REBIRTH_METRIC: &str = "Node Control/Rebirth";
/// The birth/death sequence metric of NBIRTH and NDEATH.
pub const BD_SEQ_METRIC: &str = "bdSeq";
/// Measurement of the edge node's own metrics.
pub const NODE_MEASUREMENT: &str = "edge_node";
/// A rebirth is asked again for the same node at most this often.
const REBIRTH_EVERY_MS: i64 = 5_000;

/// Sparkplug data type numbers (specification 3.0, 6.4.16).
pub mod datatype {
    pub const INT8: u32 = 1;
    pub const INT16: u32 = 2;
    pub const INT32: u32 = 3;
    pub const INT64: u32 = 4;
    pub const UINT8: u32 = 5;
    pub const UINT16: u32 = 6;
    pub const UINT32: u32 = 7;
    pub const UINT64: u32 = 8;
    pub const FLOAT: u32 = 9;
    pub const DOUBLE: u32 = 10;
    pub const BOOLEAN: u32 = 11;
    pub const STRING: u32 = 12;
    pub const DATETIME: u32 = 13;
    pub const TEXT: u32 = 14;
    pub const UUID: u32 = 15;
    pub const DATASET: u32 = 16;
    pub const BYTES: u32 = 17;
    pub const FILE: u32 = 18;
    pub const TEMPLATE: u32 = 19;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    NBirth,
    NDeath,
    DBirth,
    DDeath,
    NData,
    DData,
    NCmd,
    DCmd,
}

impl MessageType {
    fn parse(s: &str) -> Option<MessageType> {
        Some(match s {
            "NBIRTH" => MessageType::NBirth,
            "NDEATH" => MessageType::NDeath,
            "DBIRTH" => MessageType::DBirth,
            "DDEATH" => MessageType::DDeath,
            "NDATA" => MessageType::NData,
            "DDATA" => MessageType::DData,
            "NCMD" => MessageType::NCmd,
            "DCMD" => MessageType::DCmd,
            _ => return None,
        })
    }

    /// Whether the topic names a device after the edge node.
    fn has_device(self) -> bool {
        matches!(
            self,
            MessageType::DBirth | MessageType::DDeath | MessageType::DData | MessageType::DCmd
        )
    }
}

/// A Sparkplug topic, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SparkplugTopic {
    /// `spBv1.0/{group}/{type}/{node}[/{device}]`
    Edge {
        group: String,
        kind: MessageType,
        node: String,
        device: Option<String>,
    },
    /// `spBv1.0/STATE/{host}`: a host application's online state.
    State { host: String },
}

/// Whether a topic is in the Sparkplug B namespace.
pub fn is_sparkplug(topic: &str) -> bool {
    topic
        .strip_prefix(NAMESPACE)
        .is_some_and(|r| r.starts_with('/'))
}

pub fn parse_topic(topic: &str) -> Result<SparkplugTopic, IngestError> {
    let parts: Vec<&str> = topic.split('/').collect();
    if parts.first() != Some(&NAMESPACE) {
        return Err(err(
            "topic",
            format!("`{topic}` does not start with `{NAMESPACE}/`"),
        ));
    }
    for p in &parts[1..] {
        if p.is_empty() || p.contains(['+', '#']) {
            return Err(err(
                "topic",
                format!("`{topic}` has an empty or wildcard level"),
            ));
        }
    }
    if parts.get(1) == Some(&"STATE") {
        return match parts.as_slice() {
            [_, _, host] => Ok(SparkplugTopic::State {
                host: (*host).to_owned(),
            }),
            _ => Err(err(
                "topic",
                format!("`{topic}` is not {NAMESPACE}/STATE/{{host_id}}"),
            )),
        };
    }
    let (group, kind, node, device) = match parts.as_slice() {
        [_, g, k, n] => (g, k, n, None),
        [_, g, k, n, d] => (g, k, n, Some(*d)),
        _ => {
            return Err(err(
                "topic",
                format!(
                    "`{topic}` is not {NAMESPACE}/{{group_id}}/{{message_type}}/{{edge_node_id}}[/{{device_id}}]"
                ),
            ));
        }
    };
    let kind = MessageType::parse(kind).ok_or_else(|| {
        err(
            "topic",
            format!("message type `{kind}` is not one of NBIRTH, NDEATH, DBIRTH, DDEATH, NDATA, DDATA, NCMD, DCMD"),
        )
    })?;
    if kind.has_device() != device.is_some() {
        return Err(err(
            "topic",
            if device.is_some() {
                format!("`{topic}`: a node message has no device level")
            } else {
                format!("`{topic}`: a device message needs a device level")
            },
        ));
    }
    Ok(SparkplugTopic::Edge {
        group: (*group).to_owned(),
        kind,
        node: (*node).to_owned(),
        device: device.map(str::to_owned),
    })
}

/// Decodes a payload's protobuf; the error says what is broken.
pub fn decode_payload(payload: &[u8]) -> Result<Payload, IngestError> {
    crate::check_size(payload)?;
    Payload::decode(payload).map_err(|e| {
        err(
            "payload",
            format!("not a Sparkplug B protobuf payload: {e}"),
        )
    })
}

/// A message to send to an edge node (an NCMD), QoS 0, not retained.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub topic: String,
    pub payload: Vec<u8>,
}

/// The NCMD asking `node` of `group` to publish its births again.
pub fn rebirth_command(group: &str, node: &str, now_ms: i64) -> Command {
    let payload = Payload {
        timestamp: u64::try_from(now_ms).ok(),
        metrics: vec![Metric::new(
            Some(REBIRTH_METRIC),
            None,
            datatype::BOOLEAN,
            MetricValue::BooleanValue(true),
        )],
        ..Payload::default()
    };
    Command {
        topic: format!("{NAMESPACE}/{group}/NCMD/{node}"),
        payload: payload.encode_to_vec(),
    }
}

/// A device (or the edge node itself, `device: None`) going online or
/// offline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presence {
    pub group: String,
    pub node: String,
    pub device: Option<String>,
    pub online: bool,
}

/// What one message came to.
#[derive(Debug, Default)]
pub struct Received {
    pub points: Vec<Point>,
    /// Commands to send back (a rebirth request).
    pub commands: Vec<Command>,
    /// What was refused or looked wrong; the rest of the message is kept.
    pub problems: Vec<String>,
    pub presence: Vec<Presence>,
}

/// A metric a birth declared.
#[derive(Debug, Clone)]
struct Declared {
    device: Option<String>,
    name: Arc<str>,
    datatype: u32,
}

/// What the host knows of one edge node.
#[derive(Debug, Default)]
struct EdgeNode {
    /// Born and not dead since.
    online: bool,
    bd_seq: Option<u64>,
    /// The `seq` the next message must carry.
    next_seq: Option<u8>,
    aliases: HashMap<u64, Declared>,
    /// Declared data types by (device, name), for data messages that name
    /// a metric instead of aliasing it.
    types: HashMap<(Option<String>, Arc<str>), u32>,
    devices: HashMap<String, bool>,
    rebirth_asked_ms: Option<i64>,
}

/// The online state of an edge node and its devices, for display.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NodeStatus {
    pub group: String,
    pub node: String,
    pub online: bool,
    pub bd_seq: Option<u64>,
    /// Devices and whether each is online, sorted by id.
    pub devices: Vec<(String, bool)>,
}

/// Sparkplug sessions of the edge nodes seen, by (group, node).
#[derive(Debug, Default)]
pub struct EdgeNodes {
    nodes: HashMap<(String, String), EdgeNode>,
}

impl EdgeNodes {
    pub fn new() -> EdgeNodes {
        EdgeNodes::default()
    }

    /// Every edge node seen, sorted by group and node.
    pub fn status(&self) -> Vec<NodeStatus> {
        let mut out: Vec<NodeStatus> = self
            .nodes
            .iter()
            .map(|((group, node), n)| {
                let mut devices: Vec<(String, bool)> =
                    n.devices.iter().map(|(d, on)| (d.clone(), *on)).collect();
                devices.sort();
                NodeStatus {
                    group: group.clone(),
                    node: node.clone(),
                    online: n.online,
                    bd_seq: n.bd_seq,
                    devices,
                }
            })
            .collect();
        out.sort_by(|a, b| (&a.group, &a.node).cmp(&(&b.group, &b.node)));
        out
    }

    /// Takes one message. `Err` only when the topic or the protobuf is
    /// broken; everything else is kept as far as it can be, with
    /// `problems` saying what was not.
    pub fn receive(
        &mut self,
        topic: &str,
        payload: &[u8],
        now_ms: i64,
    ) -> Result<Received, IngestError> {
        let (group, kind, node, device) = match parse_topic(topic)? {
            SparkplugTopic::State { .. } => {
                check_state_payload(payload)?;
                return Ok(Received::default());
            }
            SparkplugTopic::Edge {
                group,
                kind,
                node,
                device,
            } => (group, kind, node, device),
        };
        let payload = decode_payload(payload)?;
        let mut out = Received::default();
        let key = (group, node);
        let edge = self.nodes.entry(key.clone()).or_default();
        let (group, node) = (&key.0, &key.1);
        let ask_rebirth = |edge: &mut EdgeNode, out: &mut Received| {
            let due = edge
                .rebirth_asked_ms
                .is_none_or(|t| now_ms - t >= REBIRTH_EVERY_MS);
            if due {
                edge.rebirth_asked_ms = Some(now_ms);
                out.commands.push(rebirth_command(group, node, now_ms));
            }
        };
        let msg_ms = payload
            .timestamp
            .and_then(|t| i64::try_from(t).ok())
            .unwrap_or(now_ms);
        match kind {
            MessageType::NCmd | MessageType::DCmd => return Ok(out),
            MessageType::NBirth => {
                let bd_seq = metric_u64(&payload.metrics, BD_SEQ_METRIC);
                if bd_seq.is_none() {
                    out.problems.push(format!(
                        "{topic}: NBIRTH without a `{BD_SEQ_METRIC}` metric"
                    ));
                }
                // A new session: devices are offline until their DBIRTH.
                let before = std::mem::take(&mut edge.devices);
                *edge = EdgeNode {
                    online: true,
                    bd_seq,
                    next_seq: payload.seq.map(|s| (s as u8).wrapping_add(1)),
                    devices: before.keys().map(|d| (d.clone(), false)).collect(),
                    ..EdgeNode::default()
                };
                if payload.seq.is_none() {
                    out.problems.push(format!("{topic}: NBIRTH without seq"));
                }
                declare(edge, None, &payload.metrics, topic, &mut out.problems);
                out.presence.push(presence(group, node, None, true));
                for (d, _) in before.into_iter().filter(|(_, on)| *on) {
                    out.presence.push(presence(group, node, Some(d), false));
                }
                store_metrics(edge, group, node, None, &payload, msg_ms, topic, &mut out);
                out.points
                    .push(online_point(group, node, None, msg_ms, true));
                return Ok(out);
            }
            MessageType::NDeath => {
                let bd_seq = metric_u64(&payload.metrics, BD_SEQ_METRIC);
                // A death from an older session (its will fired late) is
                // not this session's: it is ignored, as the spec says.
                if edge.online && bd_seq.is_some() && edge.bd_seq.is_some() && bd_seq != edge.bd_seq
                {
                    return Ok(out);
                }
                edge.online = false;
                edge.next_seq = None;
                out.presence.push(presence(group, node, None, false));
                for (d, on) in edge.devices.iter_mut() {
                    if *on {
                        *on = false;
                        out.presence
                            .push(presence(group, node, Some(d.clone()), false));
                        out.points
                            .push(online_point(group, node, Some(d), msg_ms, false));
                    }
                }
                out.points
                    .push(online_point(group, node, None, msg_ms, false));
                return Ok(out);
            }
            _ => {}
        }
        // Every other message of an edge node is in its seq order.
        if !edge.online {
            out.problems.push(format!(
                "{topic}: edge node `{node}` of group `{group}` has not been born (no NBIRTH seen); asked for a rebirth"
            ));
            ask_rebirth(edge, &mut out);
            return Ok(out);
        }
        match (payload.seq, edge.next_seq) {
            (None, _) => out.problems.push(format!("{topic}: no seq")),
            (Some(s), Some(want)) if s != u64::from(want) => {
                out.problems.push(format!(
                    "{topic}: seq {s} out of order (expected {want}); asked for a rebirth"
                ));
                ask_rebirth(edge, &mut out);
            }
            _ => {}
        }
        if let Some(s) = payload.seq {
            edge.next_seq = Some((s as u8).wrapping_add(1));
        }
        let mut unknown_alias = false;
        match kind {
            MessageType::DBirth => {
                let Some(d) = device.clone() else {
                    return Ok(out);
                };
                edge.aliases.retain(|_, m| m.device.as_ref() != Some(&d));
                edge.types.retain(|(dev, _), _| dev.as_ref() != Some(&d));
                declare(edge, Some(&d), &payload.metrics, topic, &mut out.problems);
                edge.devices.insert(d.clone(), true);
                out.presence
                    .push(presence(group, node, Some(d.clone()), true));
                store_metrics(
                    edge,
                    group,
                    node,
                    Some(&d),
                    &payload,
                    msg_ms,
                    topic,
                    &mut out,
                );
                out.points
                    .push(online_point(group, node, Some(&d), msg_ms, true));
            }
            MessageType::DDeath => {
                if let Some(d) = &device {
                    edge.devices.insert(d.clone(), false);
                    out.presence
                        .push(presence(group, node, Some(d.clone()), false));
                    out.points
                        .push(online_point(group, node, Some(d), msg_ms, false));
                }
            }
            MessageType::NData => {
                unknown_alias =
                    store_metrics(edge, group, node, None, &payload, msg_ms, topic, &mut out);
            }
            MessageType::DData => {
                let Some(d) = &device else { return Ok(out) };
                if edge.devices.get(d) != Some(&true) {
                    out.problems.push(format!(
                        "{topic}: device `{d}` has not been born (no DBIRTH seen); asked for a rebirth"
                    ));
                    ask_rebirth(edge, &mut out);
                    return Ok(out);
                }
                unknown_alias = store_metrics(
                    edge,
                    group,
                    node,
                    Some(d),
                    &payload,
                    msg_ms,
                    topic,
                    &mut out,
                );
            }
            _ => {}
        }
        if unknown_alias {
            ask_rebirth(edge, &mut out);
        }
        Ok(out)
    }
}

fn presence(group: &str, node: &str, device: Option<String>, online: bool) -> Presence {
    Presence {
        group: group.to_owned(),
        node: node.to_owned(),
        device,
        online,
    }
}

/// A STATE payload: `{"online": bool, "timestamp": ms}` (3.0).
fn check_state_payload(payload: &[u8]) -> Result<(), IngestError> {
    let doc: serde_json::Value = serde_json::from_slice(payload)
        .map_err(|e| err("payload", format!("STATE is not JSON: {e}")))?;
    if !doc.get("online").is_some_and(serde_json::Value::is_boolean) {
        return Err(err("online", "STATE needs a boolean `online`"));
    }
    Ok(())
}

fn metric_u64(metrics: &[Metric], name: &str) -> Option<u64> {
    metrics
        .iter()
        .find(|m| m.name.as_deref() == Some(name))
        .and_then(|m| match m.value {
            Some(MetricValue::LongValue(v)) => Some(v),
            Some(MetricValue::IntValue(v)) => Some(u64::from(v)),
            _ => None,
        })
}

/// Records a birth's metric names, aliases and types.
fn declare(
    edge: &mut EdgeNode,
    device: Option<&String>,
    metrics: &[Metric],
    topic: &str,
    problems: &mut Vec<String>,
) {
    for m in metrics {
        let Some(name) = m.name.as_deref() else {
            problems.push(format!("{topic}: a birth metric has no name"));
            continue;
        };
        let name: Arc<str> = Arc::from(name);
        let datatype = m.datatype.unwrap_or(0);
        edge.types.insert((device.cloned(), name.clone()), datatype);
        if let Some(alias) = m.alias {
            let declared = Declared {
                device: device.cloned(),
                name: name.clone(),
                datatype,
            };
            if let Some(before) = edge.aliases.insert(alias, declared)
                && (before.device.as_ref() != device || before.name != name)
            {
                problems.push(format!(
                    "{topic}: alias {alias} of `{name}` was already `{}`; aliases must be unique per edge node",
                    before.name
                ));
            }
        }
    }
}

/// The tags of a node's (`device: None`) or a device's points.
fn tags(group: &str, node: &str, device: Option<&str>) -> Arc<Vec<(String, String)>> {
    let mut t = vec![
        ("site".to_owned(), group.to_owned()),
        ("line".to_owned(), node.to_owned()),
    ];
    if let Some(d) = device {
        t.push(("equipment".to_owned(), d.to_owned()));
    }
    Arc::new(t)
}

fn measurement(device: Option<&str>) -> Arc<str> {
    Arc::from(if device.is_some() {
        "telemetry"
    } else {
        NODE_MEASUREMENT
    })
}

fn online_point(group: &str, node: &str, device: Option<&str>, ms: i64, online: bool) -> Point {
    Point {
        measurement: measurement(device),
        tags: tags(group, node, device),
        field: Arc::from("online"),
        ts: ms.saturating_mul(1_000_000),
        value: Value::Bool(online),
    }
}

/// Turns a birth's or data message's metrics into points; what cannot be
/// stored is named in `out.problems`. Returns whether an alias was unknown.
#[allow(clippy::too_many_arguments)]
fn store_metrics(
    edge: &EdgeNode,
    group: &str,
    node: &str,
    device: Option<&String>,
    payload: &Payload,
    msg_ms: i64,
    topic: &str,
    out: &mut Received,
) -> bool {
    let mut unknown_alias = false;
    let tags = tags(group, node, device.map(String::as_str));
    let measurement = measurement(device.map(String::as_str));
    for m in &payload.metrics {
        let (name, declared_type) = match (&m.name, m.alias) {
            (Some(n), _) => {
                let n: Arc<str> = Arc::from(n.as_str());
                let t = edge.types.get(&(device.cloned(), n.clone())).copied();
                (n, t)
            }
            (None, Some(alias)) => match edge.aliases.get(&alias) {
                Some(d) if d.device.as_ref() == device => (d.name.clone(), Some(d.datatype)),
                Some(d) => {
                    out.problems.push(format!(
                        "{topic}: alias {alias} belongs to {}, not to this message's {}",
                        d.device
                            .as_deref()
                            .map_or("the edge node".to_owned(), |x| format!("device `{x}`")),
                        device.map_or("edge node".to_owned(), |x| format!("device `{x}`")),
                    ));
                    continue;
                }
                None => {
                    out.problems.push(format!(
                        "{topic}: unknown alias {alias} (not in the birth certificate)"
                    ));
                    unknown_alias = true;
                    continue;
                }
            },
            (None, None) => {
                out.problems
                    .push(format!("{topic}: a metric has neither name nor alias"));
                continue;
            }
        };
        if &*name == BD_SEQ_METRIC || name.starts_with("Node Control/") {
            continue;
        }
        if m.is_null == Some(true) || m.value.is_none() {
            continue;
        }
        // 0 is "Unknown": the birth's type stands.
        let datatype = m
            .datatype
            .filter(|&t| t != 0)
            .or(declared_type)
            .unwrap_or(0);
        let value = match metric_value(m, datatype) {
            Ok(Some(v)) => v,
            Ok(None) => continue,
            Err(why) => {
                out.problems
                    .push(format!("{topic}: metric `{name}`: {why}"));
                continue;
            }
        };
        let ms = m
            .timestamp
            .and_then(|t| i64::try_from(t).ok())
            .unwrap_or(msg_ms);
        out.points.push(Point {
            measurement: measurement.clone(),
            tags: tags.clone(),
            field: name,
            ts: ms.saturating_mul(1_000_000),
            value,
        });
    }
    unknown_alias
}

/// A metric's value as stored: numbers as floats (as JSON telemetry),
/// booleans and text as they are. `Ok(None)`: nothing to store (a
/// template definition). `Err`: a kind of value history does not keep.
fn metric_value(m: &Metric, dtype: u32) -> Result<Option<Value>, String> {
    use self::datatype as t;
    let Some(v) = &m.value else { return Ok(None) };
    let number = |x: f64| {
        if x.is_finite() {
            Ok(Some(Value::F64(x)))
        } else {
            Err(format!("{x} is not a finite number"))
        }
    };
    match v {
        // Signed types travel as their two's complement bits.
        MetricValue::IntValue(x) => number(match dtype {
            t::INT8 => f64::from(*x as u8 as i8),
            t::INT16 => f64::from(*x as u16 as i16),
            t::INT32 | t::INT64 => f64::from(*x as i32),
            _ => f64::from(*x),
        }),
        MetricValue::LongValue(x) => number(match dtype {
            t::INT8 | t::INT16 | t::INT32 | t::INT64 => *x as i64 as f64,
            _ => *x as f64,
        }),
        MetricValue::FloatValue(x) => number(f64::from(*x)),
        MetricValue::DoubleValue(x) => number(*x),
        MetricValue::BooleanValue(b) => Ok(Some(Value::Bool(*b))),
        MetricValue::StringValue(s) => Ok(Some(Value::Str(s.clone()))),
        MetricValue::BytesValue(_) => Err(match dtype {
            t::FILE => "files are not stored in history".into(),
            22..=34 => "arrays are not stored in history".into(),
            _ => "bytes values are not stored in history".into(),
        }),
        MetricValue::DatasetValue(_) => Err("datasets are not stored in history".into()),
        MetricValue::TemplateValue(tpl) if tpl.is_definition == Some(true) => Ok(None),
        MetricValue::TemplateValue(tpl) => Err(format!(
            "template instances{} are not stored in history",
            tpl.template_ref
                .as_deref()
                .map(|r| format!(" (of `{r}`)"))
                .unwrap_or_default()
        )),
        MetricValue::ExtensionValue(_) => Err("extension values are not stored in history".into()),
    }
}

#[cfg(test)]
mod tests;
