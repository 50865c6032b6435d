//! Settings: built-in defaults, then `cityloop.toml` (or `--config FILE`), then `CITYLOOP_*`
//! environment variables (`CITYLOOP_DATABASE__URL`, `CITYLOOP_SERVER__ADDR`, …), then flags.

use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// The settings file printed by `cityloop config default`.
pub const DEFAULT_TOML: &str = include_str!("../cityloop.example.toml");

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub server: Server,
    pub database: Database,
    pub auth: Auth,
    /// The key of the tamper evidence (docs/audit.md).
    pub audit: Audit,
    pub attachments: Attachments,
    pub workflow: Workflow,
    pub demo: Demo,
    pub log: Log,
    pub web: Web,
    pub intake: Intake,
    pub duplicates: Duplicates,
    pub open311: Open311,
    pub webhooks: Webhooks,
    /// Evaluation periods, weights and time limits (docs/evaluation.md).
    pub evaluation: cityloop_domain::evaluation::EvaluationRules,
    /// Risk-signal thresholds and watch words (docs/signals.md).
    pub signals: cityloop_domain::signals::SignalRules,
    /// When reads of residents' contact data are unusual (docs/api.md#residents-contact-data).
    pub access: cityloop_domain::access::AccessRules,
    /// Spam heuristics for submissions without an account (docs/api.md#spam).
    pub spam: cityloop_domain::spam::SpamRules,
    /// How long residents' data is kept.
    pub retention: Retention,
    /// Encryption of residents' contact data at rest.
    pub privacy: Privacy,
}

/// Residents' contact data encrypted at rest (docs/api.md#residents-contact-data). Keys are 64 hex
/// digits (32 bytes, AES-128-SIV); keep them out of the database, e.g. in `CITYLOOP_PRIVACY__CONTACT_KEY`.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Privacy {
    /// New contact data is encrypted with it; empty: stored in clear.
    #[serde(skip_serializing)]
    pub contact_key: String,
    /// Earlier keys, still read until `cityloop privacy rotate` has re-encrypted everything.
    #[serde(skip_serializing)]
    pub previous_contact_keys: Vec<String>,
}

impl std::fmt::Debug for Privacy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Privacy")
            .field("contact_key", &if self.contact_key.is_empty() { "(none)" } else { "(set)" })
            .field("previous_contact_keys", &self.previous_contact_keys.len())
            .finish()
    }
}

impl Privacy {
    pub fn cipher(&self) -> anyhow::Result<cityloop_store::ContactCipher> {
        cityloop_store::ContactCipher::new(&self.contact_key, &self.previous_contact_keys)
            .map_err(|e| anyhow::anyhow!("settings: privacy: {e}"))
    }
}

/// Retention of residents' data (docs/api.md#residents-contact-data).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Retention {
    /// Months after closing when a case's contact data is removed and numbers in its texts masked;
    /// 0 keeps them.
    pub months: u32,
}

/// The Open311 GeoReport v2 endpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Open311 {
    /// The address residents' apps reach this server at (for discovery and photo links); empty: the
    /// address the server listens on.
    pub public_url: String,
    /// The jurisdiction this server serves as a whole; clients may send it or leave it empty.
    pub jurisdiction_id: String,
    /// Parts of the platform served as jurisdictions of their own: `[[open311.jurisdictions]]` with
    /// `id` (the `jurisdiction_id` clients send) and `division` (the code of a city or district).
    pub jurisdictions: Vec<cityloop_app::open311::JurisdictionSetting>,
    /// `spec` (`status` is open or closed) or `fixmystreet` (FixMyStreet's finer statuses in `status`).
    pub status_style: cityloop_domain::open311::StatusStyle,
    /// Who to ask about the endpoint, and where to ask for an API key.
    pub contact: String,
    pub key_service: String,
}

impl Default for Open311 {
    fn default() -> Self {
        let d = cityloop_app::AppSettings::default();
        Self {
            public_url: String::new(),
            jurisdiction_id: d.open311_jurisdiction,
            jurisdictions: d.open311_jurisdictions,
            status_style: d.open311_status_style,
            contact: d.open311_contact,
            key_service: d.open311_key_service,
        }
    }
}

/// Webhooks to other systems.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Webhooks {
    /// How often each node looks for new events and due deliveries.
    pub poll_seconds: u64,
    /// How long a receiver has to answer.
    pub timeout_seconds: u64,
    /// Attempts before a delivery goes to the dead-letter list.
    pub max_attempts: u32,
    /// The wait after the first failed attempt; it doubles after each further one (at most 6 hours).
    pub first_retry_seconds: u64,
}

impl Default for Webhooks {
    fn default() -> Self {
        let d = cityloop_app::webhooks::WebhookSettings::default();
        Self {
            poll_seconds: d.poll_seconds,
            timeout_seconds: d.timeout_seconds,
            max_attempts: d.max_attempts,
            first_retry_seconds: d.first_retry_seconds,
        }
    }
}

/// Intake.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Intake {
    /// Classifier probability from which a suggested category is applied at intake.
    pub auto_category_threshold: f32,
}

impl Default for Intake {
    fn default() -> Self {
        Self { auto_category_threshold: 0.9 }
    }
}

/// Duplicate lookup at intake.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Duplicates {
    pub radius_m: f64,
    pub window_days: i64,
    pub min_similarity: f32,
    /// Category code → radius in metres.
    pub radius_by_category: std::collections::BTreeMap<String, f64>,
}

impl Default for Duplicates {
    fn default() -> Self {
        let d = cityloop_app::duplicates::DuplicateSettings::default();
        Self {
            radius_m: d.radius_m,
            window_days: d.window_days,
            min_similarity: d.min_similarity,
            radius_by_category: Default::default(),
        }
    }
}

/// The web pages.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Web {
    /// A basemap tile URL template such as `https://tiles.example/{z}/{x}/{y}.png`; empty for none
    /// (the maps then show the grids only).
    pub basemap_url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Server {
    pub addr: String,
    /// Posts anyone can make (sign-in, the resident portal, Open311) allowed per client address and minute.
    pub public_posts_per_minute: u32,
    /// The header a trusted reverse proxy puts the client's address in (e.g. `x-forwarded-for`);
    /// empty: the address the connection comes from.
    pub client_ip_header: String,
}

impl Default for Server {
    fn default() -> Self {
        let d = cityloop_app::AppSettings::default();
        Self {
            addr: "127.0.0.1:8080".into(),
            public_posts_per_minute: d.public_posts_per_minute,
            client_ip_header: d.client_ip_header.unwrap_or_default(),
        }
    }
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Database {
    pub url: String,
    pub max_connections: u32,
    /// SQLite only: `NORMAL` (survives a process crash) or `FULL` (also a power cut).
    pub sqlite_synchronous: String,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("url", &cityloop_store::redact_url(&self.url))
            .field("max_connections", &self.max_connections)
            .field("sqlite_synchronous", &self.sqlite_synchronous)
            .finish()
    }
}

impl Default for Database {
    fn default() -> Self {
        Self { url: "sqlite://data/cityloop.db".into(), max_connections: 8, sqlite_synchronous: "NORMAL".into() }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Auth {
    pub token_ttl_hours: i64,
    /// Failed logins under one username within `lockout_minutes` that lock it (2 or more).
    pub max_failed_logins: i64,
    pub lockout_minutes: i64,
}

impl Default for Auth {
    fn default() -> Self {
        let d = cityloop_app::AppSettings::default();
        Self {
            token_ttl_hours: d.token_ttl_hours,
            max_failed_logins: d.max_failed_logins,
            lockout_minutes: d.lockout_minutes,
        }
    }
}

/// Tamper evidence: the key the flow records are linked and sealed with. Keep it out of the database
/// (here or in `CITYLOOP_AUDIT__KEY`) and never change it: records linked with another key fail the check.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Audit {
    /// Empty: the built-in key (the server warns; anyone who reads the source can forge links).
    #[serde(skip_serializing)]
    pub key: String,
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audit").field("key", &if self.key.is_empty() { "(built-in)" } else { "(set)" }).finish()
    }
}

impl Audit {
    pub fn key(&self) -> cityloop_store::AuditKey {
        if self.key.is_empty() {
            cityloop_store::AuditKey::new(cityloop_domain::audit::DEFAULT_KEY)
        } else {
            cityloop_store::AuditKey::new(&self.key)
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Attachments {
    pub dir: PathBuf,
    pub max_bytes: usize,
    /// Hours an upload may wait for a case before it is removed (0: kept).
    pub unattached_hours: u32,
}

impl Default for Attachments {
    fn default() -> Self {
        Self { dir: "data/attachments".into(), max_bytes: 10 * 1024 * 1024, unattached_hours: 24 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Workflow {
    pub whistle_report_hours: u32,
    /// A result sent back (返工, a failed check) gives the unit its handling limit again from then.
    pub rework_restarts_limit: bool,
    pub jobs_interval_seconds: u64,
}

impl Default for Workflow {
    fn default() -> Self {
        Self { whistle_report_hours: 1, rework_restarts_limit: false, jobs_interval_seconds: 30 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Demo {
    /// Load the demo city when `serve` finds an empty database.
    pub load_on_first_start: bool,
    pub cases: usize,
    pub seed: u64,
}

impl Default for Demo {
    fn default() -> Self {
        Self { load_on_first_start: true, cases: 2000, seed: 12345 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Log {
    /// `text` or `json`.
    pub format: String,
    /// An `EnvFilter` directive; `RUST_LOG` wins when set.
    pub filter: String,
}

impl Default for Log {
    fn default() -> Self {
        Self { format: "text".into(), filter: "info,sqlx=warn".into() }
    }
}

impl Settings {
    /// The settings of the web pages.
    pub fn web_settings(&self) -> cityloop_http::WebSettings {
        let url = self.web.basemap_url.trim();
        cityloop_http::WebSettings { basemap_url: (!url.is_empty()).then(|| url.to_string()) }
    }

    /// The settings of the use cases.
    pub fn app_settings(&self) -> cityloop_app::AppSettings {
        cityloop_app::AppSettings {
            token_ttl_hours: self.auth.token_ttl_hours,
            max_failed_logins: self.auth.max_failed_logins,
            lockout_minutes: self.auth.lockout_minutes,
            attachments_dir: self.attachments.dir.clone(),
            max_attachment_bytes: self.attachments.max_bytes,
            unattached_upload_hours: self.attachments.unattached_hours,
            whistle_report_hours: self.workflow.whistle_report_hours,
            rework_restarts_limit: self.workflow.rework_restarts_limit,
            auto_category_threshold: self.intake.auto_category_threshold,
            duplicates: cityloop_app::duplicates::DuplicateSettings {
                radius_m: self.duplicates.radius_m,
                window_days: self.duplicates.window_days,
                min_similarity: self.duplicates.min_similarity,
                radius_by_category: self.duplicates.radius_by_category.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            },
            public_url: match self.open311.public_url.trim() {
                "" => format!("http://{}", self.server.addr),
                url => url.to_string(),
            },
            open311_jurisdiction: self.open311.jurisdiction_id.clone(),
            open311_jurisdictions: self.open311.jurisdictions.clone(),
            open311_status_style: self.open311.status_style,
            open311_contact: self.open311.contact.clone(),
            open311_key_service: self.open311.key_service.clone(),
            webhooks: cityloop_app::webhooks::WebhookSettings {
                poll_seconds: self.webhooks.poll_seconds,
                timeout_seconds: self.webhooks.timeout_seconds,
                max_attempts: self.webhooks.max_attempts,
                first_retry_seconds: self.webhooks.first_retry_seconds,
            },
            evaluation: self.evaluation.clone(),
            signals: self.signals.clone(),
            access: self.access,
            spam: self.spam,
            public_posts_per_minute: self.server.public_posts_per_minute,
            client_ip_header: Some(self.server.client_ip_header.clone()).filter(|h| !h.is_empty()),
            retention_months: self.retention.months,
        }
    }

    /// Loads the layers. A missing default `cityloop.toml` is fine; a missing `--config` file is not.
    pub fn load(config: Option<&Path>) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        match config {
            Some(path) => {
                anyhow::ensure!(path.exists(), "settings file {} does not exist", path.display());
                figment = figment.merge(Toml::file(path));
            }
            None => figment = figment.merge(Toml::file("cityloop.toml")),
        }
        // `CITYLOOP_TEST_*` variables configure the test suites, not the platform.
        let not_test = |key: &figment::value::UncasedStr| !key.as_str().to_ascii_lowercase().starts_with("test_");
        figment = figment.merge(Env::prefixed("CITYLOOP_").filter(not_test).split("__"));
        let settings: Settings = figment.extract().map_err(|e| anyhow::anyhow!("settings: {e}"))?;
        settings.check()?;
        Ok(settings)
    }

    /// Values that parse but make no sense are refused at start, naming the setting.
    fn check(&self) -> anyhow::Result<()> {
        let d = &self.duplicates;
        let fail = |key: &str, rule: &str| Err(anyhow::anyhow!("settings: {key} {rule}"));
        self.privacy.cipher()?;
        if self.server.public_posts_per_minute == 0 {
            return fail("server.public_posts_per_minute", "must be at least 1");
        }
        let a = &self.access;
        let minimums = [a.min_cases, a.min_exported_cases, a.min_login_addresses, a.min_forbidden];
        if a.baseline_days < 1 || !(a.factor.is_finite() && a.factor > 0.0) || minimums.iter().any(|m| *m < 1) {
            return fail("access.baseline_days, factor and the min_ settings", "must be above 0");
        }
        if !(2..=100).contains(&self.auth.max_failed_logins) {
            return fail("auth.max_failed_logins", "must be 2 to 100");
        }
        if !(1..=24 * 60).contains(&self.auth.lockout_minutes) {
            return fail("auth.lockout_minutes", "must be 1 to 1440");
        }
        if !(d.radius_m.is_finite() && d.radius_m > 0.0) {
            return fail("duplicates.radius_m", "must be a distance above 0 metres");
        }
        if let Some((code, _)) = d.radius_by_category.iter().find(|(_, r)| !(r.is_finite() && **r > 0.0)) {
            return fail(&format!("duplicates.radius_by_category.{code}"), "must be a distance above 0 metres");
        }
        if d.window_days < 1 {
            return fail("duplicates.window_days", "must be at least 1");
        }
        if !(0.0..=1.0).contains(&d.min_similarity) {
            return fail("duplicates.min_similarity", "must be between 0 and 1");
        }
        if !(0.0..=1.0).contains(&self.intake.auto_category_threshold) {
            return fail("intake.auto_category_threshold", "must be between 0 and 1");
        }
        let w = &self.webhooks;
        if w.poll_seconds < 1 || w.timeout_seconds < 1 || w.first_retry_seconds < 1 {
            return fail("webhooks.poll_seconds, timeout_seconds and first_retry_seconds", "must be at least 1");
        }
        if !(1..=50).contains(&w.max_attempts) {
            return fail("webhooks.max_attempts", "must be 1 to 50");
        }
        if let Err(e) = self.evaluation.validate() {
            return fail(&e.field, &e.message);
        }
        if let Err(e) = self.signals.validate() {
            return fail(e.field, e.message);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_is_the_defaults() {
        let parsed: Settings = toml_parse(DEFAULT_TOML);
        assert_eq!(format!("{parsed:?}"), format!("{:?}", Settings::default()));
    }

    fn toml_parse(text: &str) -> Settings {
        Figment::from(Serialized::defaults(Settings::default())).merge(Toml::string(text)).extract().unwrap()
    }

    #[test]
    fn senseless_values_are_refused_naming_the_setting() {
        let dir = tempfile::tempdir().unwrap();
        for (toml, key) in [
            ("[duplicates]\nradius_m = 0.0\n", "duplicates.radius_m"),
            ("[duplicates]\nwindow_days = 0\n", "duplicates.window_days"),
            ("[duplicates]\nmin_similarity = 1.5\n", "duplicates.min_similarity"),
            ("[duplicates.radius_by_category]\n\"08001\" = -1.0\n", "duplicates.radius_by_category.08001"),
            ("[intake]\nauto_category_threshold = 2.0\n", "intake.auto_category_threshold"),
            ("[webhooks]\nmax_attempts = 0\n", "webhooks.max_attempts"),
            ("[evaluation]\nperiod_start_day = 30\n", "evaluation.period_start_day"),
            ("[signals]\nwatch_words = [\"火灾\", \" \"]\n", "signals.watch_words"),
            ("[evaluation.weights.hotline]\nspeed = 1.0\n", "evaluation.weights.hotline.speed"),
        ] {
            let path = dir.path().join("c.toml");
            std::fs::write(&path, toml).unwrap();
            let err = Settings::load(Some(&path)).unwrap_err().to_string();
            assert!(err.contains(key), "{toml}: {err}");
        }
        let path = dir.path().join("ok.toml");
        std::fs::write(&path, "[duplicates.radius_by_category]\n\"08001\" = 500.0\n").unwrap();
        assert_eq!(Settings::load(Some(&path)).unwrap().duplicates.radius_by_category["08001"], 500.0);
    }

    #[test]
    fn passwords_in_the_database_url_are_not_printed() {
        let mut s = Settings::default();
        s.database.url = "postgres://city:secret@db/cityloop".into();
        assert!(!format!("{s:?}").contains("secret"));
    }
}
