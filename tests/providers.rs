//! Providers against real HTTP servers on loopback.
//!
//! - llm-katan (PyPI, pinned in ci/requirements.txt) in echo mode serves the
//!   real OpenAI, Anthropic and Gemini request formats, checks the auth
//!   header (and, with `--validate-keys`, its value), and echoes what it
//!   understood (message count, max_tokens, temperature, the last user
//!   message) with word-count usage. llm-katan 0.22 reads a Gemini key only
//!   from `Authorization` or `?key=`, not from Google's `x-goog-api-key`
//!   header that the harness sends (keys never go into URLs), so Gemini
//!   requests pass through a loopback relay that checks `x-goog-api-key` and
//!   hands it on as `Authorization: Bearer`.
//! - A small HTTP/1.1 server written here (tokio, loopback) plays the
//!   faults: 429 with Retry-After, 500/503 then success, slow answers,
//!   truncated and non-JSON bodies, connection resets.
//! - Cassettes recorded from llm-katan: replay, offline misses, errors never
//!   recorded, keys never written.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::server::{read_request, RawRequest as Seen};
use harness::model::cassette::Cassette;
use harness::model::live::{LiveModel, ModelError};
use harness::model::provider::retry::Backoff;
use harness::model::provider::{ChatMessage, ChatRequest, Provider, ProviderError, Role};
use harness::model::registry::{ModelEntry, Registry, RunMode, Sampling};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

// ---------------------------------------------------------------- helpers

/// The keys of these tests (fake, but treated exactly like real ones).
const OPENAI_KEY: &str = "sk-harness-test-openai-7c1e5b";
const ANTHROPIC_KEY: &str = "sk-ant-harness-test-93d0aa";
const GEMINI_KEY: &str = "AIza-harness-test-gemini-51f2";
const WRONG_KEY: &str = "sk-harness-wrong-key-0b8e44";

/// Put the test keys into the environment (std serialises env access).
fn set_keys() {
    std::env::set_var("HARNESS_TEST_OPENAI_KEY", OPENAI_KEY);
    std::env::set_var("HARNESS_TEST_ANTHROPIC_KEY", ANTHROPIC_KEY);
    std::env::set_var("HARNESS_TEST_GEMINI_KEY", GEMINI_KEY);
    std::env::set_var("HARNESS_TEST_WRONG_KEY", WRONG_KEY);
}

fn entry(id: &str, kind: &str, base_url: &str, key_env: Option<&str>, extra: &str) -> ModelEntry {
    let key = key_env.map(|env| format!("key_env = \"{env}\"\n")).unwrap_or_default();
    let text = format!("[[model]]\nid = \"{id}\"\nkind = \"{kind}\"\nmodel = \"test-model\"\nbase_url = \"{base_url}\"\n{key}{extra}\n");
    Registry::parse(&text).unwrap().models.remove(0)
}

fn conversation(last: &str) -> ChatRequest {
    ChatRequest {
        messages: vec![
            ChatMessage { role: Role::System, content: "You write Scapy code.".into() },
            ChatMessage { role: Role::User, content: "Example please".into() },
            ChatMessage { role: Role::Assistant, content: "Ether()/IP()".into() },
            ChatMessage { role: Role::User, content: last.into() },
        ],
        sampling: Sampling { temperature: Some(0.25), max_tokens: Some(321), ..Sampling::default() },
    }
}

fn fast(provider: Provider) -> Provider {
    provider.with_backoff(Backoff {
        base: Duration::from_millis(1),
        cap: Duration::from_millis(5),
        retry_after_cap: Duration::from_secs(5),
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// What the test server does with one request.
#[derive(Debug, Clone)]
enum Step {
    /// Answer with a status, extra headers and a body (correct Content-Length).
    Reply(u16, Vec<(&'static str, String)>, String),
    /// Write these bytes as the whole response, then close.
    Raw(String),
    /// Wait, then do the inner step.
    Delay(Duration, Box<Step>),
    /// Reset the connection (SO_LINGER 0) without answering.
    Reset,
    /// Relay to llm-katan with `x-goog-api-key` turned into `Authorization: Bearer`.
    RelayGemini(u16),
}

fn ok_json(body: serde_json::Value) -> Step {
    Step::Reply(200, vec![], body.to_string())
}

fn openai_answer(text: &str) -> Step {
    ok_json(
        serde_json::json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                               "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}}),
    )
}

/// A loopback HTTP/1.1 server that plays a script of steps, one per
/// request (the last step repeats), and records what it saw.
struct TestServer {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    peak_in_flight: Arc<AtomicUsize>,
}

impl TestServer {
    async fn start(script: Vec<Step>) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let peak_in_flight = Arc::new(AtomicUsize::new(0));
        let script = Arc::new(script);
        let (seen2, peak2) = (seen.clone(), peak_in_flight.clone());
        tokio::spawn(async move {
            let counter = Arc::new(AtomicUsize::new(0));
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (script, seen, counter, in_flight, peak) =
                    (script.clone(), seen2.clone(), counter.clone(), in_flight.clone(), peak2.clone());
                tokio::spawn(async move {
                    let mut stream = stream;
                    let Some(request) = read_request(&mut stream).await else {
                        return;
                    };
                    let index = counter.fetch_add(1, Ordering::SeqCst);
                    seen.lock().unwrap().push(request.clone());
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    let mut step = script[index.min(script.len() - 1)].clone();
                    // The wait is served while the request counts as in
                    // flight; the count drops before the first response
                    // byte, since a client may release its permit (and
                    // send the next request) as soon as it has read them.
                    if let Step::Delay(wait, inner) = step {
                        tokio::time::sleep(wait).await;
                        step = *inner;
                    }
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    play(step, &mut stream, &request).await;
                });
            }
        });
        TestServer { addr, seen, peak_in_flight }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn play(step: Step, stream: &mut TcpStream, request: &Seen) {
    match step {
        Step::Reply(status, headers, body) => {
            let mut head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (name, value) in headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str("\r\n");
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(body.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
        Step::Raw(bytes) => {
            let _ = stream.write_all(bytes.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
        Step::Delay(wait, inner) => {
            tokio::time::sleep(wait).await;
            Box::pin(play(*inner, stream, request)).await;
        }
        Step::Reset => {
            let _ = stream.set_zero_linger();
        }
        Step::RelayGemini(port) => {
            let mut upstream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            let mut head = format!(
                "{} {} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
                request.method,
                request.path,
                request.body.len()
            );
            if let Some(key) = request.header("x-goog-api-key") {
                head.push_str(&format!("Authorization: Bearer {key}\r\n"));
            }
            head.push_str("\r\n");
            upstream.write_all(head.as_bytes()).await.unwrap();
            upstream.write_all(&request.body).await.unwrap();
            let mut response = Vec::new();
            upstream.read_to_end(&mut response).await.unwrap();
            let _ = stream.write_all(&response).await;
            let _ = stream.shutdown().await;
        }
    }
}

/// Echo's word-count usage of `conversation()` (llm-katan splits on spaces).
fn echo_prompt_tokens(request: &ChatRequest) -> u64 {
    request.messages.iter().map(|m| m.content.split_whitespace().count() as u64).sum()
}

// ------------------------------------------------------------ llm-katan

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llm_katan_serves_every_provider_format() {
    set_keys();
    let keys = format!("openai={OPENAI_KEY},anthropic={ANTHROPIC_KEY},vertexai={GEMINI_KEY}");
    let Some(katan) = common::server::llm_katan(&keys) else { return };
    let port = katan.port;
    let relay = TestServer::start(vec![Step::RelayGemini(port)]).await;
    let request = conversation("A DNS query for example.com");
    let cases = [
        ("openai", format!("http://127.0.0.1:{port}/v1"), "HARNESS_TEST_OPENAI_KEY", "stop"),
        ("anthropic", format!("http://127.0.0.1:{port}"), "HARNESS_TEST_ANTHROPIC_KEY", "end_turn"),
        ("gemini", relay.url(""), "HARNESS_TEST_GEMINI_KEY", "STOP"),
    ];
    for (kind, base_url, key_env, finish) in cases {
        let provider = Provider::new(&entry(kind, kind, &base_url, Some(key_env), "")).unwrap();
        let completion = provider.complete(&request).await.unwrap_or_else(|e| panic!("{kind}: {e}"));
        // Echo says what it understood: the system prompt counted as a
        // message, the sampling passed through, the last user turn.
        let first = completion.text.lines().next().unwrap();
        assert!(first.starts_with("[echo] model=katan-echo"), "{kind}: {}", completion.text);
        assert!(first.contains("messages=4 max_tokens=321 temperature=0.25"), "{kind}: {first}");
        assert_eq!(completion.text.lines().nth(1), Some("User: A DNS query for example.com"), "{kind}");
        assert_eq!(completion.usage.prompt_tokens, echo_prompt_tokens(&request), "{kind}");
        assert_eq!(completion.usage.completion_tokens, completion.text.split_whitespace().count() as u64, "{kind}");
        assert_eq!(completion.finish_reason.as_deref(), Some(finish), "{kind}");
        assert_eq!(completion.attempts, 1, "{kind}");
    }
    // The Gemini request carried the key in x-goog-api-key, never in the URL.
    let gemini = &relay.seen()[0];
    assert_eq!(gemini.path, "/v1beta/models/test-model:generateContent");
    assert_eq!(gemini.header("x-goog-api-key"), Some(GEMINI_KEY));
    assert_eq!(gemini.header("authorization"), None);
    assert!(gemini.json()["systemInstruction"]["parts"][0]["text"] == "You write Scapy code.");

    // A wrong key: llm-katan answers 401 and quotes the key it got; the
    // error says 401, is not retried, and never shows the key.
    for (kind, base_url) in [
        ("openai", format!("http://127.0.0.1:{port}/v1")),
        ("anthropic", format!("http://127.0.0.1:{port}")),
        ("gemini", relay.url("")),
    ] {
        let provider = Provider::new(&entry(kind, kind, &base_url, Some("HARNESS_TEST_WRONG_KEY"), "")).unwrap();
        let error = provider.complete(&request).await.unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, ProviderError::Http { status: 401, .. }), "{kind}: {message}");
        assert!(message.contains("invalid API key") && message.contains("[REDACTED]"), "{kind}: {message}");
        assert!(!message.contains(WRONG_KEY) && !format!("{error:?}").contains(WRONG_KEY), "{kind}: {message}");
    }
    // A loopback endpoint runs without its key variable: no auth header is
    // sent, and llm-katan (which wants one) says so.
    let keyless = Provider::new(&entry(
        "local",
        "openai",
        &format!("http://127.0.0.1:{port}/v1"),
        Some("HARNESS_TEST_UNSET_KEY"),
        "",
    ))
    .unwrap();
    let error = keyless.complete(&request).await.unwrap_err().to_string();
    assert!(error.contains("HTTP 401") && error.contains("missing Authorization header"), "{error}");

    cassettes_with_llm_katan(port).await;
    drop(katan);
}

/// Record from llm-katan, replay, explain misses; errors and keys are never written.
async fn cassettes_with_llm_katan(port: u16) {
    let dir = tempfile::tempdir().unwrap();
    let base = format!("http://127.0.0.1:{port}/v1");
    let good = entry(
        "katan",
        "openai",
        &base,
        Some("HARNESS_TEST_OPENAI_KEY"),
        "price_in_per_mtok = 2.5\nprice_out_per_mtok = 10.0",
    );
    let path = good.cassette_path(dir.path());
    let request = conversation("An ARP request");

    let recorder = LiveModel::new(&good, RunMode::Record, dir.path()).unwrap();
    let recorded = recorder.answer(&request, 0, "arp/v1").await.unwrap();
    assert_eq!(recorded.attempts, 1);
    assert!(good.cost_usd(&recorded.usage).unwrap() > 0.0);
    let second = recorder.answer(&request, 1, "arp/v1").await.unwrap();
    assert_eq!(second.attempts, 1, "another sample is another request");
    let lines = std::fs::read_to_string(&path).unwrap();
    assert_eq!(lines.lines().count(), 2);
    // The echo carries a timestamp, so an identical text proves a replay.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let replayed = recorder.answer(&request, 0, "arp/v1").await.unwrap();
    assert_eq!((replayed.text.as_str(), replayed.attempts), (recorded.text.as_str(), 0));
    assert_eq!(replayed.usage, recorded.usage);

    // Offline needs no key and replays the same; a changed prompt is
    // explained, not called.
    std::env::remove_var("HARNESS_TEST_OFFLINE_KEY_UNSET");
    let mut offline_entry = good.clone();
    offline_entry.key_env = Some("HARNESS_TEST_OFFLINE_KEY_UNSET".into());
    offline_entry.base_url = Some(base.clone());
    let offline = LiveModel::new(&offline_entry, RunMode::Offline, dir.path()).unwrap();
    assert_eq!(offline.answer(&request, 0, "arp/v1").await.unwrap().text, recorded.text);
    let miss = offline.answer(&request, 0, "arp/v2").await.unwrap_err();
    assert!(matches!(miss, ModelError::NotRecorded(_)));
    let miss = miss.to_string();
    assert!(miss.contains("the prompt changed (prompt version 'arp/v1' → 'arp/v2')"), "{miss}");
    assert!(miss.contains("harness matrix --models katan --record"), "{miss}");
    let mut changed = request.clone();
    changed.sampling.temperature = Some(0.9);
    let miss = offline.answer(&changed, 0, "arp/v1").await.unwrap_err().to_string();
    assert!(miss.contains("the request body differs at temperature (0.25 → 0.9)"), "{miss}");

    // Errors are never recorded: a wrong key fails and writes nothing.
    let wrong = entry("katan", "openai", &base, Some("HARNESS_TEST_WRONG_KEY"), "max_retries = 0");
    let failing = LiveModel::new(&wrong, RunMode::Record, dir.path()).unwrap();
    let error = failing.answer(&conversation("Something new"), 0, "arp/v1").await.unwrap_err().to_string();
    assert!(error.contains("HTTP 401") && !error.contains(WRONG_KEY), "{error}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), lines, "an error changed the cassette");

    // Live mode calls every time and never writes.
    let live = LiveModel::new(&good, RunMode::Live, dir.path()).unwrap();
    let fresh = live.answer(&request, 0, "arp/v1").await.unwrap();
    assert_eq!(fresh.attempts, 1);
    assert_ne!(fresh.text, recorded.text, "live mode must not replay");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), lines, "live mode wrote the cassette");

    // No key is ever written (the echo quotes the prompt, not headers).
    let bytes = std::fs::read_to_string(&path).unwrap();
    for key in [OPENAI_KEY, WRONG_KEY, "Bearer"] {
        assert!(!bytes.contains(key), "cassette holds {key}");
    }
    let cassette = Cassette::open(&path).unwrap();
    assert_eq!(cassette.records().len(), 2);
    assert!(cassette.records().iter().all(|r| r.recorded_at.ends_with('Z') && r.parts.base_url == base));
}

// ------------------------------------------------------------ faults

fn fault_entry(server: &TestServer, extra: &str) -> ModelEntry {
    entry("faulty", "openai", &server.url("/v1"), Some("HARNESS_TEST_OPENAI_KEY"), extra)
}

#[tokio::test]
async fn request_shape_and_headers_per_provider() {
    set_keys();
    let anthropic_answer = ok_json(
        serde_json::json!({"content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn", "usage": {"input_tokens": 3, "output_tokens": 1}}),
    );
    for (kind, key_env, step, path, auth) in [
        (
            "openai",
            "HARNESS_TEST_OPENAI_KEY",
            openai_answer("ok"),
            "/base/chat/completions",
            ("authorization", format!("Bearer {OPENAI_KEY}")),
        ),
        (
            "anthropic",
            "HARNESS_TEST_ANTHROPIC_KEY",
            anthropic_answer,
            "/base/v1/messages",
            ("x-api-key", ANTHROPIC_KEY.to_string()),
        ),
    ] {
        let server = TestServer::start(vec![step]).await;
        let provider = Provider::new(&entry(kind, kind, &server.url("/base/"), Some(key_env), "")).unwrap();
        let request = conversation("hi");
        let completion = provider.complete(&request).await.unwrap();
        assert_eq!(completion.text, "ok");
        let seen = &server.seen()[0];
        assert_eq!((seen.method.as_str(), seen.path.as_str()), ("POST", path));
        assert_eq!(seen.header(auth.0), Some(auth.1.as_str()), "{kind}");
        assert_eq!(seen.header("content-type"), Some("application/json"));
        assert_eq!(seen.json(), provider.request_body(&request), "{kind}: the body sent is the body keyed");
        if kind == "anthropic" {
            assert_eq!(seen.header("anthropic-version"), Some("2023-06-01"));
            assert_eq!(seen.header("authorization"), None);
        }
    }
}

#[tokio::test]
async fn rate_limit_honours_retry_after() {
    set_keys();
    // The clock starts before the date is taken, so the wait until that date
    // is more than 2 s whatever the set-up costs.
    let started = Instant::now();
    let retry_date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(3));
    let server = TestServer::start(vec![
        Step::Reply(429, vec![("Retry-After", "1".into())], r#"{"error":"slow down"}"#.into()),
        Step::Reply(429, vec![("Retry-After", retry_date)], r#"{"error":"slow down"}"#.into()),
        openai_answer("after the wait"),
    ])
    .await;
    let provider = fast(Provider::new(&fault_entry(&server, "")).unwrap());
    let completion = provider.complete(&conversation("hi")).await.unwrap();
    let waited = started.elapsed();
    assert_eq!((completion.text.as_str(), completion.attempts), ("after the wait", 3));
    // 1 s, then until the HTTP date, which is more than 2 s after the start
    // (3 s ahead, truncated to whole seconds); the 1 ms backoff alone would
    // have taken milliseconds, honouring only the first header about 1 s.
    assert!(waited >= Duration::from_secs(2), "{waited:?}");
    assert_eq!(server.seen().len(), 3);
    assert_eq!((completion.usage.prompt_tokens, completion.usage.completion_tokens), (11, 7));
}

#[tokio::test]
async fn server_errors_are_retried_then_succeed_or_exhaust() {
    set_keys();
    let server = TestServer::start(vec![
        Step::Reply(500, vec![], "oops".into()),
        Step::Reply(503, vec![], "busy".into()),
        openai_answer("third time"),
    ])
    .await;
    let provider = fast(Provider::new(&fault_entry(&server, "")).unwrap());
    let completion = provider.complete(&conversation("hi")).await.unwrap();
    assert_eq!((completion.text.as_str(), completion.attempts), ("third time", 3));

    let always = TestServer::start(vec![Step::Reply(502, vec![], "bad gateway".into())]).await;
    let provider = fast(Provider::new(&fault_entry(&always, "max_retries = 2")).unwrap());
    let error = provider.complete(&conversation("hi")).await.unwrap_err();
    assert_eq!(error.to_string(), "gave up after 3 attempts; last error: HTTP 502: bad gateway");
    assert_eq!(always.seen().len(), 3);

    let client_error = TestServer::start(vec![Step::Reply(400, vec![], r#"{"error":"bad request"}"#.into())]).await;
    let provider = fast(Provider::new(&fault_entry(&client_error, "")).unwrap());
    let error = provider.complete(&conversation("hi")).await.unwrap_err();
    assert!(matches!(error, ProviderError::Http { status: 400, .. }), "{error}");
    assert_eq!(client_error.seen().len(), 1, "4xx is not retried");
}

#[tokio::test]
async fn slow_answers_time_out() {
    set_keys();
    let server =
        TestServer::start(vec![Step::Delay(Duration::from_secs(3), Box::new(openai_answer("too late")))]).await;
    let provider = fast(Provider::new(&fault_entry(&server, "timeout_s = 0.3\nmax_retries = 1")).unwrap());
    let started = Instant::now();
    let error = provider.complete(&conversation("hi")).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    match &error {
        ProviderError::RetriesExhausted { attempts: 2, last } => {
            assert!(matches!(**last, ProviderError::Timeout { .. }), "{error}")
        }
        other => panic!("{other}"),
    }
    assert!(error.to_string().contains("no answer within 0.3 s"), "{error}");

    let slow_then_fast = TestServer::start(vec![
        Step::Delay(Duration::from_secs(3), Box::new(openai_answer("late"))),
        openai_answer("in time"),
    ])
    .await;
    let provider = fast(Provider::new(&fault_entry(&slow_then_fast, "timeout_s = 0.3")).unwrap());
    let completion = provider.complete(&conversation("hi")).await.unwrap();
    assert_eq!((completion.text.as_str(), completion.attempts), ("in time", 2));
}

#[tokio::test]
async fn bad_bodies_are_decode_errors_without_retry() {
    set_keys();
    let truncated = r#"{"choices": [{"message": {"role": "assistant", "content": "Eth"#;
    let server = TestServer::start(vec![Step::Reply(200, vec![], truncated.into())]).await;
    let provider = fast(Provider::new(&fault_entry(&server, "")).unwrap());
    let error = provider.complete(&conversation("hi")).await.unwrap_err();
    assert!(matches!(error, ProviderError::Decode { .. }), "{error}");
    assert!(error.to_string().contains("not JSON (EOF while parsing"), "{error}");
    assert_eq!(server.seen().len(), 1);

    let html =
        TestServer::start(vec![Step::Reply(200, vec![], "<html><body>Gateway login</body></html>".into())]).await;
    let provider = fast(Provider::new(&fault_entry(&html, "")).unwrap());
    let error = provider.complete(&conversation("hi")).await.unwrap_err().to_string();
    assert!(
        error.contains("the body is not JSON") && error.contains("starts with \"<html><body>Gateway login"),
        "{error}"
    );

    let wrong_shape = TestServer::start(vec![ok_json(serde_json::json!({"object": "list", "data": []}))]).await;
    let provider = fast(Provider::new(&fault_entry(&wrong_shape, "")).unwrap());
    let error = provider.complete(&conversation("hi")).await.unwrap_err().to_string();
    assert_eq!(error, "cannot decode the answer: no choices[0] in the answer");
}

#[tokio::test]
async fn broken_connections_are_retried() {
    set_keys();
    // Reset, then a body cut short of its Content-Length, then an answer.
    let short = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\nConnection: close\r\n\r\n{\"choices\": [";
    let server = TestServer::start(vec![Step::Reset, Step::Raw(short.into()), openai_answer("recovered")]).await;
    let provider = fast(Provider::new(&fault_entry(&server, "")).unwrap());
    let completion = provider.complete(&conversation("hi")).await.unwrap();
    assert_eq!((completion.text.as_str(), completion.attempts), ("recovered", 3));

    let always = TestServer::start(vec![Step::Reset]).await;
    let provider = fast(Provider::new(&fault_entry(&always, "max_retries = 1")).unwrap());
    let error = provider.complete(&conversation("hi")).await.unwrap_err();
    match &error {
        ProviderError::RetriesExhausted { attempts: 2, last } => {
            assert!(matches!(**last, ProviderError::Connect { .. }), "{error}")
        }
        other => panic!("{other}"),
    }

    // Nothing listens: connection refused, retried, then given up.
    let port = free_port();
    let refused = entry("gone", "openai", &format!("http://127.0.0.1:{port}/v1"), None, "max_retries = 2");
    let error = fast(Provider::new(&refused).unwrap()).complete(&conversation("hi")).await.unwrap_err().to_string();
    assert!(error.starts_with("gave up after 3 attempts; last error: connection failed"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_is_limited_per_provider() {
    set_keys();
    let server = TestServer::start(vec![Step::Delay(Duration::from_millis(150), Box::new(openai_answer("ok")))]).await;
    let provider = Arc::new(Provider::new(&fault_entry(&server, "concurrency = 2")).unwrap());
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let provider = provider.clone();
            tokio::spawn(async move { provider.complete(&conversation(&format!("request {i}"))).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().text, "ok");
    }
    assert_eq!(server.seen().len(), 6);
    assert_eq!(server.peak_in_flight.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn errors_are_never_recorded() {
    set_keys();
    let dir = tempfile::tempdir().unwrap();
    let server =
        TestServer::start(vec![Step::Reply(500, vec![], "down".into()), openai_answer("recorded after a 500")]).await;
    let model_entry = fault_entry(&server, "max_retries = 0");
    let model = LiveModel::new(&model_entry, RunMode::Record, dir.path()).unwrap();
    let path: PathBuf = model.cassette_path().to_path_buf();
    let error = model.answer(&conversation("hi"), 0, "v1").await.unwrap_err().to_string();
    assert!(error.contains("HTTP 500: down"), "{error}");
    assert!(!Path::new(&path).exists(), "a failed call created the cassette");
    let answer = model.answer(&conversation("hi"), 0, "v1").await.unwrap();
    assert_eq!(answer.text, "recorded after a 500");
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 1);
    assert!(!text.contains(OPENAI_KEY));
}
