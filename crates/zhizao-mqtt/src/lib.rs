//! The built-in MQTT endpoint: devices connect straight to the platform.
//!
//! Packets are framed by `rmqtt-codec` (MQTT 3.1, 3.1.1 and 5); the session
//! loop is ours, because the rule that matters most is ours: a QoS 1
//! PUBLISH is acknowledged only after its points are durable. Each
//! connection handles its publishes one at a time, so acknowledgements
//! keep the order the spec requires and a slow store slows the device
//! (TCP back-pressure) instead of filling a queue. Authentication, the
//! topic ACL and what a payload means are the [`Handler`]'s business.
//!
//! This endpoint takes data in; it is not a broker and routes nothing
//! between clients. A client may subscribe only to what the handler grants
//! (a Sparkplug edge node to its own command topics), and receives only
//! what the platform sends it through the connection's [`Outbox`], at QoS 0.

pub mod client;
pub mod gateway;
pub mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::num::NonZeroU16;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use rmqtt_codec::types::{Publish, QoS};
use rmqtt_codec::version::{ProtocolVersion, VersionCodec};
use rmqtt_codec::{MqttCodec, MqttPacket, v3, v5};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::codec::Framed;

/// Largest packet accepted: a 1 MiB payload plus headers.
pub const MAX_PACKET_BYTES: u32 = 1024 * 1024 + 4096;
/// Time a new connection has to send CONNECT.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a CONNECT is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    BadCredentials,
    NotAuthorized,
    Unavailable,
}

/// Why a PUBLISH was not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The topic is outside what the device may publish to.
    NotAuthorized(String),
    /// The payload or topic cannot be decoded; the reason says where.
    Invalid(String),
    /// The store cannot take it now: the message is not acknowledged, so
    /// the device sends it again.
    Unavailable(String),
}

/// A message the platform sends to a connected client (a command).
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub topic: String,
    pub payload: Bytes,
}

/// Where the platform puts messages for one connection. They reach the
/// client if it subscribed to a matching filter; a full outbox drops them
/// (they are QoS 0).
pub type Outbox = mpsc::Sender<Outgoing>;

/// What the endpoint asks of the platform.
pub trait Handler: Send + Sync + 'static {
    /// A connected, authenticated device.
    type Session: Send + Sync + 'static;

    fn connect(
        &self,
        client_id: &str,
        username: Option<&str>,
        password: Option<&[u8]>,
        outbox: Outbox,
    ) -> impl Future<Output = Result<Self::Session, Refusal>> + Send;

    /// A SUBSCRIBE filter: `None` refuses it; `Some` grants it, with the
    /// messages to deliver at once (like retained ones).
    fn subscribe(
        &self,
        session: &Self::Session,
        filter: &str,
    ) -> impl Future<Output = Option<Vec<Outgoing>>> + Send;

    /// Stores a message; returns once it is durable.
    fn publish(
        &self,
        session: &Self::Session,
        topic: &str,
        payload: Bytes,
    ) -> impl Future<Output = Result<(), Rejection>> + Send;

    /// The connection broke a rule of the protocol (an oversized or
    /// malformed packet, a second CONNECT) and is being closed.
    fn protocol_error(
        &self,
        session: &Self::Session,
        reason: String,
    ) -> impl Future<Output = ()> + Send;

    /// The connection ended (`clean`: by DISCONNECT).
    fn disconnected(&self, session: &Self::Session, clean: bool)
    -> impl Future<Output = ()> + Send;
}

/// Accepts connections until the listener fails; one task per connection.
pub async fn serve<H: Handler>(listener: TcpListener, handler: Arc<H>) {
    accept_loop(listener, None, handler).await;
}

/// The same over TLS: each connection's handshake first (within the
/// CONNECT timeout), then MQTT as on plain TCP.
pub async fn serve_tls<H: Handler>(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    handler: Arc<H>,
) {
    accept_loop(listener, Some(acceptor), handler).await;
}

async fn accept_loop<H: Handler>(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    handler: Arc<H>,
) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let handler = handler.clone();
                let tls = tls.clone();
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let result = match tls {
                        None => connection(stream, peer, handler).await,
                        Some(acceptor) => {
                            match tokio::time::timeout(CONNECT_TIMEOUT, acceptor.accept(stream))
                                .await
                            {
                                Ok(Ok(s)) => connection(s, peer, handler).await,
                                Ok(Err(e)) => Err(ConnError::Tls(e.to_string())),
                                Err(_) => Err(ConnError::Timeout),
                            }
                        }
                    };
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "mqtt connection ended");
                    }
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "mqtt accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum ConnError {
    #[error("decode: {0}")]
    Decode(#[from] rmqtt_codec::error::DecodeError),
    #[error("encode: {0}")]
    Encode(#[from] rmqtt_codec::error::EncodeError),
    #[error("{0}")]
    Protocol(&'static str),
    #[error("timed out")]
    Timeout,
    #[error("TLS handshake: {0}")]
    Tls(String),
    #[error("the client was silent for longer than its keep-alive allows")]
    KeepAlive,
    #[error("closed")]
    Closed,
}

/// A packet from a client, whichever protocol version.
enum In {
    Connect {
        client_id: String,
        username: Option<String>,
        password: Option<Bytes>,
        keep_alive: u16,
        will: Option<(String, Bytes)>,
    },
    Publish(Box<Publish>),
    PublishRelease(NonZeroU16),
    Subscribe(NonZeroU16, Vec<String>),
    Unsubscribe(NonZeroU16, Vec<String>),
    Ping,
    Disconnect,
    /// Acks of server-to-client publishes, which this endpoint never sends.
    Ignored,
}

/// A packet to a client.
enum Out {
    ConnectAck(Option<Refusal>),
    /// QoS 1 acknowledgement; `Some` reason refuses it (MQTT 5 only).
    PublishAck(NonZeroU16, Option<&'static str>),
    PublishReceived(NonZeroU16, Option<&'static str>),
    PublishComplete(NonZeroU16),
    /// Granted or refused, per filter.
    SubscribeAck(NonZeroU16, Vec<bool>),
    UnsubscribeAck(NonZeroU16, usize),
    /// A QoS 0 message to the client.
    Publish(Outgoing),
    Pong,
}

struct Conn<S> {
    framed: Framed<S, MqttCodec>,
    v5: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    /// The next packet; `deadline` bounds the wait. Cancel-safe.
    async fn recv(&mut self, deadline: Option<Instant>) -> Result<In, ConnError> {
        let next = match deadline {
            Some(d) => tokio::time::timeout_at(d, self.framed.next())
                .await
                .map_err(|_| ConnError::KeepAlive)?,
            None => self.framed.next().await,
        };
        let (packet, _) = next.ok_or(ConnError::Closed)??;
        Ok(match packet {
            MqttPacket::V3(p) => match p {
                v3::Packet::Connect(c) => In::Connect {
                    client_id: c.client_id.to_string(),
                    username: c.username.map(|u| u.to_string()),
                    password: c.password,
                    keep_alive: c.keep_alive,
                    will: c.last_will.map(|w| (w.topic.to_string(), w.message)),
                },
                v3::Packet::Publish(p) => In::Publish(p),
                v3::Packet::PublishRelease { packet_id } => In::PublishRelease(packet_id),
                v3::Packet::Subscribe {
                    packet_id,
                    topic_filters,
                } => In::Subscribe(
                    packet_id,
                    topic_filters
                        .into_iter()
                        .map(|(f, _)| f.to_string())
                        .collect(),
                ),
                v3::Packet::Unsubscribe {
                    packet_id,
                    topic_filters,
                } => In::Unsubscribe(
                    packet_id,
                    topic_filters.into_iter().map(|f| f.to_string()).collect(),
                ),
                v3::Packet::PingRequest => In::Ping,
                v3::Packet::Disconnect => In::Disconnect,
                _ => In::Ignored,
            },
            MqttPacket::V5(p) => match p {
                v5::Packet::Connect(c) => In::Connect {
                    client_id: c.client_id.to_string(),
                    username: c.username.map(|u| u.to_string()),
                    password: c.password,
                    keep_alive: c.keep_alive,
                    will: c.last_will.map(|w| (w.topic.to_string(), w.message)),
                },
                v5::Packet::Publish(p) => In::Publish(p),
                v5::Packet::PublishRelease(a) => In::PublishRelease(a.packet_id),
                v5::Packet::Subscribe(s) => In::Subscribe(
                    s.packet_id,
                    s.topic_filters
                        .into_iter()
                        .map(|(f, _)| f.to_string())
                        .collect(),
                ),
                v5::Packet::Unsubscribe(u) => In::Unsubscribe(
                    u.packet_id,
                    u.topic_filters.into_iter().map(|f| f.to_string()).collect(),
                ),
                v5::Packet::PingRequest => In::Ping,
                v5::Packet::Disconnect(_) => In::Disconnect,
                _ => In::Ignored,
            },
            MqttPacket::Version(_) => return Err(ConnError::Protocol("a second CONNECT")),
        })
    }

    async fn send(&mut self, out: Out) -> Result<(), ConnError> {
        let packet = if self.v5 {
            MqttPacket::V5(match out {
                Out::ConnectAck(refusal) => v5::Packet::ConnectAck(Box::new(v5::ConnectAck {
                    reason_code: match refusal {
                        None => v5::ConnectAckReason::Success,
                        Some(Refusal::BadCredentials) => {
                            v5::ConnectAckReason::BadUserNameOrPassword
                        }
                        Some(Refusal::NotAuthorized) => v5::ConnectAckReason::NotAuthorized,
                        Some(Refusal::Unavailable) => v5::ConnectAckReason::ServerUnavailable,
                    },
                    max_packet_size: Some(MAX_PACKET_BYTES),
                    retain_available: true,
                    wildcard_subscription_available: true,
                    subscription_identifiers_available: false,
                    shared_subscription_available: false,
                    ..v5::ConnectAck::default()
                })),
                Out::PublishAck(id, reason) => v5::Packet::PublishAck(v5::PublishAck {
                    packet_id: id,
                    reason_code: v5_reason(reason),
                    properties: Default::default(),
                    reason_string: reason.map(Into::into),
                }),
                Out::PublishReceived(id, reason) => v5::Packet::PublishReceived(v5::PublishAck {
                    packet_id: id,
                    reason_code: v5_reason(reason),
                    properties: Default::default(),
                    reason_string: reason.map(Into::into),
                }),
                Out::PublishComplete(id) => v5::Packet::PublishComplete(v5::PublishAck2 {
                    packet_id: id,
                    reason_code: v5::PublishAck2Reason::Success,
                    properties: Default::default(),
                    reason_string: None,
                }),
                Out::SubscribeAck(id, granted) => v5::Packet::SubscribeAck(v5::SubscribeAck {
                    packet_id: id,
                    properties: Default::default(),
                    reason_string: granted.contains(&false).then(|| {
                        "only the device's own command topics can be subscribed to".into()
                    }),
                    status: granted
                        .iter()
                        .map(|&g| {
                            if g {
                                v5::SubscribeAckReason::GrantedQos0
                            } else {
                                v5::SubscribeAckReason::NotAuthorized
                            }
                        })
                        .collect(),
                }),
                Out::UnsubscribeAck(id, n) => v5::Packet::UnsubscribeAck(v5::UnsubscribeAck {
                    packet_id: id,
                    properties: Default::default(),
                    reason_string: None,
                    status: vec![v5::UnsubscribeAckReason::Success; n],
                }),
                Out::Publish(m) => v5::Packet::Publish(Box::new(publish_packet(m, true))),
                Out::Pong => v5::Packet::PingResponse,
            })
        } else {
            MqttPacket::V3(match out {
                Out::ConnectAck(refusal) => v3::Packet::ConnectAck(v3::ConnectAck {
                    return_code: match refusal {
                        None => v3::ConnectAckReason::ConnectionAccepted,
                        Some(Refusal::BadCredentials) => {
                            v3::ConnectAckReason::BadUserNameOrPassword
                        }
                        Some(Refusal::NotAuthorized) => v3::ConnectAckReason::NotAuthorized,
                        Some(Refusal::Unavailable) => v3::ConnectAckReason::ServiceUnavailable,
                    },
                    session_present: false,
                }),
                // MQTT 3.1.1 has no refusing PUBACK: a refused message is
                // acknowledged and dropped (and counted by the handler).
                Out::PublishAck(id, _) => v3::Packet::PublishAck { packet_id: id },
                Out::PublishReceived(id, _) => v3::Packet::PublishReceived { packet_id: id },
                Out::PublishComplete(id) => v3::Packet::PublishComplete { packet_id: id },
                Out::SubscribeAck(id, granted) => v3::Packet::SubscribeAck {
                    packet_id: id,
                    status: granted
                        .iter()
                        .map(|&g| {
                            if g {
                                v3::SubscribeReturnCode::Success(QoS::AtMostOnce)
                            } else {
                                v3::SubscribeReturnCode::Failure
                            }
                        })
                        .collect(),
                },
                Out::UnsubscribeAck(id, _) => v3::Packet::UnsubscribeAck { packet_id: id },
                Out::Publish(m) => v3::Packet::Publish(Box::new(publish_packet(m, false))),
                Out::Pong => v3::Packet::PingResponse,
            })
        };
        self.framed.send(packet).await?;
        Ok(())
    }
}

fn publish_packet(m: Outgoing, v5: bool) -> Publish {
    Publish {
        dup: false,
        retain: false,
        qos: QoS::AtMostOnce,
        topic: m.topic.into(),
        packet_id: None,
        payload: m.payload,
        properties: v5.then(Default::default),
    }
}

/// Whether an MQTT topic filter (with `+` and `#`) matches a topic.
pub fn filter_matches(filter: &str, topic: &str) -> bool {
    let mut t = topic.split('/');
    for f in filter.split('/') {
        match (f, t.next()) {
            ("#", _) => return true,
            ("+", Some(_)) => {}
            (f, Some(level)) if f == level => {}
            _ => return false,
        }
    }
    t.next().is_none()
}

fn v5_reason(reason: Option<&'static str>) -> v5::PublishAckReason {
    match reason {
        None => v5::PublishAckReason::Success,
        Some(NOT_AUTHORIZED) => v5::PublishAckReason::NotAuthorized,
        Some(_) => v5::PublishAckReason::PayloadFormatInvalid,
    }
}

const NOT_AUTHORIZED: &str = "topic outside the device's prefix";
const INVALID: &str = "payload or topic invalid; see the device's last error";

async fn connection<H: Handler, S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    peer: SocketAddr,
    handler: Arc<H>,
) -> Result<(), ConnError> {
    let mut framed = Framed::new(stream, MqttCodec::Version(VersionCodec));
    let version = match tokio::time::timeout(CONNECT_TIMEOUT, framed.next()).await {
        Err(_) => return Err(ConnError::Timeout),
        Ok(None) => return Err(ConnError::Closed),
        Ok(Some(r)) => match r?.0 {
            MqttPacket::Version(v) => v,
            _ => return Err(ConnError::Protocol("expected CONNECT")),
        },
    };
    let v5 = version == ProtocolVersion::MQTT5;
    *framed.codec_mut() = if v5 {
        MqttCodec::V5(v5::Codec::new(MAX_PACKET_BYTES, MAX_PACKET_BYTES))
    } else {
        MqttCodec::V3(v3::Codec::new(MAX_PACKET_BYTES))
    };
    let mut conn = Conn { framed, v5 };
    let In::Connect {
        client_id,
        username,
        password,
        keep_alive,
        will,
    } = conn.recv(Some(Instant::now() + CONNECT_TIMEOUT)).await?
    else {
        return Err(ConnError::Protocol("the first packet must be CONNECT"));
    };
    let (outbox, mut commands) = mpsc::channel(64);
    let session = match handler
        .connect(&client_id, username.as_deref(), password.as_deref(), outbox)
        .await
    {
        Ok(s) => s,
        Err(refusal) => {
            tracing::info!(%peer, ?username, ?refusal, "mqtt connect refused");
            conn.send(Out::ConnectAck(Some(refusal))).await?;
            return Ok(());
        }
    };
    conn.send(Out::ConnectAck(None)).await?;
    // The spec lets a client be silent for 1.5 × its keep-alive.
    let limit = (keep_alive > 0).then(|| Duration::from_millis(u64::from(keep_alive) * 1500));
    let result = session_loop(&mut conn, handler.as_ref(), &session, limit, &mut commands).await;
    // A dropped connection (reset, cut cable, power loss) is not the
    // device's mistake: it fires the will below but is not a protocol error.
    let dropped = matches!(
        &result,
        Err(ConnError::Decode(rmqtt_codec::error::DecodeError::Io(_)))
    );
    if !dropped && let Err(e @ (ConnError::Decode(_) | ConnError::Protocol(_))) = &result {
        handler.protocol_error(&session, e.to_string()).await;
    }
    let clean = matches!(result, Ok(true));
    if !clean && let Some((topic, payload)) = will {
        // The last will goes where the device's own messages go.
        if let Err(r) = handler.publish(&session, &topic, payload).await {
            tracing::info!(%peer, ?r, "last will not stored");
        }
    }
    handler.disconnected(&session, clean).await;
    result.map(|_| ())
}

/// Returns `Ok(true)` when the client disconnected cleanly.
async fn session_loop<H: Handler, S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    handler: &H,
    session: &H::Session,
    limit: Option<Duration>,
    commands: &mut mpsc::Receiver<Outgoing>,
) -> Result<bool, ConnError> {
    let mut filters: Vec<String> = Vec::new();
    loop {
        // Only the client's own packets count for its keep-alive.
        let deadline = limit.map(|l| Instant::now() + l);
        let packet = loop {
            tokio::select! {
                p = conn.recv(deadline) => break p?,
                Some(m) = commands.recv() => {
                    if filters.iter().any(|f| filter_matches(f, &m.topic)) {
                        conn.send(Out::Publish(m)).await?;
                    }
                }
            }
        };
        match packet {
            In::Publish(p) => {
                let outcome = handler.publish(session, &p.topic, p.payload.clone()).await;
                let refused = match outcome {
                    Ok(()) => None,
                    Err(Rejection::NotAuthorized(_)) => Some(NOT_AUTHORIZED),
                    Err(Rejection::Invalid(_)) => Some(INVALID),
                    // Not acknowledged: the client resends after reconnecting.
                    Err(Rejection::Unavailable(_)) => {
                        return Err(ConnError::Protocol("store unavailable"));
                    }
                };
                match (p.qos, p.packet_id) {
                    (QoS::AtMostOnce, _) => {}
                    (QoS::AtLeastOnce, Some(id)) => conn.send(Out::PublishAck(id, refused)).await?,
                    (QoS::ExactlyOnce, Some(id)) => {
                        conn.send(Out::PublishReceived(id, refused)).await?;
                    }
                    (_, None) => return Err(ConnError::Protocol("QoS > 0 without a packet id")),
                }
            }
            // The store is idempotent, so QoS 2's second phase only confirms.
            In::PublishRelease(id) => conn.send(Out::PublishComplete(id)).await?,
            In::Subscribe(id, wanted) => {
                let mut granted = Vec::with_capacity(wanted.len());
                let mut at_once = Vec::new();
                for f in wanted {
                    match handler.subscribe(session, &f).await {
                        Some(msgs) => {
                            granted.push(true);
                            at_once
                                .extend(msgs.into_iter().filter(|m| filter_matches(&f, &m.topic)));
                            filters.push(f);
                        }
                        None => granted.push(false),
                    }
                }
                conn.send(Out::SubscribeAck(id, granted)).await?;
                for m in at_once {
                    conn.send(Out::Publish(m)).await?;
                }
            }
            In::Unsubscribe(id, gone) => {
                filters.retain(|f| !gone.contains(f));
                conn.send(Out::UnsubscribeAck(id, gone.len())).await?;
            }
            In::Ping => conn.send(Out::Pong).await?,
            In::Disconnect => return Ok(true),
            In::Connect { .. } => return Err(ConnError::Protocol("a second CONNECT")),
            In::Ignored => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::filter_matches;

    #[test]
    fn filters_match_as_mqtt_says() {
        for (f, t, want) in [
            ("spBv1.0/g/NCMD/n/#", "spBv1.0/g/NCMD/n", true),
            ("spBv1.0/g/NCMD/n/#", "spBv1.0/g/NCMD/n/d", true),
            ("spBv1.0/g/+/n", "spBv1.0/g/NCMD/n", true),
            ("spBv1.0/g/+/n", "spBv1.0/g/NCMD/n/d", false),
            ("spBv1.0/g/NCMD/n", "spBv1.0/g/NCMD/m", false),
            ("a/b", "a", false),
            ("#", "a/b", true),
        ] {
            assert_eq!(filter_matches(f, t), want, "{f} vs {t}");
        }
    }
}
