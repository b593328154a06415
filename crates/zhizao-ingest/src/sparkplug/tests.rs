use proptest::prelude::*;

use super::proto::{DataSet, Template};
use super::*;

fn metric(name: Option<&str>, alias: Option<u64>, datatype: u32, value: MetricValue) -> Metric {
    Metric::new(name, alias, datatype, value)
}

fn payload(seq: Option<u64>, metrics: Vec<Metric>) -> Vec<u8> {
    Payload {
        timestamp: Some(1_700_000_000_000),
        metrics,
        seq,
        ..Payload::default()
    }
    .encode_to_vec()
}

fn nbirth(seq: u64, bd_seq: u64) -> Vec<u8> {
    payload(
        Some(seq),
        vec![
            metric(
                Some(BD_SEQ_METRIC),
                None,
                datatype::INT64,
                MetricValue::LongValue(bd_seq),
            ),
            metric(
                Some(REBIRTH_METRIC),
                None,
                datatype::BOOLEAN,
                MetricValue::BooleanValue(false),
            ),
            metric(
                Some("Supply/Voltage"),
                Some(1),
                datatype::FLOAT,
                MetricValue::FloatValue(230.5),
            ),
        ],
    )
}

fn dbirth(seq: u64) -> Vec<u8> {
    payload(
        Some(seq),
        vec![
            metric(
                Some("spindle_temp"),
                Some(10),
                datatype::DOUBLE,
                MetricValue::DoubleValue(61.2),
            ),
            metric(
                Some("offset"),
                Some(11),
                datatype::INT8,
                MetricValue::IntValue(0),
            ),
            metric(
                Some("state"),
                Some(12),
                datatype::STRING,
                MetricValue::StringValue("running".into()),
            ),
        ],
    )
}

const NODE: &str = "spBv1.0/steel/NBIRTH/cutting";
const DEV_BIRTH: &str = "spBv1.0/steel/DBIRTH/cutting/CUT-01";
const DEV_DATA: &str = "spBv1.0/steel/DDATA/cutting/CUT-01";

fn born() -> EdgeNodes {
    let mut nodes = EdgeNodes::new();
    let r = nodes.receive(NODE, &nbirth(0, 7), 0).unwrap();
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    let r = nodes.receive(DEV_BIRTH, &dbirth(1), 0).unwrap();
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    nodes
}

fn field<'a>(r: &'a Received, name: &str) -> &'a Point {
    r.points
        .iter()
        .find(|p| &*p.field == name)
        .unwrap_or_else(|| panic!("no point `{name}` in {:?}", r.points))
}

#[test]
fn topics_split_and_refuse() {
    assert_eq!(
        parse_topic(DEV_DATA).unwrap(),
        SparkplugTopic::Edge {
            group: "steel".into(),
            kind: MessageType::DData,
            node: "cutting".into(),
            device: Some("CUT-01".into()),
        }
    );
    assert_eq!(
        parse_topic("spBv1.0/STATE/scada").unwrap(),
        SparkplugTopic::State {
            host: "scada".into()
        }
    );
    for bad in [
        "spBv1.0/steel/NDATA",
        "spBv1.0/steel/DDATA/cutting",
        "spBv1.0/steel/NDATA/cutting/CUT-01",
        "spBv1.0/steel/XDATA/cutting",
        "spBv1.0/steel//cutting",
        "spBv1.0/steel/NDATA/+",
        "spAv1.0/steel/NDATA/cutting",
        "spBv1.0/STATE",
    ] {
        let e = parse_topic(bad).unwrap_err();
        assert_eq!(e.place, "topic", "{bad}");
    }
    assert!(is_sparkplug(DEV_DATA));
    assert!(!is_sparkplug("spBv1.0x/a"));
}

#[test]
fn births_declare_aliases_and_data_uses_them() {
    let mut nodes = born();
    let data = payload(
        Some(2),
        vec![
            Metric {
                timestamp: Some(1_700_000_000_500),
                ..metric(None, Some(10), 0, MetricValue::DoubleValue(62.5))
            },
            // Int8 -3 as its 32-bit two's complement, sign-extended or not.
            metric(None, Some(11), 0, MetricValue::IntValue(0xFFFF_FFFD)),
            metric(None, Some(12), 0, MetricValue::StringValue("down".into())),
        ],
    );
    let r = nodes.receive(DEV_DATA, &data, 0).unwrap();
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert!(r.commands.is_empty());
    let t = field(&r, "spindle_temp");
    assert_eq!(t.value, Value::F64(62.5));
    assert_eq!(t.ts, 1_700_000_000_500_000_000);
    assert_eq!(&*t.measurement, "telemetry");
    assert_eq!(
        *t.tags,
        vec![
            ("site".to_owned(), "steel".to_owned()),
            ("line".to_owned(), "cutting".to_owned()),
            ("equipment".to_owned(), "CUT-01".to_owned()),
        ]
    );
    assert_eq!(field(&r, "offset").value, Value::F64(-3.0));
    assert_eq!(field(&r, "offset").ts, 1_700_000_000_000_000_000);
    let r = nodes
        .receive(
            DEV_DATA,
            &payload(
                Some(3),
                vec![metric(None, Some(11), 0, MetricValue::IntValue(0xFD))],
            ),
            0,
        )
        .unwrap();
    assert_eq!(field(&r, "offset").value, Value::F64(-3.0));
    assert_eq!(field(&r, "offset").ts, 1_700_000_000_000_000_000);
    // The node's own metrics, by alias, under `edge_node`.
    let r = nodes
        .receive(
            "spBv1.0/steel/NDATA/cutting",
            &payload(
                Some(4),
                vec![metric(None, Some(1), 0, MetricValue::FloatValue(229.0))],
            ),
            0,
        )
        .unwrap();
    let v = field(&r, "Supply/Voltage");
    assert_eq!(v.value, Value::F64(229.0));
    assert_eq!(&*v.measurement, NODE_MEASUREMENT);
    assert_eq!(v.tags.len(), 2);
    let status = nodes.status();
    assert_eq!(status.len(), 1);
    assert!(status[0].online);
    assert_eq!(status[0].bd_seq, Some(7));
    assert_eq!(status[0].devices, vec![("CUT-01".to_owned(), true)]);
}

#[test]
fn births_store_their_values_but_not_protocol_metrics() {
    let mut nodes = EdgeNodes::new();
    let r = nodes.receive(NODE, &nbirth(0, 1), 0).unwrap();
    assert_eq!(field(&r, "Supply/Voltage").value, Value::F64(230.5));
    assert_eq!(field(&r, "online").value, Value::Bool(true));
    assert!(r.points.iter().all(|p| &*p.field != BD_SEQ_METRIC));
    assert!(r.points.iter().all(|p| &*p.field != REBIRTH_METRIC));
    assert_eq!(r.presence, vec![presence("steel", "cutting", None, true)]);
    let r = nodes.receive(DEV_BIRTH, &dbirth(1), 0).unwrap();
    assert_eq!(field(&r, "state").value, Value::Str("running".into()));
    assert_eq!(
        r.presence,
        vec![presence("steel", "cutting", Some("CUT-01".into()), true)]
    );
}

fn is_rebirth(c: &Command) -> bool {
    let p = Payload::decode(c.payload.as_slice()).unwrap();
    c.topic == "spBv1.0/steel/NCMD/cutting"
        && p.metrics.len() == 1
        && p.metrics[0].name.as_deref() == Some(REBIRTH_METRIC)
        && p.metrics[0].value == Some(MetricValue::BooleanValue(true))
}

#[test]
fn an_unknown_alias_asks_for_a_rebirth_and_keeps_the_rest() {
    let mut nodes = born();
    let data = payload(
        Some(2),
        vec![
            metric(None, Some(99), 0, MetricValue::DoubleValue(1.0)),
            metric(None, Some(10), 0, MetricValue::DoubleValue(63.0)),
        ],
    );
    let r = nodes.receive(DEV_DATA, &data, 1_000).unwrap();
    assert_eq!(r.points.len(), 1);
    assert!(
        r.problems[0].contains("unknown alias 99"),
        "{:?}",
        r.problems
    );
    assert_eq!(r.commands.len(), 1);
    assert!(is_rebirth(&r.commands[0]));
    // Asked again only after a pause.
    let again = payload(
        Some(3),
        vec![metric(None, Some(99), 0, MetricValue::DoubleValue(1.0))],
    );
    assert!(
        nodes
            .receive(DEV_DATA, &again, 2_000)
            .unwrap()
            .commands
            .is_empty()
    );
    let again = payload(
        Some(4),
        vec![metric(None, Some(99), 0, MetricValue::DoubleValue(1.0))],
    );
    assert_eq!(
        nodes
            .receive(DEV_DATA, &again, 7_000)
            .unwrap()
            .commands
            .len(),
        1
    );
    // A node's alias used in a device message is refused.
    let wrong = payload(
        Some(5),
        vec![metric(None, Some(1), 0, MetricValue::FloatValue(1.0))],
    );
    let r = nodes.receive(DEV_DATA, &wrong, 7_000).unwrap();
    assert!(r.points.is_empty());
    assert!(
        r.problems[0].contains("belongs to the edge node"),
        "{:?}",
        r.problems
    );
}

#[test]
fn seq_gaps_ask_for_a_rebirth_and_wrap_at_256() {
    let mut nodes = EdgeNodes::new();
    nodes.receive(NODE, &nbirth(254, 1), 0).unwrap();
    let r = nodes.receive(DEV_BIRTH, &dbirth(255), 0).unwrap();
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    let ok = payload(
        Some(0),
        vec![metric(None, Some(10), 0, MetricValue::DoubleValue(1.0))],
    );
    let r = nodes.receive(DEV_DATA, &ok, 0).unwrap();
    assert!(
        r.problems.is_empty() && r.commands.is_empty(),
        "{:?}",
        r.problems
    );
    let gap = payload(
        Some(5),
        vec![metric(None, Some(10), 0, MetricValue::DoubleValue(2.0))],
    );
    let r = nodes.receive(DEV_DATA, &gap, 0).unwrap();
    assert!(
        r.problems[0].contains("seq 5 out of order (expected 1)"),
        "{:?}",
        r.problems
    );
    assert!(is_rebirth(&r.commands[0]));
    // The data itself is kept (the store is idempotent on series + time).
    assert_eq!(r.points.len(), 1);
    // And the count goes on from the seq received.
    let next = payload(
        Some(6),
        vec![metric(None, Some(10), 0, MetricValue::DoubleValue(3.0))],
    );
    assert!(
        nodes
            .receive(DEV_DATA, &next, 0)
            .unwrap()
            .problems
            .is_empty()
    );
}

#[test]
fn data_before_a_birth_is_refused_with_a_rebirth_request() {
    let mut nodes = EdgeNodes::new();
    let data = payload(
        Some(3),
        vec![metric(None, Some(10), 0, MetricValue::DoubleValue(1.0))],
    );
    let r = nodes.receive(DEV_DATA, &data, 0).unwrap();
    assert!(r.points.is_empty());
    assert!(
        r.problems[0].contains("has not been born"),
        "{:?}",
        r.problems
    );
    assert!(is_rebirth(&r.commands[0]));
    // A device of a born node that has not sent DBIRTH.
    let mut nodes = EdgeNodes::new();
    nodes.receive(NODE, &nbirth(0, 1), 0).unwrap();
    let data = payload(
        Some(1),
        vec![metric(
            Some("x"),
            None,
            datatype::DOUBLE,
            MetricValue::DoubleValue(1.0),
        )],
    );
    let r = nodes.receive(DEV_DATA, &data, 0).unwrap();
    assert!(r.points.is_empty());
    assert!(
        r.problems[0].contains("device `CUT-01` has not been born"),
        "{:?}",
        r.problems
    );
    assert_eq!(r.commands.len(), 1);
}

#[test]
fn deaths_take_nodes_and_devices_offline_unless_stale() {
    let mut nodes = born();
    let death = |bd: u64| {
        payload(
            None,
            vec![metric(
                Some(BD_SEQ_METRIC),
                None,
                datatype::INT64,
                MetricValue::LongValue(bd),
            )],
        )
    };
    // The will of an earlier session (bdSeq 6) does not end this one (7).
    let r = nodes
        .receive("spBv1.0/steel/NDEATH/cutting", &death(6), 0)
        .unwrap();
    assert!(r.presence.is_empty());
    assert!(nodes.status()[0].online);
    let r = nodes
        .receive("spBv1.0/steel/NDEATH/cutting", &death(7), 0)
        .unwrap();
    assert_eq!(
        r.presence,
        vec![
            presence("steel", "cutting", None, false),
            presence("steel", "cutting", Some("CUT-01".into()), false),
        ]
    );
    assert!(r.points.iter().all(|p| p.value == Value::Bool(false)));
    let s = &nodes.status()[0];
    assert!(!s.online);
    assert_eq!(s.devices, vec![("CUT-01".to_owned(), false)]);
    // After a death, data waits for a new birth.
    let data = payload(
        Some(2),
        vec![metric(None, Some(10), 0, MetricValue::DoubleValue(1.0))],
    );
    assert!(nodes.receive(DEV_DATA, &data, 0).unwrap().points.is_empty());

    // A device death.
    let mut nodes = born();
    let r = nodes
        .receive(
            "spBv1.0/steel/DDEATH/cutting/CUT-01",
            &payload(Some(2), vec![]),
            0,
        )
        .unwrap();
    assert_eq!(
        r.presence,
        vec![presence("steel", "cutting", Some("CUT-01".into()), false)]
    );
    assert_eq!(field(&r, "online").value, Value::Bool(false));
}

#[test]
fn datasets_templates_and_bytes_are_refused_by_name() {
    let mut nodes = born();
    let data = payload(
        Some(2),
        vec![
            metric(
                Some("recipe"),
                None,
                datatype::DATASET,
                MetricValue::DatasetValue(DataSet::default()),
            ),
            metric(
                Some("motor"),
                None,
                datatype::TEMPLATE,
                MetricValue::TemplateValue(Template {
                    template_ref: Some("Motor".into()),
                    ..Template::default()
                }),
            ),
            metric(
                Some("blob"),
                None,
                datatype::BYTES,
                MetricValue::BytesValue(vec![1]),
            ),
            metric(
                Some("temps"),
                None,
                31,
                MetricValue::BytesValue(vec![0; 16]),
            ),
            metric(
                Some("spindle_temp"),
                None,
                0,
                MetricValue::DoubleValue(60.0),
            ),
            Metric {
                is_null: Some(true),
                ..metric(
                    Some("offset"),
                    None,
                    datatype::INT8,
                    MetricValue::IntValue(0),
                )
            },
        ],
    );
    let r = nodes.receive(DEV_DATA, &data, 0).unwrap();
    assert_eq!(r.points.len(), 1, "{:?}", r.points);
    let all = r.problems.join("\n");
    for want in [
        "metric `recipe`: datasets are not stored",
        "metric `motor`: template instances (of `Motor`) are not stored",
        "metric `blob`: bytes values are not stored",
        "metric `temps`: arrays are not stored",
    ] {
        assert!(all.contains(want), "{want} not in {all}");
    }
    // A template definition in a birth is accepted and stores nothing.
    let mut nodes = EdgeNodes::new();
    let mut birth = Payload::decode(nbirth(0, 1).as_slice()).unwrap();
    birth.metrics.push(metric(
        Some("_types_/Motor"),
        None,
        datatype::TEMPLATE,
        MetricValue::TemplateValue(Template {
            is_definition: Some(true),
            ..Template::default()
        }),
    ));
    let r = nodes.receive(NODE, &birth.encode_to_vec(), 0).unwrap();
    assert!(r.problems.is_empty(), "{:?}", r.problems);
}

#[test]
fn broken_payloads_and_state_messages() {
    let mut nodes = EdgeNodes::new();
    let e = nodes.receive(DEV_DATA, b"\x0a\xff\xff\xff", 0).unwrap_err();
    assert_eq!(e.place, "payload");
    assert!(
        e.message.contains("not a Sparkplug B protobuf payload"),
        "{e}"
    );
    let big = vec![0u8; crate::MAX_PAYLOAD_BYTES + 1];
    assert!(nodes.receive(DEV_DATA, &big, 0).is_err());
    assert!(
        nodes
            .receive(
                "spBv1.0/STATE/scada",
                br#"{"online":true,"timestamp":1}"#,
                0
            )
            .is_ok()
    );
    assert!(nodes.receive("spBv1.0/STATE/scada", b"ONLINE", 0).is_err());
    assert!(
        nodes
            .receive("spBv1.0/STATE/scada", br#"{"online":"yes"}"#, 0)
            .is_err()
    );
    // Commands are read and need no answer.
    let cmd = rebirth_command("steel", "cutting", 5);
    let r = nodes.receive(&cmd.topic, &cmd.payload, 0).unwrap();
    assert!(r.points.is_empty() && r.problems.is_empty());
}

proptest! {
    #[test]
    fn no_input_panics(topic in "spBv1\\.0(/[A-Z0-9a-z+#]{0,6}){0,5}", bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut nodes = born();
        let _ = nodes.receive(&topic, &bytes, 0);
    }

    #[test]
    fn any_metric_value_round_trips_or_is_named(v in any::<f64>(), i in any::<i32>(), seq in 2u64..300) {
        let mut nodes = born();
        let data = payload(Some(seq), vec![
            metric(None, Some(10), 0, MetricValue::DoubleValue(v)),
            metric(Some("counter"), None, datatype::INT32, MetricValue::IntValue(i as u32)),
        ]);
        let r = nodes.receive(DEV_DATA, &data, 0).unwrap();
        prop_assert_eq!(field(&r, "counter").value.clone(), Value::F64(f64::from(i)));
        if v.is_finite() {
            prop_assert_eq!(field(&r, "spindle_temp").value.clone(), Value::F64(v));
        } else {
            prop_assert!(r.problems.iter().any(|p| p.contains("spindle_temp")));
        }
        prop_assert_eq!(r.commands.is_empty(), seq == 2);
    }
}
