//! `harness exec` with the real Scapy worker: every error class of the
//! sandbox, determinism, packet collection, and the real answers of the
//! corpus (status histogram snapshot).

use std::path::Path;
use std::process::Command;

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
        let status = Command::new(bin)
            .args(["exec", "--dialect", "scapy", "--seed", "3"])
            .arg(&answer)
            .arg("-o")
            .arg(&out)
            .status()
            .unwrap();
        assert!(status.success());
        pcaps.push(std::fs::read(&out).unwrap());
    }
    assert_eq!(pcaps[0], pcaps[1]);
    let out = Command::new(bin)
        .args(["check", "--tshark", "off", "--format", "json"])
        .arg(dir.path().join("a.pcap"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["files"][0]["conversations"], serde_json::json!({"total": 1, "succeeded": 1}));
}

/// The real Scapy answers of the corpus through `harness exec --jsonl`:
/// every one gets a classified outcome (the worker never breaks), bad lines
/// are reported, and the outcome counts per model × protocol × mode are a
/// named snapshot.
#[test]
fn corpus_answers_through_exec_jsonl() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/completions.jsonl");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("SKIPPED: corpus not found");
        return;
    };
    let Some(pool) = pool(1) else { return };
    let version = pool.scapy_version().to_string();
    drop(pool);
    let dir = tempfile::tempdir().unwrap();
    let mut lines = String::new();
    let mut groups = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        if record["dialect"] != "scapy" {
            continue;
        }
        let line = serde_json::json!({"id": format!("a{i}"), "dialect": "scapy", "completion": record["completion"]});
        lines.push_str(&format!("{line}\n"));
        groups.push(format!(
            "{} {} {}",
            record["model"].as_str().unwrap_or("?"),
            record["protocol"].as_str().unwrap_or("?"),
            record["mode"].as_str().unwrap_or("?")
        ));
    }
    // A broken line is reported, never fatal.
    lines.push_str("{not json\n");
    let jsonl = dir.path().join("answers.jsonl");
    std::fs::write(&jsonl, lines).unwrap();
    let out_dir = dir.path().join("pcaps");
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["exec", "--format", "json", "--workers", "2", "--jsonl"])
        .arg(&jsonl)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "some answers fail: exit 1");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), groups.len() + 1);
    assert_eq!(results.last().unwrap()["status"], "bad_line");
    let mut table: std::collections::BTreeMap<String, std::collections::BTreeMap<String, usize>> = Default::default();
    let mut written = 0;
    for (result, group) in results.iter().zip(&groups) {
        let status = result["status"].as_str().unwrap().to_string();
        assert_ne!(status, "internal", "{result}");
        if result["ok"] == true {
            assert!(Path::new(result["pcap"].as_str().unwrap()).is_file());
            written += 1;
        }
        *table.entry(group.clone()).or_default().entry(status).or_default() += 1;
    }
    assert_eq!(std::fs::read_dir(&out_dir).unwrap().count(), written, "one PCAP per successful answer, nothing else");
    let mut text = String::new();
    for (group, counts) in &table {
        let counts: Vec<String> = counts.iter().map(|(s, n)| format!("{s}={n}")).collect();
        text.push_str(&format!("{group}: {}\n", counts.join(" ")));
    }
    insta::with_settings!({ description => format!("scapy {version}") }, {
        insta::assert_snapshot!("corpus_exec_outcomes", text);
    });
}

/// Hostile answers: each ends in its class within the time bound, touches
/// no file or network, and the pool keeps working afterwards.
#[test]
fn hostile_suite() {
    let Some(pool) = pool(1) else { return };
    let probe = std::env::temp_dir().join(format!("harness-hostile-{}", std::process::id()));
    let p = probe.display().to_string();
    let cases: Vec<(String, &[&str])> = vec![
        ("import os\nos.system('touch PROBE')".into(), &["forbidden"]),
        ("__import__('os').system('touch PROBE')".into(), &["forbidden"]),
        ("x = ().__class__.__bases__[0].__subclasses__()".into(), &["forbidden"]),
        ("f = lambda: 0\ng = f.__globals__".into(), &["forbidden"]),
        ("import scapy.all as s\ns.os.system('touch PROBE')".into(), &["forbidden", "name", "scapy"]),
        ("scapy.sys.modules['os'].system('touch PROBE')".into(), &["forbidden", "name", "scapy"]),
        ("open('PROBE', 'w').write('x')".into(), &["forbidden"]),
        ("import socket\nsocket.socket().connect(('127.0.0.1', 9))".into(), &["forbidden"]),
        ("import subprocess\nsubprocess.run(['touch', 'PROBE'])".into(), &["forbidden"]),
        ("import os\nos.fork()".into(), &["forbidden"]),
        ("exec('import os')".into(), &["forbidden"]),
        ("eval('1+1')".into(), &["forbidden"]),
        ("getattr(IP, '__init__')".into(), &["forbidden"]),
        ("while True:\n    pass".into(), &["timeout"]),
        ("def f():\n    return f()\nf()".into(), &["limit"]),
        ("x = [0] * (10**10)".into(), &["limit"]),
        ("pkts = [IP()/ICMP() for i in range(100000)]".into(), &["limit", "timeout"]),
        ("pkts = rdpcap('/etc/passwd')".into(), &["forbidden"]),
        ("sniff(count=1)".into(), &["forbidden"]),
        ("sr1(IP(dst='127.0.0.1')/ICMP(), timeout=1)".into(), &["forbidden"]),
        ("pkt = IP()/ICMP()\nwrpcap('PROBE', pkt)".into(), &["ok"]),
        ("class X: pass".into(), &["forbidden"]),
        ("import importlib\nimportlib.import_module('os')".into(), &["forbidden"]),
        ("send(IP(dst='127.0.0.1')/ICMP())".into(), &["ok"]),
    ];
    assert!(cases.len() >= 20);
    for (code, allowed) in &cases {
        let code = code.replace("PROBE", &p);
        let started = std::time::Instant::now();
        let outcome = run(&pool, &code);
        assert!(allowed.contains(&outcome.status.as_str()), "{code}: got {} ({})", outcome.status, outcome.message);
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "{code}: took {:?}", started.elapsed());
        assert!(!probe.exists(), "{code}: touched the file system");
    }
    assert_eq!(run(&pool, "pkt = IP(dst=\"10.0.0.2\")/ICMP()").status, "ok", "the pool still works");
}

/// Two callers on one pool (matrix cells side by side) share its workers
/// and each gets its own outcomes, in order.
#[test]
fn concurrent_callers_share_the_pool() {
    let Some(pool) = pool(2) else { return };
    let jobs = |tag: &str| -> Vec<Job> {
        (0..6)
            .map(|i| Job {
                id: format!("{tag}{i}"),
                code: format!("pkt = IP(src=\"10.0.0.9\", dst=\"10.0.0.{}\")/ICMP(seq={i})\nsend(pkt)\n", i + 1),
                seed: i,
                cpu_s: 2.0,
            })
            .collect()
    };
    let (a, b) = (jobs("a"), jobs("b"));
    let (want_a, want_b) = (pool.run_all(&a), pool.run_all(&b));
    assert!(want_a.iter().all(|o| o.status == "ok" && o.packets.len() == 1), "{want_a:?}");
    let (got_a, got_b) = std::thread::scope(|s| {
        let ta = s.spawn(|| pool.run_all(&a));
        let tb = s.spawn(|| pool.run_all(&b));
        (ta.join().unwrap(), tb.join().unwrap())
    });
    assert_eq!(got_a, want_a);
    assert_eq!(got_b, want_b);
}
