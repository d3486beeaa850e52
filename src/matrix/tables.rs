//! The matrix's tables, one renderer for the terminal and Markdown, plus
//! CSV, JSON and JUnit XML exporters.
//!
//! Tables: per cell the paper's per-protocol table (Tables 3/5/7/9) with its
//! W-E column (Tables 4/6/8); the cross-model tables at packet level (per
//! protocol, Tables 10/11) and conversation level; the mutant detection
//! matrix; answer quirks; generation time and tokens per model (Table 12);
//! after `matrix --onwire`, the conversations real stacks reproduce per cell
//! and, as a column of the conversation-level table, per model.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::cell::{CellResult, REQUEST_FAILED};
use super::MatrixReport;
use crate::finding::Protocol;
use crate::report::{self, percent_number, MATRIX_ROW};
use crate::verdict::ProtocolStats;

/// A Markdown table (also the terminal form).
fn table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).chain([header[i].len()]).max().unwrap_or(0))
        .collect();
    let line = |cells: Vec<String>| {
        let mut s = String::from("|");
        for (c, w) in cells.iter().zip(&widths) {
            let _ = write!(s, " {c:<w$} |");
        }
        s
    };
    let _ = writeln!(out, "{}", line(header.iter().map(|h| h.to_string()).collect()));
    let _ = writeln!(out, "|{}", widths.iter().map(|w| format!("{}|", "-".repeat(w + 2))).collect::<String>());
    for r in rows {
        let _ = writeln!(out, "{}", line(r.clone()));
    }
    out.push('\n');
}

/// The heading of one cell: model, suite, traces, correct conversations
/// and, apart from them, the requests that failed.
pub(super) fn cell_heading(c: &CellResult) -> String {
    let mut text = format!(
        "{} on {} ({} {}, {}): {} traces, {}/{} conversations correct",
        c.model, c.suite, c.protocol, c.mode, c.dialect, c.traces, c.conversations.succeeded, c.conversations.total
    );
    if c.requests_failed > 0 {
        let _ = write!(text, ", {}", requests_failed(c.requests_failed));
    }
    text
}

/// `1 request failed`, `N requests failed`.
pub(super) fn requests_failed(n: u64) -> String {
    if n == 1 {
        "1 request failed".into()
    } else {
        format!("{n} requests failed")
    }
}

/// The paper's per-protocol table of one cell.
pub fn cell_table(out: &mut String, c: &CellResult) {
    let _ = writeln!(out, "### {}\n", cell_heading(c));
    let rows: Vec<Vec<String>> =
        c.protocols.iter().map(|(p, s)| report::row_cells(*p, s, MATRIX_ROW).to_vec()).collect();
    table(
        out,
        &["Protocol", "Packets", "Correct", "Malformed", "Non-existent", "Success %", "Presence %", "W-E"],
        &rows,
    );
    if let Some(n) = &c.ntg {
        let f = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.4}"));
        let _ = writeln!(
            out,
            "LLM-NTG statistics against the sample: {} trials, JSD timing {}, size {}, types {} (bits); {:.1} packets, mean inter-arrival {} s, {:.0} tokens and {:.2} s per trial\n",
            n.trials,
            f(n.jsd_timing),
            f(n.jsd_size),
            f(n.jsd_types),
            n.packets_per_trial,
            f(n.mean_inter_arrival_s),
            n.tokens_per_trial,
            n.seconds_per_trial
        );
        let rows: Vec<Vec<String>> = n.types.iter().map(|(k, v)| vec![k.clone(), v.to_string()]).collect();
        table(out, &["Message type", "Packets"], &rows);
    }
    if let Some(rows) = &c.realism {
        let _ = writeln!(out, "Realism against the suite's reference capture:\n");
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    r.metric.clone(),
                    r.kind.clone(),
                    r.value.map_or("n/a".into(), |v| format!("{v:.4}")),
                    r.unit.clone(),
                ]
            })
            .collect();
        table(out, &["Metric", "Kind", "Value", "Unit"], &rows);
    }
    let failures: Vec<String> = c
        .exec_failures
        .iter()
        .filter(|(k, _)| k.as_str() != REQUEST_FAILED.as_str())
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    if !failures.is_empty() {
        let _ = writeln!(out, "Executor failures: {}\n", failures.join(", "));
    }
    if !c.finish_reasons.is_empty() {
        let list: Vec<String> = c.finish_reasons.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(out, "Finish reasons: {}\n", list.join(", "));
    }
}

pub(super) fn protocol_name(p: Protocol) -> String {
    (MATRIX_ROW.name)(p)
}

/// Sum the protocol rows of several cells.
pub(super) fn merge<'c>(cells: impl Iterator<Item = &'c CellResult>) -> BTreeMap<Protocol, ProtocolStats> {
    let mut out: BTreeMap<Protocol, ProtocolStats> = BTreeMap::new();
    for c in cells {
        for (p, s) in &c.protocols {
            let row = out.entry(*p).or_default();
            row.packets += s.packets;
            row.correct += s.correct;
            row.malformed += s.malformed;
            row.non_existent += s.non_existent;
        }
    }
    for row in out.values_mut() {
        row.success_rate = row.rate();
    }
    out
}

pub(super) fn is_mutant(c: &CellResult) -> bool {
    c.expected_check.is_some()
}

pub(super) fn models(cells: &[CellResult]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for c in cells {
        if !is_mutant(c) && !out.contains(&c.model.as_str()) {
            out.push(&c.model);
        }
    }
    out
}

/// Cross-model tables: success rate per protocol (packet level) and
/// correct conversations per suite protocol (conversation level), with,
/// after `matrix --onwire`, the conversations real stacks reproduce over
/// each model's cells (`on the wire`: matched / replayed, `-` where none
/// was replayed).
pub fn cross_model(out: &mut String, cells: &[CellResult]) {
    let models = models(cells);
    if models.is_empty() {
        return;
    }
    // The IPv4 stack's layers (ZigBee has tables of its own).
    let layers = &Protocol::LAYERS[..8];
    let _ = writeln!(out, "## Cross-model, packet level: success rate % per protocol (packets judged)\n");
    let mut header = vec!["Model"];
    let names: Vec<String> = layers.iter().map(|l| protocol_name(*l)).collect();
    header.extend(names.iter().map(String::as_str));
    let rows: Vec<Vec<String>> = models
        .iter()
        .map(|m| {
            let merged = merge(cells.iter().filter(|c| c.model == *m));
            std::iter::once(m.to_string())
                .chain(layers.iter().map(|l| {
                    merged
                        .get(l)
                        .map_or("-".to_string(), |s| format!("{} ({})", percent_number(s.success_rate, 2), s.packets))
                }))
                .collect()
        })
        .collect();
    table(out, &header, &rows);
    let wire = cells.iter().any(|c| c.onwire.is_some());
    let _ = writeln!(
        out,
        "## Cross-model, conversation level: correct / total{}\n",
        if wire { "; on the wire: matched / replayed" } else { "" }
    );
    let mut protocols: Vec<String> =
        cells.iter().filter(|c| !is_mutant(c)).map(|c| format!("{} {}", c.protocol, c.mode)).collect();
    protocols.sort();
    protocols.dedup();
    let mut header = vec!["Model"];
    header.extend(protocols.iter().map(String::as_str));
    if wire {
        header.push("on the wire");
    }
    let rows: Vec<Vec<String>> = models
        .iter()
        .map(|m| {
            std::iter::once(m.to_string())
                .chain(protocols.iter().map(|p| {
                    let (ok, total) = cells
                        .iter()
                        .filter(|c| c.model == *m && format!("{} {}", c.protocol, c.mode) == *p)
                        .fold((0, 0), |(a, b), c| (a + c.conversations.succeeded, b + c.conversations.total));
                    if total == 0 {
                        "-".to_string()
                    } else {
                        format!("{ok}/{total}")
                    }
                }))
                .chain(wire.then(|| on_the_wire(super::onwire::total(cells.iter().filter(|c| c.model == *m)).as_ref())))
                .collect()
        })
        .collect();
    table(out, &header, &rows);
}

/// `matched/replayed`, or `-` when nothing was replayed.
fn on_the_wire(f: Option<&crate::onwire::Fidelity>) -> String {
    match f {
        Some(f) if f.replayed > 0 => format!("{}/{}", f.matched, f.replayed),
        _ => "-".to_string(),
    }
}

/// After `matrix --onwire`: per replayed cell (mutants included), the
/// conversations real stacks reproduce, those not replayed (`Skipped`) and
/// the most common mismatching fields; then the real stacks' versions. Nothing
/// without `--onwire`.
pub fn onwire(out: &mut String, report: &MatrixReport) {
    let rows: Vec<Vec<String>> = report
        .cells
        .iter()
        .filter_map(|c| {
            let f = c.onwire.as_ref()?;
            Some(vec![c.model.clone(), c.suite.clone(), on_the_wire(Some(f)), f.skipped.to_string(), f.top_fields(4)])
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(out, "## On the wire: conversations real stacks reproduce (matched / replayed)\n");
    table(out, &["Model", "Suite", "On the wire", "Skipped", "Most common mismatching fields"], &rows);
    let servers: Vec<String> = report.onwire_servers.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let _ = writeln!(
        out,
        "Real stacks: {}\n",
        if servers.is_empty() { "none started".to_string() } else { servers.join(", ") }
    );
}

/// The mutant detection matrix: per fault and suite, the named check, and
/// in how many traces it, any own check, tshark and the executor caught it.
pub fn detection(out: &mut String, cells: &[CellResult]) {
    let rows: Vec<Vec<String>> = cells
        .iter()
        .filter(|c| is_mutant(c))
        .map(|c| {
            let by = c.caught_by.clone().unwrap_or_default();
            let n = |k: &str| format!("{}/{}", by.get(k).copied().unwrap_or(0), c.traces);
            vec![
                c.model.trim_start_matches("mutant:").to_string(),
                c.suite.clone(),
                c.expected_check.clone().unwrap_or_default(),
                if c.caught == Some(true) { "yes".into() } else { "NO".into() },
                n("named"),
                n("own"),
                n("tshark"),
                n("executor"),
            ]
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Mutant detection matrix\n");
    table(out, &["Fault", "Suite", "Must be caught by", "Caught", "By it", "Own checks", "tshark", "Executor"], &rows);
}

/// Whether check `id` is an answer quirk (`answer.*`, `answer.truncated`
/// included) or an executor outcome (`exec.*`); a failed request is
/// neither: the model never answered.
pub(super) fn is_quirk(id: &str) -> bool {
    id.starts_with("answer.") || (id.starts_with("exec.") && id != format!("exec.{REQUEST_FAILED}"))
}

/// Answer quirks and executor outcomes (see [`is_quirk`]) per model, in
/// traces, mutants left out.
pub(super) fn quirk_counts(cells: &[CellResult]) -> BTreeMap<&str, BTreeMap<&str, u64>> {
    let mut per: BTreeMap<&str, BTreeMap<&str, u64>> = BTreeMap::new();
    for c in cells.iter().filter(|c| !is_mutant(c)) {
        for (k, v) in &c.checks {
            if is_quirk(k) {
                *per.entry(&c.model).or_default().entry(k).or_default() += v;
            }
        }
    }
    per
}

/// Answer quirks (`answer.*`) and executor outcomes per model.
pub fn quirks(out: &mut String, cells: &[CellResult]) {
    let per = quirk_counts(cells);
    if per.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Answer quirks and executor failures (traces)\n");
    let rows: Vec<Vec<String>> = per
        .iter()
        .map(|(m, q)| vec![m.to_string(), q.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")])
        .collect();
    table(out, &["Model", "Counts"], &rows);
}

/// One model's time, tokens and cost over its cells, as the cost tables
/// show them (failed requests are no traces here: the model never
/// answered them).
pub(super) struct ModelCost {
    /// Answered traces.
    pub traces: u64,
    /// Seconds spent answering them, two decimals.
    pub seconds: String,
    /// Seconds per answered trace, three decimals, or `-`.
    pub per_trace: String,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Cost in USD, four decimals, or `-`.
    pub cost: String,
}

/// The [`ModelCost`] of model `m`.
pub(super) fn model_cost(cells: &[CellResult], m: &str) -> ModelCost {
    let own: Vec<&CellResult> = cells.iter().filter(|c| c.model == m).collect();
    let traces: u64 = own.iter().map(|c| c.answered()).sum();
    let ms: u64 = own.iter().map(|c| c.latency_ms).sum();
    let (prompt_tokens, completion_tokens) =
        own.iter().fold((0, 0), |(a, b), c| (a + c.usage.prompt_tokens, b + c.usage.completion_tokens));
    let cost: Option<f64> = own.iter().filter_map(|c| c.cost_usd).reduce(|a, b| a + b);
    ModelCost {
        traces,
        seconds: format!("{:.2}", ms as f64 / 1000.0),
        per_trace: if traces == 0 { "-".into() } else { format!("{:.3}", ms as f64 / 1000.0 / traces as f64) },
        prompt_tokens,
        completion_tokens,
        cost: cost.map_or("-".into(), |c| format!("{c:.4}")),
    }
}

/// Generation time per protocol and tokens and cost per model (Table 12).
pub fn cost(out: &mut String, cells: &[CellResult]) {
    let rows: Vec<Vec<String>> = models(cells)
        .iter()
        .map(|m| {
            let c = model_cost(cells, m);
            vec![
                m.to_string(),
                c.traces.to_string(),
                c.seconds,
                c.per_trace,
                c.prompt_tokens.to_string(),
                c.completion_tokens.to_string(),
                c.cost,
            ]
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Generation time and tokens per model\n");
    table(out, &["Model", "Traces", "Time s", "s/trace", "Prompt tokens", "Completion tokens", "Cost USD"], &rows);
    // Table 12 of the paper: generation time per protocol.
    let mut protocols: Vec<&str> = cells.iter().filter(|c| !is_mutant(c)).map(|c| c.protocol.as_str()).collect();
    protocols.sort_unstable();
    protocols.dedup();
    let mut header = vec!["Model (s per trace)"];
    header.extend(protocols.iter().copied());
    let rows: Vec<Vec<String>> = models(cells)
        .iter()
        .map(|m| {
            std::iter::once(m.to_string())
                .chain(protocols.iter().map(|p| {
                    let (ms, n) = cells
                        .iter()
                        .filter(|c| c.model == *m && c.protocol == *p)
                        .fold((0, 0), |(a, b), c| (a + c.latency_ms, b + c.answered()));
                    if n == 0 {
                        "-".to_string()
                    } else {
                        format!("{:.3}", ms as f64 / 1000.0 / n as f64)
                    }
                }))
                .collect()
        })
        .collect();
    let _ = writeln!(out, "## Generation time per protocol\n");
    table(out, &header, &rows);
}

/// The whole report as terminal/Markdown text: per-cell tables, the
/// detection matrix, quirks, time and tokens, the cells on the wire (after
/// `--onwire`), and the cross-model tables last (what a reader looks at
/// first when the run ends).
pub(crate) fn markdown(report: &MatrixReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# harness matrix\n\nharness {}, tshark {}, Scapy {}\n",
        report.harness,
        report.tshark.as_deref().unwrap_or("off"),
        report.scapy.as_deref().unwrap_or("not used")
    );
    out.push_str("## Cells\n\n");
    for c in report.cells.iter().filter(|c| !is_mutant(c)) {
        cell_table(&mut out, c);
    }
    detection(&mut out, &report.cells);
    quirks(&mut out, &report.cells);
    cost(&mut out, &report.cells);
    onwire(&mut out, report);
    if !report.skipped.is_empty() {
        let _ = writeln!(out, "## Skipped models\n");
        for s in &report.skipped {
            let _ = writeln!(out, "- {}: {}", s.model, s.reason);
        }
        out.push('\n');
    }
    cross_model(&mut out, &report.cells);
    out
}

/// One CSV row per cell and protocol.
pub(crate) fn csv(report: &MatrixReport) -> String {
    let mut out = String::from("model,suite,protocol,mode,dialect,layer,packets,correct,malformed,non_existent,success_rate,presence,warnings,errors,conversations_total,conversations_succeeded,expected_check,caught\n");
    for c in &report.cells {
        for (p, s) in &c.protocols {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{},{},{},{:.6},{:.6},{},{},{},{},{},{}",
                c.model,
                c.suite,
                c.protocol,
                c.mode,
                c.dialect,
                protocol_name(*p),
                s.packets,
                s.correct,
                s.malformed,
                s.non_existent,
                s.success_rate,
                s.presence,
                s.warnings,
                s.errors,
                c.conversations.total,
                c.conversations.succeeded,
                c.expected_check.as_deref().unwrap_or(""),
                c.caught.map_or(String::new(), |b| b.to_string())
            );
        }
    }
    out
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// JUnit XML: one test case per cell; the reference fails when not 100 %
/// clean, a mutant when its check did not catch it; other models pass and
/// carry their numbers as output.
pub(crate) fn junit(report: &MatrixReport) -> String {
    let regressions = report.regressions();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"harness matrix\" tests=\"{}\" failures=\"{}\">",
        report.cells.len(),
        regressions.len()
    );
    let mut by_model: BTreeMap<&str, Vec<&CellResult>> = BTreeMap::new();
    for c in &report.cells {
        by_model.entry(&c.model).or_default().push(c);
    }
    for (model, cells) in by_model {
        let _ = writeln!(out, "  <testsuite name=\"{}\" tests=\"{}\">", xml(model), cells.len());
        for c in cells {
            let _ = write!(out, "    <testcase classname=\"{}\" name=\"{}\">", xml(model), xml(&c.suite));
            let prefix = format!("{} on {}", c.model, c.suite);
            if let Some(r) = regressions.iter().find(|r| r.starts_with(&prefix)) {
                let _ = write!(out, "<failure message=\"{}\"/>", xml(r));
            }
            let mut text = String::new();
            cell_table(&mut text, c);
            let _ = writeln!(out, "<system-out>{}</system-out></testcase>", xml(&text));
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// The width `--format table` fits its lines to.
pub const WIDTH: usize = 100;

/// The whole report for the terminal: the tables of [`markdown`] without
/// Markdown syntax, columns aligned (numbers to the right), headings
/// underlined, every line fitted to `width` where possible: a table too
/// wide is split into column groups that each repeat the first column, a
/// long last column and long prose wrap.
pub(crate) fn terminal(report: &MatrixReport, width: usize) -> String {
    from_markdown(&markdown(report), width)
}

/// Split a Markdown table row into its cells.
fn row_cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    inner.split('|').map(|c| c.trim().to_string()).collect()
}

fn is_numeric(cell: &str) -> bool {
    let c = cell.trim();
    !c.is_empty()
        && c != "-"
        && c.chars().next().is_some_and(|ch| ch.is_ascii_digit())
        && c.chars().all(|ch| ch.is_ascii_digit() || " .()/%-".contains(ch))
}

/// Wrap `text` at spaces to lines of at most `width` characters (a word
/// longer than that stays whole); the lines after the first start with
/// `indent`.
fn wrap(text: &str, width: usize, indent: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let len = line.chars().count();
        if len > 0 && len + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
            line.push_str(indent);
        } else if !line.is_empty() && (indent.is_empty() || !line.ends_with(indent)) {
            line.push(' ');
        }
        line.push_str(word);
    }
    lines.push(line);
    lines
}

/// One table for the terminal: `rows[0]` is the header.
fn terminal_table(out: &mut String, rows: &[Vec<String>], width: usize) {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    if columns == 0 {
        return;
    }
    let widths: Vec<usize> = (0..columns)
        .map(|i| rows.iter().map(|r| r.get(i).map_or(0, |c| c.chars().count())).max().unwrap_or(0))
        .collect();
    let numeric: Vec<bool> = (0..columns)
        .map(|i| rows.iter().skip(1).all(|r| r.get(i).is_none_or(|c| c == "-" || is_numeric(c))) && rows.len() > 1)
        .collect();
    // Column groups that fit, each after the first column.
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut used = widths[0];
    for i in 1..columns {
        match groups.last_mut() {
            Some(group) if used + 2 + widths[i] <= width => group.push(i),
            _ => {
                groups.push(vec![i]);
                used = widths[0];
            }
        }
        used += 2 + widths[i];
    }
    if groups.is_empty() {
        groups.push(Vec::new());
    }
    for (g, group) in groups.iter().enumerate() {
        if g > 0 {
            out.push('\n');
        }
        let cols: Vec<usize> = std::iter::once(0).chain(group.iter().copied()).collect();
        // A last column that still does not fit wraps within what is left.
        let last = *cols.last().unwrap_or(&0);
        let before: usize = cols.iter().take(cols.len() - 1).map(|&i| widths[i] + 2).sum();
        let last_width = if before + widths[last] > width && cols.len() > 1 {
            width.saturating_sub(before).max(20)
        } else {
            widths[last]
        };
        let shown = |i: usize| if i == last { last_width.min(widths[i]) } else { widths[i] };
        for (r, row) in rows.iter().enumerate() {
            let cell = |i: usize| row.get(i).map_or("", String::as_str);
            let wrapped: Vec<String> =
                if cols.len() > 1 { wrap(cell(last), last_width, "") } else { vec![cell(last).to_string()] };
            for (k, part) in wrapped.iter().enumerate() {
                let mut line = String::new();
                for &i in &cols {
                    let text = if i == last {
                        part.as_str()
                    } else if k == 0 {
                        cell(i)
                    } else {
                        ""
                    };
                    let w = shown(i);
                    if !line.is_empty() {
                        line.push_str("  ");
                    }
                    if numeric[i] && r > 0 {
                        line.push_str(&format!("{text:>w$}"));
                    } else {
                        line.push_str(&format!("{text:<w$}"));
                    }
                }
                out.push_str(line.trim_end());
                out.push('\n');
            }
            if r == 0 {
                let rule: Vec<String> = cols.iter().map(|&i| "-".repeat(shown(i))).collect();
                out.push_str(&rule.join("  "));
                out.push('\n');
            }
        }
    }
}

/// Markdown (as [`markdown`] writes it) as terminal text, see [`terminal`].
pub fn from_markdown(md: &str, width: usize) -> String {
    let mut out = String::new();
    let mut table: Vec<Vec<String>> = Vec::new();
    let flush = |table: &mut Vec<Vec<String>>, out: &mut String| {
        if !table.is_empty() {
            terminal_table(out, table, width);
            table.clear();
        }
    };
    for line in md.lines() {
        if line.starts_with('|') {
            let cells = row_cells(line);
            if !cells.iter().all(|c| !c.is_empty() && c.chars().all(|ch| ch == '-' || ch == ':')) {
                table.push(cells);
            }
            continue;
        }
        flush(&mut table, &mut out);
        let heading = line.chars().take_while(|&c| c == '#').count();
        if heading > 0 && line[heading..].starts_with(' ') {
            let text = line[heading + 1..].trim();
            let lines = wrap(text, width, "  ");
            let longest = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
            for l in &lines {
                out.push_str(l);
                out.push('\n');
            }
            match heading {
                1 => out.push_str(&"=".repeat(longest.min(width))),
                2 => out.push_str(&"-".repeat(longest.min(width))),
                _ => {}
            }
            if heading <= 2 {
                out.push('\n');
            }
        } else if let Some(item) = line.strip_prefix("- ") {
            for l in wrap(&format!("- {item}"), width, "  ") {
                out.push_str(&l);
                out.push('\n');
            }
        } else {
            for l in wrap(line, width, "") {
                out.push_str(&l);
                out.push('\n');
            }
        }
    }
    flush(&mut table, &mut out);
    out
}

#[cfg(test)]
mod terminal_tests {
    use super::*;
    use crate::onwire::Fidelity;

    fn report(onwire: [Option<Fidelity>; 3]) -> MatrixReport {
        use crate::scenario::{Mode, SuiteProtocol};
        let [icmp, dns, mutant] = onwire;
        let cell = |model: &str, protocol, mode, onwire| {
            let suite = crate::matrix::suite::Suite::built(protocol, mode, crate::exec::extract::Dialect::Json, 8, 1);
            CellResult { onwire, ..crate::matrix::cell::aggregate(model, &suite, None, std::iter::empty()) }
        };
        let mut caught = cell("mutant:wrong-icmp-code", SuiteProtocol::Icmp, Mode::Conversation, mutant);
        caught.expected_check = Some("icmp.bad_type_code".into());
        MatrixReport {
            harness: "0".into(),
            tshark: None,
            scapy: None,
            cells: vec![
                cell("reference", SuiteProtocol::Icmp, Mode::Conversation, icmp),
                cell("reference", SuiteProtocol::Dns, Mode::Packet, None),
                cell("other", SuiteProtocol::Dns, Mode::Conversation, dns),
                caught,
            ],
            skipped: Vec::new(),
            models: Vec::new(),
            shard: None,
            onwire_servers: BTreeMap::from([("linux".to_string(), "6.1".to_string())]),
        }
    }

    #[test]
    fn onwire_adds_a_column_and_a_table_only_when_replayed() {
        let plain = markdown(&report([None, None, None]));
        assert!(
            !plain.contains("on the wire") && !plain.contains("On the wire") && !plain.contains("Real stacks"),
            "{plain}"
        );
        let icmp = Fidelity { matched: 8, replayed: 8, skipped: 0, fields: Vec::new() };
        let dns = Fidelity { matched: 0, replayed: 0, skipped: 8, fields: Vec::new() };
        let mutant = Fidelity {
            matched: 0,
            replayed: 8,
            skipped: 0,
            fields: vec![("icmp.code".into(), 8), ("reply".into(), 1)],
        };
        let md = markdown(&report([Some(icmp), Some(dns), Some(mutant)]));
        let rows =
            |text: &str| -> Vec<Vec<String>> { text.lines().filter(|l| l.starts_with('|')).map(row_cells).collect() };
        // Per model, mutants left out; `-` where nothing was replayed.
        let cross = &md[md.find("## Cross-model, conversation level").unwrap()..];
        assert!(cross.contains("correct / total; on the wire: matched / replayed"), "{cross}");
        let table = rows(cross);
        assert_eq!(
            table[0],
            ["Model", "dns conversation", "dns packet", "icmp conversation", "on the wire"],
            "{cross}"
        );
        assert_eq!(table[2], ["reference", "-", "-", "-", "8/8"], "{cross}");
        assert_eq!(table[3].last().map(String::as_str), Some("-"), "{cross}");
        assert_eq!(table.len(), 4, "mutants are not in the cross-model table: {cross}");
        // Per cell, mutants included, with the fields named.
        let cells = &md[md.find("## On the wire").unwrap()..md.find("## Cross-model, packet").unwrap()];
        let table = rows(cells);
        assert_eq!(table[0], ["Model", "Suite", "On the wire", "Skipped", "Most common mismatching fields"]);
        assert_eq!(table[2], ["reference", "icmp-conversation-json", "8/8", "0", ""]);
        assert_eq!(table[3], ["other", "dns-conversation-json", "-", "8", ""]);
        assert_eq!(
            table[4],
            ["mutant:wrong-icmp-code", "icmp-conversation-json", "0/8", "0", "icmp.code (8), reply (1)"]
        );
        assert_eq!(table.len(), 5, "packet cells are not replayed: {cells}");
        assert!(cells.contains("Real stacks: linux 6.1"), "{cells}");
    }

    #[test]
    fn terminal_tables_are_aligned_and_fit() {
        let md = "## Cross-model\n\n| Model | ETH | IP |\n|-------|-----|----|\n| reference | 100.00 (12) | 99.50 (3) |\n| corpus:x | - | 5.00 (1) |\n\n";
        let text = from_markdown(md, 100);
        assert!(!text.contains('|') && !text.contains('#'), "{text}");
        assert!(text.contains("Cross-model\n-----------\n"), "{text}");
        assert!(text.contains("reference  100.00 (12)  99.50 (3)\n"), "{text}");
        assert!(text.contains("corpus:x             -   5.00 (1)\n"), "{text}");
        // Too wide: column groups, each with the first column.
        let header: Vec<String> = (0..12).map(|i| format!("Column {i:02}")).collect();
        let row: Vec<String> = (0..12).map(|i| format!("{}", 1000 * i)).collect();
        let md = format!("| Model | {} |\n|---|\n| a-long-model-name | {} |\n", header.join(" | "), row.join(" | "));
        let text = from_markdown(&md, 60);
        assert!(text.lines().all(|l| l.chars().count() <= 60), "{text}");
        assert!(text.matches("a-long-model-name").count() >= 2, "{text}");
        assert!(text.contains("Column 11"), "{text}");
        // A long last column and long prose wrap.
        let md = format!(
            "| Model | Counts |\n|---|---|\n| m | {} |\n\n{}\n",
            "answer.fenced 3, ".repeat(20),
            "word ".repeat(40)
        );
        let text = from_markdown(&md, 50);
        assert!(text.lines().all(|l| l.chars().count() <= 50), "{text}");
    }
}
