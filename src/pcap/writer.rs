//! Deterministic PCAP writer: little-endian, nanosecond timestamps, one link
//! type per file (DESIGN.md, "PCAPs the harness writes").

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use pcap_file::pcap::{PcapHeader, PcapWriter, RawPcapPacket};
use pcap_file::{DataLink, Endianness, TsResolution};

use super::Trace;
use super::{LinkType, Timestamp};

/// Snap length written into headers: Wireshark's maximum packet size.
const SNAPLEN: u32 = 262_144;

/// A PCAP writer with a fixed link type.
pub struct Writer<W: Write> {
    inner: PcapWriter<W>,
}

impl<W: Write> Writer<W> {
    /// Write the global header for `linktype` and return the writer.
    ///
    /// # Errors
    /// Any I/O error from `out`.
    pub fn new(out: W, linktype: LinkType) -> io::Result<Self> {
        let header = PcapHeader {
            version_major: 2,
            version_minor: 4,
            ts_correction: 0,
            ts_accuracy: 0,
            snaplen: SNAPLEN,
            datalink: DataLink::from(u32::from(linktype)),
            ts_resolution: TsResolution::NanoSecond,
            endianness: Endianness::Little,
        };
        let inner = PcapWriter::with_header(out, header).map_err(to_io)?;
        Ok(Writer { inner })
    }

    /// Append one frame captured at `ts` (nanoseconds since the epoch).
    ///
    /// # Errors
    /// Any I/O error; frames longer than `u32::MAX` bytes are refused.
    pub fn write(&mut self, ts: Timestamp, data: &[u8]) -> io::Result<()> {
        let len = u32::try_from(data.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame longer than 4 GiB"))?;
        let packet = RawPcapPacket {
            ts_sec: (ts / 1_000_000_000) as u32,
            ts_frac: (ts % 1_000_000_000) as u32,
            incl_len: len,
            orig_len: len,
            data: Cow::Borrowed(data),
        };
        self.inner.write_raw_packet(&packet).map_err(to_io)?;
        Ok(())
    }

    /// Return the underlying writer.
    pub fn into_inner(self) -> W {
        self.inner.into_writer()
    }
}

/// Write `trace` as a PCAP file at `path`.
///
/// # Errors
/// Any I/O error creating or writing the file.
pub fn write_pcap(path: &Path, trace: &Trace) -> io::Result<()> {
    write_trace(BufWriter::new(File::create(path)?), trace)?.flush()
}

/// Write `trace` as a PCAP stream to `out` and return `out`.
///
/// # Errors
/// Any I/O error writing to `out`.
pub fn write_trace<W: Write>(out: W, trace: &Trace) -> io::Result<W> {
    let mut writer = Writer::new(out, trace.linktype)?;
    for packet in &trace.packets {
        writer.write(packet.ts, &packet.data)?;
    }
    Ok(writer.into_inner())
}

fn to_io(error: pcap_file::PcapError) -> io::Error {
    match error {
        pcap_file::PcapError::IoError(e) => e,
        other => io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
    }
}
