//! Models: where answers come from.
//!
//! [`registry`] reads `harness/models.toml` and says which models can run
//! now; [`provider`] talks to live APIs over HTTP (OpenAI-compatible,
//! Anthropic, Gemini) with timeouts, retries and a concurrency limit;
//! [`cassette`] records and replays answers (one JSON Lines file per model
//! under `golden/cassettes/`); [`live`] puts the three together for one model
//! in one [`RunMode`](registry::RunMode).

pub mod cassette;
pub mod live;
pub mod provider;
pub mod registry;
