//! `harness onwire`: replay each conversation's client side against real
//! stacks in private network namespaces and compare the replies
//! ([`crate::onwire`]).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::ValueEnum;

use crate::onwire::{self, FileReport, Options, Report};

/// Output formats of `harness onwire`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnwireFormat {
    /// Aligned text: one line per conversation, then the fidelity table.
    Table,
    /// Markdown tables.
    Md,
    /// The JSON document of DESIGN.md (`files`, `servers`).
    Json,
}

/// Arguments of `harness onwire`.
#[derive(Debug, clap::Args)]
pub struct OnwireArgs {
    /// Captures (PCAP or pcapng), or folders of them.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OnwireFormat::Table)]
    pub format: OnwireFormat,
    /// Write, per conversation, the frames injected and the real replies
    /// as `<capture>-<n>.pcap` into DIR.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
    /// Replay at most N conversations of each capture.
    #[arg(long, value_name = "N")]
    pub max_conversations: Option<usize>,
}

/// Run `harness onwire`. Exit status: 0 every replayed conversation
/// matched, 1 some did not, 2 error (e.g. no permission to create
/// namespaces).
///
/// # Errors
/// When namespaces cannot be created or a capture cannot be read.
pub fn run(args: &OnwireArgs) -> anyhow::Result<u8> {
    onwire::prepare()?;
    let files = super::check::expand(&args.files)?;
    let options = Options { max_conversations: args.max_conversations, keep: args.keep.clone() };
    let mut servers = BTreeMap::new();
    let mut reports: Vec<FileReport> = Vec::new();
    for file in &files {
        reports.push(
            onwire::run_file(file, &options, &mut servers).with_context(|| format!("replaying {}", file.display()))?,
        );
    }
    let report = Report { files: reports, servers };
    let mut out = std::io::stdout().lock();
    match args.format {
        OnwireFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        OnwireFormat::Table => write_text(&mut out, &report, false)?,
        OnwireFormat::Md => write_text(&mut out, &report, true)?,
    }
    let all_matched =
        report.files.iter().flat_map(|f| &f.conversations).filter(|c| c.skipped.is_none()).all(|c| c.matched);
    Ok(if all_matched { super::EXIT_OK } else { super::EXIT_FINDINGS })
}

/// Write the per-conversation lines and the fidelity table.
pub fn write_text(out: &mut impl Write, report: &Report, md: bool) -> std::io::Result<()> {
    for file in &report.files {
        if md {
            writeln!(out, "### {}\n\n| # | protocol | client | server | client/model/real | result | mismatches |\n|---|---|---|---|---|---|---|", file.file)?;
        } else {
            writeln!(out, "{}", file.file)?;
        }
        for (n, c) in file.conversations.iter().enumerate() {
            let result = match (&c.skipped, c.matched) {
                (Some(_), _) => "skipped",
                (None, true) => "matched",
                (None, false) => "MISMATCH",
            };
            let detail = match &c.skipped {
                Some(reason) => reason.clone(),
                None => c
                    .mismatches
                    .iter()
                    .map(|m| format!("frame {} {}: model {} real {}", m.frame, m.field, m.model, m.real))
                    .collect::<Vec<_>>()
                    .join("; "),
            };
            let counts = format!("{}/{}/{}", c.client_packets, c.model_replies, c.real_replies);
            if md {
                writeln!(
                    out,
                    "| {n} | {} | {} | {} | {counts} | {result} | {} |",
                    c.protocol,
                    c.client,
                    c.server,
                    detail.replace('|', "\\|")
                )?;
            } else {
                writeln!(
                    out,
                    "  #{n:<3} {:<5} {} -> {}  {counts}  {result}{}",
                    c.protocol,
                    c.client,
                    c.server,
                    if detail.is_empty() { String::new() } else { format!("  {detail}") }
                )?;
            }
        }
        writeln!(out)?;
    }
    let fidelity = onwire::fidelity(report);
    if md {
        writeln!(out, "| protocol | matched | fidelity | most common mismatching fields |\n|---|---|---|---|")?;
    } else {
        writeln!(
            out,
            "Fidelity (conversations a real stack reproduces)\n  {:<8} {:>9} {:>9}  most common mismatching fields",
            "protocol", "matched", "fidelity"
        )?;
    }
    for (protocol, f) in &fidelity {
        let (matched, total) = (f.matched, f.replayed);
        let rate = if total == 0 { 0.0 } else { 100.0 * matched as f64 / total as f64 };
        let top = f.top_fields(4);
        if md {
            writeln!(out, "| {protocol} | {matched}/{total} | {rate:.2} % | {top} |")?;
        } else {
            writeln!(out, "  {protocol:<8} {:>9} {rate:>8.2}%  {top}", format!("{matched}/{total}"))?;
        }
    }
    let servers = report.servers.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ");
    writeln!(out, "{}Real stacks: {servers}", if md { "\n" } else { "" })?;
    Ok(())
}
