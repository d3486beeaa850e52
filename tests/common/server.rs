//! A scripted model API on loopback for end-to-end runs of `harness matrix`.
//!
//! The server speaks the three request formats the providers send (OpenAI
//! chat completions, Anthropic Messages, Gemini `generateContent`), finds
//! which prompt a request is for by its last user message, and plays that
//! prompt's script of faults, one step per attempt: statuses with or
//! without `Retry-After`, connection resets, answers slower than the
//! client's timeout, truncated or non-JSON bodies, bodies shorter than
//! their `Content-Length`. Past the end of its script (or once the server
//! is made healthy) a prompt gets its answer. With an expected key, a
//! request carrying another key gets a 401 that quotes the key it sent, as
//! some real servers do. Every request is logged with the prompt, the
//! attempt and the time, so tests can count what was asked. A server can
//! die after a number of answers, as a killed model server does (its port
//! refuses connections), and come back on the same port.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the server does with one attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Answer with the prompt's answer.
    Answer,
    /// Answer with this status and, if given, this `Retry-After` value.
    Status(u16, Option<&'static str>),
    /// Reset the connection (SO_LINGER 0) without answering.
    Reset,
    /// Wait this long, then answer (beyond the client's timeout: a timeout).
    Slow(Duration),
    /// A 200 whose JSON stops half way (with a matching Content-Length).
    TruncatedJson,
    /// A 200 with an HTML page instead of JSON (as a proxy in the way sends).
    NotJson,
    /// A 200 whose Content-Length promises more than is sent before the
    /// connection closes.
    ShortBody,
    /// A 200 answer whose text quotes the key the request carried.
    EchoKey,
    /// A 200 answer cut at `max_tokens`: the stop reason says so (`length`,
    /// `max_tokens`, `MAX_TOKENS` by format).
    Cut,
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The prompt's index in the server's answer table (`None`: unknown).
    pub prompt: Option<usize>,
    /// 0-based attempt for that prompt.
    pub attempt: usize,
    /// When it arrived.
    pub at: Instant,
    /// The step played.
    pub step: Step,
}

struct State {
    /// (last user message, answer text) per prompt.
    answers: Vec<(String, String)>,
    scripts: BTreeMap<usize, Vec<Step>>,
    key: Option<String>,
    healthy: AtomicBool,
    seen: Mutex<Vec<Seen>>,
    /// Answers given so far, and after how many the server dies.
    answered: AtomicUsize,
    die_after: AtomicUsize,
    /// Set when it died: the listener is closed, requests in flight reset.
    dead: AtomicBool,
    died: tokio::sync::Notify,
}

/// A running server; stops when dropped.
pub struct FaultServer {
    addr: SocketAddr,
    state: Arc<State>,
    _runtime: tokio::runtime::Runtime,
}

/// The request formats the server understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    OpenAi,
    Anthropic,
    Gemini,
}

impl FaultServer {
    /// Start a server that answers prompt `i` (its last user message is
    /// `answers[i].0`) with `answers[i].1` after playing `scripts[i]`. With
    /// `key`, a request must carry it in its provider's auth header.
    pub fn start(
        answers: Vec<(String, String)>,
        scripts: BTreeMap<usize, Vec<Step>>,
        key: Option<&str>,
    ) -> FaultServer {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let state = Arc::new(State {
            answers,
            scripts,
            key: key.map(str::to_string),
            healthy: AtomicBool::new(false),
            seen: Mutex::new(Vec::new()),
            answered: AtomicUsize::new(0),
            die_after: AtomicUsize::new(usize::MAX),
            dead: AtomicBool::new(false),
            died: tokio::sync::Notify::new(),
        });
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        runtime.spawn(accept(listener, state.clone()));
        FaultServer { addr, state, _runtime: runtime }
    }

    /// Die (close the port, reset whatever is in flight) once `answers`
    /// answers have been sent, as a model server killed mid-run.
    pub fn die_after(&self, answers: usize) {
        self.state.die_after.store(answers, Ordering::SeqCst);
    }

    /// Whether the server died (see [`FaultServer::die_after`]).
    pub fn dead(&self) -> bool {
        self.state.dead.load(Ordering::SeqCst)
    }

    /// Come back on the same port after dying, answering every request.
    pub fn revive(&self) {
        assert!(self.dead(), "revive() is for a server that died");
        self.state.die_after.store(usize::MAX, Ordering::SeqCst);
        let listener = self._runtime.block_on(TcpListener::bind(self.addr)).unwrap();
        self.state.dead.store(false, Ordering::SeqCst);
        self._runtime.spawn(accept(listener, self.state.clone()));
    }

    /// Return `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// From now on answer every request at once (the faults are over).
    pub fn heal(&self) {
        self.state.healthy.store(true, Ordering::SeqCst);
    }

    /// Return every request seen so far, in arrival order.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// Forget the requests seen so far (attempt numbers restart too).
    pub fn clear(&self) {
        self.state.seen.lock().unwrap().clear();
    }
}

/// One HTTP request as a test server read it (header names lower-cased).
#[derive(Debug, Clone)]
pub struct RawRequest {
    /// The method.
    pub method: String,
    /// The request target.
    pub path: String,
    /// Header fields, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body (`Content-Length` bytes).
    pub body: Vec<u8>,
}

/// Read one request: head and `Content-Length` bytes of body; `None` when
/// the peer closes first (availability probes send nothing).
pub async fn read_request(stream: &mut TcpStream) -> Option<RawRequest> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut request = httparse::Request::new(&mut headers);
        if let Ok(httparse::Status::Complete(head_len)) = request.parse(&buffer) {
            let method = request.method?.to_string();
            let path = request.path?.to_string();
            let headers: Vec<(String, String)> = request
                .headers
                .iter()
                .map(|h| (h.name.to_ascii_lowercase(), String::from_utf8_lossy(h.value).into_owned()))
                .collect();
            let length = headers
                .iter()
                .find(|(n, _)| n == "content-length")
                .and_then(|(_, v)| v.parse::<usize>().ok())
                .unwrap_or(0);
            while buffer.len() < head_len + length {
                let n = stream.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buffer.extend_from_slice(&chunk[..n]);
            }
            return Some(RawRequest { method, path, headers, body: buffer[head_len..head_len + length].to_vec() });
        }
    }
}

/// The last user message of a request body, in its format.
fn last_user(format: Format, body: &Value) -> Option<String> {
    match format {
        Format::OpenAi | Format::Anthropic => {
            body["messages"].as_array()?.iter().rev().find(|m| m["role"] == "user")?["content"]
                .as_str()
                .map(str::to_string)
        }
        Format::Gemini => body["contents"].as_array()?.iter().rev().find(|m| m["role"] == "user")?["parts"][0]["text"]
            .as_str()
            .map(str::to_string),
    }
}

/// The key a request carries in its format's auth header.
fn sent_key(format: Format, headers: &[(String, String)]) -> Option<String> {
    let get = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    match format {
        Format::OpenAi => get("authorization").map(|v| v.trim_start_matches("Bearer ").to_string()),
        Format::Anthropic => get("x-api-key"),
        Format::Gemini => get("x-goog-api-key"),
    }
}

/// A successful answer in `format`.
fn answer_body(format: Format, text: &str) -> String {
    answer_body_ending(format, text, false)
}

/// A successful answer in `format`, its stop reason saying whether it was
/// `cut` at `max_tokens`.
fn answer_body_ending(format: Format, text: &str, cut: bool) -> String {
    let words = text.split_whitespace().count();
    let pick = |stop: &'static str, length: &'static str| if cut { length } else { stop };
    match format {
        Format::OpenAi => json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": pick("stop", "length")}],
                                 "usage": {"prompt_tokens": 100, "completion_tokens": words, "total_tokens": 100 + words}}),
        Format::Anthropic => json!({"type": "message", "content": [{"type": "text", "text": text}], "stop_reason": pick("end_turn", "max_tokens"),
                                    "usage": {"input_tokens": 100, "output_tokens": words}}),
        Format::Gemini => json!({"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": pick("STOP", "MAX_TOKENS")}],
                                 "usageMetadata": {"promptTokenCount": 100, "candidatesTokenCount": words}}),
    }
    .to_string()
}

async fn reply(stream: &mut TcpStream, status: u16, headers: &[(&str, &str)], body: &str) {
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

/// Accept connections until the server dies (the listener is then dropped:
/// the port refuses connections).
async fn accept(listener: TcpListener, state: Arc<State>) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { return };
                let state = state.clone();
                tokio::spawn(async move { serve(stream, &state).await });
            }
            () = state.died.notified() => return,
        }
    }
}

async fn serve(mut stream: TcpStream, state: &State) {
    // Availability probes connect and send nothing.
    let Some(RawRequest { path, headers, body, .. }) = read_request(&mut stream).await else { return };
    if state.dead.load(Ordering::SeqCst) {
        let _ = stream.set_zero_linger();
        return;
    }
    let format = if path.ends_with("/chat/completions") {
        Format::OpenAi
    } else if path.ends_with("/v1/messages") {
        Format::Anthropic
    } else if path.contains(":generateContent") {
        Format::Gemini
    } else {
        return reply(&mut stream, 404, &[], r#"{"error": "no such endpoint"}"#).await;
    };
    let key = sent_key(format, &headers).unwrap_or_default();
    if state.key.as_ref().is_some_and(|k| *k != key) {
        let body =
            json!({"error": {"message": format!("invalid API key: got '{key}'"), "type": "invalid_request_error"}})
                .to_string();
        return reply(&mut stream, 401, &[], &body).await;
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let prompt = last_user(format, &request).and_then(|user| state.answers.iter().position(|(u, _)| *u == user));
    let step = {
        let mut seen = state.seen.lock().unwrap();
        let attempt = seen.iter().filter(|s| s.prompt == prompt).count();
        let scripted = prompt.and_then(|p| state.scripts.get(&p)).and_then(|s| s.get(attempt)).cloned();
        let step = if state.healthy.load(Ordering::SeqCst) { Step::Answer } else { scripted.unwrap_or(Step::Answer) };
        seen.push(Seen { prompt, attempt, at: Instant::now(), step: step.clone() });
        step
    };
    let Some(index) = prompt else {
        return reply(&mut stream, 400, &[], r#"{"error": {"message": "unknown prompt"}}"#).await;
    };
    let text = &state.answers[index].1;
    match step {
        Step::Answer => {
            reply(&mut stream, 200, &[], &answer_body(format, text)).await;
            if state.answered.fetch_add(1, Ordering::SeqCst) + 1 >= state.die_after.load(Ordering::SeqCst) {
                state.dead.store(true, Ordering::SeqCst);
                state.died.notify_one();
            }
        }
        Step::Status(status, retry_after) => {
            let body = json!({"error": {"message": format!("scripted status {status}")}}).to_string();
            match retry_after {
                Some(wait) => reply(&mut stream, status, &[("Retry-After", wait)], &body).await,
                None => reply(&mut stream, status, &[], &body).await,
            }
        }
        Step::Reset => {
            let _ = stream.set_zero_linger();
        }
        Step::Slow(wait) => {
            tokio::time::sleep(wait).await;
            reply(&mut stream, 200, &[], &answer_body(format, text)).await;
        }
        Step::TruncatedJson => {
            let full = answer_body(format, text);
            reply(&mut stream, 200, &[], &full[..full.len() / 2]).await;
        }
        Step::NotJson => reply(&mut stream, 200, &[], "<html><body>502 Bad Gateway</body></html>").await,
        Step::ShortBody => {
            let full = answer_body(format, text);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                full.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(&full.as_bytes()[..full.len() / 3]).await;
            let _ = stream.shutdown().await;
        }
        Step::EchoKey => {
            reply(&mut stream, 200, &[], &answer_body(format, &format!("{text}\n# your key is {key}"))).await
        }
        Step::Cut => reply(&mut stream, 200, &[], &answer_body_ending(format, text, true)).await,
    }
}

/// The prompts of suite `name` in `suites_dir` with the reference model's
/// answers: (last user message, answer text) per summary, in suite order.
pub fn reference_answers(suites_dir: &std::path::Path, name: &str) -> Vec<(String, String)> {
    use harness::matrix::suite::Suite;
    let suite = Suite::load_dir(suites_dir).unwrap().into_iter().find(|s| s.name == name).unwrap();
    let prompts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts");
    let template = harness::prompt::Template::load(&prompts, suite.protocol, suite.mode, suite.dialect).unwrap();
    suite
        .items()
        .unwrap()
        .iter()
        .map(|item| {
            let scenario = item.scenario.as_ref().expect("generated summaries parse");
            let answer = harness::model::answer::render(&harness::model::reference::packets(scenario), suite.dialect);
            (template.render(&item.text).user, answer)
        })
        .collect()
}

/// A running llm-katan (echo backend, keys validated), killed on drop.
pub struct Katan {
    child: std::process::Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Katan {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start llm-katan serving the OpenAI, Anthropic and Vertex formats in echo
/// mode, accepting only `keys` (`openai=K,anthropic=K,…`); `None` (loudly)
/// when it is not installed outside CI.
pub fn llm_katan(keys: &str) -> Option<Katan> {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let log = std::fs::File::create(dir.path().join("katan.log")).unwrap();
    let spawned = std::process::Command::new("llm-katan")
        .args([
            "--model",
            "katan-echo",
            "--backend",
            "echo",
            "--providers",
            "openai,anthropic,vertexai",
            "--host",
            "127.0.0.1",
        ])
        .args(["--port", &port.to_string(), "--disable-dashboard", "--log-level", "warning", "--validate-keys"])
        .arg(format!("--api-keys={keys}"))
        .arg("--stats-file")
        .arg(dir.path().join("stats.json"))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .stdin(std::process::Stdio::null())
        .spawn();
    let child = match spawned {
        Ok(child) => child,
        Err(error) => {
            let required = std::env::var_os("HARNESS_REQUIRE_TOOLS").is_some() || std::env::var_os("CI").is_some();
            assert!(
                !required,
                "llm-katan is required here ({error}); ci/install-deps installs it from ci/requirements.txt"
            );
            eprintln!("SKIPPED: llm-katan not found ({error}); pip install -r ci/requirements.txt");
            return None;
        }
    };
    let mut katan = Katan { child, port, _dir: dir };
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        // Ready when /health answers 200.
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = stream.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
            let mut head = [0u8; 12];
            if stream.read_exact(&mut head).is_ok() && head.ends_with(b"200") {
                return Some(katan);
            }
        }
        if let Ok(Some(status)) = katan.child.try_wait() {
            let log = std::fs::read_to_string(katan._dir.path().join("katan.log")).unwrap_or_default();
            panic!("llm-katan exited ({status}) before it was ready:\n{log}");
        }
        assert!(Instant::now() < deadline, "llm-katan not ready after 90 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}
