//! What a summary asks for, and whether a trace delivers it.
//!
//! The expectation of a summary is the digest of its reference trace: per
//! packet, the fields the summary determines — addresses, ports, TCP flags,
//! ICMP type/code/id/seq, ARP operation and addresses, DNS id/direction/
//! question, HTTP method/target/status — and nothing it leaves free
//! (sequence numbers, TTLs, timestamps, headers). A trace is compared
//! packet by packet; every difference, and a different packet count, is a
//! `summary.mismatch` finding at error severity on the layer concerned, so
//! the packet counts as malformed and the conversation fails.
//!
//! Some findings are the summary's own wish: a lone echo request is
//! unanswered on purpose. [`Expectation::waived`] lists those check ids.
//!
//! This module only digests and compares traces; the reference trace is
//! written by the reference model and built by the JSON builder, a layer
//! above (`model::expect` builds expectations from summaries).

use std::borrow::Cow;

use etherparse::{LinkSlice, NetSlice, SlicedPacket, TransportSlice};

use super::{Mode, Scenario};
use crate::finding::{Finding, Protocol, Severity};
use crate::pcap::{LinkType, Trace, TracePacket};
use crate::wire::{dns, http};

/// The check id of every expectation finding.
pub const SUMMARY_MISMATCH: &str = "summary.mismatch";

/// The fields that name a day in the life's server in each protocol: the
/// DNS answer's addresses and the HTTP `Host` (the TCP destination is
/// `ip.dst`). Only [`Scenario::Day`] expectations keep them: its summary
/// names one server, and the answer, the connection and the request must
/// all refer to it.
pub const SERVER_FIELDS: [&str; 2] = ["dns.answers", "http.host"];

/// Own checks that pair packets (or compare one packet's claims with
/// another's): in packet mode every packet stands alone, so what they
/// report is the summary's own wish, not a fault.
pub const PAIRING_CHECKS: &[&str] = &[
    "icmp.unanswered",
    "icmp.unmatched_echo",
    "arp.unanswered",
    "arp.unsolicited_reply",
    "arp.duplicate_address",
    "dns.unanswered",
    "dns.unsolicited_response",
    "http.unanswered",
    "http.response_without_request",
    "tcp.no_handshake",
    "tcp.not_closed",
];

/// tshark's Expert Info items that pair packets, the counterparts of
/// [`PAIRING_CHECKS`]: waived with them in packet mode.
pub const PAIRING_EXPERTS: &[&str] =
    &["icmp.resp_not_found", "arp.duplicate-address-detected", "arp.duplicate-address-frame"];

/// Downgrade the pairing findings (own [`PAIRING_CHECKS`] and tshark's
/// [`PAIRING_EXPERTS`], and tshark's TCP sequence analysis) of a
/// packet-mode trace to notes: its packets are independent.
pub fn waive_pairing(findings: &mut [Finding]) {
    for f in findings.iter_mut() {
        let pairing = PAIRING_CHECKS.contains(&&*f.check)
            || f.expert.as_deref().is_some_and(|e| PAIRING_EXPERTS.contains(&e) || e.starts_with("tcp.analysis."));
        if pairing && f.severity >= Severity::Warn {
            f.severity = Severity::Note;
            f.message = format!("{} (packet mode: each packet stands alone)", f.message);
        }
    }
}

/// One field of one packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Field name (`ip.src`, `tcp.flags`, …).
    pub name: &'static str,
    /// The layer it belongs to.
    pub layer: Protocol,
    /// Its value, rendered.
    pub value: String,
}

/// The digest of one packet.
pub type Digest = Vec<Field>;

/// What one summary asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    /// One digest per packet.
    pub packets: Vec<Digest>,
    /// Checks whose findings the summary itself implies (a lone request is
    /// unanswered), downgraded to notes.
    pub waived: Vec<&'static str>,
}

impl Expectation {
    /// The expectation of `scenario` from `trace`, its reference trace
    /// (the reference model's answer, built): the digests of its packets,
    /// less the fields the summary leaves free, with the waivers of its
    /// mode.
    pub fn from_reference(scenario: &Scenario, trace: &Trace) -> Expectation {
        let waived = match scenario.mode() {
            Mode::Packet => PAIRING_CHECKS.to_vec(),
            Mode::Conversation => Vec::new(),
        };
        let mut packets = digests(trace);
        if !matches!(scenario, Scenario::Day(_)) {
            // Only a day in the life asks for one server across protocols.
            for p in &mut packets {
                p.retain(|f| !SERVER_FIELDS.contains(&f.name));
            }
        }
        if let Scenario::DnsConversation(d) = scenario {
            if d.client_port.is_none() {
                // The paper's DNS summaries leave the client port free
                // (its prompts pick RANDOM_PORT): only the server's 53 is asked for.
                for p in &mut packets {
                    p.retain(|f| !matches!((f.name, f.value.as_str()), ("udp.sport" | "udp.dport", v) if v != "53"));
                }
            }
        }
        Expectation { packets, waived }
    }

    /// The expectation of several summaries in a row (the packet lines of
    /// one packet-mode answer): their digests one after the other, and
    /// every waiver any of them has.
    pub fn concat(expectations: impl IntoIterator<Item = Expectation>) -> Expectation {
        let mut out = Expectation { packets: Vec::new(), waived: Vec::new() };
        for one in expectations {
            out.packets.extend(one.packets);
            for w in one.waived {
                if !out.waived.contains(&w) {
                    out.waived.push(w);
                }
            }
        }
        out
    }

    /// Findings for every way `trace` differs from the expectation, frame
    /// numbers 1-based within the trace.
    pub fn compare(&self, trace: &Trace) -> Vec<Finding> {
        let got = digests(trace);
        let mut out = Vec::new();
        if got.len() != self.packets.len() {
            let frame = got.len().clamp(1, usize::MAX) as u64;
            let what = if got.len() < self.packets.len() { "missing" } else { "extra" };
            out.push(mismatch(
                frame,
                Protocol::Frame,
                format!("{} packets, the summary asks for {} ({what} packets)", got.len(), self.packets.len()),
            ));
        }
        for (i, (want, have)) in self.packets.iter().zip(&got).enumerate() {
            let frame = i as u64 + 1;
            let mut reported = 0;
            for field in want {
                if reported == 3 {
                    break;
                }
                match have.iter().find(|f| f.name == field.name) {
                    Some(f) if f.value == field.value => {}
                    Some(f) => {
                        reported += 1;
                        out.push(mismatch(
                            frame,
                            field.layer,
                            format!("{} is {}, the summary asks for {}", field.name, f.value, field.value),
                        ));
                    }
                    None => {
                        reported += 1;
                        out.push(mismatch(
                            frame,
                            field.layer,
                            format!("no {} (the summary asks for {})", field.name, field.value),
                        ));
                    }
                }
            }
        }
        out
    }

    /// Downgrade the waived findings of `findings` to notes.
    pub fn apply_waivers(&self, findings: &mut [Finding]) {
        for f in findings.iter_mut() {
            if self.waived.iter().any(|w| *w == f.check) && f.severity >= Severity::Warn {
                f.severity = Severity::Note;
                f.message = format!("{} (expected: the summary asks for one packet)", f.message);
            }
        }
    }
}

fn mismatch(frame: u64, layer: Protocol, message: String) -> Finding {
    Finding::own(frame, Severity::Error, SUMMARY_MISMATCH, layer, message)
}

fn field(out: &mut Digest, name: &'static str, layer: Protocol, value: impl ToString) {
    out.push(Field { name, layer, value: value.to_string() });
}

fn mac(m: &[u8]) -> String {
    m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

fn tcp_flags(t: &etherparse::TcpSlice<'_>) -> String {
    let mut s = String::new();
    for (on, letter) in [(t.fin(), 'F'), (t.syn(), 'S'), (t.rst(), 'R'), (t.psh(), 'P'), (t.ack(), 'A'), (t.urg(), 'U')]
    {
        if on {
            s.push(letter);
        }
    }
    s
}

/// The digests of every packet of `trace`.
pub fn digests(trace: &Trace) -> Vec<Digest> {
    trace.packets.iter().map(|p| digest(trace.linktype, &p.data)).collect()
}

/// The digest of one frame.
pub fn digest(linktype: LinkType, data: &[u8]) -> Digest {
    let mut out = Vec::new();
    let sliced = match linktype {
        LinkType::Ethernet => SlicedPacket::from_ethernet(data),
        _ => SlicedPacket::from_ip(data),
    };
    let Ok(p) = sliced else {
        field(&mut out, "frame", Protocol::Frame, "undecodable");
        return out;
    };
    if let Some(LinkSlice::Ethernet2(e)) = &p.link {
        field(&mut out, "eth.src", Protocol::Eth, mac(&e.source()));
        field(&mut out, "eth.dst", Protocol::Eth, mac(&e.destination()));
    }
    match &p.net {
        Some(NetSlice::Arp(a)) => {
            field(&mut out, "arp.op", Protocol::Arp, a.operation().0);
            field(&mut out, "arp.sender_mac", Protocol::Arp, mac(a.sender_hw_addr()));
            field(&mut out, "arp.sender_ip", Protocol::Arp, ip4(a.sender_protocol_addr()));
            if a.operation().0 == 2 {
                field(&mut out, "arp.target_mac", Protocol::Arp, mac(a.target_hw_addr()));
            }
            field(&mut out, "arp.target_ip", Protocol::Arp, ip4(a.target_protocol_addr()));
        }
        Some(NetSlice::Ipv4(ip)) => {
            field(&mut out, "ip.src", Protocol::Ip, ip.header().source_addr());
            field(&mut out, "ip.dst", Protocol::Ip, ip.header().destination_addr());
        }
        _ => field(&mut out, "net", Protocol::Ip, "none"),
    }
    match &p.transport {
        Some(TransportSlice::Tcp(t)) => {
            field(&mut out, "tcp.sport", Protocol::Tcp, t.source_port());
            field(&mut out, "tcp.dport", Protocol::Tcp, t.destination_port());
            field(&mut out, "tcp.flags", Protocol::Tcp, tcp_flags(t));
            let payload = t.payload();
            if !payload.is_empty() {
                if let Ok(m) = http::parse(payload) {
                    match &m.start {
                        http::StartLine::Request { method, target, .. } => {
                            field(&mut out, "http.method", Protocol::Http, method);
                            field(&mut out, "http.target", Protocol::Http, target);
                            if let Some(host) = m.header("host") {
                                field(
                                    &mut out,
                                    SERVER_FIELDS[1],
                                    Protocol::Http,
                                    String::from_utf8_lossy(host).trim().to_ascii_lowercase(),
                                );
                            }
                        }
                        http::StartLine::Response { code, .. } => field(&mut out, "http.status", Protocol::Http, code),
                    }
                } else {
                    field(&mut out, "tcp.payload", Protocol::Tcp, String::from_utf8_lossy(payload));
                }
            }
        }
        Some(TransportSlice::Udp(u)) => {
            field(&mut out, "udp.sport", Protocol::Udp, u.source_port());
            field(&mut out, "udp.dport", Protocol::Udp, u.destination_port());
            let w = dns::walk(u.payload());
            if let Some(h) = w.header {
                field(&mut out, "dns.id", Protocol::Dns, format!("0x{:04x}", h.id));
                field(&mut out, "dns.response", Protocol::Dns, h.flags.response);
                if let Some(q) = w.questions.first() {
                    field(&mut out, "dns.qname", Protocol::Dns, q.name.trim_end_matches('.').to_ascii_lowercase());
                    field(&mut out, "dns.qtype", Protocol::Dns, q.qtype.name());
                }
                if h.flags.response {
                    let answers = dns::Repr::parse_lenient(u.payload()).map(|r| r.answers).unwrap_or_default();
                    let addresses: Vec<String> = answers
                        .iter()
                        .filter_map(|a| {
                            if let dns::RecordData::A(address) = a.data {
                                Some(address.to_string())
                            } else {
                                None
                            }
                        })
                        .collect();
                    field(&mut out, SERVER_FIELDS[0], Protocol::Dns, addresses.join(","));
                }
            }
        }
        Some(TransportSlice::Icmpv4(c)) => {
            let (t, code) = (c.type_u8(), c.code_u8());
            field(&mut out, "icmp.type", Protocol::Icmp, t);
            field(&mut out, "icmp.code", Protocol::Icmp, code);
            if matches!(t, 0 | 8 | 13 | 14) {
                let b = c.bytes5to8();
                field(&mut out, "icmp.id", Protocol::Icmp, u16::from_be_bytes([b[0], b[1]]));
                field(&mut out, "icmp.seq", Protocol::Icmp, u16::from_be_bytes([b[2], b[3]]));
            }
        }
        _ => {}
    }
    out
}

fn ip4(b: &[u8]) -> Cow<'static, str> {
    match <[u8; 4]>::try_from(b) {
        Ok(a) => Cow::Owned(std::net::Ipv4Addr::from(a).to_string()),
        Err(_) => Cow::Borrowed("?"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::generate::generate;
    use crate::scenario::SuiteProtocol;

    /// An Ethernet ICMP echo request from `src` to `dst`, id 1, seq 2.
    fn echo(src: [u8; 4], dst: [u8; 4]) -> TracePacket {
        let mut data = Vec::new();
        etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(src, dst, 64)
            .icmpv4_echo_request(1, 2)
            .write(&mut data, b"ping")
            .unwrap();
        TracePacket { ts: 0, data }
    }

    fn trace(packets: Vec<TracePacket>) -> Trace {
        Trace { linktype: LinkType::Ethernet, packets }
    }

    #[test]
    fn digests_name_the_fields_a_summary_determines() {
        let d = &digests(&trace(vec![echo([10, 0, 0, 1], [10, 0, 0, 2])]))[0];
        let fields: Vec<(&str, &str)> = d.iter().map(|f| (f.name, f.value.as_str())).collect();
        assert_eq!(
            fields,
            [
                ("eth.src", "02:00:00:00:00:01"),
                ("eth.dst", "02:00:00:00:00:02"),
                ("ip.src", "10.0.0.1"),
                ("ip.dst", "10.0.0.2"),
                ("icmp.type", "8"),
                ("icmp.code", "0"),
                ("icmp.id", "1"),
                ("icmp.seq", "2"),
            ]
        );
        assert_eq!(digest(LinkType::Raw, &[0xff])[0].value, "undecodable");
    }

    #[test]
    fn a_trace_is_compared_packet_by_packet() {
        let packet = &generate(SuiteProtocol::Icmp, Mode::Packet, 1, 1)[0];
        let reference = trace(vec![echo([10, 0, 0, 1], [10, 0, 0, 2])]);
        let e = Expectation::from_reference(packet, &reference);
        assert_eq!(e.waived, PAIRING_CHECKS);
        assert_eq!(e.compare(&reference), vec![]);
        let swapped = e.compare(&trace(vec![echo([10, 0, 0, 2], [10, 0, 0, 1])]));
        assert_eq!(swapped.len(), 2, "{swapped:?}");
        assert!(swapped.iter().all(|f| f.check == SUMMARY_MISMATCH && f.protocol == Protocol::Ip && f.frame == 1));
        let extra = e.compare(&trace(vec![echo([10, 0, 0, 1], [10, 0, 0, 2]), echo([10, 0, 0, 1], [10, 0, 0, 2])]));
        assert_eq!((extra.len(), extra[0].protocol, extra[0].severity), (1, Protocol::Frame, Severity::Error));
        assert!(extra[0].message.contains("extra packets"), "{extra:?}");
    }

    #[test]
    fn concatenated_expectations_keep_every_packet_and_each_waiver_once() {
        let packet = &generate(SuiteProtocol::Icmp, Mode::Packet, 1, 1)[0];
        let conversation = &generate(SuiteProtocol::Icmp, Mode::Conversation, 1, 1)[0];
        let reference = trace(vec![echo([10, 0, 0, 1], [10, 0, 0, 2])]);
        let one = Expectation::from_reference(packet, &reference);
        assert!(Expectation::from_reference(conversation, &reference).waived.is_empty());
        let both = Expectation::concat([one.clone(), one.clone()]);
        assert_eq!((both.packets.len(), &both.waived), (2, &one.waived));
        let mut findings = vec![Finding::own(1, Severity::Warn, "icmp.unanswered", Protocol::Icmp, "no reply".into())];
        both.apply_waivers(&mut findings);
        assert_eq!(findings[0].severity, Severity::Note);
    }
}

/// The summary a generated capture answers, stored beside it as
/// `<stem>.summary.json` by `harness generate` and `harness matrix`, so
/// that `harness check` can judge the capture against it later.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Sidecar {
    /// Suite protocol.
    pub protocol: super::SuiteProtocol,
    /// Packet or conversation.
    pub mode: Mode,
    /// The summary line.
    pub summary: String,
}

impl Sidecar {
    /// The sidecar path of a capture.
    pub fn path_of(capture: &std::path::Path) -> std::path::PathBuf {
        capture.with_extension("summary.json")
    }

    /// Read the sidecar of `capture`, if there is one.
    pub fn read(capture: &std::path::Path) -> Option<Sidecar> {
        let text = std::fs::read_to_string(Self::path_of(capture)).ok()?;
        serde_json::from_str(&text).ok()
    }
}

/// Read a capture into a [`Trace`] (the first interface's link type), for
/// comparing with an expectation.
///
/// # Errors
/// What the reader reports.
pub fn read_trace(path: &std::path::Path) -> Result<Trace, crate::pcap::ReadError> {
    let mut reader = crate::pcap::Reader::open(path)?;
    let mut packets = Vec::new();
    let mut linktype = None;
    while let Some(frame) = reader.next_frame() {
        let frame = frame?;
        linktype.get_or_insert(frame.linktype);
        packets.push(TracePacket { ts: frame.ts, data: frame.data.to_vec() });
    }
    Ok(Trace { linktype: linktype.or(reader.linktype()).unwrap_or(LinkType::Raw), packets })
}
