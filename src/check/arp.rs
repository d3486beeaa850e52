//! ARP checks (RFC 826): opcode and address sizes, sender MAC against the
//! Ethernet source, replies paired with requests, conflicting claims.

use etherparse::{ArpHardwareId, ArpOperation, EtherType};

use super::{ip4, mac, FlowTable, Limits, Sink};
use crate::dissect::{Frame, Link, Net, ARP_FIXED_LEN};
use crate::finding::{Protocol, Severity};

/// Report an ARP packet whose declared address sizes do not fit the
/// bytes present (RFC 826: the packet holds `2 × (hln + pln)` address
/// bytes after the 8-byte fixed header).
fn check_cut(header: &[u8; ARP_FIXED_LEN], needed: usize, available: usize, sink: &mut Sink) {
    let (hw, proto) = (u16::from_be_bytes([header[0], header[1]]), u16::from_be_bytes([header[2], header[3]]));
    let (hlen, plen) = (header[4], header[5]);
    let mut wrong = Vec::new();
    if hw == ArpHardwareId::ETHERNET.0 && hlen != 6 {
        wrong.push(format!("hardware size {hlen} for Ethernet (must be 6)"));
    }
    if proto == EtherType::IPV4.0 && plen != 4 {
        wrong.push(format!("protocol size {plen} for IPv4 (must be 4)"));
    }
    let bytes = format!("the addresses need {needed} bytes, {available} are present");
    if wrong.is_empty() {
        sink.report(Severity::Error, "arp.truncated", Protocol::Arp, format!("ARP packet cut short: {bytes}"));
    } else {
        sink.report(Severity::Error, "arp.bad_sizes", Protocol::Arp, format!("{}: {bytes}", wrong.join(", ")));
    }
}

/// Return whether `ip` is a class D (multicast) or E (reserved) address,
/// or the limited broadcast: never the address of one host (RFC 1112 §4,
/// RFC 6890 §2.2.2), so never an ARP sender or target (RFC 826 resolves one
/// host's address; multicast maps to MACs without ARP, RFC 1112 §6.4).
fn not_unicast(ip: &[u8]) -> bool {
    ip.len() == 4 && ip[0] >= 224
}

/// Stateless per-packet checks.
pub(crate) fn check_packet(frame: &Frame<'_>, sink: &mut Sink) {
    if let Net::ArpCut { header, needed, available } = &frame.net {
        check_cut(header, *needed, *available, sink);
        return;
    }
    let Net::Arp(arp) = &frame.net else { return };
    let op = arp.operation().0;
    // 1/2 ARP, 3/4 RARP (RFC 903), 8/9 InARP (RFC 2390).
    if !matches!(op, 1 | 2 | 3 | 4 | 8 | 9) {
        sink.report(
            Severity::Error,
            "arp.bad_opcode",
            Protocol::Arp,
            format!("opcode {op} is neither request (1) nor reply (2)"),
        );
    }
    let (hw, proto) = (arp.hw_addr_type(), arp.proto_addr_type());
    let (hlen, plen) = (arp.hw_addr_size(), arp.proto_addr_size());
    if hw == ArpHardwareId::ETHERNET && hlen != 6 {
        sink.report(
            Severity::Error,
            "arp.bad_sizes",
            Protocol::Arp,
            format!("hardware size {hlen} for Ethernet (must be 6)"),
        );
    }
    if proto == EtherType::IPV4 && plen != 4 {
        sink.report(
            Severity::Error,
            "arp.bad_sizes",
            Protocol::Arp,
            format!("protocol size {plen} for IPv4 (must be 4)"),
        );
    }
    if proto == EtherType::IPV4 {
        for (who, ip) in [("sender", arp.sender_protocol_addr()), ("target", arp.target_protocol_addr())] {
            if not_unicast(ip) {
                sink.report(
                    Severity::Error,
                    "arp.bad_address",
                    Protocol::Arp,
                    format!(
                        "{who} address {} is class D/E or broadcast, not one host's address (RFC 826, RFC 1112 §4)",
                        ip.iter().map(u8::to_string).collect::<Vec<_>>().join(".")
                    ),
                );
            }
        }
    }
    if let Link::Ethernet { src, .. } = frame.link {
        if hlen == 6 && arp.sender_hw_addr() != src {
            sink.report(
                Severity::Error,
                "arp.mac_mismatch",
                Protocol::Arp,
                format!("sender MAC {} differs from the Ethernet source {}", mac(arp.sender_hw_addr()), mac(&src)),
            );
        }
    }
}

/// Address pair of an Ethernet/IPv4 ARP packet.
struct Addrs {
    sender_mac: [u8; 6],
    sender_ip: [u8; 4],
    target_mac: [u8; 6],
    target_ip: [u8; 4],
}

fn addrs(frame: &Frame<'_>) -> Option<(ArpOperation, Addrs)> {
    let Net::Arp(arp) = &frame.net else { return None };
    Some((
        arp.operation(),
        Addrs {
            sender_mac: arp.sender_hw_addr().try_into().ok()?,
            sender_ip: arp.sender_protocol_addr().try_into().ok()?,
            target_mac: arp.target_hw_addr().try_into().ok()?,
            target_ip: arp.target_protocol_addr().try_into().ok()?,
        },
    ))
}

#[derive(Debug)]
struct Request {
    frame: u64,
    sender_mac: [u8; 6],
    /// The Ethernet source of the request, when it has one.
    eth_src: Option<[u8; 6]>,
}

/// Pairs replies with requests and remembers who claimed which address.
#[derive(Debug, Default)]
pub(crate) struct ArpCheck {
    /// Unanswered requests by (requester IP, requested IP).
    pending: FlowTable<([u8; 4], [u8; 4]), Request>,
    /// MAC claimed for each IP (by senders), with the claiming frame.
    claims: FlowTable<[u8; 4], ([u8; 6], u64)>,
}

impl ArpCheck {
    /// Make a check with bounded tables.
    pub(crate) fn new(limits: Limits) -> ArpCheck {
        ArpCheck { pending: FlowTable::new(limits.max_flows), claims: FlowTable::new(limits.max_flows) }
    }

    /// Track requests, pair replies, and watch address claims.
    pub(crate) fn check(&mut self, frame: &Frame<'_>, sink: &mut Sink) {
        let Some((op, a)) = addrs(frame) else { return };
        let number = frame.number;
        if a.sender_ip != [0; 4] {
            let claim = self.claims.entry(&a.sender_ip, || (a.sender_mac, number), |_, _| {});
            if claim.0 != a.sender_mac {
                sink.report(
                    Severity::Warn,
                    "arp.duplicate_address",
                    Protocol::Arp,
                    format!(
                        "{} claimed by {} here and by {} in frame {}",
                        ip4(a.sender_ip),
                        mac(&a.sender_mac),
                        mac(&claim.0),
                        claim.1
                    ),
                );
                *claim = (a.sender_mac, number);
            }
        }
        match op {
            ArpOperation::REQUEST => {
                if a.sender_ip == a.target_ip {
                    return; // Gratuitous ARP announces, it expects no reply.
                }
                let eth_src = match frame.link {
                    Link::Ethernet { src, .. } => Some(src),
                    _ => None,
                };
                let request = Request { frame: number, sender_mac: a.sender_mac, eth_src };
                let slot = self.pending.entry(
                    &(a.sender_ip, a.target_ip),
                    || Request { frame: number, sender_mac: a.sender_mac, eth_src },
                    |key, old| unanswered(sink, key, &old),
                );
                *slot = request;
            }
            ArpOperation::REPLY => match self.pending.remove(&(a.target_ip, a.sender_ip)) {
                // A reply addressed to the requester's real (Ethernet)
                // address answers rightly: the false claim is the
                // request's own sender MAC, reported there as
                // `arp.mac_mismatch` (RFC 826: the reply goes to the
                // requester, whose hardware address is its Ethernet source).
                Some(request) if request.sender_mac != a.target_mac && request.eth_src != Some(a.target_mac) => sink
                    .report(
                        Severity::Error,
                        "arp.reply_mismatch",
                        Protocol::Arp,
                        format!(
                            "reply is addressed to {} but the request (frame {}) came from {}",
                            mac(&a.target_mac),
                            request.frame,
                            mac(&request.sender_mac)
                        ),
                    ),
                Some(_) => {}
                None if a.sender_ip == a.target_ip => {}
                None => sink.report(
                    Severity::Warn,
                    "arp.unsolicited_reply",
                    Protocol::Arp,
                    format!(
                        "reply {} is-at {} answers no request from {}",
                        ip4(a.sender_ip),
                        mac(&a.sender_mac),
                        ip4(a.target_ip)
                    ),
                ),
            },
            _ => {}
        }
    }

    /// Report requests that got no reply.
    pub(crate) fn finish(&mut self, sink: &mut Sink) {
        for (key, request) in self.pending.drain_by_age() {
            unanswered(sink, key, &request);
        }
    }
}

fn unanswered(sink: &mut Sink, (sender, target): ([u8; 4], [u8; 4]), request: &Request) {
    sink.report_at(
        request.frame,
        Severity::Warn,
        "arp.unanswered",
        Protocol::Arp,
        format!("who-has {} tell {}: no reply", ip4(target), ip4(sender)),
    );
}

#[cfg(test)]
pub(crate) mod test {
    use super::super::testutil::*;
    use crate::pcap::LinkType;

    pub const M1: [u8; 6] = [2, 0, 0, 0, 0, 1];
    pub const M2: [u8; 6] = [2, 0, 0, 0, 0, 2];

    /// Build an Ethernet/ARP frame.
    pub fn arp(
        eth_src: [u8; 6],
        eth_dst: [u8; 6],
        op: u16,
        sha: [u8; 6],
        spa: [u8; 4],
        tha: [u8; 6],
        tpa: [u8; 4],
    ) -> Vec<u8> {
        let mut body = vec![0, 1, 8, 0, 6, 4];
        body.extend_from_slice(&op.to_be_bytes());
        body.extend_from_slice(&sha);
        body.extend_from_slice(&spa);
        body.extend_from_slice(&tha);
        body.extend_from_slice(&tpa);
        ethernet(eth_src, eth_dst, 0x0806, &body)
    }

    fn pair() -> Vec<Vec<u8>> {
        vec![arp(M1, [0xff; 6], 1, M1, A, [0; 6], B), arp(M2, M1, 2, M2, B, M1, A)]
    }

    #[test]
    fn test_clean_pair() {
        assert!(ids(&check_frames(LinkType::Ethernet, &pair())).is_empty());
    }

    #[test]
    fn test_mac_mismatch() {
        let frames = vec![arp(M1, [0xff; 6], 1, M1, A, [0; 6], B), arp(M2, M1, 2, [2, 0, 0, 0, 0, 9], B, M1, A)];
        assert_eq!(ids(&check_frames(LinkType::Ethernet, &frames)), vec![(2, "arp.mac_mismatch".into())]);
    }

    #[test]
    fn test_unsolicited_and_unanswered() {
        let frames = vec![arp(M1, [0xff; 6], 1, M1, A, [0; 6], B), arp(M2, M1, 2, M2, B, M1, [10, 0, 0, 9])];
        assert_eq!(
            ids(&check_frames(LinkType::Ethernet, &frames)),
            vec![(1, "arp.unanswered".into()), (2, "arp.unsolicited_reply".into())]
        );
    }

    #[test]
    fn test_reply_mismatch() {
        let frames = vec![arp(M1, [0xff; 6], 1, M1, A, [0; 6], B), arp(M2, M1, 2, M2, B, [2, 0, 0, 0, 0, 7], A)];
        assert_eq!(ids(&check_frames(LinkType::Ethernet, &frames)), vec![(2, "arp.reply_mismatch".into())]);
    }

    #[test]
    fn test_reply_to_a_false_claim_is_not_blamed() {
        // The request's sender MAC lies (not its Ethernet source); the reply
        // goes to the real requester: only the request is wrong.
        let frames = vec![arp(M1, [0xff; 6], 1, [2, 0, 0, 0, 0, 7], A, [0; 6], B), arp(M2, M1, 2, M2, B, M1, A)];
        assert_eq!(ids(&check_frames(LinkType::Ethernet, &frames)), vec![(1, "arp.mac_mismatch".into())]);
    }

    #[test]
    fn test_class_d_e_addresses() {
        let frames =
            vec![arp(M1, [0xff; 6], 1, M1, [233, 99, 115, 254], [0; 6], B), arp(M2, M1, 2, M2, B, M1, [240, 0, 0, 1])];
        let found = ids(&check_frames(LinkType::Ethernet, &frames));
        assert_eq!(found.iter().filter(|(_, c)| c == "arp.bad_address").count(), 2, "{found:?}");
    }

    #[test]
    fn test_sizes_past_the_bytes_present() {
        // Protocol size 14 (as in frame 110 of the paper's ARP conversation
        // capture): ARP is there and malformed, the EtherType is right.
        let mut frame = arp(M1, [0xff; 6], 1, M1, A, [0; 6], B);
        frame[19] = 14;
        let findings = check_frames(LinkType::Ethernet, &[frame.clone()]);
        assert_eq!(ids(&findings), vec![(1, "arp.bad_sizes".into())]);
        let dissected = crate::dissect::dissect(
            1,
            &crate::pcap::RawFrame {
                linktype: LinkType::Ethernet,
                ts: 0,
                orig_len: frame.len() as u32,
                data: &frame,
                offset: 0,
            },
        );
        assert!(dissected.present.contains(crate::finding::Protocol::Arp));
        // Right sizes, bytes missing.
        let mut frame = arp(M1, [0xff; 6], 1, M1, A, [0; 6], B);
        frame.truncate(30);
        assert_eq!(ids(&check_frames(LinkType::Ethernet, &[frame])), vec![(1, "arp.truncated".into())]);
    }

    #[test]
    fn test_opcode_and_sizes() {
        let mut bad = pair();
        bad[0][21] = 7;
        let found = ids(&check_frames(LinkType::Ethernet, &bad));
        assert!(found.contains(&(1, "arp.bad_opcode".into())), "{found:?}");
        let mut bad = pair();
        bad[1][19] = 2;
        let found = ids(&check_frames(LinkType::Ethernet, &bad));
        assert!(found.contains(&(2, "arp.bad_sizes".into())), "{found:?}");
    }

    #[test]
    fn test_duplicate_address() {
        let mut frames = pair();
        frames.push(arp([2, 0, 0, 0, 0, 3], M1, 2, [2, 0, 0, 0, 0, 3], B, M1, A));
        let found = ids(&check_frames(LinkType::Ethernet, &frames));
        assert!(found.contains(&(3, "arp.duplicate_address".into())), "{found:?}");
    }
}
