//! A lenient DNS message view (RFC 1035) that counts what is really there.
//!
//! Crates such as `simple-dns` or `hickory-proto` stop at the header counts and
//! silently ignore extra or missing records. The harness checks packets that a
//! language model wrote, so it must walk every section, compare the header
//! counts (RFC 1035 §4.1.1) with the records actually present and with the
//! bytes consumed, and say where and why a message stops making sense.
//!
//! Three levels:
//! - [`Packet`]: a smoltcp-style view of the 12-octet header, read and written
//!   in place.
//! - [`Repr`]: a whole message as values. [`Repr::parse`] is strict (the
//!   counts must match the records, no bytes may follow the last record);
//!   [`Repr::emit`] writes names without compression, so output is simple and
//!   deterministic.
//! - [`walk`]: the checker's hot path. It never fails and never panics, does
//!   bounded work, keeps only the questions, and reports in a [`Walk`] how many
//!   records each section really holds, how many bytes they took, and the
//!   first thing it could not parse.
//!
//! Names are text in master-file form (RFC 1035 §5.1): labels joined by `.`,
//! no trailing dot, the root is `""`. Case is kept as on the wire; compare
//! names with [`names_equal`] (RFC 4343). A label octet that is not printable
//! ASCII, or is `.` or `\`, is escaped as `\DDD` or `\.`/`\\`, and
//! [`Repr::emit`] reads those escapes back, so any wire name round-trips.
//!
//! Compression pointers (RFC 1035 §4.1.4) must point to an *earlier* offset
//! past the header, as they point to "a prior occurrence" of a name; this
//! rules out loops by construction. A name may follow at most
//! [`MAX_POINTER_HOPS`] pointers and be at most 255 octets long (§2.3.4).

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

mod field {
    #![allow(dead_code)]
    pub type Field = core::ops::Range<usize>;

    // Header, RFC 1035 §4.1.1.
    pub const ID: Field = 0..2;
    pub const FLAGS: Field = 2..4;
    pub const QDCOUNT: Field = 4..6;
    pub const ANCOUNT: Field = 6..8;
    pub const NSCOUNT: Field = 8..10;
    pub const ARCOUNT: Field = 10..12;

    // Bits of the FLAGS word.
    pub const FLAG_QR: u16 = 0x8000;
    pub const OPCODE_SHIFT: u16 = 11;
    pub const OPCODE_MASK: u16 = 0x0f;
    pub const FLAG_AA: u16 = 0x0400;
    pub const FLAG_TC: u16 = 0x0200;
    pub const FLAG_RD: u16 = 0x0100;
    pub const FLAG_RA: u16 = 0x0080;
    /// Z, AD and CD (RFC 1035 §4.1.1 Z; RFC 4035 §3.2 AD and CD).
    pub const Z_SHIFT: u16 = 4;
    pub const Z_MASK: u16 = 0x07;
    pub const RCODE_MASK: u16 = 0x0f;

    // Question after QNAME, RFC 1035 §4.1.2.
    pub const QTYPE: Field = 0..2;
    pub const QCLASS: Field = 2..4;
    pub const QUESTION_FIXED_LEN: usize = QCLASS.end;

    // Resource record after NAME, RFC 1035 §4.1.3.
    pub const TYPE: Field = 0..2;
    pub const CLASS: Field = 2..4;
    pub const TTL: Field = 4..8;
    pub const RDLENGTH: Field = 8..10;
    pub const RR_FIXED_LEN: usize = RDLENGTH.end;

    // RDATA, RFC 1035 §3.3 and §3.4, RFC 3596 §2.2.
    pub const A_LEN: usize = 4;
    pub const AAAA_LEN: usize = 16;
    pub const MX_PREFERENCE: Field = 0..2;
    /// SERIAL, REFRESH, RETRY, EXPIRE, MINIMUM after MNAME and RNAME.
    pub const SOA_FIXED_LEN: usize = 20;

    // Name octets, RFC 1035 §4.1.4.
    pub const LABEL_TYPE_MASK: u8 = 0xc0;
    pub const LABEL_TYPE_LENGTH: u8 = 0x00;
    pub const LABEL_TYPE_POINTER: u8 = 0xc0;
    pub const POINTER_LEN: usize = 2;
    pub const MAX_LABEL_LEN: usize = 63;
    pub const MAX_NAME_LEN: usize = 255;
}

/// Length of the DNS header (RFC 1035 §4.1.1).
pub const HEADER_LEN: usize = field::ARCOUNT.end;

/// Most compression pointers one name may follow.
///
/// A 255-octet name has at most 127 labels, so 128 hops are enough for any
/// name whose every label is reached through a pointer of its own.
pub const MAX_POINTER_HOPS: usize = 128;

/// Smallest question: the root name and QTYPE, QCLASS.
const MIN_QUESTION_LEN: usize = 1 + field::QUESTION_FIXED_LEN;

// ---------------------------------------------------------------------------
// Numbers.

/// A record type (RFC 1035 §3.2.2 and the IANA registry); unknown values
/// round-trip through [`RecordType::Unknown`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordType {
    /// A host address (1).
    A,
    /// An authoritative name server (2).
    Ns,
    /// The canonical name for an alias (5).
    Cname,
    /// The start of a zone of authority (6).
    Soa,
    /// A domain name pointer (12).
    Ptr,
    /// Host information (13).
    Hinfo,
    /// Mail exchange (15).
    Mx,
    /// Text strings (16).
    Txt,
    /// Responsible person, RFC 1183 (17).
    Rp,
    /// An IPv6 host address, RFC 3596 (28).
    Aaaa,
    /// A service location, RFC 2782 (33).
    Srv,
    /// The EDNS(0) pseudo-record, RFC 6891 (41).
    Opt,
    /// A service binding, RFC 9460 (64).
    Svcb,
    /// An HTTPS service binding, RFC 9460 (65).
    Https,
    /// A request for all records, RFC 1035 QTYPE `*` (255).
    Any,
    /// Certification authority authorization, RFC 8659 (257).
    Caa,
    /// Any other value.
    Unknown(u16),
}

impl RecordType {
    /// Return the mnemonic (`"A"`, `"AAAA"`), or `"Unknown"` for an unknown
    /// type; [`Display`](fmt::Display) adds the number to the latter.
    pub fn name(&self) -> &'static str {
        match self {
            RecordType::A => "A",
            RecordType::Ns => "NS",
            RecordType::Cname => "CNAME",
            RecordType::Soa => "SOA",
            RecordType::Ptr => "PTR",
            RecordType::Hinfo => "HINFO",
            RecordType::Mx => "MX",
            RecordType::Txt => "TXT",
            RecordType::Rp => "RP",
            RecordType::Aaaa => "AAAA",
            RecordType::Srv => "SRV",
            RecordType::Opt => "OPT",
            RecordType::Svcb => "SVCB",
            RecordType::Https => "HTTPS",
            RecordType::Any => "ANY",
            RecordType::Caa => "CAA",
            RecordType::Unknown(_) => "Unknown",
        }
    }
}

impl From<u16> for RecordType {
    fn from(value: u16) -> RecordType {
        match value {
            1 => RecordType::A,
            2 => RecordType::Ns,
            5 => RecordType::Cname,
            6 => RecordType::Soa,
            12 => RecordType::Ptr,
            13 => RecordType::Hinfo,
            15 => RecordType::Mx,
            16 => RecordType::Txt,
            17 => RecordType::Rp,
            28 => RecordType::Aaaa,
            33 => RecordType::Srv,
            41 => RecordType::Opt,
            64 => RecordType::Svcb,
            65 => RecordType::Https,
            255 => RecordType::Any,
            257 => RecordType::Caa,
            other => RecordType::Unknown(other),
        }
    }
}

impl From<RecordType> for u16 {
    fn from(value: RecordType) -> u16 {
        match value {
            RecordType::A => 1,
            RecordType::Ns => 2,
            RecordType::Cname => 5,
            RecordType::Soa => 6,
            RecordType::Ptr => 12,
            RecordType::Hinfo => 13,
            RecordType::Mx => 15,
            RecordType::Txt => 16,
            RecordType::Rp => 17,
            RecordType::Aaaa => 28,
            RecordType::Srv => 33,
            RecordType::Opt => 41,
            RecordType::Svcb => 64,
            RecordType::Https => 65,
            RecordType::Any => 255,
            RecordType::Caa => 257,
            RecordType::Unknown(other) => other,
        }
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordType::Unknown(value) => write!(f, "Unknown({value})"),
            known => f.write_str(known.name()),
        }
    }
}

/// A response code (RFC 1035 §4.1.1, the 4-bit RCODE); unknown values
/// round-trip through [`Rcode::Unknown`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Rcode {
    /// No error (0).
    #[default]
    NoError,
    /// The server could not interpret the query (1).
    FormErr,
    /// The server failed (2).
    ServFail,
    /// The name does not exist (3).
    NxDomain,
    /// The server does not support the query kind (4).
    NotImp,
    /// The server refuses for policy reasons (5).
    Refused,
    /// Any other value.
    Unknown(u8),
}

impl From<u8> for Rcode {
    fn from(value: u8) -> Rcode {
        match value {
            0 => Rcode::NoError,
            1 => Rcode::FormErr,
            2 => Rcode::ServFail,
            3 => Rcode::NxDomain,
            4 => Rcode::NotImp,
            5 => Rcode::Refused,
            other => Rcode::Unknown(other),
        }
    }
}

impl From<Rcode> for u8 {
    fn from(value: Rcode) -> u8 {
        match value {
            Rcode::NoError => 0,
            Rcode::FormErr => 1,
            Rcode::ServFail => 2,
            Rcode::NxDomain => 3,
            Rcode::NotImp => 4,
            Rcode::Refused => 5,
            Rcode::Unknown(other) => other,
        }
    }
}

impl fmt::Display for Rcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Rcode::NoError => "NOERROR",
            Rcode::FormErr => "FORMERR",
            Rcode::ServFail => "SERVFAIL",
            Rcode::NxDomain => "NXDOMAIN",
            Rcode::NotImp => "NOTIMP",
            Rcode::Refused => "REFUSED",
            Rcode::Unknown(value) => return write!(f, "Unknown({value})"),
        };
        f.write_str(name)
    }
}

/// The mnemonics of DNS numbers as people (and models) write them,
/// case-insensitive and trimmed: IANA's "Domain Name System (DNS)
/// Parameters" registries, with RFC 3597's generic `TYPEnnn` and
/// `CLASSnnn` forms.
pub mod mnemonic {
    /// Record type mnemonics (IANA "Resource Record (RR) TYPEs").
    #[rustfmt::skip]
    const RECORD_TYPES: &[(&str, u16)] = &[
        ("A", 1), ("NS", 2), ("MD", 3), ("MF", 4), ("CNAME", 5), ("SOA", 6), ("MB", 7), ("MG", 8),
        ("MR", 9), ("NULL", 10), ("WKS", 11), ("PTR", 12), ("HINFO", 13), ("MINFO", 14), ("MX", 15),
        ("TXT", 16), ("RP", 17), ("AFSDB", 18), ("SIG", 24), ("KEY", 25), ("AAAA", 28), ("LOC", 29),
        ("SRV", 33), ("NAPTR", 35), ("KX", 36), ("CERT", 37), ("DNAME", 39), ("OPT", 41), ("APL", 42),
        ("DS", 43), ("SSHFP", 44), ("IPSECKEY", 45), ("RRSIG", 46), ("NSEC", 47), ("DNSKEY", 48),
        ("DHCID", 49), ("NSEC3", 50), ("NSEC3PARAM", 51), ("TLSA", 52), ("SMIMEA", 53), ("HIP", 55),
        ("CDS", 59), ("CDNSKEY", 60), ("OPENPGPKEY", 61), ("CSYNC", 62), ("ZONEMD", 63), ("SVCB", 64),
        ("HTTPS", 65), ("SPF", 99), ("TKEY", 249), ("TSIG", 250), ("IXFR", 251), ("AXFR", 252),
        ("MAILB", 253), ("MAILA", 254), ("ANY", 255), ("*", 255), ("URI", 256), ("CAA", 257),
    ];

    /// Classes (RFC 1035 §3.2.4, RFC 2136 for `NONE`).
    const CLASSES: &[(&str, u16)] =
        &[("IN", 1), ("CS", 2), ("CH", 3), ("HS", 4), ("NONE", 254), ("ANY", 255), ("*", 255)];

    /// Opcodes (RFC 1035 §4.1.1, RFC 1996, RFC 2136, RFC 8490).
    const OPCODES: &[(&str, u8)] =
        &[("QUERY", 0), ("IQUERY", 1), ("STATUS", 2), ("NOTIFY", 4), ("UPDATE", 5), ("DSO", 6)];

    /// Response codes of the header's 4-bit field (RFC 1035 §4.1.1, RFC 2136).
    #[rustfmt::skip]
    const RCODES: &[(&str, u8)] = &[
        ("NOERROR", 0), ("FORMERR", 1), ("SERVFAIL", 2), ("NXDOMAIN", 3), ("NOTIMP", 4), ("REFUSED", 5),
        ("YXDOMAIN", 6), ("YXRRSET", 7), ("NXRRSET", 8), ("NOTAUTH", 9), ("NOTZONE", 10),
    ];

    fn lookup<T: Copy>(table: &[(&str, T)], name: &str) -> Option<T> {
        let name = name.trim();
        table.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| *v)
    }

    /// Parse RFC 3597's generic form: `prefix` then decimal digits.
    fn generic(name: &str, prefix: &str) -> Option<u16> {
        let name = name.trim();
        let digits =
            name.get(..prefix.len()).filter(|p| p.eq_ignore_ascii_case(prefix)).map(|_| &name[prefix.len()..])?;
        digits.bytes().all(|b| b.is_ascii_digit()).then(|| digits.parse().ok()).flatten()
    }

    /// Return the number of a record type mnemonic (`"AAAA"`, `"type65"`).
    pub fn record_type(name: &str) -> Option<u16> {
        lookup(RECORD_TYPES, name).or_else(|| generic(name, "TYPE"))
    }

    /// Return the number of a class mnemonic (`"IN"`, `"CLASS3"`).
    pub fn class(name: &str) -> Option<u16> {
        lookup(CLASSES, name).or_else(|| generic(name, "CLASS"))
    }

    /// Return the number of an opcode mnemonic (`"QUERY"`).
    pub fn opcode(name: &str) -> Option<u8> {
        lookup(OPCODES, name)
    }

    /// Return the number of a response code mnemonic (`"NXDOMAIN"`).
    pub fn rcode(name: &str) -> Option<u8> {
        lookup(RCODES, name)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn test_mnemonics() {
            assert_eq!(record_type(" aaaa "), Some(28));
            assert_eq!(record_type("TYPE65"), Some(65));
            assert_eq!(record_type("type65"), Some(65));
            assert_eq!(record_type("TYPE"), None);
            assert_eq!(record_type("TYPE+1"), None);
            assert_eq!(record_type("TYPE70000"), None);
            assert_eq!(record_type("*"), Some(255));
            assert_eq!(class("ch"), Some(3));
            assert_eq!(class("CLASS254"), Some(254));
            assert_eq!(class("CLASSX"), None);
            assert_eq!(opcode("notify"), Some(4));
            assert_eq!(opcode("3"), None);
            assert_eq!(rcode("NXDOMAIN"), Some(3));
            assert_eq!(rcode("BADVERS"), None);
        }
    }
}

// ---------------------------------------------------------------------------
// Errors.

/// A part of a DNS message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    /// The 12-octet header.
    Header,
    /// The question section.
    Question,
    /// The answer section.
    Answer,
    /// The authority section.
    Authority,
    /// The additional section.
    Additional,
}

impl Section {
    /// Return this section's slot in [`HeaderInfo::counts`] and
    /// [`Walk::present`] (0 question, 1 answer, 2 authority, 3 additional),
    /// or `None` for the header.
    pub fn count_slot(self) -> Option<usize> {
        match self {
            Section::Header => None,
            Section::Question => Some(0),
            Section::Answer => Some(1),
            Section::Authority => Some(2),
            Section::Additional => Some(3),
        }
    }

    /// Return the section of count slot `slot` (see [`Section::count_slot`]).
    fn of_slot(slot: usize) -> Section {
        match slot {
            0 => Section::Question,
            1 => Section::Answer,
            2 => Section::Authority,
            _ => Section::Additional,
        }
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Section::Header => "header",
            Section::Question => "question",
            Section::Answer => "answer",
            Section::Authority => "authority",
            Section::Additional => "additional",
        })
    }
}

/// Why the walk could not parse a header, question or record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    /// The message ends inside `what`.
    #[error("{what} at offset {at} needs {needed} octets, {available} remain")]
    Truncated {
        /// The item cut short (`"header"`, `"name"`, `"label"`, ...).
        what: &'static str,
        /// Offset of the item.
        at: usize,
        /// Octets the item needs.
        needed: usize,
        /// Octets left from `at`.
        available: usize,
    },
    /// A label octet with the reserved type bits `01` or `10` (RFC 1035
    /// §4.1.4; the `01` extended labels of RFC 2671 are obsolete, RFC 6891 §5).
    #[error("label octet 0x{byte:02x} at offset {at} is neither a length (0x00-0x3f) nor a pointer (0xc0-0xff) (RFC 1035 §4.1.4)")]
    BadLabelType {
        /// Offset of the octet.
        at: usize,
        /// The octet.
        byte: u8,
    },
    /// A name longer than 255 octets once decompressed (RFC 1035 §2.3.4).
    #[error("name at offset {at} is longer than 255 octets (RFC 1035 §2.3.4)")]
    NameTooLong {
        /// Offset where the name starts.
        at: usize,
    },
    /// A compression pointer that does not point to an earlier offset past
    /// the header (RFC 1035 §4.1.4: "a prior occurrence of the same name").
    #[error("compression pointer at offset {at} targets offset {target}, not an earlier name (RFC 1035 §4.1.4)")]
    BadPointer {
        /// Offset of the pointer.
        at: usize,
        /// Offset it points to.
        target: usize,
    },
    /// A name that follows more than [`MAX_POINTER_HOPS`] pointers.
    #[error("name at offset {at} follows more than {} compression pointers", MAX_POINTER_HOPS)]
    TooManyPointers {
        /// Offset where the name starts.
        at: usize,
    },
    /// A fixed-size RDATA (A, AAAA) of the wrong length.
    #[error("{rtype} rdata is {length} octets, expected {expected} (RFC 1035 §3.4.1, RFC 3596 §2.2)")]
    RdataLength {
        /// The record type.
        rtype: RecordType,
        /// RDLENGTH.
        length: u16,
        /// The length the type requires.
        expected: u16,
    },
    /// RDLENGTH runs past the end of the message.
    #[error("rdata of {length} octets at offset {at} runs past the end of the message ({available} octets remain)")]
    RdataPastEnd {
        /// Offset of the RDATA.
        at: usize,
        /// RDLENGTH.
        length: u16,
        /// Octets left from `at`.
        available: usize,
    },
    /// The fields of an RDATA (names, MX preference, TXT strings, SOA
    /// numbers) run past RDLENGTH.
    #[error("{rtype} rdata of {length} octets at offset {at} is too short for its fields")]
    RdataShort {
        /// The record type.
        rtype: RecordType,
        /// Offset of the RDATA.
        at: usize,
        /// RDLENGTH.
        length: u16,
    },
    /// Octets left in an RDATA after its fields.
    #[error("{rtype} rdata of {length} octets at offset {at} has {excess} octets after its fields")]
    RdataExcess {
        /// The record type.
        rtype: RecordType,
        /// Offset of the RDATA.
        at: usize,
        /// RDLENGTH.
        length: u16,
        /// Octets after the fields.
        excess: usize,
    },
}

/// Where and why [`walk`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalkError {
    /// The section being parsed.
    pub section: Section,
    /// Index of the question or record within its section, from 0.
    pub index: u16,
    /// Offset where that question or record starts (0 for the header). It is
    /// at or past the end of the message when a declared item is missing
    /// altogether; `kind` holds the offset of the offending octet.
    pub offset: usize,
    /// What went wrong.
    pub kind: ErrorKind,
}

impl WalkError {
    /// Return the error for a message shorter than the header.
    fn header(len: usize) -> WalkError {
        WalkError {
            section: Section::Header,
            index: 0,
            offset: 0,
            kind: ErrorKind::Truncated { what: "header", at: 0, needed: HEADER_LEN, available: len },
        }
    }
}

impl fmt::Display for WalkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.section {
            Section::Header => write!(f, "DNS header: {}", self.kind),
            section => write!(f, "DNS {section} #{} at offset {}: {}", self.index, self.offset, self.kind),
        }
    }
}

impl std::error::Error for WalkError {}

/// Why [`Repr::parse`] or [`Packet::new_checked`] rejected a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The header, a question or a record is malformed or cut short.
    #[error(transparent)]
    Malformed(#[from] WalkError),
    /// The message ends before all the records the header declares.
    #[error("DNS {section} section: header declares {declared} entries but the message ends after {present} (RFC 1035 §4.1.1)")]
    CountMismatch {
        /// The section short of records.
        section: Section,
        /// The header count.
        declared: u16,
        /// Entries present.
        present: u16,
    },
    /// Octets follow the last declared record: the counts are below the
    /// records present, or there is junk after the message.
    #[error(
        "DNS: {count} octets follow the last declared record at offset {offset} (RFC 1035 §4.1.1 counts too low?)"
    )]
    TrailingBytes {
        /// Offset of the first extra octet.
        offset: usize,
        /// Number of extra octets.
        count: usize,
    },
}

// ---------------------------------------------------------------------------
// Packet view.

/// The header flags (RFC 1035 §4.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags {
    /// QR: a response rather than a query.
    pub response: bool,
    /// OPCODE (4 bits): 0 standard query, 1 inverse, 2 status, 4 notify, 5 update.
    pub opcode: u8,
    /// AA: authoritative answer.
    pub authoritative: bool,
    /// TC: truncated.
    pub truncated: bool,
    /// RD: recursion desired.
    pub recursion_desired: bool,
    /// RA: recursion available.
    pub recursion_available: bool,
    /// The three bits between RA and RCODE: Z (0b100, must be zero per RFC
    /// 1035 §4.1.1), AD (0b010) and CD (0b001) from RFC 4035 §3.2.
    pub z: u8,
    /// RCODE.
    pub rcode: Rcode,
}

/// A read/write view of a DNS header over a buffer holding a whole message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap a buffer without checking its length.
    ///
    /// Getters and setters panic if the buffer is shorter than [`HEADER_LEN`];
    /// use [`Packet::new_checked`] on untrusted input.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wrap a buffer and check that it holds a whole header.
    ///
    /// # Errors
    /// Returns [`Error::Malformed`] with a `Truncated` header when the buffer
    /// is shorter than [`HEADER_LEN`].
    pub fn new_checked(buffer: T) -> Result<Packet<T>, Error> {
        let packet = Packet::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Check that the buffer holds a whole header; once this returns `Ok`, no
    /// getter panics.
    ///
    /// # Errors
    /// Returns [`Error::Malformed`] with a `Truncated` header when the buffer
    /// is shorter than [`HEADER_LEN`].
    pub fn check_len(&self) -> Result<(), Error> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            Err(Error::Malformed(WalkError::header(len)))
        } else {
            Ok(())
        }
    }

    /// Return the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn read_u16(&self, field: field::Field) -> u16 {
        let data = self.buffer.as_ref();
        u16::from_be_bytes([data[field.start], data[field.start + 1]])
    }

    fn flag_word(&self) -> u16 {
        self.read_u16(field::FLAGS)
    }

    /// Return the ID field.
    pub fn id(&self) -> u16 {
        self.read_u16(field::ID)
    }

    /// Return the QR bit: whether the message is a response.
    pub fn is_response(&self) -> bool {
        self.flag_word() & field::FLAG_QR != 0
    }

    /// Return the 4-bit OPCODE.
    pub fn opcode(&self) -> u8 {
        ((self.flag_word() >> field::OPCODE_SHIFT) & field::OPCODE_MASK) as u8
    }

    /// Return the AA bit (authoritative answer).
    pub fn authoritative(&self) -> bool {
        self.flag_word() & field::FLAG_AA != 0
    }

    /// Return the TC bit (truncated).
    pub fn truncated(&self) -> bool {
        self.flag_word() & field::FLAG_TC != 0
    }

    /// Return the RD bit (recursion desired).
    pub fn recursion_desired(&self) -> bool {
        self.flag_word() & field::FLAG_RD != 0
    }

    /// Return the RA bit (recursion available).
    pub fn recursion_available(&self) -> bool {
        self.flag_word() & field::FLAG_RA != 0
    }

    /// Return the three Z/AD/CD bits (see [`Flags::z`]).
    pub fn z(&self) -> u8 {
        ((self.flag_word() >> field::Z_SHIFT) & field::Z_MASK) as u8
    }

    /// Return the 4-bit RCODE.
    pub fn rcode(&self) -> Rcode {
        Rcode::from((self.flag_word() & field::RCODE_MASK) as u8)
    }

    /// Return all header flags at once.
    pub fn flags(&self) -> Flags {
        Flags {
            response: self.is_response(),
            opcode: self.opcode(),
            authoritative: self.authoritative(),
            truncated: self.truncated(),
            recursion_desired: self.recursion_desired(),
            recursion_available: self.recursion_available(),
            z: self.z(),
            rcode: self.rcode(),
        }
    }

    /// Return QDCOUNT, the number of questions declared.
    pub fn question_count(&self) -> u16 {
        self.read_u16(field::QDCOUNT)
    }

    /// Return ANCOUNT, the number of answer records declared.
    pub fn answer_count(&self) -> u16 {
        self.read_u16(field::ANCOUNT)
    }

    /// Return NSCOUNT, the number of authority records declared.
    pub fn authority_count(&self) -> u16 {
        self.read_u16(field::NSCOUNT)
    }

    /// Return ARCOUNT, the number of additional records declared.
    pub fn additional_count(&self) -> u16 {
        self.read_u16(field::ARCOUNT)
    }

    /// Return the four counts in section order (QD, AN, NS, AR).
    pub fn counts(&self) -> [u16; 4] {
        [self.question_count(), self.answer_count(), self.authority_count(), self.additional_count()]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn write_u16(&mut self, field: field::Field, value: u16) {
        self.buffer.as_mut()[field].copy_from_slice(&value.to_be_bytes());
    }

    fn set_flag_bits(&mut self, mask: u16, bits: u16) {
        let word = (self.flag_word() & !mask) | (bits & mask);
        self.write_u16(field::FLAGS, word);
    }

    fn set_flag(&mut self, mask: u16, on: bool) {
        self.set_flag_bits(mask, if on { mask } else { 0 });
    }

    /// Set the ID field.
    pub fn set_id(&mut self, value: u16) {
        self.write_u16(field::ID, value);
    }

    /// Set the QR bit.
    pub fn set_response(&mut self, value: bool) {
        self.set_flag(field::FLAG_QR, value);
    }

    /// Set the OPCODE; only the low 4 bits are kept.
    pub fn set_opcode(&mut self, value: u8) {
        let mask = field::OPCODE_MASK << field::OPCODE_SHIFT;
        self.set_flag_bits(mask, u16::from(value) << field::OPCODE_SHIFT);
    }

    /// Set the AA bit.
    pub fn set_authoritative(&mut self, value: bool) {
        self.set_flag(field::FLAG_AA, value);
    }

    /// Set the TC bit.
    pub fn set_truncated(&mut self, value: bool) {
        self.set_flag(field::FLAG_TC, value);
    }

    /// Set the RD bit.
    pub fn set_recursion_desired(&mut self, value: bool) {
        self.set_flag(field::FLAG_RD, value);
    }

    /// Set the RA bit.
    pub fn set_recursion_available(&mut self, value: bool) {
        self.set_flag(field::FLAG_RA, value);
    }

    /// Set the Z/AD/CD bits (see [`Flags::z`]); only the low 3 bits are kept.
    pub fn set_z(&mut self, value: u8) {
        let mask = field::Z_MASK << field::Z_SHIFT;
        self.set_flag_bits(mask, u16::from(value) << field::Z_SHIFT);
    }

    /// Set the RCODE; only the low 4 bits are kept.
    pub fn set_rcode(&mut self, value: Rcode) {
        self.set_flag_bits(field::RCODE_MASK, u16::from(u8::from(value)));
    }

    /// Set all header flags at once.
    pub fn set_flags(&mut self, flags: &Flags) {
        self.set_response(flags.response);
        self.set_opcode(flags.opcode);
        self.set_authoritative(flags.authoritative);
        self.set_truncated(flags.truncated);
        self.set_recursion_desired(flags.recursion_desired);
        self.set_recursion_available(flags.recursion_available);
        self.set_z(flags.z);
        self.set_rcode(flags.rcode);
    }

    /// Set QDCOUNT.
    pub fn set_question_count(&mut self, value: u16) {
        self.write_u16(field::QDCOUNT, value);
    }

    /// Set ANCOUNT.
    pub fn set_answer_count(&mut self, value: u16) {
        self.write_u16(field::ANCOUNT, value);
    }

    /// Set NSCOUNT.
    pub fn set_authority_count(&mut self, value: u16) {
        self.write_u16(field::NSCOUNT, value);
    }

    /// Set ARCOUNT.
    pub fn set_additional_count(&mut self, value: u16) {
        self.write_u16(field::ARCOUNT, value);
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

// ---------------------------------------------------------------------------
// High-level representation.

/// A question (RFC 1035 §4.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// QNAME, dotted, case as on the wire.
    pub name: String,
    /// QTYPE.
    pub qtype: RecordType,
    /// QCLASS (1 = IN).
    pub qclass: u16,
}

/// The RDATA of a record, decoded for the common types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordData {
    /// An A address (RFC 1035 §3.4.1).
    A(Ipv4Addr),
    /// An AAAA address (RFC 3596 §2.2).
    Aaaa(Ipv6Addr),
    /// The name of an NS, CNAME or PTR record (RFC 1035 §3.3.11, §3.3.1, §3.3.12).
    Name(String),
    /// An MX record (RFC 1035 §3.3.9).
    Mx {
        /// PREFERENCE (lower is preferred).
        preference: u16,
        /// EXCHANGE, the mail host.
        exchange: String,
    },
    /// The `<character-string>`s of a TXT record (RFC 1035 §3.3.14).
    Txt(Vec<Vec<u8>>),
    /// An SOA record (RFC 1035 §3.3.13).
    Soa {
        /// MNAME, the primary name server.
        mname: String,
        /// RNAME, the mailbox of the person responsible.
        rname: String,
        /// SERIAL.
        serial: u32,
        /// REFRESH, seconds.
        refresh: u32,
        /// RETRY, seconds.
        retry: u32,
        /// EXPIRE, seconds.
        expire: u32,
        /// MINIMUM, seconds (the negative-caching TTL, RFC 2308 §4).
        minimum: u32,
    },
    /// The RDATA octets of any other type.
    Raw(Vec<u8>),
}

/// A resource record (RFC 1035 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// NAME, dotted, case as on the wire.
    pub name: String,
    /// TYPE.
    pub rtype: RecordType,
    /// CLASS (1 = IN; for OPT, the UDP payload size, RFC 6891 §6.1.2).
    pub class: u16,
    /// TTL, seconds.
    pub ttl: u32,
    /// RDATA.
    pub data: RecordData,
}

/// A whole DNS message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repr {
    /// ID.
    pub id: u16,
    /// Header flags.
    pub flags: Flags,
    /// The question section.
    pub questions: Vec<Question>,
    /// The answer section.
    pub answers: Vec<Record>,
    /// The authority section.
    pub authorities: Vec<Record>,
    /// The additional section.
    pub additionals: Vec<Record>,
}

impl Repr {
    /// Parse a whole message strictly: every declared question and record
    /// must be present and well formed, and nothing may follow the last one.
    ///
    /// # Errors
    /// [`Error::Malformed`] for a short header or a malformed entry,
    /// [`Error::CountMismatch`] when the message ends before a declared entry,
    /// [`Error::TrailingBytes`] when octets follow the last declared record.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Repr, Error> {
        let bytes = packet.buffer.as_ref();
        let mut repr = Repr::empty();
        let walk = walk_into(bytes, Some(&mut repr));
        let Some(header) = walk.header else {
            return Err(Error::Malformed(WalkError::header(bytes.len())));
        };
        if let Some(error) = walk.error {
            if let (Some(slot), ErrorKind::Truncated { .. }) = (error.section.count_slot(), error.kind) {
                if error.offset >= bytes.len() {
                    return Err(Error::CountMismatch {
                        section: error.section,
                        declared: header.counts[slot],
                        present: walk.present[slot],
                    });
                }
            }
            return Err(Error::Malformed(error));
        }
        if walk.trailing > 0 {
            return Err(Error::TrailingBytes { offset: walk.consumed, count: walk.trailing });
        }
        repr.id = header.id;
        repr.flags = header.flags;
        repr.questions = walk.questions;
        Ok(repr)
    }

    /// Read `bytes` as far as they parse: the header, the questions and
    /// every record before the first malformed or missing one. A lenient
    /// [`Repr::parse`] for readers that want what a message says even when
    /// its counts or a later record are wrong (the DNS checks report
    /// those). `None` without a whole header.
    pub fn parse_lenient(bytes: &[u8]) -> Option<Repr> {
        let mut repr = Repr::empty();
        let walk = walk_into(bytes, Some(&mut repr));
        let header = walk.header?;
        repr.id = header.id;
        repr.flags = header.flags;
        repr.questions = walk.questions;
        Some(repr)
    }

    /// Return a message with no entries, id 0 and no flags.
    fn empty() -> Repr {
        Repr {
            id: 0,
            flags: Flags::default(),
            questions: Vec::new(),
            answers: Vec::new(),
            authorities: Vec::new(),
            additionals: Vec::new(),
        }
    }

    /// Return the length of the message [`Repr::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        let questions: usize = self.questions.iter().map(|q| name_len(&q.name) + field::QUESTION_FIXED_LEN).sum();
        let records: usize = self.records().map(Record::buffer_len).sum();
        HEADER_LEN + questions + records
    }

    /// Write the message into `packet`, with header counts taken from the
    /// section lengths and names uncompressed.
    ///
    /// The message is written as given; only what a length octet cannot
    /// express is cut: labels to 63 octets, TXT strings to 255 octets.
    /// Empty labels (`a..b`, a trailing dot) are skipped. Counts above 65535
    /// are written as 65535.
    ///
    /// # Panics
    /// Panics if the buffer is shorter than [`Repr::buffer_len`].
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        let count = |len: usize| u16::try_from(len).unwrap_or(u16::MAX);
        packet.set_id(self.id);
        packet.set_flags(&self.flags);
        packet.set_question_count(count(self.questions.len()));
        packet.set_answer_count(count(self.answers.len()));
        packet.set_authority_count(count(self.authorities.len()));
        packet.set_additional_count(count(self.additionals.len()));
        let mut w = Writer { buf: packet.buffer.as_mut(), pos: HEADER_LEN };
        for question in &self.questions {
            w.name(&question.name);
            w.u16(question.qtype.into());
            w.u16(question.qclass);
        }
        for record in self.records() {
            record.emit(&mut w);
        }
    }

    /// Return the message as a new buffer of [`Repr::buffer_len`] octets.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = vec![0; self.buffer_len()];
        self.emit(&mut Packet::new_unchecked(&mut bytes));
        bytes
    }

    fn records(&self) -> impl Iterator<Item = &Record> {
        self.answers.iter().chain(&self.authorities).chain(&self.additionals)
    }

    fn section_mut(&mut self, slot: usize) -> &mut Vec<Record> {
        match slot {
            1 => &mut self.answers,
            2 => &mut self.authorities,
            _ => &mut self.additionals,
        }
    }
}

impl Record {
    fn buffer_len(&self) -> usize {
        name_len(&self.name) + field::RR_FIXED_LEN + self.data.buffer_len()
    }

    fn emit(&self, w: &mut Writer<'_>) {
        w.name(&self.name);
        w.u16(self.rtype.into());
        w.u16(self.class);
        w.u32(self.ttl);
        w.u16(u16::try_from(self.data.buffer_len()).unwrap_or(u16::MAX));
        self.data.emit(w);
    }
}

impl RecordData {
    fn buffer_len(&self) -> usize {
        match self {
            RecordData::A(_) => field::A_LEN,
            RecordData::Aaaa(_) => field::AAAA_LEN,
            RecordData::Name(name) => name_len(name),
            RecordData::Mx { exchange, .. } => field::MX_PREFERENCE.end + name_len(exchange),
            RecordData::Txt(strings) => strings.iter().map(|s| 1 + s.len().min(usize::from(u8::MAX))).sum(),
            RecordData::Soa { mname, rname, .. } => name_len(mname) + name_len(rname) + field::SOA_FIXED_LEN,
            RecordData::Raw(bytes) => bytes.len(),
        }
    }

    fn emit(&self, w: &mut Writer<'_>) {
        match self {
            RecordData::A(address) => w.bytes(&address.octets()),
            RecordData::Aaaa(address) => w.bytes(&address.octets()),
            RecordData::Name(name) => w.name(name),
            RecordData::Mx { preference, exchange } => {
                w.u16(*preference);
                w.name(exchange);
            }
            RecordData::Txt(strings) => {
                for string in strings {
                    // RFC 1035 §3.3: a <character-string> has a one-octet length.
                    let string = &string[..string.len().min(usize::from(u8::MAX))];
                    w.bytes(&[string.len() as u8]);
                    w.bytes(string);
                }
            }
            RecordData::Soa { mname, rname, serial, refresh, retry, expire, minimum } => {
                w.name(mname);
                w.name(rname);
                for number in [serial, refresh, retry, expire, minimum] {
                    w.u32(*number);
                }
            }
            RecordData::Raw(bytes) => w.bytes(bytes),
        }
    }
}

/// A cursor that writes into a buffer sized by `buffer_len`.
struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl Writer<'_> {
    fn bytes(&mut self, bytes: &[u8]) {
        self.buf[self.pos..self.pos + bytes.len()].copy_from_slice(bytes);
        self.pos += bytes.len();
    }

    fn u16(&mut self, value: u16) {
        self.bytes(&value.to_be_bytes());
    }

    fn u32(&mut self, value: u32) {
        self.bytes(&value.to_be_bytes());
    }

    fn name(&mut self, name: &str) {
        for_each_label(name, |label| {
            self.bytes(&[label.len() as u8]);
            self.bytes(label);
        });
        self.bytes(&[0]);
    }
}

// ---------------------------------------------------------------------------
// Names.

/// Return whether two names are equal, ignoring ASCII case (RFC 4343 §3:
/// only `A`-`Z` and `a`-`z` fold; other octets compare exactly).
pub fn names_equal(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Return the uncompressed wire length of a text name, root octet included.
fn name_len(name: &str) -> usize {
    let mut len = 1;
    for_each_label(name, |label| len += 1 + label.len());
    len
}

/// Call `f` with each label of text name `name`: `\DDD`, `\X` escapes
/// resolved (RFC 1035 §5.1), empty labels skipped, labels cut to 63 octets.
fn for_each_label(name: &str, mut f: impl FnMut(&[u8])) {
    let bytes = name.as_bytes();
    let mut label = [0u8; field::MAX_LABEL_LEN];
    let mut len = 0;
    let mut i = 0;
    while i < bytes.len() {
        let mut octet = bytes[i];
        i += 1;
        if octet == b'.' {
            if len > 0 {
                f(&label[..len]);
                len = 0;
            }
            continue;
        }
        if octet == b'\\' {
            if let Some(value) = decimal_escape(&bytes[i..]) {
                octet = value;
                i += 3;
            } else if let Some(&quoted) = bytes.get(i) {
                octet = quoted;
                i += 1;
            }
            // A lone trailing backslash stands for itself.
        }
        if len < field::MAX_LABEL_LEN {
            label[len] = octet;
            len += 1;
        }
    }
    if len > 0 {
        f(&label[..len]);
    }
}

/// Return the octet of a `DDD` escape body (three digits, at most 255).
fn decimal_escape(rest: &[u8]) -> Option<u8> {
    match rest {
        [a, b, c, ..] if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit() => {
            let value = u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0');
            u8::try_from(value).ok()
        }
        _ => None,
    }
}

/// Append a wire label to `out` in master-file form (RFC 1035 §5.1).
fn push_label(out: &mut String, label: &[u8]) {
    for &octet in label {
        match octet {
            b'.' | b'\\' => {
                out.push('\\');
                out.push(char::from(octet));
            }
            0x21..=0x7e => out.push(char::from(octet)),
            _ => {
                out.push('\\');
                for digit in [octet / 100, octet / 10 % 10, octet % 10] {
                    out.push(char::from(b'0' + digit));
                }
            }
        }
    }
}

/// Read the name at `start` in message `msg`, appending its text to `out`
/// when given; return the offset just past the name where it starts (after
/// the first pointer, if any).
fn read_name(msg: &[u8], start: usize, mut out: Option<&mut String>) -> Result<usize, ErrorKind> {
    let mut pos = start;
    let mut end = None;
    let mut hops = 0;
    // Uncompressed length so far, without the root octet.
    let mut wire_len = 0;
    loop {
        let Some(&octet) = msg.get(pos) else {
            return Err(ErrorKind::Truncated { what: "name", at: pos, needed: 1, available: 0 });
        };
        match octet & field::LABEL_TYPE_MASK {
            field::LABEL_TYPE_LENGTH if octet == 0 => return Ok(end.unwrap_or(pos + 1)),
            field::LABEL_TYPE_LENGTH => {
                let len = usize::from(octet);
                let Some(label) = msg.get(pos + 1..pos + 1 + len) else {
                    return Err(ErrorKind::Truncated {
                        what: "label",
                        at: pos,
                        needed: 1 + len,
                        available: msg.len() - pos,
                    });
                };
                wire_len += 1 + len;
                if wire_len + 1 > field::MAX_NAME_LEN {
                    return Err(ErrorKind::NameTooLong { at: start });
                }
                if let Some(out) = out.as_deref_mut() {
                    if wire_len > 1 + len {
                        out.push('.');
                    }
                    push_label(out, label);
                }
                pos += 1 + len;
            }
            field::LABEL_TYPE_POINTER => {
                let Some(&low) = msg.get(pos + 1) else {
                    return Err(ErrorKind::Truncated {
                        what: "compression pointer",
                        at: pos,
                        needed: field::POINTER_LEN,
                        available: msg.len() - pos,
                    });
                };
                let target = usize::from(u16::from_be_bytes([octet & !field::LABEL_TYPE_MASK, low]));
                if target >= pos || target < HEADER_LEN {
                    return Err(ErrorKind::BadPointer { at: pos, target });
                }
                hops += 1;
                if hops > MAX_POINTER_HOPS {
                    return Err(ErrorKind::TooManyPointers { at: start });
                }
                end.get_or_insert(pos + field::POINTER_LEN);
                pos = target;
            }
            _ => return Err(ErrorKind::BadLabelType { at: pos, byte: octet }),
        }
    }
}

// ---------------------------------------------------------------------------
// Questions and records.

/// Return `len` octets of `msg` at `at`, or a `Truncated` error naming `what`.
fn fixed<'a>(msg: &'a [u8], at: usize, len: usize, what: &'static str) -> Result<&'a [u8], ErrorKind> {
    msg.get(at..at + len).ok_or(ErrorKind::Truncated { what, at, needed: len, available: msg.len().saturating_sub(at) })
}

fn be_u16(bytes: &[u8], field: field::Field) -> u16 {
    u16::from_be_bytes([bytes[field.start], bytes[field.start + 1]])
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Parse the question at `pos`; return it and the offset past it.
fn question(msg: &[u8], pos: usize) -> Result<(Question, usize), ErrorKind> {
    let mut name = String::new();
    let end = read_name(msg, pos, Some(&mut name))?;
    let fixed = fixed(msg, end, field::QUESTION_FIXED_LEN, "question type and class")?;
    let question =
        Question { name, qtype: RecordType::from(be_u16(fixed, field::QTYPE)), qclass: be_u16(fixed, field::QCLASS) };
    Ok((question, end + field::QUESTION_FIXED_LEN))
}

/// Check the record at `pos`, building it if `build`; return it and the
/// offset past it.
fn record(msg: &[u8], pos: usize, build: bool) -> Result<(Option<Record>, RecordType, usize), ErrorKind> {
    let mut name = String::new();
    let end = read_name(msg, pos, build.then_some(&mut name))?;
    let fixed = fixed(msg, end, field::RR_FIXED_LEN, "record type, class, TTL and rdata length")?;
    let rtype = RecordType::from(be_u16(fixed, field::TYPE));
    let class = be_u16(fixed, field::CLASS);
    let ttl = be_u32(fixed, field::TTL.start);
    let length = be_u16(fixed, field::RDLENGTH);
    let start = end + field::RR_FIXED_LEN;
    let rdata_end = start + usize::from(length);
    if rdata_end > msg.len() {
        return Err(ErrorKind::RdataPastEnd { at: start, length, available: msg.len() - start });
    }
    let data = rdata(&msg[..rdata_end], start, rtype, build)?;
    Ok((data.map(|data| Record { name, rtype, class, ttl, data }), rtype, rdata_end))
}

/// Check the RDATA that runs from `start` to the end of `msg` (the message cut
/// at the end of the RDATA, so names may point back into the whole message),
/// building it if `build`.
fn rdata(msg: &[u8], start: usize, rtype: RecordType, build: bool) -> Result<Option<RecordData>, ErrorKind> {
    let data = &msg[start..];
    let length = data.len() as u16;
    let exact = |expected: usize| {
        if data.len() == expected {
            Ok(())
        } else {
            Err(ErrorKind::RdataLength { rtype, length, expected: expected as u16 })
        }
    };
    let short = |error: ErrorKind| match error {
        ErrorKind::Truncated { .. } => ErrorKind::RdataShort { rtype, at: start, length },
        other => other,
    };
    let done = |end: usize| {
        if end == msg.len() {
            Ok(())
        } else {
            Err(ErrorKind::RdataExcess { rtype, at: start, length, excess: msg.len() - end })
        }
    };
    match rtype {
        RecordType::A => {
            exact(field::A_LEN)?;
            Ok(build.then(|| RecordData::A(Ipv4Addr::new(data[0], data[1], data[2], data[3]))))
        }
        RecordType::Aaaa => {
            exact(field::AAAA_LEN)?;
            let mut octets = [0; field::AAAA_LEN];
            octets.copy_from_slice(data);
            Ok(build.then(|| RecordData::Aaaa(Ipv6Addr::from(octets))))
        }
        RecordType::Ns | RecordType::Cname | RecordType::Ptr => {
            let mut name = String::new();
            let end = read_name(msg, start, build.then_some(&mut name)).map_err(short)?;
            done(end)?;
            Ok(build.then_some(RecordData::Name(name)))
        }
        RecordType::Mx => {
            let preference =
                be_u16(fixed(msg, start, field::MX_PREFERENCE.end, "").map_err(short)?, field::MX_PREFERENCE);
            let mut exchange = String::new();
            let end =
                read_name(msg, start + field::MX_PREFERENCE.end, build.then_some(&mut exchange)).map_err(short)?;
            done(end)?;
            Ok(build.then_some(RecordData::Mx { preference, exchange }))
        }
        RecordType::Txt => {
            // RFC 1035 §3.3.14: one or more <character-string>s; an empty
            // RDATA is accepted here and shows as no strings.
            let mut strings = Vec::new();
            let mut pos = start;
            while pos < msg.len() {
                let len = usize::from(msg[pos]);
                let Some(string) = msg.get(pos + 1..pos + 1 + len) else {
                    return Err(ErrorKind::RdataShort { rtype, at: start, length });
                };
                if build {
                    strings.push(string.to_vec());
                }
                pos += 1 + len;
            }
            Ok(build.then_some(RecordData::Txt(strings)))
        }
        RecordType::Soa => {
            let (mut mname, mut rname) = (String::new(), String::new());
            let end = read_name(msg, start, build.then_some(&mut mname)).map_err(short)?;
            let end = read_name(msg, end, build.then_some(&mut rname)).map_err(short)?;
            let numbers = fixed(msg, end, field::SOA_FIXED_LEN, "").map_err(short)?;
            done(end + field::SOA_FIXED_LEN)?;
            let number = |i: usize| be_u32(numbers, 4 * i);
            Ok(build.then(|| RecordData::Soa {
                mname,
                rname,
                serial: number(0),
                refresh: number(1),
                retry: number(2),
                expire: number(3),
                minimum: number(4),
            }))
        }
        _ => Ok(build.then(|| RecordData::Raw(data.to_vec()))),
    }
}

// ---------------------------------------------------------------------------
// Lenient walk.

/// The header as [`walk`] read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderInfo {
    /// ID.
    pub id: u16,
    /// Flags.
    pub flags: Flags,
    /// Declared counts in section order (QD, AN, NS, AR).
    pub counts: [u16; 4],
}

/// What [`walk`] found in a message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Walk {
    /// The header, or `None` when the message is shorter than [`HEADER_LEN`].
    pub header: Option<HeaderInfo>,
    /// The questions fully parsed, in order.
    pub questions: Vec<Question>,
    /// Entries actually parsed in each section (QD, AN, NS, AR).
    pub present: [u16; 4],
    /// Octets taken by the header and every entry parsed.
    pub consumed: usize,
    /// Octets after the last declared record (0 when the walk stopped early).
    pub trailing: usize,
    /// Where and why the walk stopped early, if it did.
    pub error: Option<WalkError>,
    /// OPT pseudo-records parsed in each section (QD, AN, NS, AR): RFC 6891
    /// §6.1.1 allows one, in the additional section.
    pub opt: [u16; 4],
    /// SOA records parsed in each section (QD, AN, NS, AR): RFC 2308 §3
    /// puts a negative answer's SOA in the authority section.
    pub soa: [u16; 4],
}

/// Walk every section of an untrusted message and count what is there.
///
/// Never fails and never panics. Work is bounded: each entry consumes at
/// least five octets and each name at most 255 label octets and
/// [`MAX_POINTER_HOPS`] pointers. Only the questions are kept (and allocated);
/// records are checked, including the names and fields inside their RDATA,
/// but not built. The walk stops at the first entry it cannot parse.
pub fn walk(bytes: &[u8]) -> Walk {
    walk_into(bytes, None)
}

/// Walk `bytes`; when `repr` is given, push every record into it.
fn walk_into(bytes: &[u8], mut repr: Option<&mut Repr>) -> Walk {
    let mut walk = Walk::default();
    let Ok(packet) = Packet::new_checked(bytes) else {
        walk.error = Some(WalkError::header(bytes.len()));
        return walk;
    };
    let counts = packet.counts();
    walk.header = Some(HeaderInfo { id: packet.id(), flags: packet.flags(), counts });
    let mut pos = HEADER_LEN;
    walk.questions.reserve(usize::from(counts[0]).min((bytes.len() - pos) / MIN_QUESTION_LEN));
    for index in 0..counts[0] {
        match question(bytes, pos) {
            Ok((question, end)) => {
                walk.questions.push(question);
                walk.present[0] += 1;
                pos = end;
            }
            Err(kind) => {
                walk.error = Some(WalkError { section: Section::Question, index, offset: pos, kind });
                walk.consumed = pos;
                return walk;
            }
        }
    }
    for (slot, &count) in counts.iter().enumerate().skip(1) {
        for index in 0..count {
            match record(bytes, pos, repr.is_some()) {
                Ok((record, rtype, end)) => {
                    match rtype {
                        RecordType::Opt => walk.opt[slot] += 1,
                        RecordType::Soa => walk.soa[slot] += 1,
                        _ => {}
                    }
                    if let (Some(repr), Some(record)) = (repr.as_deref_mut(), record) {
                        repr.section_mut(slot).push(record);
                    }
                    walk.present[slot] += 1;
                    pos = end;
                }
                Err(kind) => {
                    walk.error = Some(WalkError { section: Section::of_slot(slot), index, offset: pos, kind });
                    walk.consumed = pos;
                    return walk;
                }
            }
        }
    }
    walk.consumed = pos;
    walk.trailing = bytes.len() - pos;
    walk
}

/// An SOA record's data for tests: `mname` as the primary server of
/// `example.com`, the other fields common values.
#[cfg(test)]
pub(crate) fn example_soa(mname: &str) -> RecordData {
    RecordData::Soa {
        mname: mname.into(),
        rname: "hostmaster.example.com".into(),
        serial: 1,
        refresh: 7200,
        retry: 3600,
        expire: 1_209_600,
        minimum: 300,
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    /// A standard query for `example.com A IN`, as `dig` sends it.
    static QUERY_BYTES: [u8; 29] = [
        0x12, 0x34, // ID
        0x01, 0x00, // QR=0 OPCODE=0 AA=0 TC=0 RD=1 | RA=0 Z=0 RCODE=0
        0x00, 0x01, // QDCOUNT
        0x00, 0x00, // ANCOUNT
        0x00, 0x00, // NSCOUNT
        0x00, 0x00, // ARCOUNT
        // offset 12: QNAME example.com
        0x07, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 0x03, b'c', b'o', b'm', 0x00, //
        0x00, 0x01, // QTYPE A
        0x00, 0x01, // QCLASS IN
    ];

    /// The response, as a resolver sends it: the answer names the question's
    /// QNAME through a compression pointer to offset 12.
    static RESPONSE_BYTES: [u8; 45] = [
        0x12, 0x34, // ID
        0x81, 0x80, // QR=1 OPCODE=0 AA=0 TC=0 RD=1 | RA=1 Z=0 RCODE=0
        0x00, 0x01, // QDCOUNT
        0x00, 0x01, // ANCOUNT
        0x00, 0x00, // NSCOUNT
        0x00, 0x00, // ARCOUNT
        // offset 12: question
        0x07, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 0x03, b'c', b'o', b'm', 0x00, //
        0x00, 0x01, 0x00, 0x01, // A IN
        // offset 29: answer
        0xc0, 0x0c, // NAME: pointer to offset 12
        0x00, 0x01, // TYPE A
        0x00, 0x01, // CLASS IN
        0x00, 0x00, 0x0e, 0x10, // TTL 3600
        0x00, 0x04, // RDLENGTH
        93, 184, 216, 34, // 93.184.216.34
    ];

    /// The same response as [`Repr::emit`] writes it: no compression.
    static RESPONSE_EMITTED: [u8; 56] = [
        0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, // header
        0x07, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 0x03, b'c', b'o', b'm', 0x00, //
        0x00, 0x01, 0x00, 0x01, // A IN
        // offset 29: answer, NAME in full
        0x07, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 0x03, b'c', b'o', b'm', 0x00, //
        0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, 0x04, //
        93, 184, 216, 34,
    ];

    /// An authoritative MX response with compressed names inside RDATA.
    static MIXED_BYTES: [u8; 172] = [
        0xbe, 0xef, // ID
        0x85, 0x80, // QR=1 AA=1 RD=1 | RA=1
        0x00, 0x01, 0x00, 0x03, 0x00, 0x01, 0x00, 0x01, // QD 1, AN 3, NS 1, AR 1
        // offset 12: question example.com MX IN
        0x07, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 0x03, b'c', b'o', b'm', 0x00, //
        0x00, 0x0f, 0x00, 0x01, //
        // offset 29: answer #0, MX 10 mail.example.com
        0xc0, 0x0c, 0x00, 0x0f, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x09, //
        0x00, 0x0a, 0x04, b'm', b'a', b'i', b'l', 0xc0, 0x0c, //
        // offset 50: answer #1, TXT "v=spf1 -all" ""
        0xc0, 0x0c, 0x00, 0x10, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x0d, //
        0x0b, b'v', b'=', b's', b'p', b'f', b'1', b' ', b'-', b'a', b'l', b'l', 0x00, //
        // offset 75: answer #2, www.example.com CNAME example.com
        0x03, b'w', b'w', b'w', 0xc0, 0x0c, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x02, //
        0xc0, 0x0c, //
        // offset 93: authority #0, SOA ns1.example.com hostmaster.example.com 1 7200 3600 1209600 300
        0xc0, 0x0c, 0x00, 0x06, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, 0x27, //
        0x03, b'n', b's', b'1', 0xc0, 0x0c, // offset 105: MNAME
        0x0a, b'h', b'o', b's', b't', b'm', b'a', b's', b't', b'e', b'r', 0xc0, 0x0c, // RNAME
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x1c, 0x20, 0x00, 0x00, 0x0e, 0x10, //
        0x00, 0x12, 0x75, 0x00, 0x00, 0x00, 0x01, 0x2c, //
        // offset 144: additional #0, ns1.example.com AAAA 2001:db8::1 (NAME points to MNAME)
        0xc0, 0x69, 0x00, 0x1c, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, 0x10, //
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
    ];

    fn example_question() -> Question {
        Question { name: "example.com".into(), qtype: RecordType::A, qclass: 1 }
    }

    fn query_repr() -> Repr {
        Repr {
            id: 0x1234,
            flags: Flags { recursion_desired: true, ..Flags::default() },
            questions: vec![example_question()],
            answers: vec![],
            authorities: vec![],
            additionals: vec![],
        }
    }

    fn response_repr() -> Repr {
        Repr {
            id: 0x1234,
            flags: Flags { response: true, recursion_desired: true, recursion_available: true, ..Flags::default() },
            questions: vec![example_question()],
            answers: vec![Record {
                name: "example.com".into(),
                rtype: RecordType::A,
                class: 1,
                ttl: 3600,
                data: RecordData::A(Ipv4Addr::new(93, 184, 216, 34)),
            }],
            authorities: vec![],
            additionals: vec![],
        }
    }

    fn mixed_repr() -> Repr {
        let record = |name: &str, rtype, ttl, data| Record { name: name.into(), rtype, class: 1, ttl, data };
        Repr {
            id: 0xbeef,
            flags: Flags {
                response: true,
                authoritative: true,
                recursion_desired: true,
                recursion_available: true,
                ..Flags::default()
            },
            questions: vec![Question { name: "example.com".into(), qtype: RecordType::Mx, qclass: 1 }],
            answers: vec![
                record(
                    "example.com",
                    RecordType::Mx,
                    300,
                    RecordData::Mx { preference: 10, exchange: "mail.example.com".into() },
                ),
                record("example.com", RecordType::Txt, 300, RecordData::Txt(vec![b"v=spf1 -all".to_vec(), vec![]])),
                record("www.example.com", RecordType::Cname, 60, RecordData::Name("example.com".into())),
            ],
            authorities: vec![record("example.com", RecordType::Soa, 3600, example_soa("ns1.example.com"))],
            additionals: vec![record(
                "ns1.example.com",
                RecordType::Aaaa,
                3600,
                RecordData::Aaaa("2001:db8::1".parse().expect("valid address")),
            )],
        }
    }

    #[test]
    fn test_deconstruct() {
        let packet = Packet::new_checked(&RESPONSE_BYTES[..]).expect("whole header");
        assert_eq!(packet.id(), 0x1234);
        assert!(packet.is_response());
        assert_eq!(packet.opcode(), 0);
        assert!(!packet.authoritative());
        assert!(!packet.truncated());
        assert!(packet.recursion_desired());
        assert!(packet.recursion_available());
        assert_eq!(packet.z(), 0);
        assert_eq!(packet.rcode(), Rcode::NoError);
        assert_eq!(packet.question_count(), 1);
        assert_eq!(packet.answer_count(), 1);
        assert_eq!(packet.authority_count(), 0);
        assert_eq!(packet.additional_count(), 0);
        assert_eq!(packet.counts(), [1, 1, 0, 0]);
    }

    #[test]
    fn test_construct() {
        let mut bytes = vec![0xa5; HEADER_LEN];
        let mut packet = Packet::new_unchecked(&mut bytes);
        packet.set_id(0x1234);
        packet.set_response(true);
        packet.set_opcode(0);
        packet.set_authoritative(false);
        packet.set_truncated(false);
        packet.set_recursion_desired(true);
        packet.set_recursion_available(true);
        packet.set_z(0);
        packet.set_rcode(Rcode::NoError);
        packet.set_question_count(1);
        packet.set_answer_count(1);
        packet.set_authority_count(0);
        packet.set_additional_count(0);
        assert_eq!(&packet.into_inner()[..], &RESPONSE_BYTES[..HEADER_LEN]);
    }

    #[test]
    fn test_flag_bits() {
        let mut bytes = [0u8; HEADER_LEN];
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        packet.set_opcode(0x1f); // masked to 0xf
        packet.set_authoritative(true);
        packet.set_truncated(true);
        packet.set_z(0b011); // AD and CD
        packet.set_rcode(Rcode::Unknown(0x13)); // masked to 3
        assert_eq!(packet.opcode(), 0xf);
        assert_eq!(packet.rcode(), Rcode::NxDomain);
        assert_eq!(packet.z(), 0b011);
        assert_eq!(&bytes[2..4], &[0x7e, 0x33]);
    }

    #[test]
    fn test_check_len() {
        let error = Packet::new_checked(&QUERY_BYTES[..5]).expect_err("short");
        assert_eq!(error, Error::Malformed(WalkError::header(5)));
        assert_eq!(error.to_string(), "DNS header: header at offset 0 needs 12 octets, 5 remain");
        assert!(Packet::new_checked(&QUERY_BYTES[..HEADER_LEN]).is_ok());
    }

    #[test]
    fn test_parse_query() {
        let packet = Packet::new_checked(&QUERY_BYTES[..]).expect("whole header");
        assert_eq!(Repr::parse(&packet), Ok(query_repr()));
    }

    #[test]
    fn test_emit_query() {
        let repr = query_repr();
        assert_eq!(repr.buffer_len(), QUERY_BYTES.len());
        let mut bytes = vec![0xa5; repr.buffer_len()];
        repr.emit(&mut Packet::new_unchecked(&mut bytes));
        assert_eq!(bytes, QUERY_BYTES);
    }

    #[test]
    fn test_parse_response() {
        let packet = Packet::new_checked(&RESPONSE_BYTES[..]).expect("whole header");
        assert_eq!(Repr::parse(&packet), Ok(response_repr()));
        let packet = Packet::new_checked(&RESPONSE_EMITTED[..]).expect("whole header");
        assert_eq!(Repr::parse(&packet), Ok(response_repr()));
    }

    #[test]
    fn test_emit_response() {
        assert_eq!(response_repr().to_bytes(), RESPONSE_EMITTED);
    }

    #[test]
    fn test_parse_mixed() {
        let packet = Packet::new_checked(&MIXED_BYTES[..]).expect("whole header");
        assert_eq!(Repr::parse(&packet), Ok(mixed_repr()));
        let emitted = mixed_repr().to_bytes();
        assert_eq!(Repr::parse(&Packet::new_unchecked(&emitted)), Ok(mixed_repr()));
    }

    #[test]
    fn test_walk_response() {
        let walk = walk(&RESPONSE_BYTES);
        assert_eq!(
            walk,
            Walk {
                header: Some(HeaderInfo { id: 0x1234, flags: response_repr().flags, counts: [1, 1, 0, 0] }),
                questions: vec![example_question()],
                present: [1, 1, 0, 0],
                consumed: RESPONSE_BYTES.len(),
                trailing: 0,
                error: None,
                opt: [0; 4],
                soa: [0; 4],
            }
        );
    }

    #[test]
    fn test_walk_mixed() {
        let walk = walk(&MIXED_BYTES);
        assert_eq!(walk.error, None);
        assert_eq!(walk.present, [1, 3, 1, 1]);
        assert_eq!((walk.opt, walk.soa), ([0; 4], [0, 0, 1, 0]));
        assert_eq!((walk.consumed, walk.trailing), (MIXED_BYTES.len(), 0));
    }

    #[test]
    fn test_parse_errors() {
        let mut bytes = RESPONSE_BYTES.to_vec();
        bytes[7] = 2; // ANCOUNT 2, one answer present
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&bytes)),
            Err(Error::CountMismatch { section: Section::Answer, declared: 2, present: 1 })
        );
        bytes[7] = 0; // ANCOUNT 0: the answer is left over
        assert_eq!(Repr::parse(&Packet::new_unchecked(&bytes)), Err(Error::TrailingBytes { offset: 29, count: 16 }));
        bytes[7] = 1;
        bytes[40] = 5; // RDLENGTH 5 for A
        let error = Repr::parse(&Packet::new_unchecked(&bytes)).expect_err("bad rdata");
        assert_eq!(
            error.to_string(),
            "DNS answer #0 at offset 29: rdata of 5 octets at offset 41 runs past the end of the message (4 octets remain)"
        );
        bytes.push(0);
        let error = Repr::parse(&Packet::new_unchecked(&bytes)).expect_err("bad rdata");
        assert_eq!(
            error.to_string(),
            "DNS answer #0 at offset 29: A rdata is 5 octets, expected 4 (RFC 1035 §3.4.1, RFC 3596 §2.2)"
        );
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&bytes[..3])),
            Err(Error::Malformed(WalkError::header(3))),
            "parse checks the length of an unchecked packet"
        );
    }

    /// Build a message from a header (flags 0x0100) with `counts` and `body`.
    fn message(counts: [u16; 4], body: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0xab, 0xcd, 0x01, 0x00];
        for count in counts {
            bytes.extend_from_slice(&count.to_be_bytes());
        }
        bytes.extend_from_slice(body);
        bytes
    }

    /// `example.com A IN` followed by an answer with `rtype` and `rdata`.
    fn answer(rtype: u16, rdata: &[u8]) -> Vec<u8> {
        let mut body = QUERY_BYTES[HEADER_LEN..].to_vec();
        body.extend_from_slice(&[0xc0, 0x0c]);
        body.extend_from_slice(&rtype.to_be_bytes());
        body.extend_from_slice(&[0x00, 0x01, 0x00, 0x00, 0x00, 0x3c]);
        body.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        body.extend_from_slice(rdata);
        body
    }

    fn long_name() -> Vec<u8> {
        let mut name = Vec::new();
        for _ in 0..5 {
            name.push(63);
            name.extend_from_slice(&[b'a'; 63]);
        }
        name.push(0);
        name.extend_from_slice(&[0x00, 0x01, 0x00, 0x01]);
        name
    }

    #[rstest]
    #[case::truncated_header(
        QUERY_BYTES[..7].to_vec(), None, [0, 0, 0, 0], 0, 0,
        Some(WalkError::header(7))
    )]
    #[case::empty(vec![], None, [0, 0, 0, 0], 0, 0, Some(WalkError::header(0)))]
    #[case::header_only(message([0; 4], &[]), Some([0; 4]), [0, 0, 0, 0], 12, 0, None)]
    #[case::count_above_records(
        message([1, 2, 0, 0], &answer(1, &[10, 0, 0, 1])), Some([1, 2, 0, 0]), [1, 1, 0, 0], 45, 0,
        Some(WalkError {
            section: Section::Answer, index: 1, offset: 45,
            kind: ErrorKind::Truncated { what: "name", at: 45, needed: 1, available: 0 },
        })
    )]
    #[case::question_missing(
        message([2, 0, 0, 0], &QUERY_BYTES[HEADER_LEN..]), Some([2, 0, 0, 0]), [1, 0, 0, 0], 29, 0,
        Some(WalkError {
            section: Section::Question, index: 1, offset: 29,
            kind: ErrorKind::Truncated { what: "name", at: 29, needed: 1, available: 0 },
        })
    )]
    #[case::count_below_records(
        message([1, 0, 0, 0], &answer(1, &[10, 0, 0, 1])), Some([1, 0, 0, 0]), [1, 0, 0, 0], 29, 16, None
    )]
    #[case::pointer_loop(
        message([1, 0, 0, 0], &[0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01]), Some([1, 0, 0, 0]), [0, 0, 0, 0], 12, 0,
        Some(WalkError {
            section: Section::Question, index: 0, offset: 12,
            kind: ErrorKind::BadPointer { at: 12, target: 12 },
        })
    )]
    #[case::forward_pointer(
        message([1, 0, 0, 0], &[0x01, b'a', 0xc0, 0x10, 0x00, 0x00, 0x01, 0x00, 0x01]), Some([1, 0, 0, 0]), [0, 0, 0, 0], 12, 0,
        Some(WalkError {
            section: Section::Question, index: 0, offset: 12,
            kind: ErrorKind::BadPointer { at: 14, target: 16 },
        })
    )]
    #[case::pointer_into_header(
        message([1, 0, 0, 0], &[0xc0, 0x02, 0x00, 0x01, 0x00, 0x01]), Some([1, 0, 0, 0]), [0, 0, 0, 0], 12, 0,
        Some(WalkError {
            section: Section::Question, index: 0, offset: 12,
            kind: ErrorKind::BadPointer { at: 12, target: 2 },
        })
    )]
    #[case::label_too_long(
        message([1, 0, 0, 0], &[0x45, b'a', b'b', 0x00, 0x00, 0x01, 0x00, 0x01]), Some([1, 0, 0, 0]), [0, 0, 0, 0], 12, 0,
        Some(WalkError {
            section: Section::Question, index: 0, offset: 12,
            kind: ErrorKind::BadLabelType { at: 12, byte: 0x45 },
        })
    )]
    #[case::extended_label(
        message([1, 0, 0, 0], &[0x01, b'a', 0x80, 0x00, 0x00, 0x01, 0x00, 0x01]), Some([1, 0, 0, 0]), [0, 0, 0, 0], 12, 0,
        Some(WalkError {
            section: Section::Question, index: 0, offset: 12,
            kind: ErrorKind::BadLabelType { at: 14, byte: 0x80 },
        })
    )]
    #[case::name_too_long(
        message([1, 0, 0, 0], &long_name()), Some([1, 0, 0, 0]), [0, 0, 0, 0], 12, 0,
        Some(WalkError { section: Section::Question, index: 0, offset: 12, kind: ErrorKind::NameTooLong { at: 12 } })
    )]
    #[case::label_past_end(
        message([1, 0, 0, 0], &[0x07, b'e', b'x']), Some([1, 0, 0, 0]), [0, 0, 0, 0], 12, 0,
        Some(WalkError {
            section: Section::Question, index: 0, offset: 12,
            kind: ErrorKind::Truncated { what: "label", at: 12, needed: 8, available: 3 },
        })
    )]
    #[case::question_fields_cut(
        message([1, 0, 0, 0], &QUERY_BYTES[HEADER_LEN..QUERY_BYTES.len() - 1]), Some([1, 0, 0, 0]), [0, 0, 0, 0], 12, 0,
        Some(WalkError {
            section: Section::Question, index: 0, offset: 12,
            kind: ErrorKind::Truncated { what: "question type and class", at: 25, needed: 4, available: 3 },
        })
    )]
    #[case::aaaa_with_four_octets(
        message([1, 1, 0, 0], &answer(28, &[10, 0, 0, 1])), Some([1, 1, 0, 0]), [1, 0, 0, 0], 29, 0,
        Some(WalkError {
            section: Section::Answer, index: 0, offset: 29,
            kind: ErrorKind::RdataLength { rtype: RecordType::Aaaa, length: 4, expected: 16 },
        })
    )]
    #[case::rdata_past_end(
        { let mut m = message([1, 1, 0, 0], &answer(1, &[10, 0, 0, 1])); m.truncate(43); m },
        Some([1, 1, 0, 0]), [1, 0, 0, 0], 29, 0,
        Some(WalkError {
            section: Section::Answer, index: 0, offset: 29,
            kind: ErrorKind::RdataPastEnd { at: 41, length: 4, available: 2 },
        })
    )]
    #[case::cname_name_past_rdata(
        message([1, 1, 0, 0], &answer(5, &[0x03, b'w', b'w', b'w'])), Some([1, 1, 0, 0]), [1, 0, 0, 0], 29, 0,
        Some(WalkError {
            section: Section::Answer, index: 0, offset: 29,
            kind: ErrorKind::RdataShort { rtype: RecordType::Cname, at: 41, length: 4 },
        })
    )]
    #[case::ptr_excess(
        message([1, 1, 0, 0], &answer(12, &[0xc0, 0x0c, 0xff])), Some([1, 1, 0, 0]), [1, 0, 0, 0], 29, 0,
        Some(WalkError {
            section: Section::Answer, index: 0, offset: 29,
            kind: ErrorKind::RdataExcess { rtype: RecordType::Ptr, at: 41, length: 3, excess: 1 },
        })
    )]
    #[case::txt_string_past_rdata(
        message([1, 1, 0, 0], &answer(16, &[0x05, b'a'])), Some([1, 1, 0, 0]), [1, 0, 0, 0], 29, 0,
        Some(WalkError {
            section: Section::Answer, index: 0, offset: 29,
            kind: ErrorKind::RdataShort { rtype: RecordType::Txt, at: 41, length: 2 },
        })
    )]
    #[case::mx_without_exchange(
        message([1, 1, 0, 0], &answer(15, &[0x00])), Some([1, 1, 0, 0]), [1, 0, 0, 0], 29, 0,
        Some(WalkError {
            section: Section::Answer, index: 0, offset: 29,
            kind: ErrorKind::RdataShort { rtype: RecordType::Mx, at: 41, length: 1 },
        })
    )]
    #[case::unknown_type_raw(
        message([1, 1, 0, 0], &answer(99, &[1, 2, 3])), Some([1, 1, 0, 0]), [1, 1, 0, 0], 44, 0, None
    )]
    fn test_walk_edges(
        #[case] bytes: Vec<u8>,
        #[case] counts: Option<[u16; 4]>,
        #[case] present: [u16; 4],
        #[case] consumed: usize,
        #[case] trailing: usize,
        #[case] error: Option<WalkError>,
    ) {
        let walk = walk(&bytes);
        assert_eq!(walk.header.map(|h| h.counts), counts);
        assert_eq!(walk.present, present);
        assert_eq!(walk.consumed, consumed);
        assert_eq!(walk.trailing, trailing);
        assert_eq!(walk.error, error);
        assert_eq!(walk.questions.len(), usize::from(present[0]));
    }

    #[test]
    fn test_too_many_pointers() {
        // Answer 0 (type 99) carries a chain of 130 pointers as its RDATA, each
        // pointing to the one before, the first to the root name at offset 12;
        // answer 1's name points to the last one: 131 hops.
        let mut body = vec![0x00, 0x00, 0x01, 0x00, 0x01]; // question: root A IN
        body.extend_from_slice(&[0x00, 0x00, 0x63, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x04]); // rdlength 260
        let first = HEADER_LEN + body.len();
        for i in 0..130 {
            let target = if i == 0 { HEADER_LEN } else { first + 2 * (i - 1) };
            body.extend_from_slice(&(0xc000 | target as u16).to_be_bytes());
        }
        let second = HEADER_LEN + body.len();
        body.extend_from_slice(&(0xc000 | (second - 2) as u16).to_be_bytes());
        body.extend_from_slice(&[0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]);
        let walk = walk(&message([1, 2, 0, 0], &body));
        assert_eq!(walk.present, [1, 1, 0, 0]);
        assert_eq!(
            walk.error,
            Some(WalkError {
                section: Section::Answer,
                index: 1,
                offset: second,
                kind: ErrorKind::TooManyPointers { at: second }
            })
        );
    }

    #[test]
    fn test_escaped_names() {
        // A label holding ".", "\", a space and 0xff, then "Com".
        let mut body = vec![0x06, b'a', b'.', b'\\', b' ', 0xff, b'z', 0x03, b'C', b'o', b'm', 0x00];
        body.extend_from_slice(&[0x00, 0x01, 0x00, 0x01]);
        let bytes = message([1, 0, 0, 0], &body);
        let repr = Repr::parse(&Packet::new_unchecked(&bytes)).expect("valid");
        assert_eq!(repr.questions[0].name, r"a\.\\\032\255z.Com");
        assert_eq!(repr.to_bytes(), bytes);
        let root = message([1, 0, 0, 0], &[0x00, 0x00, 0x02, 0x00, 0x01]);
        assert_eq!(walk(&root).questions[0].name, "");
    }

    #[rstest]
    #[case::plain("example.com", 13)]
    #[case::trailing_dot("example.com.", 13)]
    #[case::root("", 1)]
    #[case::root_dot(".", 1)]
    #[case::empty_label("a..b", 5)]
    #[case::escape_dot(r"a\.b", 5)]
    #[case::escape_decimal(r"\065", 3)]
    #[case::escape_out_of_range(r"\256", 5)]
    #[case::trailing_backslash("a\\", 4)]
    #[case::long_label(&"x".repeat(70), 65)]
    fn test_name_len(#[case] name: &str, #[case] len: usize) {
        assert_eq!(name_len(name), len);
        let mut w = Writer { buf: &mut vec![0; len], pos: 0 };
        w.name(name);
        assert_eq!(w.pos, len);
    }

    #[test]
    fn test_names_equal() {
        assert!(names_equal("Example.COM", "example.com"));
        assert!(names_equal("", ""));
        assert!(!names_equal("example.com", "example.org"));
        assert!(!names_equal("example.com", "example.com."));
    }

    #[test]
    fn test_numbers() {
        for value in 0..=300u16 {
            assert_eq!(u16::from(RecordType::from(value)), value);
        }
        for value in 0..=u8::MAX {
            assert_eq!(u8::from(Rcode::from(value)), value);
        }
        assert_eq!(RecordType::from(28), RecordType::Aaaa);
        assert_eq!(RecordType::Aaaa.to_string(), "AAAA");
        assert_eq!(RecordType::A.to_string(), "A");
        assert_eq!(RecordType::from(99).to_string(), "Unknown(99)");
        assert_eq!(RecordType::from(99).name(), "Unknown");
        assert_eq!(Rcode::from(3).to_string(), "NXDOMAIN");
        assert_eq!(Rcode::from(11).to_string(), "Unknown(11)");
        assert_eq!(Rcode::default(), Rcode::NoError);
    }

    fn arb_name() -> impl Strategy<Value = String> {
        prop::collection::vec("[a-zA-Z0-9-]{1,20}", 0..5).prop_map(|labels| labels.join("."))
    }

    fn arb_record() -> impl Strategy<Value = Record> {
        let data = prop_oneof![
            any::<[u8; 4]>().prop_map(|o| (RecordType::A, RecordData::A(o.into()))),
            any::<[u8; 16]>().prop_map(|o| (RecordType::Aaaa, RecordData::Aaaa(o.into()))),
            (prop::sample::select(vec![RecordType::Ns, RecordType::Cname, RecordType::Ptr]), arb_name())
                .prop_map(|(t, n)| (t, RecordData::Name(n))),
            (any::<u16>(), arb_name())
                .prop_map(|(preference, exchange)| (RecordType::Mx, RecordData::Mx { preference, exchange })),
            prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..3).prop_map(|strings| {
                let strings = strings.into_iter().map(|mut s| {
                    s.truncate(255);
                    s
                });
                (RecordType::Txt, RecordData::Txt(strings.collect()))
            }),
            (arb_name(), arb_name(), any::<[u32; 5]>()).prop_map(
                |(mname, rname, [serial, refresh, retry, expire, minimum])| {
                    (RecordType::Soa, RecordData::Soa { mname, rname, serial, refresh, retry, expire, minimum })
                }
            ),
            (
                prop::sample::select(vec![
                    RecordType::Srv,
                    RecordType::Caa,
                    RecordType::Opt,
                    RecordType::Https,
                    RecordType::Unknown(99)
                ]),
                prop::collection::vec(any::<u8>(), 0..40)
            )
                .prop_map(|(t, raw)| (t, RecordData::Raw(raw))),
        ];
        (arb_name(), data, any::<u16>(), any::<u32>()).prop_map(|(name, (rtype, data), class, ttl)| Record {
            name,
            rtype,
            class,
            ttl,
            data,
        })
    }

    fn arb_repr() -> impl Strategy<Value = Repr> {
        let flags = (any::<[bool; 6]>(), 0..16u8, 0..8u8, 0..16u8).prop_map(|(b, opcode, z, rcode)| Flags {
            response: b[0],
            opcode,
            authoritative: b[1],
            truncated: b[2],
            recursion_desired: b[3],
            recursion_available: b[4],
            z,
            rcode: Rcode::from(rcode),
        });
        let question = (arb_name(), any::<u16>(), any::<u16>()).prop_map(|(name, qtype, qclass)| Question {
            name,
            qtype: RecordType::from(qtype),
            qclass,
        });
        let records = || prop::collection::vec(arb_record(), 0..4);
        (any::<u16>(), flags, prop::collection::vec(question, 0..3), records(), records(), records()).prop_map(
            |(id, flags, questions, answers, authorities, additionals)| Repr {
                id,
                flags,
                questions,
                answers,
                authorities,
                additionals,
            },
        )
    }

    proptest! {
        #[test]
        fn prop_walk_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
            let walk = walk(&bytes);
            prop_assert!(walk.consumed + walk.trailing <= bytes.len());
            let _ = Repr::parse(&Packet::new_unchecked(&bytes));
        }

        #[test]
        fn prop_walk_mutated_never_panics(
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut bytes = MIXED_BYTES.to_vec();
            for (at, value) in flips {
                let at = at.index(bytes.len());
                bytes[at] = value;
            }
            bytes.truncate(cut.index(bytes.len() + 1));
            let walk = walk(&bytes);
            prop_assert!(walk.consumed + walk.trailing <= bytes.len());
            if walk.error.is_none() {
                prop_assert_eq!(walk.consumed + walk.trailing, bytes.len());
            }
            let _ = Repr::parse(&Packet::new_unchecked(&bytes));
        }

        #[test]
        fn prop_emit_parse_round_trip(repr in arb_repr()) {
            let bytes = repr.to_bytes();
            prop_assert_eq!(bytes.len(), repr.buffer_len());
            prop_assert_eq!(Repr::parse(&Packet::new_checked(&bytes).expect("header")), Ok(repr.clone()));
            let walk = walk(&bytes);
            prop_assert_eq!(walk.error, None);
            prop_assert_eq!(walk.consumed, bytes.len());
            prop_assert_eq!(walk.questions, repr.questions);
        }

        #[test]
        fn prop_wire_name_round_trip(labels in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..=63), 0..4)) {
            let mut body = Vec::new();
            for label in &labels {
                body.push(label.len() as u8);
                body.extend_from_slice(label);
            }
            body.extend_from_slice(&[0x00, 0x00, 0x01, 0x00, 0x01]);
            let bytes = message([1, 0, 0, 0], &body);
            let repr = Repr::parse(&Packet::new_unchecked(&bytes)).expect("valid name");
            prop_assert_eq!(repr.to_bytes(), bytes);
        }
    }
}
