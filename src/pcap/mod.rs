//! Reading and writing captures: PCAP and pcapng, streaming, with errors that
//! name the file and the byte offset.

pub(crate) mod link;
mod reader;
mod writer;

pub use reader::{RawFrame, ReadError, Reader};
pub use writer::{write_pcap, write_trace, Writer};

/// One packet of a built trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracePacket {
    /// Capture time, nanoseconds since the Unix epoch.
    pub ts: Timestamp,
    /// The frame bytes, starting at the link layer of the trace's link type.
    pub data: Vec<u8>,
}

/// Packets built from one answer, all of one link type (DESIGN.md, "PCAPs the
/// harness writes").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// The link type every packet in `packets` uses.
    pub linktype: LinkType,
    /// The packets, in answer order.
    pub packets: Vec<TracePacket>,
}

/// The link-layer type of a capture (the tcpdump.org `LINKTYPE_*` registry).
///
/// Unknown values round-trip through [`LinkType::Unknown`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LinkType {
    /// `LINKTYPE_ETHERNET` (1).
    Ethernet,
    /// `LINKTYPE_RAW` (101): raw IPv4 or IPv6, version from the first nibble.
    Raw,
    /// `LINKTYPE_IPV4` (228): raw IPv4.
    Ipv4,
    /// `LINKTYPE_LINUX_SLL` (113): Linux "cooked" capture.
    LinuxSll,
    /// `LINKTYPE_IEEE802_15_4_WITHFCS` (195).
    Ieee802154WithFcs,
    /// `LINKTYPE_IEEE802_15_4_NOFCS` (230).
    Ieee802154NoFcs,
    /// Any other link type, by number.
    Unknown(u32),
}

impl From<u32> for LinkType {
    fn from(value: u32) -> Self {
        match value {
            1 => LinkType::Ethernet,
            101 => LinkType::Raw,
            228 => LinkType::Ipv4,
            113 => LinkType::LinuxSll,
            195 => LinkType::Ieee802154WithFcs,
            230 => LinkType::Ieee802154NoFcs,
            other => LinkType::Unknown(other),
        }
    }
}

impl From<LinkType> for u32 {
    fn from(value: LinkType) -> Self {
        match value {
            LinkType::Ethernet => 1,
            LinkType::Raw => 101,
            LinkType::Ipv4 => 228,
            LinkType::LinuxSll => 113,
            LinkType::Ieee802154WithFcs => 195,
            LinkType::Ieee802154NoFcs => 230,
            LinkType::Unknown(other) => other,
        }
    }
}

impl LinkType {
    /// Return the name used in reports (`ETHERNET`, `RAW`, …).
    pub fn name(self) -> String {
        match self {
            LinkType::Ethernet => "ETHERNET".into(),
            LinkType::Raw => "RAW".into(),
            LinkType::Ipv4 => "IPV4".into(),
            LinkType::LinuxSll => "LINUX_SLL".into(),
            LinkType::Ieee802154WithFcs => "IEEE802_15_4_WITHFCS".into(),
            LinkType::Ieee802154NoFcs => "IEEE802_15_4_NOFCS".into(),
            LinkType::Unknown(n) => format!("LINKTYPE_{n}"),
        }
    }

    /// Return whether frames of this link type start with an IP header.
    pub fn is_raw_ip(self) -> bool {
        matches!(self, LinkType::Raw | LinkType::Ipv4)
    }
}

/// A capture timestamp, in nanoseconds since the Unix epoch.
pub type Timestamp = u64;
