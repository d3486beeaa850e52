//! The `harness` binary end to end: `convert` then `check`, exit statuses,
//! the JSON contract, and clear errors for bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

fn harness(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harness")).args(args).output().expect("run harness")
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// Seed 000's schema: a correct HTTP conversation over TCP.
fn seed000_trace() -> Value {
    let request = "GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n";
    let response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
    let (q, r) = (request.len() as u64, response.len() as u64);
    let p = |t: f64, from_client: bool, flags: &str, seq: u64, ack: u64, payload: &str| {
        let (src, dst, sport, dport) =
            if from_client { ("10.0.0.1", "10.0.0.2", 12345, 80) } else { ("10.0.0.2", "10.0.0.1", 80, 12345) };
        json!({"timestamp": t, "protocol": "TCP", "src_ip": src, "dst_ip": dst, "src_port": sport, "dst_port": dport,
               "flags": flags, "seq": seq, "ack": ack, "payload": payload})
    };
    json!([
        p(0.0001, true, "SYN", 0, 0, ""),
        p(0.0002, false, "SYN-ACK", 500, 1, ""),
        p(0.0003, true, "ACK", 1, 501, ""),
        p(0.0004, true, "PSH-ACK", 1, 501, request),
        p(0.0005, false, "ACK", 501, 1 + q, ""),
        p(0.0006, false, "PSH-ACK", 501, 1 + q, response),
        p(0.0007, true, "ACK", 1 + q, 501 + r, ""),
        p(0.0008, true, "FIN-ACK", 1 + q, 501 + r, ""),
        p(0.0009, false, "ACK", 501 + r, 2 + q, ""),
        p(0.0010, false, "FIN-ACK", 501 + r, 2 + q, ""),
        p(0.0011, true, "ACK", 2 + q, 502 + r, ""),
    ])
}

fn convert(dir: &Path, name: &str, trace: &Value) -> PathBuf {
    let json_path = dir.join(format!("{name}.json"));
    let pcap_path = dir.join(format!("{name}.pcap"));
    std::fs::write(&json_path, serde_json::to_vec_pretty(trace).unwrap()).unwrap();
    let out = harness(&["convert", json_path.to_str().unwrap(), "-o", pcap_path.to_str().unwrap()]);
    assert!(out.status.success(), "convert failed: {}", String::from_utf8_lossy(&out.stderr));
    pcap_path
}

fn check_json(pcap: &Path) -> (i32, Value) {
    let out = harness(&["check", "--format", "json", "--tshark", "off", pcap.to_str().unwrap()]);
    let value: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code().unwrap(), value)
}

/// (frame, check) of every finding at warn or above.
fn serious(value: &Value) -> Vec<(u64, String)> {
    value["files"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error" || f["severity"] == "warn")
        .map(|f| (f["frame"].as_u64().unwrap(), f["check"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn correct_trace_passes_with_contract_shape() {
    let dir = tempdir();
    let pcap = convert(dir.path(), "ok", &seed000_trace());
    let (code, value) = check_json(&pcap);
    assert_eq!(code, 0, "{value:#}");
    assert_eq!(serious(&value), vec![]);
    let file = &value["files"][0];
    assert_eq!(file["linktype"], "RAW");
    assert_eq!(file["packets"], 11);
    assert_eq!(file["tshark"], Value::Null);
    for protocol in ["IP", "TCP", "HTTP"] {
        let row = &file["protocols"][protocol];
        assert_eq!(row["success_rate"], 1.0, "{protocol}: {row}");
        assert_eq!(row["malformed"], 0);
        assert_eq!(row["non_existent"], 0);
    }
    assert_eq!(file["protocols"]["HTTP"]["packets"], 2);
    assert_eq!(file["protocols"]["TCP"]["packets"], 11);
    assert_eq!(file["conversations"], json!({"total": 1, "succeeded": 1}));
    assert!(file["protocols"].get("ETH").is_none());
}

#[test]
fn convert_is_deterministic() {
    let dir = tempdir();
    let a = std::fs::read(convert(dir.path(), "a", &seed000_trace())).unwrap();
    let b = std::fs::read(convert(dir.path(), "b", &seed000_trace())).unwrap();
    assert_eq!(a, b);
}

/// Each single fault of the seed-000 trace is reported on the frame that
/// carries it, with the expected check id, and makes `check` exit 1.
#[test]
fn single_faults_are_reported_on_their_frame() {
    let cases: Vec<(&str, usize, &str, Value, &str)> = vec![
        ("synack_ack", 1, "ack", json!(2), "tcp.bad_ack"),
        ("third_ack", 2, "ack", json!(502), "tcp.bad_ack"),
        ("seq_gap", 5, "seq", json!(511), "tcp.seq_gap"),
        ("missing_ack", 3, "flags", json!("PSH"), "tcp.missing_ack"),
        ("syn_fin", 0, "flags", json!("SYN|FIN"), "tcp.bad_flags"),
    ];
    let dir = tempdir();
    for (name, index, field, value, check) in cases {
        let mut trace = seed000_trace();
        trace[index][field] = value;
        let pcap = convert(dir.path(), name, &trace);
        let (code, report) = check_json(&pcap);
        let found = serious(&report);
        assert!(
            found.contains(&(index as u64 + 1, check.to_string())),
            "{name}: expected {check} on frame {}, got {found:?}",
            index + 1
        );
        assert_eq!(code, 1, "{name}: exit status");
    }
}

#[test]
fn time_going_backwards() {
    let mut trace = seed000_trace();
    trace[4]["timestamp"] = json!(0.00005);
    let dir = tempdir();
    let (_, report) = check_json(&convert(dir.path(), "time", &trace));
    assert!(serious(&report).contains(&(5, "time.not_monotonic".to_string())), "{report:#}");
}

#[test]
fn truncated_capture_names_file_and_offset() {
    let dir = tempdir();
    let pcap = convert(dir.path(), "ok", &seed000_trace());
    let bytes = std::fs::read(&pcap).unwrap();
    let cut = dir.path().join("cut.pcap");
    std::fs::write(&cut, &bytes[..bytes.len() - 7]).unwrap();
    let out = harness(&["check", "--tshark", "off", "--format", "json", cut.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cut.pcap") && stderr.contains("truncated PCAP record at offset"), "{stderr}");
    // Nothing before the cut is lost: ten frames are still reported.
    let value: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["files"][0]["packets"], 10);
    assert!(value["files"][0]["error"].as_str().unwrap().contains("offset"));
}

#[test]
fn garbage_and_missing_files_exit_2() {
    let dir = tempdir();
    let garbage = dir.path().join("garbage.pcap");
    std::fs::write(&garbage, b"this is not a capture at all").unwrap();
    let out = harness(&["check", "--tshark", "off", garbage.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a PCAP or pcapng file"));
    let out = harness(&["check", "--tshark", "off", dir.path().join("missing.pcap").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot open"));
}

#[test]
fn absurd_record_length() {
    let dir = tempdir();
    let bytes = std::fs::read(convert(dir.path(), "ok", &seed000_trace())).unwrap();
    let mut bad = bytes.clone();
    bad[24 + 8..24 + 12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    let path = dir.path().join("absurd.pcap");
    std::fs::write(&path, bad).unwrap();
    let out = harness(&["check", "--tshark", "off", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("absurd PCAP record length 2147483647 at offset 24"));
}

#[test]
fn bad_json_names_the_path() {
    let dir = tempdir();
    let mut trace = seed000_trace();
    trace[3]["src_port"] = json!(70000);
    let path = dir.path().join("bad.json");
    std::fs::write(&path, serde_json::to_vec(&trace).unwrap()).unwrap();
    let out = harness(&["convert", path.to_str().unwrap(), "-o", dir.path().join("x.pcap").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("$[3].src_port"), "{stderr}");
    std::fs::write(&path, b"[{\"timestamp\": 0.1,").unwrap();
    let out = harness(&["convert", path.to_str().unwrap(), "-o", dir.path().join("x.pcap").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn tshark_on_without_tshark_is_an_error() {
    let dir = tempdir();
    let pcap = convert(dir.path(), "ok", &seed000_trace());
    let out = harness(&["check", "--tshark", "on", "--tshark-path", "/nonexistent/tshark", pcap.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tshark"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn other_formats_render() {
    let dir = tempdir();
    let pcap = convert(dir.path(), "ok", &seed000_trace());
    for (format, needle) in [("table", "Success rate"), ("md", "| Protocol |"), ("csv", "file,protocol,packets")] {
        let out = harness(&["check", "--tshark", "off", "--format", format, pcap.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0));
        assert!(String::from_utf8_lossy(&out.stdout).contains(needle), "{format}");
    }
}

/// The traces of `examples/`: `ok-*` pass (exit 0), `bad-*` are caught (exit 1).
#[test]
fn examples_pass_or_are_caught() {
    let dir = tempfile::tempdir().unwrap();
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(&examples).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let pcap = dir.path().join(format!("{name}.pcap"));
        let bin = env!("CARGO_BIN_EXE_harness");
        assert!(
            std::process::Command::new(bin)
                .arg("convert")
                .arg(&path)
                .arg("-o")
                .arg(&pcap)
                .output()
                .unwrap()
                .status
                .success(),
            "{name}"
        );
        let code = std::process::Command::new(bin)
            .args(["check", "--tshark", "off"])
            .arg(&pcap)
            .output()
            .unwrap()
            .status
            .code();
        let want = if name.starts_with("ok-") { 0 } else { 1 };
        assert_eq!(code, Some(want), "{name}");
        seen += 1;
    }
    assert!(seen >= 3);
}
