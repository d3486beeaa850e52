//! On the wire: replay the client side of each conversation of a capture
//! against real network stacks and compare the model's server replies with
//! the real ones (issue 18; DESIGN.md, "`harness onwire`").
//!
//! For each conversation (the ids of [`crate::check::Checker`], the same as
//! `check`), a fresh [`crate::netns::NetnsPair`] is built: the server end
//! gets the conversation's server address and MAC, and the real server for
//! the protocol runs there ([`servers`]: the kernel for ARP, ICMP and TCP;
//! dnsmasq for DNS; hyper for HTTP). The client's frames are injected with
//! libpcap on the client end, which has no address of its own, so the only
//! stack answering is the server's; TCP segments are rewritten to the real
//! server's ISN as tcpliveplay does ([`replay`]). [`compare`] then matches
//! the model's replies with the real ones, semantic fields only.

mod compare;
pub mod replay;
pub mod servers;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::check::{Checker, Limits, Sink};
use crate::dissect::{dissect, Frame, Net, Transport};
use crate::pcap::{LinkType, RawFrame, Reader};
use crate::scenario::{Mode, Scenario, SuiteProtocol};

pub use compare::Mismatch;

/// What `onwire` reports for one conversation.
#[derive(Debug, Clone, Serialize)]
pub struct ConversationReport {
    /// `ARP`, `ICMP`, `DNS`, `HTTP` or `TCP`.
    pub protocol: String,
    /// The client: `address` or `address:port`.
    pub client: String,
    /// The server: `address` or `address:port`.
    pub server: String,
    /// Frames of the client's side injected.
    pub client_packets: usize,
    /// The model's server frames in the capture.
    pub model_replies: usize,
    /// Frames the real server sent back.
    pub real_replies: usize,
    /// No semantic mismatch.
    pub matched: bool,
    /// The semantic fields that differ.
    pub mismatches: Vec<Mismatch>,
    /// Frame numbers of the conversation in the capture.
    pub frames: Vec<u64>,
    /// Why the conversation was not replayed (then `matched` is false and
    /// it is left out of the fidelity table).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// What `onwire` reports for one capture.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    /// The capture.
    pub file: String,
    /// One entry per conversation, in order of first frame.
    pub conversations: Vec<ConversationReport>,
}

/// The whole run: the JSON document of `harness onwire --format json`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// One entry per capture.
    pub files: Vec<FileReport>,
    /// The real servers used, with their versions.
    pub servers: BTreeMap<String, String>,
}

/// Options of a run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Replay at most this many conversations per file.
    pub max_conversations: Option<usize>,
    /// Write each conversation's real replies as `<file stem>-<n>.pcap`
    /// into this folder.
    pub keep: Option<PathBuf>,
}

/// The protocol a conversation is replayed as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Proto {
    /// ARP request/reply.
    Arp,
    /// ICMP echo or timestamp.
    Icmp,
    /// DNS over UDP.
    Dns,
    /// HTTP over TCP.
    Http,
    /// Any other TCP.
    Tcp,
}

impl Proto {
    /// Return the report name (`ARP`, …).
    pub fn name(self) -> &'static str {
        match self {
            Proto::Arp => "ARP",
            Proto::Icmp => "ICMP",
            Proto::Dns => "DNS",
            Proto::Http => "HTTP",
            Proto::Tcp => "TCP",
        }
    }
}

/// One frame of a conversation, owned.
#[derive(Debug, Clone)]
pub struct OwnedFrame {
    /// 1-based frame number in the capture.
    pub number: u64,
    /// Link type of the capture.
    pub linktype: LinkType,
    /// The bytes.
    pub data: Vec<u8>,
}

impl OwnedFrame {
    /// Dissect the frame.
    pub fn dissect(&self) -> Frame<'_> {
        let raw =
            RawFrame { linktype: self.linktype, ts: 0, orig_len: self.data.len() as u32, data: &self.data, offset: 0 };
        dissect(self.number, &raw)
    }
}

/// A conversation ready to replay.
#[derive(Debug, Clone)]
pub struct Conversation {
    /// The protocol.
    pub proto: Proto,
    /// Client address.
    pub client: Ipv4Addr,
    /// Server address.
    pub server: Ipv4Addr,
    /// Client port (TCP/UDP).
    pub client_port: Option<u16>,
    /// Server port (TCP/UDP).
    pub server_port: Option<u16>,
    /// Every frame of the conversation, in capture order, with whether the
    /// client sent it.
    pub frames: Vec<(OwnedFrame, bool)>,
    /// The summary the capture was generated from, when it lies beside it.
    pub scenario: Option<Scenario>,
}

/// Read `path` and split it into conversations (the ids of `check`).
/// Conversations that cannot be replayed come back as `Err(report)`.
///
/// # Errors
/// When the capture cannot be read.
pub fn conversations(
    path: &Path,
) -> Result<Vec<Result<Conversation, Box<ConversationReport>>>, crate::pcap::ReadError> {
    let mut reader = Reader::open(path)?;
    let mut checker = Checker::new(Limits::default());
    let mut sink = Sink::new();
    let mut groups: BTreeMap<u32, Vec<OwnedFrame>> = BTreeMap::new();
    let mut number = 0;
    while let Some(raw) = reader.next_frame() {
        let raw = raw?;
        number += 1;
        let mut frame = dissect(number, &raw);
        let id = checker.check_frame(&mut frame, &mut sink);
        groups.entry(id).or_default().push(OwnedFrame { number, linktype: raw.linktype, data: raw.data.to_vec() });
    }
    let scenario = sidecar_scenario(path);
    let mut out: Vec<_> = groups.into_values().map(|frames| classify(frames, scenario.clone())).collect();
    out.sort_by_key(|c| match c {
        Ok(c) => c.frames[0].0.number,
        Err(r) => r.frames[0],
    });
    Ok(merge_dns_replies(out))
}

/// `check` keys DNS exchanges by id, so a reply whose id is not the query's
/// (the corpus's few-shot `0x0aba`) is a conversation of its own. For the
/// replay it is the model's reply to the latest earlier unanswered query of
/// the same client, server and ports: it joins that conversation, so the
/// difference shows as `dns.id`.
fn merge_dns_replies(
    list: Vec<Result<Conversation, Box<ConversationReport>>>,
) -> Vec<Result<Conversation, Box<ConversationReport>>> {
    let mut out: Vec<Result<Conversation, Box<ConversationReport>>> = Vec::with_capacity(list.len());
    for item in list {
        if let Ok(reply) = &item {
            let only_replies = reply.proto == Proto::Dns && reply.frames.iter().all(|(_, from_client)| !from_client);
            let query = out.iter_mut().rev().find_map(|c| match c {
                Ok(q)
                    if only_replies
                        && q.proto == Proto::Dns
                        && (q.client, q.server, q.client_port, q.server_port)
                            == (reply.client, reply.server, reply.client_port, reply.server_port)
                        && q.frames.iter().all(|(_, from_client)| *from_client) =>
                {
                    Some(q)
                }
                _ => None,
            });
            if let Some(query) = query {
                query.frames.extend(reply.frames.iter().cloned());
                query.frames.sort_by_key(|(f, _)| f.number);
                continue;
            }
        }
        out.push(item);
    }
    out
}

/// The summary `NNNN.summary.json` written by `generate` beside `NNNN.pcap`.
fn sidecar_scenario(path: &Path) -> Option<Scenario> {
    let sidecar = path.with_extension("summary.json");
    let text = std::fs::read_to_string(sidecar).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    let protocol = SuiteProtocol::from_name(value.get("protocol")?.as_str()?)?;
    let mode = match value.get("mode")?.as_str()? {
        "conversation" => Mode::Conversation,
        _ => Mode::Packet,
    };
    crate::model::expect::parse(protocol, mode, value.get("summary")?.as_str()?).ok()
}

/// The report of a conversation that is not replayed, and why.
fn skipped(frames: &[OwnedFrame], protocol: &str, reason: &str) -> Box<ConversationReport> {
    Box::new(ConversationReport {
        protocol: protocol.to_string(),
        client: String::new(),
        server: String::new(),
        client_packets: 0,
        model_replies: 0,
        real_replies: 0,
        matched: false,
        mismatches: Vec::new(),
        frames: frames.iter().map(|f| f.number).collect(),
        skipped: Some(reason.to_string()),
    })
}

fn is_http(tcp_payloads: impl Iterator<Item = Vec<u8>>, ports: (u16, u16)) -> bool {
    let methods: [&[u8]; 8] = [b"GET ", b"POST ", b"HEAD ", b"PUT ", b"DELETE ", b"OPTIONS ", b"PATCH ", b"HTTP/1."];
    [80, 8080, 8000].contains(&ports.0)
        || [80, 8080, 8000].contains(&ports.1)
        || tcp_payloads.into_iter().any(|p| methods.iter().any(|m| p.starts_with(m)))
}

/// Decide protocol, client and server of one group of frames.
fn classify(frames: Vec<OwnedFrame>, scenario: Option<Scenario>) -> Result<Conversation, Box<ConversationReport>> {
    let first = frames[0].dissect();
    let (proto, client, server, client_port, server_port) = match (&first.net, &first.transport) {
        (Net::Arp(arp), _) => {
            let spa: Option<[u8; 4]> = arp.sender_protocol_addr().try_into().ok();
            let tpa: Option<[u8; 4]> = arp.target_protocol_addr().try_into().ok();
            let (Some(spa), Some(tpa)) = (spa, tpa) else {
                return Err(skipped(&frames, "ARP", "not IPv4 over Ethernet ARP"));
            };
            let request = arp.operation() == etherparse::ArpOperation::REQUEST;
            let (client, server) = if request { (spa, tpa) } else { (tpa, spa) };
            (Proto::Arp, Ipv4Addr::from(client), Ipv4Addr::from(server), None, None)
        }
        (Net::Ipv4 { .. }, Transport::Icmp(icmp)) => {
            let (src, dst) = first.ipv4_addrs().unwrap_or_default();
            let request = matches!(icmp.type_u8(), 8 | 13);
            let (client, server) = if request { (src, dst) } else { (dst, src) };
            (Proto::Icmp, Ipv4Addr::from(client), Ipv4Addr::from(server), None, None)
        }
        (Net::Ipv4 { .. }, Transport::Udp(udp)) => {
            let (src, dst) = first.ipv4_addrs().unwrap_or_default();
            let (sport, dport) = (udp.source_port(), udp.destination_port());
            if sport != 53 && dport != 53 {
                return Err(skipped(&frames, "UDP", "UDP other than DNS has no real server to replay against"));
            }
            let payload = udp.payload();
            let response = payload.len() > 2 && payload[2] & 0x80 != 0;
            if response {
                (Proto::Dns, Ipv4Addr::from(dst), Ipv4Addr::from(src), Some(dport), Some(sport))
            } else {
                (Proto::Dns, Ipv4Addr::from(src), Ipv4Addr::from(dst), Some(sport), Some(dport))
            }
        }
        (Net::Ipv4 { .. }, Transport::Tcp(tcp)) => {
            let (src, dst) = first.ipv4_addrs().unwrap_or_default();
            let (sport, dport) = (tcp.source_port(), tcp.destination_port());
            let from_server = tcp.syn() && tcp.ack();
            let (c, s, cp, sp) = if from_server { (dst, src, dport, sport) } else { (src, dst, sport, dport) };
            if cp == 53 || sp == 53 {
                return Err(skipped(&frames, "DNS", "DNS over TCP is not replayed yet"));
            }
            let payloads = frames.iter().map(|f| f.dissect().app_payload().to_vec()).collect::<Vec<_>>();
            let proto = if is_http(payloads.into_iter(), (cp, sp)) { Proto::Http } else { Proto::Tcp };
            (proto, Ipv4Addr::from(c), Ipv4Addr::from(s), Some(cp), Some(sp))
        }
        (Net::Ipv4 { .. }, _) => return Err(skipped(&frames, "IP", "no transport this replay knows")),
        _ => return Err(skipped(&frames, "?", "neither ARP nor IPv4")),
    };
    if server.is_unspecified() || server.is_broadcast() || server.is_multicast() || server.is_loopback() {
        return Err(skipped(
            &frames,
            proto.name(),
            &format!("server address {server} cannot be given to an interface"),
        ));
    }
    if client == server {
        return Err(skipped(&frames, proto.name(), "client and server share one address"));
    }
    let tagged = frames
        .into_iter()
        .map(|f| {
            let from_client = sender(&f.dissect(), proto) == Some(client);
            (f, from_client)
        })
        .collect();
    Ok(Conversation { proto, client, server, client_port, server_port, frames: tagged, scenario })
}

/// The IPv4 address that sent `frame` (ARP: the sender protocol address).
fn sender(frame: &Frame<'_>, proto: Proto) -> Option<Ipv4Addr> {
    match &frame.net {
        Net::Arp(arp) if proto == Proto::Arp => {
            let spa: [u8; 4] = arp.sender_protocol_addr().try_into().ok()?;
            Some(Ipv4Addr::from(spa))
        }
        _ => frame.ipv4_addrs().map(|(s, _)| Ipv4Addr::from(s)),
    }
}

/// Replay every conversation of `path`.
///
/// # Errors
/// When the capture cannot be read or the machine cannot create namespaces.
pub fn run_file(path: &Path, options: &Options, servers: &mut BTreeMap<String, String>) -> anyhow::Result<FileReport> {
    let list = conversations(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let mut reports = Vec::new();
    let mut replayed = 0;
    for (n, item) in list.into_iter().enumerate() {
        match item {
            Err(report) => reports.push(*report),
            Ok(conversation) => {
                if options.max_conversations.is_some_and(|max| replayed >= max) {
                    continue;
                }
                replayed += 1;
                let keep = options.keep.as_ref().map(|dir| {
                    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                    dir.join(format!("{stem}-{n}.pcap"))
                });
                reports.push(replay::replay(&conversation, keep.as_deref(), servers)?);
            }
        }
    }
    Ok(FileReport { file: path.display().to_string(), conversations: reports })
}

/// Prepare this process to replay conversations: remove its namespaces on
/// SIGINT, SIGTERM or SIGHUP, check that it can create namespaces, and
/// remove those that runs killed earlier left behind. Call it first, from
/// the main thread, before any other thread starts (see
/// [`crate::netns::install_signal_cleanup`]).
///
/// # Errors
/// [`crate::netns::NetnsError::NotPermitted`] naming the fix (root, or
/// CAP_NET_ADMIN and CAP_SYS_ADMIN), or a signal mask that cannot be set.
pub fn prepare() -> Result<(), crate::netns::NetnsError> {
    crate::netns::install_signal_cleanup()?;
    crate::netns::check_capability()?;
    crate::netns::cleanup_stale();
    Ok(())
}

/// How many conversations real stacks reproduce: one protocol of the
/// fidelity table, or one matrix cell (`matrix --onwire`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Fidelity {
    /// Replayed conversations without a semantic mismatch.
    pub matched: u64,
    /// Conversations replayed.
    pub replayed: u64,
    /// Conversations that could not be replayed (DNS over TCP, UDP other
    /// than DNS, a multicast server address, …).
    pub skipped: u64,
    /// The mismatching fields, each with the number of replayed
    /// conversations in which it differs, most common first (ties by
    /// name).
    pub fields: Vec<(String, u64)>,
}

impl Fidelity {
    /// Count conversation `c`: skipped, or replayed and matched or with
    /// its mismatching fields (each field once per conversation).
    pub fn add(&mut self, c: &ConversationReport) {
        if c.skipped.is_some() {
            self.skipped += 1;
            return;
        }
        self.replayed += 1;
        self.matched += u64::from(c.matched);
        let mut fields: Vec<&str> = c.mismatches.iter().map(|m| m.field.as_str()).collect();
        fields.sort_unstable();
        fields.dedup();
        for field in fields {
            match self.fields.iter_mut().find(|(f, _)| f == field) {
                Some((_, n)) => *n += 1,
                None => self.fields.push((field.to_string(), 1)),
            }
        }
        self.fields.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    }

    /// Return the most common mismatching fields as `field (count)`,
    /// at most `n`, separated by commas.
    pub fn top_fields(&self, n: usize) -> String {
        self.fields.iter().take(n).map(|(f, count)| format!("{f} ({count})")).collect::<Vec<_>>().join(", ")
    }
}

/// Per protocol: conversations matched, replayed, and the most common
/// mismatching fields (most frequent first). Skipped conversations are
/// left out.
pub fn fidelity(report: &Report) -> BTreeMap<String, Fidelity> {
    let mut out: BTreeMap<String, Fidelity> = BTreeMap::new();
    for c in report.files.iter().flat_map(|f| &f.conversations).filter(|c| c.skipped.is_none()) {
        out.entry(c.protocol.clone()).or_default().add(c);
    }
    out
}

/// Replay every conversation of each capture of `captures`, one capture at
/// a time, and count them (see [`Fidelity::add`]); the real servers used
/// go into `servers`.
///
/// # Errors
/// As [`run_file`], with the capture named.
pub fn tally<'p>(
    captures: impl IntoIterator<Item = &'p Path>,
    options: &Options,
    servers: &mut BTreeMap<String, String>,
) -> anyhow::Result<Fidelity> {
    let mut fidelity = Fidelity::default();
    for capture in captures {
        let report =
            run_file(capture, options, servers).map_err(|e| e.context(format!("replaying {}", capture.display())))?;
        for c in &report.conversations {
            fidelity.add(c);
        }
    }
    Ok(fidelity)
}

#[cfg(test)]
mod test {
    use super::*;

    fn conversation(protocol: &str, fields: &[&str], skipped: bool) -> ConversationReport {
        ConversationReport {
            protocol: protocol.into(),
            client: String::new(),
            server: String::new(),
            client_packets: 1,
            model_replies: 1,
            real_replies: 1,
            matched: fields.is_empty() && !skipped,
            mismatches: fields
                .iter()
                .map(|f| Mismatch { frame: 2, field: f.to_string(), model: "a".into(), real: "b".into() })
                .collect(),
            frames: vec![1, 2],
            skipped: skipped.then(|| "DNS over TCP is not replayed yet".to_string()),
        }
    }

    #[test]
    fn fidelity_counts_each_field_once_per_conversation_most_common_first() {
        let mut f = Fidelity::default();
        for c in [
            conversation("HTTP", &[], false),
            conversation("HTTP", &["tcp.ack", "tcp.ack", "reply"], false),
            conversation("HTTP", &["tcp.ack"], false),
            conversation("HTTP", &["http.framing"], false),
            conversation("DNS", &[], true),
        ] {
            f.add(&c);
        }
        let expected = vec![("tcp.ack".to_string(), 2), ("http.framing".to_string(), 1), ("reply".to_string(), 1)];
        assert_eq!(f, Fidelity { matched: 1, replayed: 4, skipped: 1, fields: expected });
        assert_eq!(f.top_fields(2), "tcp.ack (2), http.framing (1)");
        assert_eq!(
            serde_json::to_string(&f).unwrap(),
            r#"{"matched":1,"replayed":4,"skipped":1,"fields":[["tcp.ack",2],["http.framing",1],["reply",1]]}"#
        );
    }

    #[test]
    fn the_fidelity_table_leaves_skipped_conversations_out() {
        let file = FileReport {
            file: "a.pcap".into(),
            conversations: vec![
                conversation("ICMP", &[], false),
                conversation("ICMP", &["icmp.code"], false),
                conversation("UDP", &[], true),
            ],
        };
        let table = fidelity(&Report { files: vec![file], servers: BTreeMap::new() });
        assert_eq!(table.keys().collect::<Vec<_>>(), ["ICMP"]);
        assert_eq!((table["ICMP"].matched, table["ICMP"].replayed, table["ICMP"].skipped), (1, 2, 0));
    }
}
