//! True verdicts on the published LLM captures (`../shared/corpus/pcaps`),
//! each with the frame that shows it and a built case, judged with the real
//! tshark through the one judge (`harness::analyze::judge`), and the same
//! verdict from `check` and `matrix` for one capture.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use harness::analyze::{file_report, own_pass};
use harness::check::Limits;
use harness::finding::{Finding, Protocol, Severity, Source};
use harness::pcap::LinkType;
use harness::report::FileReport;
use serde_json::Value;

const GPT35: &str = "pcaps/GPT-on-the-wire/gpt-3.5";

/// Judge `path` with the own checks and, when installed, tshark.
fn judged(path: &Path) -> FileReport {
    let pass = own_pass(path, Limits::default()).unwrap();
    let expert = common::tshark().map(|t| t.expert(path).unwrap());
    file_report(&path.display().to_string(), pass, expert)
}

fn at(report: &FileReport, frame: u64) -> Vec<&Finding> {
    report.findings.iter().filter(|f| f.frame == frame).collect()
}

fn corpus(relative: &str) -> Option<PathBuf> {
    common::shared(&format!("{GPT35}/{relative}"))
}

#[test]
fn token_method_request_is_http() {
    // RFC 9110 §9.1: any token is a method. Frame 7 of the paper's HTTP
    // packet capture is `SUBSCRIBE /AVTransport/evt HTTP/1.1`, which tshark
    // decodes as HTTP.
    let Some(path) = corpus("Packets/HTTP/pcap/HTTP2generated_3_5_turbo-instruct_conv_ALL.pcap") else { return };
    let report = judged(&path);
    assert!(!report.findings.iter().any(|f| f.check == "http.not_http"), "{:#?}", report.findings);
    assert!(at(&report, 7).iter().any(|f| f.protocol == Protocol::Http), "{:#?}", at(&report, 7));
    // Built: an UNSUBSCRIBE request on port 80.
    let dir = tempfile::tempdir().unwrap();
    let request = b"UNSUBSCRIBE /evt HTTP/1.1\r\nHost: a\r\nSID: uuid:1\r\n\r\n";
    let frames = harness::testkit::http_conversation([10, 0, 0, 1], 40000, [10, 0, 0, 2], 1000, 5000, request, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    let path = common::write(&dir.path().join("unsubscribe.pcap"), LinkType::Raw, &frames);
    let report = judged(&path);
    assert!(report.findings.iter().all(|f| f.severity < Severity::Warn), "{:#?}", report.findings);
    assert_eq!(report.protocols[&Protocol::Http].correct, 2);
}

#[test]
fn every_tshark_error_counts_against_a_row() {
    let Some(tshark) = common::tshark() else { return };
    let Some(dir) = common::shared(GPT35) else { return };
    let mut files = Vec::new();
    walk(&dir, &mut files);
    let mut errors = 0;
    for path in files {
        let report = judged(&path);
        for f in report.findings.iter().filter(|f| f.source == Source::Tshark && f.severity == Severity::Error) {
            errors += 1;
            assert_ne!(f.protocol, Protocol::Frame, "{}: {f:?}", path.display());
            let row = report.protocols.get(&f.protocol).unwrap_or_else(|| panic!("{}: no {} row for {f:?}", path.display(), f.protocol.as_str()));
            assert!(row.malformed + row.non_existent > 0, "{}: {f:?} left {} at 100 %", path.display(), f.protocol.as_str());
        }
    }
    assert!(errors > 20, "the paper's captures hold tshark errors ({errors})");
    // Built: IPv4 protocol 0 carrying a hop-by-hop header that does not fit
    // (tshark files it under ipv6.hopopts, "Malformed Packet").
    let dir = tempfile::tempdir().unwrap();
    let mut packet = harness::testkit::icmp_echo([10, 0, 0, 1], [10, 0, 0, 2], false, 1, 1);
    packet[9] = 0;
    packet[20..24].copy_from_slice(&[17, 200, 0, 0]);
    packet[10..12].copy_from_slice(&[0, 0]);
    let sum = !ones_complement(&packet[..20]);
    packet[10..12].copy_from_slice(&sum.to_be_bytes());
    let path = common::write(&dir.path().join("hopopts.pcap"), LinkType::Raw, &[packet]);
    let pass = own_pass(&path, Limits::default()).unwrap();
    let report = file_report("hopopts", pass, Some(tshark.expert(&path).unwrap()));
    assert!(report.findings.iter().any(|f| f.check == "ip.extension_header_protocol" && f.severity == Severity::Error), "{:#?}", report.findings);
    let tshark_errors: Vec<&Finding> = report.findings.iter().filter(|f| f.source == Source::Tshark && f.severity == Severity::Error).collect();
    assert!(!tshark_errors.is_empty(), "{:#?}", report.findings);
    assert!(tshark_errors.iter().all(|f| f.protocol == Protocol::Ip), "{tshark_errors:#?}");
    assert_eq!(report.protocols[&Protocol::Ip].malformed, 1);
}

#[test]
fn lone_syn_with_data_is_not_an_error() {
    // RFC 9293 §3.5: a SYN may carry data. Frame 3 of the paper's HTTP
    // packet capture is a lone SYN carrying a whole GET with its Host.
    let Some(path) = corpus("Packets/HTTP/pcap/HTTP2generated_3_5_turbo-instruct_conv_ALL.pcap") else { return };
    let report = judged(&path);
    let frame = at(&report, 3);
    assert!(frame.iter().any(|f| f.check == "tcp.syn_data" && f.severity == Severity::Warn), "{frame:#?}");
    assert!(frame.iter().all(|f| f.severity < Severity::Error), "{frame:#?}");
    // Built: one SYN with data.
    let dir = tempfile::tempdir().unwrap();
    let syn = common::tcp([10, 0, 0, 1], [10, 0, 0, 2], 40000, 80, "S", 1000, 0, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let path = common::write(&dir.path().join("syn.pcap"), LinkType::Raw, &[syn]);
    let report = judged(&path);
    assert!(!report.has_errors(), "{:#?}", report.findings);
}

#[test]
fn broken_arp_sizes_are_an_arp_error() {
    // RFC 826: frame 110 of the paper's ARP conversation capture declares
    // protocol size 14; ARP is there and malformed, the EtherType is right.
    let Some(path) = corpus("Conversations/ARP/pcap/ARP_v3_generated_3_5_turbo-instruct_conv.pcap") else { return };
    let report = judged(&path);
    let frame = at(&report, 110);
    assert!(frame.iter().any(|f| f.check == "arp.bad_sizes" && f.severity == Severity::Error && f.protocol == Protocol::Arp), "{frame:#?}");
    assert!(!frame.iter().any(|f| f.check == "eth.ethertype_mismatch"), "{frame:#?}");
    // tshark's "[Malformed Packet: ARP/RARP]" lands on ARP too.
    if frame.iter().any(|f| f.source == Source::Tshark && f.severity == Severity::Error) {
        assert!(frame.iter().filter(|f| f.source == Source::Tshark && f.severity == Severity::Error).all(|f| f.protocol == Protocol::Arp), "{frame:#?}");
    }
    assert_eq!(report.protocols[&Protocol::Arp].non_existent, 0);
    // Its sender address (the text "233.99.115.256" read as bytes) is
    // class D: `arp.bad_address` on other frames of the capture.
    assert!(report.findings.iter().any(|f| f.check == "arp.bad_address"), "{:#?}", report.checks);
}

#[test]
fn icmp_error_without_quote_is_malformed() {
    // RFC 792: frame 9 of the paper's ICMP packet capture is a time
    // exceeded message quoting nothing.
    let Some(path) = corpus("Packets/ICMP/pcap/ICMPgenerated_3_5_turbo-instruct_conv.pcap") else { return };
    let report = judged(&path);
    let frame = at(&report, 9);
    assert!(frame.iter().any(|f| f.check == "icmp.bad_quoted" && f.severity == Severity::Error), "{frame:#?}");
    assert!(report.protocols[&Protocol::Icmp].malformed >= 4);
}

#[test]
fn check_and_matrix_give_the_same_verdict() {
    // The one judge: a capture the matrix judged, checked again by
    // `harness check` (which reads its summary sidecar), gives the same
    // findings and protocol rows, byte for byte.
    if !common::scapy() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let run = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["matrix", "--models", "mutant:reply-not-swapped", "--suites", "icmp-packet,dns-conversation-json", "--tshark", "auto", "--jobs", "1", "--format", "json", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.code().is_some_and(|c| c < 2), "{}", String::from_utf8_lossy(&run.stderr));
    let mut compared = 0;
    for journal in glob(&out, "journal.jsonl") {
        for line in std::fs::read_to_string(&journal).unwrap().lines() {
            let record: Value = serde_json::from_str(line).unwrap();
            let Some(pcap) = record["pcap"].as_str() else { continue };
            let path = journal.parent().unwrap().join(pcap);
            let check = Command::new(env!("CARGO_BIN_EXE_harness")).args(["check", "--format", "json", "--tshark", "auto"]).arg(&path).output().unwrap();
            let report: Value = serde_json::from_slice(&check.stdout).unwrap();
            let file = &report["files"][0];
            assert_eq!(serde_json::to_string(&file["findings"]).unwrap(), serde_json::to_string(&record["findings"]).unwrap(), "{}", path.display());
            assert_eq!(serde_json::to_string(&file["protocols"]).unwrap(), serde_json::to_string(&record["protocols"]).unwrap(), "{}", path.display());
            compared += 1;
        }
    }
    assert!(compared >= 4, "compared {compared} captures");
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, out);
        } else if path.extension().is_some_and(|e| e == "pcap") {
            out.push(path);
        }
    }
}

fn glob(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == name) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn ones_complement(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}
