//! The own checks of one capture split over two threads, with findings
//! identical to [`Checker`]'s on one thread, in the same order.
//!
//! [`Checker::check_frame`] runs its checks in a fixed order: first the
//! link, ARP, IPv4 and UDP checks and the capture clock ([`FrontChecks`]),
//! then TCP with the protocols above it, ICMP, DNS, ZigBee, the
//! cross-protocol checks and the conversation assignment ([`BackChecks`]).
//! The two groups share no state, and the front group reads nothing a back
//! check marks on a frame (only the TCP application parse marks one), so
//! each group can run on its own thread over the whole capture, in capture
//! order, and see exactly the frames and state it sees on one thread.
//!
//! Why not shard the back group by flow: it is not per-flow. The TCP flow
//! table evicts the least recently used flow of the whole capture under
//! [`Limits::max_flows`] (the clock of that order counts every TCP segment
//! of every flow), TCP reassembly draws on one memory budget for every flow,
//! conversation numbers are given in order of first frame across flows, DNS
//! over TCP shares the DNS check's table of unanswered queries with DNS
//! over UDP, and the cross-protocol checks hold DNS answers against later
//! connections of other flows. Sharding would change what each of them
//! sees.
//!
//! The merge: on one thread, the findings of frame `n` are the front
//! group's, then the back group's, and at the end the front group's
//! [`Checker::finish`] findings come before the back group's. Each side
//! records, for every frame that reported something, where that frame's
//! findings end ([`Emitted`]); [`merge`] interleaves the two lists by frame
//! on that rule, which gives the one-thread list exactly.

use super::{Checker, ConversationId, Limits, Sink};
use crate::dissect::Frame;
use crate::finding::Finding;
use crate::pcap::{LinkType, RawFrame, Timestamp};

/// The findings one group of checks reported over a capture, with the
/// frame each was reported while checking.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Emitted {
    /// In the order reported.
    findings: Vec<Finding>,
    /// `(frame number, end)` for every frame whose check reported
    /// findings, in frame order: those findings end at `findings[end]`.
    /// What follows the last mark was reported by `finish`.
    marks: Vec<(u64, usize)>,
}

/// One group of checks with its sink and marks.
#[derive(Debug)]
struct Side {
    checker: Checker,
    sink: Sink,
    marks: Vec<(u64, usize)>,
}

impl Side {
    fn new(limits: Limits) -> Side {
        Side { checker: Checker::new(limits), sink: Sink::new(), marks: Vec::new() }
    }

    /// Note that the findings reported since the last mark belong to frame
    /// `number`.
    fn mark(&mut self, number: u64) {
        let end = self.sink.findings.len();
        if end > self.marks.last().map_or(0, |&(_, end)| end) {
            self.marks.push((number, end));
        }
    }

    fn into_emitted(self) -> Emitted {
        Emitted { findings: self.sink.into_findings(), marks: self.marks }
    }
}

/// The checks [`Checker::check_frame`] runs first (see the module docs).
#[derive(Debug)]
pub struct FrontChecks(Side);

impl FrontChecks {
    /// Make the checks with the given limits.
    pub fn new(limits: Limits) -> FrontChecks {
        FrontChecks(Side::new(limits))
    }

    /// Check one frame (frames must come in capture order).
    pub fn check(&mut self, frame: &Frame<'_>) {
        let side = &mut self.0;
        side.checker.check_front(frame, &mut side.sink);
        side.mark(frame.number);
    }

    /// Report what the end of the capture reveals and return every finding.
    pub fn finish(mut self) -> Emitted {
        let side = &mut self.0;
        side.checker.finish_front(&mut side.sink);
        self.0.into_emitted()
    }
}

/// The checks [`Checker::check_frame`] runs after [`FrontChecks`] (see the
/// module docs).
#[derive(Debug)]
pub struct BackChecks(Side);

impl BackChecks {
    /// Make the checks with the given limits.
    pub fn new(limits: Limits) -> BackChecks {
        BackChecks(Side::new(limits))
    }

    /// Check one frame (frames must come in capture order) and return the
    /// conversation it belongs to, as [`Checker::check_frame`] does.
    pub fn check(&mut self, frame: &mut Frame<'_>) -> ConversationId {
        let side = &mut self.0;
        let conversation = side.checker.check_back(frame, &mut side.sink);
        side.mark(frame.number);
        conversation
    }

    /// Report what the end of the capture reveals; return every finding and
    /// the number of conversations seen.
    pub fn finish(mut self) -> (Emitted, u32) {
        let side = &mut self.0;
        side.checker.finish_back(&mut side.sink);
        let conversations = side.checker.conversation_count();
        (self.0.into_emitted(), conversations)
    }
}

/// Return the findings of both groups in the order one [`Checker`] reports
/// them: frame by frame the front group's then the back group's, then the
/// front group's `finish` findings, then the back group's.
pub fn merge(front: Emitted, back: Emitted) -> Vec<Finding> {
    let mut out = Vec::with_capacity(front.findings.len() + back.findings.len());
    let (mut front_findings, mut back_findings) = (front.findings.into_iter(), back.findings.into_iter());
    let (mut front_marks, mut back_marks) = (front.marks.into_iter().peekable(), back.marks.into_iter().peekable());
    let (mut front_done, mut back_done) = (0, 0);
    loop {
        let next = match (front_marks.peek(), back_marks.peek()) {
            (None, None) => break,
            (Some(&(a, _)), Some(&(b, _))) => a.min(b),
            (Some(&(a, _)), None) => a,
            (None, Some(&(b, _))) => b,
        };
        if let Some((_, end)) = front_marks.next_if(|&(n, _)| n == next) {
            out.extend(front_findings.by_ref().take(end - front_done));
            front_done = end;
        }
        if let Some((_, end)) = back_marks.next_if(|&(n, _)| n == next) {
            out.extend(back_findings.by_ref().take(end - back_done));
            back_done = end;
        }
    }
    out.extend(front_findings);
    out.extend(back_findings);
    out
}

/// What a [`Batch`] keeps of a frame besides its bytes.
#[derive(Debug, Clone, Copy)]
struct Meta {
    linktype: LinkType,
    ts: Timestamp,
    orig_len: u32,
    offset: u64,
    /// Where the frame's bytes end in [`Batch::data`].
    end: usize,
}

/// Consecutive frames of a capture copied out of the reader, to hand them
/// to another thread: one allocation for the bytes of all of them, reused
/// once the batch is [`clear`](Batch::clear)ed.
#[derive(Debug, Default)]
pub struct Batch {
    /// The number of the first frame.
    first: u64,
    data: Vec<u8>,
    frames: Vec<Meta>,
}

impl Batch {
    /// Empty the batch (keeping its memory); the next frame pushed is frame
    /// number `first`.
    pub fn clear(&mut self, first: u64) {
        self.first = first;
        self.data.clear();
        self.frames.clear();
    }

    /// Return the number of frames in the batch.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Return whether the batch holds no frame.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Copy a frame in: it gets the number after the last one.
    pub fn push(&mut self, raw: &RawFrame<'_>) {
        self.data.extend_from_slice(raw.data);
        self.frames.push(Meta {
            linktype: raw.linktype,
            ts: raw.ts,
            orig_len: raw.orig_len,
            offset: raw.offset,
            end: self.data.len(),
        });
    }

    /// Return the frames with their numbers, in order.
    pub fn frames(&self) -> impl Iterator<Item = (u64, RawFrame<'_>)> + '_ {
        let starts = std::iter::once(0).chain(self.frames.iter().map(|m| m.end));
        self.frames.iter().zip(starts).zip(self.first..).map(|((meta, start), number)| {
            let raw = RawFrame {
                linktype: meta.linktype,
                ts: meta.ts,
                orig_len: meta.orig_len,
                data: &self.data[start..meta.end],
                offset: meta.offset,
            };
            (number, raw)
        })
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::check::testutil::{tcp, A, B, GET};
    use crate::dissect::dissect;
    use crate::finding::{Protocol, Severity};

    fn finding(frame: u64, check: &'static str) -> Finding {
        Finding::own(frame, Severity::Warn, check, Protocol::Tcp, String::new())
    }

    #[test]
    fn test_merge_orders_by_frame_front_first_then_finish() {
        let front = Emitted {
            findings: vec![finding(1, "f1"), finding(1, "f1b"), finding(3, "f3"), finding(2, "f-end")],
            marks: vec![(1, 2), (3, 3)],
        };
        let back = Emitted {
            findings: vec![finding(1, "b1"), finding(2, "b2"), finding(1, "b3-late"), finding(4, "b-end")],
            marks: vec![(1, 1), (2, 2), (3, 3)],
        };
        let merged = merge(front, back);
        let checks: Vec<&str> = merged.iter().map(|f| f.check.as_ref()).collect();
        assert_eq!(checks, ["f1", "f1b", "b1", "b2", "f3", "b3-late", "f-end", "b-end"]);
    }

    #[test]
    fn test_merge_of_nothing_is_empty() {
        assert!(merge(Emitted::default(), Emitted::default()).is_empty());
    }

    #[test]
    fn test_batch_round_trips_frames() {
        let frames = [tcp(A, B, 1, 80, "S", 0, 0, b""), tcp(A, B, 1, 80, "PA", 1, 0, GET)];
        let mut batch = Batch::default();
        batch.clear(7);
        for (i, data) in frames.iter().enumerate() {
            let raw = RawFrame { linktype: LinkType::Raw, ts: i as u64, orig_len: 99, data, offset: 3 * i as u64 };
            batch.push(&raw);
        }
        assert_eq!(batch.len(), 2);
        let back: Vec<(u64, Vec<u8>, u64, u32, u64)> =
            batch.frames().map(|(n, raw)| (n, raw.data.to_vec(), raw.ts, raw.orig_len, raw.offset)).collect();
        assert_eq!(back, [(7, frames[0].clone(), 0, 99, 0), (8, frames[1].clone(), 1, 99, 3)]);
        batch.clear(1);
        assert!(batch.is_empty());
    }

    /// Split checks over a sequence of frames equal one checker: same
    /// findings in the same order, same conversations. Many flows through
    /// a small table, so evictions report in the middle of frames.
    #[test]
    fn test_split_equals_one_checker() {
        let limits = Limits { max_flows: 8, ..Limits::default() };
        let mut frames = Vec::new();
        for port in 0..30u16 {
            frames.push(tcp(A, B, 10_000 + port, 80, "S", 100, 0, b""));
            frames.push(tcp(B, A, 80, 10_000 + port, "SA", 900, 101, b""));
            // A wrong ACK every third flow, a request left unanswered.
            frames.push(tcp(A, B, 10_000 + port, 80, "A", 101, if port % 3 == 0 { 5 } else { 901 }, b""));
            frames.push(tcp(A, B, 10_000 + port, 80, "PA", 101, 901, GET));
        }
        // A bad IPv4 checksum (front) on a TCP frame (back).
        let mut bad = tcp(A, B, 10_001, 80, "PA", 101, 901, GET);
        bad[10] ^= 0xff;
        frames.push(bad);
        let mut one = Checker::new(limits);
        let mut sink = Sink::new();
        let (mut front, mut back) = (FrontChecks::new(limits), BackChecks::new(limits));
        for (i, data) in frames.iter().enumerate() {
            let number = i as u64 + 1;
            // Out of order in time too (the clock check is in front).
            let ts = if i == 10 { 1 } else { 1_000 * number };
            let raw = RawFrame { linktype: LinkType::Raw, ts, orig_len: data.len() as u32, data, offset: 0 };
            let mut a = dissect(number, &raw);
            let expected = one.check_frame(&mut a, &mut sink);
            let mut b = dissect(number, &raw);
            front.check(&b);
            assert_eq!(back.check(&mut b), expected);
            assert_eq!((a.expected, a.present), (b.expected, b.present));
        }
        one.finish(&mut sink);
        let (back, conversations) = back.finish();
        let front = front.finish();
        assert!(!front.findings.is_empty() && !back.findings.is_empty());
        assert_eq!(conversations, one.conversation_count());
        assert_eq!(merge(front, back), sink.into_findings());
    }
}
