//! Rendering a [`RealismReport`]: an aligned terminal table, Markdown, JSON,
//! and a self-contained HTML page whose inline SVG overlays each
//! distribution of the generated and the real side (no script, no CDN).

use std::fmt::Write as _;
use std::io::{self, Write};

use super::{Overlay, RealismReport};
use crate::report::html::{escape, text_width};

fn value(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_string(), |v| format!("{v:.4}"))
}

fn rows(report: &RealismReport) -> Vec<[String; 4]> {
    report
        .metrics
        .iter()
        .map(|m| {
            [
                m.kind.to_uppercase(),
                m.name.clone(),
                value(m.value),
                if m.value.is_some() { m.unit.to_string() } else { m.note.clone() },
            ]
        })
        .collect()
}

fn sides(report: &RealismReport) -> String {
    format!(
        "generated: {} capture(s), {} packets, {} flows; real: {} capture(s), {} packets, {} flows",
        report.generated.files.len(),
        report.generated.packets,
        report.generated.flows,
        report.real.files.len(),
        report.real.packets,
        report.real.flows
    )
}

/// Write the report as aligned text tables.
///
/// # Errors
/// Any I/O error of `out`.
pub(crate) fn table(report: &RealismReport, out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "{}", sides(report))?;
    let rows = rows(report);
    let width = |i: usize, head: &str| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0).max(head.len());
    let (w0, w1, w2) = (width(0, "Metric"), width(1, "Of"), width(2, "Value"));
    writeln!(out, "  {:<w0$}  {:<w1$}  {:>w2$}  Unit", "Metric", "Of", "Value")?;
    for r in &rows {
        writeln!(out, "  {:<w0$}  {:<w1$}  {:>w2$}  {}", r[0], r[1], r[2], r[3])?;
    }
    writeln!(out, "  Entropy (bits)   generated      real")?;
    for e in &report.entropy {
        writeln!(out, "  {:<15} {:>10.4} {:>9.4}", e.field, e.generated, e.real)?;
    }
    if let Some(flags) = &report.tcp_flags {
        writeln!(out, "  TCP flag transitions   generated      real")?;
        for (k, (g, r)) in flags {
            writeln!(out, "  {k:<20} {g:>11.4} {r:>9.4}")?;
        }
    }
    Ok(())
}

/// Write the report as Markdown tables.
///
/// # Errors
/// Any I/O error of `out`.
pub(crate) fn markdown(report: &RealismReport, out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "{}\n", sides(report))?;
    writeln!(out, "| Metric | Of | Value | Unit |\n|---|---|---:|---|")?;
    for r in rows(report) {
        writeln!(out, "| {} | {} | {} | {} |", r[0], r[1], r[2], r[3])?;
    }
    writeln!(out, "\n| Entropy (bits) | generated | real |\n|---|---:|---:|")?;
    for e in &report.entropy {
        writeln!(out, "| {} | {:.4} | {:.4} |", e.field, e.generated, e.real)?;
    }
    if let Some(flags) = &report.tcp_flags {
        writeln!(out, "\n| TCP flag transition | generated | real |\n|---|---:|---:|")?;
        for (k, (g, r)) in flags {
            writeln!(out, "| {k} | {g:.4} | {r:.4} |")?;
        }
    }
    Ok(())
}

/// Write the report as pretty JSON.
///
/// # Errors
/// Any I/O error of `out`.
pub(crate) fn json(report: &RealismReport, out: &mut impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report).map_err(io::Error::other)?;
    writeln!(out)
}

const GENERATED: &str = "#d95f02";
const REAL: &str = "#1b9e77";

/// Font size in pixels of the figures' labels and values.
const FONT: f64 = 12.0;

/// The legend of a figure at (`x`, `y`): generated and real swatches.
fn legend(s: &mut String, x: f64, y: f64) {
    let second = x + 24.0 + text_width("generated", FONT) + 16.0;
    let _ = write!(
        s,
        r#"<rect x="{x}" y="{}" width="12" height="12" fill="{GENERATED}"/><text class="legend" x="{}" y="{y}" font-size="{FONT}">generated</text><rect x="{second}" y="{}" width="12" height="12" fill="{REAL}"/><text class="legend" x="{}" y="{y}" font-size="{FONT}">real</text>"#,
        y - 10.0,
        x + 16.0,
        y - 10.0,
        second + 16.0
    );
}

/// The title line of a figure: what it shows, its kind and unit.
fn title(overlay: &Overlay) -> String {
    format!(
        "{} ({}{})",
        overlay.name,
        overlay.kind,
        if overlay.unit.is_empty() { String::new() } else { format!(", {}", overlay.unit) }
    )
}

/// Draw one overlay as an SVG figure: categorical distributions as
/// horizontal bars with every category's full label, histograms and CDFs
/// over a numeric axis whose shown labels are distinct. Text is 12 px.
fn svg(overlay: &Overlay) -> String {
    if overlay.kind == "categorical" {
        return categorical(overlay);
    }
    let title = title(overlay);
    let (width, height, left, bottom, top) = (text_width(&title, FONT).max(560.0) + 60.0, 300.0, 56.0, 72.0, 44.0);
    let plot_w = width - left - 12.0;
    let plot_h = height - bottom - top;
    let n = overlay.x.len().max(1);
    let ymax = if overlay.kind == "cdf" {
        1.0
    } else {
        overlay.generated.iter().chain(&overlay.real).copied().fold(0.0, f64::max).max(1e-9)
    };
    let y = |v: f64| top + plot_h * (1.0 - v / ymax);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="overlay" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="{}">"#,
        escape(&overlay.name)
    );
    let _ = write!(s, r##"<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>"##);
    for frac in [0.0, 0.5, 1.0] {
        let v = ymax * frac;
        let _ = write!(
            s,
            r#"<text class="tick" x="{}" y="{}" font-size="{FONT}" text-anchor="end">{}</text>"#,
            left - 4.0,
            y(v) + 4.0,
            format_args!("{v:.2}")
        );
    }
    let step = plot_w / n as f64;
    if overlay.kind == "cdf" {
        for (series, color, dash) in
            [(&overlay.generated, GENERATED, ""), (&overlay.real, REAL, r#" stroke-dasharray="5,3""#)]
        {
            let mut points = String::new();
            for (i, v) in series.iter().enumerate() {
                let x0 = left + step * i as f64;
                let _ = write!(points, "{x0:.1},{:.1} {:.1},{:.1} ", y(*v), x0 + step, y(*v));
            }
            let _ = write!(s, r#"<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2"{dash}/>"#);
        }
    } else {
        let bar = step * 0.42;
        for i in 0..overlay.x.len() {
            let x0 = left + step * i as f64 + step * 0.08;
            for (k, (series, color)) in [(&overlay.generated, GENERATED), (&overlay.real, REAL)].into_iter().enumerate()
            {
                let v = series.get(i).copied().unwrap_or(0.0);
                let _ = write!(
                    s,
                    r#"<rect x="{:.1}" y="{:.1}" width="{bar:.1}" height="{:.1}" fill="{color}"><title>{}: {v:.4}</title></rect>"#,
                    x0 + bar * k as f64,
                    y(v),
                    top + plot_h - y(v),
                    escape(&overlay.x[i])
                );
            }
        }
    }
    // At most 10 axis labels, never the same text twice.
    let label_every = n.div_ceil(10);
    let mut last: Option<&str> = None;
    for (i, label) in overlay.x.iter().enumerate().filter(|(i, _)| i % label_every == 0) {
        if last == Some(label.as_str()) {
            continue;
        }
        last = Some(label);
        let x = left + step * (i as f64 + 0.5);
        let _ = write!(
            s,
            r#"<text class="tick" x="{x:.1}" y="{}" font-size="{FONT}" text-anchor="end" transform="rotate(-35 {x:.1} {})">{}</text>"#,
            top + plot_h + 14.0,
            top + plot_h + 14.0,
            escape(label)
        );
    }
    let _ = write!(
        s,
        r#"<text class="title" x="{left}" y="16" font-size="{}" font-weight="bold">{}</text>"#,
        FONT + 1.0,
        escape(&title)
    );
    legend(&mut s, left, 36.0);
    s.push_str("</svg>");
    s
}

/// A categorical overlay as horizontal bars: one row per category with its
/// full label on the left, the generated and the real bar with their values.
fn categorical(overlay: &Overlay) -> String {
    let title = title(overlay);
    let (row, bar_h, top, plot_w) = (30.0, 11.0, 48.0, 300.0);
    let left = overlay.x.iter().map(|l| text_width(l, FONT)).fold(0.0, f64::max).max(60.0) + 16.0;
    let value_w = text_width("0.0000", FONT) + 12.0;
    let width = (left + plot_w + value_w).max(text_width(&title, FONT + 1.0) + 16.0).max(320.0);
    let height = top + row * overlay.x.len().max(1) as f64 + 12.0;
    let vmax = overlay.generated.iter().chain(&overlay.real).copied().fold(0.0, f64::max).max(1e-9);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="overlay" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="{}">"#,
        escape(&overlay.name)
    );
    let _ = write!(
        s,
        r#"<text class="title" x="8" y="16" font-size="{}" font-weight="bold">{}</text>"#,
        FONT + 1.0,
        escape(&title)
    );
    legend(&mut s, 8.0, 36.0);
    for (i, label) in overlay.x.iter().enumerate() {
        let y0 = top + row * i as f64;
        let _ = write!(
            s,
            r#"<text class="label" x="{}" y="{}" font-size="{FONT}" text-anchor="end" data-room="{}">{}</text>"#,
            left - 8.0,
            y0 + bar_h + 4.0,
            left - 12.0,
            escape(label)
        );
        for (k, (series, color)) in [(&overlay.generated, GENERATED), (&overlay.real, REAL)].into_iter().enumerate() {
            let v = series.get(i).copied().unwrap_or(0.0);
            let y = y0 + 2.0 + bar_h * k as f64;
            let w = plot_w * v / vmax;
            let _ = write!(
                s,
                r#"<rect x="{left}" y="{y:.1}" width="{w:.1}" height="{bar_h}" fill="{color}"><title>{}: {v:.4}</title></rect><text class="value" x="{:.1}" y="{:.1}" font-size="{}">{v:.4}</text>"#,
                escape(label),
                left + w + 4.0,
                y + bar_h - 1.0,
                FONT - 1.0
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// Write a self-contained HTML page: the metric tables and one SVG figure
/// per distribution, generated (orange) over real (green).
///
/// # Errors
/// Any I/O error of `out`.
pub(crate) fn html(report: &RealismReport, out: &mut impl Write) -> io::Result<()> {
    let mut md = Vec::new();
    markdown(report, &mut md)?;
    writeln!(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>harness compare</title>")?;
    writeln!(out, "<style>body{{font-family:sans-serif;max-width:1300px;margin:auto}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 8px}}td.n{{text-align:right}}figure{{display:inline-block;margin:8px}}</style></head><body>")?;
    writeln!(out, "<h1>Realism: generated vs real</h1><p>{}</p>", escape(&sides(report)))?;
    writeln!(
        out,
        "<p><span style=\"color:{GENERATED}\">■ generated</span> <span style=\"color:{REAL}\">■ real</span></p>"
    )?;
    writeln!(out, "<details><summary>files</summary><ul>")?;
    for f in &report.generated.files {
        writeln!(out, "<li>generated: {}</li>", escape(f))?;
    }
    for f in &report.real.files {
        writeln!(out, "<li>real: {}</li>", escape(f))?;
    }
    writeln!(out, "</ul></details>")?;
    writeln!(out, "<table><tr><th>Metric</th><th>Of</th><th>Value</th><th>Unit</th></tr>")?;
    for r in rows(report) {
        writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            escape(&r[0]),
            escape(&r[1]),
            escape(&r[2]),
            escape(&r[3])
        )?;
    }
    writeln!(out, "</table><h2>Entropy (bits)</h2><table><tr><th>Field</th><th>generated</th><th>real</th></tr>")?;
    for e in &report.entropy {
        writeln!(
            out,
            "<tr><td>{}</td><td class=\"n\">{:.4}</td><td class=\"n\">{:.4}</td></tr>",
            escape(&e.field),
            e.generated,
            e.real
        )?;
    }
    writeln!(out, "</table><h2>Distributions</h2>")?;
    for overlay in &report.overlays {
        writeln!(out, "<figure>{}</figure>", svg(overlay))?;
    }
    writeln!(out, "</body></html>")
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::realism::{compare, PacketFeatures};

    #[test]
    fn test_page_is_self_contained() {
        let p = |t: f64, l: u32| PacketFeatures {
            time: t,
            length: l,
            src: Some("a".into()),
            dst: Some("b".into()),
            sport: None,
            dport: None,
            protocol: "ZCL".into(),
            message: Some("ZCL: Read Attributes".into()),
            tcp_flags: None,
            flow: "ZCL a > b".into(),
        };
        let report = compare(
            vec!["g<1>".into()],
            &[vec![p(0.0, 30), p(1.0, 43)]],
            vec!["r".into()],
            &[vec![p(0.0, 30), p(2.5, 30)]],
        );
        let mut page = Vec::new();
        html(&report, &mut page).unwrap();
        let page = String::from_utf8(page).unwrap();
        assert!(page.contains("<svg") && page.contains("g&lt;1&gt;"));
        assert!(!page.contains("<script") && !page.contains("http://") || page.contains("http://www.w3.org/2000/svg"));
        assert_eq!(page.matches("<figure>").count(), report.overlays.len());
        let mut text = Vec::new();
        table(&report, &mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains("EMD     packet length"), "{text}");
    }
}

/// The formats of a realism report (`harness compare --format`, `--html`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned text tables.
    Table,
    /// Markdown tables.
    Markdown,
    /// The report as JSON.
    Json,
    /// A self-contained HTML page with one SVG figure per distribution.
    Html,
}

impl crate::report::Reporter<RealismReport> for Format {
    fn write(&self, report: &RealismReport, mut out: &mut dyn Write) -> io::Result<()> {
        match self {
            Format::Table => table(report, &mut out),
            Format::Markdown => markdown(report, &mut out),
            Format::Json => json(report, &mut out),
            Format::Html => html(report, &mut out),
        }
    }
}
