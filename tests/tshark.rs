//! tshark as the second opinion, with the real tshark: crafted faults and
//! the Expert Info items tshark really reports (by expert id), counts equal
//! to `tshark -2 -q -z expert`, and batched runs equal to per-trace runs.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use harness::analyze::{file_report, own_pass};
use harness::check::Limits;
use harness::finding::Severity;
use harness::pcap::LinkType;
use proptest::prelude::*;

const A: [u8; 4] = [10, 0, 0, 1];
const B: [u8; 4] = [10, 0, 0, 2];

/// Run tshark on one crafted capture; return "frame severity protocol
/// expert-id" lines.
fn items(tshark: &harness::tshark::Tshark, path: &Path) -> String {
    let (_, findings) = tshark.expert(path).unwrap();
    findings
        .iter()
        .map(|f| format!("{} {} {} {}", f.frame, f.severity, f.protocol, f.expert.as_deref().unwrap_or("-")))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn crafted_faults_by_expert_id() {
    let Some(tshark) = tshark() else { return };
    let dir = tempfile::tempdir().unwrap();
    let q = dns(0x1234, false, None);
    let cases: Vec<(&str, Vec<Vec<u8>>)> = vec![
        ("dns_count_above_records", vec![udp(A, B, 40000, 53, &q), udp(B, A, 53, 40000, &dns(0x1234, true, Some(2)))]),
        ("dns_count_below_records", vec![udp(A, B, 40000, 53, &q), udp(B, A, 53, 40000, &dns(0x1234, true, Some(0)))]),
        ("icmp_unanswered_echo", vec![echo(A, B, false, 7, 1)]),
        ("tcp_synack_wrong_ack", {
            let mut c = http_conversation(A, B, 40000, 1000);
            c[1] = tcp(B, A, 80, 40000, "SA", 3017, 1000 + 2, b"");
            c
        }),
        ("tcp_seq_gap", {
            let mut c = http_conversation(A, B, 40000, 1000);
            c.remove(4);
            c.remove(4);
            c
        }),
        ("correct_http_conversation", http_conversation(A, B, 40000, 1000)),
    ];
    let mut all = String::new();
    for (name, frames) in cases {
        let path = write(&dir.path().join(format!("{name}.pcap")), LinkType::Raw, &frames);
        all.push_str(&format!("## {name}\n{}\n", items(&tshark, &path)));
    }
    insta::with_settings!({ description => format!("tshark {}", tshark.version()) }, {
        insta::assert_snapshot!("tshark_crafted_faults", all);
    });
}

/// Parse `tshark -2 -q -z expert` into counts per severity.
fn z_expert(path: &Path) -> [u64; 4] {
    let out = Command::new("tshark")
        .args(["-n", "-2", "-q", "-z", "expert"])
        .arg("-r")
        .arg(path)
        .args(["-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut counts = [0u64; 4];
    for line in text.lines() {
        for (i, word) in ["Errors (", "Warns (", "Notes (", "Chats ("].iter().enumerate() {
            if let Some(rest) = line.strip_prefix(word) {
                counts[i] = rest.trim_end_matches(')').parse().unwrap();
            }
        }
    }
    counts
}

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/pcaps/GPT-on-the-wire");
    let mut out = Vec::new();
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        let mut paths: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
        paths.sort();
        for path in paths {
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "pcap") {
                out.push(path);
            }
        }
    }
    walk(&dir, &mut out);
    out
}

#[test]
fn counts_equal_tshark_z_expert() {
    let Some(tshark) = tshark() else { return };
    let files = corpus();
    if files.is_empty() {
        eprintln!("SKIPPED: no corpus beside the checkout");
        return;
    }
    for path in files.iter().take(8) {
        let (summary, _) = tshark.expert(path).unwrap();
        let expected = z_expert(path);
        assert_eq!([summary.errors, summary.warnings, summary.notes, summary.chats], expected, "{}", path.display());
    }
}

/// Merged tables (own checks + tshark) of the paper's captures.
#[test]
fn corpus_tables_with_tshark() {
    let Some(tshark) = tshark() else { return };
    let files = corpus();
    if files.is_empty() {
        eprintln!("SKIPPED: no corpus beside the checkout");
        return;
    }
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/pcaps");
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let expert = tshark.expert_many(&paths).unwrap();
    let mut out = String::new();
    for (path, result) in files.iter().zip(expert) {
        let name = path.strip_prefix(&base).unwrap().display().to_string();
        let report = file_report(&name, own_pass(path, Limits::default()).unwrap(), Some(result.unwrap()));
        out.push_str(&format!("## {name}\n"));
        for (protocol, row) in &report.protocols {
            out.push_str(&format!(
                "{protocol:5} packets={} correct={} malformed={} non_existent={} success={:.4} {}\n",
                row.packets,
                row.correct,
                row.malformed,
                row.non_existent,
                row.success_rate,
                row.we()
            ));
        }
        let agreement = report.agreement.unwrap();
        out.push_str(&format!(
            "only tshark: {:?}\nonly harness: {:?}\n",
            agreement.only_tshark, agreement.only_harness
        ));
    }
    insta::with_settings!({ description => format!("tshark {}", tshark.version()) }, {
        insta::assert_snapshot!("corpus_tables_with_tshark", out);
    });
}

/// Findings of every trace, as (frame, severity, expert id), per trace.
type Items = Vec<Vec<(u64, Severity, String)>>;

fn per_trace(tshark: &harness::tshark::Tshark, paths: &[&Path]) -> Items {
    paths
        .iter()
        .map(|p| {
            tshark
                .expert(p)
                .unwrap()
                .1
                .into_iter()
                .map(|f| (f.frame, f.severity, f.expert.unwrap_or_default()))
                .collect()
        })
        .collect()
}

fn batched(tshark: &harness::tshark::Tshark, paths: &[&Path]) -> Items {
    tshark
        .expert_many(paths)
        .unwrap()
        .into_iter()
        .map(|r| r.unwrap().1.into_iter().map(|f| (f.frame, f.severity, f.expert.unwrap_or_default())).collect())
        .collect()
}

/// A small trace: an HTTP conversation, a DNS exchange or an ICMP echo,
/// between hosts drawn from a small pool (so traces collide), with an
/// optional fault.
fn trace() -> impl Strategy<Value = Vec<Vec<u8>>> {
    (0u8..3, 1u8..5, 1u8..5, 0u8..3, any::<u16>()).prop_map(|(kind, a, b, fault, n)| {
        let client = [10, 0, 0, a];
        let server = [10, 0, 1, b];
        let mut frames = match kind {
            0 => http_conversation(client, server, 40000 + n % 1000, u32::from(n) * 7),
            1 => vec![
                udp(client, server, 50000, 53, &dns(n, false, None)),
                udp(server, client, 53, 50000, &dns(n, true, None)),
            ],
            _ => vec![echo(client, server, false, n, 1), echo(server, client, true, n, 1)],
        };
        match fault {
            1 => {
                frames.pop();
            }
            2 if frames.len() > 3 => {
                frames.remove(3);
            }
            _ => {}
        }
        frames
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Batched findings equal per-trace findings, whatever the mix.
    #[test]
    fn batched_equals_per_trace(traces in proptest::collection::vec(trace(), 2..10)) {
        let Some(tshark) = tshark() else { return Ok(()) };
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<PathBuf> = traces.iter().enumerate().map(|(i, frames)| write(&dir.path().join(format!("{i}.pcap")), LinkType::Raw, frames)).collect();
        let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
        prop_assert_eq!(batched(&tshark, &paths), per_trace(&tshark, &paths));
    }
}

#[test]
fn disjoint_traces_share_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = (0..6u8)
        .map(|i| {
            write(
                &dir.path().join(format!("{i}.pcap")),
                LinkType::Raw,
                &http_conversation([10, 0, 0, i + 1], [10, 0, 1, 1], 40000, 1),
            )
        })
        .collect();
    let mut colliding = files.clone();
    colliding.push(write(
        &dir.path().join("again.pcap"),
        LinkType::Raw,
        &http_conversation([10, 0, 0, 1], [10, 0, 1, 1], 40001, 9),
    ));
    let paths: Vec<&Path> = colliding.iter().map(PathBuf::as_path).collect();
    let plan = harness::tshark::plan(&paths);
    assert_eq!(plan, vec![vec![0, 1, 2, 3, 4, 5], vec![6]]);
}

/// Two threads batching on one tshark (matrix cells side by side) each
/// get their own traces' findings: batch files never collide.
#[test]
fn concurrent_batches_on_one_instance() {
    let Some(tshark) = tshark() else { return };
    let dir = tempfile::tempdir().unwrap();
    // Set A: clean conversations; set B: each missing its third segment
    // (lost-segment warnings). Both batch into one capture per call.
    let set = |name: &str, cut: bool| -> Vec<PathBuf> {
        (0..6u8)
            .map(|i| {
                let mut frames = http_conversation([10, 0, 0, i + 1], [10, 0, 1, 1], 40000, 1);
                if cut {
                    frames.remove(3);
                }
                write(&dir.path().join(format!("{name}{i}.pcap")), LinkType::Raw, &frames)
            })
            .collect()
    };
    let (a, b) = (set("a", false), set("b", true));
    let (a, b): (Vec<&Path>, Vec<&Path>) =
        (a.iter().map(PathBuf::as_path).collect(), b.iter().map(PathBuf::as_path).collect());
    let (want_a, want_b) = (per_trace(&tshark, &a), per_trace(&tshark, &b));
    assert_ne!(want_a, want_b);
    for _ in 0..3 {
        let (got_a, got_b) = std::thread::scope(|s| {
            let ta = s.spawn(|| batched(&tshark, &a));
            let tb = s.spawn(|| batched(&tshark, &b));
            (ta.join().unwrap(), tb.join().unwrap())
        });
        assert_eq!((&got_a, &got_b), (&want_a, &want_b));
    }
}
