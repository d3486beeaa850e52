//! `harness import-answers`: real answers of a corpus as replay models.

use super::{ImportArgs, EXIT_OK};
use crate::matrix::replay;

/// Run `harness import-answers`: write the cassettes and suites, print the
/// answers per model and group.
///
/// # Errors
/// An unreadable corpus, a line that is not an answer, an unwritable or
/// foreign output folder.
pub fn run(args: &ImportArgs) -> anyhow::Result<u8> {
    let spinner = super::progress::spinner(format!("importing answers from {}", args.corpus.display()));
    let manifest = replay::import(&args.corpus, &args.out);
    super::progress::clear(spinner);
    let manifest = manifest?;
    print!("{}", replay::summary_table(&manifest));
    println!(
        "\nWrote {}; run them with: harness matrix --models '{}' --corpus-cassettes {}",
        args.out.display(),
        replay::ALL,
        args.out.display()
    );
    Ok(EXIT_OK)
}
