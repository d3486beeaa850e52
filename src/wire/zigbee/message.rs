//! ZigBee messages: what a frame means above its headers.
//!
//! The message vocabulary is the one of LLM-NTG's data: the `info` column of
//! Wireshark's packet list for the message types that occur in its real
//! captures (Link Status, Network Status, Route Request/Reply, ZCL Read and
//! Write Attributes, Default Response, Groups and Scenes membership, OTA
//! Query Next Image, ZDP Node and Simple Descriptor). [`Kind`] is that
//! vocabulary; [`Kind::info`] writes the text tshark shows for a frame,
//! [`decode`] parses every header of a frame and [`classify`] recognises
//! the message from the bytes.

use super::{aps_type, mac_type, nwk_command, nwk_type, Address, ApsRepr, MacRepr, NwkRepr, WireError, ZclRepr};
use crate::finding::{Layers, Protocol};

/// The Home Automation profile.
pub const PROFILE_HA: u16 = 0x0104;
/// The ZigBee Device Profile (ZDO endpoint 0).
pub const PROFILE_ZDP: u16 = 0x0000;
/// The Groups cluster (ZCL §3.6).
pub const CLUSTER_GROUPS: u16 = 0x0004;
/// The Scenes cluster (ZCL §3.7).
pub const CLUSTER_SCENES: u16 = 0x0005;
/// The OTA Upgrade cluster (ZCL §11).
pub const CLUSTER_OTA: u16 = 0x0019;
/// The manufacturer-specific cluster LLM-NTG's real devices read (Philips).
pub const CLUSTER_PHILIPS: u16 = 0xfc03;
/// Philips' manufacturer code.
pub const MANUFACTURER_PHILIPS: u16 = 0x100b;

/// ZDP cluster identifiers (ZigBee §2.4.3).
pub mod zdp_cluster {
    /// Node_Desc_req.
    pub const NODE_DESC_REQ: u16 = 0x0002;
    /// Simple_Desc_req.
    pub const SIMPLE_DESC_REQ: u16 = 0x0004;
    /// Node_Desc_rsp.
    pub const NODE_DESC_RSP: u16 = 0x8002;
    /// Simple_Desc_rsp.
    pub const SIMPLE_DESC_RSP: u16 = 0x8004;
}

/// ZCL profile-wide command identifiers (ZCL Table 2-3).
pub mod zcl_global {
    /// Read Attributes.
    pub const READ_ATTRIBUTES: u8 = 0x00;
    /// Read Attributes Response.
    pub const READ_ATTRIBUTES_RESPONSE: u8 = 0x01;
    /// Write Attributes.
    pub const WRITE_ATTRIBUTES: u8 = 0x02;
    /// Write Attributes Response.
    pub const WRITE_ATTRIBUTES_RESPONSE: u8 = 0x04;
    /// Default Response.
    pub const DEFAULT_RESPONSE: u8 = 0x0b;
}

/// One message type of LLM-NTG's vocabulary, with the values its `info`
/// text carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// NWK Link Status (broadcast to routers).
    LinkStatus,
    /// NWK Network Status about `addr`.
    NetworkStatus {
        /// The destination address field.
        addr: u16,
        /// The status code.
        status: u8,
    },
    /// NWK Route Request for `dst`.
    RouteRequest {
        /// The address a route is sought to.
        dst: u16,
        /// The originator (NWK source).
        src: u16,
    },
    /// NWK Route Reply.
    RouteReply {
        /// The responder.
        responder: u16,
        /// The originator of the request.
        originator: u16,
    },
    /// ZCL Read Attributes.
    ReadAttributes,
    /// ZCL Read Attributes Response.
    ReadAttributesResponse,
    /// ZCL Write Attributes.
    WriteAttributes,
    /// ZCL Write Attributes Response.
    WriteAttributesResponse,
    /// ZCL Default Response.
    DefaultResponse,
    /// ZCL Groups: Get Group Membership.
    GetGroupMembership,
    /// ZCL Groups: Get Group Membership Response.
    GetGroupMembershipResponse,
    /// ZCL Scenes: Get Scene Membership.
    GetSceneMembership,
    /// ZCL Scenes: Get Scene Membership Response.
    GetSceneMembershipResponse,
    /// ZCL OTA: Query Next Image Request.
    OtaQueryNextImageRequest,
    /// ZCL OTA: Query Next Image Response.
    OtaQueryNextImageResponse,
    /// A manufacturer-specific ZCL command tshark does not name.
    ZclUnknown(u8),
    /// ZDP Node Descriptor Request about `addr`.
    NodeDescriptorRequest {
        /// NWK address of interest.
        addr: u16,
    },
    /// ZDP Node Descriptor Response.
    NodeDescriptorResponse {
        /// NWK address of interest.
        addr: u16,
        /// Stack compliance revision (server mask bits 9–15).
        rev: u8,
        /// ZDP status.
        status: u8,
    },
    /// ZDP Simple Descriptor Request.
    SimpleDescriptorRequest {
        /// NWK address of interest.
        addr: u16,
        /// Endpoint.
        endpoint: u8,
    },
    /// ZDP Simple Descriptor Response.
    SimpleDescriptorResponse {
        /// NWK address of interest.
        addr: u16,
        /// ZDP status.
        status: u8,
    },
}

/// Which protocol carries a [`Kind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    /// A NWK command.
    Nwk,
    /// ZCL over APS.
    Zcl,
    /// ZDP over APS.
    Zdp,
}

impl Kind {
    /// Return the protocol that carries this message.
    pub fn carrier(self) -> Carrier {
        match self {
            Kind::LinkStatus | Kind::NetworkStatus { .. } | Kind::RouteRequest { .. } | Kind::RouteReply { .. } => {
                Carrier::Nwk
            }
            Kind::NodeDescriptorRequest { .. }
            | Kind::NodeDescriptorResponse { .. }
            | Kind::SimpleDescriptorRequest { .. }
            | Kind::SimpleDescriptorResponse { .. } => Carrier::Zdp,
            _ => Carrier::Zcl,
        }
    }

    /// Return the request this message answers, if it is a response.
    pub fn answers(self) -> Option<&'static str> {
        Some(match self {
            Kind::ReadAttributesResponse => "Read Attributes",
            Kind::WriteAttributesResponse => "Write Attributes",
            Kind::GetGroupMembershipResponse => "Get Group Membership",
            Kind::GetSceneMembershipResponse => "Get Scene Membership",
            Kind::OtaQueryNextImageResponse => "Query Next Image Request",
            Kind::NodeDescriptorResponse { .. } => "Node Descriptor Request",
            Kind::SimpleDescriptorResponse { .. } => "Simple Descriptor Request",
            _ => return None,
        })
    }

    /// Return the short name of the message type without values
    /// (`Read Attributes Response`, `Link Status`, …): the key of
    /// packet-type frequency tables.
    pub fn name(self) -> String {
        match self {
            Kind::LinkStatus => "Link Status".into(),
            Kind::NetworkStatus { status, .. } => format!("Network Status: {}", nwk_status_name(status)),
            Kind::RouteRequest { .. } => "Route Request".into(),
            Kind::RouteReply { .. } => "Route Reply".into(),
            Kind::ReadAttributes => "ZCL: Read Attributes".into(),
            Kind::ReadAttributesResponse => "ZCL: Read Attributes Response".into(),
            Kind::WriteAttributes => "ZCL: Write Attributes".into(),
            Kind::WriteAttributesResponse => "ZCL: Write Attributes Response".into(),
            Kind::DefaultResponse => "ZCL: Default Response".into(),
            Kind::GetGroupMembership => "ZCL Groups: Get Group Membership".into(),
            Kind::GetGroupMembershipResponse => "ZCL Groups: Get Group Membership Response".into(),
            Kind::GetSceneMembership => "ZCL Scenes: Get Scene Membership".into(),
            Kind::GetSceneMembershipResponse => "ZCL Scenes: Get Scene Membership Response".into(),
            Kind::OtaQueryNextImageRequest => "ZCL OTA: Query Next Image Request".into(),
            Kind::OtaQueryNextImageResponse => "ZCL OTA: Query Next Image Response".into(),
            Kind::ZclUnknown(command) => format!("Unknown Command: 0x{command:02x}"),
            Kind::NodeDescriptorRequest { .. } => "Node Descriptor Request".into(),
            Kind::NodeDescriptorResponse { .. } => "Node Descriptor Response".into(),
            Kind::SimpleDescriptorRequest { .. } => "Simple Descriptor Request".into(),
            Kind::SimpleDescriptorResponse { .. } => "Simple Descriptor Response".into(),
        }
    }

    /// Return the text tshark 4.0 shows in the Info column for this message
    /// with ZCL transaction sequence number `tsn`.
    pub fn info(self, tsn: u8) -> String {
        match self {
            Kind::LinkStatus => "Link Status".into(),
            Kind::NetworkStatus { addr, status } => {
                format!("Network Status, 0x{addr:04x}: {}", nwk_status_name(status))
            }
            Kind::RouteRequest { dst, src } => format!("Route Request, Dst: 0x{dst:04x}, Src: 0x{src:04x}"),
            Kind::RouteReply { responder, originator } => {
                format!("Route Reply, Responder: 0x{responder:04x}, Originator: 0x{originator:04x}")
            }
            Kind::NodeDescriptorRequest { addr } => format!("Node Descriptor Request, Nwk Addr: 0x{addr:04x}"),
            Kind::NodeDescriptorResponse { addr, rev, status } => {
                format!(
                    "Node Descriptor Response, Rev: {rev}, Nwk Addr: 0x{addr:04x}, Status: {}",
                    zdp_status_name(status)
                )
            }
            Kind::SimpleDescriptorRequest { addr, endpoint } => {
                format!("Simple Descriptor Request, Nwk Addr: 0x{addr:04x}, Endpoint: {endpoint}")
            }
            Kind::SimpleDescriptorResponse { addr, status } => {
                format!("Simple Descriptor Response, Nwk Addr: 0x{addr:04x}, Status: {}", zdp_status_name(status))
            }
            _ => format!("{}, Seq: {tsn}", self.name()),
        }
    }
}

/// Return Wireshark's name of a NWK status code (ZigBee Table 3.42).
pub fn nwk_status_name(status: u8) -> String {
    let name = match status {
        0x00 => "No Route Available",
        0x01 => "Tree Link Failure",
        0x02 => "Non-tree Link Failure",
        0x03 => "Low Battery",
        0x04 => "No Routing Capacity",
        0x05 => "No Indirect Capacity",
        0x06 => "Indirect Transaction Expiry",
        0x07 => "Target Device Unavailable",
        0x08 => "Target Address Unallocated",
        0x09 => "Parent Link Failure",
        0x0a => "Validate Route",
        0x0b => "Source Route Failure",
        0x0c => "Many-to-One Route Failure",
        0x0d => "Address Conflict",
        0x0e => "Verify Address",
        0x0f => "PAN ID Update",
        0x10 => "Network Address Update",
        0x11 => "Bad Frame Counter",
        0x12 => "Bad Key Sequence Number",
        0x13 => "Unknown Command",
        other => return format!("Unknown Status (0x{other:02x})"),
    };
    name.to_string()
}

/// Return the NWK status code of a Wireshark status name.
pub fn nwk_status_code(name: &str) -> Option<u8> {
    (0u8..=0x13).find(|code| nwk_status_name(*code).eq_ignore_ascii_case(name.trim()))
}

/// Return Wireshark's name of a ZDP status (ZigBee Table 2.138), for the
/// codes the builder writes.
pub fn zdp_status_name(status: u8) -> String {
    match status {
        0x00 => "Success".into(),
        0x80 => "Invalid Request Type".into(),
        0x81 => "Device Not Found".into(),
        0x82 => "Invalid Endpoint".into(),
        0x83 => "Not Active".into(),
        0x84 => "Not Supported".into(),
        0x89 => "No Descriptor".into(),
        other => format!("Unknown (0x{other:02x})"),
    }
}

/// Return the ZDP status code of a Wireshark status name.
pub fn zdp_status_code(name: &str) -> Option<u8> {
    [0x00u8, 0x80, 0x81, 0x82, 0x83, 0x84, 0x89]
        .into_iter()
        .find(|code| zdp_status_name(*code).eq_ignore_ascii_case(name.trim()))
}

/// The application layer of a decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum App<'a> {
    /// None (NWK command, encrypted, APS command or acknowledgment).
    None,
    /// A ZCL frame and its payload, or why its header does not parse.
    Zcl(Result<(ZclRepr, &'a [u8]), WireError>),
    /// A ZDP frame (transaction sequence number and payload).
    Zdp(Result<(u8, &'a [u8]), WireError>),
}

/// A frame decoded as far as its layers go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded<'a> {
    /// The MAC header.
    pub mac: MacRepr,
    /// The NWK header and payload: `None` when the MAC frame carries none
    /// (not a data frame, MAC security, empty payload).
    pub nwk: Option<Result<(NwkRepr, &'a [u8]), WireError>>,
    /// The APS header and payload: `None` for NWK commands and encrypted
    /// NWK payloads.
    pub aps: Option<Result<(ApsRepr, &'a [u8]), WireError>>,
    /// The application layer.
    pub app: App<'a>,
}

/// Decode an IEEE 802.15.4 frame (without FCS) as far as its layers go.
///
/// # Errors
/// [`WireError`] when even the MAC header does not parse.
pub fn decode(data: &[u8]) -> Result<Decoded<'_>, WireError> {
    let (mac, at) = MacRepr::parse(data)?;
    let payload = &data[at..];
    let nwk = (mac.frame_type == mac_type::DATA && !mac.security && !payload.is_empty())
        .then(|| NwkRepr::parse(payload).map(|(nwk, len)| (nwk, &payload[len..])));
    let aps = match &nwk {
        Some(Ok((nwk, payload))) if nwk.frame_type == nwk_type::DATA && !nwk.security => {
            Some(ApsRepr::parse(payload).map(|(aps, len)| (aps, &payload[len..])))
        }
        _ => None,
    };
    let app = match &aps {
        Some(Ok((aps, payload))) if aps.frame_type == aps_type::DATA && !aps.security && aps.extended.is_none() => {
            match aps.profile {
                Some(PROFILE_ZDP) => App::Zdp(match payload.split_first() {
                    Some((tsn, rest)) => Ok((*tsn, rest)),
                    None => Err(WireError::Truncated { layer: super::Layer::Zdp, needed: 1, available: 0 }),
                }),
                Some(_) => App::Zcl(ZclRepr::parse(payload).map(|(zcl, len)| (zcl, &payload[len..]))),
                None => App::None,
            }
        }
        _ => App::None,
    };
    Ok(Decoded { mac, nwk, aps, app })
}

impl Decoded<'_> {
    /// Return the layers this frame promises (`expected`) and those that
    /// decode (`present`), in the success-rate tables' vocabulary.
    pub fn layers(&self) -> (Layers, Layers) {
        let mut expected = Layers::default();
        let mut present = Layers::default();
        expected.insert(Protocol::Zigbee);
        present.insert(Protocol::Zigbee);
        let mut mark = |protocol: Protocol, decodes: bool| {
            expected.insert(protocol);
            if decodes {
                present.insert(protocol);
            }
        };
        if let Some(nwk) = &self.nwk {
            mark(Protocol::ZbeeNwk, nwk.is_ok());
        }
        if let Some(aps) = &self.aps {
            mark(Protocol::ZbeeAps, aps.is_ok());
        }
        match &self.app {
            App::Zcl(zcl) => mark(Protocol::Zcl, zcl.is_ok()),
            App::Zdp(zdp) => mark(Protocol::Zdp, zdp.is_ok()),
            App::None => {}
        }
        (expected, present)
    }

    /// Return the NWK source and destination, else the MAC short addresses.
    pub fn addresses(&self) -> (Option<u16>, Option<u16>) {
        if let Some(Ok((nwk, _))) = &self.nwk {
            return (Some(nwk.src), Some(nwk.dst));
        }
        let short = |a: Address| match a {
            Address::Short(a) => Some(a),
            _ => None,
        };
        (short(self.mac.src), short(self.mac.dst))
    }

    /// Return the ZCL transaction sequence number (ZCL or ZDP), if any.
    pub fn tsn(&self) -> Option<u8> {
        match &self.app {
            App::Zcl(Ok((zcl, _))) => Some(zcl.tsn),
            App::Zdp(Ok((tsn, _))) => Some(*tsn),
            _ => None,
        }
    }
}

fn u16_le(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*data.get(at)?, *data.get(at + 1)?]))
}

/// Recognise the message of a decoded frame; `None` for anything outside
/// LLM-NTG's vocabulary (or too short to tell).
pub fn classify(decoded: &Decoded<'_>) -> Option<Kind> {
    let Some(Ok((nwk, payload))) = &decoded.nwk else { return None };
    if nwk.frame_type == nwk_type::COMMAND && !nwk.security {
        let (command, body) = payload.split_first()?;
        return match *command {
            nwk_command::LINK_STATUS => Some(Kind::LinkStatus),
            nwk_command::NETWORK_STATUS => Some(Kind::NetworkStatus { status: *body.first()?, addr: u16_le(body, 1)? }),
            nwk_command::ROUTE_REQUEST => Some(Kind::RouteRequest { dst: u16_le(body, 2)?, src: nwk.src }),
            nwk_command::ROUTE_REPLY => {
                Some(Kind::RouteReply { originator: u16_le(body, 2)?, responder: u16_le(body, 4)? })
            }
            _ => None,
        };
    }
    let Some(Ok((aps, _))) = &decoded.aps else { return None };
    match &decoded.app {
        App::Zcl(Ok((zcl, _))) => {
            let cluster = aps.cluster?;
            Some(match (zcl.frame_type, cluster, zcl.command) {
                (0, _, zcl_global::READ_ATTRIBUTES) => Kind::ReadAttributes,
                (0, _, zcl_global::READ_ATTRIBUTES_RESPONSE) => Kind::ReadAttributesResponse,
                (0, _, zcl_global::WRITE_ATTRIBUTES) => Kind::WriteAttributes,
                (0, _, zcl_global::WRITE_ATTRIBUTES_RESPONSE) => Kind::WriteAttributesResponse,
                (0, _, zcl_global::DEFAULT_RESPONSE) => Kind::DefaultResponse,
                (1, CLUSTER_GROUPS, 0x02) if zcl.manufacturer.is_none() => {
                    if zcl.server_to_client {
                        Kind::GetGroupMembershipResponse
                    } else {
                        Kind::GetGroupMembership
                    }
                }
                (1, CLUSTER_SCENES, 0x06) if zcl.manufacturer.is_none() => {
                    if zcl.server_to_client {
                        Kind::GetSceneMembershipResponse
                    } else {
                        Kind::GetSceneMembership
                    }
                }
                (1, CLUSTER_OTA, 0x01) if !zcl.server_to_client => Kind::OtaQueryNextImageRequest,
                (1, CLUSTER_OTA, 0x02) if zcl.server_to_client => Kind::OtaQueryNextImageResponse,
                (1, _, command) if zcl.manufacturer.is_some() => Kind::ZclUnknown(command),
                _ => return None,
            })
        }
        App::Zdp(Ok((_, body))) => Some(match aps.cluster? {
            zdp_cluster::NODE_DESC_REQ => Kind::NodeDescriptorRequest { addr: u16_le(body, 0)? },
            zdp_cluster::SIMPLE_DESC_REQ => {
                Kind::SimpleDescriptorRequest { addr: u16_le(body, 0)?, endpoint: *body.get(2)? }
            }
            zdp_cluster::NODE_DESC_RSP => {
                // Node descriptor: server mask at offset 8..10 of the descriptor.
                let mask = u16_le(body, 3 + 8)?;
                Kind::NodeDescriptorResponse { status: *body.first()?, addr: u16_le(body, 1)?, rev: (mask >> 9) as u8 }
            }
            zdp_cluster::SIMPLE_DESC_RSP => {
                Kind::SimpleDescriptorResponse { status: *body.first()?, addr: u16_le(body, 1)? }
            }
            _ => return None,
        }),
        _ => None,
    }
}

/// Return the Info text tshark shows for a decoded frame in LLM-NTG's
/// vocabulary, or `None`.
pub fn describe(decoded: &Decoded<'_>) -> Option<String> {
    Some(classify(decoded)?.info(decoded.tsn().unwrap_or(0)))
}
