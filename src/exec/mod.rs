//! Turning model answers into packets: the JSON dialect builder (and, later,
//! answer extraction and the sandboxed Scapy worker).

pub mod extract;
pub mod json;
pub mod ntg;
pub(crate) mod sandbox;
pub mod scapy;
pub(crate) mod seccomp;
pub(crate) mod trace;

// A trace is what the writer writes: it lives beside it, in `pcap/`.
pub use crate::pcap::{Trace, TracePacket};
