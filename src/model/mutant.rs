//! `mutant:<fault>` models: the reference answer with one realistic fault.
//!
//! Every fault is one that real answers have (see the corpus README: fenced
//! answers, prose after the JSON, DNS replies copying the few-shot id,
//! improvised ACKs, `Window: 65536`, cut-off code, invented arguments, …),
//! and names the check that must catch it. Together the mutants give the
//! detection matrix: which faults the own checks, tshark and the executor
//! catch.

use super::answer::{Body, Pkt, L4};
use crate::exec::extract::Dialect;
use crate::scenario::{Mode, SuiteProtocol};

/// One injectable fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// The answer wrapped in a Markdown code fence.
    Fenced,
    /// A sentence of prose after the answer.
    ProseAfter,
    /// Markdown-escaped underscores in code (`pkt\_1`).
    EscapedUnderscores,
    /// The DNS response copies the few-shot example's id 0x0aba.
    DnsCopiedId,
    /// The response's answer count is one more than its records.
    DnsCountHigh,
    /// The response's answer count is one less than its records.
    DnsCountLow,
    /// The reply keeps the request's addresses instead of swapping them.
    ReplyNotSwapped,
    /// An acknowledgment number one too high.
    AckOffByOne,
    /// The FIN is not counted: the ACK of a FIN acknowledges one too few.
    FinNotCounted,
    /// The final ACK of the teardown is missing.
    MissingFinalAck,
    /// One packet more than asked for (the last one repeated).
    ExtraPacket,
    /// The reply (or, for TCP, the server's first ACK) is missing.
    MissingPacket,
    /// A TTL of 0.
    WrongTtl,
    /// An echo with code 1 (echo has only code 0).
    WrongIcmpCode,
    /// The ARP sender MAC differs from the Ethernet source.
    ArpMacMismatch,
    /// A group (multicast) Ethernet source address.
    GroupSourceMac,
    /// `Window: 65536` copied into the 16-bit field.
    Window65536,
    /// The answer cut off in the middle.
    TruncatedCode,
    /// A Scapy argument that does not exist.
    InventedArgument,
    /// Two packets' timestamps swapped.
    TimeBackwards,
    /// The three-way handshake left out.
    MissingHandshake,
    /// The DNS answer gives another address than the server the HTTP
    /// connection to the name goes to.
    DnsHttpMismatch,
    /// The client's IP frames come from (and go to) another MAC than the
    /// one its ARP request announced.
    ArpMacConflict,
    /// The ARP exchange comes after the traffic that needed it.
    MissingArp,
    /// The ARP reply gives the gateway another MAC than the frames go to.
    GatewayMacMismatch,
}

impl Fault {
    /// Every fault.
    pub const ALL: [Fault; 25] = [
        Fault::Fenced,
        Fault::ProseAfter,
        Fault::EscapedUnderscores,
        Fault::DnsCopiedId,
        Fault::DnsCountHigh,
        Fault::DnsCountLow,
        Fault::ReplyNotSwapped,
        Fault::AckOffByOne,
        Fault::FinNotCounted,
        Fault::MissingFinalAck,
        Fault::ExtraPacket,
        Fault::MissingPacket,
        Fault::WrongTtl,
        Fault::WrongIcmpCode,
        Fault::ArpMacMismatch,
        Fault::GroupSourceMac,
        Fault::Window65536,
        Fault::TruncatedCode,
        Fault::InventedArgument,
        Fault::TimeBackwards,
        Fault::MissingHandshake,
        Fault::DnsHttpMismatch,
        Fault::ArpMacConflict,
        Fault::MissingArp,
        Fault::GatewayMacMismatch,
    ];

    /// The name in `mutant:<name>`.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Fenced => "fenced",
            Fault::ProseAfter => "prose-after",
            Fault::EscapedUnderscores => "escaped-underscores",
            Fault::DnsCopiedId => "dns-copied-id",
            Fault::DnsCountHigh => "dns-count-high",
            Fault::DnsCountLow => "dns-count-low",
            Fault::ReplyNotSwapped => "reply-not-swapped",
            Fault::AckOffByOne => "ack-off-by-one",
            Fault::FinNotCounted => "fin-not-counted",
            Fault::MissingFinalAck => "missing-final-ack",
            Fault::ExtraPacket => "extra-packet",
            Fault::MissingPacket => "missing-packet",
            Fault::WrongTtl => "wrong-ttl",
            Fault::WrongIcmpCode => "wrong-icmp-code",
            Fault::ArpMacMismatch => "arp-mac-mismatch",
            Fault::GroupSourceMac => "group-source-mac",
            Fault::Window65536 => "window-65536",
            Fault::TruncatedCode => "truncated-code",
            Fault::InventedArgument => "invented-argument",
            Fault::TimeBackwards => "time-backwards",
            Fault::MissingHandshake => "missing-handshake",
            Fault::DnsHttpMismatch => "dns-http-mismatch",
            Fault::ArpMacConflict => "arp-mac-conflict",
            Fault::MissingArp => "missing-arp",
            Fault::GatewayMacMismatch => "gateway-mac-mismatch",
        }
    }

    /// Parse a name (with or without the `mutant:` prefix).
    pub fn from_name(name: &str) -> Option<Fault> {
        let name = name.strip_prefix("mutant:").unwrap_or(name);
        Fault::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The check id that must catch the fault in `dialect`. Executor
    /// failures are `exec.<status>`.
    pub fn expected_check(self, dialect: Dialect) -> &'static str {
        match self {
            Fault::Fenced => "answer.fenced",
            // Prose after bare code is a syntax error; after JSON it is cut.
            Fault::ProseAfter => match dialect {
                Dialect::Json => "answer.prose",
                Dialect::Scapy => "exec.syntax",
            },
            Fault::EscapedUnderscores => "answer.escaped_underscores",
            Fault::DnsCopiedId => "dns.id_mismatch",
            Fault::DnsCountHigh | Fault::DnsCountLow => "dns.count_mismatch",
            Fault::ReplyNotSwapped | Fault::MissingFinalAck | Fault::ExtraPacket | Fault::MissingPacket => {
                "summary.mismatch"
            }
            Fault::AckOffByOne => "tcp.bad_ack",
            Fault::FinNotCounted => "tcp.fin_accounting",
            Fault::WrongTtl => "ip.ttl_zero",
            Fault::WrongIcmpCode => "icmp.bad_type_code",
            Fault::ArpMacMismatch => "arp.mac_mismatch",
            Fault::GroupSourceMac => "eth.group_source_mac",
            Fault::Window65536 => match dialect {
                Dialect::Json => "exec.json",
                Dialect::Scapy => "exec.scapy",
            },
            Fault::TruncatedCode => match dialect {
                Dialect::Json => "exec.json",
                Dialect::Scapy => "exec.syntax",
            },
            Fault::InventedArgument => "exec.scapy",
            Fault::TimeBackwards => "time.not_monotonic",
            Fault::MissingHandshake => "tcp.no_handshake",
            Fault::DnsHttpMismatch => "flow.unresolved_destination",
            Fault::ArpMacConflict => "host.mac_conflict",
            Fault::MissingArp | Fault::GatewayMacMismatch => "arp.missing_resolution",
        }
    }

    /// Checks that may rightly fire as a consequence of the fault besides
    /// the expected one (a reply from the wrong address leaves the request
    /// unanswered). Anything else firing is a false positive of the harness.
    pub fn related(self) -> &'static [&'static str] {
        match self {
            Fault::ProseAfter => &["answer.prose", "exec.syntax"],
            Fault::TruncatedCode => &["exec.json", "exec.syntax", "exec.scapy"],
            Fault::Window65536 => &["exec.json", "exec.scapy"],
            Fault::DnsCopiedId => &["dns.unanswered", "dns.unsolicited_response", "summary.mismatch"],
            // A day's response then gives no address, as its summary asks.
            Fault::DnsCountLow => &["summary.mismatch"],
            Fault::DnsHttpMismatch => &["dns.unused_answer", "summary.mismatch"],
            Fault::ArpMacConflict | Fault::MissingArp => &["summary.mismatch"],
            // When the resolver is the gateway, its address is carried to
            // the MAC the reply did not give.
            Fault::GatewayMacMismatch => &["summary.mismatch", "host.mac_conflict"],
            Fault::ReplyNotSwapped => {
                &["dns.unanswered", "dns.unsolicited_response", "icmp.unanswered", "icmp.unmatched_echo"]
            }
            Fault::ArpMacMismatch => &["arp.reply_mismatch", "summary.mismatch"],
            Fault::GroupSourceMac => &["arp.mac_mismatch", "summary.mismatch"],
            Fault::MissingFinalAck => &["tcp.not_closed"],
            Fault::MissingHandshake => &["summary.mismatch", "tcp.data_before_handshake"],
            Fault::MissingPacket => &[
                "arp.unanswered",
                "icmp.unanswered",
                "dns.unanswered",
                "http.unanswered",
                "tcp.seq_gap",
                "tcp.bad_ack",
            ],
            Fault::ExtraPacket => &[
                "arp.unsolicited_reply",
                "dns.unsolicited_response",
                "icmp.unmatched_echo",
                "tcp.retransmission",
                "tcp.after_close",
            ],
            Fault::WrongIcmpCode => &["summary.mismatch", "icmp.unanswered", "icmp.unmatched_echo"],
            _ => &[],
        }
    }

    /// Whether the fault can be injected into answers of this suite shape.
    pub fn applies(self, protocol: SuiteProtocol, mode: Mode, dialect: Dialect) -> bool {
        use SuiteProtocol as P;
        let conversation = mode == Mode::Conversation;
        let tcp = matches!(protocol, P::Http | P::Tcp | P::Day) && conversation;
        match self {
            Fault::Fenced | Fault::ProseAfter | Fault::TruncatedCode => true,
            Fault::EscapedUnderscores | Fault::InventedArgument => dialect == Dialect::Scapy,
            Fault::DnsCopiedId => matches!(protocol, P::Dns | P::Day) && conversation,
            Fault::DnsCountHigh | Fault::DnsCountLow => matches!(protocol, P::Dns | P::Day),
            Fault::ReplyNotSwapped => matches!(protocol, P::Icmp | P::Dns) && conversation,
            Fault::AckOffByOne | Fault::FinNotCounted | Fault::MissingFinalAck | Fault::MissingHandshake => tcp,
            Fault::ExtraPacket | Fault::MissingPacket => conversation,
            // Scapy answers get their times from sleeps, which cannot go back.
            Fault::TimeBackwards => conversation && dialect == Dialect::Json,
            Fault::WrongTtl => protocol != P::Arp,
            Fault::WrongIcmpCode => protocol == P::Icmp && conversation,
            Fault::ArpMacMismatch | Fault::GroupSourceMac => matches!(protocol, P::Arp | P::Day),
            Fault::Window65536 => tcp || (protocol == P::Http),
            Fault::DnsHttpMismatch | Fault::ArpMacConflict | Fault::MissingArp | Fault::GatewayMacMismatch => {
                protocol == P::Day && conversation
            }
        }
    }

    /// Inject the fault into the packet list (faults of the text do
    /// nothing here).
    pub fn apply_packets(self, pkts: &mut Vec<Pkt>) {
        let last = pkts.len().saturating_sub(1);
        match self {
            Fault::DnsCopiedId => {
                if let Some(d) = pkts.iter_mut().filter_map(dns_mut).find(|d| d.response) {
                    d.id = if d.id == 0x0aba { 0x0abb } else { 0x0aba };
                }
            }
            Fault::DnsCountHigh | Fault::DnsCountLow => {
                let response = pkts.iter().filter_map(dns_ref).any(|d| d.response);
                if let Some(d) = pkts.iter_mut().filter_map(dns_mut).find(|d| d.response == response) {
                    let n = d.answers.len() as u16;
                    d.ancount = Some(if self == Fault::DnsCountHigh {
                        n + 1
                    } else if n > 0 {
                        n - 1
                    } else {
                        1
                    });
                }
            }
            Fault::ReplyNotSwapped => {
                if let Some(Body::Ip(ip)) = pkts.get_mut(1).map(|p| &mut p.body) {
                    std::mem::swap(&mut ip.src, &mut ip.dst);
                }
            }
            Fault::AckOffByOne => {
                // The ACK of the request (packet 5 of the exchange).
                if let Some(t) = tcp_packets(pkts).into_iter().nth(4) {
                    t.ack = t.ack.wrapping_add(1);
                }
            }
            Fault::FinNotCounted => {
                if let Some(t) = tcp_packets(pkts).into_iter().nth(8) {
                    t.ack = t.ack.wrapping_sub(1);
                }
            }
            Fault::MissingFinalAck => {
                pkts.pop();
            }
            Fault::ExtraPacket => {
                if let Some(p) = pkts.last().cloned() {
                    let mut p = p;
                    p.time += 0.2;
                    pkts.push(p);
                }
            }
            Fault::MissingPacket => {
                let index = first_tcp(pkts).map_or(1.min(last), |i| i + 4);
                if index < pkts.len() {
                    pkts.remove(index);
                }
            }
            Fault::WrongTtl => {
                if let Some(Body::Ip(ip)) = pkts.iter_mut().map(|p| &mut p.body).find(|b| matches!(b, Body::Ip(_))) {
                    ip.ttl = 0;
                }
            }
            Fault::WrongIcmpCode => {
                if let Some(Body::Ip(ip)) = pkts.first_mut().map(|p| &mut p.body) {
                    if let L4::Icmp(c) = &mut ip.l4 {
                        c.code = 1;
                    }
                }
            }
            Fault::ArpMacMismatch => {
                if let Some(Body::Arp(a)) = pkts.iter_mut().map(|p| &mut p.body).find(|b| matches!(b, Body::Arp(_))) {
                    a.sender_mac[5] ^= 0x5a;
                }
            }
            Fault::GroupSourceMac => {
                if let Some((src, _)) = pkts.first_mut().and_then(|p| p.eth.as_mut()) {
                    src[0] |= 0x01;
                }
            }
            Fault::Window65536 => {
                if let Some(t) = tcp_packets(pkts).into_iter().next() {
                    t.window = 65536;
                }
            }
            Fault::TimeBackwards => {
                if pkts.len() >= 2 {
                    let (a, b) = (pkts[0].time, pkts[1].time);
                    pkts[0].time = b + 0.001;
                    pkts[1].time = a;
                }
            }
            Fault::MissingHandshake => {
                if let Some(i) = first_tcp(pkts) {
                    pkts.drain(i..(i + 3).min(pkts.len()));
                }
            }
            Fault::DnsHttpMismatch => {
                // The neighbouring address: what a model writes when it
                // invents the answer and the connection separately.
                if let Some(d) = pkts.iter_mut().filter_map(dns_mut).find(|d| d.response) {
                    for (_, _, _, data) in d.answers.iter_mut().filter(|a| a.1 == "A") {
                        if let Ok(address) = data.parse::<std::net::Ipv4Addr>() {
                            let mut octets = address.octets();
                            octets[3] ^= 1;
                            *data = std::net::Ipv4Addr::from(octets).to_string();
                        }
                    }
                }
            }
            Fault::ArpMacConflict => {
                let client = pkts.iter().find_map(|p| match &p.body {
                    Body::Arp(a) if a.op == 1 => Some(a.sender_mac),
                    _ => None,
                });
                if let Some(client) = client {
                    let mut other = client;
                    other[5] ^= 0x5a;
                    for (src, dst) in
                        pkts.iter_mut().filter(|p| matches!(p.body, Body::Ip(_))).filter_map(|p| p.eth.as_mut())
                    {
                        for mac in [src, dst] {
                            if *mac == client {
                                *mac = other;
                            }
                        }
                    }
                }
            }
            Fault::GatewayMacMismatch => {
                if let Some(p) = pkts.iter_mut().find(|p| matches!(&p.body, Body::Arp(a) if a.op == 2)) {
                    if let Body::Arp(a) = &mut p.body {
                        let gateway = a.sender_mac;
                        a.sender_mac[5] ^= 0x5a;
                        if let Some((src, _)) = p.eth.as_mut().filter(|(src, _)| *src == gateway) {
                            *src = a.sender_mac;
                        }
                    }
                }
            }
            Fault::MissingArp => {
                let (arp, mut rest): (Vec<Pkt>, Vec<Pkt>) =
                    pkts.drain(..).partition(|p| matches!(p.body, Body::Arp(_)));
                let start = arp.first().map_or(0.0, |p| p.time);
                let end = rest.last().map_or(0.0, |p| p.time) + 0.010;
                rest.extend(arp.into_iter().map(|p| Pkt { time: end + (p.time - start), ..p }));
                *pkts = rest;
            }
            Fault::Fenced
            | Fault::ProseAfter
            | Fault::EscapedUnderscores
            | Fault::TruncatedCode
            | Fault::InventedArgument => {}
        }
    }

    /// Inject the fault into the rendered answer (faults of the packets
    /// leave it unchanged).
    pub fn apply_text(self, text: String, dialect: Dialect) -> String {
        match self {
            Fault::Fenced => {
                let lang = if dialect == Dialect::Json { "json" } else { "python" };
                format!("```{lang}\n{text}\n```\n")
            }
            Fault::ProseAfter => format!("{text}\n\nThis trace shows the complete exchange described in the summary, with correct sequence numbers.\n"),
            Fault::EscapedUnderscores => text.replace("pkt_", "pkt\\_"),
            Fault::TruncatedCode => {
                let cut = text.char_indices().map(|(i, _)| i).nth(text.chars().count() * 3 / 5).unwrap_or(text.len());
                text[..cut].to_string()
            }
            // An IPv6 field name on IPv4, an invented ARP keyword.
            Fault::InventedArgument if text.contains("IP(src=") => text.replacen("IP(src=", "IP(hop_limit=64, src=", 1),
            Fault::InventedArgument => text.replacen("ARP(op=", "ARP(opcode=", 1),
            _ => text,
        }
    }
}

fn dns_mut(p: &mut Pkt) -> Option<&mut super::answer::Dns> {
    match &mut p.body {
        Body::Ip(ip) => match &mut ip.l4 {
            L4::Udp(u) => u.dns.as_mut(),
            _ => None,
        },
        Body::Arp(_) => None,
    }
}

fn dns_ref(p: &Pkt) -> Option<&super::answer::Dns> {
    match &p.body {
        Body::Ip(ip) => match &ip.l4 {
            L4::Udp(u) => u.dns.as_ref(),
            _ => None,
        },
        Body::Arp(_) => None,
    }
}

fn tcp_packets(pkts: &mut [Pkt]) -> Vec<&mut super::answer::Tcp> {
    pkts.iter_mut()
        .filter_map(|p| match &mut p.body {
            Body::Ip(ip) => match &mut ip.l4 {
                L4::Tcp(t) => Some(t),
                _ => None,
            },
            Body::Arp(_) => None,
        })
        .collect()
}

fn first_tcp(pkts: &[Pkt]) -> Option<usize> {
    pkts.iter().position(|p| matches!(&p.body, Body::Ip(ip) if matches!(ip.l4, L4::Tcp(_))))
}

/// The answer of `mutant:<fault>` to a summary: the reference packets with
/// the fault injected, rendered in `dialect`, with the text fault injected.
pub fn answer(fault: Fault, scenario: &crate::scenario::Scenario, dialect: Dialect) -> String {
    let mut pkts = super::reference::packets(scenario);
    fault.apply_packets(&mut pkts);
    fault.apply_text(super::answer::render(&pkts, dialect), dialect)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for f in Fault::ALL {
            assert_eq!(Fault::from_name(&format!("mutant:{}", f.name())), Some(f));
        }
        let mut names: Vec<_> = Fault::ALL.iter().map(|f| f.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Fault::ALL.len());
    }

    #[test]
    fn every_fault_applies_somewhere_and_changes_the_answer() {
        use crate::scenario::generate::generate;
        for f in Fault::ALL {
            let mut applied = 0;
            for p in SuiteProtocol::ALL {
                for m in [Mode::Packet, Mode::Conversation] {
                    for d in [Dialect::Json, Dialect::Scapy] {
                        if !f.applies(p, m, d) {
                            continue;
                        }
                        let s = &generate(p, m, 3, 1)[0];
                        let reference = super::super::answer::render(&super::super::reference::packets(s), d);
                        assert_ne!(answer(f, s, d), reference, "{} on {p} {m:?} {d:?}", f.name());
                        applied += 1;
                    }
                }
            }
            assert!(applied > 0, "{} applies nowhere", f.name());
        }
    }
}
