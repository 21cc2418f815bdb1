//! Typed settings: the built-in `config/default.toml` → `DIR/default.toml` → `DIR/$DIALOGPAY_ENV.toml`
//! (or the built-in file of that name) → `DIALOGPAY__SECTION__KEY`.
//!
//! The committed files are compiled into the binary, so it behaves the same from any working
//! directory; a named environment that is found nowhere stops startup with the places tried.
//! Every struct denies unknown keys, so a typo stops startup with the key's path. Secrets are
//! `SecretString`s: their `Debug` output is redacted, so printing the settings never leaks them.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

use figment::{
    Figment,
    providers::{Env, Format, Toml},
};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The whole configuration of one dialogpay process.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub operator: OperatorSettings,
    pub jobs: JobSettings,
    pub log: LogSettings,
    #[serde(default)]
    pub vipps: crate::vipps::VippsSettings,
    #[serde(default)]
    pub sms: crate::sms::SmsSettings,
    pub billing: BillingSettings,
    pub portal: PortalSettings,
    /// Where the values came from (not a configuration key).
    #[serde(skip)]
    pub origin: Origin,
}

/// The layers a [`Settings`] was read from, and which keys the operator set.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// `DIALOGPAY_ENV`, when set.
    pub environment: Option<String>,
    /// The layers in the order they were merged, for the startup log.
    pub layers: Vec<String>,
    /// Keys (of [`Origin::TRACKED`]) that a layer above the built-in defaults sets.
    pub explicit: BTreeSet<&'static str>,
}

impl Origin {
    /// Keys whose built-in default is meant for development only, so production must know
    /// whether the operator chose them.
    pub const TRACKED: [&'static str; 2] = ["sms.provider", "billing.sweep_cron"];

    /// True in the `production` environment.
    pub fn is_production(&self) -> bool {
        self.environment.as_deref() == Some(PRODUCTION)
    }

    /// Whether the operator set `key` (one of [`Origin::TRACKED`]).
    pub fn is_explicit(&self, key: &str) -> bool {
        self.explicit.contains(key)
    }
}

/// The environment name whose defaults refuse development shortcuts.
pub const PRODUCTION: &str = "production";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BillingSettings {
    pub sweep_cron: String,
    pub reconcile_cron: String,
    pub create_ahead_days: u32,
    /// Runs with more due periods than this use Vipps's batch endpoint (0: never).
    pub batch_threshold: u32,
    /// Charges per batch call (1–2000).
    pub batch_size: u32,
}

impl BillingSettings {
    /// Whether a run of `due` periods goes through the batch endpoint.
    pub fn batches(&self, due: u64) -> bool {
        self.batch_threshold > 0 && due > u64::from(self.batch_threshold)
    }
}

/// The partner portal's sessions, one-time links and login limits (`[portal]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalSettings {
    /// A session unused this long ends (sliding: every request renews it).
    pub session_idle_minutes: u32,
    /// A session ends this long after login, however busy.
    pub session_absolute_hours: u32,
    /// How long a set-password link stays valid.
    pub password_link_days: u32,
    /// Refused logins counted over this window…
    pub login_window_minutes: u32,
    /// …per address typed in the form (more: 429 without checking the password)…
    pub login_failures_per_email: u32,
    /// …and per client address.
    pub login_failures_per_address: u32,
}

impl PortalSettings {
    fn problems(&self) -> Vec<String> {
        [
            ("portal.session_idle_minutes", self.session_idle_minutes),
            ("portal.session_absolute_hours", self.session_absolute_hours),
            ("portal.password_link_days", self.password_link_days),
            ("portal.login_window_minutes", self.login_window_minutes),
            (
                "portal.login_failures_per_email",
                self.login_failures_per_email,
            ),
            (
                "portal.login_failures_per_address",
                self.login_failures_per_address,
            ),
        ]
        .into_iter()
        .filter(|(_, value)| *value == 0)
        .map(|(key, _)| format!("{key}: must be at least 1"))
        .collect()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    /// How the outside world reaches the HTTP API (links in SMS, `merchantAgreementUrl`, our
    /// webhook URL). Unset: the address the server listens on.
    #[serde(default)]
    pub public_base_url: Option<String>,
    pub body_limit_bytes: usize,
    pub shutdown_timeout_secs: u64,
    /// Serve `GET /metrics` (Prometheus text format, no authentication).
    pub metrics_enabled: bool,
    /// A listener with only `GET /metrics` and `GET /healthz` (how `worker` processes, which
    /// have no API port, are scraped); unset: none.
    #[serde(default)]
    pub metrics_port: Option<u16>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    Normal,
    Full,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: u32,
    pub busy_timeout_ms: u64,
    pub sqlite_synchronous: SqliteSynchronous,
    /// SQLite page cache per connection.
    pub sqlite_cache_mib: u32,
    pub migrate_on_start: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorSettings {
    pub api_key: SecretString,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSettings {
    pub poll_interval_ms: u64,
    pub batch_size: usize,
    pub concurrency: usize,
    /// On PostgreSQL, the workers (fetch streams) per process of each database-only queue.
    pub postgres_streams: usize,
    pub heartbeat_interval_secs: u64,
    pub missed_heartbeats: usize,
    pub attempt_timeout_secs: u64,
    pub backoff_base_ms: u64,
    pub backoff_max_secs: u64,
    pub retention_hours: u64,
    pub maintenance_interval_secs: u64,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

/// Where the layered files are read from.
#[derive(Debug, Clone, Default)]
pub struct ConfigSource {
    /// `--config-dir` / `DIALOGPAY_CONFIG_DIR`: must exist. Unset: `./config` when it exists.
    pub dir: Option<PathBuf>,
    /// `DIALOGPAY_ENV`.
    pub env_name: Option<String>,
}

impl ConfigSource {
    /// `$DIALOGPAY_CONFIG_DIR` (or `dir`, from `--config-dir`, which wins) and `$DIALOGPAY_ENV`.
    pub fn from_env(dir: Option<PathBuf>) -> Self {
        let dir = dir.or_else(|| {
            std::env::var_os("DIALOGPAY_CONFIG_DIR")
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
        });
        let env_name = std::env::var("DIALOGPAY_ENV")
            .ok()
            .filter(|s| !s.is_empty());
        Self { dir, env_name }
    }

    /// The folder to read files from: the explicit one (which must exist), or `./config`
    /// when it is a folder, or none.
    fn resolve_dir(&self) -> anyhow::Result<Option<PathBuf>> {
        match &self.dir {
            Some(dir) if dir.is_dir() => Ok(Some(dir.clone())),
            Some(dir) => anyhow::bail!(
                "configuration folder {} (--config-dir / DIALOGPAY_CONFIG_DIR) does not exist",
                absolute(dir).display()
            ),
            None => {
                let dir = PathBuf::from("config");
                Ok(dir.is_dir().then_some(dir))
            }
        }
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Built-in defaults: the committed `config/default.toml`, compiled in so the binary also
/// works from any directory.
const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// The committed environment files, compiled in for the same reason; a file of the same name
/// in the configuration folder is read instead.
const BUILT_IN_ENVIRONMENTS: [(&str, &str); 3] = [
    ("local", include_str!("../config/local.toml")),
    ("test", include_str!("../config/test.toml")),
    (PRODUCTION, include_str!("../config/production.toml")),
];

impl Settings {
    /// Loads and validates the settings from files and the process environment.
    pub fn load(source: &ConfigSource) -> anyhow::Result<Self> {
        Self::load_with_env(source, Env::prefixed("DIALOGPAY__").split("__"))
    }

    fn load_with_env(source: &ConfigSource, env: Env) -> anyhow::Result<Self> {
        let mut origin = Origin {
            environment: source.env_name.clone(),
            layers: vec!["built-in default.toml".to_owned()],
            explicit: BTreeSet::new(),
        };
        let dir = source.resolve_dir()?;
        // The layers above the built-in defaults, kept apart to tell what the operator set.
        let mut overlay = Figment::new();
        if let Some(dir) = &dir {
            let file = dir.join("default.toml");
            if file.is_file() {
                origin.layers.push(absolute(&file).display().to_string());
                overlay = overlay.merge(Toml::file(&file));
            }
        }
        if let Some(name) = &source.env_name {
            overlay = overlay.merge(Self::environment_layer(name, dir.as_deref(), &mut origin)?);
        }
        overlay = overlay.merge(env);
        origin
            .layers
            .push("DIALOGPAY__* environment variables".to_owned());
        origin.explicit = Origin::TRACKED
            .into_iter()
            .filter(|key| overlay.find_value(key).is_ok())
            .collect();
        let mut settings =
            Self::from_figment(Figment::from(Toml::string(DEFAULT_TOML)).merge(overlay))?;
        settings.origin = origin;
        Ok(settings)
    }

    /// `NAME.toml` from the folder, else the built-in file of that name; neither is an error
    /// naming the places tried.
    fn environment_layer(
        name: &str,
        dir: Option<&Path>,
        origin: &mut Origin,
    ) -> anyhow::Result<figment::providers::Data<Toml>> {
        let file_name = format!("{name}.toml");
        let mut tried = Vec::new();
        if let Some(dir) = dir {
            let file = dir.join(&file_name);
            if file.is_file() {
                origin.layers.push(absolute(&file).display().to_string());
                return Ok(Toml::file(file));
            }
            tried.push(absolute(&file).display().to_string());
        } else {
            tried.push(format!(
                "{} (no such folder)",
                absolute(Path::new("config")).join(&file_name).display()
            ));
        }
        if let Some((_, text)) = BUILT_IN_ENVIRONMENTS.iter().find(|(n, _)| *n == name) {
            origin.layers.push(format!("built-in {file_name}"));
            return Ok(Toml::string(text));
        }
        let built_in: Vec<&str> = BUILT_IN_ENVIRONMENTS.iter().map(|(n, _)| *n).collect();
        anyhow::bail!(
            "DIALOGPAY_ENV={name}: no {file_name} found; tried {} and the built-in environments ({})",
            tried.join(", "),
            built_in.join(", ")
        )
    }

    /// Loads from the defaults plus explicit `section.key = value` overrides (tests, tools).
    pub fn with_overrides(overrides: &[(&str, toml::Value)]) -> anyhow::Result<Self> {
        let mut figment = Figment::new();
        for (key, value) in overrides {
            figment = figment.merge(figment::providers::Serialized::global(key, value.clone()));
        }
        let explicit = Origin::TRACKED
            .into_iter()
            .filter(|key| figment.find_value(key).is_ok())
            .collect();
        let mut settings =
            Self::from_figment(Figment::from(Toml::string(DEFAULT_TOML)).merge(figment))?;
        settings.origin = Origin {
            environment: None,
            layers: vec!["built-in default.toml".to_owned(), "overrides".to_owned()],
            explicit,
        };
        Ok(settings)
    }

    fn from_figment(figment: Figment) -> anyhow::Result<Self> {
        let settings: Settings = figment.extract().map_err(|err| {
            let messages: Vec<String> = err.into_iter().map(describe_config_error).collect();
            anyhow::anyhow!("invalid configuration:\n  {}", messages.join("\n  "))
        })?;
        settings.validate()?;
        Ok(settings)
    }

    /// Rules serde cannot express.
    pub fn validate(&self) -> anyhow::Result<()> {
        let mut problems = Vec::new();
        let db = &self.database.url;
        if !(db.starts_with("sqlite:")
            || db.starts_with("postgres://")
            || db.starts_with("postgresql://"))
        {
            problems.push("database.url: must start with sqlite: or postgres://".to_owned());
        }
        if self.database.max_connections == 0 {
            problems.push("database.max_connections: must be at least 1".to_owned());
        }
        if self.jobs.batch_size == 0 {
            problems.push("jobs.batch_size: must be at least 1".to_owned());
        }
        if self.jobs.concurrency == 0 {
            problems.push("jobs.concurrency: must be at least 1".to_owned());
        }
        if self.jobs.postgres_streams == 0 {
            problems.push("jobs.postgres_streams: must be at least 1".to_owned());
        }
        if self.jobs.heartbeat_interval_secs == 0 || self.jobs.missed_heartbeats == 0 {
            problems.push(
                "jobs.heartbeat_interval_secs and jobs.missed_heartbeats: must be at least 1"
                    .to_owned(),
            );
        }
        for (key, expr) in [
            ("billing.sweep_cron", &self.billing.sweep_cron),
            ("billing.reconcile_cron", &self.billing.reconcile_cron),
        ] {
            if let Err(e) = <cron::Schedule as std::str::FromStr>::from_str(expr) {
                problems.push(format!(
                    "{key}: not a cron expression (sec min hour dom mon dow): {e}"
                ));
            }
        }
        if !(1..=2000).contains(&self.billing.batch_size) {
            problems.push("billing.batch_size: must be 1–2000 (Vipps's batch limit)".to_owned());
        }
        if self.jobs.poll_interval_ms == 0 {
            problems.push("jobs.poll_interval_ms: must be at least 1".to_owned());
        }
        if let Some(port) = self.server.metrics_port {
            if !self.server.metrics_enabled {
                problems.push(
                    "server.metrics_port: set while server.metrics_enabled = false (unset one of them)"
                        .to_owned(),
                );
            }
            if port != 0 && port == self.server.port {
                problems.push("server.metrics_port: must differ from server.port".to_owned());
            }
        }
        if let Some(url) = &self.server.public_base_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            problems.push(format!(
                "server.public_base_url: must start with http:// or https:// (got {url:?})"
            ));
        }
        if self.server.body_limit_bytes < 1024 {
            problems.push("server.body_limit_bytes: must be at least 1024".to_owned());
        }
        let key = self.operator.api_key.expose_secret();
        if !key.is_empty() && key.len() < 16 {
            problems.push("operator.api_key: must be at least 16 characters (or empty to disable the admin API)".to_owned());
        }
        problems.extend(self.sms.problems());
        problems.extend(self.portal.problems());
        if problems.is_empty() {
            Ok(())
        } else {
            anyhow::bail!("invalid configuration:\n  {}", problems.join("\n  "))
        }
    }

    /// True when the database is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.database.url.starts_with("postgres")
    }
}

/// Turns a figment error into "key.path: what is wrong (from source)".
fn describe_config_error(err: figment::Error) -> String {
    let path = err.path.join(".");
    let source = err
        .metadata
        .as_ref()
        .map(|m| format!(" (from {})", m.name))
        .unwrap_or_default();
    let kind = match &err.kind {
        figment::error::Kind::UnknownField(field, _) => {
            let full = if path.is_empty() {
                field.clone()
            } else if path == *field || path.ends_with(&format!(".{field}")) {
                path.clone()
            } else {
                format!("{path}.{field}")
            };
            return format!("{full}: unknown key{source}");
        }
        other => other.to_string(),
    };
    if path.is_empty() {
        format!("{kind}{source}")
    } else {
        format!("{path}: {kind}{source}")
    }
}

/// The folder a `sqlite://` URL's file lives in, so it can be created before connecting.
pub fn sqlite_parent_dir(url: &str) -> Option<&Path> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next().unwrap_or(path);
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_load_and_are_valid() {
        let s = Settings::with_overrides(&[]).expect("defaults are valid");
        assert_eq!(s.server.port, 8080);
        assert!(!s.is_postgres());
        assert_eq!(s.database.sqlite_synchronous, SqliteSynchronous::Full);
    }

    #[test]
    fn portal_limits_must_be_positive() {
        let s = Settings::with_overrides(&[]).unwrap();
        assert_eq!(s.portal.session_idle_minutes, 30);
        assert_eq!(s.portal.session_absolute_hours, 12);
        let err =
            Settings::with_overrides(&[("portal.session_idle_minutes", 0.into())]).unwrap_err();
        assert!(
            err.to_string().contains("portal.session_idle_minutes"),
            "{err}"
        );
    }

    #[test]
    fn unknown_key_is_named() {
        let err =
            Settings::with_overrides(&[("server.prot", toml::Value::Integer(1))]).unwrap_err();
        assert!(
            err.to_string().contains("server.prot: unknown key"),
            "{err}"
        );
    }

    #[test]
    fn invalid_value_is_named() {
        let err = Settings::with_overrides(&[("server.port", toml::Value::String("abc".into()))])
            .unwrap_err();
        assert!(err.to_string().contains("server.port"), "{err}");
        let err = Settings::with_overrides(&[("log.format", toml::Value::String("xml".into()))])
            .unwrap_err();
        assert!(err.to_string().contains("log.format"), "{err}");
    }

    #[test]
    fn metrics_port_is_optional_and_checked() {
        let port = |v: toml::Value| Settings::with_overrides(&[("server.metrics_port", v)]);
        assert_eq!(
            Settings::with_overrides(&[]).unwrap().server.metrics_port,
            None
        );
        assert_eq!(port(9464.into()).unwrap().server.metrics_port, Some(9464));
        for bad in [toml::Value::from("abc"), 70000.into(), 8080.into()] {
            let err = port(bad.clone()).unwrap_err();
            assert!(
                err.to_string().contains("server.metrics_port"),
                "{bad}: {err}"
            );
        }
        let err = Settings::with_overrides(&[
            ("server.metrics_port", 9464.into()),
            ("server.metrics_enabled", false.into()),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("server.metrics_port"), "{err}");
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let s = Settings::with_overrides(&[(
            "operator.api_key",
            toml::Value::String("super-secret-operator-key".into()),
        )])
        .unwrap();
        assert!(!format!("{s:?}").contains("super-secret-operator-key"));
    }

    /// Loads with no process environment variables (a prefix nothing uses).
    fn load_from(dir: Option<&Path>, env_name: Option<&str>) -> anyhow::Result<Settings> {
        let source = ConfigSource {
            dir: dir.map(Path::to_path_buf),
            env_name: env_name.map(str::to_owned),
        };
        Settings::load_with_env(&source, Env::prefixed("DIALOGPAY_UNIT_TEST_NOTHING__"))
    }

    #[test]
    fn built_in_environments_load_without_a_config_folder() {
        let empty = tempfile::tempdir().unwrap();
        let s = load_from(Some(empty.path()), Some("production")).unwrap();
        assert_eq!(s.log.format, LogFormat::Json);
        assert_eq!(s.vipps.mode, crate::vipps::VippsMode::Live);
        assert!(!s.database.migrate_on_start);
        assert!(s.origin.is_production());
        assert!(
            s.origin
                .layers
                .iter()
                .any(|l| l == "built-in production.toml")
        );
        assert!(!s.origin.is_explicit("sms.provider"));
    }

    #[test]
    fn a_file_in_the_folder_wins_over_the_built_in_one_and_counts_as_explicit() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("production.toml"),
            "[sms]\nprovider = \"outbox\"\n[server]\nport = 9123\n",
        )
        .unwrap();
        let s = load_from(Some(dir.path()), Some("production")).unwrap();
        assert_eq!(s.server.port, 9123);
        // The folder's file replaces the built-in one: its vipps.mode is not read.
        assert_eq!(s.vipps.mode, crate::vipps::VippsMode::Simulator);
        assert!(s.origin.is_explicit("sms.provider"));
    }

    #[test]
    fn an_unknown_environment_names_the_places_tried() {
        let dir = tempfile::tempdir().unwrap();
        let err = load_from(Some(dir.path()), Some("staging"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("staging.toml"), "{err}");
        assert!(err.contains(&dir.path().display().to_string()), "{err}");
        assert!(err.contains("local, test, production"), "{err}");
        let err = load_from(Some(Path::new("/no/such/folder")), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("/no/such/folder"), "{err}");
    }

    #[test]
    fn public_base_url_is_optional_and_must_be_http() {
        assert_eq!(
            Settings::with_overrides(&[])
                .unwrap()
                .server
                .public_base_url,
            None
        );
        let err = Settings::with_overrides(&[("server.public_base_url", "pay.example.org".into())])
            .unwrap_err();
        assert!(err.to_string().contains("server.public_base_url"), "{err}");
    }

    #[test]
    fn sqlite_dir_is_found() {
        assert_eq!(
            sqlite_parent_dir("sqlite://./data/x.db"),
            Some(Path::new("./data"))
        );
        assert_eq!(sqlite_parent_dir("sqlite::memory:"), None);
        assert_eq!(sqlite_parent_dir("postgres://x"), None);
    }
}
