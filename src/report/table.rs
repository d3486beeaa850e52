//! Terminal exporter: aligned success-rate tables and the findings that
//! matter, for a person at a terminal.

use std::io::{self, Write};

use super::{row_cells, Reporter, RunReport, COLUMNS, REPORT_ROW};
use crate::finding::Severity;

/// Writes aligned tables; lists findings at `warn` or above.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    /// Most findings listed per file (`usize::MAX`: all).
    pub max_findings: usize,
}

impl Default for Table {
    fn default() -> Self {
        Table { max_findings: 20 }
    }
}

impl Reporter for Table {
    fn write(&self, report: &RunReport, out: &mut dyn Write) -> io::Result<()> {
        for (i, file) in report.files.iter().enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            let tshark = match &file.tshark {
                Some(t) => format!("tshark {}: {}W-{}E", t.version, t.warnings, t.errors),
                None => "tshark off".to_string(),
            };
            writeln!(out, "{}: {} packets, {}, {}", file.file, file.packets, file.linktype, tshark)?;
            let rows: Vec<[String; 8]> = file.protocols.iter().map(|(p, row)| row_cells(*p, row, REPORT_ROW)).collect();
            let mut widths = COLUMNS.map(str::len);
            for row in &rows {
                for (w, cell) in widths.iter_mut().zip(row) {
                    *w = (*w).max(cell.len());
                }
            }
            let line = |cells: &[&str]| -> String {
                let mut s = String::new();
                for (c, (cell, w)) in cells.iter().zip(widths).enumerate() {
                    if c == 0 {
                        s.push_str(&format!("  {cell:<w$}"));
                    } else {
                        s.push_str(&format!("  {cell:>w$}"));
                    }
                }
                s
            };
            writeln!(out, "{}", line(&COLUMNS))?;
            for row in &rows {
                let cells: Vec<&str> = row.iter().map(String::as_str).collect();
                writeln!(out, "{}", line(&cells))?;
            }
            // A link type read but not dissected judges nothing above it:
            // say so instead of counting its frames as conversations.
            let undissected = file.findings.iter().find(|f| f.check == "link.unsupported");
            match undissected {
                Some(f) => writeln!(out, "  Conversations: not judged: {} (link.unsupported)", f.message)?,
                None => writeln!(
                    out,
                    "  Conversations: {}/{} succeeded",
                    file.conversations.succeeded, file.conversations.total
                )?,
            }
            if let Some(agreement) = &file.agreement {
                let list = |map: &std::collections::BTreeMap<String, u64>| -> String {
                    if map.is_empty() {
                        return "none".to_string();
                    }
                    map.iter().map(|(id, n)| format!("{id} x{n}")).collect::<Vec<_>>().join(", ")
                };
                writeln!(out, "  Agreement (warn and above, same frame and problem):")?;
                writeln!(out, "    both         : {}", list(&agreement.both))?;
                writeln!(out, "    only tshark  : {}", list(&agreement.only_tshark))?;
                writeln!(out, "    only harness : {}", list(&agreement.only_harness))?;
            }
            let shown: Vec<_> = file.findings.iter().filter(|f| f.severity >= Severity::Warn).collect();
            if !shown.is_empty() && self.max_findings > 0 {
                writeln!(out, "  Findings (warn and above):")?;
                for finding in shown.iter().take(self.max_findings) {
                    writeln!(out, "    {finding}")?;
                }
                if shown.len() > self.max_findings {
                    writeln!(
                        out,
                        "    … and {} more (--format json lists every finding)",
                        shown.len() - self.max_findings
                    )?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod test {
    use super::super::test::render;
    use super::*;

    #[test]
    fn test_table() {
        insta::assert_snapshot!("table_sample", render(&Table::default()));
    }
}
