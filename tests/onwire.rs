//! `harness onwire` and `harness matrix --onwire` against the real kernel,
//! dnsmasq and hyper: the reference model's conversations are reproduced by
//! real stacks; known faults are mismatches with the field named;
//! namespaces and servers are gone after a run and after a `kill -9`
//! followed by a new run; a machine without the capability gets an error
//! naming the fix, before the matrix runs any model.
//!
//! Needs root (or CAP_NET_ADMIN + CAP_SYS_ADMIN), iproute2 and dnsmasq
//! (ci/install-deps). Outside CI a machine without them skips loudly; with
//! `HARNESS_REQUIRE_TOOLS` (or `CI`) set, it fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_harness");

fn permitted() -> bool {
    let dnsmasq = Command::new("dnsmasq").arg("--version").output().is_ok_and(|o| o.status.success());
    let result = harness::netns::check_capability().map_err(|e| e.to_string()).and_then(|()| {
        if dnsmasq {
            Ok(())
        } else {
            Err("dnsmasq is not installed (apt-get install dnsmasq-base)".into())
        }
    });
    match result {
        Ok(()) => true,
        Err(error) => {
            assert!(!common::required(), "onwire needs network namespaces and dnsmasq here: {error}");
            eprintln!("SKIPPED: {error}");
            false
        }
    }
}

fn generate(model: &str, suite: &str, out: &Path) -> PathBuf {
    let status =
        Command::new(BIN).args(["-q", "generate", "--model", model, "--suite", suite, "-o"]).arg(out).output().unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    out.to_path_buf()
}

fn onwire(args: &[&Path]) -> (Output, Value) {
    let out = Command::new(BIN).args(["onwire", "--format", "json"]).args(args).output().unwrap();
    let json =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out, json)
}

fn conversations(json: &Value) -> Vec<&Value> {
    json["files"].as_array().unwrap().iter().flat_map(|f| f["conversations"].as_array().unwrap()).collect()
}

fn convert(example: &str, dir: &Path) -> PathBuf {
    let out = dir.join(example.replace(".json", ".pcap"));
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(example);
    assert!(Command::new(BIN).arg("convert").arg(source).arg("-o").arg(&out).output().unwrap().status.success());
    out
}

#[test]
fn reference_icmp_arp_dns_tcp_conversations_all_match() {
    if !permitted() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let inputs: Vec<PathBuf> = ["icmp-conversation", "arp-conversation", "dns-conversation", "tcp-conversation-json"]
        .iter()
        .map(|suite| generate("reference", suite, &dir.path().join(suite)))
        .collect();
    let refs: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
    let (out, json) = onwire(&refs);
    let all = conversations(&json);
    assert_eq!(all.len(), 32, "8 conversations per suite");
    for c in &all {
        assert!(c["skipped"].is_null() && c["matched"] == true, "{c}");
        assert!(c["real_replies"].as_u64().unwrap() >= 1, "{c}");
        assert_eq!(c["mismatches"].as_array().unwrap().len(), 0);
    }
    // TCP: the kernel's own handshake, ACKs and teardown around a scripted
    // application writing the model server's bytes (a request/response
    // exchange on a non-HTTP port).
    for protocol in ["ICMP", "ARP", "DNS", "TCP"] {
        assert_eq!(all.iter().filter(|c| c["protocol"] == protocol).count(), 8, "{protocol}");
    }
    assert_eq!(out.status.code(), Some(0));
    let servers = json["servers"].as_object().unwrap();
    assert!(servers["dnsmasq"].as_str().unwrap().starts_with("2."), "{servers:?}");
    assert!(!servers["linux"].as_str().unwrap().is_empty());
}

#[test]
fn mutants_are_mismatches_with_the_field_named() {
    if !permitted() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (mutant, suite, field) in [
        ("wrong-icmp-code", "icmp-conversation", "icmp.code"),
        ("arp-mac-mismatch", "arp-conversation", "arp.target_mac"),
    ] {
        let out = generate(&format!("mutant:{mutant}"), suite, &dir.path().join(mutant));
        let capture = std::fs::read_dir(out.join(format!("mutant-{mutant}")).join(suite))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "pcap"))
            .unwrap();
        let (status, json) = onwire(&[&capture]);
        assert_eq!(status.status.code(), Some(1), "{mutant}");
        let c = conversations(&json)[0];
        assert_eq!(c["matched"], false);
        assert!(c["mismatches"].as_array().unwrap().iter().any(|m| m["field"] == field), "{mutant}: {c}");
    }
}

#[test]
fn http_keep_alive_matches_and_fin_accounting_is_a_teardown_mismatch() {
    if !permitted() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ok = convert("ok-http-conversation.json", dir.path());
    let bad = convert("bad-fin-accounting.json", dir.path());
    let (_, json) = onwire(&[&ok, &bad]);
    let all = conversations(&json);
    assert_eq!(all[0]["matched"], true, "{}", all[0]);
    assert_eq!(json["servers"]["hyper"].as_str().map(|v| v.starts_with("1.")), Some(true));
    // The model's server FIN (frame 10) acknowledges 41 client bytes; the
    // real one also counts the client's FIN.
    let mismatches = all[1]["mismatches"].as_array().unwrap();
    assert_eq!(
        mismatches[0],
        serde_json::json!({"frame": 10, "field": "tcp.ack", "model": "41", "real": "42"}),
        "{}",
        all[1]
    );
}

#[test]
fn reference_http_matches_a_real_server() {
    // The reference keeps the connection open after the exchange and the
    // client closes it; hyper answers the same way (a `Connection: close`
    // would make a real HTTP/1.1 server close first, RFC 9112 §9.6).
    if !permitted() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = generate("reference", "http-conversation", &dir.path().join("http"));
    let (status, json) = onwire(&[&out]);
    let all = conversations(&json);
    assert_eq!(all.len(), 8);
    for c in all {
        assert_eq!(c["matched"], true, "{c}");
        assert_eq!(c["mismatches"], serde_json::json!([]), "{c}");
    }
    assert_eq!(status.status.code(), Some(0));
}

/// Run `harness matrix --onwire` with `args` into `out`; return the exit
/// status, stdout, the report it wrote and its pid.
fn matrix_onwire(args: &[&str], out: &Path) -> (Option<i32>, String, Value, u32) {
    let child = Command::new(BIN)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["-q", "matrix", "--onwire", "--tshark", "off", "--out"])
        .arg(out)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report = std::fs::read(out.join("report.json")).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    (output.status.code(), String::from_utf8(output.stdout).unwrap(), serde_json::from_slice(&report).unwrap(), pid)
}

#[test]
fn matrix_onwire_reference_cells_all_match() {
    if !permitted() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let suites = "icmp-conversation,http-conversation-json,dns-packet";
    let (code, stdout, report, pid) =
        matrix_onwire(&["--models", "reference", "--suites", suites, "--format", "json"], dir.path());
    assert_eq!(code, Some(0), "{stdout}");
    // What stdout shows is the report written.
    assert_eq!(serde_json::from_str::<Value>(&stdout).unwrap(), report);
    let cells = report["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 3);
    for c in cells {
        if c["mode"] == "packet" {
            assert!(c.get("onwire").is_none(), "packet suites are not replayed: {c}");
            continue;
        }
        // Every trace of the cell is one conversation, and real stacks
        // reproduce each.
        assert_eq!(c["onwire"], serde_json::json!({"matched": 8, "replayed": 8, "skipped": 0, "fields": []}), "{c}");
    }
    assert!(cells.iter().filter(|c| c.get("onwire").is_some()).count() == 2);
    let servers = report["onwire_servers"].as_object().unwrap();
    assert!(servers.contains_key("linux") && servers["hyper"].as_str().unwrap().starts_with("1."), "{servers:?}");
    assert!(namespaces_of(pid).is_empty(), "{:?}", namespaces_of(pid));
}

#[test]
fn matrix_onwire_names_a_mutants_mismatching_field() {
    if !permitted() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, report, _) = matrix_onwire(
        &["--models", "mutant:wrong-icmp-code", "--suites", "icmp-conversation", "--format", "md"],
        dir.path(),
    );
    // The mutant is caught by its check (no regression). On the wire, the
    // kernel copies the echo request's wrong code into its reply, the
    // model's reply says 0: every echo is an `icmp.code` mismatch (a
    // timestamp reply has code 0 from the kernel too, so it may match).
    assert_eq!(code, Some(0), "{stdout}");
    let cell = &report["cells"][0];
    let onwire = &cell["onwire"];
    let (matched, replayed) = (onwire["matched"].as_u64().unwrap(), onwire["replayed"].as_u64().unwrap());
    assert_eq!(replayed, 8, "{cell}");
    assert!(matched < replayed / 2, "{cell}");
    assert_eq!(onwire["fields"], serde_json::json!([["icmp.code", replayed - matched]]), "{cell}");
    let table = &stdout[stdout.find("## On the wire").unwrap_or_else(|| panic!("{stdout}"))..];
    let row = table.lines().find(|l| l.starts_with("| mutant:wrong-icmp-code")).unwrap_or_else(|| panic!("{table}"));
    assert!(
        row.contains(&format!("| {matched}/8 ")) && row.contains(&format!("| icmp.code ({}) ", replayed - matched)),
        "{row}"
    );
}

fn namespaces_of(pid: u32) -> Vec<String> {
    let prefix = format!("{}{pid}-", harness::netns::PREFIX);
    harness::netns::list().into_iter().filter(|n| n.starts_with(&prefix)).collect()
}

#[test]
fn namespaces_and_servers_are_gone_after_a_run_and_after_kill_9() {
    if !permitted() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dns = generate("reference", "dns-conversation", &dir.path().join("dns"));
    // A whole run leaves nothing behind.
    let child = Command::new(BIN)
        .args(["onwire", "--format", "json"])
        .arg(&dns)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let status = child.wait_with_output().unwrap().status;
    assert_eq!(status.code(), Some(0));
    assert!(namespaces_of(pid).is_empty(), "{:?}", namespaces_of(pid));
    // kill -9 in the middle of a run: the namespaces (and the DNS server in
    // one) outlive it, and the next run removes them.
    let mut child = Command::new(BIN).args(["onwire"]).arg(&dns).stdout(std::process::Stdio::null()).spawn().unwrap();
    let pid = child.id();
    let start = Instant::now();
    let mut server_pids = Vec::new();
    while start.elapsed() < Duration::from_secs(20) {
        for name in namespaces_of(pid).iter().filter(|n| n.ends_with("-s")) {
            let out = Command::new("ip").args(["netns", "pids", name]).output().unwrap();
            server_pids.extend(String::from_utf8_lossy(&out.stdout).split_whitespace().map(str::to_string));
        }
        if !server_pids.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(!server_pids.is_empty(), "no DNS server seen in a namespace of {pid}");
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    child.wait().unwrap();
    assert!(!namespaces_of(pid).is_empty(), "kill -9 leaves the namespaces behind");
    let small = convert("ok-http-conversation.json", dir.path());
    let (out, _) = onwire(&[&small]);
    assert_eq!(out.status.code(), Some(0));
    assert!(namespaces_of(pid).is_empty(), "{:?}", namespaces_of(pid));
    std::thread::sleep(Duration::from_millis(100));
    for server in server_pids {
        let stat = std::fs::read_to_string(format!("/proc/{server}/stat")).unwrap_or_default();
        assert!(stat.is_empty() || stat.contains(") Z "), "server {server} still runs: {stat}");
    }
}

#[test]
fn without_the_capability_the_error_names_the_fix() {
    if !permitted() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let capture = convert("ok-http-conversation.json", dir.path());
    // Root without any capability (setpriv drops them all).
    let out = Command::new("setpriv")
        .args(["--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all", "--"])
        .arg(BIN)
        .arg("onwire")
        .arg(&capture)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot create network namespaces") && stderr.contains("CAP_NET_ADMIN"), "{stderr}");
    // `matrix --onwire` gives the same error before any model runs: its
    // --out is never created.
    let out_dir = dir.path().join("matrix");
    let matrix = Command::new("setpriv")
        .args(["--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all", "--"])
        .arg(BIN)
        .args(["matrix", "--onwire", "--models", "reference", "--suites", "http-conversation-json", "--out"])
        .arg(&out_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let matrix_stderr = String::from_utf8_lossy(&matrix.stderr);
    assert_eq!(matrix.status.code(), Some(2), "{matrix_stderr}");
    let first_line = |text: &str| {
        text.lines().find(|l| l.contains("cannot create network namespaces")).map(|l| l.replace(char::is_numeric, ""))
    };
    assert_eq!(first_line(&matrix_stderr), first_line(&stderr), "{matrix_stderr}");
    assert!(first_line(&stderr).is_some());
    assert!(!out_dir.exists(), "a model ran: {matrix_stderr}");
}
