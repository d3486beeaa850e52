//! DNS checks (RFC 1035): header counts against the records really present,
//! malformed names and records, query/response direction, pairing of
//! responses with queries by flow and id, and the question echoed back;
//! where the OPT pseudo-record (RFC 6891) and a negative answer's SOA (RFC
//! 2308) may stand.

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

    /// Check one frame carrying DNS.
    pub(crate) fn check(&mut self, frame: &Frame<'_>, sink: &mut Sink) {
        if !frame.present.contains(Protocol::Dns) {
            return;
        }
        let (Some((src, dst)), Some((sport, dport))) = (frame.ipv4_addrs(), frame.ports()) else { return };
        let mut message = frame.app_payload();
        if let Transport::Tcp(_) = frame.transport {
            // RFC 1035 §4.2.2: a two-byte length prefix.
            let declared = usize::from(u16::from_be_bytes([message[0], message[1]]));
            message = &message[2..];
            if declared != message.len() {
                sink.report(
                    Severity::Warn,
                    "dns.bad_length",
                    Protocol::Dns,
                    format!("TCP length prefix {declared} but {} bytes follow", message.len()),
                );
            }
        }
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
            sink.report(Severity::Warn, "dns.bad_rcode", Protocol::Dns, format!("rcode {rcode} is unassigned without EDNS"));
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
        let number = frame.number;
        if !response {
            let key = (src, sport, dst, dport);
            let pending = self.flows.entry(&key, Vec::new, |key, old| unanswered_all(sink, key, old));
            // A retransmitted query replaces the older one with the same id.
            pending.retain(|q| q.id != header.id);
            pending.push(PendingQuery { id: header.id, frame: number, question });
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
            Some(index) => {
                let query = pending.remove(index);
                if let (Some(asked), Some(echoed)) = (&query.question, &question) {
                    if !dns::names_equal(&asked.name, &echoed.name) || asked.qtype != echoed.qtype || asked.qclass != echoed.qclass {
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
            None => {
                let ids: Vec<String> = pending.iter().map(|q| format!("0x{:04x}", q.id)).collect();
                let detail = if ids.is_empty() { "no query is outstanding".to_string() } else { format!("outstanding query ids: {}", ids.join(", ")) };
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

/// Report count mismatches and malformed records found by the walk.
fn report_structure(walk: &dns::Walk, len: usize, sink: &mut Sink) {
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
                    header.counts[i],
                    error.section,
                    walk.present[i]
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
fn report_placement(walk: &dns::Walk, sink: &mut Sink) {
    let Some(header) = &walk.header else { return };
    const SECTIONS: [&str; 4] = ["question", "answer", "authority", "additional"];
    // RFC 6891 §6.1.1: "The OPT RR MAY be placed anywhere within the
    // additional data section. When an OPT RR is included within any DNS
    // message, it MUST be the only OPT RR in that message."
    let [_, an, ns, ar] = walk.opt;
    if an + ns > 0 {
        let (slot, n) = if an > 0 { (1, an) } else { (2, ns) };
        sink.report(Severity::Error, "dns.opt_misplaced", Protocol::Dns, format!("{n} OPT record(s) in the {} section; RFC 6891 allows it only in the additional section", SECTIONS[slot]));
    } else if ar > 1 {
        sink.report(Severity::Error, "dns.opt_misplaced", Protocol::Dns, format!("{ar} OPT records; RFC 6891 allows one per message"));
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
            format!("SOA of a negative ({answer}) answer in the {} section; RFC 2308 §3 puts it in the authority section", SECTIONS[slot]),
        );
    }
}

fn unanswered_all(sink: &mut Sink, (client, cport, server, sport): FlowKey, pending: Vec<PendingQuery>) {
    for query in pending {
        sink.report_at(
            query.frame,
            Severity::Warn,
            "dns.unanswered",
            Protocol::Dns,
            format!("query id 0x{:04x} from {}:{cport} to {}:{sport} has no response", query.id, ip4(client), ip4(server)),
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
        repr.answers.push(Record { name: "example.com".into(), rtype: RecordType::A, class: 1, ttl: 300, data: RecordData::A([93, 184, 216, 34].into()) });
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
        let data = RecordData::Soa { mname: "ns.example.com".into(), rname: "hostmaster.example.com".into(), serial: 1, refresh: 7200, retry: 3600, expire: 1_209_600, minimum: 300 };
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
}
