//! Rendering a [`RealismReport`]: an aligned terminal table, Markdown, JSON,
//! and a self-contained HTML page whose inline SVG overlays each
//! distribution of the generated and the real side (no script, no CDN).

use std::fmt::Write as _;
use std::io::{self, Write};

use super::{Overlay, RealismReport};

fn value(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_string(), |v| format!("{v:.4}"))
}

fn rows(report: &RealismReport) -> Vec<[String; 4]> {
    report
        .metrics
        .iter()
        .map(|m| [m.kind.to_uppercase(), m.name.clone(), value(m.value), if m.value.is_some() { m.unit.to_string() } else { m.note.clone() }])
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
pub fn table(report: &RealismReport, out: &mut impl Write) -> io::Result<()> {
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
pub fn markdown(report: &RealismReport, out: &mut impl Write) -> io::Result<()> {
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
pub fn json(report: &RealismReport, out: &mut impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report).map_err(io::Error::other)?;
    writeln!(out)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

const GENERATED: &str = "#d95f02";
const REAL: &str = "#1b9e77";

/// Draw one overlay as an SVG figure.
fn svg(overlay: &Overlay) -> String {
    let (width, height, left, bottom, top) = (640.0, 260.0, 48.0, 60.0, 24.0);
    let plot_w = width - left - 12.0;
    let plot_h = height - bottom - top;
    let n = overlay.x.len().max(1);
    let ymax = if overlay.kind == "cdf" { 1.0 } else { overlay.generated.iter().chain(&overlay.real).copied().fold(0.0, f64::max).max(1e-9) };
    let y = |v: f64| top + plot_h * (1.0 - v / ymax);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="{}">"#,
        escape(&overlay.name)
    );
    let _ = write!(s, r##"<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>"##);
    for frac in [0.0, 0.5, 1.0] {
        let v = ymax * frac;
        let _ = write!(s, r#"<text x="{}" y="{}" font-size="10" text-anchor="end">{}</text>"#, left - 4.0, y(v) + 3.0, format_args!("{v:.2}"));
    }
    let step = plot_w / n as f64;
    if overlay.kind == "cdf" {
        for (series, color, dash) in [(&overlay.generated, GENERATED, ""), (&overlay.real, REAL, r#" stroke-dasharray="5,3""#)] {
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
            for (k, (series, color)) in [(&overlay.generated, GENERATED), (&overlay.real, REAL)].into_iter().enumerate() {
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
    let label_every = n.div_ceil(12);
    for (i, label) in overlay.x.iter().enumerate().filter(|(i, _)| i % label_every == 0) {
        let x = left + step * (i as f64 + 0.5);
        let short: String = label.chars().take(18).collect();
        let _ = write!(
            s,
            r#"<text x="{x:.1}" y="{}" font-size="9" text-anchor="end" transform="rotate(-35 {x:.1} {})">{}</text>"#,
            top + plot_h + 12.0,
            top + plot_h + 12.0,
            escape(&short)
        );
    }
    let _ = write!(
        s,
        r#"<text x="{left}" y="14" font-size="12">{} {}</text>"#,
        escape(&overlay.name),
        escape(&format!("({}{})", overlay.kind, if overlay.unit.is_empty() { String::new() } else { format!(", {}", overlay.unit) }))
    );
    s.push_str("</svg>");
    s
}

/// Write a self-contained HTML page: the metric tables and one SVG figure
/// per distribution, generated (orange) over real (green).
///
/// # Errors
/// Any I/O error of `out`.
pub fn html(report: &RealismReport, out: &mut impl Write) -> io::Result<()> {
    let mut md = Vec::new();
    markdown(report, &mut md)?;
    writeln!(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>harness compare</title>")?;
    writeln!(out, "<style>body{{font-family:sans-serif;max-width:1300px;margin:auto}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 8px}}td.n{{text-align:right}}figure{{display:inline-block;margin:8px}}</style></head><body>")?;
    writeln!(out, "<h1>Realism: generated vs real</h1><p>{}</p>", escape(&sides(report)))?;
    writeln!(out, "<p><span style=\"color:{GENERATED}\">■ generated</span> <span style=\"color:{REAL}\">■ real</span></p>")?;
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
        writeln!(out, "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>", escape(&r[0]), escape(&r[1]), escape(&r[2]), escape(&r[3]))?;
    }
    writeln!(out, "</table><h2>Entropy (bits)</h2><table><tr><th>Field</th><th>generated</th><th>real</th></tr>")?;
    for e in &report.entropy {
        writeln!(out, "<tr><td>{}</td><td class=\"n\">{:.4}</td><td class=\"n\">{:.4}</td></tr>", escape(&e.field), e.generated, e.real)?;
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
        let report = compare(vec!["g<1>".into()], &[vec![p(0.0, 30), p(1.0, 43)]], vec!["r".into()], &[vec![p(0.0, 30), p(2.5, 30)]]);
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
