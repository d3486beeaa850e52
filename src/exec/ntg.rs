//! The `ntg` dialect: LLM-NTG's ZigBee traffic summaries.
//!
//! A summary is a list of rows `{time, src, dst, protocol, length, info}`,
//! the columns of Wireshark's packet list (docs/ntg-dialect.md). It comes as
//! a plain JSON list, as a JSON *string* holding the list (how LLM-NTG stored
//! its answers), inside Markdown fences or not, or as JSON Lines with the
//! capitalised column names of LLM-NTG's real sample inputs (`Time`,
//! `Source`, `Destination`, `Protocol`, `Length`, `Info`). Values may be
//! strings or numbers. Rows are numbered from 1 in every error.
//!
//! [`build`] turns the rows into IEEE 802.15.4 frames.

pub mod build;

use serde_json::Value;

use super::extract::{extract, AnswerFinding, Dialect};
use crate::wire::zigbee::Kind;

/// One summary row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Seconds since the start of the trace.
    pub time: f64,
    /// Source, as written (`0x1de6`).
    pub src: String,
    /// Destination, as written (`0xd7a7`, `0xfffc`, `Broadcast`).
    pub dst: String,
    /// Wireshark's protocol column (`ZigBee`, `ZigBee HA`, `ZigBee ZDP`).
    pub protocol: String,
    /// Requested frame length in bytes, if given.
    pub length: Option<u32>,
    /// Wireshark's info column (`ZCL: Read Attributes, Seq: 67`).
    pub info: String,
}

/// A parsed summary: its rows and the quirks of its form.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// The rows, in order.
    pub rows: Vec<Row>,
    /// Form quirks (`answer.fenced`, `answer.prose`, `answer.json_string`).
    pub findings: Vec<AnswerFinding>,
}

/// Why a summary cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NtgError {
    /// The text is not JSON (nor JSON Lines).
    #[error("not JSON: {0}")]
    Json(String),
    /// The JSON is not a list of rows.
    #[error("expected a list of rows (or a JSON string holding one), found {0}")]
    NotAList(&'static str),
    /// A row lacks a field or holds a value of the wrong kind.
    #[error("row {row}: {field}: {message}")]
    Field {
        /// 1-based row number.
        row: usize,
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A row's info text names no message type the builder knows.
    #[error("row {row}: unknown info text {info:?} (known: Link Status, Network Status, Route Request/Reply, ZCL Read/Write Attributes (Response), Default Response, Groups/Scenes membership, OTA Query Next Image, Node/Simple Descriptor Request/Response)")]
    UnknownInfo {
        /// 1-based row number.
        row: usize,
        /// The text.
        info: String,
    },
}

/// Read a summary from a model's answer or a stored file.
///
/// # Errors
/// [`NtgError`] naming the row and field at fault.
pub fn parse(text: &str) -> Result<Summary, NtgError> {
    // Stored answers are valid JSON as they are (a list, or a string holding
    // one); model answers may need their fences and prose removed first.
    let (value, mut findings) = match serde_json::from_str::<Value>(text.trim()) {
        Ok(value) => (value, Vec::new()),
        Err(error) => match json_lines(text) {
            Some(rows) => (Value::Array(rows), Vec::new()),
            None => {
                let extracted = extract(text, Dialect::Json);
                let value = serde_json::from_str::<Value>(extracted.text.trim())
                    .map_err(|_| NtgError::Json(error.to_string()))?;
                (value, extracted.findings)
            }
        },
    };
    let value = match value {
        Value::String(inner) => {
            findings.push(AnswerFinding {
                check: "answer.json_string".into(),
                message: "the list is stored as a JSON string".into(),
            });
            let inner = extract(&inner, Dialect::Json);
            findings.extend(inner.findings);
            serde_json::from_str::<Value>(inner.text.trim())
                .map_err(|e| NtgError::Json(format!("inside the JSON string: {e}")))?
        }
        other => other,
    };
    let items = match value {
        Value::Array(items) => items,
        Value::Object(mut map) => {
            match ["packets", "messages", "traffic", "rows"].iter().find_map(|k| map.remove(*k)) {
                Some(Value::Array(items)) => items,
                _ => return Err(NtgError::NotAList("an object without a list of rows")),
            }
        }
        Value::Null => return Err(NtgError::NotAList("null")),
        Value::Bool(_) => return Err(NtgError::NotAList("a boolean")),
        Value::Number(_) => return Err(NtgError::NotAList("a number")),
        Value::String(_) => return Err(NtgError::NotAList("a string inside a string")),
    };
    let rows = items.iter().enumerate().map(|(i, item)| row(i + 1, item)).collect::<Result<Vec<_>, _>>()?;
    Ok(Summary { rows, findings })
}

/// Parse JSON Lines (one object per line), or `None` if any line is not JSON.
fn json_lines(text: &str) -> Option<Vec<Value>> {
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    if lines.len() < 2 {
        return None;
    }
    lines.iter().map(|l| serde_json::from_str::<Value>(l).ok().filter(Value::is_object)).collect()
}

fn field<'a>(object: &'a serde_json::Map<String, Value>, names: &[&str]) -> Option<&'a Value> {
    names.iter().find_map(|name| object.get(*name))
}

fn row(number: usize, item: &Value) -> Result<Row, NtgError> {
    let Value::Object(object) = item else {
        return Err(NtgError::Field { row: number, field: "row", message: "is not an object".into() });
    };
    let text = |name: &'static str, names: &[&str]| -> Result<String, NtgError> {
        match field(object, names) {
            Some(Value::String(s)) => Ok(s.trim().to_string()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            Some(_) => {
                Err(NtgError::Field { row: number, field: name, message: "is neither a string nor a number".into() })
            }
            None => Err(NtgError::Field { row: number, field: name, message: "is missing".into() }),
        }
    };
    let time_text = text("time", &["time", "Time", "timestamp"])?;
    let time = time_text.parse::<f64>().ok().filter(|t| t.is_finite() && *t >= 0.0 && *t < 1e9).ok_or_else(|| {
        NtgError::Field {
            row: number, field: "time", message: format!("{time_text:?} is not a number of seconds ≥ 0")
        }
    })?;
    let length = match field(object, &["length", "Length", "len"]) {
        None | Some(Value::Null) => None,
        Some(_) => {
            let length_text = text("length", &["length", "Length", "len"])?;
            Some(length_text.parse::<u32>().ok().filter(|l| *l <= 127 * 8).ok_or_else(|| NtgError::Field {
                row: number,
                field: "length",
                message: format!("{length_text:?} is not a frame length in bytes"),
            })?)
        }
    };
    Ok(Row {
        time,
        src: text("src", &["src", "Source", "source"])?,
        dst: text("dst", &["dst", "Destination", "destination"])?,
        protocol: field(object, &["protocol", "Protocol"]).and_then(Value::as_str).unwrap_or("").trim().to_string(),
        length,
        info: text("info", &["info", "Info"])?,
    })
}

/// Parse a short address: `0x1de6`, `1de6`, or `Broadcast` (0xfffc, the
/// routers' broadcast address of LLM-NTG's real Link Status frames).
pub fn parse_address(text: &str) -> Option<u16> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("broadcast") {
        return Some(0xfffc);
    }
    let hex = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")).unwrap_or(text);
    if hex.is_empty() || hex.len() > 4 {
        return None;
    }
    u16::from_str_radix(hex, 16).ok()
}

/// Split `, Seq: N` off an info text.
fn split_seq(info: &str) -> (&str, Option<u8>) {
    if let Some(at) = info.rfind("Seq:") {
        let number = info[at + 4..].trim();
        if let Ok(seq) = number.parse::<u32>() {
            return (info[..at].trim().trim_end_matches(',').trim(), Some((seq % 256) as u8));
        }
    }
    (info.trim().trim_end_matches(',').trim(), None)
}

/// Return the value after `key:` in a comma-separated info text.
fn value_of<'a>(info: &'a str, key: &str) -> Option<&'a str> {
    info.split(',').find_map(|part| part.trim().strip_prefix(key)).map(|v| v.trim_start_matches(':').trim())
}

/// Recognise an info text: the message type and the ZCL sequence number
/// it names, if any. `None` when the text is outside the vocabulary.
pub fn parse_info(info: &str) -> Option<(Kind, Option<u8>)> {
    let (head, seq) = split_seq(info);
    let lower = head.to_ascii_lowercase();
    // ZCL prefixes: "ZCL: ", "ZCL Groups: ", "ZCL Scenes: ", "ZCL OTA: ".
    let bare = match lower.find(':') {
        Some(at) if lower.starts_with("zcl") && !lower[..at].contains(',') => lower[at + 1..].trim().to_string(),
        _ => lower.clone(),
    };
    let kind = match bare.as_str() {
        "link status" => Kind::LinkStatus,
        "read attributes" => Kind::ReadAttributes,
        "read attributes response" => Kind::ReadAttributesResponse,
        "write attributes" => Kind::WriteAttributes,
        "write attributes response" => Kind::WriteAttributesResponse,
        "default response" => Kind::DefaultResponse,
        "get group membership" => Kind::GetGroupMembership,
        "get group membership response" => Kind::GetGroupMembershipResponse,
        "get scene membership" => Kind::GetSceneMembership,
        "get scene membership response" => Kind::GetSceneMembershipResponse,
        "query next image request" => Kind::OtaQueryNextImageRequest,
        "query next image response" => Kind::OtaQueryNextImageResponse,
        _ => return parse_valued(head, &bare).map(|kind| (kind, seq)),
    };
    Some((kind, seq))
}

/// Recognise the info texts that carry values (addresses, statuses).
fn parse_valued(head: &str, bare: &str) -> Option<Kind> {
    let addr = |key: &str| value_of(head, key).and_then(parse_address);
    if let Some(rest) = bare.strip_prefix("unknown command:") {
        let hex = rest.trim().trim_start_matches("0x");
        return u8::from_str_radix(hex, 16).ok().map(Kind::ZclUnknown);
    }
    if bare.starts_with("network status") {
        // "Network Status, 0x1de6: Many-to-One Route Failure"
        let rest = head.split_once(',')?.1.trim();
        let (addr, status) = rest.split_once(':')?;
        return Some(Kind::NetworkStatus {
            addr: parse_address(addr)?,
            status: crate::wire::zigbee::nwk_status_code(status)?,
        });
    }
    if bare.starts_with("route request") {
        return Some(Kind::RouteRequest { dst: addr("Dst")?, src: addr("Src")? });
    }
    if bare.starts_with("route reply") {
        return Some(Kind::RouteReply { responder: addr("Responder")?, originator: addr("Originator")? });
    }
    let status = || value_of(head, "Status").map_or(Some(0), crate::wire::zigbee::zdp_status_code);
    if bare.starts_with("node descriptor request") {
        return Some(Kind::NodeDescriptorRequest { addr: addr("Nwk Addr")? });
    }
    if bare.starts_with("node descriptor response") {
        let rev = value_of(head, "Rev").map_or(Some(22), |r| r.parse::<u8>().ok().filter(|r| *r < 128))?;
        return Some(Kind::NodeDescriptorResponse { addr: addr("Nwk Addr")?, rev, status: status()? });
    }
    if bare.starts_with("simple descriptor request") {
        let endpoint = value_of(head, "Endpoint").map_or(Some(1), |e| e.parse::<u8>().ok())?;
        return Some(Kind::SimpleDescriptorRequest { addr: addr("Nwk Addr")?, endpoint });
    }
    if bare.starts_with("simple descriptor response") {
        return Some(Kind::SimpleDescriptorResponse { addr: addr("Nwk Addr")?, status: status()? });
    }
    None
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_parse_forms() {
        let list = r#"[{"time": "0.5", "src": "0x1de6", "dst": "0xfffc", "protocol": "ZigBee", "length": "80", "info": "Link Status"}]"#;
        let plain = parse(list).unwrap();
        assert_eq!(
            plain.rows[0],
            Row {
                time: 0.5,
                src: "0x1de6".into(),
                dst: "0xfffc".into(),
                protocol: "ZigBee".into(),
                length: Some(80),
                info: "Link Status".into()
            }
        );
        assert!(plain.findings.is_empty());
        let stored = serde_json::to_string(&format!("```json\n{list}\n```")).unwrap();
        let from_string = parse(&stored).unwrap();
        assert_eq!(from_string.rows, plain.rows);
        let checks: Vec<&str> = from_string.findings.iter().map(|f| f.check.as_str()).collect();
        assert_eq!(checks, ["answer.json_string", "answer.fenced"]);
        let fenced = parse(&format!("Here you go:\n```json\n{list}\n```\n")).unwrap();
        assert_eq!(fenced.rows, plain.rows);
        let lines = "{\"Time\":0.0,\"Source\":\"0x1de6\",\"Destination\":\"Broadcast\",\"Protocol\":\"ZigBee\",\"Length\":80,\"Info\":\"Link Status\"}\n\
                     {\"Time\":8.04,\"Source\":\"0x1de6\",\"Destination\":\"0xd7a7\",\"Protocol\":\"ZigBee HA\",\"Length\":69,\"Info\":\"ZCL: Read Attributes Response, Seq: 216\"}\n";
        let real = parse(lines).unwrap();
        assert_eq!(real.rows.len(), 2);
        assert_eq!(real.rows[1].length, Some(69));
        assert_eq!(parse_address(&real.rows[0].dst), Some(0xfffc));
    }

    #[test]
    fn test_parse_errors_name_the_row() {
        let bad = r#"[{"time": "1", "src": "0x1", "dst": "0x2", "protocol": "ZigBee", "length": "80", "info": "Link Status"}, {"time": "x", "src": "a", "dst": "b", "info": "Link Status"}]"#;
        assert_eq!(parse(bad).unwrap_err().to_string(), "row 2: time: \"x\" is not a number of seconds ≥ 0");
        let missing = r#"[{"time": 1, "dst": "0x2", "info": "Link Status"}]"#;
        assert_eq!(parse(missing).unwrap_err().to_string(), "row 1: src: is missing");
        assert!(matches!(parse("{\"a\": 1}"), Err(NtgError::NotAList(_))));
        assert!(matches!(parse("nope"), Err(NtgError::Json(_))));
    }

    #[test]
    fn test_parse_info_vocabulary() {
        let cases = [
            ("Link Status", Kind::LinkStatus, None),
            ("ZCL: Read Attributes, Seq: 67", Kind::ReadAttributes, Some(67)),
            ("ZCL: Read Attributes Response, Seq: 300", Kind::ReadAttributesResponse, Some(44)),
            ("ZCL Groups: Get Group Membership Response, Seq: 0", Kind::GetGroupMembershipResponse, Some(0)),
            ("ZCL Scenes: Get Scene Membership, Seq: 5", Kind::GetSceneMembership, Some(5)),
            ("ZCL OTA: Query Next Image Request, Seq: 9", Kind::OtaQueryNextImageRequest, Some(9)),
            ("ZCL: Default Response,", Kind::DefaultResponse, None),
            ("Unknown Command: 0xc1,", Kind::ZclUnknown(0xc1), None),
            (
                "Network Status, 0x1de6: Many-to-One Route Failure",
                Kind::NetworkStatus { addr: 0x1de6, status: 0x0c },
                None,
            ),
            ("Route Request, Dst: 0xd7a7, Src: 0x1de6", Kind::RouteRequest { dst: 0xd7a7, src: 0x1de6 }, None),
            (
                "Route Reply, Responder: 0x2a30, Originator: 0xd7a7",
                Kind::RouteReply { responder: 0x2a30, originator: 0xd7a7 },
                None,
            ),
            ("Node Descriptor Request, Nwk Addr: 0x1de6", Kind::NodeDescriptorRequest { addr: 0x1de6 }, None),
            (
                "Node Descriptor Response, Rev: 22, Nwk Addr: 0x1de6, Status: Success",
                Kind::NodeDescriptorResponse { addr: 0x1de6, rev: 22, status: 0 },
                None,
            ),
            (
                "Simple Descriptor Request, Nwk Addr: 0x1de6, Endpoint: 11",
                Kind::SimpleDescriptorRequest { addr: 0x1de6, endpoint: 11 },
                None,
            ),
            (
                "Simple Descriptor Response, Nwk Addr: 0x1de6, Status: Success",
                Kind::SimpleDescriptorResponse { addr: 0x1de6, status: 0 },
                None,
            ),
        ];
        for (text, kind, seq) in cases {
            assert_eq!(parse_info(text), Some((kind, seq)), "{text}");
        }
        assert_eq!(parse_info("Beacon Request"), None);
        assert_eq!(parse_info("Network Status, 0x1de6: Weather"), None);
    }
}
