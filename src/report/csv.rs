//! CSV exporter: one row per file × protocol, for spreadsheets.

use std::io::{self, Write};

use super::{Reporter, RunReport};

/// Writes the success-rate tables as CSV.
#[derive(Debug, Default, Clone, Copy)]
pub struct Csv;

impl Reporter for Csv {
    fn write(&self, report: &RunReport, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "file,protocol,packets,correct,malformed,non_existent,success_rate,presence,warnings,errors")?;
        for file in &report.files {
            for (protocol, row) in &file.protocols {
                writeln!(
                    out,
                    "{},{},{},{},{},{},{:.6},{:.6},{},{}",
                    quote(&file.file),
                    protocol,
                    row.packets,
                    row.correct,
                    row.malformed,
                    row.non_existent,
                    row.success_rate,
                    row.presence,
                    row.warnings,
                    row.errors
                )?;
            }
        }
        Ok(())
    }
}

/// Quote a CSV field when it needs it (RFC 4180).
fn quote(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

#[cfg(test)]
mod test {
    use super::super::test::render;
    use super::*;

    #[test]
    fn test_csv() {
        insta::assert_snapshot!("csv_sample", render(&Csv));
        assert_eq!(quote("a,b"), "\"a,b\"");
        assert_eq!(quote("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
