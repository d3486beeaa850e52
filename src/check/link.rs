//! Link-layer checks: framing faults (raw IPv4 under Ethernet, Ethernet under
//! raw IP), Ethernet header sanity, EtherType against payload.

use etherparse::EtherType;

use super::{mac, Sink};
use crate::dissect::{Frame, Link, LinkFault, Net};
use crate::finding::{Protocol, Severity};

/// Link-layer checks; remembers what is reported once per capture.
#[derive(Debug, Default)]
pub(crate) struct LinkCheck {
    unsupported_reported: bool,
}

impl LinkCheck {
    /// Check the link layer of one frame.
    pub(crate) fn check(&mut self, frame: &Frame<'_>, sink: &mut Sink) {
        match frame.link_fault {
            Some(LinkFault::RawIpInEthernet) => sink.report(
                Severity::Error,
                "link.raw_ip_in_ethernet",
                Protocol::Eth,
                "raw IPv4 packet stored under an Ethernet link type (no Ethernet header)".into(),
            ),
            Some(LinkFault::EthernetInRawIp) => sink.report(
                Severity::Error,
                "link.ethernet_in_raw_ip",
                Protocol::Eth,
                format!("Ethernet frame stored under the raw-IP link type {}", frame.linktype.name()),
            ),
            None => {}
        }
        match frame.link {
            Link::Truncated => sink.report(
                Severity::Error,
                "link.truncated",
                Protocol::Eth,
                format!("{} bytes: shorter than the {} link header", frame.data.len(), frame.linktype.name()),
            ),
            Link::Unsupported(linktype) if !self.unsupported_reported => {
                self.unsupported_reported = true;
                sink.report(
                    Severity::Note,
                    "link.unsupported",
                    Protocol::Frame,
                    format!(
                        "link type {} is recognised but not dissected by the harness's own checks",
                        linktype.name()
                    ),
                );
            }
            Link::Ethernet { src, ether_type, .. } => {
                if src[0] & 1 == 1 {
                    let kind = if src == [0xff; 6] { "broadcast" } else { "group" };
                    sink.report(
                        Severity::Error,
                        "eth.group_source_mac",
                        Protocol::Eth,
                        format!("source MAC {} is a {kind} address (IEEE 802.3 §3.2.3: a source address is always individual)", mac(&src)),
                    );
                }
                check_ether_type(frame, ether_type, sink);
            }
            _ => {}
        }
    }
}

/// Compare the EtherType with what the payload is.
fn check_ether_type(frame: &Frame<'_>, ether_type: u16, sink: &mut Sink) {
    let expected_net = matches!(EtherType(ether_type), EtherType::IPV4 | EtherType::ARP);
    if expected_net {
        if let Net::Bad { protocol, reason } = &frame.net {
            sink.report(
                Severity::Error,
                "eth.ethertype_mismatch",
                Protocol::Eth,
                format!("EtherType 0x{ether_type:04x} announces {protocol} but the payload does not decode as {protocol}: {reason:?}"),
            );
        }
        return;
    }
    if ether_type < 0x0600 {
        // IEEE 802.3 length field (802.2 LLC follows): not Ethernet II.
        return;
    }
    let payload = frame.data.get(14..).unwrap_or(&[]);
    let looks_ipv4 = payload.len() >= 20 && payload[0] >> 4 == 4 && payload[0] & 0xf >= 5;
    if looks_ipv4 && ether_type != EtherType::IPV6.0 {
        sink.report(
            Severity::Error,
            "eth.ethertype_mismatch",
            Protocol::Eth,
            format!("EtherType 0x{ether_type:04x} but the payload is an IPv4 header (expected 0x0800)"),
        );
    } else if !matches!(
        EtherType(ether_type),
        EtherType::IPV6
            | EtherType::VLAN_TAGGED_FRAME
            | EtherType::VLAN_DOUBLE_TAGGED_FRAME
            | EtherType::PROVIDER_BRIDGING
    ) {
        sink.report(
            Severity::Note,
            "eth.unknown_ethertype",
            Protocol::Eth,
            format!("EtherType 0x{ether_type:04x} is not dissected"),
        );
    }
}

#[cfg(test)]
mod test {
    use super::super::testutil::*;
    use crate::pcap::LinkType;

    const M1: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const M2: [u8; 6] = [2, 0, 0, 0, 0, 2];

    #[test]
    fn test_clean_ethernet() {
        let frames = vec![
            ethernet(M1, M2, 0x0800, &icmp_echo(A, B, false, 1, 1)),
            ethernet(M2, M1, 0x0800, &icmp_echo(B, A, true, 1, 1)),
        ];
        assert!(ids(&check_frames(LinkType::Ethernet, &frames)).is_empty());
    }

    #[test]
    fn test_raw_ip_in_ethernet() {
        let frames = vec![icmp_echo(A, B, false, 1, 1), ethernet(M2, M1, 0x0800, &icmp_echo(B, A, true, 1, 1))];
        assert_eq!(ids(&check_frames(LinkType::Ethernet, &frames)), vec![(1, "link.raw_ip_in_ethernet".to_string())]);
    }

    #[test]
    fn test_ethernet_in_raw_ip() {
        let frames = vec![icmp_echo(A, B, false, 1, 1), ethernet(M2, M1, 0x0800, &icmp_echo(B, A, true, 1, 1))];
        assert_eq!(ids(&check_frames(LinkType::Raw, &frames)), vec![(2, "link.ethernet_in_raw_ip".to_string())]);
    }

    #[test]
    fn test_group_source_mac() {
        let group = [0x01, 0x00, 0x5e, 0, 0, 1];
        let frames = vec![
            ethernet(group, M2, 0x0800, &icmp_echo(A, B, false, 1, 1)),
            ethernet(M2, M1, 0x0800, &icmp_echo(B, A, true, 1, 1)),
        ];
        assert_eq!(ids(&check_frames(LinkType::Ethernet, &frames)), vec![(1, "eth.group_source_mac".to_string())]);
    }

    #[test]
    fn test_ethertype_mismatch() {
        // IPv4 payload announced as 0x0801.
        let frames = vec![ethernet(M1, M2, 0x0801, &icmp_echo(A, B, false, 1, 1))];
        assert_eq!(ids(&check_frames(LinkType::Ethernet, &frames)), vec![(1, "eth.ethertype_mismatch".to_string())]);
        // EtherType IPv4 with an ARP-looking payload.
        // (IP is expected there and does not decode: that is reported too.)
        let frames = vec![ethernet(
            M1,
            M2,
            0x0800,
            &[0, 1, 8, 0, 6, 4, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        )];
        assert_eq!(
            ids(&check_frames(LinkType::Ethernet, &frames)),
            vec![(1, "eth.ethertype_mismatch".to_string()), (1, "ip.bad_version".to_string())]
        );
    }

    #[test]
    fn test_truncated_frame() {
        let frames = vec![vec![1, 2, 3]];
        assert_eq!(ids(&check_frames(LinkType::Ethernet, &frames)), vec![(1, "link.truncated".to_string())]);
    }
}
