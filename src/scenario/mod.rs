//! Summaries: what a model is asked to generate.
//!
//! A [`Scenario`] is the structured content of one summary (addresses, ports,
//! ids, codes); its [`Display`](std::fmt::Display) is the summary text a
//! prompt carries, in the paper's formats, and [`Scenario::parse`] reads such
//! text back — also the paper's own summary files, with their curly quotes
//! and spacing quirks. [`generate`] draws scenarios from controlled pools
//! with a seed; [`expect`] holds the expectation the verdict needs (what a
//! summary asks for) and compares traces with it.
//!
//! Conversation summaries follow the paper
//! (`Source: IP="…", port=…, Window: … // Destination: … // Others: …`);
//! packet summaries are tshark-style lines (`SRC → DST PROTO info`).

pub mod expect;
pub mod generate;
mod parse;
pub mod rng;

use std::fmt;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::wire::http::standard_reason;

pub use parse::ParseError;

/// A MAC address.
pub type Mac = [u8; 6];

/// The broadcast MAC address.
pub const BROADCAST: Mac = [0xff; 6];

/// The protocol a suite is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SuiteProtocol {
    /// ICMP echo, timestamp and error messages.
    Icmp,
    /// ARP requests and replies.
    Arp,
    /// DNS over UDP.
    Dns,
    /// HTTP over TCP.
    Http,
    /// Generic TCP (seed 000's JSON traces).
    Tcp,
    /// "A day in the life": ARP for the gateway, DNS, then HTTP.
    Day,
    /// ZigBee (LLM-NTG): traces continued from real sample rows.
    Zigbee,
}

impl SuiteProtocol {
    /// Every suite protocol.
    pub const ALL: [SuiteProtocol; 6] = [Self::Icmp, Self::Arp, Self::Dns, Self::Http, Self::Tcp, Self::Day];

    /// Lower-case name (`icmp`, …), used in file names and suites.
    pub fn name(self) -> &'static str {
        match self {
            Self::Icmp => "icmp",
            Self::Arp => "arp",
            Self::Dns => "dns",
            Self::Http => "http",
            Self::Tcp => "tcp",
            Self::Day => "day",
            Self::Zigbee => "zigbee",
        }
    }

    /// Parse a lower- or upper-case name.
    pub fn from_name(name: &str) -> Option<SuiteProtocol> {
        Self::ALL.into_iter().chain([Self::Zigbee]).find(|p| p.name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for SuiteProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether a summary asks for one packet or a whole conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// One packet per summary.
    Packet,
    /// One conversation per summary.
    Conversation,
}

impl Mode {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Packet => "packet",
            Mode::Conversation => "conversation",
        }
    }
}

/// The kind of one ICMP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IcmpKind {
    /// Echo (ping) request, type 8.
    EchoRequest,
    /// Echo (ping) reply, type 0.
    EchoReply,
    /// Timestamp request, type 13.
    TimestampRequest,
    /// Timestamp reply, type 14.
    TimestampReply,
    /// Time-to-live exceeded in transit, type 11 code 0.
    TtlExceeded,
    /// Destination unreachable, port unreachable: type 3 code 3.
    PortUnreachable,
    /// Destination unreachable, host unreachable: type 3 code 1.
    HostUnreachable,
}

impl IcmpKind {
    /// ICMP type and code.
    pub fn type_code(self) -> (u8, u8) {
        match self {
            IcmpKind::EchoRequest => (8, 0),
            IcmpKind::EchoReply => (0, 0),
            IcmpKind::TimestampRequest => (13, 0),
            IcmpKind::TimestampReply => (14, 0),
            IcmpKind::TtlExceeded => (11, 0),
            IcmpKind::PortUnreachable => (3, 3),
            IcmpKind::HostUnreachable => (3, 1),
        }
    }

    /// Whether this is an error message quoting an original datagram.
    pub fn is_error(self) -> bool {
        matches!(self, IcmpKind::TtlExceeded | IcmpKind::PortUnreachable | IcmpKind::HostUnreachable)
    }

    /// tshark's wording.
    fn words(self) -> &'static str {
        match self {
            IcmpKind::EchoRequest => "Echo (ping) request",
            IcmpKind::EchoReply => "Echo (ping) reply",
            IcmpKind::TimestampRequest => "Timestamp request",
            IcmpKind::TimestampReply => "Timestamp reply",
            IcmpKind::TtlExceeded => "Time-to-live exceeded (Time to live exceeded in transit)",
            IcmpKind::PortUnreachable => "Destination unreachable (Port unreachable)",
            IcmpKind::HostUnreachable => "Destination unreachable (Host unreachable)",
        }
    }
}

/// One ICMP packet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IcmpPacket {
    /// IP source.
    pub src: Ipv4Addr,
    /// IP destination.
    pub dst: Ipv4Addr,
    /// What the packet is.
    pub kind: IcmpKind,
    /// Identifier (echo and timestamp).
    pub id: u16,
    /// Sequence number (echo and timestamp).
    pub seq: u16,
    /// IP TTL.
    pub ttl: u8,
    /// For error messages: the original datagram's source and destination
    /// (a UDP probe to port 33434).
    pub original: Option<(Ipv4Addr, Ipv4Addr)>,
}

/// An ICMP exchange: request and reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IcmpConversation {
    /// Who asks.
    pub src: Ipv4Addr,
    /// Who answers.
    pub dst: Ipv4Addr,
    /// Identifier.
    pub id: u16,
    /// Sequence number.
    pub seq: u16,
    /// Echo (`false`) or timestamp (`true`).
    pub timestamp: bool,
}

/// One ARP packet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArpPacket {
    /// Ethernet (and ARP sender) MAC.
    pub src_mac: Mac,
    /// Ethernet destination (broadcast for most requests).
    pub dst_mac: Mac,
    /// Request (`false`) or reply (`true`).
    pub reply: bool,
    /// Sender protocol address.
    pub sender_ip: Ipv4Addr,
    /// Target protocol address.
    pub target_ip: Ipv4Addr,
}

/// An ARP exchange: a request and the target's reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArpConversation {
    /// The asker's MAC.
    pub src_mac: Mac,
    /// The asker's IP.
    pub src_ip: Ipv4Addr,
    /// The request's Ethernet destination: broadcast, or the target's MAC
    /// (a directed request, as for cache refreshes).
    pub dst_mac: Mac,
    /// The address asked for.
    pub target_ip: Ipv4Addr,
}

impl ArpConversation {
    /// The MAC that answers: the directed destination, or one derived from
    /// the target IP (`02:00:` + the address) for a broadcast request.
    pub fn target_mac(&self) -> Mac {
        if self.dst_mac == BROADCAST {
            derived_mac(self.target_ip)
        } else {
            self.dst_mac
        }
    }
}

/// The deterministic locally administered MAC of an IPv4 address, as the
/// JSON dialect derives it.
pub fn derived_mac(ip: Ipv4Addr) -> Mac {
    let o = ip.octets();
    [0x02, 0x00, o[0], o[1], o[2], o[3]]
}

/// A DNS question and its answer record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsRecord {
    /// Record type mnemonic (`A`, `PTR`, `MX`, `CAA`, `SOA`, `HTTPS`, `RP`).
    pub rtype: String,
    /// The name asked for.
    pub name: String,
    /// The answer's data in presentation form (`"10 mail.example.com"`).
    pub data: String,
}

/// One DNS message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsPacket {
    /// IP source.
    pub src: Ipv4Addr,
    /// IP destination.
    pub dst: Ipv4Addr,
    /// The client's UDP port.
    pub client_port: u16,
    /// Transaction id.
    pub id: u16,
    /// Query (`false`) or response (`true`).
    pub response: bool,
    /// Question (and, for a response, the answer).
    pub record: DnsRecord,
}

/// A DNS exchange: query and response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsConversation {
    /// The client.
    pub src: Ipv4Addr,
    /// The resolver.
    pub dst: Ipv4Addr,
    /// The client's UDP port (the paper's summaries give none; 53124 then).
    pub client_port: Option<u16>,
    /// Transaction id.
    pub id: u16,
    /// Question and answer.
    pub record: DnsRecord,
}

/// One HTTP message in one TCP segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpPacket {
    /// IP source.
    pub src: Ipv4Addr,
    /// IP destination.
    pub dst: Ipv4Addr,
    /// TCP source port.
    pub sport: u16,
    /// TCP destination port.
    pub dport: u16,
    /// `Some(method)` for a request.
    pub method: Option<String>,
    /// Request target.
    pub path: String,
    /// `Host` of a request.
    pub host: String,
    /// Status code of a response.
    pub code: u16,
}

/// An HTTP exchange over one TCP connection (the paper's 11 packets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpConversation {
    /// Client address.
    pub client: Ipv4Addr,
    /// Client port.
    pub client_port: u16,
    /// Client receive window.
    pub client_window: u16,
    /// Server address.
    pub server: Ipv4Addr,
    /// Server port (80 in the paper).
    pub server_port: u16,
    /// Server receive window.
    pub server_window: u16,
    /// Host, as the paper writes it (`http://www.example.com/`).
    pub host: String,
    /// Path (`""` means `/`).
    pub path: String,
    /// Request method (`GET` when the summary names none).
    pub method: String,
    /// Response status code.
    pub code: u16,
    /// Reason phrase.
    pub reason: String,
}

impl HttpConversation {
    /// The bare host name (`www.example.com`) of [`HttpConversation::host`].
    pub fn host_name(&self) -> &str {
        host_name(&self.host)
    }

    /// The request target: the path, `/` when empty.
    pub fn target(&self) -> String {
        target(&self.path)
    }
}

fn host_name(host: &str) -> &str {
    let h = host.trim();
    let h = h.strip_prefix("http://").or_else(|| h.strip_prefix("https://")).unwrap_or(h);
    h.split('/').next().unwrap_or(h)
}

fn target(path: &str) -> String {
    let p = path.trim();
    if p.is_empty() {
        "/".to_string()
    } else if p.starts_with('/') {
        p.to_string()
    } else {
        format!("/{p}")
    }
}

/// A generic TCP conversation: handshake, one request and one reply of
/// application data, teardown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpConversation {
    /// Client address.
    pub client: Ipv4Addr,
    /// Client port.
    pub client_port: u16,
    /// Client window.
    pub client_window: u16,
    /// Server address.
    pub server: Ipv4Addr,
    /// Server port.
    pub server_port: u16,
    /// Server window.
    pub server_window: u16,
    /// What the client sends.
    pub request: String,
    /// What the server answers.
    pub reply: String,
}

/// A day in the life of a client: ARP for the gateway, a DNS lookup through
/// it, then an HTTP exchange with the resolved server, all on Ethernet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayInTheLife {
    /// The client's MAC.
    pub client_mac: Mac,
    /// The client's IP.
    pub client_ip: Ipv4Addr,
    /// The gateway's MAC.
    pub gateway_mac: Mac,
    /// The gateway's IP.
    pub gateway_ip: Ipv4Addr,
    /// The resolver (reached through the gateway).
    pub resolver: Ipv4Addr,
    /// The web server's name.
    pub host: String,
    /// The address the name resolves to.
    pub server_ip: Ipv4Addr,
    /// DNS transaction id.
    pub dns_id: u16,
    /// Client port for DNS.
    pub dns_port: u16,
    /// Client port for HTTP.
    pub http_port: u16,
    /// Request method.
    pub method: String,
    /// Request target.
    pub path: String,
    /// Response code.
    pub code: u16,
    /// Reason phrase.
    pub reason: String,
}

/// The structured content of one summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scenario {
    /// One ICMP packet.
    IcmpPacket(IcmpPacket),
    /// ICMP request and reply.
    IcmpConversation(IcmpConversation),
    /// One ARP packet.
    ArpPacket(ArpPacket),
    /// ARP request and reply.
    ArpConversation(ArpConversation),
    /// One DNS message.
    DnsPacket(DnsPacket),
    /// DNS query and response.
    DnsConversation(DnsConversation),
    /// One HTTP message.
    HttpPacket(HttpPacket),
    /// An HTTP exchange over TCP.
    HttpConversation(HttpConversation),
    /// A generic TCP exchange.
    TcpConversation(TcpConversation),
    /// ARP, DNS and HTTP of one client.
    Day(DayInTheLife),
}

impl Scenario {
    /// The suite protocol this scenario belongs to.
    pub fn protocol(&self) -> SuiteProtocol {
        match self {
            Scenario::IcmpPacket(_) | Scenario::IcmpConversation(_) => SuiteProtocol::Icmp,
            Scenario::ArpPacket(_) | Scenario::ArpConversation(_) => SuiteProtocol::Arp,
            Scenario::DnsPacket(_) | Scenario::DnsConversation(_) => SuiteProtocol::Dns,
            Scenario::HttpPacket(_) | Scenario::HttpConversation(_) => SuiteProtocol::Http,
            Scenario::TcpConversation(_) => SuiteProtocol::Tcp,
            Scenario::Day(_) => SuiteProtocol::Day,
        }
    }

    /// Packet or conversation.
    pub fn mode(&self) -> Mode {
        match self {
            Scenario::IcmpPacket(_) | Scenario::ArpPacket(_) | Scenario::DnsPacket(_) | Scenario::HttpPacket(_) => {
                Mode::Packet
            }
            _ => Mode::Conversation,
        }
    }

    /// Read the packet lines of a packet-mode summary (one answer, several
    /// independent packets; imported summaries join the lines with
    /// spaces), one scenario per packet; `None` unless every line reads.
    /// A conversation summary, or a packet summary of one line, gives one
    /// scenario.
    pub fn parse_all(protocol: SuiteProtocol, mode: Mode, text: &str) -> Option<Vec<Scenario>> {
        let lines = if mode == Mode::Packet { parse::split_packets(text) } else { vec![text] };
        lines.into_iter().map(|line| Scenario::parse(protocol, mode, line).ok()).collect()
    }

    /// Read a summary line for `protocol` in `mode`. Whether its correct
    /// answer can also be written is checked where summaries are loaded
    /// (`model::expect::parse`, a layer above: it runs the reference model).
    ///
    /// # Errors
    /// A [`ParseError`] naming the part of the line that could not be read.
    pub fn parse(protocol: SuiteProtocol, mode: Mode, text: &str) -> Result<Scenario, ParseError> {
        parse::parse(protocol, mode, text)
    }
}

/// `aa:bb:cc:dd:ee:ff`, lower case.
pub fn fmt_mac(mac: &Mac) -> String {
    let m = mac;
    format!("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5])
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scenario::IcmpPacket(p) => {
                write!(f, "{} → {} ICMP {}", p.src, p.dst, p.kind.words())?;
                if let Some((osrc, odst)) = p.original {
                    write!(f, ", original UDP {osrc} → {odst} port 33434")?;
                } else {
                    write!(f, " id=0x{:04x}, seq={}", p.id, p.seq)?;
                }
                write!(f, ", ttl={}", p.ttl)
            }
            Scenario::IcmpConversation(c) => write!(
                f,
                "Source: IP=\"{}\" // Destination: IP=\"{}\" // Others: id=0x{:04x} seq= {} type={}",
                c.src,
                c.dst,
                c.id,
                c.seq,
                if c.timestamp { "Timestamp" } else { "Echo" }
            ),
            Scenario::ArpPacket(p) => {
                let dst = if p.dst_mac == BROADCAST { "Broadcast".to_string() } else { fmt_mac(&p.dst_mac) };
                if p.reply {
                    write!(f, "{} → {} ARP {} is at {}, to {}", fmt_mac(&p.src_mac), dst, p.sender_ip, fmt_mac(&p.src_mac), p.target_ip)
                } else {
                    write!(f, "{} → {} ARP Who has {}? Tell {}", fmt_mac(&p.src_mac), dst, p.target_ip, p.sender_ip)
                }
            }
            Scenario::ArpConversation(c) => write!(
                f,
                "Source: MAC=\"{}\", IP=\"{}\" // Destination: MAC=\"{}\" // Wanted: IP=\"{}\"",
                fmt_mac(&c.src_mac),
                c.src_ip,
                if c.dst_mac == BROADCAST { "FF:FF:FF:FF:FF:FF".to_string() } else { fmt_mac(&c.dst_mac) },
                c.target_ip
            ),
            Scenario::DnsPacket(p) => {
                let r = &p.record;
                if p.response {
                    write!(f, "{} → {} DNS Standard query response 0x{:04x} {} {} {} {}", p.src, p.dst, p.id, r.rtype, r.name, r.rtype, r.data)?;
                } else {
                    write!(f, "{} → {} DNS Standard query 0x{:04x} {} {}", p.src, p.dst, p.id, r.rtype, r.name)?;
                }
                write!(f, ", client port={}", p.client_port)
            }
            Scenario::DnsConversation(c) => {
                write!(f, "Source: IP=\"{}\"", c.src)?;
                if let Some(port) = c.client_port {
                    write!(f, ", port={port}")?;
                }
                write!(f, " // Destination: IP=\"{}\" // Others: id=0x{:04x} , ", c.dst, c.id)?;
                if c.record.rtype != "A" {
                    write!(f, "type={} , ", c.record.rtype)?;
                }
                write!(f, "resource= \"{}\" , response = \"{}\"", c.record.name, c.record.data.replace('"', "'"))
            }
            Scenario::HttpPacket(p) => {
                write!(f, "{} → {} HTTP ", p.src, p.dst)?;
                match &p.method {
                    Some(m) => write!(f, "{m} {} HTTP/1.1, Host={}", target(&p.path), p.host)?,
                    None => write!(f, "HTTP/1.1 {} {}", p.code, standard_reason(p.code))?,
                }
                write!(f, ", ports {} → {}", p.sport, p.dport)
            }
            Scenario::HttpConversation(c) => {
                write!(
                    f,
                    "Source: IP=\"{}\", port={}, Window: {} // Destination: IP=\"{}\", port={}, Window: {} // Others: Host=\"{}\", Path=\"{}\", ",
                    c.client, c.client_port, c.client_window, c.server, c.server_port, c.server_window, c.host, c.path
                )?;
                if c.method != "GET" {
                    write!(f, "Method=\"{}\", ", c.method)?;
                }
                write!(f, "Code={}, Reason_Phrase= \"{}\"", c.code, c.reason)
            }
            Scenario::TcpConversation(c) => write!(
                f,
                "Source: IP=\"{}\", port={}, Window: {} // Destination: IP=\"{}\", port={}, Window: {} // Others: Request=\"{}\", Reply=\"{}\"",
                c.client,
                c.client_port,
                c.client_window,
                c.server,
                c.server_port,
                c.server_window,
                escape(&c.request),
                escape(&c.reply)
            ),
            Scenario::Day(d) => write!(
                f,
                "Client: MAC=\"{}\", IP=\"{}\" // Gateway: MAC=\"{}\", IP=\"{}\" // Resolver: IP=\"{}\" // Others: Host=\"{}\", Server_IP=\"{}\", id=0x{:04x}, DNS_port={}, HTTP_port={}, Method=\"{}\", Path=\"{}\", Code={}, Reason_Phrase= \"{}\"",
                fmt_mac(&d.client_mac),
                d.client_ip,
                fmt_mac(&d.gateway_mac),
                d.gateway_ip,
                d.resolver,
                d.host,
                d.server_ip,
                d.dns_id,
                d.dns_port,
                d.http_port,
                d.method,
                d.path,
                d.code,
                d.reason
            ),
        }
    }
}

/// Escape CR and LF as `\r`, `\n` (and the backslash itself) for a
/// one-line summary.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\r', "\\r").replace('\n', "\\n")
}
