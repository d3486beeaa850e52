//! `harness convert`: JSON packet list to PCAP.

use std::io::Read;

use anyhow::Context;

use super::{ConvertArgs, EXIT_OK};
use crate::exec::json;
use crate::pcap::write_pcap;

/// Convert the trace named in `args` and write the PCAP.
///
/// # Errors
/// An unreadable input, an invalid trace (with its JSON path) or an
/// unwritable output.
pub fn run(args: &ConvertArgs) -> anyhow::Result<u8> {
    let name = args.input.display().to_string();
    let mut text = String::new();
    if name == "-" {
        std::io::stdin().read_to_string(&mut text).context("cannot read standard input")?;
    } else {
        text = std::fs::read_to_string(&args.input).with_context(|| format!("cannot read {name}"))?;
    }
    let trace = json::build(&text).with_context(|| format!("{name}: invalid trace"))?;
    write_pcap(&args.output, &trace).with_context(|| format!("cannot write {}", args.output.display()))?;
    eprintln!("wrote {} packets ({}) to {}", trace.packets.len(), trace.linktype.name(), args.output.display());
    Ok(EXIT_OK)
}
