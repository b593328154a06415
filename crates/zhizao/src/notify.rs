//! Alarm notifications by webhook: every alarm event the engine marks for
//! notification (not shelved, not inside a flood) is posted as JSON to one
//! URL. The body is DingTalk's and WeCom's text message
//! (`{"msgtype":"text","text":{"content":…}}`), which most chat and
//! paging tools also take. A post that fails is tried again after 1, 5 and
//! 30 seconds; one that still fails is logged and dropped, never blocking
//! the next.

use std::sync::Arc;
use std::time::Duration;

use zhizao_alarm::{Event, EventKind, Severity};
use zhizao_live::{LiveHub, LiveMessage};

/// Pauses before the second, third and fourth attempt.
const RETRY: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(5),
    Duration::from_secs(30),
];

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Low => "低",
        Severity::Medium => "中",
        Severity::High => "高",
        Severity::Critical => "紧急",
    }
}

/// The text of one event, e.g. `【告警·高】CUT-01 温度过高（值 81.2）`.
pub fn text(e: &Event) -> Option<String> {
    let when = time::OffsetDateTime::from_unix_timestamp(e.at / 1000)
        .ok()
        .map(|t| t.to_offset(time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC)))
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second]"
            ))
            .ok()
        })
        .unwrap_or_default();
    let alarm = |what: &str| {
        e.alarm.as_ref().map(|a| {
            let value = a.value.map(|v| format!("（值 {v}）")).unwrap_or_default();
            let by = a
                .acknowledged
                .as_ref()
                .map(|k| format!("，{} 确认：{}", k.by, k.comment))
                .unwrap_or_default();
            format!(
                "【{what}·{}】{} {}{value}{by} {when}",
                severity(a.severity),
                a.source,
                a.name
            )
        })
    };
    match &e.kind {
        EventKind::Raised => alarm("告警"),
        EventKind::Reactivated => alarm("再次告警"),
        EventKind::Cleared | EventKind::Closed => alarm("恢复"),
        EventKind::Unshelved => alarm("搁置结束"),
        EventKind::FloodStarted => Some(format!(
            "【告警泛滥】十分钟内告警过多，之后的告警只记录不逐条通知 {when}"
        )),
        EventKind::FloodEnded { suppressed } => Some(format!(
            "【告警泛滥结束】期间 {suppressed} 条告警未逐条通知，请在告警页查看 {when}"
        )),
        EventKind::Acknowledged | EventKind::Shelved => None,
    }
}

/// The JSON body posted for one event.
pub fn body(content: &str) -> String {
    serde_json::json!({"msgtype": "text", "text": {"content": content}}).to_string()
}

/// Posts until a 2xx answer or the retries run out; returns the attempts.
fn post(agent: &ureq::Agent, url: &str, body: &str) -> Result<usize, String> {
    let mut last = String::new();
    for attempt in 0..=RETRY.len() {
        if attempt > 0 {
            std::thread::sleep(RETRY[attempt - 1]);
        }
        match agent
            .post(url)
            .header("content-type", "application/json")
            .send(body)
        {
            Ok(r) if r.status().is_success() => return Ok(attempt + 1),
            Ok(r) => last = format!("HTTP {}", r.status()),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

/// Sends the hub's alarm events to `url` until the task is dropped.
pub async fn run(hub: Arc<LiveHub>, url: String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    // One sender thread keeps the order and never holds up the hub.
    let sender = std::thread::spawn(move || {
        for body in rx {
            if let Err(e) = post(&agent, &url, &body) {
                tracing::warn!(error = %e, "alarm notification not delivered after retries");
            }
        }
    });
    let mut live = hub.subscribe();
    loop {
        match live.recv().await {
            Ok(env) => {
                if let LiveMessage::Alarm { event, .. } = &env.message
                    && event.notify
                    && let Some(content) = text(event)
                    && tx.send(body(&content)).is_err()
                {
                    break;
                }
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "alarm notifier fell behind the live feed");
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
        }
    }
    drop(tx);
    let _ = sender.join();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};
    use zhizao_alarm::{Alarm, AlarmState};

    fn event(kind: EventKind) -> Event {
        Event {
            at: 1_764_400_000_000,
            kind,
            alarm: Some(Alarm {
                id: 1,
                rule: "hot".into(),
                name: "温度过高".into(),
                severity: Severity::High,
                source: "CUT-01".into(),
                state: AlarmState::ActiveUnacked,
                raised_at: 0,
                cleared_at: None,
                acknowledged: None,
                shelved_until: None,
                value: Some(81.5),
                flood: false,
            }),
            notify: true,
        }
    }

    #[test]
    fn texts_say_what_where_and_when() {
        let t = text(&event(EventKind::Raised)).unwrap_or_default();
        assert!(
            t.starts_with("【告警·高】CUT-01 温度过高（值 81.5）"),
            "{t}"
        );
        assert!(t.ends_with(" 2025-11-29 15:06:40"), "{t}");
        assert!(text(&event(EventKind::Acknowledged)).is_none());
        let b: serde_json::Value = serde_json::from_str(&body("x")).unwrap_or_default();
        assert_eq!(b["msgtype"], "text");
        assert_eq!(b["text"]["content"], "x");
    }

    /// Reads one HTTP request from `stream` and answers `status`; returns
    /// the body.
    fn answer(stream: std::net::TcpStream, status: &str) -> String {
        let mut writer = stream.try_clone().unwrap_or_else(|e| panic!("{e}"));
        let mut reader = BufReader::new(stream);
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap_or_default();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap_or_default();
        let _ = write!(
            writer,
            "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        );
        String::from_utf8_lossy(&body).into_owned()
    }

    /// A receiver that fails the first post and takes the second.
    #[test]
    fn a_failed_post_is_tried_again() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let url = format!(
            "http://{}/hook",
            listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
        );
        let server = std::thread::spawn(move || {
            let mut bodies = Vec::new();
            for (i, stream) in listener.incoming().take(2).enumerate() {
                let stream = stream.unwrap_or_else(|e| panic!("{e}"));
                let status = if i == 0 {
                    "500 Internal Server Error"
                } else {
                    "200 OK"
                };
                bodies.push(answer(stream, status));
            }
            bodies
        });
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        assert_eq!(post(&agent, &url, &body("【告警】")), Ok(2));
        let bodies = server.join().unwrap_or_default();
        assert_eq!(bodies.len(), 2);
        assert!(bodies.iter().all(|b| b.contains("【告警】")), "{bodies:?}");
    }

    /// From a rule firing on the hub to a post at the webhook.
    #[tokio::test]
    async fn alarms_on_the_hub_reach_the_webhook() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let url = format!(
            "http://{}/",
            listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
        );
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap_or_else(|e| panic!("{e}"));
            answer(stream, "200 OK")
        });
        let hub = Arc::new(LiveHub::default());
        let rule: zhizao_alarm::Rule = serde_json::from_value(serde_json::json!({
            "id": "hot", "name": "温度过高", "severity": "critical",
            "condition": {"kind": "above", "field": "temperature", "limit": 80}
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        hub.alarms
            .set_rules(1, vec![rule])
            .unwrap_or_else(|e| panic!("{e}"));
        let task = tokio::spawn(run(hub.clone(), url));
        tokio::time::sleep(Duration::from_millis(100)).await;
        let events = hub.alarms.sample(1, None, "M1", "temperature", 1_000, 95.0);
        assert_eq!(events.len(), 1);
        hub.alarm_events(1, events);
        let request = tokio::task::spawn_blocking(move || server.join().unwrap_or_default())
            .await
            .unwrap_or_default();
        task.abort();
        assert!(
            request.contains("【告警·紧急】M1 温度过高（值 95）"),
            "{request}"
        );
    }
}
