//! Fine-tuning export: OpenAI chat JSON Lines from the traces whose verdict
//! is fully correct, so that only validated data trains the experts.
//!
//! A trace is exported when it ran, every packet is correct, no finding at
//! warn or above (own checks, tshark, the summary's expectation) concerns
//! it, and its answer had no quirk of form (fences, prose, imports…): the
//! answer is then exactly what the model should learn to write.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::json;

use super::cell::{read_journal, CellInfo};
use crate::exec::extract::Dialect;
use crate::finding::Severity;
use crate::prompt::Template;

/// What an export did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportSummary {
    /// Cell directories read.
    pub cells: usize,
    /// Traces written.
    pub exported: usize,
    /// Traces left out (not fully correct, or quirky answers).
    pub skipped: usize,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Files.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// What happened.
        message: String,
    },
    /// The prompt changed since the run: the export would pair answers with
    /// prompts they did not answer.
    #[error("{cell}: the prompt {prompt} changed since the run (version {was}, now {now}); re-run the cell or export with the old prompts (--prompts)")]
    PromptChanged {
        /// The cell directory.
        cell: String,
        /// The template.
        prompt: String,
        /// Version at run time.
        was: String,
        /// Version now.
        now: String,
    },
    /// A template problem.
    #[error(transparent)]
    Prompt(#[from] crate::prompt::PromptError),
}

fn cells_under(dir: &Path, out: &mut Vec<PathBuf>) {
    if dir.join("cell.json").is_file() {
        out.push(dir.to_path_buf());
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut subdirs: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_dir()).collect();
    subdirs.sort();
    for sub in subdirs {
        cells_under(&sub, out);
    }
}

/// Write the fully correct traces of every cell under `dirs` to `out`.
///
/// # Errors
/// Unreadable cells, a changed prompt, an unwritable output.
pub fn export(dirs: &[PathBuf], prompts: &Path, out: &mut dyn Write) -> Result<ExportSummary, ExportError> {
    let mut cells = Vec::new();
    for dir in dirs {
        cells_under(dir, &mut cells);
    }
    let mut summary = ExportSummary::default();
    for cell in cells {
        let info_path = cell.join("cell.json");
        let io = |message: String| ExportError::Io { path: info_path.display().to_string(), message };
        let text = std::fs::read_to_string(&info_path).map_err(|e| io(e.to_string()))?;
        let info: CellInfo = serde_json::from_str(&text).map_err(|e| io(e.to_string()))?;
        let dialect = if info.dialect == "json" { Dialect::Json } else { Dialect::Scapy };
        let template = Template::load(prompts, info.protocol, info.mode, dialect)?;
        if template.version != info.prompt_version {
            return Err(ExportError::PromptChanged {
                cell: cell.display().to_string(),
                prompt: template.name,
                was: info.prompt_version,
                now: template.version,
            });
        }
        summary.cells += 1;
        for record in read_journal(&cell).into_values() {
            let clean = record.succeeded
                && record.status.is_ok()
                && record.answer_checks.is_empty()
                && !record.findings.iter().any(|f| f.severity >= Severity::Warn)
                && record.prompt_version == info.prompt_version;
            if !clean {
                summary.skipped += 1;
                continue;
            }
            let prompt = template.render(&record.summary);
            let line = json!({"messages": [
                {"role": "system", "content": prompt.system},
                {"role": "user", "content": prompt.user},
                {"role": "assistant", "content": record.answer},
            ]});
            writeln!(out, "{line}").map_err(|e| ExportError::Io { path: "output".into(), message: e.to_string() })?;
            summary.exported += 1;
        }
    }
    Ok(summary)
}
