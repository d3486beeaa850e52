//! The OS sandbox of the Scapy workers, attacked as a hostile model answer
//! would: every class of escape that worked against the old AST-only
//! sandbox, run against the real worker in bubblewrap, once with the AST
//! check and once without it. With the check off the answers do escape the
//! Python-level restrictions; what must hold is the operating system's
//! boundary: no file outside is read, written, truncated or deleted, no
//! secret of the harness's environment reaches a packet or a report, nothing
//! reaches a listener on the host's loopback, no process outlives its answer
//! or the pool, and no answer changes the result of another.

mod common;

use std::io::ErrorKind;
use std::net::{TcpListener, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use harness::exec::scapy::{to_trace, Job, Outcome, ScapyOptions, ScapyPool};
use proptest::prelude::*;

/// The fake API key the harness's environment holds while the suite runs.
const SECRET_VAR: &str = "HARNESS_SANDBOX_TEST_API_KEY";
const SECRET: &str = "sk-sandbox-test-7d1c5e0b9a";
/// What the file outside the sandbox holds.
const FILE_SECRET: &str = "file-secret-4f0e2b7c";

/// Start a pool with the AST check on or off, or skip loudly outside CI.
fn pool(static_check: bool) -> Option<ScapyPool> {
    if !common::scapy() {
        return None;
    }
    // Set before any worker starts: a worker must not see it.
    std::env::set_var(SECRET_VAR, SECRET);
    match ScapyPool::start(ScapyOptions {
        workers: 1,
        cpu_s: 2.0,
        wall: Duration::from_secs(10),
        static_check,
        ..ScapyOptions::default()
    }) {
        Ok(pool) => Some(pool),
        Err(error) => {
            assert!(!common::required(), "the Scapy sandbox is required here: {error}");
            eprintln!("SKIPPED: {error}");
            None
        }
    }
}

fn run(pool: &ScapyPool, id: &str, code: &str, seed: u64) -> Outcome {
    let job = Job { id: id.into(), code: code.into(), seed, cpu_s: 2.0 };
    pool.run_all(std::slice::from_ref(&job)).remove(0)
}

/// A gadget that reaches the real `os` module's globals from any object,
/// the way the escapes found in the old sandbox did (type → subclasses →
/// a function's `__globals__`).
const OS: &str =
    "g = [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == '_wrap_close'][0].__init__.__globals__\n\
posix = g['sys'].modules['posix']\n";
/// The same through `ctypes` (imported by the zygote) for raw system calls.
const LIBC: &str = "ctypes = g['sys'].modules['ctypes']\nlibc = ctypes.CDLL(None, use_errno=True)\n";
/// Every answer ends with a packet, so that "it ran" reads `ok`.
const TAIL: &str = "\npkt = IP(dst='10.0.0.2')/ICMP()\n";

/// One hostile answer: its class, its code (with `{DIR}` the folder outside
/// holding the marker files, `{PORT}` the host's loopback listeners,
/// `{VAR}` the secret's variable), and the statuses it must get with the
/// AST check on and off.
struct Case {
    class: &'static str,
    code: String,
    on: &'static [&'static str],
    off: &'static [&'static str],
}

fn case(class: &'static str, code: &str, on: &'static [&'static str], off: &'static [&'static str]) -> Case {
    Case { class, code: code.to_string(), on, off }
}

/// With the gadget: forbidden by the AST check, contained by the OS without it.
fn escape(class: &'static str, body: &str, off: &'static [&'static str]) -> Case {
    Case { class, code: format!("{OS}{body}{TAIL}"), on: &["forbidden"], off }
}

fn escape_libc(class: &'static str, body: &str, off: &'static [&'static str]) -> Case {
    Case { class, code: format!("{OS}{LIBC}{body}{TAIL}"), on: &["forbidden"], off }
}

/// Leak `expr` into a packet's payload, so any leak would show in the PCAP.
fn leak(expr: &str) -> String {
    format!("pkt_leak = IP(dst='10.0.0.9')/UDP(dport=9)/Raw(load=repr({expr}).encode('utf-8', 'replace')[:60000])\n")
}

fn cases() -> Vec<Case> {
    const OK: &[&str] = &["ok"];
    const ERR: &[&str] = &["scapy"];
    const OK_OR_ERR: &[&str] = &["ok", "scapy"];
    vec![
        // files: read, write, delete, truncate, symlink, outside and inside
        case("file", "import os\nos.system('touch {DIR}/pwned')", &["forbidden"], &["forbidden"]),
        case("file", "data = open('{DIR}/secret.txt').read()", &["forbidden"], &["name"]),
        escape("file", "fd = g['open']('{DIR}/secret.txt', 0)\nx = g['read'](fd, 100)\n", ERR),
        escape("file", "fd = g['open']('{DIR}/pwned', 0o101, 0o644)\ng['write'](fd, b'x')\n", ERR),
        escape("file", "g['unlink']('{DIR}/keep.txt')\n", ERR),
        escape("file", "g['truncate']('{DIR}/keep.txt', 0)\n", ERR),
        escape("file", "g['rename']('{DIR}/keep.txt', '{DIR}/moved.txt')\n", ERR),
        escape("file", "g['symlink']('{DIR}/keep.txt', '/tmp/link')\nfd = g['open']('/tmp/link', 1)\ng['write'](fd, b'x')\n", ERR),
        escape("file", "fd = g['open']('/usr/pwned', 0o101, 0o644)\n", ERR),
        escape("file", "fd = g['open']('/harness/worker.py', 1)\n", ERR),
        escape("file", "fd = g['open']('/tmp/big', 0o101, 0o644)\ng['write'](fd, b'x' * 4096)\n", ERR),
        escape("file", &leak("g['listdir']('/')"), OK),
        escape("file", &leak("[g['listdir'](d) for d in ('/tmp', '/proc/1/root', '/proc/1/cwd') if g['path'].isdir(d)]"), OK_OR_ERR),
        case("file", "pkt = IP()/ICMP()\nwrpcap('{DIR}/out.pcap', pkt)", OK, OK),
        // processes: subprocess, fork, exec, background, fork bomb
        escape("process", "rc = posix.system('touch {DIR}/pwned; sleep 2718.28 &')\nassert rc != 0, rc\n", OK),
        escape("process", "posix.fork()\n", ERR),
        escape("process", "posix.posix_spawn('/bin/sh', ['sh', '-c', 'sleep 2718.28 &'], {})\n", ERR),
        escape("process", "posix.execv('/bin/sh', ['sh', '-c', 'touch {DIR}/pwned'])\n", ERR),
        escape("process", "for i in range(1000):\n    posix.fork()\n", ERR),
        escape_libc("process", "pid = libc.syscall(56, 17, 0, 0, 0, 0)\nassert pid < 0, pid\n", OK),
        escape_libc("process", "pid = libc.syscall(57)\nassert pid < 0, pid\n", OK),
        // environment and memory leaks into the PCAP or the report
        escape("leak", &leak("dict(g['environ'])"), OK),
        escape("leak", &leak("g['environ'].get('{VAR}')"), OK),
        escape("leak", "raise ValueError(str(dict(g['environ'])))\n", ERR),
        escape("leak", "fd = g['open']('/proc/1/environ', 0)\npkt_env = IP()/UDP()/Raw(load=g['read'](fd, 65536))\n", OK_OR_ERR),
        escape("leak", "fd = g['open']('/proc/%d/environ' % posix.getppid(), 0)\npkt_env = IP()/UDP()/Raw(load=g['read'](fd, 65536))\n", OK_OR_ERR),
        escape("leak", "fd = g['open']('/proc/self/environ', 0)\npkt_env = IP()/UDP()/Raw(load=g['read'](fd, 65536))\n", OK_OR_ERR),
        escape("leak", "fd = g['open']('/proc/%d/mem' % posix.getppid(), 0)\n", ERR),
        // network: sockets, raw packets, setns back into the host's network
        escape("network", "s = g['sys'].modules['_socket']\nc = s.socket(2, 1)\nc.connect(('127.0.0.1', {PORT}))\n", ERR),
        escape("network", "s = g['sys'].modules['_socket']\nc = s.socket(2, 2)\nc.sendto(b'x', ('127.0.0.1', {PORT}))\n", ERR),
        escape("network", "s = g['sys'].modules['_socket']\nc = s.socket(2, 3, 1)\n", ERR),
        escape("network", "s = g['sys'].modules['_socket']\nc = s.socket(17, 3, 0)\n", ERR),
        escape_libc(
            "network",
            "fd = g['open']('/proc/1/ns/net', 0)\nrc = libc.setns(fd, 0)\nassert rc != 0\ns = g['sys'].modules['_socket']\nc = s.socket(2, 1)\nc.connect(('127.0.0.1', {PORT}))\n",
            ERR,
        ),
        escape_libc("network", "rc = libc.unshare(0x10000000 | 0x40000000)\nassert rc != 0, rc\n", OK),
        escape_libc("network", "rc = libc.mount(b'none', b'/tmp', b'tmpfs', 0, None)\nassert rc != 0, rc\n", OK),
        escape_libc("network", "rc = libc.ptrace(16, posix.getppid(), 0, 0)\nassert rc != 0, rc\n", OK),
        escape_libc("network", "rc = libc.syscall(321, 0, 0, 0)\nassert rc != 0, rc\n", OK),
        // forged results and killing the worker
        escape("forge", "posix.write(1, b'{\"id\": \"next\", \"nonce\": \"\", \"len\": 0}\\n')\n", OK),
        escape("forge", "fd = g['open']('/proc/%d/fd/1' % posix.getppid(), 1)\n", ERR),
        escape(
            "forge",
            "for fd in range(3, 64):\n    try:\n        posix.write(fd, b'{\"id\": \"t\", \"status\": \"ok\", \"packets\": []}\\n{\"id\": \"next\"}')\n    except OSError:\n        pass\n",
            &["ok", "internal"],
        ),
        escape("kill", "posix.kill(posix.getppid(), 9)\n", ERR),
        escape("kill", "posix.kill(-1, 9)\n", ERR),
        escape("kill", "posix._exit(0)\n", &["limit"]),
        case("kill", "x = bytearray(10**10)", &["limit"], &["limit"]),
        case("kill", "while True:\n    pass", &["timeout"], &["timeout"]),
        // persistence into the next answer (checked again by the pair test)
        case("persist", "bind_layers(UDP, DNS, dport=9999)\nIP.fields_desc[0].default = 6\npkt = IP()/ICMP()", OK, OK),
        case("persist", "math.isinf = lambda x: True\nrandom.Random.randint = lambda self, a, b: 4\npkt = IP()/ICMP()", OK, OK),
        // attribute walks the AST check must see
        case("walk", "match IP():\n    case Packet(__class__=c):\n        pass\npkt = IP()/ICMP()", &["forbidden"], OK),
        case("walk", "x = '{0.__class__.__base__.__subclasses__}'.format(())\npkt = IP()/ICMP()", &["forbidden"], OK),
        case("walk", "x = '{0[0]}'.format([IP])\npkt = IP()/ICMP()", &["forbidden"], OK),
        // results that must not break the channel
        case("encode", "raise ValueError('\\udc80 lone surrogate \\ud800')", ERR, ERR),
        case("encode", "raise ValueError('x' * 10**7)", ERR, ERR),
        case("encode", "time.sleep(1e300)\npkt = IP()/ICMP()", ERR, ERR),
        case("encode", "pkt = IP()/ICMP()\npkt.time = -5", ERR, ERR),
    ]
}

/// Run the suite against one pool; check every effect outside.
fn hostile_suite(static_check: bool) {
    let Some(pool) = pool(static_check) else { return };
    let outside = tempfile::tempdir().unwrap();
    let dir = outside.path();
    std::fs::write(dir.join("secret.txt"), FILE_SECRET).unwrap();
    std::fs::write(dir.join("keep.txt"), "keep").unwrap();
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    tcp.set_nonblocking(true).unwrap();
    let port = tcp.local_addr().unwrap().port();
    let udp = UdpSocket::bind(("127.0.0.1", port)).unwrap();
    udp.set_nonblocking(true).unwrap();
    let cases = cases();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let secret_hex: String = SECRET.bytes().map(|b| format!("{b:02x}")).collect();
    let file_hex: String = FILE_SECRET.bytes().map(|b| format!("{b:02x}")).collect();
    for (i, case) in cases.iter().enumerate() {
        let code = case
            .code
            .replace("{DIR}", &dir.display().to_string())
            .replace("{PORT}", &port.to_string())
            .replace("{VAR}", SECRET_VAR);
        let started = Instant::now();
        let outcome = run(&pool, &format!("h{i}"), &code, i as u64);
        let allowed = if static_check { case.on } else { case.off };
        assert!(
            allowed.contains(&outcome.status.as_str()),
            "case {i} ({}, AST check {static_check}): got {} ({})\n{code}",
            case.class,
            outcome.status,
            outcome.message
        );
        assert!(started.elapsed() < Duration::from_secs(30), "case {i}: took {:?}", started.elapsed());
        let text = serde_json::to_string(&outcome).unwrap();
        for needle in [SECRET, FILE_SECRET, &secret_hex, &file_hex] {
            assert!(!text.contains(needle), "case {i} ({}): leaked {needle}: {text:.400}", case.class);
        }
        assert!(
            !dir.join("pwned").exists() && !dir.join("moved.txt").exists() && !dir.join("out.pcap").exists(),
            "case {i}: wrote outside"
        );
        assert_eq!(std::fs::read_to_string(dir.join("keep.txt")).unwrap(), "keep", "case {i}: changed a file outside");
        assert!(
            matches!(tcp.accept().map_err(|e| e.kind()), Err(ErrorKind::WouldBlock)),
            "case {i}: reached the host's loopback (TCP)"
        );
        assert!(
            matches!(udp.recv_from(&mut [0; 64]).map_err(|e| e.kind()), Err(ErrorKind::WouldBlock)),
            "case {i}: reached the host's loopback (UDP)"
        );
        // The next answer is judged on its own: a forged or killed worker
        // changes nothing of it.
        let next = run(&pool, "next", "pkt = IP(src='10.0.0.1', dst='10.0.0.2')/ICMP(id=7, seq=1)", 1);
        assert_eq!(next.status, "ok", "case {i}: the answer after it got {} ({})", next.status, next.message);
        assert_eq!(next.packets.len(), 1, "case {i}: the answer after it");
    }
    assert_eq!(std::fs::read_dir(dir).unwrap().count(), 2, "only the two files the test wrote");
    drop(pool);
    assert_no_sandbox_processes();
}

/// No process of a sandbox outlives its pool (background children of
/// answers included).
fn assert_no_sandbox_processes() {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut left = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains("/harness/worker.py") || cmdline.contains("sleep 2718.28") {
                left.push(cmdline);
            }
        }
        // Other tests of this binary may run pools of their own.
        if left.is_empty() || Instant::now() > deadline {
            assert!(left.iter().all(|c| !c.contains("sleep 2718.28")), "processes left: {left:?}");
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn hostile_answers_are_contained_with_the_ast_check() {
    hostile_suite(true);
}

#[test]
fn hostile_answers_are_contained_by_the_os_alone() {
    hostile_suite(false);
}

/// The worker runs without the harness's environment, in namespaces of its
/// own, as an unprivileged user without capabilities.
#[test]
fn the_sandbox_is_what_it_says() {
    let Some(pool) = pool(false) else { return };
    let probe = format!(
        "{OS}{}",
        leak("[g['getuid'](), g['getgid'](), sorted(g['environ']), open_status(), g['listdir']('/'), g['readlink']('/proc/self/ns/net') != 'x', g['getppid'](), g['getpid']()]")
    )
    .replace(
        "pkt_leak",
        "def open_status():\n    fd = g['open']('/proc/self/status', 0)\n    text = g['read'](fd, 8192).decode()\n    return [l for l in text.splitlines() if l.startswith(('CapEff', 'NoNewPrivs', 'Seccomp'))]\npkt_leak",
    );
    let outcome = run(&pool, "probe", &probe, 1);
    assert_eq!(outcome.status, "ok", "{}", outcome.message);
    let hex = &outcome.packets[0].hex;
    let bytes: Vec<u8> = (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
    let text = String::from_utf8_lossy(&bytes[28..]).into_owned();
    assert!(text.starts_with("[65534, 65534, ['HOME', 'LANG', 'PATH', 'PWD'], "), "{text}");
    assert!(text.contains("'CapEff:\\t0000000000000000'"), "{text}");
    assert!(text.contains("'NoNewPrivs:\\t1'") && text.contains("'Seccomp:\\t2'"), "{text}");
    assert!(!text.contains("'work'") && !text.contains("'home'"), "no host folders: {text}");
}

/// Read the corpus's Scapy answers (extracted code).
fn corpus_answers() -> Vec<String> {
    let Some(path) = common::shared("completions.jsonl") else { return Vec::new() };
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|r| r["dialect"] == "scapy")
        .map(|r| {
            harness::exec::extract::extract(
                r["completion"].as_str().unwrap_or(""),
                harness::exec::extract::Dialect::Scapy,
            )
            .text
        })
        .collect()
}

/// The PCAP bytes an outcome gives (empty when it failed).
fn pcap(outcome: &Outcome) -> (String, Vec<u8>) {
    let bytes = to_trace(outcome)
        .ok()
        .filter(|_| outcome.status == "ok")
        .map(|t| harness::pcap::write_trace(Vec::new(), &t).unwrap())
        .unwrap_or_default();
    (outcome.status.clone(), bytes)
}

/// Answers that try to change what later answers build.
const PERSIST: &[&str] = &[
    "bind_layers(UDP, DNS, dport=9999)\nIP.fields_desc[0].default = 6\nTCP.fields_desc[5].default = 0x12\npkt = IP()/ICMP()",
    "math.isinf = lambda x: True\nrandom.Random.randint = lambda self, a, b: 4\nrandom.seed(1)\npkt = IP()/ICMP()",
    "conf_x = ICMP.fields_desc\nconf_x[0].default = 0\nEther.fields_desc[2].default = 0x86dd\npkt = IP()/ICMP()",
];

/// For random pairs (A, B) of corpus answers, and of hostile and corpus
/// answers, B's PCAP is byte-identical whether or not A ran before it in
/// the same pool.
#[test]
fn no_state_crosses_answers() {
    let answers = corpus_answers();
    if answers.is_empty() {
        return;
    }
    let (Some(solo), Some(paired)) = (pool(true), pool(true)) else { return };
    let mut first: Vec<String> = PERSIST.iter().map(|s| s.to_string()).collect();
    first.extend(answers.iter().cloned());
    let config = ProptestConfig { cases: 32, failure_persistence: None, ..ProptestConfig::default() };
    proptest!(config, |(a in 0..first.len(), b in 0..answers.len(), hostile in any::<bool>(), seed in 0u64..1000)| {
        let a = if hostile { a % PERSIST.len() } else { a };
        let alone = run(&solo, "b", &answers[b], seed);
        let jobs = [
            Job { id: "a".into(), code: first[a].clone(), seed: seed ^ 1, cpu_s: 2.0 },
            Job { id: "b".into(), code: answers[b].clone(), seed, cpu_s: 2.0 },
        ];
        let after = paired.run_all(&jobs).remove(1);
        prop_assert_eq!(pcap(&alone), pcap(&after), "answer {} after {}", b, a);
    });
}

/// A pool refuses to start without bubblewrap, and says how to fix it.
#[test]
fn no_bwrap_no_scapy_answers() {
    if !common::scapy() {
        return;
    }
    let options = ScapyOptions { bwrap: Path::new("/nonexistent/bwrap").into(), ..ScapyOptions::default() };
    let error = ScapyPool::start(options).err().expect("no fallback without bwrap").to_string();
    assert!(error.contains("bubblewrap") && error.contains("apt-get install bubblewrap"), "{error}");
}
