//! Settings: defaults from `Leptos.toml`'s `[orderdesk]` section, each overridable by an
//! environment variable. A wrong value stops start-up with one line naming the setting.
//!
//! Long (about 470 lines before its tests): every setting with its default, its environment
//! variable and its one-line error is one list to read; `config/sources.rs` holds the
//! sources' tables.

use std::{collections::BTreeMap, fmt, path::Path, time::Duration};

use chrono_tz::Tz;
use serde::Deserialize;

use crate::domain::{
    ids::{BbVariant, VendorId},
    net::IpNet,
};

mod sources;
pub use sources::{Collections, Fact, FieldMap, SourceSettings};

/// Why the settings could not be read; each message names the setting and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: {message}")]
    Syntax { path: String, message: String },
    #[error("setting {name} = {value:?} is invalid: {why}")]
    Invalid { name: &'static str, value: String, why: String },
    #[error("Leptos settings: {0}")]
    Leptos(String),
}

/// orderdesk's own settings, after environment overrides.
#[derive(Debug, Clone)]
pub struct Settings {
    pub mongodb_uri: String,
    pub database: String,
    pub server_selection_timeout: Duration,
    pub operation_timeout: Duration,
    pub request_timeout: Duration,
    /// How long the bots' API waits out an election or a lost connection before it fails;
    /// its requests may take this much longer than `request_timeout`.
    pub failover_wait: Duration,
    /// Requests worked on at once; the rest wait their turn, first come first served...
    pub concurrent_requests: usize,
    /// ...for at most this long, then get 503 with `Retry-After`.
    pub queue_wait: Duration,
    pub slow_query: Duration,
    pub time_zone: Tz,
    pub tracking_url_base: String,
    pub log_json: bool,
    /// Vendors whose numbers are handed out from reserved blocks, with the block size.
    pub segment_vendors: BTreeMap<VendorId, u32>,
    /// The number variant a vendor's numbers take when a call names none (unlisted: ultra).
    pub number_variants: BTreeMap<VendorId, BbVariant>,
    /// How long one time-based counter counts: a vendor has one per bucket (minutes that
    /// divide a day, so buckets start at the same times every day).
    pub time_bucket_minutes: u32,
    /// A key the bots may use before any key is stored in the database.
    pub bootstrap_api_key: Option<Secret>,
    /// A staff session ends after this long without a request...
    pub session_idle: Duration,
    /// ...and after this long in any case.
    pub session_max: Duration,
    /// Mark cookies `Secure` and send HSTS; `None` until [`Settings::for_site`] decides from
    /// the site address. Read it with [`Settings::secure_cookies`].
    pub secure_cookies: Option<bool>,
    /// Proxies whose `Forwarded` / `X-Forwarded-For` name the client (empty: none is trusted).
    pub trusted_proxies: Vec<IpNet>,
    /// A connection that has not sent a whole request header by then is closed (also the
    /// first byte, and an HTTP/2 preface).
    pub header_read_timeout: Duration,
    /// A connection with no request for this long is closed.
    pub connection_idle: Duration,
    /// Open connections at most, in total and from one address (a trusted proxy counts as none).
    pub max_connections: usize,
    pub max_connections_per_address: usize,
    /// When set, `/metrics` answers only with `Authorization: Bearer <token>`.
    pub metrics_token: Option<Secret>,
    /// The systems read (`[orderdesk.sources.*]`); none: both kinds in orderdesk's own database.
    pub sources: Vec<SourceSettings>,
}

/// A secret that never shows in logs or debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: String) -> Self {
        Self(s)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Largest block a segment-mode vendor may reserve at once.
pub const MAX_SEGMENT: u32 = crate::domain::ids::MAX_SEGMENT_BLOCK;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    mongodb_uri: Option<String>,
    database: Option<String>,
    server_selection_timeout_ms: Option<u64>,
    operation_timeout_ms: Option<u64>,
    request_timeout_ms: Option<u64>,
    failover_wait_ms: Option<u64>,
    concurrent_requests: Option<u64>,
    queue_wait_ms: Option<u64>,
    slow_query_ms: Option<u64>,
    time_zone: Option<String>,
    tracking_url_base: Option<String>,
    log_format: Option<String>,
    segment_vendors: Option<BTreeMap<String, u32>>,
    number_variants: Option<BTreeMap<String, String>>,
    time_bucket_minutes: Option<u64>,
    session_idle_minutes: Option<u64>,
    session_max_hours: Option<u64>,
    secure_cookies: Option<bool>,
    trusted_proxies: Option<Vec<String>>,
    header_read_timeout_ms: Option<u64>,
    connection_idle_ms: Option<u64>,
    max_connections: Option<u64>,
    max_connections_per_address: Option<u64>,
    sources: Option<BTreeMap<String, sources::FileSource>>,
}

#[derive(Debug, Deserialize)]
struct FileRoot {
    #[serde(default)]
    orderdesk: FileSettings,
}

/// The configuration file, next to Cargo.toml.
pub const CONFIG_FILE: &str = "Leptos.toml";

/// The variable naming a settings file outside the checkout (as `--config` does).
pub const CONFIG_VARIABLE: &str = "ORDERDESK_CONFIG";

impl Settings {
    /// Reads the settings file and the environment: `--config PATH` when given, else
    /// `ORDERDESK_CONFIG`, else `Leptos.toml` (if present). A file named by either must exist.
    pub fn load_for(given: Option<&Path>) -> Result<Self, ConfigError> {
        let named = given.map(Path::to_path_buf).or_else(|| std::env::var_os(CONFIG_VARIABLE).map(Into::into));
        match named {
            Some(path) if !path.exists() => Err(ConfigError::Read {
                path: path.display().to_string(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such settings file"),
            }),
            Some(path) => Self::load(&path),
            None => Self::load(Path::new(CONFIG_FILE)),
        }
    }

    /// Reads the file (if present) and the environment.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let file = match std::fs::read_to_string(path) {
            Ok(text) => {
                toml::from_str::<FileRoot>(&text)
                    .map_err(|e| ConfigError::Syntax {
                        path: path.display().to_string(),
                        message: e.message().to_owned(),
                    })?
                    .orderdesk
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => FileSettings::default(),
            Err(source) => {
                return Err(ConfigError::Read { path: path.display().to_string(), source });
            }
        };
        Self::from_layers(file, |name| std::env::var(name).ok())
    }

    fn from_layers(file: FileSettings, env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let text = |name: &'static str, file: Option<String>, default: &str| {
            env(name).or(file).unwrap_or_else(|| default.to_owned())
        };
        // A positive whole number of `unit`, at most `max`, from the environment or the file.
        let whole = |name: &'static str, file: Option<u64>, default: u64, max: u64, unit: &str| {
            let value = match env(name) {
                Some(v) => v.trim().parse::<u64>().map_err(|_| ConfigError::Invalid {
                    name,
                    value: v.clone(),
                    why: format!("expected a whole number of {unit}"),
                })?,
                None => file.unwrap_or(default),
            };
            if value == 0 || value > max {
                return Err(ConfigError::Invalid {
                    name,
                    value: value.to_string(),
                    why: format!("must be between 1 and {max} {unit}"),
                });
            }
            Ok(value)
        };
        let millis = |name: &'static str, file: Option<u64>, default: u64, max: u64| {
            whole(name, file, default, max, "milliseconds").map(Duration::from_millis)
        };

        let mongodb_uri = text("MONGODB_URI", file.mongodb_uri, "mongodb://127.0.0.1:27018/?replicaSet=rs0");
        if let Err(why) = valid_uri(&mongodb_uri) {
            return Err(ConfigError::Invalid { name: "MONGODB_URI", value: redact_uri(&mongodb_uri), why });
        }
        let database = text("ORDERDESK_DATABASE", file.database, "orderdesk");
        let sources = sources::parse(file.sources.unwrap_or_default())?;
        if let Some(same) =
            sources.iter().find(|s| s.database == database && s.uri.as_ref().is_none_or(|u| *u == mongodb_uri))
        {
            return Err(ConfigError::Invalid {
                name: "ORDERDESK_CONFIG",
                value: format!("sources.{}.database = {:?}", same.name, same.database),
                why: "that is orderdesk's own database; a source keeps its own (or leave out sources altogether)"
                    .into(),
            });
        }
        if !valid_database_name(&database) {
            return Err(ConfigError::Invalid {
                name: "ORDERDESK_DATABASE",
                value: database,
                why: "use 1-63 letters, digits, '_' or '-'".into(),
            });
        }
        let zone = text("ORDERDESK_TIME_ZONE", file.time_zone, "UTC");
        let time_zone = zone.parse::<Tz>().map_err(|_| ConfigError::Invalid {
            name: "ORDERDESK_TIME_ZONE",
            value: zone.clone(),
            why: "expected an IANA time zone name such as UTC or Europe/Berlin".into(),
        })?;
        let tracking_url_base =
            text("ORDERDESK_TRACKING_URL_BASE", file.tracking_url_base, "https://track.example.com/t/");
        if !(tracking_url_base.starts_with("https://") || tracking_url_base.starts_with("http://")) {
            return Err(ConfigError::Invalid {
                name: "ORDERDESK_TRACKING_URL_BASE",
                value: tracking_url_base,
                why: "must be an http:// or https:// URL".into(),
            });
        }
        let log_format = text("ORDERDESK_LOG_FORMAT", file.log_format, "pretty");
        let log_json = match log_format.as_str() {
            "pretty" => false,
            "json" => true,
            _ => {
                return Err(ConfigError::Invalid {
                    name: "ORDERDESK_LOG_FORMAT",
                    value: log_format,
                    why: "expected pretty or json".into(),
                });
            }
        };
        let segment_vendors = match env("ORDERDESK_SEGMENT_VENDORS") {
            Some(list) => vendor_list("ORDERDESK_SEGMENT_VENDORS", &list, "pizza-palace:200")?
                .into_iter()
                .map(|(vendor, size)| {
                    let size = size.parse::<u32>().map_err(|_| ConfigError::Invalid {
                        name: "ORDERDESK_SEGMENT_VENDORS",
                        value: format!("{vendor}:{size}"),
                        why: "the block size must be a whole number".into(),
                    })?;
                    Ok((vendor, size))
                })
                .collect::<Result<_, ConfigError>>()?,
            None => file.segment_vendors.unwrap_or_default(),
        };
        let segment_vendors = segment_vendors
            .into_iter()
            .map(|(vendor, size)| {
                let invalid = |why: String| ConfigError::Invalid {
                    name: "ORDERDESK_SEGMENT_VENDORS",
                    value: format!("{vendor}={size}"),
                    why,
                };
                let id = VendorId::parse(&vendor).map_err(|e| invalid(e.to_string()))?;
                if !(2..=MAX_SEGMENT).contains(&size) {
                    return Err(invalid(format!("a block holds 2 to {MAX_SEGMENT} numbers")));
                }
                Ok((id, size))
            })
            .collect::<Result<_, _>>()?;
        let number_variants = match env("ORDERDESK_NUMBER_VARIANTS") {
            Some(list) => vendor_list("ORDERDESK_NUMBER_VARIANTS", &list, "pizza-palace:year-based")?,
            None => file.number_variants.unwrap_or_default(),
        }
        .into_iter()
        .map(|(vendor, variant)| {
            let invalid = |why: String| ConfigError::Invalid {
                name: "ORDERDESK_NUMBER_VARIANTS",
                value: format!("{vendor}:{variant}"),
                why,
            };
            let id = VendorId::parse(&vendor).map_err(|e| invalid(e.to_string()))?;
            let variant = BbVariant::from_name(&variant).map_err(|e| invalid(e.to_string()))?;
            Ok((id, variant))
        })
        .collect::<Result<_, ConfigError>>()?;
        let time_bucket_minutes =
            whole("ORDERDESK_TIME_BUCKET_MINUTES", file.time_bucket_minutes, 60, 1440, "minutes")? as u32;
        if 1440 % time_bucket_minutes != 0 {
            return Err(ConfigError::Invalid {
                name: "ORDERDESK_TIME_BUCKET_MINUTES",
                value: time_bucket_minutes.to_string(),
                why: "a bucket must divide the day's 1440 minutes (e.g. 1, 5, 15, 30, 60, 120)".into(),
            });
        }
        let bootstrap_api_key = match env("ORDERDESK_API_KEY") {
            Some(key) if key.len() < 24 => {
                return Err(ConfigError::Invalid {
                    name: "ORDERDESK_API_KEY",
                    value: "***".into(),
                    why: "use at least 24 random characters".into(),
                });
            }
            Some(key) => Some(Secret::new(key)),
            None => None,
        };
        let session_idle = Duration::from_secs(
            60 * whole("ORDERDESK_SESSION_IDLE_MINUTES", file.session_idle_minutes, 30, 1440, "minutes")?,
        );
        let session_max =
            Duration::from_secs(3600 * whole("ORDERDESK_SESSION_MAX_HOURS", file.session_max_hours, 12, 720, "hours")?);
        let secure_cookies = match env("ORDERDESK_SECURE_COOKIES") {
            Some(v) => match v.trim() {
                "true" | "1" => Some(true),
                "false" | "0" => Some(false),
                _ => {
                    return Err(ConfigError::Invalid {
                        name: "ORDERDESK_SECURE_COOKIES",
                        value: v,
                        why: "expected true or false".into(),
                    });
                }
            },
            None => file.secure_cookies,
        };
        let trusted_proxies = match env("ORDERDESK_TRUSTED_PROXIES") {
            Some(list) => list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect(),
            None => file.trusted_proxies.unwrap_or_default(),
        };
        let trusted_proxies = trusted_proxies
            .iter()
            .map(|p| {
                IpNet::parse(p).map_err(|e| ConfigError::Invalid {
                    name: "ORDERDESK_TRUSTED_PROXIES",
                    value: p.clone(),
                    why: e.message().to_owned(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let metrics_token = match env("ORDERDESK_METRICS_TOKEN") {
            Some(token) if token.len() < 24 => {
                return Err(ConfigError::Invalid {
                    name: "ORDERDESK_METRICS_TOKEN",
                    value: "***".into(),
                    why: "use at least 24 random characters".into(),
                });
            }
            token => token.map(Secret::new),
        };
        Ok(Self {
            sources,
            session_idle,
            session_max,
            secure_cookies,
            trusted_proxies,
            metrics_token,
            header_read_timeout: millis(
                "ORDERDESK_HEADER_READ_TIMEOUT_MS",
                file.header_read_timeout_ms,
                10_000,
                120_000,
            )?,
            connection_idle: millis("ORDERDESK_CONNECTION_IDLE_MS", file.connection_idle_ms, 60_000, 3_600_000)?,
            max_connections: whole("ORDERDESK_MAX_CONNECTIONS", file.max_connections, 8192, 1_000_000, "connections")?
                as usize,
            max_connections_per_address: whole(
                "ORDERDESK_MAX_CONNECTIONS_PER_ADDRESS",
                file.max_connections_per_address,
                512,
                1_000_000,
                "connections",
            )? as usize,
            segment_vendors,
            number_variants,
            time_bucket_minutes,
            bootstrap_api_key,
            mongodb_uri,
            database,
            server_selection_timeout: millis(
                "ORDERDESK_SERVER_SELECTION_TIMEOUT_MS",
                file.server_selection_timeout_ms,
                1500,
                60_000,
            )?,
            operation_timeout: millis("ORDERDESK_OPERATION_TIMEOUT_MS", file.operation_timeout_ms, 2500, 600_000)?,
            request_timeout: millis("ORDERDESK_REQUEST_TIMEOUT_MS", file.request_timeout_ms, 10_000, 600_000)?,
            failover_wait: millis("ORDERDESK_FAILOVER_WAIT_MS", file.failover_wait_ms, 15_000, 120_000)?,
            concurrent_requests: whole("ORDERDESK_CONCURRENT_REQUESTS", file.concurrent_requests, 64, 4096, "requests")?
                as usize,
            queue_wait: millis("ORDERDESK_QUEUE_WAIT_MS", file.queue_wait_ms, 3000, 60_000)?,
            slow_query: millis("ORDERDESK_SLOW_QUERY_MS", file.slow_query_ms, 100, 600_000)?,
            time_zone,
            tracking_url_base,
            log_json,
        })
    }
}

impl Settings {
    /// The defaults that depend on where the site is served: cookies are `Secure` (and HSTS
    /// is sent) unless set otherwise or the site address is loopback, where a browser reaches
    /// it over plain HTTP.
    pub fn for_site(mut self, site: std::net::SocketAddr) -> Self {
        self.secure_cookies.get_or_insert(!site.ip().is_loopback());
        self
    }

    /// Whether cookies are `Secure` (and HSTS is sent).
    pub fn secure_cookies(&self) -> bool {
        self.secure_cookies.unwrap_or(true)
    }
}

/// `vendor:size,vendor:size` from the environment.
/// A database name MongoDB accepts and orderdesk can put in messages.
fn valid_database_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 63 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn valid_uri(uri: &str) -> Result<(), String> {
    if uri.starts_with("mongodb://") || uri.starts_with("mongodb+srv://") {
        Ok(())
    } else {
        Err("must start with mongodb:// or mongodb+srv://".into())
    }
}

/// `vendor:value,vendor:value` from the environment.
fn vendor_list(name: &'static str, list: &str, example: &str) -> Result<BTreeMap<String, String>, ConfigError> {
    list.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            let (vendor, value) = item.split_once(':').ok_or_else(|| ConfigError::Invalid {
                name,
                value: item.to_owned(),
                why: format!("expected vendor:value pairs separated by commas, e.g. {example}"),
            })?;
            Ok((vendor.trim().to_owned(), value.trim().to_owned()))
        })
        .collect()
}

/// A URI fit for logs and error messages: any password is replaced by `***`.
pub fn redact_uri(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return uri.to_owned();
    };
    match rest.split_once('@') {
        Some((creds, host)) => {
            let user = creds.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}")
        }
        None => uri.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_env(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_layers(FileSettings::default(), move |name| {
            pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn cookies_are_secure_unless_set_or_the_site_is_loopback() {
        let site = |a: &str| a.parse::<std::net::SocketAddr>().unwrap();
        assert!(!with_env(&[]).unwrap().for_site(site("127.0.0.1:3000")).secure_cookies());
        assert!(with_env(&[]).unwrap().for_site(site("0.0.0.0:3000")).secure_cookies());
        let off = with_env(&[("ORDERDESK_SECURE_COOKIES", "false")]).unwrap();
        assert!(!off.for_site(site("0.0.0.0:3000")).secure_cookies());
        let on = with_env(&[("ORDERDESK_SECURE_COOKIES", "true")]).unwrap();
        assert!(on.for_site(site("127.0.0.1:3000")).secure_cookies());
    }

    #[test]
    fn trusted_proxies_and_the_metrics_token_are_checked() {
        let s = with_env(&[("ORDERDESK_TRUSTED_PROXIES", "10.0.0.0/8, ::1")]).unwrap();
        assert_eq!(s.trusted_proxies.len(), 2);
        let e = with_env(&[("ORDERDESK_TRUSTED_PROXIES", "10.0.0.0/33")]).unwrap_err().to_string();
        assert!(e.contains("ORDERDESK_TRUSTED_PROXIES") && e.contains("10.0.0.0/33"), "{e}");
        let e = with_env(&[("ORDERDESK_METRICS_TOKEN", "short")]).unwrap_err().to_string();
        assert!(e.contains("ORDERDESK_METRICS_TOKEN") && !e.contains("short"), "{e}");
    }

    #[test]
    fn defaults_are_valid() {
        let s = with_env(&[]).unwrap();
        assert_eq!(s.database, "orderdesk");
        assert_eq!(s.slow_query, Duration::from_millis(100));
        assert_eq!(s.time_zone, Tz::UTC);
    }

    #[test]
    fn environment_overrides_and_errors_name_the_setting() {
        let s = with_env(&[("ORDERDESK_DATABASE", "x_1"), ("ORDERDESK_TIME_ZONE", "Europe/Berlin")]).unwrap();
        assert_eq!(s.database, "x_1");
        assert_eq!(s.time_zone, Tz::Europe__Berlin);
        for (name, value) in [
            ("MONGODB_URI", "postgres://x"),
            ("ORDERDESK_DATABASE", "a.b"),
            ("ORDERDESK_TIME_ZONE", "Mars/Olympus"),
            ("ORDERDESK_SLOW_QUERY_MS", "fast"),
            ("ORDERDESK_OPERATION_TIMEOUT_MS", "0"),
            ("ORDERDESK_LOG_FORMAT", "xml"),
            ("ORDERDESK_SEGMENT_VENDORS", "pizza"),
            ("ORDERDESK_SEGMENT_VENDORS", "pizza:1"),
            ("ORDERDESK_SEGMENT_VENDORS", "a b:100"),
            ("ORDERDESK_API_KEY", "short"),
        ] {
            let err = with_env(&[(name, value)]).unwrap_err().to_string();
            assert!(err.contains(name), "{err}");
        }
    }

    #[test]
    fn segment_vendors_from_the_environment() {
        let s = with_env(&[("ORDERDESK_SEGMENT_VENDORS", "pizza-palace:200, taco-town:50")]).unwrap();
        assert_eq!(s.segment_vendors.get(&VendorId::parse("pizza-palace").unwrap()), Some(&200));
        assert_eq!(s.segment_vendors.len(), 2);
    }

    #[test]
    fn number_variants_and_the_time_bucket() {
        let s = with_env(&[("ORDERDESK_NUMBER_VARIANTS", "pizza-palace:year-based, taco-town:time-based")]).unwrap();
        assert_eq!(s.number_variants.get(&VendorId::parse("pizza-palace").unwrap()), Some(&BbVariant::Dated));
        assert_eq!(s.number_variants.get(&VendorId::parse("taco-town").unwrap()), Some(&BbVariant::Seconds));
        assert_eq!(s.time_bucket_minutes, 60);
        for (name, value) in [
            ("ORDERDESK_NUMBER_VARIANTS", "pizza-palace:daily"),
            ("ORDERDESK_NUMBER_VARIANTS", "pizza palace:ultra"),
            ("ORDERDESK_NUMBER_VARIANTS", "pizza-palace"),
            ("ORDERDESK_TIME_BUCKET_MINUTES", "7"),
            ("ORDERDESK_TIME_BUCKET_MINUTES", "0"),
        ] {
            let err = with_env(&[(name, value)]).unwrap_err().to_string();
            assert!(err.contains(name), "{err}");
        }
        assert_eq!(with_env(&[("ORDERDESK_TIME_BUCKET_MINUTES", "15")]).unwrap().time_bucket_minutes, 15);
    }

    #[test]
    fn passwords_never_reach_messages() {
        let s = with_env(&[("ORDERDESK_API_KEY", "k3y-that-is-long-enough-000000")]).unwrap();
        assert!(!format!("{s:?}").contains("k3y"));
        assert_eq!(redact_uri("mongodb://u:secret@h:1/db"), "mongodb://u:***@h:1/db");
        let err = with_env(&[("MONGODB_URI", "mysql://u:secret@h")]).unwrap_err().to_string();
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn the_shipped_file_parses() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Leptos.toml")).unwrap();
        let root: FileRoot = toml::from_str(&text).unwrap();
        assert!(root.orderdesk.mongodb_uri.is_some());
    }
}
