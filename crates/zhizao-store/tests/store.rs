//! Store behaviour on both backends: hierarchy CRUD, tenant scoping,
//! constraint errors, pagination, auth and live status.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use zhizao_core::Role;
use zhizao_store::{
    EquipmentPatch, EquipmentStatus, ListQuery, NewArea, NewEquipment, NewLine, NewSite, Sort,
    StateEvent, Store, StoreError,
};
use zhizao_testkit::each_backend;

async fn seed_line(store: &Store, tenant: i64, prefix: &str) -> (i64, i64, i64) {
    let site = store
        .create_site(
            tenant,
            NewSite {
                code: format!("{prefix}S"),
                name: "钢构车间".into(),
                timezone: None,
            },
        )
        .await
        .unwrap();
    let area = store
        .create_area(
            tenant,
            NewArea {
                site_id: site.id,
                code: format!("{prefix}A"),
                name: "下料区".into(),
            },
        )
        .await
        .unwrap();
    let line = store
        .create_line(
            tenant,
            NewLine {
                area_id: area.id,
                code: format!("{prefix}L"),
                name: "切割线".into(),
            },
        )
        .await
        .unwrap();
    (site.id, area.id, line.id)
}

fn machine(line_id: i64, code: &str) -> NewEquipment {
    NewEquipment {
        line_id,
        code: code.into(),
        name: format!("machine {code}"),
        equipment_type: "cnc_cutter".into(),
        work_cell: None,
        attributes: json!({"power_kw": 45}).as_object().cloned().unwrap(),
    }
}

#[tokio::test]
async fn hierarchy_crud_and_constraints() {
    for db in each_backend().await {
        let s = &db.store;
        let t = s.create_tenant("t1", "Tenant one").await.unwrap();
        let (site_id, _area_id, line_id) = seed_line(s, t.id, "X").await;
        let site = s.get_site(t.id, site_id).await.unwrap();
        assert_eq!(site.timezone, "Asia/Shanghai");

        let e = s
            .create_equipment(t.id, machine(line_id, "CUT-01"))
            .await
            .unwrap();
        assert_eq!(e.attributes["power_kw"], 45);

        // Duplicate code → conflict on `code`, nothing added.
        let err = s
            .create_equipment(t.id, machine(line_id, "CUT-01"))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Conflict { field, .. } if field == "code"),
            "{err:?}"
        );

        // Missing parent → named field.
        let err = s
            .create_equipment(t.id, machine(9999, "CUT-02"))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::MissingParent { field, .. } if field == "line_id"),
            "{err:?}"
        );

        // Invalid code → field error.
        let err = s
            .create_equipment(t.id, machine(line_id, "bad code"))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Invalid(f) if f.field == "code"),
            "{err:?}"
        );

        let all = s.list_equipment(t.id, &ListQuery::default()).await.unwrap();
        assert_eq!(all.total, 1);

        // Patch: clear nothing, set work cell, rename.
        let patched = s
            .update_equipment(
                t.id,
                e.id,
                EquipmentPatch {
                    name: Some("等离子切割机".into()),
                    work_cell: Some(Some("CELL-1".into())),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(patched.name, "等离子切割机");
        assert_eq!(patched.work_cell.as_deref(), Some("CELL-1"));
        assert_eq!(patched.code, "CUT-01");

        // Deleting a line that still has equipment is refused.
        let err = s.delete_line(t.id, line_id).await.unwrap_err();
        assert!(matches!(err, StoreError::InUse { .. }), "{err:?}");
        s.delete_equipment(t.id, e.id).await.unwrap();
        s.delete_line(t.id, line_id).await.unwrap();
        assert!(matches!(
            s.get_line(t.id, line_id).await,
            Err(StoreError::NotFound { .. })
        ));
        db.cleanup().await;
    }
}

#[tokio::test]
async fn tenants_never_see_each_other() {
    for db in each_backend().await {
        let s = &db.store;
        let a = s.create_tenant("a", "A").await.unwrap();
        let b = s.create_tenant("b", "B").await.unwrap();
        let (site_a, _, line_a) = seed_line(s, a.id, "A").await;
        // Same codes are fine in another tenant.
        let (_, _, _line_b) = seed_line(s, b.id, "A").await;
        let e = s
            .create_equipment(a.id, machine(line_a, "M1"))
            .await
            .unwrap();

        assert!(matches!(
            s.get_equipment(b.id, e.id).await,
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            s.delete_site(b.id, site_a).await,
            Err(StoreError::NotFound { .. })
        ));
        // B cannot hang equipment under A's line.
        let err = s
            .create_equipment(b.id, machine(line_a, "M2"))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::MissingParent { .. }));
        assert_eq!(
            s.list_equipment(b.id, &ListQuery::default())
                .await
                .unwrap()
                .total,
            0
        );
        assert_eq!(
            s.list_sites(b.id, &ListQuery::default())
                .await
                .unwrap()
                .total,
            1
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn lists_page_sort_and_search() {
    for db in each_backend().await {
        let s = &db.store;
        let t = s.create_tenant("t", "T").await.unwrap();
        let (_, _, line) = seed_line(s, t.id, "P").await;
        for i in 0..25 {
            s.create_equipment(t.id, machine(line, &format!("M-{i:02}")))
                .await
                .unwrap();
        }
        let q = ListQuery {
            limit: 10,
            offset: 20,
            ..Default::default()
        };
        let page = s.list_equipment(t.id, &q).await.unwrap();
        assert_eq!(page.total, 25);
        assert_eq!(page.items.len(), 5);
        assert_eq!(page.items[0].code, "M-20");

        let q = ListQuery {
            sort: Sort::Code,
            descending: true,
            limit: 1,
            ..Default::default()
        };
        assert_eq!(
            s.list_equipment(t.id, &q).await.unwrap().items[0].code,
            "M-24"
        );

        let q = ListQuery {
            search: Some("m-1".into()),
            ..Default::default()
        };
        assert_eq!(s.list_equipment(t.id, &q).await.unwrap().total, 10);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn login_sessions_and_bootstrap() {
    for db in each_backend().await {
        let s = &db.store;
        let created = s.ensure_admin(Some("correct horse")).await.unwrap();
        assert!(matches!(
            created,
            zhizao_store::LoginOutcome::Created {
                generated: false,
                ..
            }
        ));
        assert_eq!(
            s.ensure_admin(None).await.unwrap(),
            zhizao_store::LoginOutcome::Existing
        );

        assert!(s.verify_login("admin", "wrong").await.unwrap().is_none());
        assert!(
            s.verify_login("nobody", "correct horse")
                .await
                .unwrap()
                .is_none()
        );
        let admin = s
            .verify_login("admin", "correct horse")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(admin.role, Role::Admin);

        let token = s.create_session(admin.id).await.unwrap();
        assert_eq!(
            s.user_for_token(&token).await.unwrap().map(|u| u.id),
            Some(admin.id)
        );
        assert!(s.user_for_token("not-a-token").await.unwrap().is_none());
        s.delete_session(&token).await.unwrap();
        assert!(s.user_for_token(&token).await.unwrap().is_none());

        let err = s
            .create_user(admin.tenant_id, "admin", "longenough", Role::Viewer)
            .await
            .unwrap_err();
        assert!(matches!(&err, StoreError::Conflict { field, .. } if field == "username"));
        db.cleanup().await;
    }
}

#[tokio::test]
async fn statuses_upsert_and_events_read_newest_first() {
    for db in each_backend().await {
        let s = &db.store;
        let t = s.create_tenant("t", "T").await.unwrap();
        let (_, _, line) = seed_line(s, t.id, "S").await;
        let e = s.create_equipment(t.id, machine(line, "M1")).await.unwrap();
        let mut st = EquipmentStatus {
            equipment_id: e.id,
            tenant_id: t.id,
            state: "running".into(),
            since: 1000,
            day: "2026-11-29".into(),
            good_today: 5,
            scrap_today: 0,
            temperature: Some(40.5),
            updated_at: 1000,
        };
        s.save_statuses(std::slice::from_ref(&st)).await.unwrap();
        st.state = "down".into();
        st.good_today = 7;
        s.save_statuses(std::slice::from_ref(&st)).await.unwrap();
        assert_eq!(s.load_statuses(t.id).await.unwrap(), vec![st]);

        let ev = |ts, state: &str| StateEvent {
            tenant_id: t.id,
            equipment_id: e.id,
            ts,
            state: state.into(),
            previous: None,
        };
        s.append_state_events(&[ev(1, "idle"), ev(3, "down"), ev(2, "running")])
            .await
            .unwrap();
        let recent = s.recent_state_events(t.id, 2).await.unwrap();
        assert_eq!(recent.iter().map(|e| e.ts).collect::<Vec<_>>(), vec![3, 2]);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn users_list_per_tenant_and_delete_ends_sessions() {
    for db in each_backend().await {
        let s = &db.store;
        let a = s.create_tenant("a", "A").await.unwrap();
        let b = s.create_tenant("b", "B").await.unwrap();
        let planner = s
            .create_user(a.id, "planner1", "password-1", Role::Planner)
            .await
            .unwrap();
        s.create_user(a.id, "operator1", "password-1", Role::Operator)
            .await
            .unwrap();
        s.create_user(b.id, "other", "password-1", Role::Admin)
            .await
            .unwrap();
        let page = s.list_users(a.id, 1, 0).await.unwrap();
        assert_eq!(page.total, 2);
        assert_eq!(page.items[0].username, "operator1");
        assert!(matches!(
            s.delete_user(b.id, planner.id).await,
            Err(StoreError::NotFound { .. })
        ));
        let token = s.create_session(planner.id).await.unwrap();
        s.delete_user(a.id, planner.id).await.unwrap();
        assert!(s.user_for_token(&token).await.unwrap().is_none());
        assert!(matches!(
            s.create_user(a.id, "short", "1234567", Role::Viewer).await,
            Err(StoreError::Invalid(f)) if f.field == "password"
        ));
        db.cleanup().await;
    }
}
