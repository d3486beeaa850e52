//! Suites: what to generate (`harness/suites/*.toml`).
//!
//! ```toml
//! name = "http-conversation"      # defaults to the file stem
//! protocol = "http"               # icmp | arp | dns | http | tcp | day
//! mode = "conversation"           # packet | conversation
//! dialect = "scapy"               # scapy | json
//! count = 8                       # summaries drawn
//! seed = 1                        # generator seed
//! # summaries = "path/to/lines.txt"  # read summary lines instead (relative to the file)
//! # reference_capture = "real.pcap"  # realism metrics of the cell's traces against it
//! description = "…"
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::exec::extract::Dialect;
use crate::model::Request;
use crate::prompt::Prompt;
use crate::scenario::expect::Expectation;
use crate::scenario::generate::generate;
use crate::scenario::{Mode, Scenario, SuiteProtocol};

/// Why a suite cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    /// Unreadable file.
    #[error("cannot read suite {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not a valid suite.
    #[error("suite {path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// The dialect name in a suite file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DialectName {
    /// Scapy code.
    Scapy,
    /// JSON packet list.
    Json,
    /// LLM-NTG's summary rows (ZigBee suites).
    Ntg,
}

impl From<DialectName> for Dialect {
    fn from(d: DialectName) -> Dialect {
        match d {
            DialectName::Scapy => Dialect::Scapy,
            DialectName::Json | DialectName::Ntg => Dialect::Json,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SuiteFile {
    name: Option<String>,
    protocol: SuiteProtocol,
    mode: Mode,
    dialect: DialectName,
    #[serde(default = "default_count")]
    count: usize,
    #[serde(default = "default_seed")]
    seed: u64,
    summaries: Option<PathBuf>,
    description: Option<String>,
    reference_capture: Option<PathBuf>,
    experiment: Option<String>,
    sample: Option<PathBuf>,
    minutes: Option<u32>,
}

fn default_count() -> usize {
    8
}

fn default_seed() -> u64 {
    1
}

/// One suite.
#[derive(Debug, Clone, PartialEq)]
pub struct Suite {
    /// Its name (unique within a run).
    pub name: String,
    /// Protocol.
    pub protocol: SuiteProtocol,
    /// Packet or conversation.
    pub mode: Mode,
    /// Answer dialect.
    pub dialect: Dialect,
    /// Summaries to draw (a cap when they come from a file).
    pub count: usize,
    /// Generator seed.
    pub seed: u64,
    /// A file of summary lines to use instead of the generator.
    pub summaries: Option<PathBuf>,
    /// What the suite is for.
    pub description: String,
    /// A real capture (or folder of captures) the cell's traces are
    /// compared with for realism (`harness compare`'s metrics).
    pub reference_capture: Option<PathBuf>,
    /// For ZigBee suites: the LLM-NTG experiment reproduced.
    pub ntg: Option<super::ntg::NtgSpec>,
}

/// One summary of a suite: its text and, when it can be read, its
/// scenario (which gives the expectation).
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// 0-based index in the suite.
    pub index: usize,
    /// The summary line.
    pub text: String,
    /// The parsed summary; `None` for a line the parser cannot read (the
    /// trace is then judged without an expectation).
    pub scenario: Option<Scenario>,
    /// The further packets of a packet-mode summary that names several
    /// independent packets (each judged against its own line).
    pub more: Vec<Scenario>,
}

impl Item {
    /// Return what the summary asks for: one digest per packet of every
    /// scenario, or `None` when the summary cannot be read.
    pub fn expectation(&self) -> Option<Expectation> {
        let first = self.scenario.as_ref()?;
        Some(crate::model::expect::of_all(std::iter::once(first).chain(&self.more)))
    }
}

impl Suite {
    /// Read one suite file.
    ///
    /// # Errors
    /// Unreadable or invalid TOML, unknown fields, a packet-mode TCP or
    /// day suite.
    pub fn load(path: &Path) -> Result<Suite, SuiteError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| SuiteError::Read { path: path.display().to_string(), source })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Suite::parse(&path.display().to_string(), path, &text, base)
    }

    /// Parse suite text: `label` names it in messages, `path`'s stem is the
    /// default name, and relative paths in it are resolved against `base`.
    ///
    /// # Errors
    /// As [`Suite::load`], without the I/O error.
    pub fn parse(label: &str, path: &Path, text: &str, base: &Path) -> Result<Suite, SuiteError> {
        let invalid = |message: String| SuiteError::Invalid { path: label.to_string(), message };
        let file: SuiteFile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        if matches!(file.protocol, SuiteProtocol::Tcp | SuiteProtocol::Day) && file.mode == Mode::Packet {
            return Err(invalid(format!("{} has conversation summaries only", file.protocol)));
        }
        let ntg = match (file.protocol, file.dialect) {
            (SuiteProtocol::Zigbee, DialectName::Ntg) => {
                let experiment = file
                    .experiment
                    .clone()
                    .ok_or_else(|| invalid("a ZigBee suite needs experiment = \"one_way\" or \"two_way\"".into()))?;
                let sample = file
                    .sample
                    .clone()
                    .ok_or_else(|| invalid("a ZigBee suite needs sample = \"real rows.json\"".into()))?;
                Some(super::ntg::NtgSpec { experiment, sample: base.join(sample), minutes: file.minutes.unwrap_or(10) })
            }
            (SuiteProtocol::Zigbee, _) | (_, DialectName::Ntg) => {
                return Err(invalid("protocol zigbee goes with dialect ntg, and only with it".into()))
            }
            _ => None,
        };
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        Ok(Suite {
            name: file.name.unwrap_or(stem),
            protocol: file.protocol,
            mode: file.mode,
            dialect: file.dialect.into(),
            count: file.count,
            seed: file.seed,
            summaries: file.summaries.map(|p| base.join(p)),
            description: file.description.unwrap_or_default(),
            reference_capture: file.reference_capture.map(|p| base.join(p)),
            ntg,
        })
    }

    /// The files this suite reads that are not there (summary lines, an
    /// LLM-NTG sample, a reference capture), each with what it is for.
    pub fn missing_inputs(&self) -> Vec<(&'static str, &Path)> {
        let mut out = Vec::new();
        let inputs = [
            ("summaries", self.summaries.as_deref()),
            ("sample", self.ntg.as_ref().map(|n| n.sample.as_path())),
            ("reference_capture", self.reference_capture.as_deref()),
        ];
        for (what, path) in inputs {
            if let Some(path) = path {
                if !path.exists() {
                    out.push((what, path));
                }
            }
        }
        out
    }

    /// Every `*.toml` suite in `dir`, sorted by name.
    ///
    /// # Errors
    /// An unreadable directory or any invalid suite; duplicate names.
    pub fn load_dir(dir: &Path) -> Result<Vec<Suite>, SuiteError> {
        let read =
            std::fs::read_dir(dir).map_err(|source| SuiteError::Read { path: dir.display().to_string(), source })?;
        let mut paths: Vec<PathBuf> = read
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        paths.sort();
        let mut suites = paths.iter().map(|p| Suite::load(p)).collect::<Result<Vec<_>, _>>()?;
        suites.sort_by(|a, b| a.name.cmp(&b.name));
        if let Some(w) = suites.windows(2).find(|w| w[0].name == w[1].name) {
            return Err(SuiteError::Invalid {
                path: dir.display().to_string(),
                message: format!("two suites are named {}", w[0].name),
            });
        }
        Ok(suites)
    }

    /// A suite built in code (tests, `harness generate` without a file).
    pub fn built(protocol: SuiteProtocol, mode: Mode, dialect: Dialect, count: usize, seed: u64) -> Suite {
        let d = if dialect == Dialect::Json { "json" } else { "scapy" };
        Suite {
            name: format!("{}-{}-{d}", protocol.name(), mode.name()),
            protocol,
            mode,
            dialect,
            count,
            seed,
            summaries: None,
            description: String::new(),
            reference_capture: None,
            ntg: None,
        }
    }

    /// Return the model request for `item` of this suite with its rendered
    /// `prompt`.
    pub fn request<'a>(&self, item: &'a Item, prompt: &'a Prompt) -> Request<'a> {
        Request {
            index: item.index,
            summary: &item.text,
            scenario: item.scenario.as_ref(),
            system: &prompt.system,
            user: &prompt.user,
            prompt_version: &prompt.version,
            dialect: self.dialect,
            protocol: self.protocol,
            mode: self.mode,
        }
    }

    /// Return the requests of this suite for `items`, each with its prompt
    /// (`prompts` in the same order).
    pub fn requests<'a>(&self, items: impl IntoIterator<Item = &'a Item>, prompts: &'a [Prompt]) -> Vec<Request<'a>> {
        items.into_iter().zip(prompts).map(|(item, prompt)| self.request(item, prompt)).collect()
    }

    /// The suite's summaries.
    ///
    /// # Errors
    /// An unreadable summaries file.
    pub fn items(&self) -> Result<Vec<Item>, SuiteError> {
        match &self.summaries {
            None => Ok(generate(self.protocol, self.mode, self.seed, self.count)
                .into_iter()
                .enumerate()
                .map(|(index, s)| Item { index, text: s.to_string(), scenario: Some(s), more: Vec::new() })
                .collect()),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| SuiteError::Read { path: path.display().to_string(), source })?;
                Ok(text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .take(self.count)
                    .enumerate()
                    .map(|(index, line)| {
                        let mut scenarios = crate::model::expect::parse_all(self.protocol, self.mode, line)
                            .unwrap_or_default()
                            .into_iter();
                        Item { index, text: line.to_string(), scenario: scenarios.next(), more: scenarios.collect() }
                    })
                    .collect())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_suites_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("harness/suites");
        let suites = Suite::load_dir(&dir).unwrap();
        assert!(suites.len() >= 10);
        for s in &suites {
            assert!(!s.items().unwrap().is_empty(), "{}", s.name);
        }
    }

    #[test]
    fn file_summaries_read_the_paper_lines() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("lines.txt"), "# comment\nSource: IP=\"1.2.3.4\" // Destination: IP=\"5.6.7.8\" // Others: id=0x1 seq= 2 type=Echo\nnot a summary\n").unwrap();
        std::fs::write(
            dir.path().join("s.toml"),
            "protocol = \"icmp\"\nmode = \"conversation\"\ndialect = \"scapy\"\nsummaries = \"lines.txt\"\n",
        )
        .unwrap();
        let suite = Suite::load(&dir.path().join("s.toml")).unwrap();
        let items = suite.items().unwrap();
        assert_eq!(items.len(), 2);
        assert!(items[0].scenario.is_some() && items[1].scenario.is_none());
        let bad = dir.path().join("b.toml");
        std::fs::write(&bad, "protocol = \"tcp\"\nmode = \"packet\"\ndialect = \"json\"\n").unwrap();
        assert!(Suite::load(&bad).unwrap_err().to_string().contains("conversation summaries only"));
    }
}
