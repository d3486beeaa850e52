//! Compare the model's server replies with the real ones, semantic fields
//! only.
//!
//! Replies are grouped by *step*: the client frame they follow. Within a
//! step both sides are reduced to events and compared in order:
//! - ARP: opcode, sender IP, target MAC and IP, Ethernet destination (the
//!   server's own MAC is free: the model cannot know it).
//! - ICMP: addresses, type, code, id, sequence, data (echo) or the
//!   originate timestamp (timestamp reply; receive/transmit are free).
//! - DNS: addresses and ports, id, QR, opcode, rcode, question, answer
//!   records (name, type, class, data; TTL is free), never AA/RA/additional.
//! - TCP: flags (SYN, ACK, FIN, RST; PSH is free), ACK relative to the
//!   client's ISN, SEQ relative to what the server itself sent before (so
//!   ISNs and response lengths are free), and for HTTP the status code and
//!   the framing (Content-Length, chunked or close-delimited). Timing is
//!   free: a pure ACK followed in the same step by another segment with an
//!   ACK (delayed ACK vs. piggybacking), back-to-back data segments
//!   (segmentation), a FIN sent right after the data, and retransmissions
//!   are folded before comparing.
//!
//! Free everywhere: ISN, IP id, TTL, window, options, timestamps,
//! checksums, `Date`/`Server` and other headers, body bytes.

use std::collections::HashSet;

use serde::Serialize;

use super::replay::SeqState;
use super::{Conversation, OwnedFrame, Proto};
use crate::dissect::{Link, Net, Transport};
use crate::wire::dns::{Packet as DnsPacket, Repr as DnsRepr};

/// One semantic field that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// The model's frame (or, for a reply the model lacks, the client frame
    /// the real reply followed).
    pub frame: u64,
    /// The field (`tcp.ack`, `dns.id`, `reply`, …).
    pub field: String,
    /// The model's value.
    pub model: String,
    /// The real stack's value.
    pub real: String,
}

/// The replies that followed one client frame.
#[derive(Debug, Clone)]
pub struct Step {
    /// The client frame (capture numbering); `None` before the first.
    pub client: Option<u64>,
    /// The bytes injected for it (`None`: it could not be sent).
    pub sent: Option<Vec<u8>>,
    /// The model's server frames after it.
    pub model: Vec<OwnedFrame>,
    /// The real server's frames after it.
    pub real: Vec<OwnedFrame>,
}

/// One reduced reply.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Event {
    frame: u64,
    fields: Vec<(&'static str, String)>,
}

impl Event {
    fn summary(&self) -> String {
        self.fields.iter().take(4).map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
    }
}

/// Return the semantic mismatches of `steps`.
pub fn compare(conv: &Conversation, steps: &[Step]) -> Vec<Mismatch> {
    let client_isn = conv.frames.iter().filter(|(_, c)| *c).find_map(|(f, _)| match f.dissect().transport {
        Transport::Tcp(tcp) if tcp.syn() => Some(tcp.sequence_number()),
        _ => None,
    });
    let mut model_tcp = TcpSide::new(client_isn);
    let mut real_tcp = TcpSide::new(client_isn);
    let mut out = Vec::new();
    for step in steps {
        let (model, real) = match conv.proto {
            Proto::Tcp | Proto::Http => {
                let http = conv.proto == Proto::Http;
                (model_tcp.events(&step.model, http), real_tcp.events(&step.real, http))
            }
            _ => (
                step.model.iter().filter_map(|f| event(conv.proto, f)).collect(),
                step.real.iter().filter_map(|f| event(conv.proto, f)).collect(),
            ),
        };
        let anchor = step.client.unwrap_or(0);
        diff(&model, &real, anchor, &mut out);
    }
    out
}

fn diff(model: &[Event], real: &[Event], anchor: u64, out: &mut Vec<Mismatch>) {
    for i in 0..model.len().max(real.len()) {
        match (model.get(i), real.get(i)) {
            (Some(m), Some(r)) => {
                // A reply of another kind: one mismatch, not one per field.
                if m.fields.first() != r.fields.first() {
                    let (k, mv) = m.fields.first().cloned().unwrap_or(("kind", String::new()));
                    let rv = r.fields.first().map(|f| f.1.clone()).unwrap_or_default();
                    out.push(Mismatch { frame: m.frame, field: k.to_string(), model: mv, real: rv });
                    continue;
                }
                for (key, value) in &m.fields {
                    let real_value = r
                        .fields
                        .iter()
                        .find(|(k, _)| k == key)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_else(|| "absent".into());
                    if *value != real_value {
                        out.push(Mismatch {
                            frame: m.frame,
                            field: key.to_string(),
                            model: value.clone(),
                            real: real_value,
                        });
                    }
                }
                for (key, value) in &r.fields {
                    if !m.fields.iter().any(|(k, _)| k == key) {
                        out.push(Mismatch {
                            frame: m.frame,
                            field: key.to_string(),
                            model: "absent".into(),
                            real: value.clone(),
                        });
                    }
                }
            }
            (Some(m), None) => {
                out.push(Mismatch { frame: m.frame, field: "reply".into(), model: m.summary(), real: "none".into() })
            }
            (None, Some(r)) => {
                out.push(Mismatch { frame: anchor, field: "reply".into(), model: "none".into(), real: r.summary() })
            }
            (None, None) => {}
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut s: String = bytes.iter().take(32).map(|b| format!("{b:02x}")).collect();
    if bytes.len() > 32 {
        s.push_str(&format!("…({} bytes)", bytes.len()));
    }
    s
}

fn ip(addr: [u8; 4]) -> String {
    std::net::Ipv4Addr::from(addr).to_string()
}

/// Reduce an ARP, ICMP or DNS reply.
fn event(proto: Proto, frame: &OwnedFrame) -> Option<Event> {
    let f = frame.dissect();
    let mut fields: Vec<(&'static str, String)> = Vec::new();
    match (&f.net, &f.transport) {
        (Net::Arp(arp), _) => {
            fields.push(("kind", "ARP".into()));
            fields.push(("arp.opcode", arp.operation().0.to_string()));
            fields.push(("arp.sender_ip", hexish_ip(arp.sender_protocol_addr())));
            fields.push((
                "arp.target_mac",
                crate::netns::format_mac(arp.target_hw_addr().try_into().unwrap_or_default()),
            ));
            fields.push(("arp.target_ip", hexish_ip(arp.target_protocol_addr())));
            if let Link::Ethernet { dst, .. } = f.link {
                fields.push(("eth.dst", crate::netns::format_mac(dst)));
            }
        }
        (Net::Ipv4 { .. }, Transport::Icmp(icmp)) => {
            let (src, dst) = f.ipv4_addrs()?;
            let rest = icmp.bytes5to8();
            fields.push(("kind", "ICMP".into()));
            fields.push(("ip.src", ip(src)));
            fields.push(("ip.dst", ip(dst)));
            fields.push(("icmp.type", icmp.type_u8().to_string()));
            fields.push(("icmp.code", icmp.code_u8().to_string()));
            if matches!(icmp.type_u8(), 0 | 8 | 13 | 14) {
                fields.push(("icmp.id", u16::from_be_bytes([rest[0], rest[1]]).to_string()));
                fields.push(("icmp.seq", u16::from_be_bytes([rest[2], rest[3]]).to_string()));
            }
            let payload = icmp.payload();
            match icmp.type_u8() {
                13 | 14 => fields.push(("icmp.originate", hex(payload.get(..4).unwrap_or(payload)))),
                0 | 8 => fields.push(("icmp.data", hex(payload))),
                _ => {}
            }
        }
        (Net::Ipv4 { .. }, Transport::Udp(udp)) if proto == Proto::Dns => {
            let (src, dst) = f.ipv4_addrs()?;
            fields.push(("kind", "DNS".into()));
            fields.push(("ip.src", ip(src)));
            fields.push(("ip.dst", ip(dst)));
            fields.push(("udp.sport", udp.source_port().to_string()));
            fields.push(("udp.dport", udp.destination_port().to_string()));
            match DnsPacket::new_checked(udp.payload()).ok().and_then(|p| DnsRepr::parse(&p).ok()) {
                Some(dns) => {
                    fields.push(("dns.id", format!("0x{:04x}", dns.id)));
                    fields.push(("dns.qr", u8::from(dns.flags.response).to_string()));
                    fields.push(("dns.opcode", dns.flags.opcode.to_string()));
                    fields.push(("dns.rcode", format!("{:?}", dns.flags.rcode)));
                    let questions: Vec<String> = dns
                        .questions
                        .iter()
                        .map(|q| {
                            format!(
                                "{} {} {}",
                                q.name.to_ascii_lowercase().trim_end_matches('.'),
                                q.qtype.name(),
                                q.qclass
                            )
                        })
                        .collect();
                    fields.push(("dns.question", questions.join("; ")));
                    let mut answers: Vec<String> = dns
                        .answers
                        .iter()
                        .map(|r| {
                            format!(
                                "{} {} {} {:?}",
                                r.name.to_ascii_lowercase().trim_end_matches('.'),
                                r.rtype.name(),
                                r.class,
                                normalise(&r.data)
                            )
                        })
                        .collect();
                    answers.sort();
                    fields.push(("dns.answers", answers.join("; ")));
                }
                None => fields.push(("dns.id", "undecodable".into())),
            }
        }
        (Net::Ipv4 { .. }, Transport::Udp(_)) => fields.push(("kind", "UDP".into())),
        (Net::Ipv4 { .. }, Transport::Tcp(_)) => fields.push(("kind", "TCP".into())),
        (Net::Ipv4 { .. }, _) => fields.push(("kind", "IPv4".into())),
        _ => return None,
    }
    Some(Event { frame: frame.number, fields })
}

fn normalise(data: &crate::wire::dns::RecordData) -> String {
    use crate::wire::dns::RecordData;
    match data {
        RecordData::Name(n) => n.to_ascii_lowercase().trim_end_matches('.').to_string(),
        RecordData::Mx { preference, exchange } => {
            format!("{preference} {}", exchange.to_ascii_lowercase().trim_end_matches('.'))
        }
        other => format!("{other:?}"),
    }
}

fn hexish_ip(bytes: &[u8]) -> String {
    match <[u8; 4]>::try_from(bytes) {
        Ok(addr) => ip(addr),
        Err(_) => hex(bytes),
    }
}

/// One server's TCP stream, followed across steps.
struct TcpSide {
    client_isn: Option<u32>,
    server: SeqState,
    seen: HashSet<(u32, u32, u8)>,
}

/// A TCP segment (or folded segments) of the server.
struct Segment {
    frame: u64,
    syn: bool,
    ack: Option<u32>,
    fin: bool,
    rst: bool,
    seq_offset: Option<i64>,
    data: Vec<u8>,
}

impl TcpSide {
    fn new(client_isn: Option<u32>) -> TcpSide {
        TcpSide { client_isn, server: SeqState::default(), seen: HashSet::new() }
    }

    fn events(&mut self, frames: &[OwnedFrame], http: bool) -> Vec<Event> {
        let mut segments: Vec<Segment> = Vec::new();
        for frame in frames {
            let f = frame.dissect();
            let Transport::Tcp(tcp) = &f.transport else {
                if let Some(event) = event(Proto::Tcp, frame) {
                    segments.push(Segment {
                        frame: event.frame,
                        syn: false,
                        ack: None,
                        fin: false,
                        rst: false,
                        seq_offset: None,
                        data: Vec::new(),
                    });
                }
                continue;
            };
            let seq = tcp.sequence_number();
            let len = tcp.payload().len() as u32;
            let flags = u8::from(tcp.syn()) | u8::from(tcp.fin()) << 1 | u8::from(tcp.rst()) << 2;
            let rel = self.server.rel(seq);
            if let Some(rel) = rel {
                if !tcp.syn() && !self.seen.insert((rel, len, flags)) && (len > 0 || tcp.fin()) {
                    continue; // a retransmission
                }
            }
            // Where the server's next byte (after its FIN, if sent) is.
            let next = i64::from(self.server.data_end) + i64::from(self.server.fin_at.is_some());
            let seq_offset = if tcp.syn() { None } else { rel.map(|r| i64::from(r as i32) - next) };
            let ack = tcp.ack().then(|| {
                let a = tcp.acknowledgment_number();
                self.client_isn.map_or(a, |isn| a.wrapping_sub(isn.wrapping_add(1)))
            });
            self.server.update(tcp.syn(), tcp.fin(), seq, len);
            segments.push(Segment {
                frame: frame.number,
                syn: tcp.syn(),
                ack,
                fin: tcp.fin(),
                rst: tcp.rst(),
                seq_offset,
                data: tcp.payload().to_vec(),
            });
        }
        // Fold data runs, and a bare FIN right after data, into one segment.
        let mut folded: Vec<Segment> = Vec::new();
        for segment in segments {
            if let Some(last) = folded.last_mut() {
                let last_is_data = !last.data.is_empty() && !last.syn && !last.rst && !last.fin;
                let continues = !segment.syn
                    && !segment.rst
                    && (!segment.data.is_empty() || (segment.fin && segment.data.is_empty()));
                if last_is_data && continues {
                    last.data.extend_from_slice(&segment.data);
                    last.fin |= segment.fin;
                    last.ack = segment.ack.or(last.ack);
                    continue;
                }
            }
            folded.push(segment);
        }
        // A pure ACK followed in the same step by another segment that
        // carries an ACK: the later one is the cumulative word.
        let mut kept: Vec<Segment> = Vec::new();
        let n = folded.len();
        let mut folded = folded.into_iter().map(Some).collect::<Vec<_>>();
        for i in 0..n {
            let segment = folded[i].take().expect("each once");
            let pure = !segment.syn && !segment.fin && !segment.rst && segment.data.is_empty() && segment.ack.is_some();
            let covered = pure && folded[i + 1..].iter().flatten().any(|later| later.ack.is_some());
            if !covered {
                kept.push(segment);
            }
        }
        kept.into_iter().map(|s| s.into_event(http)).collect()
    }
}

impl Segment {
    fn into_event(self, http: bool) -> Event {
        let mut flags = Vec::new();
        if self.syn {
            flags.push("SYN");
        }
        if self.ack.is_some() {
            flags.push("ACK");
        }
        if self.fin {
            flags.push("FIN");
        }
        if self.rst {
            flags.push("RST");
        }
        if !self.data.is_empty() {
            flags.push("data");
        }
        let mut fields: Vec<(&'static str, String)> = vec![("kind", "TCP".into()), ("tcp.flags", flags.join(","))];
        if let Some(ack) = self.ack {
            fields.push(("tcp.ack", ack.to_string()));
        }
        if let Some(offset) = self.seq_offset {
            let value =
                if offset == 0 { "in order".to_string() } else { format!("{offset:+} bytes from the stream's end") };
            fields.push(("tcp.seq", value));
        }
        if http && !self.data.is_empty() {
            let (status, framing) = http_response(&self.data);
            fields.push(("http.status", status));
            fields.push(("http.framing", framing));
        }
        Event { frame: self.frame, fields }
    }
}

/// The status code and framing of the HTTP response(s) in `data`.
fn http_response(data: &[u8]) -> (String, String) {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(data) {
        Ok(httparse::Status::Complete(_)) => {
            let status = response.code.map_or_else(|| "none".into(), |c| c.to_string());
            let header = |name: &str| {
                response
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case(name))
                    .map(|h| String::from_utf8_lossy(h.value).trim().to_ascii_lowercase())
            };
            let framing = if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
                "chunked".to_string()
            } else if let Some(length) = header("content-length") {
                format!("Content-Length: {length}")
            } else {
                "close-delimited".to_string()
            };
            (status, framing)
        }
        Ok(httparse::Status::Partial) => ("incomplete".into(), "incomplete".into()),
        Err(error) => (format!("malformed ({error})"), "malformed".into()),
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn framing_kinds() {
        assert_eq!(
            http_response(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"),
            ("200".into(), "Content-Length: 3".into())
        );
        assert_eq!(
            http_response(b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            ("404".into(), "chunked".into())
        );
        assert_eq!(http_response(b"HTTP/1.0 200 OK\r\n\r\nbody"), ("200".into(), "close-delimited".into()));
        assert_eq!(http_response(b"HTTP/1.1 200 OK\r\nContent-"), ("incomplete".into(), "incomplete".into()));
    }

    #[test]
    fn diff_names_missing_and_extra_replies() {
        let event = |frame, v: &str| Event { frame, fields: vec![("kind", "TCP".into()), ("tcp.ack", v.into())] };
        let mut out = Vec::new();
        diff(&[event(5, "124")], &[event(0, "125")], 4, &mut out);
        assert_eq!(out, [Mismatch { frame: 5, field: "tcp.ack".into(), model: "124".into(), real: "125".into() }]);
        out.clear();
        diff(&[], &[event(0, "1")], 4, &mut out);
        assert_eq!(out[0].frame, 4);
        assert_eq!(out[0].field, "reply");
        assert_eq!(out[0].model, "none");
    }
}
