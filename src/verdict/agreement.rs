//! Agreement between tshark and the own checks: for one capture, which
//! problems (findings at `warn` or above) both saw, which only tshark saw
//! and which only the own checks saw. The start of the detection matrix.
//!
//! Findings pair by problem, not by place: an own finding and a tshark
//! finding agree when they are on the same frame and one row of
//! [`crate::verdict::equivalence::EQUIVALENCES`] lists both ids. Every
//! other finding is counted as seen by its source only.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::finding::{Finding, Severity, Source};
use crate::verdict::equivalence::related;

/// Counts per finding id, split by who found it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Agreement {
    /// Problems both saw: pairs of an own finding and a tshark finding on
    /// the same frame that name the same problem, counted per pair under
    /// `own check id = tshark expert id`.
    pub both: BTreeMap<String, u64>,
    /// tshark findings (by expert id) that no related own finding
    /// matches on their frame.
    pub only_tshark: BTreeMap<String, u64>,
    /// Own findings (by check id) that no related tshark finding matches
    /// on their frame.
    pub only_harness: BTreeMap<String, u64>,
}

/// Return the expert id of a tshark finding.
fn expert(finding: &Finding) -> &str {
    finding.expert.as_deref().unwrap_or(&finding.check)
}

/// Compare the findings of both sources (any order).
pub fn compare(findings: &[Finding]) -> Agreement {
    let mut serious: Vec<&Finding> = findings.iter().filter(|f| f.severity >= Severity::Warn).collect();
    serious.sort_by_key(|f| f.frame);
    let mut agreement = Agreement::default();
    for frame in serious.chunk_by(|a, b| a.frame == b.frame) {
        let (tshark, own): (Vec<&Finding>, Vec<&Finding>) = frame.iter().partition(|f| f.source == Source::Tshark);
        let mut tshark_paired = vec![false; tshark.len()];
        for o in &own {
            let mut paired = false;
            for (t, done) in tshark.iter().zip(tshark_paired.iter_mut()) {
                if related(&o.check, expert(t)) {
                    *agreement.both.entry(format!("{} = {}", o.check, expert(t))).or_default() += 1;
                    (paired, *done) = (true, true);
                }
            }
            if !paired {
                *agreement.only_harness.entry(o.check.to_string()).or_default() += 1;
            }
        }
        for (t, done) in tshark.iter().zip(tshark_paired) {
            if !done {
                *agreement.only_tshark.entry(expert(t).to_string()).or_default() += 1;
            }
        }
    }
    agreement
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::finding::Protocol;
    use std::borrow::Cow;

    fn tshark(frame: u64, severity: Severity, protocol: Protocol, expert: &str) -> Finding {
        Finding {
            frame,
            severity,
            source: Source::Tshark,
            check: Cow::Borrowed("tshark.sequence"),
            protocol,
            message: String::new(),
            expert: Some(expert.into()),
        }
    }

    #[test]
    fn test_compare() {
        let findings = vec![
            Finding::own(1, Severity::Warn, "icmp.unanswered", Protocol::Icmp, String::new()),
            tshark(1, Severity::Warn, Protocol::Icmp, "icmp.resp_not_found"),
            tshark(2, Severity::Warn, Protocol::Tcp, "tcp.analysis.duplicate_ack"),
            Finding::own(3, Severity::Error, "tcp.seq_gap", Protocol::Tcp, String::new()),
            tshark(3, Severity::Note, Protocol::Tcp, "tcp.analysis.retransmission"),
        ];
        let agreement = compare(&findings);
        assert_eq!(agreement.both.len(), 1);
        assert_eq!(agreement.both["icmp.unanswered = icmp.resp_not_found"], 1);
        assert_eq!(agreement.only_tshark["tcp.analysis.duplicate_ack"], 1);
        assert_eq!(agreement.only_harness["tcp.seq_gap"], 1);
    }

    #[test]
    fn test_same_frame_unrelated_problems_do_not_agree() {
        let findings = vec![
            Finding::own(4, Severity::Warn, "time.not_monotonic", Protocol::Frame, String::new()),
            Finding::own(4, Severity::Error, "ip.extension_header_protocol", Protocol::Ip, String::new()),
            tshark(4, Severity::Error, Protocol::Ip, "_ws.malformed.expert"),
            tshark(4, Severity::Error, Protocol::Ip, "ipv6.hopopts.not_first"),
            Finding::own(5, Severity::Error, "dns.id_mismatch", Protocol::Dns, String::new()),
            tshark(5, Severity::Error, Protocol::Dns, "_ws.malformed.expert"),
            // Related ids on different frames do not agree either.
            Finding::own(6, Severity::Error, "tcp.bad_ack", Protocol::Tcp, String::new()),
            tshark(7, Severity::Warn, Protocol::Tcp, "tcp.analysis.ack_lost_segment"),
        ];
        let agreement = compare(&findings);
        let both: Vec<&str> = agreement.both.keys().map(String::as_str).collect();
        assert_eq!(
            both,
            [
                "ip.extension_header_protocol = _ws.malformed.expert",
                "ip.extension_header_protocol = ipv6.hopopts.not_first"
            ]
        );
        assert_eq!(
            agreement.only_harness.keys().collect::<Vec<_>>(),
            ["dns.id_mismatch", "tcp.bad_ack", "time.not_monotonic"]
        );
        assert_eq!(
            agreement.only_tshark.keys().collect::<Vec<_>>(),
            ["_ws.malformed.expert", "tcp.analysis.ack_lost_segment"]
        );
    }
}
