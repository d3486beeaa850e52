//! Building IEEE 802.15.4 frames (no FCS) from `ntg` summary rows.
//!
//! Each row becomes one frame: MAC, NWK and, for application messages, APS
//! and ZCL or ZDP, laid out as in LLM-NTG's real captures (PAN 0x15de,
//! short addresses, PAN ID compression, MAC acknowledgment requested for
//! unicast only; broadcasts go to MAC 0xffff with the NWK broadcast address
//! the row names and radius 1 for Link Status). Counters are kept per
//! device: the MAC sequence number per transmitter, the NWK sequence number
//! and APS counter per originator, all starting at 1. ZCL sequence numbers
//! come from the row's `Seq:`; a response without one echoes the pending
//! request of its peer.
//!
//! Lengths: with [`LengthPolicy::Honor`] (the default) the variable part of
//! each message (attribute lists, Link Status entries, group and scene
//! lists, …) is sized so that the frame has the row's `length`; where no
//! frame of that type can have it, the nearest length is built and a
//! `summary.mismatch` finding says why. [`LengthPolicy::Canonical`] builds
//! the fixed sizes of LLM-NTG's own converter instead.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::{parse_address, parse_info, NtgError, Row};
use crate::finding::{Finding, Protocol, Severity};
use crate::pcap::LinkType;
use crate::pcap::{Trace, TracePacket};
use crate::wire::zigbee::{
    aps_delivery, aps_type, is_nwk_broadcast, mac_type, nwk_command, nwk_type, zcl_global, zdp_cluster, Address,
    ApsRepr, Carrier, Kind, MacRepr, NwkRepr, ZclRepr, CLUSTER_GROUPS, CLUSTER_OTA, CLUSTER_PHILIPS, CLUSTER_SCENES,
    MAC_BROADCAST, MANUFACTURER_PHILIPS, PROFILE_HA, PROFILE_ZDP,
};

/// The PAN of LLM-NTG's real captures.
pub const DEFAULT_PAN: u16 = 0x15de;
/// Time zero of built captures: 2020-01-01T00:00:00Z, in nanoseconds.
pub const DEFAULT_EPOCH_NS: u64 = 1_577_836_800_000_000_000;
/// The ZCL client endpoint of LLM-NTG's real captures.
const CLIENT_ENDPOINT: u8 = 64;
/// The ZCL server endpoint of LLM-NTG's real captures.
const SERVER_ENDPOINT: u8 = 11;
/// Most Link Status entries one frame holds (a 5-bit count).
const MAX_LINKS: usize = 31;
/// Neighbours of 0x1de6 in LLM-NTG's real captures and summaries, used
/// first for Link Status entries.
const KNOWN_NEIGHBOURS: [u16; 13] =
    [0x2a30, 0x6395, 0x9f06, 0xa089, 0xa163, 0xb85c, 0xc370, 0xc9b3, 0xd7a7, 0xdfe1, 0xe46c, 0xe7f5, 0xe8eb];

/// How the builder treats a row's `length`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LengthPolicy {
    /// Size each frame to the row's length where its type allows.
    #[default]
    Honor,
    /// Ignore lengths: fixed sizes, as LLM-NTG's converter wrote them.
    Canonical,
}

/// Options of the builder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// The PAN identifier of every frame.
    pub pan: u16,
    /// Capture time of `time` 0, nanoseconds since the epoch.
    pub epoch_ns: u64,
    /// What to do with lengths.
    pub lengths: LengthPolicy,
}

impl Default for Options {
    fn default() -> Self {
        Options { pan: DEFAULT_PAN, epoch_ns: DEFAULT_EPOCH_NS, lengths: LengthPolicy::Honor }
    }
}

/// A built capture and the summary-fidelity findings met on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversion {
    /// One frame per row, `LINKTYPE_IEEE802_15_4_NOFCS`.
    pub trace: Trace,
    /// `summary.mismatch` findings; `frame` is the row (and frame) number.
    pub findings: Vec<Finding>,
}

/// Per-device counters.
#[derive(Debug, Clone, Copy)]
struct Counters {
    mac: u8,
    nwk: u8,
    aps: u8,
    zdp: u8,
    zcl: u8,
    route_request: u8,
}

impl Default for Counters {
    fn default() -> Self {
        Counters { mac: 1, nwk: 1, aps: 1, zdp: 1, zcl: 1, route_request: 1 }
    }
}

fn next(counter: &mut u8) -> u8 {
    let value = *counter;
    *counter = counter.wrapping_add(1);
    value
}

/// Build a capture from summary rows.
///
/// # Errors
/// [`NtgError`] naming the first row whose addresses or info text cannot be
/// built.
pub fn build(rows: &[Row], options: &Options) -> Result<Conversion, NtgError> {
    let mut builder = Builder { options: *options, ..Builder::default() };
    builder.neighbours = neighbours(rows);
    let mut packets = Vec::with_capacity(rows.len());
    let mut findings = Vec::new();
    let mut last_time = f64::NEG_INFINITY;
    for (index, row) in rows.iter().enumerate() {
        let number = index + 1;
        let frame = builder.frame(number, row, &mut findings)?;
        if row.time < last_time {
            findings.push(mismatch(
                number,
                format!("time {} s goes back from {} s (frames are written in row order)", row.time, last_time),
            ));
        }
        last_time = last_time.max(row.time);
        let ts = options.epoch_ns.saturating_add((row.time * 1e9).round() as u64);
        packets.push(TracePacket { ts, data: frame });
    }
    Ok(Conversion { trace: Trace { linktype: LinkType::Ieee802154NoFcs, packets }, findings })
}

fn mismatch(row: usize, message: String) -> Finding {
    Finding::own(row as u64, Severity::Warn, "summary.mismatch", Protocol::Frame, message)
}

/// Every short address of the summary, for Link Status entries.
fn neighbours(rows: &[Row]) -> Vec<u16> {
    let mut set: BTreeSet<u16> = KNOWN_NEIGHBOURS.into_iter().collect();
    for row in rows {
        for text in [&row.src, &row.dst] {
            if let Some(addr) = parse_address(text).filter(|a| *a < 0xfff8) {
                set.insert(addr);
            }
        }
    }
    set.into_iter().collect()
}

#[derive(Debug, Default)]
struct Builder {
    options: Options,
    devices: BTreeMap<u16, Counters>,
    /// Pending request sequence numbers per (requester, responder, request).
    pending: BTreeMap<(u16, u16, &'static str), VecDeque<u8>>,
    neighbours: Vec<u16>,
}

/// The headers and payload of one frame, before sizing.
struct Layout {
    header: Vec<u8>,
    variable: Variable,
}

/// The variable part of a message and how it grows.
#[derive(Debug, Clone, Copy)]
enum Variable {
    /// A fixed payload (already in the header bytes).
    Fixed,
    /// A list of at most `max` items; `default` items without a length to
    /// honor.
    List { list: List, max: usize, default: usize },
    /// Read Attributes Response records (3-byte unsupported, 5+ byte values).
    ReadRecords,
    /// Write Attributes records (4+ bytes).
    WriteRecords,
    /// Raw bytes of any length.
    Bytes,
}

impl Builder {
    fn device(&mut self, addr: u16) -> &mut Counters {
        self.devices.entry(addr).or_default()
    }

    fn frame(&mut self, number: usize, row: &Row, findings: &mut Vec<Finding>) -> Result<Vec<u8>, NtgError> {
        let address = |field: &'static str, text: &str| {
            parse_address(text).ok_or_else(|| NtgError::Field {
                row: number,
                field,
                message: format!("{text:?} is not a 16-bit short address"),
            })
        };
        let src = address("src", &row.src)?;
        let dst = address("dst", &row.dst)?;
        if src >= 0xfff8 {
            return Err(NtgError::Field {
                row: number,
                field: "src",
                message: format!("0x{src:04x} is a broadcast address"),
            });
        }
        let (kind, seq) =
            parse_info(&row.info).ok_or_else(|| NtgError::UnknownInfo { row: number, info: row.info.clone() })?;
        let expected_protocol = match kind.carrier() {
            Carrier::Nwk => "ZigBee",
            Carrier::Zcl => "ZigBee HA",
            Carrier::Zdp => "ZigBee ZDP",
        };
        if !row.protocol.is_empty() && !row.protocol.eq_ignore_ascii_case(expected_protocol) {
            findings.push(mismatch(
                number,
                format!("protocol {:?}, but {} is {expected_protocol}", row.protocol, kind.name()),
            ));
        }
        if kind == Kind::LinkStatus && !is_nwk_broadcast(dst) {
            findings.push(mismatch(
                number,
                format!("Link Status is broadcast to routers (0xfffc); built to {} as the row says", row.dst),
            ));
        }
        let layout = self.layout(kind, seq, src, dst);
        let target = match (self.options.lengths, row.length) {
            (LengthPolicy::Honor, Some(length)) => Some(length as usize),
            _ => None,
        };
        let neighbours: Vec<u16> = self.neighbours.iter().copied().filter(|a| *a != src).collect();
        let (frame, rule) = size(layout, target, &neighbours);
        if let Some(target) = target {
            if frame.len() != target {
                findings.push(mismatch(
                    number,
                    format!("length {target} requested, {} built: {} frames are {rule}", frame.len(), kind.name()),
                ));
            }
        }
        Ok(frame)
    }

    fn mac(&mut self, src: u16, dst: u16) -> MacRepr {
        let broadcast = is_nwk_broadcast(dst);
        MacRepr {
            frame_type: mac_type::DATA,
            security: false,
            frame_pending: false,
            ack_request: !broadcast,
            pan_compression: true,
            version: 0,
            seq: next(&mut self.device(src).mac),
            dst_pan: Some(self.options.pan),
            dst: Address::Short(if broadcast { MAC_BROADCAST } else { dst }),
            src_pan: None,
            src: Address::Short(src),
        }
    }

    fn nwk(&mut self, frame_type: u8, src: u16, dst: u16, radius: u8) -> NwkRepr {
        NwkRepr {
            frame_type,
            version: 2,
            discover_route: u8::from(frame_type == nwk_type::DATA),
            security: false,
            end_device_initiator: false,
            dst,
            src,
            radius,
            seq: next(&mut self.device(src).nwk),
            dst_ieee: None,
            src_ieee: None,
            multicast_control: None,
            source_route: None,
        }
    }

    fn layout(&mut self, kind: Kind, seq: Option<u8>, src: u16, dst: u16) -> Layout {
        let mut header = Vec::new();
        let mac = self.mac(src, dst);
        mac.emit(&mut header);
        if kind.carrier() == Carrier::Nwk {
            let (nwk_src, radius) = match kind {
                Kind::LinkStatus => (src, 1),
                Kind::RouteRequest { src: originator, .. } => (originator, 30),
                _ => (src, 30),
            };
            self.nwk(nwk_type::COMMAND, nwk_src, dst, radius).emit(&mut header);
            let variable = match kind {
                Kind::LinkStatus => {
                    header.push(nwk_command::LINK_STATUS);
                    Variable::List { list: List::Links, max: MAX_LINKS, default: 8 }
                }
                Kind::NetworkStatus { addr, status } => {
                    header.extend_from_slice(&[nwk_command::NETWORK_STATUS, status]);
                    header.extend_from_slice(&addr.to_le_bytes());
                    Variable::Fixed
                }
                Kind::RouteRequest { dst: target, .. } => {
                    let id = next(&mut self.device(src).route_request);
                    header.extend_from_slice(&[nwk_command::ROUTE_REQUEST, 0x00, id]);
                    header.extend_from_slice(&target.to_le_bytes());
                    header.push(0);
                    Variable::Fixed
                }
                Kind::RouteReply { responder, originator } => {
                    let id = next(&mut self.device(originator).route_request);
                    header.extend_from_slice(&[nwk_command::ROUTE_REPLY, 0x00, id]);
                    header.extend_from_slice(&originator.to_le_bytes());
                    header.extend_from_slice(&responder.to_le_bytes());
                    header.push(1);
                    Variable::Fixed
                }
                _ => Variable::Fixed,
            };
            return Layout { header, variable };
        }
        self.nwk(nwk_type::DATA, src, dst, 30).emit(&mut header);
        let is_response = kind.answers().is_some() || kind == Kind::DefaultResponse;
        let (cluster, profile, src_endpoint, dst_endpoint) = match kind.carrier() {
            Carrier::Zdp => (zdp_cluster_of(kind), PROFILE_ZDP, 0, 0),
            _ => {
                let cluster = match kind {
                    Kind::GetGroupMembership | Kind::GetGroupMembershipResponse => CLUSTER_GROUPS,
                    Kind::GetSceneMembership | Kind::GetSceneMembershipResponse => CLUSTER_SCENES,
                    Kind::OtaQueryNextImageRequest | Kind::OtaQueryNextImageResponse => CLUSTER_OTA,
                    _ => CLUSTER_PHILIPS,
                };
                let (from, to) =
                    if is_response { (SERVER_ENDPOINT, CLIENT_ENDPOINT) } else { (CLIENT_ENDPOINT, SERVER_ENDPOINT) };
                (cluster, PROFILE_HA, from, to)
            }
        };
        let broadcast = is_nwk_broadcast(dst);
        let aps = ApsRepr {
            frame_type: aps_type::DATA,
            delivery: if broadcast { aps_delivery::BROADCAST } else { aps_delivery::UNICAST },
            ack_format: false,
            security: false,
            ack_request: false,
            extended: None,
            dst_endpoint: Some(if broadcast && kind.carrier() != Carrier::Zdp { 0xff } else { dst_endpoint }),
            group: None,
            cluster: Some(cluster),
            profile: Some(profile),
            src_endpoint: Some(src_endpoint),
            counter: next(&mut self.device(src).aps),
        };
        aps.emit(&mut header);
        let tsn = self.tsn(kind, seq, src, dst);
        if kind.carrier() == Carrier::Zdp {
            header.push(tsn);
            let variable = zdp_payload(kind, &mut header);
            return Layout { header, variable };
        }
        let manufacturer = matches!(
            kind,
            Kind::ReadAttributes
                | Kind::ReadAttributesResponse
                | Kind::WriteAttributes
                | Kind::WriteAttributesResponse
                | Kind::DefaultResponse
                | Kind::ZclUnknown(_)
        )
        .then_some(MANUFACTURER_PHILIPS);
        let (frame_type, command) = match kind {
            Kind::ReadAttributes => (0, zcl_global::READ_ATTRIBUTES),
            Kind::ReadAttributesResponse => (0, zcl_global::READ_ATTRIBUTES_RESPONSE),
            Kind::WriteAttributes => (0, zcl_global::WRITE_ATTRIBUTES),
            Kind::WriteAttributesResponse => (0, zcl_global::WRITE_ATTRIBUTES_RESPONSE),
            Kind::DefaultResponse => (0, zcl_global::DEFAULT_RESPONSE),
            Kind::GetGroupMembership | Kind::GetGroupMembershipResponse => (1, 0x02),
            Kind::GetSceneMembership | Kind::GetSceneMembershipResponse => (1, 0x06),
            Kind::OtaQueryNextImageRequest => (1, 0x01),
            Kind::OtaQueryNextImageResponse => (1, 0x02),
            Kind::ZclUnknown(command) => (1, command),
            _ => (0, 0),
        };
        let zcl = ZclRepr {
            frame_type,
            manufacturer,
            server_to_client: is_response,
            disable_default_response: is_response,
            tsn,
            command,
        };
        zcl.emit(&mut header);
        let variable = match kind {
            Kind::ReadAttributes => Variable::List { list: List::Attributes, max: 60, default: 0 },
            Kind::ReadAttributesResponse => Variable::ReadRecords,
            Kind::WriteAttributes => Variable::WriteRecords,
            Kind::WriteAttributesResponse => {
                header.push(0x00);
                Variable::Fixed
            }
            Kind::DefaultResponse => {
                header.extend_from_slice(&[zcl_global::WRITE_ATTRIBUTES, 0x00]);
                Variable::Fixed
            }
            Kind::GetGroupMembership => Variable::List { list: List::Groups, max: 50, default: 0 },
            Kind::GetGroupMembershipResponse => {
                header.push(21);
                Variable::List { list: List::Groups, max: 50, default: 4 }
            }
            Kind::GetSceneMembership => {
                header.extend_from_slice(&0x2060u16.to_le_bytes());
                Variable::Fixed
            }
            Kind::GetSceneMembershipResponse => {
                header.extend_from_slice(&[0x00, 33]);
                header.extend_from_slice(&0x2060u16.to_le_bytes());
                Variable::List { list: List::Scenes, max: 80, default: 10 }
            }
            Kind::OtaQueryNextImageRequest => {
                header.push(0x00);
                header.extend_from_slice(&MANUFACTURER_PHILIPS.to_le_bytes());
                header.extend_from_slice(&0x0100u16.to_le_bytes());
                header.extend_from_slice(&0x0100_1b0cu32.to_le_bytes());
                Variable::Fixed
            }
            Kind::OtaQueryNextImageResponse => {
                header.push(0x98);
                Variable::Fixed
            }
            Kind::ZclUnknown(_) => Variable::Bytes,
            _ => Variable::Fixed,
        };
        Layout { header, variable }
    }

    /// Choose the ZCL/ZDP transaction sequence number of a message.
    fn tsn(&mut self, kind: Kind, seq: Option<u8>, src: u16, dst: u16) -> u8 {
        let request_name = request_name(kind);
        match (kind.answers(), request_name) {
            (Some(request), _) => {
                let pending = self.pending.get_mut(&(dst, src, request));
                let queued = pending.and_then(|queue| match seq {
                    Some(seq) => queue.iter().position(|s| *s == seq).and_then(|at| queue.remove(at)),
                    None => queue.pop_front(),
                });
                seq.or(queued).unwrap_or_else(|| next(&mut self.device(src).zcl))
            }
            (None, Some(request)) => {
                let tsn = match seq {
                    Some(seq) => seq,
                    None if kind.carrier() == Carrier::Zdp => next(&mut self.device(src).zdp),
                    None => next(&mut self.device(src).zcl),
                };
                self.pending.entry((src, dst, request)).or_default().push_back(tsn);
                tsn
            }
            (None, None) => seq.unwrap_or_else(|| next(&mut self.device(src).zcl)),
        }
    }
}

/// The request name a message is, if it is a request.
fn request_name(kind: Kind) -> Option<&'static str> {
    Some(match kind {
        Kind::ReadAttributes => "Read Attributes",
        Kind::WriteAttributes => "Write Attributes",
        Kind::GetGroupMembership => "Get Group Membership",
        Kind::GetSceneMembership => "Get Scene Membership",
        Kind::OtaQueryNextImageRequest => "Query Next Image Request",
        Kind::NodeDescriptorRequest { .. } => "Node Descriptor Request",
        Kind::SimpleDescriptorRequest { .. } => "Simple Descriptor Request",
        _ => return None,
    })
}

fn zdp_cluster_of(kind: Kind) -> u16 {
    match kind {
        Kind::NodeDescriptorRequest { .. } => zdp_cluster::NODE_DESC_REQ,
        Kind::NodeDescriptorResponse { .. } => zdp_cluster::NODE_DESC_RSP,
        Kind::SimpleDescriptorRequest { .. } => zdp_cluster::SIMPLE_DESC_REQ,
        _ => zdp_cluster::SIMPLE_DESC_RSP,
    }
}

fn zdp_payload(kind: Kind, out: &mut Vec<u8>) -> Variable {
    match kind {
        Kind::NodeDescriptorRequest { addr } => out.extend_from_slice(&addr.to_le_bytes()),
        Kind::SimpleDescriptorRequest { addr, endpoint } => {
            out.extend_from_slice(&addr.to_le_bytes());
            out.push(endpoint);
        }
        Kind::NodeDescriptorResponse { addr, rev, status } => {
            out.push(status);
            out.extend_from_slice(&addr.to_le_bytes());
            if status == 0 {
                // Router, 2.4 GHz, mains-powered full-function device.
                out.extend_from_slice(&[0x01, 0x40, 0x8e]);
                out.extend_from_slice(&MANUFACTURER_PHILIPS.to_le_bytes());
                out.push(0x52);
                out.extend_from_slice(&0x0080u16.to_le_bytes());
                out.extend_from_slice(&(u16::from(rev & 0x7f) << 9).to_le_bytes());
                out.extend_from_slice(&0x0080u16.to_le_bytes());
                out.push(0x00);
            }
        }
        Kind::SimpleDescriptorResponse { addr, status } => {
            out.push(status);
            out.extend_from_slice(&addr.to_le_bytes());
            if status == 0 {
                return Variable::List { list: List::Clusters, max: 40, default: 6 };
            }
            out.push(0);
        }
        _ => {}
    }
    Variable::Fixed
}

/// Size `layout` to `target` bytes where possible; return the frame and
/// the rule its length follows.
fn size(layout: Layout, target: Option<usize>, neighbours: &[u16]) -> (Vec<u8>, String) {
    let Layout { mut header, variable } = layout;
    let start = header.len();
    match variable {
        Variable::Fixed => (header, format!("{start} bytes")),
        Variable::List { list, max, default } => {
            let (fixed, unit) = list.shape();
            let base = start + fixed;
            let count = target.map_or(default, |t| nearest_count(t.saturating_sub(base), unit, max));
            list.emit(&mut header, count, neighbours);
            (header, format!("{base} + {unit}·n bytes (n ≤ {max})"))
        }
        Variable::ReadRecords => {
            read_records(&mut header, target.map_or(0, |t| t.saturating_sub(start)));
            (header, format!("{start} bytes, {} bytes, or at least {} bytes", start + 3, start + 5))
        }
        Variable::WriteRecords => {
            write_records(&mut header, target.map_or(4, |t| t.saturating_sub(start)));
            (header, format!("at least {} bytes", start + 4))
        }
        Variable::Bytes => {
            header.resize(start + target.map_or(0, |t| t.saturating_sub(start)), 0);
            (header, format!("at least {start} bytes"))
        }
    }
}

/// The lists whose length the builder adjusts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum List {
    /// Read Attributes: attribute identifiers.
    Attributes,
    /// A group count, then group identifiers.
    Groups,
    /// A scene count, then scene identifiers.
    Scenes,
    /// Link Status: options (count, first and last frame), then entries.
    Links,
    /// Simple descriptor: length, endpoint, profile, device, version,
    /// input clusters, no output clusters.
    Clusters,
}

impl List {
    /// Return the fixed bytes and the bytes per item.
    fn shape(self) -> (usize, usize) {
        match self {
            List::Attributes => (0, 2),
            List::Groups => (1, 2),
            List::Scenes => (1, 1),
            List::Links => (1, 3),
            List::Clusters => (9, 2),
        }
    }

    fn emit(self, out: &mut Vec<u8>, count: usize, neighbours: &[u16]) {
        match self {
            List::Attributes => {
                for i in 0..count {
                    out.extend_from_slice(&(i as u16).to_le_bytes());
                }
            }
            List::Groups => {
                out.push(count as u8);
                for i in 0..count {
                    out.extend_from_slice(&(0x2060 + 2 * i as u16).to_le_bytes());
                }
            }
            List::Scenes => {
                out.push(count as u8);
                for i in 0..count {
                    out.push(1 + i as u8);
                }
            }
            List::Links => {
                // First and last frame of the report, then the entry count.
                out.push(0x60 | (count as u8 & 0x1f));
                let mut addresses: Vec<u16> = neighbours.iter().copied().take(count).collect();
                let mut filler = 0x0101u16;
                while addresses.len() < count {
                    if !addresses.contains(&filler) {
                        addresses.push(filler);
                    }
                    filler = filler.wrapping_add(0x1111);
                }
                addresses.sort_unstable();
                for (i, addr) in addresses.iter().enumerate() {
                    out.extend_from_slice(&addr.to_le_bytes());
                    // Incoming cost 1, outgoing cost 1..3.
                    out.push(0x01 | ((1 + (i % 3) as u8) << 4));
                }
            }
            List::Clusters => {
                out.push(7 + 2 * count as u8);
                out.push(SERVER_ENDPOINT);
                out.extend_from_slice(&PROFILE_HA.to_le_bytes());
                out.extend_from_slice(&0x0101u16.to_le_bytes());
                out.push(0x01);
                out.push(count as u8);
                const CLUSTERS: [u16; 8] = [0x0000, 0x0003, 0x0004, 0x0005, 0x0006, 0x0008, 0x0300, 0x1000];
                for i in 0..count {
                    out.extend_from_slice(&CLUSTERS.get(i).copied().unwrap_or(0xfc00 + i as u16).to_le_bytes());
                }
                out.push(0);
            }
        }
    }
}

/// Return the item count whose total is nearest `want` (ties: fewer).
fn nearest_count(want: usize, unit: usize, max: usize) -> usize {
    let low = (want / unit).min(max);
    let high = (low + 1).min(max);
    if want.abs_diff(high * unit) < want.abs_diff(low * unit) {
        high
    } else {
        low
    }
}

/// Append Read Attributes Response records totalling `want` bytes (or the
/// nearest possible).
fn read_records(out: &mut Vec<u8>, want: usize) {
    let want = match want {
        0..=1 => 0,
        2..=3 => 3,
        4 => 5,
        w => w,
    };
    if want == 3 {
        out.extend_from_slice(&[0x00, 0x00, 0x86]);
        return;
    }
    let records = want / 5;
    let extra = want % 5;
    for i in 0..records {
        let width = if i + 1 == records { 1 + extra } else { 1 };
        out.extend_from_slice(&(i as u16).to_le_bytes());
        out.push(0x00);
        out.push(0x1f + width as u8);
        for b in 0..width {
            out.push(((i * 7 + b) % 251) as u8);
        }
    }
}

/// Append Write Attributes records totalling `want` bytes (or the nearest).
fn write_records(out: &mut Vec<u8>, want: usize) {
    let want = match want {
        0..=1 => 0,
        2..=3 => 4,
        w => w,
    };
    let records = want / 4;
    let extra = want % 4;
    for i in 0..records {
        let width = if i + 1 == records { 1 + extra } else { 1 };
        out.extend_from_slice(&(i as u16).to_le_bytes());
        out.push(0x1f + width as u8);
        for b in 0..width {
            out.push(((i * 5 + b) % 251) as u8);
        }
    }
}
