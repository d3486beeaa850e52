//! The per-frame records of one pass, kept for the verdict: in memory up to
//! a bound, then appended to an anonymous temporary file and streamed back,
//! so that checking a capture of any size keeps memory flat.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};

use super::FrameRecord;
use crate::check::MEMORY_RECORDS;
use crate::finding::Layers;

/// Bytes of one record on disk: expected (u16), present (u16),
/// conversation (u32), little-endian.
const RECORD_BYTES: usize = 8;

/// Encoded records written to the spill file at a time.
const CHUNK_BYTES: usize = 64 * 1024;

/// The frame records of one capture, in frame order: the first ones in
/// memory, then (past the memory limit) in an anonymous temporary file,
/// then, should writing to that file fail, in memory again, so that no
/// record is ever lost.
#[derive(Debug)]
pub struct FrameLog {
    memory: Vec<FrameRecord>,
    memory_limit: usize,
    spill: Option<File>,
    /// Encoded records not yet written to `spill`.
    pending: Vec<u8>,
    /// Records in `spill`.
    spilled: u64,
    /// Records from the one the spill file failed on (or could not be
    /// made for) onwards: once it holds any, every later record goes there.
    tail: Vec<FrameRecord>,
    /// The read error that cost records, if any.
    error: Option<io::Error>,
}

impl Default for FrameLog {
    fn default() -> Self {
        FrameLog::new()
    }
}

impl FrameLog {
    /// Make an empty log that spills after [`MEMORY_RECORDS`] records.
    pub fn new() -> FrameLog {
        FrameLog::with_memory_limit(MEMORY_RECORDS)
    }

    /// Make an empty log that keeps at most `records` records in memory
    /// (unless the temporary file fails).
    pub fn with_memory_limit(records: usize) -> FrameLog {
        FrameLog {
            memory: Vec::new(),
            memory_limit: records,
            spill: None,
            pending: Vec::new(),
            spilled: 0,
            tail: Vec::new(),
            error: None,
        }
    }

    /// Append the record of the next frame.
    pub fn push(&mut self, record: FrameRecord) {
        if self.memory.len() < self.memory_limit {
            self.memory.push(record);
        } else if !self.tail.is_empty() {
            self.tail.push(record);
        } else {
            if self.spill.is_none() {
                match tempfile::tempfile() {
                    Ok(file) => self.spill = Some(file),
                    Err(_) => {
                        self.tail.push(record);
                        return;
                    }
                }
            }
            self.pending.extend_from_slice(&encode(record));
            if self.pending.len() >= CHUNK_BYTES {
                self.write_pending();
            }
        }
    }

    /// Write the pending records to the spill file. On failure, the records
    /// that did not reach the file move to `tail`, and so do later ones.
    fn write_pending(&mut self) {
        let Some(file) = self.spill.as_mut() else { return };
        if self.pending.is_empty() {
            return;
        }
        let start = self.spilled * RECORD_BYTES as u64;
        // Reading shares the cursor: append after the good records.
        let written = match file.seek(SeekFrom::Start(start)).and_then(|_| file.write_all(&self.pending)) {
            Ok(()) => self.pending.len() as u64,
            // What landed before the failure: whole records only.
            Err(_) => {
                file.metadata().map_or(0, |m| m.len().saturating_sub(start)).min(self.pending.len() as u64)
                    / RECORD_BYTES as u64
                    * RECORD_BYTES as u64
            }
        };
        self.spilled += written / RECORD_BYTES as u64;
        if written < self.pending.len() as u64 {
            self.tail.extend(self.pending[written as usize..].chunks_exact(RECORD_BYTES).map(decode));
            // The file may hold a torn record past the good ones; nothing
            // is written to it again and only `spilled` records are read.
        }
        self.pending.clear();
    }

    /// Return the number of frames recorded.
    pub fn len(&self) -> u64 {
        (self.memory.len() + self.pending.len() / RECORD_BYTES + self.tail.len()) as u64 + self.spilled
    }

    /// Return whether no frame was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Return whether part of the log lives on disk.
    pub fn spilled(&self) -> bool {
        self.spilled > 0 || !self.pending.is_empty()
    }

    /// Return the read error that cost records, if any.
    pub fn error(&self) -> Option<&io::Error> {
        self.error.as_ref()
    }

    /// Return the records in frame order. A read error on the temporary
    /// file ends the iteration early and is kept (see [`FrameLog::error`]).
    pub fn records(&mut self) -> Records<'_> {
        self.write_pending();
        let reader = match self.spill.as_mut().filter(|_| self.spilled > 0).map(rewound) {
            Some(Ok(file)) => Some(BufReader::with_capacity(CHUNK_BYTES, file)),
            Some(Err(e)) => {
                self.error.get_or_insert(e);
                None
            }
            None => None,
        };
        Records {
            memory: self.memory.iter(),
            reader,
            remaining: self.spilled,
            tail: self.tail.iter(),
            error: &mut self.error,
        }
    }

    /// Return every record in memory (for small captures and random access).
    pub fn to_vec(&mut self) -> Vec<FrameRecord> {
        self.records().collect()
    }
}

fn encode(record: FrameRecord) -> [u8; RECORD_BYTES] {
    let mut bytes = [0u8; RECORD_BYTES];
    bytes[..2].copy_from_slice(&record.expected.0.to_le_bytes());
    bytes[2..4].copy_from_slice(&record.present.0.to_le_bytes());
    bytes[4..].copy_from_slice(&record.conversation.to_le_bytes());
    bytes
}

fn decode(bytes: &[u8]) -> FrameRecord {
    FrameRecord {
        expected: Layers(u16::from_le_bytes([bytes[0], bytes[1]])),
        present: Layers(u16::from_le_bytes([bytes[2], bytes[3]])),
        conversation: u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
    }
}

/// Return a handle reading the spill file from the start (it shares the
/// file's cursor; appends seek back to the end of the good records).
fn rewound(file: &mut File) -> io::Result<File> {
    let mut reader = file.try_clone()?;
    reader.seek(SeekFrom::Start(0))?;
    Ok(reader)
}

/// The records of a [`FrameLog`], in frame order.
#[derive(Debug)]
pub struct Records<'a> {
    memory: std::slice::Iter<'a, FrameRecord>,
    reader: Option<BufReader<File>>,
    remaining: u64,
    tail: std::slice::Iter<'a, FrameRecord>,
    error: &'a mut Option<io::Error>,
}

impl Iterator for Records<'_> {
    type Item = FrameRecord;

    fn next(&mut self) -> Option<FrameRecord> {
        if let Some(record) = self.memory.next() {
            return Some(*record);
        }
        if self.remaining > 0 {
            if let Some(reader) = self.reader.as_mut() {
                let mut bytes = [0u8; RECORD_BYTES];
                match reader.read_exact(&mut bytes) {
                    Ok(()) => {
                        self.remaining -= 1;
                        return Some(decode(&bytes));
                    }
                    Err(e) => {
                        self.error.get_or_insert(e);
                        self.reader = None;
                    }
                }
            }
            // Records lost to a read error: the tail cannot follow them.
            return None;
        }
        self.tail.next().copied()
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn record(i: u32) -> FrameRecord {
        FrameRecord {
            expected: Layers(i as u16),
            present: Layers((i >> 3) as u16),
            conversation: i.wrapping_mul(2_654_435_761),
        }
    }

    #[test]
    fn test_spills_and_reads_back_in_order() {
        let mut log = FrameLog::with_memory_limit(5);
        for i in 0..1_000 {
            log.push(record(i));
        }
        assert!(log.spilled());
        assert_eq!(log.len(), 1_000);
        let expected: Vec<FrameRecord> = (0..1_000).map(record).collect();
        assert_eq!(log.to_vec(), expected);
        // Reading twice gives the same; appending after a read goes on.
        assert_eq!(log.records().count(), 1_000);
        log.push(record(1_000));
        assert_eq!(log.records().last(), Some(record(1_000)));
        assert!(log.error().is_none());
    }

    #[test]
    fn test_partial_reads_do_not_disturb_appends() {
        let mut log = FrameLog::with_memory_limit(3);
        let count = 3 * CHUNK_BYTES as u32 / RECORD_BYTES as u32 + 17;
        for i in 0..count {
            log.push(record(i));
            if i % 5_000 == 0 {
                // Read a little, then go on appending.
                assert_eq!(log.records().nth(4).map(|r| r.conversation), (i >= 4).then(|| record(4).conversation));
            }
        }
        assert_eq!(log.len(), u64::from(count));
        assert_eq!(log.to_vec(), (0..count).map(record).collect::<Vec<_>>());
    }

    #[test]
    fn test_a_failing_spill_file_loses_nothing() {
        // /dev/full refuses every write (ENOSPC), as a full disk would.
        let Ok(full) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/full") else { return };
        let mut log = FrameLog::with_memory_limit(2);
        log.spill = Some(full);
        let count = CHUNK_BYTES as u32; // several chunks' worth
        for i in 0..count {
            log.push(record(i));
        }
        assert!(!log.tail.is_empty(), "the records went to memory");
        assert_eq!(log.len(), u64::from(count));
        assert_eq!(log.to_vec(), (0..count).map(record).collect::<Vec<_>>());
        assert!(log.error().is_none(), "a spill failure costs memory, not records");
    }

    #[test]
    fn test_small_logs_stay_in_memory() {
        let mut log = FrameLog::new();
        log.push(record(1));
        assert!(!log.spilled());
        assert_eq!(log.to_vec(), vec![record(1)]);
        assert!(FrameLog::default().is_empty());
    }
}
