//! The per-frame records of one pass, kept for the verdict: in memory up to
//! a bound, then appended to an anonymous temporary file and streamed back,
//! so that checking a capture of any size keeps memory flat.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};

use super::FrameRecord;
use crate::finding::Layers;

/// Records kept in memory before the log spills to disk (8 MiB of
/// records, about 1 M frames).
pub const MEMORY_RECORDS: usize = 1 << 20;

/// Bytes of one record on disk: expected (u16), present (u16),
/// conversation (u32), little-endian.
const RECORD_BYTES: usize = 8;

/// The frame records of one capture, in frame order.
#[derive(Debug)]
pub struct FrameLog {
    memory: Vec<FrameRecord>,
    memory_limit: usize,
    spill: Option<BufWriter<File>>,
    spilled: u64,
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

    /// Make an empty log that keeps at most `records` records in memory.
    pub fn with_memory_limit(records: usize) -> FrameLog {
        FrameLog { memory: Vec::new(), memory_limit: records, spill: None, spilled: 0, error: None }
    }

    /// Append the record of the next frame.
    ///
    /// When the temporary file cannot be made, the records stay in memory;
    /// when writing to it fails, the error is kept (see [`FrameLog::error`])
    /// and later records are dropped, so the verdict covers a prefix of the
    /// capture and says so.
    pub fn push(&mut self, record: FrameRecord) {
        if self.memory.len() < self.memory_limit {
            self.memory.push(record);
            return;
        }
        if self.error.is_some() {
            return;
        }
        if self.spill.is_none() {
            match tempfile::tempfile() {
                Ok(file) => self.spill = Some(BufWriter::with_capacity(1 << 16, file)),
                Err(_) => {
                    self.memory_limit = usize::MAX;
                    self.memory.push(record);
                    return;
                }
            }
        }
        let mut bytes = [0u8; RECORD_BYTES];
        bytes[..2].copy_from_slice(&record.expected.0.to_le_bytes());
        bytes[2..4].copy_from_slice(&record.present.0.to_le_bytes());
        bytes[4..].copy_from_slice(&record.conversation.to_le_bytes());
        match self.spill.as_mut().map(|w| w.write_all(&bytes)) {
            Some(Ok(())) => self.spilled += 1,
            Some(Err(e)) => self.error = Some(e),
            None => {}
        }
    }

    /// Return the number of frames recorded.
    pub fn len(&self) -> u64 {
        self.memory.len() as u64 + self.spilled
    }

    /// Return whether no frame was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Return whether part of the log lives on disk.
    pub fn spilled(&self) -> bool {
        self.spill.is_some()
    }

    /// Return the I/O error that cost records, if any.
    pub fn error(&self) -> Option<&io::Error> {
        self.error.as_ref()
    }

    /// Return the records in frame order. A read error on the temporary
    /// file ends the iteration early and is kept (see [`FrameLog::error`]).
    pub fn records(&mut self) -> Records<'_> {
        let reader = match self.spill.as_mut().map(rewound) {
            Some(Ok(file)) => Some(BufReader::with_capacity(1 << 16, file)),
            Some(Err(e)) => {
                self.error.get_or_insert(e);
                None
            }
            None => None,
        };
        Records { memory: self.memory.iter(), reader, remaining: self.spilled, error: &mut self.error }
    }

    /// Return every record in memory (for small captures and random access).
    pub fn to_vec(&mut self) -> Vec<FrameRecord> {
        self.records().collect()
    }
}

impl From<Vec<FrameRecord>> for FrameLog {
    fn from(memory: Vec<FrameRecord>) -> FrameLog {
        FrameLog { memory, memory_limit: usize::MAX, spill: None, spilled: 0, error: None }
    }
}

/// Flush the spill file and return a handle reading it from the start.
fn rewound(writer: &mut BufWriter<File>) -> io::Result<File> {
    writer.flush()?;
    let mut file = writer.get_ref().try_clone()?;
    file.seek(SeekFrom::Start(0))?;
    Ok(file)
}

/// The records of a [`FrameLog`], in frame order.
#[derive(Debug)]
pub struct Records<'a> {
    memory: std::slice::Iter<'a, FrameRecord>,
    reader: Option<BufReader<File>>,
    remaining: u64,
    error: &'a mut Option<io::Error>,
}

impl Iterator for Records<'_> {
    type Item = FrameRecord;

    fn next(&mut self) -> Option<FrameRecord> {
        if let Some(record) = self.memory.next() {
            return Some(*record);
        }
        if self.remaining == 0 {
            return None;
        }
        let reader = self.reader.as_mut()?;
        let mut bytes = [0u8; RECORD_BYTES];
        if let Err(e) = reader.read_exact(&mut bytes) {
            self.error.get_or_insert(e);
            self.reader = None;
            return None;
        }
        self.remaining -= 1;
        Some(FrameRecord {
            expected: Layers(u16::from_le_bytes([bytes[0], bytes[1]])),
            present: Layers(u16::from_le_bytes([bytes[2], bytes[3]])),
            conversation: u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
        })
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn record(i: u32) -> FrameRecord {
        FrameRecord { expected: Layers(i as u16), present: Layers((i >> 3) as u16), conversation: i.wrapping_mul(2_654_435_761) }
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
    fn test_small_logs_stay_in_memory() {
        let mut log = FrameLog::new();
        log.push(record(1));
        assert!(!log.spilled());
        assert_eq!(log.to_vec(), vec![record(1)]);
        assert!(FrameLog::default().is_empty());
    }
}
