//! `harness generate` and `harness matrix`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};

use super::{
    rundir, select, ExportArgs, GenerateArgs, MatrixArgs, MatrixFormat, MergeArgs, ModelSource, RunOptions, EXIT_ERROR,
    EXIT_FINDINGS, EXIT_OK,
};
use crate::check::Limits;
use crate::matrix::cell::CellResult;
use crate::matrix::format::Format;
use crate::matrix::replay;
use crate::matrix::setup::{self, PoolOptions, Prompts, Toolbox};
use crate::matrix::suite::Suite;
use crate::matrix::tables;
use crate::matrix::{self, MatrixReport, ModelRun};
use crate::model::cassette::Rerecord;
use crate::model::registry::{Registry, RunMode};
use crate::report::Reporter;

/// The model registry of `--registry`, or the built-in one.
fn registry(source: &ModelSource) -> anyhow::Result<Registry> {
    Ok(setup::registry(source.registry.as_deref())?)
}

/// The prompt templates of `--prompts` (checked to be a folder) or the
/// built-in ones.
fn prompts(dir: Option<&Path>) -> anyhow::Result<Prompts> {
    if let Some(dir) = dir {
        select::folders(&[dir.to_path_buf()], "the folder of the prompt templates (--prompts)")?;
    }
    Ok(Prompts::open(dir)?)
}

/// The tools of a run on `suites`: the prompts, tshark as its flags say,
/// and the Scapy pool when a suite needs it.
fn toolbox(run: &RunOptions, suites: &[Suite]) -> anyhow::Result<Toolbox> {
    let pool = PoolOptions { python: run.python.clone(), workers: run.workers };
    Toolbox::open(prompts(run.prompts.as_deref())?, || run.tshark.open(), &pool, suites)
}

/// The options of a run that change its requests or where their answers
/// are kept, as arguments for the re-record command: `--suites-dir`,
/// `--prompts`, `--registry`, `--cassettes` when given.
fn file_args(run: &RunOptions, source: &ModelSource) -> Vec<String> {
    let mut args = Vec::new();
    let mut push = |flag: &str, path: Option<&Path>| {
        if let Some(path) = path {
            args.extend([flag.to_string(), path.display().to_string()]);
        }
    };
    push("--suites-dir", run.suites_dir.as_deref());
    push("--prompts", run.prompts.as_deref());
    push("--registry", source.registry.as_deref());
    push(
        "--cassettes",
        (source.cassettes != Path::new(super::DEFAULT_CASSETTES)).then_some(source.cassettes.as_path()),
    );
    args
}

/// How `harness matrix` re-records a model: the same suites and files,
/// `--models ID --record`.
fn matrix_rerecord(args: &MatrixArgs) -> Rerecord {
    let mut extra = Vec::new();
    if args.suites.trim() != "all" {
        extra.extend(["--suites".to_string(), args.suites.clone()]);
    }
    extra.extend(file_args(&args.run, &args.source));
    Rerecord { subcommand: "matrix".into(), model_flag: "--models".into(), args: extra }
}

/// How `harness generate` re-records its model: the same suite, count,
/// seed, output folder and files, `--record`.
fn generate_rerecord(args: &GenerateArgs) -> Rerecord {
    let mut extra = vec!["--suite".to_string(), args.suite.clone()];
    if let Some(n) = args.count {
        extra.extend(["--count".to_string(), n.to_string()]);
    }
    if let Some(k) = args.seed {
        extra.extend(["--seed".to_string(), k.to_string()]);
    }
    extra.extend(["--out".to_string(), args.out.display().to_string()]);
    extra.extend(file_args(&args.run, &args.source));
    Rerecord { subcommand: "generate".into(), model_flag: "--model".into(), args: extra }
}

fn mode(source: &ModelSource) -> RunMode {
    if source.record {
        RunMode::Record
    } else if source.live {
        RunMode::Live
    } else {
        RunMode::Offline
    }
}

/// Check that every id of `ids` names a model.
///
/// # Errors
/// An unknown id, with the one probably meant and the known ids.
fn check_known(ids: &[String], registry: &Registry, corpus: &Path) -> anyhow::Result<()> {
    if let Some(id) = ids.iter().find(|id| !setup::is_known(id, registry)) {
        let known = setup::known_ids(registry, corpus);
        bail!("unknown model {id}{}; known: {}", select::hint(id, &known), known.join(", "));
    }
    Ok(())
}

/// The models of `ids` as `source` and `rerecord` say they answer (see
/// [`setup::models`]).
fn resolve<'a>(
    ids: &[String],
    source: &ModelSource,
    registry: &Registry,
    suites: &[Suite],
    rerecord: &Rerecord,
    batch: Option<&Arc<HashMap<String, String>>>,
) -> (Vec<ModelRun<'a>>, Vec<matrix::Skipped>) {
    let answering = setup::Answering { mode: mode(source), cassettes: &source.cassettes, rerecord };
    setup::models(ids, registry, answering, suites, batch)
}

/// Run `harness generate`.
///
/// # Errors
/// Unknown model or suite, missing tools, unwritable output.
pub fn generate(args: &GenerateArgs) -> anyhow::Result<u8> {
    let mut suites = select::suites(args.run.suites_dir.as_deref(), &args.suite)?;
    for s in &mut suites {
        s.count = args.count.unwrap_or(s.count);
        s.seed = args.seed.unwrap_or(s.seed);
    }
    let registry = registry(&args.source)?;
    check_known(std::slice::from_ref(&args.model), &registry, Path::new(replay::DEFAULT_DIR))?;
    let (mut models, skipped) =
        resolve(std::slice::from_ref(&args.model), &args.source, &registry, &suites, &generate_rerecord(args), None);
    let Some(model) = models.pop() else {
        bail!("cannot run model {}: {}", args.model, skipped.first().map_or("unknown", |s| s.reason.as_str()))
    };
    let model = ModelRun { suites: None, ..model };
    let toolbox = toolbox(&args.run, &suites)?;
    let tools = toolbox.tools(Limits::default());
    rundir::claim_output(&args.out, "generate", args.force)?;
    let cells =
        matrix::run(std::slice::from_ref(&model), &suites, &tools, &args.out, args.run.resume, None, 1, |_| {})?;
    let report = MatrixReport {
        harness: env!("CARGO_PKG_VERSION").into(),
        tshark: toolbox.tshark_version(),
        scapy: toolbox.scapy_version(),
        cells,
        skipped: Vec::new(),
        models: vec![model.id.clone()],
        shard: None,
        onwire_servers: BTreeMap::new(),
    };
    std::fs::write(args.out.join("report.json"), serde_json::to_string_pretty(&report)?)?;
    write_file(&args.out.join("report.html"), Format::Html, &report)?;
    Format::Markdown.write(&report, &mut std::io::stdout().lock())?;
    let regressions = report.regressions();
    for r in &regressions {
        eprintln!("harness: regression: {r}");
    }
    let verdict = report.verdict();
    if let Some(why) = verdict.nothing_ran() {
        bail!("{} on {}: {why}", model.id, args.suite);
    }
    Ok(if regressions.is_empty() { EXIT_OK } else { EXIT_FINDINGS })
}

/// Import the corpus `corpus` into `dir` when `dir` holds no import of it
/// (see [`replay::ensure_imported`]), saying so on stderr.
///
/// # Errors
/// A corpus that cannot be imported.
fn refresh_corpus(corpus: &Path, dir: &Path) -> anyhow::Result<()> {
    let spinner = super::progress::spinner(format!("importing answers from {}", corpus.display()));
    let refreshed = replay::ensure_imported(corpus, dir);
    super::progress::clear(spinner);
    match refreshed.with_context(|| {
        format!("cannot import the answers of {} into --corpus-cassettes {}", corpus.display(), dir.display())
    })? {
        replay::Refresh::Imported(manifest) => {
            let answers: usize = manifest.models.iter().map(replay::ImportedModel::answers).sum();
            eprintln!(
                "harness: imported {answers} answers of {} models from {} into {}",
                manifest.models.len(),
                corpus.display(),
                dir.display()
            );
        }
        replay::Refresh::Kept | replay::Refresh::NoCorpus => {}
    }
    Ok(())
}

/// Run `harness matrix`.
///
/// # Errors
/// Unknown models or suites, an empty selection, a model named explicitly
/// that cannot run, an --out holding another run, missing tools,
/// unwritable output; with `--onwire`, no permission to create network
/// namespaces (before any model runs) or a capture that cannot be
/// replayed.
pub fn run(args: &MatrixArgs) -> anyhow::Result<u8> {
    if args.onwire {
        // First, from the main thread: the signal clean-up's mask must be
        // inherited by every thread the run starts.
        crate::onwire::prepare()?;
    }
    let suites = select::suites(args.run.suites_dir.as_deref(), &args.suites)?;
    let registry = registry(&args.source)?;
    let explicit = args.models.trim() != "all";
    let ids: Vec<String> = if explicit {
        let ids = select::list("--models", &args.models, &setup::known_ids(&registry, &args.corpus_cassettes))?;
        check_known(&ids, &registry, &args.corpus_cassettes)?;
        ids
    } else {
        let mut ids = setup::builtin_and_registry_ids(&registry);
        ids.push(replay::ALL.into());
        ids
    };
    let (corpus_ids, ids): (Vec<String>, Vec<String>) = ids.into_iter().partition(|id| id.starts_with(replay::PREFIX));
    if !corpus_ids.is_empty() {
        refresh_corpus(&args.corpus, &args.corpus_cassettes)?;
    }
    let (corpus_models, mut corpus_skipped) =
        replay::select(&args.corpus_cassettes, &corpus_ids, (args.suites != "all").then_some(suites.as_slice()));
    let (mut models, mut skipped) = resolve(&ids, &args.source, &registry, &suites, &matrix_rerecord(args), None);
    models.extend(corpus_models);
    skipped.append(&mut corpus_skipped);
    if explicit {
        // A model named on the command line must run: CI would otherwise
        // pass on a line that runs nothing.
        if let Some(s) = skipped.first() {
            bail!("cannot run model {}: {}", s.model, s.reason);
        }
        if let Some(m) = models.iter().find(|m| m.suites_of(&suites).is_empty()) {
            bail!(
                "model {} runs on none of the selected suites ({}); it applies to other suites",
                m.id,
                suites.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
            );
        }
    }
    let total = matrix::plan(&models, &suites).len();
    if total == 0 {
        bail!("nothing to run: no selected model runs on the selected suites");
    }
    let shard = args.shard.as_deref().map(matrix::parse_shard).transpose().map_err(anyhow::Error::msg)?;
    let selection = rundir::RunSelection::new(
        "matrix",
        &args.models,
        &args.suites,
        select::suites_source(args.run.suites_dir.as_deref()),
        args.shard.clone(),
    );
    let needed: Vec<Suite> = models.iter().flat_map(|m| m.suites_of(&suites)).cloned().collect();
    let toolbox = toolbox(&args.run, &needed)?;
    rundir::claim(&args.out, &selection, args.run.resume, args.force)?;
    for s in &skipped {
        eprintln!("harness: skipped {}: {}", s.model, s.reason);
    }
    if args.batch {
        let Some(failures) = record_batches(args, &models, &suites, toolbox.prompts(), shard)? else {
            return Ok(EXIT_ERROR);
        };
        // The cassettes hold the batches' answers now: the models are
        // prepared again, to answer offline from them.
        let (live, _) =
            resolve(&ids, &args.source, &registry, &suites, &matrix_rerecord(args), Some(&Arc::new(failures)));
        let mut live = live.into_iter();
        for m in &mut models {
            if live.as_slice().first().is_some_and(|l| l.id == m.id) {
                *m = live.next().expect("checked above");
            }
        }
    }
    let tools = toolbox.tools(Limits::default());
    let total = shard.map_or(total, |(i, n)| (total + n - i) / n);
    let progress = Progress::new(total as u64);
    let jobs = args.jobs.map_or_else(matrix::default_jobs, |n| usize::try_from(n).unwrap_or(usize::MAX));
    let mut cells =
        matrix::run(&models, &suites, &tools, &args.out, args.run.resume, shard, jobs, |c: &CellResult| {
            progress.cell(c)
        })?;
    progress.finish();
    let mut onwire_servers = BTreeMap::new();
    if args.onwire {
        on_the_wire(&args.out, &mut cells, &mut onwire_servers)?;
    }
    let report = MatrixReport {
        harness: env!("CARGO_PKG_VERSION").into(),
        tshark: toolbox.tshark_version(),
        scapy: toolbox.scapy_version(),
        cells,
        skipped,
        models: models.iter().map(|m| m.id.clone()).collect(),
        shard: args.shard.clone(),
        onwire_servers,
    };
    std::fs::write(args.out.join("report.json"), serde_json::to_string_pretty(&report)?)?;
    let html_path = args.out.join("report.html");
    write_file(&html_path, Format::Html, &report)?;
    finish(&report, args.format, explicit, Some(&html_path))
}

/// Replay the conversation captures of `cells` (run into `out`) against
/// real stacks (`--onwire`, see [`matrix::onwire`]), with a bar on a
/// terminal or one line per cell otherwise.
///
/// # Errors
/// A capture that cannot be replayed.
fn on_the_wire(out: &Path, cells: &mut [CellResult], servers: &mut BTreeMap<String, String>) -> anyhow::Result<()> {
    let total = cells.iter().filter(|c| matrix::onwire::replayable(c)).count();
    let bar = super::progress::bar(total as u64, "cells replayed on the wire");
    let mut done = 0;
    let replayed = matrix::onwire::replay_all(out, cells, servers, |c| {
        done += 1;
        let f = c.onwire.as_ref().expect("a replayed cell has its counts");
        let line = format!(
            "{} on {}: {}/{} conversations matched, {} not replayed",
            c.model, c.suite, f.matched, f.replayed, f.skipped
        );
        match &bar {
            Some(bar) => {
                bar.set_message(line);
                bar.inc(1);
            }
            None if super::progress::quiet() => {}
            None => eprintln!("[on the wire {done}/{total}] {line}"),
        }
    });
    super::progress::clear(bar);
    replayed
}

/// `--record --batch`: submit the requests the cassettes of `models` lack
/// (this shard's cells) as batches, poll those of earlier runs, and write
/// the answers of the ended ones into the cassettes (see
/// [`crate::model::batch`]). Return the requests the ended batches did not
/// answer, or `None` (said on stderr) while a batch still runs.
///
/// # Errors
/// Batches of an earlier run without `--resume`; what
/// [`crate::model::batch::record`] reports.
fn record_batches(
    args: &MatrixArgs,
    models: &[ModelRun<'_>],
    suites: &[Suite],
    prompts: &Path,
    shard: Option<(usize, usize)>,
) -> anyhow::Result<Option<HashMap<String, String>>> {
    use crate::model::batch;
    let state = args.out.join(batch::STATE_FILE);
    if !args.run.resume && state.exists() {
        bail!("--out {} holds the batches of an earlier run ({}): add --resume to poll them (nothing is submitted twice), or --force to start over (batches in flight are not cancelled)", args.out.display(), state.display());
    }
    let pending = matrix::pending(models, suites, prompts, shard)?;
    let outcome = batch::record(&state, &pending, &mut |line| eprintln!("harness: {line}"))?;
    if outcome.running.is_empty() {
        return Ok(Some(outcome.failures));
    }
    for line in &outcome.running {
        eprintln!("harness: still running: {line}");
    }
    eprintln!("harness: the answers are not all in yet: run the same command with --resume to poll again (nothing is submitted twice); the batch ids are in {}", state.display());
    Ok(None)
}

/// Write `report` in `format` to the file at `path`.
fn write_file(path: &Path, format: Format, report: &MatrixReport) -> anyhow::Result<()> {
    use std::io::Write as _;
    let file = std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    format
        .write(report, &mut out)
        .and_then(|()| out.flush())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Print `report` in `format`, then the regressions and the verdict line
/// (and where the HTML report is) on stderr; the exit status says whether
/// it passed: 1 a regression, 2 nothing was judged (no cell, or every
/// request failed) or, with `explicit` models, one of them had every
/// request fail.
fn finish(report: &MatrixReport, format: MatrixFormat, explicit: bool, html_path: Option<&Path>) -> anyhow::Result<u8> {
    let format = match format {
        MatrixFormat::Table => Format::Table { width: tables::WIDTH },
        MatrixFormat::Md => Format::Markdown,
        MatrixFormat::Json => Format::Json,
        MatrixFormat::Csv => Format::Csv,
        MatrixFormat::Junit => Format::Junit,
        MatrixFormat::Html => Format::Html,
    };
    {
        use std::io::Write as _;
        let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
        format.write(report, &mut stdout)?;
        stdout.flush()?;
    }
    let verdict = report.verdict();
    for r in &verdict.regressions {
        eprintln!("harness: regression: {r}");
    }
    eprintln!("harness: {}", verdict.line());
    if let Some(path) = html_path {
        let shown = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        eprintln!("harness: report: {}", shown.display());
    }
    Ok(if verdict.nothing_ran().is_some() || (explicit && !verdict.failed.is_empty()) {
        EXIT_ERROR
    } else if verdict.regressions.is_empty() {
        EXIT_OK
    } else {
        EXIT_FINDINGS
    })
}

/// Run `harness merge`.
///
/// # Errors
/// Unreadable reports, reports of different matrices, a cell twice.
pub fn merge(args: &MergeArgs) -> anyhow::Result<u8> {
    let mut reports = Vec::new();
    for dir in &args.dirs {
        if !dir.exists() {
            bail!("{}: does not exist (expected the --out folder of a `harness matrix --shard` run)", dir.display());
        }
        let path = if dir.is_dir() { dir.join("report.json") } else { dir.clone() };
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!("cannot read {} (the --out folder of a `harness matrix --shard` run)", path.display())
        })?;
        reports.push(
            serde_json::from_str::<MatrixReport>(&text)
                .with_context(|| format!("{} is not a matrix report", path.display()))?,
        );
    }
    let report = matrix::merge(reports).map_err(anyhow::Error::msg)?;
    if let Some(out) = &args.out {
        rundir::claim_output(out, "merge", args.force)?;
        rundir::record_merge(out, &report.models)?;
        std::fs::write(out.join("report.json"), serde_json::to_string_pretty(&report)?)?;
    }
    finish(&report, args.format, false, None)
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
        let bar = super::progress::bar(total, "cells");
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
            None if super::progress::quiet() => {}
            None => eprintln!(
                "[{}/{}] {} on {}: {}/{} correct ({} traces, {} not correct so far)",
                state.0,
                self.total,
                c.model,
                c.suite,
                c.conversations.succeeded,
                c.conversations.total,
                state.1,
                state.2
            ),
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
    select::folders(&args.dirs, "an output folder of `harness generate` or `harness matrix`")?;
    let prompts = prompts(args.prompts.as_deref())?;
    let mut buffer = Vec::new();
    let summary = crate::matrix::finetune::export(&args.dirs, prompts.dir(), &mut buffer)?;
    if summary.cells == 0 {
        let dirs: Vec<String> = args.dirs.iter().map(|d| d.display().to_string()).collect();
        bail!("{}: no cell in it (no <model>/<suite>/cell.json of `harness generate` or `harness matrix`); nothing written", dirs.join(", "));
    }
    if args.out.as_os_str() == "-" {
        use std::io::Write as _;
        std::io::stdout().lock().write_all(&buffer)?;
    } else {
        std::fs::write(&args.out, buffer).with_context(|| format!("cannot write {}", args.out.display()))?;
    }
    eprintln!(
        "harness: {} traces exported to {} from {} cells ({} left out: not fully correct or quirky answers)",
        summary.exported,
        args.out.display(),
        summary.cells,
        summary.skipped
    );
    Ok(EXIT_OK)
}
