//! Dissection: from a captured frame to the layers it carries.
//!
//! Ethernet, ARP, IPv4, TCP, UDP and ICMP are sliced with etherparse's *lax*
//! slicer, so a header with a bad length or checksum is still seen by the
//! checks. On top, this module decides which layers are *expected* (from the
//! link type, the EtherType, the IP protocol number and the ports) and which
//! are *present*; the difference is what the success-rate tables call
//! "non-existent". It also recognises the two link-layer bug classes of the
//! paper's published captures: raw IPv4 bytes under an Ethernet link type, and
//! Ethernet frames under a raw-IP link type.

use etherparse::{
    ArpPacketSlice, EtherType, Ethernet2Slice, Icmpv4Slice, IpNumber, LaxIpSlice, LaxIpv4Slice, LaxNetSlice,
    LaxSlicedPacket, LinkSlice, LinuxSllProtocolType, LinuxSllSlice, TcpSlice, TransportSlice, UdpSlice,
};

use crate::finding::{Layers, Protocol};
use crate::pcap::{LinkType, RawFrame, Timestamp};

/// Ports on which a TCP payload is expected to be HTTP.
pub const HTTP_PORTS: [u16; 5] = [80, 8080, 8000, 8008, 3128];
/// Ports on which a UDP or TCP payload is expected to be DNS (and mDNS).
pub const DNS_PORTS: [u16; 2] = [53, 5353];

/// Length of an Ethernet II header.
const ETHERNET_HEADER_LEN: usize = 14;

/// A link-layer framing fault found while dissecting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkFault {
    /// An IPv4 packet stored directly under `LINKTYPE_ETHERNET`.
    RawIpInEthernet,
    /// An Ethernet II frame stored under a raw-IP link type.
    EthernetInRawIp,
}

/// The link layer of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// No link header (raw IP link types, or a raw IP packet found under
    /// Ethernet).
    None,
    /// Ethernet II (after any VLAN tags).
    Ethernet {
        /// Destination MAC.
        dst: [u8; 6],
        /// Source MAC.
        src: [u8; 6],
        /// The EtherType of the payload (after VLAN tags).
        ether_type: u16,
    },
    /// Linux cooked capture.
    Sll {
        /// The protocol field when it is an EtherType.
        ether_type: Option<u16>,
    },
    /// The frame is shorter than its link header.
    Truncated,
    /// IEEE 802.15.4 (ZigBee), decoded by [`crate::wire::zigbee`].
    Ieee802154 {
        /// Whether the frames end with a 2-byte FCS.
        fcs: bool,
    },
    /// A link type this harness does not dissect.
    Unsupported(LinkType),
}

/// Length of ARP's fixed header: hardware type, protocol type, both sizes,
/// opcode (RFC 826).
pub const ARP_FIXED_LEN: usize = 8;

/// The network layer of a frame.
#[derive(Debug, Clone)]
pub enum Net<'a> {
    /// Nothing (or nothing we dissect).
    None,
    /// An ARP packet.
    Arp(ArpPacketSlice<'a>),
    /// An IPv4 packet; `offset` is where its header starts in the frame.
    Ipv4 {
        /// The lax slice (payload cut to what was captured).
        slice: LaxIpv4Slice<'a>,
        /// Offset of the IPv4 header in the frame.
        offset: usize,
    },
    /// An IPv6 packet (counted, not checked).
    Ipv6,
    /// An ARP packet whose fixed header (RFC 826: hardware and protocol
    /// type, sizes, opcode) decodes but whose addresses, at the sizes the
    /// header declares, do not fit the bytes present: ARP is there, and
    /// malformed.
    ArpCut {
        /// The 8-byte fixed header.
        header: [u8; ARP_FIXED_LEN],
        /// Bytes the declared sizes need.
        needed: usize,
        /// Bytes present.
        available: usize,
    },
    /// A network layer was expected but does not decode.
    Bad {
        /// The expected layer.
        protocol: Protocol,
        /// Why it does not decode.
        reason: NetError,
    },
}

/// Why an expected network layer does not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetError {
    /// The IP version nibble is not 4.
    Version(u8),
    /// The IPv4 IHL is below 5.
    Ihl(u8),
    /// Fewer bytes than the header needs.
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
}

impl From<&etherparse::err::LenError> for NetError {
    fn from(len: &etherparse::err::LenError) -> Self {
        NetError::Truncated { needed: len.required_len, available: len.len }
    }
}

impl From<&etherparse::err::ip::HeaderError> for NetError {
    fn from(error: &etherparse::err::ip::HeaderError) -> Self {
        use etherparse::err::ip::HeaderError;
        match *error {
            HeaderError::UnsupportedIpVersion { version_number } => NetError::Version(version_number),
            HeaderError::Ipv4HeaderLengthSmallerThanHeader { ihl } => NetError::Ihl(ihl),
        }
    }
}

/// The transport layer of a frame.
#[derive(Debug, Clone)]
pub enum Transport<'a> {
    /// Nothing (no IP, a non-first fragment, or another protocol).
    None,
    /// TCP.
    Tcp(TcpSlice<'a>),
    /// UDP.
    Udp(UdpSlice<'a>),
    /// ICMPv4.
    Icmp(Icmpv4Slice<'a>),
    /// The IP protocol number promised a transport header that does not decode.
    Bad {
        /// The expected layer.
        protocol: Protocol,
        /// Human-readable reason.
        reason: String,
    },
}

/// A dissected frame: borrowed views of each layer plus the expected and
/// present layer sets.
#[derive(Debug, Clone)]
pub struct Frame<'a> {
    /// 1-based frame number.
    pub number: u64,
    /// Capture time, nanoseconds since the epoch.
    pub ts: Timestamp,
    /// The capture's link type for this frame.
    pub linktype: LinkType,
    /// The captured bytes.
    pub data: &'a [u8],
    /// Length of the frame on the wire (more than `data.len()` when the
    /// capture's snap length cut it).
    pub orig_len: u32,
    /// A framing fault, if the frame's bytes contradict the link type.
    pub link_fault: Option<LinkFault>,
    /// The link layer.
    pub link: Link,
    /// The network layer.
    pub net: Net<'a>,
    /// The transport layer.
    pub transport: Transport<'a>,
    /// Layers expected from the layer below (link type, EtherType, protocol
    /// number, ports).
    pub expected: Layers,
    /// Layers that decode.
    pub present: Layers,
}

impl<'a> Frame<'a> {
    /// Return the application payload: the TCP or UDP payload, or empty.
    pub fn app_payload(&self) -> &'a [u8] {
        match &self.transport {
            Transport::Tcp(tcp) => tcp.payload(),
            Transport::Udp(udp) => udp.payload(),
            _ => &[],
        }
    }

    /// Return whether the capture holds the whole frame.
    pub fn is_whole(&self) -> bool {
        self.data.len() as u64 >= u64::from(self.orig_len)
    }

    /// Return the IPv4 source and destination addresses, if any.
    pub fn ipv4_addrs(&self) -> Option<([u8; 4], [u8; 4])> {
        match &self.net {
            Net::Ipv4 { slice, .. } => {
                let header = slice.header();
                Some((header.source(), header.destination()))
            }
            _ => None,
        }
    }

    /// Return the (source, destination) ports of TCP or UDP.
    pub fn ports(&self) -> Option<(u16, u16)> {
        match &self.transport {
            Transport::Tcp(tcp) => Some((tcp.source_port(), tcp.destination_port())),
            Transport::Udp(udp) => Some((udp.source_port(), udp.destination_port())),
            _ => None,
        }
    }
}

/// Dissect `raw` as frame number `number`.
pub fn dissect<'a>(number: u64, raw: &RawFrame<'a>) -> Frame<'a> {
    let mut frame = Frame {
        number,
        ts: raw.ts,
        linktype: raw.linktype,
        data: raw.data,
        orig_len: raw.orig_len,
        link_fault: None,
        link: Link::None,
        net: Net::None,
        transport: Transport::None,
        expected: Layers::default(),
        present: Layers::default(),
    };
    let data = raw.data;
    match raw.linktype {
        LinkType::Ethernet => {
            frame.expected.insert(Protocol::Eth);
            if looks_like_raw_ipv4(data) {
                frame.link_fault = Some(LinkFault::RawIpInEthernet);
                // The bytes are present, but not as Ethernet: ETH is malformed.
                frame.present.insert(Protocol::Eth);
                slice_ip(&mut frame, data);
            } else {
                slice_ethernet(&mut frame, data);
            }
        }
        LinkType::Raw | LinkType::Ipv4 => {
            if looks_like_ethernet(data) {
                frame.link_fault = Some(LinkFault::EthernetInRawIp);
                frame.expected.insert(Protocol::Eth);
                slice_ethernet(&mut frame, data);
            } else if raw.linktype == LinkType::Raw && data.first().map(|b| b >> 4) == Some(6) {
                frame.net = Net::Ipv6;
            } else {
                frame.expected.insert(Protocol::Ip);
                slice_ip(&mut frame, data);
                if raw.linktype == LinkType::Ipv4 && matches!(frame.net, Net::Ipv6) {
                    // LINKTYPE_IPV4 promises IPv4 only.
                    frame.net = Net::Bad { protocol: Protocol::Ip, reason: NetError::Version(6) };
                }
            }
        }
        LinkType::LinuxSll => match LinuxSllSlice::from_slice(data) {
            Ok(sll) => {
                let ether_type = match sll.protocol_type() {
                    LinuxSllProtocolType::EtherType(t) => Some(t.0),
                    _ => None,
                };
                frame.link = Link::Sll { ether_type };
                if let Some(ether_type) = ether_type {
                    let payload = &data[sll.header_slice().len()..];
                    expect_from_ether_type(&mut frame, ether_type);
                    let sliced = LaxSlicedPacket::from_ether_type(EtherType(ether_type), payload);
                    fill_from_sliced(&mut frame, &sliced, payload);
                }
            }
            Err(_) => frame.link = Link::Truncated,
        },
        LinkType::Ieee802154NoFcs | LinkType::Ieee802154WithFcs => slice_ieee802154(&mut frame),
        other => frame.link = Link::Unsupported(other),
    }
    expect_applications(&mut frame);
    frame
}

/// Fill the link and layer sets of an IEEE 802.15.4 frame.
fn slice_ieee802154(frame: &mut Frame<'_>) {
    let fcs = frame.linktype == LinkType::Ieee802154WithFcs;
    frame.link = Link::Ieee802154 { fcs };
    let data = ieee802154_payload(frame);
    frame.expected.insert(Protocol::Zigbee);
    if let Ok(decoded) = crate::wire::zigbee::decode(data) {
        let (expected, present) = decoded.layers();
        frame.expected.0 |= expected.0;
        frame.present.0 |= present.0;
    }
}

/// Return the bytes of an IEEE 802.15.4 frame without its FCS (the whole
/// frame for the link type without one).
pub fn ieee802154_payload<'a>(frame: &Frame<'a>) -> &'a [u8] {
    if frame.linktype == LinkType::Ieee802154WithFcs {
        &frame.data[..frame.data.len().saturating_sub(2)]
    } else {
        frame.data
    }
}

fn slice_ethernet<'a>(frame: &mut Frame<'a>, data: &'a [u8]) {
    if !slice_ethernet_ipv4(frame, data) {
        slice_ethernet_general(frame, data);
    }
}

/// Slice an Ethernet frame with etherparse's lax slicer (VLAN tags, ARP,
/// errors at any layer).
fn slice_ethernet_general<'a>(frame: &mut Frame<'a>, data: &'a [u8]) {
    match LaxSlicedPacket::from_ethernet(data) {
        Ok(sliced) => {
            frame.present.insert(Protocol::Eth);
            let (dst, src, outer_type) = match &sliced.link {
                Some(LinkSlice::Ethernet2(eth)) => (eth.destination(), eth.source(), eth.ether_type().0),
                _ => ([0; 6], [0; 6], 0),
            };
            let ether_type = sliced.ether_payload().map(|p| p.ether_type.0).unwrap_or(outer_type);
            frame.link = Link::Ethernet { dst, src, ether_type };
            expect_from_ether_type(frame, ether_type);
            fill_from_sliced(frame, &sliced, data);
        }
        Err(_) => frame.link = Link::Truncated,
    }
}

/// Slice the common case, an untagged Ethernet II frame carrying a whole,
/// unfragmented IPv4 packet whose TCP, UDP or ICMP header decodes, with the
/// very etherparse calls `LaxSlicedPacket::from_ethernet` makes, but without
/// its cursor (which moves a large struct through every layer). Return
/// `false`, with `frame` untouched, for anything else: the general path then
/// slices it.
fn slice_ethernet_ipv4<'a>(frame: &mut Frame<'a>, data: &'a [u8]) -> bool {
    let Ok(eth) = Ethernet2Slice::from_slice_without_fcs(data) else { return false };
    if eth.ether_type() != EtherType::IPV4 {
        return false;
    }
    let Ok((LaxIpSlice::Ipv4(ip), None)) = LaxIpSlice::from_slice(eth.payload_slice()) else { return false };
    let payload = ip.payload();
    if payload.fragmented {
        return false;
    }
    let transport = match payload.ip_number {
        IpNumber::TCP => TcpSlice::from_slice(payload.payload).ok().map(TransportSlice::Tcp),
        IpNumber::UDP => UdpSlice::from_slice_lax(payload.payload).ok().map(TransportSlice::Udp),
        IpNumber::ICMP => Icmpv4Slice::from_slice(payload.payload).ok().map(TransportSlice::Icmpv4),
        _ => None,
    };
    let Some(transport) = transport else { return false };
    frame.present.insert(Protocol::Eth);
    frame.link = Link::Ethernet { dst: eth.destination(), src: eth.source(), ether_type: EtherType::IPV4.0 };
    expect_from_ether_type(frame, EtherType::IPV4.0);
    fill_ipv4(frame, ip);
    fill_transport(frame, transport);
    true
}

fn slice_ip<'a>(frame: &mut Frame<'a>, data: &'a [u8]) {
    frame.expected.insert(Protocol::Ip);
    match LaxSlicedPacket::from_ip(data) {
        Ok(sliced) => fill_from_sliced(frame, &sliced, data),
        Err(error) => {
            use etherparse::err::ip::LaxHeaderSliceError;
            let reason = match &error {
                LaxHeaderSliceError::Len(len) => NetError::from(len),
                LaxHeaderSliceError::Content(content) => NetError::from(content),
            };
            frame.net = Net::Bad { protocol: Protocol::Ip, reason };
        }
    }
}

/// Mark the network layer the EtherType promises as expected.
fn expect_from_ether_type(frame: &mut Frame<'_>, ether_type: u16) {
    match EtherType(ether_type) {
        EtherType::IPV4 => frame.expected.insert(Protocol::Ip),
        EtherType::ARP => frame.expected.insert(Protocol::Arp),
        _ => {}
    }
}

/// Copy the layers of an etherparse lax slice into `frame`; `base` is the
/// slice the parse started from (to compute offsets). The slice is large
/// (room for every header etherparse knows): it is borrowed, never moved, and
/// only the layers the checks use are cloned out of it.
fn fill_from_sliced<'a>(frame: &mut Frame<'a>, sliced: &LaxSlicedPacket<'a>, base: &'a [u8]) {
    match &sliced.net {
        Some(LaxNetSlice::Ipv4(slice)) => fill_ipv4(frame, slice.clone()),
        Some(LaxNetSlice::Ipv6(_)) => frame.net = Net::Ipv6,
        Some(LaxNetSlice::Arp(arp)) => {
            frame.present.insert(Protocol::Arp);
            frame.net = Net::Arp(arp.clone());
        }
        None => {
            if let Some((error, _layer)) = &sliced.stop_err {
                let expected = if frame.expected.contains(Protocol::Ip) {
                    Some(Protocol::Ip)
                } else if frame.expected.contains(Protocol::Arp) {
                    Some(Protocol::Arp)
                } else {
                    None
                };
                if let Some(protocol) = expected {
                    let reason = net_error(error, base);
                    // The fixed ARP header is there: ARP decodes, its sizes
                    // and the bytes present disagree.
                    let arp_header = match error {
                        etherparse::err::packet::SliceError::Len(len) if protocol == Protocol::Arp => {
                            base.get(len.layer_start_offset..len.layer_start_offset + ARP_FIXED_LEN)
                        }
                        _ => None,
                    };
                    match (arp_header, reason) {
                        (Some(header), NetError::Truncated { needed, available }) => {
                            frame.present.insert(Protocol::Arp);
                            frame.net = Net::ArpCut {
                                header: header.try_into().expect("ARP_FIXED_LEN bytes"),
                                needed,
                                available,
                            };
                        }
                        _ => frame.net = Net::Bad { protocol, reason },
                    }
                }
            }
        }
    }
    match &sliced.transport {
        Some(transport) => fill_transport(frame, transport.clone()),
        None => {
            if let (Net::Ipv4 { .. }, Some((error, _))) = (&frame.net, &sliced.stop_err) {
                for layer in [Protocol::Tcp, Protocol::Udp, Protocol::Icmp] {
                    if frame.expected.contains(layer) {
                        frame.transport = Transport::Bad { protocol: layer, reason: error.to_string() };
                    }
                }
            }
        }
    }
}

/// Record an IPv4 layer that decodes, and the transport it promises.
fn fill_ipv4<'a>(frame: &mut Frame<'a>, slice: LaxIpv4Slice<'a>) {
    frame.present.insert(Protocol::Ip);
    let header_ptr = slice.header().slice().as_ptr() as usize;
    let offset = header_ptr - frame.data.as_ptr() as usize;
    let protocol = slice.payload().ip_number;
    let first_fragment = !slice.payload().fragmented || slice.header().fragments_offset().value() == 0;
    if first_fragment {
        if let Some(layer) = transport_layer(protocol) {
            frame.expected.insert(layer);
        }
    }
    frame.net = Net::Ipv4 { slice, offset };
}

/// Record a transport layer that decodes (TCP, UDP, ICMPv4; others are not
/// dissected).
fn fill_transport<'a>(frame: &mut Frame<'a>, transport: TransportSlice<'a>) {
    match transport {
        TransportSlice::Tcp(tcp) => {
            frame.present.insert(Protocol::Tcp);
            frame.transport = Transport::Tcp(tcp);
        }
        TransportSlice::Udp(udp) => {
            frame.present.insert(Protocol::Udp);
            frame.transport = Transport::Udp(udp);
        }
        TransportSlice::Icmpv4(icmp) => {
            frame.present.insert(Protocol::Icmp);
            frame.transport = Transport::Icmp(icmp);
        }
        _ => {}
    }
}

fn net_error(error: &etherparse::err::packet::SliceError, base: &[u8]) -> NetError {
    use etherparse::err::packet::SliceError;
    match error {
        SliceError::Len(len) => NetError::from(len),
        SliceError::Ip(content) => NetError::from(content),
        SliceError::Ipv4(etherparse::err::ipv4::HeaderError::UnexpectedVersion { version_number }) => {
            NetError::Version(*version_number)
        }
        SliceError::Ipv4(etherparse::err::ipv4::HeaderError::HeaderLengthSmallerThanHeader { ihl }) => {
            NetError::Ihl(*ihl)
        }
        _ => NetError::Truncated { needed: 0, available: base.len() },
    }
}

fn transport_layer(protocol: IpNumber) -> Option<Protocol> {
    match protocol {
        IpNumber::TCP => Some(Protocol::Tcp),
        IpNumber::UDP => Some(Protocol::Udp),
        IpNumber::ICMP => Some(Protocol::Icmp),
        _ => None,
    }
}

/// Mark DNS and HTTP expected/present from ports and payload.
fn expect_applications(frame: &mut Frame<'_>) {
    let Some((sport, dport)) = frame.ports() else { return };
    let payload = frame.app_payload();
    let on = |ports: &[u16]| ports.contains(&sport) || ports.contains(&dport);
    match &frame.transport {
        Transport::Udp(_) if on(&DNS_PORTS) => {
            frame.expected.insert(Protocol::Dns);
            if payload.len() >= crate::wire::dns::HEADER_LEN {
                frame.present.insert(Protocol::Dns);
            }
        }
        Transport::Tcp(_) if !payload.is_empty() => {
            // An HTTP message wins over a DNS port: a client's ephemeral
            // port may well be 5353.
            if crate::wire::http::looks_like_http(payload) {
                frame.expected.insert(Protocol::Http);
                frame.present.insert(Protocol::Http);
            } else if on(&DNS_PORTS) {
                frame.expected.insert(Protocol::Dns);
                // DNS over TCP: a two-byte length prefix, then the message.
                if payload.len() >= 2 + crate::wire::dns::HEADER_LEN {
                    frame.present.insert(Protocol::Dns);
                }
            } else if on(&HTTP_PORTS) {
                // Present only if the HTTP check recognises a body continuation.
                frame.expected.insert(Protocol::Http);
            }
        }
        _ => {}
    }
}

/// Return whether an "Ethernet" frame is really a bare IPv4 packet: version
/// 4, a plausible IHL, and a total length that matches the captured bytes.
fn looks_like_raw_ipv4(data: &[u8]) -> bool {
    if data.len() < 20 || data[0] >> 4 != 4 || data[0] & 0x0f < 5 {
        return false;
    }
    let total = usize::from(u16::from_be_bytes([data[2], data[3]]));
    let ether_type = u16::from_be_bytes([data[12], data[13]]);
    let known = matches!(
        EtherType(ether_type),
        EtherType::IPV4 | EtherType::ARP | EtherType::IPV6 | EtherType::VLAN_TAGGED_FRAME
    );
    total == data.len() || (!known && total >= 20 && total <= data.len())
}

/// Return whether `data` is a plausible IPv4 or IPv6 packet: version, header
/// length and a total length that fits the bytes.
fn plausible_ip(data: &[u8]) -> bool {
    match data.first().map(|b| b >> 4) {
        Some(4) if data.len() >= 20 => {
            let ihl = usize::from(data[0] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([data[2], data[3]]));
            ihl >= 20 && total >= ihl && total <= data.len()
        }
        Some(6) if data.len() >= 40 => 40 + usize::from(u16::from_be_bytes([data[4], data[5]])) <= data.len(),
        _ => false,
    }
}

/// Return whether a "raw IP" packet is really an Ethernet II frame: not a
/// plausible IP packet (a destination MAC may well start with 0x4 or 0x6),
/// a known EtherType at offset 12, and a matching header behind it.
fn looks_like_ethernet(data: &[u8]) -> bool {
    if data.len() < ETHERNET_HEADER_LEN + 8 || plausible_ip(data) {
        return false;
    }
    let payload = &data[ETHERNET_HEADER_LEN..];
    match EtherType(u16::from_be_bytes([data[12], data[13]])) {
        EtherType::IPV4 => payload[0] >> 4 == 4,
        EtherType::IPV6 => payload[0] >> 4 == 6,
        EtherType::ARP => payload[..2] == [0, 1],
        _ => false,
    }
}

#[cfg(test)]
mod test {
    use super::*;

    /// An Ethernet/IPv4/UDP/DNS query frame (A example.com), checksums valid.
    pub(crate) fn udp_frame(with_eth: bool) -> Vec<u8> {
        let builder = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(40000, 53);
        let payload = [
            0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 3, b'c', b'o', b'm',
            0, 0, 1, 0, 1,
        ];
        let mut out = Vec::new();
        builder.write(&mut out, &payload).unwrap();
        if with_eth {
            out
        } else {
            out[14..].to_vec()
        }
    }

    fn run(linktype: LinkType, data: &[u8]) -> Frame<'_> {
        dissect(1, &RawFrame { linktype, ts: 0, orig_len: data.len() as u32, data, offset: 0 })
    }

    #[test]
    fn test_ethernet_dns() {
        let data = udp_frame(true);
        let frame = run(LinkType::Ethernet, &data);
        assert_eq!(frame.link_fault, None);
        for layer in [Protocol::Eth, Protocol::Ip, Protocol::Udp, Protocol::Dns] {
            assert!(frame.expected.contains(layer), "{layer} expected");
            assert!(frame.present.contains(layer), "{layer} present");
        }
        assert_eq!(frame.ports(), Some((40000, 53)));
        assert_eq!(frame.ipv4_addrs(), Some(([10, 0, 0, 1], [10, 0, 0, 2])));
    }

    #[test]
    fn test_raw_ip_in_ethernet() {
        let data = udp_frame(false);
        let frame = run(LinkType::Ethernet, &data);
        assert_eq!(frame.link_fault, Some(LinkFault::RawIpInEthernet));
        assert!(frame.present.contains(Protocol::Udp));
    }

    #[test]
    fn test_ethernet_in_raw_ip() {
        let data = udp_frame(true);
        let frame = run(LinkType::Raw, &data);
        assert_eq!(frame.link_fault, Some(LinkFault::EthernetInRawIp));
        assert!(frame.present.contains(Protocol::Dns));
    }

    #[test]
    fn test_ethernet_in_raw_ip_with_ipv6_looking_mac() {
        // An ARP frame to 67:89:ab:cd:ef:12 (first nibble 6), as in the
        // paper's mixture-of-experts capture.
        let mut data = vec![0x67, 0x89, 0xab, 0xcd, 0xef, 0x12, 2, 0, 0, 0, 0, 1, 8, 6, 0, 1, 8, 0, 6, 4, 0, 2];
        data.extend_from_slice(&[0; 20]);
        for linktype in [LinkType::Raw, LinkType::Ipv4] {
            let frame = run(linktype, &data);
            assert_eq!(frame.link_fault, Some(LinkFault::EthernetInRawIp));
            assert!(frame.present.contains(Protocol::Arp));
            assert!(!frame.expected.contains(Protocol::Ip));
        }
    }

    #[test]
    fn test_ipv6_under_linktype_ipv4() {
        let mut data = vec![0x60, 0, 0, 0, 0, 0, 59, 64];
        data.extend_from_slice(&[0; 32]);
        let frame = run(LinkType::Ipv4, &data);
        assert!(matches!(frame.net, Net::Bad { reason: NetError::Version(6), .. }));
        assert!(matches!(run(LinkType::Raw, &data).net, Net::Ipv6));
    }

    #[test]
    fn test_raw_ip() {
        let data = udp_frame(false);
        let frame = run(LinkType::Raw, &data);
        assert_eq!(frame.link_fault, None);
        assert!(!frame.expected.contains(Protocol::Eth));
        assert!(frame.present.contains(Protocol::Dns));
    }

    #[test]
    fn test_bad_version_is_non_existent_ip() {
        let mut data = udp_frame(false);
        data[0] = 0x55;
        let frame = run(LinkType::Raw, &data);
        assert!(frame.expected.contains(Protocol::Ip));
        assert!(!frame.present.contains(Protocol::Ip));
        assert!(matches!(frame.net, Net::Bad { reason: NetError::Version(5), .. }));
    }

    #[test]
    fn test_truncated_udp_is_expected_not_present() {
        let data = udp_frame(false);
        let frame_bytes = &data[..24];
        let frame = run(LinkType::Raw, frame_bytes);
        assert!(frame.expected.contains(Protocol::Udp));
        assert!(!frame.present.contains(Protocol::Udp));
    }

    #[test]
    fn test_unsupported_linktype() {
        let frame = run(LinkType::Unknown(147), &[0x41, 0x88, 1, 2, 3]);
        assert_eq!(frame.link, Link::Unsupported(LinkType::Unknown(147)));
        assert!(frame.expected.is_empty());
    }

    /// Return an Ethernet frame with no layer dissected yet.
    fn blank(data: &[u8]) -> Frame<'_> {
        let mut frame = Frame {
            number: 1,
            ts: 0,
            linktype: LinkType::Ethernet,
            data,
            orig_len: data.len() as u32,
            link_fault: None,
            link: Link::None,
            net: Net::None,
            transport: Transport::None,
            expected: Layers::default(),
            present: Layers::default(),
        };
        frame.expected.insert(Protocol::Eth);
        frame
    }

    /// Dissect `data` under Ethernet with the general slicer only.
    fn general(data: &[u8]) -> String {
        let mut frame = blank(data);
        slice_ethernet_general(&mut frame, data);
        expect_applications(&mut frame);
        format!("{frame:?}")
    }

    /// Frames the fast path takes: TCP, UDP and ICMP over untagged IPv4.
    fn fast_path_frames() -> Vec<Vec<u8>> {
        let (a, b) = ([10, 0, 0, 1], [10, 0, 0, 2]);
        let eth = |ip: Vec<u8>| crate::testkit::ethernet([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], 0x0800, &ip);
        vec![
            udp_frame(true),
            eth(crate::testkit::tcp(a, b, 40000, 80, "PA", 1, 2, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")),
            eth(crate::testkit::tcp(a, b, 40000, 53, "PA", 1, 2, &[0, 12, 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0])),
            eth(crate::testkit::icmp_echo(a, b, false, 1, 1)),
        ]
    }

    #[test]
    fn test_fast_path_taken() {
        for data in fast_path_frames() {
            assert!(slice_ethernet_ipv4(&mut blank(&data), &data), "{data:02x?}");
        }
    }

    proptest::proptest! {
        /// The fast path sees exactly what the general slicer sees, on
        /// correct frames and on any mutation or cut of them.
        #[test]
        fn prop_fast_path_equals_general(
            which in 0usize..4,
            flips in proptest::collection::vec((proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>()), 0..4),
            cut in proptest::prelude::any::<usize>(),
        ) {
            let mut data = fast_path_frames().swap_remove(which);
            for (at, value) in flips {
                let at = at % data.len();
                data[at] = value;
            }
            let keep = data.len() - cut % 24;
            data.truncate(keep);
            let raw = RawFrame { linktype: LinkType::Ethernet, ts: 0, orig_len: data.len() as u32, data: &data, offset: 0 };
            let full = dissect(1, &raw);
            if full.link_fault.is_none() {
                proptest::prop_assert_eq!(format!("{full:?}"), general(&data));
            }
        }
    }
}
