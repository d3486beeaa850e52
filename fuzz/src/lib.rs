//! Entry points the fuzz targets drive: one function per untrusted-input
//! parser of the harness, each taking arbitrary bytes.
//!
//! Each function must never panic, hang or allocate without bound, whatever
//! the bytes; it also asserts the invariants that hold for every input (a
//! finding's check is in the catalogue, verdict rows add up, …), so a broken
//! invariant is a crash too. The same functions run under libFuzzer
//! (`fuzz_targets/*.rs`, driven by `ci/fuzz`) and under proptest in
//! `cargo test` (`tests/fuzz_props.rs` includes this file), so both exercise
//! exactly the same code.

use harness::analyze::{file_report, own_pass_from};
use harness::check::Limits;
use harness::exec::extract::{extract, Dialect};
use harness::exec::ntg::{self, build};
use harness::exec::Trace;
use harness::pcap::{write_trace, LinkType, Reader, Writer};
use harness::wire::{dns, http};

/// Link types the `own_checks` entry point chooses from (first input byte).
pub const LINKTYPES: [LinkType; 7] = [
    LinkType::Ethernet,
    LinkType::Raw,
    LinkType::Ipv4,
    LinkType::LinuxSll,
    LinkType::Ieee802154NoFcs,
    LinkType::Ieee802154WithFcs,
    LinkType::Unknown(147),
];

/// Flow-table size while fuzzing: small, so eviction paths run too.
const FUZZ_FLOWS: usize = 16;

/// Frame records kept in memory for one input in four (picked by the
/// input's length): few, so the verdict's spill file is written and read
/// back too, without a temporary file per input slowing every run.
const FUZZ_MEMORY_RECORDS: usize = 4;

/// The frame-record limit for an input of `len` bytes.
fn memory_records(len: usize) -> usize {
    if len % 4 == 0 {
        FUZZ_MEMORY_RECORDS
    } else {
        Limits::default().memory_records
    }
}

/// Read `data` as a capture file (PCAP or pcapng) and run every own check on
/// it, then build the report.
pub fn pcap_reader(data: &[u8]) {
    if let Ok(reader) = Reader::new(data, "fuzz") {
        run_pipeline(reader, data.len());
    }
}

/// Build a capture from `data` and run the whole own-check pipeline on it.
///
/// The first byte picks the link type from [`LINKTYPES`]; the rest is a
/// sequence of frames, each a big-endian 16-bit length and that many bytes
/// (the last frame takes what is left).
pub fn own_checks(data: &[u8]) {
    let Some((&selector, mut rest)) = data.split_first() else {
        return;
    };
    let linktype = LINKTYPES[usize::from(selector) % LINKTYPES.len()];
    let mut capture = Vec::with_capacity(data.len() + 64);
    let mut writer = Writer::new(&mut capture, linktype).expect("writing to a Vec cannot fail");
    let mut ts = 1_700_000_000_000_000_000u64;
    while !rest.is_empty() {
        let (len, tail) = match rest {
            [hi, lo, tail @ ..] => (usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len()), tail),
            _ => (0, &[][..]),
        };
        let (frame, tail) = tail.split_at(len);
        ts += 1_000_000;
        writer.write(ts, frame).expect("writing to a Vec cannot fail");
        rest = tail;
    }
    writer.into_inner();
    let reader = Reader::new(capture.as_slice(), "fuzz").expect("a capture the Writer wrote must read back");
    run_pipeline(reader, data.len());
}

fn run_pipeline(reader: Reader<&[u8]>, input_len: usize) {
    let pass = own_pass_from(
        reader,
        Limits {
            max_flows: FUZZ_FLOWS,
            memory_records: memory_records(input_len),
            // Both checksum rules' paths, chosen by the input.
            checksums: if input_len % 2 == 0 {
                harness::check::Checksums::Strict
            } else {
                harness::check::Checksums::OffloadAware
            },
        },
    );
    let frames = pass.frames.len();
    let report = file_report("fuzz", pass, None);
    assert_eq!(report.packets, frames, "every frame is judged, spilled or not");
    for finding in &report.findings {
        let info = harness::check::catalog::lookup(&finding.check)
            .unwrap_or_else(|| panic!("{} is not in the catalogue", finding.check));
        assert_eq!(info.protocol, finding.protocol, "{}", finding.check);
        assert!(info.severities.contains(&finding.severity), "{} {}", finding.check, finding.severity);
        assert!(finding.frame <= frames as u64, "{} names frame {} of {frames}", finding.check, finding.frame);
    }
    for row in report.protocols.values() {
        assert_eq!(row.packets, row.correct + row.malformed + row.non_existent);
        assert!((0.0..=1.0).contains(&row.success_rate));
    }
}

/// Walk and strictly parse `data` as a DNS message; re-emit what parses.
pub fn dns(data: &[u8]) {
    let walk = dns::walk(data);
    assert!(walk.consumed + walk.trailing <= data.len());
    if walk.error.is_none() {
        assert_eq!(walk.consumed + walk.trailing, data.len());
    }
    let _ = dns::Packet::new_checked(data).map(|p| (p.id(), p.flags(), p.counts(), p.rcode()));
    if let Ok(repr) = dns::Repr::parse(&dns::Packet::new_unchecked(data)) {
        assert!(walk.error.is_none() && walk.trailing == 0, "strict parse accepted what the walk refused");
        assert_eq!(repr.questions.len(), usize::from(walk.present[0]));
        let bytes = repr.to_bytes();
        assert_eq!(bytes.len(), repr.buffer_len());
        let again = dns::walk(&bytes);
        assert!(again.consumed + again.trailing <= bytes.len());
        let _ = dns::Repr::parse(&dns::Packet::new_unchecked(&bytes));
    }
}

/// Parse `data` as an HTTP/1.x message head (and body framing).
pub fn http(data: &[u8]) {
    let _ = http::looks_like_http(data);
    if let Ok(message) = http::parse(data) {
        let _ = (message.is_request(), message.body_complete(), message.header("content-length"));
    }
}

/// Build a trace from `data` read as a JSON-dialect answer (lossy UTF-8).
pub fn json_build(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(trace) = harness::exec::json::build(&text) {
        assert!(!trace.packets.is_empty(), "build returned an empty trace");
        // What the builder emits must survive the own checks too.
        check_trace(&trace, data.len());
    }
}

/// Read `data` as an LLM-NTG ZigBee summary (lossy UTF-8), build its
/// capture under both length policies, and run the own checks on it.
pub fn ntg_build(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(summary) = ntg::parse(&text) else {
        return;
    };
    for lengths in [build::LengthPolicy::Honor, build::LengthPolicy::Canonical] {
        let options = build::Options { lengths, ..build::Options::default() };
        let Ok(conversion) = build::build(&summary.rows, &options) else {
            continue;
        };
        assert_eq!(conversion.trace.packets.len(), summary.rows.len(), "one frame per row");
        for finding in &conversion.findings {
            assert!(
                finding.frame >= 1 && finding.frame as usize <= summary.rows.len(),
                "a finding names a row: {finding:?}"
            );
        }
        check_trace(&conversion.trace, data.len());
    }
}

/// Write a built trace as a capture and run the own-check pipeline on it.
fn check_trace(trace: &Trace, input_len: usize) {
    let out = write_trace(Vec::new(), trace).expect("writing to a Vec cannot fail");
    let reader = Reader::new(out.as_slice(), "fuzz").expect("a capture the Writer wrote must read back");
    run_pipeline(reader, input_len);
}

/// Extract code and JSON from `data` read as a model answer (lossy UTF-8),
/// in both dialects, and build the JSON one.
pub fn extract_answer(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = extract(&text, Dialect::Scapy);
    let json = extract(&text, Dialect::Json);
    let _ = harness::exec::json::build(&json.text);
}
