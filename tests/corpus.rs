//! Every capture published with the seeds (`../shared/corpus/pcaps`) is
//! checked without panic, and its success-rate table is a named snapshot.
//!
//! The tables are figures computed from that data (own checks only, tshark
//! off, so they do not depend on the tshark version).

mod common;

use std::path::{Path, PathBuf};

use harness::analyze::{file_report, own_pass};
use harness::check::Limits;
use harness::report::{Reporter, RunReport, Table};

fn captures(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            captures(&path, out);
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("pcap" | "pcapng")) {
            out.push(path);
        }
    }
}

#[test]
fn corpus_tables() {
    let Some(dir) = common::shared("pcaps") else { return };
    let mut files = Vec::new();
    captures(&dir, &mut files);
    assert!(files.len() >= 30, "expected the published captures, found {}", files.len());
    for path in files {
        let relative = path.strip_prefix(&dir).unwrap().display().to_string();
        let pass = own_pass(&path, Limits::default()).unwrap_or_else(|e| panic!("{relative}: {e}"));
        let report = file_report(&relative, pass, None);
        let run = RunReport { harness: String::new(), checksums: "strict", tshark: None, files: vec![report] };
        let mut table = Vec::new();
        Table { max_findings: 0 }.write(&run, &mut table).unwrap();
        let mut checks = String::from("\nchecks:\n");
        for (id, count) in &run.files[0].checks {
            checks.push_str(&format!("  {id}: {count}\n"));
        }
        let name = relative.replace(['/', '.'], "_");
        insta::assert_snapshot!(name, format!("{}{}", String::from_utf8(table).unwrap(), checks));
    }
}
