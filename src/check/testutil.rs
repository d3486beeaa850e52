//! Test helpers: build packets with correct checksums and run every check on
//! a sequence of them.

use super::{Checker, Limits, Sink};
use crate::dissect::dissect;
use crate::finding::{Finding, Severity};
use crate::pcap::{LinkType, RawFrame};
pub use crate::testkit::{ethernet, icmp_echo, tcp, udp};

/// Client address used by the helpers.
pub const A: [u8; 4] = [10, 0, 0, 1];
/// Server address used by the helpers.
pub const B: [u8; 4] = [10, 0, 0, 2];

/// Run every check on `frames` (1 ms apart) and return all findings.
pub fn check_frames(linktype: LinkType, frames: &[Vec<u8>]) -> Vec<Finding> {
    check_frames_with(Limits::default(), linktype, frames)
}

/// As [`check_frames`], with `limits` (e.g. another checksum rule).
pub fn check_frames_with(limits: Limits, linktype: LinkType, frames: &[Vec<u8>]) -> Vec<Finding> {
    let mut checker = Checker::new(limits);
    let mut sink = Sink::new();
    for (i, data) in frames.iter().enumerate() {
        let raw = RawFrame { linktype, ts: 1_000_000 * (i as u64 + 1), orig_len: data.len() as u32, data, offset: 0 };
        let mut frame = dissect(i as u64 + 1, &raw);
        checker.check_frame(&mut frame, &mut sink);
    }
    checker.finish(&mut sink);
    let findings = sink.into_findings();
    // Every finding must be in the catalogue, with its layer and severity.
    for finding in &findings {
        let info = super::catalog::lookup(&finding.check)
            .unwrap_or_else(|| panic!("{} is not in check::catalog", finding.check));
        assert_eq!(info.protocol, finding.protocol, "{}: layer", finding.check);
        assert!(info.severities.contains(&finding.severity), "{}: severity {}", finding.check, finding.severity);
    }
    findings
}

/// Return `(frame, check)` for every finding at `warn` or above, sorted.
pub fn ids(findings: &[Finding]) -> Vec<(u64, String)> {
    let mut out: Vec<(u64, String)> =
        findings.iter().filter(|f| f.severity >= Severity::Warn).map(|f| (f.frame, f.check.to_string())).collect();
    out.sort();
    out
}

/// A full TCP conversation: handshake, one request and response of data,
/// FIN teardown (client closes first). ISNs 1000 (client) and 5000 (server).
pub fn tcp_conversation(request: &[u8], response: &[u8]) -> Vec<Vec<u8>> {
    crate::testkit::http_conversation(A, 40000, B, 1000, 5000, request, response)
}

/// A minimal HTTP request.
pub const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
/// A minimal HTTP response with a body.
pub const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello";

/// A TCP conversation on `port` (80 for HTTP, 53 for DNS) whose client
/// sends `up` segment by segment, then the server `down`, each segment
/// acknowledged by the next one of the other side, then a FIN teardown.
/// ISNs 1000 (client) and 5000 (server). Returns the frames and, for each
/// data segment, its index in them.
pub fn segmented(port: u16, up: &[&[u8]], down: &[&[u8]]) -> Vec<Vec<u8>> {
    let (mut c, mut s) = (1001u32, 5001u32);
    let mut frames = vec![
        tcp(A, B, 40000, port, "S", 1000, 0, b""),
        tcp(B, A, port, 40000, "SA", 5000, 1001, b""),
        tcp(A, B, 40000, port, "A", 1001, 5001, b""),
    ];
    for part in up {
        frames.push(tcp(A, B, 40000, port, "PA", c, s, part));
        c += part.len() as u32;
    }
    frames.push(tcp(B, A, port, 40000, "A", s, c, b""));
    for part in down {
        frames.push(tcp(B, A, port, 40000, "PA", s, c, part));
        s += part.len() as u32;
    }
    frames.push(tcp(A, B, 40000, port, "FA", c, s, b""));
    frames.push(tcp(B, A, port, 40000, "FA", s, c + 1, b""));
    frames.push(tcp(A, B, 40000, port, "A", c + 1, s + 1, b""));
    frames
}

/// Run every check on `frames` and return, per frame, whether `layer`
/// was present.
pub fn presence(linktype: LinkType, frames: &[Vec<u8>], layer: crate::finding::Protocol) -> Vec<bool> {
    let mut checker = Checker::new(Limits::default());
    let mut sink = Sink::new();
    frames
        .iter()
        .enumerate()
        .map(|(i, data)| {
            let raw =
                RawFrame { linktype, ts: 1_000_000 * (i as u64 + 1), orig_len: data.len() as u32, data, offset: 0 };
            let mut frame = dissect(i as u64 + 1, &raw);
            checker.check_frame(&mut frame, &mut sink);
            frame.present.contains(layer)
        })
        .collect()
}
