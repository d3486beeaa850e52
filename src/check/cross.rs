//! Cross-protocol consistency: what one protocol of a capture says about
//! another, for the multi-protocol stories (ARP, then DNS, then TCP/HTTP) in
//! which every packet can be right alone and the capture still contradict
//! itself.
//!
//! - ARP binds on-link IPv4 addresses to MACs (RFC 826: the sender's pair of
//!   every request and reply). An Ethernet frame that carries a bound
//!   address with another MAC is `host.mac_conflict`. Only bound addresses
//!   are judged: a host's IP behind the gateway's MAC is how routed traffic
//!   looks, and an address no ARP in the capture resolves may be off-link.
//!   A frame whose MAC belongs (by ARP) to another neighbour is not blamed,
//!   since a router may forward it, unless its other MAC is the bound
//!   address's own (a frame to a host sent by that host, or from it to it).
//! - A station that resolves its next hops with ARP in the capture (it
//!   sends an ARP request) resolves each one before using it: its first
//!   IPv4 frame to a unicast next hop (the Ethernet destination) that no ARP
//!   packet announced before is `arp.missing_resolution`, reported once per
//!   station and next hop at the end (or when the table evicts it). Other
//!   stations may hold entries cached before the capture began, and a
//!   capture without ARP has nothing to hold them to.
//! - DNS answers name servers: an HTTP request whose `Host` its client
//!   resolved in the capture (following CNAMEs) but which goes to none of
//!   the addresses the client's answers gave, or the first connection a
//!   client opens right after a DNS exchange (within [`CONNECT_WINDOW`])
//!   going to an address no answer to it gave, is
//!   `flow.unresolved_destination`; the answer it bypassed is
//!   `dns.unused_answer` (a note) when no traffic ever went to it. Answers
//!   count for the client that received them only: clients of one resolver
//!   may get different addresses for one name (round-robin DNS, content
//!   delivery networks). A request in absolute form goes to a proxy, not to
//!   the named server, and is not judged; an answer for a name never
//!   connected to is not a fault.
//!
//! Frames are read in capture order and every table is a bounded
//! [`FlowTable`], so memory stays flat. The DNS side costs nothing until a
//! DNS answer gives an IPv4 address; before the first ARP packet, the
//! next-hop side costs a few comparisons per frame for next hops just seen
//! and records at most [`EARLY_HOPS`] of them.

use etherparse::{ArpHardwareId, ArpOperation, EtherType};

use super::{ip4, mac, tcp_key, FlowTable, Limits, Sink, TcpKey};
use crate::dissect::{Frame, Link, Net, Transport, DNS_PORTS};
use crate::finding::{Protocol, Severity};
use crate::pcap::Timestamp;
use crate::wire::{dns, http};

/// Most MACs kept per bound address (a false ARP sender MAC besides the
/// real Ethernet source, a gratuitous ARP after a NIC change, proxy ARP).
const MAX_MACS: usize = 4;
/// Most addresses kept per name.
const MAX_ADDRS: usize = 8;
/// Longest CNAME chain followed.
const MAX_CNAME_HOPS: usize = 8;
/// How soon after a DNS exchange a connection counts as the one it was
/// made for: stub resolvers connect within milliseconds of the answer.
const CONNECT_WINDOW: Timestamp = 3_000_000_000;
/// Most next hops recorded before the capture's first ARP packet (for a
/// resolution that comes later). Stories resolve their first next hops
/// late, if at all, and a large capture without ARP, whose next hops are all
/// unresolved, must not pay for a table of them.
const EARLY_HOPS: usize = 1024;

/// A broadcast domain: the VLAN ids of up to two tags (802.1Q, 802.1ad),
/// 12 bits each, 0 when untagged. Addresses and MACs are bound per domain.
type Domain = u32;

/// Every cross-protocol check, with its tables.
#[derive(Debug, Default)]
pub(crate) struct CrossCheck {
    hosts: Hosts,
    names: Names,
}

impl CrossCheck {
    /// Make a check whose tables hold at most `limits.max_flows` entries
    /// each.
    pub(crate) fn new(limits: Limits) -> CrossCheck {
        CrossCheck { hosts: Hosts::new(limits), names: Names::new(limits) }
    }

    /// Check one frame (frames in capture order). The common frame (IPv4
    /// to a next hop just handled, in a capture without ARP or DNS answers
    /// so far) costs a few comparisons here; the rest is out of line.
    #[inline]
    pub(crate) fn check(&mut self, frame: &Frame<'_>, sink: &mut Sink) {
        if let Link::Ethernet { dst, .. } = frame.link {
            let handled = !self.hosts.arp_seen
                && matches!(frame.net, Net::Ipv4 { .. })
                && (!station(&dst) || self.hosts.recent.contains(&hop_key(domain(frame.data), frame.data)));
            if !handled {
                self.hosts.check(frame, sink);
            }
        }
        if self.names.active || frame.present.contains(Protocol::Dns) {
            self.names.check(frame, sink);
        }
    }

    /// Report what the end of the capture decides: next hops never (or
    /// only later) resolved, connections right after a DNS exchange that
    /// carried no request, answers never used.
    pub(crate) fn finish(&mut self, sink: &mut Sink) {
        self.hosts.finish(sink);
        self.names.finish(sink);
    }
}

// ---------------------------------------------------------------------------
// ARP against Ethernet.

/// The MACs ARP bound one address to, and the frame of the first binding.
#[derive(Debug, Clone, Copy)]
struct Binding {
    macs: [[u8; 6]; MAX_MACS],
    len: usize,
    frame: u64,
}

impl Binding {
    fn macs(&self) -> &[[u8; 6]] {
        &self.macs[..self.len]
    }

    fn contains(&self, mac: &[u8; 6]) -> bool {
        self.macs().contains(mac)
    }

    /// Add `mac`, dropping the oldest when full.
    fn add(&mut self, mac: [u8; 6]) {
        if self.contains(&mac) {
            return;
        }
        if self.len == MAX_MACS {
            self.macs.copy_within(1.., 0);
            self.len -= 1;
        }
        self.macs[self.len] = mac;
        self.len += 1;
    }
}

/// The first IPv4 frame from a station to a next hop that was not
/// resolved then.
#[derive(Debug, Clone, Copy)]
struct Hop {
    frame: u64,
    dst: [u8; 4],
}

/// A station's MAC as ARP showed it.
#[derive(Debug, Clone, Copy)]
struct Announced {
    /// The first ARP packet that announced it.
    frame: u64,
    /// Whether it asked ARP to resolve an address: a station that resolves
    /// its next hops in the capture.
    resolves: bool,
}

/// A next hop as one station uses it: the frame's two MACs as they open
/// it (destination, then source) and the domain, in one integer, so that
/// the per-frame comparison and hash are one operation each. Never 0 (a
/// next hop is a [`station`]), so 0 marks the empty slots of
/// [`Hosts::recent`].
type HopKey = u128;

/// Return the next hop of an Ethernet frame in `domain`: `data` opens with
/// the destination and source MACs (IEEE 802.3 §3.1.1).
fn hop_key(domain: Domain, data: &[u8]) -> HopKey {
    let mut bytes = [0; 16];
    bytes[..12].copy_from_slice(&data[..12]);
    bytes[12..].copy_from_slice(&domain.to_le_bytes());
    HopKey::from_le_bytes(bytes)
}

/// Return the domain, station and next hop of a key.
fn hop_parts(key: HopKey) -> (Domain, [u8; 6], [u8; 6]) {
    let b = key.to_le_bytes();
    let mac = |at: usize| -> [u8; 6] { b[at..at + 6].try_into().expect("6 bytes") };
    (Domain::from_le_bytes([b[12], b[13], b[14], b[15]]), mac(6), mac(0))
}

/// ARP bindings and next hops.
#[derive(Debug, Default)]
struct Hosts {
    /// Whether the capture has carried Ethernet/IPv4 ARP so far.
    arp_seen: bool,
    /// The MACs ARP bound each on-link address to.
    bindings: FlowTable<(Domain, [u8; 4]), Binding>,
    /// MACs an ARP packet announced (as its sender or Ethernet source).
    announced: FlowTable<(Domain, [u8; 6]), Announced>,
    /// Next hops that were not announced when a station's first frame went
    /// to them.
    unresolved: FlowTable<HopKey, Hop>,
    /// How many next hops were recorded before the first ARP packet.
    early: usize,
    /// The last two next hops, whose first frame is already handled (the
    /// two directions of a conversation).
    recent: [HopKey; 2],
}

/// Return whether `mac` is one station's address: neither group (I/G bit)
/// nor all zeros.
fn station(mac: &[u8; 6]) -> bool {
    mac[0] & 1 == 0 && *mac != [0; 6]
}

/// Return whether `ip` can be one host's address: not 0.0.0.0 (RFC 1122
/// §3.2.1.3, "this host" while it has no address), not class D/E or the
/// limited broadcast (RFC 1112 §4).
fn host_address(ip: &[u8; 4]) -> bool {
    *ip != [0; 4] && ip[0] < 224
}

/// Return the broadcast domain of an Ethernet frame: its VLAN ids (up to
/// two tags), 0 untagged.
fn domain(data: &[u8]) -> Domain {
    if !matches!(data.get(12), Some(0x81 | 0x88 | 0x91)) {
        return 0;
    }
    let mut tags = 0;
    let mut at = 12;
    for _ in 0..2 {
        match data.get(at..at + 4) {
            Some(&[0x81, 0x00, high, low] | &[0x88, 0xa8, high, low] | &[0x91, 0x00, high, low]) => {
                tags = tags << 12 | Domain::from(u16::from_be_bytes([high, low]) & 0x0fff);
                at += 4;
            }
            _ => break,
        }
    }
    tags
}

impl Hosts {
    fn new(limits: Limits) -> Hosts {
        Hosts {
            bindings: FlowTable::new(limits.max_flows),
            announced: FlowTable::new(limits.max_flows),
            unresolved: FlowTable::new(limits.max_flows),
            ..Hosts::default()
        }
    }

    /// Learn from an ARP packet, judge an IPv4 frame's MACs and note its
    /// next hop.
    #[inline(never)]
    fn check(&mut self, frame: &Frame<'_>, sink: &mut Sink) {
        let Link::Ethernet { src, dst, .. } = frame.link else { return };
        let domain = domain(frame.data);
        match &frame.net {
            Net::Arp(arp) => self.arp(frame.number, domain, src, arp),
            Net::Ipv4 { slice, .. } => {
                let header = slice.header();
                let (src_ip, dst_ip) = (header.source(), header.destination());
                // Bindings exist only once ARP was seen.
                let conflict = self.arp_seen && self.conflict(domain, (src, dst), (src_ip, dst_ip), sink);
                if !conflict && station(&dst) {
                    self.next_hop(frame.number, domain, hop_key(domain, frame.data), dst_ip, sink);
                }
            }
            _ => {}
        }
    }

    /// Learn the bindings and announced MACs of an Ethernet/IPv4 ARP
    /// packet.
    fn arp(&mut self, number: u64, domain: Domain, eth_src: [u8; 6], arp: &etherparse::ArpPacketSlice<'_>) {
        if arp.hw_addr_type() != ArpHardwareId::ETHERNET || arp.proto_addr_type() != EtherType::IPV4 {
            return;
        }
        let (Ok(sender_mac), Ok(sender_ip)) =
            (<[u8; 6]>::try_from(arp.sender_hw_addr()), <[u8; 4]>::try_from(arp.sender_protocol_addr()))
        else {
            return;
        };
        self.arp_seen = true;
        // A request that resolves: not a probe (sender 0.0.0.0, RFC 5227
        // §2.1.1) nor an announcement (sender = target, RFC 5227 §2.3).
        let target_ip = arp.target_protocol_addr();
        let resolves = arp.operation() == ArpOperation::REQUEST && host_address(&sender_ip) && target_ip != sender_ip;
        // A false sender MAC (`arp.mac_mismatch`) leaves two candidates:
        // both are bound, the check that saw the lie reports it.
        let macs = [sender_mac, eth_src];
        let macs = macs.iter().filter(|m| station(m));
        for m in macs.clone() {
            self.announced.entry(&(domain, *m), || Announced { frame: number, resolves }, |_, _| {}).resolves |=
                resolves;
        }
        if host_address(&sender_ip) {
            let binding = self.bindings.entry(
                &(domain, sender_ip),
                || Binding { macs: [[0; 6]; MAX_MACS], len: 0, frame: number },
                |_, _| {},
            );
            for m in macs {
                binding.add(*m);
            }
        }
    }

    /// Note the next hop of an IPv4 frame to `dst` if its station's first
    /// frame to it was not resolved then.
    fn next_hop(&mut self, number: u64, domain: Domain, hop: HopKey, dst: [u8; 4], sink: &mut Sink) {
        if hop == self.recent[0] || hop == self.recent[1] {
            return;
        }
        self.recent = [hop, self.recent[0]];
        if self.arp_seen {
            if self.announced.get_mut(&(domain, hop_parts(hop).2)).is_some() {
                return;
            }
        } else if self.early == EARLY_HOPS {
            return;
        }
        let Hosts { announced, unresolved, early, arp_seen, .. } = self;
        unresolved.entry(
            &hop,
            || {
                *early += usize::from(!*arp_seen);
                Hop { frame: number, dst }
            },
            |key, old| missing_resolution(sink, announced, key, &old),
        );
    }

    /// Report an on-link address carried with another MAC than ARP bound
    /// it to; return whether one was reported.
    fn conflict(
        &mut self,
        domain: Domain,
        (eth_src, eth_dst): ([u8; 6], [u8; 6]),
        (src, dst): ([u8; 4], [u8; 4]),
        sink: &mut Sink,
    ) -> bool {
        let mut wrong = Vec::new();
        if station(&eth_src) && host_address(&src) {
            if let Some(binding) = self.bindings.get_mut(&(domain, src)).copied() {
                if !binding.contains(&eth_src)
                    && (binding.contains(&eth_dst) || self.announced.get_mut(&(domain, eth_src)).is_none())
                {
                    wrong.push(format!("source {} comes from {}", ip4(src), mac(&eth_src)) + &bound(&binding));
                }
            }
        }
        if station(&eth_dst) && host_address(&dst) {
            if let Some(binding) = self.bindings.get_mut(&(domain, dst)).copied() {
                if !binding.contains(&eth_dst)
                    && (binding.contains(&eth_src) || self.announced.get_mut(&(domain, eth_dst)).is_none())
                {
                    wrong.push(format!("destination {} goes to {}", ip4(dst), mac(&eth_dst)) + &bound(&binding));
                }
            }
        }
        if wrong.is_empty() {
            return false;
        }
        sink.report(Severity::Error, "host.mac_conflict", Protocol::Eth, wrong.join("; "));
        true
    }

    fn finish(&mut self, sink: &mut Sink) {
        for (key, hop) in self.unresolved.drain_by_age() {
            missing_resolution(sink, &mut self.announced, key, &hop);
        }
    }
}

/// Describe a binding: `, but ARP bound it to MAC (frame N)`.
fn bound(binding: &Binding) -> String {
    let macs: Vec<String> = binding.macs().iter().map(|m| mac(m)).collect();
    format!(", but ARP bound it to {} (frame {})", macs.join(" and "), binding.frame)
}

/// Report a next hop a station used unresolved, if the station resolves
/// its next hops with ARP in the capture (the others may rightly hold
/// entries cached before it began); the hop's entry leaves the table (at
/// the end, or evicted), so `announced` tells whether ARP resolved it
/// later.
fn missing_resolution(
    sink: &mut Sink,
    announced: &mut FlowTable<(Domain, [u8; 6]), Announced>,
    key: HopKey,
    hop: &Hop,
) {
    let (domain, station, next_hop) = hop_parts(key);
    if !announced.get_mut(&(domain, station)).is_some_and(|a| a.resolves) {
        return;
    }
    let when = match announced.get_mut(&(domain, next_hop)) {
        Some(later) => format!("ARP resolves it only later, in frame {}", later.frame),
        None => "no ARP exchange in the capture resolves it".to_string(),
    };
    sink.report_at(
        hop.frame,
        Severity::Warn,
        "arp.missing_resolution",
        Protocol::Arp,
        format!(
            "first IPv4 frame from {} to next hop {} (destination {}): {when}",
            mac(&station),
            mac(&next_hop),
            ip4(hop.dst)
        ),
    );
}

// ---------------------------------------------------------------------------
// DNS answers against connections.

/// What the DNS answers one client received say about one name.
#[derive(Debug, Default)]
struct Name {
    /// Addresses the answers gave: A records owned by the name, and every
    /// A record of a response to a question for it (a CNAME chain resolved
    /// in one response).
    addrs: Vec<[u8; 4]>,
    /// The canonical name an answer gave for it.
    cname: Option<String>,
    /// The first response that gave it addresses.
    frame: u64,
    /// The first connection to the name that went elsewhere: (frame,
    /// destination).
    bypassed: Option<(u64, [u8; 4])>,
}

/// A DNS exchange that gave a client addresses, waiting for its next
/// connection.
#[derive(Debug)]
struct Exchange {
    name: String,
    frame: u64,
    ts: Timestamp,
}

/// A connection opened right after a DNS exchange to an address no answer
/// gave, waiting for its first client payload: an HTTP request decides by
/// its `Host` instead.
#[derive(Debug)]
struct Candidate {
    client: [u8; 4],
    name: String,
    exchange: u64,
    frame: u64,
    dst: [u8; 4],
}

/// Names, addresses and the connections between them.
#[derive(Debug, Default)]
struct Names {
    /// Whether a DNS answer gave an IPv4 address yet (nothing else is done
    /// until then).
    active: bool,
    /// What the answers a client received say of each name: a client's
    /// connections are held to its own answers only (clients of one
    /// resolver may get different addresses for one name: round-robin DNS,
    /// content delivery networks).
    names: FlowTable<([u8; 4], String), Name>,
    /// Every (client, address) an answer gave, and whether the client sent
    /// traffic to it.
    addrs: FlowTable<([u8; 4], [u8; 4]), bool>,
    /// Per client, its last DNS exchange not yet followed by a connection.
    exchanges: FlowTable<[u8; 4], Exchange>,
    /// Connections waiting for their first client payload.
    candidates: FlowTable<TcpKey, Candidate>,
    /// How many entries `candidates` holds (no lookup while none).
    waiting: usize,
}

/// Return a name as the tables key it: ASCII lower case, no final dot.
fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Return the name a `Host` field value names: without a scheme (answers
/// copy `http://host/` from summaries), path or port; `None` for an IP
/// literal or nothing.
fn host_name(value: &[u8]) -> Option<String> {
    let value = std::str::from_utf8(value).ok()?.trim();
    let lower = value.to_ascii_lowercase();
    let rest = ["http://", "https://"].iter().find_map(|s| lower.strip_prefix(s)).unwrap_or(&lower);
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.starts_with('[') {
        return None; // RFC 3986 §3.2.2: an IPv6 literal.
    }
    let host = authority.rsplit_once(':').map_or(authority, |(host, _port)| host);
    let host = normalize(host);
    (!host.is_empty() && host.parse::<std::net::Ipv4Addr>().is_err()).then_some(host)
}

fn list(addrs: &[[u8; 4]]) -> String {
    addrs.iter().map(|a| ip4(*a).to_string()).collect::<Vec<_>>().join(", ")
}

impl Names {
    fn new(limits: Limits) -> Names {
        Names {
            names: FlowTable::new(limits.max_flows),
            addrs: FlowTable::new(limits.max_flows),
            exchanges: FlowTable::new(limits.max_flows),
            candidates: FlowTable::new(limits.max_flows),
            ..Names::default()
        }
    }

    /// Learn from a DNS response, judge a connection or an HTTP request.
    #[inline(never)]
    fn check(&mut self, frame: &Frame<'_>, sink: &mut Sink) {
        if frame.present.contains(Protocol::Dns) {
            self.dns(frame);
        }
        if !self.active {
            return;
        }
        let Some((src, dst)) = frame.ipv4_addrs() else { return };
        if let Some(used) = self.addrs.get_mut(&(src, dst)) {
            *used = true;
        }
        let Transport::Tcp(tcp) = &frame.transport else { return };
        if tcp.syn() && !tcp.ack() {
            self.connect(frame, (src, dst), tcp.destination_port());
        }
        let payload = tcp.payload();
        if payload.is_empty() {
            return;
        }
        let request = http::looks_like_http(payload).then(|| http::request_host(payload)).flatten();
        if self.waiting > 0 {
            if let Some(key) = tcp_key(frame) {
                if self.candidates.get_mut(&key).is_some_and(|c| c.client == src) {
                    let candidate = self.candidates.remove(&key).expect("just found");
                    self.waiting -= 1;
                    if request.is_none() {
                        self.bypass(sink, candidate);
                    }
                }
            }
        }
        if let Some((target, host)) = request {
            self.request(frame.number, (src, dst), target, host, sink);
        }
    }

    /// Learn what a DNS response answers.
    fn dns(&mut self, frame: &Frame<'_>) {
        let mut message = frame.app_payload();
        if let Transport::Tcp(_) = frame.transport {
            // RFC 1035 §4.2.2: a two-byte length prefix.
            message = message.get(2..).unwrap_or_default();
        }
        // The QR bit, before any parsing: queries say nothing here.
        if message.get(2).is_none_or(|flags| flags & 0x80 == 0) {
            return;
        }
        let Some(response) = dns::Repr::parse_lenient(message) else { return };
        let Some(question) = response.questions.first() else { return };
        let Some((_, client)) = frame.ipv4_addrs() else { return };
        let asked = normalize(&question.name);
        let mut any = false;
        for record in response.answers.iter().filter(|r| r.class & 0x7fff == 1) {
            let owner = normalize(&record.name);
            match &record.data {
                dns::RecordData::A(address) => {
                    let address = address.octets();
                    any = true;
                    self.addrs.entry(&(client, address), || false, |_, _| {});
                    for name in [&owner, &asked] {
                        let entry = self.learn(client, name, frame.number);
                        if !entry.addrs.contains(&address) && entry.addrs.len() < MAX_ADDRS {
                            entry.addrs.push(address);
                        }
                    }
                }
                dns::RecordData::Name(target) if record.rtype == dns::RecordType::Cname => {
                    self.learn(client, &owner, frame.number).cname = Some(normalize(target));
                }
                _ => {}
            }
        }
        if any {
            self.active = true;
            let exchange = Exchange { name: asked, frame: frame.number, ts: frame.ts };
            *self.exchanges.entry(&client, || Exchange { name: String::new(), frame: 0, ts: 0 }, |_, _| {}) = exchange;
        }
    }

    /// Return the entry of `name`, made if new.
    fn learn(&mut self, client: [u8; 4], name: &str, frame: u64) -> &mut Name {
        self.names.entry(&(client, name.to_string()), || Name { frame, ..Name::default() }, |_, _| {})
    }

    /// Return every address the answers `client` received gave for `name`,
    /// following CNAMEs.
    fn resolve(&mut self, client: [u8; 4], name: &str) -> Vec<[u8; 4]> {
        let mut out = Vec::new();
        let mut current = (client, name.to_string());
        for _ in 0..MAX_CNAME_HOPS {
            let Some(entry) = self.names.get_mut(&current) else { break };
            for address in &entry.addrs {
                if !out.contains(address) {
                    out.push(*address);
                }
            }
            match &entry.cname {
                Some(next) if *next != current.1 => current.1 = next.clone(),
                _ => break,
            }
        }
        out
    }

    /// Remember a client's first connection right after its DNS exchange
    /// when it goes to an address no answer gave.
    fn connect(&mut self, frame: &Frame<'_>, (client, server): ([u8; 4], [u8; 4]), port: u16) {
        if DNS_PORTS.contains(&port) {
            return; // DNS over TCP: the resolver, not the server a name was asked for.
        }
        let Some(exchange) = self.exchanges.remove(&client) else { return };
        if frame.ts.saturating_sub(exchange.ts) > CONNECT_WINDOW || self.addrs.get_mut(&(client, server)).is_some() {
            return;
        }
        let Some(key) = tcp_key(frame) else { return };
        let candidate =
            Candidate { client, name: exchange.name, exchange: exchange.frame, frame: frame.number, dst: server };
        let fresh = self.candidates.get_mut(&key).is_none();
        // Evicted candidates are dropped: their flows are long gone.
        let mut evicted = 0;
        *self.candidates.entry(
            &key,
            || Candidate { client, name: String::new(), exchange: 0, frame: 0, dst: server },
            |_, _| evicted += 1,
        ) = candidate;
        self.waiting = self.waiting + usize::from(fresh) - evicted;
    }

    /// Report a connection right after a DNS exchange that went elsewhere.
    fn bypass(&mut self, sink: &mut Sink, candidate: Candidate) {
        let addrs = self.resolve(candidate.client, &candidate.name);
        sink.report_at(
            candidate.frame,
            Severity::Warn,
            "flow.unresolved_destination",
            Protocol::Ip,
            format!(
                "first connection after the DNS exchange for {} (frame {}) goes to {}, which no DNS answer gave (the answer: {})",
                candidate.name,
                candidate.exchange,
                ip4(candidate.dst),
                list(&addrs)
            ),
        );
        if let Some(entry) = self.names.get_mut(&(candidate.client, candidate.name)) {
            entry.bypassed.get_or_insert((candidate.frame, candidate.dst));
        }
    }

    /// Judge an HTTP request's destination against the answers for its
    /// `Host`.
    fn request(&mut self, number: u64, (client, dst): ([u8; 4], [u8; 4]), target: &str, host: &[u8], sink: &mut Sink) {
        // RFC 9112 §3.2.2-3.2.4: absolute form goes to a proxy, authority
        // form (CONNECT) and asterisk form name no server of the Host.
        if !target.starts_with('/') {
            return;
        }
        let Some(name) = host_name(host) else { return };
        let addrs = self.resolve(client, &name);
        if addrs.is_empty() || addrs.contains(&dst) {
            return;
        }
        let frame = self.names.get_mut(&(client, name.clone())).map_or(0, |entry| {
            entry.bypassed.get_or_insert((number, dst));
            entry.frame
        });
        sink.report(
            Severity::Warn,
            "flow.unresolved_destination",
            Protocol::Ip,
            format!(
                "HTTP request for {name} goes to {}, but the capture's DNS answer (frame {frame}) gives {name} {}",
                ip4(dst),
                list(&addrs)
            ),
        );
    }

    fn finish(&mut self, sink: &mut Sink) {
        let candidates: Vec<_> = self.candidates.drain_by_age().collect();
        for (_, candidate) in candidates {
            self.bypass(sink, candidate);
        }
        self.waiting = 0;
        for ((client, name), entry) in self.names.drain_by_age() {
            let Some((frame, dst)) = entry.bypassed else { continue };
            let used = entry.addrs.iter().any(|a| self.addrs.get_mut(&(client, *a)).is_some_and(|used| *used));
            if used || entry.addrs.is_empty() {
                continue;
            }
            sink.report_at(
                entry.frame,
                Severity::Note,
                "dns.unused_answer",
                Protocol::Dns,
                format!("no traffic goes to the answer for {name} ({}): the connection to {name} in frame {frame} goes to {}", list(&entry.addrs), ip4(dst)),
            );
        }
    }
}

#[cfg(test)]
mod test {
    use super::super::arp::test::arp;
    use super::super::testutil::*;
    use super::*;
    use crate::finding::Finding;
    use crate::pcap::LinkType;
    use crate::testkit::http_conversation;
    use crate::wire::dns::{Flags, Question, Record, RecordData, RecordType, Repr};

    const CLIENT: [u8; 4] = [34, 235, 250, 23];
    const GATEWAY: [u8; 4] = [34, 235, 250, 1];
    const RESOLVER: [u8; 4] = [104, 244, 42, 65];
    const SERVER: [u8; 4] = [185, 199, 108, 153];
    const OTHER: [u8; 4] = [185, 199, 109, 153];
    const MC: [u8; 6] = [0x26, 0, 0, 0x8b, 0x4c, 0x1f];
    const MG: [u8; 6] = [2, 0, 0, 0xad, 0xf0, 0xfa];
    const MX: [u8; 6] = [2, 0, 0, 0x11, 0x22, 0x33];
    const BROADCAST: [u8; 6] = [0xff; 6];
    const NAME: &str = "www.uam.es";

    fn a(name: &str, address: [u8; 4]) -> Record {
        Record { name: name.into(), rtype: RecordType::A, class: 1, ttl: 300, data: RecordData::A(address.into()) }
    }

    fn cname(name: &str, target: &str) -> Record {
        Record {
            name: name.into(),
            rtype: RecordType::Cname,
            class: 1,
            ttl: 300,
            data: RecordData::Name(target.into()),
        }
    }

    /// A DNS message for `name`: a query, or a response with `answers`.
    fn dns_message(name: &str, response: bool, answers: Vec<Record>) -> Vec<u8> {
        let flags = Flags { response, recursion_desired: true, recursion_available: response, ..Flags::default() };
        let question = Question { name: name.into(), qtype: RecordType::A, qclass: 1 };
        Repr { id: 0x1234, flags, questions: vec![question], answers, authorities: Vec::new(), additionals: Vec::new() }
            .to_bytes()
    }

    fn up(ip: &[u8]) -> Vec<u8> {
        ethernet(MC, MG, 0x0800, ip)
    }

    fn down(ip: &[u8]) -> Vec<u8> {
        ethernet(MG, MC, 0x0800, ip)
    }

    /// ARP for the gateway.
    fn arp_exchange() -> Vec<Vec<u8>> {
        vec![arp(MC, BROADCAST, 1, MC, CLIENT, [0; 6], GATEWAY), arp(MG, MC, 2, MG, GATEWAY, MC, CLIENT)]
    }

    /// A DNS exchange through the gateway.
    fn lookup(name: &str, answers: Vec<Record>) -> Vec<Vec<u8>> {
        vec![
            up(&udp(CLIENT, RESOLVER, 53124, 53, &dns_message(name, false, Vec::new()))),
            down(&udp(RESOLVER, CLIENT, 53, 53124, &dns_message(name, true, answers))),
        ]
    }

    /// An HTTP exchange with `server`, naming `host`, through the gateway.
    fn browse(server: [u8; 4], host: &str) -> Vec<Vec<u8>> {
        send(server, &format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n"))
    }

    /// An HTTP exchange with `server` carrying `request`, through the gateway.
    fn send(server: [u8; 4], request: &str) -> Vec<Vec<u8>> {
        http_conversation(CLIENT, 45136, server, 1000, 5000, request.as_bytes(), OK)
            .iter()
            .map(|ip| if ip[12..16] == CLIENT { up(ip) } else { down(ip) })
            .collect()
    }

    /// The paper's day in the life: ARP, DNS, HTTP; the DNS answer gives
    /// `answer`.
    fn day(answer: [u8; 4]) -> Vec<Vec<u8>> {
        [arp_exchange(), lookup(NAME, vec![a(NAME, answer)]), browse(SERVER, NAME)].concat()
    }

    /// Every cross-protocol finding, notes included: `(frame, check)`.
    fn cross(findings: &[Finding]) -> Vec<(u64, String)> {
        let ours = ["host.mac_conflict", "arp.missing_resolution", "flow.unresolved_destination", "dns.unused_answer"];
        let mut out: Vec<(u64, String)> =
            findings.iter().filter(|f| ours.contains(&&*f.check)).map(|f| (f.frame, f.check.to_string())).collect();
        out.sort();
        out
    }

    fn run(frames: &[Vec<u8>]) -> Vec<(u64, String)> {
        cross(&check_frames(LinkType::Ethernet, frames))
    }

    #[test]
    fn test_consistent_day_is_clean() {
        let findings = check_frames(LinkType::Ethernet, &day(SERVER));
        assert_eq!(ids(&findings), vec![]);
        assert_eq!(cross(&findings), vec![]);
    }

    #[test]
    fn test_dns_answer_bypassed() {
        let findings = check_frames(LinkType::Ethernet, &day(OTHER));
        // The request (frame 8) goes elsewhere; the answer (frame 4) is unused.
        assert_eq!(cross(&findings), vec![(4, "dns.unused_answer".into()), (8, "flow.unresolved_destination".into())]);
        let warn = findings.iter().find(|f| f.check == "flow.unresolved_destination").unwrap();
        assert!(
            warn.message.contains("185.199.108.153")
                && warn.message.contains("185.199.109.153")
                && warn.message.contains("frame 4"),
            "{}",
            warn.message
        );
        assert_eq!(warn.severity, Severity::Warn);
    }

    #[test]
    fn test_cname_chains_and_several_addresses() {
        // www → cdn in one response, the A record owned by the canonical name.
        let chain = vec![cname(NAME, "cdn.example.net."), a("cdn.example.net", OTHER), a("cdn.example.net", SERVER)];
        assert_eq!(run(&[arp_exchange(), lookup(NAME, chain), browse(SERVER, NAME)].concat()), vec![]);
        // The chain across two responses (the second for the canonical name).
        let frames = [
            arp_exchange(),
            lookup(NAME, vec![cname(NAME, "cdn.example.net")]),
            lookup("cdn.example.net", vec![a("cdn.example.net", SERVER)]),
            browse(SERVER, "WWW.UAM.ES."),
        ]
        .concat();
        assert_eq!(run(&frames), vec![]);
        let frames = [
            arp_exchange(),
            lookup(NAME, vec![cname(NAME, "cdn.example.net")]),
            lookup("cdn.example.net", vec![a("cdn.example.net", OTHER)]),
            browse(SERVER, NAME),
        ]
        .concat();
        assert_eq!(
            run(&frames).iter().filter(|(_, c)| c == "flow.unresolved_destination").count(),
            1,
            "{:?}",
            run(&frames)
        );
    }

    #[test]
    fn test_host_forms() {
        assert_eq!(host_name(b"WWW.Uam.es:8080").as_deref(), Some("www.uam.es"));
        assert_eq!(host_name(b" http://www.adobe.com/ ").as_deref(), Some("www.adobe.com"));
        assert_eq!(host_name(b"www.uam.es.").as_deref(), Some("www.uam.es"));
        assert_eq!(host_name(b"185.199.108.153"), None);
        assert_eq!(host_name(b"[2001:db8::1]:80"), None);
        assert_eq!(host_name(b""), None);
        // The scheme a summary carries does not hide the mismatch.
        let frames =
            [arp_exchange(), lookup(NAME, vec![a(NAME, OTHER)]), browse(SERVER, "http://www.uam.es/")].concat();
        assert!(run(&frames).contains(&(8, "flow.unresolved_destination".into())));
    }

    #[test]
    fn test_proxy_request_and_unresolved_host_not_judged() {
        // Absolute form: the connection goes to a proxy (RFC 9112 §3.2.2).
        let proxied = send(OTHER, &format!("GET http://{NAME}/ HTTP/1.1\r\nHost: {NAME}\r\n\r\n"));
        assert_eq!(run(&[arp_exchange(), lookup(NAME, vec![a(NAME, SERVER)]), proxied].concat()), vec![]);
        // A Host the capture never resolved, and an answer never connected to.
        assert_eq!(
            run(&[arp_exchange(), lookup("other.example", vec![a("other.example", OTHER)]), browse(SERVER, NAME)]
                .concat()),
            vec![]
        );
    }

    #[test]
    fn test_answers_bind_their_client_only() {
        // Another client reaching the name elsewhere got its own answer
        // (round-robin DNS, a CDN), outside the capture.
        let neighbour = [34, 235, 250, 24];
        let request = format!("GET / HTTP/1.1\r\nHost: {NAME}\r\n\r\n");
        let other: Vec<Vec<u8>> = http_conversation(neighbour, 40000, OTHER, 1, 5, request.as_bytes(), OK)
            .iter()
            .map(|ip| ethernet(MG, MX, 0x0800, ip))
            .collect();
        assert_eq!(run(&[day(SERVER), other].concat()), vec![]);
    }

    #[test]
    fn test_connection_right_after_lookup() {
        let tls = |server: [u8; 4]| -> Vec<Vec<u8>> {
            vec![
                up(&tcp(CLIENT, server, 40000, 443, "S", 1, 0, b"")),
                down(&tcp(server, CLIENT, 443, 40000, "SA", 9, 2, b"")),
                up(&tcp(CLIENT, server, 40000, 443, "A", 2, 10, b"")),
                up(&tcp(CLIENT, server, 40000, 443, "PA", 2, 10, b"\x16\x03\x01\x00\x01\x01")),
            ]
        };
        // To the answer: fine. Elsewhere: the SYN (frame 5) is reported, the answer noted.
        assert_eq!(run(&[arp_exchange(), lookup(NAME, vec![a(NAME, SERVER)]), tls(SERVER)].concat()), vec![]);
        assert_eq!(
            run(&[arp_exchange(), lookup(NAME, vec![a(NAME, SERVER)]), tls(OTHER)].concat()),
            vec![(4, "dns.unused_answer".into()), (5, "flow.unresolved_destination".into())]
        );
        // To another name's answer: a connection to that name.
        let frames = [
            arp_exchange(),
            lookup("other.example", vec![a("other.example", OTHER)]),
            lookup(NAME, vec![a(NAME, SERVER)]),
            tls(OTHER),
        ]
        .concat();
        assert_eq!(run(&frames), vec![]);
        // Long after the exchange: not the connection it was made for.
        let mut late = check_frames_at(
            &[arp_exchange(), lookup(NAME, vec![a(NAME, SERVER)]), tls(OTHER)].concat(),
            5,
            10_000_000_000,
        );
        late.retain(|(_, c)| c != "dns.unused_answer");
        assert_eq!(late, vec![]);
        // A SYN and nothing more: decided at the end.
        let frames = [
            arp_exchange(),
            lookup(NAME, vec![a(NAME, SERVER)]),
            vec![up(&tcp(CLIENT, OTHER, 40000, 443, "S", 1, 0, b""))],
        ]
        .concat();
        assert!(run(&frames).contains(&(5, "flow.unresolved_destination".into())));
    }

    /// Like [`run`], with frames from `from` (1-based) on shifted by `delay`
    /// nanoseconds.
    fn check_frames_at(frames: &[Vec<u8>], from: u64, delay: u64) -> Vec<(u64, String)> {
        let mut checker = crate::check::Checker::new(Limits::default());
        let mut sink = Sink::new();
        for (i, data) in frames.iter().enumerate() {
            let number = i as u64 + 1;
            let ts = 1_000_000 * number + if number >= from { delay } else { 0 };
            let raw = crate::pcap::RawFrame {
                linktype: LinkType::Ethernet,
                ts,
                orig_len: data.len() as u32,
                data,
                offset: 0,
            };
            checker.check_frame(&mut crate::dissect::dissect(number, &raw), &mut sink);
        }
        checker.finish(&mut sink);
        cross(sink.findings())
    }

    #[test]
    fn test_client_behind_two_macs() {
        // The client's IP frames come from MX, not the MAC its ARP announced.
        let mut frames = day(SERVER);
        for frame in frames.iter_mut().skip(2) {
            for at in [0, 6] {
                if frame[at..at + 6] == MC {
                    frame[at..at + 6].copy_from_slice(&MX);
                }
            }
        }
        let findings = check_frames(LinkType::Ethernet, &frames);
        let found = cross(&findings);
        assert_eq!(found.len(), 13, "{found:?}");
        assert!(found.iter().all(|(n, c)| *n >= 3 && c == "host.mac_conflict"), "{found:?}");
        let first = findings.iter().find(|f| f.check == "host.mac_conflict").unwrap();
        assert_eq!((first.severity, first.protocol), (Severity::Error, Protocol::Eth));
        assert!(
            first.message.contains(
                "source 34.235.250.23 comes from 02:00:00:11:22:33, but ARP bound it to 26:00:00:8b:4c:1f (frame 1)"
            ),
            "{}",
            first.message
        );
    }

    #[test]
    fn test_routed_and_forwarded_traffic_not_blamed() {
        // Off-link addresses behind the gateway's MAC (the whole day story),
        // and the client's own packet forwarded back by the gateway, whose
        // MAC ARP announced (a hairpin: ICMP redirect scenarios).
        let mut frames = day(SERVER);
        frames.push(ethernet(MG, MX, 0x0800, &icmp_echo(CLIENT, [34, 235, 250, 40], false, 1, 1)));
        assert_eq!(run(&frames).iter().filter(|(_, c)| c == "host.mac_conflict").count(), 0);
        // A frame to the client sent from the client's own MAC through the
        // gateway (MACs swapped) is no forwarding.
        let mut frames = day(SERVER);
        frames.push(ethernet(MC, MG, 0x0800, &icmp_echo(SERVER, CLIENT, true, 1, 1)));
        assert_eq!(run(&frames).last(), Some(&(16, "host.mac_conflict".into())));
    }

    #[test]
    fn test_gratuitous_proxy_and_false_sender() {
        // Gratuitous ARP moves the client to MX: both MACs stay bound.
        let mut frames = day(SERVER);
        frames.push(arp(MX, BROADCAST, 1, MX, CLIENT, [0; 6], CLIENT));
        frames.push(ethernet(MX, MG, 0x0800, &icmp_echo(CLIENT, SERVER, false, 1, 1)));
        assert_eq!(run(&frames), vec![]);
        // A request whose sender MAC lies (arp.mac_mismatch reports it):
        // the Ethernet source is bound too.
        let mut frames = day(SERVER);
        frames[0] = arp(MC, BROADCAST, 1, MX, CLIENT, [0; 6], GATEWAY);
        frames[1] = arp(MG, MC, 2, MG, GATEWAY, MC, CLIENT);
        assert_eq!(run(&frames), vec![]);
        // An ARP probe (sender 0.0.0.0) binds nothing.
        let mut frames = vec![arp(MX, BROADCAST, 1, MX, [0; 4], [0; 6], CLIENT)];
        frames.extend(day(SERVER));
        assert_eq!(run(&frames), vec![]);
    }

    #[test]
    fn test_vlans_are_separate_domains() {
        let tag = |vlan: u16, frame: &[u8]| -> Vec<u8> {
            [&frame[..12], &[0x81, 0x00], &vlan.to_be_bytes()[..], &frame[12..]].concat()
        };
        // The same address behind another MAC on another VLAN.
        let mut frames: Vec<Vec<u8>> = day(SERVER).iter().map(|f| tag(10, f)).collect();
        frames.push(tag(20, &arp(MX, BROADCAST, 1, MX, CLIENT, [0; 6], GATEWAY)));
        frames.push(tag(20, &arp(MG, MX, 2, MG, GATEWAY, MX, CLIENT)));
        frames.push(tag(20, &ethernet(MX, MG, 0x0800, &icmp_echo(CLIENT, SERVER, false, 1, 1))));
        assert_eq!(run(&frames), vec![]);
        // On the same VLAN it conflicts.
        frames.pop();
        frames.push(tag(10, &ethernet(MX, MG, 0x0800, &icmp_echo(CLIENT, SERVER, false, 1, 1))));
        assert_eq!(run(&frames), vec![(18, "host.mac_conflict".into())]);
    }

    #[test]
    fn test_missing_resolution() {
        // The frames go to a gateway MAC the ARP exchange never gave.
        let mut frames = day(SERVER);
        frames[1] = arp(MX, MC, 2, MX, GATEWAY, MC, CLIENT);
        let findings = check_frames(LinkType::Ethernet, &frames);
        assert_eq!(cross(&findings), vec![(3, "arp.missing_resolution".into())]);
        let found = findings.iter().find(|f| f.check == "arp.missing_resolution").unwrap();
        assert!(
            found.message.contains(
                "from 26:00:00:8b:4c:1f to next hop 02:00:00:ad:f0:fa (destination 104.244.42.65): no ARP exchange"
            ),
            "{}",
            found.message
        );
        // The ARP exchange after the traffic that needed it: the client's
        // next hop (the gateway resolves nothing in the capture: it may
        // have known the client before).
        let mut frames = day(SERVER);
        frames.rotate_left(2);
        let findings = check_frames(LinkType::Ethernet, &frames);
        assert_eq!(cross(&findings), vec![(1, "arp.missing_resolution".into())]);
        assert!(findings.iter().any(|f| f.message.contains("from 26:00:00:8b:4c:1f to next hop 02:00:00:ad:f0:fa (destination 104.244.42.65): ARP resolves it only later, in frame 15")), "{findings:?}");
        // No ARP at all: nothing to hold the capture to.
        let frames: Vec<Vec<u8>> = day(SERVER).into_iter().skip(2).collect();
        assert_eq!(run(&frames), vec![]);
        // Broadcast and multicast destinations need no resolution.
        let mut frames = arp_exchange();
        frames.push(ethernet(MC, BROADCAST, 0x0800, &udp(CLIENT, [255; 4], 68, 67, b"x")));
        frames.push(ethernet(
            MC,
            [1, 0, 0x5e, 0, 0, 0xfb],
            0x0800,
            &udp(CLIENT, [224, 0, 0, 251], 5353, 5353, &dns_message(NAME, false, Vec::new())),
        ));
        assert_eq!(run(&frames), vec![]);
    }

    #[test]
    fn test_next_hops_before_any_arp_are_bounded() {
        // A capture without ARP records only its first EARLY_HOPS next hops:
        // when the client later turns out to resolve, those are reported.
        let hop = |i: usize| -> [u8; 6] { [2, 9, 0, 0, (i >> 8) as u8, i as u8] };
        let mut frames: Vec<Vec<u8>> = (0..EARLY_HOPS + 100)
            .map(|i| ethernet(MC, hop(i), 0x0800, &icmp_echo(CLIENT, SERVER, false, 1, i as u16)))
            .collect();
        frames.extend(arp_exchange());
        let found = run(&frames);
        assert_eq!(found.len(), EARLY_HOPS, "{:?}", &found[..3]);
        assert_eq!(found.last(), Some(&(EARLY_HOPS as u64, "arp.missing_resolution".into())));
    }

    #[test]
    fn test_raw_ip_has_no_macs_to_judge() {
        let frames: Vec<Vec<u8>> = day(OTHER).into_iter().skip(2).map(|f| f[14..].to_vec()).collect();
        let found = cross(&check_frames(LinkType::Raw, &frames));
        assert_eq!(found, vec![(2, "dns.unused_answer".into()), (6, "flow.unresolved_destination".into())]);
    }

    #[test]
    fn test_tables_stay_bounded() {
        // Many clients, each with its own story, through tables of 8: the
        // checks keep working and report each mismatch once.
        let mut checker = crate::check::Checker::new(Limits { max_flows: 8, ..Limits::default() });
        let mut sink = Sink::new();
        let mut number = 0;
        for i in 0..60u8 {
            let client = [10, 1, 0, i];
            let cmac = [2, 0, 0, 1, 0, i];
            let name = format!("host{i}.example");
            let answer = if i % 2 == 0 { SERVER } else { OTHER };
            let request = format!("GET / HTTP/1.1\r\nHost: {name}\r\n\r\n");
            let mut frames = vec![
                arp(cmac, BROADCAST, 1, cmac, client, [0; 6], GATEWAY),
                arp(MG, cmac, 2, MG, GATEWAY, cmac, client),
                ethernet(
                    MG,
                    cmac,
                    0x0800,
                    &udp(RESOLVER, client, 53, 5000, &dns_message(&name, true, vec![a(&name, answer)])),
                ),
            ];
            frames.extend(http_conversation(client, 45136, SERVER, 1, 5, request.as_bytes(), OK).iter().map(|ip| {
                if ip[12..16] == client {
                    ethernet(cmac, MG, 0x0800, ip)
                } else {
                    ethernet(MG, cmac, 0x0800, ip)
                }
            }));
            for data in &frames {
                number += 1;
                let raw = crate::pcap::RawFrame {
                    linktype: LinkType::Ethernet,
                    ts: number * 1000,
                    orig_len: data.len() as u32,
                    data,
                    offset: 0,
                };
                checker.check_frame(&mut crate::dissect::dissect(number, &raw), &mut sink);
            }
        }
        checker.finish(&mut sink);
        let count = |check: &str| sink.findings().iter().filter(|f| f.check == check).count();
        assert_eq!(count("flow.unresolved_destination"), 30);
        assert_eq!(count("host.mac_conflict") + count("arp.missing_resolution"), 0);
    }
}
