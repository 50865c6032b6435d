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
    pub attachments: Attachments,
    pub workflow: Workflow,
    pub demo: Demo,
    pub log: Log,
    pub web: Web,
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
}

impl Default for Server {
    fn default() -> Self {
        Self { addr: "127.0.0.1:8080".into() }
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
}

impl Default for Auth {
    fn default() -> Self {
        Self { token_ttl_hours: 12 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Attachments {
    pub dir: PathBuf,
    pub max_bytes: usize,
}

impl Default for Attachments {
    fn default() -> Self {
        Self { dir: "data/attachments".into(), max_bytes: 10 * 1024 * 1024 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Workflow {
    pub whistle_report_hours: u32,
    pub jobs_interval_seconds: u64,
}

impl Default for Workflow {
    fn default() -> Self {
        Self { whistle_report_hours: 1, jobs_interval_seconds: 30 }
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
        figment.extract().map_err(|e| anyhow::anyhow!("settings: {e}"))
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
    fn passwords_in_the_database_url_are_not_printed() {
        let mut s = Settings::default();
        s.database.url = "postgres://city:secret@db/cityloop".into();
        assert!(!format!("{s:?}").contains("secret"));
    }
}
