//! `harness exec` with the real Scapy worker: every error class of the
//! sandbox, determinism, packet collection, and the real answers of the
//! corpus (status histogram snapshot).

use std::path::Path;
use std::process::Command;

use harness::exec::extract::{extract, Dialect};
use harness::exec::scapy::{to_trace, Job, Outcome, ScapyOptions, ScapyPool};

/// Start a pool, or skip loudly outside CI when Python's Scapy is missing.
fn pool(workers: usize) -> Option<ScapyPool> {
    match ScapyPool::start(ScapyOptions { workers, cpu_s: 2.0, ..ScapyOptions::default() }) {
        Ok(pool) => Some(pool),
        Err(error) => {
            if std::env::var_os("HARNESS_REQUIRE_TOOLS").is_some() || std::env::var_os("CI").is_some() {
                panic!("Scapy is required here: {error}");
            }
            eprintln!("SKIPPED: {error}");
            None
        }
    }
}

fn run(pool: &ScapyPool, code: &str) -> Outcome {
    let job = Job { id: "t".into(), code: code.into(), seed: 7, cpu_s: 2.0 };
    pool.run_all(std::slice::from_ref(&job)).remove(0)
}

#[test]
fn error_classes_and_recovery() {
    let Some(pool) = pool(1) else { return };
    let cases = [
        ("pkt = IP(dst=\"10.0.0.2\")/ICMP()", "ok"),
        ("pkt = IP(dst=\"10.0.0.2)/ICMP()", "syntax"),
        ("pkt = IP(dst=undefined_host)/ICMP()", "name"),
        ("pkt = IP(foo=1)/ICMP()", "scapy"),
        ("import os\npkt = IP()/ICMP()", "forbidden"),
        ("open('/etc/passwd')\npkt = IP()/ICMP()", "forbidden"),
        ("x = ().__class__\npkt = IP()/ICMP()", "forbidden"),
        ("pkts = rdpcap('x.pcap')", "forbidden"),
        ("import subprocess", "forbidden"),
        ("while True:\n    pass", "timeout"),
        ("x = 'a' * (10**10)", "limit"),
        ("x = 1", "no_packets"),
        // The worker still serves after all of the above.
        ("pkt_1 = IP(dst=\"10.0.0.2\")/ICMP()\npkt_2 = IP(dst=\"10.0.0.3\")/ICMP()", "ok"),
    ];
    for (code, status) in cases {
        let outcome = run(&pool, code);
        assert_eq!(outcome.status, status, "{code}: {}", outcome.message);
        if status != "ok" {
            assert!(!outcome.message.is_empty(), "{code}: a failure says why");
        }
    }
}

#[test]
fn collection_time_and_determinism() {
    let Some(pool) = pool(1) else { return };
    let code = "x = random.randint(1, 1000)\n\
                pkt_1 = IP(src=\"10.0.0.1\", dst=\"10.0.0.2\")/TCP(sport=RandShort(), dport=80, flags=\"S\", seq=x)\n\
                time.sleep(0.5)\n\
                pkt_2 = IP(src=\"10.0.0.2\", dst=\"10.0.0.1\")/TCP(sport=80, dport=pkt_1[TCP].sport, flags=\"SA\", ack=x+1)\n\
                time.sleep(0.25)\n\
                pkt_1 = IP(src=\"10.0.0.1\", dst=\"10.0.0.2\")/TCP(dport=80, flags=\"A\")\n\
                send(pkt_2)\n\
                wrpcap('out.pcap', [pkt_1, pkt_2])\n";
    let a = run(&pool, code);
    let b = run(&pool, code);
    assert_eq!(a.status, "ok", "{}", a.message);
    assert_eq!(a, b, "same code and seed, same packets");
    assert_eq!(a.packets.len(), 3, "pkt_1 twice, pkt_2 once (send/wrpcap do not duplicate)");
    let times: Vec<f64> = a.packets.iter().map(|p| p.time).collect();
    assert!((times[1] - times[0] - 0.5).abs() < 1e-6 && (times[2] - times[1] - 0.25).abs() < 1e-6, "{times:?}");
    assert!(a.findings.iter().any(|f| f.check == "answer.redefined"), "{:?}", a.findings);
    assert!(!Path::new("out.pcap").exists(), "wrpcap must not write");
    let trace = to_trace(&a).unwrap();
    assert_eq!(trace.packets.len(), 3);
}

#[test]
fn aliases_and_bare_expressions() {
    let Some(pool) = pool(1) else { return };
    for code in [
        "import scapy.all as scapy\npkt = scapy.IP(dst=\"10.0.0.2\")/scapy.ICMP()",
        "from scapy.all import *\nIP(dst=\"10.0.0.2\")/ICMP()",
        "Ether()/IP(dst=\"10.0.0.2\")/ICMP()\nIP(dst=\"10.0.0.3\")/ICMP()",
    ] {
        let outcome = run(&pool, code);
        assert_eq!(outcome.status, "ok", "{code}: {}", outcome.message);
        assert!(!outcome.packets.is_empty());
    }
}

/// The binary end to end: a fenced answer to a PCAP that `check` accepts,
/// byte-identical on a second run.
#[test]
fn exec_then_check() {
    if pool(1).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let answer = dir.path().join("answer.md");
    std::fs::write(
        &answer,
        "Here you go:\n```python\npkt_1 = IP(src=\"10.0.0.1\", dst=\"10.0.0.2\")/ICMP(id=7, seq=1)\ntime.sleep(0.01)\npkt_2 = IP(src=\"10.0.0.2\", dst=\"10.0.0.1\")/ICMP(type=0, id=7, seq=1)\n```\n",
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_harness");
    let mut pcaps = Vec::new();
    for name in ["a.pcap", "b.pcap"] {
        let out = dir.path().join(name);
        let status = Command::new(bin).args(["exec", "--dialect", "scapy", "--seed", "3"]).arg(&answer).arg("-o").arg(&out).status().unwrap();
        assert!(status.success());
        pcaps.push(std::fs::read(&out).unwrap());
    }
    assert_eq!(pcaps[0], pcaps[1]);
    let out = Command::new(bin).args(["check", "--tshark", "off", "--format", "json"]).arg(dir.path().join("a.pcap")).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["files"][0]["conversations"], serde_json::json!({"total": 1, "succeeded": 1}));
}

/// The real Scapy answers of the corpus: every one gets a classified
/// outcome (the worker never breaks), and the histogram is a snapshot.
#[test]
fn corpus_answers_histogram() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/completions.jsonl");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("SKIPPED: corpus not found");
        return;
    };
    let Some(pool) = pool(2) else { return };
    let mut jobs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        if record["dialect"] != "scapy" {
            continue;
        }
        let extracted = extract(record["completion"].as_str().unwrap_or(""), Dialect::Scapy);
        jobs.push(Job { id: format!("{i}"), code: extracted.text, seed: 0, cpu_s: 2.0 });
    }
    let outcomes = pool.run_all(&jobs);
    let mut histogram = std::collections::BTreeMap::new();
    let mut packets = 0usize;
    for outcome in &outcomes {
        assert_ne!(outcome.status, "internal", "{}: {}", outcome.id, outcome.message);
        *histogram.entry(outcome.status.clone()).or_insert(0usize) += 1;
        packets += outcome.packets.len();
    }
    let mut text = format!("answers: {}\npackets: {packets}\n", outcomes.len());
    for (status, count) in &histogram {
        text.push_str(&format!("{status}: {count}\n"));
    }
    insta::with_settings!({ description => format!("scapy {}", pool.scapy_version()) }, {
        insta::assert_snapshot!("corpus_scapy_statuses", text);
    });
}
