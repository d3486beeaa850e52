//! Answering: the [`Answerer`] trait every model implements, what it is
//! asked ([`Request`]), what it gives back ([`Answer`], [`Usage`]) and why
//! it may give nothing ([`AnswerError`]); and the two built-in answerers,
//! [`Reference`] and [`Mutant`].
//!
//! The registry's models answer through [`super::live::Live`], imported
//! answers through [`super::replay::Replay`]. Who asks (the matrix, which
//! schedules cells) is above this module: it turns its suites' summaries
//! and rendered prompts into requests.

use serde::{Deserialize, Serialize};

use super::batch::Pending;
use super::live::ModelError;
use super::mutant::Fault;
use crate::exec::extract::Dialect;
use crate::scenario::{Mode, Scenario, SuiteProtocol};

/// Token counts of one answer, as the provider reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens: those of the request.
    pub prompt_tokens: u64,
    /// Completion tokens: those of the answer.
    pub completion_tokens: u64,
}

/// A model's answer to one prompt.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Answer {
    /// The text.
    pub text: String,
    /// Tokens, when the provider reports them.
    pub usage: Option<Usage>,
    /// Time to answer.
    pub latency_ms: u64,
    /// Cost in US dollars, when prices are known.
    pub cost_usd: Option<f64>,
    /// The provider's stop reason (`stop`, `length`, …), when it says.
    pub finish_reason: Option<String>,
}

/// Return whether a provider's stop reason says the answer was cut at
/// `max_tokens`: `length` (OpenAI-compatible servers: OpenAI, llama.cpp,
/// vLLM, …), `max_tokens` (Anthropic), `MAX_TOKENS` (Gemini).
pub fn is_cut(finish_reason: &str) -> bool {
    matches!(finish_reason, "length" | "max_tokens" | "MAX_TOKENS")
}

/// One request to a model: one summary of a suite with its rendered
/// prompt.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The summary's 0-based index in its suite (a replay model picks its
    /// recorded answer by it).
    pub index: usize,
    /// The summary line.
    pub summary: &'a str,
    /// The parsed summary; `None` when it cannot be read (the built-in
    /// models then answer [`AnswerError::Unreadable`]).
    pub scenario: Option<&'a Scenario>,
    /// The prompt's system message.
    pub system: &'a str,
    /// The prompt's user message.
    pub user: &'a str,
    /// The prompt's version (a cassette keys its answers by it).
    pub prompt_version: &'a str,
    /// Dialect asked for.
    pub dialect: Dialect,
    /// The suite's protocol (a model may route it to an expert).
    pub protocol: SuiteProtocol,
    /// The suite's mode (a replay model picks its recorded answers by it).
    pub mode: Mode,
}

/// How a request that got no answer is journaled: the `status` of its
/// trace (see [`AnswerError::unanswered`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unanswered {
    /// The answer is not in an offline cassette: status `cassette`, a
    /// regression of the run (the cassette must be re-recorded).
    Cassette,
    /// A built-in model cannot read the summary (the summary's fault, not a
    /// failed request): status `unreadable`, a failed conversation.
    Unreadable,
    /// The request failed (the model never answered: a server down, a
    /// timeout, an HTTP error after the retries): status `request`, in no
    /// packet or conversation total and in no time per trace.
    Request,
}

impl Unanswered {
    /// Every kind, in declaration order.
    pub const ALL: [Unanswered; 3] = [Unanswered::Cassette, Unanswered::Unreadable, Unanswered::Request];

    /// Return the status name a trace journal holds (`cassette`,
    /// `unreadable`, `request`).
    pub const fn status(self) -> &'static str {
        match self {
            Unanswered::Cassette => "cassette",
            Unanswered::Unreadable => "unreadable",
            Unanswered::Request => "request",
        }
    }
}

/// The start of a cassette miss's message; [`AnswerError::miss_reason`]
/// takes it off again.
const CASSETTE_MISS: &str = "not in the cassette: ";

/// Why a model gave no answer to one request. Such an error is recorded
/// with the trace (its message), never cached.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    /// Offline (or a replay model) and the answer is not in the cassette;
    /// the text explains the miss (which prompt changed) and names the
    /// command that re-records it.
    #[error("{CASSETTE_MISS}{0}")]
    CassetteMiss(String),
    /// A built-in model cannot read the summary.
    #[error("unreadable summary: the {model} model cannot read summary {index}")]
    Unreadable {
        /// The model (`reference`, `mutant`).
        model: &'static str,
        /// The summary's index in its suite.
        index: usize,
    },
    /// A replay model has no recorded answer for the request: it replays
    /// its own suites only.
    #[error("{model} has no recorded answer {index} for {group}; it replays its own suites only")]
    NotReplayed {
        /// The model id.
        model: String,
        /// The summary's index in its suite.
        index: usize,
        /// The request's protocol and mode (`icmp conversation`).
        group: String,
    },
    /// A replay model's answer at the request's index was recorded for
    /// another summary: the suite and the cassette disagree.
    #[error("{model}: recorded answer {index} for {group} belongs to another summary ({answer_id}); run `harness import-answers` again")]
    OtherSummary {
        /// The model id.
        model: String,
        /// The summary's index in its suite.
        index: usize,
        /// The request's protocol and mode (`icmp conversation`).
        group: String,
        /// The recorded answer's id in the corpus.
        answer_id: String,
    },
    /// A registry model failed: the provider (after its retries), its
    /// cassette, or a batch that did not answer.
    #[error(transparent)]
    Model(ModelError),
}

impl From<ModelError> for AnswerError {
    /// A cassette miss ([`ModelError::NotRecorded`]) becomes
    /// [`AnswerError::CassetteMiss`], any other failure
    /// [`AnswerError::Model`].
    fn from(e: ModelError) -> AnswerError {
        match e {
            ModelError::NotRecorded(why) => AnswerError::CassetteMiss(why),
            e => AnswerError::Model(e),
        }
    }
}

impl AnswerError {
    /// Return how the trace of this failed request is journaled.
    pub fn unanswered(&self) -> Unanswered {
        match self {
            AnswerError::CassetteMiss(_) => Unanswered::Cassette,
            AnswerError::Unreadable { .. } => Unanswered::Unreadable,
            AnswerError::NotReplayed { .. } | AnswerError::OtherSummary { .. } | AnswerError::Model(_) => {
                Unanswered::Request
            }
        }
    }

    /// Return the reason of a cassette miss from its journaled message (the
    /// message of an [`AnswerError::CassetteMiss`]): why the answer is not in
    /// the cassette and the command that re-records it.
    pub fn miss_reason(message: &str) -> &str {
        message.strip_prefix(CASSETTE_MISS).unwrap_or(message)
    }
}

/// Where answers come from.
pub trait Answerer: Sync {
    /// Answer every request, in order; an `Err` is a request that got no
    /// answer (its message is recorded, never cached).
    fn answer_all(&self, requests: &[Request<'_>]) -> Vec<Result<Answer, AnswerError>>;

    /// Return the requests of `requests` this answerer would send to a
    /// provider because its cassette lacks them (`--record --batch`
    /// submits them as a batch first); none for answerers that call no
    /// provider.
    fn missing(&self, requests: &[Request<'_>]) -> Vec<Pending> {
        let _ = requests;
        Vec::new()
    }
}

/// The `reference` model: the correct answer to any summary it can read
/// ([`super::reference::packets`]).
#[derive(Debug, Clone, Copy)]
pub struct Reference;

impl Answerer for Reference {
    fn answer_all(&self, requests: &[Request<'_>]) -> Vec<Result<Answer, AnswerError>> {
        from_scenarios(requests, "reference", |s, dialect| {
            super::answer::render(&super::reference::packets(s), dialect)
        })
    }
}

/// A `mutant:<fault>` model: the reference answer with one fault
/// ([`super::mutant::answer`]).
#[derive(Debug, Clone, Copy)]
pub struct Mutant(pub Fault);

impl Answerer for Mutant {
    fn answer_all(&self, requests: &[Request<'_>]) -> Vec<Result<Answer, AnswerError>> {
        from_scenarios(requests, "mutant", |s, dialect| super::mutant::answer(self.0, s, dialect))
    }
}

/// Answer each request with `write`'s text for its scenario, or
/// [`AnswerError::Unreadable`] (naming `model`) when it has none.
fn from_scenarios(
    requests: &[Request<'_>],
    model: &'static str,
    write: impl Fn(&Scenario, Dialect) -> String,
) -> Vec<Result<Answer, AnswerError>> {
    requests
        .iter()
        .map(|r| match r.scenario {
            Some(s) => Ok(Answer { text: write(s, r.dialect), ..Answer::default() }),
            None => Err(AnswerError::Unreadable { model, index: r.index }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::generate::generate;

    fn request<'a>(index: usize, scenario: Option<&'a Scenario>) -> Request<'a> {
        Request {
            index,
            summary: "summary",
            scenario,
            system: "",
            user: "",
            prompt_version: "v1",
            dialect: Dialect::Json,
            protocol: SuiteProtocol::Icmp,
            mode: Mode::Conversation,
        }
    }

    #[test]
    fn built_in_models_answer_what_they_can_read() {
        let s = &generate(SuiteProtocol::Icmp, Mode::Conversation, 1, 1)[0];
        let requests = [request(0, Some(s)), request(7, None)];
        let answers = Reference.answer_all(&requests);
        let reference = super::super::answer::render(&super::super::reference::packets(s), Dialect::Json);
        assert_eq!(answers[0].as_ref().map(|a| a.text.as_str()).ok(), Some(reference.as_str()));
        let err = answers[1].as_ref().unwrap_err();
        assert_eq!(err.unanswered(), Unanswered::Unreadable);
        assert_eq!(err.to_string(), "unreadable summary: the reference model cannot read summary 7");
        let mutant = Mutant(Fault::ALL[0]).answer_all(&requests);
        assert_eq!(
            mutant[0].as_ref().map(|a| a.text.clone()).ok(),
            Some(super::super::mutant::answer(Fault::ALL[0], s, Dialect::Json))
        );
        assert_eq!(
            mutant[1].as_ref().unwrap_err().to_string(),
            "unreadable summary: the mutant model cannot read summary 7"
        );
    }

    #[test]
    fn a_cassette_miss_is_typed_and_keeps_its_message() {
        let miss = AnswerError::from(ModelError::NotRecorded("prompt v2 changed; run X".into()));
        assert_eq!(miss.unanswered(), Unanswered::Cassette);
        assert_eq!(miss.to_string(), "not in the cassette: prompt v2 changed; run X");
        assert_eq!(AnswerError::miss_reason(&miss.to_string()), "prompt v2 changed; run X");
        let failed = AnswerError::from(ModelError::Batch { id: "m".into(), message: "expired".into() });
        assert_eq!((failed.unanswered(), failed.to_string()), (Unanswered::Request, "model 'm': expired".to_string()));
        assert_eq!(
            [Unanswered::Cassette, Unanswered::Unreadable, Unanswered::Request].map(Unanswered::status),
            ["cassette", "unreadable", "request"]
        );
    }

    #[test]
    fn answers_cut_at_max_tokens_in_every_provider_vocabulary() {
        assert!(["length", "max_tokens", "MAX_TOKENS"].into_iter().all(is_cut));
        assert!(!["stop", "end_turn", "STOP"].into_iter().any(is_cut));
    }
}
