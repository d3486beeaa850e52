//! Checking one capture end to end: read, dissect, run the own checks, merge
//! findings from other sources, compute verdicts.
//!
//! Memory stays flat in the capture size: the few bytes per frame the
//! verdict needs ([`FrameRecord`]) spill to a temporary file past a bound
//! ([`FrameLog`]); only the findings and one flag per conversation grow.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::mpsc;

use crate::check::parallel::{self, BackChecks, Batch, FrontChecks};
use crate::check::{Checker, Limits, Sink};
use crate::dissect::dissect;
use crate::finding::{Finding, Protocol};
use crate::pcap::{ReadError, Reader};
use crate::report::FileReport;
use crate::scenario::expect::{read_trace, waive_pairing, Expectation};
use crate::tshark::{layer_of_expert, Expert};
use crate::verdict::{self, agreement, FrameLog, FrameRecord};

/// The own-check pass over one capture, before verdicts.
#[derive(Debug, Default)]
pub struct OwnPass {
    /// Link type name of the capture (`ETHERNET`, …; `UNKNOWN` when empty).
    pub linktype: String,
    /// One record per frame.
    pub frames: FrameLog,
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

/// Read `path` and run every own check on it with up to `jobs` threads
/// (see [`own_pass_from_jobs`]).
///
/// # Errors
/// As [`own_pass`].
pub fn own_pass_jobs(path: &Path, limits: Limits, jobs: usize) -> Result<OwnPass, ReadError> {
    Ok(own_pass_from_jobs(Reader::open(path)?, limits, jobs))
}

/// Run every own check on the frames of an open reader with up to `jobs`
/// threads: with one, [`own_pass_from`]; with more, two threads, one reading
/// the capture and running the checks of [`FrontChecks`], the other those of
/// [`BackChecks`] (see [`crate::check::parallel`] for why this split is
/// exact and a finer one by flow is not). The pass is the same either way,
/// findings in the same order.
pub fn own_pass_from_jobs<R: Read>(reader: Reader<R>, limits: Limits, jobs: usize) -> OwnPass {
    if jobs < 2 {
        own_pass_from(reader, limits)
    } else {
        own_pass_split(reader, limits, BATCH_FRAMES)
    }
}

/// Frames per [`Batch`] handed from the reading thread to the other.
const BATCH_FRAMES: usize = 2048;
/// Batches queued between the two threads at most: memory stays flat.
const BATCHES_QUEUED: usize = 4;

/// The pass of [`own_pass_from_jobs`] on two threads, handing frames over
/// `batch_frames` at a time.
fn own_pass_split<R: Read>(mut reader: Reader<R>, limits: Limits, batch_frames: usize) -> OwnPass {
    let (to_back, from_front) = mpsc::sync_channel::<Batch>(BATCHES_QUEUED);
    let (give_back, given_back) = mpsc::channel::<Batch>();
    std::thread::scope(|scope| {
        let back = scope.spawn(move || {
            let mut checks = BackChecks::new(limits);
            let mut frames = FrameLog::with_memory_limit(limits.memory_records);
            for batch in from_front {
                for (number, raw) in batch.frames() {
                    let mut frame = dissect(number, &raw);
                    let conversation = checks.check(&mut frame);
                    frames.push(FrameRecord { expected: frame.expected, present: frame.present, conversation });
                }
                // The reader may be gone already: then the batch is dropped.
                let _ = give_back.send(batch);
            }
            let (emitted, conversations) = checks.finish();
            (frames, emitted, conversations)
        });
        let mut front = FrontChecks::new(limits);
        let mut error = None;
        let mut number = 0u64;
        let mut batch = Batch::default();
        batch.clear(1);
        while let Some(raw) = reader.next_frame() {
            let raw = match raw {
                Ok(raw) => raw,
                Err(e) => {
                    error = Some(e);
                    break;
                }
            };
            number += 1;
            front.check(&dissect(number, &raw));
            batch.push(&raw);
            if batch.len() >= batch_frames {
                let mut next = given_back.try_recv().unwrap_or_default();
                next.clear(number + 1);
                if to_back.send(std::mem::replace(&mut batch, next)).is_err() {
                    // The other thread panicked: its join below says why.
                    break;
                }
            }
        }
        if !batch.is_empty() {
            let _ = to_back.send(batch);
        }
        drop(to_back);
        let front = front.finish();
        let (frames, back, conversations) = back.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        OwnPass {
            linktype: reader.linktype().map_or_else(|| "UNKNOWN".to_string(), |l| l.name()),
            frames,
            findings: parallel::merge(front, back),
            conversations,
            error,
        }
    })
}

/// Run every own check on the frames of an open reader (see [`own_pass`]).
pub fn own_pass_from<R: Read>(mut reader: Reader<R>, limits: Limits) -> OwnPass {
    let mut checker = Checker::new(limits);
    let mut sink = Sink::new();
    let mut pass = OwnPass { frames: FrameLog::with_memory_limit(limits.memory_records), ..OwnPass::default() };
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

/// What a capture is judged against besides its own bytes: the summary it
/// answers, when known (DESIGN.md, "Success rate": a conversation has
/// exactly the packets the summary asked for).
#[derive(Debug, Clone, Default)]
pub struct Judging<'e> {
    /// What the summary asks for: its waivers apply to every finding.
    pub expectation: Option<&'e Expectation>,
    /// The findings of comparing the trace with the expectation
    /// ([`Expectation::compare`]: `summary.mismatch`).
    pub summary: Vec<Finding>,
    /// Packet mode: the capture is several independent packets, so the
    /// findings that pair packets are not failures
    /// ([`crate::scenario::expect::waive_pairing`]).
    pub packet_mode: bool,
}

impl<'e> Judging<'e> {
    /// Judge against `expectation`, comparing it with the capture's trace
    /// read back from `path` (when it can be read).
    pub fn against(expectation: &'e Expectation, path: &Path, packet_mode: bool) -> Judging<'e> {
        let summary = read_trace(path).map(|trace| expectation.compare(&trace)).unwrap_or_default();
        Judging { expectation: Some(expectation), summary, packet_mode }
    }
}

/// Build the report of one capture from its own pass and, optionally,
/// tshark's summary and findings, with no summary to judge against (see
/// [`judge`]).
pub fn file_report(file: &str, pass: OwnPass, tshark: Option<Expert>) -> FileReport {
    judge(file, pass, tshark, Judging::default())
}

/// Judge one capture: merge the own pass, tshark's findings (mapped to
/// layers, see [`attach_tshark`]) and the summary's findings and waivers,
/// sort the findings, count them per check, compute the verdicts and the
/// agreement. Every command that gives a verdict (`check`, `paper`, the
/// matrix and the LLM-NTG cells) calls this one function (DESIGN.md, "One
/// judge"), so a verdict does not depend on the command.
pub fn judge(file: &str, pass: OwnPass, tshark: Option<Expert>, judging: Judging<'_>) -> FileReport {
    let OwnPass { linktype, mut frames, mut findings, conversations, error } = pass;
    findings.extend(judging.summary);
    let summary = tshark.map(|(summary, mut more)| {
        attach_tshark(&mut more, frames.records());
        findings.extend(more);
        summary
    });
    if let Some(expectation) = judging.expectation {
        expectation.apply_waivers(&mut findings);
    }
    if judging.packet_mode {
        waive_pairing(&mut findings);
    }
    sort_findings(&mut findings);
    let mut checks: BTreeMap<String, u64> = BTreeMap::new();
    for finding in &findings {
        *checks.entry(finding.check.to_string()).or_default() += 1;
    }
    let verdicts = verdict::compute(frames.records(), &findings, conversations);
    let error = error.map(|e| e.to_string()).or_else(|| {
        frames.error().map(|e| {
            format!(
                "the per-frame records could not be kept on disk ({e}): verdicts cover the first {} of {} frames",
                verdicts.packets,
                frames.len()
            )
        })
    });
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
        error,
        agreement,
    }
}

/// Sort findings the one way every report shows them: by frame, source,
/// check id and message.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| (a.frame, a.source, &a.check, &a.message).cmp(&(b.frame, b.source, &b.check, &b.message)));
}

/// Attach tshark's findings to table layers: by the protocol prefix of the
/// expert field (`arp.*` → ARP, `dns.*` → DNS, …; `_ws.malformed` by the
/// protocol that broke, as parsed from the PDML). A finding of a protocol
/// the tables have no row for (`ipv6.hopopts` inside IPv4 protocol 0,
/// `frame.*`) goes to the deepest layer the own dissector decoded in that
/// frame; one on a table layer the own dissector neither found nor
/// expected in that frame (tshark's IP view of an Ethernet frame stored in
/// a raw-IP capture) goes to the lowest decoded layer, where the two
/// readings of the packet part. Either way every tshark error counts
/// against some row of its packet.
/// `records` are the capture's frame records in frame order.
pub fn attach_tshark(findings: &mut [Finding], records: impl IntoIterator<Item = FrameRecord>) {
    for f in findings.iter_mut() {
        if let Some(layer) = f.expert.as_deref().and_then(layer_of_expert) {
            f.protocol = layer;
        }
    }
    let mut order: Vec<usize> = (0..findings.len()).filter(|i| findings[*i].frame >= 1).collect();
    order.sort_by_key(|i| findings[*i].frame);
    let mut next = order.into_iter().peekable();
    for (index, record) in records.into_iter().enumerate() {
        let number = index as u64 + 1;
        while let Some(i) = next.next_if(|i| findings[*i].frame <= number) {
            let f = &mut findings[i];
            let judged = f.protocol != Protocol::Frame
                && (record.present.contains(f.protocol) || record.expected.contains(f.protocol));
            if f.frame == number && !judged {
                let place = if f.protocol == Protocol::Frame { deepest(record) } else { lowest(record) };
                if let Some(layer) = place {
                    f.protocol = layer;
                }
            }
        }
        if next.peek().is_none() {
            break;
        }
    }
}

/// Return the lowest table layer decoded in a frame (present, else
/// expected), if any.
fn lowest(record: FrameRecord) -> Option<Protocol> {
    let lowest_of = |layers: crate::finding::Layers| Protocol::LAYERS.iter().copied().find(|l| layers.contains(*l));
    lowest_of(record.present).or_else(|| lowest_of(record.expected))
}

/// Return the deepest table layer decoded in a frame (present, else
/// expected), if any.
fn deepest(record: FrameRecord) -> Option<Protocol> {
    let deepest_of =
        |layers: crate::finding::Layers| Protocol::LAYERS.iter().rev().copied().find(|l| layers.contains(*l));
    deepest_of(record.present).or_else(|| deepest_of(record.expected))
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::pcap::{LinkType, Writer};
    use crate::testkit;

    /// Forty HTTP conversations on raw IP, one segment's ACK broken.
    fn capture() -> Vec<u8> {
        let mut out = Vec::new();
        let mut writer = Writer::new(&mut out, LinkType::Raw).unwrap();
        let mut ts = 1_700_000_000_000_000_000u64;
        for i in 0..40u8 {
            let mut packets = testkit::http_conversation(
                [10, 0, 0, i],
                40_000 + u16::from(i),
                [10, 0, 1, 1],
                1_000,
                9_000,
                b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
                b"HTTP/1.1 204 No Content\r\n\r\n",
            );
            if i == 17 {
                packets[2] = testkit::tcp([10, 0, 0, i], [10, 0, 1, 1], 40_017, 80, "A", 1_001, 4_242, b"");
            }
            for packet in packets {
                ts += 1_000;
                writer.write(ts, &packet).unwrap();
            }
        }
        writer.into_inner();
        out
    }

    #[test]
    fn test_split_pass_equals_one_thread_for_every_batch_size() {
        let data = capture();
        for memory_records in [7, Limits::default().memory_records] {
            let limits = Limits { memory_records, max_flows: 8, ..Limits::default() };
            let one = own_pass_from(Reader::new(data.as_slice(), "t").unwrap(), limits);
            let one_findings = one.findings.clone();
            let one = file_report("t", one, None);
            assert_eq!(one.conversations.succeeded, 39);
            for batch in [1, 7, 440, BATCH_FRAMES] {
                let split = own_pass_split(Reader::new(data.as_slice(), "t").unwrap(), limits, batch);
                assert_eq!(split.findings, one_findings, "batches of {batch}");
                assert_eq!(file_report("t", split, None), one, "batches of {batch}");
            }
        }
    }

    #[test]
    fn test_split_pass_keeps_the_frames_before_a_read_error() {
        let mut data = capture();
        // Cut the last record short: a read error after 439 frames.
        data.truncate(data.len() - 10);
        let one = own_pass_from(Reader::new(data.as_slice(), "t").unwrap(), Limits::default());
        let split = own_pass_from_jobs(Reader::new(data.as_slice(), "t").unwrap(), Limits::default(), 2);
        assert!(split.error.is_some());
        assert_eq!(split.error.as_ref().map(ToString::to_string), one.error.as_ref().map(ToString::to_string));
        assert_eq!(split.findings, one.findings);
        let (one, split) = (file_report("t", one, None), file_report("t", split, None));
        assert_eq!(split.packets, 439);
        assert_eq!(split, one);
    }

    #[test]
    fn test_spilled_frame_records_give_the_same_report() {
        let data = capture();
        let in_memory = own_pass_from(Reader::new(data.as_slice(), "t").unwrap(), Limits::default());
        assert!(!in_memory.frames.spilled());
        let spilled = own_pass_from(
            Reader::new(data.as_slice(), "t").unwrap(),
            Limits { memory_records: 7, ..Limits::default() },
        );
        assert!(spilled.frames.spilled());
        let (a, b) = (file_report("t", in_memory, None), file_report("t", spilled, None));
        assert_eq!(a.packets, 440);
        assert_eq!(a.conversations.total, 40);
        assert_eq!(a.conversations.succeeded, 39, "{:?}", a.findings);
        assert!(a.error.is_none());
        assert_eq!(a, b);
    }
}
