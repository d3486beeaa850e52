//! Streaming PCAP/pcapng reader built on `pcap-file`'s slice parsers.
//!
//! `pcap-file`'s own readers hide the byte offset of a failure and reject
//! legal captures whose original length exceeds the snap length, so this
//! reader keeps its own refillable buffer, peeks at every record header before
//! handing it to the parser, and reports errors with the file and the offset
//! of the record that failed. Memory is bounded by the largest record.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use pcap_file::pcap::PcapParser;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
use pcap_file::pcapng::{Block, PcapNgParser};
use pcap_file::{PcapError, TsResolution};

use super::{LinkType, Timestamp};

/// Largest record we accept: Wireshark's own limit for a packet is 256 KiB;
/// pcapng blocks may carry options, so allow some headroom.
const MAX_RECORD_LEN: u64 = 16 * 1024 * 1024;
/// Size of a PCAP record header (ts_sec, ts_frac, incl_len, orig_len).
const PCAP_RECORD_HEADER_LEN: usize = 16;
/// Size of a PCAP global header.
const PCAP_HEADER_LEN: usize = 24;
/// pcapng Section Header Block type (palindromic, so byte order does not matter).
const PCAPNG_SHB: u32 = 0x0A0D_0D0A;
/// How much to read from the file at a time.
const CHUNK: usize = 256 * 1024;

/// Why a capture could not be read. Every variant names the file; those found
/// inside the file name the byte offset of the record that failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be opened.
    #[error("{path}: cannot open: {source}")]
    Open {
        /// The file.
        path: String,
        /// The OS error.
        source: io::Error,
    },
    /// Reading failed part-way.
    #[error("{path}: read error at offset {offset}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Byte offset where reading failed.
        offset: u64,
        /// The OS error.
        source: io::Error,
    },
    /// The file starts with neither a PCAP nor a pcapng magic number.
    #[error("{path}: not a PCAP or pcapng file (magic {magic:02x?} at offset 0)")]
    BadMagic {
        /// The file.
        path: String,
        /// The first bytes found (up to 4).
        magic: Vec<u8>,
    },
    /// The file ends inside a header or record.
    #[error("{path}: truncated {what} at offset {offset} (needs {needed} bytes, {available} left)")]
    Truncated {
        /// The file.
        path: String,
        /// Offset of the incomplete structure.
        offset: u64,
        /// What was being read.
        what: &'static str,
        /// Bytes the structure needs.
        needed: u64,
        /// Bytes that were left in the file.
        available: u64,
    },
    /// A record declares a length no capture can have.
    #[error("{path}: absurd {what} length {length} at offset {offset} (limit {MAX_RECORD_LEN})")]
    AbsurdLength {
        /// The file.
        path: String,
        /// Offset of the record.
        offset: u64,
        /// What declared the length.
        what: &'static str,
        /// The declared length.
        length: u64,
    },
    /// The parser rejected a structure.
    #[error("{path}: malformed {what} at offset {offset}: {detail}")]
    Malformed {
        /// The file.
        path: String,
        /// Offset of the structure.
        offset: u64,
        /// What was being read.
        what: &'static str,
        /// The parser's complaint.
        detail: String,
    },
}

/// One captured frame, borrowed from the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub struct RawFrame<'a> {
    /// Link type of the interface the frame was captured on.
    pub linktype: LinkType,
    /// Capture time in nanoseconds since the Unix epoch.
    pub ts: Timestamp,
    /// Length of the frame on the wire.
    pub orig_len: u32,
    /// The captured bytes.
    pub data: &'a [u8],
    /// Byte offset of the record in the file.
    pub offset: u64,
}

/// Per-interface facts a pcapng reader needs.
#[derive(Debug, Clone, Copy)]
struct Interface {
    linktype: LinkType,
    /// Timestamp units per second.
    units_per_sec: u64,
}

enum Format {
    Pcap { linktype: LinkType, nanos: bool, big_endian: bool },
    PcapNg { parser: PcapNgParser, interfaces: Vec<Interface>, big_endian: bool },
}

/// A streaming reader of PCAP and pcapng captures.
///
/// ```no_run
/// let mut reader = harness::pcap::Reader::open("capture.pcap")?;
/// while let Some(frame) = reader.next_frame() {
///     let frame = frame?;
///     println!("{} bytes at {}", frame.data.len(), frame.ts);
/// }
/// # Ok::<(), harness::pcap::ReadError>(())
/// ```
pub struct Reader<R> {
    inner: R,
    path: String,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// File offset of `buf[start]`.
    offset: u64,
    eof: bool,
    format: Format,
}

impl Reader<File> {
    /// Open a capture file and read its header.
    ///
    /// # Errors
    /// [`ReadError::Open`] when the file cannot be opened, otherwise as
    /// [`Reader::new`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ReadError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let file = File::open(path).map_err(|source| ReadError::Open { path: name.clone(), source })?;
        Reader::new(file, name)
    }
}

impl<R: Read> Reader<R> {
    /// Read the file header from `inner`; `name` is used in error messages.
    ///
    /// # Errors
    /// [`ReadError::BadMagic`] for a file that is neither PCAP nor pcapng,
    /// [`ReadError::Truncated`] or [`ReadError::Malformed`] for a bad header.
    pub fn new(inner: R, name: impl Into<String>) -> Result<Self, ReadError> {
        let mut reader = Reader {
            inner,
            path: name.into(),
            buf: Vec::with_capacity(CHUNK),
            start: 0,
            end: 0,
            offset: 0,
            eof: false,
            format: Format::Pcap { linktype: LinkType::Ethernet, nanos: false, big_endian: false },
        };
        reader.fill(4)?;
        let magic = reader.available().get(..4).map(<[u8]>::to_vec).unwrap_or_default();
        match magic.as_slice() {
            [0xd4, 0xc3, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0xc3, 0xd4]
            | [0x4d, 0x3c, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0x3c, 0x4d] => {
                reader.need(PCAP_HEADER_LEN as u64, "PCAP file header")?;
                let (_, parser) =
                    PcapParser::new(reader.available()).map_err(|e| reader.malformed("PCAP file header", &e))?;
                let header = parser.header();
                reader.format = Format::Pcap {
                    linktype: LinkType::from(u32::from(header.datalink)),
                    nanos: header.ts_resolution == TsResolution::NanoSecond,
                    big_endian: header.endianness.is_big(),
                };
                reader.consume(PCAP_HEADER_LEN);
            }
            [0x0a, 0x0d, 0x0d, 0x0a] => {
                let len = reader.peek_block_len(true)?;
                reader.need(len, "pcapng section header block")?;
                let (rest, parser) = PcapNgParser::new(reader.available())
                    .map_err(|e| reader.malformed("pcapng section header block", &e))?;
                let used = reader.available().len() - rest.len();
                reader.format =
                    Format::PcapNg { big_endian: parser.section().endianness.is_big(), parser, interfaces: Vec::new() };
                reader.consume(used);
            }
            _ => return Err(ReadError::BadMagic { path: reader.path.clone(), magic }),
        }
        Ok(reader)
    }

    /// Return the name used for this capture in messages.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Return the link type of the capture: the PCAP header's, or the first
    /// pcapng interface seen so far (`None` before any interface block).
    pub fn linktype(&self) -> Option<LinkType> {
        match &self.format {
            Format::Pcap { linktype, .. } => Some(*linktype),
            Format::PcapNg { interfaces, .. } => interfaces.first().map(|i| i.linktype),
        }
    }

    /// Return the next frame, `None` at a clean end of file.
    ///
    /// # Errors
    /// A [`ReadError`] naming the offset of the record that could not be read;
    /// after an error the reader yields `None`.
    pub fn next_frame(&mut self) -> Option<Result<RawFrame<'_>, ReadError>> {
        match self.next_record() {
            Ok(Some((range, meta))) => Some(Ok(RawFrame {
                linktype: meta.linktype,
                ts: meta.ts,
                orig_len: meta.orig_len,
                data: &self.buf[range],
                offset: meta.offset,
            })),
            Ok(None) => None,
            Err(e) => {
                // Poison the reader so a caller that keeps going stops cleanly.
                self.eof = true;
                self.start = self.end;
                Some(Err(e))
            }
        }
    }

    fn next_record(&mut self) -> Result<Option<(std::ops::Range<usize>, Meta)>, ReadError> {
        loop {
            // Fast path: a buffered byte needs no refill.
            if self.start == self.end && !self.fill(1)? {
                return Ok(None);
            }
            let offset = self.offset;
            match self.format {
                Format::Pcap { linktype, nanos, big_endian, .. } => {
                    if self.end - self.start < PCAP_RECORD_HEADER_LEN {
                        self.need(PCAP_RECORD_HEADER_LEN as u64, "PCAP record header")?;
                    }
                    // The record header, read in place (the same fields
                    // pcap-file's `RawPcapPacket::from_slice` reads).
                    let header = &self.buf[self.start..self.start + PCAP_RECORD_HEADER_LEN];
                    let ts_sec = read_u32(&header[0..4], big_endian);
                    let ts_frac = read_u32(&header[4..8], big_endian);
                    let incl = read_u32(&header[8..12], big_endian);
                    let orig = read_u32(&header[12..16], big_endian);
                    let incl_len = u64::from(incl);
                    if incl_len > MAX_RECORD_LEN {
                        return Err(self.absurd("PCAP record", incl_len));
                    }
                    let total = PCAP_RECORD_HEADER_LEN as u64 + incl_len;
                    if ((self.end - self.start) as u64) < total {
                        self.need(total, "PCAP record")?;
                    }
                    let frac = u64::from(ts_frac) * if nanos { 1 } else { 1000 };
                    let meta = Meta {
                        linktype,
                        ts: u64::from(ts_sec) * 1_000_000_000 + frac,
                        orig_len: orig.max(incl),
                        offset,
                    };
                    let data_start = self.start + PCAP_RECORD_HEADER_LEN;
                    let range = data_start..data_start + incl_len as usize;
                    self.consume(total as usize);
                    return Ok(Some((range, meta)));
                }
                Format::PcapNg { .. } => {
                    let len = self.peek_block_len(false)?;
                    self.need(len, "pcapng block")?;
                    let Format::PcapNg { parser, interfaces, .. } = &mut self.format else { unreachable!() };
                    let avail = &self.buf[self.start..self.end];
                    let block = match parser.next_block(avail) {
                        Ok((_, block)) => block,
                        Err(e) => {
                            let detail = e.to_string();
                            return Err(ReadError::Malformed {
                                path: self.path.clone(),
                                offset,
                                what: "pcapng block",
                                detail,
                            });
                        }
                    };
                    let base = avail.as_ptr() as usize;
                    let found = match block {
                        Block::SectionHeader(shb) => {
                            interfaces.clear();
                            if let Format::PcapNg { big_endian, .. } = &mut self.format {
                                *big_endian = shb.endianness.is_big();
                            }
                            None
                        }
                        Block::InterfaceDescription(idb) => {
                            let resol = idb.options.iter().find_map(|o| match o {
                                InterfaceDescriptionOption::IfTsResol(r) => Some(*r),
                                _ => None,
                            });
                            interfaces.push(Interface {
                                linktype: LinkType::from(u32::from(idb.linktype)),
                                units_per_sec: units_per_sec(resol.unwrap_or(6)),
                            });
                            None
                        }
                        Block::EnhancedPacket(epb) => {
                            let Some(iface) = interfaces.get(epb.interface_id as usize).copied() else {
                                let detail = format!(
                                    "packet refers to interface {} but only {} are described",
                                    epb.interface_id,
                                    interfaces.len()
                                );
                                return Err(ReadError::Malformed {
                                    path: self.path.clone(),
                                    offset,
                                    what: "pcapng enhanced packet block",
                                    detail,
                                });
                            };
                            // pcap-file reads the raw 64-bit count as nanoseconds; rescale by if_tsresol.
                            let units = epb.timestamp.as_nanos();
                            let ts = (units * 1_000_000_000 / u128::from(iface.units_per_sec)) as u64;
                            Some((
                                slice_range(base, &epb.data),
                                Meta { linktype: iface.linktype, ts, orig_len: epb.original_len, offset },
                            ))
                        }
                        Block::SimplePacket(spb) => {
                            let Some(iface) = interfaces.first().copied() else {
                                let detail = "simple packet block before any interface description".to_string();
                                return Err(ReadError::Malformed {
                                    path: self.path.clone(),
                                    offset,
                                    what: "pcapng simple packet block",
                                    detail,
                                });
                            };
                            Some((
                                slice_range(base, &spb.data),
                                Meta { linktype: iface.linktype, ts: 0, orig_len: spb.original_len, offset },
                            ))
                        }
                        Block::Packet(pb) => {
                            let iface = interfaces
                                .get(pb.interface_id as usize)
                                .copied()
                                .unwrap_or(Interface { linktype: LinkType::Ethernet, units_per_sec: 1_000_000 });
                            let units = u128::from(pb.timestamp);
                            let ts = (units * 1_000_000_000 / u128::from(iface.units_per_sec)) as u64;
                            Some((
                                slice_range(base, &pb.data),
                                Meta { linktype: iface.linktype, ts, orig_len: pb.original_len, offset },
                            ))
                        }
                        _ => None,
                    };
                    let start = self.start;
                    self.consume(len as usize);
                    match found {
                        Some((Some(range), meta)) => {
                            return Ok(Some(((start + range.start)..(start + range.end), meta)))
                        }
                        Some((None, _)) => {
                            return Err(ReadError::Malformed {
                                path: self.path.clone(),
                                offset,
                                what: "pcapng packet block",
                                detail: "packet data is not stored inline".into(),
                            })
                        }
                        None => continue,
                    }
                }
            }
        }
    }

    /// Peek at the total length of the pcapng block at the read position.
    fn peek_block_len(&mut self, section_header: bool) -> Result<u64, ReadError> {
        self.need(12, "pcapng block header")?;
        let avail = self.available();
        let block_type = read_u32(&avail[0..4], false);
        let big_endian = if section_header || block_type == PCAPNG_SHB {
            // The byte-order magic 0x1A2B3C4D follows the length.
            avail[8..12] == [0x1a, 0x2b, 0x3c, 0x4d]
        } else {
            matches!(self.format, Format::PcapNg { big_endian: true, .. })
        };
        let len = u64::from(read_u32(&avail[4..8], big_endian));
        if len > MAX_RECORD_LEN {
            return Err(self.absurd("pcapng block", len));
        }
        if len < 12 || len % 4 != 0 {
            return Err(ReadError::Malformed {
                path: self.path.clone(),
                offset: self.offset,
                what: "pcapng block",
                detail: format!("block length {len} is not a multiple of 4 of at least 12"),
            });
        }
        Ok(len)
    }

    fn available(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.offset += n as u64;
    }

    /// Make sure `n` bytes are buffered, or fail with a truncation error.
    fn need(&mut self, n: u64, what: &'static str) -> Result<(), ReadError> {
        if self.fill(n as usize)? && self.available().len() as u64 >= n {
            return Ok(());
        }
        Err(ReadError::Truncated {
            path: self.path.clone(),
            offset: self.offset,
            what,
            needed: n,
            available: self.available().len() as u64,
        })
    }

    /// Buffer at least `n` bytes if the file has them; return whether any
    /// byte is buffered.
    fn fill(&mut self, n: usize) -> Result<bool, ReadError> {
        while self.end - self.start < n && !self.eof {
            if self.start > 0 && (self.buf.len() - self.end < CHUNK || self.start == self.end) {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            let want = n.max(CHUNK);
            if self.buf.len() < self.start + want {
                self.buf.resize(self.start + want, 0);
            }
            let read = loop {
                match self.inner.read(&mut self.buf[self.end..]) {
                    Ok(read) => break read,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(source) => {
                        return Err(ReadError::Io {
                            path: self.path.clone(),
                            offset: self.offset + (self.end - self.start) as u64,
                            source,
                        })
                    }
                }
            };
            if read == 0 {
                self.eof = true;
            }
            self.end += read;
        }
        Ok(self.end > self.start)
    }

    fn absurd(&self, what: &'static str, length: u64) -> ReadError {
        ReadError::AbsurdLength { path: self.path.clone(), offset: self.offset, what, length }
    }

    fn malformed(&self, what: &'static str, error: &PcapError) -> ReadError {
        ReadError::Malformed { path: self.path.clone(), offset: self.offset, what, detail: error.to_string() }
    }
}

#[derive(Debug, Clone, Copy)]
struct Meta {
    linktype: LinkType,
    ts: Timestamp,
    orig_len: u32,
    offset: u64,
}

/// Return the range of `data` inside the buffer starting at address `base`,
/// or `None` if the parser copied it.
#[allow(clippy::ptr_arg)] // Borrowed vs owned is the point.
fn slice_range(base: usize, data: &Cow<'_, [u8]>) -> Option<std::ops::Range<usize>> {
    match data {
        Cow::Borrowed(slice) => {
            let start = slice.as_ptr() as usize - base;
            Some(start..start + slice.len())
        }
        Cow::Owned(_) => None,
    }
}

/// Return timestamp units per second for a pcapng `if_tsresol` value.
fn units_per_sec(resol: u8) -> u64 {
    let exp = u32::from(resol & 0x7f);
    let units = if resol & 0x80 == 0 { 10u64.checked_pow(exp) } else { 2u64.checked_pow(exp) };
    // Resolutions finer than what u64 holds are clamped to nanoseconds.
    units.unwrap_or(1_000_000_000).max(1)
}

fn read_u32(bytes: &[u8], big_endian: bool) -> u32 {
    let array = [bytes[0], bytes[1], bytes[2], bytes[3]];
    if big_endian {
        u32::from_be_bytes(array)
    } else {
        u32::from_le_bytes(array)
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::pcap::Writer;

    fn sample() -> Vec<u8> {
        let mut out = Vec::new();
        let mut writer = Writer::new(&mut out, LinkType::Raw).unwrap();
        writer.write(1_500_000_123, &[0x45, 0, 0, 20]).unwrap();
        writer.write(2_000_000_000, &[0x45; 40]).unwrap();
        writer.into_inner();
        out
    }

    fn read_all(bytes: &[u8]) -> Result<Vec<(Timestamp, Vec<u8>, u64)>, ReadError> {
        let mut reader = Reader::new(bytes, "mem")?;
        let mut frames = Vec::new();
        while let Some(frame) = reader.next_frame() {
            let frame = frame?;
            frames.push((frame.ts, frame.data.to_vec(), frame.offset));
        }
        Ok(frames)
    }

    #[test]
    fn test_roundtrip_pcap() {
        let frames = read_all(&sample()).unwrap();
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0], (1_500_000_123, vec![0x45, 0, 0, 20], 24));
        assert_eq!(frames[1].0, 2_000_000_000);
        assert_eq!(frames[1].2, 24 + 16 + 4);
    }

    #[test]
    fn test_truncated_record_names_offset() {
        let bytes = sample();
        let err = read_all(&bytes[..bytes.len() - 3]).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, ReadError::Truncated { offset: 44, .. }), "{text}");
        assert!(text.contains("mem: truncated PCAP record at offset 44"), "{text}");
    }

    #[test]
    fn test_bad_magic() {
        let err = read_all(b"GET / HTTP/1.1\r\n").unwrap_err();
        assert!(matches!(err, ReadError::BadMagic { .. }));
        assert!(err.to_string().contains("not a PCAP or pcapng file"));
        assert!(matches!(read_all(b"").unwrap_err(), ReadError::BadMagic { .. }));
    }

    #[test]
    fn test_absurd_length() {
        let mut bytes = sample();
        bytes[24 + 8..24 + 12].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        let err = read_all(&bytes).unwrap_err();
        assert!(matches!(err, ReadError::AbsurdLength { offset: 24, length: 0xffff_fff0, .. }), "{err}");
    }

    #[test]
    fn test_truncated_header() {
        let err = read_all(&sample()[..10]).unwrap_err();
        assert!(matches!(err, ReadError::Truncated { offset: 0, what: "PCAP file header", .. }), "{err}");
    }

    #[test]
    fn test_units_per_sec() {
        assert_eq!(units_per_sec(6), 1_000_000);
        assert_eq!(units_per_sec(9), 1_000_000_000);
        assert_eq!(units_per_sec(0x80 | 10), 1024);
        assert_eq!(units_per_sec(0x7f), 1_000_000_000);
    }

    #[test]
    fn test_pcapng() {
        use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
        use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionBlock;
        use pcap_file::pcapng::PcapNgWriter;
        use pcap_file::DataLink;
        let mut out = Vec::new();
        let mut writer = PcapNgWriter::new(&mut out).unwrap();
        let idb = InterfaceDescriptionBlock { linktype: DataLink::RAW, snaplen: 0, options: vec![] };
        writer.write_pcapng_block(idb).unwrap();
        let epb = EnhancedPacketBlock {
            interface_id: 0,
            // Default resolution is microseconds: 1.5 s.
            timestamp: std::time::Duration::from_nanos(1_500_000),
            original_len: 4,
            data: Cow::Borrowed(&[0x45, 0, 0, 4]),
            options: vec![],
        };
        writer.write_pcapng_block(epb).unwrap();
        let frames = read_all(&out).unwrap();
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].0, 1_500_000_000);
        assert_eq!(frames[0].1, vec![0x45, 0, 0, 4]);
        let mut reader = Reader::new(out.as_slice(), "ng").unwrap();
        assert!(reader.next_frame().is_some());
        assert_eq!(reader.linktype(), Some(LinkType::Raw));
    }
}
