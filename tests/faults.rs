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
                assert_eq!(
                    record["succeeded"], true,
                    "summary {index}: the retried answer is judged like any other: {record}"
                );
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
    // Failed requests are apart: no conversation of the model.
    assert_eq!((cell["traces"].as_u64(), cell["requests_failed"].as_u64()), (Some(plan.len() as u64), Some(failed)));
    assert_eq!(cell["conversations"]["total"], plan.len() as u64 - failed);
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

/// One model on loopback and one JSON suite in a temporary folder, for the
/// runs of the tests below.
struct Rig {
    dir: tempfile::TempDir,
    suite: &'static str,
    model: &'static str,
}

impl Rig {
    /// A DNS conversation suite `suite` of `count` summaries, and a
    /// registry whose `model` (one request at a time, 1 s, 1 retry) is
    /// served by a fault server answering the reference answers after
    /// `scripts`.
    fn new(
        suite: &'static str,
        model: &'static str,
        count: usize,
        scripts: BTreeMap<usize, Vec<Step>>,
    ) -> (Rig, FaultServer) {
        let dir = tempfile::tempdir().unwrap();
        let suites = dir.path().join("suites");
        std::fs::create_dir_all(&suites).unwrap();
        std::fs::write(
            suites.join(format!("{suite}.toml")),
            format!("protocol = \"dns\"\nmode = \"conversation\"\ndialect = \"json\"\ncount = {count}\nseed = 7\n"),
        )
        .unwrap();
        let server = FaultServer::start(reference_answers(&suites, suite), scripts, None);
        std::fs::write(
            dir.path().join("models.toml"),
            format!("[[model]]\nid = \"{model}\"\nkind = \"openai\"\nbase_url = \"{}\"\nmodel = \"{model}-1\"\ntimeout_s = 1.0\nmax_retries = 1\nconcurrency = 1\n", server.url("/v1")),
        )
        .unwrap();
        (Rig { dir, suite, model }, server)
    }

    /// Run the matrix into `out` with `args`; it must pass. Return the JSON
    /// report and stderr.
    fn run(&self, out: &str, args: &[&str]) -> (Value, String) {
        let path = |name: &str| self.dir.path().join(name);
        let output = Command::new(env!("CARGO_BIN_EXE_harness"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "matrix",
                "--models",
                self.model,
                "--suites",
                self.suite,
                "--tshark",
                "off",
                "--format",
                "json",
                "--suites-dir",
            ])
            .arg(path("suites"))
            .arg("--registry")
            .arg(path("models.toml"))
            .arg("--cassettes")
            .arg(path("cassettes"))
            .arg("--out")
            .arg(path(out))
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
        (report, stderr)
    }

    /// Run the harness with `args` (paths relative to the rig's folder,
    /// which is the working directory); return the exit code and stderr.
    fn harness(&self, args: &[&str]) -> (i32, String) {
        let output =
            Command::new(env!("CARGO_BIN_EXE_harness")).current_dir(self.dir.path()).args(args).output().unwrap();
        (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stderr).into_owned())
    }

    /// The journal of the run in `out`.
    fn journal(&self, out: &str) -> Vec<Value> {
        let text =
            std::fs::read_to_string(self.dir.path().join(out).join(self.model).join(self.suite).join("journal.jsonl"))
                .unwrap();
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    /// The run in `out` as Markdown tables (`harness merge --format md`).
    fn markdown(&self, out: &str) -> String {
        let md = Command::new(env!("CARGO_BIN_EXE_harness"))
            .args(["merge", "--format", "md"])
            .arg(self.dir.path().join(out))
            .output()
            .unwrap();
        String::from_utf8(md.stdout).unwrap()
    }
}

/// A model server killed mid-run (its port closed after 5 answers): the
/// unanswered summaries become `request` traces that no table counts. The
/// cell's protocol rows are those of the 5 answered traces alone (as a
/// clean run judged them), its conversation total is 5, the failed
/// requests are shown apart (the cell and the verdict line), and once the
/// server is back, `--record --resume` asks only for them and gives the
/// tables of a run that never failed.
#[test]
fn killed_server_leaves_failed_requests_out_of_the_tables() {
    let (count, answered) = (12usize, 5usize);
    let (rig, server) = Rig::new("killed", "dying", count, BTreeMap::new());
    server.die_after(answered);
    let (killed, stderr) = rig.run("out", &["--record"]);
    assert!(server.dead(), "the server never died");
    let cell = &killed["cells"][0];
    let failed = (count - answered) as u64;
    assert_eq!(
        (cell["traces"].as_u64(), cell["requests_failed"].as_u64()),
        (Some(count as u64), Some(failed)),
        "{cell:#}"
    );
    assert_eq!(
        cell["conversations"],
        serde_json::json!({"total": answered, "succeeded": answered}),
        "failed requests are no conversations"
    );
    assert_eq!(cell["exec_failures"], serde_json::json!({"request": failed}));
    for (layer, row) in cell["protocols"].as_object().unwrap() {
        assert_eq!(
            (row["success_rate"].as_f64(), row["non_existent"].as_u64()),
            (Some(1.0), Some(0)),
            "{layer}: {row}"
        );
    }
    let verdict = stderr.lines().find(|l| l.starts_with("harness: PASS: ")).unwrap_or_else(|| panic!("{stderr}"));
    assert!(verdict.contains(&format!("; {failed} requests failed (dying {failed}), not judged")), "{verdict}");
    let records = rig.journal("out");
    let ok: Vec<u64> = records.iter().filter(|r| r["status"] == "ok").map(|r| r["index"].as_u64().unwrap()).collect();
    assert_eq!(ok.len(), answered);
    for r in records.iter().filter(|r| r["status"] == "request") {
        assert!(r["message"].as_str().unwrap().contains("model 'dying'"), "{r}");
        assert_eq!(r["protocols"], serde_json::json!({}), "a failed request is judged on nothing: {r}");
    }
    // The tables, as printed: the cell says how many requests failed and
    // the time per trace counts the answered traces only.
    let md = rig.markdown("out");
    assert!(
        md.contains(&format!("{count} traces, {answered}/{answered} conversations correct, {failed} requests failed")),
        "{md}"
    );
    assert!(
        md.lines().any(|l| l.starts_with(&format!("| dying | {answered} "))),
        "the cost table counts answered traces: {md}"
    );
    assert!(
        !md.contains("exec.request") && !md.contains("Executor failures"),
        "a failed request is no quirk of the model: {md}"
    );

    // The server is back: a resumed run asks only for the failed requests.
    server.revive();
    server.clear();
    let (resumed, _) = rig.run("out", &["--record", "--resume"]);
    assert_eq!(
        server.seen().len(),
        count - answered,
        "asked again: {:?}",
        server.seen().iter().map(|s| s.prompt).collect::<Vec<_>>()
    );
    let (clean, _) = rig.run("clean", &["--offline"]);
    assert_eq!(resumed["cells"], clean["cells"], "resumed after the kill = a run that never failed");
    assert_eq!(clean["cells"][0]["requests_failed"], Value::Null);
    // The killed run's rows are the clean run's rows of the answered traces.
    let counts = |row: &Value| ["packets", "correct", "malformed", "non_existent"].map(|k| row[k].as_u64().unwrap());
    let mut expected: BTreeMap<String, [u64; 4]> = BTreeMap::new();
    for r in rig.journal("clean").iter().filter(|r| ok.contains(&r["index"].as_u64().unwrap())) {
        for (layer, row) in r["protocols"].as_object().unwrap() {
            let sum = expected.entry(layer.clone()).or_default();
            for (total, n) in sum.iter_mut().zip(counts(row)) {
                *total += n;
            }
        }
    }
    let got: BTreeMap<String, [u64; 4]> =
        cell["protocols"].as_object().unwrap().iter().map(|(layer, row)| (layer.clone(), counts(row))).collect();
    assert_eq!(got, expected);
}

/// An answer cut at `max_tokens` (finish reason `length`) is judged like
/// any answer and carries `answer.truncated`: in the journal, the cassette,
/// the report (finish reasons per cell) and the quirks table, recorded and
/// replayed offline alike.
#[test]
fn length_answers_show_answer_truncated() {
    let (rig, _server) = Rig::new("cut", "terse", 4, BTreeMap::from([(2, vec![Step::Cut])]));
    let (recorded, _) = rig.run("out", &["--record"]);
    let (offline, _) = rig.run("replayed", &["--offline"]);
    assert_eq!(recorded["cells"], offline["cells"]);
    let cell = &offline["cells"][0];
    assert_eq!(cell["finish_reasons"], serde_json::json!({"length": 1, "stop": 3}), "{cell:#}");
    assert_eq!(cell["checks"]["answer.truncated"], 1, "{cell:#}");
    assert_eq!(cell["conversations"]["succeeded"], 4, "the cut answer was whole here: judged like any other");
    for out in ["out", "replayed"] {
        let cut: Vec<(u64, Value, Value)> = rig
            .journal(out)
            .iter()
            .filter(|r| r["finish_reason"] != "stop")
            .map(|r| (r["index"].as_u64().unwrap(), r["finish_reason"].clone(), r["answer_checks"].clone()))
            .collect();
        assert_eq!(cut, [(2, "length".into(), serde_json::json!(["answer.truncated"]))], "{out}");
    }
    let cassette = std::fs::read_to_string(rig.dir.path().join("cassettes/terse.jsonl")).unwrap();
    assert_eq!(cassette.matches("\"finish_reason\":\"length\"").count(), 1);
    let md = rig.markdown("replayed");
    assert!(md.contains("Finish reasons: length 1, stop 3"), "{md}");
    let quirks = md.split("## Answer quirks").nth(1).unwrap_or_else(|| panic!("no quirks table: {md}"));
    assert!(quirks.lines().any(|l| l.starts_with("| terse ") && l.contains("answer.truncated 1")), "{md}");
}

/// A missing answer names the exact command that records it: the
/// subcommand that was run (`generate` or `matrix`), its suite selection,
/// count and output, and `--registry`/`--cassettes`/`--suites-dir` as
/// given. Run as printed, the command records what was missing, and the
/// offline run then passes.
#[test]
fn rerecord_hints_name_the_exact_command() {
    let (rig, server) = Rig::new("hint", "hinted", 3, BTreeMap::new());
    let files = ["--suites-dir", "suites", "--registry", "models.toml", "--cassettes", "tapes"];
    // No cassette yet: offline, the model named on the command line cannot run.
    let (code, stderr) = rig.harness(
        &[&["matrix", "--models", "hinted", "--suites", "hint", "--tshark", "off", "--out", "m"][..], &files].concat(),
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("record it with `harness matrix --models hinted --suites hint --suites-dir suites --registry models.toml --cassettes tapes --record`"),
        "{stderr}"
    );
    // Two of three answers recorded by `generate`; the third is missing.
    let generate = |count: &str, mode: &str| {
        rig.harness(
            &[
                &[
                    "generate", "--model", "hinted", "--suite", "hint", "--count", count, "--out", "g", "--tshark",
                    "off", mode,
                ][..],
                &files,
            ]
            .concat(),
        )
    };
    let (code, stderr) = generate("2", "--record");
    assert_eq!(code, 0, "{stderr}");
    let (code, stderr) = generate("3", "--offline");
    assert_eq!(code, 1, "a cassette miss is a regression: {stderr}");
    let expected = "harness generate --model hinted --suite hint --count 3 --out g --suites-dir suites --registry models.toml --cassettes tapes --record";
    let hint =
        stderr.lines().find_map(|l| l.strip_prefix("re-record with: ")).unwrap_or_else(|| panic!("no hint: {stderr}"));
    assert_eq!(hint, expected);
    // The hint works as printed.
    server.clear();
    let run = Command::new("sh")
        .arg("-c")
        .arg(hint.replacen("harness", env!("CARGO_BIN_EXE_harness"), 1))
        .current_dir(rig.dir.path())
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(
        !server.seen().is_empty() && server.seen().len() <= 3,
        "the hinted command asked for the missing answers only"
    );
    let (code, stderr) = generate("3", "--offline");
    assert_eq!(code, 0, "recorded by the hinted command: {stderr}");
}
