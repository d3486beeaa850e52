//! `harness`: measure how well large language models generate network traffic.
//!
//! The library follows the data flow of `DESIGN.md`: answers become packets
//! ([`exec`]), packets become PCAPs ([`pcap`]), PCAPs are dissected
//! ([`dissect`], [`wire`]) and checked ([`check`]), findings become per-layer
//! verdicts ([`verdict`]) and tables ([`report`]). [`tshark`] is the second
//! opinion. The `harness` binary is a thin shell over [`cli`]. The crate has no
//! `unsafe` code.

#![forbid(unsafe_code)]

pub mod analyze;
pub mod check;
pub mod cli;
pub(crate) mod dissect;
pub mod exec;
pub mod finding;
pub mod matrix;
pub mod model;
pub mod netns;
pub(crate) mod onwire;
pub(crate) mod paper;
pub mod pcap;
pub mod prompt;
pub mod realism;
pub mod report;
pub(crate) mod scenario;
#[doc(hidden)]
pub mod testkit;
pub mod tshark;
pub mod verdict;
pub mod wire;
pub mod wireshark;
