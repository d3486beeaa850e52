//! Checking one capture end to end: read, dissect, run the own checks, merge
//! findings from other sources, compute verdicts.
//!
//! Memory stays flat in the capture size apart from a few bytes per frame
//! (the [`FrameRecord`] the verdict needs) and the findings themselves.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use crate::check::{Checker, Limits, Sink};
use crate::dissect::dissect;
use crate::finding::Finding;
use crate::pcap::{ReadError, Reader};
use crate::report::{FileReport, TsharkSummary};
use crate::verdict::{self, agreement, FrameRecord};

/// The own-check pass over one capture, before verdicts.
#[derive(Debug, Default)]
pub struct OwnPass {
    /// Link type name of the capture (`ETHERNET`, …; `UNKNOWN` when empty).
    pub linktype: String,
    /// One record per frame.
    pub frames: Vec<FrameRecord>,
    /// Own findings.
    pub findings: Vec<Finding>,
    /// Conversations seen.
    pub conversations: u32,
    /// The read error that ended the pass early, if any: frames before it
    /// are still checked and reported.
    pub error: Option<ReadError>,
}

/// Read `path` and run every own check on it.
///
/// # Errors
/// A [`ReadError`] when the file cannot be opened or is not a capture at
/// all; errors later in the file end the pass and land in
/// [`OwnPass::error`].
pub fn own_pass(path: &Path, limits: Limits) -> Result<OwnPass, ReadError> {
    Ok(own_pass_from(Reader::open(path)?, limits))
}

/// Run every own check on the frames of an open reader (see [`own_pass`]).
pub fn own_pass_from<R: Read>(mut reader: Reader<R>, limits: Limits) -> OwnPass {
    let mut checker = Checker::new(limits);
    let mut sink = Sink::new();
    let mut pass = OwnPass::default();
    let mut number = 0u64;
    while let Some(raw) = reader.next_frame() {
        let raw = match raw {
            Ok(raw) => raw,
            Err(error) => {
                pass.error = Some(error);
                break;
            }
        };
        number += 1;
        let mut frame = dissect(number, &raw);
        let conversation = checker.check_frame(&mut frame, &mut sink);
        pass.frames.push(FrameRecord { expected: frame.expected, present: frame.present, conversation });
    }
    checker.finish(&mut sink);
    pass.linktype = reader.linktype().map_or_else(|| "UNKNOWN".to_string(), |l| l.name());
    pass.findings = sink.into_findings();
    pass.conversations = checker.conversation_count();
    pass
}

/// Build the report of one capture from its own pass and, optionally,
/// tshark's summary and findings.
pub fn file_report(file: &str, pass: OwnPass, tshark: Option<(TsharkSummary, Vec<Finding>)>) -> FileReport {
    let OwnPass { linktype, frames, mut findings, conversations, error } = pass;
    let summary = tshark.map(|(summary, more)| {
        findings.extend(more);
        summary
    });
    findings.sort_by(|a, b| (a.frame, a.source, &a.check).cmp(&(b.frame, b.source, &b.check)));
    let mut checks: BTreeMap<String, u64> = BTreeMap::new();
    for finding in &findings {
        *checks.entry(finding.check.to_string()).or_default() += 1;
    }
    let verdicts = verdict::compute(&frames, &findings, conversations);
    let agreement = summary.as_ref().map(|_| agreement::compare(&findings));
    FileReport {
        file: file.to_string(),
        linktype,
        packets: verdicts.packets,
        tshark: summary,
        findings,
        checks,
        protocols: verdicts.protocols,
        conversations: verdicts.conversations,
        error: error.map(|e| e.to_string()),
        agreement,
    }
}
