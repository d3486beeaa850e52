//! `harness matrix --live` and `--record` end to end against a model API on
//! loopback that misbehaves: 429 with and without `Retry-After`, 500/503,
//! connection resets, answers slower than `timeout_s`, truncated, short and
//! non-JSON bodies, a 400. The run completes, every trace is journaled
//! exactly once, failed requests are `request` traces naming the reason,
//! the retried ones are judged like any answer, cassettes hold only
//! successful answers, and a second `--record` run asks only for what
//! failed.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::server::{reference_answers, FaultServer, Seen, Step};
use serde_json::Value;

const SUITE: &str = "faults";

/// What each summary's requests meet, and how its trace must end:
/// (script, attempts made, `None` = judged normally, or the words the
/// `request` message must contain). The model allows 2 retries (3
/// attempts) and 1 s per attempt.
fn plan() -> Vec<(Vec<Step>, usize, Option<&'static str>)> {
    let slow = || Step::Slow(Duration::from_millis(2500));
    vec![
        (vec![], 1, None),
        (vec![Step::Status(429, Some("1"))], 2, None),
        (vec![Step::Status(429, None)], 2, None),
        (vec![Step::Status(500, None), Step::Status(503, None)], 3, None),
        (vec![Step::Reset], 2, None),
        (vec![slow()], 2, None),
        (vec![Step::ShortBody], 2, None),
        (vec![Step::TruncatedJson], 1, Some("cannot decode the answer")),
        (vec![Step::NotJson], 1, Some("the body is not JSON")),
        (vec![Step::Status(503, None); 3], 3, Some("gave up after 3 attempts; last error: HTTP 503")),
        (
            vec![Step::Reset, Step::Reset, Step::Reset],
            3,
            Some("gave up after 3 attempts; last error: connection failed"),
        ),
        (vec![slow(), slow(), slow()], 3, Some("gave up after 3 attempts; last error: no answer within 1 s")),
        (vec![Step::Status(429, Some("0")); 3], 3, Some("gave up after 3 attempts; last error: HTTP 429")),
        (vec![Step::Status(400, None)], 1, Some("HTTP 400")),
    ]
}

/// A temporary suites dir, registry and output folders around a fault server.
struct Setup {
    dir: tempfile::TempDir,
    server: FaultServer,
    answers: Vec<(String, String)>,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let suites = dir.path().join("suites");
        std::fs::create_dir_all(&suites).unwrap();
        let count = plan().len();
        std::fs::write(
            suites.join(format!("{SUITE}.toml")),
            format!("protocol = \"dns\"\nmode = \"conversation\"\ndialect = \"json\"\ncount = {count}\nseed = 5\n"),
        )
        .unwrap();
        let answers = reference_answers(&suites, SUITE);
        assert_eq!(answers.len(), count);
        let scripts: BTreeMap<usize, Vec<Step>> = plan().into_iter().map(|(script, _, _)| script).enumerate().collect();
        let server = FaultServer::start(answers.clone(), scripts, None);
        let registry = format!(
            "[[model]]\nid = \"flaky\"\nkind = \"openai\"\nbase_url = \"{}\"\nmodel = \"flaky-1\"\ntimeout_s = 1.0\nmax_retries = 2\nconcurrency = 16\n",
            server.url("/v1")
        );
        std::fs::write(dir.path().join("models.toml"), registry).unwrap();
        Setup { dir, server, answers }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Run the matrix in `mode` (`--live`, `--record`, `--offline`) with
    /// `extra` flags; return the exit code and the JSON report.
    fn matrix(&self, mode: &str, extra: &[&str]) -> (i32, Value) {
        let output = Command::new(env!("CARGO_BIN_EXE_harness"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["matrix", "--models", "flaky", "--suites", SUITE, "--tshark", "off", "--format", "json", mode])
            .arg("--suites-dir")
            .arg(self.path("suites"))
            .arg("--registry")
            .arg(self.path("models.toml"))
            .arg("--cassettes")
            .arg(self.path("cassettes"))
            .arg("--out")
            .arg(self.path("out"))
            .args(extra)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let code = output.status.code().unwrap_or_else(|| panic!("harness died: {:?}\n{stderr}", output.status));
        assert!(code == 0 || code == 1, "exit {code}: {stderr}");
        let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
        (code, report)
    }

    /// The journal's records, in file order, each index exactly once.
    fn journal(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.path("out").join("flaky").join(SUITE).join("journal.jsonl")).unwrap();
        let records: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let mut indices: Vec<u64> = records.iter().map(|r| r["index"].as_u64().unwrap()).collect();
        indices.sort_unstable();
        assert_eq!(indices, (0..self.answers.len() as u64).collect::<Vec<_>>(), "every trace exactly once");
        records
    }

    /// The cassette's records (empty when there is none).
    fn cassette(&self) -> Vec<Value> {
        match std::fs::read_to_string(self.path("cassettes").join("flaky.jsonl")) {
            Ok(text) => text.lines().map(|l| serde_json::from_str(l).unwrap()).collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// Requests seen per prompt index.
fn per_prompt(seen: &[Seen]) -> BTreeMap<usize, Vec<Seen>> {
    let mut out: BTreeMap<usize, Vec<Seen>> = BTreeMap::new();
    for s in seen {
        out.entry(s.prompt.expect("every request is for a known prompt")).or_default().push(s.clone());
    }
    out
}

/// Check the first run against the plan: attempts, statuses, messages,
/// verdicts, the wait the 429 asked for, and the cell's counts.
fn check_first_run(setup: &Setup, report: &Value) {
    let plan = plan();
    let seen = per_prompt(&setup.server.seen());
    let records = setup.journal();
    for (index, (script, attempts, failure)) in plan.iter().enumerate() {
        let asked = seen.get(&index).map_or(0, Vec::len);
        assert_eq!(asked, *attempts, "summary {index} ({script:?}): attempts");
        let record = records.iter().find(|r| r["index"] == index).unwrap();
        match failure {
            None => {
                assert_eq!(record["status"], "ok", "summary {index} ({script:?}): {record}");
                assert_eq!(record["answer"], setup.answers[index].1.as_str());
                assert_eq!(record["succeeded"], true, "summary {index}: the retried answer is judged like any other: {record}");
                assert!(record["pcap"].is_string());
            }
            Some(reason) => {
                assert_eq!(record["status"], "request", "summary {index} ({script:?}): {record}");
                let message = record["message"].as_str().unwrap();
                assert!(
                    message.contains(reason) && message.contains("model 'flaky'"),
                    "summary {index}: {message:?} should say {reason:?}"
                );
                assert_eq!(record["succeeded"], false);
                assert_eq!(record["answer"], "");
                assert_eq!(record["answer_checks"], serde_json::json!(["exec.request"]));
            }
        }
    }
    // Retry-After: 1 was honoured (jittered backoff alone waits at most 0.5 s).
    let rate_limited = &seen[&1];
    let waited = rate_limited[1].at.duration_since(rate_limited[0].at);
    assert!(waited >= Duration::from_millis(900), "Retry-After ignored: retried after {waited:?}");
    let failed = plan.iter().filter(|p| p.2.is_some()).count() as u64;
    let cell = &report["cells"][0];
    assert_eq!(cell["model"], "flaky");
    assert_eq!(cell["conversations"]["total"], plan.len() as u64);
    assert_eq!(cell["conversations"]["succeeded"], plan.len() as u64 - failed);
    assert_eq!(cell["exec_failures"], serde_json::json!({"request": failed}));
    assert_eq!(cell["checks"]["exec.request"], failed);
}

#[test]
fn live_run_survives_provider_faults() {
    let setup = Setup::new();
    let started = Instant::now();
    let (code, report) = setup.matrix("--live", &[]);
    assert_eq!(code, 0, "{report:#}");
    check_first_run(&setup, &report);
    assert!(setup.cassette().is_empty(), "--live writes no cassette");
    assert!(!setup.path("cassettes").exists(), "--live creates no cassette folder");
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
}

#[test]
fn record_keeps_only_answers_and_asks_again_only_for_failures() {
    let setup = Setup::new();
    let (code, report) = setup.matrix("--record", &[]);
    assert_eq!(code, 0, "{report:#}");
    check_first_run(&setup, &report);
    // Only successful answers were recorded, each once.
    let plan = plan();
    let succeeded: Vec<usize> = (0..plan.len()).filter(|&i| plan[i].2.is_none()).collect();
    let failed: Vec<usize> = (0..plan.len()).filter(|&i| plan[i].2.is_some()).collect();
    let texts = |records: &[Value]| {
        let mut t: Vec<String> = records.iter().map(|r| r["text"].as_str().unwrap().to_string()).collect();
        t.sort();
        t
    };
    let expected = |indices: &[usize]| {
        let mut t: Vec<String> = indices.iter().map(|&i| setup.answers[i].1.clone()).collect();
        t.sort();
        t
    };
    let cassette = setup.cassette();
    assert_eq!(texts(&cassette), expected(&succeeded), "the cassette holds exactly the successful answers");
    let raw = std::fs::read_to_string(setup.path("cassettes").join("flaky.jsonl")).unwrap();
    for never in ["scripted status", "Bad Gateway", "gave up", "HTTP 4", "HTTP 5", "no answer within"] {
        assert!(!raw.contains(never), "an error reached the cassette: {never}");
    }

    // The faults are over. A resumed --record run asks only for the
    // prompts that failed, once each, and completes the journal.
    setup.server.heal();
    setup.server.clear();
    let (code, report) = setup.matrix("--record", &["--resume"]);
    assert_eq!(code, 0, "{report:#}");
    let asked: Vec<usize> = per_prompt(&setup.server.seen())
        .into_iter()
        .map(|(i, s)| {
            assert_eq!(s.len(), 1, "summary {i} asked {} times", s.len());
            i
        })
        .collect();
    assert_eq!(asked, failed, "only the failed prompts are asked again");
    assert!(setup.journal().iter().all(|r| r["status"] == "ok" && r["succeeded"] == true));
    assert_eq!(report["cells"][0]["conversations"]["succeeded"], plan.len() as u64);
    assert_eq!(texts(&setup.cassette()), expected(&(0..plan.len()).collect::<Vec<_>>()));

    // Offline now answers everything from the cassette, asking nothing.
    setup.server.clear();
    let (code, offline) = setup.matrix("--offline", &[]);
    assert_eq!(code, 0);
    assert!(setup.server.seen().is_empty(), "offline asked the server");
    assert_eq!(offline["cells"], report["cells"], "offline replays the recorded run");
    assert_eq!(setup.journal().len(), plan.len());
}

#[test]
fn record_without_resume_asks_only_for_cassette_misses() {
    let setup = Setup::new();
    let (code, _) = setup.matrix("--record", &[]);
    assert_eq!(code, 0);
    setup.server.heal();
    setup.server.clear();
    let (code, report) = setup.matrix("--record", &[]);
    assert_eq!(code, 0);
    let plan = plan();
    let failed: Vec<usize> = (0..plan.len()).filter(|&i| plan[i].2.is_some()).collect();
    let asked: Vec<usize> = per_prompt(&setup.server.seen()).into_keys().collect();
    assert_eq!(asked, failed);
    assert_eq!(setup.server.seen().len(), failed.len());
    assert_eq!(report["cells"][0]["conversations"]["succeeded"], plan.len() as u64);
}
