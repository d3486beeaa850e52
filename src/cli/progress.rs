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
    bar.set_style(indicatif::ProgressStyle::with_template(&template).unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()));
    Some(bar)
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
