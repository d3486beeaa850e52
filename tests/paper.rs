//! `harness check --rules paper` and `harness paper`: the paper's notebook,
//! emulated, reproduces the numbers it printed, and the paper's tables for
//! the published captures are named snapshots.

mod common;

use std::process::{Command, Output};

use harness::pcap::LinkType;
use serde_json::Value;

fn harness(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harness")).args(args).output().expect("run harness")
}

fn check_json(args: &[&str]) -> Value {
    let out = harness(args);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

fn row<'a>(file: &'a Value, protocol: &str) -> &'a Value {
    &file["protocols"][protocol]
}

/// The notebook printed, for the mixture-of-experts capture:
/// `IP 396 368 28 0 92.93 100.000`, `ICMP 56 56 0 0 100.00 14.141`,
/// `DNS 48 48 0 0 100.00 12.121`, `UDP 48 …`, `ARP 0 …`,
/// `HTTP 52 50 2 0 96.15 13.131`, `TCP 264 264 0 0 100.00 66.667`,
/// "396 Packets evaluated".
#[test]
fn moe_reproduces_the_notebook() {
    let Some(dir) = common::shared("pcaps/GPT-on-the-wire/gpt-3.5") else { return };
    let moe = dir.join("MOE/MOE_Conversations_generated_3_5_turbo-instruct_conv.pcap");
    let json = check_json(&["check", "--rules", "paper", "--tshark", "off", "--format", "json", moe.to_str().unwrap()]);
    let file = &json["files"][0];
    assert_eq!(file["packets"], 396);
    let pct = |v: &Value| format!("{:.2}", v.as_f64().unwrap() * 100.0);
    let presence = |v: &Value| format!("{:.3}", v.as_f64().unwrap() * 100.0);
    let expect = [
        ("IP", 396, 368, 28, "92.93", "100.000"),
        ("ICMP", 56, 56, 0, "100.00", "14.141"),
        ("DNS", 48, 48, 0, "100.00", "12.121"),
        ("UDP", 48, 48, 0, "100.00", "12.121"),
        ("HTTP", 52, 50, 2, "96.15", "13.131"),
        ("TCP", 264, 264, 0, "100.00", "66.667"),
    ];
    for (protocol, packets, correct, malformed, success, share) in expect {
        let r = row(file, protocol);
        assert_eq!(r["packets"], packets, "{protocol}");
        assert_eq!(r["correct"], correct, "{protocol}");
        assert_eq!(r["malformed"], malformed, "{protocol}");
        assert_eq!(r["non_existent"], 0, "{protocol}");
        assert_eq!(pct(&r["success_rate"]), success, "{protocol}");
        assert_eq!(presence(&r["presence"]), share, "{protocol}");
    }
    // The notebook's ARP row is empty: its ARP frames were parsed as IP.
    assert!(file["protocols"].get("ARP").is_none());
    assert_eq!(file["checks"]["paper.ip.version"], 28);
    assert_eq!(file["checks"]["paper.http.request_port"], 1);
    assert_eq!(file["checks"]["paper.http.response_port"], 1);
}

#[test]
fn harness_rules_stay_the_default() {
    let Some(dir) = common::shared("pcaps/GPT-on-the-wire/gpt-3.5") else { return };
    let moe = dir.join("MOE/MOE_Conversations_generated_3_5_turbo-instruct_conv.pcap");
    let moe = moe.to_str().unwrap();
    let default = harness(&["check", "--tshark", "off", "--format", "json", moe]);
    let explicit = harness(&["check", "--rules", "harness", "--tshark", "off", "--format", "json", moe]);
    assert_eq!(default.stdout, explicit.stdout);
    let json: Value = serde_json::from_slice(&default.stdout).unwrap();
    assert_eq!(json["files"][0]["checks"]["link.ethernet_in_raw_ip"], 28);
}

/// Crafted captures (testkit builders, the harness's PCAP writer): each
/// quirk of the notebook decides the table.
#[test]
fn quirks_on_crafted_captures() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    let mut window = common::tcp(a, b, 4000, 80, "S", 1, 0, b"");
    window[34..36].copy_from_slice(&[0xff, 0xff]);
    let mut source_quench = common::echo(a, b, false, 1, 1);
    source_quench[20] = 4;
    let frames = vec![
        window,
        common::tcp(a, b, 65535, 80, "S", 1, 0, b""),
        source_quench,
        // A DNS reply whose id is not the query's: never compared.
        common::udp(a, b, 4000, 53, &common::dns(0x1234, false, None)),
        common::udp(b, a, 53, 4000, &common::dns(0x0aba, true, None)),
        // Answer count 2 with one answer: Scapy cannot dissect it.
        common::udp(b, a, 53, 4000, &common::dns(0x1234, true, Some(2))),
    ];
    let path = common::write(&dir.path().join("quirks.pcap"), LinkType::Raw, &frames);
    let json =
        check_json(&["check", "--rules", "paper", "--tshark", "off", "--format", "json", path.to_str().unwrap()]);
    let file = &json["files"][0];
    let tcp = row(file, "TCP");
    assert_eq!((tcp["correct"].as_u64(), tcp["malformed"].as_u64()), (Some(0), Some(2)));
    assert_eq!(file["checks"]["paper.tcp.window_65535"], 1);
    assert_eq!(file["checks"]["paper.tcp.port_65535"], 1);
    let icmp = row(file, "ICMP");
    assert_eq!((icmp["correct"].as_u64(), icmp["malformed"].as_u64()), (Some(0), Some(1)));
    let dns = row(file, "DNS");
    assert_eq!(
        (dns["packets"].as_u64(), dns["correct"].as_u64(), dns["non_existent"].as_u64()),
        (Some(3), Some(2), Some(1))
    );
    assert_eq!(file["checks"]["paper.dns.not_dissected"], 1);
    // The harness's rules catch the copied id and the count instead.
    let own = check_json(&["check", "--tshark", "off", "--format", "json", path.to_str().unwrap()]);
    assert!(own["files"][0]["checks"]["dns.id_mismatch"].as_u64().unwrap_or(0) >= 1);
}

#[test]
fn total_carries_over_between_files() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    let one = common::write(&dir.path().join("one.pcap"), LinkType::Raw, &[common::echo(a, b, false, 1, 1)]);
    let two = common::write(&dir.path().join("two.pcap"), LinkType::Raw, &[common::echo(a, b, false, 1, 2)]);
    let json = check_json(&[
        "check",
        "--rules",
        "paper",
        "--tshark",
        "off",
        "--format",
        "json",
        one.to_str().unwrap(),
        two.to_str().unwrap(),
    ]);
    assert_eq!(json["files"][0]["protocols"]["ICMP"]["presence"], 1.0);
    // Second run: 1 detection over a total of 2 packets.
    assert_eq!(json["files"][1]["protocols"]["ICMP"]["presence"], 0.5);
}

#[test]
fn paper_tables_snapshot() {
    let Some(dir) = common::shared("pcaps/GPT-on-the-wire/gpt-3.5") else { return };
    let from = dir.to_str().unwrap();
    for (format, name) in [("table", "paper_tables_gpt35"), ("md", "paper_tables_gpt35_md")] {
        let out = harness(&["paper", "--from", from, "--tshark", "off", "--format", format]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        insta::assert_snapshot!(name, String::from_utf8(out.stdout).unwrap());
    }
    let json: Value =
        serde_json::from_slice(&harness(&["paper", "--from", from, "--tshark", "off", "--format", "json"]).stdout)
            .unwrap();
    let table9 = json["tables"].as_array().unwrap().iter().find(|t| t["number"] == "Table 9").unwrap();
    let ip = table9["rows"].as_array().unwrap().iter().find(|r| r["protocol"] == "IP").unwrap();
    assert_eq!(ip["paper"]["malformed"], 28);
    assert_eq!(ip["fail_only_paper"]["paper.ip.version"], 28);
}

#[test]
fn paper_with_tshark_fills_wireshark_rows() {
    let Some(dir) = common::shared("pcaps/GPT-on-the-wire/gpt-3.5") else { return };
    if common::tshark().is_none() {
        return;
    }
    let out = harness(&["paper", "--from", dir.to_str().unwrap(), "--tshark", "on", "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let table4 = json["tables"].as_array().unwrap().iter().find(|t| t["number"] == "Table 4").unwrap();
    let wireshark = table4["wireshark"].as_array().unwrap();
    assert_eq!(wireshark.len(), table4["columns"].as_array().unwrap().len());
    // The DNS packet capture has Expert Info errors (the paper's 0W-25E kind).
    let dns = table4["columns"].as_array().unwrap().iter().position(|c| c == "DNS").unwrap();
    assert!(wireshark[dns][1].as_u64().unwrap() > 0);
}

#[test]
fn paper_without_groups_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = harness(&["paper", "--from", dir.path().to_str().unwrap(), "--tshark", "off"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Packets/"));
}
