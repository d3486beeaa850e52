//! The model registry: `harness/models.toml`.
//!
//! Every model the harness can ask is one `[[model]]` table: an id, a
//! provider kind, an endpoint, a model name, the environment variable that
//! holds its key (never the key itself), sampling parameters and, for the
//! paper's mixture of experts, a per-protocol routing table. The schema is
//! documented in `harness/README.md`; [`Registry::availability`] says whether
//! a model can run now and, if not, why.
//!
//! ```
//! use harness::model::registry::{ProviderKind, Registry};
//! let registry = Registry::parse(r#"
//! [[model]]
//! id = "gpt-4o"
//! kind = "openai"
//! model = "gpt-4o"
//! key_env = "OPENAI_API_KEY"
//! sampling = { temperature = 0.7 }
//! "#).unwrap();
//! let entry = registry.get("gpt-4o").unwrap();
//! assert_eq!(entry.kind, ProviderKind::OpenAi);
//! assert_eq!(entry.base_url(), Some("https://api.openai.com/v1"));
//! assert_eq!(entry.concurrency, 4);
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::cassette::Rerecord;
use super::Usage;

/// Where a model's answers come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// Any OpenAI-compatible chat-completions endpoint: OpenAI, vLLM,
    /// llama.cpp, Ollama, LM Studio, Mistral.
    OpenAi,
    /// Anthropic's Messages API.
    Anthropic,
    /// Google's Gemini `generateContent` API.
    Gemini,
    /// Recorded answers only (a cassette, e.g. imported from published
    /// answers); never calls an API.
    Replay,
    /// The built-in reference model (correct answers).
    Reference,
    /// The reference answer with one injected fault.
    Mutant,
}

impl ProviderKind {
    /// Return the name used in `models.toml` and in cassette keys.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Gemini => "gemini",
            ProviderKind::Replay => "replay",
            ProviderKind::Reference => "reference",
            ProviderKind::Mutant => "mutant",
        }
    }

    /// Return whether this kind calls an HTTP API.
    pub fn is_network(self) -> bool {
        matches!(self, ProviderKind::OpenAi | ProviderKind::Anthropic | ProviderKind::Gemini)
    }

    /// Return the endpoint used when `base_url` is not set (network kinds only).
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            ProviderKind::OpenAi => Some("https://api.openai.com/v1"),
            ProviderKind::Anthropic => Some("https://api.anthropic.com"),
            ProviderKind::Gemini => Some("https://generativelanguage.googleapis.com"),
            _ => None,
        }
    }
}

impl std::fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Sampling parameters. Unset values are not sent, so the provider's own
/// defaults apply (Anthropic requires `max_tokens`; the harness sends 4096
/// when it is unset).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sampling {
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// Nucleus sampling mass.
    pub top_p: Option<f64>,
    /// Most tokens to generate.
    pub max_tokens: Option<u32>,
    /// Sampling seed, where the provider supports one (OpenAI-compatible,
    /// Gemini; Anthropic has none and it is not sent there).
    pub seed: Option<u64>,
}

impl Sampling {
    /// Return `self` with every unset value taken from `defaults`.
    pub fn or(&self, defaults: &Sampling) -> Sampling {
        Sampling {
            temperature: self.temperature.or(defaults.temperature),
            top_p: self.top_p.or(defaults.top_p),
            max_tokens: self.max_tokens.or(defaults.max_tokens),
            seed: self.seed.or(defaults.seed),
        }
    }
}

/// One model of the registry (one `[[model]]` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    /// The id used on the command line (`--models ID`), in tables and as
    /// the cassette file name.
    pub id: String,
    /// Where answers come from.
    pub kind: ProviderKind,
    /// Endpoint; see [`ProviderKind::default_base_url`] when unset.
    #[serde(default)]
    pub base_url: Option<String>,
    /// The provider's model name (`gpt-4o`, `claude-sonnet-4-5`, …);
    /// required for network kinds.
    #[serde(default)]
    pub model: Option<String>,
    /// Name of the environment variable holding the API key. A loopback
    /// endpoint may run without it.
    #[serde(default)]
    pub key_env: Option<String>,
    /// Default sampling parameters of this model.
    #[serde(default)]
    pub sampling: Sampling,
    /// Most requests in flight at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Per-request timeout in seconds.
    #[serde(default = "default_timeout_s")]
    pub timeout_s: f64,
    /// Retries after the first attempt (429, 5xx, timeouts, connection errors).
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    /// Mixture of experts: protocol (`dns`, `tcp`, …) → id of the model that
    /// answers for it. Protocols not listed go to this entry itself.
    #[serde(default)]
    pub routes: BTreeMap<String, String>,
    /// Cassette file, when not `<cassette dir>/<id>.jsonl`. A relative path
    /// is resolved against the folder holding `models.toml`.
    #[serde(default)]
    pub cassette: Option<PathBuf>,
    /// Price in USD per million prompt tokens.
    #[serde(default)]
    pub price_in_per_mtok: Option<f64>,
    /// Price in USD per million completion tokens.
    #[serde(default)]
    pub price_out_per_mtok: Option<f64>,
    /// Free text shown in listings.
    #[serde(default)]
    pub description: Option<String>,
    /// How the key is sent: the provider's own header (`x-api-key`,
    /// `x-goog-api-key`, `Authorization: Bearer` for OpenAI), or `bearer`
    /// (`Authorization: Bearer …`) — what Vertex AI's generateContent
    /// expects for an OAuth access token.
    #[serde(default)]
    pub auth: Auth,
}

/// How a key reaches the server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Auth {
    /// The provider's usual header.
    #[default]
    Native,
    /// `Authorization: Bearer <key>` whatever the provider.
    Bearer,
}

fn default_concurrency() -> usize {
    4
}
fn default_timeout_s() -> f64 {
    120.0
}
fn default_max_retries() -> u32 {
    5
}

impl ModelEntry {
    /// Return the endpoint: `base_url` without a trailing `/`, or the
    /// kind's default. `None` for kinds that call no API.
    pub fn base_url(&self) -> Option<&str> {
        match &self.base_url {
            Some(url) => Some(url.trim_end_matches('/')),
            None => self.kind.default_base_url(),
        }
    }

    /// Return whether the endpoint is on this machine (`localhost`,
    /// 127.0.0.0/8, `::1`): such an endpoint may need no key.
    pub fn is_loopback(&self) -> bool {
        self.base_url().and_then(|url| reqwest::Url::parse(url).ok()).is_some_and(|url| match url.host() {
            Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        })
    }

    /// Return the cassette file of this model: `cassette` if set, else
    /// `<cassette_dir>/<id>.jsonl`.
    pub fn cassette_path(&self, cassette_dir: &Path) -> PathBuf {
        match &self.cassette {
            Some(path) => path.clone(),
            None => cassette_dir.join(format!("{}.jsonl", self.id)),
        }
    }

    /// Return the cost in USD of `usage` at this model's prices, or `None`
    /// when no price is configured.
    pub fn cost_usd(&self, usage: &Usage) -> Option<f64> {
        if self.price_in_per_mtok.is_none() && self.price_out_per_mtok.is_none() {
            return None;
        }
        let input = self.price_in_per_mtok.unwrap_or(0.0) * usage.prompt_tokens as f64;
        let output = self.price_out_per_mtok.unwrap_or(0.0) * usage.completion_tokens as f64;
        Some((input + output) / 1_000_000.0)
    }
}

/// How a run obtains answers from live models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunMode {
    /// Cassettes only; a missing answer is an error (the CI default).
    Offline,
    /// Cassette hits are replayed; misses call the API and are appended.
    Record,
    /// Always call the API; never read or write cassettes.
    Live,
}

/// Whether a model can run now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Availability {
    /// It can run.
    Ready,
    /// It cannot; the text says why (and what would make it run).
    Skipped(String),
}

/// The models of `harness/models.toml`, in file order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Registry {
    /// Every model, ids unique.
    pub models: Vec<ModelEntry>,
}

/// Why `models.toml` could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The file could not be read.
    #[error("cannot read the model registry {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not follow the schema.
    #[error("{path}: {message}")]
    Parse {
        /// The file (empty when parsed from a string).
        path: PathBuf,
        /// What is wrong, with line and column.
        message: String,
    },
    /// An entry is inconsistent.
    #[error("{path}: model '{id}': {message}")]
    Invalid {
        /// The file (empty when parsed from a string).
        path: PathBuf,
        /// The entry.
        id: String,
        /// What is wrong.
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    model: Vec<ModelEntry>,
}

impl Registry {
    /// Read and validate a registry file. Relative `cassette` paths are
    /// resolved against the file's folder.
    ///
    /// # Errors
    /// [`RegistryError`] when the file cannot be read, is not valid TOML, has
    /// unknown fields, or an entry is inconsistent (duplicate id, network
    /// kind without `model`, a route to an unknown model, …).
    pub fn load(path: &Path) -> Result<Registry, RegistryError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| RegistryError::Io { path: path.to_path_buf(), source })?;
        let mut registry = Self::parse_at(&text, path)?;
        let folder = path.parent().unwrap_or(Path::new(""));
        for entry in &mut registry.models {
            if let Some(cassette) = &entry.cassette {
                if cassette.is_relative() {
                    entry.cassette = Some(folder.join(cassette));
                }
            }
        }
        Ok(registry)
    }

    /// Parse and validate registry text (paths stay as written).
    ///
    /// # Errors
    /// As [`Registry::load`], without the I/O error.
    pub fn parse(text: &str) -> Result<Registry, RegistryError> {
        Self::parse_at(text, Path::new(""))
    }

    fn parse_at(text: &str, path: &Path) -> Result<Registry, RegistryError> {
        let file: File = toml::from_str(text).map_err(|error| RegistryError::Parse {
            path: path.to_path_buf(),
            message: error.to_string().trim_end().to_string(),
        })?;
        let registry = Registry { models: file.model };
        registry.validate(path)?;
        Ok(registry)
    }

    fn validate(&self, path: &Path) -> Result<(), RegistryError> {
        let invalid = |id: &str, message: String| RegistryError::Invalid {
            path: path.to_path_buf(),
            id: id.to_string(),
            message,
        };
        let mut seen = BTreeSet::new();
        for entry in &self.models {
            let id = entry.id.as_str();
            let id_ok = !id.is_empty()
                && !id.starts_with('.')
                && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':'));
            if !id_ok {
                return Err(invalid(id, "an id is non-empty and uses only letters, digits, '.', '_', '-' and ':' (it names the cassette file)".into()));
            }
            if !seen.insert(id) {
                return Err(invalid(id, "this id is used twice".into()));
            }
            if entry.kind.is_network() && entry.model.as_deref().is_none_or(str::is_empty) {
                return Err(invalid(id, format!("kind '{}' needs `model` (the provider's model name)", entry.kind)));
            }
            if let Some(url) = entry.base_url() {
                match reqwest::Url::parse(url) {
                    Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {}
                    Ok(parsed) => {
                        return Err(invalid(
                            id,
                            format!("base_url '{url}' must be http or https, not {}", parsed.scheme()),
                        ))
                    }
                    Err(error) => return Err(invalid(id, format!("base_url '{url}' is not a URL: {error}"))),
                }
            }
            if let Some(env) = &entry.key_env {
                if env.is_empty() || !env.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(invalid(id, format!("key_env must name an environment variable (letters, digits, '_'), not '{env}'; never put the key itself here")));
                }
            }
            if entry.concurrency == 0 {
                return Err(invalid(id, "concurrency must be at least 1".into()));
            }
            if !(entry.timeout_s.is_finite() && entry.timeout_s > 0.0) {
                return Err(invalid(
                    id,
                    format!("timeout_s must be a positive number of seconds, not {}", entry.timeout_s),
                ));
            }
            for (name, price) in
                [("price_in_per_mtok", entry.price_in_per_mtok), ("price_out_per_mtok", entry.price_out_per_mtok)]
            {
                if price.is_some_and(|p| !(p.is_finite() && p >= 0.0)) {
                    return Err(invalid(id, format!("{name} must be a non-negative number")));
                }
            }
        }
        for entry in &self.models {
            for (protocol, target) in &entry.routes {
                let Some(routed) = self.get(target) else {
                    return Err(invalid(
                        &entry.id,
                        format!("route '{protocol}' names '{target}', which is not in the registry"),
                    ));
                };
                if routed.id == entry.id {
                    return Err(invalid(
                        &entry.id,
                        format!("route '{protocol}' names the entry itself; leave the protocol out instead"),
                    ));
                }
                if !routed.routes.is_empty() {
                    return Err(invalid(
                        &entry.id,
                        format!("route '{protocol}' names '{target}', which routes itself; routes are one level deep"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Return the model with this id.
    pub fn get(&self, id: &str) -> Option<&ModelEntry> {
        self.models.iter().find(|entry| entry.id == id)
    }

    /// Return the model that answers for `protocol` (case-insensitive) when
    /// `entry` is asked: the routed model, or `entry` itself.
    pub fn route<'a>(&'a self, entry: &'a ModelEntry, protocol: &str) -> &'a ModelEntry {
        entry
            .routes
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(protocol))
            .and_then(|(_, target)| self.get(target))
            .unwrap_or(entry)
    }

    /// Say whether `entry` can run now in `mode`: reference and mutant
    /// models always can; replay models need their cassette; live models
    /// need a non-empty cassette (offline), or their key or a reachable
    /// local endpoint (live), or either (record). A routing entry is ready
    /// only when every model it routes to is (and, offline, when its own
    /// cassette exists: it answers the protocols it does not route). A
    /// missing cassette names `harness matrix --models ID --record`.
    pub fn availability(&self, entry: &ModelEntry, mode: RunMode, cassette_dir: &Path) -> Availability {
        self.availability_naming(entry, mode, cassette_dir, &Rerecord::default())
    }

    /// As [`Registry::availability`], a missing cassette naming
    /// `rerecord`'s command (the subcommand and files of the run).
    pub fn availability_naming(
        &self,
        entry: &ModelEntry,
        mode: RunMode,
        cassette_dir: &Path,
        rerecord: &Rerecord,
    ) -> Availability {
        if let Availability::Skipped(why) = own_availability(entry, mode, cassette_dir, rerecord) {
            return Availability::Skipped(why);
        }
        for (protocol, target) in &entry.routes {
            match self.get(target) {
                None => return Availability::Skipped(format!("route {protocol} → {target}: not in the registry")),
                Some(routed) => {
                    if let Availability::Skipped(why) = own_availability(routed, mode, cassette_dir, rerecord) {
                        return Availability::Skipped(format!("route {protocol} → {target}: {why}"));
                    }
                }
            }
        }
        Availability::Ready
    }
}

fn own_availability(entry: &ModelEntry, mode: RunMode, cassette_dir: &Path, rerecord: &Rerecord) -> Availability {
    let cassette = entry.cassette_path(cassette_dir);
    let recorded = std::fs::metadata(&cassette).is_ok_and(|meta| meta.is_file() && meta.len() > 0);
    let record_hint = format!("record it with `{}`", rerecord.command(&entry.id));
    match entry.kind {
        ProviderKind::Reference | ProviderKind::Mutant => Availability::Ready,
        ProviderKind::Replay => {
            if recorded {
                Availability::Ready
            } else {
                Availability::Skipped(format!("replay model without a cassette at {}", cassette.display()))
            }
        }
        ProviderKind::OpenAi | ProviderKind::Anthropic | ProviderKind::Gemini => match mode {
            RunMode::Offline if recorded => Availability::Ready,
            RunMode::Offline => {
                Availability::Skipped(format!("offline and no cassette at {}; {record_hint}", cassette.display()))
            }
            RunMode::Record if recorded => Availability::Ready,
            RunMode::Record | RunMode::Live => live_availability(entry),
        },
    }
}

/// Whether a network model can be called now: its key is set, or it needs
/// none (a local endpoint, or no `key_env`) and its endpoint accepts a TCP
/// connection.
fn live_availability(entry: &ModelEntry) -> Availability {
    let key_set =
        entry.key_env.as_deref().is_some_and(|env| std::env::var_os(env).is_some_and(|value| !value.is_empty()));
    if key_set {
        return Availability::Ready;
    }
    let url = entry.base_url().unwrap_or_default();
    // A key is needed unless the endpoint is local or the entry names no
    // key variable at all (a keyless server on the LAN).
    if let (Some(env), false) = (&entry.key_env, entry.is_loopback()) {
        return Availability::Skipped(format!("no key: environment variable {env} is not set"));
    }
    if reachable(url) {
        Availability::Ready
    } else {
        Availability::Skipped(format!("endpoint {url} is not reachable (is the server running?)"))
    }
}

/// Return whether a TCP connection to the URL's host and port succeeds
/// within half a second.
fn reachable(url: &str) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return false;
    };
    let Some(port) = parsed.port_or_known_default() else {
        return false;
    };
    let addrs: Vec<std::net::SocketAddr> = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => vec![(IpAddr::V4(ip), port).into()],
        Some(url::Host::Ipv6(ip)) => vec![(IpAddr::V6(ip), port).into()],
        Some(url::Host::Domain(name)) => (name, port).to_socket_addrs().map(Iterator::collect).unwrap_or_default(),
        None => Vec::new(),
    };
    addrs.iter().any(|addr| TcpStream::connect_timeout(addr, Duration::from_millis(500)).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[[model]]
id = "local"
kind = "openai"
base_url = "http://127.0.0.1:9/v1/"
model = "llama"

[[model]]
id = "claude"
kind = "anthropic"
model = "claude-sonnet-4-5"
key_env = "HARNESS_TEST_KEY_THAT_IS_NEVER_SET"
sampling = { temperature = 0.2, max_tokens = 2048 }
price_in_per_mtok = 3.0
price_out_per_mtok = 15.0

[[model]]
id = "experts"
kind = "openai"
model = "gpt-4o"
key_env = "HARNESS_TEST_KEY_THAT_IS_NEVER_SET"
routes = { dns = "claude", tcp = "local" }

[[model]]
id = "reference"
kind = "reference"
"#;

    #[test]
    fn parses_defaults_and_fields() {
        let registry = Registry::parse(EXAMPLE).unwrap();
        assert_eq!(registry.models.len(), 4);
        let local = registry.get("local").unwrap();
        assert_eq!(local.base_url(), Some("http://127.0.0.1:9/v1"));
        assert!(local.is_loopback());
        assert_eq!((local.concurrency, local.timeout_s, local.max_retries), (4, 120.0, 5));
        let claude = registry.get("claude").unwrap();
        assert_eq!(claude.base_url(), Some("https://api.anthropic.com"));
        assert!(!claude.is_loopback());
        assert_eq!(claude.sampling, Sampling { temperature: Some(0.2), max_tokens: Some(2048), ..Sampling::default() });
        let cost = claude.cost_usd(&Usage { prompt_tokens: 1_000_000, completion_tokens: 100_000 }).unwrap();
        assert!((cost - 4.5).abs() < 1e-9, "{cost}");
        assert_eq!(registry.get("reference").unwrap().cost_usd(&Usage::default()), None);
        assert!(registry.get("nope").is_none());
    }

    #[test]
    fn routes_by_protocol_case_insensitively() {
        let registry = Registry::parse(EXAMPLE).unwrap();
        let experts = registry.get("experts").unwrap();
        assert_eq!(registry.route(experts, "DNS").id, "claude");
        assert_eq!(registry.route(experts, "tcp").id, "local");
        assert_eq!(registry.route(experts, "http").id, "experts");
    }

    #[test]
    fn rejects_inconsistent_entries() {
        let cases = [
            ("[[model]]\nid = \"a\"\nkind = \"openai\"\n", "needs `model`"),
            (
                "[[model]]\nid = \"a\"\nkind = \"reference\"\n[[model]]\nid = \"a\"\nkind = \"reference\"\n",
                "used twice",
            ),
            ("[[model]]\nid = \"a/b\"\nkind = \"reference\"\n", "only letters"),
            ("[[model]]\nid = \"a\"\nkind = \"reference\"\nroutes = { dns = \"b\" }\n", "not in the registry"),
            (
                "[[model]]\nid = \"a\"\nkind = \"openai\"\nmodel = \"m\"\nkey_env = \"sk-abc def\"\n",
                "never put the key",
            ),
            ("[[model]]\nid = \"a\"\nkind = \"openai\"\nmodel = \"m\"\nbase_url = \"ftp://x\"\n", "http or https"),
            ("[[model]]\nid = \"a\"\nkind = \"openai\"\nmodel = \"m\"\nconcurrency = 0\n", "at least 1"),
            ("[[model]]\nid = \"a\"\nkind = \"chatgpt\"\n", "unknown variant"),
            ("[[model]]\nid = \"a\"\nkind = \"reference\"\napi_key = \"x\"\n", "unknown field"),
        ];
        for (text, expected) in cases {
            let error = Registry::parse(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }

    #[test]
    fn availability_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let registry = Registry::parse(EXAMPLE).unwrap();
        let claude = registry.get("claude").unwrap();
        let skipped = |a: Availability| match a {
            Availability::Skipped(why) => why,
            Availability::Ready => panic!("expected skipped"),
        };
        assert!(
            skipped(registry.availability(claude, RunMode::Offline, dir.path())).contains("offline and no cassette")
        );
        assert!(skipped(registry.availability(claude, RunMode::Live, dir.path()))
            .contains("HARNESS_TEST_KEY_THAT_IS_NEVER_SET is not set"));
        // Port 9 (discard) on loopback: nothing listens there.
        let local = registry.get("local").unwrap();
        assert!(skipped(registry.availability(local, RunMode::Live, dir.path())).contains("not reachable"));
        assert_eq!(
            registry.availability(registry.get("reference").unwrap(), RunMode::Offline, dir.path()),
            Availability::Ready
        );

        std::fs::write(dir.path().join("claude.jsonl"), "{}\n").unwrap();
        assert_eq!(registry.availability(claude, RunMode::Offline, dir.path()), Availability::Ready);
        assert_eq!(registry.availability(claude, RunMode::Record, dir.path()), Availability::Ready);
        let experts = registry.get("experts").unwrap();
        let why = skipped(registry.availability(experts, RunMode::Offline, dir.path()));
        assert!(why.contains("offline and no cassette"), "{why}");
        std::fs::write(dir.path().join("experts.jsonl"), "{}\n").unwrap();
        let why = skipped(registry.availability(experts, RunMode::Offline, dir.path()));
        assert!(why.starts_with("route tcp → local:"), "{why}");

        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let text = format!(
            "[[model]]\nid = \"up\"\nkind = \"openai\"\nmodel = \"m\"\nbase_url = \"http://localhost:{port}/v1\"\n"
        );
        let up = Registry::parse(&text).unwrap();
        assert_eq!(up.availability(&up.models[0], RunMode::Live, dir.path()), Availability::Ready);
    }

    #[test]
    fn the_shipped_registry_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("harness/models.toml");
        let registry = Registry::load(&path).unwrap();
        let ids: Vec<&str> = registry.models.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["reference", "gpt-4o", "claude", "gemini", "local-llama", "smollm2-135m", "experts"]);
        let keys: Vec<Option<&str>> = registry.models.iter().map(|m| m.key_env.as_deref()).collect();
        assert_eq!(
            keys,
            [
                None,
                Some("OPENAI_API_KEY"),
                Some("ANTHROPIC_API_KEY"),
                Some("GEMINI_API_KEY"),
                None,
                None,
                Some("OPENAI_API_KEY")
            ]
        );
        assert!(registry.get("local-llama").unwrap().is_loopback());
        // The recorded local model: greedy, seeded, one request at a time
        // (its cassette depends only on the prompts).
        let local = registry.get("smollm2-135m").unwrap();
        assert!(local.is_loopback() && local.concurrency == 1);
        assert_eq!((local.sampling.temperature, local.sampling.seed), (Some(0.0), Some(2024)));
        let experts = registry.get("experts").unwrap();
        assert_eq!(registry.route(experts, "dns").id, "claude");
        assert_eq!(registry.route(experts, "tcp").id, "experts");
    }

    #[test]
    fn load_resolves_cassette_paths_against_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("models.toml");
        std::fs::write(&path, "[[model]]\nid = \"r\"\nkind = \"replay\"\ncassette = \"tapes/r.jsonl\"\n").unwrap();
        let registry = Registry::load(&path).unwrap();
        assert_eq!(registry.models[0].cassette_path(Path::new("ignored")), dir.path().join("tapes/r.jsonl"));
        let error = Registry::load(&dir.path().join("missing.toml")).unwrap_err().to_string();
        assert!(error.contains("cannot read the model registry"), "{error}");
    }
}
