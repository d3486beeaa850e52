//! Replay one conversation: build the namespace pair, start the real
//! server, inject the client's frames with libpcap on the client end and
//! capture what the real server sends back, step by step.
//!
//! TCP is driven as tcpliveplay does: the client's SEQ numbers are kept
//! (the real server learns the client's ISN from its SYN), its ACK numbers
//! are moved from the model server's ISN to the real server's. An ACK that
//! acknowledges everything the model's server had sent at that point (or
//! its FIN) acknowledges everything the real server had sent (or its FIN),
//! so a response of another length (a `Date` header, another `Server`)
//! does not desynchronise the replay; any other ACK keeps its offset, so a
//! wrong ACK stays wrong.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};

use super::compare::{self, Step};
use super::servers::{self, HttpPlan, TcpApp, TcpScript};
use super::{Conversation, ConversationReport, OwnedFrame, Proto};
use crate::dissect::{Link, Net, Transport};
use crate::netns::{Endpoint, NetnsPair, PairConfig, IFACE};
use crate::pcap::LinkType;
use crate::scenario::{derived_mac, Scenario};
use crate::wire::dns::{Packet as DnsPacket, Question, Record, RecordData, RecordType, Repr as DnsRepr};

/// How long the replay waits after the last frame from the real server
/// before it sends the client's next frame. Longer than Linux's shortest
/// delayed-ACK timeout (40 ms), so delayed ACKs are seen.
const QUIET: Duration = Duration::from_millis(120);
/// The longest the replay waits for replies to one client frame.
const MAX_WAIT: Duration = Duration::from_millis(1500);

const ETHERTYPE_IPV4: [u8; 2] = [0x08, 0x00];

/// Where a TCP sender's sequence space stands: the ISN, how far its data
/// reaches (relative to ISN + 1) and where its FIN sits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SeqState {
    pub(crate) isn: Option<u32>,
    pub(crate) data_end: u32,
    pub(crate) fin_at: Option<u32>,
}

impl SeqState {
    /// Take a segment the tracked side sent into account.
    pub(crate) fn update(&mut self, syn: bool, fin: bool, seq: u32, len: u32) {
        if syn {
            self.isn = Some(seq);
            return;
        }
        let Some(isn) = self.isn else { return };
        let rel = seq.wrapping_sub(isn.wrapping_add(1));
        if rel > u32::MAX / 2 {
            return;
        }
        self.data_end = self.data_end.max(rel.wrapping_add(len));
        if fin {
            self.fin_at = Some(rel.wrapping_add(len));
        }
    }

    /// Return `seq` relative to ISN + 1.
    pub(crate) fn rel(&self, seq: u32) -> Option<u32> {
        self.isn.map(|isn| seq.wrapping_sub(isn.wrapping_add(1)))
    }
}

/// Map an ACK number the model's client sent (against the model server's
/// sequence space) onto the real server's.
pub(crate) fn map_ack(ack: u32, model: &SeqState, real: &SeqState) -> u32 {
    let (Some(model_isn), Some(real_isn)) = (model.isn, real.isn) else {
        return ack;
    };
    let rel = ack.wrapping_sub(model_isn.wrapping_add(1));
    let mapped = if model.fin_at.is_some_and(|f| rel == f.wrapping_add(1)) {
        real.fin_at.map_or(real.data_end, |g| g.wrapping_add(1))
    } else if rel == model.data_end {
        real.data_end
    } else {
        rel
    };
    real_isn.wrapping_add(1).wrapping_add(mapped)
}

fn is_unicast(mac: [u8; 6]) -> bool {
    mac[0] & 1 == 0 && mac != [0; 6]
}

/// The MACs of the two ends: the model's where it gives usable ones, else
/// derived from the address (as the harness derives them for L3 captures).
fn macs(conv: &Conversation) -> ([u8; 6], [u8; 6]) {
    let mut client = None;
    let mut server = None;
    for (frame, from_client) in &conv.frames {
        let dissected = frame.dissect();
        if let Link::Ethernet { dst, src, .. } = dissected.link {
            if *from_client {
                client = client.or(Some(src).filter(|m| is_unicast(*m)));
                server = server.or(Some(dst).filter(|m| is_unicast(*m)));
            } else if let Net::Arp(arp) = &dissected.net {
                let sha: Option<[u8; 6]> = arp.sender_hw_addr().try_into().ok();
                server = server.or(sha.filter(|m| is_unicast(*m)));
            } else {
                server = server.or(Some(src).filter(|m| is_unicast(*m)));
            }
        }
    }
    let client = client.unwrap_or_else(|| derived_mac(conv.client));
    let mut server = server.unwrap_or_else(|| derived_mac(conv.server));
    if server == client {
        server = derived_mac(conv.server);
    }
    (client, server)
}

/// The client's frame as it goes on the wire: an Ethernet frame from the
/// client's MAC to the server's (ARP keeps a broadcast destination).
fn to_ethernet(frame: &OwnedFrame, client_mac: [u8; 6], server_mac: [u8; 6]) -> Option<Vec<u8>> {
    let dissected = frame.dissect();
    let (l3, ether_type, dst) = match (dissected.link, &dissected.net) {
        (Link::Ethernet { ether_type, dst, .. }, Net::Arp(_)) => {
            let dst = if is_unicast(dst) { server_mac } else { dst };
            (&frame.data[frame.data.len() - arp_len(&frame.data)..], ether_type.to_be_bytes(), dst)
        }
        (_, Net::Ipv4 { offset, .. }) => (&frame.data[*offset..], ETHERTYPE_IPV4, server_mac),
        _ => return None,
    };
    let mut out = Vec::with_capacity(14 + l3.len());
    out.extend_from_slice(&dst);
    out.extend_from_slice(&client_mac);
    out.extend_from_slice(&ether_type);
    out.extend_from_slice(l3);
    Some(out)
}

/// Length of the frame after its Ethernet header (and VLAN tags).
fn arp_len(data: &[u8]) -> usize {
    let mut offset = 12;
    while data.len() >= offset + 2 && matches!(u16::from_be_bytes([data[offset], data[offset + 1]]), 0x8100 | 0x88a8) {
        offset += 4;
    }
    data.len().saturating_sub(offset + 2)
}

/// Rewrite the ACK number of the TCP segment in Ethernet frame `eth` and
/// fix the checksum when it was right before.
fn rewrite_ack(eth: &mut [u8], model: &SeqState, real: &SeqState) {
    let ip = &eth[14..];
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]])).min(ip.len());
    if ip.len() < ihl + 20 || total < ihl + 20 {
        return;
    }
    let tcp_start = 14 + ihl;
    let flags = eth[tcp_start + 13];
    if flags & 0x10 == 0 {
        return;
    }
    let old = u32::from_be_bytes(eth[tcp_start + 8..tcp_start + 12].try_into().unwrap_or_default());
    let new = map_ack(old, model, real);
    if new == old {
        return;
    }
    let was_valid = tcp_checksum(&eth[14..14 + total], ihl) == 0;
    eth[tcp_start + 8..tcp_start + 12].copy_from_slice(&new.to_be_bytes());
    if was_valid {
        eth[tcp_start + 16..tcp_start + 18].copy_from_slice(&[0, 0]);
        let sum = tcp_checksum(&eth[14..14 + total], ihl);
        eth[tcp_start + 16..tcp_start + 18].copy_from_slice(&sum.to_be_bytes());
    }
}

/// The TCP checksum over `ip` (an IPv4 packet with a header of `ihl`
/// bytes): 0 when the segment's checksum field is right.
fn tcp_checksum(ip: &[u8], ihl: usize) -> u16 {
    let segment = &ip[ihl..];
    let mut sum: u32 = 0;
    let mut add = |bytes: &[u8]| {
        for chunk in bytes.chunks(2) {
            let word =
                if chunk.len() == 2 { u16::from_be_bytes([chunk[0], chunk[1]]) } else { u16::from(chunk[0]) << 8 };
            sum += u32::from(word);
        }
    };
    add(&ip[12..20]);
    add(&[0, 6]);
    add(&(segment.len() as u16).to_be_bytes());
    add(segment);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// TCP facts of an Ethernet or raw frame: (syn, fin, seq, payload length).
fn tcp_facts(frame: &OwnedFrame) -> Option<(bool, bool, u32, u32)> {
    let dissected = frame.dissect();
    match &dissected.transport {
        Transport::Tcp(tcp) => Some((tcp.syn(), tcp.fin(), tcp.sequence_number(), tcp.payload().len() as u32)),
        _ => None,
    }
}

fn address(addr: Ipv4Addr, port: Option<u16>) -> String {
    port.map_or_else(|| addr.to_string(), |p| format!("{addr}:{p}"))
}

/// Replay `conv` and compare; `keep` receives the frames sent and received.
///
/// # Errors
/// When the namespaces or the server cannot be set up (a conversation the
/// kernel refuses, e.g. an address it will not assign, is reported as
/// skipped instead).
pub fn replay(
    conv: &Conversation,
    keep: Option<&Path>,
    versions: &mut BTreeMap<String, String>,
) -> Result<ConversationReport> {
    let (client_mac, server_mac) = macs(conv);
    let mut server = Endpoint::new(server_mac).with_ipv4(conv.server, 32);
    server.default_route = true;
    server.neighbours.push((conv.client, client_mac));
    let config = PairConfig { client: Endpoint::new(client_mac), server, mtu: None, no_segmentation_offload: true };
    let mut report = ConversationReport {
        protocol: conv.proto.name().to_string(),
        client: address(conv.client, conv.client_port),
        server: address(conv.server, conv.server_port),
        client_packets: conv.frames.iter().filter(|(_, c)| *c).count(),
        model_replies: conv.frames.iter().filter(|(_, c)| !*c).count(),
        real_replies: 0,
        matched: false,
        mismatches: Vec::new(),
        frames: conv.frames.iter().map(|(f, _)| f.number).collect(),
        skipped: None,
    };
    let mut pair = match NetnsPair::create(&config) {
        Ok(pair) => pair,
        Err(error @ crate::netns::NetnsError::NotPermitted { .. }) => return Err(error.into()),
        Err(error) => {
            report.skipped = Some(format!("the kernel refused the addressing: {error}"));
            return Ok(report);
        }
    };
    servers::versions(versions, &["linux"]);
    let _server = match start_server(conv, &mut pair, versions) {
        Ok(server) => server,
        Err(error) => {
            report.skipped = Some(format!("{error:#}"));
            return Ok(report);
        }
    };
    let steps = std::thread::scope(|scope| {
        let client = pair.client().clone();
        scope
            .spawn(move || -> Result<Vec<Step>> {
                client.enter()?;
                drive(conv, client_mac, server_mac)
            })
            .join()
            .map_err(|_| anyhow!("the replay thread panicked"))?
    })?;
    drop(_server);
    drop(pair);
    if let Some(path) = keep {
        write_kept(path, &steps).with_context(|| format!("writing {}", path.display()))?;
    }
    report.real_replies = steps.iter().map(|s| s.real.len()).sum();
    report.mismatches = compare::compare(conv, &steps);
    report.matched = report.mismatches.is_empty();
    Ok(report)
}

/// A server kept alive for the replay.
enum Running {
    Kernel,
    Thread(#[allow(dead_code)] servers::ThreadServer),
    Process,
}

fn start_server(conv: &Conversation, pair: &mut NetnsPair, versions: &mut BTreeMap<String, String>) -> Result<Running> {
    let port = conv.server_port.unwrap_or(0);
    let addr = SocketAddr::from((conv.server, port));
    match conv.proto {
        Proto::Arp | Proto::Icmp => Ok(Running::Kernel),
        Proto::Tcp => Ok(Running::Thread(servers::start_tcp(pair.server(), addr, TcpApp::Script(tcp_script(conv)))?)),
        Proto::Http => {
            servers::versions(versions, &["hyper"]);
            Ok(Running::Thread(servers::start_tcp(pair.server(), addr, TcpApp::Http(http_plan(conv)))?))
        }
        Proto::Dns => {
            servers::versions(versions, &["dnsmasq"]);
            let (records, local) = dns_records(conv);
            let (args, _unloadable) = servers::dnsmasq_records(&records, &local);
            servers::start_dnsmasq(pair, conv.server, port, &args)?;
            Ok(Running::Process)
        }
    }
}

/// What the HTTP server serves: the summary's path and status code (else
/// the model's response's status), with the body length of the model's
/// response (`Content-Length`, else its body).
fn http_plan(conv: &Conversation) -> HttpPlan {
    let mut status = None;
    let mut body_len = 0;
    let mut stream = Vec::new();
    for (frame, from_client) in &conv.frames {
        if !*from_client {
            stream.extend_from_slice(frame.dissect().app_payload());
        }
    }
    if let Some(start) = find(&stream, b"HTTP/1.") {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        if let Ok(httparse::Status::Complete(head)) = response.parse(&stream[start..]) {
            status = response.code;
            body_len = response
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse().ok())
                .unwrap_or(stream.len() - start - head);
        }
    }
    match &conv.scenario {
        Some(Scenario::HttpConversation(s)) => HttpPlan { path: Some(s.path.clone()), status: s.code, body_len },
        _ => HttpPlan { path: None, status: status.unwrap_or(200), body_len },
    }
}

/// The script of a non-HTTP TCP server: the model server's new bytes, each
/// after as many client bytes as the model's client had sent before them
/// (retransmitted bytes once), and whether its FIN came before the
/// client's.
fn tcp_script(conv: &Conversation) -> TcpScript {
    // Per side: the sequence number of its first byte, and how many bytes
    // past it were sent.
    let mut starts: [Option<u32>; 2] = [None, None];
    let mut sent = [0usize; 2];
    let mut fins = [false; 2];
    let mut script = TcpScript::default();
    for (frame, from_client) in &conv.frames {
        let frame = frame.dissect();
        let Transport::Tcp(tcp) = &frame.transport else { continue };
        let side = usize::from(!*from_client);
        let start = *starts[side].get_or_insert(tcp.sequence_number().wrapping_add(u32::from(tcp.syn())));
        let payload = tcp.payload();
        let offset = tcp.sequence_number().wrapping_add(u32::from(tcp.syn())).wrapping_sub(start) as usize;
        let end = offset.saturating_add(payload.len());
        if end > sent[side] && offset <= sent[side] {
            let new = &payload[sent[side] - offset..];
            if side == 1 {
                match script.steps.last_mut() {
                    Some((after, data)) if *after == sent[0] => data.extend_from_slice(new),
                    _ => script.steps.push((sent[0], new.to_vec())),
                }
            }
            sent[side] = end;
        }
        if tcp.fin() && !fins[side] {
            fins[side] = true;
            if side == 1 && !fins[0] {
                script.closes_first = true;
            }
        }
    }
    script
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The records the DNS server is loaded with: the summary's answer when
/// the capture has one beside it, else the model's own answers; and the
/// names it is authoritative for (the client's questions).
fn dns_records(conv: &Conversation) -> (Vec<Record>, Vec<String>) {
    let mut local = Vec::new();
    let mut model_answers = Vec::new();
    for (frame, from_client) in &conv.frames {
        let Some(repr) = dns_repr(frame.dissect().app_payload()) else { continue };
        if *from_client {
            local.extend(repr.questions.iter().map(|q: &Question| q.name.clone()));
        } else {
            model_answers.extend(repr.answers);
        }
    }
    if let Some(Scenario::DnsConversation(s)) = &conv.scenario {
        if let Some(record) = summary_record(&s.record.rtype, &s.record.name, &s.record.data) {
            return (vec![record], local);
        }
    }
    (model_answers, local)
}

fn dns_repr(payload: &[u8]) -> Option<DnsRepr> {
    DnsRepr::parse(&DnsPacket::new_checked(payload).ok()?).ok()
}

/// The summary's answer (`A www.example.com 203.0.113.9`) as a record.
fn summary_record(rtype: &str, name: &str, data: &str) -> Option<Record> {
    let (rtype, data) = match rtype.to_ascii_uppercase().as_str() {
        "A" => (RecordType::A, RecordData::A(data.parse().ok()?)),
        "AAAA" => (RecordType::Aaaa, RecordData::Aaaa(data.parse().ok()?)),
        "CNAME" => (RecordType::Cname, RecordData::Name(data.to_string())),
        "PTR" => (RecordType::Ptr, RecordData::Name(data.to_string())),
        "TXT" => (RecordType::Txt, RecordData::Txt(vec![data.trim_matches('"').as_bytes().to_vec()])),
        "MX" => {
            let (preference, exchange) = data.split_once(' ')?;
            (RecordType::Mx, RecordData::Mx { preference: preference.parse().ok()?, exchange: exchange.to_string() })
        }
        _ => return None,
    };
    Some(Record { name: name.to_string(), rtype, class: 1, ttl: 0, data })
}

/// Inject the client's frames one by one (this thread is inside the client
/// namespace) and collect the real replies after each.
fn drive(conv: &Conversation, client_mac: [u8; 6], server_mac: [u8; 6]) -> Result<Vec<Step>> {
    let capture = pcap::Capture::from_device(IFACE)
        .and_then(|c| c.immediate_mode(true).promisc(true).snaplen(65535).open())
        .context("opening the client end with libpcap")?;
    capture.direction(pcap::Direction::In).context("libpcap: capture incoming frames only")?;
    let mut capture = capture.setnonblock().context("libpcap: non-blocking mode")?;
    let mut model = SeqState::default();
    let mut real = SeqState::default();
    let mut steps = vec![Step { client: None, sent: None, model: Vec::new(), real: Vec::new() }];
    for (frame, from_client) in &conv.frames {
        if !*from_client {
            if let Some((syn, fin, seq, len)) = tcp_facts(frame) {
                model.update(syn, fin, seq, len);
            }
            steps.last_mut().expect("a step").model.push(frame.clone());
            continue;
        }
        let Some(mut eth) = to_ethernet(frame, client_mac, server_mac) else {
            steps.push(Step { client: Some(frame.number), sent: None, model: Vec::new(), real: Vec::new() });
            continue;
        };
        if matches!(conv.proto, Proto::Tcp | Proto::Http) {
            rewrite_ack(&mut eth, &model, &real);
        }
        capture.sendpacket(eth.as_slice()).context("libpcap: injecting a client frame")?;
        let mut step = Step { client: Some(frame.number), sent: Some(eth), model: Vec::new(), real: Vec::new() };
        let start = Instant::now();
        let mut last = start;
        while last.elapsed() < QUIET && start.elapsed() < MAX_WAIT {
            match capture.next_packet() {
                Ok(packet) => {
                    let data = packet.data.to_vec();
                    let owned = OwnedFrame { number: 0, linktype: LinkType::Ethernet, data };
                    if let Some((syn, fin, seq, len)) = tcp_facts(&owned) {
                        real.update(syn, fin, seq, len);
                    }
                    step.real.push(owned);
                    last = Instant::now();
                }
                Err(pcap::Error::TimeoutExpired) => std::thread::sleep(Duration::from_millis(1)),
                Err(error) => return Err(anyhow!("libpcap: reading replies: {error}")),
            }
        }
        steps.push(step);
    }
    Ok(steps)
}

fn write_kept(path: &Path, steps: &[Step]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut out = Vec::new();
    let mut writer = crate::pcap::Writer::new(&mut out, LinkType::Ethernet)?;
    let mut ts = 1_700_000_000_000_000_000u64;
    for step in steps {
        for frame in step.sent.iter().chain(step.real.iter().map(|f| &f.data)) {
            ts += 1_000_000;
            writer.write(ts, frame)?;
        }
    }
    writer.into_inner();
    std::fs::write(path, out)
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn acks_follow_the_real_servers_stream() {
        let mut model = SeqState::default();
        model.update(true, false, 1000, 0);
        model.update(false, false, 1001, 176);
        let mut real = SeqState::default();
        real.update(true, false, 50_000, 0);
        real.update(false, false, 50_001, 120);
        // All the model's data acknowledged: all the real data.
        assert_eq!(map_ack(1177, &model, &real), 50_121);
        // The handshake ACK.
        assert_eq!(map_ack(1001, &model, &SeqState { isn: Some(50_000), data_end: 0, fin_at: None }), 50_001);
        // A wrong ACK keeps its offset.
        assert_eq!(map_ack(1100, &model, &real), 50_100);
        // The model's FIN acknowledged: the real FIN, or the data end when
        // the real server has sent none.
        model.update(false, true, 1177, 0);
        assert_eq!(map_ack(1178, &model, &real), 50_121);
        real.update(false, true, 50_121, 0);
        assert_eq!(map_ack(1178, &model, &real), 50_122);
    }

    #[test]
    fn checksum_is_fixed_after_rewrite() {
        // SYN-less ACK segment 10.0.0.1:1000 -> 10.0.0.2:80 with a right checksum.
        let mut ip = vec![0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        ip.extend_from_slice(&[0x03, 0xe8, 0, 80, 0, 0, 0, 1, 0, 0, 0x03, 0xe9, 0x50, 0x10, 0x10, 0, 0, 0, 0, 0]);
        let sum = tcp_checksum(&ip, 20);
        ip[36..38].copy_from_slice(&sum.to_be_bytes());
        assert_eq!(tcp_checksum(&ip, 20), 0);
        let mut eth = vec![0u8; 14];
        eth.extend_from_slice(&ip);
        let model = SeqState { isn: Some(1000), data_end: 0, fin_at: None };
        let real = SeqState { isn: Some(7), data_end: 0, fin_at: None };
        rewrite_ack(&mut eth, &model, &real);
        assert_eq!(u32::from_be_bytes(eth[14 + 28..14 + 32].try_into().unwrap()), 8);
        assert_eq!(tcp_checksum(&eth[14..], 20), 0);
    }
}
