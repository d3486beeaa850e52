//! The harness's own protocol checks.
//!
//! Each protocol has one file; stateful checks (TCP, DNS, ICMP, ARP, HTTP)
//! keep bounded per-flow tables. [`Checker`] runs every check on each
//! dissected frame in capture order and reports through a [`Sink`]. The TCP,
//! HTTP and conversation checks share one TCP flow table ([`TcpFlowState`]),
//! looked up once per segment: the hot path of a capture that is mostly TCP.
//!
//! Contract for check authors: a finding of `error` severity must be reported
//! while its frame is being checked (it decides the frame's verdict); findings
//! reported late, from [`Checker::finish`] or about an earlier frame, are at
//! most `warn` (they decide conversation results only).

mod arp;
pub mod catalog;
mod conversation;
mod cross;
mod dns;
mod http;
mod icmp;
mod ip;
mod link;
pub(crate) mod parallel;
mod reassembly;
mod tcp;
mod time;
mod udp;
mod zigbee;

pub use conversation::ConversationId;

use crate::dissect::{Frame, Net, Transport};
use crate::finding::{Finding, Protocol, Severity};

/// Where checks put their findings.
#[derive(Debug, Default)]
pub struct Sink {
    findings: Vec<Finding>,
    frame: u64,
}

impl Sink {
    /// Make an empty sink.
    pub fn new() -> Sink {
        Sink::default()
    }

    /// Report a finding about the frame being checked.
    pub fn report(&mut self, severity: Severity, check: &'static str, protocol: Protocol, message: String) {
        self.findings.push(Finding::own(self.frame, severity, check, protocol, message));
    }

    /// Report a finding about an earlier frame (at most `warn`, see the
    /// module docs).
    pub fn report_at(
        &mut self,
        frame: u64,
        severity: Severity,
        check: &'static str,
        protocol: Protocol,
        message: String,
    ) {
        debug_assert!(severity <= Severity::Warn || frame == self.frame, "late findings must not change verdicts");
        self.findings.push(Finding::own(frame, severity, check, protocol, message));
    }

    /// Return the findings reported so far.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// Take the findings out of the sink.
    pub fn into_findings(self) -> Vec<Finding> {
        self.findings
    }
}

/// How checksums (and IPv4 total lengths) are judged: the fields a network
/// card fills in after the capture point saw the packet.
///
/// A capture taken on the sending host shows outgoing packets before the
/// NIC (or the kernel, for virtual devices) completes them: Linux leaves the
/// TCP/UDP checksum field holding the folded pseudo-header sum
/// (CHECKSUM_PARTIAL), some drivers leave 0, and TCP segmentation offload
/// can leave an IPv4 total length of 0. Wireshark switches checksum
/// validation off by default for this reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Checksums {
    /// Every wrong checksum or length is an error: what generated traces
    /// get (Scapy and the JSON builder compute every field; nothing
    /// offloads them).
    #[default]
    Strict,
    /// A TCP/UDP checksum of 0 or equal to the pseudo-header partial sum,
    /// an IPv4 header checksum of 0 and an IPv4 total length of 0 are
    /// offload notes (`*.checksum_offload`, `ip.length_offload`) and do not
    /// make their layer malformed; any other wrong checksum stays an error.
    OffloadAware,
    /// Checksums are not verified (lengths still are).
    Off,
}

impl Checksums {
    /// Return the name used on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Checksums::Strict => "strict",
            Checksums::OffloadAware => "offload-aware",
            Checksums::Off => "off",
        }
    }
}

/// Frame records a pass keeps in memory before its verdict log spills to
/// disk (8 MiB of records, about 1 M frames): the default of
/// [`Limits::memory_records`] and of [`crate::verdict::FrameLog::new`].
pub const MEMORY_RECORDS: usize = 1 << 20;

/// Settings of a check pass: limits that keep memory flat whatever the
/// capture size, and the checksum rule.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most flows (TCP, DNS, ICMP, ARP, HTTP) tracked at once; the least
    /// recently seen are evicted first.
    pub max_flows: usize,
    /// Per-frame verdict records kept in memory before they spill to a
    /// temporary file (see [`crate::verdict::FrameLog`]).
    pub memory_records: usize,
    /// How checksums and IPv4 total lengths are judged.
    pub checksums: Checksums,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_flows: 65_536, memory_records: MEMORY_RECORDS, checksums: Checksums::Strict }
    }
}

/// A TCP flow over IPv4: the two endpoints `(address, port)`, lower one
/// first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TcpKey(pub(crate) [u8; 4], pub(crate) u16, pub(crate) [u8; 4], pub(crate) u16);

impl std::hash::Hash for TcpKey {
    /// Hash the 12 octets as one integer: one hasher step per segment
    /// instead of one per field (the arrays would each add a length too).
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let TcpKey(a, ap, b, bp) = *self;
        let high = u64::from(u32::from_be_bytes(a)) << 32 | u64::from(u32::from_be_bytes(b));
        state.write_u128(u128::from(high) << 32 | u128::from(ap) << 16 | u128::from(bp));
    }
}

/// Return the TCP flow of a frame (TCP over IPv4).
pub(crate) fn tcp_key(frame: &Frame<'_>) -> Option<TcpKey> {
    let Transport::Tcp(tcp) = &frame.transport else { return None };
    let (src, dst) = frame.ipv4_addrs()?;
    let (sport, dport) = (tcp.source_port(), tcp.destination_port());
    Some(if (src, sport) <= (dst, dport) { TcpKey(src, sport, dst, dport) } else { TcpKey(dst, dport, src, sport) })
}

/// What the checks keep about one TCP flow, in one table entry so that a
/// segment costs one lookup: the TCP state machine, the protocol above it
/// (once the flow carries HTTP or DNS; boxed, so that the table's entries
/// stay small) and the conversation the flow belongs to.
#[derive(Debug)]
pub(crate) struct TcpFlowState {
    tcp: tcp::Flow,
    app: Option<Box<App>>,
    conversation: Option<conversation::State>,
}

impl TcpFlowState {
    fn new() -> TcpFlowState {
        TcpFlowState { tcp: tcp::Flow::new(), app: None, conversation: None }
    }

    /// Report what an evicted (or, at the end, unfinished) flow left
    /// unfinished, and give its reassembly memory back.
    fn evicted(key: &TcpKey, mut state: TcpFlowState, budget: &mut reassembly::Budget, sink: &mut Sink) {
        tcp::note_not_closed(sink, key, &state.tcp);
        if let Some(app) = &mut state.app {
            app.end(budget, sink);
        }
    }
}

/// The protocol a TCP flow carries above TCP, parsed from its two
/// reassembled directions.
#[derive(Debug)]
struct App {
    /// Indexed like [`tcp::Flow`]'s sides: 0 is sent by the lower endpoint.
    streams: [reassembly::Stream; 2],
    kind: AppKind,
}

/// What an [`App`] parses.
#[derive(Debug)]
enum AppKind {
    Http(http::Flow),
    Dns(dns::TcpFlow),
}

impl App {
    /// Report unfinished messages and give the held bytes back. Bytes
    /// still held past a hole are dropped unparsed: findings about them
    /// would land on another frame than theirs.
    fn end(&mut self, budget: &mut reassembly::Budget, sink: &mut Sink) {
        for stream in &mut self.streams {
            stream.release(budget);
        }
        match &mut self.kind {
            AppKind::Http(flow) => {
                http::incomplete(sink, flow);
                flow.release(budget);
            }
            AppKind::Dns(flow) => flow.finish(budget, sink),
        }
    }

    /// Return the protocol parsed.
    fn protocol(&self) -> Protocol {
        match self.kind {
            AppKind::Http(_) => Protocol::Http,
            AppKind::Dns(_) => Protocol::Dns,
        }
    }

    /// Return whether direction `dir` is parsed in step.
    fn in_sync(&self, dir: usize) -> bool {
        match &self.kind {
            AppKind::Http(flow) => flow.in_sync(dir),
            AppKind::Dns(flow) => flow.in_sync(dir),
        }
    }
}

/// Reassemble one TCP segment into its flow's stream and parse what is now
/// in order as HTTP or DNS; mark the layer present on a segment that
/// carries bytes of its messages (a header continued from an earlier
/// segment, a body, a DNS message's tail).
fn check_app(
    frame: &mut Frame<'_>,
    state: &mut TcpFlowState,
    key: &TcpKey,
    dns: &mut dns::DnsCheck,
    budget: &mut reassembly::Budget,
    sink: &mut Sink,
) {
    let Transport::Tcp(tcp) = &frame.transport else { return };
    let Net::Ipv4 { slice, .. } = &frame.net else { return };
    let (sport, dport) = (tcp.source_port(), tcp.destination_port());
    let dir = tcp::direction(slice, tcp);
    let payload = tcp.payload();
    let (seq, syn) = (tcp.sequence_number(), tcp.syn());
    if syn && !tcp.ack() {
        // A new session on the 4-tuple (port reuse): start over.
        if let Some(mut old) = state.app.take() {
            old.end(budget, sink);
        }
    }
    if state.app.is_none() {
        let kind = if payload.is_empty() {
            return;
        } else if frame.expected.contains(Protocol::Http) {
            AppKind::Http(if state.tcp.midstream() { http::Flow::midstream() } else { http::Flow::default() })
        } else if frame.expected.contains(Protocol::Dns) {
            AppKind::Dns(if state.tcp.midstream() { dns::TcpFlow::midstream() } else { dns::TcpFlow::default() })
        } else {
            return;
        };
        let mut app = App { streams: Default::default(), kind };
        for (side, stream) in app.streams.iter_mut().enumerate() {
            if let Some(isn) = state.tcp.isn(side) {
                stream.syn(isn);
            }
        }
        state.app = Some(Box::new(app));
    }
    let Some(app) = state.app.as_deref_mut() else { return };
    if syn {
        app.streams[dir].syn(seq);
    }
    if payload.is_empty() || slice.payload().fragmented {
        return;
    }
    let protocol = app.protocol();
    // Bytes the segment carried beyond what was captured (a snap length).
    let sent = tcp::sent_len(slice, tcp);
    let start = seq.wrapping_add(u32::from(syn));
    let ends = |a: TcpKey| if dir == 0 { ((a.0, a.1), (a.2, a.3)) } else { ((a.2, a.3), (a.0, a.1)) };
    let (from, to) = ends(*key);
    let http_ctx = http::Ctx {
        frame: frame.number,
        port: if crate::dissect::HTTP_PORTS.contains(&dport) { dport } else { sport },
    };
    let now = frame.number;
    let App { streams, kind } = app;
    let mut carried = false;
    let mut deliver = |piece: reassembly::Piece<'_>, budget: &mut reassembly::Budget| {
        carried |= match kind {
            AppKind::Http(flow) => flow.piece(dir, piece, http_ctx, budget, sink),
            AppKind::Dns(flow) => flow.piece(dns::Leg { dir, ends: (from, to), now }, piece, dns, budget, sink),
        };
    };
    streams[dir].push(start, payload, now, budget, &mut deliver);
    if sent > payload.len() {
        streams[dir].skip_to(start.wrapping_add(sent as u32), budget, &mut deliver);
    }
    if carried || app.in_sync(dir) {
        frame.expected.insert(protocol);
        frame.present.insert(protocol);
    }
}

/// Every own check, with its per-flow state.
#[derive(Debug, Default)]
pub struct Checker {
    link: link::LinkCheck,
    arp: arp::ArpCheck,
    /// TCP flows, shared by the TCP, HTTP and conversation checks.
    tcp_flows: FlowTable<TcpKey, TcpFlowState>,
    dns: dns::DnsCheck,
    icmp: icmp::IcmpCheck,
    time: time::TimeCheck,
    conversations: conversation::Conversations,
    /// Checks across protocols (ARP against Ethernet, DNS against
    /// connections).
    cross: cross::CrossCheck,
    zigbee: zigbee::ZigbeeCheck,
    /// The checksum rule.
    checksums: Checksums,
    /// Memory the TCP reassembly may still use, across every flow.
    budget: reassembly::Budget,
}

impl Checker {
    /// Make a checker with the given limits.
    pub fn new(limits: Limits) -> Checker {
        Checker {
            arp: arp::ArpCheck::new(limits),
            tcp_flows: FlowTable::new(limits.max_flows),
            dns: dns::DnsCheck::new(limits),
            icmp: icmp::IcmpCheck::new(limits),
            conversations: conversation::Conversations::new(limits),
            checksums: limits.checksums,
            cross: cross::CrossCheck::new(limits),
            ..Checker::default()
        }
    }

    /// Check one frame (frames must come in capture order) and return the
    /// conversation it belongs to. The HTTP check may mark HTTP present on a
    /// body continuation segment.
    pub fn check_frame(&mut self, frame: &mut Frame<'_>, sink: &mut Sink) -> ConversationId {
        self.check_front(frame, sink);
        self.check_back(frame, sink)
    }

    /// Run the checks [`Checker::check_frame`] runs first: the link, ARP,
    /// IPv4 and UDP checks and the capture clock. None of them reads what a
    /// later check marks on the frame, and none shares state with the
    /// checks of [`Checker::check_back`], so [`parallel`] runs the two on
    /// two threads.
    fn check_front(&mut self, frame: &Frame<'_>, sink: &mut Sink) {
        sink.frame = frame.number;
        self.time.check(frame, sink);
        self.link.check(frame, sink);
        arp::check_packet(frame, sink);
        self.arp.check(frame, sink);
        ip::check(frame, self.checksums, sink);
        udp::check(frame, self.checksums, sink);
    }

    /// Run the checks [`Checker::check_frame`] runs after
    /// [`Checker::check_front`] and return the frame's conversation.
    fn check_back(&mut self, frame: &mut Frame<'_>, sink: &mut Sink) -> ConversationId {
        sink.frame = frame.number;
        // One lookup per TCP segment, shared by the TCP, HTTP and
        // conversation checks.
        let key = tcp_key(frame);
        let budget = &mut self.budget;
        let mut flow = key.map(|key| {
            self.tcp_flows.entry(&key, TcpFlowState::new, |key, old| TcpFlowState::evicted(&key, old, budget, sink))
        });
        tcp::check(frame, flow.as_deref_mut().map(|f| &mut f.tcp), self.checksums, sink);
        icmp::check_packet(frame, sink);
        self.icmp.check(frame, sink);
        self.dns.check(frame, sink);
        if let (Some(state), Some(key)) = (flow.as_deref_mut(), &key) {
            check_app(frame, state, key, &mut self.dns, &mut self.budget, sink);
        }
        self.zigbee.check(frame, sink);
        self.cross.check(frame, sink);
        self.conversations.assign(frame, flow.map(|f| &mut f.conversation))
    }

    /// Report what only the end of the capture reveals (unanswered queries,
    /// unfinished flows).
    pub fn finish(&mut self, sink: &mut Sink) {
        self.finish_front(sink);
        self.finish_back(sink);
    }

    /// Report what the end reveals to the checks of
    /// [`Checker::check_front`].
    fn finish_front(&mut self, sink: &mut Sink) {
        self.arp.finish(sink);
    }

    /// Report what the end reveals to the checks of
    /// [`Checker::check_back`].
    fn finish_back(&mut self, sink: &mut Sink) {
        let mut flows = self.tcp_flows.by_age_mut();
        for (key, state) in &flows {
            tcp::note_not_closed(sink, key, &state.tcp);
        }
        // The unfinished DNS-over-TCP messages before the queries left
        // unanswered, as when a flow is evicted.
        for (_, state) in &mut flows {
            if matches!(state.app.as_deref(), Some(App { kind: AppKind::Dns(_), .. })) {
                if let Some(mut app) = state.app.take() {
                    app.end(&mut self.budget, sink);
                }
            }
        }
        self.icmp.finish(sink);
        self.dns.finish(sink);
        for app in flows.iter_mut().filter_map(|(_, state)| state.app.as_deref_mut()) {
            app.end(&mut self.budget, sink);
        }
        self.tcp_flows.clear();
        self.zigbee.finish(sink);
        self.cross.finish(sink);
    }

    /// Return how many conversations were seen.
    pub fn conversation_count(&self) -> u32 {
        self.conversations.count()
    }
}

/// Format an IPv4 address.
pub(crate) fn ip4(addr: [u8; 4]) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::from(addr)
}

/// Format a MAC address as `aa:bb:cc:dd:ee:ff`.
pub(crate) fn mac(addr: &[u8]) -> String {
    let mut out = String::with_capacity(17);
    for (i, byte) in addr.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// A bounded map from flow keys to state, evicting the least recently used
/// entries when full. A lookup hashes once with foldhash (fast, and randomly
/// seeded, so a hostile capture cannot force collisions) and probes once,
/// hit or miss; eviction scans the table, amortised by evicting an eighth of
/// it at a time, oldest first, and reuses its buffers.
#[derive(Debug)]
pub(crate) struct FlowTable<K, V> {
    table: hashbrown::HashTable<Slot<K, V>>,
    hasher: foldhash::fast::RandomState,
    capacity: usize,
    clock: u64,
    /// Eviction scratch: the ages of every entry.
    ages: Vec<u64>,
}

/// One entry of a [`FlowTable`]: the key, when it was last used, the state.
#[derive(Debug)]
struct Slot<K, V> {
    key: K,
    age: u64,
    value: V,
}

impl<K: std::hash::Hash + Eq + Clone, V> FlowTable<K, V> {
    /// Make a table holding at most `capacity` flows.
    pub(crate) fn new(capacity: usize) -> Self {
        FlowTable {
            table: hashbrown::HashTable::new(),
            hasher: foldhash::fast::RandomState::default(),
            capacity: capacity.max(8),
            clock: 0,
            ages: Vec::new(),
        }
    }

    /// Return the number of entries.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    /// Return the state for `key`, creating it with `make` if absent; the
    /// evicted entries (if the table was full) are passed to `evicted`,
    /// oldest first.
    pub(crate) fn entry(&mut self, key: &K, make: impl FnOnce() -> V, evicted: impl FnMut(K, V)) -> &mut V {
        use std::hash::BuildHasher;
        self.clock += 1;
        let FlowTable { table, hasher, capacity, clock, ages } = self;
        let hash = hasher.hash_one(key);
        match table.find_entry(hash, |slot| slot.key == *key) {
            Ok(found) => {
                let slot = found.into_mut();
                slot.age = *clock;
                &mut slot.value
            }
            Err(absent) => {
                let table = absent.into_table();
                if table.len() >= *capacity {
                    evict_oldest(table, ages, evicted);
                }
                let slot = Slot { key: key.clone(), age: *clock, value: make() };
                &mut table.insert_unique(hash, slot, |slot| hasher.hash_one(&slot.key)).into_mut().value
            }
        }
    }

    /// Return the state for `key` without creating it.
    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        use std::hash::BuildHasher;
        self.clock += 1;
        let hash = self.hasher.hash_one(key);
        let clock = self.clock;
        self.table.find_mut(hash, |slot| slot.key == *key).map(|slot| {
            slot.age = clock;
            &mut slot.value
        })
    }

    /// Remove and return the state for `key`.
    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        use std::hash::BuildHasher;
        let hash = self.hasher.hash_one(key);
        self.table.find_entry(hash, |slot| slot.key == *key).ok().map(|found| found.remove().0.value)
    }

    /// Remove every entry, oldest first.
    pub(crate) fn drain_by_age(&mut self) -> impl Iterator<Item = (K, V)> + '_ {
        oldest_first(self.table.drain())
    }

    /// Return every entry in place, oldest first (no state is moved: at
    /// the end of a pass the table may hold tens of megabytes of it).
    pub(crate) fn by_age_mut(&mut self) -> Vec<(&K, &mut V)> {
        let mut slots: Vec<&mut Slot<K, V>> = self.table.iter_mut().collect();
        slots.sort_unstable_by_key(|slot| slot.age);
        slots.into_iter().map(|slot| (&slot.key, &mut slot.value)).collect()
    }

    /// Remove every entry.
    pub(crate) fn clear(&mut self) {
        self.table.clear();
    }
}

/// Evict the oldest eighth of `table` (at least one entry), passing the
/// entries to `evicted` oldest first. `ages` is scratch space.
fn evict_oldest<K, V>(
    table: &mut hashbrown::HashTable<Slot<K, V>>,
    ages: &mut Vec<u64>,
    mut evicted: impl FnMut(K, V),
) {
    ages.clear();
    ages.extend(table.iter().map(|slot| slot.age));
    let cut = (ages.len() / 8).max(1) - 1;
    let (_, threshold, _) = ages.select_nth_unstable(cut);
    let threshold = *threshold;
    for (key, value) in oldest_first(table.extract_if(|slot| slot.age <= threshold)) {
        evicted(key, value);
    }
}

/// Return the entries oldest first. Sorts small (age, index) pairs rather
/// than the entries themselves (flow states are large); ages are unique, so
/// the order is total.
fn oldest_first<K, V>(slots: impl Iterator<Item = Slot<K, V>>) -> impl Iterator<Item = (K, V)> {
    let mut entries: Vec<Option<(K, V)>> = Vec::with_capacity(slots.size_hint().0);
    let mut order: Vec<(u64, usize)> = Vec::with_capacity(slots.size_hint().0);
    for slot in slots {
        order.push((slot.age, entries.len()));
        entries.push(Some((slot.key, slot.value)));
    }
    order.sort_unstable();
    order.into_iter().filter_map(move |(_, i)| entries[i].take())
}

impl<K: std::hash::Hash + Eq + Clone, V> Default for FlowTable<K, V> {
    fn default() -> Self {
        FlowTable::new(Limits::default().max_flows)
    }
}

#[cfg(test)]
pub(crate) mod testutil;

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_flow_table_evicts_oldest() {
        let mut table: FlowTable<u32, u32> = FlowTable::new(8);
        let mut evicted = Vec::new();
        for k in 0..8 {
            *table.entry(&k, || 0, |_, _| unreachable!()) += 1;
        }
        // Touch 0 so that 1 is the oldest.
        table.get_mut(&0);
        table.entry(&100, || 0, |k, _| evicted.push(k));
        assert_eq!(evicted, vec![1]);
        assert_eq!(table.len(), 8);
        let drained: Vec<u32> = table.drain_by_age().map(|(k, _)| k).collect();
        assert_eq!(drained, vec![2, 3, 4, 5, 6, 7, 0, 100]);
    }

    #[test]
    fn test_shared_tcp_flows_bounded() {
        // Many HTTP flows with an unanswered request through a small shared
        // table: each flow gets its own conversation, and its TCP and HTTP
        // leftovers are reported exactly once, when evicted or at the end.
        use super::testutil::{tcp, A, B, GET};
        let mut checker = Checker::new(Limits { max_flows: 8, ..Limits::default() });
        let mut sink = Sink::new();
        let mut conversations = Vec::new();
        let mut number = 0;
        for port in 0..40u16 {
            let frames = [
                tcp(A, B, 10_000 + port, 80, "S", 100, 0, b""),
                tcp(B, A, 80, 10_000 + port, "SA", 900, 101, b""),
                tcp(A, B, 10_000 + port, 80, "A", 101, 901, b""),
                tcp(A, B, 10_000 + port, 80, "PA", 101, 901, GET),
            ];
            for data in &frames {
                number += 1;
                let raw = crate::pcap::RawFrame {
                    linktype: crate::pcap::LinkType::Raw,
                    ts: number * 1000,
                    orig_len: data.len() as u32,
                    data,
                    offset: 0,
                };
                let mut frame = crate::dissect::dissect(number, &raw);
                conversations.push(checker.check_frame(&mut frame, &mut sink));
            }
        }
        checker.finish(&mut sink);
        let count = |check: &str| sink.findings().iter().filter(|f| f.check == check).count();
        assert_eq!(count("http.unanswered"), 40);
        assert_eq!(count("tcp.not_closed"), 40);
        let mut unanswered: Vec<u64> =
            sink.findings().iter().filter(|f| f.check == "http.unanswered").map(|f| f.frame).collect();
        unanswered.sort_unstable();
        assert_eq!(unanswered, (1..=40).map(|n| n * 4).collect::<Vec<u64>>());
        assert_eq!(checker.conversation_count(), 40);
        assert!(conversations.chunks(4).enumerate().all(|(i, c)| c.iter().all(|&id| id == i as u32)));
    }

    #[test]
    fn test_mac_format() {
        assert_eq!(mac(&[0xff, 0, 0x0a, 1, 2, 3]), "ff:00:0a:01:02:03");
    }
}
