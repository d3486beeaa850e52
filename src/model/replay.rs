//! Replay models: answers recorded elsewhere (a corpus of real model
//! answers), replayed by the index of the summary they answer, never
//! regenerated. `harness import-answers` writes their cassettes (one
//! [`ReplayRecord`] per line) and suites; the matrix reads them back
//! (`matrix::replay`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::answerer::{Answer, AnswerError, Answerer, Request};
use super::Usage;
use crate::scenario::{Mode, SuiteProtocol};

/// One replayable answer: one line of a model's cassette.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayRecord {
    /// The model id (`corpus:…`).
    pub model: String,
    /// Its group's protocol.
    pub protocol: SuiteProtocol,
    /// Its group's mode.
    pub mode: Mode,
    /// 0-based index within the group: the summary line it answers.
    pub index: usize,
    /// `scapy`.
    pub dialect: String,
    /// The summary, on one line (as in the suite's summaries file).
    pub summary: String,
    /// The answer text, as recorded.
    pub completion: String,
    /// Whether the recorded text is the whole answer (`false`: a cut slice).
    pub complete: Option<bool>,
    /// Tokens, when recorded.
    pub usage: Option<Usage>,
    /// The provider's stop reason, when recorded.
    pub finish_reason: Option<String>,
    /// The answer's id in the corpus.
    pub source_id: String,
}

/// Recorded answers by (protocol, mode), in index order.
pub type Groups = BTreeMap<(SuiteProtocol, Mode), Vec<ReplayRecord>>;

/// A replay model: the recorded answer of each summary of its suites.
#[derive(Debug, Clone)]
pub struct Replay {
    id: String,
    answers: Groups,
}

impl Replay {
    /// The model `id` answering with `answers` (each group's records in
    /// index order: record `i` answers summary `i`).
    pub fn new(id: String, answers: Groups) -> Replay {
        Replay { id, answers }
    }

    /// The recorded answer to `request`.
    ///
    /// # Errors
    /// [`AnswerError::NotReplayed`] without an answer for the request's
    /// group and index, [`AnswerError::OtherSummary`] for one recorded for
    /// another summary (the suite and the cassette disagree).
    fn answer(&self, request: &Request<'_>) -> Result<Answer, AnswerError> {
        let index = request.index;
        let group = || format!("{} {}", request.protocol, request.mode.name());
        let record = self
            .answers
            .get(&(request.protocol, request.mode))
            .and_then(|records| records.get(index))
            .ok_or_else(|| AnswerError::NotReplayed { model: self.id.clone(), index, group: group() })?;
        if record.summary != request.summary {
            return Err(AnswerError::OtherSummary {
                model: self.id.clone(),
                index,
                group: group(),
                answer_id: record.source_id.clone(),
            });
        }
        Ok(Answer {
            text: record.completion.clone(),
            usage: record.usage,
            latency_ms: 0,
            cost_usd: None,
            finish_reason: record.finish_reason.clone(),
        })
    }
}

impl Answerer for Replay {
    fn answer_all(&self, requests: &[Request<'_>]) -> Vec<Result<Answer, AnswerError>> {
        requests.iter().map(|r| self.answer(r)).collect()
    }
}
