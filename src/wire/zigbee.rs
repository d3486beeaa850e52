//! Wire formats of the ZigBee stack: the IEEE 802.15.4 MAC header, the
//! ZigBee network (NWK) and application support (APS) headers, and the
//! ZigBee Cluster Library (ZCL) header.
//!
//! Each layer is a `Repr` value with `parse` (from the start of a byte slice,
//! returning the header length), `emit` (appending to a buffer) and
//! `buffer_len`. `parse` never panics: a short or contradictory header is a
//! [`WireError`] naming the layer and the field. Field layouts follow
//! IEEE 802.15.4-2003 §7.2 and the ZigBee specification (05-3474-21)
//! §3.3 (NWK), §2.2.5 (APS) and the ZCL specification (07-5123) §2.4.
//!
//! [`message`] gives a frame its meaning (the vocabulary of LLM-NTG's data
//! and tshark's info column); its items are re-exported here.

mod message;

pub use message::*;

use std::fmt;

/// Return the IEEE 802.15.4 FCS (CRC-16/KERMIT, §7.2.1.9) of `data`.
pub fn fcs(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for byte in data {
        crc ^= u16::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0x8408 } else { crc >> 1 };
        }
    }
    crc
}

/// The broadcast short address of the MAC layer (IEEE 802.15.4 §7.5.6.2).
pub const MAC_BROADCAST: u16 = 0xffff;

/// The lowest NWK broadcast address: 0xfff8–0xffff are broadcast
/// (ZigBee §3.6.5: 0xffff all devices, 0xfffd rx-on-when-idle, 0xfffc
/// routers and coordinator).
pub const NWK_BROADCAST_MIN: u16 = 0xfff8;

/// Return whether a NWK destination is a broadcast address.
pub fn is_nwk_broadcast(addr: u16) -> bool {
    addr >= NWK_BROADCAST_MIN
}

/// A layer of the ZigBee stack, as named in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// IEEE 802.15.4 MAC.
    Mac,
    /// ZigBee network layer.
    Nwk,
    /// ZigBee application support sub-layer.
    Aps,
    /// ZigBee Cluster Library.
    Zcl,
    /// ZigBee Device Profile.
    Zdp,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layer::Mac => "IEEE 802.15.4 MAC",
            Layer::Nwk => "ZigBee NWK",
            Layer::Aps => "ZigBee APS",
            Layer::Zcl => "ZCL",
            Layer::Zdp => "ZDP",
        })
    }
}

/// Why a header does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Fewer bytes than the header (as its control field describes it) needs.
    #[error("{layer}: truncated ({available} of {needed} bytes)")]
    Truncated {
        /// The layer.
        layer: Layer,
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        available: usize,
    },
    /// A field holds a value the layer does not allow.
    #[error("{layer}: {field} {detail}")]
    Malformed {
        /// The layer.
        layer: Layer,
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        detail: String,
    },
}

impl WireError {
    /// Return the layer the error concerns.
    pub fn layer(&self) -> Layer {
        match self {
            WireError::Truncated { layer, .. } | WireError::Malformed { layer, .. } => *layer,
        }
    }
}

fn need(layer: Layer, data: &[u8], needed: usize) -> Result<(), WireError> {
    if data.len() < needed {
        Err(WireError::Truncated { layer, needed, available: data.len() })
    } else {
        Ok(())
    }
}

fn u16_at(data: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([data[at], data[at + 1]])
}

fn u64_at(data: &[u8], at: usize) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&data[at..at + 8]);
    u64::from_le_bytes(bytes)
}

/// An IEEE 802.15.4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Address {
    /// Not present (addressing mode 0).
    Absent,
    /// A 16-bit short address (mode 2).
    Short(u16),
    /// A 64-bit extended address (mode 3).
    Extended(u64),
}

impl Address {
    fn mode(self) -> u16 {
        match self {
            Address::Absent => 0,
            Address::Short(_) => 2,
            Address::Extended(_) => 3,
        }
    }

    fn len(self) -> usize {
        match self {
            Address::Absent => 0,
            Address::Short(_) => 2,
            Address::Extended(_) => 8,
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Absent => f.write_str("none"),
            Address::Short(a) => write!(f, "0x{a:04x}"),
            Address::Extended(a) => write!(f, "{a:016x}"),
        }
    }
}

/// MAC frame types (IEEE 802.15.4 Table 79).
pub mod mac_type {
    /// Beacon.
    pub const BEACON: u8 = 0;
    /// Data.
    pub const DATA: u8 = 1;
    /// Acknowledgment.
    pub const ACK: u8 = 2;
    /// MAC command.
    pub const COMMAND: u8 = 3;
}

/// Bits of the MAC frame control field.
mod mac_fcf {
    pub const TYPE: u16 = 0x0007;
    pub const SECURITY: u16 = 0x0008;
    pub const PENDING: u16 = 0x0010;
    pub const ACK_REQUEST: u16 = 0x0020;
    pub const PAN_COMPRESSION: u16 = 0x0040;
    pub const DST_MODE_SHIFT: u16 = 10;
    pub const VERSION_SHIFT: u16 = 12;
    pub const SRC_MODE_SHIFT: u16 = 14;
}

/// The MAC header of an IEEE 802.15.4 frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacRepr {
    /// Frame type ([`mac_type`]).
    pub frame_type: u8,
    /// Security enabled (the payload is then encrypted).
    pub security: bool,
    /// Frame pending.
    pub frame_pending: bool,
    /// Acknowledgment request.
    pub ack_request: bool,
    /// PAN ID compression (source PAN omitted, equal to the destination's).
    pub pan_compression: bool,
    /// Frame version (0: 2003, 1: 2006).
    pub version: u8,
    /// Data sequence number.
    pub seq: u8,
    /// Destination PAN, present with a destination address.
    pub dst_pan: Option<u16>,
    /// Destination address.
    pub dst: Address,
    /// Source PAN, present with a source address unless compressed.
    pub src_pan: Option<u16>,
    /// Source address.
    pub src: Address,
}

impl MacRepr {
    /// Parse the MAC header at the start of `data`; return it and its length.
    ///
    /// # Errors
    /// [`WireError`] when the header is cut short or an addressing mode is
    /// reserved (1).
    pub fn parse(data: &[u8]) -> Result<(MacRepr, usize), WireError> {
        need(Layer::Mac, data, 3)?;
        let fcf = u16_at(data, 0);
        let dst_mode = (fcf >> mac_fcf::DST_MODE_SHIFT) & 3;
        let src_mode = (fcf >> mac_fcf::SRC_MODE_SHIFT) & 3;
        for (mode, field) in [(dst_mode, "destination addressing mode"), (src_mode, "source addressing mode")] {
            if mode == 1 {
                return Err(WireError::Malformed { layer: Layer::Mac, field, detail: "is reserved (1)".into() });
            }
        }
        let pan_compression = fcf & mac_fcf::PAN_COMPRESSION != 0;
        let mut at = 3;
        let addr = |mode: u16, at: &mut usize| -> Result<Address, WireError> {
            match mode {
                2 => {
                    need(Layer::Mac, data, *at + 2)?;
                    *at += 2;
                    Ok(Address::Short(u16_at(data, *at - 2)))
                }
                3 => {
                    need(Layer::Mac, data, *at + 8)?;
                    *at += 8;
                    Ok(Address::Extended(u64_at(data, *at - 8)))
                }
                _ => Ok(Address::Absent),
            }
        };
        let pan = |present: bool, at: &mut usize| -> Result<Option<u16>, WireError> {
            if !present {
                return Ok(None);
            }
            need(Layer::Mac, data, *at + 2)?;
            *at += 2;
            Ok(Some(u16_at(data, *at - 2)))
        };
        let dst_pan = pan(dst_mode != 0, &mut at)?;
        let dst = addr(dst_mode, &mut at)?;
        let src_pan = pan(src_mode != 0 && !(pan_compression && dst_mode != 0), &mut at)?;
        let src = addr(src_mode, &mut at)?;
        let repr = MacRepr {
            frame_type: (fcf & mac_fcf::TYPE) as u8,
            security: fcf & mac_fcf::SECURITY != 0,
            frame_pending: fcf & mac_fcf::PENDING != 0,
            ack_request: fcf & mac_fcf::ACK_REQUEST != 0,
            pan_compression,
            version: ((fcf >> mac_fcf::VERSION_SHIFT) & 3) as u8,
            seq: data[2],
            dst_pan,
            dst,
            src_pan,
            src,
        };
        Ok((repr, at))
    }

    /// Return the header length `emit` writes.
    pub fn buffer_len(&self) -> usize {
        3 + self.dst_pan.map_or(0, |_| 2) + self.dst.len() + self.src_pan.map_or(0, |_| 2) + self.src.len()
    }

    /// Return the frame control field.
    pub fn frame_control(&self) -> u16 {
        let mut fcf = u16::from(self.frame_type) & mac_fcf::TYPE;
        for (flag, bit) in [
            (self.security, mac_fcf::SECURITY),
            (self.frame_pending, mac_fcf::PENDING),
            (self.ack_request, mac_fcf::ACK_REQUEST),
            (self.pan_compression, mac_fcf::PAN_COMPRESSION),
        ] {
            if flag {
                fcf |= bit;
            }
        }
        fcf | (self.dst.mode() << mac_fcf::DST_MODE_SHIFT)
            | (u16::from(self.version & 3) << mac_fcf::VERSION_SHIFT)
            | (self.src.mode() << mac_fcf::SRC_MODE_SHIFT)
    }

    /// Append the header to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.frame_control().to_le_bytes());
        out.push(self.seq);
        for (pan, addr) in [(self.dst_pan, self.dst), (self.src_pan, self.src)] {
            if let Some(pan) = pan {
                out.extend_from_slice(&pan.to_le_bytes());
            }
            match addr {
                Address::Absent => {}
                Address::Short(a) => out.extend_from_slice(&a.to_le_bytes()),
                Address::Extended(a) => out.extend_from_slice(&a.to_le_bytes()),
            }
        }
    }
}

/// NWK frame types (ZigBee §3.3.1.1.1).
pub mod nwk_type {
    /// Data.
    pub const DATA: u8 = 0;
    /// NWK command.
    pub const COMMAND: u8 = 1;
    /// Inter-PAN.
    pub const INTER_PAN: u8 = 3;
}

/// Bits of the NWK frame control field.
mod nwk_fcf {
    pub const TYPE: u16 = 0x0003;
    pub const VERSION_SHIFT: u16 = 2;
    pub const DISCOVER_SHIFT: u16 = 6;
    pub const MULTICAST: u16 = 0x0100;
    pub const SECURITY: u16 = 0x0200;
    pub const SOURCE_ROUTE: u16 = 0x0400;
    pub const DST_IEEE: u16 = 0x0800;
    pub const SRC_IEEE: u16 = 0x1000;
    pub const END_DEVICE_INITIATOR: u16 = 0x2000;
}

/// The ZigBee NWK header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NwkRepr {
    /// Frame type ([`nwk_type`]).
    pub frame_type: u8,
    /// Protocol version (2 for ZigBee 2006 and PRO).
    pub version: u8,
    /// Discover route (0 suppress, 1 enable).
    pub discover_route: u8,
    /// Security: the payload is encrypted.
    pub security: bool,
    /// End device initiator.
    pub end_device_initiator: bool,
    /// Destination short address.
    pub dst: u16,
    /// Source short address.
    pub src: u16,
    /// Radius (hops left).
    pub radius: u8,
    /// Sequence number.
    pub seq: u8,
    /// Destination IEEE address, if present.
    pub dst_ieee: Option<u64>,
    /// Source IEEE address, if present.
    pub src_ieee: Option<u64>,
    /// Multicast control, if the multicast flag is set.
    pub multicast_control: Option<u8>,
    /// Source route subframe (relay index, relays), if present.
    pub source_route: Option<(u8, Vec<u16>)>,
}

impl NwkRepr {
    /// Parse the NWK header at the start of `data`; return it and its length.
    ///
    /// # Errors
    /// [`WireError::Truncated`] when a field the frame control announces is
    /// missing.
    pub fn parse(data: &[u8]) -> Result<(NwkRepr, usize), WireError> {
        need(Layer::Nwk, data, 8)?;
        let fcf = u16_at(data, 0);
        let mut at = 8;
        let ieee = |flag: u16, at: &mut usize| -> Result<Option<u64>, WireError> {
            if fcf & flag == 0 {
                return Ok(None);
            }
            need(Layer::Nwk, data, *at + 8)?;
            *at += 8;
            Ok(Some(u64_at(data, *at - 8)))
        };
        let dst_ieee = ieee(nwk_fcf::DST_IEEE, &mut at)?;
        let src_ieee = ieee(nwk_fcf::SRC_IEEE, &mut at)?;
        let multicast_control = if fcf & nwk_fcf::MULTICAST != 0 {
            need(Layer::Nwk, data, at + 1)?;
            at += 1;
            Some(data[at - 1])
        } else {
            None
        };
        let source_route = if fcf & nwk_fcf::SOURCE_ROUTE != 0 {
            need(Layer::Nwk, data, at + 2)?;
            let count = usize::from(data[at]);
            let index = data[at + 1];
            need(Layer::Nwk, data, at + 2 + 2 * count)?;
            let relays = (0..count).map(|i| u16_at(data, at + 2 + 2 * i)).collect();
            at += 2 + 2 * count;
            Some((index, relays))
        } else {
            None
        };
        let repr = NwkRepr {
            frame_type: (fcf & nwk_fcf::TYPE) as u8,
            version: ((fcf >> nwk_fcf::VERSION_SHIFT) & 0xf) as u8,
            discover_route: ((fcf >> nwk_fcf::DISCOVER_SHIFT) & 3) as u8,
            security: fcf & nwk_fcf::SECURITY != 0,
            end_device_initiator: fcf & nwk_fcf::END_DEVICE_INITIATOR != 0,
            dst: u16_at(data, 2),
            src: u16_at(data, 4),
            radius: data[6],
            seq: data[7],
            dst_ieee,
            src_ieee,
            multicast_control,
            source_route,
        };
        Ok((repr, at))
    }

    /// Return the frame control field.
    pub fn frame_control(&self) -> u16 {
        let mut fcf = u16::from(self.frame_type) & nwk_fcf::TYPE;
        fcf |= u16::from(self.version & 0xf) << nwk_fcf::VERSION_SHIFT;
        fcf |= u16::from(self.discover_route & 3) << nwk_fcf::DISCOVER_SHIFT;
        for (flag, bit) in [
            (self.multicast_control.is_some(), nwk_fcf::MULTICAST),
            (self.security, nwk_fcf::SECURITY),
            (self.source_route.is_some(), nwk_fcf::SOURCE_ROUTE),
            (self.dst_ieee.is_some(), nwk_fcf::DST_IEEE),
            (self.src_ieee.is_some(), nwk_fcf::SRC_IEEE),
            (self.end_device_initiator, nwk_fcf::END_DEVICE_INITIATOR),
        ] {
            if flag {
                fcf |= bit;
            }
        }
        fcf
    }

    /// Return the header length `emit` writes.
    pub fn buffer_len(&self) -> usize {
        8 + 8 * usize::from(self.dst_ieee.is_some())
            + 8 * usize::from(self.src_ieee.is_some())
            + usize::from(self.multicast_control.is_some())
            + self.source_route.as_ref().map_or(0, |(_, relays)| 2 + 2 * relays.len())
    }

    /// Append the header to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.frame_control().to_le_bytes());
        out.extend_from_slice(&self.dst.to_le_bytes());
        out.extend_from_slice(&self.src.to_le_bytes());
        out.push(self.radius);
        out.push(self.seq);
        for ieee in [self.dst_ieee, self.src_ieee].into_iter().flatten() {
            out.extend_from_slice(&ieee.to_le_bytes());
        }
        if let Some(control) = self.multicast_control {
            out.push(control);
        }
        if let Some((index, relays)) = &self.source_route {
            out.push(relays.len() as u8);
            out.push(*index);
            for relay in relays {
                out.extend_from_slice(&relay.to_le_bytes());
            }
        }
    }
}

/// NWK command identifiers (ZigBee Table 3.40).
pub mod nwk_command {
    /// Route request.
    pub const ROUTE_REQUEST: u8 = 0x01;
    /// Route reply.
    pub const ROUTE_REPLY: u8 = 0x02;
    /// Network status.
    pub const NETWORK_STATUS: u8 = 0x03;
    /// Leave.
    pub const LEAVE: u8 = 0x04;
    /// Route record.
    pub const ROUTE_RECORD: u8 = 0x05;
    /// Rejoin request.
    pub const REJOIN_REQUEST: u8 = 0x06;
    /// Rejoin response.
    pub const REJOIN_RESPONSE: u8 = 0x07;
    /// Link status.
    pub const LINK_STATUS: u8 = 0x08;
    /// Network report.
    pub const NETWORK_REPORT: u8 = 0x09;
    /// Network update.
    pub const NETWORK_UPDATE: u8 = 0x0a;
    /// End device timeout request.
    pub const ED_TIMEOUT_REQUEST: u8 = 0x0b;
    /// End device timeout response.
    pub const ED_TIMEOUT_RESPONSE: u8 = 0x0c;
    /// Link power delta.
    pub const LINK_POWER_DELTA: u8 = 0x0d;
}

/// APS frame types (ZigBee §2.2.5.1.1.1).
pub mod aps_type {
    /// Data.
    pub const DATA: u8 = 0;
    /// APS command.
    pub const COMMAND: u8 = 1;
    /// Acknowledgment.
    pub const ACK: u8 = 2;
}

/// APS delivery modes (ZigBee Table 2.21).
pub mod aps_delivery {
    /// Normal unicast.
    pub const UNICAST: u8 = 0;
    /// Broadcast.
    pub const BROADCAST: u8 = 2;
    /// Group addressing.
    pub const GROUP: u8 = 3;
}

/// The ZigBee APS header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApsRepr {
    /// Frame type ([`aps_type`]).
    pub frame_type: u8,
    /// Delivery mode ([`aps_delivery`]).
    pub delivery: u8,
    /// Ack format (acknowledgment of an APS command).
    pub ack_format: bool,
    /// Security: the payload is encrypted.
    pub security: bool,
    /// Acknowledgment request.
    pub ack_request: bool,
    /// Extended header (fragmentation) bytes, if present.
    pub extended: Option<Vec<u8>>,
    /// Destination endpoint (unicast and broadcast delivery).
    pub dst_endpoint: Option<u8>,
    /// Group address (group delivery).
    pub group: Option<u16>,
    /// Cluster identifier (data and data acknowledgments).
    pub cluster: Option<u16>,
    /// Profile identifier (data and data acknowledgments).
    pub profile: Option<u16>,
    /// Source endpoint (data and data acknowledgments).
    pub src_endpoint: Option<u8>,
    /// APS counter.
    pub counter: u8,
}

impl ApsRepr {
    /// Parse the APS header at the start of `data`; return it and its length.
    ///
    /// # Errors
    /// [`WireError`] when the header is cut short or the frame type is
    /// reserved (3).
    pub fn parse(data: &[u8]) -> Result<(ApsRepr, usize), WireError> {
        need(Layer::Aps, data, 1)?;
        let fcf = data[0];
        let frame_type = fcf & 3;
        if frame_type == 3 {
            return Err(WireError::Malformed {
                layer: Layer::Aps,
                field: "frame type",
                detail: "is reserved (3)".into(),
            });
        }
        let delivery = (fcf >> 2) & 3;
        let ack_format = fcf & 0x10 != 0;
        let addressed = frame_type == aps_type::DATA || (frame_type == aps_type::ACK && !ack_format);
        let mut at = 1;
        let take = |n: usize, at: &mut usize| -> Result<usize, WireError> {
            need(Layer::Aps, data, *at + n)?;
            *at += n;
            Ok(*at - n)
        };
        let mut dst_endpoint = None;
        let mut group = None;
        let (mut cluster, mut profile, mut src_endpoint) = (None, None, None);
        if addressed {
            if delivery == aps_delivery::GROUP {
                group = Some(u16_at(data, take(2, &mut at)?));
            } else {
                dst_endpoint = Some(data[take(1, &mut at)?]);
            }
            cluster = Some(u16_at(data, take(2, &mut at)?));
            profile = Some(u16_at(data, take(2, &mut at)?));
            src_endpoint = Some(data[take(1, &mut at)?]);
        }
        let counter = data[take(1, &mut at)?];
        let extended = if fcf & 0x80 != 0 {
            let start = take(1, &mut at)?;
            let ext = data[start];
            let mut len = 1;
            if ext & 3 != 0 {
                take(1, &mut at)?;
                len += 1;
                if frame_type == aps_type::ACK {
                    take(1, &mut at)?;
                    len += 1;
                }
            }
            Some(data[start..start + len].to_vec())
        } else {
            None
        };
        let repr = ApsRepr {
            frame_type,
            delivery,
            ack_format,
            security: fcf & 0x20 != 0,
            ack_request: fcf & 0x40 != 0,
            extended,
            dst_endpoint,
            group,
            cluster,
            profile,
            src_endpoint,
            counter,
        };
        Ok((repr, at))
    }

    /// Return the frame control field.
    pub fn frame_control(&self) -> u8 {
        let mut fcf = (self.frame_type & 3) | ((self.delivery & 3) << 2);
        for (flag, bit) in
            [(self.ack_format, 0x10), (self.security, 0x20), (self.ack_request, 0x40), (self.extended.is_some(), 0x80)]
        {
            if flag {
                fcf |= bit;
            }
        }
        fcf
    }

    /// Return the header length `emit` writes.
    pub fn buffer_len(&self) -> usize {
        1 + usize::from(self.dst_endpoint.is_some())
            + 2 * usize::from(self.group.is_some())
            + 2 * usize::from(self.cluster.is_some())
            + 2 * usize::from(self.profile.is_some())
            + usize::from(self.src_endpoint.is_some())
            + 1
            + self.extended.as_ref().map_or(0, Vec::len)
    }

    /// Append the header to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(self.frame_control());
        if let Some(group) = self.group {
            out.extend_from_slice(&group.to_le_bytes());
        }
        if let Some(endpoint) = self.dst_endpoint {
            out.push(endpoint);
        }
        for value in [self.cluster, self.profile].into_iter().flatten() {
            out.extend_from_slice(&value.to_le_bytes());
        }
        if let Some(endpoint) = self.src_endpoint {
            out.push(endpoint);
        }
        out.push(self.counter);
        if let Some(extended) = &self.extended {
            out.extend_from_slice(extended);
        }
    }
}

/// The ZCL frame header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZclRepr {
    /// Frame type: 0 profile-wide ("global"), 1 cluster-specific.
    pub frame_type: u8,
    /// Manufacturer code, when the manufacturer-specific flag is set.
    pub manufacturer: Option<u16>,
    /// Direction: true when sent from the server to the client.
    pub server_to_client: bool,
    /// Disable default response.
    pub disable_default_response: bool,
    /// Transaction sequence number.
    pub tsn: u8,
    /// Command identifier.
    pub command: u8,
}

impl ZclRepr {
    /// Parse the ZCL header at the start of `data`; return it and its length.
    ///
    /// # Errors
    /// [`WireError`] when the header is cut short or the frame type is
    /// reserved (2 or 3).
    pub fn parse(data: &[u8]) -> Result<(ZclRepr, usize), WireError> {
        need(Layer::Zcl, data, 1)?;
        let fcf = data[0];
        if fcf & 3 > 1 {
            return Err(WireError::Malformed {
                layer: Layer::Zcl,
                field: "frame type",
                detail: format!("is reserved ({})", fcf & 3),
            });
        }
        let manufacturer_specific = fcf & 0x04 != 0;
        let len = if manufacturer_specific { 5 } else { 3 };
        need(Layer::Zcl, data, len)?;
        let manufacturer = manufacturer_specific.then(|| u16_at(data, 1));
        let repr = ZclRepr {
            frame_type: fcf & 3,
            manufacturer,
            server_to_client: fcf & 0x08 != 0,
            disable_default_response: fcf & 0x10 != 0,
            tsn: data[len - 2],
            command: data[len - 1],
        };
        Ok((repr, len))
    }

    /// Return the frame control field.
    pub fn frame_control(&self) -> u8 {
        let mut fcf = self.frame_type & 3;
        for (flag, bit) in
            [(self.manufacturer.is_some(), 0x04), (self.server_to_client, 0x08), (self.disable_default_response, 0x10)]
        {
            if flag {
                fcf |= bit;
            }
        }
        fcf
    }

    /// Return the header length `emit` writes.
    pub fn buffer_len(&self) -> usize {
        if self.manufacturer.is_some() {
            5
        } else {
            3
        }
    }

    /// Append the header to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(self.frame_control());
        if let Some(code) = self.manufacturer {
            out.extend_from_slice(&code.to_le_bytes());
        }
        out.push(self.tsn);
        out.push(self.command);
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use proptest::prelude::*;

    /// Frame 2 of LLM-NTG's real two-way capture: Read Attributes from
    /// 0xd7a7 to 0x1de6 (manufacturer-specific, Philips).
    static READ_ATTRIBUTES: [u8; 30] = [
        0x61, 0x88, 0x02, 0xde, 0x15, 0xe6, 0x1d, 0xa7, 0xd7, 0x48, 0x00, 0xe6, 0x1d, 0xa7, 0xd7, 0x1e, 0x02, 0x00,
        0x0b, 0x03, 0xfc, 0x04, 0x01, 0x40, 0x01, 0x04, 0x0b, 0x10, 0x0b, 0x00,
    ];

    fn layers() -> (MacRepr, NwkRepr, ApsRepr, ZclRepr) {
        let mac = MacRepr {
            frame_type: mac_type::DATA,
            security: false,
            frame_pending: false,
            ack_request: true,
            pan_compression: true,
            version: 0,
            seq: 2,
            dst_pan: Some(0x15de),
            dst: Address::Short(0x1de6),
            src_pan: None,
            src: Address::Short(0xd7a7),
        };
        let nwk = NwkRepr {
            frame_type: nwk_type::DATA,
            version: 2,
            discover_route: 1,
            security: false,
            end_device_initiator: false,
            dst: 0x1de6,
            src: 0xd7a7,
            radius: 30,
            seq: 2,
            dst_ieee: None,
            src_ieee: None,
            multicast_control: None,
            source_route: None,
        };
        let aps = ApsRepr {
            frame_type: aps_type::DATA,
            delivery: aps_delivery::UNICAST,
            ack_format: false,
            security: false,
            ack_request: false,
            extended: None,
            dst_endpoint: Some(11),
            group: None,
            cluster: Some(0xfc03),
            profile: Some(0x0104),
            src_endpoint: Some(64),
            counter: 1,
        };
        let zcl = ZclRepr {
            frame_type: 0,
            manufacturer: Some(0x100b),
            server_to_client: false,
            disable_default_response: false,
            tsn: 11,
            command: 0,
        };
        (mac, nwk, aps, zcl)
    }

    #[test]
    fn test_parse_real_frame() {
        let (mac, nwk, aps, zcl) = layers();
        let data = &READ_ATTRIBUTES[..];
        let (got, at) = MacRepr::parse(data).unwrap();
        assert_eq!((got, at), (mac, 9));
        let (got, len) = NwkRepr::parse(&data[at..]).unwrap();
        assert_eq!((got, len), (nwk, 8));
        let (got, len) = ApsRepr::parse(&data[17..]).unwrap();
        assert_eq!((got, len), (aps, 8));
        let (got, len) = ZclRepr::parse(&data[25..]).unwrap();
        assert_eq!((got, len), (zcl, 5));
    }

    #[test]
    fn test_emit_real_frame() {
        let (mac, nwk, aps, zcl) = layers();
        let mut out = Vec::new();
        mac.emit(&mut out);
        nwk.emit(&mut out);
        aps.emit(&mut out);
        zcl.emit(&mut out);
        assert_eq!(out, READ_ATTRIBUTES);
        assert_eq!(mac.buffer_len() + nwk.buffer_len() + aps.buffer_len() + zcl.buffer_len(), 30);
    }

    #[test]
    fn test_truncated_names_layer() {
        let error = NwkRepr::parse(&READ_ATTRIBUTES[9..12]).unwrap_err();
        assert_eq!(error, WireError::Truncated { layer: Layer::Nwk, needed: 8, available: 3 });
        assert_eq!(error.to_string(), "ZigBee NWK: truncated (3 of 8 bytes)");
        assert!(matches!(MacRepr::parse(&[0x41, 0x84, 1]), Err(WireError::Malformed { layer: Layer::Mac, .. })));
    }

    proptest! {
        #[test]
        fn prop_parse_never_panics(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = MacRepr::parse(&data);
            let _ = NwkRepr::parse(&data);
            let _ = ApsRepr::parse(&data);
            let _ = ZclRepr::parse(&data);
        }

        #[test]
        fn prop_nwk_emit_parse(dst in any::<u16>(), src in any::<u16>(), seq in any::<u8>(), ieee in proptest::option::of(any::<u64>()),
                               relays in proptest::option::of(proptest::collection::vec(any::<u16>(), 0..4)), command in any::<bool>()) {
            let nwk = NwkRepr {
                frame_type: u8::from(command), version: 2, discover_route: 1, security: false, end_device_initiator: false,
                dst, src, radius: 30, seq, dst_ieee: None, src_ieee: ieee, multicast_control: None,
                source_route: relays.map(|r| (0, r)),
            };
            let mut out = Vec::new();
            nwk.emit(&mut out);
            prop_assert_eq!(out.len(), nwk.buffer_len());
            prop_assert_eq!(NwkRepr::parse(&out).unwrap(), (nwk, out.len()));
        }

        #[test]
        fn prop_mac_emit_parse(seq in any::<u8>(), dst in any::<u16>(), src in prop_oneof![any::<u16>().prop_map(Address::Short), any::<u64>().prop_map(Address::Extended)],
                               compress in any::<bool>()) {
            let mac = MacRepr {
                frame_type: mac_type::DATA, security: false, frame_pending: false, ack_request: dst != MAC_BROADCAST,
                pan_compression: compress, version: 0, seq, dst_pan: Some(0x1234), dst: Address::Short(dst),
                src_pan: if compress { None } else { Some(0x1234) }, src,
            };
            let mut out = Vec::new();
            mac.emit(&mut out);
            prop_assert_eq!(out.len(), mac.buffer_len());
            prop_assert_eq!(MacRepr::parse(&out).unwrap(), (mac, out.len()));
        }
    }
}
