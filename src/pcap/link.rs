//! The link layer of generated traces (DESIGN.md, "PCAPs the harness
//! writes"): one link type per trace, Ethernet for every packet as soon as
//! one has an Ethernet header ([`LinkType::of_generated`]); packets written
//! without one get the MACs the trace's own ARP gave ([`ArpBook`]), else
//! deterministic ones ([`derived_mac`]). The JSON dialect and the Scapy
//! worker's output follow this one rule.

use std::net::{IpAddr, Ipv4Addr};

use etherparse::EtherType;

use super::LinkType;

/// The Ethernet broadcast address.
pub const BROADCAST_MAC: [u8; 6] = [0xff; 6];

impl LinkType {
    /// Return the link type of a generated trace: Ethernet when any of its
    /// packets has an Ethernet header, raw IP otherwise.
    pub fn of_generated(any_ethernet: bool) -> LinkType {
        if any_ethernet {
            LinkType::Ethernet
        } else {
            LinkType::Raw
        }
    }
}

/// What a trace's ARP packets say about MACs: the MAC each sender's IPv4
/// address was bound to (its first claim, RFC 826), and the addresses each
/// host asked for. A packet written without MACs gets, so that the capture
/// agrees with the model's own ARP (`host.mac_conflict`,
/// `arp.missing_resolution`): for an address ARP bound, that MAC; for one
/// it did not bind, the MAC of the one next hop the host at the other end
/// resolved (its gateway, which forwards the packet), if it resolved
/// exactly one; else a [`derived_mac`].
#[derive(Debug, Default)]
pub struct ArpBook {
    bound: std::collections::HashMap<Ipv4Addr, [u8; 6]>,
    asked: std::collections::HashMap<Ipv4Addr, Vec<Ipv4Addr>>,
}

impl ArpBook {
    /// Learn from `arp`, if it is an Ethernet/IPv4 ARP packet whose sender
    /// is one station at one host address.
    pub fn learn(&mut self, arp: &[u8]) {
        let Ok(packet) = etherparse::ArpPacketSlice::from_slice(arp) else { return };
        if packet.hw_addr_type() != etherparse::ArpHardwareId::ETHERNET || packet.proto_addr_type() != EtherType::IPV4 {
            return;
        }
        let (Ok(mac), Ok(ip), Ok(target)) = (
            <[u8; 6]>::try_from(packet.sender_hw_addr()),
            <[u8; 4]>::try_from(packet.sender_protocol_addr()),
            <[u8; 4]>::try_from(packet.target_protocol_addr()),
        ) else {
            return;
        };
        let (ip, target) = (Ipv4Addr::from(ip), Ipv4Addr::from(target));
        if mac[0] & 1 != 0 || mac == [0; 6] || ip.is_unspecified() || ip.is_multicast() || ip.is_broadcast() {
            return;
        }
        self.bound.entry(ip).or_insert(mac);
        if packet.operation() == etherparse::ArpOperation::REQUEST && target != ip {
            let asked = self.asked.entry(ip).or_default();
            if !asked.contains(&target) {
                asked.push(target);
            }
        }
    }

    /// Return the source and destination MACs of a packet from `src` to
    /// `dst` written without them.
    pub fn macs(&self, src: IpAddr, dst: IpAddr) -> ([u8; 6], [u8; 6]) {
        let bound = |ip: IpAddr| match ip {
            IpAddr::V4(v4) => self.bound.get(&v4).copied(),
            IpAddr::V6(_) => None,
        };
        // The one next hop `host` resolved: the gateway its off-link
        // packets go through, and come back from.
        let gateway = |host: IpAddr| match host {
            IpAddr::V4(v4) => match self.asked.get(&v4).map(Vec::as_slice) {
                Some([next_hop]) => self.bound.get(next_hop).copied(),
                _ => None,
            },
            IpAddr::V6(_) => None,
        };
        let source = bound(src).or_else(|| gateway(dst)).unwrap_or_else(|| derived_mac(src, false));
        // A group destination has its group MAC (RFC 1112 §6.4).
        let group = derived_mac(dst, true);
        let destination = if group[0] & 1 == 1 { group } else { bound(dst).or_else(|| gateway(src)).unwrap_or(group) };
        (source, destination)
    }
}

/// Derive a locally administered MAC for an address without one:
/// `02:00:a:b:c:d` for IPv4 `a.b.c.d` (the last four bytes for IPv6).
/// A destination that is a broadcast or multicast address gets the group
/// MAC the address maps to (RFC 1112 §6.4, RFC 2464 §7).
pub fn derived_mac(ip: IpAddr, destination: bool) -> [u8; 6] {
    match ip {
        IpAddr::V4(a) if destination && a.is_broadcast() => BROADCAST_MAC,
        IpAddr::V4(a) if destination && a.is_multicast() => {
            let o = a.octets();
            [0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]]
        }
        IpAddr::V4(a) => {
            let o = a.octets();
            [0x02, 0x00, o[0], o[1], o[2], o[3]]
        }
        IpAddr::V6(a) if destination && a.is_multicast() => {
            let o = a.octets();
            [0x33, 0x33, o[12], o[13], o[14], o[15]]
        }
        IpAddr::V6(a) => {
            let o = a.octets();
            [0x02, 0x00, o[12], o[13], o[14], o[15]]
        }
    }
}

/// Put a bare IPv4/IPv6 packet in Ethernet II with the MACs of its
/// addresses ([`ArpBook::macs`]).
pub fn wrap_ip(ip: &[u8], book: &ArpBook) -> Vec<u8> {
    let (ether_type, src, dst): (u16, std::net::IpAddr, std::net::IpAddr) = match ip.first().map(|b| b >> 4) {
        Some(4) if ip.len() >= 20 => {
            (0x0800, <[u8; 4]>::try_from(&ip[12..16]).unwrap().into(), <[u8; 4]>::try_from(&ip[16..20]).unwrap().into())
        }
        Some(6) if ip.len() >= 40 => (
            0x86dd,
            <[u8; 16]>::try_from(&ip[8..24]).unwrap().into(),
            <[u8; 16]>::try_from(&ip[24..40]).unwrap().into(),
        ),
        _ => (0x0800, [0, 0, 0, 0].into(), [0, 0, 0, 0].into()),
    };
    let mut out = Vec::with_capacity(14 + ip.len());
    let (source, destination) = book.macs(src, dst);
    out.extend_from_slice(&destination);
    out.extend_from_slice(&source);
    out.extend_from_slice(&ether_type.to_be_bytes());
    out.extend_from_slice(ip);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Ethernet/IPv4 ARP packet body (no Ethernet header).
    fn arp(op: u16, sender_mac: [u8; 6], sender: [u8; 4], target: [u8; 4]) -> Vec<u8> {
        let mut p = vec![0, 1, 8, 0, 6, 4];
        p.extend_from_slice(&op.to_be_bytes());
        p.extend_from_slice(&sender_mac);
        p.extend_from_slice(&sender);
        p.extend_from_slice(&[0; 6]);
        p.extend_from_slice(&target);
        p
    }

    fn ipv4(src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 20, 0, 0, 0x40, 0, 64, 17, 0, 0];
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p
    }

    #[test]
    fn one_link_type_per_trace() {
        assert_eq!(LinkType::of_generated(true), LinkType::Ethernet);
        assert_eq!(LinkType::of_generated(false), LinkType::Raw);
    }

    #[test]
    fn derived_macs_are_local_or_group() {
        assert_eq!(derived_mac([10, 0, 0, 1].into(), false), [0x02, 0, 10, 0, 0, 1]);
        assert_eq!(derived_mac([255, 255, 255, 255].into(), true), BROADCAST_MAC);
        assert_eq!(derived_mac([224, 129, 2, 3].into(), true), [0x01, 0, 0x5e, 1, 2, 3]);
        // A source is never a group address.
        assert_eq!(derived_mac([224, 129, 2, 3].into(), false), [0x02, 0, 224, 129, 2, 3]);
    }

    #[test]
    fn bare_ip_takes_the_macs_arp_gave() {
        let (a, b) = ([0x00, 0x11, 0x22, 0x33, 0x44, 0x55], [0x00, 0x66, 0x77, 0x88, 0x99, 0xaa]);
        let mut book = ArpBook::default();
        book.learn(&arp(1, a, [10, 0, 0, 1], [10, 0, 0, 2]));
        book.learn(&arp(2, b, [10, 0, 0, 2], [10, 0, 0, 1]));
        let frame = wrap_ip(&ipv4([10, 0, 0, 1], [10, 0, 0, 2]), &book);
        assert_eq!(&frame[..6], &b, "destination");
        assert_eq!(&frame[6..12], &a, "source");
        assert_eq!(&frame[12..14], &[0x08, 0x00]);
        // An address ARP did not bind gets its derived MAC, unless its peer
        // resolved exactly one next hop (its gateway: the next test).
        let frame = wrap_ip(&ipv4([10, 0, 0, 3], [10, 0, 0, 9]), &book);
        assert_eq!(&frame[..12], &[0x02, 0, 10, 0, 0, 9, 0x02, 0, 10, 0, 0, 3]);
        // A group or zero sender MAC binds nothing.
        let mut book = ArpBook::default();
        book.learn(&arp(2, BROADCAST_MAC, [10, 0, 0, 2], [10, 0, 0, 1]));
        assert_eq!(book.macs([10, 0, 0, 1].into(), [10, 0, 0, 2].into()).1, [0x02, 0, 10, 0, 0, 2]);
    }

    #[test]
    fn off_link_packets_go_through_the_one_resolved_gateway() {
        let gateway = [0x00, 0xaa, 0xbb, 0xcc, 0xdd, 0xee];
        let mut book = ArpBook::default();
        book.learn(&arp(1, [0x00, 1, 2, 3, 4, 5], [10, 0, 0, 1], [10, 0, 0, 254]));
        book.learn(&arp(2, gateway, [10, 0, 0, 254], [10, 0, 0, 1]));
        let (_, destination) = book.macs([10, 0, 0, 1].into(), [93, 184, 216, 34].into());
        assert_eq!(destination, gateway);
    }

    #[test]
    fn short_input_is_wrapped_not_a_panic() {
        let frame = wrap_ip(&[0x45, 0], &ArpBook::default());
        assert_eq!(frame.len(), 16);
    }
}
