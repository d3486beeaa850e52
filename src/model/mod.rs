//! Models: where answers come from.
//!
//! [`answerer`] is what every model is to the matrix: an [`Answerer`] that
//! answers [`Request`]s with an [`Answer`] (or an [`AnswerError`]).
//!
//! Built in: [`reference`] writes the correct answer to any summary, and
//! [`mutant`] the reference answer with one realistic fault. Both build a
//! packet list ([`answer::Pkt`]) rendered in either dialect. [`expect`]
//! digests the reference answer into what a summary asks for.
//!
//! [`registry`] reads `harness/models.toml` and says which models can run
//! now; [`provider`] talks to live APIs over HTTP (OpenAI-compatible,
//! Anthropic, Gemini) with timeouts, retries and a concurrency limit;
//! [`cassette`] records and replays answers (one JSON Lines file per model
//! under `golden/cassettes/`); [`live`] puts the three together for one model
//! in one [`RunMode`](registry::RunMode); [`batch`] records the answers a
//! cassette lacks through the providers' batch APIs instead; [`replay`]
//! replays answers imported from a corpus.

pub mod answer;
pub(crate) mod answerer;
pub(crate) mod batch;
pub mod cassette;
pub(crate) mod expect;
pub mod live;
pub mod mutant;
pub mod provider;
pub mod reference;
pub mod registry;
pub mod replay;

pub use answerer::{is_cut, Answer, AnswerError, Answerer, Mutant, Reference, Request, Unanswered, Usage};
