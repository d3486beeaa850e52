//! Imports of answers recorded elsewhere: `harness import-answers` turns a
//! corpus of real model answers (`../shared/corpus/completions.jsonl`) into
//! replay cassettes and suites, and [`discover`] reads them back as matrix
//! models ([`Replay`] answerers) that run on their own suites.
//!
//! An import folder (default `target/cassettes-corpus`, outside git: the
//! answers were written elsewhere and are never committed) holds:
//!
//! ```text
//! manifest.json                                   what was imported, from what, and what was skipped
//! <model-dir>.jsonl                               one ReplayRecord per answer, by group then index
//! suites/<model-dir>--<protocol>-<mode>.toml      a suite per (protocol, mode) group
//! suites/<model-dir>--<protocol>-<mode>.txt       its summaries, one per line, in answer order
//! ```
//!
//! Answers are keyed by their index within the group, never by summary
//! text: a summary that spans several lines (tshark packet summaries) or
//! carries two summaries is stored on one line with its line breaks turned
//! into spaces, and a missing summary becomes a placeholder line that the
//! parser does not read (the trace is then judged without expectation).
//! Same corpus ⇒ byte-identical folder.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::suite::Suite;
use super::{dir_name, ModelRun, Skipped};
use crate::model::replay::{Groups, Replay, ReplayRecord};
use crate::model::Usage;
use crate::scenario::{Mode, SuiteProtocol};

/// Where `harness import-answers` reads by default.
pub const DEFAULT_CORPUS: &str = "../shared/corpus/completions.jsonl";
/// Where `harness import-answers` writes, and `harness matrix` looks, by default.
pub const DEFAULT_DIR: &str = "target/cassettes-corpus";
/// The id prefix of imported models (`corpus:gpt-3.5-turbo-instruct`).
pub const PREFIX: &str = "corpus:";
/// The id that names every imported model at once.
pub const ALL: &str = "corpus:*";
/// What the matrix says of imported models when nothing was imported.
pub const NOT_IMPORTED: &str = "run `harness import-answers` first";
/// The line written for an answer whose summary was not recorded.
pub const NO_SUMMARY: &str = "(no summary recorded)";

const MANIFEST: &str = "manifest.json";
const SUITES: &str = "suites";

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The corpus cannot be read.
    #[error("cannot read the corpus {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A corpus line is not an answer.
    #[error("corpus {path}, line {line}: {message}")]
    Line {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The output folder holds something other than an earlier import.
    #[error("{path} is not empty and holds no {MANIFEST} of an earlier import; name a new or empty folder with --out")]
    Foreign {
        /// The folder.
        path: String,
    },
    /// Writing the output failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file or folder.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Why imported models cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    /// No import in the folder.
    #[error("no imported answers in {path}: {NOT_IMPORTED}")]
    NotImported {
        /// The folder.
        path: String,
    },
    /// A file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not what the importer writes.
    #[error("{path}: {message}; run `harness import-answers` again")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// One answer of the corpus: the keys the importer reads (the others are
/// ignored).
#[derive(Debug, Deserialize)]
struct CorpusLine {
    id: String,
    model: String,
    protocol: String,
    mode: String,
    dialect: String,
    summary: Option<String>,
    completion: Option<String>,
    complete: Option<bool>,
    finish_reason: Option<String>,
    usage: Option<CorpusUsage>,
    #[serde(default)]
    notes: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
struct CorpusUsage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
}

/// One (protocol, mode) group of an imported model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Its suite's name (`<model-dir>--<protocol>-<mode>`).
    pub suite: String,
    /// Protocol.
    pub protocol: SuiteProtocol,
    /// Mode.
    pub mode: Mode,
    /// Answers in the group.
    pub answers: usize,
    /// Summaries the harness parses (those traces are judged against the
    /// summary; the others without expectation).
    pub parsed: usize,
}

/// One imported model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedModel {
    /// Its id (`corpus:…`).
    pub id: String,
    /// The corpus `model` value it was imported from.
    pub corpus_model: String,
    /// Its cassette, relative to the import folder.
    pub cassette: String,
    /// Its groups, by protocol then mode.
    pub groups: Vec<Group>,
}

impl ImportedModel {
    /// Answers over all groups.
    pub fn answers(&self) -> usize {
        self.groups.iter().map(|g| g.answers).sum()
    }
}

/// Answers the importer left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedAnswers {
    /// The corpus `model` value.
    pub model: String,
    /// The corpus `protocol` value.
    pub protocol: String,
    /// The corpus `mode` value.
    pub mode: String,
    /// Why they were left out.
    pub reason: String,
    /// How many.
    pub answers: usize,
}

/// What an import wrote (`manifest.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The corpus file, as given.
    pub source: String,
    /// Hex SHA-256 of the corpus file.
    pub source_sha256: String,
    /// Answers in the corpus.
    pub answers: usize,
    /// The imported models, by id.
    pub models: Vec<ImportedModel>,
    /// What was left out.
    pub skipped: Vec<SkippedAnswers>,
}

/// The model id of a corpus answer: `corpus:<model>`, except that the
/// fine-tuned gpt-3.5-turbo-1106 answers split into the per-protocol
/// experts run on their own protocol (`corpus:gpt-3.5-ft-experts`) and the
/// mixture-of-experts run, where a router picked the expert
/// (`corpus:gpt-3.5-ft-moe`): the paper reports them apart.
fn model_id(line: &CorpusLine) -> String {
    let moe = line.notes.iter().flatten().any(|n| n.contains("mixture-of-experts"));
    let name = match line.model.as_str() {
        "gpt-3.5-turbo-1106-finetuned" if moe => "gpt-3.5-ft-moe",
        "gpt-3.5-turbo-1106-finetuned" => "gpt-3.5-ft-experts",
        other => other,
    };
    format!("{PREFIX}{name}")
}

/// The (protocol, mode) a corpus answer replays under, or why it cannot.
fn group_of(line: &CorpusLine) -> Result<(SuiteProtocol, Mode), String> {
    if line.dialect != "scapy" {
        return Err(format!(
            "dialect {} is not replayed here (ZigBee summary traces: `harness convert --dialect ntg`)",
            line.dialect
        ));
    }
    let protocol = SuiteProtocol::from_name(&line.protocol)
        .ok_or_else(|| format!("protocol {} has no harness suite", line.protocol))?;
    let mode = match line.mode.as_str() {
        "packet" => Mode::Packet,
        "conversation" => Mode::Conversation,
        other => return Err(format!("mode {other} has no harness suite")),
    };
    if matches!(protocol, SuiteProtocol::Tcp | SuiteProtocol::Day) && mode == Mode::Packet {
        return Err(format!("the harness has no {protocol} packet suites (its summaries are conversations)"));
    }
    Ok((protocol, mode))
}

/// A summary as one line of a summaries file: line breaks become spaces;
/// an empty summary, or one the file would read as a comment, gets a
/// placeholder the parser does not read.
pub fn summary_line(summary: Option<&str>) -> String {
    let line = summary.unwrap_or_default().replace("\r\n", " ").replace(['\n', '\r'], " ");
    let line = line.trim();
    if line.is_empty() {
        NO_SUMMARY.to_string()
    } else if line.starts_with('#') {
        format!("(summary) {line}")
    } else {
        line.to_string()
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().fold(String::with_capacity(64), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    })
}

/// Import the answers of the corpus file `corpus` into the folder `out`,
/// replacing an earlier import there; return what was written.
///
/// # Errors
/// An unreadable corpus or a line that is not an answer (named by number),
/// an `out` that holds something other than an earlier import, or a failed
/// write. The folder is written beside `out` and moved into place, so a
/// failed import leaves an earlier one intact.
pub fn import(corpus: &Path, out: &Path) -> Result<Manifest, ImportError> {
    let bytes =
        std::fs::read(corpus).map_err(|source| ImportError::Read { path: corpus.display().to_string(), source })?;
    let text = String::from_utf8_lossy(&bytes);
    let mut groups: BTreeMap<String, (String, Groups)> = BTreeMap::new();
    let mut skipped: BTreeMap<(String, String, String, String), usize> = BTreeMap::new();
    let mut answers = 0;
    for (n, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        let line: CorpusLine = serde_json::from_str(raw).map_err(|e| ImportError::Line {
            path: corpus.display().to_string(),
            line: n + 1,
            message: e.to_string(),
        })?;
        answers += 1;
        let (protocol, mode) = match group_of(&line) {
            Ok(g) => g,
            Err(reason) => {
                *skipped.entry((line.model.clone(), line.protocol.clone(), line.mode.clone(), reason)).or_default() +=
                    1;
                continue;
            }
        };
        let id = model_id(&line);
        let (_, model) = groups.entry(id.clone()).or_insert_with(|| (line.model.clone(), BTreeMap::new()));
        let records = model.entry((protocol, mode)).or_default();
        records.push(ReplayRecord {
            model: id,
            protocol,
            mode,
            index: records.len(),
            dialect: line.dialect,
            summary: summary_line(line.summary.as_deref()),
            completion: line.completion.unwrap_or_default(),
            complete: line.complete,
            usage: line.usage.map(|u| Usage {
                prompt_tokens: u.prompt_tokens.unwrap_or(0),
                completion_tokens: u.completion_tokens.unwrap_or(0),
            }),
            finish_reason: line.finish_reason,
            source_id: line.id,
        });
    }
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    let mut models = Vec::new();
    for (id, (corpus_model, model)) in &groups {
        let dir = dir_name(id);
        let mut cassette = String::new();
        let mut entries = Vec::new();
        for ((protocol, mode), records) in model {
            let suite = format!("{dir}--{protocol}-{}", mode.name());
            let mut lines = String::new();
            let mut parsed = 0;
            for r in records {
                cassette.push_str(&serde_json::to_string(r).unwrap_or_default());
                cassette.push('\n');
                lines.push_str(&r.summary);
                lines.push('\n');
                parsed += usize::from(crate::model::expect::parse(*protocol, *mode, &r.summary).is_ok());
            }
            let description = format!(
                "{} recorded answers of {corpus_model} ({protocol} {}), imported from the corpus: replayed, never regenerated",
                records.len(),
                mode.name()
            );
            let toml = format!(
                "# Written by `harness import-answers`; do not edit.\nname = {}\nprotocol = \"{protocol}\"\nmode = \"{}\"\ndialect = \"scapy\"\ncount = {}\nsummaries = \"{suite}.txt\"\ndescription = {}\n",
                toml::Value::String(suite.clone()),
                mode.name(),
                records.len(),
                toml::Value::String(description),
            );
            files.push((Path::new(SUITES).join(format!("{suite}.toml")), toml));
            files.push((Path::new(SUITES).join(format!("{suite}.txt")), lines));
            entries.push(Group { suite, protocol: *protocol, mode: *mode, answers: records.len(), parsed });
        }
        let name = format!("{dir}.jsonl");
        files.push((PathBuf::from(&name), cassette));
        models.push(ImportedModel {
            id: id.clone(),
            corpus_model: corpus_model.clone(),
            cassette: name,
            groups: entries,
        });
    }
    let manifest = Manifest {
        source: corpus.display().to_string(),
        source_sha256: sha256_hex(&bytes),
        answers,
        models,
        skipped: skipped
            .into_iter()
            .map(|((model, protocol, mode, reason), answers)| SkippedAnswers { model, protocol, mode, reason, answers })
            .collect(),
    };
    files.push((PathBuf::from(MANIFEST), serde_json::to_string_pretty(&manifest).unwrap_or_default() + "\n"));
    write_folder(out, &files)?;
    Ok(manifest)
}

/// What [`ensure_imported`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refresh {
    /// The corpus file does not exist: nothing imported (the folder is used
    /// as it is).
    NoCorpus,
    /// The folder already holds this corpus's import, or an import of
    /// another corpus (kept: the user made it).
    Kept,
    /// The corpus was imported into the folder (it held no import, or an
    /// import of an earlier version of this corpus).
    Imported(Manifest),
}

/// Whether `a` and `b` name the same file (compared resolved when both
/// exist).
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Make the import folder `dir` hold the answers of the corpus file
/// `corpus`, so that `harness matrix --models all` replays them without a
/// separate `harness import-answers`: import when `dir` holds no import
/// (or an unreadable one), or an import of this same file whose content
/// changed since (its SHA-256 differs); keep an import of another corpus;
/// do nothing when `corpus` does not exist.
///
/// # Errors
/// What [`import`] reports (a corpus line that is not an answer, a `dir`
/// holding other files, a failed write).
pub fn ensure_imported(corpus: &Path, dir: &Path) -> Result<Refresh, ImportError> {
    if !corpus.is_file() {
        return Ok(Refresh::NoCorpus);
    }
    if let Ok(existing) = manifest(dir) {
        if !same_file(Path::new(&existing.source), corpus) {
            return Ok(Refresh::Kept);
        }
        let bytes =
            std::fs::read(corpus).map_err(|source| ImportError::Read { path: corpus.display().to_string(), source })?;
        if sha256_hex(&bytes) == existing.source_sha256 {
            return Ok(Refresh::Kept);
        }
    }
    import(corpus, dir).map(Refresh::Imported)
}

/// Write `files` as the folder `out`: into a sibling staging folder of
/// this process first, then swapped in for an earlier import. When another
/// process swapped its own import in meanwhile (two runs importing the
/// same corpus at once), its folder is kept and this one dropped.
fn write_folder(out: &Path, files: &[(PathBuf, String)]) -> Result<(), ImportError> {
    let write_err = |path: &Path| {
        let path = path.display().to_string();
        move |source| ImportError::Write { path, source }
    };
    if out.exists() {
        let empty = std::fs::read_dir(out).map_err(write_err(out))?.next().is_none();
        if !empty && !out.join(MANIFEST).is_file() {
            return Err(ImportError::Foreign { path: out.display().to_string() });
        }
    }
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "cassettes-corpus".into());
    let staging = out.with_file_name(format!(".{name}.importing.{}", std::process::id()));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(write_err(&staging))?;
    }
    std::fs::create_dir_all(staging.join(SUITES)).map_err(write_err(&staging))?;
    for (path, text) in files {
        let path = staging.join(path);
        std::fs::write(&path, text).map_err(write_err(&path))?;
    }
    if out.exists() {
        match std::fs::remove_dir_all(out) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(write_err(out)(e)),
            _ => {}
        }
    }
    match std::fs::rename(&staging, out) {
        Err(_) if out.join(MANIFEST).is_file() => std::fs::remove_dir_all(&staging).map_err(write_err(&staging)),
        other => other.map_err(write_err(out)),
    }
}

/// Read the manifest of the import folder `dir`.
///
/// # Errors
/// [`DiscoverError::NotImported`] when `dir` holds no import, or an
/// unreadable or invalid manifest.
pub fn manifest(dir: &Path) -> Result<Manifest, DiscoverError> {
    let path = dir.join(MANIFEST);
    if !path.is_file() {
        return Err(DiscoverError::NotImported { path: dir.display().to_string() });
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|source| DiscoverError::Read { path: path.display().to_string(), source })?;
    serde_json::from_str(&text)
        .map_err(|e| DiscoverError::Invalid { path: path.display().to_string(), message: e.to_string() })
}

/// Every model imported into `dir`, each with its own suites, in id order.
///
/// # Errors
/// See [`manifest`]; a cassette or suite that is unreadable, or whose
/// answers and summaries do not line up.
pub fn discover(dir: &Path) -> Result<Vec<(ModelRun<'static>, Vec<Suite>)>, DiscoverError> {
    let manifest = manifest(dir)?;
    let mut out = Vec::new();
    for model in &manifest.models {
        let path = dir.join(&model.cassette);
        let invalid = |message: String| DiscoverError::Invalid { path: path.display().to_string(), message };
        let text = std::fs::read_to_string(&path)
            .map_err(|source| DiscoverError::Read { path: path.display().to_string(), source })?;
        let mut answers: Groups = BTreeMap::new();
        for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let record: ReplayRecord =
                serde_json::from_str(line).map_err(|e| invalid(format!("line {}: {e}", n + 1)))?;
            let records = answers.entry((record.protocol, record.mode)).or_default();
            if record.model != model.id || record.index != records.len() {
                return Err(invalid(format!(
                    "line {}: expected answer {} of {}, found {} of {}",
                    n + 1,
                    records.len(),
                    model.id,
                    record.index,
                    record.model
                )));
            }
            records.push(record);
        }
        let mut suites = Vec::new();
        for group in &model.groups {
            let toml = dir.join(SUITES).join(format!("{}.toml", group.suite));
            let suite = Suite::load(&toml)
                .map_err(|e| DiscoverError::Invalid { path: toml.display().to_string(), message: e.to_string() })?;
            let items = suite
                .items()
                .map_err(|e| DiscoverError::Invalid { path: toml.display().to_string(), message: e.to_string() })?;
            let records = answers.get(&(group.protocol, group.mode)).map_or(&[][..], Vec::as_slice);
            if suite.protocol != group.protocol
                || suite.mode != group.mode
                || items.len() != records.len()
                || items.len() != group.answers
            {
                return Err(invalid(format!(
                    "{} answers for {} {} but suite {} has {} summaries",
                    records.len(),
                    group.protocol,
                    group.mode.name(),
                    suite.name,
                    items.len()
                )));
            }
            if let Some((item, record)) = items.iter().zip(records).find(|(i, r)| i.text != r.summary) {
                return Err(invalid(format!(
                    "answer {} of {} ({}) is not for summary line {} of {}",
                    record.index,
                    suite.name,
                    record.source_id,
                    item.index + 1,
                    suite.name
                )));
            }
            suites.push(suite);
        }
        let replay = Replay::new(model.id.clone(), answers);
        out.push((
            ModelRun { id: model.id.clone(), answerer: Box::new(replay), fault: None, suites: None, own_suites: None },
            suites,
        ));
    }
    Ok(out)
}

/// The imported models of `dir` that `ids` name (`corpus:*`: all), each on
/// its own suites; with `only`, just the groups whose protocol and mode
/// one of `only` has (the suites a user selected). Ids not imported, or
/// every id when nothing was imported, come back as skipped with the reason.
pub fn select(dir: &Path, ids: &[String], only: Option<&[Suite]>) -> (Vec<ModelRun<'static>>, Vec<Skipped>) {
    if ids.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let found = match discover(dir) {
        Ok(found) => found,
        Err(DiscoverError::NotImported { .. }) => {
            let reason = format!("no imported answers in {}: {NOT_IMPORTED}", dir.display());
            return (Vec::new(), ids.iter().map(|id| Skipped { model: id.clone(), reason: reason.clone() }).collect());
        }
        Err(e) => {
            return (Vec::new(), ids.iter().map(|id| Skipped { model: id.clone(), reason: e.to_string() }).collect())
        }
    };
    let known: Vec<String> = found.iter().map(|(m, _)| m.id.clone()).collect();
    let mut skipped: Vec<Skipped> = ids
        .iter()
        .filter(|id| id.as_str() != ALL && !known.contains(id))
        .map(|id| Skipped {
            model: id.clone(),
            reason: format!("not imported in {} (imported: {})", dir.display(), known.join(", ")),
        })
        .collect();
    let mut models = Vec::new();
    for (model, suites) in found {
        if !ids.iter().any(|id| id == ALL || *id == model.id) {
            continue;
        }
        let suites: Vec<Suite> = suites
            .into_iter()
            .filter(|s| only.is_none_or(|o| o.iter().any(|x| x.protocol == s.protocol && x.mode == s.mode)))
            .collect();
        if suites.is_empty() {
            skipped.push(Skipped {
                model: model.id.clone(),
                reason: "no imported answers for the selected suites' protocols and modes".into(),
            });
            continue;
        }
        models.push(ModelRun { own_suites: Some(suites), ..model });
    }
    (models, skipped)
}

/// The import as a table: answers per model and group, and what was
/// left out.
pub fn summary_table(manifest: &Manifest) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Imported {} of {} answers from {} (sha256 {}):\n",
        manifest.models.iter().map(ImportedModel::answers).sum::<usize>(),
        manifest.answers,
        manifest.source,
        &manifest.source_sha256[..12.min(manifest.source_sha256.len())]
    );
    let _ = writeln!(out, "{:<28} {:<18} {:>7} {:>14}", "model", "group", "answers", "summaries read");
    for m in &manifest.models {
        for g in &m.groups {
            let _ = writeln!(
                out,
                "{:<28} {:<18} {:>7} {:>14}",
                m.id,
                format!("{} {}", g.protocol, g.mode.name()),
                g.answers,
                g.parsed
            );
        }
        let _ = writeln!(
            out,
            "{:<28} {:<18} {:>7} {:>14}",
            m.id,
            "total",
            m.answers(),
            m.groups.iter().map(|g| g.parsed).sum::<usize>()
        );
    }
    for s in &manifest.skipped {
        let _ = writeln!(out, "skipped {} answers of {} ({} {}): {}", s.answers, s.model, s.protocol, s.mode, s.reason);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::suite::Item;
    use crate::model::{AnswerError, Unanswered};
    use crate::prompt::Prompt;

    fn line(id: &str, model: &str, protocol: &str, mode: &str, summary: Option<&str>, notes: &[&str]) -> String {
        serde_json::json!({
            "id": id, "model": model, "model_exact": null, "protocol": protocol, "mode": mode, "dialect": "scapy",
            "summary": summary, "completion": format!("pkt_1 = IP()  # {id}"), "complete": true, "finish_reason": "stop",
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}, "notes": notes,
        })
        .to_string()
    }

    fn corpus(dir: &Path) -> PathBuf {
        let icmp = "Source: IP=\"10.0.0.1\" // Destination: IP=\"10.0.0.2\" // Others: id=0x1 seq= 1 type=Echo";
        let lines = [
            line("c1", "gpt-3.5-turbo-instruct", "ICMP", "conversation", Some(icmp), &[]),
            line("c2", "gpt-3.5-turbo-instruct", "ICMP", "conversation", Some("first\nsecond"), &[]),
            line("c3", "gpt-3.5-turbo-instruct", "ICMP", "conversation", None, &[]),
            line(
                "c4",
                "gpt-3.5-turbo-1106-finetuned",
                "DNS",
                "conversation",
                Some("x"),
                &["mixture-of-experts run: router picked"],
            ),
            line("c5", "gpt-3.5-turbo-1106-finetuned", "DNS", "conversation", Some("y"), &[]),
            line("c6", "gpt-3.5-turbo-instruct", "TCP", "packet", None, &[]),
            serde_json::json!({"id": "z", "model": "gpt-4.1", "protocol": "ZigBee", "mode": "trace", "dialect": "summary-json", "summary": null, "completion": "[]"}).to_string(),
        ];
        let path = dir.join("completions.jsonl");
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        path
    }

    #[test]
    fn imports_groups_and_discovers_them() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("cassettes");
        let manifest = import(&corpus(tmp.path()), &out).unwrap();
        let ids: Vec<(&str, usize)> = manifest.models.iter().map(|m| (m.id.as_str(), m.answers())).collect();
        assert_eq!(
            ids,
            [("corpus:gpt-3.5-ft-experts", 1), ("corpus:gpt-3.5-ft-moe", 1), ("corpus:gpt-3.5-turbo-instruct", 3)]
        );
        assert_eq!(manifest.answers, 7);
        assert_eq!(manifest.skipped.len(), 2, "{:?}", manifest.skipped);
        assert_eq!(manifest.models[2].groups[0].parsed, 1);
        let lines =
            std::fs::read_to_string(out.join("suites/corpus-gpt-3.5-turbo-instruct--icmp-conversation.txt")).unwrap();
        assert_eq!(lines.lines().collect::<Vec<_>>()[1..], ["first second", NO_SUMMARY]);

        let found = discover(&out).unwrap();
        assert_eq!(found.len(), 3);
        let (model, suites) = &found[2];
        assert_eq!(suites.len(), 1);
        let items = suites[0].items().unwrap();
        assert_eq!(items.len(), 3);
        assert!(items[0].scenario.is_some() && items[2].scenario.is_none());
        let prompt = Prompt { system: String::new(), user: String::new(), version: String::new(), name: String::new() };
        let request = |item| suites[0].request(item, &prompt);
        let answers = model.answerer.answer_all(&items.iter().map(request).collect::<Vec<_>>());
        let texts: Vec<String> = answers.into_iter().map(|a| a.unwrap().text).collect();
        assert_eq!(texts, ["pkt_1 = IP()  # c1", "pkt_1 = IP()  # c2", "pkt_1 = IP()  # c3"]);
        // A request for another summary or group is refused, not answered.
        let stranger = Item { index: 0, text: "other".into(), scenario: None, more: Vec::new() };
        let err = model.answerer.answer_all(&[request(&stranger)]).remove(0).unwrap_err();
        assert!(
            matches!(err, AnswerError::OtherSummary { .. }) && err.to_string().contains("another summary"),
            "{err}"
        );
        let far = Item { index: 9, text: "other".into(), scenario: None, more: Vec::new() };
        let err = model.answerer.answer_all(&[request(&far)]).remove(0).unwrap_err();
        assert!(err.unanswered() == Unanswered::Request && err.to_string().contains("no recorded answer 9"), "{err}");
    }

    #[test]
    fn import_is_deterministic_and_replaces_only_its_own_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let corpus = corpus(tmp.path());
        let out = tmp.path().join("a");
        import(&corpus, &out).unwrap();
        let first: Vec<(PathBuf, Vec<u8>)> = walk(&out);
        import(&corpus, &out).unwrap();
        assert_eq!(first, walk(&out));
        let foreign = tmp.path().join("mine");
        std::fs::create_dir_all(&foreign).unwrap();
        std::fs::write(foreign.join("keep.txt"), "x").unwrap();
        assert!(matches!(import(&corpus, &foreign), Err(ImportError::Foreign { .. })));
        assert!(foreign.join("keep.txt").exists());
    }

    fn walk(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
        out.sort();
        out
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("bad.jsonl");
        std::fs::write(&path, "{\"id\": 1}\n").unwrap();
        let err = import(&path, &tmp.path().join("o")).unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
        assert!(matches!(discover(&tmp.path().join("none")), Err(DiscoverError::NotImported { .. })));
        let (models, skipped) = select(&tmp.path().join("none"), &[ALL.to_string()], None);
        assert!(models.is_empty() && skipped[0].reason.contains(NOT_IMPORTED));
    }

    #[test]
    fn ensure_imported_imports_once_and_again_when_the_corpus_changes() {
        let tmp = tempfile::tempdir().unwrap();
        let corpus = corpus(tmp.path());
        let out = tmp.path().join("cache");
        assert_eq!(ensure_imported(&tmp.path().join("missing.jsonl"), &out).unwrap(), Refresh::NoCorpus);
        assert!(!out.exists());
        let Refresh::Imported(first) = ensure_imported(&corpus, &out).unwrap() else { panic!("nothing imported") };
        assert_eq!(first, manifest(&out).unwrap());
        assert_eq!(ensure_imported(&corpus, &out).unwrap(), Refresh::Kept, "an import of the same corpus is kept");
        // The corpus changed: imported again.
        let text = std::fs::read_to_string(&corpus).unwrap();
        let fewer: Vec<&str> = text.lines().skip(1).collect();
        std::fs::write(&corpus, fewer.join("\n") + "\n").unwrap();
        let Refresh::Imported(second) = ensure_imported(&corpus, &out).unwrap() else {
            panic!("a changed corpus was not imported again")
        };
        assert_eq!(second.answers, first.answers - 1);
        // An import of another corpus is the user's: kept.
        let other = tmp.path().join("other.jsonl");
        std::fs::write(&other, fewer[..2].join("\n") + "\n").unwrap();
        assert_eq!(ensure_imported(&other, &out).unwrap(), Refresh::Kept);
        assert_eq!(manifest(&out).unwrap(), second);
        // A folder of other files is never replaced.
        let mine = tmp.path().join("mine");
        std::fs::create_dir_all(&mine).unwrap();
        std::fs::write(mine.join("keep.txt"), "x").unwrap();
        assert!(matches!(ensure_imported(&corpus, &mine), Err(ImportError::Foreign { .. })));
        assert!(mine.join("keep.txt").exists());
    }

    #[test]
    fn select_filters_ids_and_suites() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("c");
        import(&corpus(tmp.path()), &out).unwrap();
        let (models, skipped) = select(&out, &["corpus:gpt-3.5-ft-moe".into(), "corpus:nope".into()], None);
        assert_eq!(models.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["corpus:gpt-3.5-ft-moe"]);
        assert!(skipped[0].model == "corpus:nope" && skipped[0].reason.contains("not imported"));
        let icmp = Suite::built(SuiteProtocol::Icmp, Mode::Conversation, crate::exec::extract::Dialect::Scapy, 1, 1);
        let (models, skipped) = select(&out, &[ALL.into()], Some(std::slice::from_ref(&icmp)));
        assert_eq!(models.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["corpus:gpt-3.5-turbo-instruct"]);
        assert_eq!(skipped.len(), 2);
    }
}
