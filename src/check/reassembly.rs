//! TCP reassembly for the protocols above TCP: each direction of a flow as
//! an in-order byte stream, as a receiving stack would deliver it.
//!
//! Segments are placed by sequence number: a retransmission or overlap
//! delivers only the bytes not delivered yet, a segment that arrives ahead
//! of a missing one is held until the hole is filled, and a hole that is
//! never filled (a segment the capture missed) becomes a [`Piece::Gap`] so
//! that the consumer can resynchronise. The consumer (the HTTP or DNS
//! parser) sees [`Piece`]s in stream order.
//!
//! Memory is bounded twice: per direction ([`MAX_HELD_BYTES`],
//! [`MAX_HELD_SEGMENTS`]) and across every flow of a pass by a [`Budget`]
//! that the consumers' own buffers draw from too. Bytes that cannot be held
//! are given up as a gap, never kept: a hostile capture can cost the
//! reassembly at most the budget.

/// Most out-of-order bytes held per direction.
pub(crate) const MAX_HELD_BYTES: usize = 64 * 1024;
/// Most out-of-order segments held per direction.
pub(crate) const MAX_HELD_SEGMENTS: usize = 64;
/// Default budget of a check pass: bytes held across every flow (held
/// segments and the consumers' partial messages).
pub(crate) const DEFAULT_BUDGET: usize = 32 * 1024 * 1024;

/// Return whether `a` precedes `b` in sequence space (RFC 1982).
fn seq_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// Bytes a check pass may still hold for reassembly, shared by every flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Budget {
    left: usize,
}

impl Budget {
    /// Make a budget of `bytes`.
    pub(crate) fn new(bytes: usize) -> Budget {
        Budget { left: bytes }
    }

    /// Take `bytes` from the budget; return whether there were enough.
    pub(crate) fn take(&mut self, bytes: usize) -> bool {
        if bytes > self.left {
            return false;
        }
        self.left -= bytes;
        true
    }

    /// Give `bytes` back.
    pub(crate) fn give(&mut self, bytes: usize) {
        self.left += bytes;
    }

    /// Return the bytes left.
    #[cfg(test)]
    pub(crate) fn left(&self) -> usize {
        self.left
    }
}

impl Default for Budget {
    fn default() -> Self {
        Budget::new(DEFAULT_BUDGET)
    }
}

/// A consumer's partial message (a header block, a length-prefixed DNS
/// message) whose bytes are drawn from the [`Budget`].
#[derive(Debug, Default)]
pub(crate) struct Buf {
    bytes: Vec<u8>,
}

impl Buf {
    /// Append `data` if the budget allows and the result stays within
    /// `max` bytes; return whether it was appended.
    pub(crate) fn append(&mut self, data: &[u8], max: usize, budget: &mut Budget) -> bool {
        if self.bytes.len() + data.len() > max || !budget.take(data.len()) {
            return false;
        }
        self.bytes.extend_from_slice(data);
        true
    }

    /// Return the bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Return whether it holds nothing.
    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Return the number of bytes held.
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Empty it, giving its bytes back to the budget (the allocation is
    /// freed: most flows never need one again).
    pub(crate) fn clear(&mut self, budget: &mut Budget) {
        budget.give(self.bytes.len());
        self.bytes = Vec::new();
    }

    /// Take the bytes out, giving them back to the budget.
    pub(crate) fn take(&mut self, budget: &mut Budget) -> Vec<u8> {
        budget.give(self.bytes.len());
        std::mem::take(&mut self.bytes)
    }
}

/// What a direction delivers to its consumer, in stream order.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    /// Bytes of the stream, first sent in `frame`.
    Bytes {
        /// The frame whose segment carried them.
        frame: u64,
        /// The bytes.
        data: &'a [u8],
    },
    /// Bytes that will never be seen (the capture missed their segment).
    Gap(u32),
}

/// A segment held until the bytes before it arrive.
#[derive(Debug)]
struct Held {
    seq: u32,
    frame: u64,
    data: Box<[u8]>,
}

/// One direction of a TCP flow.
#[derive(Debug, Default)]
pub(crate) struct Stream {
    /// The sequence number of the next byte to deliver, once known.
    next: Option<u32>,
    /// Out-of-order segments, sorted by sequence number.
    held: Vec<Held>,
    /// Bytes in `held` (taken from the budget).
    held_bytes: usize,
}

impl Stream {
    /// Place a segment's SYN: the data starts one past its sequence number.
    pub(crate) fn syn(&mut self, seq: u32) {
        if self.next.is_none() {
            self.next = Some(seq.wrapping_add(1));
        }
    }

    /// Place one segment's payload and deliver every byte that is now in
    /// order to `deliver`. Returns whether the segment carried any byte not
    /// delivered before (false for a pure retransmission).
    pub(crate) fn push(
        &mut self,
        seq: u32,
        payload: &[u8],
        frame: u64,
        budget: &mut Budget,
        deliver: &mut impl FnMut(Piece<'_>, &mut Budget),
    ) -> bool {
        if payload.is_empty() {
            return false;
        }
        let next = *self.next.get_or_insert(seq);
        let fresh = if seq_lt(seq, next) {
            // A retransmission or overlap: only the bytes past `next` are new.
            let skip = next.wrapping_sub(seq) as usize;
            if skip >= payload.len() {
                return false;
            }
            self.deliver(frame, &payload[skip..], budget, deliver);
            true
        } else if seq == next {
            self.deliver(frame, payload, budget, deliver);
            true
        } else {
            if !self.hold(seq, payload, frame, budget) {
                // No room: give up the hole and what is held before this
                // segment, then this segment.
                self.flush_until(seq, budget, deliver);
                self.deliver_gap(seq, budget, deliver);
                self.deliver(frame, payload, budget, deliver);
            }
            true
        };
        self.drain(budget, deliver);
        fresh
    }

    /// Deliver what is held, across the holes (they will never be
    /// filled). Only tests use it: at the end of a capture the checks drop
    /// what is held unparsed, as findings about it would land on the wrong
    /// frame.
    #[cfg(test)]
    pub(crate) fn finish(&mut self, budget: &mut Budget, deliver: &mut impl FnMut(Piece<'_>, &mut Budget)) {
        if let Some(last) = self.held.last() {
            let end = last.seq.wrapping_add(last.data.len() as u32);
            self.flush_until(end, budget, deliver);
        }
    }

    /// Skip the stream to `end` (bytes a cut segment announced but the
    /// capture did not keep), delivering the hole as a gap.
    pub(crate) fn skip_to(&mut self, end: u32, budget: &mut Budget, deliver: &mut impl FnMut(Piece<'_>, &mut Budget)) {
        self.flush_until(end, budget, deliver);
        self.deliver_gap(end, budget, deliver);
        self.drain(budget, deliver);
    }

    /// Give every held byte back to the budget (the flow is dropped).
    pub(crate) fn release(&mut self, budget: &mut Budget) {
        budget.give(self.held_bytes);
        self.held.clear();
        self.held_bytes = 0;
    }

    /// Return whether the stream holds any segment.
    #[cfg(test)]
    pub(crate) fn holding(&self) -> bool {
        !self.held.is_empty()
    }

    /// Deliver `data` (which starts at `next`) and advance.
    fn deliver(
        &mut self,
        frame: u64,
        data: &[u8],
        budget: &mut Budget,
        deliver: &mut impl FnMut(Piece<'_>, &mut Budget),
    ) {
        let next = self.next.unwrap_or_default();
        self.next = Some(next.wrapping_add(data.len() as u32));
        deliver(Piece::Bytes { frame, data }, budget);
    }

    /// Deliver a gap from `next` to `to` and advance.
    fn deliver_gap(&mut self, to: u32, budget: &mut Budget, deliver: &mut impl FnMut(Piece<'_>, &mut Budget)) {
        let next = self.next.unwrap_or(to);
        if seq_lt(next, to) {
            deliver(Piece::Gap(to.wrapping_sub(next)), budget);
            self.next = Some(to);
        }
    }

    /// Hold a copy of an out-of-order segment; return false when the
    /// limits or the budget leave no room.
    fn hold(&mut self, seq: u32, payload: &[u8], frame: u64, budget: &mut Budget) -> bool {
        if self.held.len() >= MAX_HELD_SEGMENTS
            || self.held_bytes + payload.len() > MAX_HELD_BYTES
            || !budget.take(payload.len())
        {
            return false;
        }
        let at = self.held.partition_point(|h| seq_lt(h.seq, seq) || h.seq == seq);
        self.held.insert(at, Held { seq, frame, data: payload.into() });
        self.held_bytes += payload.len();
        true
    }

    /// Deliver the held segments that are now in order.
    fn drain(&mut self, budget: &mut Budget, deliver: &mut impl FnMut(Piece<'_>, &mut Budget)) {
        while let Some(first) = self.held.first() {
            let next = self.next.unwrap_or(first.seq);
            if seq_lt(next, first.seq) {
                break;
            }
            let held = self.held.remove(0);
            self.held_bytes -= held.data.len();
            budget.give(held.data.len());
            let skip = next.wrapping_sub(held.seq) as usize;
            if skip < held.data.len() {
                self.deliver(held.frame, &held.data[skip..], budget, deliver);
            }
        }
    }

    /// Deliver every held segment that starts before `to`, with the gaps
    /// between them.
    fn flush_until(&mut self, to: u32, budget: &mut Budget, deliver: &mut impl FnMut(Piece<'_>, &mut Budget)) {
        while self.held.first().is_some_and(|h| seq_lt(h.seq, to)) {
            let seq = self.held[0].seq;
            self.deliver_gap(seq, budget, deliver);
            self.drain(budget, deliver);
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use proptest::prelude::*;

    /// Push segments `(seq, bytes)` and return the stream as delivered,
    /// gaps as `?` per byte.
    fn run(segments: &[(u32, &[u8])], budget: &mut Budget) -> Vec<u8> {
        let mut stream = Stream::default();
        let mut out = Vec::new();
        let mut take = |piece: Piece<'_>, _: &mut Budget| match piece {
            Piece::Bytes { data, .. } => out.extend_from_slice(data),
            Piece::Gap(n) => out.extend(std::iter::repeat_n(b'?', n as usize)),
        };
        for (i, (seq, bytes)) in segments.iter().enumerate() {
            stream.push(*seq, bytes, i as u64 + 1, budget, &mut take);
        }
        stream.finish(budget, &mut take);
        out
    }

    #[test]
    fn test_in_order_retransmitted_overlapping() {
        let mut budget = Budget::new(1000);
        assert_eq!(run(&[(100, b"abc"), (103, b"def"), (100, b"abc"), (104, b"efgh")], &mut budget), b"abcdefgh");
        assert_eq!(budget.left(), 1000);
    }

    #[test]
    fn test_out_of_order_is_held_until_filled() {
        let mut budget = Budget::new(1000);
        assert_eq!(run(&[(0, b"ab"), (5, b"fg"), (2, b"cde")], &mut budget), b"abcdefg");
        assert_eq!(budget.left(), 1000);
    }

    #[test]
    fn test_hole_never_filled_is_a_gap() {
        let mut budget = Budget::new(1000);
        assert_eq!(run(&[(0, b"ab"), (5, b"fg"), (9, b"j")], &mut budget), b"ab???fg??j");
        assert_eq!(budget.left(), 1000);
    }

    #[test]
    fn test_no_budget_gives_up_the_hole_at_once() {
        let mut budget = Budget::new(0);
        let mut stream = Stream::default();
        let mut out = Vec::new();
        let mut take = |piece: Piece<'_>, _: &mut Budget| out.push(format!("{piece:?}"));
        stream.push(0, b"ab", 1, &mut budget, &mut take);
        stream.push(5, b"fg", 2, &mut budget, &mut take);
        assert!(!stream.holding());
        assert_eq!(out, ["Bytes { frame: 1, data: [97, 98] }", "Gap(3)", "Bytes { frame: 2, data: [102, 103] }"]);
    }

    #[test]
    fn test_sequence_wraps() {
        let mut budget = Budget::new(1000);
        assert_eq!(run(&[(u32::MAX - 1, b"ab"), (1, b"de"), (0, b"c")], &mut budget), b"abcde");
    }

    #[test]
    fn test_syn_sets_the_start() {
        let mut stream = Stream::default();
        stream.syn(99);
        let mut budget = Budget::default();
        let mut out = Vec::new();
        stream.push(101, b"b", 2, &mut budget, &mut |p, _| out.push(format!("{p:?}")));
        stream.push(100, b"a", 3, &mut budget, &mut |p, _| out.push(format!("{p:?}")));
        assert_eq!(out, ["Bytes { frame: 3, data: [97] }", "Bytes { frame: 2, data: [98] }"]);
    }

    proptest! {
        /// Any split of a byte string into segments, shuffled and partly
        /// repeated, is delivered as the string itself, and the budget is
        /// whole again at the end.
        #[test]
        fn prop_any_order_reassembles(data in proptest::collection::vec(any::<u8>(), 1..300), cuts in proptest::collection::vec(0usize..300, 0..12), order in proptest::collection::vec(any::<u16>(), 0..24), start in any::<u32>()) {
            let mut bounds: Vec<usize> = cuts.into_iter().map(|c| c % data.len()).chain([0, data.len()]).collect();
            bounds.sort_unstable();
            bounds.dedup();
            let mut segments: Vec<(u32, &[u8])> = bounds.windows(2).map(|w| (start.wrapping_add(w[0] as u32), &data[w[0]..w[1]])).collect();
            // Shuffle, but keep the first segment first (it fixes the start
            // of a stream picked up mid-way), and repeat a few.
            for (i, key) in order.iter().enumerate() {
                let len = segments.len();
                if len > 2 {
                    let (a, b) = (1 + i % (len - 1), 1 + usize::from(*key) % (len - 1));
                    segments.swap(a, b);
                }
                if key % 5 == 0 {
                    let copy = segments[usize::from(*key) % len];
                    segments.push(copy);
                }
            }
            let mut budget = Budget::new(1 << 20);
            prop_assert_eq!(run(&segments, &mut budget), data);
            prop_assert_eq!(budget.left(), 1 << 20);
        }
    }
}
