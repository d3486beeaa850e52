//! Recording through the providers' batch APIs (`harness matrix --record
//! --batch`): asynchronous, about half the price of synchronous calls,
//! hours of turnaround.
//!
//! The run hands [`record`] every request its cassettes lack
//! ([`Pending`]: the exact body synchronous recording would send and its
//! cassette key). Per model, the requests go out as one batch whose
//! `custom_id`s are the cassette keys:
//!
//! - OpenAI-compatible: the JSON Lines input
//!   (`{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body"}`)
//!   is uploaded with `POST {base}/files` (`purpose=batch`), then
//!   `POST {base}/batches`; `GET {base}/batches/{id}` polls it, and once it
//!   is `completed`, `expired`, `cancelled` or `failed` the answers come
//!   from `GET {base}/files/{output_file_id}/content` (and the per-request
//!   errors from its `error_file_id`).
//! - Anthropic: `POST {base}/v1/messages/batches` with
//!   `{"requests": [{"custom_id", "params"}]}`;
//!   `GET {base}/v1/messages/batches/{id}` polls it until its
//!   `processing_status` is `ended`, then its `results_url` (which must be
//!   on the same origin as the base URL: the key is sent there) gives one
//!   result per line (`succeeded`, `errored`, `canceled`, `expired`).
//!
//! Each batch is written to the run folder's [`STATE_FILE`] as soon as it
//! is submitted — and, before that, as an intent without an id, so a run
//! killed during the submission says so instead of submitting again. Later
//! runs (`--resume`) poll what is recorded there and never submit a request
//! a recorded batch holds. When a batch ends, each answer is appended to
//! its model's cassette as synchronous recording appends it (same key,
//! same record: text with every secret cut out, usage, finish reason;
//! latency 0, a batch has none per request). Errors are never recorded:
//! they stay in the state file and become the run's failed requests. A
//! batch that expired keeps what it answered and is reported so.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::cassette::{now_rfc3339, Cassette, CassetteError, KeyParts, Record};
use super::provider::{Provider, ProviderError};
use super::registry::{ModelEntry, ProviderKind};

/// The file of the run folder that records the submitted batches.
pub const STATE_FILE: &str = "batches.json";

/// One request a cassette lacks, as a batch sends it.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The model it goes to (a routed expert's own entry).
    pub entry: ModelEntry,
    /// Its cassette key parts; `parts.body` is the exact request body.
    pub parts: KeyParts,
    /// `parts.key()`: the batch's `custom_id`.
    pub key: String,
    /// The cassette its answer goes to.
    pub cassette: PathBuf,
}

/// One submitted batch, as [`STATE_FILE`] keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submitted {
    /// The model id of the registry.
    pub model: String,
    /// `openai` or `anthropic`.
    pub provider: String,
    /// The provider's base URL.
    pub base_url: String,
    /// The batch id; empty while the submission is in flight (a run killed
    /// then leaves it empty).
    pub id: String,
    /// The uploaded input file (OpenAI-compatible).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_file: Option<String>,
    /// The cassette keys (`custom_id`s) of its requests.
    pub keys: Vec<String>,
    /// When it was submitted, RFC 3339 UTC.
    pub submitted_at: String,
    /// The provider's status when last polled.
    pub status: String,
    /// Whether it ended and its results were collected.
    pub done: bool,
    /// Answers written to the cassette.
    pub answered: usize,
    /// Requests it did not answer (errors, expired, canceled): key → why.
    #[serde(default)]
    pub failures: BTreeMap<String, String>,
}

/// Every batch of a run folder.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// The batches, in submission order.
    pub batches: Vec<Submitted>,
}

impl State {
    /// Read the state file (none: no batch yet).
    ///
    /// # Errors
    /// [`BatchError::Io`] or [`BatchError::State`] for an unreadable file.
    pub fn load(path: &Path) -> Result<State, BatchError> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| BatchError::State { path: path.to_path_buf(), message: e.to_string() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(source) => Err(BatchError::Io { path: path.to_path_buf(), source }),
        }
    }

    /// Write the state file through a temporary file and a rename, so a
    /// killed run leaves the old state or the new one, never half of one.
    ///
    /// # Errors
    /// [`BatchError::Io`].
    pub fn save(&self, path: &Path) -> Result<(), BatchError> {
        let io = |source| BatchError::Io { path: path.to_path_buf(), source };
        let text = serde_json::to_string_pretty(self).map_err(|e| io(std::io::Error::other(e)))? + "\n";
        let fresh = path.with_extension("json.tmp");
        {
            use std::io::Write as _;
            let mut file = std::fs::File::create(&fresh).map_err(io)?;
            file.write_all(text.as_bytes()).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        std::fs::rename(&fresh, path).map_err(io)
    }
}

/// Why batch recording stopped.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// The state file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The state file is not one.
    #[error("{path}: not a batch state file ({message}); fix it, or start over with --force (batches in flight are not cancelled)")]
    State {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// The model's provider has no batch API the harness speaks.
    #[error("model '{model}' is of kind '{kind}', which has no batch API here (OpenAI-compatible and Anthropic have one): record it without --batch")]
    Unsupported {
        /// The model id.
        model: String,
        /// Its kind.
        kind: ProviderKind,
    },
    /// A run was killed while it submitted a batch: it may exist.
    #[error("a run was stopped while it submitted a batch of {count} requests for model '{model}', which the provider may or may not have received; look for it in the provider's batch list (OpenAI: GET /v1/batches, Anthropic: GET /v1/messages/batches), then remove its entry (the one with an empty id) from {path} to submit those requests again, or start over with --force")]
    Interrupted {
        /// The model id.
        model: String,
        /// Its requests.
        count: usize,
        /// The state file.
        path: PathBuf,
    },
    /// A call to the batch API failed.
    #[error("model '{model}': batch API: {source}")]
    Provider {
        /// The model id.
        model: String,
        /// The failure.
        source: ProviderError,
    },
    /// The batch API answered something the harness cannot use.
    #[error("model '{model}': batch API: {what}")]
    Protocol {
        /// The model id.
        model: String,
        /// What was wrong.
        what: String,
    },
    /// An answer could not be written to its cassette.
    #[error(transparent)]
    Cassette(#[from] CassetteError),
    /// No async runtime.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

/// Where batch recording stands after one pass.
#[derive(Debug, Default)]
pub struct Outcome {
    /// One line per batch still running whose answers the run needs.
    pub running: Vec<String>,
    /// Requests the ended batches did not answer: cassette key → why.
    pub failures: HashMap<String, String>,
}

/// Submit the requests of `pending` that no batch of `state_path` holds
/// (one batch per model), poll every batch not yet ended, and write the
/// answers of those that ended into the cassettes; `log` receives one line
/// per step (submitted, status, collected).
///
/// # Errors
/// See [`BatchError`]; what was submitted before the error stays in the
/// state file.
pub fn record(state_path: &Path, pending: &[Pending], log: &mut dyn FnMut(String)) -> Result<Outcome, BatchError> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(BatchError::Runtime)?;
    runtime.block_on(record_async(state_path, pending, log))
}

/// The providers of the models, built once each.
struct Providers<'p> {
    entries: HashMap<&'p str, &'p ModelEntry>,
    built: HashMap<String, Provider>,
}

impl Providers<'_> {
    fn get(&mut self, model: &str) -> Result<Option<&Provider>, BatchError> {
        if !self.built.contains_key(model) {
            let Some(entry) = self.entries.get(model) else { return Ok(None) };
            if !matches!(entry.kind, ProviderKind::OpenAi | ProviderKind::Anthropic) {
                return Err(BatchError::Unsupported { model: model.to_string(), kind: entry.kind });
            }
            let provider =
                Provider::new(entry).map_err(|source| BatchError::Provider { model: model.to_string(), source })?;
            self.built.insert(model.to_string(), provider);
        }
        Ok(self.built.get(model))
    }
}

async fn record_async(
    state_path: &Path,
    pending: &[Pending],
    log: &mut dyn FnMut(String),
) -> Result<Outcome, BatchError> {
    let mut state = State::load(state_path)?;
    if let Some(b) = state.batches.iter().find(|b| b.id.is_empty()) {
        return Err(BatchError::Interrupted {
            model: b.model.clone(),
            count: b.keys.len(),
            path: state_path.to_path_buf(),
        });
    }
    let mut wanted: HashMap<&str, &Pending> = HashMap::new();
    let mut order: Vec<&Pending> = Vec::new();
    for p in pending {
        if wanted.insert(p.key.as_str(), p).is_none() {
            order.push(p);
        }
    }
    let mut providers =
        Providers { entries: pending.iter().map(|p| (p.entry.id.as_str(), &p.entry)).collect(), built: HashMap::new() };
    let mut cassettes: HashMap<PathBuf, Cassette> = HashMap::new();
    // Poll what earlier runs submitted.
    for index in 0..state.batches.len() {
        if state.batches[index].done {
            continue;
        }
        let model = state.batches[index].model.clone();
        if !state.batches[index].keys.iter().any(|k| wanted.contains_key(k.as_str())) {
            log(format!(
                "batch {} of model {model}: every answer it holds is recorded already; not polled",
                state.batches[index].id
            ));
            continue;
        }
        let Some(provider) = providers.get(&model)? else { continue };
        poll(provider, &mut state.batches[index], &wanted, &mut cassettes, log).await?;
        state.save(state_path)?;
    }
    // Submit what no batch holds, one batch per model.
    let covered: HashSet<&str> = state.batches.iter().flat_map(|b| b.keys.iter().map(String::as_str)).collect();
    let mut groups: Vec<(String, Vec<&Pending>)> = Vec::new();
    for p in order.into_iter().filter(|p| !covered.contains(p.key.as_str())) {
        match groups.iter_mut().find(|(m, _)| *m == p.entry.id) {
            Some((_, group)) => group.push(p),
            None => groups.push((p.entry.id.clone(), vec![p])),
        }
    }
    for (model, group) in groups {
        let Some(provider) = providers.get(&model)? else { continue };
        let mut batch = Submitted {
            model: model.clone(),
            provider: provider.kind().as_str().to_string(),
            base_url: provider.base_url().to_string(),
            id: String::new(),
            input_file: None,
            keys: group.iter().map(|p| p.key.clone()).collect(),
            submitted_at: now_rfc3339(),
            status: "submitting".into(),
            done: false,
            answered: 0,
            failures: BTreeMap::new(),
        };
        // The intent first: a run killed during the submission leaves an
        // entry without an id, and the next run stops at it.
        state.batches.push(batch.clone());
        state.save(state_path)?;
        submit(provider, &mut batch, &group).await?;
        log(format!("batch {} of model {model}: submitted {} requests", batch.id, batch.keys.len()));
        *state.batches.last_mut().expect("pushed above") = batch;
        state.save(state_path)?;
        let index = state.batches.len() - 1;
        poll(provider, &mut state.batches[index], &wanted, &mut cassettes, log).await?;
        state.save(state_path)?;
    }
    let mut outcome = Outcome::default();
    for b in &state.batches {
        if b.done {
            outcome.failures.extend(b.failures.iter().map(|(k, v)| (k.clone(), v.clone())));
        } else if b.keys.iter().any(|k| wanted.contains_key(k.as_str())) {
            outcome.running.push(format!(
                "batch {} of model {} ({} requests, submitted {}): {}",
                b.id,
                b.model,
                b.keys.len(),
                b.submitted_at,
                b.status
            ));
        }
    }
    Ok(outcome)
}

fn provider_error(model: &str) -> impl Fn(ProviderError) -> BatchError + '_ {
    move |source| BatchError::Provider { model: model.to_string(), source }
}

fn protocol(model: &str, what: impl Into<String>) -> BatchError {
    BatchError::Protocol { model: model.to_string(), what: what.into() }
}

/// Read a JSON answer of the batch API.
fn json_of(model: &str, bytes: &[u8], what: &str) -> Result<Value, BatchError> {
    serde_json::from_slice(bytes).map_err(|e| protocol(model, format!("{what}: the answer is not JSON ({e})")))
}

/// The path of the chat-completions endpoint on an OpenAI-compatible base
/// URL (`https://api.openai.com/v1` → `/v1/chat/completions`), as batch
/// lines and `POST /batches` name it.
fn openai_endpoint_path(base_url: &str) -> String {
    let path = reqwest::Url::parse(base_url).map(|u| u.path().to_string()).unwrap_or_default();
    format!("{}/chat/completions", path.trim_end_matches('/'))
}

/// The JSON Lines input of an OpenAI-compatible batch.
fn openai_input(base_url: &str, group: &[&Pending]) -> String {
    let url = openai_endpoint_path(base_url);
    let mut text = String::new();
    for p in group {
        let line = json!({"custom_id": p.key, "method": "POST", "url": url, "body": p.parts.body});
        text.push_str(&line.to_string());
        text.push('\n');
    }
    text
}

/// A `multipart/form-data` body with `purpose=batch` and `file` (the
/// JSON Lines input); returns the content type and the bytes. The boundary
/// is the SHA-256 of the input, which the input cannot contain.
fn multipart(input: &str) -> (String, Vec<u8>) {
    let digest = Sha256::digest(input.as_bytes());
    let boundary = digest.iter().fold(String::from("harness-batch-"), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    });
    let mut body = String::new();
    let _ = write!(body, "--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n");
    let _ = write!(
        body,
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"batch.jsonl\"\r\nContent-Type: application/jsonl\r\n\r\n"
    );
    body.push_str(input);
    let _ = write!(body, "\r\n--{boundary}--\r\n");
    (format!("multipart/form-data; boundary={boundary}"), body.into_bytes())
}

/// Submit `group` as one batch; sets the batch's id (and input file).
async fn submit(provider: &Provider, batch: &mut Submitted, group: &[&Pending]) -> Result<(), BatchError> {
    let model = batch.model.clone();
    let base = provider.base_url().to_string();
    let post = reqwest::Method::POST;
    let answer = match provider.kind() {
        ProviderKind::Anthropic => {
            let requests: Vec<Value> =
                group.iter().map(|p| json!({"custom_id": p.key, "params": p.parts.body})).collect();
            let body = json!({"requests": requests}).to_string().into_bytes();
            provider
                .send_raw(post, &format!("{base}/v1/messages/batches"), Some(("application/json", body)), false)
                .await
                .map_err(provider_error(&model))?
        }
        _ => {
            let (content_type, body) = multipart(&openai_input(&base, group));
            let file = provider
                .send_raw(post.clone(), &format!("{base}/files"), Some((&content_type, body)), true)
                .await
                .map_err(provider_error(&model))?;
            let file = json_of(&model, &file, "POST /files")?;
            let file_id =
                file["id"].as_str().ok_or_else(|| protocol(&model, "POST /files: no id in the answer"))?.to_string();
            batch.input_file = Some(file_id.clone());
            let create =
                json!({"input_file_id": file_id, "endpoint": openai_endpoint_path(&base), "completion_window": "24h"});
            provider
                .send_raw(
                    post,
                    &format!("{base}/batches"),
                    Some(("application/json", create.to_string().into_bytes())),
                    false,
                )
                .await
                .map_err(provider_error(&model))?
        }
    };
    let answer = json_of(&model, &answer, "creating the batch")?;
    batch.id = answer["id"]
        .as_str()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| protocol(&model, "creating the batch: no id in the answer"))?
        .to_string();
    batch.status =
        answer["status"].as_str().or_else(|| answer["processing_status"].as_str()).unwrap_or("submitted").to_string();
    Ok(())
}

/// Poll `batch` once; when it has ended, collect its results into the
/// cassettes.
async fn poll(
    provider: &Provider,
    batch: &mut Submitted,
    wanted: &HashMap<&str, &Pending>,
    cassettes: &mut HashMap<PathBuf, Cassette>,
    log: &mut dyn FnMut(String),
) -> Result<(), BatchError> {
    let model = batch.model.clone();
    let base = provider.base_url().to_string();
    let get = |url: String| async move { provider.send_raw(reqwest::Method::GET, &url, None, true).await };
    let mut lines = Vec::new();
    let mut batch_failure = None;
    match provider.kind() {
        ProviderKind::Anthropic => {
            let status = json_of(
                &model,
                &get(format!("{base}/v1/messages/batches/{}", batch.id)).await.map_err(provider_error(&model))?,
                "polling",
            )?;
            batch.status = status["processing_status"].as_str().unwrap_or("unknown").to_string();
            if batch.status != "ended" {
                let counts = &status["request_counts"];
                let done: u64 =
                    ["succeeded", "errored", "canceled", "expired"].iter().filter_map(|k| counts[k].as_u64()).sum();
                log(progress(batch, done));
                return Ok(());
            }
            let url = status["results_url"]
                .as_str()
                .ok_or_else(|| protocol(&model, "the batch ended without a results_url"))?;
            if !same_origin(url, &base) {
                return Err(protocol(
                    &model,
                    format!("results_url {url} is not on {base}: the key is not sent elsewhere"),
                ));
            }
            let text = get(url.to_string()).await.map_err(provider_error(&model))?;
            lines.push(String::from_utf8_lossy(&text).into_owned());
        }
        _ => {
            let status = json_of(
                &model,
                &get(format!("{base}/batches/{}", batch.id)).await.map_err(provider_error(&model))?,
                "polling",
            )?;
            batch.status = status["status"].as_str().unwrap_or("unknown").to_string();
            if !matches!(batch.status.as_str(), "completed" | "expired" | "cancelled" | "failed") {
                let counts = &status["request_counts"];
                let done = counts["completed"].as_u64().unwrap_or(0) + counts["failed"].as_u64().unwrap_or(0);
                log(progress(batch, done));
                return Ok(());
            }
            for field in ["output_file_id", "error_file_id"] {
                if let Some(file) = status[field].as_str().filter(|f| !f.is_empty()) {
                    let text = get(format!("{base}/files/{file}/content")).await.map_err(provider_error(&model))?;
                    lines.push(String::from_utf8_lossy(&text).into_owned());
                }
            }
            if batch.status == "failed" {
                let errors: Vec<&str> = status
                    .pointer("/errors/data")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e["message"].as_str())
                    .collect();
                batch_failure = Some(provider.redact(&format!(
                    "the batch failed: {}",
                    if errors.is_empty() { "no reason given".to_string() } else { errors.join("; ") }
                )));
            }
        }
    }
    let results = parse_results(provider, &lines.concat());
    let mut expired = 0usize;
    for key in batch.keys.clone() {
        let result = results.get(&key).cloned().unwrap_or_else(|| {
            Err(batch_failure
                .clone()
                .unwrap_or_else(|| format!("the batch ({}) has no result for this request", batch.status)))
        });
        let answer = match result {
            Ok(answer) => answer,
            Err(why) => {
                if why.contains("expired") {
                    expired += 1;
                }
                batch.failures.insert(key, why);
                continue;
            }
        };
        let Some(p) = wanted.get(key.as_str()) else { continue };
        let cassette = match cassettes.entry(p.cassette.clone()) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(Cassette::open(&p.cassette)?),
        };
        cassette.append(Record {
            key: key.clone(),
            parts: p.parts.clone(),
            text: answer.text,
            usage: answer.usage,
            latency_ms: answer.latency_ms,
            finish_reason: answer.finish_reason,
            recorded_at: now_rfc3339(),
        })?;
        batch.answered += 1;
    }
    batch.done = true;
    let failed = batch.failures.len();
    let mut line = format!(
        "batch {} of model {model}: {}, {} of {} requests answered and recorded",
        batch.id,
        batch.status,
        batch.answered,
        batch.keys.len()
    );
    if batch.status == "expired" || expired > 0 {
        let _ = write!(line, "; it expired before answering {expired}");
    }
    if failed > 0 {
        let _ = write!(line, "; {failed} not answered are failed requests of this run (never recorded)");
    }
    log(line);
    Ok(())
}

/// The log line of a batch still running with `done` requests ended.
fn progress(batch: &Submitted, done: u64) -> String {
    format!(
        "batch {} of model {}: {}, {done} of {} requests ended",
        batch.id,
        batch.model,
        batch.status,
        batch.keys.len()
    )
}

/// Whether `url` is on the scheme, host and port of `base`.
fn same_origin(url: &str, base: &str) -> bool {
    match (reqwest::Url::parse(url), reqwest::Url::parse(base)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

/// Read a batch's result lines (OpenAI-compatible output and error files,
/// or Anthropic results): `custom_id` → the answer, or why there is none.
fn parse_results(provider: &Provider, text: &str) -> HashMap<String, Result<super::provider::Completion, String>> {
    let mut out = HashMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(value) = serde_json::from_str::<Value>(line) else { continue };
        let Some(key) = value["custom_id"].as_str() else { continue };
        let result = match provider.kind() {
            ProviderKind::Anthropic => match value.pointer("/result/type").and_then(Value::as_str) {
                Some("succeeded") => provider.decode(&value["result"]["message"], 0).map_err(|e| e.to_string()),
                Some("errored") => {
                    let error = &value["result"]["error"];
                    let message = error
                        .pointer("/error/message")
                        .or_else(|| error.get("message"))
                        .and_then(Value::as_str)
                        .unwrap_or("no message");
                    Err(provider.redact(&format!("the batch answered with an error: {message}")))
                }
                Some(other) => Err(format!("the batch {other} this request before answering it")),
                None => Err("a batch result without a type".into()),
            },
            _ => {
                let status = value.pointer("/response/status_code").and_then(Value::as_u64);
                match (status, value.get("error").filter(|e| !e.is_null())) {
                    (Some(200), None) => provider.decode(&value["response"]["body"], 0).map_err(|e| e.to_string()),
                    (status, error) => {
                        let error = error.or_else(|| value.pointer("/response/body/error"));
                        let code = error.and_then(|e| e["code"].as_str()).unwrap_or("error");
                        let message = error.and_then(|e| e["message"].as_str()).unwrap_or("no message");
                        let status = status.map_or_else(String::new, |s| format!("HTTP {s}, "));
                        let why = if code == "batch_expired" {
                            "the batch expired before answering this request".to_string()
                        } else {
                            format!("the batch answered with an error: {status}{code}: {message}")
                        };
                        Err(provider.redact(&why))
                    }
                }
            }
        };
        // The first result of a custom_id wins, as the first record does in a cassette.
        out.entry(key.to_string()).or_insert(result);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::registry::Registry;

    fn entry(kind: &str, base: &str) -> ModelEntry {
        Registry::parse(&format!("[[model]]\nid = \"m\"\nkind = \"{kind}\"\nmodel = \"m-1\"\nbase_url = \"{base}\"\n"))
            .unwrap()
            .models
            .remove(0)
    }

    fn pending(body: Value) -> Pending {
        let parts = KeyParts {
            provider: "openai".into(),
            base_url: "http://127.0.0.1:1/v1".into(),
            model: "m-1".into(),
            body,
            sample: 0,
            prompt_version: "v1".into(),
        };
        Pending {
            entry: entry("openai", "http://127.0.0.1:1/v1"),
            key: parts.key(),
            parts,
            cassette: PathBuf::from("m.jsonl"),
        }
    }

    #[test]
    fn openai_input_lines_name_the_chat_endpoint_and_the_cassette_key() {
        assert_eq!(openai_endpoint_path("https://api.openai.com/v1"), "/v1/chat/completions");
        assert_eq!(openai_endpoint_path("http://127.0.0.1:8080/v1/"), "/v1/chat/completions");
        let p = pending(json!({"model": "m-1", "messages": []}));
        let input = openai_input("http://127.0.0.1:1/v1", &[&p]);
        let line: Value = serde_json::from_str(input.trim_end()).unwrap();
        assert_eq!(
            line,
            json!({"custom_id": p.key, "method": "POST", "url": "/v1/chat/completions", "body": {"model": "m-1", "messages": []}})
        );
        let (content_type, body) = multipart(&input);
        let boundary = content_type.strip_prefix("multipart/form-data; boundary=").unwrap();
        let body = String::from_utf8(body).unwrap();
        assert!(body.starts_with(&format!("--{boundary}\r\n")) && body.ends_with(&format!("--{boundary}--\r\n")));
        assert!(body.contains("name=\"purpose\"\r\n\r\nbatch\r\n") && body.contains(&input));
    }

    #[test]
    fn results_keep_answers_and_name_each_error() {
        let provider = Provider::new(&entry("openai", "http://127.0.0.1:1/v1")).unwrap();
        let lines = [
            json!({"custom_id": "a", "response": {"status_code": 200, "body": {"choices": [{"message": {"content": "IP()"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 5, "completion_tokens": 2}}}, "error": null}),
            json!({"custom_id": "b", "response": {"status_code": 400, "body": {"error": {"code": "invalid_request", "message": "bad max_tokens"}}}, "error": null}),
            json!({"custom_id": "c", "response": null, "error": {"code": "batch_expired", "message": "This request could not be executed before the completion window expired."}}),
        ];
        let text: String = lines.iter().map(|l| l.to_string() + "\n").collect();
        let results = parse_results(&provider, &text);
        let a = results["a"].as_ref().unwrap();
        assert_eq!((a.text.as_str(), a.usage.prompt_tokens, a.finish_reason.as_deref()), ("IP()", 5, Some("stop")));
        assert_eq!(
            results["b"].as_ref().unwrap_err(),
            "the batch answered with an error: HTTP 400, invalid_request: bad max_tokens"
        );
        assert!(results["c"].as_ref().unwrap_err().contains("expired"));
        let provider = Provider::new(&entry("anthropic", "http://127.0.0.1:1")).unwrap();
        let lines = [
            json!({"custom_id": "a", "result": {"type": "succeeded", "message": {"content": [{"type": "text", "text": "Ether()"}], "stop_reason": "end_turn", "usage": {"input_tokens": 3, "output_tokens": 1}}}}),
            json!({"custom_id": "b", "result": {"type": "errored", "error": {"type": "error", "error": {"type": "invalid_request_error", "message": "too long"}}}}),
            json!({"custom_id": "c", "result": {"type": "expired"}}),
        ];
        let text: String = lines.iter().map(|l| l.to_string() + "\n").collect();
        let results = parse_results(&provider, &text);
        assert_eq!(results["a"].as_ref().unwrap().text, "Ether()");
        assert_eq!(results["b"].as_ref().unwrap_err(), "the batch answered with an error: too long");
        assert_eq!(results["c"].as_ref().unwrap_err(), "the batch expired this request before answering it");
    }

    #[test]
    fn results_urls_must_stay_on_the_provider() {
        assert!(same_origin("https://api.anthropic.com/v1/messages/batches/x/results", "https://api.anthropic.com"));
        assert!(!same_origin("https://evil.example/results", "https://api.anthropic.com"));
        assert!(!same_origin("http://api.anthropic.com/r", "https://api.anthropic.com"));
    }

    #[test]
    fn an_interrupted_submission_stops_the_next_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STATE_FILE);
        let batch = Submitted {
            model: "m".into(),
            provider: "openai".into(),
            base_url: "b".into(),
            id: String::new(),
            input_file: None,
            keys: vec!["k".into()],
            submitted_at: now_rfc3339(),
            status: "submitting".into(),
            done: false,
            answered: 0,
            failures: BTreeMap::new(),
        };
        State { batches: vec![batch] }.save(&path).unwrap();
        assert_eq!(State::load(&path).unwrap().batches.len(), 1);
        let error = record(&path, &[], &mut |_| {}).unwrap_err().to_string();
        assert!(error.contains("may or may not have received") && error.contains("model 'm'"), "{error}");
        std::fs::write(&path, "{").unwrap();
        assert!(matches!(State::load(&path), Err(BatchError::State { .. })));
    }
}
