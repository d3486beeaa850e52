//! `harness compare`: realism of generated captures against real ones.

use anyhow::Context;

use super::{CompareArgs, CompareFormat, EXIT_OK};
use crate::realism::compare_paths;
use crate::realism::render::Format;
use crate::report::Reporter;

/// Compare the captures named in `args`, print the tables and write the page.
///
/// # Errors
/// An unreadable capture, an empty side, or an unwritable output.
pub fn run(args: &CompareArgs) -> anyhow::Result<u8> {
    let generated: Vec<_> =
        std::iter::once(args.generated.clone()).chain(args.more_generated.iter().cloned()).collect();
    let real: Vec<_> = std::iter::once(args.real.clone()).chain(args.more_real.iter().cloned()).collect();
    let report = compare_paths(&generated, &real)?;
    let format = match args.format {
        CompareFormat::Table => Format::Table,
        CompareFormat::Md => Format::Markdown,
        CompareFormat::Json => Format::Json,
    };
    format.write(&report, &mut std::io::stdout().lock()).context("cannot write the report")?;
    if let Some(path) = &args.html {
        let mut page = Vec::new();
        Format::Html.write(&report, &mut page)?;
        std::fs::write(path, page).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(EXIT_OK)
}
