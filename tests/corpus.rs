//! Every capture published with the seeds (`../shared/corpus/pcaps`) is
//! checked without panic, and its success-rate table is a named snapshot.
//!
//! The tables are figures computed from that data (own checks only, tshark
//! off, so they do not depend on the tshark version).

mod common;

use harness::analyze::{file_report, own_pass};
use harness::check::Limits;
use harness::report::{Reporter, RunReport, Table};

#[test]
fn corpus_tables() {
    let Some(dir) = common::shared("pcaps") else { return };
    let files = common::captures(&dir);
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
