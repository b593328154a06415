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
        Ok(Settings {
            listen,
            data_dir,
            database_url,
            log: o.log.unwrap_or_else(|| DEFAULT_LOG.to_owned()),
            max_body_bytes,
            sim_speed,
        })
    }
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
