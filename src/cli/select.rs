//! What a run selects, checked before anything runs: the suites (built in
//! or from a folder), the list flags (`--models`, `--suites`), the input
//! folders of every command. Each mistake is an error (exit status 2) that
//! names the known values and, for a near miss, the one probably meant.

use std::path::{Path, PathBuf};

use anyhow::bail;

use crate::matrix::defaults;
use crate::matrix::suite::Suite;

/// The edit distance of `a` and `b` (Levenshtein, on characters).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (previous + usize::from(ca != *cb)).min(row[j] + 1).min(here + 1);
            previous = here;
        }
    }
    row[b.len()]
}

/// The known value `name` probably means: the same once case and
/// punctuation are ignored, or the closest within a third of its length
/// (at least 2 edits).
pub fn did_you_mean<'k>(name: &str, known: &'k [String]) -> Option<&'k str> {
    let squash =
        |s: &str| s.chars().filter(char::is_ascii_alphanumeric).flat_map(char::to_lowercase).collect::<String>();
    if let Some(same) = known.iter().find(|k| squash(k) == squash(name)) {
        return Some(same);
    }
    let limit = (name.chars().count() / 3).max(2);
    known
        .iter()
        .map(|k| (distance(&squash(name), &squash(k)), k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.as_str())
}

/// " (did you mean X?)" or nothing.
pub fn hint(name: &str, known: &[String]) -> String {
    did_you_mean(name, known).map_or_else(String::new, |k| format!(" (did you mean {k}?)"))
}

/// The items of a comma-separated `flag` value.
///
/// # Errors
/// An empty list (`--models ''`, `--suites ,`).
pub fn list(flag: &str, value: &str, known: &[String]) -> anyhow::Result<Vec<String>> {
    let items: Vec<String> = value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect();
    if items.is_empty() {
        bail!("{flag} is empty: give `all` or names separated by commas (known: {})", known.join(", "));
    }
    Ok(items)
}

/// Where suites come from: the built-in ones, or a folder.
pub fn suites_source(dir: Option<&Path>) -> String {
    dir.map_or_else(|| defaults::BUILT_IN.to_string(), |d| d.display().to_string())
}

/// Every suite of `dir` (the built-in suites when `None`).
///
/// # Errors
/// A missing or unreadable folder, one without any `*.toml`, an invalid
/// suite.
pub fn all_suites(dir: Option<&Path>) -> anyhow::Result<Vec<Suite>> {
    let Some(dir) = dir else {
        return Ok(defaults::suites()?);
    };
    if !dir.is_dir() {
        let what = if dir.exists() { "is not a folder" } else { "does not exist" };
        bail!("--suites-dir {}: {what} (leave --suites-dir out for the built-in suites)", dir.display());
    }
    let all = Suite::load_dir(dir)?;
    if all.is_empty() {
        bail!(
            "--suites-dir {}: no suite in it (no *.toml file); leave --suites-dir out for the built-in suites",
            dir.display()
        );
    }
    Ok(all)
}

/// The suites of `list` (`all` or names) out of `dir`, in name order;
/// every selected suite's input files must be there.
///
/// # Errors
/// See [`all_suites`]; an empty list, an unknown name, a suite whose
/// summary lines, sample or reference capture is missing (the suites that
/// read `../shared` say so).
pub fn suites(dir: Option<&Path>, list_value: &str) -> anyhow::Result<Vec<Suite>> {
    let all = all_suites(dir)?;
    let known: Vec<String> = all.iter().map(|s| s.name.clone()).collect();
    let mut out = Vec::new();
    if list_value.trim() == "all" {
        out = all;
    } else {
        for name in list(&format!("--suites {list_value:?}"), list_value, &known)? {
            match all.iter().find(|s| s.name == name) {
                Some(s) => out.push(s.clone()),
                None => bail!(
                    "unknown suite {name}{} in {}; known: {}",
                    hint(&name, &known),
                    suites_source(dir),
                    known.join(", ")
                ),
            }
        }
    }
    // Run order is by name, however the list was given, so that shards
    // merge into the same tables.
    out.sort_by(|a: &Suite, b: &Suite| a.name.cmp(&b.name));
    out.dedup_by(|a, b| a.name == b.name);
    for s in &out {
        if let Some((what, path)) = s.missing_inputs().first() {
            let shared = path.components().any(|c| c.as_os_str() == "shared");
            let why = if shared {
                "; this suite reads the shared corpus, which must sit beside the checkout as ../shared"
            } else {
                ""
            };
            bail!("suite {}: its {what} {} is missing{why}", s.name, path.display());
        }
    }
    Ok(out)
}

/// Check that every path of `dirs` is an existing folder.
///
/// # Errors
/// The first one that is not, named with `what` it should be.
pub fn folders(dirs: &[PathBuf], what: &str) -> anyhow::Result<()> {
    for dir in dirs {
        if !dir.is_dir() {
            let why = if dir.exists() { "is not a folder" } else { "does not exist" };
            bail!("{}: {why} (expected {what})", dir.display());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Vec<String> {
        ["reference", "gpt-4o", "claude", "mutant:fenced", "corpus:codestral"].iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn near_misses_are_named() {
        assert_eq!(did_you_mean("gpt4o", &known()), Some("gpt-4o"));
        assert_eq!(did_you_mean("GPT-4O", &known()), Some("gpt-4o"));
        assert_eq!(did_you_mean("refrence", &known()), Some("reference"));
        assert_eq!(did_you_mean("mutant:fencd", &known()), Some("mutant:fenced"));
        assert_eq!(did_you_mean("llama", &known()), None);
        assert_eq!(hint("zzz", &known()), "");
    }

    #[test]
    fn empty_lists_are_errors() {
        assert!(list("--models", "", &known()).unwrap_err().to_string().contains("--models is empty"));
        assert!(list("--models", " , ,", &known()).is_err());
        assert_eq!(list("--models", "a, b,", &known()).unwrap(), vec!["a", "b"]);
    }

    #[test]
    fn suite_folders_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let empty = all_suites(Some(dir.path())).unwrap_err().to_string();
        assert!(empty.contains("no suite in it"), "{empty}");
        let missing = all_suites(Some(&dir.path().join("nope"))).unwrap_err().to_string();
        assert!(missing.contains("does not exist"), "{missing}");
        let unknown = suites(None, "icmp-conversaton").unwrap_err().to_string();
        assert!(
            unknown.contains("did you mean icmp-conversation?") && unknown.contains("known: arp-conversation"),
            "{unknown}"
        );
        std::fs::write(dir.path().join("p.toml"), "protocol = \"arp\"\nmode = \"conversation\"\ndialect = \"scapy\"\nsummaries = \"../shared/corpus/x.txt\"\n").unwrap();
        let shared = suites(Some(dir.path()), "all").unwrap_err().to_string();
        assert!(shared.contains("../shared"), "{shared}");
    }
}
