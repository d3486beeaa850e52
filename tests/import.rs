//! `harness import-answers` on the real corpus (`../shared/corpus`): counts
//! per model match the corpus, two imports are byte-identical, every answer
//! is kept verbatim and aligned with its summary line; `harness matrix
//! --models all` imports the corpus by itself. The tables of the imported
//! models are goldens (`golden/corpus-*.snap`, `tests/matrix.rs`).

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
        let records: Vec<harness::model::replay::ReplayRecord> =
            cassette.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(records.len(), model.answers());
        for group in &model.groups {
            let summaries = std::fs::read_to_string(a.join("suites").join(format!("{}.txt", group.suite))).unwrap();
            let summaries: Vec<&str> = summaries.lines().collect();
            let mine: Vec<_> =
                records.iter().filter(|r| r.protocol == group.protocol && r.mode == group.mode).collect();
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

/// Without an import (and no corpus to import), corpus models named on
/// the command line cannot run (exit 2, saying how to import); under
/// `--models all` they are listed as skipped with the same reason.
#[test]
fn matrix_without_import_lists_corpus_models_as_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |models: &str, out: &str| {
        harness()
            .args([
                "matrix",
                "--models",
                models,
                "--suites",
                "icmp-conversation",
                "--tshark",
                "off",
                "--format",
                "json",
                "--corpus",
            ])
            .arg(tmp.path().join("no-corpus.jsonl"))
            .arg("--corpus-cassettes")
            .arg(tmp.path().join("none"))
            .arg("--out")
            .arg(tmp.path().join(out))
            .output()
            .unwrap()
    };
    let named = run("reference,corpus:*,corpus:mixtral", "named");
    let stderr = String::from_utf8_lossy(&named.stderr);
    assert_eq!(named.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot run model corpus:") && stderr.contains("run `harness import-answers` first"),
        "{stderr}"
    );
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
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("skipped ("),
        "the verdict line counts the skipped models"
    );
}

/// `--models all` imports the corpus (`--corpus`, by default
/// `../shared/corpus/completions.jsonl`) into `--corpus-cassettes` by itself
/// when that folder holds no import of it, runs its models beside the
/// others, and imports again only when the corpus changed.
#[test]
fn models_all_imports_the_corpus_without_a_separate_step() {
    let Some(corpus) = common::shared("completions.jsonl") else { return };
    if !common::scapy() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // The first ICMP conversation answers of each model (a small corpus).
    let mut lines: Vec<String> = Vec::new();
    for line in std::fs::read_to_string(&corpus).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let taken = lines.iter().filter(|l| serde_json::from_str::<Value>(l).unwrap()["model"] == v["model"]).count();
        if v["protocol"] == "ICMP" && v["mode"] == "conversation" && taken < 2 {
            lines.push(line.to_string());
        }
    }
    let small = tmp.path().join("completions.jsonl");
    std::fs::write(&small, lines.join("\n") + "\n").unwrap();
    let cassettes = tmp.path().join("cassettes");
    let run = |out: &str| {
        let output = harness()
            .args([
                "matrix",
                "--models",
                "all",
                "--suites",
                "icmp-conversation",
                "--tshark",
                "off",
                "--format",
                "json",
                "--corpus",
            ])
            .arg(&small)
            .arg("--corpus-cassettes")
            .arg(&cassettes)
            .arg("--out")
            .arg(tmp.path().join(out))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        (report, stderr)
    };
    let (report, stderr) = run("first");
    let manifest = harness::matrix::replay::manifest(&cassettes).unwrap();
    let imported: Vec<&str> = manifest.models.iter().map(|m| m.id.as_str()).collect();
    assert!(imported.len() >= 3 && imported.contains(&"corpus:gpt-3.5-turbo-instruct"), "{imported:?}");
    let said =
        format!("harness: imported {} answers of {} models from {}", lines.len(), imported.len(), small.display());
    assert!(stderr.contains(&said), "{stderr}");
    let ran: Vec<&str> = report["cells"].as_array().unwrap().iter().map(|c| c["model"].as_str().unwrap()).collect();
    for id in &imported {
        assert!(ran.contains(id), "{id} did not run: {ran:?}");
    }
    assert!(ran.contains(&"reference"));
    // Imported once: the next run replays the same import.
    let (again, stderr) = run("second");
    assert!(!stderr.contains("harness: imported"), "{stderr}");
    assert_eq!(again["cells"], report["cells"]);
    // The corpus changed: imported again.
    std::fs::write(&small, lines[1..].join("\n") + "\n").unwrap();
    let (_, stderr) = run("third");
    assert!(stderr.contains(&format!("harness: imported {} answers", lines.len() - 1)), "{stderr}");
}
