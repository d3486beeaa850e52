//! Gemini `generateContent`: `POST {base}/v1beta/models/{model}:generateContent`
//! with the key in the `x-goog-api-key` header (never `?key=` in the URL,
//! since URLs get logged). System messages go to `systemInstruction`, the
//! assistant role is `model`, sampling goes to `generationConfig`.

use serde_json::{json, Map, Value};

use super::{count, system_text, ChatMessage, Role, Usage};
use crate::model::registry::Sampling;

/// Return the URL of the `generateContent` endpoint of `model` (a leading
/// `models/` is accepted and dropped).
pub(super) fn endpoint(base_url: &str, model: &str) -> String {
    let model = model.strip_prefix("models/").unwrap_or(model);
    format!("{base_url}/v1beta/models/{model}:generateContent")
}

/// Return the request body (the model is in the URL, not here).
pub(super) fn body(messages: &[ChatMessage], sampling: &Sampling) -> Value {
    let mut body = Map::new();
    if let Some(system) = system_text(messages) {
        body.insert("systemInstruction".into(), json!({"parts": [{"text": system}]}));
    }
    let contents: Vec<Value> = messages
        .iter()
        .filter(|m| m.role != Role::System)
        .map(|m| json!({"role": if m.role == Role::Assistant { "model" } else { "user" }, "parts": [{"text": m.content}]}))
        .collect();
    body.insert("contents".into(), Value::Array(contents));
    let mut config = Map::new();
    super::insert_sampling(
        &mut config,
        sampling,
        [Some("temperature"), Some("topP"), Some("maxOutputTokens"), Some("seed")],
    );
    if !config.is_empty() {
        body.insert("generationConfig".into(), Value::Object(config));
    }
    Value::Object(body)
}

/// Read text (all text parts of the first candidate), usage and finish
/// reason. A blocked prompt (no candidates) names the block reason.
pub(super) fn parse(json: &Value) -> Result<(String, Usage, Option<String>), String> {
    let Some(candidate) = json.pointer("/candidates/0") else {
        let reason = json.pointer("/promptFeedback/blockReason").and_then(Value::as_str);
        return Err(match reason {
            Some(reason) => format!("no candidates: the prompt was blocked ({reason})"),
            None => "no candidates[0] in the answer".into(),
        });
    };
    let parts = candidate.pointer("/content/parts").and_then(Value::as_array);
    let texts: Vec<&str> =
        parts.into_iter().flatten().filter_map(|part| part.get("text").and_then(Value::as_str)).collect();
    let finish = candidate.get("finishReason").and_then(Value::as_str).map(str::to_string);
    if texts.is_empty() {
        return Err(format!("candidates[0] has no text part (finishReason {})", finish.as_deref().unwrap_or("absent")));
    }
    let usage = Usage {
        prompt_tokens: count(json, "/usageMetadata/promptTokenCount"),
        completion_tokens: count(json, "/usageMetadata/candidatesTokenCount"),
    };
    Ok((texts.concat(), usage, finish))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_candidates_and_blocks() {
        let answer = json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "ARP()"}]}, "finishReason": "STOP"}],
                            "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 2}});
        let (text, usage, finish) = parse(&answer).unwrap();
        assert_eq!(
            (text.as_str(), usage.prompt_tokens, usage.completion_tokens, finish.as_deref()),
            ("ARP()", 5, 2, Some("STOP"))
        );
        let blocked = json!({"promptFeedback": {"blockReason": "SAFETY"}});
        assert_eq!(parse(&blocked).unwrap_err(), "no candidates: the prompt was blocked (SAFETY)");
        let empty = json!({"candidates": [{"finishReason": "MAX_TOKENS"}]});
        assert!(parse(&empty).unwrap_err().contains("MAX_TOKENS"));
        assert_eq!(
            endpoint("http://h", "models/gemini-2.0-flash"),
            "http://h/v1beta/models/gemini-2.0-flash:generateContent"
        );
    }
}
