//! Typed configuration, layered: built-in defaults ← TOML file ← environment
//! (`ZHIZAO_*`) ← command-line flags.
//!
//! The binary parses flags and environment with clap into [`Overrides`]; this
//! crate reads the file and resolves the effective [`Settings`], so the rules
//! for what wins live in one place and are unit-tested.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATA_DIR: &str = "zhizao-data";
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
pub const DEFAULT_LOG: &str = "info";
pub const DEFAULT_MQTT_LISTEN: &str = "127.0.0.1:1883";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("{setting}: {message}")]
    Invalid {
        setting: &'static str,
        message: String,
    },
}

/// Settings as given by one layer; `None` means "not set here".
/// Also the shape of the TOML file.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub log: Option<String>,
    pub max_body_bytes: Option<usize>,
    /// Demo simulator speed-up: 1.0 is real time.
    pub sim_speed: Option<f64>,
    /// How long history keeps raw points, 1-minute and hourly rollups:
    /// a duration such as `90d`, `2y`, `36h`, or `forever`.
    pub raw_retention: Option<String>,
    pub minute_retention: Option<String>,
    pub hour_retention: Option<String>,
    /// Address of the built-in MQTT endpoint, or `off`.
    pub mqtt_listen: Option<String>,
    /// An external broker to subscribe to (client mode), `host:port`.
    pub mqtt_broker: Option<String>,
    /// This node's client id at the broker (stable: the session is kept
    /// under it).
    pub mqtt_client_id: Option<String>,
    /// Address of the built-in MQTT endpoint over TLS (e.g. `0.0.0.0:8883`),
    /// or `off`; needs the certificate chain and key below (PEM files).
    pub mqtt_tls_listen: Option<String>,
    pub mqtt_tls_cert: Option<PathBuf>,
    pub mqtt_tls_key: Option<PathBuf>,
    /// Alarm notifications are posted here (http:// or https://).
    pub alarm_webhook: Option<String>,
}

impl Overrides {
    /// `self` wins where it has a value, `lower` fills the rest.
    pub fn over(self, lower: Overrides) -> Overrides {
        Overrides {
            listen: self.listen.or(lower.listen),
            data_dir: self.data_dir.or(lower.data_dir),
            database_url: self.database_url.or(lower.database_url),
            log: self.log.or(lower.log),
            max_body_bytes: self.max_body_bytes.or(lower.max_body_bytes),
            sim_speed: self.sim_speed.or(lower.sim_speed),
            raw_retention: self.raw_retention.or(lower.raw_retention),
            minute_retention: self.minute_retention.or(lower.minute_retention),
            hour_retention: self.hour_retention.or(lower.hour_retention),
            mqtt_listen: self.mqtt_listen.or(lower.mqtt_listen),
            mqtt_broker: self.mqtt_broker.or(lower.mqtt_broker),
            mqtt_client_id: self.mqtt_client_id.or(lower.mqtt_client_id),
            mqtt_tls_listen: self.mqtt_tls_listen.or(lower.mqtt_tls_listen),
            mqtt_tls_cert: self.mqtt_tls_cert.or(lower.mqtt_tls_cert),
            mqtt_tls_key: self.mqtt_tls_key.or(lower.mqtt_tls_key),
            alarm_webhook: self.alarm_webhook.or(lower.alarm_webhook),
        }
    }

    pub fn from_file(path: &Path) -> Result<Overrides, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source,
        })
    }
}

/// The effective configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// `sqlite://…` (default, inside the data dir) or `postgres://…`.
    pub database_url: String,
    pub log: String,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    pub sim_speed: f64,
    /// History retention per tier in seconds; `None` keeps it forever.
    pub raw_retention_s: Option<u64>,
    pub minute_retention_s: Option<u64>,
    pub hour_retention_s: Option<u64>,
    /// The built-in MQTT endpoint's address; `None` when switched off.
    pub mqtt_listen: Option<SocketAddr>,
    /// Client mode: the external broker's host and port.
    pub mqtt_broker: Option<(String, u16)>,
    pub mqtt_client_id: String,
    /// The MQTT-over-TLS endpoint's address; when set, so are the PEM
    /// certificate chain and private key.
    pub mqtt_tls_listen: Option<SocketAddr>,
    pub mqtt_tls_cert: Option<PathBuf>,
    pub mqtt_tls_key: Option<PathBuf>,
    /// Where alarm notifications are posted; none when unset.
    pub alarm_webhook: Option<String>,
}

impl Settings {
    /// Resolves flags/env (`cli`) over the optional file over defaults.
    pub fn resolve(cli: Overrides, file: Option<&Path>) -> Result<Settings, ConfigError> {
        let file_layer = match file {
            Some(p) => Overrides::from_file(p)?,
            None => Overrides::default(),
        };
        let o = cli.over(file_layer);
        let listen_text = o.listen.unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen = listen_text
            .parse::<SocketAddr>()
            .map_err(|e| ConfigError::Invalid {
                setting: "listen",
                message: format!("`{listen_text}` is not an address like 127.0.0.1:8080 ({e})"),
            })?;
        let data_dir = o
            .data_dir
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let database_url = match o.database_url {
            Some(url) => {
                if !(url.starts_with("sqlite:")
                    || url.starts_with("postgres://")
                    || url.starts_with("postgresql://"))
                {
                    return Err(ConfigError::Invalid {
                        setting: "database_url",
                        message: format!("`{url}` must start with sqlite: or postgres://"),
                    });
                }
                url
            }
            None => sqlite_url_in(&data_dir),
        };
        let max_body_bytes = o.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES);
        if max_body_bytes < 1024 {
            return Err(ConfigError::Invalid {
                setting: "max_body_bytes",
                message: "must be at least 1024".into(),
            });
        }
        let sim_speed = o.sim_speed.unwrap_or(1.0);
        if !(sim_speed.is_finite() && sim_speed > 0.0 && sim_speed <= 1000.0) {
            return Err(ConfigError::Invalid {
                setting: "sim_speed",
                message: "must be a number above 0 and at most 1000".into(),
            });
        }
        let raw_retention_s = retention("raw_retention", o.raw_retention, Some("90d"))?;
        let minute_retention_s = retention("minute_retention", o.minute_retention, Some("2y"))?;
        let hour_retention_s = retention("hour_retention", o.hour_retention, None)?;
        let longer = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(a), Some(b)) => a <= b,
        };
        if !longer(raw_retention_s, minute_retention_s)
            || !longer(minute_retention_s, hour_retention_s)
        {
            return Err(ConfigError::Invalid {
                setting: "raw_retention",
                message: "each tier must be kept at least as long as the finer one \
                          (raw ≤ minute ≤ hour), since coarse answers come from it"
                    .into(),
            });
        }
        let mqtt_text = o
            .mqtt_listen
            .unwrap_or_else(|| DEFAULT_MQTT_LISTEN.to_owned());
        let mqtt_listen = if mqtt_text == "off" {
            None
        } else {
            Some(
                mqtt_text
                    .parse::<SocketAddr>()
                    .map_err(|e| ConfigError::Invalid {
                        setting: "mqtt_listen",
                        message: format!(
                            "`{mqtt_text}` is not an address like 127.0.0.1:1883 or `off` ({e})"
                        ),
                    })?,
            )
        };
        let mqtt_broker = match o.mqtt_broker.as_deref() {
            None | Some("") => None,
            Some(text) => {
                let t = text.strip_prefix("mqtt://").unwrap_or(text);
                let bad = || ConfigError::Invalid {
                    setting: "mqtt_broker",
                    message: format!("`{text}` is not host:port, e.g. 127.0.0.1:1883"),
                };
                let (host, port) = t.rsplit_once(':').ok_or_else(bad)?;
                let port: u16 = port.parse().map_err(|_| bad())?;
                if host.is_empty() {
                    return Err(bad());
                }
                Some((host.to_owned(), port))
            }
        };
        let mqtt_client_id = o.mqtt_client_id.unwrap_or_else(|| "zhizao-node".to_owned());
        let mqtt_tls_listen = match o.mqtt_tls_listen.as_deref() {
            None | Some("off") | Some("") => None,
            Some(text) => Some(
                text.parse::<SocketAddr>()
                    .map_err(|e| ConfigError::Invalid {
                        setting: "mqtt_tls_listen",
                        message: format!(
                            "`{text}` is not an address like 0.0.0.0:8883 or `off` ({e})"
                        ),
                    })?,
            ),
        };
        let (mqtt_tls_cert, mqtt_tls_key) = (o.mqtt_tls_cert, o.mqtt_tls_key);
        match (&mqtt_tls_listen, &mqtt_tls_cert, &mqtt_tls_key) {
            (Some(_), Some(_), Some(_)) | (None, None, None) => {}
            (Some(_), _, _) => {
                return Err(ConfigError::Invalid {
                    setting: "mqtt_tls_listen",
                    message: "needs both mqtt_tls_cert and mqtt_tls_key (PEM files)".into(),
                });
            }
            (None, _, _) => {
                return Err(ConfigError::Invalid {
                    setting: "mqtt_tls_cert",
                    message: "a certificate or key is given but no mqtt_tls_listen address".into(),
                });
            }
        }
        let alarm_webhook = match o.alarm_webhook.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                Some(url.to_owned())
            }
            Some(url) => {
                return Err(ConfigError::Invalid {
                    setting: "alarm_webhook",
                    message: format!("`{url}` is not an http:// or https:// URL"),
                });
            }
        };
        Ok(Settings {
            alarm_webhook,
            mqtt_tls_listen,
            mqtt_tls_cert,
            mqtt_tls_key,
            mqtt_broker,
            mqtt_client_id,
            mqtt_listen,
            raw_retention_s,
            minute_retention_s,
            hour_retention_s,
            listen,
            data_dir,
            database_url,
            log: o.log.unwrap_or_else(|| DEFAULT_LOG.to_owned()),
            max_body_bytes,
            sim_speed,
        })
    }
}

/// Parses a retention: `forever`, or a whole number with a unit
/// (`h` hours, `d` days, `w` weeks, `y` 365-day years).
fn retention(
    setting: &'static str,
    given: Option<String>,
    default: Option<&str>,
) -> Result<Option<u64>, ConfigError> {
    let Some(text) = given.or(default.map(str::to_owned)) else {
        return Ok(None);
    };
    let t = text.trim();
    if t == "forever" {
        return Ok(None);
    }
    let bad = || ConfigError::Invalid {
        setting,
        message: format!("`{text}` is not a duration like 36h, 90d, 12w, 2y or `forever`"),
    };
    let (n, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
    let n: u64 = n.parse().map_err(|_| bad())?;
    let per = match unit {
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "y" => 365 * 86_400,
        _ => return Err(bad()),
    };
    if n == 0 {
        return Err(ConfigError::Invalid {
            setting,
            message: "must be longer than zero (use `forever` to keep everything)".into(),
        });
    }
    n.checked_mul(per).map(Some).ok_or_else(bad)
}

/// The embedded database file inside a data directory.
pub fn sqlite_url_in(data_dir: &Path) -> String {
    format!("sqlite://{}", data_dir.join("zhizao.db").display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let s = Settings::resolve(Overrides::default(), None).unwrap();
        assert_eq!(s.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(s.database_url, "sqlite://zhizao-data/zhizao.db");
        assert_eq!(s.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
        assert_eq!(s.raw_retention_s, Some(90 * 86_400));
        assert_eq!(s.minute_retention_s, Some(730 * 86_400));
        assert_eq!(s.hour_retention_s, None);
    }

    #[test]
    fn retentions_parse_and_must_widen_with_the_tier() {
        let o = |raw: &str, minute: &str| Overrides {
            raw_retention: Some(raw.into()),
            minute_retention: Some(minute.into()),
            ..Default::default()
        };
        let s = Settings::resolve(o("36h", "forever"), None).unwrap();
        assert_eq!(
            (s.raw_retention_s, s.minute_retention_s),
            (Some(36 * 3600), None)
        );
        let err = Settings::resolve(o("2y", "90d"), None).unwrap_err();
        assert!(err.to_string().starts_with("raw_retention:"), "{err}");
        for bad in ["90", "d", "9x", "0d", "-1d"] {
            let err = Settings::resolve(o(bad, "forever"), None).unwrap_err();
            assert!(
                err.to_string().starts_with("raw_retention:"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn mqtt_tls_needs_an_address_a_certificate_and_a_key() {
        let o = |listen: Option<&str>, cert: Option<&str>, key: Option<&str>| Overrides {
            mqtt_tls_listen: listen.map(Into::into),
            mqtt_tls_cert: cert.map(Into::into),
            mqtt_tls_key: key.map(Into::into),
            ..Default::default()
        };
        let s =
            Settings::resolve(o(Some("0.0.0.0:8883"), Some("c.pem"), Some("k.pem")), None).unwrap();
        assert_eq!(s.mqtt_tls_listen.map(|a| a.port()), Some(8883));
        assert_eq!(
            Settings::resolve(o(Some("off"), None, None), None)
                .unwrap()
                .mqtt_tls_listen,
            None
        );
        let e = Settings::resolve(o(Some("0.0.0.0:8883"), Some("c.pem"), None), None).unwrap_err();
        assert!(e.to_string().starts_with("mqtt_tls_listen:"), "{e}");
        let e = Settings::resolve(o(None, Some("c.pem"), Some("k.pem")), None).unwrap_err();
        assert!(e.to_string().starts_with("mqtt_tls_cert:"), "{e}");
        let e = Settings::resolve(o(Some("8883"), Some("c.pem"), Some("k.pem")), None).unwrap_err();
        assert!(e.to_string().starts_with("mqtt_tls_listen:"), "{e}");
    }

    #[test]
    fn flags_win_over_file_and_file_over_defaults() {
        let dir = std::env::temp_dir().join(format!("zhizao-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("z.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:9000\"\nlog = \"debug\"\n").unwrap();
        let cli = Overrides {
            listen: Some("127.0.0.1:9100".into()),
            ..Default::default()
        };
        let s = Settings::resolve(cli, Some(&file)).unwrap();
        assert_eq!(s.listen.port(), 9100);
        assert_eq!(s.log, "debug");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn unknown_file_keys_and_bad_values_are_named() {
        let dir = std::env::temp_dir().join(format!("zhizao-cfg2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("z.toml");
        std::fs::write(&file, "lisen = \"x\"\n").unwrap();
        let err = Settings::resolve(Overrides::default(), Some(&file)).unwrap_err();
        assert!(err.to_string().contains("lisen"), "{err}");
        let bad = Overrides {
            listen: Some("nowhere".into()),
            ..Default::default()
        };
        let err = Settings::resolve(bad, None).unwrap_err();
        assert!(err.to_string().starts_with("listen:"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
