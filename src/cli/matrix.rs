//! `harness generate` and `harness matrix`.

use std::path::Path;

use anyhow::{bail, Context};

use super::{GenerateArgs, MatrixArgs, MatrixFormat, RunOptions, TsharkMode, EXIT_FINDINGS, EXIT_OK};
use crate::check::Limits;
use crate::exec::extract::Dialect;
use crate::exec::scapy::{ScapyOptions, ScapyPool};
use crate::matrix::cell::Tools;
use crate::matrix::suite::Suite;
use crate::matrix::live::Live;
use crate::matrix::replay;
use crate::matrix::{self, builtin, builtin_ids, tables, MatrixReport, ModelRun};
use crate::model::registry::{Availability, ProviderKind, Registry, RunMode};
use crate::tshark::Tshark;

fn tshark(options: &RunOptions) -> anyhow::Result<Option<Tshark>> {
    Ok(match options.tshark {
        TsharkMode::Off => None,
        TsharkMode::Auto => match Tshark::locate(options.tshark_path.as_deref()) {
            Ok(t) => Some(t),
            Err(error) => {
                eprintln!("harness: note: {error}; own checks only (--tshark off silences this)");
                None
            }
        },
        TsharkMode::On => Some(Tshark::locate(options.tshark_path.as_deref())?),
    })
}

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
    Ok(out)
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
    let Some(model) = builtin(&args.model, &suites) else {
        bail!("unknown model {} (built in: {})", args.model, builtin_ids().join(", "))
    };
    let model = ModelRun { suites: None, ..model };
    let tshark = tshark(&args.run)?;
    let pool = pool(&args.run, &suites)?;
    let tools = Tools { prompts: &args.run.prompts, tshark: tshark.as_ref(), pool: pool.as_ref(), limits: Limits::default() };
    let cells = matrix::run(std::slice::from_ref(&model), &suites, &tools, &args.out, args.run.resume, |_| {})?;
    let report = MatrixReport {
        harness: env!("CARGO_PKG_VERSION").into(),
        tshark: tshark.as_ref().map(|t| t.version().to_string()),
        scapy: pool.as_ref().map(|p| p.scapy_version().to_string()),
        cells,
        skipped: Vec::new(),
    };
    std::fs::write(args.out.join("report.json"), serde_json::to_string_pretty(&report)?)?;
    print!("{}", tables::markdown(&report));
    Ok(if report.cells.iter().any(|c| c.caught == Some(false)) { EXIT_FINDINGS } else { EXIT_OK })
}

/// Run `harness matrix`.
///
/// # Errors
/// Unknown models or suites, missing tools, unwritable output.
pub fn run(args: &MatrixArgs) -> anyhow::Result<u8> {
    let suites = select_suites(&args.run.suites_dir, &args.suites)?;
    let mode = if args.record {
        RunMode::Record
    } else if args.live {
        RunMode::Live
    } else {
        RunMode::Offline
    };
    let registry = if args.registry.exists() { Registry::load(&args.registry)? } else { Registry { models: Vec::new() } };
    let ids: Vec<String> = if args.models == "all" {
        let mut ids = builtin_ids();
        ids.extend(registry.models.iter().filter(|m| !matches!(m.kind, ProviderKind::Reference | ProviderKind::Mutant)).map(|m| m.id.clone()));
        ids.push(replay::ALL.into());
        ids
    } else {
        args.models.split(',').map(|m| m.trim().to_string()).filter(|m| !m.is_empty()).collect()
    };
    let (corpus_ids, ids): (Vec<String>, Vec<String>) = ids.into_iter().partition(|id| id.starts_with(replay::PREFIX));
    let (corpus_models, mut skipped) = replay::select(&args.corpus_cassettes, &corpus_ids, (args.suites != "all").then_some(suites.as_slice()));
    let mut models = Vec::new();
    for id in &ids {
        if let Some(m) = builtin(id, &suites) {
            models.push(m);
            continue;
        }
        let Some(entry) = registry.get(id) else {
            skipped.push(matrix::Skipped { model: id.clone(), reason: format!("not built in and not in {}", args.registry.display()) });
            continue;
        };
        if let Availability::Skipped(reason) = registry.availability(entry, mode, &args.cassettes) {
            skipped.push(matrix::Skipped { model: id.clone(), reason });
            continue;
        }
        match Live::new(&registry, entry, mode, &args.cassettes) {
            Ok(live) => models.push(ModelRun { id: id.clone(), answerer: Box::new(live), fault: None, suites: None, own_suites: None }),
            Err(reason) => skipped.push(matrix::Skipped { model: id.clone(), reason }),
        }
    }
    models.extend(corpus_models);
    for s in &skipped {
        eprintln!("harness: skipped {}: {}", s.model, s.reason);
    }
    let tshark = tshark(&args.run)?;
    let needed: Vec<Suite> = models.iter().flat_map(|m| m.suites_of(&suites)).cloned().collect();
    let pool = pool(&args.run, &needed)?;
    let tools = Tools { prompts: &args.run.prompts, tshark: tshark.as_ref(), pool: pool.as_ref(), limits: Limits::default() };
    let total = needed.len();
    let mut done = 0;
    let cells = matrix::run(&models, &suites, &tools, &args.out, args.run.resume, |c| {
        done += 1;
        eprintln!("[{done}/{total}] {} on {}: {}/{} conversations correct", c.model, c.suite, c.conversations.succeeded, c.conversations.total);
    })?;
    let report = MatrixReport {
        harness: env!("CARGO_PKG_VERSION").into(),
        tshark: tshark.as_ref().map(|t| t.version().to_string()),
        scapy: pool.as_ref().map(|p| p.scapy_version().to_string()),
        cells,
        skipped,
    };
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(args.out.join("report.json"), serde_json::to_string_pretty(&report)?)?;
    let text = match args.format {
        MatrixFormat::Table | MatrixFormat::Md => tables::markdown(&report),
        MatrixFormat::Json => serde_json::to_string_pretty(&report)? + "\n",
        MatrixFormat::Csv => tables::csv(&report),
        MatrixFormat::Junit => tables::junit(&report),
    };
    print!("{text}");
    let regressions = report.regressions();
    for r in &regressions {
        eprintln!("harness: regression: {r}");
    }
    Ok(if regressions.is_empty() { EXIT_OK } else { EXIT_FINDINGS })
}
