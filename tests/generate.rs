//! `harness generate` end to end (issue acceptance): the reference on every
//! suite checks 100 % clean with `harness check DIR`; every mutant is
//! caught by its named check; only fully correct traces are exported for
//! fine-tuning.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn harness(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harness"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn tools() -> bool {
    common::tshark().is_some() && common::scapy()
}

fn suites() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("harness/suites");
    harness::matrix::suite::Suite::load_dir(&dir).unwrap().into_iter().map(|s| s.name).collect()
}

#[test]
fn reference_on_every_suite_checks_clean() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    for suite in suites() {
        let run = harness(&["generate", "--model", "reference", "--suite", &suite, "--count", "4", "-o", out]);
        assert_eq!(run.status.code(), Some(0), "{suite}: {}", String::from_utf8_lossy(&run.stderr));
    }
    let check = harness(&["check", "--tshark", "on", "--format", "json", out]);
    assert_eq!(check.status.code(), Some(0), "{}", String::from_utf8_lossy(&check.stderr));
    let report: Value = serde_json::from_slice(&check.stdout).unwrap();
    let files = report["files"].as_array().unwrap();
    assert!(files.len() >= 4 * suites().len() - 8, "{} captures", files.len());
    for file in files {
        let loud: Vec<&Value> = file["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["severity"] == "warn" || f["severity"] == "error")
            .collect();
        assert!(loud.is_empty(), "{}: {loud:?}", file["file"]);
        for (layer, row) in file["protocols"].as_object().unwrap() {
            assert_eq!(row["success_rate"].as_f64(), Some(1.0), "{} {layer}", file["file"]);
        }
    }
    // Everything the reference wrote is fit for fine-tuning.
    let train = dir.path().join("train.jsonl");
    let export = harness(&["export-finetune", out, "-o", train.to_str().unwrap()]);
    assert_eq!(export.status.code(), Some(0));
    let lines = std::fs::read_to_string(&train).unwrap();
    assert_eq!(lines.lines().count(), files.len());
    let first: Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert_eq!(first["messages"].as_array().unwrap().len(), 3);
}

#[test]
fn every_mutant_is_caught_by_its_check() {
    if !tools() {
        return;
    }
    let suites =
        harness::matrix::suite::Suite::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("harness/suites")).unwrap();
    for fault in harness::model::mutant::Fault::ALL {
        let suite =
            suites.iter().find(|s| fault.applies(s.protocol, s.mode, s.dialect)).expect("a suite for every fault");
        let dir = tempfile::tempdir().unwrap();
        let model = format!("mutant:{}", fault.name());
        let run = harness(&[
            "generate",
            "--model",
            &model,
            "--suite",
            &suite.name,
            "--count",
            "3",
            "-o",
            dir.path().to_str().unwrap(),
        ]);
        assert_eq!(run.status.code(), Some(0), "{model} on {}: {}", suite.name, String::from_utf8_lossy(&run.stdout));
        let report: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap()).unwrap();
        let cell = &report["cells"][0];
        assert_eq!(cell["caught"], true, "{model}: {cell}");
        assert!(cell["checks"][fault.expected_check(suite.dialect)].as_u64().unwrap_or(0) >= 3, "{model}: {cell}");
        // Faulty traces never become training data.
        let train = dir.path().join("train.jsonl");
        assert_eq!(
            harness(&["export-finetune", dir.path().to_str().unwrap(), "-o", train.to_str().unwrap()]).status.code(),
            Some(0)
        );
        assert_eq!(std::fs::read_to_string(&train).unwrap(), "", "{model}");
    }
}

#[test]
fn export_refuses_answers_to_a_changed_prompt() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let prompts = dir.path().join("prompts");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts/icmp");
    std::fs::create_dir_all(prompts.join("icmp")).unwrap();
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), prompts.join("icmp").join(entry.file_name())).unwrap();
    }
    let out = dir.path().join("out");
    let (p, o) = (prompts.to_str().unwrap(), out.to_str().unwrap());
    assert_eq!(
        harness(&[
            "generate",
            "--model",
            "reference",
            "--suite",
            "icmp-conversation",
            "--count",
            "2",
            "--prompts",
            p,
            "-o",
            o
        ])
        .status
        .code(),
        Some(0)
    );
    let file = prompts.join("icmp/conversation.scapy.md");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("exact, protocol-correct", "exact and protocol-correct")).unwrap();
    let export = harness(&["export-finetune", o, "-o", dir.path().join("t.jsonl").to_str().unwrap(), "--prompts", p]);
    assert_eq!(export.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&export.stderr).contains("changed since the run"),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
}

/// The paper's own summary files (`harness/suites-paper`, read from
/// ../shared/corpus): the reference answers every line it can read; what
/// still fails is the summaries' own doing (multicast source MACs, class
/// D/E source addresses), snapshot-tested as figures.
#[test]
fn reference_on_the_papers_summaries() {
    if !tools() {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("harness/suites-paper");
    if !Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/summaries").is_dir() {
        eprintln!("SKIPPED: ../shared/corpus is not beside the checkout");
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let run = harness(&[
        "matrix",
        "--models",
        "reference",
        "--suites-dir",
        dir.to_str().unwrap(),
        "--tshark",
        "on",
        "--format",
        "json",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    let report: Value =
        serde_json::from_slice(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&run.stderr)));
    let mut text = String::new();
    for c in report["cells"].as_array().unwrap() {
        let checks: Vec<String> = c["checks"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| !k.starts_with("tshark.sequence"))
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        text.push_str(&format!(
            "{}: {}/{} correct; {}\n",
            c["suite"].as_str().unwrap(),
            c["conversations"]["succeeded"],
            c["conversations"]["total"],
            checks.join(", ")
        ));
    }
    insta::assert_snapshot!("reference_on_paper_summaries", text);
}

/// `harness generate` through the real HTTP path of each provider format
/// (OpenAI, Anthropic, Gemini/Vertex with a bearer token) against
/// llm-katan, recording cassettes; offline, the cassettes give the same
/// answers; no key lands in any file.
#[test]
fn generate_through_each_provider_format() {
    if !tools() {
        return;
    }
    let keys =
        [("HK_OPENAI", "sk-openai-5f1e9a"), ("HK_ANTHROPIC", "sk-ant-77c0d2"), ("HK_VERTEX", "ya29.vertex-31b8")];
    let Some(server) =
        common::server::llm_katan(&format!("openai={},anthropic={},vertexai={}", keys[0].1, keys[1].1, keys[2].1))
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("models.toml");
    let base = format!("http://127.0.0.1:{}", server.port);
    std::fs::write(
        &registry,
        format!(
            "[[model]]\nid = \"k-openai\"\nkind = \"openai\"\nmodel = \"katan-echo\"\nbase_url = \"{base}/v1\"\nkey_env = \"HK_OPENAI\"\n\n\
             [[model]]\nid = \"k-anthropic\"\nkind = \"anthropic\"\nmodel = \"katan-echo\"\nbase_url = \"{base}\"\nkey_env = \"HK_ANTHROPIC\"\n\n\
             [[model]]\nid = \"k-vertex\"\nkind = \"gemini\"\nmodel = \"katan-echo\"\nbase_url = \"{base}\"\nkey_env = \"HK_VERTEX\"\nauth = \"bearer\"\n"
        ),
    )
    .unwrap();
    let cassettes = dir.path().join("cassettes");
    for (mode, out) in [("--record", "recorded"), ("--offline", "replayed")] {
        for model in ["k-openai", "k-anthropic", "k-vertex"] {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_harness"));
            cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
            if mode == "--record" {
                cmd.envs(keys);
            }
            let run = cmd
                .args([
                    "generate",
                    "--model",
                    model,
                    "--suite",
                    "icmp-conversation",
                    "--count",
                    "2",
                    "--tshark",
                    "off",
                    mode,
                    "--registry",
                ])
                .arg(&registry)
                .arg("--cassettes")
                .arg(&cassettes)
                .arg("-o")
                .arg(dir.path().join(out))
                .output()
                .unwrap();
            let report: Value =
                serde_json::from_str(&std::fs::read_to_string(dir.path().join(out).join("report.json")).unwrap())
                    .unwrap();
            let cell = &report["cells"][0];
            // The echo is not code, but it came through HTTP with usage.
            assert_eq!(
                cell["exec_failures"].get("request"),
                None,
                "{model} {mode}: {cell} {}",
                String::from_utf8_lossy(&run.stderr)
            );
            assert!(cell["usage"]["completion_tokens"].as_u64().unwrap() > 0, "{model} {mode}: {cell}");
        }
    }
    for model in ["k-openai", "k-anthropic", "k-vertex"] {
        let journal = |out: &str| -> Vec<String> {
            std::fs::read_to_string(dir.path().join(out).join(model).join("icmp-conversation/journal.jsonl"))
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap()["answer"].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(journal("recorded"), journal("replayed"), "{model}");
    }
    // A prompt edit: offline, every answer misses the cassette, and the run
    // fails saying which prompt changed and how to re-record.
    let prompts = dir.path().join("prompts");
    std::fs::create_dir_all(prompts.join("icmp")).unwrap();
    for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts/icmp")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), prompts.join("icmp").join(entry.file_name())).unwrap();
    }
    let file = prompts.join("icmp/conversation.scapy.md");
    std::fs::write(
        &file,
        std::fs::read_to_string(&file).unwrap().replace("exact, protocol-correct", "exact and protocol-correct"),
    )
    .unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_harness"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "generate",
            "--model",
            "k-anthropic",
            "--suite",
            "icmp-conversation",
            "--count",
            "2",
            "--tshark",
            "off",
            "--offline",
            "--registry",
        ])
        .arg(&registry)
        .arg("--cassettes")
        .arg(&cassettes)
        .arg("--prompts")
        .arg(&prompts)
        .arg("-o")
        .arg(dir.path().join("edited"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("not in the cassette") && stderr.contains("prompt") && stderr.contains("--record"),
        "{stderr}"
    );
    let mut stack = vec![dir.path().to_path_buf()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            for (_, key) in keys {
                assert!(!bytes.windows(key.len()).any(|w| w == key.as_bytes()), "{} holds a key", path.display());
            }
        }
    }
}
