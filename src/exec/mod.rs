//! Turning model answers into packets: the JSON dialect builder (and, later,
//! answer extraction and the sandboxed Scapy worker).

pub mod extract;
pub mod json;
pub mod sandbox;
pub mod scapy;
pub mod seccomp;

use crate::pcap::{LinkType, Timestamp};

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
