//! Answer extraction: from a model's answer text to the code or JSON the
//! dialect needs.
//!
//! Real answers wrap code in Markdown fences despite instructions, add prose
//! before or after, split a conversation over several blocks, escape
//! underscores (`pkt\_1`) and start "bare code" with `import` lines. Each
//! quirk is recorded as an answer finding: the quirk is data, never hidden.

use serde::{Deserialize, Serialize};

/// Which kind of answer is expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// Python/Scapy code.
    Scapy,
    /// The JSON packet list (docs/json-dialect.md).
    Json,
}

/// A quirk of the answer's form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerFinding {
    /// Stable id: `answer.fenced`, `answer.prose`, `answer.multiple_blocks`,
    /// `answer.imports`, `answer.escaped_underscores`, `answer.empty`,
    /// `answer.redefined` (from the Scapy worker).
    pub check: String,
    /// One line for a person.
    pub message: String,
}

impl AnswerFinding {
    fn new(check: &str, message: String) -> AnswerFinding {
        AnswerFinding { check: check.to_string(), message }
    }
}

/// The code or JSON extracted from an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    /// What to run (Scapy) or parse (JSON).
    pub text: String,
    /// The quirks met on the way.
    pub findings: Vec<AnswerFinding>,
}

/// One fenced block: its info string (language) and body.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Block<'a> {
    lang: &'a str,
    body: String,
}

/// Split `text` into fenced blocks and the prose outside them. An
/// unterminated fence runs to the end (a cut answer).
fn blocks(text: &str) -> (Vec<Block<'_>>, String) {
    let mut blocks = Vec::new();
    let mut prose = String::new();
    let mut current: Option<Block<'_>> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix("```") {
            match current.take() {
                Some(block) => blocks.push(block),
                None => current = Some(Block { lang: rest.trim(), body: String::new() }),
            }
            continue;
        }
        match current.as_mut() {
            Some(block) => {
                block.body.push_str(line);
                block.body.push('\n');
            }
            None => {
                prose.push_str(line);
                prose.push('\n');
            }
        }
    }
    if let Some(block) = current {
        blocks.push(block);
    }
    (blocks, prose)
}

/// Return whether a block's language fits the dialect.
fn fits(lang: &str, dialect: Dialect) -> bool {
    let lang = lang.to_ascii_lowercase();
    match dialect {
        Dialect::Scapy => lang.is_empty() || matches!(lang.as_str(), "python" | "py" | "python3" | "scapy"),
        Dialect::Json => lang.is_empty() || lang == "json" || lang == "jsonc",
    }
}

/// Extract what `dialect` needs from `answer`.
pub fn extract(answer: &str, dialect: Dialect) -> Extracted {
    let mut findings = Vec::new();
    let (all, prose) = blocks(answer);
    let fenced: Vec<&Block<'_>> = all.iter().filter(|b| fits(b.lang, dialect)).collect();
    let mut text = if fenced.is_empty() {
        match dialect {
            Dialect::Json => json_span(answer, &mut findings),
            Dialect::Scapy => answer.to_string(),
        }
    } else {
        findings.push(AnswerFinding::new(
            "answer.fenced",
            format!("code in Markdown fences ({})", if fenced[0].lang.is_empty() { "```" } else { fenced[0].lang }),
        ));
        if !prose.trim().is_empty() {
            findings.push(AnswerFinding::new(
                "answer.prose",
                format!("{} characters of prose outside the code", prose.trim().len()),
            ));
        }
        match dialect {
            Dialect::Scapy => {
                if fenced.len() > 1 {
                    findings.push(AnswerFinding::new(
                        "answer.multiple_blocks",
                        format!("{} code blocks, run in order", fenced.len()),
                    ));
                }
                fenced.iter().map(|b| b.body.as_str()).collect::<Vec<_>>().join("\n")
            }
            Dialect::Json => {
                if fenced.len() > 1 {
                    findings.push(AnswerFinding::new(
                        "answer.multiple_blocks",
                        format!("{} blocks; the first that parses as JSON is used", fenced.len()),
                    ));
                }
                let chosen = fenced
                    .iter()
                    .find(|b| serde_json::from_str::<serde_json::Value>(&b.body).is_ok())
                    .unwrap_or(&fenced[0]);
                chosen.body.clone()
            }
        }
    };
    if dialect == Dialect::Scapy {
        if text.contains("\\_") {
            text = text.replace("\\_", "_");
            findings.push(AnswerFinding::new(
                "answer.escaped_underscores",
                "Markdown-escaped underscores (\\_) unescaped".into(),
            ));
        }
        let imports = text
            .lines()
            .filter(|l| l.trim_start().starts_with("import ") || l.trim_start().starts_with("from "))
            .count();
        if imports > 0 {
            findings.push(AnswerFinding::new("answer.imports", format!("{imports} import lines")));
        }
    }
    if text.trim().is_empty() {
        findings.push(AnswerFinding::new("answer.empty", "no code in the answer".into()));
    }
    Extracted { text, findings }
}

/// For a JSON answer without fences: the span from the first `[` or `{` to
/// the end of the value it starts, with prose around it recorded.
fn json_span(answer: &str, findings: &mut Vec<AnswerFinding>) -> String {
    let Some(start) = answer.find(['[', '{']) else { return answer.to_string() };
    let mut stream = serde_json::Deserializer::from_str(&answer[start..]).into_iter::<serde_json::Value>();
    let end = match stream.next() {
        Some(Ok(_)) => start + stream.byte_offset(),
        _ => answer.len(),
    };
    let outside = answer[..start].trim().len() + answer[end..].trim().len();
    if outside > 0 {
        findings.push(AnswerFinding::new("answer.prose", format!("{outside} characters of prose around the JSON")));
    }
    answer[start..end].to_string()
}

#[cfg(test)]
mod test {
    use super::*;

    fn ids(extracted: &Extracted) -> Vec<&str> {
        extracted.findings.iter().map(|f| f.check.as_str()).collect()
    }

    #[test]
    fn test_bare_code_untouched() {
        let answer = "pkt_1 = IP(dst=\"10.0.0.1\")/ICMP()\n";
        let got = extract(answer, Dialect::Scapy);
        assert_eq!(got.text, answer);
        assert!(got.findings.is_empty());
    }

    #[test]
    fn test_fenced_with_prose_and_imports() {
        let answer =
            "Here is the code:\n```python\nfrom scapy.all import *\npkt\\_1 = IP()/ICMP()\n```\nThis sends a ping.";
        let got = extract(answer, Dialect::Scapy);
        assert_eq!(got.text, "from scapy.all import *\npkt_1 = IP()/ICMP()\n");
        assert_eq!(ids(&got), vec!["answer.fenced", "answer.prose", "answer.escaped_underscores", "answer.imports"]);
    }

    #[test]
    fn test_multiple_blocks_run_in_order() {
        let answer = "```python\npkt_1 = IP()\n```\nand\n```\npkt_2 = IP()\n```\n";
        let got = extract(answer, Dialect::Scapy);
        assert_eq!(got.text, "pkt_1 = IP()\n\npkt_2 = IP()\n");
        assert!(ids(&got).contains(&"answer.multiple_blocks"));
    }

    #[test]
    fn test_unterminated_fence() {
        let got = extract("```python\npkt_1 = IP(", Dialect::Scapy);
        assert_eq!(got.text, "pkt_1 = IP(\n");
    }

    #[test]
    fn test_json_with_prose() {
        let answer = "Sure! Here it is: [{\"a\": 1}, {\"b\": [2]}] Hope this helps.";
        let got = extract(answer, Dialect::Json);
        assert_eq!(got.text, "[{\"a\": 1}, {\"b\": [2]}]");
        assert_eq!(ids(&got), vec!["answer.prose"]);
    }

    #[test]
    fn test_json_fenced_picks_the_parsing_block() {
        let answer = "```json\n[{\"a\": 1},\n```\n```json\n[{\"a\": 1}]\n```\n";
        let got = extract(answer, Dialect::Json);
        assert_eq!(got.text, "[{\"a\": 1}]\n");
        assert_eq!(ids(&got), vec!["answer.fenced", "answer.multiple_blocks"]);
    }

    #[test]
    fn test_empty() {
        assert_eq!(ids(&extract("```python\n```", Dialect::Scapy)), vec!["answer.fenced", "answer.empty"]);
    }

    /// Every real answer of the corpus extracts without panicking, and
    /// every fenced one is reported as such.
    #[test]
    fn test_corpus_answers() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/completions.jsonl");
        let Ok(text) = std::fs::read_to_string(path) else {
            eprintln!("SKIPPED: corpus not found");
            return;
        };
        let mut fenced = 0;
        for line in text.lines() {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            let completion = record["completion"].as_str().unwrap_or("");
            let dialect = if record["dialect"] == "scapy" { Dialect::Scapy } else { Dialect::Json };
            let got = extract(completion, dialect);
            if completion.contains("```") {
                assert!(ids(&got).contains(&"answer.fenced"), "{completion}");
                fenced += 1;
            }
            assert!(!got.text.contains("```"), "fence left in: {}", got.text);
        }
        assert!(fenced > 0);
    }
}
