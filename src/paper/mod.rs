//! Emulation of the paper's evaluation notebook ("GPT on the wire"), so that
//! its tables can be reproduced and compared with the harness's own rules.
//!
//! [`rules`] holds the per-packet rules (a Scapy-like view and the notebook's
//! checks, each citing its source); this module adds the notebook's
//! bookkeeping; [`tables`] groups a corpus folder into the paper's tables.
//!
//! Bookkeeping, as `process_pcap` and the results cell do it:
//! - per protocol, *detections* count the packets where Scapy finds the
//!   layer (`P in packet`), *malformed* count the packets whose first
//!   failing check belongs to P, *non-existent* the packets whose check
//!   returned "P non-existent" (only DNS in practice);
//! - "correctly sent" = detections − malformed: a packet that fails at IP
//!   still counts as correct for ICMP/UDP/DNS/TCP/HTTP, which were never
//!   checked;
//! - success rate = correct / (correct + malformed + non-existent),
//!   presence = detections / total packets;
//! - the evaluation cell resets the detections and malformed counters but
//!   not the packet total nor the non-existent counters: over several runs
//!   in one kernel (one [`Notebook`]), both keep growing.

pub mod rules;
pub mod tables;

use std::collections::BTreeMap;
use std::path::Path;

use crate::finding::{Finding, Layers, Protocol, Severity};
use crate::pcap::{ReadError, Reader};
use crate::verdict::ProtocolStats;

pub use rules::{Effect, Loader, Rule, NOTEBOOK_PROTOCOLS};

/// The notebook's verdict on one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketVerdict {
    /// Layers Scapy detects (`P in packet`).
    pub detected: Layers,
    /// The first rule that failed (`None`: "sent").
    pub rule: Option<Rule>,
}

impl PacketVerdict {
    /// Return the paper's status of `protocol` in this packet.
    pub fn status(&self, protocol: Protocol) -> Status {
        let failed = self.rule.filter(|r| r.protocol() == protocol);
        match failed.map(Rule::effect) {
            Some(Effect::Malformed) => Status::Malformed,
            Some(Effect::NonExistent) => Status::NonExistent,
            _ if self.detected.contains(protocol) => Status::Correct,
            _ => Status::Absent,
        }
    }
}

/// The status of one layer in one packet under either rule set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Neither present nor expected.
    Absent,
    /// Counted as correct.
    Correct,
    /// Counted as malformed.
    Malformed,
    /// Counted as non-existent.
    NonExistent,
}

impl Status {
    /// Return whether the layer counts as a failure.
    pub fn failed(self) -> bool {
        matches!(self, Status::Malformed | Status::NonExistent)
    }
}

/// The notebook's verdicts for one capture.
#[derive(Debug, Default)]
pub struct FileVerdicts {
    /// Link type name (`ETHERNET`, `RAW`, …; `UNKNOWN` when empty).
    pub linktype: String,
    /// One verdict per frame, in order.
    pub packets: Vec<PacketVerdict>,
    /// The read error that ended the file early, if any.
    pub error: Option<ReadError>,
}

impl FileVerdicts {
    /// Return the rule findings (error severity for counted rules, warn for
    /// rules the notebook counts nowhere).
    pub fn findings(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        for (index, verdict) in self.packets.iter().enumerate() {
            if let Some(rule) = verdict.rule {
                let severity = if rule.effect() == Effect::Uncounted { Severity::Warn } else { Severity::Error };
                out.push(Finding::own(
                    index as u64 + 1,
                    severity,
                    rule.id(),
                    rule.protocol(),
                    rule.describe().to_string(),
                ));
            }
        }
        out
    }
}

/// Evaluate every frame of the capture at `path` with the notebook's rules.
///
/// # Errors
/// A [`ReadError`] when the file cannot be opened or is not a capture;
/// later read errors end the file and land in [`FileVerdicts::error`].
pub fn evaluate_file(path: &Path) -> Result<FileVerdicts, ReadError> {
    let mut reader = Reader::open(path)?;
    let mut out = FileVerdicts::default();
    while let Some(raw) = reader.next_frame() {
        match raw {
            Ok(raw) => out.packets.push(evaluate(raw.data, Loader::for_linktype(raw.linktype))),
            Err(error) => {
                out.error = Some(error);
                break;
            }
        }
    }
    out.linktype = reader.linktype().map_or_else(|| "UNKNOWN".to_string(), |l| l.name());
    Ok(out)
}

/// Evaluate one packet's bytes.
pub fn evaluate(data: &[u8], loader: Loader) -> PacketVerdict {
    let view = rules::parse(data, loader);
    let mut detected = Layers::default();
    for protocol in NOTEBOOK_PROTOCOLS {
        if view.detects(protocol) {
            detected.insert(protocol);
        }
    }
    PacketVerdict { detected, rule: rules::judge(&view) }
}

/// The counters of one notebook kernel.
///
/// One [`Notebook::run`] is one execution of the evaluation cell over some
/// captures; the total and the non-existent counters survive between runs,
/// as in the notebook.
#[derive(Debug, Clone, Default)]
pub struct Notebook {
    total: u64,
    non_existent: BTreeMap<Protocol, u64>,
}

impl Notebook {
    /// Start a fresh kernel.
    pub fn new() -> Self {
        Notebook::default()
    }

    /// Run the evaluation cell over `files` and return the table it prints,
    /// one row per protocol with detections or non-existent packets.
    pub fn run<'a>(&mut self, files: impl IntoIterator<Item = &'a FileVerdicts>) -> BTreeMap<Protocol, ProtocolStats> {
        let mut detections: BTreeMap<Protocol, u64> = BTreeMap::new();
        let mut malformed: BTreeMap<Protocol, u64> = BTreeMap::new();
        for file in files {
            for packet in &file.packets {
                self.total += 1;
                for protocol in NOTEBOOK_PROTOCOLS {
                    if packet.detected.contains(protocol) {
                        *detections.entry(protocol).or_default() += 1;
                    }
                }
                if let Some(rule) = packet.rule {
                    match rule.effect() {
                        Effect::Malformed => *malformed.entry(rule.protocol()).or_default() += 1,
                        Effect::NonExistent => *self.non_existent.entry(rule.protocol()).or_default() += 1,
                        Effect::Uncounted => {}
                    }
                }
            }
        }
        let mut table = BTreeMap::new();
        for protocol in NOTEBOOK_PROTOCOLS {
            let found = detections.get(&protocol).copied().unwrap_or(0);
            let bad = malformed.get(&protocol).copied().unwrap_or(0);
            let missing = self.non_existent.get(&protocol).copied().unwrap_or(0);
            if found + bad + missing == 0 {
                continue;
            }
            let correct = found.saturating_sub(bad);
            let mut row = ProtocolStats {
                packets: found + missing,
                correct,
                malformed: bad,
                non_existent: missing,
                ..ProtocolStats::default()
            };
            row.success_rate = row.rate();
            // The notebook's presence: detections / total (detections
            // count packets whose layer failed too).
            row.presence = if self.total == 0 { 0.0 } else { found as f64 / self.total as f64 };
            table.insert(protocol, row);
        }
        table
    }

    /// Return the packets evaluated since the kernel started.
    #[cfg(test)]
    pub fn total(&self) -> u64 {
        self.total
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::testkit::{icmp_echo, tcp};

    fn verdicts(packets: &[Vec<u8>]) -> FileVerdicts {
        FileVerdicts {
            linktype: "RAW".into(),
            packets: packets.iter().map(|p| evaluate(p, Loader::Ip)).collect(),
            error: None,
        }
    }

    #[test]
    fn test_ip_error_still_correct_above() {
        // A TCP packet whose IP total length is wrong: IP malformed, TCP
        // never checked and so "correctly sent".
        let mut bad = tcp([10, 0, 0, 1], [10, 0, 0, 2], 4000, 80, "S", 1, 0, b"");
        bad.push(0);
        let file = verdicts(&[bad]);
        let table = Notebook::new().run([&file]);
        let ip = table[&Protocol::Ip];
        assert_eq!((ip.packets, ip.correct, ip.malformed), (1, 0, 1));
        let tcp = table[&Protocol::Tcp];
        assert_eq!((tcp.packets, tcp.correct, tcp.malformed, tcp.success_rate), (1, 1, 0, 1.0));
    }

    #[test]
    fn test_total_and_non_existent_survive_runs() {
        use crate::testkit::udp;
        let first = verdicts(&[udp([10, 0, 0, 1], [10, 0, 0, 2], 4000, 4001, b"not dns at all")]);
        let second = verdicts(&[icmp_echo([10, 0, 0, 1], [10, 0, 0, 2], false, 1, 1)]);
        let mut notebook = Notebook::new();
        let one = notebook.run([&first]);
        assert_eq!(one[&Protocol::Dns].non_existent, 1);
        let two = notebook.run([&second]);
        // The second run has no UDP at all, yet DNS still shows the first
        // run's non-existent packet, and presence divides by both runs.
        assert_eq!(two[&Protocol::Dns].non_existent, 1);
        assert_eq!(two[&Protocol::Dns].success_rate, 0.0);
        assert_eq!(two[&Protocol::Icmp].presence, 0.5);
        assert_eq!(notebook.total(), 2);
        assert!(!two.contains_key(&Protocol::Udp));
    }
}
