//! The matrix's tables, one renderer for the terminal and Markdown, plus
//! CSV, JSON and JUnit XML exporters.
//!
//! Tables: per cell the paper's per-protocol table (Tables 3/5/7/9) with its
//! W-E column (Tables 4/6/8); the cross-model tables at packet level (per
//! protocol, Tables 10/11) and conversation level; the mutant detection
//! matrix; answer quirks; generation time and tokens per model (Table 12).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::cell::CellResult;
use super::MatrixReport;
use crate::finding::Protocol;
use crate::verdict::ProtocolStats;

fn pct(x: f64) -> String {
    format!("{:.2}", x * 100.0)
}

/// A Markdown table (also the terminal form).
fn table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let widths: Vec<usize> = (0..header.len()).map(|i| rows.iter().map(|r| r[i].chars().count()).chain([header[i].len()]).max().unwrap_or(0)).collect();
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

/// The paper's per-protocol table of one cell.
pub fn cell_table(out: &mut String, c: &CellResult) {
    let _ = writeln!(
        out,
        "### {} on {} ({} {}, {}): {} traces, {}/{} conversations correct\n",
        c.model, c.suite, c.protocol, c.mode, c.dialect, c.traces, c.conversations.succeeded, c.conversations.total
    );
    let rows: Vec<Vec<String>> = c
        .protocols
        .iter()
        .map(|(p, s)| {
            vec![
                protocol_name(*p),
                s.packets.to_string(),
                s.correct.to_string(),
                s.malformed.to_string(),
                s.non_existent.to_string(),
                pct(s.success_rate),
                pct(s.presence),
                s.we(),
            ]
        })
        .collect();
    table(out, &["Protocol", "Packets", "Correct", "Malformed", "Non-existent", "Success %", "Presence %", "W-E"], &rows);
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
            .map(|r| vec![r.metric.clone(), r.kind.clone(), r.value.map_or("n/a".into(), |v| format!("{v:.4}")), r.unit.clone()])
            .collect();
        table(out, &["Metric", "Kind", "Value", "Unit"], &rows);
    }
    if !c.exec_failures.is_empty() {
        let list: Vec<String> = c.exec_failures.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(out, "Executor failures: {}\n", list.join(", "));
    }
}

pub(super) fn protocol_name(p: Protocol) -> String {
    serde_json::to_value(p).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
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
/// correct conversations per suite protocol (conversation level).
pub fn cross_model(out: &mut String, cells: &[CellResult]) {
    let models = models(cells);
    if models.is_empty() {
        return;
    }
    let layers = [Protocol::Eth, Protocol::Arp, Protocol::Ip, Protocol::Icmp, Protocol::Udp, Protocol::Dns, Protocol::Tcp, Protocol::Http];
    let _ = writeln!(out, "## Cross-model, packet level: success rate % per protocol (packets judged)\n");
    let mut header = vec!["Model"];
    let names: Vec<String> = layers.iter().map(|l| protocol_name(*l)).collect();
    header.extend(names.iter().map(String::as_str));
    let rows: Vec<Vec<String>> = models
        .iter()
        .map(|m| {
            let merged = merge(cells.iter().filter(|c| c.model == *m));
            std::iter::once(m.to_string())
                .chain(layers.iter().map(|l| merged.get(l).map_or("-".to_string(), |s| format!("{} ({})", pct(s.success_rate), s.packets))))
                .collect()
        })
        .collect();
    table(out, &header, &rows);
    let _ = writeln!(out, "## Cross-model, conversation level: correct / total\n");
    let mut protocols: Vec<String> = cells.iter().filter(|c| !is_mutant(c)).map(|c| format!("{} {}", c.protocol, c.mode)).collect();
    protocols.sort();
    protocols.dedup();
    let mut header = vec!["Model"];
    header.extend(protocols.iter().map(String::as_str));
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
                .collect()
        })
        .collect();
    table(out, &header, &rows);
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

/// Answer quirks (`answer.*`) and executor outcomes per model.
pub fn quirks(out: &mut String, cells: &[CellResult]) {
    let mut per: BTreeMap<&str, BTreeMap<&str, u64>> = BTreeMap::new();
    for c in cells.iter().filter(|c| !is_mutant(c)) {
        for (k, v) in &c.checks {
            if k.starts_with("answer.") || k.starts_with("exec.") {
                *per.entry(&c.model).or_default().entry(k).or_default() += v;
            }
        }
    }
    if per.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Answer quirks and executor failures (traces)\n");
    let rows: Vec<Vec<String>> = per.iter().map(|(m, q)| vec![m.to_string(), q.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")]).collect();
    table(out, &["Model", "Counts"], &rows);
}

/// Generation time per protocol and tokens and cost per model (Table 12).
pub fn cost(out: &mut String, cells: &[CellResult]) {
    let rows: Vec<Vec<String>> = models(cells)
        .iter()
        .map(|m| {
            let own: Vec<&CellResult> = cells.iter().filter(|c| c.model == *m).collect();
            let traces: u64 = own.iter().map(|c| c.traces).sum();
            let ms: u64 = own.iter().map(|c| c.latency_ms).sum();
            let (pt, ct) = own.iter().fold((0, 0), |(a, b), c| (a + c.usage.prompt_tokens, b + c.usage.completion_tokens));
            let cost: Option<f64> = own.iter().filter_map(|c| c.cost_usd).reduce(|a, b| a + b);
            vec![
                m.to_string(),
                traces.to_string(),
                format!("{:.2}", ms as f64 / 1000.0),
                if traces == 0 { "-".into() } else { format!("{:.3}", ms as f64 / 1000.0 / traces as f64) },
                pt.to_string(),
                ct.to_string(),
                cost.map_or("-".into(), |c| format!("{c:.4}")),
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
                    let (ms, n) = cells.iter().filter(|c| c.model == *m && c.protocol == *p).fold((0, 0), |(a, b), c| (a + c.latency_ms, b + c.traces));
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
/// detection matrix, quirks, time and tokens, and the cross-model tables
/// last (what a reader looks at first when the run ends).
pub fn markdown(report: &MatrixReport) -> String {
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
pub fn csv(report: &MatrixReport) -> String {
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
pub fn junit(report: &MatrixReport) -> String {
    let regressions = report.regressions();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(out, "<testsuites name=\"harness matrix\" tests=\"{}\" failures=\"{}\">", report.cells.len(), regressions.len());
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
