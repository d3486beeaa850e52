//! Markdown exporter: the paper's table per file, ready for a PR comment.

use std::io::{self, Write};

use super::{row_cells, Reporter, RunReport, COLUMNS, REPORT_ROW};

/// Writes one Markdown table per file.
#[derive(Debug, Default, Clone, Copy)]
pub struct Markdown;

impl Reporter for Markdown {
    fn write(&self, report: &RunReport, out: &mut dyn Write) -> io::Result<()> {
        for (i, file) in report.files.iter().enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            writeln!(out, "### `{}`", file.file)?;
            writeln!(out)?;
            let tshark = match &file.tshark {
                Some(t) => format!("tshark {}", t.version),
                None => "tshark off".to_string(),
            };
            writeln!(out, "{} packets, link type {}, {}.", file.packets, file.linktype, tshark)?;
            writeln!(out)?;
            writeln!(out, "| {} |", COLUMNS.join(" | "))?;
            writeln!(out, "|{}", "---|".repeat(COLUMNS.len()))?;
            for (protocol, row) in &file.protocols {
                writeln!(out, "| {} |", row_cells(*protocol, row, REPORT_ROW).join(" | "))?;
            }
            writeln!(out)?;
            writeln!(
                out,
                "Conversations: {} of {} succeeded.",
                file.conversations.succeeded, file.conversations.total
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod test {
    use super::super::test::render;
    use super::*;

    #[test]
    fn test_markdown() {
        insta::assert_snapshot!("markdown_sample", render(&Markdown));
    }
}
