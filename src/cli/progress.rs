//! Progress on stderr for long work: bars on a terminal, nothing when
//! stderr is not a terminal or with `--quiet` (stdout stays clean for
//! piping either way), and the one-line summaries that end a command.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

static QUIET: AtomicBool = AtomicBool::new(false);

/// Silence progress (`--quiet`).
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Whether `--quiet` was given.
pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// Whether progress bars are shown: stderr is a terminal and not `--quiet`.
pub fn bars() -> bool {
    !quiet() && std::io::stderr().is_terminal()
}

/// A bar of `len` steps counting `unit` with a message, or `None` when bars
/// are not shown.
pub fn bar(len: u64, unit: &str) -> Option<indicatif::ProgressBar> {
    if !bars() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(len);
    let template = format!("{{bar:30}} {{pos}}/{{len}} {unit}, ETA {{eta}} {{msg}}");
    bar.set_style(
        indicatif::ProgressStyle::with_template(&template).unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(bar)
}

/// A bar over `total` bytes read, with a message (the file being read), or
/// `None` when bars are not shown.
pub fn bytes_bar(total: u64) -> Option<indicatif::ProgressBar> {
    if !bars() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total);
    let template = "{bar:30} {bytes}/{total_bytes}, ETA {eta} {msg}";
    bar.set_style(
        indicatif::ProgressStyle::with_template(template).unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(bar)
}

/// Print `line` on stderr above `bar` (hiding it meanwhile), or plainly.
pub fn note(bar: Option<&indicatif::ProgressBar>, line: &str) {
    match bar {
        Some(bar) => bar.suspend(|| eprintln!("{line}")),
        None => eprintln!("{line}"),
    }
}

/// Clear `bar` from the terminal, if there is one.
pub fn clear(bar: Option<indicatif::ProgressBar>) {
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}

/// A spinner with a message (work of unknown length), or `None`.
pub fn spinner(message: String) -> Option<indicatif::ProgressBar> {
    if !bars() {
        return None;
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message(message);
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    Some(bar)
}

/// The line that ends a multi-file `check` on stderr: files, packets and
/// files with error-severity findings (or unreadable); nothing for one file.
pub fn check_summary(files: usize, report: &crate::report::RunReport) {
    if files < 2 {
        return;
    }
    let packets: u64 = report.files.iter().map(|f| f.packets).sum();
    let with_errors = report.files.iter().filter(|f| f.has_errors()).count() + (files - report.files.len());
    let unreadable = files - report.files.len();
    let unreadable = if unreadable > 0 { format!(" ({unreadable} unreadable)") } else { String::new() };
    eprintln!("harness: checked {files} files, {packets} packets; {with_errors} with errors{unreadable}");
}
