//! Answer → trace, once for every command (`harness exec`, the matrix):
//! extract the code or JSON from each answer, run the Scapy answers
//! together in the sandboxed pool, build the JSON ones here, and give each
//! answer its trace or the typed reason it has none ([`ExecStatus`]), with
//! the quirks of its form.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::extract::{extract, AnswerFinding, Dialect, Extracted};
use super::json;
use super::scapy::{to_trace, Job, Outcome, ScapyPool};
use crate::pcap::Trace;

/// Why an answer gave no trace: the class written in reports and journals
/// (`exec.<class>` among a trace's answer checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecStatus {
    /// The answer holds no code.
    Empty,
    /// The JSON packet list is broken or invalid.
    Json,
    /// Python could not parse the code.
    Syntax,
    /// The code used a name that does not exist.
    Name,
    /// The code raised (Scapy or Python) while building packets, or its
    /// packets could not be turned into a trace.
    Scapy,
    /// The code did something the sandbox forbids.
    Forbidden,
    /// The code ran out of CPU or wall-clock time.
    Timeout,
    /// The code hit a memory, size or nesting limit.
    Limit,
    /// The code built no packets.
    NoPackets,
    /// The worker failed (a harness bug or a broken result).
    Internal,
    /// The `ntg` table is broken or cannot be built (LLM-NTG cells).
    Ntg,
}

impl ExecStatus {
    /// Return the class name (`no_packets`).
    pub fn as_str(self) -> &'static str {
        match self {
            ExecStatus::Empty => "empty",
            ExecStatus::Json => "json",
            ExecStatus::Syntax => "syntax",
            ExecStatus::Name => "name",
            ExecStatus::Scapy => "scapy",
            ExecStatus::Forbidden => "forbidden",
            ExecStatus::Timeout => "timeout",
            ExecStatus::Limit => "limit",
            ExecStatus::NoPackets => "no_packets",
            ExecStatus::Internal => "internal",
            ExecStatus::Ntg => "ntg",
        }
    }

    /// Every class, in declaration order.
    pub const ALL: [ExecStatus; 11] = [
        ExecStatus::Empty,
        ExecStatus::Json,
        ExecStatus::Syntax,
        ExecStatus::Name,
        ExecStatus::Scapy,
        ExecStatus::Forbidden,
        ExecStatus::Timeout,
        ExecStatus::Limit,
        ExecStatus::NoPackets,
        ExecStatus::Internal,
        ExecStatus::Ntg,
    ];

    /// Return the class of a Scapy worker's status (anything it should not
    /// say is `internal`).
    fn of_worker(status: &str) -> ExecStatus {
        match status {
            "syntax" => ExecStatus::Syntax,
            "name" => ExecStatus::Name,
            "scapy" => ExecStatus::Scapy,
            "forbidden" => ExecStatus::Forbidden,
            "timeout" => ExecStatus::Timeout,
            "limit" => ExecStatus::Limit,
            "no_packets" => ExecStatus::NoPackets,
            _ => ExecStatus::Internal,
        }
    }
}

impl std::fmt::Display for ExecStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An answer without a trace: the class and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecFailure {
    /// The class.
    pub status: ExecStatus,
    /// What went wrong, for people.
    pub message: String,
}

/// One answer to turn into a trace.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The model's whole answer.
    pub answer: &'a str,
    /// What it is written in.
    pub dialect: Dialect,
    /// Seed of `random` and Scapy's volatile fields (Scapy answers).
    pub seed: u64,
}

/// What one answer gave.
#[derive(Debug, Clone)]
pub struct Built {
    /// The trace, or why there is none.
    pub trace: Result<Trace, ExecFailure>,
    /// Quirks of the answer's form: extraction's, then the Scapy worker's.
    pub findings: Vec<AnswerFinding>,
}

/// The pool was needed and not given.
#[derive(Debug, Error)]
#[error("Scapy answers need the Scapy pool, and none was started")]
pub struct NoScapy;

/// Answers extracted and waiting to be built: [`Prepared::needs_scapy`]
/// says whether a pool must be started first.
#[derive(Debug)]
pub struct Prepared<'a> {
    inputs: &'a [Input<'a>],
    extracted: Vec<Extracted>,
}

/// Extract the code or JSON of every answer.
pub fn prepare<'a>(inputs: &'a [Input<'a>]) -> Prepared<'a> {
    Prepared { inputs, extracted: inputs.iter().map(|i| extract(i.answer, i.dialect)).collect() }
}

impl Prepared<'_> {
    /// Whether some answer is Scapy code to run.
    pub fn needs_scapy(&self) -> bool {
        self.scapy_jobs(0.0).next().is_some()
    }

    /// The Scapy jobs, with the index of their answer as id.
    fn scapy_jobs(&self, cpu_s: f64) -> impl Iterator<Item = Job> + '_ {
        self.inputs
            .iter()
            .zip(&self.extracted)
            .enumerate()
            .filter(|(_, (input, extracted))| input.dialect == Dialect::Scapy && !extracted.text.trim().is_empty())
            .map(move |(index, (input, extracted))| Job {
                id: index.to_string(),
                code: extracted.text.clone(),
                seed: input.seed,
                cpu_s,
            })
    }

    /// Build every answer: the Scapy ones together in `pool` (each with
    /// `cpu_s` CPU seconds), the JSON ones here; one [`Built`] per input,
    /// in input order.
    ///
    /// # Errors
    /// [`NoScapy`] when some answer is Scapy code and `pool` is `None`.
    pub fn build(self, pool: Option<&ScapyPool>, cpu_s: f64) -> Result<Vec<Built>, NoScapy> {
        let jobs: Vec<Job> = self.scapy_jobs(cpu_s).collect();
        let mut outcomes: std::vec::IntoIter<Outcome> =
            if jobs.is_empty() { Vec::new().into_iter() } else { pool.ok_or(NoScapy)?.run_all(&jobs).into_iter() };
        let built = self
            .inputs
            .iter()
            .zip(self.extracted)
            .map(|(input, extracted)| {
                let Extracted { text, mut findings } = extracted;
                let fail = |status, message: &str| Err(ExecFailure { status, message: message.to_string() });
                let trace = if text.trim().is_empty() {
                    fail(ExecStatus::Empty, "the answer holds no code")
                } else {
                    match input.dialect {
                        Dialect::Json => json::build(&text).or_else(|e| fail(ExecStatus::Json, &e.to_string())),
                        Dialect::Scapy => {
                            let outcome = outcomes.next().expect("one outcome per Scapy job");
                            findings.extend(outcome.findings.iter().cloned());
                            if outcome.status == "ok" {
                                to_trace(&outcome).or_else(|e| fail(ExecStatus::Scapy, &e))
                            } else {
                                fail(ExecStatus::of_worker(&outcome.status), &outcome.message)
                            }
                        }
                    }
                };
                Built { trace, findings }
            })
            .collect();
        Ok(built)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_answers_build_without_a_pool() {
        let answers = [
            Input { answer: "```json\n[{\"protocol\": \"ICMP\", \"src_ip\": \"10.0.0.1\", \"dst_ip\": \"10.0.0.2\", \"timestamp\": 0, \"icmp\": {\"type\": 8}}]\n```", dialect: Dialect::Json, seed: 0 },
            Input { answer: "no code here", dialect: Dialect::Json, seed: 0 },
            Input { answer: "", dialect: Dialect::Json, seed: 0 },
        ];
        let prepared = prepare(&answers);
        assert!(!prepared.needs_scapy());
        let built = prepared.build(None, 1.0).unwrap();
        assert_eq!(built.len(), 3);
        assert_eq!(built[0].trace.as_ref().unwrap().packets.len(), 1);
        assert_eq!(built[0].findings.iter().map(|f| f.check.as_str()).collect::<Vec<_>>(), ["answer.fenced"]);
        assert_eq!(built[1].trace.as_ref().unwrap_err().status, ExecStatus::Json);
        assert_eq!(built[2].trace.as_ref().unwrap_err().status, ExecStatus::Empty);
    }

    #[test]
    fn scapy_answers_need_the_pool() {
        let answers = [
            Input { answer: "", dialect: Dialect::Scapy, seed: 0 },
            Input { answer: "pkts = [IP()/ICMP()]", dialect: Dialect::Scapy, seed: 0 },
        ];
        let prepared = prepare(&answers);
        assert!(prepared.needs_scapy());
        assert!(prepared.build(None, 1.0).is_err());
        // Empty Scapy answers need no pool.
        let empty = [Input { answer: "  ", dialect: Dialect::Scapy, seed: 0 }];
        let built = prepare(&empty).build(None, 1.0).unwrap();
        assert_eq!(built[0].trace.as_ref().unwrap_err().status, ExecStatus::Empty);
    }

    #[test]
    fn worker_statuses_are_typed() {
        for status in ["syntax", "name", "scapy", "forbidden", "timeout", "limit", "no_packets", "internal"] {
            assert_eq!(ExecStatus::of_worker(status).as_str(), status);
        }
        assert_eq!(ExecStatus::of_worker("ok?"), ExecStatus::Internal);
        assert_eq!(serde_json::to_string(&ExecStatus::NoPackets).unwrap(), "\"no_packets\"");
    }
}
