//! `harness check`: validate captures and print their tables.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::{CheckArgs, Format, Rules, EXIT_ERROR, EXIT_FINDINGS, EXIT_OK};
use crate::analyze::{judge, own_pass, Judging, OwnPass};
use crate::check::Limits;
use crate::report::{Csv, Json, Markdown, Reporter, RunReport, Table};
use crate::scenario::expect::Sidecar;
use crate::scenario::Mode;
use crate::tshark::Tshark;
use crate::wireshark::annotate;

/// Check every file in `args` and print the report.
///
/// # Errors
/// `--tshark on` without a usable tshark, or output that cannot be written.
pub fn run(args: &CheckArgs) -> anyhow::Result<u8> {
    if args.rules == Rules::Paper {
        return super::paper::check(args);
    }
    let tshark = args.tshark.tshark(args.tshark_path.as_deref())?;
    if args.annotate.is_some() && args.files.len() != 1 {
        bail!("--annotate writes one annotated capture: give exactly one FILE");
    }
    let limits = Limits { max_flows: args.max_flows, ..Limits::default() };
    let mut status = EXIT_OK;
    // Own checks first, file by file (streaming); unreadable files drop out.
    let files = expand(&args.files)?;
    let mut passes: Vec<(&Path, OwnPass)> = Vec::new();
    for path in &files {
        match own_pass(path, limits) {
            Ok(pass) => {
                if let Some(error) = &pass.error {
                    eprintln!("harness: {error} (frames before it are reported)");
                    status = EXIT_ERROR;
                }
                passes.push((path.as_path(), pass));
            }
            Err(error) => {
                eprintln!("harness: {}", super::inputs::explain(path, &error));
                status = EXIT_ERROR;
            }
        }
    }
    // tshark second, batched over every readable file.
    let paths: Vec<&Path> = passes.iter().map(|(path, _)| *path).collect();
    let expert: Vec<Option<_>> = match &tshark {
        Some(tshark) => tshark.expert_many(&paths)?.into_iter().map(Some).collect(),
        None => paths.iter().map(|_| None).collect(),
    };
    let mut report = RunReport { harness: env!("CARGO_PKG_VERSION").to_string(), tshark: tshark.as_ref().map(Tshark::profile), files: Vec::new() };
    for ((path, pass), expert) in passes.into_iter().zip(expert) {
        let name = path.display().to_string();
        let tshark_part = match expert {
            Some(Ok(found)) => Some(found),
            Some(Err(error)) => {
                eprintln!("harness: {name}: tshark: {error}");
                status = EXIT_ERROR;
                None
            }
            None => None,
        };
        // A capture written by `harness generate`/`matrix` is judged
        // against the summary it answers, when its sidecar is there.
        let sidecar = Sidecar::read(path);
        let expectation = sidecar.as_ref().and_then(|_| Sidecar::expectation_of(path));
        let packet_mode = sidecar.is_some_and(|s| s.mode == Mode::Packet);
        let judging = match &expectation {
            Some(expectation) => Judging::against(expectation, path, packet_mode),
            None => Judging { packet_mode, ..Judging::default() },
        };
        let read_error = pass.error.is_some();
        let file = judge(&name, pass, tshark_part, judging);
        // An error the report met after the read (the per-frame records'
        // temporary file) is as fatal as a read error, reported above.
        if !read_error {
            if let Some(error) = &file.error {
                eprintln!("harness: {name}: {error}");
                status = EXIT_ERROR;
            }
        }
        if let Some(out) = &args.annotate {
            match annotate(path, out, &file.findings) {
                Ok(count) => eprintln!("harness: wrote {} with {count} finding comments", out.display()),
                Err(error) => {
                    eprintln!("harness: {error}");
                    status = EXIT_ERROR;
                }
            }
        }
        if file.has_errors() && status == EXIT_OK {
            status = EXIT_FINDINGS;
        }
        report.files.push(file);
    }
    let reporter: Box<dyn Reporter> = match args.format {
        Format::Table => Box::new(Table { max_findings: if args.all_findings { usize::MAX } else { 20 } }),
        Format::Json => Box::new(Json),
        Format::Md => Box::new(Markdown),
        Format::Csv => Box::new(Csv),
    };
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match reporter.write(&report, &mut out).and_then(|()| out.flush()) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => return Ok(status),
        Err(error) => bail!("cannot write the report: {error}"),
    }
    super::progress::check_summary(files.len(), &report);
    Ok(status)
}

/// Files to check: each argument, or the captures (`*.pcap`, `*.pcapng`)
/// under a directory argument, recursively, sorted.
fn expand(args: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?.filter_map(Result::ok).map(|e| e.path()).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out)?;
            } else if path.extension().is_some_and(|e| e == "pcap" || e == "pcapng") {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for arg in args {
        if arg.is_dir() {
            let before = out.len();
            walk(arg, &mut out).with_context(|| format!("cannot read the folder {}", arg.display()))?;
            if out.len() == before {
                bail!("no capture (*.pcap, *.pcapng) under {}", arg.display());
            }
        } else {
            out.push(arg.clone());
        }
    }
    Ok(out)
}
