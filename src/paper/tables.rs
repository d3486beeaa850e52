//! The paper's Tables 3–11 computed from a folder of captures, under the
//! paper's rules and the harness's rules side by side, with every
//! difference explained by check id.
//!
//! Grouping follows the folder names the paper's repository uses
//! (`gpt3_5/data/…`): `Packets/` → Tables 3 (success) and 4 (W-E),
//! `Conversations/` → 5 and 6, `Fine_Tuned/` (the experts) → 7 and 8,
//! `MOE/` → 9, `ADayIn/` → Figure 4 ("a day in the life"); Tables 10 and 11
//! compare success rates across models (packets; conversations and MoE) and
//! hold one column pair for the model the folder is named after. Each table
//! is one fresh notebook kernel running over all captures of its group in
//! path order.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{evaluate_file, FileVerdicts, Notebook, Status, NOTEBOOK_PROTOCOLS};
use crate::finding::{Protocol, Severity, Source};
use crate::report::{percent, FileReport};
use crate::verdict::{FrameRecord, ProtocolStats};

/// A capture group of the paper's repository layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Group {
    /// `Packets/`: single-packet generation.
    Packets,
    /// `Conversations/`: conversation generation.
    Conversations,
    /// `Fine_Tuned/`: conversations by the fine-tuned experts.
    FineTuned,
    /// `MOE/`: the mixture-of-experts dataset.
    Moe,
    /// `ADayIn/`: "a day in the life of an HTTP connection".
    DayInTheLife,
}

impl Group {
    /// Return the group a top-level folder name stands for.
    pub fn from_dir_name(name: &str) -> Option<Group> {
        match name.to_ascii_lowercase().replace(['-', '_', ' '], "").as_str() {
            "packets" => Some(Group::Packets),
            "conversations" => Some(Group::Conversations),
            "finetuned" => Some(Group::FineTuned),
            "moe" => Some(Group::Moe),
            "adayin" | "adayinthelife" => Some(Group::DayInTheLife),
            _ => None,
        }
    }

    /// Return the paper's number and caption of this group's success table.
    fn success_title(self, model: &str) -> (&'static str, String) {
        match self {
            Group::Packets => ("Table 3", format!("Packet generation ({model}) results divided by protocol")),
            Group::Conversations => {
                ("Table 5", format!("Conversations generation ({model}) results divided by protocol"))
            }
            Group::FineTuned => {
                ("Table 7", format!("Conversations generation (Experts, {model}) results divided by protocol"))
            }
            Group::Moe => ("Table 9", format!("MoE dataset generation summary ({model})")),
            Group::DayInTheLife => ("Figure 4", format!("A day in the life of an HTTP connection ({model})")),
        }
    }

    /// Return the paper's number and caption of this group's W-E table.
    fn we_title(self, model: &str) -> Option<(&'static str, String)> {
        match self {
            Group::Packets => {
                Some(("Table 4", format!("Warnings (W) and errors (E) in the packet generation ({model}) captures")))
            }
            Group::Conversations => Some((
                "Table 6",
                format!("Warnings (W) and errors (E) in the conversation generation ({model}) captures"),
            )),
            Group::FineTuned => Some((
                "Table 8",
                format!("Warnings (W) and errors (E) in the conversation generation (Experts, {model}) captures"),
            )),
            _ => None,
        }
    }
}

/// One capture, judged both ways.
#[derive(Debug)]
pub struct Capture {
    /// Path relative to the folder walked (`/`-separated).
    pub relative: String,
    /// The group it belongs to.
    pub group: Group,
    /// The protocol folder below the group (`ICMP`, …), or the group's own
    /// folder name.
    pub subject: String,
    /// The notebook's verdicts.
    pub paper: FileVerdicts,
    /// The harness's report (own checks, plus tshark when it ran).
    pub harness: FileReport,
    /// The harness's per-frame layer records.
    pub frames: Vec<FrameRecord>,
}

impl Capture {
    /// Return the harness's status of `protocol` in frame `index` (0-based)
    /// and the error check ids attached to that layer there.
    fn harness_status(
        &self,
        index: usize,
        protocol: Protocol,
        errors: &BTreeMap<(u64, Protocol), Vec<String>>,
    ) -> (Status, Vec<String>) {
        let Some(record) = self.frames.get(index) else {
            return (Status::Absent, Vec::new());
        };
        let ids = errors.get(&(index as u64 + 1, protocol)).cloned().unwrap_or_default();
        let status = if record.present.contains(protocol) {
            if ids.is_empty() {
                Status::Correct
            } else {
                Status::Malformed
            }
        } else if record.expected.contains(protocol) {
            Status::NonExistent
        } else {
            Status::Absent
        };
        (status, ids)
    }

    fn error_index(&self) -> BTreeMap<(u64, Protocol), Vec<String>> {
        let mut out: BTreeMap<(u64, Protocol), Vec<String>> = BTreeMap::new();
        for finding in self.harness.findings.iter().filter(|f| f.severity == Severity::Error) {
            let ids = out.entry((finding.frame, finding.protocol)).or_default();
            if !ids.iter().any(|id| *id == finding.check) {
                ids.push(finding.check.to_string());
            }
        }
        out
    }
}

/// Walk `dir` and return its captures in path order, with their group and
/// subject; captures outside a known group folder are skipped.
pub fn discover(dir: &Path) -> std::io::Result<Vec<(PathBuf, String, Group, String)>> {
    let mut files = Vec::new();
    collect(dir, &mut files)?;
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let Ok(relative) = path.strip_prefix(dir) else {
            continue;
        };
        let parts: Vec<String> = relative.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
        let Some(group) = parts.first().and_then(|p| Group::from_dir_name(p)) else {
            continue;
        };
        let subject = match group {
            Group::Packets | Group::Conversations | Group::FineTuned if parts.len() > 2 => parts[1].clone(),
            _ => parts[0].clone(),
        };
        out.push((path.clone(), parts.join("/"), group, subject));
    }
    Ok(out)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("pcap" | "pcapng")) {
            out.push(path);
        }
    }
    Ok(())
}

/// Build a [`Capture`] from the harness's report of `path` and the
/// notebook's verdicts.
///
/// # Errors
/// The capture cannot be read by the notebook emulation.
pub fn capture(
    path: &Path,
    relative: String,
    group: Group,
    subject: String,
    harness: FileReport,
    frames: Vec<FrameRecord>,
) -> Result<Capture, crate::pcap::ReadError> {
    Ok(Capture { relative, group, subject, paper: evaluate_file(path)?, harness, frames })
}

/// One success-table row: the protocol under both rule sets, and the
/// per-packet disagreements by check id.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SuccessRow {
    /// Table key (`IP`, …).
    pub protocol: Protocol,
    /// Under the paper's notebook rules (absent: the notebook has no row).
    pub paper: Option<ProtocolStats>,
    /// Under the harness's rules (absent: no packet has the layer).
    pub harness: Option<ProtocolStats>,
    /// Packets failing this layer only under the harness's rules, by the
    /// harness check ids attached to it (`(not decoded)`: expected but not
    /// decodable, no finding).
    pub fail_only_harness: BTreeMap<String, u64>,
    /// Packets failing this layer only under the paper's rules, by rule id.
    pub fail_only_paper: BTreeMap<String, u64>,
}

/// A success table (Tables 3, 5, 7, 9, Figure 4).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SuccessTable {
    /// `Table 3`, …
    pub number: String,
    /// The caption.
    pub title: String,
    /// Captures evaluated, in order.
    pub files: Vec<String>,
    /// Packets in them.
    pub packets: u64,
    /// One row per protocol that occurs under either rule set.
    pub rows: Vec<SuccessRow>,
}

/// A W-E table (Tables 4, 6, 8): one column per protocol folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WeTable {
    /// `Table 4`, …
    pub number: String,
    /// The caption.
    pub title: String,
    /// Protocol folders (`ICMP`, `ARP`, …).
    pub columns: Vec<String>,
    /// tshark Expert Info warnings and errors per column (what the paper
    /// counted); absent when tshark did not run.
    pub wireshark: Option<Vec<[u64; 2]>>,
    /// The harness's own warn and error findings per column.
    pub harness: Vec<[u64; 2]>,
}

/// A cross-model table (Tables 10, 11): success rates per protocol, one
/// column per model × rule set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CrossTable {
    /// `Table 10`, …
    pub number: String,
    /// The caption.
    pub title: String,
    /// Column titles.
    pub columns: Vec<String>,
    /// Protocol and success rate per column (`None`: no packet).
    pub rows: Vec<(Protocol, Vec<Option<f64>>)>,
}

/// One of the paper's tables.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PaperTable {
    /// Success rates per protocol.
    Success(SuccessTable),
    /// Warnings and errors per protocol folder.
    We(WeTable),
    /// Success rates across models.
    Cross(CrossTable),
}

/// Every table computed from one model's folder.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PaperReport {
    /// The model (the folder's name).
    pub model: String,
    /// Whether tshark's Expert Info was part of the harness's rules.
    pub tshark: bool,
    /// The tables, in the paper's order.
    pub tables: Vec<PaperTable>,
}

/// Table row order: the notebook's protocols, then the harness-only ETH.
const ROW_ORDER: [Protocol; 8] = [
    Protocol::Ip,
    Protocol::Icmp,
    Protocol::Dns,
    Protocol::Udp,
    Protocol::Arp,
    Protocol::Http,
    Protocol::Tcp,
    Protocol::Eth,
];

fn harness_totals(captures: &[&Capture]) -> (u64, BTreeMap<Protocol, ProtocolStats>) {
    let total: u64 = captures.iter().map(|c| c.harness.packets).sum();
    let mut sums: BTreeMap<Protocol, ProtocolStats> = BTreeMap::new();
    for capture in captures {
        for (protocol, row) in &capture.harness.protocols {
            sums.entry(*protocol).or_default().add(row);
        }
    }
    for row in sums.values_mut() {
        row.finish(total);
    }
    (total, sums)
}

fn success_table(number: &str, title: String, captures: &[&Capture]) -> SuccessTable {
    let paper = Notebook::new().run(captures.iter().map(|c| &c.paper));
    let (packets, harness) = harness_totals(captures);
    let mut rows = Vec::new();
    for protocol in ROW_ORDER {
        let (p, h) = (paper.get(&protocol).copied(), harness.get(&protocol).copied());
        if p.is_none() && h.is_none() {
            continue;
        }
        let mut row = SuccessRow {
            protocol,
            paper: p,
            harness: h,
            fail_only_harness: BTreeMap::new(),
            fail_only_paper: BTreeMap::new(),
        };
        for capture in captures {
            let errors = capture.error_index();
            for (index, verdict) in capture.paper.packets.iter().enumerate() {
                let paper_status =
                    if NOTEBOOK_PROTOCOLS.contains(&protocol) { verdict.status(protocol) } else { Status::Absent };
                let (harness_status, ids) = capture.harness_status(index, protocol, &errors);
                if harness_status.failed() && !paper_status.failed() {
                    if ids.is_empty() {
                        *row.fail_only_harness.entry("(not decoded)".to_string()).or_default() += 1;
                    }
                    for id in ids {
                        *row.fail_only_harness.entry(id).or_default() += 1;
                    }
                } else if paper_status.failed() && !harness_status.failed() {
                    if let Some(rule) = verdict.rule {
                        *row.fail_only_paper.entry(rule.id().to_string()).or_default() += 1;
                    }
                }
            }
        }
        rows.push(row);
    }
    SuccessTable {
        number: number.to_string(),
        title,
        files: captures.iter().map(|c| c.relative.clone()).collect(),
        packets,
        rows,
    }
}

fn we_table(number: &str, title: String, captures: &[&Capture], tshark: bool) -> WeTable {
    let mut columns: Vec<String> = Vec::new();
    for capture in captures {
        if !columns.contains(&capture.subject) {
            columns.push(capture.subject.clone());
        }
    }
    let mut wireshark = vec![[0u64; 2]; columns.len()];
    let mut harness = vec![[0u64; 2]; columns.len()];
    for capture in captures {
        let Some(at) = columns.iter().position(|c| *c == capture.subject) else {
            continue;
        };
        if let Some(summary) = &capture.harness.tshark {
            wireshark[at][0] += summary.warnings;
            wireshark[at][1] += summary.errors;
        }
        for finding in capture.harness.findings.iter().filter(|f| f.source == Source::Harness) {
            match finding.severity {
                Severity::Warn => harness[at][0] += 1,
                Severity::Error => harness[at][1] += 1,
                _ => {}
            }
        }
    }
    WeTable { number: number.to_string(), title, columns, wireshark: tshark.then_some(wireshark), harness }
}

/// Compute every table from the captures of one model's folder.
pub fn build(model: &str, captures: &[Capture], tshark: bool) -> PaperReport {
    let mut tables = Vec::new();
    let mut success: BTreeMap<Group, SuccessTable> = BTreeMap::new();
    for group in [Group::Packets, Group::Conversations, Group::FineTuned, Group::Moe, Group::DayInTheLife] {
        let members: Vec<&Capture> = captures.iter().filter(|c| c.group == group).collect();
        if members.is_empty() {
            continue;
        }
        let (number, title) = group.success_title(model);
        let table = success_table(number, title, &members);
        success.insert(group, table.clone());
        tables.push(PaperTable::Success(table));
        if let Some((number, title)) = group.we_title(model) {
            tables.push(PaperTable::We(we_table(number, title, &members, tshark)));
        }
    }
    let rate = |table: &SuccessTable, protocol: Protocol, paper: bool| -> Option<f64> {
        let row = table.rows.iter().find(|r| r.protocol == protocol)?;
        let stats = if paper { row.paper? } else { row.harness? };
        (stats.correct + stats.malformed + stats.non_existent > 0).then_some(stats.success_rate)
    };
    let cross =
        |number: &str, title: String, sources: &[(Group, String)], protocols: &[Protocol]| -> Option<PaperTable> {
            let present: Vec<&(Group, String)> = sources.iter().filter(|(g, _)| success.contains_key(g)).collect();
            if present.is_empty() {
                return None;
            }
            let mut columns = Vec::new();
            for (_, label) in &present {
                columns.push(format!("{label} (paper rules)"));
                columns.push(format!("{label} (harness rules)"));
            }
            let rows = protocols
                .iter()
                .map(|protocol| {
                    let mut cells = Vec::new();
                    for (group, _) in &present {
                        let table = &success[group];
                        cells.push(rate(table, *protocol, true));
                        cells.push(rate(table, *protocol, false));
                    }
                    (*protocol, cells)
                })
                .collect();
            Some(PaperTable::Cross(CrossTable { number: number.to_string(), title, columns, rows }))
        };
    let all =
        [Protocol::Ip, Protocol::Icmp, Protocol::Dns, Protocol::Udp, Protocol::Arp, Protocol::Http, Protocol::Tcp];
    tables.extend(cross(
        "Table 10",
        "Comparison of success rates obtained in the packet generation".into(),
        &[(Group::Packets, model.to_string())],
        &all,
    ));
    let conversation_protocols = [Protocol::Icmp, Protocol::Dns, Protocol::Arp, Protocol::Http, Protocol::Tcp];
    tables.extend(cross(
        "Table 11",
        "Comparison of success rates obtained in the conversation generation".into(),
        &[(Group::Conversations, model.to_string()), (Group::Moe, format!("MoE {model}"))],
        &conversation_protocols,
    ));
    PaperReport { model: model.to_string(), tshark, tables }
}

/// A table laid out as text cells.
struct Grid {
    caption: String,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    notes: Vec<String>,
}

fn pct(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "-".to_string(), |v| percent(v, decimals))
}

fn counts(map: &BTreeMap<String, u64>) -> String {
    map.iter().map(|(id, n)| format!("{id} x{n}")).collect::<Vec<_>>().join(", ")
}

fn grid(table: &PaperTable) -> Grid {
    match table {
        PaperTable::Success(t) => {
            let mut header = vec!["Protocol".to_string()];
            for side in ["paper", "harness"] {
                for column in ["# packets", "Correct", "Malformed", "Non-existent", "Success rate", "Presence"] {
                    header.push(format!("{side}: {column}"));
                }
            }
            let rows = t
                .rows
                .iter()
                .map(|row| {
                    let mut cells = vec![row.protocol.to_string()];
                    for stats in [row.paper, row.harness] {
                        match stats {
                            Some(s) => {
                                let judged = s.correct + s.malformed + s.non_existent;
                                cells.extend([
                                    s.packets.to_string(),
                                    s.correct.to_string(),
                                    s.malformed.to_string(),
                                    s.non_existent.to_string(),
                                    if judged == 0 { "None".to_string() } else { pct(Some(s.success_rate), 2) },
                                    pct(Some(s.presence), 3),
                                ]);
                            }
                            None => cells.extend(std::iter::repeat_n("-".to_string(), 6)),
                        }
                    }
                    cells
                })
                .collect();
            let mut notes =
                vec![format!("{} packets in {} captures: {}", t.packets, t.files.len(), t.files.join(", "))];
            for row in &t.rows {
                if row.fail_only_harness.is_empty() && row.fail_only_paper.is_empty() {
                    continue;
                }
                let mut line = format!("{}:", row.protocol);
                if !row.fail_only_harness.is_empty() {
                    let _ = write!(line, " fail only under harness rules: {};", counts(&row.fail_only_harness));
                }
                if !row.fail_only_paper.is_empty() {
                    let _ = write!(line, " fail only under paper rules: {};", counts(&row.fail_only_paper));
                }
                line.pop();
                notes.push(line);
            }
            Grid { caption: format!("{}. {}", t.number, t.title), header, rows, notes }
        }
        PaperTable::We(t) => {
            let mut header = vec!["Source".to_string()];
            header.extend(t.columns.iter().cloned());
            let we = |pairs: &[[u64; 2]]| pairs.iter().map(|[w, e]| format!("{w}W-{e}E")).collect::<Vec<_>>();
            let mut wireshark = vec!["Wireshark Expert Info (paper)".to_string()];
            match &t.wireshark {
                Some(pairs) => wireshark.extend(we(pairs)),
                None => wireshark.extend(t.columns.iter().map(|_| "n/a (tshark off)".to_string())),
            }
            let mut harness = vec!["harness own checks".to_string()];
            harness.extend(we(&t.harness));
            Grid {
                caption: format!("{}. {}", t.number, t.title),
                header,
                rows: vec![wireshark, harness],
                notes: Vec::new(),
            }
        }
        PaperTable::Cross(t) => {
            let mut header = vec!["Protocol".to_string()];
            header.extend(t.columns.iter().cloned());
            let rows = t
                .rows
                .iter()
                .map(|(protocol, cells)| {
                    let mut out = vec![protocol.to_string()];
                    out.extend(cells.iter().map(|c| pct(*c, 2)));
                    out
                })
                .collect();
            let notes =
                vec!["Other models' columns need their captures in folders of their own (one --from per model)."
                    .to_string()];
            Grid { caption: format!("{}. {}", t.number, t.title), header, rows, notes }
        }
    }
}

/// Render the report as aligned text tables.
pub(crate) fn render_text(report: &PaperReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Paper tables for {} (paper: the evaluation notebook's rules; harness: own checks{})",
        report.model,
        if report.tshark { " + tshark" } else { "" }
    );
    for table in &report.tables {
        let grid = grid(table);
        let mut widths: Vec<usize> = grid.header.iter().map(|h| h.chars().count()).collect();
        for row in &grid.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &[String]| -> String {
            let mut s = String::new();
            for (c, (cell, w)) in cells.iter().zip(&widths).enumerate() {
                let pad = w.saturating_sub(cell.chars().count());
                if c == 0 {
                    let _ = write!(s, "  {cell}{}", " ".repeat(pad));
                } else {
                    let _ = write!(s, "  {}{cell}", " ".repeat(pad));
                }
            }
            s.trim_end().to_string()
        };
        let _ = writeln!(out, "\n{}", grid.caption);
        let _ = writeln!(out, "{}", line(&grid.header));
        for row in &grid.rows {
            let _ = writeln!(out, "{}", line(row));
        }
        for note in &grid.notes {
            let _ = writeln!(out, "  {note}");
        }
    }
    out
}

/// Render the report as Markdown tables.
pub(crate) fn render_markdown(report: &PaperReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Paper tables for {}", report.model);
    let _ = writeln!(
        out,
        "\n*paper*: the evaluation notebook's rules; *harness*: own checks{}.",
        if report.tshark { " + tshark" } else { "" }
    );
    for table in &report.tables {
        let grid = grid(table);
        let _ = writeln!(out, "\n## {}\n", grid.caption);
        let _ = writeln!(out, "| {} |", grid.header.join(" | "));
        let _ = writeln!(
            out,
            "|{}",
            grid.header.iter().enumerate().map(|(i, _)| if i == 0 { "---|" } else { "---:|" }).collect::<String>()
        );
        for row in &grid.rows {
            let _ = writeln!(out, "| {} |", row.join(" | "));
        }
        if !grid.notes.is_empty() {
            out.push('\n');
            for note in &grid.notes {
                let _ = writeln!(out, "- {note}");
            }
        }
    }
    out
}

/// The formats of the paper's tables (`harness paper --format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned text tables.
    Text,
    /// Markdown tables.
    Markdown,
    /// The report as JSON.
    Json,
}

impl crate::report::Reporter<PaperReport> for Format {
    fn write(&self, report: &PaperReport, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        match self {
            Format::Text => out.write_all(render_text(report).as_bytes()),
            Format::Markdown => out.write_all(render_markdown(report).as_bytes()),
            Format::Json => {
                serde_json::to_writer_pretty(&mut *out, report)?;
                out.write_all(b"\n")
            }
        }
    }
}
