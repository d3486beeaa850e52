//! Benchmark: own checks against a bare read pass, and against tshark.
//!
//! Writes a correct capture of about `HARNESS_BENCH_PACKETS` packets (default
//! 1 000 000: HTTP-over-TCP conversations, DNS exchanges, ICMP echoes, ARP
//! pairs, all on Ethernet), then measures in one run:
//! - a bare `pcap-file` read pass over it (every packet touched),
//! - `harness check --tshark off` (the library's own pass and verdicts), on
//!   one thread and on every core (`--jobs`), each pass repeated
//!   `HARNESS_BENCH_REPEAT` times (default 3), the fastest kept,
//! - with `HARNESS_BENCH_TSHARK=1`, tshark's two-pass Expert Info run,
//!
//! and prints the ratios and the peak memory (VmHWM) of the process.
//! Run: `cargo bench --bench check` (or `ci/bench`). `HARNESS_BENCH_KEEP=FILE`
//! keeps the capture for profiling.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use etherparse::PacketBuilder;
use harness::analyze::{file_report, own_pass_jobs};
use harness::check::Limits;
use harness::pcap::{LinkType, Writer};
use harness::testkit;

fn mac(n: u32) -> [u8; 6] {
    let b = n.to_be_bytes();
    [0x02, 0, b[0], b[1], b[2], b[3]]
}

fn tcp(src: (u32, u16), dst: (u32, u16), flags: &str, seq: u32, ack: u32, payload: &[u8], out: &mut Vec<u8>) {
    let packet = testkit::tcp(src.0.to_be_bytes(), dst.0.to_be_bytes(), src.1, dst.1, flags, seq, ack, payload);
    *out = testkit::ethernet(mac(src.0), mac(dst.0), 0x0800, &packet);
}

/// Write `target` packets of correct traffic; return the count written.
fn write_capture(path: &Path, target: u64) -> u64 {
    let file = BufWriter::with_capacity(1 << 20, File::create(path).unwrap());
    let mut writer = Writer::new(file, LinkType::Ethernet).unwrap();
    let request = b"GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: bench\r\n\r\n";
    let response = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 12\r\n\r\nhello world!";
    let mut buf = Vec::with_capacity(256);
    let mut written = 0u64;
    let mut ts = 1_700_000_000_000_000_000u64;
    let mut conv = 0u32;
    while written < target {
        let client = (0x0a00_0000 | (conv + 2), 10_000 + (conv % 50_000) as u16);
        let server = (0x0a01_0001u32, 80u16);
        let (c, s) = (conv.wrapping_mul(7919), conv.wrapping_mul(104_729));
        let packets = testkit::http_conversation(
            client.0.to_be_bytes(),
            client.1,
            server.0.to_be_bytes(),
            c,
            s,
            request,
            response,
        );
        for ip in packets {
            let src = u32::from_be_bytes([ip[12], ip[13], ip[14], ip[15]]);
            let dst = u32::from_be_bytes([ip[16], ip[17], ip[18], ip[19]]);
            let frame = testkit::ethernet(mac(src), mac(dst), 0x0800, &ip);
            ts += 1_000;
            writer.write(ts, &frame).unwrap();
            written += 1;
        }
        // An ICMP echo pair every conversation.
        for reply in [false, true] {
            let (a, b) = if reply { (server.0, client.0) } else { (client.0, server.0) };
            let builder = PacketBuilder::ethernet2(mac(a), mac(b)).ipv4(a.to_be_bytes(), b.to_be_bytes(), 64);
            let builder = if reply {
                builder.icmpv4_echo_reply(conv as u16, 1)
            } else {
                builder.icmpv4_echo_request(conv as u16, 1)
            };
            buf.clear();
            builder.write(&mut buf, b"0123456789abcdef").unwrap();
            ts += 1_000;
            writer.write(ts, &buf).unwrap();
            written += 1;
        }
        conv += 1;
    }
    writer.into_inner().flush().unwrap();
    written
}

fn bare_read(path: &Path) -> u64 {
    let mut reader = pcap_file::pcap::PcapReader::new(std::io::BufReader::new(File::open(path).unwrap())).unwrap();
    let mut sum = 0u64;
    while let Some(packet) = reader.next_packet() {
        let packet = packet.unwrap();
        sum = sum.wrapping_add(packet.data.iter().map(|b| u64::from(*b)).sum::<u64>());
    }
    sum
}

/// Time tshark on `count` one-conversation captures: one process per trace
/// against batched runs, and check that the findings are identical.
fn batch_vs_per_trace(tshark: &harness::tshark::Tshark, dir: &Path, count: u32) {
    let mut paths = Vec::new();
    for i in 0..count {
        let path = dir.join(format!("conv-{i}.pcap"));
        let mut out = BufWriter::new(File::create(&path).unwrap());
        let mut writer = Writer::new(&mut out, LinkType::Ethernet).unwrap();
        let client = (0x0a00_0000 | (i + 2), 40_000);
        let server = (0x0a01_0001u32, 80u16);
        let mut buf = Vec::new();
        let request = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
        let q = request.len() as u32;
        let steps: [(bool, &str, u32, u32, &[u8]); 6] = [
            (true, "S", 100, 0, b""),
            (false, "SA", 900, 101, b""),
            (true, "A", 101, 901, b""),
            (true, "PA", 101, 901, request),
            (false, "FA", 901, 101 + q, b""),
            (true, "FA", 101 + q, 902, b""),
        ];
        for (n, (from_client, flags, seq, ack, payload)) in steps.into_iter().enumerate() {
            let (a, b) = if from_client { (client, server) } else { (server, client) };
            tcp(a, b, flags, seq, ack, payload, &mut buf);
            writer.write(1_000_000 * (n as u64 + 1), &buf).unwrap();
        }
        writer.into_inner().flush().unwrap();
        paths.push(path);
    }
    let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    let start = Instant::now();
    let single: Vec<_> = refs.iter().map(|p| tshark.expert(p).unwrap().1).collect();
    let per_trace = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let batched: Vec<_> = tshark.expert_many(&refs).unwrap().into_iter().map(|r| r.unwrap().1).collect();
    let batch = start.elapsed().as_secs_f64();
    assert_eq!(single, batched, "batched findings must equal per-trace findings");
    println!("tshark, {count} conversations: one process each {per_trace:.2} s, batched {batch:.2} s");
    println!("ratio batched / per-trace speed : {:.1}  (goal >= 20, findings identical)", per_trace / batch);
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this
    // binary without it, as a quick smoke test of the same code.
    let full = std::env::args().any(|a| a == "--bench");
    let default = if full { 1_000_000 } else { 2_000 };
    let target: u64 = std::env::var("HARNESS_BENCH_PACKETS").ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let dir = std::env::temp_dir().join(format!("harness-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // HARNESS_BENCH_KEEP=FILE keeps the capture there (for profiling).
    let keep = std::env::var_os("HARNESS_BENCH_KEEP").map(std::path::PathBuf::from);
    let path = keep.clone().unwrap_or_else(|| dir.join("correct.pcap"));
    let start = Instant::now();
    let packets = write_capture(&path, target);
    let size = std::fs::metadata(&path).unwrap().len();
    println!(
        "capture: {packets} packets, {:.1} MiB, written in {:.2} s",
        size as f64 / 1048576.0,
        start.elapsed().as_secs_f64()
    );

    // Each pass `repeat` times, interleaved, the fastest kept: other
    // processes on the machine only ever slow a pass down.
    let repeat: usize = std::env::var("HARNESS_BENCH_REPEAT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 3 } else { 1 })
        .max(1);
    let threads = std::thread::available_parallelism().map_or(2, usize::from).max(2);
    let (mut bare, mut own, mut own_n) = (Vec::new(), Vec::new(), Vec::new());
    let mut rss_after_bare = None;
    let mut reports = Vec::new();
    for _ in 0..repeat {
        let start = Instant::now();
        std::hint::black_box(bare_read(&path));
        bare.push(start.elapsed().as_secs_f64());
        rss_after_bare = rss_after_bare.or_else(peak_rss_mib);
        for (jobs, times) in [(1, &mut own), (threads, &mut own_n)] {
            let start = Instant::now();
            let pass = own_pass_jobs(&path, Limits::default(), jobs).unwrap();
            let report = file_report("bench", pass, None);
            times.push(start.elapsed().as_secs_f64());
            reports.push(report);
        }
    }
    let report = reports.swap_remove(0);
    assert!(!report.has_errors(), "the benchmark capture must be correct: {:?}", report.checks);
    assert!(reports.iter().all(|r| *r == report), "every thread count must give the same report");
    let spread = |times: &[f64]| {
        let (min, max) = times.iter().fold((f64::MAX, 0f64), |(lo, hi), t| (lo.min(*t), hi.max(*t)));
        (min, max)
    };
    let (bare, bare_max) = spread(&bare);
    let (own, own_max) = spread(&own);
    let (own_n, own_n_max) = spread(&own_n);
    println!("passes                   : fastest of {repeat} (slowest in brackets)");
    println!("bare pcap-file read pass : {bare:8.3} s  ({:.2} Mpkt/s) [{bare_max:.3}]", packets as f64 / bare / 1e6);
    println!("own checks, 1 thread     : {own:8.3} s  ({:.2} Mpkt/s) [{own_max:.3}]", packets as f64 / own / 1e6);
    println!(
        "own checks, {threads} threads    : {own_n:8.3} s  ({:.2} Mpkt/s) [{own_n_max:.3}]",
        packets as f64 / own_n / 1e6
    );
    println!(
        "ratio own / bare speed   : {:.3} with 1 thread, {:.3} with {threads}  (goal >= 0.333)",
        bare / own,
        bare / own_n
    );
    if let (Some(before), Some(after)) = (rss_after_bare, peak_rss_mib()) {
        println!("peak RSS                 : {after:.1} MiB (after bare read: {before:.1} MiB)");
    }
    println!(
        "conversations            : {}/{} succeeded, findings: {}",
        report.conversations.succeeded,
        report.conversations.total,
        report.findings.len()
    );
    if std::env::var("HARNESS_BENCH_TSHARK").is_ok_and(|v| v == "1") {
        match harness::tshark::Tshark::locate(None) {
            Ok(tshark) => {
                batch_vs_per_trace(&tshark, &dir, if full { 500 } else { 20 });
                let start = Instant::now();
                let (summary, _) = tshark.expert(&path).unwrap();
                let t = start.elapsed().as_secs_f64();
                println!(
                    "tshark {} expert pass : {t:8.3} s  ({}W-{}E)",
                    tshark.version(),
                    summary.warnings,
                    summary.errors
                );
                println!("ratio own / tshark speed : {:.1}  (goal >= 50)", t / own);
            }
            Err(error) => println!("tshark: {error}"),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
