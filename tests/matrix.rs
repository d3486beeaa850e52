//! `harness matrix` end to end with the real tshark and Scapy: the offline
//! matrix of the main job (the built-in models, the recorded local model,
//! the published answers of ../shared/corpus) against its goldens, the
//! JSON contract, the no-false-positive baseline, every mutant caught, and
//! kill -9 then `--resume`.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn harness() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_harness"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

fn run_json(args: &[&str], out: &Path) -> (i32, Value) {
    let output =
        harness().args(["matrix", "--format", "json", "--tshark", "on", "--out"]).arg(out).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let json = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    (output.status.code().unwrap_or(-1), json)
}

/// The tables of one model, as the golden holds them.
fn model_tables(report: &Value, model: &str) -> String {
    let cells: Vec<Value> =
        report["cells"].as_array().unwrap().iter().filter(|c| c["model"] == model).cloned().collect();
    let text = format!(
        "tshark {}, Scapy {}\n\n",
        report["tshark"].as_str().unwrap_or("?"),
        report["scapy"].as_str().unwrap_or("?")
    );
    let mut text = text;
    for c in cells {
        let suite = c["suite"].as_str().unwrap();
        text.push_str(&format!(
            "## {suite}: {}/{} conversations correct",
            c["conversations"]["succeeded"], c["conversations"]["total"]
        ));
        if let Some(check) = c["expected_check"].as_str() {
            text.push_str(&format!(", must be caught by {check}: caught={}, by {}", c["caught"], c["caught_by"]));
        }
        text.push('\n');
        for (layer, row) in c["protocols"].as_object().unwrap() {
            text.push_str(&format!(
                "{layer:<5} packets {:>4} correct {:>4} malformed {:>3} non-existent {:>3} success {:.2}% W-E {}W-{}E\n",
                row["packets"],
                row["correct"],
                row["malformed"],
                row["non_existent"],
                row["success_rate"].as_f64().unwrap() * 100.0,
                row["warnings"],
                row["errors"]
            ));
        }
        let checks: Vec<String> = c["checks"].as_object().unwrap().iter().map(|(k, v)| format!("{k} {v}")).collect();
        text.push_str(&format!("checks: {}\n\n", checks.join(", ")));
    }
    text
}

#[test]
fn offline_matrix_matches_goldens_and_contract() {
    if common::tshark().is_none() || !common::scapy() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The main job's run: every model that can run offline, the published
    // answers of ../shared/corpus imported by the run itself (into a folder
    // of this test's own).
    let corpus = common::shared("completions.jsonl");
    let imported = dir.path().join("corpus-cassettes");
    let out = dir.path().join("out");
    let (code, report) = run_json(&["--models", "all", "--corpus-cassettes", imported.to_str().unwrap()], &out);
    assert_eq!(code, 0, "reference not clean, a mutant not caught or an answer missing from a cassette: {report:#}");
    let cells = report["cells"].as_array().unwrap();
    assert!(cells.len() > 30);
    for c in cells {
        for key in ["model", "suite", "protocols", "conversations"] {
            assert!(c.get(key).is_some(), "{key} missing in {c}");
        }
        if c["model"] == "reference" {
            assert_eq!(c["conversations"]["succeeded"], c["conversations"]["total"], "{c}");
            assert_eq!(c["tshark_findings"], 0, "{c}");
            for row in c["protocols"].as_object().unwrap().values() {
                assert_eq!(
                    (row["success_rate"].as_f64(), row["warnings"].as_u64(), row["errors"].as_u64()),
                    (Some(1.0), Some(0), Some(0)),
                    "{c}"
                );
            }
        } else if let Some(expected) = c["expected_check"].as_str() {
            assert_eq!(c["caught"], true, "{c}");
            // Caught by its check and by nothing unrelated among the own
            // checks, the answer checks and the executor.
            let fault = harness::model::mutant::Fault::from_name(c["model"].as_str().unwrap()).unwrap();
            for check in c["checks"].as_object().unwrap().keys() {
                let allowed =
                    check == expected || check.starts_with("tshark.") || fault.related().contains(&check.as_str());
                assert!(allowed, "{} fired {check}, unrelated to the fault", c["model"]);
            }
        } else {
            // A real model replayed: every answer there, every trace judged.
            assert_eq!((c.get("requests_failed"), c.get("cassette_miss")), (None, None), "{c}");
            assert_eq!(c["conversations"]["total"], c["traces"], "{c}");
        }
    }
    let traces = |model: &str| -> Vec<(String, u64)> {
        cells
            .iter()
            .filter(|c| c["model"] == model)
            .map(|c| (c["suite"].as_str().unwrap().to_string(), c["traces"].as_u64().unwrap()))
            .collect()
    };
    // The recorded local model: every default suite, every summary.
    let suites = harness::matrix::defaults::suites().unwrap();
    let want: Vec<(String, u64)> = suites.iter().map(|s| (s.name.clone(), s.count as u64)).collect();
    assert_eq!(traces("smollm2-135m"), want, "golden/cassettes/smollm2-135m.jsonl replays on every default suite");
    // The published answers: one cell per imported group, every answer judged once.
    if corpus.is_some() {
        let manifest = harness::matrix::replay::manifest(&imported).unwrap();
        let ids: Vec<&str> = manifest.models.iter().map(|m| m.id.as_str()).collect();
        assert!(ids.len() >= 6, "{ids:?}");
        for model in &manifest.models {
            let want: Vec<(String, u64)> = model.groups.iter().map(|g| (g.suite.clone(), g.answers as u64)).collect();
            assert_eq!(traces(&model.id), want, "{}", model.id);
        }
    }
    // The main job's tables for the terminal: not Markdown, and within 100
    // columns (`merge` prints the report.json of the run in any format).
    let format = |f: &str| {
        let out = harness().args(["merge", "--format", f]).arg(&out).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let (table, md) = (format("table"), format("md"));
    assert_ne!(table, md);
    assert!(md.lines().any(|l| l.starts_with("| Model ")) && md.contains("\n## "), "{md}");
    assert!(!table.lines().any(|l| l.starts_with('|') || l.starts_with('#')), "{table}");
    assert!(table.contains("Mutant detection matrix\n-----------------------\n"), "{table}");
    for line in table.lines() {
        assert!(line.chars().count() <= 100, "{} columns: {line}", line.chars().count());
    }
    let mut models: Vec<&str> = cells.iter().map(|c| c["model"].as_str().unwrap()).collect();
    models.dedup();
    for model in models {
        let name = harness::matrix::dir_name(model);
        insta::with_settings!({snapshot_path => "../golden", prepend_module_to_snapshot => false, omit_expression => true}, {
            insta::assert_snapshot!(name, model_tables(&report, model));
        });
    }
}

#[test]
fn kill_then_resume_gives_identical_tables() {
    if common::tshark().is_none() || !common::scapy() {
        return;
    }
    let args = [
        "--models",
        "reference,mutant:ack-off-by-one",
        "--suites",
        "icmp-conversation,dns-conversation-json,http-conversation,day-conversation-json",
    ];
    let clean_dir = tempfile::tempdir().unwrap();
    let (_, clean) = run_json(&args, clean_dir.path());
    for delay_ms in [300u64, 1500, 3000] {
        let dir = tempfile::tempdir().unwrap();
        let mut child = harness()
            .args(["matrix", "--format", "json", "--tshark", "on", "--out"])
            .arg(dir.path())
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(delay_ms) {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // SIGKILL: no chance to clean up.
        let _ = child.kill();
        let _ = child.wait();
        let (code, resumed) = run_json(&[&args[..], &["--resume"]].concat(), dir.path());
        assert_eq!(code, 0);
        assert_eq!(resumed["cells"], clean["cells"], "after a kill at {delay_ms} ms");
    }
}

#[test]
fn other_formats() {
    if common::tshark().is_none() || !common::scapy() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (format, needle) in [
        ("junit", "<testsuites name=\"harness matrix\""),
        ("csv", "model,suite,protocol"),
        ("md", "## Cross-model, packet level"),
    ] {
        let out = harness()
            .args([
                "matrix",
                "--models",
                "reference",
                "--suites",
                "icmp-conversation",
                "--tshark",
                "off",
                "--format",
                format,
                "--out",
            ])
            .arg(dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        assert!(String::from_utf8_lossy(&out.stdout).contains(needle), "{format}");
    }
}

#[test]
fn shards_merge_to_the_unsharded_tables() {
    if common::tshark().is_none() || !common::scapy() {
        return;
    }
    let args = [
        "--models",
        "reference,mutant:fenced,mutant:wrong-ttl",
        "--suites",
        "icmp-conversation,dns-conversation-json,arp-conversation",
    ];
    let whole = tempfile::tempdir().unwrap();
    let (_, unsharded) = run_json(&args, whole.path());
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (_, first) = run_json(&[&args[..], &["--shard", "1/2"]].concat(), a.path());
    let (_, second) = run_json(&[&args[..], &["--shard", "2/2"]].concat(), b.path());
    let (n1, n2) = (first["cells"].as_array().unwrap().len(), second["cells"].as_array().unwrap().len());
    assert!(n1 > 0 && n2 > 0 && n1 + n2 == unsharded["cells"].as_array().unwrap().len());
    let merged = harness().args(["merge", "--format", "json"]).arg(a.path()).arg(b.path()).output().unwrap();
    assert_eq!(merged.status.code(), Some(0), "{}", String::from_utf8_lossy(&merged.stderr));
    let merged: Value = serde_json::from_slice(&merged.stdout).unwrap();
    assert_eq!(merged["cells"], unsharded["cells"]);
    // A shard given twice is refused.
    let twice = harness().args(["merge"]).arg(a.path()).arg(a.path()).output().unwrap();
    assert_eq!(twice.status.code(), Some(2));
    // The terminal form of the merge is the unsharded one.
    let md = |dirs: &[&Path]| {
        let out = harness().args(["merge", "--format", "md"]).args(dirs).output().unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let whole_md = harness().args(["merge", "--format", "md"]).arg(whole.path()).output().unwrap();
    assert_eq!(md(&[a.path(), b.path()]), String::from_utf8(whole_md.stdout).unwrap());
}

/// The steps of ci/examples/ run locally: N `harness matrix --shard I/N
/// --format junit` processes at once, each in its own folder, then `harness
/// merge --out`: its JUnit and report.json are byte for byte those of the
/// unsharded run, and so is its exit status.
#[test]
fn shard_processes_then_merge_equal_the_unsharded_run_byte_for_byte() {
    if common::tshark().is_none() || !common::scapy() {
        return;
    }
    const N: usize = 3;
    let args = [
        "--models",
        "reference,mutant:fenced,mutant:wrong-ttl",
        "--suites",
        "icmp-conversation,dns-conversation-json,arp-conversation",
        "--tshark",
        "on",
        "--format",
        "junit",
    ];
    let dir = tempfile::tempdir().unwrap();
    let whole = harness().arg("matrix").args(args).arg("--out").arg(dir.path().join("whole")).output().unwrap();
    assert_eq!(whole.status.code(), Some(0), "{}", String::from_utf8_lossy(&whole.stderr));
    let shards: Vec<_> = (1..=N)
        .map(|i| {
            let out = dir.path().join(format!("shard-{i}"));
            let child = harness()
                .arg("matrix")
                .args(args)
                .args(["--shard", &format!("{i}/{N}")])
                .arg("--out")
                .arg(&out)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (out, child)
        })
        .collect();
    let mut folders = Vec::new();
    for (out, child) in shards {
        let done = child.wait_with_output().unwrap();
        assert_eq!(done.status.code(), Some(0), "{}", String::from_utf8_lossy(&done.stderr));
        assert!(String::from_utf8_lossy(&done.stdout).contains("<testsuite"), "each shard prints JUnit");
        folders.push(out);
    }
    let merged_dir = dir.path().join("merged");
    let merged =
        harness().args(["merge", "--format", "junit", "--out"]).arg(&merged_dir).args(&folders).output().unwrap();
    assert_eq!(merged.status.code(), whole.status.code(), "{}", String::from_utf8_lossy(&merged.stderr));
    assert_eq!(
        String::from_utf8(merged.stdout).unwrap(),
        String::from_utf8(whole.stdout).unwrap(),
        "merged JUnit = unsharded JUnit"
    );
    let read = |d: &Path| std::fs::read_to_string(d.join("report.json")).unwrap();
    assert_eq!(read(&merged_dir), read(&dir.path().join("whole")), "merged report.json = unsharded report.json");
    let html = harness().args(["merge", "--format", "html"]).args(&folders).output().unwrap();
    let whole_html = harness().args(["merge", "--format", "html"]).arg(dir.path().join("whole")).output().unwrap();
    assert_eq!(html.stdout, whole_html.stdout, "merged report.html = unsharded report.html");
}

/// A suite naming a reference capture gets the realism metrics of
/// `harness compare` in its cell (here: the paper's published HTTP
/// conversations, 11 packets each like ours).
#[test]
fn realism_joins_the_cell() {
    if !common::scapy() || !Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/pcaps").is_dir() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = harness()
        .args([
            "matrix",
            "--models",
            "reference",
            "--suites-dir",
            "harness/suites-realism",
            "--tshark",
            "off",
            "--format",
            "json",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = report["cells"][0]["realism"].as_array().unwrap();
    let value = |metric: &str, kind: &str| {
        rows.iter().find(|r| r["metric"] == metric && r["kind"] == kind).and_then(|r| r["value"].as_f64())
    };
    assert!(rows.len() >= 9, "{rows:?}");
    assert_eq!(value("flow size", "emd"), Some(0.0));
    assert_eq!(value("protocol", "jsd"), Some(0.0));
    assert!(value("src address rank", "jsd").unwrap() > 0.0);
}

/// LLM-NTG's experiments as matrix suites (`harness/suites-ntg`): the
/// reference (the real sample rows) has zero divergence from the sample,
/// dissects as ZigBee without error, and carries realism against the real
/// capture; the statistics are snapshot-tested.
#[test]
fn ntg_suites_reproduce_llm_ntg() {
    if common::tshark().is_none()
        || !Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/summaries/LLM-NTG").is_dir()
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = harness()
        .args([
            "matrix",
            "--models",
            "reference",
            "--suites-dir",
            "harness/suites-ntg",
            "--tshark",
            "on",
            "--format",
            "json",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut text = String::new();
    for c in report["cells"].as_array().unwrap() {
        let n = &c["ntg"];
        for key in ["jsd_timing", "jsd_size", "jsd_types"] {
            assert_eq!(n[key].as_f64(), Some(0.0), "{key}: {c}");
        }
        for row in c["protocols"].as_object().unwrap().values() {
            assert_eq!(row["errors"], 0, "{c}");
            assert_eq!(row["success_rate"].as_f64(), Some(1.0), "{c}");
        }
        assert!(c["realism"].as_array().unwrap().len() >= 9);
        text.push_str(&format!("{}: {}\n", c["suite"].as_str().unwrap(), serde_json::to_string(n).unwrap()));
    }
    insta::assert_snapshot!("ntg_reference_statistics", text);
}

/// `--jobs 2` (cells side by side, sharing one tshark and one Scapy pool)
/// gives the report and tables of `--jobs 1`, byte for byte.
#[test]
fn concurrent_cells_equal_sequential_cells() {
    if common::tshark().is_none() || !common::scapy() {
        return;
    }
    let args = [
        "--models",
        "reference,mutant:ack-off-by-one,mutant:fenced",
        "--suites",
        "icmp-conversation,dns-conversation-json,http-conversation,day-conversation-json",
    ];
    let run = |jobs: &str| {
        let dir = tempfile::tempdir().unwrap();
        let out = harness()
            .args(["matrix", "--format", "md", "--tshark", "on", "--jobs", jobs, "--out"])
            .arg(dir.path())
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "--jobs {jobs}: {}", String::from_utf8_lossy(&out.stderr));
        // One progress line per cell.
        let progress = String::from_utf8_lossy(&out.stderr).lines().filter(|l| l.starts_with('[')).count();
        let report = std::fs::read(dir.path().join("report.json")).unwrap();
        (out.stdout, report, progress, dir)
    };
    let (md1, report1, progress1, _one) = run("1");
    let (md2, report2, progress2, _two) = run("2");
    let cells = serde_json::from_slice::<Value>(&report1).unwrap()["cells"].as_array().unwrap().len();
    assert!(cells >= 6, "{cells} cells");
    assert_eq!((progress1, progress2), (cells, cells));
    assert_eq!(String::from_utf8(report2).unwrap(), String::from_utf8(report1).unwrap());
    assert_eq!(String::from_utf8(md2).unwrap(), String::from_utf8(md1).unwrap());
    // N = 0 is refused.
    let zero = harness().args(["matrix", "--jobs", "0"]).output().unwrap();
    assert_eq!(zero.status.code(), Some(2));
}
