//! Live model APIs over HTTP: OpenAI-compatible chat completions,
//! Anthropic Messages and Gemini `generateContent`.
//!
//! A [`Provider`] is built from a [`ModelEntry`]. It holds one HTTP client,
//! a semaphore of `concurrency` permits, the per-request timeout and the
//! retry policy: 429, 408, 5xx (and Anthropic's 529), timeouts and
//! connection errors are retried with exponential backoff and full jitter,
//! honouring `Retry-After` (seconds or an HTTP date) and `retry-after-ms`,
//! each wait capped. Other failures (401, 400, an undecodable body) are
//! returned at once.
//!
//! API keys come only from the environment variable named by `key_env`.
//! They are sent only in headers (never in a URL, which gets logged), are
//! marked sensitive for the HTTP stack, and never appear in [`Debug`]
//! output. Every key the process has loaded (see [`register_secret`]) is
//! cut out of whatever a server sends back — error bodies, transport
//! errors and answer texts —, whichever provider it reaches: a server may
//! quote the key it expected as well as the one it got.
//!
//! TLS is rustls with ring and the bundled Mozilla roots
//! (`reqwest = { default-features = false, features = ["json", "rustls-tls"] }`):
//! pure Rust apart from ring's own assembly, no OpenSSL headers or C library
//! to build or link against, and the same trust roots on every machine, so
//! builds and runs are reproducible.

mod anthropic;
mod gemini;
mod openai;
pub mod retry;

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use super::registry::{ModelEntry, ProviderKind, Sampling};
use super::Usage;
use retry::Backoff;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions (sent as Anthropic's `system` and Gemini's
    /// `systemInstruction`).
    System,
    /// The user.
    User,
    /// The model (a few-shot answer).
    Assistant,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who wrote it.
    pub role: Role,
    /// The text.
    pub content: String,
}

/// What to ask a model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The conversation, in order.
    pub messages: Vec<ChatMessage>,
    /// Sampling for this request; unset values come from the model entry.
    pub sampling: Sampling,
}

/// A model's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    /// The answer text.
    pub text: String,
    /// Tokens used (0 where the provider reports none).
    pub usage: Usage,
    /// Milliseconds of the successful attempt, from sending the request to
    /// the decoded body.
    pub latency_ms: u64,
    /// The provider's stop reason (`stop`, `end_turn`, `STOP`, `length`, …).
    pub finish_reason: Option<String>,
    /// HTTP attempts made (1 = no retry); 0 when replayed from a cassette.
    pub attempts: u32,
}

/// Why a provider call failed. The message never contains the API key.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The server answered with a non-success status.
    #[error("HTTP {status}: {body}")]
    Http {
        /// The status code.
        status: u16,
        /// The start of the response body (the key cut out).
        body: String,
    },
    /// No complete answer within the timeout.
    #[error("no answer within {seconds} s (timeout_s)")]
    Timeout {
        /// The timeout.
        seconds: f64,
    },
    /// The connection failed or broke (refused, reset, closed early).
    #[error("connection failed: {message}")]
    Connect {
        /// What the HTTP stack said.
        message: String,
    },
    /// The answer could not be decoded.
    #[error("cannot decode the answer: {what}")]
    Decode {
        /// What was wrong (not JSON, a missing field, …).
        what: String,
    },
    /// Every attempt failed with a retryable error.
    #[error("gave up after {attempts} attempts; last error: {last}")]
    RetriesExhausted {
        /// Attempts made.
        attempts: u32,
        /// The last error.
        last: Box<ProviderError>,
    },
    /// The key's environment variable is not set and the endpoint is not local.
    #[error("the API key is missing: set the environment variable {env}")]
    MissingKey {
        /// The variable named by `key_env`.
        env: String,
    },
    /// The entry cannot be called over HTTP (wrong kind, bad URL, client setup).
    #[error("cannot call this model: {message}")]
    Config {
        /// What is wrong.
        message: String,
    },
}

impl ProviderError {
    /// Return whether another attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            ProviderError::Http { status, .. } => retry::retryable_status(*status),
            ProviderError::Timeout { .. } | ProviderError::Connect { .. } => true,
            _ => false,
        }
    }
}

/// An API key. It has no `Display`, its `Debug` prints `***`.
#[derive(Clone)]
struct ApiKey(String);

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

/// The most characters of an error body kept in [`ProviderError::Http`].
const BODY_EXCERPT_CHARS: usize = 500;

/// Keys shorter than this are placeholders that local servers accept
/// (`EMPTY`, `ollama`, `lm-studio`), not secrets: [`register_secret`]
/// ignores them, so they are not cut out of answers.
pub const MIN_SECRET_CHARS: usize = 10;

/// Every secret registered in this process, longest first.
static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Register `key` as a secret: from now on every provider of this process
/// cuts it out of what servers send back. [`Provider::new`] registers its
/// own key; `harness matrix` registers the keys of every registry model
/// whose variable is set, so a model never echoes another model's key.
/// Values shorter than [`MIN_SECRET_CHARS`] are ignored.
pub fn register_secret(key: &str) {
    if key.chars().count() < MIN_SECRET_CHARS {
        return;
    }
    let mut secrets = SECRETS.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    if !secrets.iter().any(|k| k == key) {
        secrets.push(key.to_string());
        secrets.sort_by_key(|k| std::cmp::Reverse(k.len()));
    }
}

/// Cut every registered secret out of `text`.
fn redact_secrets(text: &str) -> String {
    let secrets = SECRETS.read().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut out = text.to_string();
    for key in secrets.iter() {
        if out.contains(key.as_str()) {
            out = out.replace(key.as_str(), "[REDACTED]");
        }
    }
    out
}

/// A live model API: client, limits, key and request format.
pub struct Provider {
    kind: ProviderKind,
    id: String,
    base_url: String,
    model: String,
    key: Option<ApiKey>,
    sampling: Sampling,
    client: reqwest::Client,
    permits: Arc<Semaphore>,
    timeout: Duration,
    max_retries: u32,
    backoff: Backoff,
    bearer: bool,
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("kind", &self.kind)
            .field("id", &self.id)
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("key", &self.key.as_ref().map(|_| "***"))
            .field("sampling", &self.sampling)
            .field("concurrency", &self.permits.available_permits())
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// Build the provider of a network model entry, reading its key from
    /// the environment.
    ///
    /// # Errors
    /// [`ProviderError::MissingKey`] when `key_env` is set but empty or
    /// unset and the endpoint is not on loopback; [`ProviderError::Config`]
    /// for a kind that calls no API or a client that cannot be built.
    pub fn new(entry: &ModelEntry) -> Result<Provider, ProviderError> {
        if !entry.kind.is_network() {
            return Err(ProviderError::Config {
                message: format!("model '{}' is of kind '{}', which calls no API", entry.id, entry.kind),
            });
        }
        let key = match &entry.key_env {
            Some(env) => match std::env::var(env) {
                Ok(value) if !value.is_empty() => {
                    register_secret(&value);
                    Some(ApiKey(value))
                }
                _ if entry.is_loopback() => None,
                _ => return Err(ProviderError::MissingKey { env: env.clone() }),
            },
            None => None,
        };
        let timeout = Duration::from_secs_f64(entry.timeout_s);
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("harness/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| ProviderError::Config { message: format!("cannot build the HTTP client: {error}") })?;
        Ok(Provider {
            kind: entry.kind,
            id: entry.id.clone(),
            base_url: entry.base_url().unwrap_or_default().to_string(),
            model: entry.model.clone().unwrap_or_default(),
            key,
            sampling: entry.sampling.clone(),
            client,
            permits: Arc::new(Semaphore::new(entry.concurrency.max(1))),
            timeout,
            max_retries: entry.max_retries,
            backoff: Backoff::default(),
            bearer: entry.auth == crate::model::registry::Auth::Bearer,
        })
    }

    /// Replace the backoff policy (tests use short delays).
    pub fn with_backoff(mut self, backoff: Backoff) -> Provider {
        self.backoff = backoff;
        self
    }

    /// Return the provider kind.
    pub fn kind(&self) -> ProviderKind {
        self.kind
    }

    /// Return the endpoint (no trailing `/`).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Return the provider's model name.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Return the URL requests are posted to (it never holds the key).
    pub fn endpoint(&self) -> String {
        match self.kind {
            ProviderKind::Anthropic => anthropic::endpoint(&self.base_url),
            ProviderKind::Gemini => gemini::endpoint(&self.base_url, &self.model),
            _ => openai::endpoint(&self.base_url),
        }
    }

    /// The exact JSON body this provider sends for `req` (used for the
    /// cassette key). The request's sampling overrides the entry's.
    pub fn request_body(&self, req: &ChatRequest) -> serde_json::Value {
        let sampling = req.sampling.or(&self.sampling);
        match self.kind {
            ProviderKind::Anthropic => anthropic::body(&self.model, &req.messages, &sampling),
            ProviderKind::Gemini => gemini::body(&req.messages, &sampling),
            _ => openai::body(&self.model, &req.messages, &sampling),
        }
    }

    /// Ask the model, retrying transient failures.
    ///
    /// # Errors
    /// A non-retryable [`ProviderError`] at once, or
    /// [`ProviderError::RetriesExhausted`] holding the last retryable one.
    pub async fn complete(&self, req: &ChatRequest) -> Result<Completion, ProviderError> {
        let body = self.request_body(req);
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let (result, retry_after) = self.attempt(&body).await;
            let error = match result {
                Ok(mut completion) => {
                    completion.attempts = attempt;
                    return Ok(completion);
                }
                Err(error) => error,
            };
            if !error.is_retryable() {
                return Err(error);
            }
            if attempt > self.max_retries {
                return Err(ProviderError::RetriesExhausted { attempts: attempt, last: Box::new(error) });
            }
            tokio::time::sleep(self.backoff.delay(attempt, retry_after)).await;
        }
    }

    /// One HTTP attempt; also returns the server's `Retry-After`, if any.
    async fn attempt(&self, body: &serde_json::Value) -> (Result<Completion, ProviderError>, Option<Duration>) {
        let Ok(_permit) = self.permits.acquire().await else {
            return (Err(ProviderError::Config { message: "the provider was shut down".into() }), None);
        };
        let mut request = self.client.post(self.endpoint()).json(body);
        for (name, value) in self.headers() {
            request = request.header(name, value);
        }
        let started = Instant::now();
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => return (Err(self.transport_error(error)), None),
        };
        let status = response.status();
        let retry_after = retry::retry_after(response.headers(), std::time::SystemTime::now());
        let bytes = match response.bytes().await {
            Ok(bytes) => bytes,
            Err(error) => return (Err(self.transport_error(error)), retry_after),
        };
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        if !status.is_success() {
            let body = self.redact(&excerpt(&bytes));
            return (Err(ProviderError::Http { status: status.as_u16(), body }), retry_after);
        }
        let json: serde_json::Value = match serde_json::from_slice(&bytes) {
            Ok(json) => json,
            Err(error) => {
                let what =
                    format!("the body is not JSON ({error}); it starts with {:?}", self.redact(&excerpt(&bytes)));
                return (Err(ProviderError::Decode { what }), None);
            }
        };
        (self.decode(&json, latency_ms), None)
    }

    /// Read the answer out of a decoded response body of this provider's
    /// chat endpoint (a batch result holds the same body), every secret cut
    /// out of its text; `attempts` is 0.
    ///
    /// # Errors
    /// [`ProviderError::Decode`] naming what the body lacks.
    pub(crate) fn decode(&self, json: &serde_json::Value, latency_ms: u64) -> Result<Completion, ProviderError> {
        let parsed = match self.kind {
            ProviderKind::Anthropic => anthropic::parse(json),
            ProviderKind::Gemini => gemini::parse(json),
            _ => openai::parse(json),
        };
        let result = parsed.map(|(text, usage, finish_reason)| Completion {
            // A key in an answer would be recorded in the cassette and the
            // journal: cut it out there too.
            text: redact_secrets(&text),
            usage,
            latency_ms,
            finish_reason,
            attempts: 0,
        });
        result.map_err(|what| ProviderError::Decode { what: self.redact(&what) })
    }

    /// Send one request of a batch API: `method` to `url` (on this
    /// provider's endpoint, never carrying the key) with this provider's
    /// auth headers and `body` (content type, bytes); return the response
    /// body. With `retry`, transient failures are retried as
    /// [`Provider::complete`] does; without it (a request that creates a
    /// batch, which the server may have created before the failure) the
    /// first failure is returned.
    ///
    /// # Errors
    /// A non-success status (the body excerpt, secrets cut out), a
    /// transport failure, or [`ProviderError::RetriesExhausted`].
    pub(crate) async fn send_raw(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<(&str, Vec<u8>)>,
        retry: bool,
    ) -> Result<Vec<u8>, ProviderError> {
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let mut request = self.client.request(method.clone(), url);
            for (name, value) in self.headers() {
                request = request.header(name, value);
            }
            if let Some((content_type, bytes)) = &body {
                request = request.header("content-type", *content_type).body(bytes.clone());
            }
            let (error, retry_after) = match request.send().await {
                Err(error) => (self.transport_error(error), None),
                Ok(response) => {
                    let status = response.status();
                    let retry_after = retry::retry_after(response.headers(), std::time::SystemTime::now());
                    match response.bytes().await {
                        Err(error) => (self.transport_error(error), retry_after),
                        Ok(bytes) if status.is_success() => return Ok(bytes.to_vec()),
                        Ok(bytes) => (
                            ProviderError::Http { status: status.as_u16(), body: self.redact(&excerpt(&bytes)) },
                            retry_after,
                        ),
                    }
                }
            };
            if !retry || !error.is_retryable() {
                return Err(error);
            }
            if attempt > self.max_retries {
                return Err(ProviderError::RetriesExhausted { attempts: attempt, last: Box::new(error) });
            }
            tokio::time::sleep(self.backoff.delay(attempt, retry_after)).await;
        }
    }

    /// The headers of every request; the key header is marked sensitive.
    fn headers(&self) -> Vec<(&'static str, reqwest::header::HeaderValue)> {
        let mut headers = Vec::new();
        if let Some(ApiKey(key)) = &self.key {
            let (name, value) = match self.kind {
                _ if self.bearer => ("authorization", format!("Bearer {key}")),
                ProviderKind::Anthropic => ("x-api-key", key.clone()),
                ProviderKind::Gemini => ("x-goog-api-key", key.clone()),
                _ => ("authorization", format!("Bearer {key}")),
            };
            // A key with bytes a header cannot hold is not sent (the server
            // then answers 401, which names no key).
            if let Ok(mut value) = reqwest::header::HeaderValue::from_str(&value) {
                value.set_sensitive(true);
                headers.push((name, value));
            }
        }
        if self.kind == ProviderKind::Anthropic {
            headers.push(("anthropic-version", reqwest::header::HeaderValue::from_static(anthropic::VERSION)));
        }
        headers
    }

    fn transport_error(&self, error: reqwest::Error) -> ProviderError {
        if error.is_timeout() {
            return ProviderError::Timeout { seconds: self.timeout.as_secs_f64() };
        }
        // The error chain names the cause (refused, reset, closed early);
        // the URL is dropped: it holds no key, but keep messages short.
        let error = error.without_url();
        let mut message = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        ProviderError::Connect { message: self.redact(&message) }
    }

    /// Cut the key (however short) and every registered secret out of
    /// text a server sent back.
    pub(crate) fn redact(&self, text: &str) -> String {
        let text = match &self.key {
            Some(ApiKey(key)) if !key.is_empty() => text.replace(key.as_str(), "[REDACTED]"),
            _ => text.to_string(),
        };
        redact_secrets(&text)
    }
}

/// The start of a body as text, for error messages.
fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let trimmed = text.trim();
    match trimmed.char_indices().nth(BODY_EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &trimmed[..cut]),
        None => trimmed.to_string(),
    }
}

/// Read a JSON path like `usage.prompt_tokens` as a count (absent = 0).
fn count(json: &serde_json::Value, pointer: &str) -> u64 {
    json.pointer(pointer).and_then(serde_json::Value::as_u64).unwrap_or(0)
}

/// Names a provider gives the sampling parameters (temperature, top_p,
/// max_tokens, seed); `None` where it has no such parameter or sets it
/// itself.
type SamplingNames = [Option<&'static str>; 4];

/// Insert the sampling values that are set into `map`, under the provider's
/// `names`; unset values are not sent (the provider's defaults apply).
fn insert_sampling(map: &mut serde_json::Map<String, serde_json::Value>, sampling: &Sampling, names: SamplingNames) {
    let values = [
        sampling.temperature.map(serde_json::Value::from),
        sampling.top_p.map(serde_json::Value::from),
        sampling.max_tokens.map(serde_json::Value::from),
        sampling.seed.map(serde_json::Value::from),
    ];
    for (name, value) in names.into_iter().zip(values) {
        if let (Some(name), Some(value)) = (name, value) {
            map.insert(name.into(), value);
        }
    }
}

/// Join the system messages (Anthropic and Gemini take them apart).
fn system_text(messages: &[ChatMessage]) -> Option<String> {
    let parts: Vec<&str> = messages.iter().filter(|m| m.role == Role::System).map(|m| m.content.as_str()).collect();
    (!parts.is_empty()).then(|| parts.join("\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: ProviderKind, base_url: &str, key_env: Option<&str>) -> ModelEntry {
        let text = format!(
            "[[model]]\nid = \"m\"\nkind = \"{kind}\"\nmodel = \"the-model\"\nbase_url = \"{base_url}\"\n{}sampling = {{ temperature = 0.5, seed = 7 }}\n",
            key_env.map(|env| format!("key_env = \"{env}\"\n")).unwrap_or_default()
        );
        super::super::registry::Registry::parse(&text).unwrap().models.remove(0)
    }

    fn conversation() -> ChatRequest {
        ChatRequest {
            messages: vec![
                ChatMessage { role: Role::System, content: "You write Scapy.".into() },
                ChatMessage { role: Role::User, content: "Example?".into() },
                ChatMessage { role: Role::Assistant, content: "Ether()".into() },
                ChatMessage { role: Role::User, content: "A DNS query.".into() },
            ],
            sampling: Sampling { max_tokens: Some(100), ..Sampling::default() },
        }
    }

    #[test]
    fn openai_body_is_chat_completions() {
        let provider = Provider::new(&entry(ProviderKind::OpenAi, "http://127.0.0.1:1/v1", None)).unwrap();
        assert_eq!(provider.endpoint(), "http://127.0.0.1:1/v1/chat/completions");
        let body = provider.request_body(&conversation());
        assert_eq!(
            body,
            serde_json::json!({
                "model": "the-model",
                "messages": [
                    {"role": "system", "content": "You write Scapy."},
                    {"role": "user", "content": "Example?"},
                    {"role": "assistant", "content": "Ether()"},
                    {"role": "user", "content": "A DNS query."},
                ],
                "temperature": 0.5, "max_tokens": 100, "seed": 7,
            })
        );
    }

    #[test]
    fn anthropic_body_takes_the_system_prompt_apart() {
        let provider = Provider::new(&entry(ProviderKind::Anthropic, "http://127.0.0.1:1", None)).unwrap();
        assert_eq!(provider.endpoint(), "http://127.0.0.1:1/v1/messages");
        let mut request = conversation();
        request.sampling.max_tokens = None;
        let body = provider.request_body(&request);
        assert_eq!(
            body,
            serde_json::json!({
                "model": "the-model",
                "system": "You write Scapy.",
                "messages": [
                    {"role": "user", "content": "Example?"},
                    {"role": "assistant", "content": "Ether()"},
                    {"role": "user", "content": "A DNS query."},
                ],
                "max_tokens": 4096, "temperature": 0.5,
            })
        );
    }

    #[test]
    fn gemini_body_is_generate_content() {
        let provider = Provider::new(&entry(ProviderKind::Gemini, "http://127.0.0.1:1", None)).unwrap();
        assert_eq!(provider.endpoint(), "http://127.0.0.1:1/v1beta/models/the-model:generateContent");
        let body = provider.request_body(&conversation());
        assert_eq!(
            body,
            serde_json::json!({
                "systemInstruction": {"parts": [{"text": "You write Scapy."}]},
                "contents": [
                    {"role": "user", "parts": [{"text": "Example?"}]},
                    {"role": "model", "parts": [{"text": "Ether()"}]},
                    {"role": "user", "parts": [{"text": "A DNS query."}]},
                ],
                "generationConfig": {"temperature": 0.5, "maxOutputTokens": 100, "seed": 7},
            })
        );
    }

    #[test]
    fn missing_key_is_an_error_only_for_remote_endpoints() {
        let env = "HARNESS_TEST_PROVIDER_KEY_NEVER_SET";
        let error = Provider::new(&entry(ProviderKind::OpenAi, "https://api.example.com/v1", Some(env))).unwrap_err();
        assert_eq!(error.to_string(), format!("the API key is missing: set the environment variable {env}"));
        assert!(Provider::new(&entry(ProviderKind::OpenAi, "http://localhost:8080/v1", Some(env))).is_ok());
        let mut reference = entry(ProviderKind::OpenAi, "http://localhost:1/v1", None);
        reference.kind = ProviderKind::Reference;
        assert!(Provider::new(&reference).unwrap_err().to_string().contains("calls no API"));
    }

    #[test]
    fn debug_and_errors_never_show_the_key() {
        let env = "HARNESS_TEST_PROVIDER_KEY_DEBUG";
        let secret = "sk-unit-test-4f1d9c2b7e";
        // Only this test reads this variable.
        std::env::set_var(env, secret);
        for kind in [ProviderKind::OpenAi, ProviderKind::Anthropic, ProviderKind::Gemini] {
            let provider = Provider::new(&entry(kind, "https://api.example.com/v1", Some(env))).unwrap();
            let debug = format!("{provider:?} {:?}", provider.headers());
            assert!(!debug.contains(secret), "{debug}");
            assert!(debug.contains("***"), "{debug}");
            assert!(!provider.endpoint().contains(secret));
            assert!(!provider.request_body(&conversation()).to_string().contains(secret));
            let echoed = provider.redact(&format!("invalid API key: got '{secret}'"));
            assert_eq!(echoed, "invalid API key: got '[REDACTED]'");
        }
        std::env::remove_var(env);
    }

    #[test]
    fn registered_secrets_are_cut_from_every_provider() {
        let other = "sk-unit-test-other-model-0c5e";
        register_secret(other);
        register_secret("EMPTY");
        let provider = Provider::new(&entry(ProviderKind::OpenAi, "http://127.0.0.1:1/v1", None)).unwrap();
        assert_eq!(provider.redact(&format!("got 'x', expected '{other}'")), "got 'x', expected '[REDACTED]'");
        assert_eq!(redact_secrets("EMPTY stays: a placeholder"), "EMPTY stays: a placeholder");
    }

    #[test]
    fn excerpt_cuts_long_bodies_on_a_char_boundary() {
        let long = "é".repeat(BODY_EXCERPT_CHARS + 10);
        let cut = excerpt(long.as_bytes());
        assert_eq!(cut.chars().count(), BODY_EXCERPT_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(excerpt(b"  short \n"), "short");
    }
}
