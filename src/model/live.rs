//! One live model in one run mode: a [`Provider`], its [`Cassette`] and the
//! rules of DESIGN.md "Cassettes".
//!
//! - [`RunMode::Offline`]: answers come only from the cassette; a miss is
//!   [`ModelError::NotRecorded`], whose message says what changed and how to
//!   re-record. No key is needed.
//! - [`RunMode::Record`]: a cassette hit is replayed; a miss calls the API
//!   and appends the answer. Errors are never recorded.
//! - [`RunMode::Live`]: always calls the API and never writes.
//!
//! `replay` models read their cassette in every mode and never call an API.
//!
//! [`Live`] answers the matrix's requests with a registry model (and the
//! experts it routes protocols to).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use super::answerer::{Answer, AnswerError, Answerer, Request};
use super::batch::Pending;
use super::cassette::{now_rfc3339, Cassette, CassetteError, KeyParts, Record, Rerecord};
use super::provider::{ChatMessage, ChatRequest, Completion, Provider, ProviderError, Role};
use super::registry::{ModelEntry, ProviderKind, Registry, RunMode, Sampling};
use crate::scenario::SuiteProtocol;

/// Why a model could not answer.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Offline (or a replay model) and the answer is not in the cassette;
    /// the text explains the miss and names the re-record command.
    #[error("{0}")]
    NotRecorded(String),
    /// The API call failed.
    #[error("model '{id}': {source}")]
    Provider {
        /// The model id.
        id: String,
        /// The failure.
        source: ProviderError,
    },
    /// The cassette could not be read or written.
    #[error(transparent)]
    Cassette(#[from] CassetteError),
    /// The provider's batch API answered this request with an error (or
    /// the batch ended without answering it); it is not in the cassette.
    #[error("model '{id}': {message}")]
    Batch {
        /// The model id.
        id: String,
        /// Why the batch did not answer it.
        message: String,
    },
    /// The entry is not a live or replay model.
    #[error("model '{id}' is of kind '{kind}', which is not answered through a provider or cassette")]
    Unsupported {
        /// The model id.
        id: String,
        /// Its kind.
        kind: ProviderKind,
    },
}

/// A live (or replay) model with its cassette.
#[derive(Debug)]
pub struct LiveModel {
    entry: ModelEntry,
    mode: RunMode,
    /// `None` for replay models; keyless (never called) offline.
    provider: Option<Provider>,
    /// The key's fixed parts: provider, base URL, model name.
    provider_name: String,
    base_url: String,
    model: String,
    cassette: Option<Mutex<Cassette>>,
    cassette_path: PathBuf,
    /// The command a cassette miss names to re-record the answer.
    rerecord: String,
    /// After batch recording: the requests the batches did not answer
    /// (cassette key → why).
    batch_failures: Arc<HashMap<String, String>>,
}

impl LiveModel {
    /// Prepare `entry` for `mode`, opening its cassette under `cassette_dir`
    /// (or the entry's own `cassette`) unless the mode is live.
    ///
    /// # Errors
    /// [`ModelError::Unsupported`] for reference and mutant entries;
    /// [`ModelError::Provider`] when a mode that calls the API cannot build
    /// the provider (missing key); [`ModelError::Cassette`] when the
    /// cassette cannot be read.
    pub fn new(entry: &ModelEntry, mode: RunMode, cassette_dir: &Path) -> Result<LiveModel, ModelError> {
        let replay = match entry.kind {
            ProviderKind::OpenAi | ProviderKind::Anthropic | ProviderKind::Gemini => false,
            ProviderKind::Replay => true,
            kind => return Err(ModelError::Unsupported { id: entry.id.clone(), kind }),
        };
        let mode = if replay { RunMode::Offline } else { mode };
        let provider_error = |source| ModelError::Provider { id: entry.id.clone(), source };
        let provider = match mode {
            _ if replay => None,
            // Offline calls nothing, so needs no key; the request body does
            // not depend on the key, so a keyless provider computes the
            // same cassette keys as the recording run did.
            RunMode::Offline => {
                let mut keyless = entry.clone();
                keyless.key_env = None;
                Some(Provider::new(&keyless).map_err(provider_error)?)
            }
            RunMode::Record | RunMode::Live => Some(Provider::new(entry).map_err(provider_error)?),
        };
        let cassette_path = entry.cassette_path(cassette_dir);
        let cassette = match mode {
            RunMode::Live => None,
            RunMode::Offline | RunMode::Record => Some(Mutex::new(Cassette::open(&cassette_path)?)),
        };
        Ok(LiveModel {
            provider_name: entry.kind.as_str().to_string(),
            base_url: entry.base_url().unwrap_or_default().to_string(),
            model: entry.model.clone().unwrap_or_else(|| entry.id.clone()),
            entry: entry.clone(),
            mode,
            provider,
            cassette,
            cassette_path,
            rerecord: Rerecord::default().command(&entry.id),
            batch_failures: Arc::default(),
        })
    }

    /// Name `command` as the way to re-record a missing answer (see
    /// [`Rerecord::command`]); by default `harness matrix --models ID
    /// --record`.
    pub fn with_rerecord(mut self, command: String) -> LiveModel {
        self.rerecord = command;
        self
    }

    /// Answer offline from now on, after `--record --batch` wrote the
    /// batches' answers into the cassette: a request a batch did not answer
    /// (a key of `failures`) fails with [`ModelError::Batch`], any other
    /// miss is [`ModelError::NotRecorded`]; nothing is called.
    pub fn after_batch(mut self, failures: Arc<HashMap<String, String>>) -> LiveModel {
        if self.mode == RunMode::Record {
            self.mode = RunMode::Offline;
        }
        self.batch_failures = failures;
        self
    }

    /// Return `req` (sample `sample` of prompt version `prompt_version`) as
    /// a batch request when this model records (`--record`) and its
    /// cassette lacks the answer; `None` otherwise.
    pub fn missing(&self, req: &ChatRequest, sample: u32, prompt_version: &str) -> Option<Pending> {
        if self.mode != RunMode::Record || self.provider.is_none() {
            return None;
        }
        let parts = self.key_parts(req, sample, prompt_version);
        let key = parts.key();
        let cassette = self.cassette.as_ref()?.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if cassette.get(&key).is_some() {
            return None;
        }
        Some(Pending { entry: self.entry.clone(), parts, key, cassette: self.cassette_path.clone() })
    }

    /// Return the model entry.
    pub fn entry(&self) -> &ModelEntry {
        &self.entry
    }

    /// Return the mode in effect (always offline for replay models).
    pub fn mode(&self) -> RunMode {
        self.mode
    }

    /// Return the cassette file.
    pub fn cassette_path(&self) -> &Path {
        &self.cassette_path
    }

    /// Return the cassette key parts of a request. Network models use the
    /// exact body their provider sends; replay models use
    /// `{"messages": [...], "sampling": {...}}`. Importers that write replay
    /// cassettes use this to key their records.
    pub fn key_parts(&self, req: &ChatRequest, sample: u32, prompt_version: &str) -> KeyParts {
        KeyParts {
            provider: self.provider_name.clone(),
            base_url: self.base_url.clone(),
            model: self.model.clone(),
            body: self.body(req),
            sample,
            prompt_version: prompt_version.to_string(),
        }
    }

    fn body(&self, req: &ChatRequest) -> Value {
        match &self.provider {
            Some(provider) => provider.request_body(req),
            None => {
                json!({"messages": req.messages, "sampling": req.sampling.or(&self.entry.sampling)})
            }
        }
    }

    /// Answer `req` as sample `sample` of prompt version `prompt_version`.
    /// Offline: the cassette or an error carrying the miss explanation.
    /// Record: a cassette hit, else call the API and append (errors are
    /// never recorded). Live: always call, never write. A replayed answer
    /// has `attempts == 0`.
    ///
    /// # Errors
    /// [`ModelError::NotRecorded`] offline on a miss,
    /// [`ModelError::Provider`] when the API call fails,
    /// [`ModelError::Cassette`] when the answer cannot be recorded.
    pub async fn answer(&self, req: &ChatRequest, sample: u32, prompt_version: &str) -> Result<Completion, ModelError> {
        let parts = self.key_parts(req, sample, prompt_version);
        let key = parts.key();
        if let Some(cassette) = &self.cassette {
            let cassette = cassette.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(record) = cassette.get(&key) {
                return Ok(Completion {
                    text: record.text.clone(),
                    usage: record.usage,
                    latency_ms: record.latency_ms,
                    finish_reason: record.finish_reason.clone(),
                    attempts: 0,
                });
            }
            if self.mode == RunMode::Offline {
                if let Some(why) = self.batch_failures.get(&key) {
                    return Err(ModelError::Batch { id: self.entry.id.clone(), message: why.clone() });
                }
                return Err(ModelError::NotRecorded(cassette.explain_miss(&parts, &self.entry.id, &self.rerecord)));
            }
        }
        let Some(provider) = self.provider.as_ref().filter(|_| self.mode != RunMode::Offline) else {
            return Err(ModelError::NotRecorded(format!(
                "model '{}' is answered from its cassette only",
                self.entry.id
            )));
        };
        let completion = provider
            .complete(req)
            .await
            .map_err(|source| ModelError::Provider { id: self.entry.id.clone(), source })?;
        if let Some(cassette) = &self.cassette {
            let record = Record {
                key,
                parts,
                text: completion.text.clone(),
                usage: completion.usage,
                latency_ms: completion.latency_ms,
                finish_reason: completion.finish_reason.clone(),
                recorded_at: now_rfc3339(),
            };
            cassette.lock().unwrap_or_else(std::sync::PoisonError::into_inner).append(record)?;
        }
        Ok(completion)
    }
}

/// Why a registry model cannot be prepared as an [`Answerer`].
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The runtime its requests run on cannot start.
    #[error("{0}")]
    Runtime(std::io::Error),
    /// The model itself: see [`LiveModel::new`].
    #[error("{id}: {source}")]
    Model {
        /// The model id.
        id: String,
        /// Why.
        source: ModelError,
    },
    /// A model it routes a protocol to.
    #[error("{id} (route {protocol}): {source}")]
    Route {
        /// The routed model's id.
        id: String,
        /// The protocol routed to it.
        protocol: SuiteProtocol,
        /// Why.
        source: ModelError,
    },
}

/// A registry model as an [`Answerer`]: every request of a chunk is sent
/// at once (the provider's own limit bounds the concurrency) and answered
/// from the cassette, the API, or both, by the run mode; a protocol the
/// entry routes to an expert (mixture of experts) goes to that model.
pub struct Live {
    default: LiveModel,
    routes: BTreeMap<SuiteProtocol, LiveModel>,
    runtime: tokio::runtime::Runtime,
}

impl Live {
    /// Prepare `entry` (and the models it routes protocols to); a
    /// cassette miss names `rerecord`'s command for `entry` (a routed
    /// model's answers are recorded by running the entry that routes them).
    ///
    /// # Errors
    /// What [`LiveModel::new`] reports, naming the model (or the route).
    pub fn new(
        registry: &Registry,
        entry: &ModelEntry,
        mode: RunMode,
        cassettes: &Path,
        rerecord: &Rerecord,
    ) -> Result<Live, LiveError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(LiveError::Runtime)?;
        let command = rerecord.command(&entry.id);
        let default = LiveModel::new(entry, mode, cassettes)
            .map_err(|source| LiveError::Model { id: entry.id.clone(), source })?
            .with_rerecord(command.clone());
        let mut routes = BTreeMap::new();
        for protocol in SuiteProtocol::ALL {
            let routed = registry.route(entry, protocol.name());
            if routed.id != entry.id {
                let model = LiveModel::new(routed, mode, cassettes).map_err(|source| LiveError::Route {
                    id: routed.id.clone(),
                    protocol,
                    source,
                })?;
                routes.insert(protocol, model.with_rerecord(command.clone()));
            }
        }
        Ok(Live { default, routes, runtime })
    }

    /// Answer offline from now on, after `--record --batch` recorded the
    /// batches' answers: see [`LiveModel::after_batch`].
    pub fn after_batch(self, failures: &Arc<HashMap<String, String>>) -> Live {
        let Live { default, routes, runtime } = self;
        let routes = routes.into_iter().map(|(p, m)| (p, m.after_batch(failures.clone()))).collect();
        Live { default: default.after_batch(failures.clone()), routes, runtime }
    }

    fn model(&self, request: &Request<'_>) -> &LiveModel {
        self.routes.get(&request.protocol).unwrap_or(&self.default)
    }
}

/// The chat request of a request: the prompt's system and user messages,
/// the entry's sampling.
fn chat(request: &Request<'_>) -> ChatRequest {
    ChatRequest {
        messages: vec![
            ChatMessage { role: Role::System, content: request.system.to_string() },
            ChatMessage { role: Role::User, content: request.user.to_string() },
        ],
        sampling: Sampling::default(),
    }
}

impl Answerer for Live {
    fn answer_all(&self, requests: &[Request<'_>]) -> Vec<Result<Answer, AnswerError>> {
        let calls = requests.iter().map(|r| async move {
            let model = self.model(r);
            let c = model.answer(&chat(r), 0, r.prompt_version).await?;
            Ok::<_, AnswerError>(Answer {
                cost_usd: model.entry().cost_usd(&c.usage),
                text: c.text,
                usage: Some(c.usage),
                latency_ms: c.latency_ms,
                finish_reason: c.finish_reason,
            })
        });
        self.runtime.block_on(futures_util::future::join_all(calls))
    }

    fn missing(&self, requests: &[Request<'_>]) -> Vec<Pending> {
        requests.iter().filter_map(|r| self.model(r).missing(&chat(r), 0, r.prompt_version)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Usage;

    fn entry(text: &str) -> ModelEntry {
        Registry::parse(text).unwrap().models.remove(0)
    }

    fn request(content: &str) -> ChatRequest {
        ChatRequest {
            messages: vec![ChatMessage { role: Role::User, content: content.into() }],
            ..ChatRequest::default()
        }
    }

    #[test]
    fn reference_models_are_not_live() {
        let dir = tempfile::tempdir().unwrap();
        let error = LiveModel::new(
            &entry("[[model]]\nid = \"reference\"\nkind = \"reference\"\n"),
            RunMode::Offline,
            dir.path(),
        )
        .unwrap_err();
        assert!(error.to_string().contains("kind 'reference'"), "{error}");
    }

    #[test]
    fn offline_needs_no_key_and_keys_match_the_recording_body() {
        let dir = tempfile::tempdir().unwrap();
        let text = "[[model]]\nid = \"g\"\nkind = \"gemini\"\nmodel = \"gemini-2.0-flash\"\nkey_env = \"HARNESS_TEST_NEVER_SET_GEMINI\"\n";
        let offline = LiveModel::new(&entry(text), RunMode::Offline, dir.path()).unwrap();
        let parts = offline.key_parts(&request("hello"), 0, "v1");
        assert_eq!(parts.provider, "gemini");
        assert_eq!(parts.base_url, "https://generativelanguage.googleapis.com");
        assert_eq!(parts.body, json!({"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}));
        // Record mode needs the key (remote endpoint).
        let error = LiveModel::new(&entry(text), RunMode::Record, dir.path()).unwrap_err();
        assert!(error.to_string().contains("HARNESS_TEST_NEVER_SET_GEMINI"), "{error}");
    }

    #[tokio::test]
    async fn batch_requests_are_the_misses_and_their_failures_stay_failures() {
        let dir = tempfile::tempdir().unwrap();
        let text = "[[model]]\nid = \"o\"\nkind = \"openai\"\nmodel = \"m\"\nbase_url = \"http://127.0.0.1:1/v1\"\n";
        let recorder = LiveModel::new(&entry(text), RunMode::Record, dir.path()).unwrap();
        let pending = recorder.missing(&request("answered"), 0, "v1").unwrap();
        assert_eq!(pending.key, recorder.key_parts(&request("answered"), 0, "v1").key());
        assert_eq!(pending.parts.body, json!({"model": "m", "messages": [{"role": "user", "content": "answered"}]}));
        let record = Record {
            key: pending.key.clone(),
            parts: pending.parts.clone(),
            text: "IP()".into(),
            usage: Usage::default(),
            latency_ms: 0,
            finish_reason: Some("stop".into()),
            recorded_at: now_rfc3339(),
        };
        Cassette::open(&pending.cassette).unwrap().append(record).unwrap();
        let failed = recorder.missing(&request("failed"), 0, "v1").unwrap();
        // Offline models send nothing, so they have no batch requests.
        assert!(LiveModel::new(&entry(text), RunMode::Offline, dir.path())
            .unwrap()
            .missing(&request("failed"), 0, "v1")
            .is_none());
        let failures = Arc::new(HashMap::from([(
            failed.key.clone(),
            "the batch expired before answering this request".to_string(),
        )]));
        let after = LiveModel::new(&entry(text), RunMode::Record, dir.path()).unwrap().after_batch(failures);
        assert_eq!(after.mode(), RunMode::Offline);
        assert!(after.missing(&request("answered"), 0, "v1").is_none());
        assert_eq!(after.answer(&request("answered"), 0, "v1").await.unwrap().text, "IP()");
        let error = after.answer(&request("failed"), 0, "v1").await.unwrap_err();
        assert!(
            matches!(&error, ModelError::Batch { id, message } if id == "o" && message.contains("expired")),
            "{error}"
        );
        let miss = after.answer(&request("never asked"), 0, "v1").await.unwrap_err();
        assert!(matches!(miss, ModelError::NotRecorded(_)), "{miss}");
    }

    #[tokio::test]
    async fn replay_models_read_their_cassette() {
        let dir = tempfile::tempdir().unwrap();
        let replay =
            LiveModel::new(&entry("[[model]]\nid = \"paper-gpt\"\nkind = \"replay\"\n"), RunMode::Record, dir.path())
                .unwrap();
        assert_eq!(replay.mode(), RunMode::Offline);
        let parts = replay.key_parts(&request("a DNS query"), 2, "paper");
        let record = Record {
            key: parts.key(),
            parts,
            text: "IP()/UDP()/DNS()".into(),
            usage: Usage::default(),
            latency_ms: 0,
            finish_reason: None,
            recorded_at: now_rfc3339(),
        };
        Cassette::open(replay.cassette_path()).unwrap().append(record).unwrap();
        let reopened = LiveModel::new(replay.entry(), RunMode::Offline, dir.path()).unwrap();
        let answer = reopened.answer(&request("a DNS query"), 2, "paper").await.unwrap();
        assert_eq!((answer.text.as_str(), answer.attempts), ("IP()/UDP()/DNS()", 0));
        let miss = reopened.answer(&request("a DNS query"), 3, "paper").await.unwrap_err().to_string();
        assert!(miss.contains("sample 2 → 3"), "{miss}");
    }
}
