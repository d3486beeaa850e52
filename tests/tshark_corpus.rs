//! tshark's findings on every capture published with the seeds
//! (`../shared/corpus/pcaps`), through [`Tshark::expert`] with the harness's
//! profile preferences, as one named snapshot.
//!
//! The snapshot was first made with the line-by-line PDML reader that
//! preceded the quick-xml one, on tshark 4.0.17 (Debian 4.0.17-0+deb12u3),
//! so it proves that the streaming XML reader reads the same findings
//! (frame, severity, protocol, check, expert id, message) from real tshark
//! output. Its first line is the tshark version: another tshark may report
//! other Expert Info, and then the difference starts there.

mod common;

use std::path::{Path, PathBuf};

use harness::tshark::Tshark;

/// Return one block per capture: its counts, then one line per finding.
fn findings_text(tshark: &Tshark, dir: &Path, files: &[PathBuf]) -> String {
    let mut text = format!("tshark {}\n", tshark.version());
    for path in files {
        let relative = path.strip_prefix(dir).unwrap().display();
        let (summary, findings) = tshark.expert(path).unwrap_or_else(|e| panic!("{relative}: {e}"));
        text.push_str(&format!(
            "\n## {relative}\nerrors {} warnings {} notes {} chats {}\n",
            summary.errors, summary.warnings, summary.notes, summary.chats
        ));
        for f in &findings {
            text.push_str(&format!(
                "{} {} {:?} {} {} {} | {}\n",
                f.frame,
                f.severity,
                f.source,
                f.protocol,
                f.check,
                f.expert.as_deref().unwrap_or("-"),
                f.message
            ));
        }
    }
    text
}

#[test]
fn corpus_tshark_findings() {
    let Some(dir) = common::shared("pcaps") else { return };
    let Some(tshark) = common::tshark() else { return };
    let files = common::captures(&dir);
    assert!(files.len() >= 30, "expected the published captures, found {}", files.len());
    let text = findings_text(&tshark, &dir, &files);
    insta::with_settings!({ description => format!("tshark {}", tshark.version()) }, {
        insta::assert_snapshot!("tshark_corpus_findings", text);
    });
}
