//! Shop-floor payloads to history points: the topic convention and the
//! JSON payload shapes devices and gateways send, decoded without I/O so
//! every transport (MQTT, HTTP, CSV) shares one set of rules and errors.
//!
//! The default convention is `zhizao/v1/{site}/{line}/{equipment}/{kind}`
//! with `kind` one of `telemetry`, `state`, `event`, and a payload like
//! `{"ts": 1700000000000, "values": {"spindle_temp": 61.2}}`. A
//! [`Mapping`] reads other JSON shapes through JSON pointers, so existing
//! gateways need no change. Every error says what is wrong and where.

pub mod csv;
pub mod sparkplug;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use zhizao_tsdb::{Point, Value};

/// Largest payload decoded; larger ones are refused before parsing.
pub const MAX_PAYLOAD_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{place}: {message}")]
pub struct IngestError {
    /// Where: `topic`, `payload`, or a JSON path such as `values.temp`.
    pub place: String,
    pub message: String,
}

fn err(place: impl Into<String>, message: impl Into<String>) -> IngestError {
    IngestError {
        place: place.into(),
        message: message.into(),
    }
}

/// What a message reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Telemetry,
    State,
    Event,
    /// A connected gauge's reading of an inspection characteristic; it
    /// goes to quality, not history (see [`decode_reading`]).
    Measurement,
}

impl Kind {
    fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "telemetry" => Kind::Telemetry,
            "state" => Kind::State,
            "event" => Kind::Event,
            "measurement" => Kind::Measurement,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Telemetry => "telemetry",
            Kind::State => "state",
            Kind::Event => "event",
            Kind::Measurement => "measurement",
        }
    }

    /// The measurement its points are stored under.
    pub fn measurement(self) -> &'static str {
        match self {
            Kind::Telemetry => "telemetry",
            Kind::State => "machine_state",
            Kind::Event => "event",
            Kind::Measurement => "quality_measurement",
        }
    }
}

/// A topic of the default convention, split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    pub site: String,
    pub line: String,
    pub equipment: String,
    pub kind: Kind,
}

pub const TOPIC_ROOT: &str = "zhizao/v1";

/// Parses `zhizao/v1/{site}/{line}/{equipment}/{kind}`.
pub fn parse_topic(topic: &str) -> Result<Topic, IngestError> {
    let rest = topic
        .strip_prefix(TOPIC_ROOT)
        .and_then(|r| r.strip_prefix('/'))
        .ok_or_else(|| {
            err(
                "topic",
                format!("`{topic}` does not start with `{TOPIC_ROOT}/`"),
            )
        })?;
    let parts: Vec<&str> = rest.split('/').collect();
    let [site, line, equipment, kind] = parts.as_slice() else {
        return Err(err(
            "topic",
            format!("`{topic}` is not {TOPIC_ROOT}/{{site}}/{{line}}/{{equipment}}/{{kind}}"),
        ));
    };
    for (name, v) in [("site", site), ("line", line), ("equipment", equipment)] {
        if v.is_empty() || v.contains(['+', '#']) {
            return Err(err("topic", format!("{name} `{v}` is empty or a wildcard")));
        }
    }
    let kind = Kind::parse(kind).ok_or_else(|| {
        err(
            "topic",
            format!("kind `{kind}` is not one of telemetry, state, event, measurement"),
        )
    })?;
    Ok(Topic {
        site: (*site).to_owned(),
        line: (*line).to_owned(),
        equipment: (*equipment).to_owned(),
        kind,
    })
}

/// A gauge's reading, published to `zhizao/v1/{site}/{line}/{equipment}/measurement`:
/// `{"characteristic": "BORE-D", "values": [25.001, …]}` for a measured
/// characteristic, or `{"characteristic": …, "count": 2, "sample_size": 50}`
/// for a counted one, with optional `ts` (epoch ms), `lot`, `work_order`
/// and `operator`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GaugeReading {
    pub characteristic: String,
    #[serde(default)]
    pub values: Option<Vec<f64>>,
    #[serde(default)]
    pub count: Option<f64>,
    #[serde(default)]
    pub sample_size: Option<f64>,
    #[serde(default)]
    pub ts: Option<i64>,
    #[serde(default)]
    pub lot: Option<String>,
    #[serde(default)]
    pub work_order: Option<String>,
    #[serde(default)]
    pub operator: Option<String>,
}

/// Reads a gauge's message; the characteristic checks the rest.
pub fn decode_reading(payload: &[u8]) -> Result<GaugeReading, IngestError> {
    check_size(payload)?;
    let de = &mut serde_json::Deserializer::from_slice(payload);
    let reading: GaugeReading = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            err(
                "payload",
                format!(
                    "not JSON: {inner} (line {}, column {})",
                    inner.line(),
                    inner.column()
                ),
            )
        } else {
            err(
                if path == "." {
                    "payload".to_owned()
                } else {
                    path
                },
                inner.to_string(),
            )
        }
    })?;
    if reading.characteristic.trim().is_empty() {
        return Err(err(
            "characteristic",
            "must name the characteristic measured",
        ));
    }
    Ok(reading)
}

/// Where a payload of another shape keeps its time and values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// JSON pointer to the timestamp (RFC 6901, e.g. `/header/time`);
    /// none or absent in a message: the time of arrival.
    #[serde(default)]
    pub ts: Option<String>,
    /// JSON pointer to the object of values (e.g. `/data`).
    pub values: String,
    /// Unit of a numeric timestamp.
    #[serde(default)]
    pub ts_unit: TsUnit,
}

impl Default for Mapping {
    fn default() -> Self {
        Mapping {
            ts: Some("/ts".into()),
            values: "/values".into(),
            ts_unit: TsUnit::Ms,
        }
    }
}

impl Mapping {
    /// Checks the pointers' syntax.
    pub fn validate(&self) -> Result<(), IngestError> {
        for (name, p) in [("ts", self.ts.as_deref()), ("values", Some(&self.values))] {
            if let Some(p) = p
                && !p.is_empty()
                && !p.starts_with('/')
            {
                return Err(err(
                    format!("mapping.{name}"),
                    format!("`{p}` is not a JSON pointer (it must start with `/`)"),
                ));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TsUnit {
    S,
    #[default]
    Ms,
    Us,
    Ns,
}

impl TsUnit {
    fn factor(self) -> i64 {
        match self {
            TsUnit::S => 1_000_000_000,
            TsUnit::Ms => 1_000_000,
            TsUnit::Us => 1_000,
            TsUnit::Ns => 1,
        }
    }
}

/// A JSON timestamp: a number in `unit`, or an RFC 3339 string. Returns ns.
fn timestamp(v: &Json, unit: TsUnit, place: &str) -> Result<i64, IngestError> {
    match v {
        Json::Number(n) => {
            let x = n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
                .ok_or_else(|| err(place, format!("{n} is not a whole number")))?;
            x.checked_mul(unit.factor())
                .ok_or_else(|| err(place, format!("{n} is out of range")))
        }
        Json::String(s) => {
            let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .map_err(|e| err(place, format!("`{s}` is not an RFC 3339 time ({e})")))?;
            i64::try_from(t.unix_timestamp_nanos())
                .map_err(|_| err(place, format!("`{s}` is out of range")))
        }
        other => Err(err(
            place,
            format!(
                "expected epoch {unit:?} or an RFC 3339 string, got {}",
                kind_of(other)
            ),
        )),
    }
}

fn kind_of(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// Dotted path of a JSON pointer, for messages (`/a/b` → `a.b`).
fn path(pointer: &str) -> String {
    pointer.trim_start_matches('/').replace('/', ".")
}

/// One value: numbers are stored as floats (a gateway sends `61` and
/// `61.5` for the same signal), booleans and strings as they are.
fn value(v: &Json, place: &str) -> Result<Value, IngestError> {
    match v {
        Json::Number(n) => match n.as_f64() {
            Some(x) if x.is_finite() => Ok(Value::F64(x)),
            _ => Err(err(place, format!("{n} is not a finite number"))),
        },
        Json::Bool(b) => Ok(Value::Bool(*b)),
        Json::String(s) => Ok(Value::Str(s.clone())),
        other => Err(err(
            place,
            format!(
                "expected a number, boolean or string, got {}",
                kind_of(other)
            ),
        )),
    }
}

/// Refuses a payload above [`MAX_PAYLOAD_BYTES`] before any parsing.
pub(crate) fn check_size(payload: &[u8]) -> Result<(), IngestError> {
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(err(
            "payload",
            format!(
                "{} bytes is more than the {MAX_PAYLOAD_BYTES} allowed",
                payload.len()
            ),
        ));
    }
    Ok(())
}

/// Decodes one message into points. `now_ns` stamps messages without a
/// time. A message is taken whole or refused whole, with the first problem.
pub fn decode(
    topic: &Topic,
    payload: &[u8],
    mapping: &Mapping,
    now_ns: i64,
) -> Result<Vec<Point>, IngestError> {
    check_size(payload)?;
    let doc: Json = serde_json::from_slice(payload).map_err(|e| {
        err(
            "payload",
            format!("not JSON: {e} (line {}, column {})", e.line(), e.column()),
        )
    })?;
    if !doc.is_object() {
        return Err(err(
            "payload",
            format!("expected a JSON object, got {}", kind_of(&doc)),
        ));
    }
    let ts_ptr = mapping.ts.as_deref().unwrap_or("");
    let ts = match (!ts_ptr.is_empty()).then(|| doc.pointer(ts_ptr)).flatten() {
        None | Some(Json::Null) => now_ns,
        Some(v) => timestamp(v, mapping.ts_unit, &path(ts_ptr))?,
    };
    let tags = Arc::new(vec![
        ("site".to_owned(), topic.site.clone()),
        ("line".to_owned(), topic.line.clone()),
        ("equipment".to_owned(), topic.equipment.clone()),
    ]);
    let measurement: Arc<str> = Arc::from(topic.kind.measurement());
    let point = |field: &str, value: Value| Point {
        measurement: measurement.clone(),
        tags: tags.clone(),
        field: Arc::from(field),
        ts,
        value,
    };
    match topic.kind {
        Kind::Telemetry => {
            let place = path(&mapping.values);
            let values = doc
                .pointer(&mapping.values)
                .ok_or_else(|| err(&place, "missing"))?
                .as_object()
                .ok_or_else(|| err(&place, "expected an object of name: value"))?;
            if values.is_empty() {
                return Err(err(&place, "holds no values"));
            }
            values
                .iter()
                .map(|(k, v)| {
                    if k.is_empty() {
                        return Err(err(&place, "a value has an empty name"));
                    }
                    Ok(point(k, value(v, &format!("{place}.{k}"))?))
                })
                .collect()
        }
        Kind::State => {
            let s = doc
                .get("state")
                .ok_or_else(|| err("state", "missing"))?
                .as_str()
                .ok_or_else(|| err("state", "expected a string"))?;
            // The platform's vocabulary (`MachineState`).
            if let Err(e) = s.parse::<zhizao_core::MachineState>() {
                return Err(err("state", e.to_string()));
            }
            Ok(vec![point("state", Value::Str(s.to_owned()))])
        }
        Kind::Event => {
            let code = doc
                .get("code")
                .ok_or_else(|| err("code", "missing"))?
                .as_str()
                .filter(|c| !c.is_empty())
                .ok_or_else(|| err("code", "expected a non-empty string"))?;
            let mut out = vec![point("code", Value::Str(code.to_owned()))];
            if let Some(m) = doc.get("message") {
                let m = m
                    .as_str()
                    .ok_or_else(|| err("message", "expected a string"))?;
                out.push(point("message", Value::Str(m.to_owned())));
            }
            Ok(out)
        }
        // Readings are quality samples, not history points.
        Kind::Measurement => Err(err(
            "topic",
            "a measurement is a gauge reading; decode it with decode_reading",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauge_readings_name_what_is_wrong() {
        let r =
            decode_reading(br#"{"characteristic":"BORE-D","values":[25.001,25.0],"lot":"L-1"}"#)
                .unwrap();
        assert_eq!(r.values.as_deref(), Some(&[25.001, 25.0][..]));
        let e = decode_reading(br#"{"characteristic":"BORE-D","values":[25.0,"x"]}"#).unwrap_err();
        assert_eq!(e.place, "values[1]");
        let e = decode_reading(br#"{"characteristic":"BORE-D","colour":1}"#).unwrap_err();
        assert!(e.message.contains("colour"), "{e}");
        let e = decode_reading(b"{").unwrap_err();
        assert_eq!(e.place, "payload");
        assert_eq!(
            parse_topic("zhizao/v1/S/L/TRN-01/measurement")
                .unwrap()
                .kind,
            Kind::Measurement
        );
    }

    fn topic(kind: &str) -> Topic {
        parse_topic(&format!("zhizao/v1/S1/L01/CUT-01/{kind}")).unwrap()
    }

    #[test]
    fn the_default_convention() {
        let t = topic("telemetry");
        assert_eq!((t.site.as_str(), t.equipment.as_str()), ("S1", "CUT-01"));
        let p = decode(
            &t,
            br#"{"ts": 1700000000000, "values": {"spindle_temp": 61.2, "count_good": 1042, "running": true}}"#,
            &Mapping::default(),
            0,
        )
        .unwrap();
        assert_eq!(p.len(), 3);
        assert!(p.iter().all(|p| p.ts == 1_700_000_000_000_000_000));
        let count = p.iter().find(|p| &*p.field == "count_good").unwrap();
        assert_eq!(count.value, Value::F64(1042.0));
        assert_eq!(&*count.measurement, "telemetry");
        assert_eq!(count.tags[2], ("equipment".into(), "CUT-01".into()));
        // RFC 3339, and no time at all.
        let p = decode(
            &t,
            br#"{"ts":"2023-11-14T22:13:20Z","values":{"a":1}}"#,
            &Mapping::default(),
            0,
        )
        .unwrap();
        assert_eq!(p[0].ts, 1_700_000_000_000_000_000);
        let p = decode(&t, br#"{"values":{"a":1}}"#, &Mapping::default(), 42).unwrap();
        assert_eq!(p[0].ts, 42);
    }

    #[test]
    fn state_and_event_messages() {
        let p = decode(
            &topic("state"),
            br#"{"state":"down"}"#,
            &Mapping::default(),
            1,
        )
        .unwrap();
        assert_eq!(
            (&*p[0].measurement, &p[0].value),
            ("machine_state", &Value::Str("down".into()))
        );
        let e = decode(
            &topic("state"),
            br#"{"state":"asleep"}"#,
            &Mapping::default(),
            1,
        )
        .unwrap_err();
        assert_eq!(e.place, "state");
        let p = decode(
            &topic("event"),
            br#"{"code":"E42","message":"door open"}"#,
            &Mapping::default(),
            1,
        )
        .unwrap();
        assert_eq!(p.len(), 2);
    }

    #[test]
    fn other_shapes_through_a_mapping() {
        let m = Mapping {
            ts: Some("/header/time".into()),
            values: "/data".into(),
            ts_unit: TsUnit::S,
        };
        m.validate().unwrap();
        let p = decode(
            &topic("telemetry"),
            br#"{"header":{"time":1700000000},"data":{"t":1.5}}"#,
            &m,
            0,
        )
        .unwrap();
        assert_eq!(p[0].ts, 1_700_000_000_000_000_000);
        let bad = Mapping {
            values: "data".into(),
            ..m
        };
        assert_eq!(bad.validate().unwrap_err().place, "mapping.values");
    }

    #[test]
    fn errors_say_what_and_where() {
        let t = topic("telemetry");
        let m = Mapping::default();
        let cases: [(&[u8], &str, &str); 7] = [
            (b"{not json", "payload", "not JSON"),
            (b"[1,2]", "payload", "an array"),
            (br#"{"ts":1}"#, "values", "missing"),
            (br#"{"values":{"t":[1]}}"#, "values.t", "an array"),
            (br#"{"values":{"t":null}}"#, "values.t", "null"),
            (br#"{"ts":"yesterday","values":{"t":1}}"#, "ts", "RFC 3339"),
            (br#"{"ts":1.5,"values":{"t":1}}"#, "ts", "whole number"),
        ];
        for (payload, place, words) in cases {
            let e = decode(&t, payload, &m, 0).unwrap_err();
            assert_eq!(e.place, place, "{e}");
            assert!(e.message.contains(words), "{e}");
        }
        let big = vec![b' '; MAX_PAYLOAD_BYTES + 1];
        assert_eq!(decode(&t, &big, &m, 0).unwrap_err().place, "payload");
        for bad in [
            "zhizao/v2/a/b/c/telemetry",
            "zhizao/v1/a/b/telemetry",
            "zhizao/v1/a/+/c/telemetry",
            "zhizao/v1/a/b/c/alarm",
        ] {
            assert_eq!(parse_topic(bad).unwrap_err().place, "topic", "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_payload_is_decoded_or_refused_without_panicking(payload in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = decode(&topic("telemetry"), &payload, &Mapping::default(), 0);
        }

        #[test]
        fn any_topic_is_parsed_or_refused(topic in "\\PC{0,60}") {
            if let Ok(t) = parse_topic(&topic) {
                let again = format!("{TOPIC_ROOT}/{}/{}/{}/{}", t.site, t.line, t.equipment, t.kind.name());
                proptest::prop_assert_eq!(again, topic);
            }
        }
    }
}
