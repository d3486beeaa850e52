//! Verdicts: findings and layer presence become per-packet, per-layer
//! results and the per-protocol success-rate table (DESIGN.md, "Success
//! rate").
//!
//! For each layer P over the packets where P is present or expected:
//! *correct* when P decodes and no error-severity finding is attached to P,
//! *malformed* when it decodes with such a finding, *non_existent* when it
//! was expected but does not decode. A conversation succeeds when every one
//! of its packets is correct at every layer and no finding at `warn` or above
//! concerns any of its packets. A conversation none of whose packets has a
//! layer the harness dissects (a link type it reads but does not dissect,
//! `link.unsupported`) is not judged: it counts neither as succeeded nor in
//! the total.

pub(crate) mod agreement;
pub mod equivalence;
pub(crate) mod log;

pub use log::FrameLog;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::check::ConversationId;
use crate::finding::{Finding, Layers, Protocol, Severity};

/// What the dissector and checks learnt about one frame, kept for the
/// verdict (a few bytes per frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRecord {
    /// Layers expected from the layers below.
    pub expected: Layers,
    /// Layers that decode.
    pub present: Layers,
    /// The conversation the frame belongs to.
    pub conversation: ConversationId,
}

/// One row of the success-rate table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct ProtocolStats {
    /// Packets in which the layer is present or expected.
    pub packets: u64,
    /// Present, with no error attached.
    pub correct: u64,
    /// Present, with an error attached.
    pub malformed: u64,
    /// Expected, but does not decode.
    pub non_existent: u64,
    /// correct / (correct + malformed + non_existent).
    pub success_rate: f64,
    /// Packets containing the layer / all packets.
    pub presence: f64,
    /// Findings of `warn` severity attached to the layer.
    pub warnings: u64,
    /// Findings of `error` severity attached to the layer.
    pub errors: u64,
}

impl ProtocolStats {
    /// Add the counts of `other` (packets, correct, malformed,
    /// non-existent, warnings, errors) to this row; the rates are left for
    /// [`ProtocolStats::finish`].
    pub fn add(&mut self, other: &ProtocolStats) {
        self.packets += other.packets;
        self.correct += other.correct;
        self.malformed += other.malformed;
        self.non_existent += other.non_existent;
        self.warnings += other.warnings;
        self.errors += other.errors;
    }

    /// Return the success rate of these counts: correct / (correct +
    /// malformed + non-existent), 1 when nothing was judged (DESIGN.md,
    /// "Success rate").
    pub fn rate(&self) -> f64 {
        let judged = self.correct + self.malformed + self.non_existent;
        if judged == 0 {
            1.0
        } else {
            self.correct as f64 / judged as f64
        }
    }

    /// Set the success rate from the counts, and the presence against
    /// `total` packets: packets containing the layer (correct + malformed)
    /// / total, 0 for an empty total.
    pub fn finish(&mut self, total: u64) {
        self.success_rate = self.rate();
        self.presence = if total == 0 { 0.0 } else { (self.correct + self.malformed) as f64 / total as f64 };
    }

    /// Return the paper's W-E form, e.g. `51W-0E`.
    pub fn we(&self) -> String {
        format!("{}W-{}E", self.warnings, self.errors)
    }
}

/// Conversation-level result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ConversationStats {
    /// Conversations judged: seen, with at least one packet in which a
    /// layer is present or expected.
    pub total: u64,
    /// Conversations whose every packet is correct and whose state checks pass.
    pub succeeded: u64,
}

/// Everything the tables of one capture need.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Verdicts {
    /// Packets in the capture.
    pub packets: u64,
    /// One row per protocol that occurs, in stack order.
    pub protocols: BTreeMap<Protocol, ProtocolStats>,
    /// Conversation-level result.
    pub conversations: ConversationStats,
}

/// Compute the verdicts of a capture from its frame records, in frame
/// order, and its findings (own and tshark's, any order). The records are
/// streamed: memory grows with the findings and conversations, not with the
/// frames.
pub fn compute(
    frames: impl IntoIterator<Item = FrameRecord>,
    findings: &[Finding],
    conversation_count: u32,
) -> Verdicts {
    const SLOTS: usize = 16;
    let layer_mask = Protocol::LAYERS.iter().fold(0u16, |mask, layer| mask | layer.bit());
    let mut warnings = [0u64; SLOTS];
    let mut errors = [0u64; SLOTS];
    // The frames that warn-or-worse findings concern, with their error
    // layers, in frame order.
    let mut marks: Vec<(u64, u16)> = Vec::new();
    for finding in findings {
        let slot = finding.protocol as usize;
        match finding.severity {
            Severity::Error => errors[slot] += 1,
            Severity::Warn => warnings[slot] += 1,
            _ => continue,
        }
        if finding.frame >= 1 {
            marks.push((finding.frame, if finding.severity == Severity::Error { finding.protocol.bit() } else { 0 }));
        }
    }
    marks.sort_unstable();
    let mut marks = marks.into_iter().peekable();
    let mut conversation_ok = vec![true; conversation_count as usize];
    let mut conversation_judged = vec![false; conversation_count as usize];
    let mut rows = [ProtocolStats::default(); SLOTS];
    let mut total = 0u64;
    for record in frames {
        total += 1;
        let (mut errs, mut flagged) = (0u16, false);
        while let Some((_, layers)) = marks.next_if(|(frame, _)| *frame <= total) {
            errs |= layers;
            flagged = true;
        }
        let mut frame_ok = !flagged && errs & Protocol::Frame.bit() == 0;
        let (expected, present) = (record.expected.0, record.present.0);
        let mut judged = (expected | present) & layer_mask;
        if judged != 0 {
            if let Some(seen) = conversation_judged.get_mut(record.conversation as usize) {
                *seen = true;
            }
        }
        while judged != 0 {
            let slot = judged.trailing_zeros() as usize;
            let bit = 1u16 << slot;
            judged &= judged - 1;
            let row = &mut rows[slot];
            row.packets += 1;
            if present & bit == 0 {
                row.non_existent += 1;
                frame_ok = false;
            } else if errs & bit != 0 {
                row.malformed += 1;
                frame_ok = false;
            } else {
                row.correct += 1;
            }
        }
        if !frame_ok {
            if let Some(ok) = conversation_ok.get_mut(record.conversation as usize) {
                *ok = false;
            }
        }
    }
    // A row for every layer with packets, and for layers with findings but
    // no packets (e.g. tshark findings on a layer the own dissector does
    // not see).
    let mut protocols: BTreeMap<Protocol, ProtocolStats> = BTreeMap::new();
    for layer in Protocol::LAYERS {
        let slot = layer as usize;
        let mut row = rows[slot];
        if row.packets == 0 && warnings[slot] == 0 && errors[slot] == 0 {
            continue;
        }
        row.finish(total);
        row.warnings = warnings[slot];
        row.errors = errors[slot];
        protocols.insert(layer, row);
    }
    Verdicts {
        packets: total,
        protocols,
        conversations: ConversationStats {
            total: conversation_judged.iter().filter(|judged| **judged).count() as u64,
            succeeded: conversation_ok.iter().zip(&conversation_judged).filter(|(ok, judged)| **ok && **judged).count()
                as u64,
        },
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn layers(list: &[Protocol]) -> Layers {
        let mut out = Layers::default();
        for p in list {
            out.insert(*p);
        }
        out
    }

    #[test]
    fn test_counts() {
        use Protocol::*;
        let frames = [
            FrameRecord { expected: layers(&[Ip, Udp, Dns]), present: layers(&[Ip, Udp, Dns]), conversation: 0 },
            FrameRecord { expected: layers(&[Ip, Udp, Dns]), present: layers(&[Ip, Udp]), conversation: 0 },
            FrameRecord { expected: layers(&[Ip, Icmp]), present: layers(&[Ip, Icmp]), conversation: 1 },
            FrameRecord { expected: layers(&[Ip, Icmp]), present: layers(&[Ip, Icmp]), conversation: 2 },
        ];
        let findings = vec![
            Finding::own(3, Severity::Error, "icmp.bad_checksum", Icmp, String::new()),
            Finding::own(4, Severity::Warn, "icmp.unanswered", Icmp, String::new()),
            Finding::own(4, Severity::Note, "x", Icmp, String::new()),
        ];
        let v = compute(frames, &findings, 4);
        assert_eq!(v.packets, 4);
        let dns = v.protocols[&Dns];
        assert_eq!((dns.packets, dns.correct, dns.malformed, dns.non_existent), (2, 1, 0, 1));
        assert_eq!(dns.success_rate, 0.5);
        assert_eq!(dns.presence, 0.25);
        let icmp = v.protocols[&Icmp];
        assert_eq!((icmp.correct, icmp.malformed, icmp.warnings, icmp.errors), (1, 1, 1, 1));
        assert_eq!(icmp.we(), "1W-1E");
        assert_eq!(v.protocols[&Ip].success_rate, 1.0);
        assert!(!v.protocols.contains_key(&Tcp));
        // Conversations 0-2 each have a failing packet; conversation 3 has
        // no frames: not judged.
        assert_eq!(v.conversations, ConversationStats { total: 3, succeeded: 0 });
    }

    #[test]
    fn test_undissected_frames_judge_no_conversation() {
        // A link type read but not dissected: frames without any layer,
        // each in its own conversation, with only the `link.unsupported`
        // note against them.
        let frames =
            (0..11).map(|c| FrameRecord { expected: Layers::default(), present: Layers::default(), conversation: c });
        let findings = vec![Finding::own(1, Severity::Note, "link.unsupported", Protocol::Frame, String::new())];
        let v = compute(frames, &findings, 11);
        assert_eq!(v.packets, 11);
        assert!(v.protocols.is_empty());
        assert_eq!(v.conversations, ConversationStats { total: 0, succeeded: 0 });
    }
}
