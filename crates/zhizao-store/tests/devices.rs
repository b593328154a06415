//! The device registry on both backends: credentials shown once and
//! checked, tenant scoping, unique prefixes, traffic counters.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use zhizao_store::{DeviceTraffic, NewDevice, StoreError};
use zhizao_testkit::each_backend;

fn device(code: &str, prefix: &str) -> NewDevice {
    NewDevice {
        code: code.into(),
        name: format!("网关 {code}"),
        topic_prefix: prefix.into(),
        mapping: None,
    }
}

#[tokio::test]
async fn devices_get_credentials_once_and_stay_in_their_tenant() {
    for t in each_backend().await {
        let s = &t.store;
        let a = s.create_tenant("plant-a", "A").await.unwrap();
        let b = s.create_tenant("plant-b", "B").await.unwrap();
        let (gw, password) = s
            .create_device(a.id, &device("GW-01", "zhizao/v1/S1/L1/"))
            .await
            .unwrap();
        assert_eq!(gw.username, "plant-a.GW-01");
        assert_eq!(gw.topic_prefix, "zhizao/v1/S1/L1", "trailing slash dropped");
        assert!(password.len() >= 20);
        let ok = s.verify_device("plant-a.GW-01", &password).await.unwrap();
        assert_eq!(ok.map(|d| d.id), Some(gw.id));
        assert!(
            s.verify_device("plant-a.GW-01", "wrong-password")
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            s.verify_device("nobody", &password)
                .await
                .unwrap()
                .is_none()
        );

        // Codes are unique per tenant, prefixes across all tenants.
        let dup = s
            .create_device(a.id, &device("GW-01", "zhizao/v1/S2"))
            .await
            .unwrap_err();
        assert!(matches!(dup, StoreError::Conflict { .. }), "{dup:?}");
        let taken = s
            .create_device(b.id, &device("GW-09", "zhizao/v1/S1/L1"))
            .await
            .unwrap_err();
        assert!(matches!(taken, StoreError::Conflict { .. }), "{taken:?}");
        s.create_device(b.id, &device("GW-01", "zhizao/v1/B1"))
            .await
            .unwrap();
        let bad = s
            .create_device(a.id, &device("GW-02", "zhizao/+/x"))
            .await
            .unwrap_err();
        assert!(bad.to_string().contains("topic_prefix"), "{bad}");

        assert!(matches!(
            s.get_device(b.id, gw.id).await,
            Err(StoreError::NotFound { .. })
        ));
        let (list, total) = s.list_devices(a.id, 10, 0).await.unwrap();
        assert_eq!((list.len(), total), (1, 1));

        s.add_device_traffic(
            gw.id,
            &DeviceTraffic {
                messages: 3,
                points: 30,
                errors: 1,
                last_seen: Some(1000),
                last_error: Some(("values.t: expected a number".into(), 900)),
            },
        )
        .await
        .unwrap();
        s.add_device_traffic(
            gw.id,
            &DeviceTraffic {
                messages: 2,
                points: 20,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let d = s.get_device(a.id, gw.id).await.unwrap();
        assert_eq!(
            (d.messages, d.points, d.errors, d.last_seen),
            (5, 50, 1, Some(1000))
        );
        assert_eq!(d.last_error.as_deref(), Some("values.t: expected a number"));

        assert!(matches!(
            s.delete_device(b.id, gw.id).await,
            Err(StoreError::NotFound { .. })
        ));
        s.delete_device(a.id, gw.id).await.unwrap();
        assert!(
            s.verify_device("plant-a.GW-01", &password)
                .await
                .unwrap()
                .is_none()
        );
    }
}

#[tokio::test]
async fn a_new_password_replaces_the_old_one() {
    for t in each_backend().await {
        let s = &t.store;
        let a = s.create_tenant("plant-a", "A").await.unwrap();
        let b = s.create_tenant("plant-b", "B").await.unwrap();
        let (gw, old) = s
            .create_device(a.id, &device("GW-01", "spBv1.0/steel/cutting"))
            .await
            .unwrap();
        let new = s.reset_device_password(a.id, gw.id).await.unwrap();
        assert_ne!(new, old);
        let user = "plant-a.GW-01";
        assert!(s.verify_device(user, &old).await.unwrap().is_none());
        assert_eq!(
            s.verify_device(user, &new).await.unwrap().map(|d| d.id),
            Some(gw.id)
        );
        // Another tenant's device is not found.
        let e = s.reset_device_password(b.id, gw.id).await.unwrap_err();
        assert!(matches!(e, StoreError::NotFound { .. }), "{e:?}");
        assert!(s.verify_device(user, &new).await.unwrap().is_some());
    }
}
