//! `harness check`: validate captures and print their tables.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{bail, Context};

use super::{CheckArgs, Rules, EXIT_ERROR, EXIT_FINDINGS, EXIT_OK};
use crate::analyze::{judge, own_pass_from_jobs, own_pass_jobs, Judging, OwnPass};
use crate::check::Limits;
use crate::pcap::{ReadError, Reader};
use crate::report::RunReport;
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
    let mut tshark = args.tshark.open()?;
    let checksums = crate::check::Checksums::from(args.checksums);
    if let Some(tshark) = &mut tshark {
        tshark.set_checksum_validation(checksums == crate::check::Checksums::Strict);
    }
    if args.annotate.is_some() && args.files.len() != 1 {
        bail!("--annotate writes one annotated capture: give exactly one FILE");
    }
    let limits = Limits { max_flows: args.max_flows, checksums, ..Limits::default() };
    let mut status = EXIT_OK;
    // Own checks first, file by file (streaming); unreadable files drop out.
    // `-` is standard input, spooled to a temporary file (tshark and the
    // annotation read the capture again).
    let (files, _stdin) = inputs(&args.files)?;
    let total_bytes = files.iter().filter_map(|(path, _)| std::fs::metadata(path).ok()).map(|m| m.len()).sum();
    let bar = super::progress::bytes_bar(total_bytes);
    let jobs = args.jobs.map_or_else(|| std::thread::available_parallelism().map_or(1, usize::from), usize::from);
    let mut passes: Vec<(&Path, &str, OwnPass)> = Vec::new();
    for ((path, name), pass) in files.iter().zip(own_passes(&files, limits, jobs, bar.as_ref())) {
        match pass {
            Ok(pass) => {
                if let Some(error) = &pass.error {
                    super::progress::note(bar.as_ref(), &format!("harness: {error} (frames before it are reported)"));
                    status = EXIT_ERROR;
                }
                passes.push((path.as_path(), name.as_str(), pass));
            }
            Err(error) => {
                super::progress::note(bar.as_ref(), &format!("harness: {}", super::inputs::explain(path, &error)));
                status = EXIT_ERROR;
            }
        }
    }
    super::progress::clear(bar);
    // tshark second, batched over every readable file.
    let paths: Vec<&Path> = passes.iter().map(|(path, _, _)| *path).collect();
    let expert: Vec<Option<_>> = match &tshark {
        Some(tshark) => {
            let spinner = super::progress::spinner(format!("tshark: Expert Info of {} captures", paths.len()));
            let found = tshark.expert_many(&paths);
            super::progress::clear(spinner);
            found?.into_iter().map(Some).collect()
        }
        None => paths.iter().map(|_| None).collect(),
    };
    let mut report = RunReport {
        harness: env!("CARGO_PKG_VERSION").to_string(),
        checksums: checksums.as_str(),
        tshark: tshark.as_ref().map(Tshark::profile),
        files: Vec::new(),
    };
    for ((path, name, pass), expert) in passes.into_iter().zip(expert) {
        let name = name.to_string();
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
        let expectation = sidecar.as_ref().and_then(|_| crate::model::expect::of_sidecar(path));
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
    let reporter = args.format.reporter(args.all_findings);
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

/// The name standard input gets in reports and messages.
const STDIN_NAME: &str = "<stdin>";

/// The captures to check as (path to read, name to report), and the
/// temporary file that holds standard input when an argument is `-`.
type Inputs = (Vec<(PathBuf, String)>, Option<tempfile::NamedTempFile>);

/// The captures to check as (path to read, name to report), with the
/// temporary file that holds standard input when an argument is `-`.
///
/// # Errors
/// As [`expand`]; `-` given twice; standard input that cannot be read.
fn inputs(args: &[PathBuf]) -> anyhow::Result<Inputs> {
    let mut spool = None;
    let mut out = Vec::new();
    for path in expand(args)? {
        if path.as_os_str() != "-" {
            let name = path.display().to_string();
            out.push((path, name));
            continue;
        }
        if spool.is_some() {
            bail!("`-` (standard input) can be given only once");
        }
        if io::stdin().is_terminal() {
            bail!("`-` reads a capture from standard input, which is a terminal: pipe or redirect one (harness check - < capture.pcap)");
        }
        let mut file = tempfile::Builder::new()
            .prefix("harness-stdin-")
            .suffix(".pcap")
            .tempfile()
            .context("cannot create a temporary file for standard input")?;
        io::copy(&mut io::stdin().lock(), &mut file).context("cannot read standard input")?;
        file.flush()?;
        out.push((file.path().to_path_buf(), STDIN_NAME.to_string()));
        spool = Some(file);
    }
    Ok((out, spool))
}

/// The own passes over `files`, in their order, on up to `jobs` threads:
/// files side by side, and each file on two threads when there are
/// threads to spare ([`own_pass_from_jobs`]). Each pass is the one a single
/// thread makes.
fn own_passes(
    files: &[(PathBuf, String)],
    limits: Limits,
    jobs: usize,
    bar: Option<&indicatif::ProgressBar>,
) -> Vec<Result<OwnPass, ReadError>> {
    let workers = jobs.min(files.len()).max(1);
    let per_file = (jobs / workers).max(1);
    let started = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let index = started.fetch_add(1, Ordering::Relaxed);
            let Some((path, name)) = files.get(index) else { break done };
            if let Some(bar) = bar {
                bar.set_message(format!("{index}/{} files | {name}", files.len()));
            }
            done.push((index, read(path, name, limits, per_file, bar)));
        }
    };
    if workers == 1 {
        return work().into_iter().map(|(_, pass)| pass).collect();
    }
    let mut done: Vec<(usize, Result<OwnPass, ReadError>)> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..workers).map(|_| scope.spawn(work)).collect();
        threads.into_iter().flat_map(|t| t.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    });
    done.sort_by_key(|(index, _)| *index);
    done.into_iter().map(|(_, pass)| pass).collect()
}

/// The own pass over `path` on up to `jobs` threads, reported as `name`,
/// counting the bytes read on `bar`.
fn read(
    path: &Path,
    name: &str,
    mut limits: Limits,
    jobs: usize,
    bar: Option<&indicatif::ProgressBar>,
) -> Result<OwnPass, ReadError> {
    if Sidecar::read(path).is_some() {
        // Written by `harness generate`/`matrix`: nothing offloaded its
        // checksums, so none is excused.
        limits.checksums = crate::check::Checksums::Strict;
    }
    if bar.is_none() && name == path.display().to_string() {
        return own_pass_jobs(path, limits, jobs);
    }
    let file = std::fs::File::open(path).map_err(|source| ReadError::Open { path: name.to_string(), source })?;
    let reader: Box<dyn io::Read> = match bar {
        Some(bar) => Box::new(bar.wrap_read(file)),
        None => Box::new(file),
    };
    Ok(own_pass_from_jobs(Reader::new(reader, name)?, limits, jobs))
}

/// Files to check: each argument, or the captures (`*.pcap`, `*.pcapng`)
/// under a directory argument, recursively, sorted.
pub(crate) fn expand(args: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
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
