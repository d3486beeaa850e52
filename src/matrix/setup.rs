//! What a run resolves before its first cell, in one place for every
//! command that runs models (`harness matrix`, `harness generate`): the
//! model registry, the models named (built in, from the registry with their
//! cassettes, or the secrets their servers must never echo), and the tools
//! the cells use (prompt templates, tshark, the Scapy pool).
//!
//! The command line only parses flags into these calls; what the calls
//! decide (which model is skipped and why, which tools start) is the
//! library's, so that every front end resolves a run the same way.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::cell::Tools;
use super::defaults;
use super::suite::Suite;
use super::{builtin, builtin_ids, replay, ModelRun, Skipped};
use crate::check::Limits;
use crate::exec::extract::Dialect;
use crate::exec::scapy::{PoolError, ScapyOptions, ScapyPool};
use crate::model::cassette::Rerecord;
use crate::model::live::Live;
use crate::model::registry::{Availability, ProviderKind, Registry, RegistryError, RunMode};
use crate::tshark::Tshark;

/// Why a run cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// `--registry` names no file.
    #[error("--registry {}: no such file (leave --registry out for the built-in registry)", .0.display())]
    NoRegistry(PathBuf),
    /// The registry does not parse or names something wrong.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The built-in prompts could not be written out.
    #[error("cannot write the built-in prompts to a temporary folder: {0}")]
    Prompts(std::io::Error),
    /// The Scapy pool did not start.
    #[error(transparent)]
    Scapy(#[from] PoolError),
}

/// The model registry: the file at `path`, or the built-in one.
///
/// # Errors
/// A missing or invalid registry file.
pub fn registry(path: Option<&Path>) -> Result<Registry, SetupError> {
    match path {
        None => Ok(Registry::parse(defaults::REGISTRY)?),
        Some(path) if !path.is_file() => Err(SetupError::NoRegistry(path.to_path_buf())),
        Some(path) => Ok(Registry::load(path)?),
    }
}

/// The built-in model ids and those of `registry` (its reference and
/// mutant entries are built in): what `--models all` runs, besides the
/// imported corpus.
pub fn builtin_and_registry_ids(registry: &Registry) -> Vec<String> {
    let mut ids = builtin_ids();
    ids.extend(
        registry
            .models
            .iter()
            .filter(|m| !matches!(m.kind, ProviderKind::Reference | ProviderKind::Mutant))
            .map(|m| m.id.clone()),
    );
    ids
}

/// Every model id a run may name: built in, in the registry, imported
/// from the corpus into `corpus`, and the corpus as a whole.
pub fn known_ids(registry: &Registry, corpus: &Path) -> Vec<String> {
    let mut ids = builtin_and_registry_ids(registry);
    if let Ok(found) = replay::discover(corpus) {
        ids.extend(found.into_iter().map(|(m, _)| m.id));
    }
    ids.push(replay::ALL.into());
    ids
}

/// Whether `id` names a model: an imported one (by its prefix), a
/// built-in one or a registry entry.
pub fn is_known(id: &str, registry: &Registry) -> bool {
    id.starts_with(replay::PREFIX) || builtin(id, &[]).is_some() || registry.get(id).is_some()
}

/// How the registry's models answer in a run.
#[derive(Debug, Clone, Copy)]
pub struct Answering<'a> {
    /// Offline (cassettes only), record (cassettes, then the server) or live.
    pub mode: RunMode,
    /// The folder of the cassettes.
    pub cassettes: &'a Path,
    /// The command a cassette miss tells the user to run.
    pub rerecord: &'a Rerecord,
}

/// The models of `ids`: built in, or from `registry` when they can run as
/// `answering` says; the others skipped with the reason. With `batch` (the
/// requests batches did not answer), live models answer offline after
/// batch recording (see [`Live::after_batch`]).
///
/// Every key the registry names and the environment holds is registered as
/// a secret first, so that whatever a server sends back has all of them cut
/// out, not only the key of the model it answers (a server may quote the
/// key it expected).
pub fn models<'a>(
    ids: &[String],
    registry: &Registry,
    answering: Answering<'_>,
    suites: &[Suite],
    batch: Option<&Arc<HashMap<String, String>>>,
) -> (Vec<ModelRun<'a>>, Vec<Skipped>) {
    for env in registry.models.iter().filter_map(|m| m.key_env.as_deref()) {
        if let Ok(key) = std::env::var(env) {
            crate::model::provider::register_secret(&key);
        }
    }
    let Answering { mode, cassettes, rerecord } = answering;
    let mut models = Vec::new();
    let mut skipped = Vec::new();
    for id in ids {
        if let Some(m) = builtin(id, suites) {
            models.push(m);
            continue;
        }
        let Some(entry) = registry.get(id) else {
            skipped.push(Skipped { model: id.clone(), reason: "not built in and not in the registry".into() });
            continue;
        };
        if let Availability::Skipped(reason) = registry.availability_naming(entry, mode, cassettes, rerecord) {
            skipped.push(Skipped { model: id.clone(), reason });
            continue;
        }
        match Live::new(registry, entry, mode, cassettes, rerecord).map(|live| match batch {
            Some(failures) => live.after_batch(failures),
            None => live,
        }) {
            Ok(live) => models.push(ModelRun {
                id: id.clone(),
                answerer: Box::new(live),
                fault: None,
                suites: None,
                own_suites: None,
            }),
            Err(e) => skipped.push(Skipped { model: id.clone(), reason: e.to_string() }),
        }
    }
    (models, skipped)
}

/// The prompt templates of a run: the user's folder, or the built-in
/// prompts written to a temporary folder that is removed on drop.
pub struct Prompts {
    _guard: Option<tempfile::TempDir>,
    dir: PathBuf,
}

impl Prompts {
    /// The templates in `dir`, or the built-in ones.
    ///
    /// # Errors
    /// The built-in prompts cannot be written out.
    pub fn open(dir: Option<&Path>) -> Result<Prompts, SetupError> {
        Ok(match dir {
            Some(dir) => Prompts { _guard: None, dir: dir.to_path_buf() },
            None => {
                let (guard, dir) = defaults::prompts_dir().map_err(SetupError::Prompts)?;
                Prompts { _guard: Some(guard), dir }
            }
        })
    }

    /// The folder of the templates.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Where the Scapy pool runs, when a run needs one.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// The Python interpreter with Scapy.
    pub python: PathBuf,
    /// Workers side by side (at least one).
    pub workers: usize,
}

/// The tools the cells of a run share, owned: the prompts, tshark when
/// on, and the Scapy pool when a suite needs it.
pub struct Toolbox {
    prompts: Prompts,
    tshark: Option<Tshark>,
    pool: Option<ScapyPool>,
}

impl Toolbox {
    /// Open the tools for `suites`: `prompts` as given, tshark as `tshark`
    /// finds it (on a thread of its own, while the pool starts: both take a
    /// moment), and a Scapy pool only when one of `suites` is in the Scapy
    /// dialect.
    ///
    /// # Errors
    /// `tshark`'s error, or the pool cannot start (no Python, no Scapy, no
    /// sandbox).
    pub fn open<E: From<SetupError> + Send>(
        prompts: Prompts,
        tshark: impl FnOnce() -> Result<Option<Tshark>, E> + Send,
        pool: &PoolOptions,
        suites: &[Suite],
    ) -> Result<Toolbox, E> {
        std::thread::scope(|scope| {
            let located = scope.spawn(tshark);
            let pool = if suites.iter().any(|s| s.dialect == Dialect::Scapy) {
                let options = ScapyOptions {
                    python: pool.python.clone(),
                    workers: pool.workers.max(1),
                    ..ScapyOptions::default()
                };
                Some(ScapyPool::start(options).map_err(SetupError::from))
            } else {
                None
            };
            let tshark = located.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
            Ok(Toolbox { prompts, tshark, pool: pool.transpose()? })
        })
    }

    /// The tools as the cells borrow them, with the checks' `limits`.
    pub fn tools(&self, limits: Limits) -> Tools<'_> {
        Tools { prompts: self.prompts.dir(), tshark: self.tshark.as_ref(), pool: self.pool.as_ref(), limits }
    }

    /// The folder of the prompt templates.
    pub fn prompts(&self) -> &Path {
        self.prompts.dir()
    }

    /// tshark's version, when tshark is on (for the report).
    pub fn tshark_version(&self) -> Option<String> {
        self.tshark.as_ref().map(|t| t.version().to_string())
    }

    /// Scapy's version, when the pool runs (for the report).
    pub fn scapy_version(&self) -> Option<String> {
        self.pool.as_ref().map(|p| p.scapy_version().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_registry_file_is_named_with_the_fix() {
        let error = registry(Some(Path::new("/nonexistent/registry.toml"))).unwrap_err();
        assert!(error.to_string().contains("/nonexistent/registry.toml"), "{error}");
        assert!(error.to_string().contains("leave --registry out"), "{error}");
    }

    #[test]
    fn the_built_in_registry_parses_and_its_ids_are_known() {
        let registry = registry(None).unwrap();
        let ids = builtin_and_registry_ids(&registry);
        assert!(ids.iter().any(|id| id == "reference"), "{ids:?}");
        for id in &ids {
            assert!(is_known(id, &registry), "{id}");
        }
        assert!(!is_known("no-such-model", &registry));
        assert!(known_ids(&registry, Path::new("/nonexistent")).iter().any(|id| id == replay::ALL));
    }

    #[test]
    fn the_built_in_prompts_live_while_their_owner_does() {
        let prompts = Prompts::open(None).unwrap();
        let dir = prompts.dir().to_path_buf();
        assert!(std::fs::read_dir(&dir).unwrap().next().is_some(), "{}", dir.display());
        drop(prompts);
        assert!(!dir.exists(), "{}", dir.display());
        let given = Prompts::open(Some(Path::new("/some/prompts"))).unwrap();
        assert_eq!(given.dir(), Path::new("/some/prompts"));
    }

    #[test]
    fn an_unknown_id_is_skipped_with_the_reason() {
        let registry = registry(None).unwrap();
        let rerecord = Rerecord { subcommand: "matrix".into(), model_flag: "--models".into(), args: Vec::new() };
        let answering = Answering { mode: RunMode::Offline, cassettes: Path::new("/nonexistent"), rerecord: &rerecord };
        let (models, skipped) = models(&["no-such-model".into(), "reference".into()], &registry, answering, &[], None);
        assert_eq!(models.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["reference"]);
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].model, "no-such-model");
        assert!(skipped[0].reason.contains("not in the registry"), "{}", skipped[0].reason);
    }
}
