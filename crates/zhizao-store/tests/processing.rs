//! What central processing keeps, on both backends: site calendars, alarm
//! rules and the alarm journal, the reason tree and stop reasons, state
//! changes over a period.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use zhizao_core::{Calendar, ShiftPattern};
use zhizao_store::{JournalEntry, NewArea, NewEquipment, NewLine, NewSite, StateEvent, StopReason};
use zhizao_testkit::each_backend;

#[tokio::test]
async fn calendars_rules_journal_and_reasons_on_both_backends() {
    for t in each_backend().await {
        let s = &t.store;
        let a = s.create_tenant("plant-a", "A").await.unwrap();
        let b = s.create_tenant("plant-b", "B").await.unwrap();
        let site = s
            .create_site(
                a.id,
                NewSite {
                    code: "S".into(),
                    name: "S".into(),
                    timezone: Some("Asia/Shanghai".into()),
                },
            )
            .await
            .unwrap();
        // Calendars: none, set, replaced; another tenant's site is not found.
        assert_eq!(s.site_calendar(a.id, site.id).await.unwrap(), None);
        let mut cal = Calendar {
            code: "c".into(),
            pattern: ShiftPattern::three_eight(),
            working_weekdays: vec![1, 2, 3, 4, 5, 6],
            holidays: vec!["2026-10-01".into()],
            extra_working_days: vec![],
        };
        s.put_site_calendar(a.id, site.id, &cal).await.unwrap();
        cal.working_weekdays = vec![1, 2, 3, 4, 5];
        s.put_site_calendar(a.id, site.id, &cal).await.unwrap();
        assert_eq!(s.site_calendar(a.id, site.id).await.unwrap(), Some(cal));
        assert!(s.site_calendar(b.id, site.id).await.is_err());

        // Alarm rules and the journal.
        assert_eq!(s.alarm_rules(a.id).await.unwrap(), None);
        s.put_alarm_rules(a.id, "[]").await.unwrap();
        s.put_alarm_rules(a.id, r#"[{"id":"x"}]"#).await.unwrap();
        assert_eq!(
            s.alarm_rules(a.id).await.unwrap().as_deref(),
            Some(r#"[{"id":"x"}]"#)
        );
        assert_eq!(s.max_alarm_id(a.id).await.unwrap(), None);
        let entry = |id: i64, at: i64, kind: &str| JournalEntry {
            tenant_id: a.id,
            alarm_id: Some(id),
            at,
            kind: kind.into(),
            rule: Some("hot".into()),
            name: Some("温度过高".into()),
            source: Some("M1".into()),
            severity: Some("high".into()),
            state: Some("active_unacked".into()),
            value: Some(81.5),
            by_user: None,
            comment: None,
            flood: kind == "raised",
            alarm: Some(format!("{{\"id\":{id},\"after\":\"{kind}\"}}")),
        };
        s.append_alarm_journal(&[
            entry(7, 100, "raised"),
            entry(7, 200, "cleared"),
            entry(9, 300, "raised"),
            entry(8, 310, "raised"),
            entry(8, 320, "closed"),
        ])
        .await
        .unwrap();
        // What is not over, as its latest event left it.
        assert_eq!(
            s.open_alarms(a.id).await.unwrap(),
            [
                r#"{"id":7,"after":"cleared"}"#,
                r#"{"id":9,"after":"raised"}"#
            ]
        );
        assert!(s.open_alarms(b.id).await.unwrap().is_empty());
        assert_eq!(s.max_alarm_id(a.id).await.unwrap(), Some(9));
        let (items, total) = s.alarm_journal(a.id, 0, 1000, 2, 0).await.unwrap();
        assert_eq!(total, 5);
        assert_eq!(items.iter().map(|e| e.at).collect::<Vec<_>>(), [320, 310]);
        assert_eq!(items[1], entry(8, 310, "raised"));
        assert_eq!(s.alarm_journal(a.id, 150, 250, 10, 0).await.unwrap().1, 1);
        assert_eq!(s.alarm_journal(b.id, 0, 1000, 10, 0).await.unwrap().1, 0);

        // Reasons and state changes of a machine.
        let area = s
            .create_area(
                a.id,
                NewArea {
                    site_id: site.id,
                    code: "A".into(),
                    name: "A".into(),
                },
            )
            .await
            .unwrap();
        let line = s
            .create_line(
                a.id,
                NewLine {
                    area_id: area.id,
                    code: "L".into(),
                    name: "L".into(),
                },
            )
            .await
            .unwrap();
        let eq = s
            .create_equipment(
                a.id,
                NewEquipment {
                    line_id: line.id,
                    code: "M1".into(),
                    name: "M1".into(),
                    equipment_type: "cnc".into(),
                    work_cell: None,
                    attributes: Default::default(),
                },
            )
            .await
            .unwrap();
        let ev = |ts: i64, state: &str| StateEvent {
            tenant_id: a.id,
            equipment_id: eq.id,
            ts,
            state: state.into(),
            previous: None,
        };
        s.append_state_events(&[ev(10, "running"), ev(20, "down"), ev(30, "running")])
            .await
            .unwrap();
        let (before, within) = s.state_events_between(a.id, eq.id, 15, 31).await.unwrap();
        assert_eq!(before.map(|e| e.ts), Some(10));
        assert_eq!(within.iter().map(|e| e.ts).collect::<Vec<_>>(), [20, 30]);
        let reason = |code: &str| StopReason {
            equipment_id: eq.id,
            stop_ts: 20,
            code: code.into(),
            comment: "换刀".into(),
            by_user: "op".into(),
            created_at: 40,
        };
        s.set_stop_reason(a.id, &reason("mech.tool")).await.unwrap();
        s.set_stop_reason(a.id, &reason("mech.spindle"))
            .await
            .unwrap();
        assert_eq!(
            s.stop_reasons_between(a.id, eq.id, 0, 100).await.unwrap(),
            vec![reason("mech.spindle")]
        );
        assert!(
            s.set_stop_reason(b.id, &reason("x")).await.is_err(),
            "another tenant's machine"
        );
        assert_eq!(s.reason_tree(a.id).await.unwrap(), None);
        s.put_reason_tree(a.id, r#"{"reasons":[]}"#).await.unwrap();
        assert!(s.reason_tree(a.id).await.unwrap().is_some());
    }
}
