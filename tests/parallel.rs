//! `harness check --jobs N` gives the report `--jobs 1` gives, byte for
//! byte: on random captures (many interleaved TCP, HTTP, DNS over UDP and
//! TCP, ICMP and ARP flows between a few hosts, corrupted bytes, clocks that
//! go back, flow tables small enough to evict) and on every capture
//! published with the seeds, the own pass with 2, 3 and 4 threads has the
//! same findings in the same order, the same frame records and the same
//! tables and JSON as with one; and the command line checking several
//! files side by side prints what it prints checking them one by one.

mod common;

use std::path::Path;
use std::process::Command;

use harness::analyze::{file_report, own_pass_from_jobs, OwnPass};
use harness::check::{Checksums, Limits};
use harness::pcap::{LinkType, Reader, Writer};
use harness::report::{Json, Reporter, RunReport, Table};
use harness::testkit;
use proptest::prelude::*;

/// Everything observable of one pass: the findings in the order reported,
/// the frame records, and the table and JSON of its report.
fn observe(mut pass: OwnPass) -> (String, String, String) {
    let records: Vec<String> = pass.frames.records().map(|r| format!("{r:?}")).collect();
    let raw = format!("{:?}\n{records:?}\n{} {:?}", pass.findings, pass.conversations, pass.error);
    let report = file_report("capture", pass, None);
    let run = RunReport { harness: String::new(), checksums: "strict", tshark: None, files: vec![report] };
    let (mut table, mut json) = (Vec::new(), Vec::new());
    Table { max_findings: usize::MAX }.write(&run, &mut table).unwrap();
    Json.write(&run, &mut json).unwrap();
    (raw, String::from_utf8(table).unwrap(), String::from_utf8(json).unwrap())
}

/// Assert that 2, 3 and 4 threads observe what one does on `capture`.
fn assert_same_for_every_jobs(capture: &[u8], limits: Limits) {
    let pass = |jobs| own_pass_from_jobs(Reader::new(capture, "capture").unwrap(), limits, jobs);
    let one = observe(pass(1));
    for jobs in 2..=4 {
        let more = observe(pass(jobs));
        assert_eq!(one.0, more.0, "findings or frame records differ with {jobs} threads");
        assert_eq!(one.1, more.1, "table differs with {jobs} threads");
        assert_eq!(one.2, more.2, "JSON differs with {jobs} threads");
    }
}

/// One packet of a random capture.
#[derive(Debug, Clone)]
enum Step {
    /// TCP between client `c` (port from a small pool) and server `s` on
    /// port 80 or 53, in either direction.
    Tcp { c: u8, s: u8, port: u8, app: u8, to_server: bool, flags: u8, seq: u8, ack: u8, payload: u8 },
    /// A DNS query or response over UDP.
    Dns { c: u8, id: u8, response: bool },
    /// An ICMP echo request or reply.
    Icmp { c: u8, s: u8, reply: bool, seq: u8 },
    /// An ARP request or reply, the sender's MAC possibly another host's.
    Arp { from: u8, to: u8, reply: bool, mac: u8 },
}

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
const FLAGS: [&str; 8] = ["S", "SA", "A", "PA", "FA", "R", "RA", "A"];

fn host(n: u8) -> [u8; 4] {
    [10, 0, n / 4, 1 + n % 4]
}

fn mac(n: u8) -> [u8; 6] {
    [2, 0, 0, 0, 0, n]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0u8..4, 4u8..6, 0u8..3, 0u8..2, any::<bool>(), 0u8..8, 0u8..4, 0u8..4, 0u8..5).prop_map(
            |(c, s, port, app, to_server, flags, seq, ack, payload)| Step::Tcp {
                c, s, port, app, to_server, flags, seq, ack, payload
            }
        ),
        2 => (0u8..4, 0u8..3, any::<bool>()).prop_map(|(c, id, response)| Step::Dns { c, id, response }),
        1 => (0u8..4, 4u8..6, any::<bool>(), 0u8..3).prop_map(|(c, s, reply, seq)| Step::Icmp { c, s, reply, seq }),
        1 => (0u8..6, 0u8..6, any::<bool>(), 0u8..6).prop_map(|(from, to, reply, mac)| Step::Arp { from, to, reply, mac }),
    ]
}

/// Build the Ethernet frame of a step.
fn frame(step: &Step) -> Vec<u8> {
    let ip = |src: u8, dst: u8, packet: Vec<u8>| testkit::ethernet(mac(src), mac(dst), 0x0800, &packet);
    match *step {
        Step::Tcp { c, s, port, app, to_server, flags, seq, ack, payload } => {
            let (cport, sport) = (40_000 + u16::from(port), if app == 0 { 80 } else { 53 });
            let dns = {
                let message = dns_message(u16::from(seq), !to_server);
                let mut framed = (message.len() as u16).to_be_bytes().to_vec();
                framed.extend(message);
                framed
            };
            let body: &[u8] = match payload {
                0 | 1 => b"",
                2 if app == 1 => &dns,
                2 => GET,
                3 => OK,
                _ => b"xx",
            };
            // Sequence numbers from a small pool, so segments follow each
            // other, repeat, overlap and leave holes.
            let seq = 1_000 * u32::from(!to_server) + 20 * u32::from(seq);
            let ack = 1_000 * u32::from(to_server) + 20 * u32::from(ack);
            let flags = FLAGS[usize::from(flags)];
            let (a, b) = (host(c), host(s));
            if to_server {
                ip(c, s, testkit::tcp(a, b, cport, sport, flags, seq, ack, body))
            } else {
                ip(s, c, testkit::tcp(b, a, sport, cport, flags, seq, ack, body))
            }
        }
        Step::Dns { c, id, response } => {
            let message = dns_message(u16::from(id), response);
            let (client, server) = (host(c), host(7));
            if response {
                ip(7, c, testkit::udp(server, client, 53, 5_353, &message))
            } else {
                ip(c, 7, testkit::udp(client, server, 5_353, 53, &message))
            }
        }
        Step::Icmp { c, s, reply, seq } => {
            let (a, b) = if reply { (s, c) } else { (c, s) };
            ip(a, b, testkit::icmp_echo(host(a), host(b), reply, 1, u16::from(seq)))
        }
        Step::Arp { from, to, reply, mac: sender } => {
            let mut arp = vec![0, 1, 8, 0, 6, 4, 0, if reply { 2 } else { 1 }];
            arp.extend(mac(sender));
            arp.extend(host(from));
            arp.extend(if reply { mac(to) } else { [0; 6] });
            arp.extend(host(to));
            let dst = if reply { mac(to) } else { [0xff; 6] };
            testkit::ethernet(mac(from), dst, 0x0806, &arp)
        }
    }
}

/// A DNS message for `example.com` (a response answers it with one A).
fn dns_message(id: u16, response: bool) -> Vec<u8> {
    let mut out = id.to_be_bytes().to_vec();
    out.extend_from_slice(&(if response { 0x8180u16 } else { 0x0100 }).to_be_bytes());
    for count in [1, u16::from(response), 0, 0] {
        out.extend_from_slice(&count.to_be_bytes());
    }
    out.extend_from_slice(b"\x07example\x03com\x00\x00\x01\x00\x01");
    if response {
        out.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 1, 0x2c, 0, 4, 10, 0, 1, 1]);
    }
    out
}

/// Write the capture of `steps`: `flips` corrupt one byte of a frame each,
/// `back` sends the clock back before some frames.
fn capture(steps: &[Step], flips: &[(usize, usize, u8)], back: &[usize]) -> Vec<u8> {
    let mut frames: Vec<Vec<u8>> = steps.iter().map(frame).collect();
    for &(which, at, xor) in flips {
        if let Some(frame) = frames.get_mut(which % steps.len().max(1)) {
            let len = frame.len();
            frame[at % len] ^= xor.max(1);
        }
    }
    let mut out = Vec::new();
    let mut writer = Writer::new(&mut out, LinkType::Ethernet).unwrap();
    let mut ts = 1_700_000_000_000_000_000u64;
    for (i, frame) in frames.iter().enumerate() {
        ts = if back.contains(&i) { ts - 5_000_000_000 } else { ts + 1_000_000 };
        writer.write(ts, frame).unwrap();
    }
    writer.into_inner();
    out
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn jobs_do_not_change_the_report_of_random_captures(
        steps in proptest::collection::vec(step(), 0..400),
        flips in proptest::collection::vec((any::<usize>(), any::<usize>(), any::<u8>()), 0..6),
        back in proptest::collection::vec(0usize..400, 0..3),
        small_table in any::<bool>(),
        spill in any::<bool>(),
        checksums in 0u8..3,
    ) {
        let limits = Limits {
            max_flows: if small_table { 8 } else { Limits::default().max_flows },
            memory_records: if spill { 16 } else { Limits::default().memory_records },
            checksums: [Checksums::Strict, Checksums::OffloadAware, Checksums::Off][usize::from(checksums)],
        };
        assert_same_for_every_jobs(&capture(&steps, &flips, &back), limits);
    }
}

/// A capture long enough for many batches between the two threads, with
/// findings (corrupted bytes, evictions) spread all over it.
#[test]
fn jobs_do_not_change_the_report_of_a_long_capture() {
    let mut steps = Vec::new();
    for n in 0..6_000u32 {
        let v = n.wrapping_mul(2_654_435_761).to_be_bytes();
        steps.push(match v[0] % 10 {
            0 => Step::Dns { c: v[1] % 4, id: v[2] % 3, response: v[3] % 2 == 0 },
            1 => Step::Icmp { c: v[1] % 4, s: 4 + v[2] % 2, reply: v[3] % 2 == 0, seq: v[1] % 3 },
            2 => Step::Arp { from: v[1] % 6, to: v[2] % 6, reply: v[3] % 2 == 0, mac: v[1] % 6 },
            _ => Step::Tcp {
                c: v[1] % 4,
                s: 4 + v[2] % 2,
                port: v[3] % 3,
                app: v[0] % 2,
                to_server: v[1] % 2 == 0,
                flags: v[2] % 8,
                seq: v[3] % 4,
                ack: v[0] % 4,
                payload: v[1] % 5,
            },
        });
    }
    let flips: Vec<(usize, usize, u8)> = (0..50).map(|i| (i * 113, i * 31, 0x40)).collect();
    let capture = capture(&steps, &flips, &[2_000, 4_500]);
    // Both threads have findings to merge, all over the capture.
    let pass = own_pass_from_jobs(Reader::new(capture.as_slice(), "capture").unwrap(), Limits::default(), 1);
    let checks: std::collections::BTreeSet<&str> = pass.findings.iter().map(|f| f.check.as_ref()).collect();
    assert!(checks.iter().any(|c| c.starts_with("ip.") || c.starts_with("arp.")), "{checks:?}");
    assert!(checks.iter().any(|c| c.starts_with("tcp.")) && checks.iter().any(|c| c.starts_with("dns.")), "{checks:?}");
    assert!(pass.findings.iter().any(|f| f.frame > 4_096), "{checks:?}");
    assert_same_for_every_jobs(&capture, Limits { max_flows: 8, memory_records: 1_000, ..Limits::default() });
    assert_same_for_every_jobs(&capture, Limits::default());
}

#[test]
fn jobs_do_not_change_the_report_of_the_corpus() {
    let Some(dir) = common::shared("pcaps") else { return };
    let files = common::captures(&dir);
    assert!(files.len() >= 30, "expected the published captures, found {}", files.len());
    for path in &files {
        let data = std::fs::read(path).unwrap();
        for limits in [Limits::default(), Limits { max_flows: 8, memory_records: 4, ..Limits::default() }] {
            assert_same_for_every_jobs(&data, limits);
        }
    }
}

/// The command line over several files (side by side) and over one (split
/// over two threads) prints what it prints with `--jobs 1`.
#[test]
fn check_command_output_does_not_depend_on_jobs() {
    let Some(dir) = common::shared("pcaps") else { return };
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_harness")).args(args).output().expect("run harness");
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let dir = dir.display().to_string();
    let files = common::captures(Path::new(&dir));
    let one_file = files[0].display().to_string();
    for (format, target) in [("json", &dir), ("table", &dir), ("json", &one_file)] {
        let args =
            |jobs: &'static str| ["check", "--tshark", "off", "--all-findings", "--format", format, "--jobs", jobs];
        let base: Vec<&str> = args("1").into_iter().chain([target.as_str()]).collect();
        let one = run(&base);
        assert!(!one.1.is_empty());
        for jobs in ["2", "3", "4"] {
            let more: Vec<&str> = args(jobs).into_iter().chain([target.as_str()]).collect();
            assert_eq!(one, run(&more), "{format} of {target} with --jobs {jobs}");
        }
    }
}
