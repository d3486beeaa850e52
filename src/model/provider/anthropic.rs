//! Anthropic Messages API: `POST {base}/v1/messages` with `x-api-key` and
//! `anthropic-version` headers. System messages go to the top-level
//! `system` field; `max_tokens` is required (4096 when unset); there is no
//! seed.

use serde_json::{json, Map, Value};

use super::{count, system_text, ChatMessage, Role, Usage};
use crate::model::registry::Sampling;

/// The API version sent in `anthropic-version`.
pub(super) const VERSION: &str = "2023-06-01";

/// `max_tokens` when the sampling leaves it unset (the API requires one).
const DEFAULT_MAX_TOKENS: u32 = 4096;

/// Return the URL of the Messages endpoint.
pub(super) fn endpoint(base_url: &str) -> String {
    format!("{base_url}/v1/messages")
}

/// Return the request body.
pub(super) fn body(model: &str, messages: &[ChatMessage], sampling: &Sampling) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    if let Some(system) = system_text(messages) {
        body.insert("system".into(), json!(system));
    }
    let turns: Vec<Value> = messages
        .iter()
        .filter(|m| m.role != Role::System)
        .map(|m| json!({"role": if m.role == Role::Assistant { "assistant" } else { "user" }, "content": m.content}))
        .collect();
    body.insert("messages".into(), Value::Array(turns));
    body.insert("max_tokens".into(), json!(sampling.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS)));
    // max_tokens is required (set above); the Messages API has no seed.
    super::insert_sampling(&mut body, sampling, [Some("temperature"), Some("top_p"), None, None]);
    Value::Object(body)
}

/// Read text (all text blocks joined), usage and stop reason.
pub(super) fn parse(json: &Value) -> Result<(String, Usage, Option<String>), String> {
    let blocks =
        json.get("content").and_then(Value::as_array).ok_or_else(|| "no content array in the answer".to_string())?;
    let texts: Vec<&str> = blocks
        .iter()
        .filter(|block| block.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|block| block.get("text").and_then(Value::as_str))
        .collect();
    if texts.is_empty() && !blocks.is_empty() {
        return Err("the answer has content blocks but none of type text".into());
    }
    let usage = Usage {
        prompt_tokens: count(json, "/usage/input_tokens"),
        completion_tokens: count(json, "/usage/output_tokens"),
    };
    let stop = json.get("stop_reason").and_then(Value::as_str).map(str::to_string);
    Ok((texts.concat(), usage, stop))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_text_blocks() {
        let answer = json!({"type": "message", "content": [{"type": "text", "text": "Ether()"}, {"type": "text", "text": "/IP()"}],
                            "stop_reason": "end_turn", "usage": {"input_tokens": 9, "output_tokens": 4}});
        let (text, usage, stop) = parse(&answer).unwrap();
        assert_eq!(
            (text.as_str(), usage.prompt_tokens, usage.completion_tokens, stop.as_deref()),
            ("Ether()/IP()", 9, 4, Some("end_turn"))
        );
        assert!(parse(&json!({"content": [{"type": "tool_use"}]})).unwrap_err().contains("none of type text"));
        assert!(parse(&json!({"type": "error"})).is_err());
    }
}
