//! Models from `harness/models.toml` in the matrix: live providers and their
//! cassettes, replay models, and per-protocol routing (mixture of experts).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use super::cell::{Answer, Answerer, Request, Usage};
use crate::model::cassette::Rerecord;
use crate::model::live::{LiveModel, ModelError};
use crate::model::provider::{ChatMessage, ChatRequest, Role};
use crate::model::registry::{ModelEntry, Registry, RunMode, Sampling};
use crate::scenario::SuiteProtocol;

/// A registry model as an [`Answerer`]: every request of a chunk is sent
/// at once (the provider's own limit bounds the concurrency) and answered
/// from the cassette, the API, or both, by the run mode.
pub struct Live {
    default: LiveModel,
    routes: BTreeMap<SuiteProtocol, LiveModel>,
    runtime: tokio::runtime::Runtime,
}

impl Live {
    /// Prepare `entry` (and the models it routes protocols to); a
    /// cassette miss names `rerecord`'s command for `entry` (a routed
    /// model's answers are recorded by running the entry that routes them).
    ///
    /// # Errors
    /// What [`LiveModel::new`] reports, as text naming the model.
    pub fn new(
        registry: &Registry,
        entry: &ModelEntry,
        mode: RunMode,
        cassettes: &Path,
        rerecord: &Rerecord,
    ) -> Result<Live, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let command = rerecord.command(&entry.id);
        let default = LiveModel::new(entry, mode, cassettes)
            .map_err(|e| format!("{}: {e}", entry.id))?
            .with_rerecord(command.clone());
        let mut routes = BTreeMap::new();
        for protocol in SuiteProtocol::ALL {
            let routed = registry.route(entry, protocol.name());
            if routed.id != entry.id {
                let model = LiveModel::new(routed, mode, cassettes)
                    .map_err(|e| format!("{} (route {protocol}): {e}", routed.id))?;
                routes.insert(protocol, model.with_rerecord(command.clone()));
            }
        }
        Ok(Live { default, routes, runtime })
    }

    /// Answer offline from now on, after `--record --batch` recorded the
    /// batches' answers: see [`LiveModel::after_batch`].
    pub fn after_batch(self, failures: &Arc<HashMap<String, String>>) -> Live {
        let Live { default, routes, runtime } = self;
        let routes = routes.into_iter().map(|(p, m)| (p, m.after_batch(failures.clone()))).collect();
        Live { default: default.after_batch(failures.clone()), routes, runtime }
    }

    fn model(&self, request: &Request<'_>) -> &LiveModel {
        self.routes.get(&request.protocol).unwrap_or(&self.default)
    }
}

/// The chat request of a matrix request: the prompt's system and user
/// messages, the entry's sampling.
fn chat(request: &Request<'_>) -> ChatRequest {
    ChatRequest {
        messages: vec![
            ChatMessage { role: Role::System, content: request.prompt.system.clone() },
            ChatMessage { role: Role::User, content: request.prompt.user.clone() },
        ],
        sampling: Sampling::default(),
    }
}

impl Answerer for Live {
    fn answer_all(&self, requests: &[Request<'_>]) -> Vec<Result<Answer, String>> {
        let calls = requests.iter().map(|r| async move {
            let model = self.model(r);
            match model.answer(&chat(r), 0, &r.prompt.version).await {
                Ok(c) => Ok(Answer {
                    cost_usd: model.entry().cost_usd(&c.usage),
                    text: c.text,
                    usage: Some(Usage {
                        prompt_tokens: c.usage.prompt_tokens,
                        completion_tokens: c.usage.completion_tokens,
                    }),
                    latency_ms: c.latency_ms,
                    finish_reason: c.finish_reason,
                }),
                Err(ModelError::NotRecorded(why)) => Err(format!("{}{why}", super::cell::CASSETTE_MISS)),
                Err(e) => Err(e.to_string()),
            }
        });
        self.runtime.block_on(futures_util::future::join_all(calls))
    }

    fn missing(&self, requests: &[Request<'_>]) -> Vec<crate::model::batch::Pending> {
        requests.iter().filter_map(|r| self.model(r).missing(&chat(r), 0, &r.prompt.version)).collect()
    }
}
