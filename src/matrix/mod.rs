//! The regression matrix: models × suites.
//!
//! [`suite`] reads what to generate, [`cell`] runs one model on one suite
//! (journaled per trace), [`tables`] renders the results. Built-in models
//! are `reference` and one `mutant:<fault>` per [`Fault`]; mutants run on
//! the suites their fault applies to (at most one per dialect), so the
//! detection matrix covers every fault in both dialects where it exists.

pub mod cell;
pub mod live;
pub mod replay;
pub mod suite;
pub mod tables;

use std::path::Path;

use serde::Serialize;

use crate::model::mutant::Fault;
use cell::{Answerer, CellError, CellResult, Mutant, Reference, Tools};
use suite::Suite;

/// A model the matrix can run.
pub struct ModelRun<'a> {
    /// Its id (`reference`, `mutant:fenced`, …).
    pub id: String,
    /// Where its answers come from.
    pub answerer: Box<dyn Answerer + 'a>,
    /// The fault, for mutants.
    pub fault: Option<Fault>,
    /// The suites it runs on (`None`: all selected).
    pub suites: Option<Vec<String>>,
    /// Suites of its own, run instead of the selected ones (replay models
    /// of imported answers); `None` for every other model.
    pub own_suites: Option<Vec<Suite>>,
}

impl ModelRun<'_> {
    /// The suites this model runs on, out of the selected `suites`.
    pub fn suites_of<'s>(&'s self, suites: &'s [Suite]) -> Vec<&'s Suite> {
        match &self.own_suites {
            Some(own) => own.iter().collect(),
            None => suites.iter().filter(|s| self.suites.as_ref().is_none_or(|only| only.contains(&s.name))).collect(),
        }
    }
}

/// Every built-in model id: `reference` and `mutant:<fault>` for each fault.
pub fn builtin_ids() -> Vec<String> {
    std::iter::once("reference".to_string()).chain(Fault::ALL.iter().map(|f| format!("mutant:{}", f.name()))).collect()
}

/// The built-in model `id`, restricted for mutants to the suites of
/// `suites` its fault applies to (at most one per dialect, the first by
/// name); `None` if `id` is not built in.
pub fn builtin<'a>(id: &str, suites: &[Suite]) -> Option<ModelRun<'a>> {
    if id == "reference" {
        return Some(ModelRun { id: id.into(), answerer: Box::new(Reference), fault: None, suites: None, own_suites: None });
    }
    let fault = Fault::from_name(id.strip_prefix("mutant:")?)?;
    let mut chosen: Vec<String> = Vec::new();
    let mut dialects = Vec::new();
    for s in suites {
        if fault.applies(s.protocol, s.mode, s.dialect) && !dialects.contains(&s.dialect) {
            dialects.push(s.dialect);
            chosen.push(s.name.clone());
        }
    }
    Some(ModelRun { id: format!("mutant:{}", fault.name()), answerer: Box::new(Mutant(fault)), fault: Some(fault), suites: Some(chosen), own_suites: None })
}

/// A model that could not run, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// Model id.
    pub model: String,
    /// Why.
    pub reason: String,
}

/// The result of a matrix run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatrixReport {
    /// Harness version.
    pub harness: String,
    /// tshark's version, when it ran.
    pub tshark: Option<String>,
    /// Scapy's version, when it ran.
    pub scapy: Option<String>,
    /// One entry per cell, in model then suite order.
    pub cells: Vec<CellResult>,
    /// Models that could not run.
    pub skipped: Vec<Skipped>,
}

impl MatrixReport {
    /// Whether the run shows a regression of the harness's own baseline:
    /// the reference below 100 % or with a warning, or a mutant not caught
    /// by its check.
    pub fn regressions(&self) -> Vec<String> {
        let mut out = Vec::new();
        for c in &self.cells {
            if c.model == "reference" {
                let imperfect = c.protocols.values().any(|p| p.success_rate < 1.0 || p.warnings > 0 || p.errors > 0);
                if imperfect || c.conversations.succeeded != c.conversations.total {
                    out.push(format!("reference on {}: not 100 % clean", c.suite));
                }
            }
            if c.caught == Some(false) {
                out.push(format!("{} on {}: {} did not catch it", c.model, c.suite, c.expected_check.as_deref().unwrap_or("?")));
            }
        }
        out
    }
}

/// Run `models` over `suites`, one cell directory per model and suite
/// under `out`.
///
/// # Errors
/// A cell that cannot run at all (see [`CellError`]).
pub fn run(models: &[ModelRun<'_>], suites: &[Suite], tools: &Tools<'_>, out: &Path, resume: bool, mut progress: impl FnMut(&CellResult)) -> Result<Vec<CellResult>, CellError> {
    let mut cells = Vec::new();
    for model in models {
        for suite in model.suites_of(suites) {
            let dir = out.join(dir_name(&model.id)).join(&suite.name);
            let cell = cell::run_cell(&model.id, model.answerer.as_ref(), model.fault, suite, tools, &dir, resume)?;
            progress(&cell);
            cells.push(cell);
        }
    }
    Ok(cells)
}

/// A model id as a directory name (`mutant:fenced` → `mutant-fenced`).
pub fn dir_name(id: &str) -> String {
    id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '-' }).collect()
}
