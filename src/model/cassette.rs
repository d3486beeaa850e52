//! Cassettes: recorded answers, one JSON Lines file per model under
//! `golden/cassettes/<model-id>.jsonl`.
//!
//! Each line is one [`Record`]: the request key (SHA-256 of a canonical
//! serialisation of [`KeyParts`]: provider, base URL, model, the exact
//! request body, sample index and prompt version — never a key or an auth
//! header), the parts themselves (so a miss can say what changed), the
//! answer text, token usage, latency and recording time. Lines are
//! appended one at a time and fsynced; a torn last line (a writer killed
//! mid-line) is skipped with a warning and cut off before the next append.
//! When a key occurs twice, the first record wins.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::Usage;

/// Prefix of the hashed text; changes when the key scheme does.
const KEY_SCHEME: &str = "harness-cassette-key-v1\n";

/// Everything that identifies a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyParts {
    /// Provider kind (`openai`, `anthropic`, `gemini`, `replay`).
    pub provider: String,
    /// Endpoint (no trailing `/`).
    pub base_url: String,
    /// The provider's model name.
    pub model: String,
    /// The exact JSON body sent (messages and sampling).
    pub body: Value,
    /// Which sample of the same prompt (0-based).
    pub sample: u32,
    /// Version of the prompt template that produced the messages.
    pub prompt_version: String,
}

impl KeyParts {
    /// Return the cassette key: hex SHA-256 of `"harness-cassette-key-v1\n"`
    /// followed by the canonical JSON of the parts (object keys sorted, no
    /// whitespace, non-ASCII unescaped) — in Python,
    /// `json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`,
    /// which the pinned snapshot `cassette_key_v1` was checked against.
    pub fn key(&self) -> String {
        let value = serde_json::to_value(self).unwrap_or(Value::Null);
        let mut text = String::from(KEY_SCHEME);
        canonical(&value, &mut text);
        let digest = Sha256::digest(text.as_bytes());
        digest.iter().fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
    }
}

/// Write `value` as JSON with sorted object keys and no whitespace.
fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The command that records a model's missing answers: the subcommand the
/// user ran (`matrix` or `generate`), narrowed to the one model, with
/// `--record` and every option of that run that changes the requests or
/// where they are kept (`--registry`, `--cassettes`, the suites, the
/// prompts), so that a cassette miss or a skipped model names the exact
/// command to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rerecord {
    /// `matrix` or `generate`.
    pub subcommand: String,
    /// The flag naming the model: `--models` (matrix) or `--model` (generate).
    pub model_flag: String,
    /// The other arguments, in order, unquoted (quoted when rendered).
    pub args: Vec<String>,
}

impl Default for Rerecord {
    /// `harness matrix --models ID --record`.
    fn default() -> Rerecord {
        Rerecord { subcommand: "matrix".into(), model_flag: "--models".into(), args: Vec::new() }
    }
}

impl Rerecord {
    /// Return the command line that records the answers of model `id`,
    /// quoted for a POSIX shell where a word needs it.
    pub fn command(&self, id: &str) -> String {
        let mut words = vec!["harness".to_string(), self.subcommand.clone(), self.model_flag.clone(), id.to_string()];
        words.extend(self.args.iter().cloned());
        words.push("--record".into());
        words.iter().map(|w| shell_word(w)).collect::<Vec<_>>().join(" ")
    }
}

/// `word` as one word of a POSIX shell command: as it is when it holds
/// only safe characters, else in single quotes.
fn shell_word(word: &str) -> String {
    let safe = !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// One recorded answer (one line of a cassette).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// `parts.key()`.
    pub key: String,
    /// What the key was computed from (kept to explain misses).
    pub parts: KeyParts,
    /// The answer text.
    pub text: String,
    /// Tokens used.
    pub usage: Usage,
    /// Milliseconds the live call took.
    pub latency_ms: u64,
    /// The provider's stop reason.
    pub finish_reason: Option<String>,
    /// When it was recorded, RFC 3339 UTC.
    pub recorded_at: String,
}

/// Why a cassette could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CassetteError {
    /// Reading or writing the file failed.
    #[error("cassette {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A line other than a torn last one is not a record.
    #[error("cassette {path}, line {line}: not a record ({message}); fix or delete the line")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What the JSON parser said.
        message: String,
    },
    /// A record's key does not match its parts.
    #[error("cassette {path}: record key {key} does not match its parts (hand-edited?)")]
    KeyMismatch {
        /// The file.
        path: PathBuf,
        /// The stored key.
        key: String,
    },
}

/// The recorded answers of one model.
#[derive(Debug)]
pub struct Cassette {
    path: PathBuf,
    records: Vec<Record>,
    index: HashMap<String, usize>,
    /// Length of the file up to the end of the last complete line, when a
    /// torn line follows it (cut before the next append).
    torn_at: Option<u64>,
    /// The last record lacks its newline (written before the next append).
    unterminated: bool,
    warnings: Vec<String>,
}

impl Cassette {
    /// Read a cassette; a missing file is an empty cassette.
    ///
    /// # Errors
    /// [`CassetteError::Io`] when the file exists but cannot be read;
    /// [`CassetteError::Corrupt`] for a bad line that is not the torn last
    /// one; [`CassetteError::KeyMismatch`] for a record whose key is not
    /// the hash of its parts.
    pub fn open(path: &Path) -> Result<Cassette, CassetteError> {
        let mut cassette = Cassette {
            path: path.to_path_buf(),
            records: Vec::new(),
            index: HashMap::new(),
            torn_at: None,
            unterminated: false,
            warnings: Vec::new(),
        };
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(cassette),
            Err(source) => return Err(CassetteError::Io { path: path.to_path_buf(), source }),
        };
        let mut offset = 0usize;
        let mut line_number = 0usize;
        while offset < bytes.len() {
            line_number += 1;
            let (line, next, complete) = match bytes[offset..].iter().position(|&b| b == b'\n') {
                Some(end) => (&bytes[offset..offset + end], offset + end + 1, true),
                None => (&bytes[offset..], bytes.len(), false),
            };
            if line.iter().all(u8::is_ascii_whitespace) {
                offset = next;
                continue;
            }
            match serde_json::from_slice::<Record>(line) {
                Ok(record) => {
                    if record.parts.key() != record.key {
                        return Err(CassetteError::KeyMismatch { path: path.to_path_buf(), key: record.key });
                    }
                    // A complete record without its newline is kept; the next
                    // append ends its line first.
                    cassette.unterminated = !complete;
                    cassette.insert(record);
                }
                Err(error) if !complete => {
                    let warning = format!(
                        "cassette {}: skipped a torn last line {line_number} ({} bytes, {error}); it is removed at the next recording",
                        path.display(),
                        line.len()
                    );
                    eprintln!("warning: {warning}");
                    cassette.warnings.push(warning);
                    cassette.torn_at = Some(offset as u64);
                }
                Err(error) => {
                    return Err(CassetteError::Corrupt {
                        path: path.to_path_buf(),
                        line: line_number,
                        message: error.to_string(),
                    });
                }
            }
            offset = next;
        }
        Ok(cassette)
    }

    fn insert(&mut self, record: Record) {
        if !self.index.contains_key(&record.key) {
            self.index.insert(record.key.clone(), self.records.len());
            self.records.push(record);
        }
    }

    /// Return the file of this cassette.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Return every record, in file order.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// Return the warnings of [`Cassette::open`] (a skipped torn line).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Return the record with this key.
    pub fn get(&self, key: &str) -> Option<&Record> {
        self.index.get(key).map(|&i| &self.records[i])
    }

    /// Append a record as one line, then flush and fsync. Creates the file
    /// and its folder; a torn last line left by a killed writer is cut off
    /// first. A record whose key is already present is not written again.
    ///
    /// # Errors
    /// [`CassetteError::Io`] when the file cannot be written;
    /// [`CassetteError::KeyMismatch`] when `rec.key` is not `rec.parts.key()`.
    pub fn append(&mut self, rec: Record) -> Result<(), CassetteError> {
        if rec.parts.key() != rec.key {
            return Err(CassetteError::KeyMismatch { path: self.path.clone(), key: rec.key });
        }
        if self.index.contains_key(&rec.key) {
            return Ok(());
        }
        let io = |source| CassetteError::Io { path: self.path.clone(), source };
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&self.path).map_err(io)?;
        let mut line = serde_json::to_string(&rec).map_err(|error| io(std::io::Error::other(error)))?;
        line.push('\n');
        if let Some(cut) = self.torn_at.take() {
            file.set_len(cut).map_err(io)?;
        }
        if std::mem::take(&mut self.unterminated) {
            line.insert(0, '\n');
        }
        file.write_all(line.as_bytes()).map_err(io)?;
        file.flush().map_err(io)?;
        file.sync_all().map_err(io)?;
        self.insert(rec);
        Ok(())
    }

    /// Explain why `parts` is not in the cassette of model `model_id`: the
    /// nearest recorded request and what differs (the prompt version, the
    /// sample index, the model or endpoint, which body fields), and the
    /// command that re-records it (`rerecord`, see [`Rerecord::command`]).
    pub fn explain_miss(&self, parts: &KeyParts, model_id: &str, rerecord: &str) -> String {
        let mut text = format!(
            "no recorded answer for model '{model_id}' (sample {}, prompt version '{}') in {}",
            parts.sample,
            parts.prompt_version,
            self.path.display()
        );
        match self.nearest(parts) {
            None => text.push_str(": the cassette is empty or missing"),
            Some(record) => {
                let differences = differences(&record.parts, parts);
                let _ = write!(
                    text,
                    "\nnearest recorded request (key {}…, recorded {}): {}",
                    &record.key[..12.min(record.key.len())],
                    record.recorded_at,
                    differences.join("; ")
                );
                let same_prompt: Vec<u32> = self
                    .records
                    .iter()
                    .filter(|r| KeyParts { sample: parts.sample, ..r.parts.clone() } == *parts)
                    .map(|r| r.parts.sample)
                    .collect();
                if !same_prompt.is_empty() {
                    let list: Vec<String> = same_prompt.iter().map(u32::to_string).collect();
                    let _ = write!(text, "\nthis exact request is recorded for sample(s) {} only", list.join(", "));
                }
            }
        }
        let _ = write!(text, "\nre-record with: {rerecord}");
        text
    }

    /// The record whose parts differ least from `parts`.
    fn nearest(&self, parts: &KeyParts) -> Option<&Record> {
        self.records.iter().min_by_key(|record| {
            let r = &record.parts;
            let mut score = 0usize;
            score += 100 * usize::from(r.provider != parts.provider);
            score += 100 * usize::from(r.model != parts.model);
            score += 50 * usize::from(r.base_url != parts.base_url);
            score += 10 * usize::from(r.prompt_version != parts.prompt_version);
            score += usize::from(r.sample != parts.sample);
            let mut paths = Vec::new();
            diff_paths(&r.body, &parts.body, String::new(), &mut paths);
            score + 5 * paths.len()
        })
    }
}

/// Describe how the request `now` differs from the recorded one.
fn differences(recorded: &KeyParts, now: &KeyParts) -> Vec<String> {
    let mut out = Vec::new();
    if recorded.prompt_version != now.prompt_version {
        out.push(format!(
            "the prompt changed (prompt version '{}' → '{}')",
            recorded.prompt_version, now.prompt_version
        ));
    }
    if recorded.sample != now.sample {
        out.push(format!("sample {} → {}", recorded.sample, now.sample));
    }
    for (name, a, b) in [
        ("provider", &recorded.provider, &now.provider),
        ("model", &recorded.model, &now.model),
        ("base_url", &recorded.base_url, &now.base_url),
    ] {
        if a != b {
            out.push(format!("{name} changed ('{a}' → '{b}')"));
        }
    }
    let mut paths = Vec::new();
    diff_paths(&recorded.body, &now.body, String::new(), &mut paths);
    if !paths.is_empty() {
        const SHOWN: usize = 8;
        let more = paths.len().saturating_sub(SHOWN);
        paths.truncate(SHOWN);
        let mut line = format!("the request body differs at {}", paths.join(", "));
        if more > 0 {
            let _ = write!(line, " and {more} more");
        }
        out.push(line);
    }
    if out.is_empty() {
        out.push("no difference in the stored parts (the key scheme changed?)".into());
    }
    out
}

/// Collect the JSON paths (`messages[1].content`, `temperature`) where
/// `a` and `b` differ; a differing string says where it first differs.
fn diff_paths(a: &Value, b: &Value, path: String, out: &mut Vec<String>) {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                match (x.get(key), y.get(key)) {
                    (Some(u), Some(v)) => diff_paths(u, v, join(key), out),
                    (Some(_), None) => out.push(format!("{} (no longer sent)", join(key))),
                    (None, _) => out.push(format!("{} (newly sent)", join(key))),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                diff_paths(u, v, format!("{path}[{i}]"), out);
            }
            if x.len() != y.len() {
                out.push(format!(
                    "{} ({} items → {})",
                    if path.is_empty() { "(body)" } else { &path },
                    x.len(),
                    y.len()
                ));
            }
        }
        (Value::String(x), Value::String(y)) if x != y => {
            let at = x.chars().zip(y.chars()).take_while(|(c, d)| c == d).count();
            out.push(format!(
                "{} (first difference at character {at})",
                if path.is_empty() { "(body)" } else { &path }
            ));
        }
        _ if a != b => out.push(if path.is_empty() { "(body)".into() } else { format!("{path} ({a} → {b})") }),
        _ => {}
    }
}

/// Return the current time as RFC 3339 UTC with seconds (`2025-01-31T12:00:00Z`).
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parts(content: &str, temperature: f64, sample: u32, version: &str) -> KeyParts {
        KeyParts {
            provider: "openai".into(),
            base_url: "https://api.openai.com/v1".into(),
            model: "gpt-4o".into(),
            body: json!({"model": "gpt-4o", "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": content}], "temperature": temperature}),
            sample,
            prompt_version: version.into(),
        }
    }

    fn record(parts: KeyParts, text: &str) -> Record {
        Record {
            key: parts.key(),
            parts,
            text: text.into(),
            usage: Usage { prompt_tokens: 10, completion_tokens: 5 },
            latency_ms: 123,
            finish_reason: Some("stop".into()),
            recorded_at: "2025-01-31T12:00:00Z".into(),
        }
    }

    #[test]
    fn key_is_canonical_and_sensitive_to_every_part() {
        let a = parts("dns", 0.7, 0, "dns/v1");
        assert_eq!(a.key().len(), 64);
        // Key order inside the body does not matter.
        let mut reordered = a.clone();
        reordered.body = serde_json::from_str(r#"{"temperature":0.7,"messages":[{"content":"sys","role":"system"},{"content":"dns","role":"user"}],"model":"gpt-4o"}"#).unwrap();
        assert_eq!(a.key(), reordered.key());
        let variants = [
            parts("dns!", 0.7, 0, "dns/v1"),
            parts("dns", 0.8, 0, "dns/v1"),
            parts("dns", 0.7, 1, "dns/v1"),
            parts("dns", 0.7, 0, "dns/v2"),
            KeyParts { model: "gpt-4o-mini".into(), ..a.clone() },
            KeyParts { base_url: "http://127.0.0.1:8080/v1".into(), ..a.clone() },
            KeyParts { provider: "anthropic".into(), ..a.clone() },
        ];
        for variant in variants {
            assert_ne!(a.key(), variant.key(), "{variant:?}");
        }
        // Pinned: a change of the key scheme must be deliberate (it orphans every cassette).
        assert_snapshot_key(&a);
    }

    fn assert_snapshot_key(parts: &KeyParts) {
        insta::assert_snapshot!("cassette_key_v1", parts.key());
    }

    #[test]
    fn round_trip_and_first_record_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/gpt-4o.jsonl");
        let mut cassette = Cassette::open(&path).unwrap();
        assert!(cassette.records().is_empty());
        let first = record(parts("dns", 0.7, 0, "v1"), "answer one");
        cassette.append(first.clone()).unwrap();
        cassette.append(record(parts("dns", 0.7, 0, "v1"), "a second answer for the same key")).unwrap();
        cassette.append(record(parts("tcp", 0.7, 0, "v1"), "answer two")).unwrap();
        let reopened = Cassette::open(&path).unwrap();
        assert_eq!(reopened.records().len(), 2);
        assert_eq!(reopened.get(&first.key), Some(&first));
        assert!(reopened.warnings().is_empty());
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn torn_last_line_is_skipped_then_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.jsonl");
        let good = record(parts("dns", 0.7, 0, "v1"), "kept");
        let line = serde_json::to_string(&good).unwrap();
        std::fs::write(&path, format!("{line}\n{}", &line[..line.len() / 2])).unwrap();
        let mut cassette = Cassette::open(&path).unwrap();
        assert_eq!(cassette.records().len(), 1);
        assert_eq!(cassette.warnings().len(), 1);
        assert!(cassette.warnings()[0].contains("torn last line 2"), "{:?}", cassette.warnings());
        let next = record(parts("tcp", 0.7, 0, "v1"), "new");
        cassette.append(next.clone()).unwrap();
        let reopened = Cassette::open(&path).unwrap();
        assert!(reopened.warnings().is_empty());
        assert_eq!(reopened.records(), &[good.clone(), next.clone()]);

        // A complete last record without its newline is kept, and the next
        // append starts a new line.
        std::fs::write(&path, &line).unwrap();
        let mut cassette = Cassette::open(&path).unwrap();
        assert_eq!(cassette.records().len(), 1);
        cassette.append(next.clone()).unwrap();
        assert_eq!(Cassette::open(&path).unwrap().records(), &[good, next]);
    }

    #[test]
    fn corrupt_middle_line_and_forged_key_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.jsonl");
        let line = serde_json::to_string(&record(parts("dns", 0.7, 0, "v1"), "x")).unwrap();
        std::fs::write(&path, format!("{line}\nnot json\n{line}\n")).unwrap();
        let error = Cassette::open(&path).unwrap_err().to_string();
        assert!(error.contains("line 2: not a record"), "{error}");
        let mut forged = record(parts("dns", 0.7, 0, "v1"), "x");
        forged.parts.sample = 3;
        std::fs::write(&path, format!("{}\n", serde_json::to_string(&forged).unwrap())).unwrap();
        assert!(Cassette::open(&path).unwrap_err().to_string().contains("does not match its parts"));
    }

    #[test]
    fn explain_miss_names_what_changed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gpt-4o.jsonl");
        let mut cassette = Cassette::open(&path).unwrap();
        let matrix = Rerecord::default().command("gpt-4o");
        let empty = cassette.explain_miss(&parts("dns", 0.7, 0, "v1"), "gpt-4o", &matrix);
        assert!(
            empty.contains("empty or missing")
                && empty.ends_with("\nre-record with: harness matrix --models gpt-4o --record"),
            "{empty}"
        );
        cassette.append(record(parts("a DNS query for example.com", 0.7, 0, "dns/v1"), "x")).unwrap();
        cassette.append(record(parts("an unrelated TCP prompt", 0.2, 0, "tcp/v1"), "y")).unwrap();

        let prompt = cassette.explain_miss(&parts("a DNS query for example.com", 0.7, 0, "dns/v2"), "gpt-4o", &matrix);
        assert!(prompt.contains("the prompt changed (prompt version 'dns/v1' → 'dns/v2')"), "{prompt}");
        assert!(!prompt.contains("body differs"), "{prompt}");

        let field = cassette.explain_miss(&parts("a DNS query for example.org", 0.9, 0, "dns/v1"), "gpt-4o", &matrix);
        assert!(field.contains("the request body differs at messages[1].content (first difference at character 24), temperature (0.7 → 0.9)"), "{field}");

        let sample = cassette.explain_miss(&parts("a DNS query for example.com", 0.7, 4, "dns/v1"), "gpt-4o", &matrix);
        assert!(sample.contains("sample 0 → 4") && sample.contains("recorded for sample(s) 0 only"), "{sample}");
        insta::assert_snapshot!("explain_miss_body", field.replace(&path.display().to_string(), "[CASSETTE]"));
    }

    #[test]
    fn rerecord_names_the_subcommand_and_its_files() {
        assert_eq!(Rerecord::default().command("local-llama"), "harness matrix --models local-llama --record");
        let generate = Rerecord {
            subcommand: "generate".into(),
            model_flag: "--model".into(),
            args: [
                "--suite",
                "dns-packet",
                "--count",
                "3",
                "--out",
                "runs/a b",
                "--registry",
                "my models.toml",
                "--cassettes",
                "it's/here",
            ]
            .map(String::from)
            .to_vec(),
        };
        assert_eq!(
            generate.command("gpt-4o"),
            "harness generate --model gpt-4o --suite dns-packet --count 3 --out 'runs/a b' --registry 'my models.toml' --cassettes 'it'\\''s/here' --record"
        );
    }

    #[test]
    fn now_is_rfc3339_utc() {
        let now = now_rfc3339();
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.ends_with('Z') && now.as_bytes()[10] == b'T', "{now}");
    }
}
