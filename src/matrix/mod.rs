//! The regression matrix: models × suites.
//!
//! [`suite`] reads what to generate, [`cell`] runs one model on one suite
//! (journaled per trace), [`tables`] renders the results. Built-in models
//! are `reference` and one `mutant:<fault>` per [`Fault`]; mutants run on
//! the suites their fault applies to (at most one per dialect), so the
//! detection matrix covers every fault in both dialects where it exists.

pub mod cell;
pub mod defaults;
pub(crate) mod finetune;
pub mod format;
pub mod html;
pub(crate) mod ntg;
pub(crate) mod onwire;
pub mod replay;
pub(crate) mod setup;
pub mod suite;
pub mod tables;

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use serde::Serialize;

use crate::model::mutant::Fault;
use crate::model::{Answerer, Mutant, Reference, Unanswered};
use cell::{CellError, CellResult, Tools};
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
        return Some(ModelRun {
            id: id.into(),
            answerer: Box::new(Reference),
            fault: None,
            suites: None,
            own_suites: None,
        });
    }
    let fault = Fault::from_name(id.strip_prefix("mutant:")?)?;
    let mut chosen: Vec<String> = Vec::new();
    let mut dialects = Vec::new();
    for s in suites {
        if s.ntg.is_none() && fault.applies(s.protocol, s.mode, s.dialect) && !dialects.contains(&s.dialect) {
            dialects.push(s.dialect);
            chosen.push(s.name.clone());
        }
    }
    Some(ModelRun {
        id: format!("mutant:{}", fault.name()),
        answerer: Box::new(Mutant(fault)),
        fault: Some(fault),
        suites: Some(chosen),
        own_suites: None,
    })
}

/// A model that could not run, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Skipped {
    /// Model id.
    pub model: String,
    /// Why.
    pub reason: String,
}

/// The result of a matrix run.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
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
    /// The models run, in run order (how `harness merge` orders the cells
    /// of shards).
    #[serde(default)]
    pub models: Vec<String>,
    /// `I/N` when this report holds one shard of a matrix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// With `--onwire`: the real servers the conversations were replayed
    /// against, with their versions (empty otherwise).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub onwire_servers: BTreeMap<String, String>,
}

impl MatrixReport {
    /// The run's verdict (see [`Verdict`]).
    pub fn verdict(&self) -> Verdict {
        let mut ran: Vec<String> = Vec::new();
        let mut failed: Vec<String> = Vec::new();
        let mut requests_failed: Vec<(String, u64)> = Vec::new();
        for c in &self.cells {
            if c.requests_failed > 0 {
                match requests_failed.iter_mut().find(|(m, _)| *m == c.model) {
                    Some((_, n)) => *n += c.requests_failed,
                    None => requests_failed.push((c.model.clone(), c.requests_failed)),
                }
            }
            let answered = c.answered() > 0;
            if answered && !ran.contains(&c.model) {
                ran.push(c.model.clone());
                failed.retain(|m| *m != c.model);
            } else if !answered && !ran.contains(&c.model) && !failed.contains(&c.model) {
                failed.push(c.model.clone());
            }
        }
        Verdict {
            regressions: self.regressions(),
            cells: self.cells.len(),
            ran,
            failed,
            requests_failed,
            skipped: self.skipped.iter().map(|s| s.model.clone()).collect(),
        }
    }

    /// Whether the run shows a regression of the harness's own baseline:
    /// the reference below 100 % or with a warning, or a mutant not caught
    /// by its check.
    pub fn regressions(&self) -> Vec<String> {
        let mut out = Vec::new();
        for c in &self.cells {
            if c.model == "reference" {
                // On ZigBee suites the reference is the real sample input,
                // whose warnings (a request cut off by the sample) are real.
                let strict = c.ntg.is_none();
                let imperfect =
                    c.protocols.values().any(|p| p.success_rate < 1.0 || (strict && (p.warnings > 0 || p.errors > 0)));
                if imperfect || c.conversations.succeeded != c.conversations.total {
                    out.push(format!("reference on {}: not 100 % clean", c.suite));
                }
            }
            if let Some(why) = &c.cassette_miss {
                let n = c.exec_failures.get(Unanswered::Cassette.status()).copied().unwrap_or(0);
                out.push(format!("{} on {}: {n} answers not in the cassette: {why}", c.model, c.suite));
            }
            if c.caught == Some(false) {
                out.push(format!(
                    "{} on {}: {} did not catch it",
                    c.model,
                    c.suite,
                    c.expected_check.as_deref().unwrap_or("?")
                ));
            }
        }
        out
    }
}

/// What a matrix run amounts to: the regressions, the models that ran and
/// those that did not (skipped, or every request failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The regressions (see [`MatrixReport::regressions`]).
    pub regressions: Vec<String>,
    /// Cells run.
    pub cells: usize,
    /// Models with at least one answered request.
    pub ran: Vec<String>,
    /// Models whose every request failed.
    pub failed: Vec<String>,
    /// Failed requests per model (models with none left out), in run
    /// order: traces the models never answered, judged nowhere.
    pub requests_failed: Vec<(String, u64)>,
    /// Models skipped before the run.
    pub skipped: Vec<String>,
}

impl Verdict {
    /// Whether the run passes: something ran and showed no regression.
    pub fn pass(&self) -> bool {
        self.nothing_ran().is_none() && self.regressions.is_empty()
    }

    /// Why nothing was judged, when no cell ran or every model that ran
    /// had every request fail.
    pub fn nothing_ran(&self) -> Option<String> {
        if self.cells == 0 {
            return Some("no cell ran".into());
        }
        if self.ran.is_empty() {
            return Some(format!("every request failed ({})", self.failed.join(", ")));
        }
        None
    }

    /// The verdict in one line: `PASS`, `REGRESSION` or `NO RESULT`, with
    /// the counts and the models skipped or failed.
    pub fn line(&self) -> String {
        let models = |n: usize| if n == 1 { "1 model".to_string() } else { format!("{n} models") };
        let mut tail = String::new();
        if !self.skipped.is_empty() {
            tail += &format!("; {} skipped ({})", models(self.skipped.len()), self.skipped.join(", "));
        }
        if !self.failed.is_empty() {
            tail += &format!("; {} with every request failed ({})", models(self.failed.len()), self.failed.join(", "));
        }
        if !self.requests_failed.is_empty() {
            let total: u64 = self.requests_failed.iter().map(|(_, n)| n).sum();
            let each: Vec<String> = self.requests_failed.iter().map(|(m, n)| format!("{m} {n}")).collect();
            tail += &format!("; {} ({}), not judged", tables::requests_failed(total), each.join(", "));
        }
        if let Some(why) = self.nothing_ran() {
            return format!("NO RESULT: {why}, nothing was judged{tail}");
        }
        let cells = if self.cells == 1 { "1 cell".to_string() } else { format!("{} cells", self.cells) };
        let ran = format!("{cells} of {}", models(self.ran.len()));
        if self.regressions.is_empty() {
            format!("PASS: {ran}, no regression{tail}")
        } else {
            format!("REGRESSION: {} regression(s) in {ran}{tail}", self.regressions.len())
        }
    }
}

/// The cells of `models` × `suites`, in run order: (model index, suite).
pub fn plan<'s>(models: &'s [ModelRun<'_>], suites: &'s [Suite]) -> Vec<(usize, &'s Suite)> {
    let mut out = Vec::new();
    for (i, model) in models.iter().enumerate() {
        for suite in model.suites_of(suites) {
            out.push((i, suite));
        }
    }
    out
}

/// Parse `I/N` (1 ≤ I ≤ N).
///
/// # Errors
/// A message naming what is wrong.
pub fn parse_shard(text: &str) -> Result<(usize, usize), String> {
    let (i, n) = text.split_once('/').ok_or_else(|| format!("--shard {text}: expected I/N, e.g. 1/4"))?;
    let (i, n): (usize, usize) = (
        i.trim().parse().map_err(|_| format!("--shard {text}: I is not a number"))?,
        n.trim().parse().map_err(|_| format!("--shard {text}: N is not a number"))?,
    );
    if n == 0 || i == 0 || i > n {
        return Err(format!("--shard {text}: need 1 <= I <= N"));
    }
    Ok((i, n))
}

/// Run `models` over `suites`, one cell directory per model and suite
/// under `out`; with `shard = (I, N)`, only the cells whose run-order index
/// is I-1 modulo N (so N runners share the matrix evenly and `harness
/// merge` puts it back together).
///
/// `jobs` threads (at least one) take the cells in run order; a thread
/// starts its next cell while tshark still judges its last ones, so a cell
/// waits for tshark only at the end of the run. tshark runs on a thread of
/// its own for all of them (`cell::tshark_stage`), over the chunks of
/// several cells at once. The cells come back in run order whatever
/// order they finish in, so the report does not depend on `jobs`.
/// `progress` is called on the calling thread as each cell finishes.
///
/// # Errors
/// A cell that cannot run at all (see [`CellError`]): no further cell
/// starts, the cells already running finish (their journals stay whole for
/// `--resume`), and the error of the first such cell in run order is
/// returned, the one a run with `jobs = 1` stops at. (An error that comes
/// with a cell's verdicts, such as a journal that cannot be written, is
/// seen when they come in: cells after it may have started by then.)
#[allow(clippy::too_many_arguments)]
pub fn run<'s>(
    models: &'s [ModelRun<'_>],
    suites: &'s [Suite],
    tools: &Tools<'_>,
    out: &Path,
    resume: bool,
    shard: Option<(usize, usize)>,
    jobs: usize,
    mut progress: impl FnMut(&CellResult),
) -> Result<Vec<CellResult>, CellError> {
    let cells = shard_cells(models, suites, shard);
    // One tshark stage for the whole run: it gathers the chunks of every
    // cell into few tshark runs (see `cell::tshark_stage`).
    std::thread::scope(|scope| {
        let (stage, queue) = mpsc::channel();
        scope.spawn(move || cell::tshark_stage(&queue, tools));
        let start_one = |&(model_index, suite): &(usize, &'s Suite)| -> Result<InFlight<'s>, CellError> {
            let model = &models[model_index];
            let dir = out.join(dir_name(&model.id)).join(&suite.name);
            match &suite.ntg {
                Some(spec) => Ok(InFlight::Done(ntg::run_ntg_cell(
                    &model.id,
                    model.answerer.as_ref(),
                    spec,
                    suite,
                    tools,
                    &dir,
                    resume,
                ))),
                None => cell::start_cell(
                    &model.id,
                    model.answerer.as_ref(),
                    model.fault,
                    suite,
                    tools,
                    &dir,
                    resume,
                    &stage,
                )
                .map(InFlight::Started),
            }
        };
        let jobs = jobs.clamp(1, cells.len().max(1));
        run_cells(&cells, &start_one, &stage, jobs, &mut progress)
    })
}

/// A cell to run: the index of its model, and its suite.
type Planned<'s> = (usize, &'s Suite);

/// A cell started: its chunks are built and with the tshark stage, or it is
/// done (an NTG cell runs whole).
// A few at a time, moved rarely: the size difference does not matter.
#[allow(clippy::large_enum_variant)]
enum InFlight<'s> {
    Started(cell::Started<'s>),
    Done(Result<CellResult, CellError>),
}

impl InFlight<'_> {
    /// Whether the cell's verdicts are all in.
    fn poll(&mut self) -> bool {
        match self {
            InFlight::Started(started) => started.poll(),
            InFlight::Done(_) => true,
        }
    }

    /// The cell's result, once its verdicts are in.
    fn finish(self, stage: &mpsc::Sender<cell::StageMsg>) -> Result<CellResult, CellError> {
        match self {
            InFlight::Started(started) => started.finish(stage),
            InFlight::Done(result) => result,
        }
    }
}

/// Run `cells` on `jobs` threads, taking them in run order. A thread does
/// not wait for a cell's verdicts before it starts the next cell: it
/// finishes its cells, in order, as their verdicts come in from the tshark
/// stage, and waits for the last ones when no cell is left to start (or an
/// error stops the run). `progress` is called on this thread.
fn run_cells<'s>(
    cells: &[Planned<'s>],
    start_one: &(dyn Fn(&Planned<'s>) -> Result<InFlight<'s>, CellError> + Sync),
    stage: &mpsc::Sender<cell::StageMsg>,
    jobs: usize,
    progress: &mut dyn FnMut(&CellResult),
) -> Result<Vec<CellResult>, CellError> {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let mut slots: Vec<Option<CellResult>> = cells.iter().map(|_| None).collect();
    let mut first_error: Option<(usize, CellError)> = None;
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel();
        for _ in 0..jobs {
            let tx = tx.clone();
            let (next, stop) = (&next, &stop);
            scope.spawn(move || {
                let finish = |index: usize, cell: InFlight<'s>| {
                    let result = cell.finish(stage);
                    if result.is_err() {
                        stop.store(true, Ordering::SeqCst);
                    }
                    // The receiver lives until every thread is done.
                    let _ = tx.send((index, result));
                };
                let mut in_flight: VecDeque<(usize, InFlight<'s>)> = VecDeque::new();
                while !stop.load(Ordering::SeqCst) {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    let Some(c) = cells.get(index) else { break };
                    match start_one(c) {
                        Ok(cell) => in_flight.push_back((index, cell)),
                        Err(error) => {
                            stop.store(true, Ordering::SeqCst);
                            let _ = tx.send((index, Err(error)));
                            break;
                        }
                    }
                    while in_flight.front_mut().is_some_and(|(_, cell)| cell.poll()) {
                        let (index, cell) = in_flight.pop_front().expect("checked");
                        finish(index, cell);
                    }
                }
                for (index, cell) in in_flight {
                    finish(index, cell);
                }
            });
        }
        drop(tx);
        for (index, result) in rx {
            match result {
                Ok(cell) => {
                    progress(&cell);
                    slots[index] = Some(cell);
                }
                Err(error) => {
                    if first_error.as_ref().is_none_or(|(first, _)| index < *first) {
                        first_error = Some((index, error));
                    }
                }
            }
        }
    });
    if let Some((_, error)) = first_error {
        return Err(error);
    }
    Ok(slots.into_iter().map(|c| c.expect("every cell ran: no error stopped the run")).collect())
}

/// The cells of `plan` in shard `shard` = (I, N): those whose run-order
/// index is I-1 modulo N (all without a shard).
fn shard_cells<'s>(
    models: &'s [ModelRun<'_>],
    suites: &'s [Suite],
    shard: Option<(usize, usize)>,
) -> Vec<(usize, &'s Suite)> {
    plan(models, suites)
        .into_iter()
        .enumerate()
        .filter(|(index, _)| shard.is_none_or(|(i, n)| index % n == i - 1))
        .map(|(_, cell)| cell)
        .collect()
}

/// Return the requests the cells of `models` × `suites` (shard `shard`,
/// prompts from `prompts`) would send to a provider because their
/// cassettes lack them, in run order (see [`Answerer::missing`]), for
/// `harness matrix --record --batch`. LLM-NTG cells are left out: they send
/// one prompt per trial and are recorded synchronously.
///
/// # Errors
/// A prompt template or suite that cannot be read.
pub fn pending(
    models: &[ModelRun<'_>],
    suites: &[Suite],
    prompts: &Path,
    shard: Option<(usize, usize)>,
) -> Result<Vec<crate::model::batch::Pending>, CellError> {
    let mut out = Vec::new();
    for (model_index, suite) in shard_cells(models, suites, shard) {
        if suite.ntg.is_some() {
            continue;
        }
        let template = crate::prompt::Template::load(prompts, suite.protocol, suite.mode, suite.dialect)?;
        let items = suite.items()?;
        let rendered: Vec<crate::prompt::Prompt> = items.iter().map(|i| template.render(&i.text)).collect();
        let requests = suite.requests(&items, &rendered);
        out.extend(models[model_index].answerer.missing(&requests));
    }
    Ok(out)
}

/// The cells to run at a time by default: the machine's parallelism (one
/// when it cannot be read).
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// A model id as a directory name (`mutant:fenced` → `mutant-fenced`).
pub fn dir_name(id: &str) -> String {
    id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '-' }).collect()
}

/// Put the reports of shards back together: every cell once, in the run
/// order of the unsharded matrix (the models' order, then suite names).
///
/// # Errors
/// Reports of different matrices (models or versions differ), or a cell in
/// two shards.
pub fn merge(reports: Vec<MatrixReport>) -> Result<MatrixReport, String> {
    let mut iter = reports.into_iter();
    let mut merged = iter.next().ok_or("nothing to merge")?;
    for r in iter {
        if r.models != merged.models || r.tshark != merged.tshark || r.harness != merged.harness {
            return Err("the reports come from different matrices (models or tool versions differ)".into());
        }
        merged.scapy = merged.scapy.or(r.scapy);
        merged.onwire_servers.extend(r.onwire_servers);
        for s in r.skipped {
            if !merged.skipped.contains(&s) {
                merged.skipped.push(s);
            }
        }
        merged.cells.extend(r.cells);
    }
    let rank = |model: &str| merged.models.iter().position(|m| m == model).unwrap_or(usize::MAX);
    let mut cells = std::mem::take(&mut merged.cells);
    cells.sort_by(|a, b| (rank(&a.model), &a.suite).cmp(&(rank(&b.model), &b.suite)));
    if let Some(w) = cells.windows(2).find(|w| w[0].model == w[1].model && w[0].suite == w[1].suite) {
        return Err(format!("{} on {} is in two shards", w[0].model, w[0].suite));
    }
    merged.cells = cells;
    merged.shard = None;
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Limits;
    use crate::exec::extract::Dialect;

    /// The JSON-dialect suites of `harness/suites` (no Scapy needed).
    fn json_suites() -> Vec<Suite> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("harness/suites");
        Suite::load_dir(&dir).unwrap().into_iter().filter(|s| s.dialect == Dialect::Json && s.ntg.is_none()).collect()
    }

    fn models<'a>(suites: &[Suite]) -> Vec<ModelRun<'a>> {
        ["reference", "mutant:fenced", "mutant:wrong-ttl"].iter().map(|id| builtin(id, suites).unwrap()).collect()
    }

    #[test]
    fn test_run_concurrent_equals_sequential() {
        let suites = json_suites();
        let models = models(&suites);
        let prompts = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts");
        let tools = Tools { prompts: &prompts, tshark: None, pool: None, limits: Limits::default() };
        let one = tempfile::tempdir().unwrap();
        let sequential = run(&models, &suites, &tools, one.path(), false, None, 1, |_| {}).unwrap();
        assert!(sequential.len() >= 4, "{}", sequential.len());
        for jobs in [2, 3, 64] {
            let dir = tempfile::tempdir().unwrap();
            let mut finished = Vec::new();
            let cells = run(&models, &suites, &tools, dir.path(), false, None, jobs, |c| {
                finished.push((c.model.clone(), c.suite.clone()))
            })
            .unwrap();
            assert_eq!(
                serde_json::to_string(&cells).unwrap(),
                serde_json::to_string(&sequential).unwrap(),
                "--jobs {jobs}"
            );
            // One progress call per cell, whatever order they finished in.
            finished.sort();
            let mut planned: Vec<_> = sequential.iter().map(|c| (c.model.clone(), c.suite.clone())).collect();
            planned.sort();
            assert_eq!(finished, planned);
        }
        // Shards run concurrently too, and keep their run order.
        let dir = tempfile::tempdir().unwrap();
        let shard = run(&models, &suites, &tools, dir.path(), false, Some((2, 3)), 2, |_| {}).unwrap();
        let expected: Vec<&CellResult> = sequential.iter().skip(1).step_by(3).collect();
        assert_eq!(serde_json::to_string(&shard).unwrap(), serde_json::to_string(&expected).unwrap());
    }

    #[test]
    fn test_run_stops_at_the_first_error_in_run_order() {
        let suites = json_suites();
        let models = models(&suites);
        // Prompts for the first suite's protocol only: its cells run, the
        // next protocol's cells fail.
        let prompts = tempfile::tempdir().unwrap();
        let first = suites[0].protocol.name();
        let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts").join(first);
        std::fs::create_dir_all(prompts.path().join(first)).unwrap();
        for entry in std::fs::read_dir(&from).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), prompts.path().join(first).join(entry.file_name())).unwrap();
        }
        let tools = Tools { prompts: prompts.path(), tshark: None, pool: None, limits: Limits::default() };
        let one = tempfile::tempdir().unwrap();
        let mut ran = 0;
        let error = run(&models, &suites, &tools, one.path(), false, None, 1, |_| ran += 1).unwrap_err().to_string();
        assert!(ran >= 1, "the first cells succeed");
        let planned = plan(&models, &suites).len();
        for jobs in [2, 4] {
            let dir = tempfile::tempdir().unwrap();
            let mut finished = 0;
            let got = run(&models, &suites, &tools, dir.path(), false, None, jobs, |_| finished += 1)
                .unwrap_err()
                .to_string();
            assert_eq!(got, error, "--jobs {jobs}");
            // No cell starts after the error is seen: at most `jobs` - 1
            // more than the sequential run got to.
            let started: usize = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|m| std::fs::read_dir(m.unwrap().path()).unwrap().count())
                .sum();
            assert!(started <= ran + jobs, "--jobs {jobs}: {started} cells started");
            assert!(started < planned);
            assert!(finished >= ran);
        }
    }
}
