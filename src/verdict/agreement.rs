//! Agreement between tshark and the own checks: for one capture, which
//! findings (at `warn` or above) only tshark made, which only the own checks
//! made, and which both made on the same frame and layer. The start of the
//! detection matrix.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use crate::finding::{Finding, Protocol, Severity, Source};

/// Counts per finding id, split by who found it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Agreement {
    /// Findings with a finding of the other source on the same frame and
    /// layer: own check ids and tshark expert ids.
    pub both: BTreeMap<String, u64>,
    /// tshark findings (by expert id) with no own finding on that frame and
    /// layer.
    pub only_tshark: BTreeMap<String, u64>,
    /// Own findings (by check id) with no tshark finding on that frame and
    /// layer.
    pub only_harness: BTreeMap<String, u64>,
}

/// Return the id a finding is counted under: the expert field for tshark
/// findings, the check id for own ones.
fn id(finding: &Finding) -> String {
    match (&finding.source, &finding.expert) {
        (Source::Tshark, Some(expert)) => expert.clone(),
        _ => finding.check.to_string(),
    }
}

/// Compare the findings of both sources.
pub fn compare(findings: &[Finding]) -> Agreement {
    let serious = || findings.iter().filter(|f| f.severity >= Severity::Warn);
    let mut seen: [HashSet<(u64, Protocol)>; 2] = [HashSet::new(), HashSet::new()];
    for finding in serious() {
        seen[finding.source as usize].insert((finding.frame, finding.protocol));
    }
    let mut agreement = Agreement::default();
    for finding in serious() {
        let other = match finding.source {
            Source::Tshark => Source::Harness,
            Source::Harness => Source::Tshark,
        };
        let bucket = if seen[other as usize].contains(&(finding.frame, finding.protocol)) {
            &mut agreement.both
        } else if finding.source == Source::Tshark {
            &mut agreement.only_tshark
        } else {
            &mut agreement.only_harness
        };
        *bucket.entry(id(finding)).or_default() += 1;
    }
    agreement
}

#[cfg(test)]
mod test {
    use super::*;
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
        assert_eq!(agreement.both.len(), 2);
        assert_eq!(agreement.both["icmp.unanswered"], 1);
        assert_eq!(agreement.both["icmp.resp_not_found"], 1);
        assert_eq!(agreement.only_tshark["tcp.analysis.duplicate_ack"], 1);
        assert_eq!(agreement.only_harness["tcp.seq_gap"], 1);
    }
}
