//! LLM-NTG's GPT-4.1 ZigBee summaries (`../shared/corpus/ntg-json`) convert
//! to IEEE 802.15.4 captures that real tshark dissects as ZigBee, frame by
//! frame, with no Expert Info at all; the harness's own decoding names each
//! frame exactly as tshark's Info column does; the own checks raise no error
//! on them nor on LLM-NTG's real input captures.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use harness::analyze::own_pass;
use harness::check::Limits;
use harness::exec::ntg;
use harness::exec::ntg::build::{build, LengthPolicy, Options};
use harness::finding::Severity;
use harness::pcap::{write_pcap, Reader};
use harness::wire::zigbee::{decode, describe};

fn sorted(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect();
    files.sort();
    files
}

/// tshark's view of every frame: protocols, Info column, expert severities.
fn tshark_fields(path: &Path) -> Vec<(String, String, String)> {
    let output = Command::new("tshark")
        .env("LC_ALL", "C")
        .args(["-n", "-r"])
        .arg(path)
        .args([
            "-T",
            "fields",
            "-E",
            "separator=\t",
            "-e",
            "frame.protocols",
            "-e",
            "_ws.col.Info",
            "-e",
            "_ws.expert.severity",
        ])
        .output()
        .expect("run tshark");
    assert!(output.status.success(), "tshark failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let mut parts = line.splitn(3, '\t');
            let mut next = || parts.next().unwrap_or("").to_string();
            (next(), next(), next())
        })
        .collect()
}

/// Our own Info text for every frame of a capture.
fn own_info(path: &Path) -> Vec<Option<String>> {
    let mut reader = Reader::open(path).unwrap();
    let mut out = Vec::new();
    while let Some(frame) = reader.next_frame() {
        let frame = frame.unwrap();
        out.push(decode(frame.data).ok().as_ref().and_then(describe));
    }
    out
}

fn assert_zigbee_clean(path: &Path, name: &str) {
    let own = own_info(path);
    let pass = own_pass(path, Limits::default()).unwrap();
    let errors: Vec<String> =
        pass.findings.iter().filter(|f| f.severity == Severity::Error).map(|f| f.to_string()).collect();
    assert!(errors.is_empty(), "{name}: own errors {errors:?}");
    if common::tshark().is_none() {
        return;
    }
    let frames = tshark_fields(path);
    assert_eq!(frames.len(), own.len(), "{name}: frame count");
    for (i, ((protocols, info, experts), own)) in frames.iter().zip(&own).enumerate() {
        assert!(protocols.starts_with("wpan:zbee_nwk"), "{name} frame {}: {protocols}", i + 1);
        assert!(experts.is_empty(), "{name} frame {}: tshark expert severities {experts} ({info})", i + 1);
        assert_eq!(own.as_deref(), Some(info.as_str()), "{name} frame {}", i + 1);
    }
}

#[test]
fn gpt41_traces_convert_and_dissect_as_zigbee() {
    let Some(dir) = common::shared("ntg-json") else { return };
    let files = sorted(&dir, "json");
    assert_eq!(files.len(), 20, "the 20 GPT-4.1 traces");
    let out = tempfile::tempdir().unwrap();
    let mut total = 0;
    for (n, file) in files.iter().enumerate() {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let summary = ntg::parse(&std::fs::read_to_string(file).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"));
        for lengths in [LengthPolicy::Honor, LengthPolicy::Canonical] {
            let conversion = build(&summary.rows, &Options { lengths, ..Options::default() })
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(conversion.trace.packets.len(), summary.rows.len());
            if lengths == LengthPolicy::Canonical {
                assert!(
                    conversion.findings.iter().all(|f| !f.message.contains("requested")),
                    "{name}: canonical sizes do not compare lengths"
                );
            }
            let path = out.path().join(format!("{n}-{lengths:?}.pcap"));
            write_pcap(&path, &conversion.trace).unwrap();
            assert_zigbee_clean(&path, &name);
            // Same input, same bytes.
            let again = build(&summary.rows, &Options { lengths, ..Options::default() }).unwrap();
            assert_eq!(again, conversion, "{name}: not deterministic");
        }
        total += summary.rows.len();
    }
    assert_eq!(total, 3468);
}

#[test]
fn real_input_captures_decode_like_tshark() {
    let Some(dir) = common::shared("pcaps/LLM-NTG/real-input/Datasets/pcap_files") else { return };
    for path in sorted(&dir, "pcap") {
        assert_zigbee_clean(&path, &path.display().to_string());
    }
}

#[test]
fn every_message_type_dissects() {
    let rows = r#"[
        {"time": "0.0", "src": "0x1de6", "dst": "Broadcast", "protocol": "ZigBee", "length": "43", "info": "Link Status"},
        {"time": "0.5", "src": "0x1de6", "dst": "0xd7a7", "protocol": "ZigBee", "info": "Network Status, 0x1de6: Many-to-One Route Failure"},
        {"time": "1.0", "src": "0x1de6", "dst": "0xfffc", "protocol": "ZigBee", "info": "Route Request, Dst: 0xd7a7, Src: 0x1de6"},
        {"time": "1.1", "src": "0xb85c", "dst": "0xd7a7", "protocol": "ZigBee", "info": "Route Reply, Responder: 0xb85c, Originator: 0xd7a7"},
        {"time": "2.0", "src": "0xd7a7", "dst": "0x1de6", "protocol": "ZigBee HA", "length": 56, "info": "ZCL: Read Attributes, Seq: 10"},
        {"time": "2.1", "src": "0x1de6", "dst": "0xd7a7", "protocol": "ZigBee HA", "length": 64, "info": "ZCL: Read Attributes Response, Seq: 10"},
        {"time": "3.0", "src": "0xd7a7", "dst": "0x1de6", "protocol": "ZigBee HA", "length": 40, "info": "ZCL: Write Attributes, Seq: 11"},
        {"time": "3.1", "src": "0x1de6", "dst": "0xd7a7", "protocol": "ZigBee HA", "info": "ZCL: Write Attributes Response, Seq: 11"},
        {"time": "3.2", "src": "0x1de6", "dst": "0xd7a7", "protocol": "ZigBee HA", "info": "ZCL: Default Response, Seq: 12"},
        {"time": "4.0", "src": "0xd7a7", "dst": "0x1de6", "protocol": "ZigBee HA", "length": 49, "info": "ZCL Groups: Get Group Membership, Seq: 13"},
        {"time": "4.1", "src": "0x1de6", "dst": "0xd7a7", "protocol": "ZigBee HA", "length": 58, "info": "ZCL Groups: Get Group Membership Response, Seq: 13"},
        {"time": "5.0", "src": "0xd7a7", "dst": "0x1de6", "protocol": "ZigBee HA", "info": "ZCL Scenes: Get Scene Membership, Seq: 14"},
        {"time": "5.1", "src": "0x1de6", "dst": "0xd7a7", "protocol": "ZigBee HA", "length": 69, "info": "ZCL Scenes: Get Scene Membership Response, Seq: 14"},
        {"time": "6.0", "src": "0x1de6", "dst": "0xd7a7", "protocol": "ZigBee HA", "info": "ZCL OTA: Query Next Image Request, Seq: 15"},
        {"time": "6.1", "src": "0xd7a7", "dst": "0x1de6", "protocol": "ZigBee HA", "info": "ZCL OTA: Query Next Image Response, Seq: 15"},
        {"time": "7.0", "src": "0x1de6", "dst": "0xd7a7", "protocol": "ZigBee HA", "length": 40, "info": "Unknown Command: 0xc1,"},
        {"time": "8.0", "src": "0xd7a7", "dst": "0x1de6", "protocol": "ZigBee ZDP", "info": "Node Descriptor Request, Nwk Addr: 0x1de6"},
        {"time": "8.1", "src": "0x1de6", "dst": "0xd7a7", "protocol": "ZigBee ZDP", "info": "Node Descriptor Response, Rev: 22, Nwk Addr: 0x1de6, Status: Success"},
        {"time": "9.0", "src": "0xd7a7", "dst": "0x1de6", "protocol": "ZigBee ZDP", "info": "Simple Descriptor Request, Nwk Addr: 0x1de6, Endpoint: 11"},
        {"time": "9.1", "src": "0x1de6", "dst": "0xd7a7", "protocol": "ZigBee ZDP", "info": "Simple Descriptor Response, Nwk Addr: 0x1de6, Status: Success"}
    ]"#;
    let summary = ntg::parse(rows).unwrap();
    let conversion = build(&summary.rows, &Options::default()).unwrap();
    // Every requested length is met exactly (the types allow them).
    assert_eq!(conversion.findings, vec![]);
    for (row, packet) in summary.rows.iter().zip(&conversion.trace.packets) {
        if let Some(length) = row.length {
            assert_eq!(packet.data.len(), length as usize, "{}", row.info);
        }
    }
    let out = tempfile::tempdir().unwrap();
    let path = out.path().join("all.pcap");
    write_pcap(&path, &conversion.trace).unwrap();
    assert_zigbee_clean(&path, "all message types");
    let pass = own_pass(&path, Limits::default()).unwrap();
    assert_eq!(pass.findings, vec![], "a complete two-way exchange is clean");
}

#[test]
fn cli_convert_ntg_reports_fidelity_and_unknown_rows() {
    let out = tempfile::tempdir().unwrap();
    let input = out.path().join("trace.json");
    std::fs::write(
        &input,
        r#"[{"time": "1.0", "src": "0x1de6", "dst": "0xfffc", "protocol": "ZigBee", "length": "80", "info": "Link Status"},
            {"time": "0.5", "src": "0x1de6", "dst": "0xd7a7", "protocol": "ZigBee HA", "length": "61", "info": "ZCL: Read Attributes Response, Seq: 3"}]"#,
    )
    .unwrap();
    let pcap = out.path().join("trace.pcap");
    let findings = out.path().join("findings.json");
    let run = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["convert", "--dialect", "ntg"])
        .arg(&input)
        .arg("-o")
        .arg(&pcap)
        .arg("--findings")
        .arg(&findings)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("rows 1: length 80 requested, 79 built: Link Status frames are 19 + 3·n bytes (n ≤ 31)"),
        "{stderr}"
    );
    assert!(stderr.contains("rows 2: time 0.5 s goes back from 1 s"), "{stderr}");
    let document: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&findings).unwrap()).unwrap();
    assert_eq!(document["findings"].as_array().unwrap().len(), 2);
    assert_eq!(document["findings"][0]["check"], "summary.mismatch");

    std::fs::write(&input, r#"[{"time": "1", "src": "0x1de6", "dst": "0xfffc", "protocol": "ZigBee", "info": "Link Status"}, {"time": "2", "src": "0x1de6", "dst": "0xfffc", "protocol": "ZigBee", "info": "Beacon Request"}]"#).unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["convert", "--dialect", "ntg"])
        .arg(&input)
        .arg("-o")
        .arg(&pcap)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("row 2: unknown info text \"Beacon Request\""),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

#[test]
fn gpt41_realism_against_real_input() {
    let (Some(dir), Some(real_dir)) =
        (common::shared("ntg-json"), common::shared("pcaps/LLM-NTG/real-input/Datasets/pcap_files"))
    else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let mut table = String::from("trial | metric | value\n");
    for file in sorted(&dir, "json") {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let summary = ntg::parse(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let conversion = build(&summary.rows, &Options::default()).unwrap();
        let path = out.path().join(format!("{name}.pcap"));
        write_pcap(&path, &conversion.trace).unwrap();
        let real = real_dir.join(if name.contains("Exp1") {
            "Experiment_1_one_way_communication.pcap"
        } else {
            "Experiment_2_two_way_communication.pcap"
        });
        let report = harness::realism::compare_paths(&[path], &[real]).unwrap();
        let trial = name.split("_10_minute").next().unwrap().replace("GPT4.1_", "");
        for metric in &report.metrics {
            let value = metric.value.map_or_else(|| "n/a".to_string(), |v| format!("{v:.4}"));
            table.push_str(&format!("{trial} | {} {} | {value}\n", metric.kind, metric.name));
        }
    }
    insta::assert_snapshot!("realism_gpt41_vs_real_input", table);
}

#[test]
fn cli_compare_with_itself_is_zero_and_writes_the_page() {
    let Some(dir) = common::shared("pcaps/LLM-NTG/real-input/Datasets/pcap_files") else { return };
    let real = dir.join("Experiment_2_two_way_communication.pcap");
    let out = tempfile::tempdir().unwrap();
    let page = out.path().join("realism.html");
    let run = Command::new(env!("CARGO_BIN_EXE_harness"))
        .arg("compare")
        .arg(&real)
        .arg(&real)
        .args(["--format", "json", "--html"])
        .arg(&page)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let metrics = report["metrics"].as_array().unwrap();
    assert!(metrics.len() >= 10);
    for metric in metrics {
        if !metric["value"].is_null() {
            assert_eq!(metric["value"].as_f64(), Some(0.0), "{metric}");
        }
    }
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.matches("<svg").count() >= 4, "one figure per distribution");
    assert!(!html.contains("<script"));
}

#[test]
fn llm_ntg_statistics_against_the_real_sample_input() {
    use harness::realism::zigbee::{ntg_stats, rows_from_capture, trace_stats};
    let (Some(dir), Some(inputs)) = (common::shared("ntg-json"), common::shared("summaries/LLM-NTG/Datasets")) else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let mut table = String::from("trial | packets | types | mean IAT s | JSD timing | JSD size | JSD types\n");
    for file in sorted(&dir, "json") {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let generated = ntg::parse(&std::fs::read_to_string(&file).unwrap()).unwrap().rows;
        let input = inputs.join(if name.contains("Exp1") {
            "Experiment_1_one_way_communication_10_minute_input_sample.json"
        } else {
            "Experiment_2_input_sample.json"
        });
        let real = ntg::parse(&std::fs::read_to_string(&input).unwrap()).unwrap().rows;
        let stats = ntg_stats(&generated, &real);
        let f = |v: Option<f64>| v.map_or("n/a".into(), |v| format!("{v:.4}"));
        table.push_str(&format!(
            "{} | {} | {} | {:.3} | {} | {} | {}\n",
            name.split("_10_minute").next().unwrap().replace("GPT4.1_", ""),
            stats.generated.packets,
            stats.generated.types.len(),
            stats.generated.inter_arrival.map_or(0.0, |s| s.mean),
            f(stats.jsd_timing),
            f(stats.jsd_size),
            f(stats.jsd_types)
        ));
        // A converted capture read back gives the same types and times.
        let conversion = build(&generated, &Options::default()).unwrap();
        let path = out.path().join("trace.pcap");
        write_pcap(&path, &conversion.trace).unwrap();
        let back = rows_from_capture(&path).unwrap();
        assert_eq!(trace_stats(&back).types, stats.generated.types, "{name}");
        let first = generated[0].time;
        for (a, b) in back.iter().zip(&generated) {
            assert!((a.time - (b.time - first)).abs() < 1e-6, "{name}");
        }
    }
    insta::assert_snapshot!("llm_ntg_statistics_gpt41", table);
}
