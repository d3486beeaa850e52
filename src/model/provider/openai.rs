//! OpenAI-compatible chat completions: `POST {base}/chat/completions`,
//! `Authorization: Bearer KEY`. The same format serves OpenAI, vLLM,
//! llama.cpp's server, Ollama, LM Studio and Mistral.
//!
//! `max_tokens` (not OpenAI's newer `max_completion_tokens`) is sent because
//! every compatible server understands it.

use serde_json::{json, Map, Value};

use super::{count, ChatMessage, Role, Usage};
use crate::model::registry::Sampling;

/// Return the URL of the chat-completions endpoint.
pub(super) fn endpoint(base_url: &str) -> String {
    format!("{base_url}/chat/completions")
}

/// Return the request body.
pub(super) fn body(model: &str, messages: &[ChatMessage], sampling: &Sampling) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    let messages: Vec<Value> = messages.iter().map(|m| json!({"role": role(m.role), "content": m.content})).collect();
    body.insert("messages".into(), Value::Array(messages));
    super::insert_sampling(&mut body, sampling, [Some("temperature"), Some("top_p"), Some("max_tokens"), Some("seed")]);
    Value::Object(body)
}

fn role(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
    }
}

/// Read text, usage and finish reason from a response body.
pub(super) fn parse(json: &Value) -> Result<(String, Usage, Option<String>), String> {
    let choice = json.pointer("/choices/0").ok_or_else(|| "no choices[0] in the answer".to_string())?;
    let text = match choice.pointer("/message/content") {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Null) | None => return Err("choices[0].message.content is missing or null".into()),
        Some(other) => return Err(format!("choices[0].message.content is not a string but {other}")),
    };
    let usage = Usage {
        prompt_tokens: count(json, "/usage/prompt_tokens"),
        completion_tokens: count(json, "/usage/completion_tokens"),
    };
    let finish = choice.get("finish_reason").and_then(Value::as_str).map(str::to_string);
    Ok((text, usage, finish))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_answer_and_names_what_is_missing() {
        let answer = json!({"choices": [{"message": {"role": "assistant", "content": "IP()/TCP()"}, "finish_reason": "length"}],
                            "usage": {"prompt_tokens": 12, "completion_tokens": 3}});
        let (text, usage, finish) = parse(&answer).unwrap();
        assert_eq!(
            (text.as_str(), usage.prompt_tokens, usage.completion_tokens, finish.as_deref()),
            ("IP()/TCP()", 12, 3, Some("length"))
        );
        assert_eq!(parse(&json!({"choices": []})).unwrap_err(), "no choices[0] in the answer");
        let null = json!({"choices": [{"message": {"content": null}}]});
        assert!(parse(&null).unwrap_err().contains("missing or null"));
    }
}
