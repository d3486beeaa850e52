//! The Wireshark plug-in with the real tshark: every harness finding of an
//! annotated capture appears once as Expert Info with its severity, display
//! filters on `harness.check` select exactly its frames, and a capture
//! without findings shows no harness item.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use harness::analyze::{file_report, own_pass};
use harness::check::catalog::CATALOG;
use harness::check::Limits;
use harness::finding::{Finding, Severity, Source};
use harness::pcap::LinkType;
use harness::wireshark::{annotate, install};

/// Run tshark with the plug-in; return (frame, check, severity) of every
/// harness item, from the Expert Info severity and the harness fields.
fn harness_items(plugin: &Path, capture: &Path, filter: &str) -> Vec<(u64, String, String)> {
    let out = Command::new("tshark")
        .arg("-X")
        .arg(format!("lua_script:{}", plugin.display()))
        .arg("-r")
        .arg(capture)
        .args(["-Y", filter, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|"])
        .args(["-e", "frame.number", "-e", "harness.check", "-e", "harness.severity"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut items = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let frame: u64 = cols[0].parse().unwrap();
        for (check, severity) in cols[1].split('|').zip(cols[2].split('|')) {
            if !check.is_empty() {
                items.push((frame, check.to_string(), severity.to_string()));
            }
        }
    }
    items.sort();
    items
}

/// Expert Info items of the harness protocol, by severity name.
fn expert_severities(plugin: &Path, capture: &Path) -> Vec<(u64, String)> {
    let out = Command::new("tshark")
        .arg("-X")
        .arg(format!("lua_script:{}", plugin.display()))
        .arg("-r")
        .arg(capture)
        .args(["-Y", "harness", "-T", "pdml"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut found = Vec::new();
    let mut frame = 0u64;
    for line in text.lines() {
        let line = line.trim_start();
        if line.starts_with("<field name=\"num\"") {
            frame = line.split("show=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap();
        }
        if line.starts_with("<field name=\"harness.expert.") {
            let name = line.split('"').nth(1).unwrap();
            let severity = name.rsplit('.').next().unwrap().to_string();
            found.push((frame, severity));
        }
    }
    found.sort();
    found
}

fn own(findings: &[Finding]) -> Vec<(u64, String, String)> {
    let mut out: Vec<_> = findings
        .iter()
        .filter(|f| f.source == Source::Harness)
        .map(|f| (f.frame, f.check.to_string(), f.severity.to_string()))
        .collect();
    out.sort();
    out
}

#[test]
fn every_catalogued_check_and_severity_shows_once() {
    if tshark().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let plugin = install(dir.path()).unwrap();
    // One frame per (check, severity) of the catalogue.
    let mut findings = Vec::new();
    let mut frames = Vec::new();
    for info in CATALOG {
        for severity in info.severities {
            frames.push(echo([10, 0, 0, 1], [10, 0, 0, 2], false, frames.len() as u16, 1));
            findings.push(Finding::own(
                frames.len() as u64,
                *severity,
                info.id,
                info.protocol,
                format!("synthetic {} finding", info.id),
            ));
        }
    }
    let plain = write(&dir.path().join("plain.pcap"), LinkType::Raw, &frames);
    let annotated = dir.path().join("annotated.pcapng");
    assert_eq!(annotate(&plain, &annotated, &findings).unwrap(), findings.len() as u64);
    assert_eq!(harness_items(&plugin, &annotated, "harness"), own(&findings));
    let expected: Vec<(u64, String)> = findings.iter().map(|f| (f.frame, f.severity.to_string())).collect();
    assert_eq!(expert_severities(&plugin, &annotated), expected);
    // A filter on one check selects exactly its frames.
    for info in CATALOG.iter().take(12) {
        let frames: BTreeSet<u64> = findings.iter().filter(|f| f.check == info.id).map(|f| f.frame).collect();
        let selected: BTreeSet<u64> = harness_items(&plugin, &annotated, &format!("harness.check == \"{}\"", info.id))
            .into_iter()
            .map(|i| i.0)
            .collect();
        assert_eq!(selected, frames, "{}", info.id);
    }
}

fn corpus() -> Vec<PathBuf> {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/pcaps/GPT-on-the-wire/gpt-3.5");
    [
        "MOE/MOE_Conversations_generated_3_5_turbo-instruct_conv.pcap",
        "Packets/DNS/pcap/DNSgenerated_3_5_turbo-instruct_conv.pcap",
        "Packets/HTTP/pcap/HTTP2generated_3_5_turbo-instruct_conv_ALL.pcap",
    ]
    .iter()
    .map(|p| base.join(p))
    .filter(|p| p.is_file())
    .collect()
}

#[test]
fn real_findings_of_the_paper_captures() {
    if tshark().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let plugin = install(dir.path()).unwrap();
    let files = corpus();
    if files.is_empty() {
        eprintln!("SKIPPED: no corpus beside the checkout");
        return;
    }
    for (i, path) in files.iter().enumerate() {
        let report = file_report("x", own_pass(path, Limits::default()).unwrap(), None);
        let annotated = dir.path().join(format!("{i}.pcapng"));
        annotate(path, &annotated, &report.findings).unwrap();
        let shown = harness_items(&plugin, &annotated, "harness");
        assert!(!shown.is_empty());
        assert_eq!(shown, own(&report.findings), "{}", path.display());
        // Error findings: the filter selects exactly their frames.
        let errors: BTreeSet<u64> =
            report.findings.iter().filter(|f| f.severity == Severity::Error).map(|f| f.frame).collect();
        let selected: BTreeSet<u64> =
            harness_items(&plugin, &annotated, "harness.severity == \"error\"").into_iter().map(|i| i.0).collect();
        assert_eq!(selected, errors);
    }
}

#[test]
fn clean_capture_has_no_harness_items() {
    if tshark().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let plugin = install(dir.path()).unwrap();
    let plain =
        write(&dir.path().join("ok.pcap"), LinkType::Raw, &http_conversation([10, 0, 0, 1], [10, 0, 0, 2], 40000, 7));
    let report = file_report("ok", own_pass(&plain, Limits::default()).unwrap(), None);
    let annotated = dir.path().join("ok.pcapng");
    assert_eq!(annotate(&plain, &annotated, &report.findings).unwrap(), 0);
    assert_eq!(harness_items(&plugin, &annotated, "harness"), vec![]);
    assert_eq!(expert_severities(&plugin, &annotated), vec![]);
}

/// The acceptance flow through the binary: annotate, install, count.
#[test]
fn cli_annotate_install_and_count() {
    if tshark().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_harness");
    let mut frames = http_conversation([10, 0, 0, 1], [10, 0, 0, 2], 40000, 7);
    frames[1] = tcp([10, 0, 0, 2], [10, 0, 0, 1], 80, 40000, "SA", 900, 5, b"");
    frames.push(echo([10, 0, 0, 3], [10, 0, 0, 4], false, 1, 1));
    let plain = write(&dir.path().join("x.pcap"), LinkType::Raw, &frames);
    let annotated = dir.path().join("a.pcapng");
    let out = Command::new(bin)
        .args(["check", "--tshark", "off", "--format", "json", "--annotate"])
        .arg(&annotated)
        .arg(&plain)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let own_count =
        json["files"][0]["findings"].as_array().unwrap().iter().filter(|f| f["source"] == "harness").count();
    assert!(own_count >= 2);
    let plugins = dir.path().join("plugins");
    let out = Command::new(bin).args(["wireshark", "install", "--dir"]).arg(&plugins).output().unwrap();
    assert!(out.status.success());
    let plugin = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    assert_eq!(plugin, plugins.join("harness.lua"));
    assert_eq!(expert_severities(&plugin, &annotated).len(), own_count);
    // --annotate needs exactly one file.
    let out = Command::new(bin)
        .args(["check", "--tshark", "off", "--annotate"])
        .arg(&annotated)
        .arg(&plain)
        .arg(&plain)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
