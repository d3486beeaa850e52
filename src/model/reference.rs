//! The `reference` model: the correct answer to any summary.
//!
//! It reads the summary text like a model would ([`Scenario::parse`]) and
//! writes what a careful engineer would: handshakes with MSS, SEQ/ACK that
//! count every byte and every SYN/FIN, DNS responses echoing the query's id
//! and question, replies with swapped addresses, ICMP errors quoting the
//! datagram. It must score 100 % with no warning from the own checks or
//! tshark on every suite — the harness's no-false-positive baseline.

use std::net::Ipv4Addr;

use super::answer::*;
use crate::scenario::*;
use crate::wire::http::standard_reason;

/// Client to server.
const NEAR: f64 = 0.000_120;
/// One network round trip.
const RTT: f64 = 0.021_300;
/// Data the echo and timestamp requests carry (32 bytes, like Windows ping).
pub const ECHO_DATA: &[u8] = b"abcdefghijklmnopqrstuvwabcdefghi";
/// Originate timestamp: 10:00:00 UT in milliseconds.
const TS_ORIGINATE: u32 = 36_000_000;

/// A 32-bit value drawn from the summary, for initial sequence numbers.
fn isn(parts: &[u32]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for p in parts {
        for b in p.to_be_bytes() {
            h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
    }
    h
}

/// The reference packets for `scenario`.
pub fn packets(scenario: &Scenario) -> Vec<Pkt> {
    match scenario {
        Scenario::IcmpPacket(p) => vec![icmp_packet(p)],
        Scenario::IcmpConversation(c) => icmp_conversation(c),
        Scenario::ArpPacket(p) => vec![arp_packet(p)],
        Scenario::ArpConversation(c) => {
            arp_conversation(c.src_mac, c.src_ip, c.dst_mac, c.target_ip, c.target_mac(), 0.0)
        }
        Scenario::DnsPacket(p) => vec![dns_packet(p)],
        Scenario::DnsConversation(c) => dns_conversation(c, None, 0.0),
        Scenario::HttpPacket(p) => vec![http_packet(p)],
        Scenario::HttpConversation(c) => {
            let request = http_request(&c.method, &c.target(), c.host_name());
            let response = http_response(&c.method, c.code, &c.reason, c.host_name());
            tcp_exchange(&Exchange {
                client: c.client,
                cport: c.client_port,
                cwin: c.client_window,
                server: c.server,
                sport: c.server_port,
                swin: c.server_window,
                request: &request,
                response: &response,
                http: true,
                eth: None,
                start: 0.0,
            })
        }
        Scenario::TcpConversation(c) => tcp_exchange(&Exchange {
            client: c.client,
            cport: c.client_port,
            cwin: c.client_window,
            server: c.server,
            sport: c.server_port,
            swin: c.server_window,
            request: c.request.as_bytes(),
            response: c.reply.as_bytes(),
            http: false,
            eth: None,
            start: 0.0,
        }),
        Scenario::Day(d) => day(d),
    }
}

fn ip(src: Ipv4Addr, dst: Ipv4Addr, l4: L4) -> Body {
    Body::Ip(Ip { src, dst, ttl: 64, l4 })
}

fn icmp_packet(p: &IcmpPacket) -> Pkt {
    let (icmp_type, code) = p.kind.type_code();
    let timestamps = match p.kind {
        IcmpKind::TimestampRequest => Some((TS_ORIGINATE, 0, 0)),
        IcmpKind::TimestampReply => Some((TS_ORIGINATE, TS_ORIGINATE + 11, TS_ORIGINATE + 11)),
        _ => None,
    };
    let quoted = p.original.map(|(src, dst)| Quoted {
        src,
        dst,
        ttl: if p.kind == IcmpKind::TtlExceeded { 1 } else { 64 },
        sport: 33434u16.wrapping_add(p.seq),
        dport: 33434,
    });
    let payload =
        if matches!(p.kind, IcmpKind::EchoRequest | IcmpKind::EchoReply) { ECHO_DATA.to_vec() } else { Vec::new() };
    let icmp = Icmp { icmp_type, code, id: p.id, seq: p.seq, timestamps, payload, quoted };
    Pkt { time: 0.0, eth: None, body: Body::Ip(Ip { src: p.src, dst: p.dst, ttl: p.ttl, l4: L4::Icmp(icmp) }) }
}

fn icmp_conversation(c: &IcmpConversation) -> Vec<Pkt> {
    let (req, rep, ts_req, ts_rep, payload) = if c.timestamp {
        (13, 14, Some((TS_ORIGINATE, 0, 0)), Some((TS_ORIGINATE, TS_ORIGINATE + 11, TS_ORIGINATE + 11)), Vec::new())
    } else {
        (8, 0, None, None, ECHO_DATA.to_vec())
    };
    let make = |icmp_type, timestamps, src, dst, time| Pkt {
        time,
        eth: None,
        body: ip(
            src,
            dst,
            L4::Icmp(Icmp {
                icmp_type,
                code: 0,
                id: c.id,
                seq: c.seq,
                timestamps,
                payload: payload.clone(),
                quoted: None,
            }),
        ),
    };
    vec![make(req, ts_req, c.src, c.dst, 0.0), make(rep, ts_rep, c.dst, c.src, RTT)]
}

fn arp_packet(p: &ArpPacket) -> Pkt {
    let target_mac = if p.reply { p.dst_mac } else { [0; 6] };
    Pkt {
        time: 0.0,
        eth: Some((p.src_mac, p.dst_mac)),
        body: Body::Arp(Arp {
            op: if p.reply { 2 } else { 1 },
            sender_mac: p.src_mac,
            sender_ip: p.sender_ip,
            target_mac,
            target_ip: p.target_ip,
        }),
    }
}

fn arp_conversation(
    src_mac: Mac,
    src_ip: Ipv4Addr,
    dst_mac: Mac,
    target_ip: Ipv4Addr,
    target_mac: Mac,
    start: f64,
) -> Vec<Pkt> {
    vec![
        Pkt {
            time: start,
            eth: Some((src_mac, dst_mac)),
            body: Body::Arp(Arp { op: 1, sender_mac: src_mac, sender_ip: src_ip, target_mac: [0; 6], target_ip }),
        },
        Pkt {
            time: start + 0.000_450,
            eth: Some((target_mac, src_mac)),
            body: Body::Arp(Arp {
                op: 2,
                sender_mac: target_mac,
                sender_ip: target_ip,
                target_mac: src_mac,
                target_ip: src_ip,
            }),
        },
    ]
}

fn dns_message(id: u16, response: bool, record: &DnsRecord) -> Dns {
    let answers =
        if response { vec![(record.name.clone(), record.rtype.clone(), 300, record.data.clone())] } else { Vec::new() };
    Dns { id, response, qname: record.name.clone(), qtype: record.rtype.clone(), answers, ancount: None }
}

fn dns_packet(p: &DnsPacket) -> Pkt {
    let (sport, dport) = if p.response { (53, p.client_port) } else { (p.client_port, 53) };
    Pkt {
        time: 0.0,
        eth: None,
        body: ip(p.src, p.dst, L4::Udp(Udp { sport, dport, dns: Some(dns_message(p.id, p.response, &p.record)) })),
    }
}

/// Query and response; `eth` gives the client's and the next hop's MACs.
fn dns_conversation(c: &DnsConversation, eth: Option<(Mac, Mac)>, start: f64) -> Vec<Pkt> {
    let port = c.client_port.unwrap_or(53124);
    vec![
        Pkt {
            time: start,
            eth,
            body: ip(
                c.src,
                c.dst,
                L4::Udp(Udp { sport: port, dport: 53, dns: Some(dns_message(c.id, false, &c.record)) }),
            ),
        },
        Pkt {
            time: start + RTT,
            eth: eth.map(|(a, b)| (b, a)),
            body: ip(
                c.dst,
                c.src,
                L4::Udp(Udp { sport: 53, dport: port, dns: Some(dns_message(c.id, true, &c.record)) }),
            ),
        },
    ]
}

/// The request text. The connection stays open after the exchange (HTTP/1.1
/// persistence, RFC 9112 §9.3), and the client closes it, as the
/// conversation's teardown shows: a request or response saying
/// `Connection: close` would oblige the server to close first (§9.6).
pub fn http_request(method: &str, target: &str, host: &str) -> Vec<u8> {
    format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: harness-reference/1\r\nAccept: */*\r\n\r\n")
        .into_bytes()
}

/// The response text: a small HTML body for 200, a redirect with
/// `Location` for 3xx, a short error page otherwise; no body for HEAD (but
/// the `Content-Length` a GET would have had, RFC 9110 §9.3.2).
pub fn http_response(method: &str, code: u16, reason: &str, host: &str) -> Vec<u8> {
    let body = match code {
        200 => format!("<!doctype html><title>{host}</title><p>Hello from {host}.</p>\n"),
        300..=399 => format!("<a href=\"http://{host}/new/\">moved</a>\n"),
        _ => format!("<!doctype html><title>{code} {reason}</title>\n"),
    };
    let mut head =
        format!("HTTP/1.1 {code} {reason}\r\nServer: harness-reference\r\nContent-Type: text/html; charset=utf-8\r\n");
    if (300..400).contains(&code) {
        head.push_str(&format!("Location: http://{host}/new/\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    if !method.eq_ignore_ascii_case("HEAD") {
        head.push_str(&body);
    }
    head.into_bytes()
}

fn http_packet(p: &HttpPacket) -> Pkt {
    let payload = match &p.method {
        Some(m) => http_request(m, &p.path, &p.host),
        None => http_response("GET", p.code, standard_reason(p.code), "www.example.com"),
    };
    let seq = isn(&[u32::from(p.sport), u32::from(p.dport), u32::from(p.src), u32::from(p.dst)]);
    let ack = isn(&[u32::from(p.dport), u32::from(p.sport)]);
    let tcp = Tcp {
        sport: p.sport,
        dport: p.dport,
        flags: "PA".into(),
        seq,
        ack,
        window: 64240,
        mss: None,
        payload,
        http: true,
    };
    Pkt { time: 0.0, eth: None, body: ip(p.src, p.dst, L4::Tcp(tcp)) }
}

struct Exchange<'a> {
    client: Ipv4Addr,
    cport: u16,
    cwin: u16,
    server: Ipv4Addr,
    sport: u16,
    swin: u16,
    request: &'a [u8],
    response: &'a [u8],
    http: bool,
    /// Client MAC and next-hop MAC.
    eth: Option<(Mac, Mac)>,
    start: f64,
}

/// Handshake, request, ACK, response, ACK, teardown started by the client:
/// the paper's 11 packets.
fn tcp_exchange(x: &Exchange<'_>) -> Vec<Pkt> {
    let c = isn(&[u32::from(x.client), u32::from(x.cport)]);
    let s = isn(&[u32::from(x.server), u32::from(x.sport), u32::from(x.cport)]);
    let (q, r) = (x.request.len() as u32, x.response.len() as u32);
    let mut t = x.start;
    let mut out = Vec::with_capacity(11);
    let mut push = |up: bool, flags: &str, seq: u32, ack: u32, payload: &[u8], dt: f64| {
        t += dt;
        let (src, dst, sport, dport, window) = if up {
            (x.client, x.server, x.cport, x.sport, x.cwin)
        } else {
            (x.server, x.client, x.sport, x.cport, x.swin)
        };
        let mss = flags.contains('S').then_some(1460);
        let tcp = Tcp {
            sport,
            dport,
            flags: flags.into(),
            seq,
            ack,
            window: u32::from(window),
            mss,
            payload: payload.to_vec(),
            http: x.http,
        };
        let eth = x.eth.map(|(cm, gm)| if up { (cm, gm) } else { (gm, cm) });
        out.push(Pkt { time: t, eth, body: ip(src, dst, L4::Tcp(tcp)) });
    };
    let w = u32::wrapping_add;
    push(true, "S", c, 0, b"", 0.0);
    push(false, "SA", s, w(c, 1), b"", RTT);
    push(true, "A", w(c, 1), w(s, 1), b"", NEAR);
    push(true, "PA", w(c, 1), w(s, 1), x.request, NEAR);
    push(false, "A", w(s, 1), w(c, 1 + q), b"", RTT);
    push(false, "PA", w(s, 1), w(c, 1 + q), x.response, 0.003_100);
    push(true, "A", w(c, 1 + q), w(s, 1 + r), b"", RTT);
    push(true, "FA", w(c, 1 + q), w(s, 1 + r), b"", NEAR);
    push(false, "A", w(s, 1 + r), w(c, 2 + q), b"", RTT);
    push(false, "FA", w(s, 1 + r), w(c, 2 + q), b"", NEAR);
    push(true, "A", w(c, 2 + q), w(s, 2 + r), b"", RTT);
    out
}

fn day(d: &DayInTheLife) -> Vec<Pkt> {
    let mut out = arp_conversation(d.client_mac, d.client_ip, BROADCAST, d.gateway_ip, d.gateway_mac, 0.0);
    let dns = DnsConversation {
        src: d.client_ip,
        dst: d.resolver,
        client_port: Some(d.dns_port),
        id: d.dns_id,
        record: DnsRecord { rtype: "A".into(), name: d.host.clone(), data: d.server_ip.to_string() },
    };
    out.extend(dns_conversation(&dns, Some((d.client_mac, d.gateway_mac)), 0.010));
    let request = http_request(&d.method, &d.path, &d.host);
    let response = http_response(&d.method, d.code, &d.reason, &d.host);
    out.extend(tcp_exchange(&Exchange {
        client: d.client_ip,
        cport: d.http_port,
        cwin: 64240,
        server: d.server_ip,
        sport: 80,
        swin: 65535,
        request: &request,
        response: &response,
        http: true,
        eth: Some((d.client_mac, d.gateway_mac)),
        start: 0.060,
    }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::generate::generate;

    #[test]
    fn conversation_sizes() {
        let count = |p, m| packets(&generate(p, m, 5, 1)[0]).len();
        assert_eq!(count(SuiteProtocol::Http, Mode::Conversation), 11);
        assert_eq!(count(SuiteProtocol::Tcp, Mode::Conversation), 11);
        assert_eq!(count(SuiteProtocol::Day, Mode::Conversation), 15);
        assert_eq!(count(SuiteProtocol::Dns, Mode::Conversation), 2);
        assert_eq!(count(SuiteProtocol::Icmp, Mode::Packet), 1);
    }

    #[test]
    fn head_response_has_length_but_no_body() {
        let text = String::from_utf8(http_response("HEAD", 200, "OK", "h")).unwrap();
        assert!(text.ends_with("\r\n\r\n") && text.contains("Content-Length: "), "{text}");
    }
}
