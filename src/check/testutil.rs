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
    let mut checker = Checker::new(Limits::default());
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
        let info = super::catalog::lookup(&finding.check).unwrap_or_else(|| panic!("{} is not in check::catalog", finding.check));
        assert_eq!(info.protocol, finding.protocol, "{}: layer", finding.check);
        assert!(info.severities.contains(&finding.severity), "{}: severity {}", finding.check, finding.severity);
    }
    findings
}

/// Return `(frame, check)` for every finding at `warn` or above, sorted.
pub fn ids(findings: &[Finding]) -> Vec<(u64, String)> {
    let mut out: Vec<(u64, String)> = findings.iter().filter(|f| f.severity >= Severity::Warn).map(|f| (f.frame, f.check.to_string())).collect();
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
