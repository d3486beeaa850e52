//! A model API with batch endpoints on loopback, for `harness matrix
//! --record --batch` end to end (no internet in tests).
//!
//! It implements the documented shapes of:
//! - OpenAI: `POST /v1/files` (multipart, `purpose=batch`, a JSON Lines
//!   file of `{"custom_id", "method", "url", "body"}`), `POST /v1/batches`
//!   (`{"input_file_id", "endpoint", "completion_window"}`),
//!   `GET /v1/batches/{id}` (`status`, `request_counts`, `output_file_id`,
//!   `error_file_id`), `GET /v1/files/{id}/content` (one
//!   `{"id", "custom_id", "response": {"status_code", "body"}, "error"}`
//!   per line);
//! - Anthropic: `POST /v1/messages/batches` (`{"requests": [{"custom_id",
//!   "params"}]}`), `GET /v1/messages/batches/{id}` (`processing_status`,
//!   `request_counts`, `results_url`), and the results (one `{"custom_id",
//!   "result": {"type", "message" | "error"}}` per line);
//! - and the synchronous `POST /v1/chat/completions` and `POST /v1/messages`,
//!   so a synchronous `--record` of the same requests can be compared.
//!
//! A prompt is known by its last user message (as in `server.rs`). Prompts
//! listed as errors get an error result (a 400 synchronously); with
//! `expire`, those listed as expiring are left unanswered by an expired
//! batch. A batch answers `in progress` to its first `polls_before_end`
//! polls, then ends. Polls can be made slow (for a kill -9 mid-poll). The
//! server counts submissions, every `custom_id` submitted, polls and
//! synchronous calls. A request without the expected key gets a 401.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use super::server::{read_request, RawRequest};

/// How the server behaves.
#[derive(Debug, Clone, Default)]
pub struct Script {
    /// (last user message, answer text) per prompt.
    pub answers: Vec<(String, String)>,
    /// Prompts (indices) answered with an error.
    pub errors: HashSet<usize>,
    /// Prompts (indices) an expired batch leaves unanswered.
    pub expiring: HashSet<usize>,
    /// Batches end as expired (OpenAI `expired`, Anthropic results of type
    /// `expired` for the expiring prompts).
    pub expire: bool,
    /// Polls answered "in progress" before a batch ends.
    pub polls_before_end: usize,
    /// The key every request must carry.
    pub key: String,
}

#[derive(Default)]
struct Batch {
    anthropic: bool,
    /// custom_id → request body.
    requests: Vec<(String, Value)>,
    polls: usize,
}

struct State {
    script: Script,
    files: Mutex<BTreeMap<String, String>>,
    batches: Mutex<BTreeMap<String, Batch>>,
    submissions: AtomicUsize,
    submitted_ids: Mutex<Vec<String>>,
    polls: AtomicUsize,
    sync_calls: AtomicUsize,
    slow_polls: AtomicBool,
    addr: Mutex<Option<SocketAddr>>,
}

/// A running batch server; stops when dropped.
pub struct BatchServer {
    addr: SocketAddr,
    state: Arc<State>,
    _runtime: tokio::runtime::Runtime,
}

impl BatchServer {
    /// Start a server playing `script`.
    pub fn start(script: Script) -> BatchServer {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let state = Arc::new(State {
            script,
            files: Mutex::default(),
            batches: Mutex::default(),
            submissions: AtomicUsize::new(0),
            submitted_ids: Mutex::default(),
            polls: AtomicUsize::new(0),
            sync_calls: AtomicUsize::new(0),
            slow_polls: AtomicBool::new(false),
            addr: Mutex::new(None),
        });
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        *state.addr.lock().unwrap() = Some(addr);
        let accepting = state.clone();
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = accepting.clone();
                tokio::spawn(async move { serve(stream, &state).await });
            }
        });
        BatchServer { addr, state, _runtime: runtime }
    }

    /// Return `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Batches created so far.
    pub fn submissions(&self) -> usize {
        self.state.submissions.load(Ordering::SeqCst)
    }

    /// Every custom_id submitted, in order (a repeat is a double submission).
    pub fn submitted_ids(&self) -> Vec<String> {
        self.state.submitted_ids.lock().unwrap().clone()
    }

    /// Batch status requests so far.
    pub fn polls(&self) -> usize {
        self.state.polls.load(Ordering::SeqCst)
    }

    /// Synchronous chat calls so far.
    pub fn sync_calls(&self) -> usize {
        self.state.sync_calls.load(Ordering::SeqCst)
    }

    /// Make every batch status request wait a minute before it answers.
    pub fn slow_polls(&self, slow: bool) {
        self.state.slow_polls.store(slow, Ordering::SeqCst);
    }
}

async fn reply(stream: &mut TcpStream, status: u16, content_type: &str, body: &str) {
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

async fn json_reply(stream: &mut TcpStream, status: u16, body: Value) {
    reply(stream, status, "application/json", &body.to_string()).await;
}

/// The prompt index of a chat body (OpenAI or Anthropic shape).
fn prompt_of(state: &State, body: &Value) -> Option<usize> {
    let user = body["messages"].as_array()?.iter().rev().find(|m| m["role"] == "user")?["content"].as_str()?;
    state.script.answers.iter().position(|(u, _)| u == user)
}

fn openai_answer(text: &str) -> Value {
    let words = text.split_whitespace().count();
    json!({"id": "chatcmpl-1", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
           "usage": {"prompt_tokens": 100, "completion_tokens": words, "total_tokens": 100 + words}})
}

fn anthropic_answer(text: &str) -> Value {
    let words = text.split_whitespace().count();
    json!({"id": "msg_1", "type": "message", "role": "assistant", "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
           "usage": {"input_tokens": 100, "output_tokens": words}})
}

/// The multipart part named `file` of a body with `boundary`.
fn file_part(body: &str, boundary: &str) -> Option<String> {
    let delimiter = format!("--{boundary}");
    body.split(&delimiter).find(|part| part.contains("name=\"file\"")).and_then(|part| {
        let (_, content) = part.split_once("\r\n\r\n")?;
        Some(content.strip_suffix("\r\n").unwrap_or(content).to_string())
    })
}

async fn serve(mut stream: TcpStream, state: &State) {
    let Some(RawRequest { method, path, headers, body }) = read_request(&mut stream).await else {
        return;
    };
    let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let key = header("x-api-key")
        .or_else(|| header("authorization").map(|v| v.trim_start_matches("Bearer ").to_string()))
        .unwrap_or_default();
    if key != state.script.key {
        return json_reply(
            &mut stream,
            401,
            json!({"error": {"type": "authentication_error", "message": "invalid x-api-key"}}),
        )
        .await;
    }
    let json_body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let addr = state.addr.lock().unwrap().unwrap();
    match (method.as_str(), path.as_str()) {
        ("POST", "/v1/chat/completions") | ("POST", "/v1/messages") => {
            state.sync_calls.fetch_add(1, Ordering::SeqCst);
            let Some(index) = prompt_of(state, &json_body) else {
                return json_reply(&mut stream, 400, json!({"error": {"message": "unknown prompt"}})).await;
            };
            if state.script.errors.contains(&index) {
                return json_reply(
                    &mut stream,
                    400,
                    json!({"error": {"type": "invalid_request_error", "message": "scripted error"}}),
                )
                .await;
            }
            let text = &state.script.answers[index].1;
            let answer = if path == "/v1/messages" { anthropic_answer(text) } else { openai_answer(text) };
            json_reply(&mut stream, 200, answer).await
        }
        ("POST", "/v1/files") => {
            let boundary = header("content-type")
                .and_then(|c| c.split_once("boundary=").map(|(_, b)| b.to_string()))
                .unwrap_or_default();
            let text = String::from_utf8_lossy(&body).into_owned();
            if !text.contains("name=\"purpose\"\r\n\r\nbatch\r\n") {
                return json_reply(&mut stream, 400, json!({"error": {"message": "purpose must be batch"}})).await;
            }
            let Some(content) = file_part(&text, &boundary) else {
                return json_reply(&mut stream, 400, json!({"error": {"message": "no file part"}})).await;
            };
            let bytes = content.len();
            let id = {
                let mut files = state.files.lock().unwrap();
                let id = format!("file-in-{}", files.len() + 1);
                files.insert(id.clone(), content);
                id
            };
            json_reply(
                &mut stream,
                200,
                json!({"id": id, "object": "file", "bytes": bytes, "purpose": "batch", "filename": "batch.jsonl"}),
            )
            .await
        }
        ("POST", "/v1/batches") => {
            let input = json_body["input_file_id"].as_str().unwrap_or_default().to_string();
            if json_body["endpoint"] != "/v1/chat/completions" || json_body["completion_window"] != "24h" {
                return json_reply(
                    &mut stream,
                    400,
                    json!({"error": {"message": "bad endpoint or completion_window"}}),
                )
                .await;
            }
            let content = state.files.lock().unwrap().get(&input).cloned();
            let Some(content) = content else {
                return json_reply(&mut stream, 404, json!({"error": {"message": "no such file"}})).await;
            };
            let mut requests = Vec::new();
            for line in content.lines().filter(|l| !l.is_empty()) {
                let line: Value = serde_json::from_str(line).unwrap();
                assert_eq!(
                    (&line["method"], &line["url"]),
                    (&json!("POST"), &json!("/v1/chat/completions")),
                    "batch line shape"
                );
                requests.push((line["custom_id"].as_str().unwrap().to_string(), line["body"].clone()));
            }
            let id = create(state, false, requests);
            json_reply(
                &mut stream,
                200,
                json!({"id": id, "object": "batch", "endpoint": "/v1/chat/completions", "input_file_id": input, "completion_window": "24h", "status": "validating"}),
            )
            .await
        }
        ("POST", "/v1/messages/batches") => {
            let requests = json_body["requests"].as_array().cloned().unwrap_or_default();
            let requests: Vec<(String, Value)> =
                requests.iter().map(|r| (r["custom_id"].as_str().unwrap().to_string(), r["params"].clone())).collect();
            let id = create(state, true, requests);
            json_reply(&mut stream, 200, json!({"id": id, "type": "message_batch", "processing_status": "in_progress"}))
                .await
        }
        ("GET", p) if p.starts_with("/v1/files/") && p.ends_with("/content") => {
            let id = p.trim_start_matches("/v1/files/").trim_end_matches("/content");
            let content = state.files.lock().unwrap().get(id).cloned();
            match content {
                Some(content) => reply(&mut stream, 200, "application/jsonl", &content).await,
                None => json_reply(&mut stream, 404, json!({"error": {"message": "no such file"}})).await,
            }
        }
        ("GET", p) if p.starts_with("/v1/messages/batches/") && p.ends_with("/results") => {
            let id = p.trim_start_matches("/v1/messages/batches/").trim_end_matches("/results");
            let lines = state.batches.lock().unwrap().get(id).map(|b| results(state, b));
            match lines {
                Some(lines) => {
                    reply(
                        &mut stream,
                        200,
                        "application/binary",
                        &lines.iter().map(|l| l.to_string() + "\n").collect::<String>(),
                    )
                    .await
                }
                None => json_reply(&mut stream, 404, json!({"error": {"message": "no such batch"}})).await,
            }
        }
        ("GET", p) if p.starts_with("/v1/batches/") || p.starts_with("/v1/messages/batches/") => {
            state.polls.fetch_add(1, Ordering::SeqCst);
            if state.slow_polls.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
            let id = p.rsplit('/').next().unwrap().to_string();
            let answer = poll_answer(state, &id, addr);
            match answer {
                Some(answer) => json_reply(&mut stream, 200, answer).await,
                None => json_reply(&mut stream, 404, json!({"error": {"message": "no such batch"}})).await,
            }
        }
        _ => {
            json_reply(&mut stream, 404, json!({"error": {"message": format!("no such endpoint: {method} {path}")}}))
                .await
        }
    }
}

/// The status of batch `id` at this poll (`None`: no such batch).
fn poll_answer(state: &State, id: &str, addr: SocketAddr) -> Option<Value> {
    let mut batches = state.batches.lock().unwrap();
    let batch = batches.get_mut(id)?;
    batch.polls += 1;
    let ended = batch.polls > state.script.polls_before_end;
    let total = batch.requests.len();
    let answer = if batch.anthropic {
        let (processing, succeeded) = if ended { (0, total) } else { (total, 0) };
        json!({"id": id, "type": "message_batch", "processing_status": if ended { "ended" } else { "in_progress" },
                       "request_counts": {"processing": processing, "succeeded": succeeded, "errored": 0, "canceled": 0, "expired": 0},
                       "results_url": if ended { Value::from(format!("http://{addr}/v1/messages/batches/{id}/results")) } else { Value::Null }})
    } else if ended {
        let lines = results(state, batch);
        let (ok, failed): (Vec<&Value>, Vec<&Value>) =
            lines.iter().partition(|l| l["error"].is_null() && l["response"]["status_code"] == 200);
        let mut files = state.files.lock().unwrap();
        let out = format!("file-out-{id}");
        files.insert(out.clone(), ok.iter().map(|l| l.to_string() + "\n").collect());
        let err = format!("file-err-{id}");
        files.insert(err.clone(), failed.iter().map(|l| l.to_string() + "\n").collect());
        json!({"id": id, "object": "batch", "status": if state.script.expire { "expired" } else { "completed" },
                       "output_file_id": out, "error_file_id": if failed.is_empty() { Value::Null } else { Value::from(err) },
                       "request_counts": {"total": total, "completed": ok.len(), "failed": failed.len()}})
    } else {
        json!({"id": id, "object": "batch", "status": "in_progress", "output_file_id": null, "request_counts": {"total": total, "completed": 0, "failed": 0}})
    };
    Some(answer)
}

fn create(state: &State, anthropic: bool, requests: Vec<(String, Value)>) -> String {
    let n = state.submissions.fetch_add(1, Ordering::SeqCst) + 1;
    state.submitted_ids.lock().unwrap().extend(requests.iter().map(|(id, _)| id.clone()));
    let id = if anthropic { format!("msgbatch_{n}") } else { format!("batch_{n}") };
    state.batches.lock().unwrap().insert(id.clone(), Batch { anthropic, requests, polls: 0 });
    id
}

/// The result lines of an ended batch, in its format.
fn results(state: &State, batch: &Batch) -> Vec<Value> {
    batch
        .requests
        .iter()
        .enumerate()
        .map(|(i, (custom_id, body))| {
            let index = prompt_of(state, body);
            let expired = state.script.expire && index.is_some_and(|p| state.script.expiring.contains(&p));
            let error = index.is_none_or(|p| state.script.errors.contains(&p));
            if batch.anthropic {
                let result = if expired {
                    json!({"type": "expired"})
                } else if error {
                    json!({"type": "errored", "error": {"type": "error", "error": {"type": "invalid_request_error", "message": "scripted error"}}})
                } else {
                    json!({"type": "succeeded", "message": anthropic_answer(&state.script.answers[index.unwrap()].1)})
                };
                json!({"custom_id": custom_id, "result": result})
            } else if expired {
                json!({"id": format!("batch_req_{i}"), "custom_id": custom_id, "response": null, "error": {"code": "batch_expired", "message": "This request could not be executed before the completion window expired."}})
            } else if error {
                json!({"id": format!("batch_req_{i}"), "custom_id": custom_id, "response": {"status_code": 400, "request_id": "r", "body": {"error": {"code": "invalid_request", "message": "scripted error"}}}, "error": null})
            } else {
                json!({"id": format!("batch_req_{i}"), "custom_id": custom_id, "response": {"status_code": 200, "request_id": "r", "body": openai_answer(&state.script.answers[index.unwrap()].1)}, "error": null})
            }
        })
        .collect()
}
