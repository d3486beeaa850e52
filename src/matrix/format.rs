//! The formats of a matrix report, one [`Reporter`] for all of them: the
//! tables of [`tables`] (terminal, Markdown, CSV, JUnit), the HTML page of
//! [`html`], and the JSON contract.

use super::{html, tables, MatrixReport};
use crate::report::Reporter;

/// The formats of a matrix report (`harness matrix --format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Tables for a terminal `width` columns wide.
    Table {
        /// Columns.
        width: usize,
    },
    /// Markdown.
    Markdown,
    /// The JSON contract (`{"cells": [...]}`).
    Json,
    /// One row per cell and protocol.
    Csv,
    /// JUnit XML, one test case per cell.
    Junit,
    /// One self-contained HTML page with charts.
    Html,
}

impl Reporter<MatrixReport> for Format {
    fn write(&self, report: &MatrixReport, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        match self {
            Format::Table { width } => out.write_all(tables::terminal(report, *width).as_bytes()),
            Format::Markdown => out.write_all(tables::markdown(report).as_bytes()),
            Format::Json => {
                serde_json::to_writer_pretty(&mut *out, report)?;
                out.write_all(b"\n")
            }
            Format::Csv => out.write_all(tables::csv(report).as_bytes()),
            Format::Junit => out.write_all(tables::junit(report).as_bytes()),
            Format::Html => out.write_all(html::html(report).as_bytes()),
        }
    }
}
