//! MQTT over TLS: a device that trusts the operator's CA logs in and its
//! QoS 1 messages are stored; a plain-TCP client gets nowhere; bad PEM
//! files are named at start.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport};
use zhizao_mqtt::gateway::Gateway;
use zhizao_mqtt::tls::{TlsError, acceptor};
use zhizao_store::NewDevice;
use zhizao_tsdb::{Aggregate, Query, Tsdb, TsdbConfig};

/// A CA and a server certificate for `localhost` signed by it, as PEM.
fn certificates() -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    (ca.pem(), leaf.pem(), key.serialize_pem())
}

async fn session(opts: MqttOptions, topic: &str, body: String) -> Result<(), String> {
    let (client, mut events) = AsyncClient::new(opts, 10);
    client
        .publish(topic, QoS::AtLeastOnce, false, body)
        .await
        .unwrap();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), events.poll()).await {
            Err(_) => return Err("timed out".into()),
            Ok(Ok(Event::Incoming(Packet::PubAck(_)))) => return Ok(()),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e.to_string()),
        }
    }
}

#[tokio::test]
async fn devices_publish_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates();
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_file, &cert).unwrap();
    std::fs::write(&key_file, &key).unwrap();

    let db = zhizao_testkit::sqlite().await;
    let tenant = db.store.create_tenant("plant", "Plant").await.unwrap();
    let (_, password) = db
        .store
        .create_device(
            tenant.id,
            &NewDevice {
                code: "GW".into(),
                name: "GW".into(),
                topic_prefix: "zhizao/v1/S1".into(),
                mapping: None,
            },
        )
        .await
        .unwrap();
    let history = Arc::new(Tsdb::open(TsdbConfig::new(dir.path().join("tsdb"))).unwrap());
    let gateway = Gateway::new(db.store.clone(), history.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(zhizao_mqtt::serve_tls(
        listener,
        acceptor(&cert_file, &key_file).unwrap(),
        gateway,
    ));

    let topic = "zhizao/v1/S1/L1/M1/telemetry";
    let body = format!(
        r#"{{"ts":{},"values":{{"t":1.5}}}}"#,
        zhizao_tsdb::now_ns() / 1_000_000
    );
    let mut opts = MqttOptions::new("tls-device", "localhost", port);
    opts.set_credentials("plant.GW", password.clone());
    opts.set_transport(Transport::Tls(TlsConfiguration::Simple {
        ca: ca.into_bytes(),
        alpn: None,
        client_auth: None,
    }));
    session(opts, topic, body.clone()).await.unwrap();
    let q = Query {
        measurement: "telemetry".into(),
        aggregate: Some(Aggregate::Count),
        ..Query::default()
    };
    let r = history.query(tenant.id, &q).unwrap();
    assert_eq!(r.series.len(), 1);

    // Plain MQTT on the TLS port: no CONNACK, no PUBACK.
    let mut plain = MqttOptions::new("plain-device", "127.0.0.1", port);
    plain.set_credentials("plant.GW", password);
    assert!(session(plain, topic, body).await.is_err());
}

#[test]
fn bad_pem_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let (_, cert, key) = certificates();
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_file, &cert).unwrap();
    std::fs::write(&key_file, &key).unwrap();
    let fails = |c: &std::path::Path, k: &std::path::Path| match acceptor(c, k) {
        Ok(_) => panic!("accepted {} and {}", c.display(), k.display()),
        Err(e) => e,
    };
    let missing = dir.path().join("missing.pem");
    let e = fails(&missing, &key_file);
    assert!(e.to_string().contains("missing.pem"), "{e}");
    // A key where the certificate should be.
    let e = fails(&key_file, &key_file);
    assert!(matches!(e, TlsError::NoCertificate { .. }), "{e}");
    // A certificate where the key should be.
    let e = fails(&cert_file, &cert_file);
    assert!(e.to_string().contains("cert.pem"), "{e}");
}
