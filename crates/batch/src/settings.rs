//! Settings: the default policy and sources shipped in `config/` (embedded in
//! the binary), or a center's own file, then the environment on top.

use std::collections::BTreeMap;
use std::path::Path;

use hedui_adapter::SourceConfig;
use hedui_core::policy::{Policy, PolicySettings};
use serde::Deserialize;
use sha2::{Digest, Sha256};

const DEFAULT_TOML: &str = include_str!("../../../config/hedui.toml");
const DEFAULT_FILES: [(&str, &str); 3] = [
    ("policy/gz-2026/standards.csv", include_str!("../../../config/policy/gz-2026/standards.csv")),
    ("policy/gz-2026/parameters.csv", include_str!("../../../config/policy/gz-2026/parameters.csv")),
    ("policy/gz-2026/counties.csv", include_str!("../../../config/policy/gz-2026/counties.csv")),
];

/// Short environment names (OUTPUTS.md) → config keys.
const ENV_ALIASES: [(&str, &str); 6] = [
    ("HEDUI_HR_URL", "sources.hr_social_security.url"),
    ("HEDUI_HR_TOKEN", "sources.hr_social_security.token"),
    ("HEDUI_EDUCATION_URL", "sources.education.url"),
    ("HEDUI_EDUCATION_KEY", "sources.education.key"),
    ("HEDUI_EDUCATION_RATE_LIMIT", "sources.education.rate_limit_per_s"),
    ("HEDUI_HR_RATE_LIMIT", "sources.hr_social_security.rate_limit_per_s"),
];

/// Setting names whose values are secrets: never logged, never in the manifest.
pub const SECRET_KEYS: [&str; 4] = ["token", "key", "password", "secret"];

/// Why the settings or the policy could not be loaded (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("config {path}: {message}")]
    Config { path: String, message: String },
    #[error("policy file {path}: {message}")]
    PolicyFile { path: String, message: String },
    #[error("{0}")]
    Policy(#[from] hedui_core::policy::PolicyError),
}

#[derive(Debug, Clone, Deserialize)]
struct PolicySection {
    id: String,
    version: String,
    standards: String,
    parameters: String,
    counties: String,
    #[serde(default)]
    rules: BTreeMap<String, serde_json::Value>,
}

/// General run settings (`[run]`).
#[derive(Debug, Clone, Deserialize)]
pub struct RunSettings {
    #[serde(default = "default_roster_folder")]
    pub roster_folder: String,
}

fn default_roster_folder() -> String {
    "roster".into()
}

#[derive(Debug, Clone, Deserialize)]
struct RawSettings {
    policy: PolicySection,
    run: Option<RunSettings>,
    #[serde(default)]
    sources: BTreeMap<String, SourceConfig>,
}

/// Loaded settings with the policy parsed and validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub policy: Policy,
    pub run: RunSettings,
    /// Enabled and disabled sources, by department code (sorted).
    pub sources: Vec<SourceConfig>,
    /// sha256 of the effective settings (secrets removed) and the policy files.
    pub digest: String,
    /// Where the settings came from (`<built-in default>` or a path).
    pub origin: String,
}

impl Settings {
    /// Loads `path`, or the built-in default, with the environment on top,
    /// then `overrides` (`key.path`, value) on top of everything.
    pub fn load(path: Option<&Path>, overrides: &[(String, String)]) -> Result<Settings, SettingsError> {
        let origin = path.map(|p| p.display().to_string()).unwrap_or_else(|| "<built-in default>".into());
        let cfg_err = |e: config::ConfigError| SettingsError::Config { path: origin.clone(), message: e.to_string() };
        let mut b = config::Config::builder();
        b = match path {
            Some(p) => {
                if !p.is_file() {
                    return Err(SettingsError::Config { path: origin.clone(), message: "no such file".into() });
                }
                b.add_source(config::File::from(p).format(config::FileFormat::Toml))
            }
            None => b.add_source(config::File::from_str(DEFAULT_TOML, config::FileFormat::Toml)),
        };
        b = b.add_source(config::Environment::with_prefix("HEDUI").prefix_separator("_").separator("__").try_parsing(true));
        for (env, key) in ENV_ALIASES {
            if let Ok(v) = std::env::var(env) {
                b = b.set_override(key, v).map_err(cfg_err)?;
            }
        }
        for (key, value) in overrides {
            b = b.set_override(key.as_str(), value.as_str()).map_err(cfg_err)?;
        }
        let raw: RawSettings = b.build().map_err(cfg_err)?.try_deserialize().map_err(cfg_err)?;
        let base = path.and_then(|p| p.parent()).map(Path::to_path_buf);

        let mut hasher = Sha256::new();
        let read = |rel: &str| -> Result<(String, String), SettingsError> {
            let text = match &base {
                Some(dir) => std::fs::read_to_string(dir.join(rel)).map_err(|e| SettingsError::PolicyFile { path: dir.join(rel).display().to_string(), message: e.to_string() })?,
                None => match DEFAULT_FILES.iter().find(|(n, _)| *n == rel) {
                    Some((_, t)) => t.to_string(),
                    None => std::fs::read_to_string(rel).map_err(|e| SettingsError::PolicyFile { path: rel.to_string(), message: e.to_string() })?,
                },
            };
            Ok((rel.to_string(), text))
        };
        let standards = read(&raw.policy.standards)?;
        let parameters = read(&raw.policy.parameters)?;
        let counties = read(&raw.policy.counties)?;
        for (_, t) in [&standards, &parameters, &counties] {
            hasher.update(t.as_bytes());
        }
        let mut rules = BTreeMap::new();
        for (code, v) in &raw.policy.rules {
            // The config crate may lower-case keys (environment); codes are upper-case.
            let on = match v {
                serde_json::Value::Bool(b) => *b,
                serde_json::Value::String(s) => s.trim() != "false",
                _ => true,
            };
            rules.insert(code.to_uppercase(), on);
        }
        let ps = PolicySettings { id: raw.policy.id.clone(), version: raw.policy.version.clone(), rules };
        let policy = Policy::parse(&ps, (&standards.0, &standards.1), (&parameters.0, &parameters.1), (&counties.0, &counties.1))?;

        let mut sources: Vec<SourceConfig> = raw
            .sources
            .into_iter()
            .map(|(code, mut c)| {
                c.code = code;
                c
            })
            .collect();
        sources.sort_by(|a, b| a.code.cmp(&b.code));
        let redacted: Vec<serde_json::Value> = sources.iter().map(redact).collect();
        hasher.update(serde_json::to_string(&(&ps, &redacted)).unwrap_or_default().as_bytes());
        let digest = format!("{:x}", hasher.finalize());
        Ok(Settings { policy, run: raw.run.unwrap_or(RunSettings { roster_folder: default_roster_folder() }), sources, digest, origin })
    }
}

/// A source config as JSON with secret values replaced by `***`.
pub fn redact(c: &SourceConfig) -> serde_json::Value {
    let mut v = serde_json::to_value(c).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        for (k, val) in obj.iter_mut() {
            if SECRET_KEYS.iter().any(|s| k == s || k.ends_with(&format!("_{s}"))) {
                *val = serde_json::Value::String("***".into());
            }
        }
    }
    v
}
