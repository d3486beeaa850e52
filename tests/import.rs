//! `harness import-answers` on the real corpus (`../shared/corpus`): counts
//! per model match the corpus, two imports are byte-identical, every answer
//! is kept verbatim and aligned with its summary line, and
//! `harness matrix --models corpus:gpt-3.5-turbo-instruct` replays the real
//! answers through real Scapy and tshark into tables that are a named
//! snapshot (figures computed from the corpus).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn harness() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_harness"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

fn import(corpus: &Path, out: &Path) -> String {
    let output = harness().arg("import-answers").arg(corpus).arg("--out").arg(out).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(output.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push((path.strip_prefix(dir).unwrap().to_path_buf(), std::fs::read(&path).unwrap()));
        }
    }
    out.sort();
    out
}

fn corpus_lines(corpus: &Path) -> Vec<Value> {
    std::fs::read_to_string(corpus)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn import_counts_alignment_and_determinism() {
    let Some(corpus) = common::shared("completions.jsonl") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let stdout = import(&corpus, &a);
    import(&corpus, &b);
    let first = files(&a);
    assert_eq!(first, files(&b), "two imports of the same corpus differ");
    assert!(first.len() > 40, "{}", first.len());
    assert!(
        stdout.contains("corpus:gpt-3.5-turbo-instruct") && stdout.contains("skipped 26 answers of gpt-4.1"),
        "{stdout}"
    );

    // Counts per model, recomputed from the corpus itself.
    let lines = corpus_lines(&corpus);
    let mut expected: BTreeMap<String, usize> = BTreeMap::new();
    let mut left_out = 0;
    for l in &lines {
        let (model, protocol, mode, dialect) = (
            l["model"].as_str().unwrap(),
            l["protocol"].as_str().unwrap(),
            l["mode"].as_str().unwrap(),
            l["dialect"].as_str().unwrap(),
        );
        if dialect != "scapy" || (protocol == "TCP" && mode == "packet") {
            left_out += 1;
            continue;
        }
        let moe = l["notes"]
            .as_array()
            .is_some_and(|n| n.iter().any(|n| n.as_str().is_some_and(|n| n.contains("mixture-of-experts"))));
        let id = match model {
            "gpt-3.5-turbo-1106-finetuned" if moe => "gpt-3.5-ft-moe".to_string(),
            "gpt-3.5-turbo-1106-finetuned" => "gpt-3.5-ft-experts".to_string(),
            other => other.to_string(),
        };
        *expected.entry(format!("corpus:{id}")).or_default() += 1;
    }
    let manifest = harness::matrix::replay::manifest(&a).unwrap();
    let imported: BTreeMap<String, usize> = manifest.models.iter().map(|m| (m.id.clone(), m.answers())).collect();
    assert_eq!(imported, expected);
    assert_eq!(manifest.answers, lines.len());
    assert_eq!(manifest.skipped.iter().map(|s| s.answers).sum::<usize>(), left_out);
    // The figures of the published corpus, pinned.
    let pinned: Vec<(&str, usize)> = imported.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(
        pinned,
        [
            ("corpus:codestral", 2),
            ("corpus:gpt-3.5-ft-experts", 266),
            ("corpus:gpt-3.5-ft-moe", 626),
            ("corpus:gpt-3.5-turbo-instruct", 701),
            ("corpus:mixtral", 5),
            ("corpus:text-davinci-003", 2)
        ]
    );

    // Every answer verbatim, on the summary line of its index.
    let by_id: BTreeMap<&str, &Value> = lines.iter().map(|l| (l["id"].as_str().unwrap(), l)).collect();
    for model in &manifest.models {
        let cassette = std::fs::read_to_string(a.join(&model.cassette)).unwrap();
        let records: Vec<harness::matrix::replay::ReplayRecord> = cassette.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(records.len(), model.answers());
        for group in &model.groups {
            let summaries = std::fs::read_to_string(a.join("suites").join(format!("{}.txt", group.suite))).unwrap();
            let summaries: Vec<&str> = summaries.lines().collect();
            let mine: Vec<_> = records.iter().filter(|r| r.protocol == group.protocol && r.mode == group.mode).collect();
            assert_eq!((summaries.len(), mine.len()), (group.answers, group.answers), "{}", group.suite);
            for (i, (r, line)) in mine.iter().zip(&summaries).enumerate() {
                let source = by_id[r.source_id.as_str()];
                assert_eq!(r.index, i);
                assert_eq!(Some(r.completion.as_str()), source["completion"].as_str(), "{}", r.source_id);
                assert_eq!(*line, harness::matrix::replay::summary_line(source["summary"].as_str()), "{}", r.source_id);
            }
        }
    }
}

/// The per-protocol numbers of each cell of `model`.
fn tables(report: &Value, model: &str) -> String {
    let mut text = format!("tshark {}, Scapy {}\n\n", report["tshark"].as_str().unwrap_or("?"), report["scapy"].as_str().unwrap_or("?"));
    for c in report["cells"].as_array().unwrap().iter().filter(|c| c["model"] == model) {
        text.push_str(&format!(
            "## {}: {} traces, {}/{} conversations correct\n",
            c["suite"].as_str().unwrap(),
            c["traces"],
            c["conversations"]["succeeded"],
            c["conversations"]["total"]
        ));
        for (layer, row) in c["protocols"].as_object().unwrap() {
            text.push_str(&format!(
                "{layer:<5} packets {:>4} correct {:>4} malformed {:>4} non-existent {:>3} success {:.2}% W-E {}W-{}E\n",
                row["packets"],
                row["correct"],
                row["malformed"],
                row["non_existent"],
                row["success_rate"].as_f64().unwrap() * 100.0,
                row["warnings"],
                row["errors"]
            ));
        }
        let failures: Vec<String> = c["exec_failures"].as_object().unwrap().iter().map(|(k, v)| format!("{k} {v}")).collect();
        text.push_str(&format!("executor failures: {}\n", failures.join(", ")));
        let checks: Vec<String> = c["checks"].as_object().unwrap().iter().map(|(k, v)| format!("{k} {v}")).collect();
        text.push_str(&format!("checks: {}\n\n", checks.join(", ")));
    }
    text
}

#[test]
fn matrix_replays_gpt35_instruct() {
    let Some(corpus) = common::shared("completions.jsonl") else { return };
    if common::tshark().is_none() || !common::scapy() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let cassettes = tmp.path().join("cassettes");
    import(&corpus, &cassettes);
    let model = "corpus:gpt-3.5-turbo-instruct";
    let output = harness()
        .args(["matrix", "--models", model, "--tshark", "on", "--format", "json", "--corpus-cassettes"])
        .arg(&cassettes)
        .arg("--out")
        .arg(tmp.path().join("out"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    let manifest = harness::matrix::replay::manifest(&cassettes).unwrap();
    let groups = &manifest.models.iter().find(|m| m.id == model).unwrap().groups;
    let cells = report["cells"].as_array().unwrap();
    // One cell per group, every recorded answer judged once.
    let got: Vec<(String, u64)> = cells.iter().map(|c| (c["suite"].as_str().unwrap().to_string(), c["traces"].as_u64().unwrap())).collect();
    let want: Vec<(String, u64)> = groups.iter().map(|g| (g.suite.clone(), g.answers as u64)).collect();
    assert_eq!(got, want);
    assert!(report["skipped"].as_array().unwrap().is_empty());
    insta::assert_snapshot!("corpus_gpt-3.5-turbo-instruct", tables(&report, model));
}

/// Without an import, corpus models named on the command line cannot run
/// (exit 2, saying how to import); under `--models all` they are listed as
/// skipped with the same reason.
#[test]
fn matrix_without_import_lists_corpus_models_as_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |models: &str, out: &str| {
        harness()
            .args(["matrix", "--models", models, "--suites", "icmp-conversation", "--tshark", "off", "--format", "json", "--corpus-cassettes"])
            .arg(tmp.path().join("none"))
            .arg("--out")
            .arg(tmp.path().join(out))
            .output()
            .unwrap()
    };
    let named = run("reference,corpus:*,corpus:mixtral", "named");
    let stderr = String::from_utf8_lossy(&named.stderr);
    assert_eq!(named.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot run model corpus:") && stderr.contains("run `harness import-answers` first"), "{stderr}");
    assert!(!tmp.path().join("named").exists());
    if !common::scapy() {
        return;
    }
    let output = run("all", "all");
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let skipped: Vec<(&str, &str)> = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["model"].as_str().unwrap(), s["reason"].as_str().unwrap()))
        .filter(|s| s.0.starts_with("corpus:"))
        .collect();
    assert_eq!(skipped.iter().map(|s| s.0).collect::<Vec<_>>(), ["corpus:*"]);
    assert!(skipped.iter().all(|s| s.1.contains("run `harness import-answers` first")), "{skipped:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("skipped (") , "the verdict line counts the skipped models");
}
