//! One run per output folder: `harness matrix` records what it selected in
//! `DIR/run.json` before it starts, and never writes into a folder that
//! holds another run — unless `--force` replaces the whole folder (old cells
//! included). `--resume` continues only the same run.

use std::path::Path;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

/// The file in an output folder that records its run's selection.
pub const FILE: &str = "run.json";

/// What a run selected, as asked (`--models all` stays `all`, so a resumed
/// `all` run is the same run even when another model became available).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSelection {
    /// The subcommand (`matrix`).
    pub command: String,
    /// `--models`, as a sorted list of ids (or `all`).
    pub models: Vec<String>,
    /// `--suites`, as a sorted list of names (or `all`).
    pub suites: Vec<String>,
    /// Where the suites came from (`built-in` or the folder).
    pub suites_dir: String,
    /// `--shard`.
    pub shard: Option<String>,
    /// The harness version that started the run (informative only).
    #[serde(default)]
    pub harness: String,
}

impl RunSelection {
    /// The selection of a run; `models` and `suites` are the flag values.
    pub fn new(command: &str, models: &str, suites: &str, suites_dir: String, shard: Option<String>) -> RunSelection {
        let items = |v: &str| {
            let mut items: Vec<String> =
                v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect();
            items.sort();
            items.dedup();
            items
        };
        RunSelection {
            command: command.into(),
            models: items(models),
            suites: items(suites),
            suites_dir,
            shard,
            harness: env!("CARGO_PKG_VERSION").into(),
        }
    }

    fn same_run(&self, other: &RunSelection) -> bool {
        (&self.command, &self.models, &self.suites, &self.suites_dir, &self.shard)
            == (&other.command, &other.models, &other.suites, &other.suites_dir, &other.shard)
    }

    fn describe(&self) -> String {
        let shard = self.shard.as_deref().map_or_else(String::new, |s| format!(", shard {s}"));
        format!(
            "{} --models {} --suites {} (suites: {}{shard})",
            self.command,
            self.models.join(","),
            self.suites.join(","),
            self.suites_dir
        )
    }
}

/// Whether `dir` looks like the output folder of a harness run: its
/// selection, a report, or a cell (`cell.json`) one or two levels down.
fn is_run_folder(dir: &Path) -> bool {
    if dir.join(FILE).is_file() || dir.join("report.json").is_file() {
        return true;
    }
    let Ok(models) = std::fs::read_dir(dir) else { return false };
    models.filter_map(Result::ok).any(|m| {
        std::fs::read_dir(m.path())
            .is_ok_and(|suites| suites.filter_map(Result::ok).any(|s| s.path().join("cell.json").is_file()))
    })
}

/// What `out` holds: `None` when it is missing or empty, else the run
/// recorded in it, if any.
///
/// # Errors
/// `out` is a file.
fn occupant(out: &Path) -> anyhow::Result<Option<Option<RunSelection>>> {
    if out.exists() && !out.is_dir() {
        bail!("--out {}: is a file, not a folder", out.display());
    }
    let empty = !out.exists() || std::fs::read_dir(out).map(|mut d| d.next().is_none()).unwrap_or(false);
    Ok((!empty).then(|| std::fs::read_to_string(out.join(FILE)).ok().and_then(|t| serde_json::from_str(&t).ok())))
}

/// Take `out` for the run `selection`: create it and record the selection.
/// An empty folder, or one holding the same run, is taken as it is; a folder
/// holding another run is refused unless `force` (then it is removed first,
/// old cells included). `resume` needs the same run.
///
/// # Errors
/// `out` holds another run (or other files) and `force` is not given;
/// `--force` on a folder that is not a harness run's; I/O errors.
pub fn claim(out: &Path, selection: &RunSelection, resume: bool, force: bool) -> anyhow::Result<()> {
    if let Some(previous) = occupant(out)? {
        let same = previous.as_ref().is_some_and(|p| p.same_run(selection));
        if force {
            if !is_run_folder(out) {
                bail!("--out {}: holds files that are not a harness run; --force replaces only a run's folder (choose another --out)", out.display());
            }
            std::fs::remove_dir_all(out).with_context(|| format!("cannot remove {} (--force)", out.display()))?;
        } else if !same {
            let held = previous.map_or_else(
                || {
                    if is_run_folder(out) {
                        "the files of an earlier run".to_string()
                    } else {
                        "files of something else".to_string()
                    }
                },
                |p| format!("another run ({})", p.describe()),
            );
            let resume_note = if resume { "; --resume continues only the same run" } else { "" };
            bail!(
                "--out {} holds {held}, and this run is {}{resume_note}: nothing was written. Choose another --out, or add --force to replace that folder (its cells included)",
                out.display(),
                selection.describe()
            );
        }
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create --out {}", out.display()))?;
    std::fs::write(out.join(FILE), serde_json::to_string_pretty(selection)? + "\n")
        .with_context(|| format!("cannot write {}", out.join(FILE).display()))?;
    Ok(())
}

/// Take `out` for the output of `harness generate` or `harness merge`
/// (`command`): an empty or missing folder, or one of the same command's
/// (generate adds cells to a folder of generate's cells; merge replaces its
/// merged report) is taken as it is. Another run's folder (a matrix run, a
/// shard) is refused unless `force`, which removes it first; a folder of
/// other files is always refused.
///
/// # Errors
/// `out` is a file, holds another run without `force`, or files that are
/// not a harness run; I/O errors.
pub fn claim_output(out: &Path, command: &str, force: bool) -> anyhow::Result<()> {
    if let Some(previous) = occupant(out)? {
        let run = is_run_folder(out);
        let ours = match &previous {
            Some(p) => p.command == command,
            None => command == "generate" && run,
        };
        if !ours {
            if !run {
                bail!(
                    "--out {} holds files that are not a harness run: nothing was written (choose another --out)",
                    out.display()
                );
            }
            if !force {
                let held = previous.map_or_else(
                    || "the files of another run".to_string(),
                    |p| format!("another run ({})", p.describe()),
                );
                bail!("--out {} holds {held}; `harness {command}` writes only into an empty folder or its own: nothing was written. Choose another --out, or add --force to replace that folder", out.display());
            }
            std::fs::remove_dir_all(out).with_context(|| format!("cannot remove {} (--force)", out.display()))?;
        }
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create --out {}", out.display()))?;
    Ok(())
}

/// Record in `out` that it holds the merged report of `models`.
///
/// # Errors
/// `run.json` cannot be written.
pub fn record_merge(out: &Path, models: &[String]) -> anyhow::Result<()> {
    let selection = RunSelection::new("merge", &models.join(","), "", "merged shards".into(), None);
    std::fs::write(out.join(FILE), serde_json::to_string_pretty(&selection)? + "\n")
        .with_context(|| format!("cannot write {}", out.join(FILE).display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(models: &str) -> RunSelection {
        RunSelection::new("matrix", models, "all", "built-in".into(), None)
    }

    #[test]
    fn claims_refuse_other_runs() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("m");
        claim(&out, &sel("reference"), false, false).unwrap();
        // The same run again, in any order of the list, is the same run.
        claim(&out, &sel("reference,reference"), true, false).unwrap();
        std::fs::create_dir_all(out.join("reference/icmp")).unwrap();
        std::fs::write(out.join("reference/icmp/cell.json"), "{}").unwrap();
        let other = claim(&out, &sel("all"), false, false).unwrap_err().to_string();
        assert!(other.contains("holds another run") && other.contains("--force"), "{other}");
        assert!(claim(&out, &sel("all"), true, false)
            .unwrap_err()
            .to_string()
            .contains("--resume continues only the same run"));
        assert!(out.join("reference/icmp/cell.json").exists(), "nothing touched");
        claim(&out, &sel("all"), false, true).unwrap();
        assert!(!out.join("reference").exists(), "--force removes the old cells");
        // A folder of other files is never removed.
        let mine = dir.path().join("mine");
        std::fs::create_dir_all(&mine).unwrap();
        std::fs::write(mine.join("notes.txt"), "x").unwrap();
        assert!(claim(&mine, &sel("all"), false, false).is_err());
        assert!(claim(&mine, &sel("all"), false, true).unwrap_err().to_string().contains("not a harness run"));
        assert!(mine.join("notes.txt").exists());
    }
}
