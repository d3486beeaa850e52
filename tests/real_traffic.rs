//! Everyday real traffic gets no false errors: the project's own captures of
//! real clients and servers (`tests/fixtures/real-traffic`, recorded in
//! network namespaces on a veth that keeps checksum offload; see its
//! README) judged by `harness check` with the real tshark.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real-traffic");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 7, "the fixtures listed in {}", dir.join("README.md").display());
    files
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real-traffic").join(name)
}

/// `harness check --format json ARGS`, parsed.
fn check(args: &[&str], files: &[PathBuf]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_harness"))
        .arg("check")
        .args(["--format", "json"])
        .args(args)
        .args(files)
        .output()
        .unwrap();
    assert!(
        output.status.code().is_some_and(|c| c <= 1),
        "harness check failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// `(frame, check)` of the findings of `severity` from `source`.
fn findings<'a>(file: &'a Value, source: &str, severity: &str) -> Vec<(u64, &'a str)> {
    file["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["source"] == source && f["severity"] == severity)
        .map(|f| (f["frame"].as_u64().unwrap(), f["check"].as_str().unwrap()))
        .collect()
}

fn count(file: &Value, check: &str) -> usize {
    file["findings"].as_array().unwrap().iter().filter(|f| f["check"] == check).count()
}

#[test]
fn real_traffic_has_no_error_findings() {
    if common::tshark().is_none() {
        return;
    }
    let report = check(&["--tshark", "on"], &fixtures());
    assert_eq!(report["checksums"], "offload-aware");
    let options = report["tshark"]["options"].as_array().unwrap();
    assert!(
        options.iter().any(|o| o == "tcp.check_checksum:FALSE"),
        "offload-aware runs tshark without checksum validation, as Wireshark's defaults do: {options:?}"
    );
    for file in report["files"].as_array().unwrap() {
        let name = file["file"].as_str().unwrap();
        assert_eq!(findings(file, "harness", "error"), vec![], "{name}: own errors");
        assert_eq!(findings(file, "tshark", "error"), vec![], "{name}: tshark errors");
        assert_eq!(file["tshark"]["errors"], 0, "{name}");
        // Every layer decodes where it is expected: reassembled HTTP and
        // DNS messages count on every segment that carries them.
        for (layer, row) in file["protocols"].as_object().unwrap() {
            assert_eq!(row["malformed"], 0, "{name}: {layer} malformed");
            assert_eq!(row["non_existent"], 0, "{name}: {layer} non-existent");
        }
    }
}

#[test]
fn offloaded_checksums_are_notes_and_strict_mode_still_sees_them() {
    let files = [fixture("dns-udp.pcap"), fixture("http-pipelined.pcap")];
    let aware = check(&["--tshark", "off"], &files);
    let strict = check(&["--tshark", "off", "--checksums", "strict"], &files);
    let off = check(&["--tshark", "off", "--checksums", "off"], &files);
    let (udp, http) = (&aware["files"][0], &aware["files"][1]);
    // Every UDP and TCP segment of these captures carries the partial sum.
    assert_eq!(count(udp, "udp.checksum_offload"), 8);
    assert_eq!(count(http, "tcp.checksum_offload"), 20);
    assert_eq!(count(&strict["files"][0], "udp.bad_checksum"), 8);
    assert_eq!(count(&strict["files"][1], "tcp.bad_checksum"), 20);
    assert_eq!(strict["checksums"], "strict");
    for file in off["files"].as_array().unwrap() {
        assert_eq!(
            count(file, "udp.bad_checksum") + count(file, "tcp.bad_checksum") + count(file, "tcp.checksum_offload"),
            0
        );
    }
}

#[test]
fn a_wrong_checksum_that_is_not_offload_stays_an_error() {
    // Frame 3 of dns-udp.pcap is the first query (after the ARP pair):
    // make its UDP checksum wrong in a way no NIC leaves it.
    let mut data = std::fs::read(fixture("dns-udp.pcap")).unwrap();
    let mut offset = 24;
    for _ in 0..2 {
        let len = u32::from_le_bytes(data[offset + 8..offset + 12].try_into().unwrap()) as usize;
        offset += 16 + len;
    }
    let udp_checksum = offset + 16 + 14 + 20 + 6;
    data[udp_checksum] ^= 0x5a;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wrong.pcap");
    std::fs::write(&path, data).unwrap();
    let report = check(&["--tshark", "off"], &[path]);
    assert_eq!(findings(&report["files"][0], "harness", "error"), vec![(3, "udp.bad_checksum")]);
}

#[test]
fn messages_spanning_segments_are_reassembled() {
    let report = check(
        &["--tshark", "off"],
        &[fixture("dns-tcp-axfr.pcap"), fixture("http-large-chunked.pcap"), fixture("http-pipelined.pcap")],
    );
    for file in report["files"].as_array().unwrap() {
        let name = file["file"].as_str().unwrap();
        let warnings: Vec<_> = findings(file, "harness", "warn");
        assert_eq!(warnings, vec![], "{name}");
    }
    // The zone transfer: DNS on every segment of its stream, the SOA at
    // both ends included.
    let axfr = &report["files"][0];
    assert!(axfr["protocols"]["DNS"]["packets"].as_u64().unwrap() >= 8, "{}", axfr["protocols"]);
}

#[test]
fn a_capture_that_starts_mid_connection_gets_warnings_only() {
    let report = check(&["--tshark", "off"], &[fixture("http-midstream.pcap")]);
    let file = &report["files"][0];
    assert_eq!(findings(file, "harness", "error"), vec![]);
    assert_eq!(findings(file, "harness", "warn"), vec![(1, "tcp.no_handshake")]);
}
