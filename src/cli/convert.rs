//! `harness convert`: JSON packet list or LLM-NTG ZigBee summary to PCAP.

use std::collections::BTreeMap;
use std::io::Read;

use anyhow::{bail, Context};

use super::{ConvertArgs, ConvertDialect, LengthsArg, EXIT_OK};
use crate::exec::json;
use crate::exec::ntg;
use crate::exec::ntg::build::{self, LengthPolicy, Options};
use crate::pcap::write_pcap;

/// Convert the trace named in `args` and write the PCAP.
///
/// # Errors
/// An unreadable input, an invalid trace (with its JSON path or row) or an
/// unwritable output.
pub fn run(args: &ConvertArgs) -> anyhow::Result<u8> {
    let name = args.input.display().to_string();
    let mut text = String::new();
    if name == "-" {
        std::io::stdin().read_to_string(&mut text).context("cannot read standard input")?;
    } else {
        text = std::fs::read_to_string(&args.input).with_context(|| format!("cannot read {name}"))?;
    }
    if args.dialect == ConvertDialect::Ntg {
        return run_ntg(args, &name, &text);
    }
    if args.lengths.is_some() || args.findings.is_some() {
        bail!("--lengths and --findings apply to --dialect ntg only, not to the json dialect");
    }
    let trace = json::build(&text).with_context(|| format!("{name}: invalid trace"))?;
    write(&args.output, &trace)?;
    eprintln!("wrote {} packets ({}) to {}", trace.packets.len(), trace.linktype.name(), args.output.display());
    Ok(EXIT_OK)
}

/// Write `trace` to `path`, or to standard output for `-`.
fn write(path: &std::path::Path, trace: &crate::exec::Trace) -> anyhow::Result<()> {
    if path.as_os_str() == "-" {
        use std::io::Write as _;
        let stdout = std::io::stdout().lock();
        crate::pcap::write_trace(std::io::BufWriter::new(stdout), trace)?.flush()?;
        return Ok(());
    }
    write_pcap(path, trace).with_context(|| format!("cannot write {}", path.display()))
}

fn run_ntg(args: &ConvertArgs, name: &str, text: &str) -> anyhow::Result<u8> {
    let summary = ntg::parse(text).with_context(|| format!("{name}: invalid ntg summary"))?;
    let lengths = match args.lengths.unwrap_or(LengthsArg::Honor) {
        LengthsArg::Honor => LengthPolicy::Honor,
        LengthsArg::Canonical => LengthPolicy::Canonical,
    };
    let conversion = build::build(&summary.rows, &Options { lengths, ..Options::default() })
        .with_context(|| format!("{name}: cannot build"))?;
    write(&args.output, &conversion.trace)?;
    if let Some(path) = &args.findings {
        let document = serde_json::json!({ "file": name, "answer": summary.findings, "findings": conversion.findings });
        std::fs::write(path, serde_json::to_string_pretty(&document)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    eprintln!(
        "wrote {} packets ({}) to {}",
        conversion.trace.packets.len(),
        conversion.trace.linktype.name(),
        args.output.display()
    );
    for finding in &summary.findings {
        eprintln!("answer: [{}] {}", finding.check, finding.message);
    }
    // Group fidelity findings by message, so that 800 identical Link Status
    // mismatches read as one line.
    let mut groups: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for finding in &conversion.findings {
        groups.entry(finding.message.as_str()).or_default().push(finding.frame);
    }
    if !groups.is_empty() {
        eprintln!("{} summary-fidelity findings (summary.mismatch):", conversion.findings.len());
    }
    for (message, rows) in groups {
        let shown: Vec<String> = rows.iter().take(5).map(u64::to_string).collect();
        let more = if rows.len() > 5 { format!(", … ({} rows)", rows.len()) } else { String::new() };
        eprintln!("  rows {}{more}: {message}", shown.join(", "));
    }
    Ok(EXIT_OK)
}
