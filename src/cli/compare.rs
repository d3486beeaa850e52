//! `harness compare`: realism of generated captures against real ones.

use anyhow::Context;

use super::{CompareArgs, CompareFormat, EXIT_OK};
use crate::realism::{compare_paths, render};

/// Compare the captures named in `args`, print the tables and write the page.
///
/// # Errors
/// An unreadable capture, an empty side, or an unwritable output.
pub fn run(args: &CompareArgs) -> anyhow::Result<u8> {
    let generated: Vec<_> =
        std::iter::once(args.generated.clone()).chain(args.more_generated.iter().cloned()).collect();
    let real: Vec<_> = std::iter::once(args.real.clone()).chain(args.more_real.iter().cloned()).collect();
    let report = compare_paths(&generated, &real)?;
    let mut out = std::io::stdout().lock();
    match args.format {
        CompareFormat::Table => render::table(&report, &mut out),
        CompareFormat::Md => render::markdown(&report, &mut out),
        CompareFormat::Json => render::json(&report, &mut out),
    }
    .context("cannot write the report")?;
    if let Some(path) = &args.html {
        let mut page = Vec::new();
        render::html(&report, &mut page)?;
        std::fs::write(path, page).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(EXIT_OK)
}
