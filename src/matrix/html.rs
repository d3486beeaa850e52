//! The matrix as one self-contained HTML page (`--format html`, and
//! `report.html` in every `--out` folder).
//!
//! Everything is inline: CSS in a `<style>` element, the charts as inline
//! SVG, no script, no font, nothing fetched. The page holds the versions,
//! the regression verdict, a heat map of packet-level success rate per
//! model and protocol layer, a grouped bar chart and a table of correct
//! conversations per model and suite protocol/mode, the mutant detection
//! matrix coloured by caught / not caught, the paper's table of every cell
//! (collapsible), answer quirks, time, tokens and cost, and the skipped
//! models. Every text from the report is escaped; the output has no
//! timestamp, so the same report gives the same bytes.

use std::fmt::Write as _;

use super::cell::{CellResult, REQUEST_FAILED};
use super::tables::{cell_heading, is_mutant, merge, model_cost, models, protocol_name, quirk_counts};
use super::MatrixReport;
use crate::finding::Protocol;
use crate::report::html::{escape, text_width};
use crate::report::percent_number;

/// Fill of a heat-map cell whose success rate is exactly 100 %.
pub const HEAT_FULL: &str = "#1a9850";

/// Heat-map fills by lower bound of the success rate, best first; the last
/// applies below every bound.
const HEAT: [(f64, &str, &str); 6] = [
    (1.0, HEAT_FULL, "100"),
    (0.95, "#66bd63", "≥ 95"),
    (0.8, "#a6d96a", "≥ 80"),
    (0.5, "#fee08b", "≥ 50"),
    (0.2, "#fdae61", "≥ 20"),
    (f64::NEG_INFINITY, "#d73027", "< 20"),
];

/// Fill of a heat-map cell without packets of the layer.
const HEAT_NONE: &str = "#eeeeee";

/// Bar colours of the conversation chart, one per model (cycled).
pub const PALETTE: [&str; 8] = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f"];

/// Length in pixels of a bar at 100 % in the conversation chart.
pub const BAR_MAX: f64 = 320.0;

/// Length in pixels of the stub drawn for a bar at 0 %.
pub const ZERO_STUB: f64 = 3.0;

const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px auto;max-width:1200px;padding:0 16px;color:#222;background:#fff}
h1{margin-bottom:4px}h2{margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
.versions{color:#555;margin-top:0}
nav a{margin-right:12px}
.verdict{padding:8px 12px;border-radius:4px}.ok{background:#e5f5e0;border:1px solid #a1d99b}.bad{background:#fde0dd;border:1px solid #f768a1}
table{border-collapse:collapse;margin:8px 0 16px}th,td{border:1px solid #ccc;padding:3px 8px;font-size:14px}th{background:#f4f4f4;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
td.caught{background:#c7e9c0}td.missed{background:#f4a6a6;font-weight:bold}td.na{background:#f7f7f7;color:#999}
details{margin:4px 0}summary{cursor:pointer}
.chart{display:block;margin:8px 0;max-width:100%;height:auto}
.chart text{font-family:system-ui,sans-serif;font-size:12px}
.note{color:#555;font-size:14px}
";

/// The fill and the label colour of a heat-map cell at `rate`.
fn heat(rate: f64) -> (&'static str, &'static str) {
    let fill = HEAT.iter().find(|(bound, _, _)| rate >= *bound).map_or(HEAT[HEAT.len() - 1].1, |(_, fill, _)| fill);
    (fill, if fill == HEAT_FULL || fill == "#d73027" { "#fff" } else { "#222" })
}

/// Font size in pixels of chart text (`.chart text` in the CSS).
const FONT: f64 = 12.0;

/// Mutant model ids, in order of first appearance.
fn mutants(cells: &[CellResult]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for c in cells.iter().filter(|c| is_mutant(c)) {
        if !out.contains(&c.model.as_str()) {
            out.push(&c.model);
        }
    }
    out
}

/// Every protocol layer with packets in some cell, in stack order.
fn layers(cells: &[CellResult]) -> Vec<Protocol> {
    let mut out: Vec<Protocol> = cells.iter().flat_map(|c| c.protocols.keys().copied()).collect();
    out.sort();
    out.dedup();
    out
}

/// The heat map of packet-level success rate: one row per model (models
/// first, then mutants), one column per protocol layer.
fn heat_map(out: &mut String, report: &MatrixReport) {
    let layers = layers(&report.cells);
    let groups: Vec<(&str, Vec<&str>)> =
        [("models", models(&report.cells)), ("mutants (fault injection)", mutants(&report.cells))]
            .into_iter()
            .filter(|(_, ids)| !ids.is_empty())
            .collect();
    if layers.is_empty() || groups.is_empty() {
        out.push_str("<p class=\"note\">No packets were judged.</p>\n");
        return;
    }
    // Full names: the label column is as wide as the longest one.
    let longest = groups
        .iter()
        .flat_map(|(name, ids)| ids.iter().copied().chain([*name]))
        .map(|t| text_width(t, FONT))
        .fold(0.0, f64::max);
    let (label_w, col_w, row_h, top) = ((longest + 16.0).max(100.0), 72.0, 24.0, 28.0);
    let rows: usize = groups.iter().map(|(_, ids)| ids.len() + 1).sum();
    let legend_y = top + rows as f64 * row_h + 12.0;
    let width = (label_w + layers.len() as f64 * col_w + 8.0).max(620.0);
    let height = legend_y + 30.0;
    let _ = writeln!(
        out,
        r#"<svg class="chart" id="heat-map" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="Packet-level success rate per model and protocol">"#
    );
    for (i, layer) in layers.iter().enumerate() {
        let x = label_w + col_w * (i as f64 + 0.5);
        let _ = writeln!(
            out,
            r#"<text x="{x}" y="{}" text-anchor="middle" font-weight="bold">{}</text>"#,
            top - 8.0,
            escape(&protocol_name(*layer))
        );
    }
    let mut y = top;
    for (name, ids) in &groups {
        let _ = writeln!(
            out,
            r##"<text class="label" x="4" y="{}" data-room="{}" font-style="italic" fill="#555">{}</text>"##,
            y + 16.0,
            label_w - 4.0,
            escape(name)
        );
        y += row_h;
        for id in ids {
            let merged = merge(report.cells.iter().filter(|c| c.model == *id));
            let _ = writeln!(
                out,
                r#"<text class="label" x="4" y="{}" data-room="{}">{}</text>"#,
                y + 16.0,
                label_w - 4.0,
                escape(id)
            );
            for (i, layer) in layers.iter().enumerate() {
                let x = label_w + col_w * i as f64;
                let layer_name = protocol_name(*layer);
                match merged.get(layer) {
                    Some(s) => {
                        let (fill, ink) = heat(s.success_rate);
                        let _ = writeln!(
                            out,
                            r##"<g><title>{}, {}: {} % of {} packets ({} correct, {} malformed, {} non-existent)</title><rect class="heat" x="{x}" y="{y}" width="{}" height="{}" fill="{fill}" stroke="#fff" data-rate="{:.6}"/><text x="{}" y="{}" text-anchor="middle" fill="{ink}">{}</text></g>"##,
                            escape(id),
                            escape(&layer_name),
                            percent_number(s.success_rate, 2),
                            s.packets,
                            s.correct,
                            s.malformed,
                            s.non_existent,
                            col_w,
                            row_h,
                            s.success_rate,
                            x + col_w / 2.0,
                            y + 16.0,
                            percent_number(s.success_rate, 2)
                        );
                    }
                    None => {
                        let _ = writeln!(
                            out,
                            r##"<g><title>{}, {}: no packets</title><rect x="{x}" y="{y}" width="{col_w}" height="{row_h}" fill="{HEAT_NONE}" stroke="#fff"/><text x="{}" y="{}" text-anchor="middle" fill="#999">–</text></g>"##,
                            escape(id),
                            escape(&layer_name),
                            x + col_w / 2.0,
                            y + 16.0
                        );
                    }
                }
            }
            y += row_h;
        }
    }
    let _ = write!(out, r#"<text x="4" y="{}">success %</text>"#, legend_y + 13.0);
    let entries = HEAT.iter().map(|(_, fill, label)| (*fill, *label)).chain([(HEAT_NONE, "no packets")]);
    for (i, (fill, label)) in entries.enumerate() {
        let x = 80.0 + 76.0 * i as f64;
        let _ = write!(
            out,
            r##"<rect x="{x}" y="{legend_y}" width="16" height="16" fill="{fill}" stroke="#999"/><text x="{}" y="{}">{label}</text>"##,
            x + 20.0,
            legend_y + 13.0
        );
    }
    out.push_str("\n</svg>\n");
}

/// The packet-level numbers of the heat map as a table.
fn packet_table(out: &mut String, report: &MatrixReport) {
    let layers = layers(&report.cells);
    let ids: Vec<&str> = models(&report.cells).into_iter().chain(mutants(&report.cells)).collect();
    if layers.is_empty() || ids.is_empty() {
        return;
    }
    out.push_str(
        "<details><summary>The same as a table (success % and packets judged)</summary>\n<table><tr><th>Model</th>",
    );
    for l in &layers {
        let _ = write!(out, "<th>{}</th>", escape(&protocol_name(*l)));
    }
    out.push_str("</tr>\n");
    for id in ids {
        let merged = merge(report.cells.iter().filter(|c| c.model == id));
        let _ = write!(out, "<tr><td>{}</td>", escape(id));
        for l in &layers {
            match merged.get(l) {
                Some(s) => {
                    let _ = write!(out, r#"<td class="n">{} ({})</td>"#, percent_number(s.success_rate, 2), s.packets);
                }
                None => out.push_str(r#"<td class="na">-</td>"#),
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table></details>\n");
}

/// Correct and total conversations of `model` on the suites of protocol
/// and mode `group`.
fn conversations(cells: &[CellResult], model: &str, group: &str) -> (u64, u64) {
    cells
        .iter()
        .filter(|c| c.model == model && format!("{} {}", c.protocol, c.mode) == group)
        .fold((0, 0), |(a, b), c| (a + c.conversations.succeeded, b + c.conversations.total))
}

/// The suite protocol/mode groups of the models' (not the mutants') cells.
fn groups(cells: &[CellResult]) -> Vec<String> {
    let mut out: Vec<String> =
        cells.iter().filter(|c| !is_mutant(c)).map(|c| format!("{} {}", c.protocol, c.mode)).collect();
    out.sort();
    out.dedup();
    out
}

/// The conversation level: a grouped bar chart (one group per suite
/// protocol and mode, one bar per model) and the table.
fn conversation_level(out: &mut String, report: &MatrixReport) {
    let models = models(&report.cells);
    let groups = groups(&report.cells);
    if models.is_empty() || groups.is_empty() {
        out.push_str("<p class=\"note\">No model other than the mutants ran.</p>\n");
        return;
    }
    let (bar_h, gap, group_gap) = (16.0, 4.0, 12.0);
    // Full group names: the label column is as wide as the longest one.
    let label_w = (groups.iter().map(|g| text_width(g, FONT)).fold(0.0, f64::max) + 16.0).max(120.0);
    let width = label_w + BAR_MAX + 150.0;
    // The legend: full model names in columns as wide as the longest name,
    // as many columns as fit the chart's width (at least one).
    let entry_w = models.iter().map(|id| text_width(id, FONT)).fold(0.0, f64::max) + 16.0 + 12.0;
    let width = width.max(entry_w + 8.0);
    let columns = (((width - 4.0) / entry_w).floor() as usize).clamp(1, models.len());
    let top = 4.0 + 18.0 * models.len().div_ceil(columns) as f64 + 18.0;
    let bars: Vec<(usize, &str, usize, u64, u64)> = groups
        .iter()
        .enumerate()
        .flat_map(|(g, group)| models.iter().enumerate().map(move |(m, id)| (g, *id, m, group)))
        .filter_map(|(g, id, m, group)| {
            let (ok, total) = conversations(&report.cells, id, group);
            (total > 0).then_some((g, id, m, ok, total))
        })
        .collect();
    let mut y = top;
    let mut placed = Vec::new();
    let mut group_y: Vec<(usize, f64, f64)> = Vec::new();
    for (i, bar) in bars.iter().enumerate() {
        if i > 0 && bars[i - 1].0 != bar.0 {
            y += group_gap;
        }
        if group_y.last().is_none_or(|(g, _, _)| *g != bar.0) {
            group_y.push((bar.0, y, y));
        }
        if let Some(last) = group_y.last_mut() {
            last.2 = y + bar_h;
        }
        placed.push((y, *bar));
        y += bar_h + gap;
    }
    let height = y + 24.0;
    let _ = writeln!(
        out,
        r#"<svg class="chart" id="conversation-chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="Correct conversations per model and suite protocol">"#
    );
    for (i, id) in models.iter().enumerate() {
        let x = 4.0 + entry_w * (i % columns) as f64;
        let ly = 4.0 + 18.0 * (i / columns) as f64;
        let _ = write!(
            out,
            r#"<rect x="{x}" y="{ly}" width="12" height="12" fill="{}"/><text class="legend" x="{}" y="{}" data-room="{}">{}</text>"#,
            PALETTE[i % PALETTE.len()],
            x + 16.0,
            ly + 11.0,
            entry_w - 16.0 - 8.0,
            escape(id)
        );
    }
    out.push('\n');
    let (plot_top, plot_bottom) = (top - 4.0, y - gap + 4.0);
    for frac in [0.0, 0.5, 1.0] {
        let x = label_w + BAR_MAX * frac;
        let _ = write!(
            out,
            r##"<line x1="{x}" y1="{plot_top}" x2="{x}" y2="{plot_bottom}" stroke="#ccc"/><text x="{x}" y="{}" text-anchor="middle" fill="#555">{} %</text>"##,
            plot_bottom + 14.0,
            frac * 100.0
        );
    }
    out.push('\n');
    for (g, y0, y1) in &group_y {
        let _ = writeln!(
            out,
            r#"<text class="label" x="4" y="{}" data-room="{}">{}</text>"#,
            (y0 + y1) / 2.0 + 4.0,
            label_w - 8.0,
            escape(&groups[*g])
        );
    }
    for (y, (g, id, m, ok, total)) in placed {
        let rate = ok as f64 / total as f64;
        // A bar at 0 % has no length: a stub in the model's colour, outlined,
        // keeps it visible beside its label.
        let zero = if ok == 0 {
            format!(
                r##"<rect class="bar-zero" x="{label_w}" y="{y}" width="{ZERO_STUB}" height="{bar_h}" fill="{}" stroke="#333" stroke-width="0.5"/>"##,
                PALETTE[m % PALETTE.len()]
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            r#"<g><title>{} on {}: {ok}/{total} conversations correct ({} %)</title><rect class="bar" x="{label_w}" y="{y}" width="{:.1}" height="{bar_h}" fill="{}" data-rate="{rate:.6}"/>{zero}<text class="value" x="{}" y="{}">{ok}/{total} ({} %)</text></g>"#,
            escape(id),
            escape(&groups[g]),
            percent_number(rate, 2),
            rate * BAR_MAX,
            PALETTE[m % PALETTE.len()],
            label_w + (rate * BAR_MAX).max(ZERO_STUB) + 6.0,
            y + 12.0,
            percent_number(rate, 2)
        );
    }
    out.push_str("</svg>\n");
    conversation_table(out, report, &models, &groups);
}

/// Correct / total conversations per model and suite protocol/mode, each
/// cell coloured like the heat map.
fn conversation_table(out: &mut String, report: &MatrixReport, models: &[&str], groups: &[String]) {
    out.push_str("<table id=\"conversation-table\"><tr><th>Model</th>");
    for g in groups {
        let _ = write!(out, "<th>{}</th>", escape(g));
    }
    out.push_str("</tr>\n");
    for id in models {
        let _ = write!(out, "<tr><td>{}</td>", escape(id));
        for g in groups {
            let (ok, total) = conversations(&report.cells, id, g);
            if total == 0 {
                out.push_str(r#"<td class="na">-</td>"#);
            } else {
                let (fill, ink) = heat(ok as f64 / total as f64);
                let _ = write!(out, r#"<td class="n" style="background:{fill};color:{ink}">{ok}/{total}</td>"#);
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// How many of the cell's traces `who` caught, as `n/traces`.
fn caught_by(c: &CellResult, who: &str) -> String {
    format!("{}/{}", c.caught_by.as_ref().and_then(|by| by.get(who)).copied().unwrap_or(0), c.traces)
}

/// The mutant detection matrix: faults × suites, green where the named
/// check caught every trace, red where it did not; then every count.
fn detection(out: &mut String, cells: &[CellResult]) {
    let mutant_cells: Vec<&CellResult> = cells.iter().filter(|c| is_mutant(c)).collect();
    if mutant_cells.is_empty() {
        out.push_str("<p class=\"note\">No mutant ran.</p>\n");
        return;
    }
    let mut suites: Vec<&str> = Vec::new();
    for c in &mutant_cells {
        if !suites.contains(&c.suite.as_str()) {
            suites.push(&c.suite);
        }
    }
    let caught = mutant_cells.iter().filter(|c| c.caught == Some(true)).count();
    let _ = writeln!(
        out,
        "<p>{caught} of {} mutant cells caught by the check each fault must trip.</p>",
        mutant_cells.len()
    );
    out.push_str("<table id=\"detection\"><tr><th>Fault</th>");
    for s in &suites {
        let _ = write!(out, "<th>{}</th>", escape(s));
    }
    out.push_str("</tr>\n");
    for id in mutants(cells) {
        let _ = write!(out, "<tr><td>{}</td>", escape(id.trim_start_matches("mutant:")));
        for s in &suites {
            match mutant_cells.iter().find(|c| c.model == id && c.suite == *s) {
                Some(c) => {
                    let (class, word) = if c.caught == Some(true) { ("caught", "yes") } else { ("missed", "NO") };
                    let _ = write!(
                        out,
                        r#"<td class="{class}" title="must be caught by {}; by it {}, own checks {}, tshark {}, executor {}">{word} {}</td>"#,
                        escape(c.expected_check.as_deref().unwrap_or("?")),
                        caught_by(c, "named"),
                        caught_by(c, "own"),
                        caught_by(c, "tshark"),
                        caught_by(c, "executor"),
                        caught_by(c, "named")
                    );
                }
                None => out.push_str(r#"<td class="na"></td>"#),
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n<details><summary>Who caught each fault (traces)</summary>\n<table><tr><th>Fault</th><th>Suite</th><th>Must be caught by</th><th>Caught</th><th>By it</th><th>Own checks</th><th>tshark</th><th>Executor</th></tr>\n");
    for c in &mutant_cells {
        let (class, word) = if c.caught == Some(true) { ("caught", "yes") } else { ("missed", "NO") };
        let _ = writeln!(
            out,
            r#"<tr><td>{}</td><td>{}</td><td>{}</td><td class="{class}">{word}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            escape(c.model.trim_start_matches("mutant:")),
            escape(&c.suite),
            escape(c.expected_check.as_deref().unwrap_or("")),
            caught_by(c, "named"),
            caught_by(c, "own"),
            caught_by(c, "tshark"),
            caught_by(c, "executor")
        );
    }
    out.push_str("</table></details>\n");
}

/// The paper's per-protocol table of one cell, collapsed.
fn cell(out: &mut String, c: &CellResult) {
    // Green: every conversation correct or, for a mutant, its fault caught.
    let good = if is_mutant(c) { c.caught == Some(true) } else { c.conversations.succeeded == c.conversations.total };
    let _ = writeln!(
        out,
        r#"<details class="cell"><summary><span style="color:{}">●</span> {}</summary>"#,
        if good { HEAT_FULL } else { "#d73027" },
        escape(&cell_heading(c))
    );
    out.push_str("<table><tr><th>Protocol</th><th>Packets</th><th>Correct</th><th>Malformed</th><th>Non-existent</th><th>Success %</th><th>Presence %</th><th>W-E</th></tr>\n");
    for (p, s) in &c.protocols {
        let (fill, ink) = heat(s.success_rate);
        let _ = writeln!(
            out,
            r#"<tr><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n" style="background:{fill};color:{ink}">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            escape(&protocol_name(*p)),
            s.packets,
            s.correct,
            s.malformed,
            s.non_existent,
            percent_number(s.success_rate, 2),
            percent_number(s.presence, 2),
            escape(&s.we())
        );
    }
    out.push_str("</table>\n");
    let failures: Vec<String> = c
        .exec_failures
        .iter()
        .filter(|(k, _)| k.as_str() != REQUEST_FAILED.as_str())
        .map(|(k, v)| format!("{} {v}", escape(k)))
        .collect();
    if !failures.is_empty() {
        let _ = writeln!(out, "<p>Executor failures: {}</p>", failures.join(", "));
    }
    if !c.finish_reasons.is_empty() {
        let list: Vec<String> = c.finish_reasons.iter().map(|(k, v)| format!("{} {v}", escape(k))).collect();
        let _ = writeln!(out, "<p>Finish reasons: {}</p>", list.join(", "));
    }
    if !c.checks.is_empty() {
        let list: Vec<String> = c.checks.iter().map(|(k, v)| format!("{} {v}", escape(k))).collect();
        let _ = writeln!(out, "<p class=\"note\">Findings per check: {}</p>", list.join(", "));
    }
    out.push_str("</details>\n");
}

/// Answer quirks (`answer.*`) and executor outcomes (`exec.*`) per model.
fn quirks(out: &mut String, cells: &[CellResult]) {
    let per = quirk_counts(cells);
    if per.is_empty() {
        out.push_str("<p class=\"note\">No answer quirk and no executor failure.</p>\n");
        return;
    }
    out.push_str("<table id=\"quirks\"><tr><th>Model</th><th>Counts (traces)</th></tr>\n");
    for (m, q) in &per {
        let list: Vec<String> = q.iter().map(|(k, v)| format!("{} {v}", escape(k))).collect();
        let _ = writeln!(out, "<tr><td>{}</td><td>{}</td></tr>", escape(m), list.join(", "));
    }
    out.push_str("</table>\n");
}

/// Generation time, tokens and cost per model (Table 12).
fn cost(out: &mut String, cells: &[CellResult]) {
    let models = models(cells);
    if models.is_empty() {
        out.push_str("<p class=\"note\">No model other than the mutants ran.</p>\n");
        return;
    }
    out.push_str("<table id=\"cost\"><tr><th>Model</th><th>Traces</th><th>Time s</th><th>s/trace</th><th>Prompt tokens</th><th>Completion tokens</th><th>Cost USD</th></tr>\n");
    for m in models {
        let c = model_cost(cells, m);
        let _ = writeln!(
            out,
            r#"<tr><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            escape(m),
            c.traces,
            c.seconds,
            c.per_trace,
            c.prompt_tokens,
            c.completion_tokens,
            c.cost
        );
    }
    out.push_str("</table>\n");
}

/// Render the whole report as one self-contained HTML page.
pub(crate) fn html(report: &MatrixReport) -> String {
    let mut out = String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>harness matrix</title>\n<style>\n");
    out.push_str(CSS);
    out.push_str("</style>\n</head>\n<body>\n<h1>harness matrix</h1>\n");
    let _ = writeln!(
        out,
        r#"<p class="versions">harness {} · tshark {} · Scapy {}</p>"#,
        escape(&report.harness),
        escape(report.tshark.as_deref().unwrap_or("off")),
        escape(report.scapy.as_deref().unwrap_or("not used"))
    );
    let mut ids = models(&report.cells);
    ids.extend(mutants(&report.cells));
    let _ = writeln!(
        out,
        "<p>{} models ({} mutants), {} cells, {} skipped.</p>",
        ids.len(),
        mutants(&report.cells).len(),
        report.cells.len(),
        report.skipped.len()
    );
    out.push_str("<nav><a href=\"#packet-level\">Packet level</a><a href=\"#conversation-level\">Conversation level</a><a href=\"#mutants\">Mutants</a><a href=\"#cells\">Cells</a><a href=\"#quirks-section\">Quirks</a><a href=\"#cost-section\">Time and tokens</a><a href=\"#skipped\">Skipped</a></nav>\n");
    let verdict = report.verdict();
    let regressions = verdict.regressions.clone();
    if let Some(why) = verdict.nothing_ran() {
        let _ = writeln!(
            out,
            "<p class=\"verdict bad\" id=\"verdict\">No result: {}, nothing was judged.</p>",
            escape(&why)
        );
    } else if regressions.is_empty() {
        out.push_str("<p class=\"verdict ok\" id=\"verdict\">No regression: the reference is 100 % clean and every mutant was caught.</p>\n");
    } else {
        let _ =
            writeln!(out, "<div class=\"verdict bad\" id=\"verdict\"><p>{} regression(s):</p><ul>", regressions.len());
        for r in &regressions {
            let _ = writeln!(out, "<li>{}</li>", escape(r));
        }
        out.push_str("</ul></div>\n");
    }
    if !verdict.requests_failed.is_empty() {
        let total: u64 = verdict.requests_failed.iter().map(|(_, n)| n).sum();
        let each: Vec<String> = verdict.requests_failed.iter().map(|(m, n)| format!("{} {n}", escape(m))).collect();
        let _ = writeln!(out, "<p class=\"note\" id=\"requests-failed\">{} ({}): the models never answered them; they are in no table.</p>", super::tables::requests_failed(total), each.join(", "));
    }
    out.push_str("<h2 id=\"packet-level\">Packet level: success rate % per protocol</h2>\n");
    heat_map(&mut out, report);
    packet_table(&mut out, report);
    out.push_str("<h2 id=\"conversation-level\">Conversation level: correct / total conversations</h2>\n");
    conversation_level(&mut out, report);
    out.push_str("<h2 id=\"mutants\">Mutant detection matrix</h2>\n");
    out.push_str("<p class=\"note\">Mutants are meant to fail: each one is the reference answer with one known fault injected, and its row is green when the check named for that fault caught it.</p>\n");
    detection(&mut out, &report.cells);
    out.push_str("<h2 id=\"cells\">Cells</h2>\n");
    if report.cells.is_empty() {
        out.push_str("<p class=\"note\">No cell ran.</p>\n");
    }
    for c in report.cells.iter().filter(|c| !is_mutant(c)) {
        cell(&mut out, c);
    }
    if report.cells.iter().any(is_mutant) {
        out.push_str("<details><summary>Mutant cells</summary>\n");
        for c in report.cells.iter().filter(|c| is_mutant(c)) {
            cell(&mut out, c);
        }
        out.push_str("</details>\n");
    }
    out.push_str("<h2 id=\"quirks-section\">Answer quirks and executor failures</h2>\n");
    quirks(&mut out, &report.cells);
    out.push_str("<h2 id=\"cost-section\">Generation time and tokens per model</h2>\n");
    cost(&mut out, &report.cells);
    out.push_str("<h2 id=\"skipped\">Skipped models</h2>\n");
    if report.skipped.is_empty() {
        out.push_str("<p class=\"note\">None.</p>\n");
    } else {
        out.push_str("<ul>\n");
        for s in &report.skipped {
            let _ = writeln!(out, "<li><b>{}</b>: {}</li>", escape(&s.model), escape(&s.reason));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::Skipped;
    use crate::model::Usage;
    use crate::verdict::{ConversationStats, ProtocolStats};
    use std::collections::BTreeMap;

    fn stats(correct: u64, malformed: u64) -> ProtocolStats {
        let packets = correct + malformed;
        ProtocolStats {
            packets,
            correct,
            malformed,
            success_rate: correct as f64 / packets as f64,
            presence: 1.0,
            ..ProtocolStats::default()
        }
    }

    fn cell(
        model: &str,
        suite: &str,
        protocol: &str,
        dialect: &str,
        rows: &[(Protocol, u64, u64)],
        ok: u64,
        total: u64,
    ) -> CellResult {
        CellResult {
            model: model.into(),
            suite: suite.into(),
            protocol: protocol.into(),
            mode: "conversation".into(),
            dialect: dialect.into(),
            traces: total,
            requests_failed: 0,
            protocols: rows.iter().map(|(p, c, m)| (*p, stats(*c, *m))).collect(),
            conversations: ConversationStats { total, succeeded: ok },
            finish_reasons: BTreeMap::new(),
            checks: BTreeMap::new(),
            exec_failures: BTreeMap::new(),
            tshark_findings: 0,
            usage: Usage::default(),
            latency_ms: 0,
            cost_usd: None,
            cassette_miss: None,
            realism: None,
            ntg: None,
            onwire: None,
            timings: Default::default(),
            expected_check: None,
            caught: None,
            caught_by: None,
        }
    }

    fn mutant(fault: &str, suite: &str, check: &str, named: u64, traces: u64) -> CellResult {
        let mut c = cell(
            &format!("mutant:{fault}"),
            suite,
            "dns",
            "json",
            &[(Protocol::Ip, 8, 0), (Protocol::Udp, 8, 0), (Protocol::Dns, 4, 4)],
            0,
            traces,
        );
        c.expected_check = Some(check.into());
        c.caught = Some(named == traces);
        c.caught_by = Some(
            [
                ("named".to_string(), named),
                ("own".to_string(), named),
                ("tshark".to_string(), 1),
                ("executor".to_string(), 0),
            ]
            .into_iter()
            .collect(),
        );
        c
    }

    /// A small report: the reference, a live model with a hostile id and
    /// imperfect answers, a caught and a missed mutant, a skipped model.
    fn sample() -> MatrixReport {
        let hostile = "<script>alert(\"x\")</script>&'m'";
        let mut live = cell(
            hostile,
            "dns-conversation-json",
            "dns",
            "json",
            &[(Protocol::Ip, 8, 0), (Protocol::Udp, 6, 2), (Protocol::Dns, 2, 6)],
            1,
            4,
        );
        live.checks = [("answer.fenced".to_string(), 3), ("exec.syntax".to_string(), 1), ("dns.count".to_string(), 2)]
            .into_iter()
            .collect();
        live.exec_failures = [("syntax".to_string(), 1)].into_iter().collect();
        live.usage = Usage { prompt_tokens: 1200, completion_tokens: 3400 };
        live.latency_ms = 5250;
        live.cost_usd = Some(0.0123);
        MatrixReport {
            harness: "0.1.0".into(),
            tshark: Some("4.0.17".into()),
            scapy: None,
            models: Vec::new(),
            shard: None,
            onwire_servers: BTreeMap::new(),
            cells: vec![
                cell(
                    "reference",
                    "icmp-conversation",
                    "icmp",
                    "scapy",
                    &[(Protocol::Ip, 16, 0), (Protocol::Icmp, 16, 0)],
                    8,
                    8,
                ),
                cell(
                    "reference",
                    "dns-conversation-json",
                    "dns",
                    "json",
                    &[(Protocol::Ip, 16, 0), (Protocol::Udp, 16, 0), (Protocol::Dns, 16, 0)],
                    8,
                    8,
                ),
                live,
                mutant("dns-count-high", "dns-conversation-json", "dns.count", 4, 4),
                mutant("reply-not-swapped", "dns-conversation-json", "dns.reply <ports>", 2, 4),
            ],
            skipped: vec![Skipped {
                model: "gpt-4o".into(),
                reason: "offline and no cassette at <golden>/gpt-4o.jsonl & no key".into(),
            }],
        }
    }

    /// The value of attribute `name` in the element text `tag`.
    fn attr<'t>(tag: &'t str, name: &str) -> &'t str {
        let start = tag.find(&format!(" {name}=\"")).unwrap_or_else(|| panic!("no {name} in {tag}")) + name.len() + 3;
        &tag[start..start + tag[start..].find('"').unwrap_or(0)]
    }

    /// Every start tag of `prefix` (e.g. `<rect class="bar"`) in `page`.
    fn tags<'p>(page: &'p str, prefix: &str) -> Vec<&'p str> {
        page.match_indices(prefix).map(|(i, _)| &page[i..i + page[i..].find('>').unwrap_or(0)]).collect()
    }

    #[test]
    fn text_from_the_report_is_escaped() {
        let page = html(&sample());
        assert!(!page.contains("<script"), "a model id became markup");
        assert!(page.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;m&#39;"));
        assert!(page.contains("at &lt;golden&gt;/gpt-4o.jsonl &amp; no key"));
        assert!(page.contains("dns.reply &lt;ports&gt;"));
        assert!(!page.contains("://"), "the page must fetch nothing");
    }

    #[test]
    fn empty_report_renders_a_complete_page() {
        let page = html(&MatrixReport {
            harness: "0.1.0".into(),
            tshark: None,
            scapy: None,
            models: Vec::new(),
            shard: None,
            onwire_servers: BTreeMap::new(),
            cells: Vec::new(),
            skipped: Vec::new(),
        });
        assert!(page.starts_with("<!DOCTYPE html>") && page.ends_with("</html>\n"));
        assert!(page.contains("tshark off · Scapy not used"));
        assert!(
            page.contains("No packets were judged.")
                && page.contains("No mutant ran.")
                && page.contains("No cell ran.")
        );
        assert!(!page.contains("<svg"));
    }

    #[test]
    fn bars_are_proportional_to_the_rates() {
        let page = html(&sample());
        let bars = tags(&page, r#"<rect class="bar""#);
        // reference and the live model on `dns conversation`, reference on `icmp conversation`.
        assert_eq!(bars.len(), 3);
        let mut widths: Vec<(f64, f64)> =
            bars.iter().map(|b| (attr(b, "data-rate").parse().unwrap(), attr(b, "width").parse().unwrap())).collect();
        for (rate, width) in &widths {
            assert!((width - rate * BAR_MAX).abs() < 0.051, "bar of {rate} is {width} px wide");
        }
        widths.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert_eq!(widths, [(0.25, 80.0), (1.0, 320.0), (1.0, 320.0)]);
    }

    #[test]
    fn heat_cells_are_coloured_by_rate() {
        let page = html(&sample());
        let cells = tags(&page, r#"<rect class="heat""#);
        // reference: IP ICMP UDP DNS; live: IP UDP DNS; two mutants: IP UDP DNS each.
        assert_eq!(cells.len(), 4 + 3 + 3 + 3);
        for c in &cells {
            let rate: f64 = attr(c, "data-rate").parse().unwrap();
            assert_eq!(attr(c, "fill"), heat(rate).0, "{c}");
        }
        let full = cells.iter().filter(|c| attr(c, "fill") == HEAT_FULL).count();
        assert_eq!(full, 4 + 1 + 2 + 2);
        assert_eq!(heat(0.999).0, "#66bd63");
        assert_eq!(heat(0.25).0, "#fdae61");
        assert_eq!(heat(0.0).0, "#d73027");
    }

    #[test]
    fn detection_matrix_marks_caught_and_missed() {
        let page = html(&sample());
        assert!(page.contains(r#"<td class="caught" title="must be caught by dns.count; by it 4/4, own checks 4/4, tshark 1/4, executor 0/4">yes 4/4</td>"#));
        assert!(page.contains(r#"<td class="missed" title="must be caught by dns.reply &lt;ports&gt;; by it 2/4"#));
        assert!(page.contains("1 of 2 mutant cells caught"));
        assert!(page.contains("verdict bad"), "a missed mutant is a regression");
    }

    #[test]
    fn same_report_same_bytes() {
        assert_eq!(html(&sample()), html(&sample()));
    }

    #[test]
    fn sample_page_snapshot() {
        insta::assert_snapshot!("matrix_html_sample", html(&sample()));
    }
}
