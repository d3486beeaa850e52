//! `harness exec`: model answers to PCAPs.

use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Serialize;

use super::{DialectArg, ExecArgs, ExecFormat, EXIT_FINDINGS, EXIT_OK};
use crate::exec::extract::{AnswerFinding, Dialect};
use crate::exec::scapy::{ScapyOptions, ScapyPool};
use crate::exec::trace::{self, Built, Input};
use crate::pcap::write_pcap;

/// One answer's result, as `harness exec --format json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct ExecResult {
    /// The answer's id.
    pub id: String,
    /// Whether a PCAP was written.
    pub ok: bool,
    /// `ok` or the error class (`syntax`, `name`, `scapy`, `forbidden`,
    /// `timeout`, `limit`, `no_packets`, `empty`, `json`).
    pub status: String,
    /// Packets written.
    pub packets: usize,
    /// The error message, or empty.
    pub message: String,
    /// The PCAP written, if any.
    pub pcap: Option<String>,
    /// Quirks of the answer's form.
    pub findings: Vec<AnswerFinding>,
}

/// The document `harness exec --format json` prints.
#[derive(Debug, Serialize)]
struct ExecReport {
    harness: String,
    scapy: Option<String>,
    results: Vec<ExecResult>,
}

/// One answer to run, or a line that could not be read as one.
struct Answer {
    id: String,
    dialect: Dialect,
    completion: String,
    /// Why the line is not a usable answer (reported, never fatal).
    bad: Option<String>,
}

/// Run `harness exec`.
///
/// # Errors
/// Unreadable input, a missing Scapy when Scapy answers are present, an
/// unwritable output.
pub fn run(args: &ExecArgs) -> anyhow::Result<u8> {
    let default_dialect = match args.dialect {
        DialectArg::Scapy => Dialect::Scapy,
        DialectArg::Json => Dialect::Json,
    };
    let (answers, outputs): (Vec<Answer>, Vec<PathBuf>) = match (&args.answer, &args.jsonl) {
        (Some(file), None) => {
            let Some(output) = &args.output else { bail!("give -o OUT.pcap for a single answer") };
            let completion =
                std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
            (
                vec![Answer { id: file.display().to_string(), dialect: default_dialect, completion, bad: None }],
                vec![output.clone()],
            )
        }
        (None, Some(jsonl)) => {
            let Some(dir) = &args.out else { bail!("give --out DIR for --jsonl") };
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            let answers = read_jsonl(jsonl, default_dialect)?;
            // One file per answer, even when ids repeat.
            let mut used = std::collections::HashSet::new();
            let outputs = answers
                .iter()
                .map(|a| {
                    let stem = file_stem(&a.id);
                    let mut name = stem.clone();
                    let mut n = 1;
                    while !used.insert(name.clone()) {
                        n += 1;
                        name = format!("{stem}-{n}");
                    }
                    dir.join(format!("{name}.pcap"))
                })
                .collect();
            (answers, outputs)
        }
        _ => bail!("give either ANSWER_FILE (with -o) or --jsonl ANSWERS.jsonl (with --out)"),
    };
    // A line that is not an answer has an empty completion: nothing runs.
    let inputs: Vec<Input<'_>> =
        answers.iter().map(|a| Input { answer: &a.completion, dialect: a.dialect, seed: args.seed }).collect();
    let prepared = trace::prepare(&inputs);
    let pool = if prepared.needs_scapy() {
        let options = ScapyOptions {
            python: args.python.clone(),
            workers: args.workers,
            cpu_s: args.cpu_seconds,
            ..ScapyOptions::default()
        };
        Some(ScapyPool::start(options)?)
    } else {
        None
    };
    let scapy_version = pool.as_ref().map(|p| p.scapy_version().to_string());
    let built = prepared.build(pool.as_ref(), args.cpu_seconds)?;
    let mut results = Vec::with_capacity(answers.len());
    for ((answer, output), Built { trace, findings }) in answers.iter().zip(&outputs).zip(built) {
        let trace = match &answer.bad {
            Some(why) => Err(("bad_line", why.clone())),
            None => trace.map_err(|e| (e.status.as_str(), e.message)),
        };
        let result = match trace {
            Ok(trace) => {
                write_pcap(output, &trace).with_context(|| format!("cannot write {}", output.display()))?;
                ExecResult {
                    id: answer.id.clone(),
                    ok: true,
                    status: "ok".into(),
                    packets: trace.packets.len(),
                    message: String::new(),
                    pcap: Some(output.display().to_string()),
                    findings,
                }
            }
            Err((status, message)) => ExecResult {
                id: answer.id.clone(),
                ok: false,
                status: status.into(),
                packets: 0,
                message,
                pcap: None,
                findings,
            },
        };
        results.push(result);
    }
    let failed = results.iter().filter(|r| !r.ok).count();
    let stdout = io::stdout();
    let mut out = stdout.lock();
    if args.format == ExecFormat::Json {
        let report = ExecReport { harness: env!("CARGO_PKG_VERSION").into(), scapy: scapy_version, results };
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        for r in &results {
            match &r.pcap {
                Some(pcap) => writeln!(out, "{}: ok, {} packets -> {pcap}", r.id, r.packets)?,
                None => writeln!(out, "{}: {}: {}", r.id, r.status, r.message)?,
            }
        }
        if let Some(version) = scapy_version {
            writeln!(out, "({} answers, {failed} failed; scapy {version})", results.len())?;
        }
    }
    Ok(if failed > 0 { EXIT_FINDINGS } else { EXIT_OK })
}

/// Read answers from JSON Lines: `completion` required; `id`, `dialect`
/// optional. A line that is not a usable answer (not JSON, no completion,
/// an unsupported dialect) becomes a `bad_line` result naming the line.
fn read_jsonl(path: &Path, default: Dialect) -> anyhow::Result<Vec<Answer>> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut answers = Vec::new();
    for (index, line) in io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("{}: cannot read line {}", path.display(), index + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let at = format!("{}:{}", path.display(), index + 1);
        let bad = |why: String| Answer {
            id: format!("line-{}", index + 1),
            dialect: default,
            completion: String::new(),
            bad: Some(format!("{at}: {why}")),
        };
        let value: serde_json::Value = match serde_json::from_str(&line) {
            Ok(value) => value,
            Err(error) => {
                answers.push(bad(format!("not JSON: {error}")));
                continue;
            }
        };
        let Some(completion) = value["completion"].as_str() else {
            answers.push(bad("no \"completion\" string".into()));
            continue;
        };
        let id = match &value["id"] {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            _ => format!("{}", index + 1),
        };
        let dialect = match value["dialect"].as_str() {
            None => default,
            Some("scapy") => Dialect::Scapy,
            Some("json") => Dialect::Json,
            Some(other) => {
                answers.push(Answer { id, ..bad(format!("dialect {other:?} is not run by exec (scapy, json)")) });
                continue;
            }
        };
        answers.push(Answer { id, dialect, completion: completion.to_string(), bad: None });
    }
    Ok(answers)
}

/// Make an id safe as a file name.
fn file_stem(id: &str) -> String {
    let stem: String = id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '_' })
        .collect();
    stem.trim_start_matches('.').chars().take(100).collect()
}
