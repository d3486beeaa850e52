//! A packet list the built-in models write, and its rendering as an answer
//! in either dialect: a JSON packet list (docs/json-dialect.md) or a Scapy
//! script.
//!
//! The built-in models ([`super::reference`], [`super::mutant`]) build a
//! [`Pkt`] list from a summary; faults are injected into the list (wrong
//! numbers, swapped addresses, missing packets) or into the rendered text
//! (fences, prose, truncation), as real answers have them.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use serde_json::{json, Map, Value};

use crate::exec::extract::Dialect;
use crate::scenario::{fmt_mac, Mac};

/// One packet.
#[derive(Debug, Clone, PartialEq)]
pub struct Pkt {
    /// Seconds since the first packet.
    pub time: f64,
    /// Ethernet source and destination, when the trace is on Ethernet.
    pub eth: Option<(Mac, Mac)>,
    /// What the frame carries.
    pub body: Body,
}

/// The payload of a frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// An ARP packet.
    Arp(Arp),
    /// An IPv4 packet.
    Ip(Ip),
}

/// ARP fields (RFC 826).
#[derive(Debug, Clone, PartialEq)]
pub struct Arp {
    /// 1 request, 2 reply.
    pub op: u16,
    /// Sender hardware address.
    pub sender_mac: Mac,
    /// Sender protocol address.
    pub sender_ip: Ipv4Addr,
    /// Target hardware address.
    pub target_mac: Mac,
    /// Target protocol address.
    pub target_ip: Ipv4Addr,
}

/// IPv4 fields and the transport.
#[derive(Debug, Clone, PartialEq)]
pub struct Ip {
    /// Source.
    pub src: Ipv4Addr,
    /// Destination.
    pub dst: Ipv4Addr,
    /// Time to live.
    pub ttl: u8,
    /// The transport.
    pub l4: L4,
}

/// The transport layer.
#[derive(Debug, Clone, PartialEq)]
pub enum L4 {
    /// TCP.
    Tcp(Tcp),
    /// UDP, optionally carrying DNS.
    Udp(Udp),
    /// ICMP.
    Icmp(Icmp),
}

/// TCP fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Tcp {
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Scapy flag letters (`S`, `SA`, `A`, `PA`, `FA`).
    pub flags: String,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Window; `u32` so that a fault can write 65536.
    pub window: u32,
    /// MSS option.
    pub mss: Option<u16>,
    /// Segment data.
    pub payload: Vec<u8>,
    /// Whether the conversation is HTTP (the JSON dialect labels it so).
    pub http: bool,
}

/// UDP fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Udp {
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// A DNS message as the datagram's data.
    pub dns: Option<Dns>,
}

/// A DNS message with one question.
#[derive(Debug, Clone, PartialEq)]
pub struct Dns {
    /// Transaction id.
    pub id: u16,
    /// Response flag.
    pub response: bool,
    /// Question name.
    pub qname: String,
    /// Question type mnemonic.
    pub qtype: String,
    /// Answers: (name, type, ttl, data in presentation form).
    pub answers: Vec<(String, String, u32, String)>,
    /// An answer count written instead of the real one (a fault).
    pub ancount: Option<u16>,
}

/// ICMP fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Icmp {
    /// Type.
    pub icmp_type: u8,
    /// Code.
    pub code: u8,
    /// Identifier (echo, timestamp).
    pub id: u16,
    /// Sequence number (echo, timestamp).
    pub seq: u16,
    /// Originate, receive and transmit timestamps (types 13, 14).
    pub timestamps: Option<(u32, u32, u32)>,
    /// Echo data.
    pub payload: Vec<u8>,
    /// The quoted datagram of an error: a UDP probe.
    pub quoted: Option<Quoted>,
}

/// The UDP probe an ICMP error quotes.
#[derive(Debug, Clone, PartialEq)]
pub struct Quoted {
    /// Original source.
    pub src: Ipv4Addr,
    /// Original destination.
    pub dst: Ipv4Addr,
    /// Its TTL when it was dropped.
    pub ttl: u8,
    /// UDP source port.
    pub sport: u16,
    /// UDP destination port.
    pub dport: u16,
}

impl Quoted {
    /// The quoted bytes: the IPv4 header and the 8-byte UDP header.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(28);
        etherparse::PacketBuilder::ipv4(self.src.octets(), self.dst.octets(), self.ttl)
            .udp(self.sport, self.dport)
            .write(&mut out, &[])
            .expect("writing to a Vec cannot fail");
        out
    }
}

/// Format seconds with microsecond precision and no float noise.
fn secs(t: f64) -> String {
    format!("{t:.6}")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Encode a dotted name in DNS wire form.
pub fn wire_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.trim_end_matches('.').split('.').filter(|l| !l.is_empty()) {
        out.push(label.len().min(63) as u8);
        out.extend_from_slice(&label.as_bytes()[..label.len().min(63)]);
    }
    out.push(0);
    out
}

/// Wire-form rdata for the types neither dialect names natively
/// (HTTPS `1 . alpn=h2`, RP `mbox txt`); `None` for the others.
pub fn generic_rdata(rtype: &str, data: &str) -> Option<Vec<u8>> {
    match rtype {
        "HTTPS" | "SVCB" => {
            let mut words = data.split_whitespace();
            let priority: u16 = words.next()?.parse().ok()?;
            let target = words.next()?;
            let mut out = priority.to_be_bytes().to_vec();
            out.extend(wire_name(target));
            for param in words {
                let (key, value) = param.split_once('=')?;
                if key != "alpn" {
                    return None;
                }
                let mut v = Vec::new();
                for id in value.split(',') {
                    v.push(id.len() as u8);
                    v.extend_from_slice(id.as_bytes());
                }
                out.extend_from_slice(&1u16.to_be_bytes());
                out.extend_from_slice(&(v.len() as u16).to_be_bytes());
                out.extend(v);
            }
            Some(out)
        }
        "RP" => {
            let mut words = data.split_whitespace();
            let mut out = wire_name(words.next()?);
            out.extend(wire_name(words.next()?));
            Some(out)
        }
        "CAA" => {
            // flags tag "value"
            let mut words = data.splitn(3, ' ');
            let flags: u8 = words.next()?.parse().ok()?;
            let tag = words.next()?;
            let value = words.next()?.trim_matches('"');
            let mut out = vec![flags, tag.len() as u8];
            out.extend_from_slice(tag.as_bytes());
            out.extend_from_slice(value.as_bytes());
            Some(out)
        }
        _ => None,
    }
}

/// Render `packets` as an answer in `dialect`.
pub fn render(packets: &[Pkt], dialect: Dialect) -> String {
    match dialect {
        Dialect::Json => render_json(packets),
        Dialect::Scapy => render_scapy(packets),
    }
}

/// Where the built-in models' traces start (2026-01-01T00:00:00Z).
pub const EPOCH: f64 = 1_767_225_600.0;

/// The JSON packet list, one packet per line.
pub fn render_json(packets: &[Pkt]) -> String {
    let mut out = String::from("[\n");
    for (i, p) in packets.iter().enumerate() {
        let value = json_packet(p);
        out.push_str("  ");
        out.push_str(&serde_json::to_string(&value).expect("JSON values serialise"));
        out.push_str(if i + 1 < packets.len() { ",\n" } else { "\n" });
    }
    out.push(']');
    out
}

fn json_packet(p: &Pkt) -> Value {
    let mut m = Map::new();
    // Keep the decimal exact: serde_json would print the f64 with noise.
    let ts: Value = serde_json::from_str(&format!("{:.6}", EPOCH + p.time)).expect("a decimal is JSON");
    m.insert("timestamp".into(), ts);
    if let Some((src, dst)) = p.eth {
        m.insert("src_mac".into(), fmt_mac(&src).into());
        m.insert("dst_mac".into(), fmt_mac(&dst).into());
    }
    match &p.body {
        Body::Arp(a) => {
            m.insert("protocol".into(), "ARP".into());
            m.insert(
                "arp".into(),
                json!({"op": if a.op == 2 { json!("reply") } else if a.op == 1 { json!("request") } else { json!(a.op) },
                       "sender_mac": fmt_mac(&a.sender_mac), "sender_ip": a.sender_ip.to_string(),
                       "target_mac": fmt_mac(&a.target_mac), "target_ip": a.target_ip.to_string()}),
            );
        }
        Body::Ip(ip) => {
            m.insert("src_ip".into(), ip.src.to_string().into());
            m.insert("dst_ip".into(), ip.dst.to_string().into());
            m.insert("ttl".into(), ip.ttl.into());
            match &ip.l4 {
                L4::Tcp(t) => {
                    m.insert("protocol".into(), if t.http { "HTTP" } else { "TCP" }.into());
                    m.insert("src_port".into(), t.sport.into());
                    m.insert("dst_port".into(), t.dport.into());
                    m.insert("flags".into(), t.flags.clone().into());
                    m.insert("seq".into(), t.seq.into());
                    m.insert("ack".into(), t.ack.into());
                    m.insert("window".into(), t.window.into());
                    if let Some(mss) = t.mss {
                        m.insert("options".into(), json!({"mss": mss}));
                    }
                    if !t.payload.is_empty() {
                        match std::str::from_utf8(&t.payload) {
                            Ok(s) => m.insert("payload".into(), s.into()),
                            Err(_) => m.insert("payload_hex".into(), hex(&t.payload).into()),
                        };
                    }
                }
                L4::Udp(u) => {
                    m.insert("protocol".into(), if u.dns.is_some() { "DNS" } else { "UDP" }.into());
                    m.insert("src_port".into(), u.sport.into());
                    m.insert("dst_port".into(), u.dport.into());
                    if let Some(d) = &u.dns {
                        m.insert("dns".into(), json_dns(d));
                    }
                }
                L4::Icmp(c) => {
                    m.insert("protocol".into(), "ICMP".into());
                    let mut icmp = Map::new();
                    icmp.insert("type".into(), c.icmp_type.into());
                    icmp.insert("code".into(), c.code.into());
                    if c.quoted.is_none() {
                        icmp.insert("id".into(), c.id.into());
                        icmp.insert("seq".into(), c.seq.into());
                    }
                    if let Some((o, r, t)) = c.timestamps {
                        icmp.insert("originate".into(), o.into());
                        icmp.insert("receive".into(), r.into());
                        icmp.insert("transmit".into(), t.into());
                    }
                    m.insert("icmp".into(), Value::Object(icmp));
                    if let Some(q) = &c.quoted {
                        m.insert("payload_hex".into(), hex(&q.bytes()).into());
                    } else if !c.payload.is_empty() {
                        m.insert("payload".into(), String::from_utf8_lossy(&c.payload).into_owned().into());
                    }
                }
            }
        }
    }
    Value::Object(m)
}

fn json_dns(d: &Dns) -> Value {
    let answers: Vec<Value> = d
        .answers
        .iter()
        .map(|(name, rtype, ttl, data)| {
            let data = match generic_rdata(rtype, data) {
                Some(bytes) if rtype != "CAA" => json!({"hex": hex(&bytes)}),
                _ => json!(data),
            };
            json!({"name": name, "type": rtype, "ttl": ttl, "data": data})
        })
        .collect();
    let mut v = json!({"id": d.id, "response": d.response, "rd": true,
                       "questions": [{"name": d.qname, "type": d.qtype}]});
    if d.response {
        v["answers"] = Value::Array(answers);
    }
    if let Some(n) = d.ancount {
        v["ancount"] = n.into();
    }
    v
}

/// Python `bytes` literal.
fn py_bytes(b: &[u8]) -> String {
    let mut s = String::from("b\"");
    for &c in b {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            0x20..=0x7e => s.push(c as char),
            _ => {
                let _ = write!(s, "\\x{c:02x}");
            }
        }
    }
    s.push('"');
    s
}

/// Python `str` literal (ASCII).
fn py_str(v: &str) -> String {
    format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// A Scapy script (no import lines: Scapy's names and `time` are
/// available): one `pkt_N = …` per packet, `time.sleep` between them so
/// the virtual clock gives each packet its time, and `wrpcap` at the end.
pub fn render_scapy(packets: &[Pkt]) -> String {
    let mut out = String::new();
    let mut clock = 0.0;
    for (i, p) in packets.iter().enumerate() {
        let gap = p.time - clock;
        if gap > 0.0 {
            let _ = writeln!(out, "time.sleep({})", secs(gap));
            clock = p.time;
        }
        let _ = writeln!(out, "pkt_{} = {}", i + 1, scapy_packet(p));
    }
    let names: Vec<String> = (1..=packets.len()).map(|i| format!("pkt_{i}")).collect();
    let _ = writeln!(out, "\nwrpcap(\"trace.pcap\", [{}])", names.join(", "));
    out
}

fn scapy_packet(p: &Pkt) -> String {
    let mut layers = Vec::new();
    if let Some((src, dst)) = p.eth {
        layers.push(format!("Ether(src={}, dst={})", py_str(&fmt_mac(&src)), py_str(&fmt_mac(&dst))));
    }
    match &p.body {
        Body::Arp(a) => layers.push(format!(
            "ARP(op={}, hwsrc={}, psrc={}, hwdst={}, pdst={})",
            a.op,
            py_str(&fmt_mac(&a.sender_mac)),
            py_str(&a.sender_ip.to_string()),
            py_str(&fmt_mac(&a.target_mac)),
            py_str(&a.target_ip.to_string())
        )),
        Body::Ip(ip) => {
            layers.push(format!(
                "IP(src={}, dst={}, ttl={}, flags='DF')",
                py_str(&ip.src.to_string()),
                py_str(&ip.dst.to_string()),
                ip.ttl
            ));
            match &ip.l4 {
                L4::Tcp(t) => {
                    let mut tcp = format!(
                        "TCP(sport={}, dport={}, flags={}, seq={}, ack={}, window={}",
                        t.sport,
                        t.dport,
                        py_str(&t.flags),
                        t.seq,
                        t.ack,
                        t.window
                    );
                    if let Some(mss) = t.mss {
                        let _ = write!(tcp, ", options=[('MSS', {mss})]");
                    }
                    tcp.push(')');
                    layers.push(tcp);
                    if !t.payload.is_empty() {
                        layers.push(format!("Raw(load={})", py_bytes(&t.payload)));
                    }
                }
                L4::Udp(u) => {
                    layers.push(format!("UDP(sport={}, dport={})", u.sport, u.dport));
                    if let Some(d) = &u.dns {
                        layers.push(scapy_dns(d));
                    }
                }
                L4::Icmp(c) => {
                    let mut icmp = format!("ICMP(type={}, code={}", c.icmp_type, c.code);
                    if c.quoted.is_none() {
                        let _ = write!(icmp, ", id={}, seq={}", c.id, c.seq);
                    }
                    if let Some((o, r, t)) = c.timestamps {
                        let _ = write!(icmp, ", ts_ori={o}, ts_rx={r}, ts_tx={t}");
                    }
                    icmp.push(')');
                    layers.push(icmp);
                    if let Some(q) = &c.quoted {
                        layers.push(format!(
                            "IPerror(src={}, dst={}, ttl={})",
                            py_str(&q.src.to_string()),
                            py_str(&q.dst.to_string()),
                            q.ttl
                        ));
                        layers.push(format!("UDPerror(sport={}, dport={})", q.sport, q.dport));
                    } else if !c.payload.is_empty() {
                        layers.push(format!("Raw(load={})", py_bytes(&c.payload)));
                    }
                }
            }
        }
    }
    layers.join("/")
}

fn scapy_dns(d: &Dns) -> String {
    let mut s = format!("DNS(id={}, qr={}, rd=1", d.id, u8::from(d.response));
    if d.response {
        s.push_str(", ra=1");
    }
    let _ = write!(s, ", qd=DNSQR(qname={}, qtype={})", py_str(&d.qname), py_str(&d.qtype));
    if d.response && !d.answers.is_empty() {
        let rrs: Vec<String> =
            d.answers.iter().map(|(name, rtype, ttl, data)| scapy_rr(name, rtype, *ttl, data)).collect();
        let _ = write!(s, ", an={}", rrs.join("/"));
    }
    if let Some(n) = d.ancount {
        let _ = write!(s, ", ancount={n}");
    }
    s.push(')');
    s
}

fn scapy_rr(name: &str, rtype: &str, ttl: u32, data: &str) -> String {
    let name = py_str(name);
    match rtype {
        "MX" => {
            let (pref, exchange) = data.split_once(' ').unwrap_or(("10", data));
            format!("DNSRRMX(rrname={name}, ttl={ttl}, preference={pref}, exchange={})", py_str(exchange))
        }
        "SOA" => {
            let w: Vec<&str> = data.split_whitespace().collect();
            if w.len() == 7 {
                format!(
                    "DNSRRSOA(rrname={name}, ttl={ttl}, mname={}, rname={}, serial={}, refresh={}, retry={}, expire={}, minimum={})",
                    py_str(w[0]),
                    py_str(w[1]),
                    w[2],
                    w[3],
                    w[4],
                    w[5],
                    w[6]
                )
            } else {
                format!("DNSRR(rrname={name}, type='SOA', ttl={ttl}, rdata={})", py_str(data))
            }
        }
        _ => match generic_rdata(rtype, data) {
            Some(bytes) => {
                format!("DNSRR(rrname={name}, type={}, ttl={ttl}, rdata={})", rtype_number(rtype), py_bytes(&bytes))
            }
            None => format!("DNSRR(rrname={name}, type={}, ttl={ttl}, rdata={})", py_str(rtype), py_str(data)),
        },
    }
}

fn rtype_number(rtype: &str) -> u16 {
    match rtype {
        "RP" => 17,
        "SVCB" => 64,
        "HTTPS" => 65,
        "CAA" => 257,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_rdata_encodings() {
        assert_eq!(generic_rdata("HTTPS", "1 . alpn=h2").unwrap(), vec![0, 1, 0, 0, 1, 0, 3, 2, b'h', b'2']);
        assert_eq!(generic_rdata("RP", "a.b c").unwrap(), vec![1, b'a', 1, b'b', 0, 1, b'c', 0]);
        assert_eq!(generic_rdata("CAA", "0 issue \"ca.x\"").unwrap(), b"\x00\x05issueca.x".to_vec());
        assert_eq!(generic_rdata("A", "1.2.3.4"), None);
    }

    #[test]
    fn python_literals_escape() {
        assert_eq!(py_bytes(b"a\"\\\r\n\x01"), "b\"a\\\"\\\\\\r\\n\\x01\"");
        assert_eq!(py_str("it's"), "'it\\'s'");
    }
}
