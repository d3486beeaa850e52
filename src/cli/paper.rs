//! `harness paper` (the paper's tables from a folder, both rule sets side by
//! side) and `harness check --rules paper` (the notebook's rules on any
//! capture, in `check`'s output shape).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;

use anyhow::{bail, Context};

use super::{CheckArgs, PaperArgs, PaperFormat, EXIT_ERROR, EXIT_FINDINGS, EXIT_OK};
use crate::analyze::{file_report, own_pass, sort_findings};
use crate::check::Limits;
use crate::finding::{Protocol, Severity};
use crate::paper::tables::{self, build, capture, discover};
use crate::paper::{evaluate_file, Notebook};
use crate::report::{FileReport, Reporter, RunReport};
use crate::tshark::{Expert, Tshark};

fn expert_all(tshark: Option<&Tshark>, paths: &[&Path]) -> anyhow::Result<Vec<Option<Expert>>> {
    let Some(tshark) = tshark else {
        return Ok(paths.iter().map(|_| None).collect());
    };
    let mut out = Vec::new();
    for (path, result) in paths.iter().zip(tshark.expert_many(paths)?) {
        match result {
            Ok(expert) => out.push(Some(expert)),
            Err(error) => {
                eprintln!("harness: {}: tshark: {error}", path.display());
                out.push(None);
            }
        }
    }
    Ok(out)
}

fn write_out(text: &[u8]) -> anyhow::Result<()> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match out.write_all(text).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(error) => bail!("cannot write the report: {error}"),
    }
}

/// `harness check --rules paper`: every FILE is one run of the notebook's
/// evaluation cell in one kernel; tshark's Expert Info, when it runs, fills
/// the W-E column as in the paper's Tables 4/6/8.
///
/// # Errors
/// `--annotate` (harness rules only), `--tshark on` without tshark, or
/// output that cannot be written.
pub fn check(args: &CheckArgs) -> anyhow::Result<u8> {
    if args.annotate.is_some() {
        bail!("--annotate writes the harness's findings: use it with --rules harness");
    }
    let tshark = args.tshark.open()?;
    let mut status = EXIT_OK;
    let mut evaluated = Vec::new();
    for path in &args.files {
        match evaluate_file(path) {
            Ok(verdicts) => {
                if let Some(error) = &verdicts.error {
                    eprintln!("harness: {error} (frames before it are reported)");
                    status = EXIT_ERROR;
                }
                evaluated.push((path.as_path(), verdicts));
            }
            Err(error) => {
                eprintln!("harness: {error}");
                status = EXIT_ERROR;
            }
        }
    }
    let paths: Vec<&Path> = evaluated.iter().map(|(path, _)| *path).collect();
    let expert = expert_all(tshark.as_ref(), &paths)?;
    let mut notebook = Notebook::new();
    let mut report = RunReport {
        harness: env!("CARGO_PKG_VERSION").to_string(),
        checksums: crate::check::Checksums::Strict.as_str(),
        tshark: tshark.as_ref().map(Tshark::profile),
        files: Vec::new(),
    };
    for ((path, verdicts), expert) in evaluated.into_iter().zip(expert) {
        let mut protocols = notebook.run([&verdicts]);
        let mut findings = verdicts.findings();
        let summary = expert.map(|(summary, more)| {
            let mut we: BTreeMap<Protocol, [u64; 2]> = BTreeMap::new();
            for finding in &more {
                match finding.severity {
                    Severity::Warn => we.entry(finding.protocol).or_default()[0] += 1,
                    Severity::Error => we.entry(finding.protocol).or_default()[1] += 1,
                    _ => {}
                }
            }
            for (protocol, row) in &mut protocols {
                let [w, e] = we.get(protocol).copied().unwrap_or_default();
                row.warnings = w;
                row.errors = e;
            }
            findings.extend(more);
            summary
        });
        sort_findings(&mut findings);
        let mut checks: BTreeMap<String, u64> = BTreeMap::new();
        for finding in &findings {
            *checks.entry(finding.check.to_string()).or_default() += 1;
        }
        let file = FileReport {
            file: path.display().to_string(),
            linktype: verdicts.linktype.clone(),
            packets: verdicts.packets.len() as u64,
            tshark: summary,
            findings,
            checks,
            protocols,
            conversations: Default::default(),
            error: verdicts.error.as_ref().map(ToString::to_string),
            agreement: None,
        };
        if file.has_errors() && status == EXIT_OK {
            status = EXIT_FINDINGS;
        }
        report.files.push(file);
    }
    let reporter = args.format.reporter(args.all_findings);
    let mut text = Vec::new();
    reporter.write(&report, &mut text)?;
    write_out(&text)?;
    Ok(status)
}

/// `harness paper --from DIR`.
///
/// # Errors
/// DIR cannot be read or holds no capture of a known group, a capture
/// cannot be read, `--tshark on` without tshark, or output that cannot be
/// written.
pub fn run(args: &PaperArgs) -> anyhow::Result<u8> {
    let dir = &args.from;
    let found = discover(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    if found.is_empty() {
        bail!("{} holds no capture under Packets/, Conversations/, Fine_Tuned/, MOE/ or ADayIn/", dir.display());
    }
    let tshark = args.tshark.open()?;
    let paths: Vec<&Path> = found.iter().map(|(path, ..)| path.as_path()).collect();
    let expert = expert_all(tshark.as_ref(), &paths)?;
    let mut captures = Vec::new();
    for ((path, relative, group, subject), expert) in found.iter().zip(expert) {
        let mut pass = own_pass(path, Limits::default()).with_context(|| format!("cannot read {}", path.display()))?;
        let frames = pass.frames.to_vec();
        let report = file_report(relative, pass, expert);
        captures.push(
            capture(path, relative.clone(), *group, subject.clone(), report, frames)
                .with_context(|| format!("cannot read {}", path.display()))?,
        );
    }
    let model = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| dir.display().to_string());
    let report = build(&model, &captures, tshark.is_some());
    let format = match args.format {
        PaperFormat::Table => tables::Format::Text,
        PaperFormat::Md => tables::Format::Markdown,
        PaperFormat::Json => tables::Format::Json,
    };
    let mut text = Vec::new();
    format.write(&report, &mut text)?;
    write_out(&text)?;
    Ok(if captures.iter().any(|c| c.paper.error.is_some()) { EXIT_ERROR } else { EXIT_OK })
}
