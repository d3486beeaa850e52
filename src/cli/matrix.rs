//! `harness generate` and `harness matrix`.

use std::path::Path;

use anyhow::{bail, Context};

use super::{ExportArgs, GenerateArgs, MergeArgs, MatrixArgs, MatrixFormat, ModelSource, RunOptions, EXIT_FINDINGS, EXIT_OK};
use crate::check::Limits;
use crate::exec::extract::Dialect;
use crate::exec::scapy::{ScapyOptions, ScapyPool};
use crate::matrix::cell::{CellResult, Tools};
use crate::matrix::suite::Suite;
use crate::matrix::live::Live;
use crate::matrix::replay;
use crate::matrix::{self, builtin, builtin_ids, html, tables, MatrixReport, ModelRun};
use crate::model::registry::{Availability, ProviderKind, Registry, RunMode};

fn pool(options: &RunOptions, suites: &[Suite]) -> anyhow::Result<Option<ScapyPool>> {
    if !suites.iter().any(|s| s.dialect == Dialect::Scapy) {
        return Ok(None);
    }
    let options = ScapyOptions { python: options.python.clone(), workers: options.workers.max(1), ..ScapyOptions::default() };
    Ok(Some(ScapyPool::start(options)?))
}

fn select_suites(dir: &Path, list: &str) -> anyhow::Result<Vec<Suite>> {
    let all = Suite::load_dir(dir).with_context(|| format!("cannot load the suites of {}", dir.display()))?;
    if list == "all" {
        return Ok(all);
    }
    let mut out = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match all.iter().find(|s| s.name == name) {
            Some(s) => out.push(s.clone()),
            None => bail!("no suite {name} in {} (have: {})", dir.display(), all.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")),
        }
    }
    // Run order is by name, however the list was given, so that shards
    // merge into the same tables.
    out.sort_by(|a: &Suite, b: &Suite| a.name.cmp(&b.name));
    out.dedup_by(|a, b| a.name == b.name);
    Ok(out)
}

fn registry(source: &ModelSource) -> anyhow::Result<Registry> {
    Ok(if source.registry.exists() { Registry::load(&source.registry)? } else { Registry { models: Vec::new() } })
}

/// The models of `ids`: built in, or from the registry when they can run in
/// the chosen mode; the others skipped with the reason.
fn resolve<'a>(ids: &[String], source: &ModelSource, suites: &[Suite]) -> anyhow::Result<(Vec<ModelRun<'a>>, Vec<matrix::Skipped>)> {
    let mode = if source.record {
        RunMode::Record
    } else if source.live {
        RunMode::Live
    } else {
        RunMode::Offline
    };
    let registry = registry(source)?;
    // Whatever a server sends back has every key of the registry cut out,
    // not only the key of the model it answers (a server may quote the key
    // it expected).
    for env in registry.models.iter().filter_map(|m| m.key_env.as_deref()) {
        if let Ok(key) = std::env::var(env) {
            crate::model::provider::register_secret(&key);
        }
    }
    let mut models = Vec::new();
    let mut skipped = Vec::new();
    for id in ids {
        if let Some(m) = builtin(id, suites) {
            models.push(m);
            continue;
        }
        let Some(entry) = registry.get(id) else {
            skipped.push(matrix::Skipped { model: id.clone(), reason: format!("not built in and not in {}", source.registry.display()) });
            continue;
        };
        if let Availability::Skipped(reason) = registry.availability(entry, mode, &source.cassettes) {
            skipped.push(matrix::Skipped { model: id.clone(), reason });
            continue;
        }
        match Live::new(&registry, entry, mode, &source.cassettes) {
            Ok(live) => models.push(ModelRun { id: id.clone(), answerer: Box::new(live), fault: None, suites: None, own_suites: None }),
            Err(reason) => skipped.push(matrix::Skipped { model: id.clone(), reason }),
        }
    }
    Ok((models, skipped))
}

/// Run `harness generate`.
///
/// # Errors
/// Unknown model or suite, missing tools, unwritable output.
pub fn generate(args: &GenerateArgs) -> anyhow::Result<u8> {
    let mut suites = select_suites(&args.run.suites_dir, &args.suite)?;
    for s in &mut suites {
        s.count = args.count.unwrap_or(s.count);
        s.seed = args.seed.unwrap_or(s.seed);
    }
    let (mut models, skipped) = resolve(std::slice::from_ref(&args.model), &args.source, &suites)?;
    let Some(model) = models.pop() else {
        bail!("cannot run model {}: {} (built in: reference, mutant:<fault>)", args.model, skipped.first().map_or("unknown", |s| s.reason.as_str()))
    };
    let model = ModelRun { suites: None, ..model };
    let tshark = args.run.tshark.tshark(args.run.tshark_path.as_deref())?;
    let pool = pool(&args.run, &suites)?;
    let tools = Tools { prompts: &args.run.prompts, tshark: tshark.as_ref(), pool: pool.as_ref(), limits: Limits::default() };
    let cells = matrix::run(std::slice::from_ref(&model), &suites, &tools, &args.out, args.run.resume, None, 1, |_| {})?;
    let report = MatrixReport {
        harness: env!("CARGO_PKG_VERSION").into(),
        tshark: tshark.as_ref().map(|t| t.version().to_string()),
        scapy: pool.as_ref().map(|p| p.scapy_version().to_string()),
        cells,
        skipped: Vec::new(),
        models: vec![model.id.clone()],
        shard: None,
    };
    std::fs::write(args.out.join("report.json"), serde_json::to_string_pretty(&report)?)?;
    std::fs::write(args.out.join("report.html"), html::html(&report))?;
    print!("{}", tables::markdown(&report));
    let regressions = report.regressions();
    for r in &regressions {
        eprintln!("harness: regression: {r}");
    }
    Ok(if regressions.is_empty() { EXIT_OK } else { EXIT_FINDINGS })
}

/// Run `harness matrix`.
///
/// # Errors
/// Unknown models or suites, missing tools, unwritable output.
pub fn run(args: &MatrixArgs) -> anyhow::Result<u8> {
    let suites = select_suites(&args.run.suites_dir, &args.suites)?;
    let ids: Vec<String> = if args.models == "all" {
        let mut ids = builtin_ids();
        let registry = registry(&args.source)?;
        ids.extend(registry.models.iter().filter(|m| !matches!(m.kind, ProviderKind::Reference | ProviderKind::Mutant)).map(|m| m.id.clone()));
        ids.push(replay::ALL.into());
        ids
    } else {
        args.models.split(',').map(|m| m.trim().to_string()).filter(|m| !m.is_empty()).collect()
    };
    let (corpus_ids, ids): (Vec<String>, Vec<String>) = ids.into_iter().partition(|id| id.starts_with(replay::PREFIX));
    let (corpus_models, mut corpus_skipped) = replay::select(&args.corpus_cassettes, &corpus_ids, (args.suites != "all").then_some(suites.as_slice()));
    let (mut models, mut skipped) = resolve(&ids, &args.source, &suites)?;
    models.extend(corpus_models);
    skipped.append(&mut corpus_skipped);
    for s in &skipped {
        eprintln!("harness: skipped {}: {}", s.model, s.reason);
    }
    let tshark = args.run.tshark.tshark(args.run.tshark_path.as_deref())?;
    let needed: Vec<Suite> = models.iter().flat_map(|m| m.suites_of(&suites)).cloned().collect();
    let pool = pool(&args.run, &needed)?;
    let tools = Tools { prompts: &args.run.prompts, tshark: tshark.as_ref(), pool: pool.as_ref(), limits: Limits::default() };
    let shard = args.shard.as_deref().map(matrix::parse_shard).transpose().map_err(anyhow::Error::msg)?;
    let total = matrix::plan(&models, &suites).len();
    let total = shard.map_or(total, |(i, n)| (total + n - i) / n);
    let progress = Progress::new(total as u64);
    let jobs = args.jobs.map_or_else(matrix::default_jobs, |n| usize::try_from(n).unwrap_or(usize::MAX));
    let cells = matrix::run(&models, &suites, &tools, &args.out, args.run.resume, shard, jobs, |c: &CellResult| progress.cell(c))?;
    progress.finish();
    let report = MatrixReport {
        harness: env!("CARGO_PKG_VERSION").into(),
        tshark: tshark.as_ref().map(|t| t.version().to_string()),
        scapy: pool.as_ref().map(|p| p.scapy_version().to_string()),
        cells,
        skipped,
        models: models.iter().map(|m| m.id.clone()).collect(),
        shard: args.shard.clone(),
    };
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(args.out.join("report.json"), serde_json::to_string_pretty(&report)?)?;
    std::fs::write(args.out.join("report.html"), html::html(&report))?;
    finish(&report, args.format)
}

/// Print `report` in `format`; the exit status says whether it shows a
/// regression.
fn finish(report: &MatrixReport, format: MatrixFormat) -> anyhow::Result<u8> {
    let text = match format {
        MatrixFormat::Table | MatrixFormat::Md => tables::markdown(report),
        MatrixFormat::Json => serde_json::to_string_pretty(report)? + "\n",
        MatrixFormat::Csv => tables::csv(report),
        MatrixFormat::Junit => tables::junit(report),
        MatrixFormat::Html => html::html(report),
    };
    print!("{text}");
    let regressions = report.regressions();
    for r in &regressions {
        eprintln!("harness: regression: {r}");
    }
    Ok(if regressions.is_empty() { EXIT_OK } else { EXIT_FINDINGS })
}

/// Run `harness merge`.
///
/// # Errors
/// Unreadable reports, reports of different matrices, a cell twice.
pub fn merge(args: &MergeArgs) -> anyhow::Result<u8> {
    let mut reports = Vec::new();
    for dir in &args.dirs {
        let path = if dir.is_dir() { dir.join("report.json") } else { dir.clone() };
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {} (the --out folder of a `harness matrix --shard` run)", path.display()))?;
        reports.push(serde_json::from_str::<MatrixReport>(&text).with_context(|| format!("{} is not a matrix report", path.display()))?);
    }
    let report = matrix::merge(reports).map_err(anyhow::Error::msg)?;
    if let Some(out) = &args.out {
        std::fs::create_dir_all(out)?;
        std::fs::write(out.join("report.json"), serde_json::to_string_pretty(&report)?)?;
    }
    finish(&report, args.format)
}

/// Progress of a matrix run on stderr: a bar with counts, ETA and the
/// traces that failed so far on a terminal; one line per cell otherwise
/// (CI logs).
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    total: u64,
    state: std::cell::Cell<(u64, u64, u64)>,
}

impl Progress {
    fn new(total: u64) -> Progress {
        use std::io::IsTerminal;
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(total);
            let style = indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} cells, ETA {eta} {msg}").unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        });
        Progress { bar, total, state: std::cell::Cell::new((0, 0, 0)) }
    }

    fn cell(&self, c: &CellResult) {
        let (done, traces, failed) = self.state.get();
        let failed = failed + (c.conversations.total - c.conversations.succeeded);
        let state = (done + 1, traces + c.traces, failed);
        self.state.set(state);
        match &self.bar {
            Some(bar) => {
                bar.set_message(format!("| {} traces, {} not correct | {} on {}", state.1, state.2, c.model, c.suite));
                bar.inc(1);
            }
            None => eprintln!("[{}/{}] {} on {}: {}/{} correct ({} traces, {} not correct so far)", state.0, self.total, c.model, c.suite, c.conversations.succeeded, c.conversations.total, state.1, state.2),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Run `harness export-finetune`.
///
/// # Errors
/// Unreadable cells, a changed prompt, an unwritable output.
pub fn export_finetune(args: &ExportArgs) -> anyhow::Result<u8> {
    let mut buffer = Vec::new();
    let summary = crate::matrix::finetune::export(&args.dirs, &args.prompts, &mut buffer)?;
    std::fs::write(&args.out, buffer).with_context(|| format!("cannot write {}", args.out.display()))?;
    eprintln!("harness: {} traces exported to {} from {} cells ({} left out: not fully correct or quirky answers)", summary.exported, args.out.display(), summary.cells, summary.skipped);
    Ok(EXIT_OK)
}
