//! The JSON dialect: build a [`Trace`] from the packet list of seed 000.
//!
//! The accepted text is a JSON array of packet objects (or an object whose
//! `packets` field is that array). Every packet has a `timestamp` (seconds)
//! and a `protocol` (`TCP`, `UDP`, `ICMP`, `ARP`, `DNS`, `HTTP`); the
//! remaining fields are those of seed 000 (`src_ip`, `dst_ip`, `src_port`,
//! `dst_port`, `flags`, `seq`, `ack`, `payload`) plus optional extensions for
//! the link layer, IP, TCP, ICMP, ARP, DNS and HTTP. `docs/json-dialect.md`
//! is the user reference; this module is its implementation.
//!
//! Principles, in the order they matter:
//! - **Write what the model wrote.** Timestamps going backwards, SEQ/ACK
//!   numbers that do not add up, DNS counts that do not match the records:
//!   all are written as given, because the checkers must see the model's
//!   faults. Only what a model cannot write in this dialect is computed:
//!   lengths and checksums (IPv4, TCP, UDP, ICMP), which are always correct.
//! - **One link type per trace** (DESIGN.md, "PCAPs the harness writes"): if
//!   any packet carries Ethernet information (`src_mac`, `dst_mac`, or
//!   protocol `ARP`), every packet is written as an Ethernet II frame and
//!   packets without MACs get those the trace's ARP gave ([`ArpBook`]), else
//!   a deterministic locally administered pair; otherwise every packet is a
//!   bare IP packet under `LINKTYPE_RAW`.
//! - **Exact errors.** The text is parsed into a [`serde_json::Value`] and
//!   walked by hand, so every error names the offending field by its JSON
//!   path (`$[3].flags`, `$.packets[0].dns.answers[1].data`) and says what
//!   was expected and what was found. Unknown fields are ignored.
//! - **Deterministic.** The same text gives byte-identical packets: no clock,
//!   no randomness, no hash-map iteration order.
//!
//! ```
//! use harness::exec::json::build;
//! use harness::pcap::LinkType;
//!
//! let trace = build(r#"[{"timestamp": 0.0001, "protocol": "TCP",
//!     "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2", "src_port": 12345,
//!     "dst_port": 80, "flags": "SYN", "seq": 0, "ack": 0, "payload": ""}]"#)?;
//! assert_eq!(trace.linktype, LinkType::Raw);
//! assert_eq!(trace.packets[0].ts, 100_000);
//! assert_eq!(trace.packets[0].data.len(), 40);
//! # Ok::<(), harness::exec::json::JsonTraceError>(())
//! ```

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::{
    ArpEthIpv4Packet, ArpOperation, EtherType, Ethernet2Header, Icmpv4Header, Icmpv4Type, IpDscp, IpEcn, IpNumber,
    Ipv4Header, Ipv6FlowLabel, Ipv6Header, TcpHeader, TcpOptionElement, UdpHeader,
};
use serde_json::{Map, Value};
use thiserror::Error;

use super::{Trace, TracePacket};
use crate::pcap::link::{ArpBook, BROADCAST_MAC};
use crate::pcap::{LinkType, Timestamp};
use crate::wire::{dns, http};

/// Give the IPv4 TTL (IPv6 hop limit) written when `ttl` is absent.
pub const DEFAULT_TTL: u8 = 64;
/// Give the TCP window written when `window` is absent.
pub const DEFAULT_WINDOW: u16 = 64240;
/// Give the client-side port written for DNS and HTTP when it is absent.
pub const DEFAULT_CLIENT_PORT: u16 = 49152;
/// Give the DNS record TTL written when a record has no `ttl`.
pub const DEFAULT_RECORD_TTL: u32 = 300;

const DNS_PORT: u16 = 53;
const HTTP_PORT: u16 = 80;
const IPV4_HEADER_LEN: usize = 20;
const MAX_IPV4_PAYLOAD: usize = 65535 - IPV4_HEADER_LEN;
const MAX_IPV6_PAYLOAD: usize = 65535;
const DNS_HEADER_LEN: usize = 12;

/// Describe why a JSON answer cannot be built into a trace.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum JsonTraceError {
    /// Signal text that is not valid JSON; `line` and `column` are 1-based
    /// and point where the parser stopped.
    #[error("invalid JSON at line {line}, column {column}: {message}")]
    Syntax {
        /// Line of the error, 1-based.
        line: usize,
        /// Column of the error, 1-based (0 when the text ended early on an empty line).
        column: usize,
        /// What the JSON parser expected.
        message: String,
    },
    /// Signal a field that is missing or invalid; `path` is its JSON path
    /// (`$[1].src_port`) and `message` says what was expected and found.
    #[error("{path}: {message}")]
    Field {
        /// JSON path of the offending field, e.g. `$[0].dns.questions[0].type`.
        path: String,
        /// What was expected, and what was found.
        message: String,
    },
    /// Signal a packet list without any packet.
    #[error("the packet list is empty")]
    Empty,
}

type Result<T> = std::result::Result<T, JsonTraceError>;

/// Build the packets of a JSON-dialect answer into a single-link-type trace.
///
/// See the module documentation and `docs/json-dialect.md` for the format.
///
/// # Errors
/// [`JsonTraceError::Syntax`] for text that is not JSON,
/// [`JsonTraceError::Empty`] for an empty packet list, and
/// [`JsonTraceError::Field`] (with the JSON path) for the first field that is
/// missing or invalid.
pub fn build(text: &str) -> Result<Trace> {
    let root: Value = serde_json::from_str(text).map_err(syntax_error)?;
    let list = packet_list(&root)?;
    if list.is_empty() {
        return Err(JsonTraceError::Empty);
    }
    let frames = list.iter().map(parse_packet).collect::<Result<Vec<_>>>()?;
    let ethernet = frames.iter().any(|f| f.wants_ethernet);
    let linktype = LinkType::of_generated(ethernet);
    let mut book = ArpBook::default();
    for frame in frames.iter().filter(|f| f.ether_type == EtherType::ARP) {
        book.learn(&frame.body);
    }
    let packets = frames.into_iter().map(|f| f.emit(ethernet, &book)).collect();
    Ok(Trace { linktype, packets })
}

fn syntax_error(err: serde_json::Error) -> JsonTraceError {
    let full = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_string();
    JsonTraceError::Syntax { line: err.line(), column: err.column(), message }
}

fn packet_list(root: &Value) -> Result<Vec<Node<'_>>> {
    let top = Node::root(root);
    match root {
        Value::Array(_) => top.array("a list of packets"),
        Value::Object(_) => top.require("packets", "an array of packet objects")?.array("an array of packet objects"),
        _ => Err(top.expected("an array of packet objects or an object with a \"packets\" array")),
    }
}

// ---------------------------------------------------------------------------
// Walking the JSON value with exact paths.

/// A JSON value and its path from the root.
#[derive(Debug, Clone)]
struct Node<'a> {
    value: &'a Value,
    path: String,
}

impl<'a> Node<'a> {
    fn root(value: &'a Value) -> Self {
        Node { value, path: "$".into() }
    }

    fn err(&self, message: impl Into<String>) -> JsonTraceError {
        JsonTraceError::Field { path: self.path.clone(), message: message.into() }
    }

    fn expected(&self, what: &str) -> JsonTraceError {
        self.err(format!("expected {what}, found {}", describe(self.value)))
    }

    /// Return the field `key`, or `None` when it is absent or `null`
    /// (or when this node is not an object).
    fn field(&self, key: &str) -> Option<Node<'a>> {
        match self.value.as_object()?.get(key)? {
            Value::Null => None,
            value => Some(Node { value, path: format!("{}.{key}", self.path) }),
        }
    }

    fn require(&self, key: &str, what: &str) -> Result<Node<'a>> {
        self.field(key).ok_or_else(|| self.missing(key, what))
    }

    /// Return the error for the absent field `key`.
    fn missing(&self, key: &str, what: &str) -> JsonTraceError {
        JsonTraceError::Field { path: format!("{}.{key}", self.path), message: format!("missing; expected {what}") }
    }

    fn object(&self, what: &str) -> Result<&'a Map<String, Value>> {
        self.value.as_object().ok_or_else(|| self.expected(what))
    }

    fn array(&self, what: &str) -> Result<Vec<Node<'a>>> {
        let items = self.value.as_array().ok_or_else(|| self.expected(what))?;
        Ok(items.iter().enumerate().map(|(i, value)| Node { value, path: format!("{}[{i}]", self.path) }).collect())
    }

    fn str(&self, what: &str) -> Result<&'a str> {
        self.value.as_str().ok_or_else(|| self.expected(what))
    }

    /// Return an integer in `lo..=hi`; integral floats (`80.0`) are accepted.
    fn int(&self, lo: u64, hi: u64, what: &str) -> Result<u64> {
        let n = self.value.as_number().ok_or_else(|| self.expected(what))?;
        let value = match (n.as_u64(), n.as_f64()) {
            (Some(v), _) => Some(v),
            (None, Some(f)) if f.fract() == 0.0 && f >= 0.0 && f <= hi as f64 => Some(f as u64),
            _ => None,
        };
        match value {
            Some(v) if (lo..=hi).contains(&v) => Ok(v),
            _ => Err(self.expected(what)),
        }
    }

    fn u8(&self, what: &str) -> Result<u8> {
        self.int(0, u8::MAX.into(), what).map(|v| v as u8)
    }

    fn u16(&self, what: &str) -> Result<u16> {
        self.int(0, u16::MAX.into(), what).map(|v| v as u16)
    }

    fn u32(&self, what: &str) -> Result<u32> {
        self.int(0, u32::MAX.into(), what).map(|v| v as u32)
    }

    /// Return a boolean; `0` and `1` are accepted as well.
    fn bool(&self, what: &str) -> Result<bool> {
        match self.value {
            Value::Bool(b) => Ok(*b),
            Value::Number(n) if n.as_u64() == Some(0) => Ok(false),
            Value::Number(n) if n.as_u64() == Some(1) => Ok(true),
            _ => Err(self.expected(what)),
        }
    }

    fn opt<T>(&self, key: &str, parse: impl FnOnce(&Node<'a>) -> Result<T>) -> Result<Option<T>> {
        self.field(key).as_ref().map(parse).transpose()
    }
}

/// Describe a found value for an error message: numbers and short strings
/// verbatim, containers by kind.
fn describe(value: &Value) -> String {
    const MAX_CHARS: usize = 40;
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if s.chars().count() > MAX_CHARS => {
            let head: String = s.chars().take(MAX_CHARS).collect();
            format!("{}…", Value::String(head))
        }
        Value::String(_) => value.to_string(),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

// ---------------------------------------------------------------------------
// Packets.

/// One packet, built up to the network layer, waiting for the link-type decision.
#[derive(Debug)]
struct Frame {
    ts: Timestamp,
    ether_type: EtherType,
    /// Ethernet source, when given.
    src_mac: Option<[u8; 6]>,
    /// Ethernet destination, when given.
    dst_mac: Option<[u8; 6]>,
    /// The IP source and destination, from which missing MACs come
    /// ([`ArpBook::macs`]); ARP frames have both MACs.
    addrs: Option<(IpAddr, IpAddr)>,
    /// Whether this packet carries Ethernet information (a MAC or ARP).
    wants_ethernet: bool,
    /// The network-layer packet (IPv4, IPv6 or ARP).
    body: Vec<u8>,
}

impl Frame {
    fn emit(self, ethernet: bool, book: &ArpBook) -> TracePacket {
        let data = if ethernet {
            let unspecified = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
            let (src, dst) = self.addrs.unwrap_or((unspecified, unspecified));
            let (from_src, from_dst) = book.macs(src, dst);
            let (source, destination) = (self.src_mac.unwrap_or(from_src), self.dst_mac.unwrap_or(from_dst));
            let eth = Ethernet2Header { source, destination, ether_type: self.ether_type };
            let mut data = eth.to_bytes().to_vec();
            data.extend_from_slice(&self.body);
            data
        } else {
            self.body
        };
        TracePacket { ts: self.ts, data }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Tcp,
    Udp,
    Icmp,
    Arp,
    Dns,
    Http,
}

impl Protocol {
    fn parse(node: &Node) -> Result<Self> {
        const WHAT: &str = "one of TCP, UDP, ICMP, ARP, DNS, HTTP";
        match node.str(WHAT)?.trim().to_ascii_uppercase().as_str() {
            "TCP" => Ok(Protocol::Tcp),
            "UDP" => Ok(Protocol::Udp),
            "ICMP" => Ok(Protocol::Icmp),
            "ARP" => Ok(Protocol::Arp),
            "DNS" => Ok(Protocol::Dns),
            "HTTP" => Ok(Protocol::Http),
            _ => Err(node.expected(WHAT)),
        }
    }
}

fn parse_packet(node: &Node) -> Result<Frame> {
    node.object("a packet object")?;
    let ts = timestamp(&node.require("timestamp", "seconds as a number")?)?;
    let protocol = Protocol::parse(&node.require("protocol", "one of TCP, UDP, ICMP, ARP, DNS, HTTP")?)?;
    let src_mac = node.opt("src_mac", mac)?;
    let dst_mac = node.opt("dst_mac", mac)?;
    let ip_number = match protocol {
        Protocol::Arp => return arp_frame(node, ts, src_mac, dst_mac),
        Protocol::Tcp | Protocol::Http => IpNumber::TCP,
        Protocol::Udp | Protocol::Dns => IpNumber::UDP,
        Protocol::Icmp => IpNumber::ICMP,
    };
    let (src, dst) = addresses(node, protocol)?;
    let ip = IpFields::parse(node)?;
    let l4 = match ip_number {
        IpNumber::TCP => tcp_segment(node, protocol, &src, &dst)?,
        IpNumber::UDP => udp_datagram(node, protocol, &src, &dst)?,
        _ => icmp_message(node, &src)?,
    };
    let (ether_type, body) = ip_packet(&ip, &src, &dst, ip_number, &l4);
    Ok(Frame {
        ts,
        ether_type,
        src_mac,
        dst_mac,
        addrs: Some((src.ip(), dst.ip())),
        wants_ethernet: src_mac.is_some() || dst_mac.is_some(),
        body,
    })
}

/// Convert seconds to nanoseconds. The number is read as the decimal the
/// JSON text wrote (`1700000000.123456` is exactly `1700000000123456000`),
/// and digits below the nanosecond are rounded half up.
fn timestamp(node: &Node) -> Result<Timestamp> {
    const WHAT: &str = "seconds as a finite number >= 0";
    const RANGE: &str = "seconds that fit in 64-bit nanoseconds (before the year 2554)";
    let number = match node.value {
        Value::Number(n) if n.as_f64().is_some_and(|f| f >= 0.0) => n,
        _ => return Err(node.expected(WHAT)),
    };
    decimal_nanos(&number.to_string()).ok_or_else(|| node.expected(RANGE))
}

/// Scale a non-negative decimal like `12`, `0.25`, `1e-7` or `1.5E+3` by
/// 10^9, rounding half up; `None` if it does not fit a `u64` or is not a decimal.
fn decimal_nanos(text: &str) -> Option<u64> {
    let text = text.strip_prefix('-').unwrap_or(text); // only "-0.0" reaches here
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.strip_prefix('+').unwrap_or(e).parse::<i64>().ok()?),
        None => (text, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits: Vec<u8> = whole.bytes().chain(fraction.bytes()).collect();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) || exponent.abs() > 1000 {
        return None;
    }
    // Position of the decimal point once the value is in nanoseconds.
    let point = whole.len() as i64 + exponent + 9;
    let digit =
        |i: i64| -> u64 { usize::try_from(i).ok().and_then(|i| digits.get(i)).map_or(0, |d| u64::from(d - b'0')) };
    let mut nanos: u64 = 0;
    for i in 0..point.max(0) {
        nanos = nanos.checked_mul(10)?.checked_add(digit(i))?;
    }
    if digit(point.max(0)) >= 5 && point >= 0 {
        nanos = nanos.checked_add(1)?;
    }
    Some(nanos)
}

fn mac(node: &Node) -> Result<[u8; 6]> {
    const WHAT: &str = "a MAC address like \"aa:bb:cc:dd:ee:ff\"";
    let text = node.str(WHAT)?;
    let parts: Vec<&str> = text.split([':', '-']).collect();
    let mut out = [0u8; 6];
    if parts.len() != 6 {
        return Err(node.expected(WHAT));
    }
    for (byte, part) in out.iter_mut().zip(&parts) {
        if part.len() != 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(node.expected(WHAT));
        }
        *byte = u8::from_str_radix(part, 16).map_err(|_| node.expected(WHAT))?;
    }
    Ok(out)
}

fn ipv4(node: &Node, what: &str) -> Result<Ipv4Addr> {
    node.str(what)?.trim().parse().map_err(|_| node.expected(what))
}

/// Source and destination, as a pair of one family.
#[derive(Debug, Clone, Copy)]
enum Addr {
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

impl Addr {
    fn ip(&self) -> IpAddr {
        match *self {
            Addr::V4(a) => IpAddr::V4(a),
            Addr::V6(a) => IpAddr::V6(a),
        }
    }
}

fn addresses(node: &Node, protocol: Protocol) -> Result<(Addr, Addr)> {
    let what = if protocol == Protocol::Icmp { "an IPv4 address" } else { "an IPv4 or IPv6 address" };
    let parse = |key: &str| -> Result<(Node, IpAddr)> {
        let n = node.require(key, what)?;
        let ip: IpAddr = n.str(what)?.trim().parse().map_err(|_| n.expected(what))?;
        Ok((n, ip))
    };
    let (src_node, src) = parse("src_ip")?;
    let (dst_node, dst) = parse("dst_ip")?;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => Ok((Addr::V4(s), Addr::V4(d))),
        (IpAddr::V6(_), _) if protocol == Protocol::Icmp => {
            Err(src_node.expected("an IPv4 address (ICMPv6 is not supported)"))
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => Ok((Addr::V6(s), Addr::V6(d))),
        (IpAddr::V4(_), IpAddr::V6(_)) => Err(dst_node.expected("an IPv4 address, like src_ip")),
        (IpAddr::V6(_), IpAddr::V4(_)) => Err(dst_node.expected("an IPv6 address, like src_ip")),
    }
}

// ---------------------------------------------------------------------------
// Network layer.

#[derive(Debug)]
struct IpFields {
    ttl: u8,
    id: u16,
    dont_fragment: bool,
    tos: u8,
}

impl IpFields {
    fn parse(node: &Node) -> Result<Self> {
        Ok(IpFields {
            ttl: node.opt("ttl", |n| n.u8("a TTL 0-255"))?.unwrap_or(DEFAULT_TTL),
            id: node.opt("ip_id", |n| n.u16("an IP id 0-65535"))?.unwrap_or(0),
            dont_fragment: node.opt("dont_fragment", |n| n.bool("true or false"))?.unwrap_or(true),
            tos: node.opt("tos", |n| n.u8("a TOS byte 0-255"))?.unwrap_or(0),
        })
    }
}

/// Wrap a transport payload (already size-checked) into an IPv4 or IPv6 packet.
fn ip_packet(ip: &IpFields, src: &Addr, dst: &Addr, protocol: IpNumber, l4: &[u8]) -> (EtherType, Vec<u8>) {
    match (src, dst) {
        (Addr::V4(s), Addr::V4(d)) => {
            let mut header = Ipv4Header {
                dscp: IpDscp::try_new(ip.tos >> 2).unwrap_or_default(),
                ecn: IpEcn::try_new(ip.tos & 0b11).unwrap_or(IpEcn::ZERO),
                total_len: (IPV4_HEADER_LEN + l4.len()) as u16,
                identification: ip.id,
                dont_fragment: ip.dont_fragment,
                more_fragments: false,
                fragment_offset: Default::default(),
                time_to_live: ip.ttl,
                protocol,
                header_checksum: 0,
                source: s.octets(),
                destination: d.octets(),
                options: Default::default(),
            };
            header.header_checksum = header.calc_header_checksum();
            let mut out = header.to_bytes().to_vec();
            out.extend_from_slice(l4);
            (EtherType::IPV4, out)
        }
        _ => {
            let header = Ipv6Header {
                traffic_class: ip.tos,
                flow_label: Ipv6FlowLabel::default(),
                payload_length: l4.len() as u16,
                next_header: protocol,
                hop_limit: ip.ttl,
                source: v6_octets(src),
                destination: v6_octets(dst),
            };
            let mut out = header.to_bytes().to_vec();
            out.extend_from_slice(l4);
            (EtherType::IPV6, out)
        }
    }
}

fn v6_octets(addr: &Addr) -> [u8; 16] {
    match addr {
        Addr::V4(a) => a.to_ipv6_mapped().octets(),
        Addr::V6(a) => a.octets(),
    }
}

/// Check that a transport header plus payload fits in one IP packet.
fn check_size(src: &Addr, header_len: usize, payload: &Payload) -> Result<()> {
    let max = match src {
        Addr::V4(_) => MAX_IPV4_PAYLOAD,
        Addr::V6(_) => MAX_IPV6_PAYLOAD,
    };
    if header_len + payload.bytes.len() > max {
        return Err(JsonTraceError::Field {
            path: payload.path.clone(),
            message: format!(
                "expected at most {} bytes of payload in one packet, found {}",
                max - header_len,
                payload.bytes.len()
            ),
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Payloads.

/// Application bytes and the path of the field they came from.
#[derive(Debug, Default)]
struct Payload {
    bytes: Vec<u8>,
    path: String,
}

/// Return the `payload` (UTF-8 text) or `payload_hex` bytes; an empty value
/// counts as absent, and giving both non-empty is an error.
fn raw_payload(node: &Node) -> Result<Option<Payload>> {
    let text = match node.field("payload") {
        Some(n) => {
            let s = n.str("a string (the payload as text)")?;
            (!s.is_empty()).then(|| Payload { bytes: s.as_bytes().to_vec(), path: n.path.clone() })
        }
        None => None,
    };
    let hex = match node.field("payload_hex") {
        Some(n) => {
            let bytes = hex_bytes(&n)?;
            (!bytes.is_empty()).then(|| Payload { bytes, path: n.path.clone() })
        }
        None => None,
    };
    match (text, hex) {
        (Some(_), Some(h)) => Err(JsonTraceError::Field {
            path: h.path,
            message: "expected either payload or payload_hex, found both".into(),
        }),
        (t, h) => Ok(t.or(h)),
    }
}

/// Decode hex digits; an optional `0x` prefix and whitespace, `:` or `-`
/// between bytes are allowed.
fn hex_bytes(node: &Node) -> Result<Vec<u8>> {
    const WHAT: &str = "hex digits in pairs, like \"0a1bff\"";
    let text = node.str(WHAT)?.trim();
    let text = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")).unwrap_or(text);
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace() && *b != b':' && *b != b'-').collect();
    if digits.len() % 2 != 0 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return Err(node.expected(WHAT));
    }
    let nibble = |d: u8| (d as char).to_digit(16).unwrap_or(0) as u8;
    Ok(digits.chunks(2).map(|p| nibble(p[0]) << 4 | nibble(p[1])).collect())
}

/// Return the application payload of a packet: a structured `dns`/`http`
/// object where the protocol allows one, else the raw payload fields.
/// The flag says whether the message is a response (`None`: unknown).
fn app_payload(node: &Node, structured: Option<&str>) -> Result<(Payload, Option<bool>)> {
    let raw = raw_payload(node)?;
    let object = structured.and_then(|key| node.field(key).map(|n| (key, n)));
    match (object, raw) {
        (Some((key, _)), Some(r)) => Err(JsonTraceError::Field {
            path: r.path,
            message: format!("expected either {key} or a payload, found both"),
        }),
        (Some(("dns", n)), None) => {
            let (bytes, response) = dns_message(&n)?;
            Ok((Payload { bytes, path: n.path }, Some(response)))
        }
        (Some((_, n)), None) => {
            let (bytes, response) = http_message(&n)?;
            Ok((Payload { bytes, path: n.path }, Some(response)))
        }
        (None, Some(r)) => {
            let response = match structured {
                Some("http") => Some(r.bytes.starts_with(b"HTTP/")),
                // The QR bit of a hand-written DNS header (RFC 1035 §4.1.1).
                Some("dns") if r.bytes.len() >= 3 => Some(r.bytes[2] & 0x80 != 0),
                _ => None,
            };
            Ok((r, response))
        }
        (None, None) => Ok((Payload { bytes: Vec::new(), path: format!("{}.payload", node.path) }, None)),
    }
}

/// Return the source and destination ports; where the server side is known
/// (`server_port` and whether the packet is a response), missing ports
/// default to the server port and [`DEFAULT_CLIENT_PORT`].
fn ports(node: &Node, server_port: u16, response: Option<bool>) -> Result<(u16, u16)> {
    const WHAT: &str = "a port 0-65535";
    let defaults = match response {
        Some(false) => Some((DEFAULT_CLIENT_PORT, server_port)),
        Some(true) => Some((server_port, DEFAULT_CLIENT_PORT)),
        None => None,
    };
    let get = |key: &str, default: Option<u16>| -> Result<u16> {
        match (node.field(key), default) {
            (Some(n), _) => n.u16(WHAT),
            (None, Some(d)) => Ok(d),
            (None, None) => Err(node.missing(key, WHAT)),
        }
    };
    Ok((get("src_port", defaults.map(|d| d.0))?, get("dst_port", defaults.map(|d| d.1))?))
}

// ---------------------------------------------------------------------------
// TCP.

const FIN: u16 = 0x001;
const SYN: u16 = 0x002;
const RST: u16 = 0x004;
const PSH: u16 = 0x008;
const ACK: u16 = 0x010;
const URG: u16 = 0x020;
const ECE: u16 = 0x040;
const CWR: u16 = 0x080;
const NS: u16 = 0x100;

const FLAGS_WHAT: &str = "TCP flags: names like \"SYN\", \"SYN-ACK\", \"PSH|ACK\", Scapy letters like \"SA\", a list of names, or a number 0-511";

/// Parse TCP flags: words (`SYN`, `ACK`, `FIN`, `RST`, `PSH`, `URG`, `ECE`,
/// `CWR`, `NS`, plus `PUSH`, `RESET`, `NONE`) joined by `|`, `,`, `+`, `-`,
/// `/` or spaces; Scapy letter strings (`SA`, `PA`, `FA`); a list of such
/// strings; or the flag bits as a number.
fn tcp_flags(node: &Node) -> Result<u16> {
    match node.value {
        Value::Number(_) => node.int(0, 0x1ff, FLAGS_WHAT).map(|v| v as u16),
        Value::String(s) => flag_text(s).ok_or_else(|| node.expected(FLAGS_WHAT)),
        Value::Array(_) => node.array(FLAGS_WHAT)?.iter().try_fold(0, |acc, item| {
            let s = item.str(FLAGS_WHAT)?;
            Ok(acc | flag_text(s).ok_or_else(|| item.expected(FLAGS_WHAT))?)
        }),
        _ => Err(node.expected(FLAGS_WHAT)),
    }
}

fn flag_text(text: &str) -> Option<u16> {
    let mut bits = 0;
    for token in text.split(['|', ',', '+', '-', '/', ' ', '\t']).filter(|t| !t.is_empty()) {
        bits |= flag_word(token).or_else(|| flag_letters(token))?;
    }
    Some(bits)
}

fn flag_word(token: &str) -> Option<u16> {
    Some(match token.to_ascii_uppercase().as_str() {
        "FIN" => FIN,
        "SYN" => SYN,
        "RST" | "RESET" => RST,
        "PSH" | "PUSH" => PSH,
        "ACK" => ACK,
        "URG" => URG,
        "ECE" => ECE,
        "CWR" => CWR,
        "NS" => NS,
        "NONE" | "NULL" => 0,
        _ => return None,
    })
}

/// Parse Scapy's one-letter flags (`FSRPAUECN`).
fn flag_letters(token: &str) -> Option<u16> {
    token.chars().try_fold(0, |bits, c| {
        Some(
            bits | match c.to_ascii_uppercase() {
                'F' => FIN,
                'S' => SYN,
                'R' => RST,
                'P' => PSH,
                'A' => ACK,
                'U' => URG,
                'E' => ECE,
                'C' => CWR,
                'N' => NS,
                _ => return None,
            },
        )
    })
}

fn tcp_options(node: &Node) -> Result<Vec<TcpOptionElement>> {
    node.object("an object like {\"mss\": 1460, \"sack_permitted\": true, \"timestamp\": [1, 0], \"wscale\": 7}")?;
    let mut out = Vec::new();
    if let Some(mss) = node.opt("mss", |n| n.u16("an MSS 0-65535"))? {
        out.push(TcpOptionElement::MaximumSegmentSize(mss));
    }
    if node.opt("sack_permitted", |n| n.bool("true or false"))? == Some(true) {
        out.push(TcpOptionElement::SelectiveAcknowledgementPermitted);
    }
    if let Some(ts) = node.field("timestamp") {
        const WHAT: &str = "a pair [tsval, tsecr] of numbers 0-4294967295";
        let pair = ts.array(WHAT)?;
        if pair.len() != 2 {
            return Err(ts.expected(WHAT));
        }
        out.push(TcpOptionElement::Timestamp(pair[0].u32(WHAT)?, pair[1].u32(WHAT)?));
    }
    if let Some(shift) = node.opt("wscale", |n| n.u8("a window scale 0-255"))? {
        out.push(TcpOptionElement::Noop);
        out.push(TcpOptionElement::WindowScale(shift));
    }
    Ok(out)
}

fn tcp_segment(node: &Node, protocol: Protocol, src: &Addr, dst: &Addr) -> Result<Vec<u8>> {
    let is_http = protocol == Protocol::Http;
    let (payload, response) = app_payload(node, Some("http"))?;
    let (sport, dport) = ports(node, HTTP_PORT, if is_http { response } else { None })?;
    let flags = match (node.field("flags"), is_http && response.is_some()) {
        (Some(n), _) => tcp_flags(&n)?,
        (None, true) => PSH | ACK,
        (None, false) => tcp_flags(&node.require("flags", FLAGS_WHAT)?)?,
    };
    let seq = node.opt("seq", |n| n.u32("a sequence number 0-4294967295"))?.unwrap_or(0);
    let ack = node.opt("ack", |n| n.u32("an acknowledgment number 0-4294967295"))?.unwrap_or(0);
    let window = node.opt("window", |n| n.u16("a window 0-65535"))?.unwrap_or(DEFAULT_WINDOW);
    let urgent = node.opt("urgent_pointer", |n| n.u16("an urgent pointer 0-65535"))?.unwrap_or(0);

    let mut header = TcpHeader::new(sport, dport, seq, window);
    header.acknowledgment_number = ack;
    header.urgent_pointer = urgent;
    header.fin = flags & FIN != 0;
    header.syn = flags & SYN != 0;
    header.rst = flags & RST != 0;
    header.psh = flags & PSH != 0;
    header.ack = flags & ACK != 0;
    header.urg = flags & URG != 0;
    header.ece = flags & ECE != 0;
    header.cwr = flags & CWR != 0;
    header.ns = flags & NS != 0;
    if let Some(options) = node.field("options") {
        let elements = tcp_options(&options)?;
        header.set_options(&elements).map_err(|e| options.err(format!("cannot encode the options: {e}")))?;
    }
    check_size(src, header.header_len(), &payload)?;
    let checksum = match (src, dst) {
        (Addr::V4(s), Addr::V4(d)) => header.calc_checksum_ipv4_raw(s.octets(), d.octets(), &payload.bytes),
        _ => header.calc_checksum_ipv6_raw(v6_octets(src), v6_octets(dst), &payload.bytes),
    };
    header.checksum =
        checksum.map_err(|e| JsonTraceError::Field { path: payload.path.clone(), message: e.to_string() })?;
    let mut out = header.to_bytes().to_vec();
    out.extend_from_slice(&payload.bytes);
    Ok(out)
}

// ---------------------------------------------------------------------------
// UDP.

fn udp_datagram(node: &Node, protocol: Protocol, src: &Addr, dst: &Addr) -> Result<Vec<u8>> {
    let is_dns = protocol == Protocol::Dns;
    if is_dns && node.field("dns").is_none() && raw_payload(node)?.is_none() {
        return Err(node.missing("dns", "a DNS message object (or a payload)"));
    }
    let (payload, response) = app_payload(node, Some("dns"))?;
    let (sport, dport) = ports(node, DNS_PORT, if is_dns { response.or(Some(false)) } else { None })?;
    check_size(src, UdpHeader::LEN, &payload)?;
    let mut header = UdpHeader {
        source_port: sport,
        destination_port: dport,
        length: (UdpHeader::LEN + payload.bytes.len()) as u16,
        checksum: 0,
    };
    let checksum = match (src, dst) {
        (Addr::V4(s), Addr::V4(d)) => header.calc_checksum_ipv4_raw(s.octets(), d.octets(), &payload.bytes),
        _ => header.calc_checksum_ipv6_raw(v6_octets(src), v6_octets(dst), &payload.bytes),
    };
    header.checksum =
        checksum.map_err(|e| JsonTraceError::Field { path: payload.path.clone(), message: e.to_string() })?;
    let mut out = header.to_bytes().to_vec();
    out.extend_from_slice(&payload.bytes);
    Ok(out)
}

// ---------------------------------------------------------------------------
// ICMP.

const ICMP_TYPE_WHAT: &str = "an ICMP type 0-255 or a name like \"echo-request\"";

fn icmp_type(node: &Node) -> Result<u8> {
    if node.value.is_number() {
        return node.u8(ICMP_TYPE_WHAT);
    }
    let name = node.str(ICMP_TYPE_WHAT)?.trim().to_ascii_lowercase().replace(['_', ' '], "-");
    Ok(match name.as_str() {
        "echo-reply" => 0,
        "destination-unreachable" | "dest-unreach" | "unreachable" => 3,
        "source-quench" => 4,
        "redirect" => 5,
        "echo-request" | "echo" => 8,
        "time-exceeded" => 11,
        "parameter-problem" => 12,
        "timestamp-request" | "timestamp" => 13,
        "timestamp-reply" => 14,
        _ => return Err(node.expected(ICMP_TYPE_WHAT)),
    })
}

/// Build an ICMP message: type, code, checksum, the four rest-of-header
/// bytes (id/seq for echo and timestamp messages, `mtu` for "fragmentation
/// needed", `gateway` for redirects, `pointer` for parameter problems), then
/// the data (`payload`/`payload_hex`, or the three timestamps of types 13/14).
fn icmp_message(node: &Node, src: &Addr) -> Result<Vec<u8>> {
    let icmp = node.require("icmp", "an object {type, code, id, seq}")?;
    icmp.object("an object {type, code, id, seq}")?;
    let kind = icmp_type(&icmp.require("type", ICMP_TYPE_WHAT)?)?;
    let code = icmp.opt("code", |n| n.u8("an ICMP code 0-255"))?.unwrap_or(0);
    let id = icmp.opt("id", |n| n.u16("an identifier 0-65535"))?.unwrap_or(0);
    let seq = icmp.opt("seq", |n| n.u16("a sequence number 0-65535"))?.unwrap_or(0);
    let rest: [u8; 4] = match kind {
        3 => {
            let mtu = icmp.opt("mtu", |n| n.u16("a next-hop MTU 0-65535"))?.unwrap_or(0);
            let [hi, lo] = mtu.to_be_bytes();
            [0, 0, hi, lo]
        }
        5 => icmp.opt("gateway", |n| ipv4(n, "an IPv4 address"))?.unwrap_or(Ipv4Addr::UNSPECIFIED).octets(),
        12 => [icmp.opt("pointer", |n| n.u8("a pointer 0-255"))?.unwrap_or(0), 0, 0, 0],
        0 | 8 | 13..=18 => {
            let [a, b] = id.to_be_bytes();
            let [c, d] = seq.to_be_bytes();
            [a, b, c, d]
        }
        _ => [0; 4],
    };
    let data = match raw_payload(node)? {
        Some(p) => p,
        None if kind == 13 || kind == 14 => {
            let mut bytes = Vec::with_capacity(12);
            for key in ["originate", "receive", "transmit"] {
                let t = icmp.opt(key, |n| n.u32("milliseconds since midnight UT, 0-4294967295"))?.unwrap_or(0);
                bytes.extend_from_slice(&t.to_be_bytes());
            }
            Payload { bytes, path: format!("{}.originate", icmp.path) }
        }
        None => Payload { bytes: Vec::new(), path: format!("{}.payload", node.path) },
    };
    let header_len = 8;
    check_size(src, header_len, &data)?;
    let header =
        Icmpv4Header::with_checksum(Icmpv4Type::Unknown { type_u8: kind, code_u8: code, bytes5to8: rest }, &data.bytes);
    let mut out = header.to_bytes().to_vec();
    out.extend_from_slice(&data.bytes);
    Ok(out)
}

// ---------------------------------------------------------------------------
// ARP.

fn arp_frame(node: &Node, ts: Timestamp, src_mac: Option<[u8; 6]>, dst_mac: Option<[u8; 6]>) -> Result<Frame> {
    const OP_WHAT: &str = "\"request\", \"reply\" or an operation number 0-65535";
    let arp = node.require("arp", "an object {op, sender_mac, sender_ip, target_mac, target_ip}")?;
    arp.object("an object {op, sender_mac, sender_ip, target_mac, target_ip}")?;
    let op_node = arp.require("op", OP_WHAT)?;
    let op = match op_node.value {
        Value::Number(_) => op_node.u16(OP_WHAT)?,
        _ => match op_node.str(OP_WHAT)?.trim().to_ascii_lowercase().as_str() {
            "request" | "who-has" | "who_has" => 1,
            "reply" | "is-at" | "is_at" => 2,
            _ => return Err(op_node.expected(OP_WHAT)),
        },
    };
    let reply = op == 2;
    let sender_mac = match arp.opt("sender_mac", mac)?.or(src_mac) {
        Some(m) => m,
        None => return Err(arp.missing("sender_mac", "a MAC address (or give src_mac)")),
    };
    let target_mac = match arp.opt("target_mac", mac)? {
        Some(m) => m,
        None if !reply => [0; 6],
        None => match dst_mac {
            Some(m) => m,
            None => return Err(arp.missing("target_mac", "a MAC address for a reply (or give dst_mac)")),
        },
    };
    let ip_of = |key: &str, fallback: &str| -> Result<Ipv4Addr> {
        const WHAT: &str = "an IPv4 address";
        match (arp.field(key), node.field(fallback)) {
            (Some(n), _) | (None, Some(n)) => ipv4(&n, WHAT),
            (None, None) => Err(arp.missing(key, &format!("{WHAT} (or give {fallback})"))),
        }
    };
    let sender_ip = ip_of("sender_ip", "src_ip")?;
    let target_ip = ip_of("target_ip", "dst_ip")?;
    let packet = ArpEthIpv4Packet {
        operation: ArpOperation(op),
        sender_mac,
        sender_ipv4: sender_ip.octets(),
        target_mac,
        target_ipv4: target_ip.octets(),
    };
    Ok(Frame {
        ts,
        ether_type: EtherType::ARP,
        src_mac: Some(src_mac.unwrap_or(sender_mac)),
        dst_mac: Some(dst_mac.unwrap_or(if reply { target_mac } else { BROADCAST_MAC })),
        addrs: None,
        wants_ethernet: true,
        body: packet.to_bytes().to_vec(),
    })
}

// ---------------------------------------------------------------------------
// DNS.

const TYPE_WHAT: &str = "a record type name like \"A\", \"AAAA\", \"MX\", \"TYPE65\", or a number 0-65535";
const CLASS_WHAT: &str = "a class name like \"IN\" or a number 0-65535";

fn record_type(node: &Node) -> Result<u16> {
    if node.value.is_number() {
        return node.u16(TYPE_WHAT);
    }
    dns::mnemonic::record_type(node.str(TYPE_WHAT)?).ok_or_else(|| node.expected(TYPE_WHAT))
}

fn record_class(node: &Node) -> Result<u16> {
    if node.value.is_number() {
        return node.u16(CLASS_WHAT);
    }
    dns::mnemonic::class(node.str(CLASS_WHAT)?).ok_or_else(|| node.expected(CLASS_WHAT))
}

fn opcode(node: &Node) -> Result<u8> {
    const WHAT: &str = "an opcode 0-15 or a name like \"QUERY\"";
    if node.value.is_number() {
        return node.int(0, 15, WHAT).map(|v| v as u8);
    }
    dns::mnemonic::opcode(node.str(WHAT)?).ok_or_else(|| node.expected(WHAT))
}

fn rcode(node: &Node) -> Result<u8> {
    const WHAT: &str = "an rcode 0-15 or a name like \"NOERROR\", \"NXDOMAIN\"";
    if node.value.is_number() {
        return node.int(0, 15, WHAT).map(|v| v as u8);
    }
    dns::mnemonic::rcode(node.str(WHAT)?).ok_or_else(|| node.expected(WHAT))
}

/// Return a domain name after checking it can be encoded: labels of 1-63
/// bytes, at most 255 bytes on the wire (RFC 1035 §2.3.4). `""` and `"."`
/// are the root; one trailing dot is allowed.
fn domain_name(node: &Node) -> Result<String> {
    const WHAT: &str = "a domain name like \"www.example.com\"";
    let text = node.str(WHAT)?.trim();
    let bare = text.strip_suffix('.').unwrap_or(text);
    if bare.is_empty() {
        return Ok(String::new());
    }
    let mut wire_len = 1;
    for label in bare.split('.') {
        if label.is_empty() {
            return Err(node.expected("a domain name without empty labels"));
        }
        if label.len() > 63 {
            return Err(node.expected("a domain name whose labels have at most 63 bytes"));
        }
        wire_len += 1 + label.len();
    }
    if wire_len > 255 {
        return Err(node.expected("a domain name of at most 255 bytes on the wire"));
    }
    Ok(bare.to_string())
}

/// Encode a validated name uncompressed (for rdata we build ourselves).
fn encode_name(name: &str, out: &mut Vec<u8>) {
    for label in name.split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
}

/// Parse a string from a text field, checking it fits a DNS
/// `<character-string>` (at most 255 bytes).
fn char_string(node: &Node) -> Result<Vec<u8>> {
    let s = node.str("a string")?;
    if s.len() > 255 {
        return Err(node.err(format!("expected a string of at most 255 bytes, found {} bytes", s.len())));
    }
    Ok(s.as_bytes().to_vec())
}

/// Split `text` on whitespace into exactly `n` fields.
fn fields<'t>(node: &Node, text: &'t str, n: usize, what: &str) -> Result<Vec<&'t str>> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    if parts.len() == n {
        Ok(parts)
    } else {
        Err(node.expected(what))
    }
}

/// Parse a number written in decimal digits inside a text field.
fn number_in<T: std::str::FromStr>(node: &Node, text: &str, what: &str) -> Result<T> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(node.expected(what));
    }
    text.parse().map_err(|_| node.expected(what))
}

fn name_in(node: &Node, text: &str) -> Result<String> {
    let value = Value::String(text.to_string());
    domain_name(&Node { value: &value, path: node.path.clone() })
}

/// Parse record data for record type `rtype`: see docs/json-dialect.md for
/// the text form of each type; `{"hex": "…"}` gives raw rdata for any type.
fn record_data(node: &Node, rtype: u16) -> Result<dns::RecordData> {
    use dns::RecordData;
    if let Value::Object(_) = node.value {
        if let Some(hex) = node.field("hex") {
            return Ok(RecordData::Raw(hex_bytes(&hex)?));
        }
    }
    match rtype {
        1 => Ok(RecordData::A(ipv4(node, "an IPv4 address for an A record")?)),
        28 => {
            const WHAT: &str = "an IPv6 address for an AAAA record";
            Ok(RecordData::Aaaa(node.str(WHAT)?.trim().parse().map_err(|_| node.expected(WHAT))?))
        }
        2 | 5 | 12 => Ok(RecordData::Name(domain_name(node)?)),
        15 => {
            const WHAT: &str =
                "MX data like \"10 mail.example.com\" or {\"preference\": 10, \"exchange\": \"mail.example.com\"}";
            if node.value.is_object() {
                let preference = node.require("preference", "a preference 0-65535")?.u16("a preference 0-65535")?;
                let exchange = domain_name(&node.require("exchange", "a domain name")?)?;
                return Ok(RecordData::Mx { preference, exchange });
            }
            let parts = fields(node, node.str(WHAT)?, 2, WHAT)?;
            Ok(RecordData::Mx { preference: number_in(node, parts[0], WHAT)?, exchange: name_in(node, parts[1])? })
        }
        16 => {
            const WHAT: &str = "TXT data as a string or a list of strings";
            match node.value {
                Value::String(s) if s.is_empty() => Ok(RecordData::Txt(vec![Vec::new()])),
                // A long text is split into 255-byte <character-string>s (RFC 1035 §3.3.14).
                Value::String(s) => Ok(RecordData::Txt(s.as_bytes().chunks(255).map(<[u8]>::to_vec).collect())),
                Value::Array(_) => {
                    Ok(RecordData::Txt(node.array(WHAT)?.iter().map(char_string).collect::<Result<_>>()?))
                }
                _ => Err(node.expected(WHAT)),
            }
        }
        6 => soa(node),
        33 => {
            const WHAT: &str = "SRV data like \"10 5 5060 sip.example.com\" (priority weight port target)";
            let parts = fields(node, node.str(WHAT)?, 4, WHAT)?;
            let mut raw = Vec::new();
            for part in &parts[..3] {
                raw.extend_from_slice(&number_in::<u16>(node, part, WHAT)?.to_be_bytes());
            }
            encode_name(&name_in(node, parts[3])?, &mut raw);
            Ok(RecordData::Raw(raw))
        }
        257 => {
            const WHAT: &str = "CAA data like \"0 issue \\\"ca.example.net\\\"\" (flags tag value)";
            let text = node.str(WHAT)?.trim();
            let mut it = text.splitn(3, char::is_whitespace);
            let (flags, tag, value) = match (it.next(), it.next(), it.next()) {
                (Some(f), Some(t), Some(v)) => (f, t, v.trim()),
                _ => return Err(node.expected(WHAT)),
            };
            let flags: u8 = number_in(node, flags, WHAT)?;
            if tag.is_empty() || tag.len() > 255 {
                return Err(node.expected(WHAT));
            }
            let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
            let mut raw = vec![flags, tag.len() as u8];
            raw.extend_from_slice(tag.as_bytes());
            raw.extend_from_slice(value.as_bytes());
            Ok(RecordData::Raw(raw))
        }
        _ => {
            // RFC 3597 §5: "\# <length> <hex>".
            const WHAT: &str = "{\"hex\": \"…\"} or \"\\\\# <length> <hex>\" for this record type";
            let text = node.str(WHAT)?.trim();
            let rest = text.strip_prefix("\\#").ok_or_else(|| node.expected(WHAT))?.trim_start();
            let (len, hex) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            let len: usize = number_in(node, len, WHAT)?;
            let value = Value::String(hex.to_string());
            let bytes = hex_bytes(&Node { value: &value, path: node.path.clone() }).map_err(|_| node.expected(WHAT))?;
            if bytes.len() != len {
                return Err(
                    node.err(format!("expected {len} bytes of rdata as the length says, found {}", bytes.len()))
                );
            }
            Ok(RecordData::Raw(bytes))
        }
    }
}

fn soa(node: &Node) -> Result<dns::RecordData> {
    const WHAT: &str = "SOA data like \"ns1.example.com hostmaster.example.com 1 7200 3600 1209600 300\"";
    const KEYS: [&str; 5] = ["serial", "refresh", "retry", "expire", "minimum"];
    let (mname, rname, numbers) = if node.value.is_object() {
        let mname = domain_name(&node.require("mname", "a domain name")?)?;
        let rname = domain_name(&node.require("rname", "a domain name")?)?;
        let mut numbers = [0u32; 5];
        for (slot, key) in numbers.iter_mut().zip(KEYS) {
            *slot = node.require(key, "a number 0-4294967295")?.u32("a number 0-4294967295")?;
        }
        (mname, rname, numbers)
    } else {
        let parts = fields(node, node.str(WHAT)?, 7, WHAT)?;
        let mut numbers = [0u32; 5];
        for (slot, part) in numbers.iter_mut().zip(&parts[2..]) {
            *slot = number_in(node, part, WHAT)?;
        }
        (name_in(node, parts[0])?, name_in(node, parts[1])?, numbers)
    };
    let [serial, refresh, retry, expire, minimum] = numbers;
    Ok(dns::RecordData::Soa { mname, rname, serial, refresh, retry, expire, minimum })
}

fn question(node: &Node) -> Result<dns::Question> {
    node.object("a question object {name, type, class}")?;
    Ok(dns::Question {
        name: domain_name(&node.require("name", "a domain name")?)?,
        qtype: dns::RecordType::from(record_type(&node.require("type", TYPE_WHAT)?)?),
        qclass: node.opt("class", record_class)?.unwrap_or(1),
    })
}

fn record(node: &Node) -> Result<dns::Record> {
    node.object("a record object {name, type, ttl, data}")?;
    let name = domain_name(&node.require("name", "a domain name")?)?;
    let rtype = record_type(&node.require("type", TYPE_WHAT)?)?;
    let class = node.opt("class", record_class)?.unwrap_or(1);
    let ttl = node.opt("ttl", |n| n.u32("a TTL 0-4294967295"))?.unwrap_or(DEFAULT_RECORD_TTL);
    let data = record_data(&node.require("data", "record data")?, rtype)?;
    Ok(dns::Record { name, rtype: dns::RecordType::from(rtype), class, ttl, data })
}

fn section<T>(node: &Node, key: &str, parse: impl Fn(&Node) -> Result<T>) -> Result<Vec<T>> {
    match node.field(key) {
        Some(list) => list.array("a list")?.iter().map(parse).collect(),
        None => Ok(Vec::new()),
    }
}

/// Encode a `dns` object; return the message and whether it is a response.
fn dns_message(node: &Node) -> Result<(Vec<u8>, bool)> {
    const BOOL: &str = "true or false";
    node.object("a DNS message object {id, response, questions, answers, …}")?;
    let response = match node.field("response") {
        Some(n) => n.bool(BOOL)?,
        None => node.opt("qr", |n| n.bool(BOOL))?.unwrap_or(false),
    };
    let flags = dns::Flags {
        response,
        opcode: node.opt("opcode", opcode)?.unwrap_or(0),
        authoritative: node.opt("aa", |n| n.bool(BOOL))?.unwrap_or(false),
        truncated: node.opt("tc", |n| n.bool(BOOL))?.unwrap_or(false),
        recursion_desired: node.opt("rd", |n| n.bool(BOOL))?.unwrap_or(true),
        recursion_available: node.opt("ra", |n| n.bool(BOOL))?.unwrap_or(response),
        rcode: dns::Rcode::from(node.opt("rcode", rcode)?.unwrap_or(0)),
        ..dns::Flags::default()
    };
    let repr = dns::Repr {
        id: node.opt("id", |n| n.u16("an id 0-65535"))?.unwrap_or(0),
        flags,
        questions: section(node, "questions", question)?,
        answers: section(node, "answers", record)?,
        authorities: section(node, "authorities", record)?,
        additionals: section(node, "additionals", record)?,
    };
    let mut bytes = repr.to_bytes();
    // Explicit counts overwrite the header as given (RFC 1035 §4.1.1 offsets 4..12).
    for (i, key) in ["qdcount", "ancount", "nscount", "arcount"].into_iter().enumerate() {
        if let Some(count) = node.opt(key, |n| n.u16("a count 0-65535"))? {
            let at = 4 + 2 * i;
            if bytes.len() >= DNS_HEADER_LEN {
                bytes[at..at + 2].copy_from_slice(&count.to_be_bytes());
            }
        }
    }
    Ok((bytes, response))
}

// ---------------------------------------------------------------------------
// HTTP.

fn is_token(text: &str) -> bool {
    // RFC 9110 §5.6.2 tchar.
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Return a string for the start line or a header value: no CR, LF or
/// (where `spaces` is false) space.
fn line_part(node: &Node, what: &str, spaces: bool) -> Result<String> {
    let text = match node.value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return Err(node.expected(what)),
    };
    if text.contains(['\r', '\n']) || (!spaces && text.contains(' ')) {
        return Err(node.expected(what));
    }
    Ok(text)
}

fn headers(node: &Node) -> Result<Vec<(String, String)>> {
    const WHAT: &str = "headers as an object {\"Name\": \"value\"} or a list of [name, value] pairs";
    const NAME: &str = "a header name (an RFC 9110 token)";
    const VALUE: &str = "a header value without CR or LF";
    let pair = |name: &str, name_node: &Node, value: &Node| -> Result<(String, String)> {
        if !is_token(name) {
            return Err(name_node.expected(NAME));
        }
        Ok((name.to_string(), line_part(value, VALUE, true)?))
    };
    match node.value {
        Value::Object(map) => {
            // Sorted by name so the output does not depend on the JSON map type.
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            keys.into_iter().filter_map(|k| node.field(k).map(|v| (k, v))).map(|(k, v)| pair(k, &v, &v)).collect()
        }
        Value::Array(_) => node
            .array(WHAT)?
            .iter()
            .map(|item| {
                let parts = item.array("a [name, value] pair")?;
                if parts.len() != 2 {
                    return Err(item.expected("a [name, value] pair"));
                }
                pair(parts[0].str(NAME)?, &parts[0], &parts[1])
            })
            .collect(),
        _ => Err(node.expected(WHAT)),
    }
}

/// Render an `http` object; return the message and whether it is a response.
fn http_message(node: &Node) -> Result<(Vec<u8>, bool)> {
    node.object("an HTTP message object {method, path, …} or {status, reason, …}")?;
    let version = match node.field("version") {
        Some(v) => {
            let text = line_part(&v, "an HTTP version like \"1.1\"", false)?;
            let bare = text.strip_prefix("HTTP/").unwrap_or(&text).to_string();
            if bare.is_empty() || !bare.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                return Err(v.expected("an HTTP version like \"1.1\""));
            }
            bare
        }
        None => "1.1".into(),
    };
    let method = node.field("method");
    let status = node.field("status");
    let (start, response) = match (method, status) {
        (Some(_), Some(s)) => {
            return Err(s.err("expected either method (a request) or status (a response), found both"))
        }
        (None, None) => return Err(node.missing("method", "method (a request) or status (a response)")),
        (Some(m), None) => {
            let method = m.str("a method like \"GET\"")?;
            if !is_token(method) {
                return Err(m.expected("a method like \"GET\""));
            }
            const TARGET: &str = "a request target without spaces, like \"/index.html\"";
            let path = match node.field("path") {
                Some(p) => match line_part(&p, TARGET, false)? {
                    t if t.is_empty() => return Err(p.expected(TARGET)),
                    t => t,
                },
                None => "/".into(),
            };
            (format!("{method} {path} HTTP/{version}"), false)
        }
        (None, Some(s)) => {
            let code = s.int(100, 999, "a status code 100-999")? as u16;
            let reason = match node.field("reason") {
                Some(r) => line_part(&r, "a reason phrase without CR or LF", true)?,
                None => http::standard_reason(code).into(),
            };
            (format!("HTTP/{version} {code} {reason}"), true)
        }
    };
    let mut list = Vec::new();
    if let Some(host) = node.field("host") {
        list.push(("Host".to_string(), line_part(&host, "a host name without spaces", false)?));
    }
    if let Some(h) = node.field("headers") {
        list.extend(headers(&h)?);
    }
    let body = match node.field("body") {
        Some(b) => b.str("the body as a string")?.as_bytes().to_vec(),
        None => Vec::new(),
    };
    let has = |name: &str| list.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
    if !has("Content-Length") && !has("Transfer-Encoding") && (response || !body.is_empty()) {
        list.push(("Content-Length".into(), body.len().to_string()));
    }
    let mut text = start;
    text.push_str("\r\n");
    for (k, v) in &list {
        let _ = write!(text, "{k}: {v}\r\n");
    }
    text.push_str("\r\n");
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(&body);
    Ok((bytes, response))
}

#[cfg(test)]
mod test {
    use super::*;
    use etherparse::{SlicedPacket, TransportSlice};
    use proptest::prelude::*;
    use rstest::rstest;

    /// Seed 000's example, verbatim.
    const SEED_000: &str = r#"[
  {
    "timestamp": 0.0001,
    "protocol": "TCP",
    "src_ip": "10.0.0.1",
    "dst_ip": "10.0.0.2",
    "src_port": 12345,
    "dst_port": 80,
    "flags": "SYN",
    "seq": 0,
    "ack": 0,
    "payload": ""
  },
  {
    "timestamp": 0.0002,
    "protocol": "TCP",
    "src_ip": "10.0.0.2",
    "dst_ip": "10.0.0.1",
    "src_port": 80,
    "dst_port": 12345,
    "flags": "SYN-ACK",
    "seq": 500,
    "ack": 1,
    "payload": ""
  }
]"#;

    /// Compute the RFC 1071 sum, independently of etherparse.
    fn ones_sum(chunks: &[&[u8]]) -> u16 {
        let mut sum: u32 = 0;
        let bytes: Vec<u8> = chunks.concat();
        for pair in bytes.chunks(2) {
            let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
            sum += u32::from(word);
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum as u16
    }

    /// Assert that every checksum of an IPv4 packet (header and TCP/UDP/ICMP) verifies.
    fn assert_ipv4_checksums(ip: &[u8]) {
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        assert_eq!(ones_sum(&[&ip[..ihl]]), 0xffff, "IPv4 header checksum");
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        assert_eq!(total, ip.len(), "IPv4 total length");
        let l4 = &ip[ihl..];
        let len = (l4.len() as u16).to_be_bytes();
        let pseudo = [&ip[12..20], &[0, ip[9]][..], &len[..]].concat();
        match ip[9] {
            1 => assert_eq!(ones_sum(&[l4]), 0xffff, "ICMP checksum"),
            6 | 17 => assert_eq!(ones_sum(&[&pseudo, l4]), 0xffff, "TCP/UDP checksum"),
            other => panic!("unexpected protocol {other}"),
        }
    }

    fn field_error(text: &str) -> (String, String) {
        match build(text) {
            Err(JsonTraceError::Field { path, message }) => (path, message),
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    fn tcp_of(data: &[u8]) -> etherparse::TcpHeaderSlice<'_> {
        match SlicedPacket::from_ip(data).expect("parses").transport {
            Some(TransportSlice::Tcp(tcp)) => etherparse::TcpHeaderSlice::from_slice(tcp.slice()).expect("tcp"),
            other => panic!("expected TCP, got {other:?}"),
        }
    }

    #[test]
    fn test_seed_000_bytes() {
        let trace = build(SEED_000).expect("builds");
        assert_eq!(trace.linktype, LinkType::Raw);
        assert_eq!(trace.packets.len(), 2);
        assert_eq!(trace.packets[0].ts, 100_000);
        assert_eq!(trace.packets[1].ts, 200_000);

        let syn = &trace.packets[0].data;
        #[rustfmt::skip]
        let expected_ip = [
            0x45, 0x00, 0x00, 0x28, // version 4, IHL 5, TOS 0, total length 40
            0x00, 0x00, 0x40, 0x00, // id 0, DF
            0x40, 0x06,             // TTL 64, TCP
        ];
        assert_eq!(&syn[..10], &expected_ip);
        assert_eq!(&syn[12..20], &[10, 0, 0, 1, 10, 0, 0, 2]);
        #[rustfmt::skip]
        let expected_tcp = [
            0x30, 0x39, 0x00, 0x50, // 12345 -> 80
            0, 0, 0, 0,             // seq 0
            0, 0, 0, 0,             // ack 0
            0x50, 0x02,             // data offset 5, SYN
            0xfa, 0xf0,             // window 64240
        ];
        assert_eq!(&syn[20..36], &expected_tcp);
        assert_eq!(&syn[38..40], &[0, 0], "urgent pointer");
        assert_eq!(syn.len(), 40);
        assert_ipv4_checksums(syn);

        let syn_ack = &trace.packets[1].data;
        assert_eq!(&syn_ack[12..20], &[10, 0, 0, 2, 10, 0, 0, 1]);
        assert_eq!(&syn_ack[20..24], &[0x00, 0x50, 0x30, 0x39]);
        assert_eq!(&syn_ack[24..28], &500u32.to_be_bytes(), "seq kept");
        assert_eq!(&syn_ack[28..32], &1u32.to_be_bytes(), "ack kept");
        assert_eq!(syn_ack[33], 0x12, "SYN+ACK");
        assert_ipv4_checksums(syn_ack);
    }

    /// Return the JSON block of docs/json-dialect.md's complete example.
    fn doc_example() -> &'static str {
        let doc = include_str!("../../docs/json-dialect.md");
        let section = &doc[doc.find("## Complete example").expect("section")..];
        let start = section.find("```json\n").expect("json block") + "```json\n".len();
        let end = start + section[start..].find("```").expect("block end");
        &section[start..end]
    }

    #[test]
    fn test_doc_example() {
        let trace = build(doc_example()).expect("the documented example builds");
        assert_eq!(trace.linktype, LinkType::Ethernet);
        assert_eq!(trace.packets.len(), 15);
        for p in &trace.packets {
            match &p.data[12..14] {
                [0x08, 0x00] => assert_ipv4_checksums(&p.data[14..]),
                [0x08, 0x06] => assert_eq!(p.data.len(), 42),
                other => panic!("unexpected EtherType {other:?}"),
            }
        }
        // The documented SEQ/ACK arithmetic holds: each side acknowledges the other's data.
        let tcp = |i: usize| tcp_of(&trace.packets[i].data[14..]).to_header();
        let data_len = |i: usize| trace.packets[i].data.len() - 14 - 20 - tcp(i).header_len();
        assert_eq!(data_len(7), 78);
        assert_eq!(data_len(9), 97);
        assert_eq!(tcp(8).acknowledgment_number, tcp(7).sequence_number + 78);
        assert_eq!(tcp(10).acknowledgment_number, tcp(9).sequence_number + 97);
        assert_eq!(tcp(11).acknowledgment_number, tcp(10).sequence_number + 1);
        assert_eq!(tcp(12).acknowledgment_number, tcp(11).sequence_number + 1);
        // The packets without MACs take those the trace's ARP gave: the
        // client's, and the gateway's for the server behind it.
        let (client, gateway) = ([0x00, 0x16, 0x3e, 0, 0, 0x01], [0x00, 0x16, 0x3e, 0, 0, 0xfe]);
        assert_eq!(trace.packets[4].data[..12], [gateway, client].concat(), "SYN to the server through the gateway");
        assert_eq!(
            trace.packets[5].data[..12],
            [client, gateway].concat(),
            "SYN-ACK from the server through the gateway"
        );
    }

    #[test]
    fn test_missing_macs_follow_the_traces_arp() {
        // 10.0.0.1 resolves only 10.0.0.254 (its gateway); 10.0.0.2 answers
        // a gratuitous ARP only.
        let text = r#"[
          {"timestamp": 0, "protocol": "ARP", "arp": {"op": "request", "sender_mac": "00:00:5e:00:00:01", "sender_ip": "10.0.0.1", "target_ip": "10.0.0.254"}},
          {"timestamp": 0, "protocol": "ARP", "arp": {"op": "reply", "sender_mac": "00:00:5e:00:00:fe", "sender_ip": "10.0.0.254", "target_mac": "00:00:5e:00:00:01", "target_ip": "10.0.0.1"}},
          {"timestamp": 0, "protocol": "ARP", "arp": {"op": "request", "sender_mac": "00:00:5e:00:00:02", "sender_ip": "10.0.0.2", "target_ip": "10.0.0.2"}},
          {"timestamp": 0, "protocol": "UDP", "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2", "src_port": 1, "dst_port": 2},
          {"timestamp": 0, "protocol": "UDP", "src_ip": "10.0.0.1", "dst_ip": "192.0.2.9", "src_port": 1, "dst_port": 2},
          {"timestamp": 0, "protocol": "UDP", "src_ip": "192.0.2.9", "dst_ip": "10.0.0.1", "src_port": 2, "dst_port": 1},
          {"timestamp": 0, "protocol": "UDP", "src_ip": "10.0.0.2", "dst_ip": "192.0.2.9", "src_port": 1, "dst_port": 2},
          {"timestamp": 0, "protocol": "UDP", "src_ip": "10.0.0.1", "dst_ip": "255.255.255.255", "src_port": 68, "dst_port": 67},
          {"timestamp": 0, "protocol": "UDP", "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2", "src_port": 1, "dst_port": 2, "dst_mac": "00:00:5e:00:00:99"}
        ]"#;
        let trace = build(text).expect("builds");
        let macs = |i: usize| -> (Vec<u8>, Vec<u8>) {
            (trace.packets[i].data[6..12].to_vec(), trace.packets[i].data[..6].to_vec())
        };
        let m = |last: u8| vec![0x00, 0x00, 0x5e, 0x00, 0x00, last];
        assert_eq!(macs(3), (m(1), m(2)), "both bound");
        assert_eq!(macs(4), (m(1), m(0xfe)), "off-link: through the one next hop the sender resolved");
        assert_eq!(macs(5), (m(0xfe), m(1)), "and back from it");
        assert_eq!(macs(6), (m(2), vec![0x02, 0x00, 192, 0, 2, 9]), "a host that resolved nothing: derived");
        assert_eq!(macs(7).1, vec![0xff; 6], "a group destination keeps its group MAC");
        assert_eq!(macs(8), (m(1), m(0x99)), "a MAC the model wrote stays");
    }

    #[test]
    fn test_object_form_and_paths() {
        let text = format!(r#"{{"packets": {SEED_000}}}"#);
        assert_eq!(build(&text), build(SEED_000));
        let (path, _) = field_error(r#"{"packets": [{"timestamp": 0, "protocol": "TCP"}]}"#);
        assert_eq!(path, "$.packets[0].src_ip");
        let (path, message) = field_error(r#"{"frames": []}"#);
        assert_eq!((path.as_str(), message.as_str()), ("$.packets", "missing; expected an array of packet objects"));
    }

    #[test]
    fn test_http_conversation() {
        let text = r#"[
          {"timestamp": 1.0, "protocol": "TCP", "src_ip": "10.0.0.200", "dst_ip": "10.0.0.201",
           "src_port": 9352, "dst_port": 80, "flags": "SYN", "seq": 1000, "ack": 0, "window": 8192,
           "options": {"mss": 1460, "sack_permitted": true, "wscale": 7}},
          {"timestamp": 1.01, "protocol": "TCP", "src_ip": "10.0.0.201", "dst_ip": "10.0.0.200",
           "src_port": 80, "dst_port": 9352, "flags": "SYN-ACK", "seq": 5000, "ack": 1001, "window": 1384},
          {"timestamp": 1.02, "protocol": "TCP", "src_ip": "10.0.0.200", "dst_ip": "10.0.0.201",
           "src_port": 9352, "dst_port": 80, "flags": "ACK", "seq": 1001, "ack": 5001, "window": 8192},
          {"timestamp": 1.03, "protocol": "HTTP", "src_ip": "10.0.0.200", "dst_ip": "10.0.0.201",
           "src_port": 9352, "seq": 1001, "ack": 5001,
           "http": {"method": "GET", "path": "/", "host": "www.adobe.com", "headers": [["Accept", "*/*"]]}},
          {"timestamp": 1.04, "protocol": "HTTP", "src_ip": "10.0.0.201", "dst_ip": "10.0.0.200",
           "dst_port": 9352, "seq": 5001, "ack": 1058,
           "http": {"status": 200, "headers": {"Content-Type": "text/html"}, "body": "<html></html>"}},
          {"timestamp": 1.05, "protocol": "TCP", "src_ip": "10.0.0.200", "dst_ip": "10.0.0.201",
           "src_port": 9352, "dst_port": 80, "flags": "FIN|ACK", "seq": 1058, "ack": 5108},
          {"timestamp": 1.06, "protocol": "TCP", "src_ip": "10.0.0.201", "dst_ip": "10.0.0.200",
           "src_port": 80, "dst_port": 9352, "flags": "FA", "seq": 5108, "ack": 1059},
          {"timestamp": 1.07, "protocol": "TCP", "src_ip": "10.0.0.200", "dst_ip": "10.0.0.201",
           "src_port": 9352, "dst_port": 80, "flags": "A", "seq": 1059, "ack": 5109}
        ]"#;
        let trace = build(text).expect("builds");
        assert_eq!(trace.linktype, LinkType::Raw);
        let flags: Vec<u8> = trace.packets.iter().map(|p| p.data[33]).collect();
        assert_eq!(flags, vec![0x02, 0x12, 0x10, 0x18, 0x18, 0x11, 0x11, 0x10]);
        for p in &trace.packets {
            assert_ipv4_checksums(&p.data);
        }

        let syn = tcp_of(&trace.packets[0].data);
        assert_eq!(syn.window_size(), 8192);
        #[rustfmt::skip]
        assert_eq!(syn.options(), &[2, 4, 0x05, 0xb4, 4, 2, 1, 3, 3, 7, 0, 0]);

        let get = &trace.packets[3].data[40..];
        assert_eq!(
            std::str::from_utf8(get).expect("utf-8"),
            "GET / HTTP/1.1\r\nHost: www.adobe.com\r\nAccept: */*\r\n\r\n"
        );
        let get_tcp = tcp_of(&trace.packets[3].data);
        assert_eq!((get_tcp.source_port(), get_tcp.destination_port()), (9352, 80));
        assert_eq!((get_tcp.sequence_number(), get_tcp.acknowledgment_number()), (1001, 5001));

        let ok = &trace.packets[4].data[40..];
        assert_eq!(
            std::str::from_utf8(ok).expect("utf-8"),
            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 13\r\n\r\n<html></html>"
        );
        let ok_tcp = tcp_of(&trace.packets[4].data);
        assert_eq!((ok_tcp.source_port(), ok_tcp.destination_port()), (80, 9352));
        assert!(trace.packets.windows(2).all(|w| w[0].ts < w[1].ts));
        assert_eq!(trace.packets[1].ts, 1_010_000_000);
    }

    #[test]
    fn test_arp_forces_ethernet() {
        let text = r#"[
          {"timestamp": 0, "protocol": "ARP",
           "arp": {"op": "request", "sender_mac": "00:11:22:33:44:55", "sender_ip": "192.168.1.10",
                   "target_ip": "192.168.1.1"}},
          {"timestamp": 0.001, "protocol": "arp",
           "arp": {"op": 2, "sender_mac": "66:77:88:99:aa:bb", "sender_ip": "192.168.1.1",
                   "target_mac": "00:11:22:33:44:55", "target_ip": "192.168.1.10"}},
          {"timestamp": 0.002, "protocol": "TCP", "src_ip": "192.168.1.10", "dst_ip": "192.168.1.1",
           "src_port": 40000, "dst_port": 22, "flags": "S", "seq": 7, "ack": 0}
        ]"#;
        let trace = build(text).expect("builds");
        assert_eq!(trace.linktype, LinkType::Ethernet);

        let request = &trace.packets[0].data;
        #[rustfmt::skip]
        let expected: Vec<u8> = [
            &[0xff; 6][..], &[0x00, 0x11, 0x22, 0x33, 0x44, 0x55], &[0x08, 0x06], // Ethernet
            &[0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01],                          // ARP, request
            &[0x00, 0x11, 0x22, 0x33, 0x44, 0x55], &[192, 168, 1, 10],
            &[0; 6], &[192, 168, 1, 1],
        ].concat();
        assert_eq!(request, &expected);

        let reply = &trace.packets[1].data;
        assert_eq!(&reply[..6], &[0x00, 0x11, 0x22, 0x33, 0x44, 0x55], "reply goes to target_mac");
        assert_eq!(&reply[6..12], &[0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb]);
        assert_eq!(&reply[20..22], &[0x00, 0x02]);

        let tcp = &trace.packets[2].data;
        assert_eq!(&tcp[..6], &[0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb], "destination MAC from the ARP reply");
        assert_eq!(&tcp[6..12], &[0x00, 0x11, 0x22, 0x33, 0x44, 0x55], "source MAC from the ARP request");
        assert_eq!(&tcp[12..14], &[0x08, 0x00]);
        assert_ipv4_checksums(&tcp[14..]);
        assert_eq!(tcp[14 + 33], 0x02);
    }

    #[test]
    fn test_one_mac_makes_every_packet_ethernet() {
        let text = r#"[
          {"timestamp": 0, "protocol": "UDP", "src_ip": "10.0.0.1", "dst_ip": "255.255.255.255",
           "src_port": 68, "dst_port": 67, "payload": "x"},
          {"timestamp": 0, "protocol": "UDP", "src_ip": "10.0.0.1", "dst_ip": "224.0.0.251",
           "src_port": 5353, "dst_port": 5353, "src_mac": "00:00:5e:00:53:01"},
          {"timestamp": 0, "protocol": "UDP", "src_ip": "fe80::1", "dst_ip": "ff02::fb",
           "src_port": 5353, "dst_port": 5353}
        ]"#;
        let trace = build(text).expect("builds");
        assert_eq!(trace.linktype, LinkType::Ethernet);
        assert_eq!(&trace.packets[0].data[..12], &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 10, 0, 0, 1]);
        assert_eq!(
            &trace.packets[1].data[..12],
            &[0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb, 0x00, 0x00, 0x5e, 0x00, 0x53, 0x01]
        );
        let v6 = &trace.packets[2].data;
        assert_eq!(&v6[..6], &[0x33, 0x33, 0, 0, 0, 0xfb]);
        assert_eq!(&v6[6..12], &[0x02, 0x00, 0, 0, 0, 1]);
        assert_eq!(&v6[12..14], &[0x86, 0xdd]);
        for p in &trace.packets[..2] {
            assert_ipv4_checksums(&p.data[14..]);
        }
    }

    fn dns_pair() -> &'static str {
        r#"[
          {"timestamp": 0, "protocol": "DNS", "src_ip": "10.0.0.5", "dst_ip": "8.8.8.8", "src_port": 53000,
           "dns": {"id": 4660, "questions": [{"name": "example.com", "type": "A"}]}},
          {"timestamp": 0.02, "protocol": "DNS", "src_ip": "8.8.8.8", "dst_ip": "10.0.0.5", "dst_port": 53000,
           "dns": {"id": 4660, "response": true, "rcode": "NOERROR",
                   "questions": [{"name": "example.com", "type": "A"}],
                   "answers": [{"name": "example.com", "type": "A", "ttl": 3600, "data": "93.184.216.34"},
                               {"name": "example.com", "type": "MX", "ttl": 60, "data": "10 mail.example.com"},
                               {"name": "example.com", "type": "TXT", "data": "v=spf1 -all"}],
                   "authorities": [{"name": "example.com", "type": "SOA", "ttl": 60,
                                    "data": "ns.example.com hostmaster.example.com 1 7200 3600 1209600 300"}],
                   "additionals": [{"name": "ns.example.com", "type": 28, "data": "2001:db8::1"}]}}
        ]"#
    }

    fn expected_response() -> dns::Repr {
        use dns::{Question, Record, RecordData, RecordType};
        let flags = dns::Flags {
            response: true,
            recursion_desired: true,
            recursion_available: true,
            rcode: dns::Rcode::from(0),
            ..dns::Flags::default()
        };
        let record = |name: &str, rtype: u16, ttl, data| Record {
            name: name.into(),
            rtype: RecordType::from(rtype),
            class: 1,
            ttl,
            data,
        };
        dns::Repr {
            id: 0x1234,
            flags,
            questions: vec![Question { name: "example.com".into(), qtype: RecordType::from(1), qclass: 1 }],
            answers: vec![
                record("example.com", 1, 3600, RecordData::A([93, 184, 216, 34].into())),
                record("example.com", 15, 60, RecordData::Mx { preference: 10, exchange: "mail.example.com".into() }),
                record("example.com", 16, 300, RecordData::Txt(vec![b"v=spf1 -all".to_vec()])),
            ],
            authorities: vec![record("example.com", 6, 60, crate::wire::dns::example_soa("ns.example.com"))],
            additionals: vec![record("ns.example.com", 28, 300, RecordData::Aaaa("2001:db8::1".parse().expect("v6")))],
        }
    }

    #[test]
    fn test_dns_query_response() {
        let trace = build(dns_pair()).expect("builds");
        assert_eq!(trace.linktype, LinkType::Raw);
        let query = &trace.packets[0].data;
        assert_ipv4_checksums(query);
        assert_eq!(&query[20..24], &[0xcf, 0x08, 0x00, 53], "client port given, server port 53");
        let flags = dns::Flags { recursion_desired: true, ..dns::Flags::default() };
        let expected_query = dns::Repr {
            id: 0x1234,
            flags,
            questions: vec![dns::Question { name: "example.com".into(), qtype: dns::RecordType::from(1), qclass: 1 }],
            answers: vec![],
            authorities: vec![],
            additionals: vec![],
        };
        assert_eq!(&query[28..], expected_query.to_bytes().as_slice());
        assert_eq!(u16::from_be_bytes([query[24], query[25]]) as usize, query.len() - 20, "UDP length");

        let response = &trace.packets[1].data;
        assert_ipv4_checksums(response);
        assert_eq!(&response[20..24], &[0x00, 53, 0xcf, 0x08]);
        assert_eq!(&response[28..], expected_response().to_bytes().as_slice());
        // Round trip through the wire module's strict parser.
        let parse = |bytes: &[u8]| dns::Repr::parse(&dns::Packet::new_checked(bytes).expect("header")).expect("parses");
        assert_eq!(parse(&query[28..]), expected_query);
        assert_eq!(parse(&response[28..]), expected_response());
        assert_eq!(&response[28..30], &[0x12, 0x34]);
        assert_eq!(response[30] & 0x80, 0x80, "QR set");
    }

    #[test]
    fn test_dns_count_override_and_defaults() {
        let text = r#"[{"timestamp": 0, "protocol": "DNS", "src_ip": "10.0.0.5", "dst_ip": "10.0.0.53",
            "dns": {"id": 1, "response": true, "ancount": 2, "rcode": "NXDOMAIN",
                    "questions": [{"name": "nope.example", "type": "AAAA"}]}}]"#;
        let trace = build(text).expect("builds");
        let udp = &trace.packets[0].data[20..];
        assert_eq!(&udp[..4], &[0x00, 53, 0xc0, 0x00], "response: src 53, dst 49152");
        let dns = &udp[8..];
        assert_eq!(&dns[4..12], &[0, 1, 0, 2, 0, 0, 0, 0], "qdcount 1, ancount 2 as given");
        assert_eq!(dns[3] & 0x0f, 3, "NXDOMAIN");
        assert_ipv4_checksums(&trace.packets[0].data);
    }

    #[test]
    fn test_icmp_echo() {
        let text = r#"[
          {"timestamp": 0, "protocol": "ICMP", "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2",
           "icmp": {"type": 8, "code": 0, "id": 4660, "seq": 1}, "payload": "abcdefgh"},
          {"timestamp": 0.001, "protocol": "ICMP", "src_ip": "10.0.0.2", "dst_ip": "10.0.0.1", "ttl": 128,
           "icmp": {"type": "echo-reply", "id": 4660, "seq": 1}, "payload_hex": "61 62 63 64 65 66 67 68"},
          {"timestamp": 0.002, "protocol": "ICMP", "src_ip": "10.0.0.9", "dst_ip": "10.0.0.1",
           "icmp": {"type": 3, "code": 4, "mtu": 1400}},
          {"timestamp": 0.003, "protocol": "ICMP", "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2",
           "icmp": {"type": 13, "id": 7, "seq": 2, "originate": 1000}}
        ]"#;
        let trace = build(text).expect("builds");
        for p in &trace.packets {
            assert_ipv4_checksums(&p.data);
            assert_eq!(p.data[9], 1);
        }
        let request = &trace.packets[0].data[20..];
        assert_eq!(&request[..2], &[8, 0]);
        assert_eq!(&request[4..8], &[0x12, 0x34, 0x00, 0x01]);
        assert_eq!(&request[8..], b"abcdefgh");
        let reply = &trace.packets[1].data;
        assert_eq!(reply[8], 128);
        assert_eq!(&reply[20..22], &[0, 0]);
        assert_eq!(&reply[28..], b"abcdefgh");
        assert_eq!(
            &trace.packets[2].data[20..28],
            &[3, 4, trace.packets[2].data[22], trace.packets[2].data[23], 0, 0, 0x05, 0x78]
        );
        let timestamp = &trace.packets[3].data[20..];
        assert_eq!(timestamp.len(), 20);
        assert_eq!(&timestamp[8..12], &1000u32.to_be_bytes());
        let echo = match SlicedPacket::from_ip(&trace.packets[0].data).expect("parses").transport {
            Some(TransportSlice::Icmpv4(icmp)) => icmp.header(),
            other => panic!("expected ICMP, got {other:?}"),
        };
        assert_eq!(echo.icmp_type, Icmpv4Type::EchoRequest(etherparse::IcmpEchoHeader { id: 0x1234, seq: 1 }));
    }

    #[test]
    fn test_faults_are_kept() {
        let text = r#"[
          {"timestamp": 2.0, "protocol": "TCP", "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2",
           "src_port": 1, "dst_port": 2, "flags": "ACK", "seq": 4294967295, "ack": 77},
          {"timestamp": 1.0, "protocol": "TCP", "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2",
           "src_port": 1, "dst_port": 2, "flags": "SYN|FIN|RST", "seq": 3, "ack": 9}
        ]"#;
        let trace = build(text).expect("builds");
        assert_eq!(trace.packets[0].ts, 2_000_000_000);
        assert_eq!(trace.packets[1].ts, 1_000_000_000, "not sorted");
        let first = tcp_of(&trace.packets[0].data);
        assert_eq!((first.sequence_number(), first.acknowledgment_number()), (u32::MAX, 77));
        let second = tcp_of(&trace.packets[1].data);
        assert!(second.syn() && second.fin() && second.rst() && !second.ack());
        assert_eq!(second.acknowledgment_number(), 9, "ack written without the ACK flag");
    }

    #[test]
    fn test_ipv6_tcp() {
        let text = r#"[{"timestamp": 0, "protocol": "TCP", "src_ip": "2001:db8::1", "dst_ip": "2001:db8::2",
            "src_port": 1000, "dst_port": 443, "flags": "SYN", "seq": 1, "ack": 0, "ttl": 60}]"#;
        let trace = build(text).expect("builds");
        let packet = &trace.packets[0].data;
        assert_eq!(packet[0] >> 4, 6);
        assert_eq!((packet[6], packet[7]), (6, 60));
        let l4 = &packet[40..];
        let len = (l4.len() as u32).to_be_bytes();
        assert_eq!(ones_sum(&[&packet[8..40], &len, &[0, 0, 0, 6], l4]), 0xffff);
    }

    #[test]
    fn test_ip_options() {
        let text = r#"[{"timestamp": 0, "protocol": "UDP", "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2",
            "src_port": 1, "dst_port": 2, "ttl": 1, "ip_id": 4660, "dont_fragment": false, "tos": 184}]"#;
        let packet = &build(text).expect("builds").packets[0].data;
        assert_eq!(&packet[..10], &[0x45, 184, 0, 28, 0x12, 0x34, 0, 0, 1, 17]);
        assert_ipv4_checksums(packet);
    }

    #[rstest]
    #[case::zero("0", 0)]
    #[case::integer("12", 12_000_000_000)]
    #[case::seed("0.0001", 100_000)]
    #[case::exponent("1e-7", 100)]
    #[case::exponent_upper("1.5E+3", 1_500_000_000_000)]
    #[case::round_up("0.0000000005", 1)]
    #[case::round_down("0.0000000004999", 0)]
    #[case::negative_zero("-0.0", 0)]
    #[case::tiny("1e-30", 0)]
    #[case::max("18446744073.709551615", u64::MAX)]
    fn test_decimal_nanos(#[case] text: &str, #[case] nanos: u64) {
        assert_eq!(decimal_nanos(text), Some(nanos));
    }

    #[rstest]
    #[case::overflow("18446744073.7095516155")]
    #[case::huge("1e300")]
    #[case::not_decimal("0x10")]
    fn test_decimal_nanos_rejects(#[case] text: &str) {
        assert_eq!(decimal_nanos(text), None);
    }

    #[test]
    fn test_epoch_timestamp_precision() {
        let text = r#"[{"timestamp": 1700000000.123456, "protocol": "UDP", "src_ip": "10.0.0.1",
            "dst_ip": "10.0.0.2", "src_port": 1, "dst_port": 2}]"#;
        assert_eq!(build(text).expect("builds").packets[0].ts, 1_700_000_000_123_456_000);
    }

    #[test]
    fn test_http_raw_payload_direction() {
        let text = r#"[
          {"timestamp": 0, "protocol": "HTTP", "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2",
           "payload": "GET /a HTTP/1.0\r\n\r\n"},
          {"timestamp": 0, "protocol": "HTTP", "src_ip": "10.0.0.2", "dst_ip": "10.0.0.1",
           "payload": "HTTP/1.0 404 Not Found\r\n\r\n", "flags": "FPA"}
        ]"#;
        let trace = build(text).expect("builds");
        let get = tcp_of(&trace.packets[0].data);
        assert_eq!((get.source_port(), get.destination_port(), get.psh(), get.ack()), (49152, 80, true, true));
        let not_found = tcp_of(&trace.packets[1].data);
        assert_eq!((not_found.source_port(), not_found.destination_port(), not_found.fin()), (80, 49152, true));
    }

    #[test]
    fn test_deterministic() {
        let text = dns_pair();
        assert_eq!(build(text), build(text));
        let http = r#"[{"timestamp": 0, "protocol": "HTTP", "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2",
            "http": {"method": "POST", "path": "/x", "headers": {"b": "2", "A": "1", "c": 3}, "body": "hi"}}]"#;
        let first = build(http).expect("builds");
        assert_eq!(first, build(http).expect("builds"));
        assert_eq!(
            std::str::from_utf8(&first.packets[0].data[40..]).expect("utf-8"),
            "POST /x HTTP/1.1\r\nA: 1\r\nb: 2\r\nc: 3\r\nContent-Length: 2\r\n\r\nhi"
        );
    }

    #[rstest]
    #[case::syn("SYN", 0x02)]
    #[case::syn_ack("SYN-ACK", 0x12)]
    #[case::psh_ack("PSH-ACK", 0x18)]
    #[case::fin_ack("FIN-ACK", 0x11)]
    #[case::rst_ack("RST-ACK", 0x14)]
    #[case::pipe("FIN|ACK", 0x11)]
    #[case::comma("PSH,ACK", 0x18)]
    #[case::plus("SYN + ACK", 0x12)]
    #[case::lower("syn-ack", 0x12)]
    #[case::urg("URG", 0x20)]
    #[case::scapy_sa("SA", 0x12)]
    #[case::scapy_pa("PA", 0x18)]
    #[case::scapy_fa("FA", 0x11)]
    #[case::scapy_r("R", 0x04)]
    #[case::ecn("ECE|CWR|SYN", 0xc2)]
    #[case::empty("", 0)]
    fn test_flag_text(#[case] text: &str, #[case] bits: u16) {
        assert_eq!(flag_text(text), Some(bits));
    }

    #[rstest]
    #[case::list(r#"["SYN", "ACK"]"#, 0x12)]
    #[case::number("24", 0x18)]
    fn test_flag_forms(#[case] flags: &str, #[case] bits: u8) {
        let text = format!(
            r#"[{{"timestamp": 0, "protocol": "TCP", "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2",
                "src_port": 1, "dst_port": 2, "flags": {flags}}}]"#
        );
        assert_eq!(build(&text).expect("builds").packets[0].data[33], bits);
    }

    const GOOD: &str = r#"{"timestamp": 0.5, "protocol": "TCP", "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2",
        "src_port": 1, "dst_port": 2, "flags": "SYN", "seq": 0, "ack": 0, "payload": ""}"#;

    #[rstest]
    #[case::port(r#"{"timestamp": 0, "protocol": "UDP", "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2", "src_port": 70000, "dst_port": 1}"#,
        "$[1].src_port", "expected a port 0-65535, found 70000")]
    #[case::negative_port(r#"{"timestamp": 0, "protocol": "UDP", "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2", "src_port": -1, "dst_port": 1}"#,
        "$[1].src_port", "expected a port 0-65535, found -1")]
    #[case::missing_port(
        r#"{"timestamp": 0, "protocol": "UDP", "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2", "dst_port": 1}"#,
        "$[1].src_port",
        "missing; expected a port 0-65535"
    )]
    #[case::timestamp(
        r#"{"timestamp": -1, "protocol": "UDP"}"#,
        "$[1].timestamp",
        "expected seconds as a finite number >= 0, found -1"
    )]
    #[case::timestamp_missing(r#"{"protocol": "UDP"}"#, "$[1].timestamp", "missing; expected seconds as a number")]
    #[case::timestamp_string(
        r#"{"timestamp": "0.1", "protocol": "UDP"}"#,
        "$[1].timestamp",
        "expected seconds as a finite number >= 0, found \"0.1\""
    )]
    #[case::protocol(
        r#"{"timestamp": 0, "protocol": "FTP"}"#,
        "$[1].protocol",
        "expected one of TCP, UDP, ICMP, ARP, DNS, HTTP, found \"FTP\""
    )]
    #[case::ip(
        r#"{"timestamp": 0, "protocol": "UDP", "src_ip": "10.0.0.256", "dst_ip": "10.0.0.2"}"#,
        "$[1].src_ip",
        "expected an IPv4 or IPv6 address, found \"10.0.0.256\""
    )]
    #[case::mixed_family(
        r#"{"timestamp": 0, "protocol": "UDP", "src_ip": "10.0.0.1", "dst_ip": "::1"}"#,
        "$[1].dst_ip",
        "expected an IPv4 address, like src_ip, found \"::1\""
    )]
    #[case::mac(r#"{"timestamp": 0, "protocol": "UDP", "src_mac": "00:11:22:33:44", "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2"}"#,
        "$[1].src_mac", "expected a MAC address like \"aa:bb:cc:dd:ee:ff\", found \"00:11:22:33:44\"")]
    #[case::window(r#"{"timestamp": 0, "protocol": "TCP", "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2", "src_port": 1, "dst_port": 2, "flags": "A", "window": 65536}"#,
        "$[1].window", "expected a window 0-65535, found 65536")]
    #[case::seq(r#"{"timestamp": 0, "protocol": "TCP", "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2", "src_port": 1, "dst_port": 2, "flags": "A", "seq": 4294967296}"#,
        "$[1].seq", "expected a sequence number 0-4294967295, found 4294967296")]
    #[case::payload_both(r#"{"timestamp": 0, "protocol": "UDP", "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2", "src_port": 1, "dst_port": 2, "payload": "a", "payload_hex": "61"}"#,
        "$[1].payload_hex", "expected either payload or payload_hex, found both")]
    #[case::payload_hex(r#"{"timestamp": 0, "protocol": "UDP", "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2", "src_port": 1, "dst_port": 2, "payload_hex": "abc"}"#,
        "$[1].payload_hex", "expected hex digits in pairs, like \"0a1bff\", found \"abc\"")]
    #[case::icmp_missing(
        r#"{"timestamp": 0, "protocol": "ICMP", "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2"}"#,
        "$[1].icmp",
        "missing; expected an object {type, code, id, seq}"
    )]
    #[case::icmp_v6(
        r#"{"timestamp": 0, "protocol": "ICMP", "src_ip": "::1", "dst_ip": "::2"}"#,
        "$[1].src_ip",
        "expected an IPv4 address (ICMPv6 is not supported), found \"::1\""
    )]
    #[case::arp_op(
        r#"{"timestamp": 0, "protocol": "ARP", "arp": {"op": "ask"}}"#,
        "$[1].arp.op",
        "expected \"request\", \"reply\" or an operation number 0-65535, found \"ask\""
    )]
    #[case::arp_sender(r#"{"timestamp": 0, "protocol": "ARP", "arp": {"op": "request", "sender_ip": "10.0.0.1", "target_ip": "10.0.0.2"}}"#,
        "$[1].arp.sender_mac", "missing; expected a MAC address (or give src_mac)")]
    #[case::dns_missing(
        r#"{"timestamp": 0, "protocol": "DNS", "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2"}"#,
        "$[1].dns",
        "missing; expected a DNS message object (or a payload)"
    )]
    #[case::dns_rcode(
        r#"{"timestamp": 0, "protocol": "DNS", "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2", "dns": {"rcode": "OOPS"}}"#,
        "$[1].dns.rcode",
        "expected an rcode 0-15 or a name like \"NOERROR\", \"NXDOMAIN\", found \"OOPS\""
    )]
    #[case::dns_label(r#"{"timestamp": 0, "protocol": "DNS", "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2", "dns": {"questions": [{"name": "a..b", "type": "A"}]}}"#,
        "$[1].dns.questions[0].name", "expected a domain name without empty labels, found \"a..b\"")]
    #[case::dns_data(r#"{"timestamp": 0, "protocol": "DNS", "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2", "dns": {"response": true, "answers": [{"name": "a", "type": "A", "data": "mail"}]}}"#,
        "$[1].dns.answers[0].data", "expected an IPv4 address for an A record, found \"mail\"")]
    #[case::http_neither(
        r#"{"timestamp": 0, "protocol": "HTTP", "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2", "http": {"path": "/"}}"#,
        "$[1].http.method",
        "missing; expected method (a request) or status (a response)"
    )]
    #[case::http_header(r#"{"timestamp": 0, "protocol": "HTTP", "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2", "http": {"status": 200, "headers": [["X", "a\r\nb"]]}}"#,
        "$[1].http.headers[0][1]", "expected a header value without CR or LF, found \"a\\r\\nb\"")]
    #[case::not_object(r#"42"#, "$[1]", "expected a packet object, found 42")]
    fn test_bad_field(#[case] second: &str, #[case] path: &str, #[case] message: &str) {
        let text = format!("[{GOOD}, {second}]");
        assert_eq!(field_error(&text), (path.to_string(), message.to_string()));
    }

    #[rstest]
    #[case::flags(r#""SYNACK""#, "$[0].flags")]
    #[case::flags_type(r#"true"#, "$[0].flags")]
    #[case::flags_range(r#"512"#, "$[0].flags")]
    #[case::flags_list(r#"["SYN", "XYZ"]"#, "$[0].flags[1]")]
    fn test_bad_flags(#[case] flags: &str, #[case] path: &str) {
        let text = format!(
            r#"[{{"timestamp": 0, "protocol": "TCP", "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2",
                "src_port": 1, "dst_port": 2, "flags": {flags}}}]"#
        );
        let (got, message) = field_error(&text);
        assert_eq!(got, path);
        assert!(message.starts_with("expected TCP flags"), "{message}");
    }

    #[test]
    fn test_bad_timestamp_third_packet() {
        let text = format!(r#"[{GOOD}, {GOOD}, {{"timestamp": null, "protocol": "TCP"}}]"#);
        assert_eq!(field_error(&text).0, "$[2].timestamp");
    }

    #[test]
    fn test_bad_question_type() {
        let text = r#"[{"timestamp": 0, "protocol": "DNS", "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2",
            "dns": {"questions": [{"name": "example.com", "type": "AAAAA"}]}}]"#;
        let (path, message) = field_error(text);
        assert_eq!(path, "$[0].dns.questions[0].type");
        assert!(message.ends_with("found \"AAAAA\""), "{message}");
    }

    #[test]
    fn test_bad_record_data_in_object_form() {
        let text = r#"{"packets": [{"timestamp": 0, "protocol": "DNS", "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2",
            "dns": {"response": true, "answers": [
                {"name": "a.example", "type": "CNAME", "data": "b.example"},
                {"name": "a.example", "type": "MX", "data": "ten mail.example"}]}}]}"#;
        assert_eq!(field_error(text).0, "$.packets[0].dns.answers[1].data");
    }

    #[rstest]
    #[case::unclosed("[{\"timestamp\": 0,\n  \"protocol\": \"TCP\"", 2, 19)]
    #[case::trailing_comma("[\n  {\"timestamp\": 0},\n]", 3, 1)]
    #[case::empty_text("", 1, 0)]
    #[case::fenced("```json\n[]\n```", 1, 1)]
    fn test_syntax_error(#[case] text: &str, #[case] line: usize, #[case] column: usize) {
        match build(text) {
            Err(JsonTraceError::Syntax { line: l, column: c, message }) => {
                assert_eq!((l, c), (line, column), "{message}");
                assert!(!message.contains(" at line "), "{message}");
            }
            other => panic!("expected a syntax error, got {other:?}"),
        }
    }

    #[test]
    fn test_empty() {
        assert_eq!(build("[]"), Err(JsonTraceError::Empty));
        assert_eq!(build(r#"{"packets": []}"#), Err(JsonTraceError::Empty));
        assert_eq!(field_error("{}").0, "$.packets");
        assert_eq!(field_error("\"x\"").0, "$");
    }

    #[test]
    fn test_unknown_fields_ignored() {
        let with_extra =
            SEED_000.replace("\"payload\": \"\"", "\"payload\": \"\", \"comment\": {\"x\": [1, 2]}, \"length\": 60");
        assert_eq!(build(&with_extra), build(SEED_000));
    }

    #[test]
    fn test_srv_caa_and_generic_rdata() {
        let text = r#"[{"timestamp": 0, "protocol": "DNS", "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2",
            "dns": {"response": true, "answers": [
              {"name": "_sip._udp.example.com", "type": "SRV", "data": "10 5 5060 sip.example.com"},
              {"name": "example.com", "type": "CAA", "data": "0 issue \"ca.example.net\""},
              {"name": "example.com", "type": "TYPE999", "data": "\\# 2 abcd"},
              {"name": "example.com", "type": "A", "data": {"hex": "0a000001ff"}}]}}]"#;
        let trace = build(text).expect("builds");
        let dns = &trace.packets[0].data[28..];
        let srv: Vec<u8> = [&[0, 10, 0, 5, 0x13, 0xc4, 3][..], b"sip", &[7], b"example", &[3], b"com", &[0]].concat();
        assert!(dns.windows(srv.len()).any(|w| w == srv.as_slice()), "SRV rdata");
        let caa: Vec<u8> = [&[0, 5][..], b"issue", b"ca.example.net"].concat();
        assert!(dns.windows(caa.len()).any(|w| w == caa.as_slice()), "CAA rdata");
        assert!(dns.ends_with(&[0, 5, 0x0a, 0, 0, 1, 0xff]), "raw A rdata with its length");
    }

    #[test]
    fn test_oversized_payload() {
        let big = "a".repeat(65_600);
        let text = format!(
            r#"[{{"timestamp": 0, "protocol": "UDP", "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2",
                "src_port": 1, "dst_port": 2, "payload": "{big}"}}]"#
        );
        let (path, message) = field_error(&text);
        assert_eq!(path, "$[0].payload");
        assert_eq!(message, "expected at most 65507 bytes of payload in one packet, found 65600");
    }

    /// Keys and values a model might write, to steer random JSON into the builder's paths.
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            (0u64..70_000).prop_map(Value::from),
            prop::sample::select(vec![
                "TCP",
                "UDP",
                "ICMP",
                "ARP",
                "DNS",
                "HTTP",
                "SYN-ACK",
                "PA",
                "10.0.0.1",
                "::1",
                "aa:bb:cc:dd:ee:ff",
                "example.com",
                "A",
                "MX",
                "SOA",
                "TXT",
                "SRV",
                "\\# 1 ff",
                "request",
                "reply",
                "GET",
                "0a0b",
                "",
                "10 mail.example.com",
                "NXDOMAIN",
                "echo-request",
            ])
            .prop_map(Value::from),
            ".*".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 8, |inner| {
            let key = prop::sample::select(vec![
                "timestamp",
                "protocol",
                "src_ip",
                "dst_ip",
                "src_port",
                "dst_port",
                "flags",
                "seq",
                "ack",
                "payload",
                "payload_hex",
                "src_mac",
                "dst_mac",
                "ttl",
                "window",
                "options",
                "mss",
                "icmp",
                "type",
                "code",
                "arp",
                "op",
                "sender_mac",
                "sender_ip",
                "target_mac",
                "target_ip",
                "dns",
                "id",
                "response",
                "questions",
                "answers",
                "authorities",
                "additionals",
                "name",
                "data",
                "hex",
                "ancount",
                "http",
                "method",
                "status",
                "headers",
                "body",
                "host",
                "path",
                "version",
                "packets",
            ]);
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((key, inner), 0..10)
                    .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn prop_text_never_panics(text in r#"[\[\]{}",:0-9a-zA-Z_. \-\n]{0,200}"#) {
            let _ = build(&text);
        }

        #[test]
        fn prop_json_never_panics(value in json_value()) {
            let _ = build(&value.to_string());
            let _ = build(&Value::Array(vec![value]).to_string());
        }

        #[test]
        fn prop_seed_mutations_never_panic(key in "[a-z_]{1,12}", value in json_value(), index in 0usize..2) {
            let mut root: Value = serde_json::from_str(SEED_000).expect("seed parses");
            root[index][key] = value;
            let first = build(&root.to_string());
            prop_assert_eq!(first, build(&root.to_string()));
        }
    }
}
