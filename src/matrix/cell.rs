//! One cell of the matrix: one model on one suite, end to end.
//!
//! summaries → prompts → answers → extraction → execution → one PCAP per
//! trace → own checks + tshark (batched over one or more chunks, on a
//! thread of its own while the next chunks are built) + the summary's
//! expectation → per-trace verdicts, appended to the cell's journal, in
//! order, as each chunk's verdicts are in. The cell's tables are computed from the journal alone,
//! so a run resumed after a crash (`--resume`) gives the same tables as one
//! that never stopped.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::suite::{Item, Suite};
use crate::analyze::{own_pass, Judging, OwnPass};
use crate::check::Limits;
use crate::exec::extract::Dialect;
use crate::exec::scapy::ScapyPool;
use crate::exec::trace::{self, Built, ExecFailure, ExecStatus, Input};
use crate::finding::{Finding, Layers, Protocol, Severity};
use crate::model::mutant::Fault;
use crate::model::{is_cut, Answer, AnswerError, Answerer, Unanswered, Usage};
use crate::pcap::write_pcap;
use crate::prompt::{Prompt, Template};
use crate::scenario::expect::{Expectation, Sidecar};
use crate::scenario::Mode;
use crate::tshark::Tshark;
use crate::verdict::{ConversationStats, ProtocolStats};

/// Traces answered and built together, handed to the tshark stage and
/// journaled together.
const CHUNK: usize = 64;

/// The status of a trace whose request failed (the model never answered:
/// a server down, a timeout, an HTTP error after the retries). Such a
/// trace is kept apart from the model's failures: it is in no packet or
/// conversation total and in no time per trace.
pub const REQUEST_FAILED: TraceStatus = TraceStatus::Unanswered(Unanswered::Request);

/// What became of one trace; its journal line holds the name (`ok`,
/// `request`, `cassette`, `unreadable`, or the executor's class: `syntax`,
/// `no_packets`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum TraceStatus {
    /// The answer became a trace.
    Ok,
    /// The model gave no answer (see [`Unanswered`]).
    Unanswered(Unanswered),
    /// The answer did not become a trace (see [`ExecStatus`]).
    Exec(ExecStatus),
}

impl TraceStatus {
    /// Return the name a journal holds.
    pub fn as_str(self) -> &'static str {
        match self {
            TraceStatus::Ok => "ok",
            TraceStatus::Unanswered(u) => u.status(),
            TraceStatus::Exec(e) => e.as_str(),
        }
    }

    /// Return whether the answer became a trace.
    pub fn is_ok(self) -> bool {
        self == TraceStatus::Ok
    }
}

impl std::fmt::Display for TraceStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<TraceStatus> for String {
    fn from(status: TraceStatus) -> String {
        status.as_str().to_string()
    }
}

impl TryFrom<String> for TraceStatus {
    type Error = String;

    fn try_from(name: String) -> Result<TraceStatus, String> {
        std::iter::once(TraceStatus::Ok)
            .chain(Unanswered::ALL.map(TraceStatus::Unanswered))
            .chain(ExecStatus::ALL.map(TraceStatus::Exec))
            .find(|s| s.as_str() == name)
            .ok_or_else(|| format!("unknown trace status {name:?}"))
    }
}

/// The answer check of an answer cut at `max_tokens` (see [`is_cut`]).
pub const TRUNCATED: &str = "answer.truncated";

/// What the journal keeps of one trace: everything the tables need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceRecord {
    /// Index in the suite.
    pub index: usize,
    /// The summary line.
    pub summary: String,
    /// The prompt's version.
    pub prompt_version: String,
    /// The answer text (empty when the request failed).
    pub answer: String,
    /// Tokens.
    pub usage: Option<Usage>,
    /// Time to answer.
    pub latency_ms: u64,
    /// Cost, if known.
    pub cost_usd: Option<f64>,
    /// The provider's stop reason (`length`: cut at `max_tokens`, see
    /// [`is_cut`]), when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    /// `ok`, `request` (the request failed: no answer), `cassette` (not in
    /// an offline cassette), `unreadable` (a built-in model could not read
    /// the summary), or the executor's error class.
    pub status: TraceStatus,
    /// The error message, or empty.
    pub message: String,
    /// Packets in the trace.
    pub packets: u64,
    /// The PCAP, relative to the cell directory.
    pub pcap: Option<String>,
    /// Answer-form findings (`answer.fenced`, …) and `exec.<status>`.
    pub answer_checks: Vec<String>,
    /// Packet findings: own checks, tshark, expectation.
    pub findings: Vec<Finding>,
    /// Per-protocol counts of this trace.
    pub protocols: BTreeMap<Protocol, ProtocolStats>,
    /// Whether the trace is a correct conversation: it ran, no error
    /// finding, and exactly the packets asked for.
    pub succeeded: bool,
    /// Kind-specific data (LLM-NTG statistics of a ZigBee trial).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<serde_json::Value>,
}

/// What a cell directory holds (`cell.json`): enough to re-render its
/// prompts (`harness export-finetune`) and to re-check its captures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellInfo {
    /// Model id.
    pub model: String,
    /// Suite name.
    pub suite: String,
    /// Suite protocol.
    pub protocol: crate::scenario::SuiteProtocol,
    /// Suite mode.
    pub mode: crate::scenario::Mode,
    /// `scapy` or `json`.
    pub dialect: String,
    /// The prompt template's name.
    pub prompt: String,
    /// Its version.
    pub prompt_version: String,
}

impl TraceRecord {
    /// The record of trace `index` as its answer left it: the answer's
    /// text, usage and cost, or no answer (its status by
    /// [`AnswerError::unanswered`]: `cassette` for an offline cassette miss,
    /// `unreadable` for a summary a built-in model cannot read, `request`
    /// otherwise) with its message.
    pub fn from_answer(
        index: usize,
        summary: &str,
        prompt_version: &str,
        answer: Result<Answer, AnswerError>,
    ) -> TraceRecord {
        let mut record = TraceRecord {
            index,
            summary: summary.to_string(),
            prompt_version: prompt_version.to_string(),
            answer: String::new(),
            usage: None,
            latency_ms: 0,
            cost_usd: None,
            finish_reason: None,
            status: TraceStatus::Ok,
            message: String::new(),
            packets: 0,
            pcap: None,
            answer_checks: Vec::new(),
            findings: Vec::new(),
            protocols: BTreeMap::new(),
            succeeded: false,
            extra: None,
        };
        match answer {
            Ok(a) => {
                record.answer = a.text;
                record.usage = a.usage;
                record.latency_ms = a.latency_ms;
                record.cost_usd = a.cost_usd;
                if a.finish_reason.as_deref().is_some_and(is_cut) {
                    record.answer_checks.push(TRUNCATED.into());
                }
                record.finish_reason = a.finish_reason;
            }
            Err(e) => {
                record.status = TraceStatus::Unanswered(e.unanswered());
                record.answer_checks.push(format!("exec.{}", record.status));
                record.message = e.to_string();
            }
        }
        record
    }
}

/// Append `records` to a cell's journal, one line each, and sync.
pub(super) fn append_journal(path: &Path, records: &[TraceRecord]) -> Result<(), CellError> {
    let mut text = String::new();
    for r in records {
        text.push_str(&serde_json::to_string(r).expect("records serialise"));
        text.push('\n');
    }
    let mut journal = OpenOptions::new().create(true).append(true).open(path).map_err(io_err("cannot open", path))?;
    journal.write_all(text.as_bytes()).map_err(io_err("cannot append to", path))?;
    journal.sync_data().map_err(io_err("cannot sync", path))
}

/// The result of one cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellResult {
    /// Model id.
    pub model: String,
    /// Suite name.
    pub suite: String,
    /// Protocol of the suite.
    pub protocol: String,
    /// Mode of the suite.
    pub mode: String,
    /// Dialect of the suite.
    pub dialect: String,
    /// Traces in the cell, failed requests included.
    pub traces: u64,
    /// Traces whose request failed (status `request`): the model never
    /// answered them, so they are in no packet or conversation total and in
    /// no time per trace.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub requests_failed: u64,
    /// Per-protocol success rates over every packet of the cell.
    pub protocols: BTreeMap<Protocol, ProtocolStats>,
    /// Traces that are correct conversations, out of the answered ones.
    pub conversations: ConversationStats,
    /// The providers' stop reasons, per reason (`stop`, `length`, …), over
    /// the answers that carried one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub finish_reasons: BTreeMap<String, u64>,
    /// Findings (and answer/executor findings) per check id.
    pub checks: BTreeMap<String, u64>,
    /// Executor outcomes other than `ok`, per status.
    pub exec_failures: BTreeMap<String, u64>,
    /// tshark findings at warn or above.
    pub tshark_findings: u64,
    /// Tokens over the cell.
    pub usage: Usage,
    /// Total answer latency.
    pub latency_ms: u64,
    /// Total cost, when known.
    pub cost_usd: Option<f64>,
    /// For a cassette model offline: why the first missing answer is not in
    /// the cassette (which prompt changed) and the command that re-records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cassette_miss: Option<String>,
    /// Realism of the cell's traces against the suite's reference capture
    /// (the metrics of `harness compare`), when the suite names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realism: Option<Vec<RealismRow>>,
    /// LLM-NTG's statistics, for ZigBee cells.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ntg: Option<super::ntg::NtgCellStats>,
    /// With `matrix --onwire`, for conversation cells: how many of the
    /// conversations of the cell's captures real network stacks reproduce
    /// (see [`super::onwire`]); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onwire: Option<crate::onwire::Fidelity>,
    /// For mutant cells: the check that must catch the fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_check: Option<String>,
    /// For mutant cells: whether every trace was caught by it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caught: Option<bool>,
    /// For mutant cells: who caught the fault at all (`own`, `tshark`,
    /// `executor`), in how many traces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caught_by: Option<BTreeMap<String, u64>>,
    /// Where this run's time went (zero for traces kept by `--resume`).
    /// Not serialised: timings differ between runs, the report must not.
    #[serde(skip)]
    pub timings: StageTimes,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl CellResult {
    /// Return the traces the model answered (every trace but the failed
    /// requests): what the conversation total and the time per trace count.
    pub fn answered(&self) -> u64 {
        self.traces - self.requests_failed
    }
}

/// Wall time per stage of the traces a run processed, in milliseconds.
///
/// The cell's thread answers, builds, writes and checks its chunks and
/// hands them to the tshark stage, a thread of its own that runs tshark over
/// the chunks of one or more cells at a time: [`tshark_ms`](Self::tshark_ms)
/// is that stage's time on the cell's chunks, which mostly overlaps the
/// others, and [`tshark_wait_ms`](Self::tshark_wait_ms) the time the cell
/// waited for it (tshark on the cell's critical path).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageTimes {
    /// Getting the answers (model, cassette or built-in).
    pub answer_ms: f64,
    /// Extracting and running them (Scapy pool or JSON builder).
    pub exec_ms: f64,
    /// Writing the PCAPs.
    pub write_ms: f64,
    /// Own checks and the expectation.
    pub checks_ms: f64,
    /// The tshark stage, on its own thread: the cell's share (by captures)
    /// of tshark's Expert Info runs, and the verdicts that need them.
    pub tshark_ms: f64,
    /// The cell waiting for its last verdicts from the tshark stage.
    pub tshark_wait_ms: f64,
}

impl StageTimes {
    /// Add `other`'s times to these.
    pub fn add(&mut self, other: &StageTimes) {
        self.answer_ms += other.answer_ms;
        self.exec_ms += other.exec_ms;
        self.write_ms += other.write_ms;
        self.checks_ms += other.checks_ms;
        self.tshark_ms += other.tshark_ms;
        self.tshark_wait_ms += other.tshark_wait_ms;
    }

    /// Return the cell thread's time in the stages: answer, exec, write,
    /// checks and the wait for tshark (not the tshark stage's own time,
    /// which runs beside them).
    pub fn critical_ms(&self) -> f64 {
        self.answer_ms + self.exec_ms + self.write_ms + self.checks_ms + self.tshark_wait_ms
    }
}

/// Milliseconds since `start`.
fn ms_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

/// One realism metric of a cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RealismRow {
    /// What is compared (`packet length`, …).
    pub metric: String,
    /// `jsd`, `emd` or `kl`.
    pub kind: String,
    /// The value, `None` where it is not defined.
    pub value: Option<f64>,
    /// Unit.
    pub unit: String,
}

/// Realism metrics of the captures of `records` (in `dir`) against the
/// suite's reference capture; a failure is reported as a row without value.
pub(super) fn realism(dir: &Path, records: &BTreeMap<usize, TraceRecord>, reference: &Path) -> Vec<RealismRow> {
    let generated: Vec<PathBuf> = records.values().filter_map(|r| r.pcap.as_ref().map(|p| dir.join(p))).collect();
    match crate::realism::compare_paths(&generated, &[reference.to_path_buf()]) {
        Ok(report) => report
            .metrics
            .into_iter()
            .map(|m| RealismRow {
                metric: m.name,
                kind: m.kind.to_string(),
                value: m.value.map(|v| (v * 1e6).round() / 1e6),
                unit: m.unit.to_string(),
            })
            .collect(),
        Err(e) => vec![RealismRow {
            metric: format!("realism unavailable: {e}"),
            kind: String::new(),
            value: None,
            unit: String::new(),
        }],
    }
}

/// The tools a cell needs.
pub struct Tools<'a> {
    /// Where the prompt templates are.
    pub prompts: &'a Path,
    /// tshark, when it runs.
    pub tshark: Option<&'a Tshark>,
    /// The Scapy pool, when Scapy answers occur.
    pub pool: Option<&'a ScapyPool>,
    /// Own-check limits.
    pub limits: Limits,
}

/// Why a cell could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum CellError {
    /// Suite problems.
    #[error(transparent)]
    Suite(#[from] super::suite::SuiteError),
    /// Prompt problems.
    #[error(transparent)]
    Prompt(#[from] crate::prompt::PromptError),
    /// Files.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was done.
        what: &'static str,
        /// The file.
        path: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// Scapy answers but no Scapy.
    #[error("the suite's answers are Scapy code but the Scapy worker is not running (ci/install-deps installs Scapy)")]
    NoScapy,
    /// tshark failed on a batch.
    #[error("tshark: {0}")]
    Tshark(String),
}

pub(super) fn io_err<'p>(what: &'static str, path: &'p Path) -> impl FnOnce(std::io::Error) -> CellError + 'p {
    move |source| CellError::Io { what, path: path.display().to_string(), source }
}

/// Read the journal of a cell directory: the records, by index. A torn last
/// line (the writer was killed) is ignored: that trace runs again.
pub fn read_journal(dir: &Path) -> BTreeMap<usize, TraceRecord> {
    let mut out = BTreeMap::new();
    let Ok(file) = File::open(dir.join("journal.jsonl")) else { return out };
    for line in BufReader::new(file).lines().map_while(Result::ok) {
        if let Ok(record) = serde_json::from_str::<TraceRecord>(&line) {
            out.insert(record.index, record);
        }
    }
    out
}

/// Run one cell into `dir` (created). With `resume`, traces already in the
/// journal are kept, except those whose request failed (status `request`:
/// the model never answered), which are asked again; otherwise the
/// directory's journal is started afresh.
///
/// # Errors
/// See [`CellError`]; a failing answer or trace is recorded, not an error.
pub fn run_cell(
    model: &str,
    answerer: &dyn Answerer,
    fault: Option<Fault>,
    suite: &Suite,
    tools: &Tools<'_>,
    dir: &Path,
    resume: bool,
) -> Result<CellResult, CellError> {
    std::thread::scope(|scope| {
        let (stage, queue) = mpsc::channel();
        scope.spawn(move || tshark_stage(&queue, tools));
        start_cell(model, answerer, fault, suite, tools, dir, resume, &stage)?.finish(&stage)
    })
}

/// Traces one tshark run covers at least, unless the stage is told to
/// flush (a cell waits for its verdicts), no more chunks can come, or a
/// chunk has waited [`MAX_WAIT`]: tshark's start-up costs far more than a
/// few hundred traces.
const TSHARK_BATCH: usize = 256;

/// The longest a chunk waits in the tshark stage for more chunks to join
/// its run (its journal line waits as long).
const MAX_WAIT: Duration = Duration::from_secs(2);

/// What the tshark stage ([`tshark_stage`]) is sent.
pub(super) enum StageMsg {
    /// A chunk to finish.
    Chunk(Pending),
    /// Run tshark now over the chunks waiting: a cell waits for them.
    Flush,
}

/// A chunk answered, built, written and checked by the harness, waiting
/// for tshark's verdicts.
pub(super) struct Pending {
    /// The cell's journal, where the chunk goes once judged.
    journal: PathBuf,
    /// Where its records go then.
    reply: mpsc::Sender<Result<Finished, CellError>>,
    /// One record per item, without the verdict.
    records: Vec<TraceRecord>,
    /// The expectation of each item's summary.
    expectations: Vec<Option<Expectation>>,
    /// Whether the suite is in packet mode.
    packet_mode: bool,
    /// The capture of each item, when it was built.
    pcaps: Vec<Option<PathBuf>>,
    /// The own checks' pass over each capture.
    passes: Vec<Option<OwnPass>>,
    /// The time it took so far.
    times: StageTimes,
}

/// A chunk's final records, journaled, and the time they took.
type Finished = (Vec<TraceRecord>, StageTimes);

/// The tshark stage of a run, on a thread of its own: run tshark over the
/// chunks of `queue`, of any cell, gathered until they hold
/// [`TSHARK_BATCH`] captures (or a flush, a timeout, the queue's end), and
/// finish each chunk: its verdicts, its journal lines, its records sent to
/// its cell, chunks in the order they came. Returns when every sender of
/// `queue` is gone and the last chunks are finished.
pub(super) fn tshark_stage(queue: &mpsc::Receiver<StageMsg>, tools: &Tools<'_>) {
    let mut group: Vec<Pending> = Vec::new();
    let mut oldest = Instant::now();
    loop {
        let message = if group.is_empty() {
            queue.recv().map_err(|_| RecvTimeoutError::Disconnected)
        } else {
            queue.recv_timeout(MAX_WAIT.saturating_sub(oldest.elapsed()))
        };
        let flush = match message {
            Ok(StageMsg::Chunk(pending)) => {
                if group.is_empty() {
                    oldest = Instant::now();
                }
                group.push(pending);
                group.iter().map(|p| p.pcaps.iter().flatten().count()).sum::<usize>() >= TSHARK_BATCH
            }
            Ok(StageMsg::Flush) | Err(RecvTimeoutError::Timeout) => true,
            Err(RecvTimeoutError::Disconnected) => {
                finish_chunks(group, tools);
                return;
            }
        };
        if flush && !group.is_empty() {
            finish_chunks(std::mem::take(&mut group), tools);
        }
    }
}

/// Run tshark once over the captures of `group` (batched, see
/// [`Tshark::expert_many`]), judge each chunk, journal it and send it to
/// its cell. tshark's time is shared out over the chunks by captures.
fn finish_chunks(group: Vec<Pending>, tools: &Tools<'_>) {
    if group.is_empty() {
        return;
    }
    let start = Instant::now();
    let present: Vec<&Path> = group.iter().flat_map(|p| p.pcaps.iter().flatten()).map(PathBuf::as_path).collect();
    let expert = match tools.tshark {
        Some(t) if !present.is_empty() => t.expert_many(&present),
        _ => Ok(Vec::new()),
    };
    let run_ms = ms_since(start);
    let captures = present.len().max(1) as f64;
    let mut expert = match expert {
        Ok(results) => results.into_iter(),
        Err(e) => {
            for pending in group {
                let _ = pending.reply.send(Err(CellError::Tshark(e.to_string())));
            }
            return;
        }
    };
    for Pending { journal, reply, mut records, expectations, packet_mode, pcaps, passes, mut times } in group {
        let start = Instant::now();
        let share = run_ms * pcaps.iter().flatten().count() as f64 / captures;
        for (((record, pcap), pass), expectation) in records.iter_mut().zip(&pcaps).zip(passes).zip(&expectations) {
            let mut missing: Vec<Layers> = Vec::new();
            // A failed request has no answer to miss packets: the model is not
            // judged on it.
            if let Some(e) = expectation.as_ref().filter(|_| record.status != REQUEST_FAILED) {
                let have = pcap.as_ref().map_or(0, |_| record.packets as usize);
                missing = e
                    .packets
                    .iter()
                    .skip(have)
                    .map(|d| {
                        d.iter().fold(Layers::default(), |mut l, f| {
                            if f.layer != Protocol::Frame {
                                l.insert(f.layer);
                            }
                            l
                        })
                    })
                    .collect();
            }
            let tshark_result = if tools.tshark.is_some() && pcap.is_some() { expert.next() } else { None };
            let mut clean = match (pcap, pass) {
                (Some(path), Some(pass)) => {
                    verdict(record, path, pass, tshark_result, expectation.as_ref(), packet_mode)
                }
                _ => record.status.is_ok(),
            };
            let protocols = &mut record.protocols;
            for layers in &missing {
                for layer in Protocol::LAYERS {
                    if layers.contains(layer) {
                        let row: &mut ProtocolStats = protocols.entry(layer).or_default();
                        row.packets += 1;
                        row.non_existent += 1;
                    }
                }
            }
            if !missing.is_empty() {
                clean = false;
            }
            record.succeeded = clean;
        }
        times.tshark_ms += share + ms_since(start);
        let finished = append_journal(&journal, &records).map(|()| (records, times));
        // A cell that stopped waiting (its run ended on an error) needs no
        // answer; its journal is whole all the same.
        let _ = reply.send(finished);
    }
}

/// A cell whose chunks are all built and handed to the tshark stage.
pub(super) struct Started<'s> {
    model: String,
    suite: &'s Suite,
    fault: Option<Fault>,
    dir: PathBuf,
    /// The records kept by `--resume`, then those the stage sent back.
    done: BTreeMap<usize, TraceRecord>,
    timings: StageTimes,
    /// The stage's answers, one per chunk.
    replies: mpsc::Receiver<Result<Finished, CellError>>,
    /// Chunks handed to the stage and not back yet.
    waiting: usize,
    /// The first error the stage sent back.
    stage_error: Option<CellError>,
    /// The error that stopped the building of the chunks (after the
    /// stage's: those were on earlier chunks).
    build_error: Option<CellError>,
}

/// Start one cell (see [`run_cell`]): prepare its directory and journal,
/// then answer, build, write and check its chunks, one after the other,
/// handing each to the tshark stage through `stage`.
///
/// # Errors
/// A cell that cannot start (journal, prompt template, suite); an error on
/// a chunk is kept in the [`Started`] and returned by its `finish`, after
/// the chunks before it.
#[allow(clippy::too_many_arguments)]
pub(super) fn start_cell<'s>(
    model: &str,
    answerer: &dyn Answerer,
    fault: Option<Fault>,
    suite: &'s Suite,
    tools: &Tools<'_>,
    dir: &Path,
    resume: bool,
    stage: &mpsc::Sender<StageMsg>,
) -> Result<Started<'s>, CellError> {
    fs::create_dir_all(dir).map_err(io_err("cannot create", dir))?;
    let journal_path = dir.join("journal.jsonl");
    let mut done = if resume { read_journal(dir) } else { BTreeMap::new() };
    done.retain(|_, r| r.status != REQUEST_FAILED);
    if !resume {
        let _ = fs::remove_file(&journal_path);
    } else {
        // Rewrite the journal without a torn tail so appends stay
        // line-aligned; through a rename, so a kill during the rewrite
        // leaves the old journal, not a cut one.
        let mut text = String::new();
        for r in done.values() {
            text.push_str(&serde_json::to_string(r).expect("records serialise"));
            text.push('\n');
        }
        let fresh = dir.join("journal.jsonl.tmp");
        fs::write(&fresh, text).map_err(io_err("cannot write", &fresh))?;
        fs::rename(&fresh, &journal_path).map_err(io_err("cannot replace", &journal_path))?;
    }
    let template = Template::load(tools.prompts, suite.protocol, suite.mode, suite.dialect)?;
    let items = suite.items()?;
    let info = CellInfo {
        model: model.to_string(),
        suite: suite.name.clone(),
        protocol: suite.protocol,
        mode: suite.mode,
        dialect: if suite.dialect == Dialect::Json { "json".into() } else { "scapy".into() },
        prompt: template.name.clone(),
        prompt_version: template.version.clone(),
    };
    let info_path = dir.join("cell.json");
    fs::write(&info_path, serde_json::to_string_pretty(&info).expect("cell info serialises"))
        .map_err(io_err("cannot write", &info_path))?;
    let todo: Vec<&Item> = items.iter().filter(|i| !done.contains_key(&i.index)).collect();
    let (reply, replies) = mpsc::channel();
    let mut started = Started {
        model: model.to_string(),
        suite,
        fault,
        dir: dir.to_path_buf(),
        done,
        timings: StageTimes::default(),
        replies,
        waiting: 0,
        stage_error: None,
        build_error: None,
    };
    for chunk in todo.chunks(CHUNK) {
        let pending = match build_chunk(answerer, suite, &template, chunk, tools, dir, &journal_path, &reply) {
            Ok(pending) => pending,
            Err(error) => {
                started.build_error = Some(error);
                break;
            }
        };
        if stage.send(StageMsg::Chunk(pending)).is_err() {
            started.build_error = Some(CellError::Tshark("the tshark stage stopped".into()));
            break;
        }
        started.waiting += 1;
        started.poll();
    }
    Ok(started)
}

impl Started<'_> {
    /// Take the chunks the stage has sent back; return whether every chunk
    /// is back.
    pub(super) fn poll(&mut self) -> bool {
        while self.waiting > 0 {
            match self.replies.try_recv() {
                Ok(finished) => self.take(finished),
                Err(mpsc::TryRecvError::Empty) => return false,
                Err(mpsc::TryRecvError::Disconnected) => self.stage_stopped(),
            }
        }
        true
    }

    fn take(&mut self, finished: Result<Finished, CellError>) {
        self.waiting -= 1;
        match finished {
            Ok((records, times)) => {
                self.timings.add(&times);
                for r in records {
                    self.done.insert(r.index, r);
                }
            }
            Err(error) => {
                self.stage_error.get_or_insert(error);
            }
        }
    }

    fn stage_stopped(&mut self) {
        self.waiting = 0;
        self.stage_error.get_or_insert(CellError::Tshark("the tshark stage stopped".into()));
    }

    /// Wait for the cell's last verdicts (asking the stage, through
    /// `stage`, to run now) and return the cell's result.
    ///
    /// # Errors
    /// The first error of the cell's chunks, in chunk order.
    pub(super) fn finish(mut self, stage: &mpsc::Sender<StageMsg>) -> Result<CellResult, CellError> {
        if !self.poll() {
            let start = Instant::now();
            let _ = stage.send(StageMsg::Flush);
            while self.waiting > 0 {
                match self.replies.recv() {
                    Ok(finished) => self.take(finished),
                    Err(_) => self.stage_stopped(),
                }
            }
            self.timings.tshark_wait_ms += ms_since(start);
        }
        if let Some(error) = self.stage_error.or(self.build_error) {
            return Err(error);
        }
        let mut result =
            CellResult { timings: self.timings, ..aggregate(&self.model, self.suite, self.fault, self.done.values()) };
        if let Some(reference) = &self.suite.reference_capture {
            result.realism = Some(realism(&self.dir, &self.done, reference));
        }
        Ok(result)
    }
}

/// Answer, build, write and check (own checks, expectation) one chunk.
#[allow(clippy::too_many_arguments)]
fn build_chunk(
    answerer: &dyn Answerer,
    suite: &Suite,
    template: &Template,
    chunk: &[&Item],
    tools: &Tools<'_>,
    dir: &Path,
    journal: &Path,
    reply: &mpsc::Sender<Result<Finished, CellError>>,
) -> Result<Pending, CellError> {
    let mut times = StageTimes::default();
    let prompts: Vec<Prompt> = chunk.iter().map(|i| template.render(&i.text)).collect();
    let requests = suite.requests(chunk.iter().copied(), &prompts);
    let start = Instant::now();
    let answers = answerer.answer_all(&requests);
    times.answer_ms += ms_since(start);
    let start = Instant::now();
    // Answers that came: built together (the Scapy ones in the pool).
    let inputs: Vec<Input<'_>> = chunk
        .iter()
        .zip(&answers)
        .filter_map(|(item, answer)| {
            let answer = answer.as_ref().ok()?;
            Some(Input { answer: &answer.text, dialect: suite.dialect, seed: suite.seed ^ item.index as u64 })
        })
        .collect();
    let prepared = trace::prepare(&inputs);
    let pool = if prepared.needs_scapy() { Some(tools.pool.ok_or(CellError::NoScapy)?) } else { None };
    let mut built = prepared.build(pool, 5.0).map_err(|_| CellError::NoScapy)?.into_iter();
    times.exec_ms += ms_since(start);
    let mut records = Vec::with_capacity(chunk.len());
    let mut expectations = Vec::with_capacity(chunk.len());
    let mut pcaps: Vec<Option<PathBuf>> = Vec::with_capacity(chunk.len());
    let mut passes: Vec<Option<OwnPass>> = Vec::with_capacity(chunk.len());
    for ((item, prompt), answer) in chunk.iter().zip(&prompts).zip(answers) {
        let mut record = TraceRecord::from_answer(item.index, &item.text, &prompt.version, answer);
        let expectation = item.expectation();
        if !record.status.is_ok() {
            records.push(record);
            expectations.push(expectation);
            pcaps.push(None);
            passes.push(None);
            continue;
        }
        let Built { trace, findings } = built.next().expect("one build per answer");
        record.answer_checks.extend(findings.iter().map(|f| f.check.clone()));
        match trace {
            Ok(trace) => {
                let name = format!("{:04}.pcap", item.index);
                let path = dir.join(&name);
                let start = Instant::now();
                write_pcap(&path, &trace).map_err(io_err("cannot write", &path))?;
                let sidecar = Sidecar { protocol: suite.protocol, mode: suite.mode, summary: item.text.clone() };
                let sidecar_path = Sidecar::path_of(&path);
                fs::write(&sidecar_path, serde_json::to_string(&sidecar).expect("sidecars serialise"))
                    .map_err(io_err("cannot write", &sidecar_path))?;
                times.write_ms += ms_since(start);
                record.packets = trace.packets.len() as u64;
                record.pcap = Some(name);
                let start = Instant::now();
                if let Some(expectation) = &expectation {
                    record.findings = expectation.compare(&trace);
                }
                passes.push(Some(own_pass(&path, tools.limits).map_err(|e| CellError::Tshark(e.to_string()))?));
                times.checks_ms += ms_since(start);
                pcaps.push(Some(path));
            }
            Err(ExecFailure { status, message }) => {
                record.answer_checks.push(format!("exec.{status}"));
                record.status = TraceStatus::Exec(status);
                record.message = message;
                pcaps.push(None);
                passes.push(None);
            }
        }
        records.push(record);
        expectations.push(expectation);
    }
    Ok(Pending {
        journal: journal.to_path_buf(),
        reply: reply.clone(),
        records,
        expectations,
        packet_mode: suite.mode == Mode::Packet,
        pcaps,
        passes,
        times,
    })
}

/// Judge one built trace through the one judge ([`crate::analyze::judge`]):
/// own checks on its capture, tshark's findings for it, the summary's
/// findings (already in the record) and waivers, packet mode; fill the
/// record's findings and protocol rows and return whether it is clean (it
/// ran, was read whole, and no finding has error severity).
pub(super) fn judge(
    record: &mut TraceRecord,
    pcap: Option<&Path>,
    tools: &Tools<'_>,
    tshark: Option<Result<crate::tshark::Expert, crate::tshark::TsharkError>>,
    expectation: Option<&Expectation>,
    packet_mode: bool,
) -> Result<bool, CellError> {
    let Some(path) = pcap else { return Ok(record.status.is_ok()) };
    let pass = own_pass(path, tools.limits).map_err(|e| CellError::Tshark(e.to_string()))?;
    Ok(verdict(record, path, pass, tshark, expectation, packet_mode))
}

/// The verdict of [`judge`] from the own checks' `pass` over the capture at
/// `path`.
fn verdict(
    record: &mut TraceRecord,
    path: &Path,
    pass: OwnPass,
    tshark: Option<Result<crate::tshark::Expert, crate::tshark::TsharkError>>,
    expectation: Option<&Expectation>,
    packet_mode: bool,
) -> bool {
    let mut clean = record.status.is_ok();
    let tshark = match tshark {
        Some(Ok(expert)) => Some(expert),
        Some(Err(e)) => {
            record.message = format!("tshark: {e}");
            clean = false;
            None
        }
        None => None,
    };
    let judging = Judging { expectation, summary: std::mem::take(&mut record.findings), packet_mode };
    let report = crate::analyze::judge(&path.display().to_string(), pass, tshark, judging);
    clean &= report.error.is_none();
    clean &= !report.has_errors();
    record.protocols = report.protocols;
    record.findings = report.findings;
    clean
}

/// The cell's tables from its trace records.
pub fn aggregate<'r>(
    model: &str,
    suite: &Suite,
    fault: Option<Fault>,
    records: impl Iterator<Item = &'r TraceRecord>,
) -> CellResult {
    let mut protocols: BTreeMap<Protocol, ProtocolStats> = BTreeMap::new();
    let mut checks: BTreeMap<String, u64> = BTreeMap::new();
    let mut exec_failures: BTreeMap<String, u64> = BTreeMap::new();
    let (mut traces, mut succeeded, mut packets, mut tshark_findings, mut latency, mut requests_failed) =
        (0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
    let mut finish_reasons: BTreeMap<String, u64> = BTreeMap::new();
    let mut usage = Usage::default();
    let mut cost: Option<f64> = None;
    let mut first_miss: Option<String> = None;
    let expected = fault.map(|f| f.expected_check(suite.dialect).to_string());
    let (mut caught_all, mut by_own, mut by_tshark, mut by_exec, mut by_named) = (true, 0u64, 0u64, 0u64, 0u64);
    for r in records {
        traces += 1;
        requests_failed += u64::from(r.status == REQUEST_FAILED);
        if let Some(reason) = &r.finish_reason {
            *finish_reasons.entry(reason.clone()).or_default() += 1;
        }
        packets += r.packets;
        succeeded += u64::from(r.succeeded);
        latency += r.latency_ms;
        if let Some(u) = r.usage {
            usage.prompt_tokens += u.prompt_tokens;
            usage.completion_tokens += u.completion_tokens;
        }
        if let Some(c) = r.cost_usd {
            *cost.get_or_insert(0.0) += c;
        }
        if !r.status.is_ok() {
            *exec_failures.entry(r.status.to_string()).or_default() += 1;
        }
        if r.status == TraceStatus::Unanswered(Unanswered::Cassette) && first_miss.is_none() {
            first_miss = Some(AnswerError::miss_reason(&r.message).to_string());
        }
        for c in &r.answer_checks {
            *checks.entry(c.clone()).or_default() += 1;
        }
        for f in &r.findings {
            *checks.entry(f.check.to_string()).or_default() += 1;
            if f.source == crate::finding::Source::Tshark && f.severity >= Severity::Warn {
                tshark_findings += 1;
            }
        }
        for (layer, s) in &r.protocols {
            protocols.entry(*layer).or_default().add(s);
        }
        if let Some(check) = &expected {
            let named =
                r.answer_checks.iter().any(|c| c == check) || r.findings.iter().any(|f| f.check == check.as_str());
            caught_all &= named;
            by_named += u64::from(named);
            by_own += u64::from(
                r.findings.iter().any(|f| f.source == crate::finding::Source::Harness && f.severity >= Severity::Warn),
            );
            by_tshark += u64::from(
                r.findings.iter().any(|f| f.source == crate::finding::Source::Tshark && f.severity >= Severity::Warn),
            );
            by_exec += u64::from(!r.status.is_ok());
        }
    }
    for row in protocols.values_mut() {
        row.finish(packets);
    }
    let dialect = if suite.dialect == Dialect::Json { "json" } else { "scapy" };
    CellResult {
        model: model.to_string(),
        suite: suite.name.clone(),
        protocol: suite.protocol.name().to_string(),
        mode: suite.mode.name().to_string(),
        dialect: dialect.to_string(),
        traces,
        requests_failed,
        protocols,
        conversations: ConversationStats { total: traces - requests_failed, succeeded },
        finish_reasons,
        checks,
        exec_failures,
        tshark_findings,
        usage,
        latency_ms: latency,
        cost_usd: cost,
        cassette_miss: first_miss,
        realism: None,
        ntg: None,
        onwire: None,
        caught: expected.as_ref().map(|_| caught_all && traces > 0),
        caught_by: expected.as_ref().map(|_| {
            BTreeMap::from([
                ("named".to_string(), by_named),
                ("own".to_string(), by_own),
                ("tshark".to_string(), by_tshark),
                ("executor".to_string(), by_exec),
            ])
        }),
        expected_check: expected,
        timings: StageTimes::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_trace_status_round_trips_through_its_journal_name() {
        let all: Vec<TraceStatus> = std::iter::once(TraceStatus::Ok)
            .chain(Unanswered::ALL.map(TraceStatus::Unanswered))
            .chain(ExecStatus::ALL.map(TraceStatus::Exec))
            .collect();
        let mut names: Vec<&str> = all.iter().map(|s| s.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len(), "two statuses share a name: {names:?}");
        for status in all {
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{status}\""));
            assert_eq!(serde_json::from_str::<TraceStatus>(&json).unwrap(), status);
        }
        let error = serde_json::from_str::<TraceStatus>("\"exploded\"").unwrap_err();
        assert!(error.to_string().contains("unknown trace status \"exploded\""), "{error}");
    }

    fn answered(finish_reason: Option<&str>) -> TraceRecord {
        let answer =
            Answer { text: "IP()".into(), finish_reason: finish_reason.map(str::to_string), ..Answer::default() };
        TraceRecord::from_answer(0, "summary", "v1", Ok(answer))
    }

    #[test]
    fn answers_cut_at_max_tokens_are_truncated_in_every_provider_vocabulary() {
        for cut in ["length", "max_tokens", "MAX_TOKENS"] {
            let record = answered(Some(cut));
            assert_eq!(
                (record.answer_checks.as_slice(), record.finish_reason.as_deref()),
                ([TRUNCATED.to_string()].as_slice(), Some(cut))
            );
        }
        for whole in [Some("stop"), Some("end_turn"), Some("STOP"), None] {
            let record = answered(whole);
            assert!(record.answer_checks.is_empty(), "{whole:?}");
            assert_eq!(record.finish_reason.as_deref(), whole);
        }
        // Journals without the field (older runs) still read.
        let mut line: serde_json::Value = serde_json::to_value(answered(None)).unwrap();
        assert!(line.get("finish_reason").is_none());
        line["finish_reason"] = "length".into();
        assert_eq!(serde_json::from_value::<TraceRecord>(line).unwrap().finish_reason.as_deref(), Some("length"));
    }

    #[test]
    fn unreadable_summaries_are_failed_conversations_not_failed_requests() {
        let item =
            crate::matrix::suite::Item { index: 4, text: "not a summary".into(), scenario: None, more: Vec::new() };
        let prompt = Prompt { system: String::new(), user: String::new(), version: "v1".into(), name: String::new() };
        let suite = Suite::built(crate::scenario::SuiteProtocol::Dns, Mode::Packet, Dialect::Json, 1, 1);
        let request = suite.request(&item, &prompt);
        let answer = crate::model::Reference.answer_all(std::slice::from_ref(&request)).remove(0);
        let record = TraceRecord::from_answer(4, &item.text, "v1", answer);
        assert_eq!(
            (record.status.as_str(), record.answer_checks.as_slice(), record.message.as_str()),
            (
                "unreadable",
                ["exec.unreadable".to_string()].as_slice(),
                "unreadable summary: the reference model cannot read summary 4"
            )
        );
        let cell = aggregate("reference", &suite, None, std::iter::once(&record));
        assert_eq!((cell.requests_failed, cell.conversations.total, cell.conversations.succeeded), (0, 1, 0));
    }

    #[test]
    fn failed_requests_are_in_no_total() {
        let suite = Suite::built(crate::scenario::SuiteProtocol::Icmp, Mode::Conversation, Dialect::Json, 3, 1);
        let mut ok = answered(Some("stop"));
        ok.succeeded = true;
        ok.latency_ms = 3000;
        let failed = TraceRecord::from_answer(
            1,
            "summary",
            "v1",
            Err(crate::model::live::ModelError::Batch { id: "m".into(), message: "the batch expired".into() }.into()),
        );
        let cut = TraceRecord { index: 2, latency_ms: 1000, ..answered(Some("length")) };
        assert_eq!(failed.status, REQUEST_FAILED);
        let cell = aggregate("m", &suite, None, [&ok, &failed, &cut].into_iter());
        assert_eq!((cell.traces, cell.requests_failed, cell.answered()), (3, 1, 2));
        assert_eq!((cell.conversations.total, cell.conversations.succeeded), (2, 1));
        assert_eq!(cell.finish_reasons, BTreeMap::from([("length".to_string(), 1), ("stop".to_string(), 1)]));
        assert_eq!(cell.checks.get(TRUNCATED), Some(&1));
        let mut text = String::new();
        super::super::tables::cost(&mut text, std::slice::from_ref(&cell));
        assert!(text.contains("| m     | 2      | 4.00   | 2.000   |"), "s/trace over the answered traces: {text}");
    }

    #[test]
    fn cassette_misses_are_typed_regressions_with_their_reason() {
        let suite = Suite::built(crate::scenario::SuiteProtocol::Icmp, Mode::Conversation, Dialect::Json, 2, 1);
        let miss = || AnswerError::CassetteMiss("prompt v2 changed; run `harness matrix --record`".into());
        let records = [0, 1].map(|i| TraceRecord::from_answer(i, "summary", "v1", Err(miss())));
        assert_eq!(
            (records[0].status.as_str(), records[0].message.as_str()),
            ("cassette", "not in the cassette: prompt v2 changed; run `harness matrix --record`")
        );
        let cell = aggregate("m", &suite, None, records.iter());
        assert_eq!(cell.cassette_miss.as_deref(), Some("prompt v2 changed; run `harness matrix --record`"));
        assert_eq!((cell.exec_failures.get("cassette"), cell.requests_failed), (Some(&2), 0));
    }
}
