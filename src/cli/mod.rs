//! The command line: argument definitions (validation only) and one function
//! per subcommand. `main.rs` only turns [`run`]'s result into an exit code.

mod check;
mod compare;
mod convert;
mod exec;
mod import;
pub(crate) mod inputs;
mod matrix;
pub(crate) mod onwire;
mod paper;
pub(crate) mod progress;
pub(crate) mod rundir;
pub(crate) mod select;
mod wireshark;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Exit status: everything checked passed.
pub const EXIT_OK: u8 = 0;
/// Exit status: a check found an error-severity problem.
pub const EXIT_FINDINGS: u8 = 1;
/// Exit status: the harness could not do what was asked.
pub const EXIT_ERROR: u8 = 2;

/// Where the cassettes of registry models are when `--cassettes` is not
/// given.
pub const DEFAULT_CASSETTES: &str = "golden/cassettes";

/// Measure how well LLMs generate network traffic.
///
/// `harness` turns model answers into captures and judges them with tshark's
/// Expert Info and its own protocol checks (TCP state and SEQ/ACK, DNS record
/// counts and ids, ICMP/ARP/HTTP consistency, link-layer sanity).
#[derive(Debug, Parser)]
#[command(name = "harness", version, about, long_about, propagate_version = true)]
pub struct Args {
    /// No progress bars or progress lines on stderr (results, the summary
    /// and the verdict still print).
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate captures: per-protocol success rates, conversations and
    /// findings.
    ///
    /// Reads PCAP or pcapng (Ethernet, raw IPv4, Linux cooked, and IEEE
    /// 802.15.4 dissected as ZigBee NWK/APS/ZCL/ZDP). Exit status: 0 no error-severity
    /// finding, 1 at least one, 2 a file could not be read.
    ///
    /// Example: harness check --format json --tshark off capture.pcap
    Check(CheckArgs),
    /// Convert a JSON packet list (seed 000's trace format and its
    /// extensions, see docs/json-dialect.md) or an LLM-NTG ZigBee summary
    /// (--dialect ntg, docs/ntg-dialect.md) to a PCAP.
    ///
    /// The output is byte-identical for identical input. Exit status: 0
    /// written, 2 the trace is invalid (the message names the JSON path or
    /// the row).
    ///
    /// Examples: harness convert trace.json -o trace.pcap;
    /// harness convert --dialect ntg gpt41_trial_1.json -o trial_1.pcap
    Convert(ConvertArgs),
    /// Run model answers (Scapy code or JSON packet lists) and write one
    /// PCAP per answer.
    ///
    /// Scapy answers run in sandboxed Python workers (real Scapy; no file,
    /// network or OS access; virtual time; seeded random; CPU, memory and
    /// wall-clock limits). Markdown fences, prose and other quirks are
    /// stripped and reported as answer findings. Exit status: 0 every answer
    /// ran, 1 some failed (see status), 2 error.
    ///
    /// Examples: harness exec answer.py --dialect scapy -o out.pcap;
    /// harness exec --jsonl answers.jsonl --out pcaps/ --format json
    Exec(ExecArgs),
    /// Run one model on one suite: summaries, prompts, answers, PCAPs,
    /// verdicts, journaled per trace, into DIR.
    ///
    /// Example: harness generate --model reference --suite http-conversation -o out/
    Generate(GenerateArgs),
    /// The regression matrix: models x suites, with per-protocol,
    /// cross-model and mutant-detection tables.
    ///
    /// `--models all` runs every model that can run now (built-in models
    /// always; the others when their cassettes, key or endpoint are there)
    /// and lists the skipped ones with the reason. Exit status: 0 the
    /// reference is 100 % clean and every mutant is caught, 1 a regression,
    /// 2 error.
    ///
    /// Example: harness matrix --models all --format md
    Matrix(MatrixArgs),
    /// Judge the realism of generated captures against real ones: NetShare's
    /// metrics (JSD of address rank, ports, protocol mix; EMD of packet
    /// length, inter-arrival time, flow size), TCP flag transitions,
    /// per-field entropy and KL divergence.
    ///
    /// GENERATED and REAL are captures or folders of captures (a folder is
    /// one set). Exit status: 0 compared, 2 error.
    ///
    /// Example: harness compare gen.pcap real.pcap --html realism.html
    Compare(CompareArgs),
    /// Put the reports of `harness matrix --shard I/N` runs back together:
    /// the same tables as the unsharded matrix.
    ///
    /// Example: harness merge shard-1/ shard-2/ --format md
    Merge(MergeArgs),
    /// Write OpenAI chat JSON Lines for fine-tuning from the traces of
    /// `generate`/`matrix` output folders whose verdict is fully correct
    /// (no finding at warn or above, no answer quirk): only validated data
    /// trains the experts.
    ///
    /// Example: harness export-finetune target/matrix -o train.jsonl
    ExportFinetune(ExportArgs),
    /// Wireshark integration: install the Lua plug-in that shows the
    /// findings of `harness check --annotate` as Expert Info.
    #[command(subcommand)]
    Wireshark(WiresharkCommand),
    /// Reproduce the paper's Tables 3–11 from a folder of captures laid out
    /// like the paper's repository (Packets/, Conversations/, Fine_Tuned/,
    /// MOE/, ADayIn/), under the paper's rules and the harness's side by
    /// side, with every difference explained by check id.
    ///
    /// Exit status: 0 printed, 2 the folder could not be read.
    ///
    /// Example: harness paper --from ../shared/corpus/pcaps/GPT-on-the-wire/gpt-3.5
    Paper(PaperArgs),
    /// Import real model answers (../shared/corpus/completions.jsonl) as
    /// replay models for the matrix: one cassette per model, one suite per
    /// protocol and mode, written outside git.
    ///
    /// Models: corpus:gpt-3.5-turbo-instruct, corpus:gpt-3.5-ft-experts
    /// (the fine-tuned per-protocol experts), corpus:gpt-3.5-ft-moe (their
    /// mixture-of-experts run), corpus:codestral, corpus:mixtral,
    /// corpus:text-davinci-003. The output is byte-identical for the same
    /// corpus. Exit status: 0 imported, 2 error.
    ///
    /// Example: harness import-answers && harness matrix --models corpus:gpt-3.5-turbo-instruct
    ImportAnswers(ImportArgs),
    /// Replay each conversation's client side against real network stacks
    /// (the kernel for ARP, ICMP and TCP; dnsmasq for DNS; hyper for HTTP)
    /// in private network namespaces, and compare the model's replies with
    /// the real ones, semantic fields only. Needs root (CAP_NET_ADMIN).
    ///
    /// Exit status: 0 every replayed conversation matched, 1 some did not,
    /// 2 error.
    ///
    /// Example: harness onwire --format json out/reference/icmp-conversation
    Onwire(onwire::OnwireArgs),
}

/// Arguments of `harness import-answers`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The corpus: JSON Lines, one answer per line (`model`, `protocol`,
    /// `mode`, `dialect`, `summary`, `completion`, `usage`, …).
    #[arg(value_name = "CORPUS_JSONL", default_value = crate::matrix::replay::DEFAULT_CORPUS)]
    pub corpus: PathBuf,
    /// Folder to write (replaced if it holds an earlier import).
    #[arg(long, value_name = "DIR", default_value = crate::matrix::replay::DEFAULT_DIR)]
    pub out: PathBuf,
}

/// Which rules `harness check` applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Rules {
    /// The harness's own checks (and tshark): DESIGN.md's success rate.
    Harness,
    /// An exact emulation of the paper's evaluation notebook, quirks
    /// included (see README, "Reproducing the paper").
    Paper,
}

/// Output formats of `harness paper`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PaperFormat {
    /// Aligned text tables.
    Table,
    /// Markdown tables.
    Md,
    /// One JSON document with every table.
    Json,
}

/// Arguments of `harness paper`.
#[derive(Debug, clap::Args)]
pub struct PaperArgs {
    /// The model's folder (its name labels the model).
    #[arg(long = "from", value_name = "DIR")]
    pub from: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PaperFormat::Table)]
    pub format: PaperFormat,
    #[command(flatten)]
    pub tshark: TsharkArgs,
}

/// `harness wireshark` subcommands.
#[derive(Debug, Subcommand)]
pub enum WiresharkCommand {
    /// Write harness.lua into DIR (default: Wireshark's personal Lua plug-in
    /// folder, from `tshark -G folders`) and print its path.
    ///
    /// Then open a capture written by `harness check --annotate OUT.pcapng`:
    /// its findings appear under "Harness findings", in Expert Info, and in
    /// display filters such as harness.check == "tcp.bad_ack".
    Install {
        /// Folder to write the plug-in to.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// tshark binary used to find the default folder.
        #[arg(long, value_name = "PATH", default_value = "tshark")]
        tshark_path: PathBuf,
    },
}

/// Output formats of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned tables and the findings at warn or above.
    Table,
    /// The JSON document of DESIGN.md (every finding).
    Json,
    /// Markdown tables.
    Md,
    /// One CSV row per file and protocol.
    Csv,
}

impl Format {
    /// The reporter of this format; `all_findings` lifts the table's limit
    /// of 20 findings per file.
    pub fn reporter(self, all_findings: bool) -> Box<dyn crate::report::Reporter> {
        use crate::report::{Csv, Json, Markdown, Table};
        match self {
            Format::Table => Box::new(Table { max_findings: if all_findings { usize::MAX } else { 20 } }),
            Format::Json => Box::new(Json),
            Format::Md => Box::new(Markdown),
            Format::Csv => Box::new(Csv),
        }
    }
}

/// Output format of `harness matrix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MatrixFormat {
    /// Tables for the terminal.
    Table,
    /// Markdown.
    Md,
    /// The JSON contract (`{"cells": [...]}`).
    Json,
    /// One row per cell and protocol.
    Csv,
    /// JUnit XML, one test case per cell.
    Junit,
    /// One self-contained HTML page with charts (also written as
    /// `report.html` in the output folder).
    Html,
}

/// Options shared by `generate` and `matrix`.
#[derive(Debug, clap::Args)]
pub struct RunOptions {
    /// Folder of the suites (`*.toml`) [default: the built-in suites, a copy
    /// of the repository's harness/suites].
    #[arg(long, value_name = "DIR")]
    pub suites_dir: Option<PathBuf>,
    /// Folder of the prompt templates [default: the built-in prompts, a
    /// copy of the repository's prompts/].
    #[arg(long, value_name = "DIR")]
    pub prompts: Option<PathBuf>,
    #[command(flatten)]
    pub tshark: TsharkArgs,
    /// Python interpreter with Scapy.
    #[arg(long, default_value = "python3", value_name = "PATH")]
    pub python: PathBuf,
    /// Scapy workers side by side.
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub workers: usize,
    /// Keep the traces already journaled in the output folder.
    #[arg(long)]
    pub resume: bool,
}

/// Where the answers of registry models come from.
#[derive(Debug, clap::Args)]
pub struct ModelSource {
    /// Answer live models only from their cassettes (the default; needs no
    /// key; a miss says which prompt changed and how to re-record).
    #[arg(long, conflicts_with_all = ["record", "live"])]
    pub offline: bool,
    /// Call live models for answers missing from their cassettes and
    /// append them (errors are never recorded).
    #[arg(long, conflicts_with = "live")]
    pub record: bool,
    /// Call live models for every answer; write no cassette.
    #[arg(long)]
    pub live: bool,
    /// The model registry [default: the built-in registry, a copy of the
    /// repository's harness/models.toml].
    #[arg(long, value_name = "FILE")]
    pub registry: Option<PathBuf>,
    /// Folder of the cassettes (one JSON Lines file per model).
    #[arg(long, default_value = DEFAULT_CASSETTES, value_name = "DIR")]
    pub cassettes: PathBuf,
}

/// Arguments of `harness generate`.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Model id (`reference`, `mutant:<fault>`, or an id of the registry).
    #[arg(long, value_name = "ID")]
    pub model: String,
    /// Where registry models' answers come from.
    #[command(flatten)]
    pub source: ModelSource,
    /// Suite name (a file in --suites-dir).
    #[arg(long, value_name = "NAME")]
    pub suite: String,
    /// Summaries to draw instead of the suite's count.
    #[arg(long, value_name = "N")]
    pub count: Option<usize>,
    /// Generator seed instead of the suite's.
    #[arg(long, value_name = "K")]
    pub seed: Option<u64>,
    /// Output folder: one PCAP per trace, the journal, report.json. Cells
    /// of other models and suites may share it; a folder holding another
    /// command's run is refused (see --force).
    #[arg(long = "out", short_alias = 'o', value_name = "DIR")]
    pub out: PathBuf,
    /// Replace --out when it holds another command's run (a matrix run):
    /// the whole folder.
    #[arg(long)]
    pub force: bool,
    /// Shared options.
    #[command(flatten)]
    pub run: RunOptions,
}

/// Arguments of `harness merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The --out folders (or their report.json) of the shards.
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = MatrixFormat::Table)]
    pub format: MatrixFormat,
    /// Also write the merged report.json into this folder (empty, or an
    /// earlier merge's; another run's folder is refused, see --force).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Replace --out when it holds another run (a shard, a matrix run): the
    /// whole folder.
    #[arg(long)]
    pub force: bool,
}

/// Arguments of `harness export-finetune`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Output folders of `harness generate` or `harness matrix`.
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// The JSON Lines file to write (`-` for standard output).
    #[arg(short = 'o', long = "output", alias = "out", value_name = "FILE")]
    pub out: PathBuf,
    /// Folder of the prompt templates the runs used [default: the built-in
    /// prompts].
    #[arg(long, value_name = "DIR")]
    pub prompts: Option<PathBuf>,
}

/// Arguments of `harness matrix`.
#[derive(Debug, clap::Args)]
pub struct MatrixArgs {
    /// `all`, or model ids separated by commas.
    #[arg(long, default_value = "all", value_name = "LIST")]
    pub models: String,
    /// `all`, or suite names separated by commas.
    #[arg(long, default_value = "all", value_name = "LIST")]
    pub suites: String,
    /// Output folder (cells, journals, PCAPs, report files, run.json). A
    /// folder holding another run is refused (see --force).
    #[arg(long, default_value = "target/matrix", value_name = "DIR")]
    pub out: PathBuf,
    /// Replace --out when it holds another run: the whole folder, its old
    /// cells included.
    #[arg(long)]
    pub force: bool,
    /// Run only shard I of N (cells I, I+N, …, in run order); put the shards
    /// back together with `harness merge`.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Cells run at a time (default: the machine's cores). The report is
    /// the same for every N; a provider's `concurrency` still bounds the
    /// requests in flight to it across cells.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub jobs: Option<u64>,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = MatrixFormat::Table)]
    pub format: MatrixFormat,
    /// After the cells run, replay every conversation capture against real
    /// network stacks in private namespaces, as `harness onwire` does, and
    /// show per model and cell the conversations they reproduce (the "on
    /// the wire" column; `onwire` per cell in JSON). Packet suites are not
    /// replayed. Needs root (CAP_NET_ADMIN); without it the run stops
    /// before any model runs.
    #[arg(long)]
    pub onwire: bool,
    /// Where registry models' answers come from.
    #[command(flatten)]
    pub source: ModelSource,
    /// With --record: send the requests the cassettes lack through the
    /// providers' batch APIs (OpenAI-compatible, Anthropic; about half the
    /// price, hours of turnaround) instead of one call each. The batch ids
    /// are kept in --out/batches.json; run the same command with --resume
    /// to poll them. When every batch has ended, the answers are in the
    /// cassettes and the run goes on offline; until then it exits with 2.
    #[arg(long, requires = "record")]
    pub batch: bool,
    /// Folder of `harness import-answers`: its `corpus:…` models replay
    /// real answers on their own suites (`--models all` includes them).
    #[arg(long, default_value = crate::matrix::replay::DEFAULT_DIR, value_name = "DIR")]
    pub corpus_cassettes: PathBuf,
    /// The corpus of published answers that a run of `corpus:` models
    /// (`--models all` included) imports into --corpus-cassettes first when
    /// that folder holds no import of it, or an outdated one; a folder
    /// holding another corpus's import is kept. A missing file imports
    /// nothing.
    #[arg(long, default_value = crate::matrix::replay::DEFAULT_CORPUS, value_name = "FILE")]
    pub corpus: PathBuf,
    /// Shared options.
    #[command(flatten)]
    pub run: RunOptions,
}

/// When to ask tshark for its Expert Info.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TsharkMode {
    /// Own checks only.
    Off,
    /// Use tshark when it is installed, say so when it is not.
    Auto,
    /// Require tshark; fail (exit 2) without it.
    On,
}

/// The tshark flags of `check`, `matrix` and `paper`.
#[derive(Debug, Clone, clap::Args)]
pub struct TsharkArgs {
    /// Whether to run tshark's Expert Info next to the own checks (for
    /// `paper`: whether it joins the notebook's rules and fills the
    /// Wireshark rows of the W-E tables).
    #[arg(long = "tshark", value_enum, default_value_t = TsharkMode::Auto)]
    pub mode: TsharkMode,
    /// tshark binary to use instead of the one on PATH.
    #[arg(long = "tshark-path", value_name = "PATH")]
    pub path: Option<PathBuf>,
}

impl TsharkArgs {
    /// The tshark these flags ask for: none when off; the one at `--tshark-path`
    /// (or on PATH) when on, failing without it; when auto, that one if it
    /// can be found, else none with a note on stderr.
    ///
    /// # Errors
    /// `--tshark on` and no usable tshark.
    pub fn open(&self) -> anyhow::Result<Option<crate::tshark::Tshark>> {
        use crate::tshark::Tshark;
        Ok(match self.mode {
            TsharkMode::Off => None,
            TsharkMode::Auto => match Tshark::locate(self.path.as_deref()) {
                Ok(tshark) => Some(tshark),
                Err(error) => {
                    eprintln!("harness: note: {error}; own checks only (--tshark off silences this)");
                    None
                }
            },
            TsharkMode::On => Some(Tshark::locate(self.path.as_deref())?),
        })
    }
}

/// Arguments of `harness check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Captures to check (PCAP or pcapng), or folders of them; `-` reads
    /// one capture from standard input.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    #[command(flatten)]
    pub tshark: TsharkArgs,
    /// Most flows tracked at once by the stateful checks (memory bound).
    #[arg(long, default_value_t = 65_536, value_name = "N")]
    pub max_flows: usize,
    /// Threads to check with (default: the number of cores): several files
    /// are checked side by side, one capture on two threads. The report is
    /// the same whatever N; `1` checks on one thread.
    #[arg(long, value_name = "N")]
    pub jobs: Option<std::num::NonZeroUsize>,
    /// How checksums are judged. `offload-aware`: a TCP/UDP checksum of 0
    /// or equal to the pseudo-header partial sum, an IPv4 header checksum
    /// of 0 and an IPv4 total length of 0 (what a capture on the sending
    /// host shows before the NIC fills them in) are notes, not errors, and
    /// tshark's checksum validation is off, as in Wireshark's defaults;
    /// `strict`: every wrong checksum is an error (tshark validates too);
    /// `off`: not verified. Captures written by `harness generate`/`matrix`
    /// (with their sidecar) are always judged strictly: nothing offloads
    /// their checksums.
    #[arg(long, value_enum, default_value_t = ChecksumArg::OffloadAware, value_name = "RULE")]
    pub checksums: ChecksumArg,
    /// List every finding in the table output, not just the first 20.
    #[arg(long)]
    pub all_findings: bool,
    /// Also write a pcapng copy of FILE with each own finding attached to
    /// its packet as a comment, for Wireshark with the harness plug-in
    /// (`harness wireshark install`). Needs exactly one FILE.
    #[arg(long, value_name = "OUT.pcapng")]
    pub annotate: Option<PathBuf>,
    /// `harness`: the own checks; `paper`: the paper's notebook, emulated
    /// (each FILE is one run of its evaluation cell, in order: like the
    /// notebook, the packet total and the non-existent counters carry over).
    #[arg(long, value_enum, default_value_t = Rules::Harness)]
    pub rules: Rules,
}

/// The values of `harness check --checksums` (see [`crate::check::Checksums`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ChecksumArg {
    /// Every wrong checksum is an error.
    Strict,
    /// Checksums left for offload (0, the pseudo-header sum) are notes.
    OffloadAware,
    /// Checksums are not verified.
    Off,
}

impl From<ChecksumArg> for crate::check::Checksums {
    fn from(arg: ChecksumArg) -> Self {
        match arg {
            ChecksumArg::Strict => crate::check::Checksums::Strict,
            ChecksumArg::OffloadAware => crate::check::Checksums::OffloadAware,
            ChecksumArg::Off => crate::check::Checksums::Off,
        }
    }
}

/// Output formats of `harness exec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExecFormat {
    /// One line per answer.
    Text,
    /// The JSON document of DESIGN.md.
    Json,
}

/// Dialects `harness exec` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DialectArg {
    /// Python/Scapy code.
    Scapy,
    /// The JSON packet list.
    Json,
}

/// Arguments of `harness exec`.
#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// One answer (the model's text as it came).
    #[arg(value_name = "ANSWER_FILE", conflicts_with = "jsonl")]
    pub answer: Option<PathBuf>,
    /// Where to write the PCAP of ANSWER_FILE.
    #[arg(short, long, value_name = "OUT.pcap")]
    pub output: Option<PathBuf>,
    /// Many answers, one JSON object per line: `completion` (required),
    /// `id`, `dialect` (scapy | json).
    #[arg(long, value_name = "ANSWERS.jsonl")]
    pub jsonl: Option<PathBuf>,
    /// Folder for the PCAPs of --jsonl (`<id>.pcap`).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Dialect of answers that do not say.
    #[arg(long, value_enum, default_value_t = DialectArg::Scapy)]
    pub dialect: DialectArg,
    /// Seed of `random` in every answer (same answer + same seed = same PCAP).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Python interpreter with Scapy.
    #[arg(long, default_value = "python3", value_name = "PATH")]
    pub python: PathBuf,
    /// Scapy workers run side by side.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// CPU seconds one answer may use.
    #[arg(long, default_value_t = 5.0, value_name = "S")]
    pub cpu_seconds: f64,
    /// `text`: one line per answer; `json`: `{"results": [...]}`.
    #[arg(long, value_enum, default_value_t = ExecFormat::Text)]
    pub format: ExecFormat,
}

/// Arguments of `harness convert`.
#[derive(Debug, clap::Args)]
pub struct ConvertArgs {
    /// The JSON trace (a list of packets, or {"packets": [...]}); `-` reads
    /// standard input.
    #[arg(value_name = "TRACE.json")]
    pub input: PathBuf,
    /// Where to write the PCAP (`-` for standard output).
    #[arg(short, long, value_name = "OUT.pcap")]
    pub output: PathBuf,
    /// Input dialect: `json` (seed 000's packet list, docs/json-dialect.md)
    /// or `ntg` (LLM-NTG's ZigBee summary rows, docs/ntg-dialect.md; writes
    /// IEEE 802.15.4 frames without FCS).
    #[arg(long, value_enum, default_value_t = ConvertDialect::Json)]
    pub dialect: ConvertDialect,
    /// ntg only: `honor` sizes each frame to the row's `length` where its
    /// message type allows; `canonical` writes the fixed sizes of LLM-NTG's
    /// own converter.
    /// [default: honor]
    #[arg(long, value_enum)]
    pub lengths: Option<LengthsArg>,
    /// ntg only: also write the summary-fidelity findings as JSON here.
    #[arg(long, value_name = "FINDINGS.json")]
    pub findings: Option<PathBuf>,
}

/// Arguments of `harness compare`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// The generated capture (or a folder of them).
    #[arg(value_name = "GENERATED")]
    pub generated: PathBuf,
    /// The real capture (or a folder of them).
    #[arg(value_name = "REAL")]
    pub real: PathBuf,
    /// More generated captures.
    #[arg(long = "also-generated", value_name = "FILE")]
    pub more_generated: Vec<PathBuf>,
    /// More real captures.
    #[arg(long = "also-real", value_name = "FILE")]
    pub more_real: Vec<PathBuf>,
    /// Output format on standard output.
    #[arg(long, value_enum, default_value_t = CompareFormat::Table)]
    pub format: CompareFormat,
    /// Also write the HTML page with the distributions overlaid.
    #[arg(long, value_name = "OUT.html")]
    pub html: Option<PathBuf>,
}

/// Output formats of `harness compare`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompareFormat {
    /// Aligned tables.
    Table,
    /// Markdown tables.
    Md,
    /// The report as JSON.
    Json,
}

/// Dialects `harness convert` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConvertDialect {
    /// The JSON packet list.
    Json,
    /// LLM-NTG's ZigBee summary list.
    Ntg,
}

/// How `convert --dialect ntg` treats lengths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LengthsArg {
    /// Size frames to the requested length where possible.
    Honor,
    /// Fixed sizes, as LLM-NTG's converter wrote them.
    Canonical,
}

/// Run the parsed command line and return the exit status.
///
/// # Errors
/// Anything that stops the command from running at all (exit status 2).
pub fn run(args: Args) -> anyhow::Result<u8> {
    progress::set_quiet(args.quiet);
    match args.command {
        Command::Check(check) => check::run(&check),
        Command::Compare(compare) => compare::run(&compare),
        Command::Convert(convert) => convert::run(&convert),
        Command::Exec(exec) => exec::run(&exec),
        Command::Wireshark(command) => wireshark::run(&command),
        Command::Generate(generate) => matrix::generate(&generate),
        Command::Matrix(m) => matrix::run(&m),
        Command::ExportFinetune(e) => matrix::export_finetune(&e),
        Command::Merge(m) => matrix::merge(&m),
        Command::Paper(paper) => paper::run(&paper),
        Command::ImportAnswers(import) => import::run(&import),
        Command::Onwire(args) => onwire::run(&args),
    }
}

/// The message of `error` for the user: its chain of causes joined by
/// ": ", each said once (a cause whose text an outer message already holds
/// is left out, so an I/O error is not repeated).
pub fn error_message(error: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if text.is_empty() || out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}
