//! The paper's per-packet rules: a Scapy-like view of one captured packet and
//! the checks of the paper's evaluation notebook, applied in its order.
//!
//! Source: `gpt3_5/notebooks/SuccessRateEvaluation.ipynb` of the public
//! repository javieradelgado/GPT-on-the-wire, the version of commit
//! `fa121737` whose output cell printed the mixture-of-experts table
//! (IP 92.93 %, HTTP 96.15 %, 396 packets). Every rule below names the
//! notebook function it comes from. The notebook parses bytes with Scapy
//! (`RawPcapReader` + `IP(bytes)` or `Ether(bytes)`), never with tshark, so
//! the view here follows Scapy's dissection (2.5/2.6 `layers/inet.py`,
//! `layers/dns.py`, `layers/http.py`), including where Scapy gives up and
//! leaves the bytes as `Raw` — which is how the notebook's "non-existent"
//! DNS packets arise.

use crate::finding::Protocol;
use crate::pcap::LinkType;

/// How the notebook turned a record's bytes into a Scapy packet.
///
/// `process_pcap` parses the file it calls `file_name3` (the ARP capture,
/// the only Ethernet capture it reads) with `Ether(bytes)` and every other
/// file with `IP(bytes)`, whatever the link type says. Mapped onto link
/// types: Ethernet captures are read as Ethernet, all others as raw IP —
/// which is what the notebook did for every capture it evaluated (the
/// mixture-of-experts capture is raw IPv4 but holds Ethernet ARP frames:
/// they are parsed as IP and fail the IP checks, the notebook's 28
/// malformed IP packets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loader {
    /// `Ether(bytes)`.
    Ether,
    /// `IP(bytes)`.
    Ip,
}

impl Loader {
    /// Return the loader the notebook used for a capture of `linktype`.
    pub fn for_linktype(linktype: LinkType) -> Loader {
        if linktype == LinkType::Ethernet {
            Loader::Ether
        } else {
            Loader::Ip
        }
    }
}

/// Ports Scapy binds to `DNS` over UDP (`layers/dns.py`: 53 and 5353).
const SCAPY_DNS_PORTS: [u16; 2] = [53, 5353];
/// Ports Scapy binds to `HTTP` over TCP (`layers/http.py`: 80 and 8080).
const SCAPY_HTTP_PORTS: [u16; 2] = [80, 8080];
/// ICMP types `icmp_packet_malformed` accepts; 1, 2, 4, 7, 15–39 and 44+
/// are "malformed" (4 and 15–18 are real, deprecated types).
const ICMP_TYPES: [u8; 15] = [0, 3, 5, 6, 8, 9, 10, 11, 12, 13, 14, 40, 41, 42, 43];
/// The request methods `HTTP_packet_malformed` accepts.
const HTTP_METHODS: [&[u8]; 8] = [b"GET", b"OPTIONS", b"POST", b"HEAD", b"PUT", b"DELETE", b"TRACE", b"CONNECT"];
/// Scapy's request-line methods (`HTTP.reqmethods`).
const SCAPY_METHODS: [&[u8]; 8] = [b"OPTIONS", b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"TRACE", b"CONNECT"];
/// The status codes `HTTP_packet_malformed` accepts.
const HTTP_STATUS: [u16; 64] = [
    100, 101, 102, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 306, 307, 308, 400,
    401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418, 421, 422, 423, 424, 426,
    428, 429, 431, 444, 451, 499, 500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511, 599,
];

/// The protocols of the notebook's table, in its order.
pub const NOTEBOOK_PROTOCOLS: [Protocol; 7] =
    [Protocol::Ip, Protocol::Icmp, Protocol::Dns, Protocol::Udp, Protocol::Arp, Protocol::Http, Protocol::Tcp];

/// What the notebook does with a packet a rule fires on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Counted as malformed for the rule's protocol (`arrEr`).
    Malformed,
    /// Counted as non-existent for the rule's protocol (`arrNonEx`).
    NonExistent,
    /// Returned but counted nowhere: the packet's detected layers stay
    /// "correctly sent".
    Uncounted,
}

/// One rule of the notebook, with a stable `paper.*` id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// `ip_packet_malformed`: `len(packet) < 20`.
    IpTooShort,
    /// `ip_packet_malformed`: `version != 4`.
    IpVersion,
    /// `ip_packet_malformed`: `ihl < 5`.
    IpIhl,
    /// `ip_packet_malformed`: `IP.len != len(packet)`, where `packet` is the
    /// whole parsed packet (an Ethernet header or trailing bytes count).
    IpTotalLength,
    /// `ip_packet_malformed`: protocol not 1, 6 or 17.
    IpProtocol,
    /// `icmp_packet_malformed`: `len(packet[ICMP]) < 8`.
    IcmpTooShort,
    /// `icmp_packet_malformed`: type not in its list (4 and 15–18 included).
    IcmpType,
    /// `icmp_packet_malformed`: code out of range for the type.
    IcmpCode,
    /// Protocol 1 without an ICMP layer: the notebook's `packet[ICMP]` would
    /// raise; counted as ICMP non-existent (harness extension).
    IcmpMissing,
    /// `UDP_packet_malformed`: `len(packet[UDP]) < 8`.
    UdpTooShort,
    /// Protocol 17 without a UDP layer (`packet[UDP]` would raise; harness
    /// extension, counted as UDP non-existent).
    UdpMissing,
    /// `DNS_packet_malformed`: UDP that Scapy does not dissect as DNS (wrong
    /// port, or a record Scapy cannot decode).
    DnsMissing,
    /// `DNS_packet_malformed`: opcode not 0, 1 or 2.
    DnsOpcode,
    /// `DNS_packet_malformed`: rcode not 0–3.
    DnsRcode,
    /// `DNS_packet_malformed`: dissected questions differ from `qdcount`.
    DnsQdcount,
    /// `DNS_packet_malformed`: dissected answers differ from `ancount`.
    DnsAncount,
    /// `DNS_packet_malformed`: dissected additional records differ from
    /// `arcount`.
    DnsArcount,
    /// `DNS_packet_malformed`: dissected authority records differ from
    /// `nscount`.
    DnsNscount,
    /// Protocol 6 without a TCP layer (`packet[TCP]` would raise; harness
    /// extension, counted as TCP non-existent).
    TcpMissing,
    /// `TCP_packet_malformed`: `len(packet[TCP]) < 20`.
    TcpTooShort,
    /// `TCP_packet_malformed`: a port equal to 65535 (`not in range(0, 65535)`).
    TcpPort65535,
    /// `TCP_packet_malformed`: window equal to 65535.
    TcpWindow65535,
    /// `TCP_packet_malformed`: urgent pointer equal to 65535.
    TcpUrgptr65535,
    /// `HTTP_packet_malformed`: version not `HTTP/1.1` or `HTTP/1.0`.
    HttpVersion,
    /// `HTTP_packet_malformed`: a request not sent to port 80.
    HttpRequestPort,
    /// `HTTP_packet_malformed`: a method outside its list.
    HttpMethod,
    /// `HTTP_packet_malformed`: a response not sent from port 80.
    HttpResponsePort,
    /// `HTTP_packet_malformed`: a status code outside its list.
    HttpStatus,
    /// `ARP_packet_malformed`: `len(packet) < 28` (the whole frame).
    ArpTooShort,
    /// `ARP_packet_malformed`: opcode not 1 or 2.
    ArpOpcode,
    /// `Ether_packet_malformed`: EtherType below 0x0600 ("Wrong Ether type",
    /// counted nowhere).
    EtherType,
    /// Neither an Ethernet nor an IP layer: `send_packet` would raise
    /// (`var` unbound); counted nowhere (harness extension).
    NoLayer,
}

impl Rule {
    /// Return the stable id (`paper.tcp.window_65535`, …).
    pub fn id(self) -> &'static str {
        match self {
            Rule::IpTooShort => "paper.ip.too_short",
            Rule::IpVersion => "paper.ip.version",
            Rule::IpIhl => "paper.ip.ihl",
            Rule::IpTotalLength => "paper.ip.total_length",
            Rule::IpProtocol => "paper.ip.protocol",
            Rule::IcmpTooShort => "paper.icmp.too_short",
            Rule::IcmpType => "paper.icmp.type",
            Rule::IcmpCode => "paper.icmp.code",
            Rule::IcmpMissing => "paper.icmp.missing",
            Rule::UdpTooShort => "paper.udp.too_short",
            Rule::UdpMissing => "paper.udp.missing",
            Rule::DnsMissing => "paper.dns.not_dissected",
            Rule::DnsOpcode => "paper.dns.opcode",
            Rule::DnsRcode => "paper.dns.rcode",
            Rule::DnsQdcount => "paper.dns.qdcount",
            Rule::DnsAncount => "paper.dns.ancount",
            Rule::DnsArcount => "paper.dns.arcount",
            Rule::DnsNscount => "paper.dns.nscount",
            Rule::TcpMissing => "paper.tcp.missing",
            Rule::TcpTooShort => "paper.tcp.too_short",
            Rule::TcpPort65535 => "paper.tcp.port_65535",
            Rule::TcpWindow65535 => "paper.tcp.window_65535",
            Rule::TcpUrgptr65535 => "paper.tcp.urgptr_65535",
            Rule::HttpVersion => "paper.http.version",
            Rule::HttpRequestPort => "paper.http.request_port",
            Rule::HttpMethod => "paper.http.method",
            Rule::HttpResponsePort => "paper.http.response_port",
            Rule::HttpStatus => "paper.http.status",
            Rule::ArpTooShort => "paper.arp.too_short",
            Rule::ArpOpcode => "paper.arp.opcode",
            Rule::EtherType => "paper.eth.type",
            Rule::NoLayer => "paper.no_layer",
        }
    }

    /// Return the protocol whose counter the rule feeds.
    pub fn protocol(self) -> Protocol {
        match self {
            Rule::IpTooShort | Rule::IpVersion | Rule::IpIhl | Rule::IpTotalLength | Rule::IpProtocol => Protocol::Ip,
            Rule::IcmpTooShort | Rule::IcmpType | Rule::IcmpCode | Rule::IcmpMissing => Protocol::Icmp,
            Rule::UdpTooShort | Rule::UdpMissing => Protocol::Udp,
            Rule::DnsMissing
            | Rule::DnsOpcode
            | Rule::DnsRcode
            | Rule::DnsQdcount
            | Rule::DnsAncount
            | Rule::DnsArcount
            | Rule::DnsNscount => Protocol::Dns,
            Rule::TcpMissing | Rule::TcpTooShort | Rule::TcpPort65535 | Rule::TcpWindow65535 | Rule::TcpUrgptr65535 => {
                Protocol::Tcp
            }
            Rule::HttpVersion
            | Rule::HttpRequestPort
            | Rule::HttpMethod
            | Rule::HttpResponsePort
            | Rule::HttpStatus => Protocol::Http,
            Rule::ArpTooShort | Rule::ArpOpcode => Protocol::Arp,
            Rule::EtherType | Rule::NoLayer => Protocol::Eth,
        }
    }

    /// Return how the notebook counts a packet this rule fires on.
    pub fn effect(self) -> Effect {
        match self {
            Rule::IcmpMissing | Rule::UdpMissing | Rule::DnsMissing | Rule::TcpMissing => Effect::NonExistent,
            Rule::EtherType | Rule::NoLayer => Effect::Uncounted,
            _ => Effect::Malformed,
        }
    }

    /// Return a one-line description for reports.
    pub fn describe(self) -> &'static str {
        match self {
            Rule::IpTooShort => "packet shorter than 20 bytes",
            Rule::IpVersion => "IP version is not 4 (bytes parsed as IP)",
            Rule::IpIhl => "IP header length below 5 words",
            Rule::IpTotalLength => "IP total length differs from the parsed packet's length",
            Rule::IpProtocol => "IP protocol is not ICMP, TCP or UDP",
            Rule::IcmpTooShort => "ICMP layer shorter than 8 bytes",
            Rule::IcmpType => "ICMP type outside the notebook's list (0,3,5,6,8-14,40-43)",
            Rule::IcmpCode => "ICMP code outside the notebook's range for the type",
            Rule::IcmpMissing => "IP protocol 1 but Scapy dissects no ICMP layer",
            Rule::UdpTooShort => "UDP layer shorter than 8 bytes",
            Rule::UdpMissing => "IP protocol 17 but Scapy dissects no UDP layer",
            Rule::DnsMissing => "UDP that Scapy does not dissect as DNS",
            Rule::DnsOpcode => "DNS opcode not 0, 1 or 2",
            Rule::DnsRcode => "DNS rcode not 0-3",
            Rule::DnsQdcount => "qdcount differs from the questions Scapy dissected",
            Rule::DnsAncount => "ancount differs from the answers Scapy dissected",
            Rule::DnsArcount => "arcount differs from the additional records Scapy dissected",
            Rule::DnsNscount => "nscount differs from the authority records Scapy dissected",
            Rule::TcpMissing => "IP protocol 6 but Scapy dissects no TCP layer",
            Rule::TcpTooShort => "TCP layer shorter than 20 bytes",
            Rule::TcpPort65535 => "TCP port 65535 (the notebook's range(0, 65535) excludes it)",
            Rule::TcpWindow65535 => "TCP window 65535 (range(0, 65535) excludes it)",
            Rule::TcpUrgptr65535 => "TCP urgent pointer 65535 (range(0, 65535) excludes it)",
            Rule::HttpVersion => "HTTP version is not HTTP/1.1 or HTTP/1.0",
            Rule::HttpRequestPort => "HTTP request not sent to port 80",
            Rule::HttpMethod => "HTTP method outside the notebook's list",
            Rule::HttpResponsePort => "HTTP response not sent from port 80",
            Rule::HttpStatus => "HTTP status code outside the notebook's list",
            Rule::ArpTooShort => "frame shorter than 28 bytes",
            Rule::ArpOpcode => "ARP opcode not 1 or 2",
            Rule::EtherType => "EtherType below 0x0600 (returned, counted nowhere)",
            Rule::NoLayer => "neither Ethernet nor IP: the notebook would stop with an error",
        }
    }
}

/// The IPv4 header fields the notebook reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpView {
    /// `version`.
    pub version: u8,
    /// `ihl`.
    pub ihl: u8,
    /// `len` (total length).
    pub total_len: u16,
    /// `proto`.
    pub proto: u8,
}

/// An ICMP layer as Scapy dissects it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpView {
    /// `len(packet[ICMP])`: the layer and everything after it.
    pub len: usize,
    /// `type`.
    pub icmp_type: u8,
    /// `code` (0 when the layer stops before it).
    pub code: u8,
}

/// A UDP layer as Scapy dissects it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpView {
    /// `len(packet[UDP])`: the layer and everything after it.
    pub len: usize,
}

/// A DNS layer as Scapy dissects it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DnsView {
    /// `opcode`.
    pub opcode: u8,
    /// `rcode`.
    pub rcode: u8,
    /// Header counts: qd, an, ns, ar.
    pub counts: [u16; 4],
    /// Records Scapy dissected per section: qd, an, ns, ar.
    pub dissected: [u16; 4],
}

/// A TCP layer as Scapy dissects it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpView {
    /// `len(packet[TCP])`: the layer and everything after it.
    pub len: usize,
    /// `sport`.
    pub sport: u16,
    /// `dport`.
    pub dport: u16,
    /// `window`.
    pub window: u16,
    /// `urgptr`.
    pub urgptr: u16,
}

/// What Scapy makes of a TCP payload on an HTTP port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpView {
    /// An `HTTP` layer holding only `Raw` (not a request or response line).
    Other,
    /// `HTTPRequest`.
    Request {
        /// `Method`.
        method: Vec<u8>,
        /// `Http_Version`.
        version: Vec<u8>,
    },
    /// `HTTPResponse`.
    Response {
        /// `Http_Version`.
        version: Vec<u8>,
        /// `Status_Code`.
        status: Vec<u8>,
    },
}

/// The layers Scapy finds in one packet, with the fields the notebook reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScapyView {
    /// `len(packet)`: bytes of the whole parsed packet.
    pub len: usize,
    /// An `Ether` layer and its type (`None` when the frame stops before it).
    pub ether: Option<Option<u16>>,
    /// An `ARP` layer and its opcode.
    pub arp: Option<u16>,
    /// An `IP` layer.
    pub ip: Option<IpView>,
    /// An `ICMP` layer.
    pub icmp: Option<IcmpView>,
    /// A `UDP` layer.
    pub udp: Option<UdpView>,
    /// A `DNS` layer.
    pub dns: Option<DnsView>,
    /// A `TCP` layer.
    pub tcp: Option<TcpView>,
    /// An `HTTP` layer.
    pub http: Option<HttpView>,
}

impl ScapyView {
    /// Return whether the notebook's `P in packet` holds for `protocol`.
    pub fn detects(&self, protocol: Protocol) -> bool {
        match protocol {
            Protocol::Ip => self.ip.is_some(),
            Protocol::Icmp => self.icmp.is_some(),
            Protocol::Dns => self.dns.is_some(),
            Protocol::Udp => self.udp.is_some(),
            Protocol::Arp => self.arp.is_some(),
            Protocol::Http => self.http.is_some(),
            Protocol::Tcp => self.tcp.is_some(),
            // The notebook knew nothing of the link layer or of ZigBee.
            Protocol::Eth
            | Protocol::Frame
            | Protocol::Zigbee
            | Protocol::ZbeeNwk
            | Protocol::ZbeeAps
            | Protocol::Zcl
            | Protocol::Zdp => false,
        }
    }
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Walk fixed-size fields the way Scapy's `do_dissect` does: stop cleanly
/// when the bytes end on a field boundary, fail (the layer becomes `Raw`)
/// when they end inside a field.
fn fields_fit(mut available: usize, sizes: &[usize]) -> bool {
    for &size in sizes {
        if available == 0 {
            return true;
        }
        if available < size {
            return false;
        }
        available -= size;
    }
    true
}

/// Python's `s[:k]` for a possibly negative `k`.
fn py_prefix(s: &[u8], k: i64) -> &[u8] {
    let len = s.len() as i64;
    let end = if k < 0 { (len + k).max(0) } else { k.min(len) };
    &s[..end as usize]
}

/// Parse `data` the way the notebook's loader does.
pub fn parse(data: &[u8], loader: Loader) -> ScapyView {
    let mut view = ScapyView { len: data.len(), ..ScapyView::default() };
    match loader {
        Loader::Ip => parse_ip(data, &mut view),
        Loader::Ether => parse_ether(data, &mut view),
    }
    view
}

fn parse_ether(data: &[u8], view: &mut ScapyView) {
    if data.len() < 14 {
        view.ether = Some(None);
        return;
    }
    let mut ether_type = be16(data, 12);
    // Scapy's Ether.dispatch_hook: a type/length of 1500 or less is 802.3.
    if ether_type <= 1500 {
        return;
    }
    view.ether = Some(Some(ether_type));
    let mut payload = &data[14..];
    if ether_type == 0x8100 && payload.len() >= 4 {
        ether_type = be16(payload, 2);
        payload = &payload[4..];
    }
    match ether_type {
        0x0806 if !payload.is_empty() => {
            // ARP: hwtype, ptype, hwlen, plen, op.
            view.arp = Some(if payload.len() >= 8 { be16(payload, 6) } else { 1 });
        }
        0x0800 if !payload.is_empty() => parse_ip(payload, view),
        _ => {}
    }
}

fn parse_ip(b: &[u8], view: &mut ScapyView) {
    if b.is_empty() {
        return;
    }
    if b.len() < 20 {
        view.ip = Some(IpView {
            version: b[0] >> 4,
            ihl: b[0] & 0x0f,
            total_len: 0,
            proto: if b.len() > 9 { b[9] } else { 0 },
        });
        return;
    }
    let ip = IpView { version: b[0] >> 4, ihl: b[0] & 0x0f, total_len: be16(b, 2), proto: b[9] };
    view.ip = Some(ip);
    let frag = be16(b, 6) & 0x1fff;
    let header = (usize::from(ip.ihl) * 4).max(20).min(b.len());
    let rest = &b[header..];
    // IP.extract_padding: len - ihl*4, the whole rest when negative.
    let wanted = i64::from(ip.total_len) - i64::from(ip.ihl) * 4;
    let payload = if wanted < 0 { rest } else { py_prefix(rest, wanted) };
    if frag != 0 || payload.is_empty() {
        return;
    }
    match ip.proto {
        1 => parse_icmp(payload, view),
        6 => parse_tcp(payload, view),
        17 => parse_udp(payload, view),
        _ => {}
    }
}

/// Field sizes of Scapy's `ICMP` after `type`, `code` and `chksum`.
fn icmp_tail(icmp_type: u8) -> Vec<usize> {
    let mut sizes = Vec::new();
    if [0, 8, 13, 14, 15, 16, 17, 18].contains(&icmp_type) {
        sizes.extend([2, 2]);
    }
    if [13, 14].contains(&icmp_type) {
        sizes.extend([4, 4, 4]);
    }
    if icmp_type == 5 {
        sizes.push(4);
    }
    if icmp_type == 12 {
        sizes.push(1);
    }
    if [3, 11].contains(&icmp_type) {
        sizes.push(1);
    }
    if [3, 11, 12].contains(&icmp_type) {
        sizes.push(1);
    }
    if [17, 18].contains(&icmp_type) {
        sizes.push(4);
    }
    if icmp_type == 3 {
        sizes.push(2);
    }
    if [11, 12].contains(&icmp_type) {
        sizes.push(2);
    } else if ![0, 3, 5, 8, 11, 12, 13, 14, 15, 16, 17, 18].contains(&icmp_type) {
        sizes.push(4);
    }
    sizes
}

fn parse_icmp(p: &[u8], view: &mut ScapyView) {
    let icmp_type = p[0];
    let mut sizes = vec![1, 1, 2];
    sizes.extend(icmp_tail(icmp_type));
    if !fields_fit(p.len(), &sizes) {
        return;
    }
    view.icmp = Some(IcmpView { len: p.len(), icmp_type, code: p.get(1).copied().unwrap_or(0) });
}

fn parse_udp(p: &[u8], view: &mut ScapyView) {
    if !fields_fit(p.len(), &[2, 2, 2, 2]) {
        return;
    }
    view.udp = Some(UdpView { len: p.len() });
    if p.len() < 8 {
        return;
    }
    let (sport, dport, length) = (be16(p, 0), be16(p, 2), be16(p, 4));
    // UDP.extract_padding: s[:len - 8], negative lengths included.
    let payload = py_prefix(&p[8..], i64::from(length) - 8);
    if payload.is_empty() || !(SCAPY_DNS_PORTS.contains(&sport) || SCAPY_DNS_PORTS.contains(&dport)) {
        return;
    }
    view.dns = parse_dns(payload);
}

/// Dissect DNS the way Scapy does: each section reads exactly its header
/// count of records (`DNSRRField.getfield`); a count larger than the bytes
/// after the header yields no records at all; a record whose fixed part is
/// cut short makes the whole DNS layer fail (it stays `Raw`).
pub fn parse_dns(d: &[u8]) -> Option<DnsView> {
    if d.len() < 12 {
        return None;
    }
    let flags = be16(d, 2);
    let counts = [be16(d, 4), be16(d, 6), be16(d, 8), be16(d, 10)];
    let s = &d[12..];
    let mut p = 0usize;
    let mut dissected = [0u16; 4];
    for (section, &count) in counts.iter().enumerate() {
        if usize::from(count) > s.len() {
            continue;
        }
        for _ in 0..count {
            p = skip_name(s, p);
            if section == 0 {
                // DNSQR(b"\0" + s[p:p+4]): qtype, qclass; a cut inside one fails.
                let fixed = s.len().saturating_sub(p).min(4);
                if fixed == 1 || fixed == 3 {
                    return None;
                }
                p += 4;
            } else {
                // struct.unpack("!HHIH", s[p:p+10]) needs all ten bytes.
                if s.len().saturating_sub(p) < 10 {
                    return None;
                }
                let rdlen = usize::from(be16(s, p + 8));
                p += 10 + rdlen;
            }
        }
        dissected[section] = count;
    }
    Some(DnsView { opcode: ((flags >> 11) & 0x0f) as u8, rcode: (flags & 0x0f) as u8, counts, dissected })
}

/// Skip a (possibly compressed) name leniently, as Scapy's `dns_get_str`
/// does: running off the end stops the name, it never fails.
fn skip_name(s: &[u8], mut p: usize) -> usize {
    loop {
        let Some(&len) = s.get(p) else { return p };
        if len == 0 {
            return p + 1;
        }
        if len & 0xc0 == 0xc0 {
            return p + 2;
        }
        p += 1 + usize::from(len);
    }
}

fn parse_tcp(p: &[u8], view: &mut ScapyView) {
    if !fields_fit(p.len(), &[2, 2, 4, 4, 2, 2, 2, 2]) {
        return;
    }
    let get = |at: usize| if p.len() >= at + 2 { be16(p, at) } else { 0 };
    let tcp = TcpView { len: p.len(), sport: get(0), dport: get(2), window: get(14), urgptr: get(18) };
    view.tcp = Some(tcp);
    if p.len() < 20 {
        return;
    }
    let offset = (usize::from(p[12] >> 4) * 4).max(20).min(p.len());
    let payload = &p[offset..];
    if payload.is_empty() || !(SCAPY_HTTP_PORTS.contains(&tcp.sport) || SCAPY_HTTP_PORTS.contains(&tcp.dport)) {
        return;
    }
    view.http = Some(parse_http(payload));
}

/// Classify an HTTP payload as Scapy's `HTTP.guess_payload_class` does: the
/// line before the first CRLF must match
/// `^(METHOD) (.+?) HTTP/\d\.\d$` (request) or `^HTTP/\d\.\d \d\d\d .*$`
/// (response); fields come from `re.split(rb"\s+", line, 2)`.
pub fn parse_http(payload: &[u8]) -> HttpView {
    let Some(end) = payload.windows(2).position(|w| w == b"\r\n") else {
        return HttpView::Other;
    };
    let line = &payload[..end];
    if is_request_line(line) {
        let parts = split_ws3(line);
        return HttpView::Request { method: parts[0].to_vec(), version: parts[2].to_vec() };
    }
    if is_response_line(line) {
        let parts = split_ws3(line);
        return HttpView::Response { version: parts[0].to_vec(), status: parts[1].to_vec() };
    }
    HttpView::Other
}

/// Python's `$`: the end, or just before a final `\n`.
fn strip_final_newline(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\n").unwrap_or(line)
}

fn is_version(v: &[u8]) -> bool {
    v.len() == 8 && v.starts_with(b"HTTP/") && v[5].is_ascii_digit() && v[6] == b'.' && v[7].is_ascii_digit()
}

fn is_request_line(line: &[u8]) -> bool {
    let line = strip_final_newline(line);
    if line.contains(&b'\n') {
        return false;
    }
    SCAPY_METHODS.iter().any(|method| {
        let Some(rest) = line.strip_prefix(*method).and_then(|r| r.strip_prefix(b" ")) else {
            return false;
        };
        // (.+?) HTTP/d.d$ : at least one byte, a space, then the version.
        rest.len() >= 10 && rest[rest.len() - 9] == b' ' && is_version(&rest[rest.len() - 8..])
    })
}

fn is_response_line(line: &[u8]) -> bool {
    let line = strip_final_newline(line);
    if line.contains(&b'\n') || line.len() < 13 {
        return false;
    }
    is_version(&line[..8]) && line[8] == b' ' && line[9..12].iter().all(u8::is_ascii_digit) && line[12] == b' '
}

/// `re.split(rb"\s+", line, 2)`, padded to three parts.
fn split_ws3(line: &[u8]) -> [&[u8]; 3] {
    let is_ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c');
    let mut parts: [&[u8]; 3] = [b"", b"", b""];
    let mut rest = line;
    for slot in parts.iter_mut().take(2) {
        match rest.iter().position(is_ws) {
            Some(at) => {
                *slot = &rest[..at];
                let skip = rest[at..].iter().take_while(|b| is_ws(b)).count();
                rest = &rest[at + skip..];
            }
            None => {
                *slot = rest;
                rest = b"";
            }
        }
    }
    parts[2] = rest;
    parts
}

/// Apply the notebook's `send_packet` to one parsed packet: the Ethernet
/// check, then the IP check (which overwrites the Ethernet result), each
/// stopping at its first failure. `None`: "sent".
pub fn judge(view: &ScapyView) -> Option<Rule> {
    let mut result: Option<Option<Rule>> = None;
    if let Some(ether_type) = view.ether {
        result = Some(ether_check(view, ether_type));
    }
    if let Some(ip) = view.ip {
        result = Some(ip_check(view, ip));
    }
    result.unwrap_or(Some(Rule::NoLayer))
}

/// `Ether_packet_malformed`.
fn ether_check(view: &ScapyView, ether_type: Option<u16>) -> Option<Rule> {
    let ether_type = ether_type?;
    if ether_type < 0x0600 {
        return Some(Rule::EtherType);
    }
    let op = view.arp?;
    // ARP_packet_malformed(packet): len of the whole frame.
    if view.len < 28 {
        return Some(Rule::ArpTooShort);
    }
    if op != 1 && op != 2 {
        return Some(Rule::ArpOpcode);
    }
    None
}

/// `ip_packet_malformed` and the checks it calls.
fn ip_check(view: &ScapyView, ip: IpView) -> Option<Rule> {
    if view.len < 20 {
        return Some(Rule::IpTooShort);
    }
    if ip.version != 4 {
        return Some(Rule::IpVersion);
    }
    if ip.ihl < 5 {
        return Some(Rule::IpIhl);
    }
    if usize::from(ip.total_len) != view.len {
        return Some(Rule::IpTotalLength);
    }
    match ip.proto {
        1 => icmp_check(view),
        17 => udp_check(view),
        6 => tcp_check(view),
        _ => Some(Rule::IpProtocol),
    }
}

/// `icmp_packet_malformed`.
fn icmp_check(view: &ScapyView) -> Option<Rule> {
    let Some(icmp) = view.icmp else {
        return Some(Rule::IcmpMissing);
    };
    if icmp.len < 8 {
        return Some(Rule::IcmpTooShort);
    }
    if !ICMP_TYPES.contains(&icmp.icmp_type) {
        return Some(Rule::IcmpType);
    }
    let code_ok = match icmp.icmp_type {
        0 | 8 | 10 | 13 | 14 | 42 => icmp.code == 0,
        3 => icmp.code < 16,
        5 => icmp.code < 4,
        9 => icmp.code == 0 || icmp.code == 16,
        11 => icmp.code < 2,
        12 => icmp.code < 3,
        40 | 43 => icmp.code < 6,
        _ => true,
    };
    if code_ok {
        None
    } else {
        Some(Rule::IcmpCode)
    }
}

/// `UDP_packet_malformed` then `DNS_packet_malformed`.
fn udp_check(view: &ScapyView) -> Option<Rule> {
    let Some(udp) = view.udp else {
        return Some(Rule::UdpMissing);
    };
    if udp.len < 8 {
        return Some(Rule::UdpTooShort);
    }
    let Some(dns) = view.dns else {
        return Some(Rule::DnsMissing);
    };
    if dns.opcode > 2 {
        return Some(Rule::DnsOpcode);
    }
    if dns.rcode > 3 {
        return Some(Rule::DnsRcode);
    }
    // The notebook's order: questions, answers, additional, authority.
    for (slot, rule) in [(0, Rule::DnsQdcount), (1, Rule::DnsAncount), (3, Rule::DnsArcount), (2, Rule::DnsNscount)] {
        if dns.counts[slot] != dns.dissected[slot] {
            return Some(rule);
        }
    }
    None
}

/// `TCP_packet_malformed` then `HTTP_packet_malformed`.
fn tcp_check(view: &ScapyView) -> Option<Rule> {
    let Some(tcp) = view.tcp else {
        return Some(Rule::TcpMissing);
    };
    if tcp.len < 20 {
        return Some(Rule::TcpTooShort);
    }
    if tcp.sport == u16::MAX || tcp.dport == u16::MAX {
        return Some(Rule::TcpPort65535);
    }
    if tcp.window == u16::MAX {
        return Some(Rule::TcpWindow65535);
    }
    if tcp.urgptr == u16::MAX {
        return Some(Rule::TcpUrgptr65535);
    }
    match &view.http {
        Some(HttpView::Request { method, version }) => {
            if !is_known_version(version) {
                Some(Rule::HttpVersion)
            } else if tcp.dport != 80 {
                Some(Rule::HttpRequestPort)
            } else if !HTTP_METHODS.contains(&method.as_slice()) {
                Some(Rule::HttpMethod)
            } else {
                None
            }
        }
        Some(HttpView::Response { version, status }) => {
            let known = std::str::from_utf8(status)
                .ok()
                .and_then(|s| s.parse::<u16>().ok())
                .is_some_and(|code| status.len() == 3 && HTTP_STATUS.contains(&code));
            if !is_known_version(version) {
                Some(Rule::HttpVersion)
            } else if tcp.sport != 80 {
                Some(Rule::HttpResponsePort)
            } else if !known {
                Some(Rule::HttpStatus)
            } else {
                None
            }
        }
        // `packet[HTTP].Http_Version` raises and is caught ("can't be read").
        Some(HttpView::Other) | None => None,
    }
}

fn is_known_version(version: &[u8]) -> bool {
    version == b"HTTP/1.1" || version == b"HTTP/1.0"
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::testkit::{ethernet, icmp_echo, tcp, udp};

    const A: [u8; 4] = [10, 0, 0, 1];
    const B: [u8; 4] = [10, 0, 0, 2];

    fn rule(data: &[u8], loader: Loader) -> Option<Rule> {
        judge(&parse(data, loader))
    }

    fn dns_query(qdcount: u16, arcount: u16, with_additional: bool) -> Vec<u8> {
        let mut out = vec![0x0a, 0xba, 0x01, 0x00];
        for count in [qdcount, 0, 0, arcount] {
            out.extend_from_slice(&count.to_be_bytes());
        }
        out.extend_from_slice(b"\x07example\x03com\x00\x00\x01\x00\x01");
        if with_additional {
            out.extend_from_slice(&[0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0]);
        }
        out
    }

    #[test]
    fn test_correct_packets_pass() {
        assert_eq!(rule(&icmp_echo(A, B, false, 1, 1), Loader::Ip), None);
        assert_eq!(rule(&udp(A, B, 4000, 53, &dns_query(1, 1, true)), Loader::Ip), None);
        assert_eq!(rule(&tcp(A, B, 4000, 80, "PA", 1, 1, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), Loader::Ip), None);
        let arp = ethernet(
            [2, 0, 0, 0, 0, 1],
            [0xff; 6],
            0x0806,
            &[0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2],
        );
        assert_eq!(rule(&arp, Loader::Ether), None);
        let view = parse(&arp, Loader::Ether);
        assert!(view.detects(Protocol::Arp) && !view.detects(Protocol::Ip));
    }

    #[test]
    fn test_tcp_65535_quirks() {
        let mut window = tcp(A, B, 4000, 80, "S", 1, 0, b"");
        window[20 + 14..20 + 16].copy_from_slice(&[0xff, 0xff]);
        assert_eq!(rule(&window, Loader::Ip), Some(Rule::TcpWindow65535));
        assert_eq!(rule(&tcp(A, B, 65535, 80, "S", 1, 0, b""), Loader::Ip), Some(Rule::TcpPort65535));
        assert_eq!(rule(&tcp(A, B, 4000, 65535, "S", 1, 0, b""), Loader::Ip), Some(Rule::TcpPort65535));
        let mut urgent = tcp(A, B, 4000, 80, "S", 1, 0, b"");
        urgent[20 + 18..20 + 20].copy_from_slice(&[0xff, 0xff]);
        assert_eq!(rule(&urgent, Loader::Ip), Some(Rule::TcpUrgptr65535));
        // 65534 is fine.
        assert_eq!(rule(&tcp(A, B, 65534, 80, "S", 1, 0, b""), Loader::Ip), None);
    }

    #[test]
    fn test_icmp_types_and_codes() {
        let with = |icmp_type: u8, code: u8| {
            let mut p = icmp_echo(A, B, false, 1, 1);
            p[20] = icmp_type;
            p[21] = code;
            rule(&p, Loader::Ip)
        };
        for icmp_type in [4, 15, 16, 17, 18, 1, 7, 44] {
            assert_eq!(with(icmp_type, 0), Some(Rule::IcmpType), "type {icmp_type}");
        }
        assert_eq!(with(3, 15), None);
        assert_eq!(with(3, 16), Some(Rule::IcmpCode));
        assert_eq!(with(9, 16), None);
        assert_eq!(with(9, 1), Some(Rule::IcmpCode));
        assert_eq!(with(8, 1), Some(Rule::IcmpCode));
        assert_eq!(with(41, 200), None);
    }

    #[test]
    fn test_dns_ids_never_compared_and_non_dns_udp() {
        // A reply copying another id is still correct for the notebook.
        let mut reply = dns_query(1, 0, false);
        reply[2] = 0x81;
        assert_eq!(rule(&udp(B, A, 53, 4000, &reply), Loader::Ip), None);
        // UDP off port 53 has no DNS layer: non-existent.
        assert_eq!(rule(&udp(A, B, 4000, 4001, &dns_query(1, 0, false)), Loader::Ip), Some(Rule::DnsMissing));
        // An announced additional record that is absent: Scapy cannot
        // dissect the message, so DNS is non-existent, not malformed.
        assert_eq!(rule(&udp(A, B, 4000, 53, &dns_query(1, 1, false)), Loader::Ip), Some(Rule::DnsMissing));
        assert_eq!(Rule::DnsMissing.effect(), Effect::NonExistent);
        // A count larger than the bytes after the header: zero records.
        assert_eq!(rule(&udp(A, B, 4000, 53, &dns_query(500, 0, false)), Loader::Ip), Some(Rule::DnsQdcount));
        let mut opcode = dns_query(1, 0, false);
        opcode[2] = 0x18;
        assert_eq!(rule(&udp(A, B, 4000, 53, &opcode), Loader::Ip), Some(Rule::DnsOpcode));
    }

    #[test]
    fn test_http_port_rule() {
        let request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        let response = b"HTTP/1.1 200 OK\r\n\r\n";
        assert_eq!(rule(&tcp(A, B, 80, 8080, "PA", 1, 1, request), Loader::Ip), Some(Rule::HttpRequestPort));
        assert_eq!(rule(&tcp(B, A, 8080, 80, "PA", 1, 1, response), Loader::Ip), Some(Rule::HttpResponsePort));
        assert_eq!(rule(&tcp(B, A, 80, 4000, "PA", 1, 1, response), Loader::Ip), None);
        assert_eq!(
            rule(&tcp(B, A, 80, 4000, "PA", 1, 1, b"HTTP/2.0 200 OK\r\n\r\n"), Loader::Ip),
            Some(Rule::HttpVersion)
        );
        assert_eq!(
            rule(&tcp(B, A, 80, 4000, "PA", 1, 1, b"HTTP/1.1 299 Odd\r\n\r\n"), Loader::Ip),
            Some(Rule::HttpStatus)
        );
        // Not a request line: an HTTP layer holding Raw, nothing checked.
        let view = parse(&tcp(A, B, 4000, 80, "PA", 1, 1, b"hello"), Loader::Ip);
        assert_eq!(view.http, Some(HttpView::Other));
        assert_eq!(judge(&view), None);
        // PATCH is not one of Scapy's request methods.
        assert_eq!(parse_http(b"PATCH / HTTP/1.1\r\n"), HttpView::Other);
    }

    #[test]
    fn test_ethernet_bytes_parsed_as_ip_and_overwrite() {
        // An Ethernet ARP frame in a raw-IP capture: IP(bytes) sees garbage.
        let arp = ethernet(
            [2, 0, 0, 0, 0, 1],
            [0xff; 6],
            0x0806,
            &[0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2],
        );
        let view = parse(&arp, Loader::Ip);
        assert!(view.detects(Protocol::Ip) && !view.detects(Protocol::Arp));
        assert_eq!(judge(&view), Some(Rule::IpVersion));
        // IPv4 under Ethernet read with Ether(): the Ethernet result is
        // overwritten by the IP check, whose len(packet) counts the
        // Ethernet header: the total length never matches.
        let frame = ethernet([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], 0x0800, &icmp_echo(A, B, false, 1, 1));
        assert_eq!(rule(&frame, Loader::Ether), Some(Rule::IpTotalLength));
        // Raw IP bytes read with Ether(): a source address 1.2.x.x puts
        // 0x0102 where the EtherType goes, Scapy makes it 802.3: no
        // Ethernet II, no IP, and the notebook would stop.
        assert_eq!(rule(&icmp_echo([1, 2, 3, 4], B, false, 1, 1), Loader::Ether), Some(Rule::NoLayer));
        // Fewer than 14 bytes: an Ethernet layer the notebook passes.
        assert_eq!(rule(&[0x45, 0, 0, 20], Loader::Ether), None);
    }

    #[test]
    fn test_ip_rules() {
        let mut packet = icmp_echo(A, B, false, 1, 1);
        packet.push(0);
        assert_eq!(rule(&packet, Loader::Ip), Some(Rule::IpTotalLength));
        let mut gre = icmp_echo(A, B, false, 1, 1);
        gre[9] = 47;
        assert_eq!(rule(&gre, Loader::Ip), Some(Rule::IpProtocol));
        assert_eq!(rule(&[0x45, 0, 0, 10, 0, 0], Loader::Ip), Some(Rule::IpTooShort));
    }

    #[test]
    fn test_never_panics_on_short_input() {
        for len in 0..64 {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 % 251) as u8).collect();
            for loader in [Loader::Ip, Loader::Ether] {
                let _ = judge(&parse(&data, loader));
            }
        }
    }
}
