//! `harness matrix --record --batch` end to end against a loopback server
//! with the OpenAI and Anthropic batch endpoints (tests/common/batch_server.rs):
//! submit, poll (in progress, then ended), answers written into the
//! cassettes exactly as a synchronous `--record` of the same requests
//! writes them, per-request errors kept out of the cassettes as failed
//! requests, an expired batch reported with what it answered, and a run
//! killed with SIGKILL between submission and completion that `--resume`
//! continues without submitting anything twice. The JSON dialect needs no
//! Scapy and `--tshark off` no tshark, so these always run.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::batch_server::{BatchServer, Script};
use common::server::reference_answers;
use serde_json::Value;

const SUITE: &str = "bulk";
const COUNT: usize = 6;
const KEY: &str = "sk-batch-test-key-7c1e0d5a93";
const KEY_ENV: &str = "HARNESS_TEST_BATCH_KEY";
const MODELS: &str = "bulk-openai,bulk-anthropic";

struct Rig {
    dir: tempfile::TempDir,
    server: BatchServer,
}

impl Rig {
    fn new(configure: impl FnOnce(&mut Script)) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let suites = dir.path().join("suites");
        std::fs::create_dir_all(&suites).unwrap();
        std::fs::write(
            suites.join(format!("{SUITE}.toml")),
            format!("protocol = \"dns\"\nmode = \"conversation\"\ndialect = \"json\"\ncount = {COUNT}\nseed = 11\n"),
        )
        .unwrap();
        let mut script = Script {
            answers: reference_answers(&suites, SUITE),
            polls_before_end: 2,
            key: KEY.into(),
            ..Script::default()
        };
        configure(&mut script);
        let server = BatchServer::start(script);
        let registry = format!(
            "[[model]]\nid = \"bulk-openai\"\nkind = \"openai\"\nbase_url = \"{}\"\nmodel = \"gpt-bulk\"\nkey_env = \"{KEY_ENV}\"\nmax_retries = 0\n\n\
             [[model]]\nid = \"bulk-anthropic\"\nkind = \"anthropic\"\nbase_url = \"{}\"\nmodel = \"claude-bulk\"\nkey_env = \"{KEY_ENV}\"\nmax_retries = 0\nsampling = {{ max_tokens = 512 }}\n",
            server.url("/v1"),
            server.url("")
        );
        std::fs::write(dir.path().join("models.toml"), registry).unwrap();
        Rig { dir, server }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `harness matrix --record` of `models` into `out` with the cassettes
    /// of `cassettes` and `extra` flags.
    fn command(&self, models: &str, out: &str, cassettes: &str, extra: &[&str]) -> Command {
        self.matrix("--record", models, out, cassettes, extra)
    }

    /// `harness matrix` in `mode` (`--record`, `--offline`), as `command`.
    fn matrix(&self, mode: &str, models: &str, out: &str, cassettes: &str, extra: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_harness"));
        cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
            .env(KEY_ENV, KEY)
            .args([
                "matrix", "--models", models, "--suites", SUITE, "--tshark", "off", "--format", "json", mode, "--jobs",
                "1", "--quiet",
            ])
            .arg("--suites-dir")
            .arg(self.path("suites"))
            .arg("--registry")
            .arg(self.path("models.toml"))
            .arg("--cassettes")
            .arg(self.path(cassettes))
            .arg("--out")
            .arg(self.path(out))
            .args(extra);
        cmd
    }

    fn run(&self, models: &str, out: &str, cassettes: &str, extra: &[&str]) -> Output {
        self.command(models, out, cassettes, extra).output().unwrap()
    }

    /// A cassette's records by key, without what differs between two
    /// recordings of the same answer (latency, time of recording).
    fn cassette(&self, cassettes: &str, model: &str) -> BTreeMap<String, Value> {
        let text = std::fs::read_to_string(self.path(cassettes).join(format!("{model}.jsonl"))).unwrap_or_default();
        text.lines()
            .map(|line| {
                let mut record: Value = serde_json::from_str(line).unwrap();
                let object = record.as_object_mut().unwrap();
                assert!(
                    object.remove("latency_ms").is_some() && object.remove("recorded_at").is_some(),
                    "record shape: {line}"
                );
                (record["key"].as_str().unwrap().to_string(), record)
            })
            .collect()
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn report(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(output)))
}

/// Every file under `dir`, read as text.
fn files_under(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push((path.clone(), String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned()));
        }
    }
    out
}

fn requests_failed(report: &Value, model: &str) -> u64 {
    report["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["model"] == model)
        .map(|c| c["requests_failed"].as_u64().unwrap_or(0))
        .sum()
}

#[test]
fn batches_record_what_synchronous_recording_records() {
    // Prompt 1 is answered with an error by both ways of recording.
    let rig = Rig::new(|s| {
        s.errors.insert(1);
    });
    // Submit: one batch per model, polled once (in progress): exit 2, no report.
    let first = rig.run(MODELS, "batch", "tapes-batch", &["--batch"]);
    assert_eq!(first.status.code(), Some(2), "{}", stderr(&first));
    assert!(first.stdout.is_empty(), "no report while a batch runs");
    let text = stderr(&first);
    assert!(
        text.contains("batch batch_1 of model bulk-openai: submitted 6 requests")
            && text.contains("batch msgbatch_2 of model bulk-anthropic: submitted 6 requests"),
        "{text}"
    );
    assert!(text.contains("still running") && text.contains("--resume"), "{text}");
    assert_eq!((rig.server.submissions(), rig.server.sync_calls()), (2, 0));
    assert!(rig.cassette("tapes-batch", "bulk-openai").is_empty(), "nothing recorded before the batch ends");
    let state: Value = serde_json::from_str(&std::fs::read_to_string(rig.path("batch/batches.json")).unwrap()).unwrap();
    assert_eq!(
        state["batches"].as_array().unwrap().iter().map(|b| b["id"].as_str().unwrap()).collect::<Vec<_>>(),
        ["batch_1", "msgbatch_2"]
    );
    // Without --resume the run refuses the folder rather than submitting again.
    let again = rig.run(MODELS, "batch", "tapes-batch", &["--batch"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("holds the batches of an earlier run") && stderr(&again).contains("--resume"),
        "{}",
        stderr(&again)
    );
    // Poll: still in progress.
    let second = rig.run(MODELS, "batch", "tapes-batch", &["--batch", "--resume"]);
    assert_eq!(second.status.code(), Some(2), "{}", stderr(&second));
    assert!(stderr(&second).contains("in_progress"), "{}", stderr(&second));
    // Poll: ended; the answers go to the cassettes and the run goes on offline.
    let third = rig.run(MODELS, "batch", "tapes-batch", &["--batch", "--resume"]);
    assert!(matches!(third.status.code(), Some(0 | 1)), "{}", stderr(&third));
    assert!(stderr(&third).contains("5 of 6 requests answered and recorded"), "{}", stderr(&third));
    let batched = report(&third);
    assert_eq!(
        (rig.server.submissions(), rig.server.sync_calls()),
        (2, 0),
        "nothing submitted twice, nothing called synchronously"
    );
    let ids = rig.server.submitted_ids();
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len(), "no request submitted twice");
    assert_eq!(ids.len(), 2 * COUNT);
    // The same requests recorded synchronously.
    let sync = rig.run(MODELS, "sync", "tapes-sync", &[]);
    assert!(matches!(sync.status.code(), Some(0 | 1)), "{}", stderr(&sync));
    let synced = report(&sync);
    assert_eq!(rig.server.sync_calls(), 2 * COUNT);
    for model in ["bulk-openai", "bulk-anthropic"] {
        let (b, s) = (rig.cassette("tapes-batch", model), rig.cassette("tapes-sync", model));
        assert_eq!(b.len(), COUNT - 1, "{model}: every answer but the error");
        assert_eq!(b, s, "{model}: batch cassette = synchronous cassette");
        // The error is a failed request in both runs, never recorded.
        assert_eq!((requests_failed(&batched, model), requests_failed(&synced, model)), (1, 1), "{model}");
    }
    for field in ["conversations", "protocols", "checks"] {
        let pick = |r: &Value| r["cells"].as_array().unwrap().iter().map(|c| c[field].clone()).collect::<Vec<_>>();
        assert_eq!(pick(&batched), pick(&synced), "{field}");
    }
    // The key is in no file the runs wrote.
    for (path, text) in files_under(rig.dir.path()).into_iter().filter(|(p, _)| !p.ends_with("models.toml")) {
        assert!(!text.contains(KEY), "the key is in {}", path.display());
    }
    // Once recorded, an offline run answers everything from the cassettes.
    let offline =
        report(&rig.matrix("--offline", MODELS, "offline", "tapes-batch", &[]).env_remove(KEY_ENV).output().unwrap());
    assert_eq!(
        offline["cells"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["exec_failures"]["cassette"].as_u64().unwrap_or(0))
            .sum::<u64>(),
        2,
        "only the errors are missing"
    );
}

#[test]
fn an_expired_batch_keeps_what_it_answered() {
    let rig = Rig::new(|s| {
        s.expire = true;
        s.expiring = [0, 4].into_iter().collect();
        s.polls_before_end = 0;
    });
    let run = rig.run(MODELS, "out", "tapes", &["--batch"]);
    assert!(matches!(run.status.code(), Some(0 | 1)), "{}", stderr(&run));
    let text = stderr(&run);
    assert!(
        text.contains("batch batch_1 of model bulk-openai: expired, 4 of 6 requests answered and recorded; it expired before answering 2"),
        "{text}"
    );
    assert!(
        text.contains("batch msgbatch_2 of model bulk-anthropic: ended, 4 of 6 requests answered and recorded; it expired before answering 2"),
        "{text}"
    );
    let report = report(&run);
    for model in ["bulk-openai", "bulk-anthropic"] {
        assert_eq!(rig.cassette("tapes", model).len(), 4, "{model}");
        assert_eq!(requests_failed(&report, model), 2, "{model}");
    }
    let journal = std::fs::read_to_string(rig.path("out/bulk-openai").join(SUITE).join("journal.jsonl")).unwrap();
    assert!(journal.contains("expired"), "the failed requests say why: {journal}");
}

#[test]
fn killed_between_submission_and_completion_resume_submits_nothing_twice() {
    let rig = Rig::new(|s| s.polls_before_end = 0);
    rig.server.slow_polls(true);
    let mut child =
        rig.command(MODELS, "out", "tapes", &["--batch"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    // The first batch is submitted, then its poll hangs: kill -9 there.
    let deadline = Instant::now() + Duration::from_secs(60);
    while rig.server.polls() == 0 {
        assert!(Instant::now() < deadline, "no poll within 60 s");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before its poll");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(rig.server.submissions(), 1);
    rig.server.slow_polls(false);
    // Resume: the first batch is polled (ended), the second submitted once.
    let resumed = rig.run(MODELS, "out", "tapes", &["--batch", "--resume"]);
    let text = stderr(&resumed);
    assert!(text.contains("batch batch_1 of model bulk-openai: completed, 6 of 6"), "{text}");
    assert!(!text.contains("batch_1 of model bulk-openai: submitted"), "{text}");
    let mut code = resumed.status.code();
    let mut runs = 0;
    while code == Some(2) {
        runs += 1;
        assert!(runs < 5, "the batches never ended");
        let again = rig.run(MODELS, "out", "tapes", &["--batch", "--resume"]);
        code = again.status.code();
        assert!(matches!(code, Some(0..=2)), "{}", stderr(&again));
    }
    assert_eq!(rig.server.submissions(), 2, "one batch per model, none twice");
    let ids = rig.server.submitted_ids();
    assert_eq!(
        (ids.len(), ids.iter().collect::<HashSet<_>>().len()),
        (2 * COUNT, 2 * COUNT),
        "no request submitted twice"
    );
    for model in ["bulk-openai", "bulk-anthropic"] {
        assert_eq!(rig.cassette("tapes", model).len(), COUNT, "{model}");
    }
    assert_eq!(rig.server.sync_calls(), 0);
}
