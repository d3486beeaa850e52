//! ARP checks (RFC 826): opcode and address sizes, sender MAC against the
//! Ethernet source, replies paired with requests, conflicting claims.

use etherparse::{ArpHardwareId, ArpOperation, EtherType};

use super::{ip4, mac, FlowTable, Limits, Sink};
use crate::dissect::{Frame, Link, Net};
use crate::finding::{Protocol, Severity};

/// Stateless per-packet checks.
pub(crate) fn check_packet(frame: &Frame<'_>, sink: &mut Sink) {
    let Net::Arp(arp) = &frame.net else { return };
    let op = arp.operation().0;
    // 1/2 ARP, 3/4 RARP (RFC 903), 8/9 InARP (RFC 2390).
    if !matches!(op, 1 | 2 | 3 | 4 | 8 | 9) {
        sink.report(Severity::Error, "arp.bad_opcode", Protocol::Arp, format!("opcode {op} is neither request (1) nor reply (2)"));
    }
    let (hw, proto) = (arp.hw_addr_type(), arp.proto_addr_type());
    let (hlen, plen) = (arp.hw_addr_size(), arp.proto_addr_size());
    if hw == ArpHardwareId::ETHERNET && hlen != 6 {
        sink.report(Severity::Error, "arp.bad_sizes", Protocol::Arp, format!("hardware size {hlen} for Ethernet (must be 6)"));
    }
    if proto == EtherType::IPV4 && plen != 4 {
        sink.report(Severity::Error, "arp.bad_sizes", Protocol::Arp, format!("protocol size {plen} for IPv4 (must be 4)"));
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
                    format!("{} claimed by {} here and by {} in frame {}", ip4(a.sender_ip), mac(&a.sender_mac), mac(&claim.0), claim.1),
                );
                *claim = (a.sender_mac, number);
            }
        }
        match op {
            ArpOperation::REQUEST => {
                if a.sender_ip == a.target_ip {
                    return; // Gratuitous ARP announces, it expects no reply.
                }
                let request = Request { frame: number, sender_mac: a.sender_mac };
                let slot = self.pending.entry(&(a.sender_ip, a.target_ip), || Request { frame: number, sender_mac: a.sender_mac }, |key, old| unanswered(sink, key, &old));
                *slot = request;
            }
            ArpOperation::REPLY => match self.pending.remove(&(a.target_ip, a.sender_ip)) {
                Some(request) if request.sender_mac != a.target_mac => sink.report(
                    Severity::Error,
                    "arp.reply_mismatch",
                    Protocol::Arp,
                    format!("reply is addressed to {} but the request (frame {}) came from {}", mac(&a.target_mac), request.frame, mac(&request.sender_mac)),
                ),
                Some(_) => {}
                None if a.sender_ip == a.target_ip => {}
                None => sink.report(
                    Severity::Warn,
                    "arp.unsolicited_reply",
                    Protocol::Arp,
                    format!("reply {} is-at {} answers no request from {}", ip4(a.sender_ip), mac(&a.sender_mac), ip4(a.target_ip)),
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
    pub fn arp(eth_src: [u8; 6], eth_dst: [u8; 6], op: u16, sha: [u8; 6], spa: [u8; 4], tha: [u8; 6], tpa: [u8; 4]) -> Vec<u8> {
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
        assert_eq!(ids(&check_frames(LinkType::Ethernet, &frames)), vec![(1, "arp.unanswered".into()), (2, "arp.unsolicited_reply".into())]);
    }

    #[test]
    fn test_reply_mismatch() {
        let frames = vec![arp(M1, [0xff; 6], 1, M1, A, [0; 6], B), arp(M2, M1, 2, M2, B, [2, 0, 0, 0, 0, 7], A)];
        assert_eq!(ids(&check_frames(LinkType::Ethernet, &frames)), vec![(2, "arp.reply_mismatch".into())]);
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
