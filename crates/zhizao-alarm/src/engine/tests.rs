use proptest::prelude::*;

use super::*;

fn rule(id: &str, condition: Condition) -> Rule {
    Rule {
        id: id.into(),
        name: id.into(),
        severity: Severity::High,
        condition,
        enabled: true,
        on_delay_s: 0,
        off_delay_s: 0,
        sources: None,
    }
}

fn above(limit: f64, deadband: f64) -> Condition {
    Condition::Above {
        field: "temp".into(),
        limit,
        deadband,
    }
}

fn kinds(events: &[Event]) -> Vec<EventKind> {
    events.iter().map(|e| e.kind.clone()).collect()
}

#[test]
fn a_threshold_with_deadband_raises_once_and_clears_below_the_band() {
    let mut e = Engine::new(vec![rule("hot", above(80.0, 5.0))], 10).unwrap();
    assert!(e.sample("CUT-01", "temp", 0, 79.0).is_empty());
    let ev = e.sample("CUT-01", "temp", 1_000, 81.0);
    assert_eq!(kinds(&ev), vec![EventKind::Raised]);
    let a = ev[0].alarm.clone().unwrap();
    assert_eq!(
        (a.source.as_str(), a.value, a.state),
        ("CUT-01", Some(81.0), AlarmState::ActiveUnacked)
    );
    // Hovering inside the band neither clears nor raises again.
    for (t, v) in [(2_000, 79.0), (3_000, 82.0), (4_000, 76.0)] {
        assert!(e.sample("CUT-01", "temp", t, v).is_empty(), "{v}");
    }
    assert_eq!(e.alarms().len(), 1);
    let ev = e.sample("CUT-01", "temp", 5_000, 74.0);
    assert_eq!(kinds(&ev), vec![EventKind::Cleared]);
    // Other machines have alarms of their own.
    assert_eq!(
        kinds(&e.sample("CUT-02", "temp", 5_000, 90.0)),
        vec![EventKind::Raised]
    );
}

#[test]
fn on_and_off_delays_hold_back_a_chattering_signal() {
    let mut r = rule("hot", above(80.0, 0.0));
    r.on_delay_s = 10;
    r.off_delay_s = 5;
    let mut e = Engine::new(vec![r], 10).unwrap();
    assert!(e.sample("M", "temp", 0, 85.0).is_empty());
    assert!(e.sample("M", "temp", 4_000, 70.0).is_empty());
    assert!(e.sample("M", "temp", 6_000, 85.0).is_empty());
    assert!(e.tick(15_000).is_empty(), "only 9 s above the limit so far");
    assert_eq!(kinds(&e.tick(16_000)), vec![EventKind::Raised]);
    assert!(e.sample("M", "temp", 17_000, 70.0).is_empty());
    assert!(e.tick(21_000).is_empty());
    assert_eq!(kinds(&e.tick(22_000)), vec![EventKind::Cleared]);
}

#[test]
fn the_lifecycle_acknowledge_clear_close() {
    let mut e = Engine::new(vec![rule("hot", above(80.0, 0.0))], 10).unwrap();
    let id = e.sample("M", "temp", 0, 90.0)[0].alarm.clone().unwrap().id;
    let ack = e.acknowledge(id, "张工", "冷却液已补充", 1_000).unwrap();
    assert_eq!(ack.kind, EventKind::Acknowledged);
    let a = ack.alarm.unwrap();
    assert_eq!(a.state, AlarmState::ActiveAcked);
    assert_eq!(a.acknowledged.unwrap().by, "张工");
    assert_eq!(
        e.acknowledge(id, "x", "", 1_500),
        Err(AlarmError::AlreadyAcknowledged(id))
    );
    assert_eq!(
        kinds(&e.sample("M", "temp", 2_000, 70.0)),
        vec![EventKind::Closed]
    );
    assert!(e.alarms().is_empty());
    assert_eq!(
        e.acknowledge(id, "x", "", 3_000),
        Err(AlarmError::NoSuchAlarm(id))
    );

    // Cleared first, then acknowledged: closed at the acknowledgement; a
    // return before it is the same alarm, reactivated.
    let id = e.sample("M", "temp", 4_000, 90.0)[0]
        .alarm
        .clone()
        .unwrap()
        .id;
    assert_eq!(
        kinds(&e.sample("M", "temp", 5_000, 70.0)),
        vec![EventKind::Cleared]
    );
    let again = e.sample("M", "temp", 6_000, 95.0);
    assert_eq!(kinds(&again), vec![EventKind::Reactivated]);
    assert_eq!(again[0].alarm.as_ref().unwrap().id, id);
    e.sample("M", "temp", 7_000, 70.0);
    assert_eq!(
        e.acknowledge(id, "李", "", 8_000).unwrap().kind,
        EventKind::Closed
    );
}

#[test]
fn silence_stuck_signals_states_and_rates() {
    let rules = vec![
        rule("silent", Condition::NoData { for_s: 60 }),
        rule(
            "stuck",
            Condition::Flatline {
                field: "pressure".into(),
                for_s: 30,
                epsilon: 0.01,
            },
        ),
        rule(
            "long-down",
            Condition::StateLonger {
                state: "down".into(),
                for_s: 600,
            },
        ),
        rule(
            "jump",
            Condition::RateOfChange {
                field: "temp".into(),
                per_second: 2.0,
            },
        ),
    ];
    let mut e = Engine::new(rules, 10).unwrap();
    e.sample("M", "pressure", 0, 5.0);
    e.sample("M", "pressure", 20_000, 5.005);
    let ev = e.sample("M", "pressure", 31_000, 5.0);
    assert_eq!(
        ev.iter()
            .map(|x| x.alarm.as_ref().unwrap().rule.as_str())
            .collect::<Vec<_>>(),
        ["stuck"]
    );
    assert_eq!(
        kinds(&e.sample("M", "pressure", 32_000, 6.0)),
        vec![EventKind::Cleared]
    );
    // Silence: a minute after the last sample.
    let ev = e.tick(92_000);
    assert!(
        ev.iter()
            .any(|x| x.alarm.as_ref().is_some_and(|a| a.rule == "silent")),
        "{ev:?}"
    );
    // A state held too long.
    e.state("M", "down", 100_000);
    assert!(
        e.tick(699_000)
            .iter()
            .all(|x| x.alarm.as_ref().is_none_or(|a| a.rule != "long-down"))
    );
    let ev = e.tick(700_000);
    assert!(
        ev.iter()
            .any(|x| x.alarm.as_ref().is_some_and(|a| a.rule == "long-down")),
        "{ev:?}"
    );
    // 10 degrees in one second is faster than 2 per second.
    e.sample("M", "temp", 800_000, 20.0);
    let ev = e.sample("M", "temp", 801_000, 30.0);
    assert!(
        ev.iter()
            .any(|x| x.alarm.as_ref().is_some_and(|a| a.rule == "jump")),
        "{ev:?}"
    );
}

#[test]
fn rules_that_could_never_work_are_refused_with_their_place() {
    let field = |rules: Vec<Rule>| match Engine::new(rules, 10) {
        Err(AlarmError::Rule { index, field, .. }) => Some((index, field)),
        _ => None,
    };
    let twice = vec![rule("hot", above(80.0, 0.0)), rule("hot", above(90.0, 0.0))];
    assert_eq!(field(twice), Some((1, "id")));
    let mut nameless = rule("hot", above(80.0, 0.0));
    nameless.name = " ".into();
    assert_eq!(field(vec![nameless]), Some((0, "name")));
    let no_signal = Condition::Above {
        field: String::new(),
        limit: 1.0,
        deadband: 0.0,
    };
    assert_eq!(
        field(vec![rule("x", no_signal)]),
        Some((0, "condition.field"))
    );
    let misspelt = Condition::StateLonger {
        state: "runing".into(),
        for_s: 60,
    };
    assert_eq!(
        field(vec![rule("x", misspelt)]),
        Some((0, "condition.state"))
    );
}

#[test]
fn a_rule_switched_off_raises_nothing() {
    let mut off = rule("hot", above(80.0, 0.0));
    off.enabled = false;
    let mut e = Engine::new(
        vec![
            off,
            rule(
                "cold",
                Condition::Below {
                    field: "temp".into(),
                    limit: 0.0,
                    deadband: 0.0,
                },
            ),
        ],
        10,
    )
    .unwrap();
    assert!(e.sample("M", "temp", 0, 95.0).is_empty());
    assert_eq!(
        kinds(&e.sample("M", "temp", 1_000, -5.0)),
        vec![EventKind::Raised]
    );
    // Unknown fields (a misspelt `enabled`) are refused, not dropped.
    let json = r#"{"id":"a","name":"a","severity":"low","condition":{"kind":"no_data","for_s":5},"enable":false}"#;
    assert!(serde_json::from_str::<Rule>(json).is_err());
    let json = r#"{"id":"a","name":"a","severity":"low","condition":{"kind":"no_data","for_s":5}}"#;
    assert!(serde_json::from_str::<Rule>(json).unwrap().enabled);
}

#[test]
fn restored_alarms_go_on_where_they_stopped() {
    let rules = || {
        vec![
            rule("hot", above(80.0, 0.0)),
            rule(
                "long-down",
                Condition::StateLonger {
                    state: "down".into(),
                    for_s: 600,
                },
            ),
        ]
    };
    let mut before = Engine::new(rules(), 10).unwrap();
    before.sample("M", "temp", 0, 90.0);
    before.state("M", "down", 0);
    before.tick(600_000);
    let hot = before.alarms()[0].id;
    before.acknowledge(hot, "li", "fan checked", 1_000).unwrap();
    let open: Vec<Alarm> = before.alarms().into_iter().cloned().collect();
    assert_eq!(open.len(), 2);

    // A restart: the same rules, plus one that is gone.
    let mut gone = open[0].clone();
    gone.rule = "removed".into();
    gone.id = 99;
    let mut after = Engine::new(rules(), 10).unwrap();
    let dropped = after.restore([open.clone(), vec![gone.clone()]].concat());
    assert_eq!(dropped, [gone]);
    assert_eq!(
        after.alarms().into_iter().cloned().collect::<Vec<_>>(),
        open
    );
    // Still hot and still down (a rebirth repeats the state): nothing new,
    // nothing cleared.
    assert!(after.sample("M", "temp", 700_000, 91.0).is_empty());
    assert!(after.state("M", "down", 700_000).is_empty());
    assert!(after.tick(700_000).is_empty());
    // The acknowledged alarm closes when it clears; the other clears.
    assert_eq!(
        kinds(&after.sample("M", "temp", 701_000, 70.0)),
        vec![EventKind::Closed]
    );
    assert_eq!(
        kinds(&after.state("M", "running", 702_000)),
        vec![EventKind::Cleared]
    );
    // New alarms are numbered after the restored ones.
    let ev = after.sample("M", "temp", 703_000, 95.0);
    assert!(ev[0].alarm.as_ref().unwrap().id > open.iter().map(|a| a.id).max().unwrap());
}

#[test]
fn expressions_over_several_signals() {
    let mut e = Engine::new(
        vec![rule(
            "dry-cut",
            Condition::Expression {
                expr: "spindle_temp > 80 && coolant_flow < 2".into(),
            },
        )],
        10,
    )
    .unwrap();
    assert!(
        e.sample("M", "spindle_temp", 0, 90.0).is_empty(),
        "coolant not known yet"
    );
    assert_eq!(
        kinds(&e.sample("M", "coolant_flow", 1_000, 1.0)),
        vec![EventKind::Raised]
    );
    assert_eq!(
        kinds(&e.sample("M", "coolant_flow", 2_000, 5.0)),
        vec![EventKind::Cleared]
    );
    for expr in ["(a > 1", "a >", "a + 1", "a > > 1"] {
        let bad = Engine::new(
            vec![rule("x", Condition::Expression { expr: expr.into() })],
            10,
        );
        assert!(
            matches!(
                bad,
                Err(AlarmError::Rule {
                    index: 0,
                    field: "condition.expr",
                    ..
                })
            ),
            "{expr} was accepted"
        );
    }
    let none = Engine::new(
        vec![rule(
            "x",
            Condition::Expression {
                expr: "1 > 0".into(),
            },
        )],
        10,
    );
    assert!(none.is_err());
}

#[test]
fn a_flood_is_recorded_but_not_notified_alarm_by_alarm() {
    let mut e = Engine::new(vec![rule("hot", above(80.0, 0.0))], 3).unwrap();
    let mut notified = 0;
    let mut flood_started = 0;
    for m in 0..8 {
        for ev in e.sample(&format!("M{m}"), "temp", m * 1_000, 90.0) {
            if ev.kind == EventKind::FloodStarted {
                flood_started += 1;
            }
            if ev.kind == EventKind::Raised && ev.notify {
                notified += 1;
            }
        }
    }
    assert_eq!((notified, flood_started), (3, 1));
    assert_eq!(e.alarms().len(), 8, "every alarm is kept");
    assert_eq!(e.alarms().iter().filter(|a| a.flood).count(), 5);
    let ev = e.tick(20 * 60 * 1000);
    assert!(ev.contains(&Event {
        at: 20 * 60 * 1000,
        kind: EventKind::FloodEnded { suppressed: 5 },
        alarm: None,
        notify: true
    }));
}

#[test]
fn shelved_alarms_are_not_notified_until_the_shelf_runs_out() {
    let mut e = Engine::new(vec![rule("hot", above(80.0, 0.0))], 10).unwrap();
    let id = e.sample("M", "temp", 0, 90.0)[0].alarm.clone().unwrap().id;
    e.shelve(id, 60_000, 1_000).unwrap();
    let ev = e.sample("M", "temp", 2_000, 70.0);
    assert_eq!(kinds(&ev), vec![EventKind::Cleared]);
    assert!(!ev[0].notify);
    assert_eq!(kinds(&e.tick(60_000)), vec![EventKind::Unshelved]);
}

proptest! {
    /// Whatever the signal does: at most one alarm per rule and machine,
    /// raises and clears alternate, a raise sees a value above the limit
    /// and a clear one below limit − deadband.
    #[test]
    fn raises_and_clears_alternate(values in proptest::collection::vec(60.0f64..100.0, 1..200), band in 0.0f64..10.0) {
        let mut e = Engine::new(vec![rule("hot", above(80.0, band))], 1000).unwrap();
        let mut active = false;
        for (i, v) in values.iter().enumerate() {
            for ev in e.sample("M", "temp", i as i64 * 1000, *v) {
                match ev.kind {
                    EventKind::Raised | EventKind::Reactivated => {
                        prop_assert!(!active);
                        prop_assert!(*v > 80.0);
                        active = true;
                    }
                    EventKind::Cleared => {
                        prop_assert!(active);
                        prop_assert!(*v <= 80.0 - band);
                        active = false;
                    }
                    other => prop_assert!(false, "unexpected {other:?}"),
                }
            }
            prop_assert!(e.alarms().len() <= 1);
        }
    }
}
