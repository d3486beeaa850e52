//! Turning model answers into packets: the JSON dialect builder (and, later,
//! answer extraction and the sandboxed Scapy worker).

pub mod extract;
pub mod json;
pub mod ntg;
pub mod sandbox;
pub mod scapy;
pub mod seccomp;
pub mod trace;

// A trace is what the writer writes: it lives beside it, in `pcap/`.
pub use crate::pcap::{Trace, TracePacket};
