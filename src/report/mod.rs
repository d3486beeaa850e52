//! Reports: the result of checking captures, and its exporters (terminal
//! table, Markdown, CSV, JSON), one file per format; the one [`Reporter`]
//! trait every command's formats implement (`check` here, the matrix in
//! [`crate::matrix::format::Format`], the paper's tables in
//! [`crate::paper::tables::Format`], realism in
//! [`crate::realism::render::Format`]); and the helpers they share
//! (percentages here, HTML in [`html`]).
//!
//! The JSON shape is a contract (DESIGN.md, "`harness check FILE… --format
//! json`"); the tables follow the paper's layout (Tables 3/5/7) with the W-E
//! column of Tables 4/6/8.

mod csv;
pub(crate) mod html;
mod json;
mod markdown;
mod table;

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

pub use self::csv::Csv;
pub use self::json::Json;
pub use self::markdown::Markdown;
pub use self::table::Table;

use crate::finding::{Finding, Protocol, Severity};
use crate::tshark::{TsharkProfile, TsharkSummary};
use crate::verdict::agreement::Agreement;
use crate::verdict::{ConversationStats, ProtocolStats};

/// The result of checking one capture.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileReport {
    /// The path as given.
    pub file: String,
    /// Link type name (`ETHERNET`, `RAW`, …) of the first interface.
    pub linktype: String,
    /// Frames in the capture.
    pub packets: u64,
    /// tshark's counts, `null` when tshark did not run.
    pub tshark: Option<TsharkSummary>,
    /// Every finding, ordered by frame, then source, then check id.
    pub findings: Vec<Finding>,
    /// Findings per check id.
    pub checks: BTreeMap<String, u64>,
    /// The success-rate table, one row per protocol that occurs.
    pub protocols: BTreeMap<Protocol, ProtocolStats>,
    /// Conversation-level result.
    pub conversations: ConversationStats,
    /// The read error that cut the capture short (frames before it are
    /// reported), absent when the whole file was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Which findings only tshark, only the own checks, or both made
    /// (present when tshark ran).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agreement: Option<Agreement>,
}

impl FileReport {
    /// Return whether any finding has error severity.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

/// The result of one `harness check` run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    /// Harness version that made the report.
    pub harness: String,
    /// The checksum rule (`strict`, `offload-aware`, `off`; see
    /// [`crate::check::Checksums`]); captures with a harness sidecar are
    /// always judged strictly.
    pub checksums: &'static str,
    /// How tshark ran; absent when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tshark: Option<TsharkProfile>,
    /// One report per capture, in the order given.
    pub files: Vec<FileReport>,
}

/// An output format for a report: a [`RunReport`] (`harness check`, the
/// default), a matrix, a paper or a realism report.
pub trait Reporter<R: ?Sized = RunReport> {
    /// Write `report` to `out`.
    ///
    /// # Errors
    /// Any I/O error from `out`.
    fn write(&self, report: &R, out: &mut dyn Write) -> io::Result<()>;
}

/// Format a ratio as a percentage with `decimals` decimals (`99.72%`).
pub(crate) fn percent(ratio: f64, decimals: usize) -> String {
    format!("{}%", percent_number(ratio, decimals))
}

/// Format a ratio as a percentage with `decimals` decimals, without the
/// sign (`99.72`): for columns whose title says `%`.
pub(crate) fn percent_number(ratio: f64, decimals: usize) -> String {
    format!("{:.*}", decimals, ratio * 100.0)
}

/// The column titles of the success-rate table, in the paper's words.
pub(crate) const COLUMNS: [&str; 8] =
    ["Protocol", "# packets", "Correct", "Malformed", "Non-existent", "Success rate", "Presence in total", "W-E"];

/// How a success-rate row writes its numbers: the check report's (`99.72%`,
/// presence with three decimals) or the matrix tables' ([`MATRIX_ROW`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RowStyle {
    /// The protocol's name.
    pub name: fn(Protocol) -> String,
    /// A ratio as a percentage with so many decimals.
    pub percent: fn(f64, usize) -> String,
    /// Decimals of the presence column.
    pub presence_decimals: usize,
}

/// The check report's rows: `ICMP`, `99.72%`, presence with three decimals.
pub(crate) const REPORT_ROW: RowStyle = RowStyle { name: |p| p.to_string(), percent, presence_decimals: 3 };

/// The matrix tables' rows: the JSON name (`icmp`), bare percentages (the
/// column titles say `%`), presence with two decimals.
pub(crate) const MATRIX_ROW: RowStyle = RowStyle {
    name: |p| serde_json::to_value(p).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
    percent: percent_number,
    presence_decimals: 2,
};

/// Return the cells of one success-rate row as `style` writes them.
pub(crate) fn row_cells(protocol: Protocol, row: &ProtocolStats, style: RowStyle) -> [String; 8] {
    [
        (style.name)(protocol),
        row.packets.to_string(),
        row.correct.to_string(),
        row.malformed.to_string(),
        row.non_existent.to_string(),
        (style.percent)(row.success_rate, 2),
        (style.percent)(row.presence, style.presence_decimals),
        row.we(),
    ]
}

#[cfg(test)]
pub(crate) mod test {
    use super::*;
    use crate::finding::Source;
    use std::borrow::Cow;

    /// A fixed report for exporter snapshots.
    pub fn sample() -> RunReport {
        let mut protocols = BTreeMap::new();
        protocols.insert(
            Protocol::Ip,
            ProtocolStats {
                packets: 4,
                correct: 4,
                malformed: 0,
                non_existent: 0,
                success_rate: 1.0,
                presence: 1.0,
                warnings: 0,
                errors: 0,
            },
        );
        protocols.insert(
            Protocol::Dns,
            ProtocolStats {
                packets: 4,
                correct: 2,
                malformed: 1,
                non_existent: 1,
                success_rate: 0.5,
                presence: 0.75,
                warnings: 1,
                errors: 1,
            },
        );
        let findings = vec![
            Finding::own(
                2,
                Severity::Error,
                "dns.count_mismatch",
                Protocol::Dns,
                "header declares 2 answer records but only 1 are present".into(),
            ),
            Finding {
                frame: 3,
                severity: Severity::Warn,
                source: Source::Tshark,
                check: Cow::Borrowed("tshark.sequence"),
                protocol: Protocol::Dns,
                message: "DNS query retransmission".into(),
                expert: Some("dns.retransmit_request".into()),
            },
        ];
        let mut checks = BTreeMap::new();
        checks.insert("dns.count_mismatch".to_string(), 1);
        checks.insert("tshark.sequence".to_string(), 1);
        RunReport {
            harness: "0.0.0-test".into(),
            checksums: "strict",
            tshark: None,
            files: vec![FileReport {
                file: "dns.pcap".into(),
                linktype: "ETHERNET".into(),
                packets: 4,
                tshark: Some(TsharkSummary { version: "4.0.17".into(), errors: 0, warnings: 1, notes: 0, chats: 0 }),
                findings,
                checks,
                protocols,
                conversations: ConversationStats { total: 2, succeeded: 1 },
                error: None,
                agreement: None,
            }],
        }
    }

    pub fn render(reporter: &dyn Reporter) -> String {
        let mut out = Vec::new();
        reporter.write(&sample(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn test_percent() {
        assert_eq!(percent(0.884_792, 2), "88.48%");
        assert_eq!(percent(0.386_14, 3), "38.614%");
        assert_eq!(percent_number(1.0, 2), "100.00");
    }
}
