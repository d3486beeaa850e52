//! The seeded summary generator.
//!
//! Every value is drawn from a controlled pool: unicast, locally
//! administered MACs; private (RFC 1918) and documentation (RFC 5737)
//! addresses; ephemeral client ports (RFC 6335: 49152–65535); a fixed list
//! of host names under reserved domains (RFC 2606); the methods, status
//! codes, DNS record types and ICMP messages the paper and its successors
//! asked for. Summary `i` of a seed depends only on `(seed, i)`, so asking
//! for more summaries never changes the first ones.

use std::net::Ipv4Addr;

use super::rng::Rng;
use super::*;

/// Host names (RFC 2606 reserved domains, so nothing real is named).
const HOSTS: &[&str] = &[
    "www.example.com",
    "www.example.org",
    "www.example.net",
    "api.example.com",
    "docs.example.org",
    "shop.example.net",
    "static.example.com",
    "intranet.example.org",
    "mail.example.com",
    "news.example.net",
];

/// Zones for the record types that live at a zone apex.
const ZONES: &[&str] = &["example.com", "example.org", "example.net"];

/// DNS record types drawn for DNS summaries.
pub const DNS_TYPES: &[&str] = &["A", "PTR", "MX", "CAA", "SOA", "HTTPS", "RP"];

/// HTTP methods drawn (each answerable without a request body).
pub const METHODS: &[&str] = &["GET", "GET", "HEAD", "DELETE"];

/// HTTP status codes drawn (the paper's, plus 301).
pub const CODES: &[u16] = &[200, 200, 301, 307, 403, 404];

/// Generate `count` scenarios for `protocol` in `mode` from `seed`.
///
/// `Tcp` and `Day` have conversation summaries only; asking for their
/// packet mode gives conversations too.
pub fn generate(protocol: SuiteProtocol, mode: Mode, seed: u64, count: usize) -> Vec<Scenario> {
    if protocol == SuiteProtocol::Zigbee {
        // ZigBee suites show real sample rows instead (matrix::ntg).
        return Vec::new();
    }
    (0..count).map(|i| one(protocol, mode, &mut Rng::new(seed, i as u64))).collect()
}

fn one(protocol: SuiteProtocol, mode: Mode, rng: &mut Rng) -> Scenario {
    match (protocol, mode) {
        (SuiteProtocol::Icmp, Mode::Conversation) => {
            let (src, dst) = pair(rng);
            Scenario::IcmpConversation(IcmpConversation {
                src,
                dst,
                id: rng.range(1, 0xffff) as u16,
                seq: rng.range(0, 999) as u16,
                timestamp: rng.chance(30),
            })
        }
        (SuiteProtocol::Icmp, Mode::Packet) => {
            let kinds = [
                IcmpKind::EchoRequest,
                IcmpKind::EchoReply,
                IcmpKind::TimestampRequest,
                IcmpKind::TimestampReply,
                IcmpKind::TtlExceeded,
                IcmpKind::PortUnreachable,
                IcmpKind::HostUnreachable,
            ];
            let kind = *rng.pick(&kinds);
            let (src, dst) = pair(rng);
            let original = match kind {
                // A router tells the prober its probe to a far target died.
                IcmpKind::TtlExceeded | IcmpKind::HostUnreachable => Some((dst, documentation(rng))),
                // The target itself says nothing listens on the port.
                IcmpKind::PortUnreachable => Some((dst, src)),
                _ => None,
            };
            let (id, seq) =
                if original.is_some() { (0, 0) } else { (rng.range(1, 0xffff) as u16, rng.range(0, 999) as u16) };
            let ttl = *rng.pick(&[64u8, 128, 255]);
            Scenario::IcmpPacket(IcmpPacket { src, dst, kind, id, seq, ttl, original })
        }
        (SuiteProtocol::Arp, Mode::Conversation) => {
            let (src_ip, target_ip) = same_subnet(rng);
            let dst_mac = if rng.chance(60) { BROADCAST } else { mac(rng) };
            Scenario::ArpConversation(ArpConversation { src_mac: mac(rng), src_ip, dst_mac, target_ip })
        }
        (SuiteProtocol::Arp, Mode::Packet) => {
            let (a, b) = same_subnet(rng);
            let (src_mac, peer) = (mac(rng), mac(rng));
            let reply = rng.chance(40);
            let dst_mac = if reply || rng.chance(30) { peer } else { BROADCAST };
            Scenario::ArpPacket(ArpPacket { src_mac, dst_mac, reply, sender_ip: a, target_ip: b })
        }
        (SuiteProtocol::Dns, Mode::Conversation) => {
            let (src, dst) = pair(rng);
            Scenario::DnsConversation(DnsConversation {
                src,
                dst,
                client_port: Some(ephemeral(rng)),
                id: rng.range(1, 0xffff) as u16,
                record: record(rng),
            })
        }
        (SuiteProtocol::Dns, Mode::Packet) => {
            let (client, resolver) = pair(rng);
            let response = rng.chance(50);
            let (src, dst) = if response { (resolver, client) } else { (client, resolver) };
            let mut record = record(rng);
            if !response {
                record.data.clear();
            }
            Scenario::DnsPacket(DnsPacket {
                src,
                dst,
                client_port: ephemeral(rng),
                id: rng.range(1, 0xffff) as u16,
                response,
                record,
            })
        }
        (SuiteProtocol::Http, Mode::Conversation) => {
            let (client, server) = pair(rng);
            let code = *rng.pick(CODES);
            Scenario::HttpConversation(HttpConversation {
                client,
                client_port: ephemeral(rng),
                client_window: window(rng),
                server,
                server_port: 80,
                server_window: window(rng),
                host: format!("http://{}/", rng.pick(HOSTS)),
                path: (*rng.pick(&["", "index.html", "about", "api/v1/status", "images/logo.png"])).to_string(),
                method: (*rng.pick(METHODS)).to_string(),
                code,
                reason: standard_reason(code).to_string(),
            })
        }
        (SuiteProtocol::Http, Mode::Packet) => {
            let (client, server) = pair(rng);
            let cport = ephemeral(rng);
            if rng.chance(50) {
                let path = (*rng.pick(&["/", "/index.html", "/about"])).to_string();
                let method = Some((*rng.pick(METHODS)).to_string());
                Scenario::HttpPacket(HttpPacket {
                    src: client,
                    dst: server,
                    sport: cport,
                    dport: 80,
                    method,
                    path,
                    host: (*rng.pick(HOSTS)).to_string(),
                    code: 0,
                })
            } else {
                Scenario::HttpPacket(HttpPacket {
                    src: server,
                    dst: client,
                    sport: 80,
                    dport: cport,
                    method: None,
                    path: String::new(),
                    host: String::new(),
                    code: *rng.pick(CODES),
                })
            }
        }
        (SuiteProtocol::Tcp, _) => {
            let (client, server) = pair(rng);
            let services: [(u16, &str, &str); 3] = [
                (7, "hello, echo\r\n", "hello, echo\r\n"),
                (6379, "*1\r\n$4\r\nPING\r\n", "+PONG\r\n"),
                (11211, "version\r\n", "VERSION 1.6.21\r\n"),
            ];
            let (port, request, reply) = *rng.pick(&services);
            Scenario::TcpConversation(TcpConversation {
                client,
                client_port: ephemeral(rng),
                client_window: window(rng),
                server,
                server_port: port,
                server_window: window(rng),
                request: request.to_string(),
                reply: reply.to_string(),
            })
        }
        (SuiteProtocol::Day | SuiteProtocol::Zigbee, _) => {
            let net = rng.range(0, 254) as u8;
            let client_ip = Ipv4Addr::new(192, 168, net, rng.range(10, 200) as u8);
            let gateway_ip = Ipv4Addr::new(192, 168, net, 1);
            let resolver = if rng.chance(50) { gateway_ip } else { Ipv4Addr::new(10, rng.range(0, 255) as u8, 0, 53) };
            let code = *rng.pick(CODES);
            Scenario::Day(DayInTheLife {
                client_mac: mac(rng),
                client_ip,
                gateway_mac: mac(rng),
                gateway_ip,
                resolver,
                host: (*rng.pick(HOSTS)).to_string(),
                server_ip: documentation(rng),
                dns_id: rng.range(1, 0xffff) as u16,
                dns_port: ephemeral(rng),
                http_port: ephemeral(rng),
                method: (*rng.pick(METHODS)).to_string(),
                path: (*rng.pick(&["/", "/index.html", "/news"])).to_string(),
                code,
                reason: standard_reason(code).to_string(),
            })
        }
    }
}

/// A unicast, locally administered MAC.
fn mac(rng: &mut Rng) -> Mac {
    let b = rng.next_u64().to_be_bytes();
    [(b[0] & 0xfc) | 0x02, b[1], b[2], b[3], b[4], b[5]]
}

fn host_octet(rng: &mut Rng) -> u8 {
    rng.range(1, 254) as u8
}

/// A private (RFC 1918) host address.
fn private(rng: &mut Rng) -> Ipv4Addr {
    match rng.range(0, 2) {
        0 => Ipv4Addr::new(10, rng.range(0, 255) as u8, rng.range(0, 255) as u8, host_octet(rng)),
        1 => Ipv4Addr::new(172, rng.range(16, 31) as u8, rng.range(0, 255) as u8, host_octet(rng)),
        _ => Ipv4Addr::new(192, 168, rng.range(0, 255) as u8, host_octet(rng)),
    }
}

/// A documentation (RFC 5737) host address.
fn documentation(rng: &mut Rng) -> Ipv4Addr {
    let nets = [[192, 0, 2], [198, 51, 100], [203, 0, 113]];
    let n = rng.pick(&nets);
    Ipv4Addr::new(n[0], n[1], n[2], host_octet(rng))
}

/// Two different hosts: a private client and a private or documentation
/// peer.
fn pair(rng: &mut Rng) -> (Ipv4Addr, Ipv4Addr) {
    let a = private(rng);
    loop {
        let b = if rng.chance(50) { private(rng) } else { documentation(rng) };
        if b != a {
            return (a, b);
        }
    }
}

/// Two different hosts of one /24 (ARP stays on the link).
fn same_subnet(rng: &mut Rng) -> (Ipv4Addr, Ipv4Addr) {
    let a = private(rng);
    let o = a.octets();
    loop {
        let b = Ipv4Addr::new(o[0], o[1], o[2], host_octet(rng));
        if b != a {
            return (a, b);
        }
    }
}

fn ephemeral(rng: &mut Rng) -> u16 {
    rng.range(49152, 65535) as u16
}

fn window(rng: &mut Rng) -> u16 {
    *rng.pick(&[1024u16, 4096, 8192, 16384, 29200, 64240, 65535])
}

fn record(rng: &mut Rng) -> DnsRecord {
    let rtype = *rng.pick(DNS_TYPES);
    let zone = *rng.pick(ZONES);
    let (name, data) = match rtype {
        "A" => (rng.pick(HOSTS).to_string(), documentation(rng).to_string()),
        "PTR" => {
            let ip = documentation(rng).octets();
            (format!("{}.{}.{}.{}.in-addr.arpa", ip[3], ip[2], ip[1], ip[0]), rng.pick(HOSTS).to_string())
        }
        "MX" => (zone.to_string(), format!("{} mail.{zone}", rng.pick(&[5, 10, 20]))),
        "CAA" => (zone.to_string(), format!("0 issue \"ca.{zone}\"")),
        "SOA" => {
            (zone.to_string(), format!("ns1.{zone} hostmaster.{zone} 2026010{} 7200 3600 1209600 300", rng.range(1, 9)))
        }
        "HTTPS" => (rng.pick(HOSTS).to_string(), "1 . alpn=h2".to_string()),
        _ => (zone.to_string(), format!("admin.{zone} info.{zone}")),
    };
    DnsRecord { rtype: rtype.to_string(), name, data }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_summary_reads_back_as_itself() {
        for protocol in SuiteProtocol::ALL {
            for mode in [Mode::Packet, Mode::Conversation] {
                for scenario in generate(protocol, mode, 42, 60) {
                    let text = scenario.to_string();
                    let back = Scenario::parse(protocol, scenario.mode(), &text).unwrap_or_else(|e| panic!("{e}"));
                    assert_eq!(back, scenario, "{text}");
                }
            }
        }
    }

    #[test]
    fn prefix_stable_and_seed_sensitive() {
        let a = generate(SuiteProtocol::Http, Mode::Conversation, 1, 5);
        let b = generate(SuiteProtocol::Http, Mode::Conversation, 1, 9);
        assert_eq!(a[..], b[..5]);
        assert_ne!(a, generate(SuiteProtocol::Http, Mode::Conversation, 2, 5));
    }

    #[test]
    fn macs_are_unicast_and_local() {
        let mut rng = Rng::new(3, 0);
        for _ in 0..1000 {
            let m = mac(&mut rng);
            assert_eq!(m[0] & 0x03, 0x02);
        }
    }
}
