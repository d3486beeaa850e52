//! TCP checks (RFC 9293): header sanity per segment, and a per-flow state
//! machine over the handshake, sequence and acknowledgment numbers, FIN and
//! RST.
//!
//! Per segment: the data offset (RFC 9293 §3.1, at least 5 words and no
//! longer than the segment), impossible flag combinations (§3.1, §3.10.7.4:
//! every segment after the handshake carries ACK, so a FIN never comes
//! without it), and the checksum over the IPv4 pseudo-header (§3.1).
//!
//! Per flow (the IPv4 4-tuple, both directions): the three-way handshake
//! (§3.5: the SYN-ACK acknowledges the client's ISN+1, the third segment
//! acknowledges the server's ISN+1, no data before it completes), sequence
//! continuity (§3.4: SYN and FIN each consume one sequence number; a
//! generated capture is complete, so skipped bytes are an error), valid
//! acknowledgments (§3.10.7.4: never beyond what the peer sent), FIN
//! accounting (§3.6), segments after RST or after both FINs were acknowledged
//! (§3.6, §3.10.7.4), and a new SYN on a 4-tuple whose session ended or
//! changed its ISN (port reuse, as Wireshark calls it). Sequence numbers
//! compare with 32-bit serial arithmetic (RFC 1982; RFC 9293 §3.4).
//!
//! Findings about the frame being checked are reported at once; unfinished
//! flows get only a `tcp.not_closed` note at the end (packet-mode captures are
//! full of them). Memory is bounded by [`Limits::max_flows`]: ended sessions
//! stay in the table (to recognise port reuse and late segments) until the
//! least-recently-used eviction drops them.

use std::num::NonZeroU64;

use etherparse::{LaxIpv4Slice, LenSource, TcpSlice};

use super::{ip4, Checksums, Sink, TcpKey};
use crate::dissect::{Frame, Net, Transport};
use crate::finding::{Protocol, Severity};

/// Minimum TCP header length in 32-bit words (RFC 9293 §3.1).
const MIN_DATA_OFFSET: u8 = 5;
/// Minimum TCP header length in bytes.
const MIN_HEADER_LEN: usize = 20;
/// Offset of the data offset field in the TCP header.
const DATA_OFFSET_BYTE: usize = 12;

/// Return whether `a` precedes `b` in sequence space (RFC 1982).
fn seq_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// Return whether `a` follows `b` in sequence space (RFC 1982).
fn seq_gt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No segment yet (only while the first segment is processed).
    New,
    /// The client's SYN was seen; the SYN-ACK was not.
    SynSent,
    /// The SYN-ACK was seen; the client has not acknowledged it yet.
    SynReceived,
    /// Synchronized: the handshake completed, or the flow was picked up
    /// mid-stream.
    Established,
    /// Both FINs were sent and acknowledged (in [`Flow::ended`]).
    Closed,
    /// An RST was sent (in [`Flow::ended`]).
    Reset,
}

/// What one direction of a flow has sent.
#[derive(Debug, Clone, Copy, Default)]
struct Side {
    /// Whether `nxt` is known (from this side's segments or the peer's ACK).
    known: bool,
    /// Whether this side's SYN was seen (`isn` is then valid).
    syn_seen: bool,
    /// Whether this side sent a valid ACK (`ack` is then valid).
    acked: bool,
    /// Initial sequence number.
    isn: u32,
    /// Next expected SEQ: one past the highest sequence number sent.
    nxt: u32,
    /// Highest valid acknowledgment number sent.
    ack: u32,
    /// Sequence number of this side's FIN.
    fin: Option<u32>,
    /// The frame where this side acknowledged the peer's FIN's own sequence
    /// number, while no later ACK covers the FIN (0: none).
    fin_short_ack: u64,
    /// The ACK number of this side's latest segment (see `LAST_HAD_ACK`).
    last_ack: u32,
    /// The window of this side's latest segment.
    last_window: u16,
    /// `LAST_HAD_ACK`, `PEER_FIN_SINCE_LAST`, `FIN_UNCOUNTED` (kept in one
    /// byte: the flow table holds 65 536 of these).
    marks: u8,
}

/// [`Side::marks`]: this side's latest segment carried an ACK.
const LAST_HAD_ACK: u8 = 1;
/// [`Side::marks`]: the peer's FIN came after this side's latest segment.
const PEER_FIN_SINCE_LAST: u8 = 2;
/// [`Side::marks`]: this side's failure to count the peer's FIN was
/// already reported (as a duplicate ACK answering it).
const FIN_UNCOUNTED: u8 = 4;

/// The state of one flow (kept in the checker's shared TCP flow table,
/// [`super::TcpFlowState`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Flow {
    /// Where the session stands.
    phase: Phase,
    /// Index in `sides` of the client (the SYN sender, or the first sender).
    client: u8,
    /// Indexed by endpoint: 0 for the lower `(address, port)` of the key.
    sides: [Side; 2],
    /// The latest frame of the flow.
    last_frame: u64,
    /// The frame where the session closed or was reset.
    ended: u64,
    /// The frame of the SYN-ACK, once one was seen.
    syn_ack: Option<NonZeroU64>,
    /// Whether the flow was picked up mid-stream (its first segment was
    /// not a SYN or SYN-ACK): what was sent before the capture began is
    /// unknown, so ACKs of unseen bytes and gaps are warnings.
    midstream: bool,
}

impl Flow {
    /// Make the state of a flow with no segment yet.
    pub(crate) fn new() -> Flow {
        Flow {
            phase: Phase::New,
            client: 0,
            sides: [Side::default(); 2],
            last_frame: 0,
            ended: 0,
            syn_ack: None,
            midstream: false,
        }
    }
}

impl Flow {
    /// Return the ISN of side `side` (0: the lower endpoint of the key), if
    /// its SYN was seen.
    pub(crate) fn isn(&self, side: usize) -> Option<u32> {
        self.sides[side].syn_seen.then_some(self.sides[side].isn)
    }

    /// Return whether the flow was picked up mid-stream.
    pub(crate) fn midstream(&self) -> bool {
        self.midstream
    }
}

/// The fields of one segment the state machine needs.
#[derive(Debug, Clone, Copy)]
struct Segment {
    /// Index of the sending side.
    from: usize,
    /// Sequence number.
    seq: u32,
    /// Acknowledgment number (meaningful only with `has_ack`).
    ack: u32,
    /// SYN flag.
    syn: bool,
    /// ACK flag.
    has_ack: bool,
    /// FIN flag (cleared when SYN is also set).
    fin: bool,
    /// RST flag (cleared when SYN or FIN is also set).
    rst: bool,
    /// Payload length (as sent, even if the capture cut it).
    len: u32,
    /// Window field.
    window: u16,
    /// Whether the flags were already reported as impossible.
    flags_bad: bool,
    /// Whether the segment is an IP fragment (its length is unknown).
    fragment: bool,
}

impl Segment {
    /// Return the sequence space the segment occupies: payload, SYN, FIN.
    fn seg_len(&self) -> u32 {
        self.len.wrapping_add(u32::from(self.syn)).wrapping_add(u32::from(self.fin))
    }

    /// Return the sequence number after the segment.
    fn end(&self) -> u32 {
        self.seq.wrapping_add(self.seg_len())
    }
}

/// Check one frame: header sanity, then the state machine of its flow.
/// `flow` is the frame's entry in the shared TCP flow table (looked up once
/// per segment by [`super::Checker`]; `None` when the frame has no TCP over
/// IPv4). Frames without TCP are ignored.
pub(crate) fn check(frame: &Frame<'_>, flow: Option<&mut Flow>, checksums: Checksums, sink: &mut Sink) {
    let tcp = match &frame.transport {
        Transport::Tcp(tcp) => tcp,
        Transport::Bad { protocol: Protocol::Tcp, .. } => {
            check_header_length(frame, sink);
            return;
        }
        _ => return,
    };
    let Net::Ipv4 { slice, .. } = &frame.net else { return };
    let header = slice.header();
    let ip_payload = slice.payload();
    let (src, dst) = (header.source(), header.destination());
    let flags_bad = check_flags(tcp, sink);
    let offload_length = checksums == Checksums::OffloadAware && header.total_len() == 0;
    let complete = !ip_payload.incomplete
        && !ip_payload.fragmented
        && (ip_payload.len_source == LenSource::Ipv4HeaderTotalLen || offload_length);
    if complete && frame.is_whole() && checksums != Checksums::Off {
        check_checksum(tcp, src, dst, checksums, sink);
    }
    let len = sent_len(slice, tcp);
    let from = direction(slice, tcp);
    // Impossible combinations are read as the most plausible intent:
    // SYN wins over FIN and RST, FIN over RST.
    let syn = tcp.syn();
    let fin = tcp.fin() && !syn;
    let segment = Segment {
        from,
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        syn,
        has_ack: tcp.ack(),
        fin,
        rst: tcp.rst() && !syn && !fin,
        len: u32::try_from(len).unwrap_or(u32::MAX),
        window: tcp.window_size(),
        flags_bad,
        fragment: ip_payload.fragmented,
    };
    let Some(flow) = flow else { return };
    let mut ctx = Ctx { flow, sink, frame: frame.number };
    ctx.segment(segment);
    let side = &mut ctx.flow.sides[from];
    side.last_ack = segment.ack;
    side.last_window = segment.window;
    side.marks = (side.marks & FIN_UNCOUNTED) | if segment.has_ack { LAST_HAD_ACK } else { 0 };
    if segment.fin {
        ctx.flow.sides[1 - from].marks |= PEER_FIN_SINCE_LAST;
    }
    if segment.fragment {
        // Later fragments carry the rest of the segment: re-learn this
        // side's next SEQ from its next segment.
        ctx.flow.sides[from].known = false;
    }
}

/// Note a flow that ends (or is evicted) without FIN exchange or RST, and
/// report FINs whose own sequence number was acknowledged but never the one
/// after it.
pub(crate) fn note_not_closed(sink: &mut Sink, key: &TcpKey, flow: &Flow) {
    report_uncounted_fins(sink, flow);
    if matches!(flow.phase, Phase::Closed | Phase::Reset | Phase::New) {
        return;
    }
    let (client, server) =
        if flow.client == 0 { ((key.0, key.1), (key.2, key.3)) } else { ((key.2, key.3), (key.0, key.1)) };
    sink.report_at(
        flow.last_frame,
        Severity::Note,
        "tcp.not_closed",
        Protocol::Tcp,
        format!(
            "flow {}:{} -> {}:{} ends without FIN exchange or RST",
            ip4(client.0),
            client.1,
            ip4(server.0),
            server.1
        ),
    );
}

/// Report, at the frame of the short ACK, each FIN the peer acknowledged
/// only up to the FIN's own sequence number and never beyond. One such ACK
/// is normal (a simultaneous close, or an ACK that crossed the FIN); a FIN
/// that no ACK ever covers is the FIN not counted (RFC 9293 §3.4). Known
/// only at the end of the flow, so a warning (see the module docs).
fn report_uncounted_fins(sink: &mut Sink, flow: &Flow) {
    for (acker, peer) in [(flow.sides[0], flow.sides[1]), (flow.sides[1], flow.sides[0])] {
        let (Some(fin), false) = (peer.fin, acker.fin_short_ack == 0 || acker.marks & FIN_UNCOUNTED != 0) else {
            continue;
        };
        let frame = acker.fin_short_ack;
        sink.report_at(
            frame,
            Severity::Warn,
            "tcp.fin_accounting",
            Protocol::Tcp,
            format!(
                "ACK {fin} acknowledges the FIN's own SEQ and no later ACK covers the FIN; a FIN consumes one sequence number, expected {} (RFC 9293 §3.4)",
                fin.wrapping_add(1)
            ),
        );
    }
}

/// Report a TCP header the dissector refused for its data offset.
fn check_header_length(frame: &Frame<'_>, sink: &mut Sink) {
    let Net::Ipv4 { slice, .. } = &frame.net else { return };
    let ip_payload = slice.payload();
    let bytes = ip_payload.payload;
    let message = match bytes.get(DATA_OFFSET_BYTE) {
        Some(byte) => {
            let offset = byte >> 4;
            let header_len = usize::from(offset) * 4;
            if offset < MIN_DATA_OFFSET {
                format!("data offset {offset} words is below the minimum of {MIN_DATA_OFFSET} (RFC 9293 §3.1)")
            } else if header_len > bytes.len() && !ip_payload.incomplete && !ip_payload.fragmented {
                format!("data offset {offset} words ({header_len} bytes) exceeds the {}-byte segment", bytes.len())
            } else {
                // The capture cut the header: a truncation, not a bad field.
                return;
            }
        }
        None if !ip_payload.incomplete && !ip_payload.fragmented => {
            format!("segment of {} bytes is shorter than the {MIN_HEADER_LEN}-byte minimum header", bytes.len())
        }
        None => return,
    };
    sink.report(Severity::Error, "tcp.bad_header_length", Protocol::Tcp, message);
}

/// Report an impossible flag combination; return whether one was found.
fn check_flags(tcp: &TcpSlice<'_>, sink: &mut Sink) -> bool {
    let (syn, fin, rst, ack, psh, urg) = (tcp.syn(), tcp.fin(), tcp.rst(), tcp.ack(), tcp.psh(), tcp.urg());
    let problem = if !(syn || fin || rst || ack || psh || urg) {
        "no flags set (a null segment)"
    } else if syn && fin {
        "SYN and FIN both set"
    } else if syn && rst {
        "SYN and RST both set"
    } else if fin && rst {
        "FIN and RST both set"
    } else if fin && !ack {
        "FIN without ACK (RFC 9293 §3.10.7.4: every segment after the handshake carries ACK)"
    } else {
        return false;
    };
    sink.report(Severity::Error, "tcp.bad_flags", Protocol::Tcp, problem.to_string());
    true
}

/// Return how many payload bytes the segment carried: what was captured,
/// or, when the capture cut the segment (a snap length), what the IPv4
/// header declares less the IPv4, authentication and TCP headers.
pub(crate) fn sent_len(slice: &LaxIpv4Slice<'_>, tcp: &TcpSlice<'_>) -> usize {
    if !slice.payload().incomplete {
        return tcp.payload().len();
    }
    let header = slice.header();
    let auth = slice.extensions().auth.map_or(0, |auth| auth.slice().len());
    usize::from(header.total_len()).saturating_sub(header.slice().len() + auth + tcp.header_len())
}

/// Return the segment's direction within its flow: 0 when it comes from
/// the lower (address, port) end, 1 from the higher, as [`TcpKey`] orders
/// the ends.
pub(crate) fn direction(slice: &LaxIpv4Slice<'_>, tcp: &TcpSlice<'_>) -> usize {
    let header = slice.header();
    usize::from((header.source(), tcp.source_port()) > (header.destination(), tcp.destination_port()))
}

/// Verify the checksum over the IPv4 pseudo-header and the whole segment.
fn check_checksum(tcp: &TcpSlice<'_>, src: [u8; 4], dst: [u8; 4], checksums: Checksums, sink: &mut Sink) {
    let Ok(expected) = tcp.calc_checksum_ipv4(src, dst) else { return };
    let stored = tcp.checksum();
    if super::ip::same_checksum(stored, expected) {
        return;
    }
    let length = tcp.slice().len();
    if checksums == Checksums::OffloadAware && super::ip::offloaded(stored, src, dst, 6, length) {
        sink.report(
            Severity::Note,
            "tcp.checksum_offload",
            Protocol::Tcp,
            format!("checksum 0x{stored:04x} is what checksum offload leaves before the NIC completes it (expected 0x{expected:04x})"),
        );
        return;
    }
    sink.report(
        Severity::Error,
        "tcp.bad_checksum",
        Protocol::Tcp,
        format!("checksum 0x{stored:04x}, expected 0x{expected:04x}"),
    );
}

/// One segment's walk through its flow's state machine.
struct Ctx<'a> {
    /// The segment's flow.
    flow: &'a mut Flow,
    /// Where findings go.
    sink: &'a mut Sink,
    /// The frame being checked.
    frame: u64,
}

impl Ctx<'_> {
    /// Report a TCP finding about the frame being checked.
    fn report(&mut self, severity: Severity, check: &'static str, message: String) {
        self.sink.report(severity, check, Protocol::Tcp, message);
    }

    /// Run the state machine on one segment.
    fn segment(&mut self, seg: Segment) {
        let d = seg.from;
        let new_syn = seg.syn && !seg.has_ack;
        match self.flow.phase {
            Phase::Reset => {
                let at = self.flow.ended;
                if new_syn {
                    self.report(
                        Severity::Warn,
                        "tcp.port_reuse",
                        format!("new SYN on a 4-tuple whose session was reset in frame {at}"),
                    );
                    report_uncounted_fins(self.sink, self.flow);
                    *self.flow = Flow::new();
                } else if seg.rst {
                    return;
                } else {
                    let what = if seg.len > 0 { format!("{} bytes of data", seg.len) } else { "a segment".to_string() };
                    self.report(Severity::Error, "tcp.after_close", format!("{what} after the RST in frame {at}"));
                    return;
                }
            }
            Phase::Closed => {
                let at = self.flow.ended;
                if new_syn {
                    self.report(
                        Severity::Warn,
                        "tcp.port_reuse",
                        format!("new SYN on a 4-tuple whose session closed in frame {at}"),
                    );
                    report_uncounted_fins(self.sink, self.flow);
                    *self.flow = Flow::new();
                } else if seg.len > 0 && self.flow.sides[d].fin.is_none_or(|f| seq_gt(seg.seq.wrapping_add(seg.len), f))
                {
                    self.report(
                        Severity::Error,
                        "tcp.after_close",
                        format!(
                            "{} bytes of new data after both FINs were exchanged and acknowledged (frame {at})",
                            seg.len
                        ),
                    );
                    return;
                }
            }
            Phase::New => {}
            Phase::SynSent | Phase::SynReceived | Phase::Established => {
                let side = self.flow.sides[d];
                let reuse =
                    new_syn && if side.syn_seen { side.isn != seg.seq } else { self.flow.phase != Phase::SynSent };
                if reuse {
                    let message = if side.syn_seen {
                        format!("new SYN with ISN {} while the session with ISN {} is still open", seg.seq, side.isn)
                    } else {
                        format!("new SYN with ISN {} on an open session", seg.seq)
                    };
                    self.report(Severity::Warn, "tcp.port_reuse", message);
                    report_uncounted_fins(self.sink, self.flow);
                    *self.flow = Flow::new();
                }
            }
        }
        self.flow.last_frame = self.frame;
        if self.flow.phase == Phase::New {
            self.first(seg);
        }
        if seg.syn {
            self.syn(seg);
            return;
        }
        let client = d == usize::from(self.flow.client);
        match self.flow.phase {
            Phase::SynSent => {
                if seg.rst {
                    self.ack_checks(seg, AckContext::Plain);
                    self.sequence(seg);
                    self.end(Phase::Reset);
                    return;
                }
                if seg.len > 0 {
                    let who = if client { "client" } else { "server" };
                    self.report(
                        Severity::Error,
                        "tcp.data_before_handshake",
                        format!("{who} sent {} bytes before the SYN-ACK", seg.len),
                    );
                } else if !seg.flags_bad {
                    let message = if client {
                        "client segment before the SYN-ACK"
                    } else {
                        "server answered the SYN without the SYN flag"
                    };
                    self.report(Severity::Error, "tcp.bad_handshake", message.to_string());
                }
                if client {
                    self.sequence(seg);
                } else {
                    // Read the reply as a SYN-ACK that lost its SYN flag (the
                    // SYN's sequence number included), so that what follows
                    // is judged on its own merits.
                    self.ack_checks(seg, AckContext::Plain);
                    let server = &mut self.flow.sides[d];
                    server.known = true;
                    server.nxt = seg.end().wrapping_add(1);
                    self.flow.phase = Phase::SynReceived;
                }
                return;
            }
            Phase::SynReceived => {
                if client && !seg.rst {
                    if seg.has_ack {
                        self.ack_checks(seg, AckContext::Handshake);
                    } else if !seg.flags_bad {
                        self.report(
                            Severity::Error,
                            "tcp.bad_handshake",
                            "client's first segment after the SYN-ACK lacks the ACK flag".to_string(),
                        );
                    }
                    self.flow.phase = Phase::Established;
                    self.sequence(seg);
                    self.close_if_done();
                    return;
                }
                if !client && seg.len > 0 && !seg.rst {
                    // Name only packets that exist: the flow may have had
                    // no SYN-ACK at all (a reply without the SYN flag).
                    let message = match self.flow.syn_ack {
                        Some(frame) => format!(
                            "server sent {} bytes before the client acknowledged the SYN-ACK (frame {frame})",
                            seg.len
                        ),
                        None => format!(
                            "server sent {} bytes before the handshake completed (no SYN-ACK was sent)",
                            seg.len
                        ),
                    };
                    self.report(Severity::Error, "tcp.data_before_handshake", message);
                    self.ack_checks(seg, AckContext::Plain);
                    self.sequence(seg);
                    self.close_if_done();
                    return;
                }
            }
            _ => {}
        }
        self.established(seg);
    }

    /// Set up a fresh flow from its first segment.
    fn first(&mut self, seg: Segment) {
        let (d, p) = (seg.from, 1 - seg.from);
        if seg.syn {
            if seg.has_ack {
                self.flow.syn_ack = NonZeroU64::new(self.frame);
                self.report(
                    Severity::Error,
                    "tcp.bad_handshake",
                    "SYN-ACK without a SYN from the other side".to_string(),
                );
                self.flow.client = p as u8;
                self.flow.sides[p].known = true;
                self.flow.sides[p].nxt = seg.ack;
                self.flow.phase = Phase::SynReceived;
            } else {
                self.flow.client = d as u8;
                self.flow.phase = Phase::SynSent;
            }
            return;
        }
        let what = if seg.rst { "an RST" } else { "not a SYN" };
        self.report(
            Severity::Warn,
            "tcp.no_handshake",
            format!("first segment of the flow is {what} (SEQ {}): no three-way handshake", seg.seq),
        );
        self.flow.client = d as u8;
        self.flow.phase = Phase::Established;
        self.flow.midstream = true;
        self.flow.sides[d].known = true;
        self.flow.sides[d].nxt = seg.seq;
        if seg.has_ack {
            self.flow.sides[p].known = true;
            self.flow.sides[p].nxt = seg.ack;
        }
    }

    /// Handle a SYN or SYN-ACK.
    fn syn(&mut self, seg: Segment) {
        let (d, p) = (seg.from, 1 - seg.from);
        let side = self.flow.sides[d];
        if side.syn_seen {
            if seg.seq == side.isn {
                self.report(Severity::Note, "tcp.retransmission", format!("SYN retransmitted (ISN {})", seg.seq));
                if seg.has_ack {
                    self.ack_checks(seg, AckContext::SynAck);
                }
            } else {
                // A new SYN without ACK was handled as port reuse.
                self.report(
                    Severity::Error,
                    "tcp.bad_handshake",
                    format!("SYN-ACK with ISN {}, but this side's SYN had ISN {}", seg.seq, side.isn),
                );
            }
            return;
        }
        let side = &mut self.flow.sides[d];
        side.syn_seen = true;
        side.known = true;
        side.isn = seg.seq;
        side.nxt = seg.end();
        if seg.has_ack {
            self.flow.syn_ack = NonZeroU64::new(self.frame);
            if self.flow.sides[p].syn_seen {
                self.ack_checks(seg, AckContext::SynAck);
            } else if self.flow.phase != Phase::SynReceived {
                // Not the first segment (reported there): e.g. after a
                // mid-stream start.
                self.report(
                    Severity::Error,
                    "tcp.bad_handshake",
                    "SYN-ACK without a SYN from the other side".to_string(),
                );
            }
            if self.flow.phase == Phase::SynSent {
                self.flow.phase = Phase::SynReceived;
            }
        }
        if seg.len > 0 {
            // RFC 9293 §3.5 (and §3.10.7.2): a SYN may carry data, which the
            // receiver queues until the connection is established; TCP Fast
            // Open (RFC 7413 §4.2) sends it on the SYN and the SYN-ACK.
            // Unusual, not wrong.
            let what = if seg.has_ack { "SYN-ACK" } else { "SYN" };
            self.report(
                Severity::Warn,
                "tcp.syn_data",
                format!(
                    "{} bytes of data on the {what} (allowed by RFC 9293 §3.5, as in TCP Fast Open, RFC 7413)",
                    seg.len
                ),
            );
        }
    }

    /// Handle a segment of a synchronized (or ended) session.
    fn established(&mut self, seg: Segment) {
        if !seg.has_ack && !seg.rst && !seg.flags_bad {
            self.report(
                Severity::Error,
                "tcp.missing_ack",
                "segment without the ACK flag after the handshake (RFC 9293 §3.10.7.4)".to_string(),
            );
        }
        self.ack_checks(seg, AckContext::Plain);
        self.sequence(seg);
        if seg.rst {
            self.end(Phase::Reset);
            return;
        }
        self.close_if_done();
    }

    /// Check the acknowledgment number against what the peer sent, and
    /// record it when valid.
    fn ack_checks(&mut self, seg: Segment, context: AckContext) {
        if !seg.has_ack {
            return;
        }
        let peer = self.flow.sides[1 - seg.from];
        if !peer.known {
            // The peer's sequence space is unknown: learn it from this ACK.
            let peer = &mut self.flow.sides[1 - seg.from];
            peer.known = true;
            peer.nxt = seg.ack;
            self.record_ack(seg);
            return;
        }
        let ack = seg.ack;
        if let Some(fin) = peer.fin {
            // An ACK of the FIN's own SEQ is a valid cumulative ACK of the
            // data before it (it crossed the FIN, as in a simultaneous
            // close, RFC 9293 §3.6, or a window update did); only a FIN that
            // no ACK ever covers is wrong, reported when the flow ends. But
            // a duplicate ACK (nothing new: no data, no FIN, same ACK and
            // window as this side's previous segment) sent after the FIN
            // arrived answers the FIN itself: a receiver sends one only for
            // a segment it did not accept in order (RFC 9293 §3.10.7.4,
            // RFC 5681 §4.2), so the FIN was not counted.
            let side = &mut self.flow.sides[seg.from];
            if ack == fin {
                let duplicate = seg.len == 0
                    && !seg.fin
                    && !seg.rst
                    && side.marks & (LAST_HAD_ACK | PEER_FIN_SINCE_LAST) == LAST_HAD_ACK | PEER_FIN_SINCE_LAST
                    && side.last_ack == ack
                    && side.last_window == seg.window;
                if duplicate {
                    side.marks |= FIN_UNCOUNTED;
                    self.report(
                        Severity::Error,
                        "tcp.fin_accounting",
                        format!(
                            "duplicate ACK {ack} answers the FIN: it acknowledges the FIN's own SEQ; a FIN consumes one sequence number, expected {} (RFC 9293 §3.4)",
                            fin.wrapping_add(1)
                        ),
                    );
                    return;
                }
                if side.fin_short_ack == 0 {
                    side.fin_short_ack = self.frame;
                }
            } else if seq_gt(ack, fin) {
                side.fin_short_ack = 0;
            }
        }
        let below = peer.syn_seen && seq_lt(ack, peer.isn.wrapping_add(1));
        let beyond = seq_gt(ack, peer.nxt);
        if !below && !beyond {
            self.record_ack(seg);
            return;
        }
        if beyond && self.flow.midstream && !peer.syn_seen && peer.fin.is_none() {
            // Bytes the peer sent before the capture began (or that it did
            // not capture): tshark's "ACKed segment that wasn't captured".
            self.report(
                Severity::Warn,
                "tcp.acked_unseen",
                format!(
                    "ACK {ack} acknowledges {} bytes not in the capture (the flow started before it; the peer's next SEQ seen was {})",
                    ack.wrapping_sub(peer.nxt),
                    peer.nxt
                ),
            );
            self.flow.sides[1 - seg.from].nxt = ack;
            self.record_ack(seg);
            return;
        }
        let message = match context {
            AckContext::SynAck if peer.syn_seen => {
                format!("SYN-ACK acknowledges {ack}, expected client ISN+1 = {}", peer.isn.wrapping_add(1))
            }
            AckContext::Handshake if peer.syn_seen => {
                format!("handshake ACK acknowledges {ack}, expected server ISN+1 = {}", peer.isn.wrapping_add(1))
            }
            _ if below => format!("ACK {ack} precedes the peer's ISN+1 = {}", peer.isn.wrapping_add(1)),
            _ => format!(
                "ACK {ack} acknowledges {} bytes the peer never sent (its next SEQ is {})",
                ack.wrapping_sub(peer.nxt),
                peer.nxt
            ),
        };
        self.report(Severity::Error, "tcp.bad_ack", message);
    }

    /// Remember a valid ACK if it is the highest so far.
    fn record_ack(&mut self, seg: Segment) {
        let side = &mut self.flow.sides[seg.from];
        if !side.acked || seq_gt(seg.ack, side.ack) {
            side.acked = true;
            side.ack = seg.ack;
        }
    }

    /// Check the sequence number against this side's next expected SEQ and
    /// its FIN; advance the next expected SEQ.
    fn sequence(&mut self, seg: Segment) {
        let side = self.flow.sides[seg.from];
        if !side.known {
            let side = &mut self.flow.sides[seg.from];
            side.known = true;
            side.nxt = seg.end();
            if seg.fin {
                side.fin = Some(seg.seq.wrapping_add(seg.len));
            }
            return;
        }
        let (seq, nxt) = (seg.seq, side.nxt);
        let end = seg.end();
        let mut checked = false;
        if let Some(fin) = side.fin {
            checked = true;
            let data_end = seq.wrapping_add(seg.len);
            if seg.fin {
                if data_end == fin {
                    self.report(Severity::Note, "tcp.retransmission", format!("FIN retransmitted (SEQ {fin})"));
                } else {
                    self.report(
                        Severity::Error,
                        "tcp.fin_accounting",
                        format!("second FIN at SEQ {data_end}; this side's FIN was at SEQ {fin}"),
                    );
                }
            } else if seg.len > 0 && seq_gt(data_end, fin) {
                self.report(
                    Severity::Error,
                    "tcp.fin_accounting",
                    format!("{} bytes of new data after this side's FIN at SEQ {fin}", seg.len),
                );
            } else if seq == fin {
                self.report(
                    Severity::Error,
                    "tcp.fin_accounting",
                    format!(
                        "SEQ {seq} reuses the FIN's sequence number; a FIN consumes one, expected {} (RFC 9293 §3.4)",
                        fin.wrapping_add(1)
                    ),
                );
            } else {
                checked = false;
            }
        }
        if !checked {
            if seq_gt(seq, nxt) {
                // A generated capture is complete: skipped bytes are an
                // error. A flow picked up mid-stream shows the capture is
                // partial: a gap is then a segment it missed.
                let (severity, why) = if self.flow.midstream {
                    (Severity::Warn, "previous segment not captured; the flow started before the capture")
                } else {
                    (Severity::Error, "previous segment not captured")
                };
                self.report(
                    severity,
                    "tcp.seq_gap",
                    format!("SEQ {seq}, expected {nxt}: {} bytes skipped ({why})", seq.wrapping_sub(nxt)),
                );
            } else if seq_lt(seq, nxt) {
                let keep_alive = seg.len <= 1 && !seg.fin && !seg.rst && seq == nxt.wrapping_sub(1);
                let message = if keep_alive {
                    format!("keep-alive (SEQ {seq} = next expected {nxt} - 1)")
                } else if seq_gt(end, nxt) {
                    format!("SEQ {seq} overlaps data already sent (next expected {nxt})")
                } else {
                    format!("SEQ {seq} is below the next expected {nxt}: retransmission")
                };
                self.report(Severity::Note, "tcp.retransmission", message);
            }
        }
        let side = &mut self.flow.sides[seg.from];
        if seq_gt(end, side.nxt) {
            side.nxt = end;
        }
        if seg.fin && side.fin.is_none() {
            side.fin = Some(seq.wrapping_add(seg.len));
        }
    }

    /// End the session (closed or reset) in the frame being checked.
    fn end(&mut self, phase: Phase) {
        self.flow.phase = phase;
        self.flow.ended = self.frame;
    }

    /// Mark the session closed once both FINs are acknowledged.
    fn close_if_done(&mut self) {
        let [a, b] = self.flow.sides;
        let covered =
            |fin: Option<u32>, peer: Side| fin.is_some_and(|f| peer.acked && !seq_lt(peer.ack, f.wrapping_add(1)));
        if covered(a.fin, b) && covered(b.fin, a) && !matches!(self.flow.phase, Phase::Closed | Phase::Reset) {
            self.end(Phase::Closed);
        }
    }
}

/// Which expectation an ACK is checked against, for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AckContext {
    /// Any segment.
    Plain,
    /// A SYN-ACK: acknowledges the client's ISN+1.
    SynAck,
    /// The client's first segment after the SYN-ACK: acknowledges the
    /// server's ISN+1.
    Handshake,
}

#[cfg(test)]
mod test {
    use super::super::testutil::*;
    use super::*;
    use crate::check::{tcp_key, FlowTable, Limits};
    use crate::dissect::dissect;
    use crate::finding::Finding;
    use crate::pcap::{LinkType, RawFrame};
    use proptest::prelude::*;
    use rstest::rstest;

    /// Client and server ISNs of `tcp_conversation`.
    const C: u32 = 1000;
    const S: u32 = 5000;
    /// Request and response lengths.
    const Q: u32 = GET.len() as u32;
    const R: u32 = OK.len() as u32;

    /// Client to server.
    fn up(flags: &str, seq: u32, ack: u32, payload: &[u8]) -> Vec<u8> {
        tcp(A, B, 40000, 80, flags, seq, ack, payload)
    }

    /// Server to client.
    fn down(flags: &str, seq: u32, ack: u32, payload: &[u8]) -> Vec<u8> {
        tcp(B, A, 80, 40000, flags, seq, ack, payload)
    }

    /// Run only the TCP check (every other check stays out of the way).
    fn run_tcp(frames: &[Vec<u8>], limits: Limits) -> Vec<Finding> {
        let raws: Vec<RawFrame<'_>> = frames
            .iter()
            .enumerate()
            .map(|(i, data)| RawFrame {
                linktype: LinkType::Raw,
                ts: 1_000_000 * (i as u64 + 1),
                orig_len: data.len() as u32,
                data,
                offset: 0,
            })
            .collect();
        run_raw(&raws, limits)
    }

    /// Run the TCP check alone, with its own flow table, as the checker does.
    fn run_raw(raws: &[RawFrame<'_>], limits: Limits) -> Vec<Finding> {
        let mut flows: FlowTable<TcpKey, Flow> = FlowTable::new(limits.max_flows);
        let mut sink = Sink::new();
        for (i, raw) in raws.iter().enumerate() {
            let frame = dissect(i as u64 + 1, raw);
            sink.frame = frame.number;
            let flow = tcp_key(&frame)
                .map(|key| flows.entry(&key, Flow::new, |key, old| note_not_closed(&mut sink, &key, &old)));
            check(&frame, flow, Checksums::Strict, &mut sink);
        }
        for (key, flow) in flows.drain_by_age() {
            note_not_closed(&mut sink, &key, &flow);
        }
        sink.into_findings()
    }

    /// Return `(frame, check)` of the TCP findings of exactly `severity`.
    fn at(findings: &[Finding], severity: Severity) -> Vec<(u64, String)> {
        findings
            .iter()
            .filter(|f| f.protocol == Protocol::Tcp && f.severity == severity)
            .map(|f| (f.frame, f.check.to_string()))
            .collect()
    }

    /// Turn a table row into what the helpers return.
    fn owned(expected: &[(u64, &str)]) -> Vec<(u64, String)> {
        expected.iter().map(|(frame, check)| (*frame, check.to_string())).collect()
    }

    /// Set the window of an IPv4/TCP packet, keeping its checksum right.
    fn with_window(mut packet: Vec<u8>, window: u16) -> Vec<u8> {
        packet[20 + 14..20 + 16].copy_from_slice(&window.to_be_bytes());
        let (src, dst) = (packet[12..16].try_into().unwrap(), packet[16..20].try_into().unwrap());
        let sum = TcpSlice::from_slice(&packet[20..]).unwrap().calc_checksum_ipv4(src, dst).unwrap();
        packet[20 + 16..20 + 18].copy_from_slice(&sum.to_be_bytes());
        packet
    }

    /// Cut an IPv4/TCP packet to `tcp_len` bytes of TCP, keeping its IP
    /// header consistent (total length and checksum).
    fn shorten(packet: &mut Vec<u8>, tcp_len: usize) {
        packet.truncate(20 + tcp_len);
        packet[2..4].copy_from_slice(&((20 + tcp_len) as u16).to_be_bytes());
        packet[10..12].copy_from_slice(&[0, 0]);
        let sum = super::super::ip::checksum(&packet[..20]);
        packet[10..12].copy_from_slice(&sum.to_be_bytes());
    }

    /// The 11-packet conversation with ISNs `c` and `s` (any values, the
    /// arithmetic wraps).
    fn conversation_with(c: u32, s: u32) -> Vec<Vec<u8>> {
        let (q, r) = (Q, R);
        vec![
            up("S", c, 0, b""),
            down("SA", s, c.wrapping_add(1), b""),
            up("A", c.wrapping_add(1), s.wrapping_add(1), b""),
            up("PA", c.wrapping_add(1), s.wrapping_add(1), GET),
            down("A", s.wrapping_add(1), c.wrapping_add(1 + q), b""),
            down("PA", s.wrapping_add(1), c.wrapping_add(1 + q), OK),
            up("A", c.wrapping_add(1 + q), s.wrapping_add(1 + r), b""),
            up("FA", c.wrapping_add(1 + q), s.wrapping_add(1 + r), b""),
            down("A", s.wrapping_add(1 + r), c.wrapping_add(2 + q), b""),
            down("FA", s.wrapping_add(1 + r), c.wrapping_add(2 + q), b""),
            up("A", c.wrapping_add(2 + q), s.wrapping_add(2 + r), b""),
        ]
    }

    #[test]
    fn test_serial_arithmetic() {
        assert!(seq_lt(0xffff_fff0, 5) && seq_gt(5, 0xffff_fff0));
        assert!(!seq_lt(7, 7) && !seq_gt(7, 7));
        assert!(seq_lt(1, 2) && seq_gt(2, 1));
    }

    #[test]
    fn test_correct_conversation() {
        let frames = tcp_conversation(GET, OK);
        assert_eq!(frames, conversation_with(C, S), "the local builder matches testutil's");
        let findings = check_frames(LinkType::Raw, &frames);
        assert!(ids(&findings).is_empty(), "{findings:?}");
        // Not even a note from this check: the flow closes cleanly.
        assert!(findings.iter().all(|f| f.protocol != Protocol::Tcp), "{findings:?}");
    }

    #[rstest]
    #[case::syn_ack_ack_off_by_one(|p: &mut Vec<Vec<u8>>| p[1] = down("SA", S, C + 2, b""), &[(2, "tcp.bad_ack")])]
    #[case::syn_ack_acks_isn(|p: &mut Vec<Vec<u8>>| p[1] = down("SA", S, C, b""), &[(2, "tcp.bad_ack")])]
    #[case::third_ack_off_by_one(|p: &mut Vec<Vec<u8>>| p[2] = up("A", C + 1, S + 2, b""), &[(3, "tcp.bad_ack")])]
    #[case::response_seq_plus_10(|p: &mut Vec<Vec<u8>>| p[5] = down("PA", S + 11, C + 1 + Q, OK), &[(6, "tcp.seq_gap")])]
    #[case::request_seq_plus_1(|p: &mut Vec<Vec<u8>>| p[3] = up("PA", C + 2, S + 1, GET), &[(4, "tcp.seq_gap")])]
    #[case::data_without_ack_flag(|p: &mut Vec<Vec<u8>>| p[3] = up("P", C + 1, 0, GET), &[(4, "tcp.missing_ack")])]
    #[case::ack_of_zero(|p: &mut Vec<Vec<u8>>| p[3] = up("PA", C + 1, 0, GET), &[(4, "tcp.bad_ack")])]
    #[case::fin_ack_acks_unsent_byte(|p: &mut Vec<Vec<u8>>| p[7] = up("FA", C + 1 + Q, S + 2 + R, b""), &[(8, "tcp.bad_ack")])]
    #[case::response_ack_beyond_request(|p: &mut Vec<Vec<u8>>| p[5] = down("PA", S + 1, C + 2 + Q, OK), &[(6, "tcp.bad_ack")])]
    #[case::server_acks_fin_seq(|p: &mut Vec<Vec<u8>>| { p[8] = down("A", S + 1 + R, C + 1 + Q, b""); p[9] = down("FA", S + 1 + R, C + 1 + Q, b"") }, &[(9, "tcp.fin_accounting")])]
    // A duplicate ACK of the FIN's own SEQ right after it: the FIN was
    // not counted, even if a later ACK covers it.
    #[case::server_dup_acks_fin_seq(|p: &mut Vec<Vec<u8>>| p[8] = down("A", S + 1 + R, C + 1 + Q, b""), &[(9, "tcp.fin_accounting")])]
    // One ACK of the FIN's own SEQ with a new window, then the FIN
    // covered: a window update that crossed the FIN, not an error.
    #[case::window_update_crosses_fin(|p: &mut Vec<Vec<u8>>| p[8] = with_window(down("A", S + 1 + R, C + 1 + Q, b""), 1234), &[])]
    #[case::client_acks_fin_seq(|p: &mut Vec<Vec<u8>>| p[10] = up("A", C + 2 + Q, S + 1 + R, b""), &[(11, "tcp.fin_accounting")])]
    #[case::last_ack_reuses_fin_seq(|p: &mut Vec<Vec<u8>>| p[10] = up("A", C + 1 + Q, S + 2 + R, b""), &[(11, "tcp.fin_accounting")])]
    #[case::data_after_fin(|p: &mut Vec<Vec<u8>>| p.insert(8, up("PA", C + 2 + Q, S + 1 + R, b"more")), &[(9, "tcp.fin_accounting")])]
    #[case::data_after_rst(
        |p: &mut Vec<Vec<u8>>| {
            p.truncate(7);
            p.push(up("RA", C + 1 + Q, S + 1 + R, b""));
            p.push(down("PA", S + 1 + R, C + 1 + Q, b"late"));
        },
        &[(9, "tcp.after_close")]
    )]
    #[case::data_after_close(|p: &mut Vec<Vec<u8>>| p.push(down("PA", S + 2 + R, C + 2 + Q, b"late")), &[(12, "tcp.after_close")])]
    #[case::syn_fin(|p: &mut Vec<Vec<u8>>| p[0] = up("SF", C, 0, b""), &[(1, "tcp.bad_flags")])]
    #[case::syn_rst(|p: &mut Vec<Vec<u8>>| p[0] = up("SR", C, 0, b""), &[(1, "tcp.bad_flags")])]
    #[case::fin_rst(|p: &mut Vec<Vec<u8>>| p[7] = up("FRA", C + 1 + Q, S + 1 + R, b""), &[(8, "tcp.bad_flags")])]
    #[case::fin_without_ack(|p: &mut Vec<Vec<u8>>| p[7] = up("F", C + 1 + Q, 0, b""), &[(8, "tcp.bad_flags")])]
    #[case::null_segment(|p: &mut Vec<Vec<u8>>| p[6] = up("", C + 1 + Q, 0, b""), &[(7, "tcp.bad_flags")])]
    #[case::checksum(|p: &mut Vec<Vec<u8>>| p[4][20 + 16] ^= 0x01, &[(5, "tcp.bad_checksum")])]
    #[case::payload_byte(|p: &mut Vec<Vec<u8>>| p[5][40 + 5] ^= 0x20, &[(6, "tcp.bad_checksum")])]
    #[case::data_offset_below_5(|p: &mut Vec<Vec<u8>>| p[6][20 + 12] = 0x40, &[(7, "tcp.bad_header_length")])]
    #[case::data_offset_beyond_segment(|p: &mut Vec<Vec<u8>>| p[6][20 + 12] = 0xf0, &[(7, "tcp.bad_header_length")])]
    #[case::segment_below_20_bytes(|p: &mut Vec<Vec<u8>>| shorten(&mut p[6], 10), &[(7, "tcp.bad_header_length")])]
    #[case::handshake_less(|p: &mut Vec<Vec<u8>>| { p.drain(..3); }, &[(1, "tcp.no_handshake")])]
    #[case::handshake_less_then_gap(
        |p: &mut Vec<Vec<u8>>| {
            p.drain(..3);
            p[2] = down("PA", S + 11, C + 1 + Q, OK);
        },
        &[(1, "tcp.no_handshake"), (3, "tcp.seq_gap")]
    )]
    #[case::syn_ack_without_syn(|p: &mut Vec<Vec<u8>>| { p.remove(0); }, &[(1, "tcp.bad_handshake")])]
    #[case::third_ack_without_ack_flag(|p: &mut Vec<Vec<u8>>| p[2] = up("P", C + 1, 0, b""), &[(3, "tcp.bad_handshake")])]
    #[case::second_syn_ack_new_isn(|p: &mut Vec<Vec<u8>>| p.insert(3, down("SA", S + 100, C + 1, b"")), &[(4, "tcp.bad_handshake")])]
    #[case::server_reply_without_syn(|p: &mut Vec<Vec<u8>>| p[1] = down("A", S, C + 1, b""), &[(2, "tcp.bad_handshake")])]
    #[case::port_reuse_after_close(|p: &mut Vec<Vec<u8>>| p.extend(tcp_conversation(GET, OK)), &[(12, "tcp.port_reuse")])]
    #[case::port_reuse_while_open(
        |p: &mut Vec<Vec<u8>>| {
            p.truncate(6);
            p.extend(conversation_with(C + 77_777, S + 88_888));
        },
        &[(7, "tcp.port_reuse")]
    )]
    #[case::data_in_syn(|p: &mut Vec<Vec<u8>>| p[0] = up("S", C, 0, b"hello"), &[(1, "tcp.syn_data")])]
    #[case::data_in_syn_ack(|p: &mut Vec<Vec<u8>>| p[1] = down("SA", S, C + 1, b"hello"), &[(2, "tcp.syn_data")])]
    #[case::client_data_before_syn_ack(|p: &mut Vec<Vec<u8>>| p.insert(1, up("P", C + 1, 0, b"early")), &[(2, "tcp.data_before_handshake")])]
    #[case::server_data_before_third_ack(|p: &mut Vec<Vec<u8>>| p.insert(2, down("PA", S + 1, C + 1, b"early")), &[(3, "tcp.data_before_handshake")])]
    fn test_single_mutation(#[case] mutate: fn(&mut Vec<Vec<u8>>), #[case] expected: &[(u64, &str)]) {
        let mut frames = tcp_conversation(GET, OK);
        mutate(&mut frames);
        // Through every check (other layers may add their own findings, e.g.
        // HTTP on a non-HTTP payload on port 80): the TCP ones are exact.
        let findings = check_frames(LinkType::Raw, &frames);
        let tcp_findings: Vec<&Finding> =
            findings.iter().filter(|f| f.protocol == Protocol::Tcp && f.severity >= Severity::Warn).collect();
        let tcp_ids: Vec<_> = tcp_findings.iter().map(|f| (f.frame, f.check.to_string())).collect();
        assert_eq!(tcp_ids, owned(expected), "{findings:#?}");
        // The TCP check alone says the same.
        assert_eq!(ids(&run_tcp(&frames, Limits::default())), owned(expected));
        for finding in tcp_findings {
            // Warnings: what may be normal, what the end of the flow
            // revealed, and what a flow picked up mid-stream cannot know.
            let warn = ["tcp.port_reuse", "tcp.no_handshake", "tcp.syn_data"].contains(&&*finding.check)
                || (finding.check == "tcp.fin_accounting" && finding.message.contains("no later ACK covers the FIN"))
                || (finding.check == "tcp.seq_gap" && finding.message.contains("the flow started before the capture"));
            let severity = if warn { Severity::Warn } else { Severity::Error };
            assert_eq!(finding.severity, severity, "{finding}");
            assert_eq!(finding.protocol, Protocol::Tcp);
        }
    }

    #[test]
    fn test_messages_state_found_and_expected() {
        let mut frames = tcp_conversation(GET, OK);
        frames[1] = down("SA", S, C + 2, b"");
        frames[2] = up("A", C + 1, S + 2, b"");
        let findings = run_tcp(&frames, Limits::default());
        let messages: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "SYN-ACK acknowledges 1002, expected client ISN+1 = 1001",
                "handshake ACK acknowledges 5002, expected server ISN+1 = 5001"
            ]
        );
        let mut frames = tcp_conversation(GET, OK);
        frames[5] = down("PA", S + 11, C + 1 + Q, OK);
        let findings = run_tcp(&frames, Limits::default());
        assert_eq!(findings[0].message, "SEQ 5011, expected 5001: 10 bytes skipped (previous segment not captured)");
    }

    #[test]
    fn test_messages_cite_only_packets_that_exist() {
        // The server answers the SYN without the SYN flag, then sends data:
        // there is no SYN-ACK for a message to cite.
        let mut frames = tcp_conversation(GET, OK);
        frames[1] = down("A", S, C + 1, b"");
        frames.insert(2, down("PA", S + 1, C + 1, b"early"));
        let findings = run_tcp(&frames, Limits::default());
        let early =
            findings.iter().find(|f| f.check == "tcp.data_before_handshake").expect("server data before the handshake");
        assert_eq!(early.message, "server sent 5 bytes before the handshake completed (no SYN-ACK was sent)");
        // With a SYN-ACK, the message names its frame.
        let mut frames = tcp_conversation(GET, OK);
        frames.insert(2, down("PA", S + 1, C + 1, b"early"));
        let findings = run_tcp(&frames, Limits::default());
        assert_eq!(findings[0].message, "server sent 5 bytes before the client acknowledged the SYN-ACK (frame 2)");
    }

    #[test]
    fn test_full_pipeline_agrees() {
        // The same faults through every check: no other check adds a
        // finding at warn or above to these.
        let mut frames = tcp_conversation(GET, OK);
        frames[8] = down("A", S + 1 + R, C + 1 + Q, b"");
        frames[9] = down("FA", S + 1 + R, C + 1 + Q, b"");
        assert_eq!(ids(&check_frames(LinkType::Raw, &frames)), vec![(9, "tcp.fin_accounting".to_string())]);
        let mut frames = tcp_conversation(GET, OK);
        frames.extend(tcp_conversation(GET, OK));
        assert_eq!(ids(&check_frames(LinkType::Raw, &frames)), vec![(12, "tcp.port_reuse".to_string())]);
        let mut frames = tcp_conversation(GET, OK);
        frames[4][20 + 16] ^= 0x01;
        assert_eq!(ids(&check_frames(LinkType::Raw, &frames)), vec![(5, "tcp.bad_checksum".to_string())]);
    }

    #[test]
    fn test_notes() {
        // A retransmitted request, a keep-alive and an unfinished flow are
        // notes, never warnings.
        let mut frames = tcp_conversation(GET, OK);
        frames.insert(4, up("PA", C + 1, S + 1, GET));
        frames.insert(8, up("A", C + Q, S + 1 + R, b""));
        frames.truncate(9);
        let findings = run_tcp(&frames, Limits::default());
        assert_eq!(at(&findings, Severity::Error), vec![]);
        assert_eq!(at(&findings, Severity::Warn), vec![]);
        assert_eq!(
            at(&findings, Severity::Note),
            owned(&[(5, "tcp.retransmission"), (9, "tcp.retransmission"), (9, "tcp.not_closed")])
        );
        assert!(findings[1].message.starts_with("keep-alive"), "{}", findings[1].message);
    }

    #[test]
    fn test_rst_ends_flow_cleanly() {
        let mut frames = tcp_conversation(GET, OK);
        frames.truncate(7);
        frames.push(up("RA", C + 1 + Q, S + 1 + R, b""));
        frames.push(down("R", S + 1 + R, 0, b""));
        assert_eq!(run_tcp(&frames, Limits::default()), vec![]);
        // Connection refused: SYN answered by RST-ACK.
        let frames = vec![up("S", C, 0, b""), down("RA", 0, C + 1, b"")];
        assert_eq!(run_tcp(&frames, Limits::default()), vec![]);
    }

    #[test]
    fn test_fin_retransmission_is_a_note() {
        let mut frames = tcp_conversation(GET, OK);
        frames.insert(8, up("FA", C + 1 + Q, S + 1 + R, b""));
        let findings = run_tcp(&frames, Limits::default());
        assert_eq!(at(&findings, Severity::Error), vec![]);
        assert_eq!(at(&findings, Severity::Note), owned(&[(9, "tcp.retransmission")]));
    }

    #[test]
    fn test_wraparound() {
        for (c, s) in [(0xffff_fff0, 0xffff_fffa), (0xffff_ffff, 0x7fff_ffff), (0xffff_ff00 - Q, 0xffff_ffff - R)] {
            let frames = conversation_with(c, s);
            let findings = check_frames(LinkType::Raw, &frames);
            assert!(ids(&findings).is_empty(), "{c:#x}/{s:#x}: {findings:?}");
            assert!(findings.iter().all(|f| f.protocol != Protocol::Tcp), "{c:#x}/{s:#x}: {findings:?}");
        }
        // And a fault across the wrap is still caught.
        let mut frames = conversation_with(0xffff_fff0, 0xffff_fffa);
        frames[5] = down("PA", 0xffff_fffa_u32.wrapping_add(11), 0xffff_fff0_u32.wrapping_add(1 + Q), OK);
        assert_eq!(ids(&run_tcp(&frames, Limits::default())), vec![(6, "tcp.seq_gap".to_string())]);
    }

    #[test]
    fn test_truncated_capture_is_not_a_gap() {
        // A snap length that cuts the request: no checksum verdict, and the
        // segment length still comes from the IP header.
        let frames = tcp_conversation(GET, OK);
        let raws: Vec<RawFrame<'_>> = frames
            .iter()
            .enumerate()
            .map(|(i, data)| {
                let cut = if i == 3 { &data[..50] } else { &data[..] };
                RawFrame { linktype: LinkType::Raw, ts: 0, orig_len: data.len() as u32, data: cut, offset: 0 }
            })
            .collect();
        assert_eq!(run_raw(&raws, Limits::default()), vec![]);
    }

    #[test]
    fn test_bounded_flows() {
        // Many unfinished flows through a small table: memory stays flat and
        // each flow is noted once, when evicted or at the end.
        let mut frames = Vec::new();
        for port in 0..100u16 {
            frames.push(tcp(A, B, 10_000 + port, 80, "S", C, 0, b""));
            frames.push(tcp(B, A, 80, 10_000 + port, "SA", S, C + 1, b""));
        }
        let findings = run_tcp(&frames, Limits { max_flows: 8, ..Limits::default() });
        assert!(ids(&findings).is_empty());
        let notes = findings.iter().filter(|f| f.check == "tcp.not_closed").count();
        assert_eq!(notes, 100);
    }

    proptest! {
        #[test]
        fn prop_mutations_never_panic(
            edits in prop::collection::vec((0usize..11, any::<usize>(), any::<u8>()), 1..12),
            cut in prop::option::of((0usize..11, any::<usize>())),
        ) {
            let mut frames = tcp_conversation(GET, OK);
            for (packet, byte, value) in edits {
                let len = frames[packet].len();
                frames[packet][byte % len] ^= value;
            }
            if let Some((packet, at)) = cut {
                let len = frames[packet].len();
                frames[packet].truncate(at % (len + 1));
            }
            run_tcp(&frames, Limits { max_flows: 8, ..Limits::default() });
            check_frames(LinkType::Raw, &frames);
        }

        #[test]
        fn prop_arbitrary_segments_never_panic(
            segments in prop::collection::vec((any::<bool>(), 0u8..64, any::<u32>(), any::<u32>(), 0usize..3), 1..40),
        ) {
            let flags = ["S", "A", "F", "R", "P", "U"];
            let frames: Vec<Vec<u8>> = segments
                .into_iter()
                .map(|(up_dir, bits, seq, ack, len)| {
                    let f: String = flags.iter().enumerate().filter(|(i, _)| bits & (1 << i) != 0).map(|(_, f)| *f).collect();
                    let payload = &b"xyz"[..len];
                    if up_dir { up(&f, seq % 8, ack % 8, payload) } else { down(&f, seq, ack, payload) }
                })
                .collect();
            run_tcp(&frames, Limits { max_flows: 8, ..Limits::default() });
        }
    }
}
