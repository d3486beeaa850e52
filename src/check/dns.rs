//! DNS checks (RFC 1035): header counts against the records really present,
//! malformed names and records, query/response direction, pairing of
//! responses with queries by flow and id, and the question echoed back;
//! where the OPT pseudo-record (RFC 6891) and a negative answer's SOA (RFC
//! 2308) may stand.

use super::reassembly::{Budget, Buf, Piece};
use super::{ip4, FlowTable, Limits, Sink};
use crate::dissect::{Frame, Transport, DNS_PORTS};
use crate::finding::{Protocol, Severity};
use crate::wire::dns::{self, Question, Rcode, RecordType};

/// A flow as (client address, client port, server address, server port).
type FlowKey = ([u8; 4], u16, [u8; 4], u16);

#[derive(Debug)]
struct PendingQuery {
    id: u16,
    frame: u64,
    question: Option<Question>,
    /// Whether a response came: a zone transfer (AXFR, IXFR) stays pending
    /// after its first message, as its answer spans several (RFC 5936 §2.2).
    answered: bool,
}

/// QTYPEs whose answer may span several messages with the query's id:
/// IXFR (RFC 1995) and AXFR (RFC 5936).
fn is_transfer(question: Option<&Question>) -> bool {
    question.is_some_and(|q| matches!(q.qtype, RecordType::Unknown(251 | 252)))
}

/// Pairs responses with queries.
#[derive(Debug, Default)]
pub(crate) struct DnsCheck {
    flows: FlowTable<FlowKey, Vec<PendingQuery>>,
}

impl DnsCheck {
    /// Make a check holding at most `limits.max_flows` flows.
    pub(crate) fn new(limits: Limits) -> DnsCheck {
        DnsCheck { flows: FlowTable::new(limits.max_flows) }
    }

    /// Check one UDP datagram carrying DNS (DNS over TCP comes reassembled,
    /// through [`TcpFlow`]).
    pub(crate) fn check(&mut self, frame: &Frame<'_>, sink: &mut Sink) {
        if !frame.present.contains(Protocol::Dns) || !matches!(frame.transport, Transport::Udp(_)) {
            return;
        }
        let (Some((src, dst)), Some((sport, dport))) = (frame.ipv4_addrs(), frame.ports()) else { return };
        self.message(frame.app_payload(), (src, sport, dst, dport), frame.number, 0, false, sink);
    }

    /// Check one DNS message sent from `(src, sport)` to `(dst, dport)`,
    /// found in frame `number` (over TCP: completed in it, started in
    /// `started` when that is another frame, else 0). `partial`: the flow
    /// began before the capture, so a response may answer a query the
    /// capture missed.
    #[allow(clippy::too_many_arguments)]
    fn message(
        &mut self,
        message: &[u8],
        (src, sport, dst, dport): FlowKey,
        number: u64,
        started: u64,
        partial: bool,
        sink: &mut Sink,
    ) {
        let from =
            if started != 0 && started != number { format!(" (message from frame {started})") } else { String::new() };
        let mut sink = Tagged { sink, suffix: &from };
        let sink = &mut sink;
        let walk = dns::walk(message);
        let Some(header) = &walk.header else { return };
        report_structure(&walk, message.len(), sink);
        report_placement(&walk, sink);
        let response = header.flags.response;
        let server_src = DNS_PORTS.contains(&sport);
        let server_dst = DNS_PORTS.contains(&dport);
        if server_src != server_dst && response != server_src {
            let (what, towards) = if response { ("response", "to") } else { ("query", "from") };
            let port = if response { dport } else { sport };
            sink.report(
                Severity::Error,
                "dns.qr_direction",
                Protocol::Dns,
                format!("{what} sent {towards} the server port {port} (QR bit contradicts the direction)"),
            );
        }
        let rcode = u8::from(header.flags.rcode);
        if !response && rcode != 0 {
            sink.report(Severity::Warn, "dns.bad_rcode", Protocol::Dns, format!("query carries rcode {rcode}"));
        } else if rcode > 10 {
            sink.report(
                Severity::Warn,
                "dns.bad_rcode",
                Protocol::Dns,
                format!("rcode {rcode} is unassigned without EDNS"),
            );
        }
        if !response && header.counts[1] > 0 {
            sink.report(
                Severity::Warn,
                "dns.query_with_answers",
                Protocol::Dns,
                format!("query declares {} answer records", header.counts[1]),
            );
        }
        let question = walk.questions.first().cloned();
        if !response {
            let key = (src, sport, dst, dport);
            let pending = self.flows.entry(&key, Vec::new, |key, old| unanswered_all(sink.sink, key, old));
            // A retransmitted query replaces the older one with the same id.
            pending.retain(|q| q.id != header.id);
            pending.push(PendingQuery {
                id: header.id,
                frame: if started != 0 { started } else { number },
                question,
                answered: false,
            });
            return;
        }
        let key = (dst, dport, src, sport);
        let Some(pending) = self.flows.get_mut(&key) else {
            sink.report(
                Severity::Warn,
                "dns.unsolicited_response",
                Protocol::Dns,
                format!("response id 0x{:04x} from {}:{sport} answers no query", header.id, ip4(src)),
            );
            return;
        };
        match pending.iter().position(|q| q.id == header.id) {
            Some(index) if pending[index].answered && question.is_none() => {
                // A later message of a zone transfer: RFC 5936 §2.2 lets
                // it omit the question.
            }
            Some(index) => {
                let transfer = is_transfer(pending[index].question.as_ref());
                let query = if transfer {
                    pending[index].answered = true;
                    PendingQuery {
                        id: pending[index].id,
                        frame: pending[index].frame,
                        question: pending[index].question.clone(),
                        answered: true,
                    }
                } else {
                    pending.remove(index)
                };
                if let (Some(asked), Some(echoed)) = (&query.question, &question) {
                    if !dns::names_equal(&asked.name, &echoed.name)
                        || asked.qtype != echoed.qtype
                        || asked.qclass != echoed.qclass
                    {
                        sink.report(
                            Severity::Error,
                            "dns.question_mismatch",
                            Protocol::Dns,
                            format!(
                                "response question {} {} differs from the query's {} {} (frame {})",
                                echoed.name, echoed.qtype, asked.name, asked.qtype, query.frame
                            ),
                        );
                    }
                } else if query.question.is_some() && question.is_none() && walk.error.is_none() {
                    sink.report(
                        Severity::Error,
                        "dns.question_mismatch",
                        Protocol::Dns,
                        format!("response does not echo the question of the query (frame {})", query.frame),
                    );
                }
            }
            None if partial => sink.report(
                Severity::Warn,
                "dns.unsolicited_response",
                Protocol::Dns,
                format!(
                    "response id 0x{:04x} matches no query seen on this flow (it began before the capture)",
                    header.id
                ),
            ),
            None => {
                let ids: Vec<String> = pending.iter().map(|q| format!("0x{:04x}", q.id)).collect();
                let detail = if ids.is_empty() {
                    "no query is outstanding".to_string()
                } else {
                    format!("outstanding query ids: {}", ids.join(", "))
                };
                sink.report(
                    Severity::Error,
                    "dns.id_mismatch",
                    Protocol::Dns,
                    format!("response id 0x{:04x} matches no query on this flow ({detail})", header.id),
                );
            }
        }
    }

    /// Report queries that got no response.
    pub(crate) fn finish(&mut self, sink: &mut Sink) {
        for (key, pending) in self.flows.drain_by_age() {
            unanswered_all(sink, key, pending);
        }
    }
}

/// A sink that names, in each message, the frame where a reassembled DNS
/// message started (empty suffix for a message in one frame).
struct Tagged<'a> {
    sink: &'a mut Sink,
    suffix: &'a str,
}

impl Tagged<'_> {
    /// Report a finding about the frame being checked.
    fn report(&mut self, severity: Severity, check: &'static str, protocol: Protocol, message: String) {
        let message = if self.suffix.is_empty() { message } else { message + self.suffix };
        self.sink.report(severity, check, protocol, message);
    }
}

/// One direction of a DNS-over-TCP stream: length-prefixed messages (RFC
/// 1035 §4.2.2, RFC 7766 §8).
#[derive(Debug, Default)]
struct TcpDirection {
    /// The partial message, length prefix included.
    buf: Buf,
    /// Frame where the partial message started.
    started: u64,
    /// Out of step after a gap: the rest of the stream is not parsed.
    lost: bool,
    /// Picked up mid-stream: where a message starts is unknown, so the
    /// stream is not parsed, but its bytes count as DNS.
    unsynced: bool,
}

/// Where a piece of a DNS-over-TCP stream comes from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Leg {
    /// The direction within the flow (0: from the lower endpoint).
    pub(crate) dir: usize,
    /// The sender and the receiver, as (address, port).
    pub(crate) ends: (([u8; 4], u16), ([u8; 4], u16)),
    /// The frame being checked.
    pub(crate) now: u64,
}

/// The DNS state of one TCP flow (kept in the checker's shared TCP flow
/// table).
#[derive(Debug, Default)]
pub(crate) struct TcpFlow {
    /// Per direction: 0 = from the lower endpoint, 1 = from the higher.
    dirs: [TcpDirection; 2],
    /// Whether the flow began before the capture.
    midstream: bool,
}

impl TcpFlow {
    /// Make the state of a flow picked up mid-stream: its messages'
    /// boundaries are unknown, so nothing is parsed (there is no marker to
    /// find the next message by).
    pub(crate) fn midstream() -> TcpFlow {
        let mut flow = TcpFlow { midstream: true, ..TcpFlow::default() };
        for d in &mut flow.dirs {
            d.unsynced = true;
        }
        flow
    }

    /// Feed one piece of the direction `leg` names; return whether its
    /// bytes belong to DNS messages.
    pub(crate) fn piece(
        &mut self,
        leg: Leg,
        piece: Piece<'_>,
        dns: &mut DnsCheck,
        budget: &mut Budget,
        sink: &mut Sink,
    ) -> bool {
        let Leg { dir, ends: (from, to), now } = leg;
        let d = &mut self.dirs[dir];
        let (frame, mut data) = match piece {
            Piece::Gap(_) => {
                d.lost = true;
                d.buf.clear(budget);
                return false;
            }
            Piece::Bytes { .. } if d.lost => return false,
            Piece::Bytes { frame, data } => (frame, data),
        };
        if d.unsynced {
            // Synchronise on a segment that holds whole messages only.
            if !whole_messages(data) {
                return true;
            }
            d.unsynced = false;
        }
        let key = (from.0, from.1, to.0, to.1);
        while !data.is_empty() {
            if d.buf.is_empty() {
                d.started = frame;
                // The whole message in this piece: no copy.
                if let [a, b, rest @ ..] = data {
                    let len = usize::from(u16::from_be_bytes([*a, *b]));
                    if rest.len() >= len {
                        dns.message(&rest[..len], key, now, d.started, self.midstream, sink);
                        data = &rest[len..];
                        continue;
                    }
                }
            }
            // Complete the prefix, then the message, from the buffer.
            let have = d.buf.len();
            let need = if have < 2 {
                2 - have
            } else {
                2 + usize::from(u16::from_be_bytes([d.buf.bytes()[0], d.buf.bytes()[1]])) - have
            };
            let take = need.min(data.len());
            if !d.buf.append(&data[..take], 2 + usize::from(u16::MAX), budget) {
                // Out of reassembly memory: give the stream up.
                d.lost = true;
                d.buf.clear(budget);
                return true;
            }
            data = &data[take..];
            let bytes = d.buf.bytes();
            if bytes.len() >= 2 && bytes.len() == 2 + usize::from(u16::from_be_bytes([bytes[0], bytes[1]])) {
                let message = d.buf.take(budget);
                dns.message(&message[2..], key, now, d.started, self.midstream, sink);
            }
        }
        true
    }

    /// Return whether direction `dir` is in step.
    pub(crate) fn in_sync(&self, dir: usize) -> bool {
        self.dirs[dir].unsynced || !self.dirs[dir].lost
    }

    /// Report messages cut short by the end of the flow, and give back the
    /// buffered bytes.
    pub(crate) fn finish(&mut self, budget: &mut Budget, sink: &mut Sink) {
        for d in &mut self.dirs {
            let bytes = d.buf.bytes();
            if bytes.len() >= 2 {
                let declared = u16::from_be_bytes([bytes[0], bytes[1]]);
                sink.report_at(
                    d.started,
                    Severity::Warn,
                    "dns.bad_length",
                    Protocol::Dns,
                    format!(
                        "TCP length prefix announces a {declared}-byte message; {} bytes arrived before the flow ended",
                        bytes.len() - 2
                    ),
                );
            }
            d.buf.clear(budget);
        }
    }
}

/// Return whether `data` is one or more whole length-prefixed DNS messages,
/// each of which parses.
fn whole_messages(mut data: &[u8]) -> bool {
    while let [a, b, rest @ ..] = data {
        let len = usize::from(u16::from_be_bytes([*a, *b]));
        if rest.len() < len || len < dns::HEADER_LEN || dns::walk(&rest[..len]).error.is_some() {
            return false;
        }
        data = &rest[len..];
    }
    data.is_empty()
}

/// Report count mismatches and malformed records found by the walk.
fn report_structure(walk: &dns::Walk, len: usize, sink: &mut Tagged<'_>) {
    let Some(header) = &walk.header else { return };
    if let Some(error) = &walk.error {
        // Nothing left where a declared record should start: the header
        // promises more records than the message holds.
        let missing = error.section.count_slot().filter(|_| error.offset >= len);
        if let Some(i) = missing {
            sink.report(
                Severity::Error,
                "dns.count_mismatch",
                Protocol::Dns,
                format!(
                    "header declares {} {} records but only {} are present",
                    header.counts[i], error.section, walk.present[i]
                ),
            );
        } else {
            sink.report(Severity::Error, "dns.malformed", Protocol::Dns, format!("{error}"));
        }
    } else if walk.trailing > 0 {
        sink.report(
            Severity::Error,
            "dns.count_mismatch",
            Protocol::Dns,
            format!(
                "{} bytes follow the last declared record (counts qd={} an={} ns={} ar={} are below the records present)",
                walk.trailing, header.counts[0], header.counts[1], header.counts[2], header.counts[3]
            ),
        );
    }
}

/// Report records in sections where their RFCs do not put them.
fn report_placement(walk: &dns::Walk, sink: &mut Tagged<'_>) {
    let Some(header) = &walk.header else { return };
    const SECTIONS: [&str; 4] = ["question", "answer", "authority", "additional"];
    // RFC 6891 §6.1.1: "The OPT RR MAY be placed anywhere within the
    // additional data section. When an OPT RR is included within any DNS
    // message, it MUST be the only OPT RR in that message."
    let [_, an, ns, ar] = walk.opt;
    if an + ns > 0 {
        let (slot, n) = if an > 0 { (1, an) } else { (2, ns) };
        sink.report(
            Severity::Error,
            "dns.opt_misplaced",
            Protocol::Dns,
            format!(
                "{n} OPT record(s) in the {} section; RFC 6891 allows it only in the additional section",
                SECTIONS[slot]
            ),
        );
    } else if ar > 1 {
        sink.report(
            Severity::Error,
            "dns.opt_misplaced",
            Protocol::Dns,
            format!("{ar} OPT records; RFC 6891 allows one per message"),
        );
    }
    // RFC 2308 §3: a negative answer (NXDOMAIN, or NODATA: no answer of the
    // type asked) carries the zone's SOA in the authority section. An SOA
    // asked for (or ANY) is a positive answer.
    if !header.flags.response {
        return;
    }
    let asked = walk.questions.first().map(|q| q.qtype);
    if matches!(asked, Some(RecordType::Soa | RecordType::Any)) {
        return;
    }
    let [_, an, _, ar] = walk.soa;
    let nodata = header.flags.rcode == Rcode::NoError && walk.present[1] == an;
    let negative = header.flags.rcode == Rcode::NxDomain || nodata;
    if negative && an + ar > 0 {
        let slot = if an > 0 { 1 } else { 3 };
        let answer = if header.flags.rcode == Rcode::NxDomain { "NXDOMAIN" } else { "NODATA" };
        sink.report(
            Severity::Warn,
            "dns.soa_misplaced",
            Protocol::Dns,
            format!(
                "SOA of a negative ({answer}) answer in the {} section; RFC 2308 §3 puts it in the authority section",
                SECTIONS[slot]
            ),
        );
    }
}

fn unanswered_all(sink: &mut Sink, (client, cport, server, sport): FlowKey, pending: Vec<PendingQuery>) {
    for query in pending.into_iter().filter(|q| !q.answered) {
        sink.report_at(
            query.frame,
            Severity::Warn,
            "dns.unanswered",
            Protocol::Dns,
            format!(
                "query id 0x{:04x} from {}:{cport} to {}:{sport} has no response",
                query.id,
                ip4(client),
                ip4(server)
            ),
        );
    }
}

#[cfg(test)]
mod test {
    use super::super::testutil::*;
    use crate::pcap::LinkType;
    use crate::wire::dns::{Flags, Question, Rcode, Record, RecordData, RecordType, Repr};

    fn query(id: u16) -> Repr {
        Repr {
            id,
            flags: Flags { recursion_desired: true, ..Flags::default() },
            questions: vec![Question { name: "example.com".into(), qtype: RecordType::A, qclass: 1 }],
            answers: vec![],
            authorities: vec![],
            additionals: vec![],
        }
    }

    fn response(id: u16) -> Repr {
        let mut repr = query(id);
        repr.flags.response = true;
        repr.flags.recursion_available = true;
        repr.answers.push(Record {
            name: "example.com".into(),
            rtype: RecordType::A,
            class: 1,
            ttl: 300,
            data: RecordData::A([93, 184, 216, 34].into()),
        });
        repr
    }

    fn frames(q: &Repr, r: &Repr) -> Vec<Vec<u8>> {
        vec![udp(A, B, 40000, 53, &q.to_bytes()), udp(B, A, 53, 40000, &r.to_bytes())]
    }

    fn run(frames: &[Vec<u8>]) -> Vec<(u64, String)> {
        ids(&check_frames(LinkType::Raw, frames))
    }

    #[test]
    fn test_clean_exchange() {
        assert_eq!(run(&frames(&query(0x1234), &response(0x1234))), vec![]);
    }

    #[test]
    fn test_copied_few_shot_id() {
        let found = run(&frames(&query(0x1234), &response(0x0aba)));
        assert_eq!(found, vec![(1, "dns.unanswered".into()), (2, "dns.id_mismatch".into())]);
    }

    #[test]
    fn test_question_not_echoed() {
        let mut r = response(0x1234);
        r.questions[0].name = "example.org".into();
        assert_eq!(run(&frames(&query(0x1234), &r)), vec![(2, "dns.question_mismatch".into())]);
    }

    #[test]
    fn test_count_above_records() {
        let mut bytes = response(0x1234).to_bytes();
        bytes[7] = 2; // ancount 2, one answer present
        let frames = vec![udp(A, B, 40000, 53, &query(0x1234).to_bytes()), udp(B, A, 53, 40000, &bytes)];
        assert_eq!(run(&frames), vec![(2, "dns.count_mismatch".into())]);
    }

    #[test]
    fn test_count_below_records() {
        let mut bytes = response(0x1234).to_bytes();
        bytes[7] = 0; // ancount 0, one answer present
        let frames = vec![udp(A, B, 40000, 53, &query(0x1234).to_bytes()), udp(B, A, 53, 40000, &bytes)];
        assert_eq!(run(&frames), vec![(2, "dns.count_mismatch".into())]);
    }

    #[test]
    fn test_qr_direction() {
        let mut q = query(0x1234);
        q.flags.response = true;
        let found = run(&[udp(A, B, 40000, 53, &q.to_bytes())]);
        assert!(found.contains(&(1, "dns.qr_direction".into())), "{found:?}");
    }

    fn opt() -> Record {
        // RFC 6891 §6.1.2: root name, CLASS = UDP payload size, no options.
        Record { name: String::new(), rtype: RecordType::Opt, class: 1232, ttl: 0, data: RecordData::Raw(vec![]) }
    }

    fn soa() -> Record {
        let data = crate::wire::dns::example_soa("ns.example.com");
        Record { name: "example.com".into(), rtype: RecordType::Soa, class: 1, ttl: 300, data }
    }

    #[test]
    fn test_opt_placement() {
        // RFC 6891 §6.1.1: one OPT, in the additional section.
        let (mut q, mut r) = (query(7), response(7));
        q.additionals.push(opt());
        r.additionals.push(opt());
        assert_eq!(run(&frames(&q, &r)), vec![]);
        let mut in_answers = response(7);
        in_answers.answers.push(opt());
        assert_eq!(run(&frames(&q, &in_answers)), vec![(2, "dns.opt_misplaced".into())]);
        let mut twice = query(7);
        twice.additionals.extend([opt(), opt()]);
        assert_eq!(run(&frames(&twice, &r)), vec![(1, "dns.opt_misplaced".into())]);
    }

    #[test]
    fn test_negative_answer_soa_placement() {
        // RFC 2308 §3: the SOA of NXDOMAIN / NODATA goes in the authority
        // section.
        let q = query(9);
        let mut nx = response(9);
        nx.flags.rcode = Rcode::NxDomain;
        nx.answers.clear();
        nx.authorities.push(soa());
        assert_eq!(run(&frames(&q, &nx)), vec![]);
        let mut nx_in_answer = nx.clone();
        nx_in_answer.authorities.clear();
        nx_in_answer.answers.push(soa());
        assert_eq!(run(&frames(&q, &nx_in_answer)), vec![(2, "dns.soa_misplaced".into())]);
        let mut nodata_in_additional = response(9);
        nodata_in_additional.answers.clear();
        nodata_in_additional.additionals.push(soa());
        assert_eq!(run(&frames(&q, &nodata_in_additional)), vec![(2, "dns.soa_misplaced".into())]);
        // An SOA asked for is a positive answer; an SOA beside real answers
        // is no negative answer.
        let mut soa_query = query(9);
        soa_query.questions[0].qtype = RecordType::Soa;
        let mut soa_answer = soa_query.clone();
        soa_answer.flags.response = true;
        soa_answer.answers.push(soa());
        assert_eq!(run(&frames(&soa_query, &soa_answer)), vec![]);
        let mut positive = response(9);
        positive.additionals.push(soa());
        assert_eq!(run(&frames(&q, &positive)), vec![]);
    }

    #[test]
    fn test_unanswered() {
        assert_eq!(run(&[udp(A, B, 40000, 53, &query(1).to_bytes())]), vec![(1, "dns.unanswered".into())]);
    }

    /// A DNS message framed for TCP: the two-byte length, then the message.
    fn framed(repr: &Repr) -> Vec<u8> {
        let bytes = repr.to_bytes();
        [&(bytes.len() as u16).to_be_bytes()[..], &bytes].concat()
    }

    #[test]
    fn test_tcp_message_split_across_segments() {
        let q = framed(&query(0x1234));
        let r = framed(&response(0x1234));
        // The length prefix alone, then the rest; the response cut inside
        // a name.
        let frames = segmented(53, &[&q[..2], &q[2..]], &[&r[..20], &r[20..]]);
        assert_eq!(run(&frames), vec![]);
        let present = presence(LinkType::Raw, &frames, crate::finding::Protocol::Dns);
        assert_eq!(present.iter().filter(|p| **p).count(), 4, "every data segment carries DNS: {present:?}");
    }

    #[test]
    fn test_tcp_several_messages_per_segment() {
        // Two queries pipelined in one segment (RFC 7766 §6.2.1.1), the
        // answers in another, out of order.
        let queries = [framed(&query(1)), framed(&query(2))].concat();
        let answers = [framed(&response(2)), framed(&response(1))].concat();
        assert_eq!(run(&segmented(53, &[&queries], &[&answers])), vec![]);
        // A wrong id among them is still caught, on its frame.
        let answers = [framed(&response(2)), framed(&response(7))].concat();
        assert_eq!(
            run(&segmented(53, &[&queries], &[&answers])),
            vec![(4, "dns.unanswered".into()), (6, "dns.id_mismatch".into())]
        );
    }

    #[test]
    fn test_zone_transfer_spans_messages() {
        let axfr = |id| {
            let mut repr = query(id);
            repr.questions[0].qtype = RecordType::Unknown(252);
            repr.flags.recursion_desired = false;
            repr
        };
        let first = {
            let mut r = response(9);
            r.questions[0].qtype = RecordType::Unknown(252);
            r
        };
        // Later messages carry no question (RFC 5936 §2.2).
        let mut next = response(9);
        next.questions.clear();
        let answers = [framed(&first), framed(&next), framed(&next)].concat();
        let frames = segmented(53, &[&framed(&axfr(9))], &[&answers[..30], &answers[30..]]);
        assert_eq!(run(&frames), vec![]);
    }

    #[test]
    fn test_tcp_message_cut_by_the_end() {
        let q = framed(&query(0x1234));
        let found = run(&segmented(53, &[&q[..q.len() - 3]], &[]));
        assert_eq!(found, vec![(4, "dns.bad_length".into())]);
    }

    #[test]
    fn test_tcp_picked_up_mid_stream() {
        let q = framed(&query(1));
        let r = framed(&response(1));
        let q2 = framed(&query(2));
        let wrong = framed(&response(3));
        // The capture starts inside the first query: its tail is not
        // parsed; the messages after the first whole-message segment are.
        let frames = segmented(53, &[&q[..9], &q[9..], &q2], &[&r, &wrong]);
        let found = run(&frames[4..]);
        assert!(found.contains(&(1, "tcp.no_handshake".into())), "{found:?}");
        // The response to the query whose start was missed is a warning;
        // the wrong id after a query seen whole stays an error.
        assert_eq!(
            found.iter().filter(|(_, c)| c.starts_with("dns.")).cloned().collect::<Vec<_>>(),
            [
                (2, "dns.unanswered".to_string()),
                (4, "dns.unsolicited_response".to_string()),
                (5, "dns.unsolicited_response".to_string())
            ]
        );
        assert!(!found.iter().any(|(_, c)| c == "dns.malformed"), "{found:?}");
    }
}
