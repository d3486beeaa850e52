//! ICMPv4 checks (RFC 792, RFC 6918 for deprecated types): type/code
//! validity, checksum, quoted headers in error messages, and echo/timestamp
//! request-reply pairing by identifier, sequence number and direction.

use super::ip::checksum;
use super::{ip4, FlowTable, Limits, Sink};
use crate::dissect::{Frame, Net, Transport};
use crate::finding::{Protocol, Severity};

/// Validity of an ICMPv4 type/code pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TypeCode {
    Valid,
    Deprecated,
    BadCode(u8),
    Unassigned,
}

/// Classify a type/code pair against the IANA ICMP parameters registry.
fn classify(icmp_type: u8, code: u8) -> TypeCode {
    let max_code = match icmp_type {
        0 | 8 | 13 | 14 => 0,
        3 => 15,
        5 => 3,
        9 => 16,
        10 => 0,
        11 => 1,
        12 => 2,
        40 => 5,
        42 => 0,
        43 => 4,
        // Source quench, alternate host address, information and address
        // mask messages, traceroute and the other types RFC 6918 retired.
        4 | 6 | 15..=18 | 30..=39 => return TypeCode::Deprecated,
        253 | 254 => return TypeCode::Valid,
        _ => return TypeCode::Unassigned,
    };
    if icmp_type == 9 && code != 0 && code != 16 {
        return TypeCode::BadCode(0);
    }
    if code > max_code {
        TypeCode::BadCode(max_code)
    } else {
        TypeCode::Valid
    }
}

/// Stateless per-packet checks.
pub(crate) fn check_packet(frame: &Frame<'_>, sink: &mut Sink) {
    let Transport::Icmp(icmp) = &frame.transport else { return };
    let (icmp_type, code) = (icmp.type_u8(), icmp.code_u8());
    match classify(icmp_type, code) {
        TypeCode::Valid => {}
        TypeCode::Deprecated => sink.report(
            Severity::Warn,
            "icmp.deprecated_type",
            Protocol::Icmp,
            format!("type {icmp_type} is deprecated (RFC 6918)"),
        ),
        TypeCode::BadCode(max) => sink.report(
            Severity::Error,
            "icmp.bad_type_code",
            Protocol::Icmp,
            format!("code {code} is not defined for type {icmp_type} (codes 0-{max})"),
        ),
        TypeCode::Unassigned => sink.report(
            Severity::Error,
            "icmp.bad_type_code",
            Protocol::Icmp,
            format!("type {icmp_type} is not an assigned ICMP type"),
        ),
    }
    if let Net::Ipv4 { slice, .. } = &frame.net {
        let message = slice.payload().payload;
        let declared = usize::from(slice.header().total_len()).saturating_sub(slice.header().slice().len());
        if declared >= 8 && message.len() >= declared && checksum(&message[..declared]) != 0 {
            sink.report(
                Severity::Error,
                "icmp.bad_checksum",
                Protocol::Icmp,
                format!("checksum 0x{:04x} does not verify", icmp.checksum()),
            );
        }
    }
    // Error messages quote the offending IP header plus 64 bits: RFC 792
    // makes "Internet Header + 64 bits of Original Data Datagram" a field of
    // every error message (and RFC 1812 §4.3.2.3 lets routers quote more),
    // so a message without it is malformed.
    if matches!(icmp_type, 3 | 4 | 5 | 11 | 12) {
        let quoted = icmp.payload();
        let ok = quoted.len() >= 28 && quoted[0] >> 4 == 4 && quoted.len() >= usize::from(quoted[0] & 0xf) * 4 + 8;
        if !ok {
            sink.report(
                Severity::Error,
                "icmp.bad_quoted",
                Protocol::Icmp,
                format!(
                    "type {icmp_type} must quote the original IPv4 header and 8 bytes; {} bytes present",
                    quoted.len()
                ),
            );
        }
    }
}

/// Key of a request: (requester, responder, type, identifier, sequence).
type EchoKey = ([u8; 4], [u8; 4], u8, u16, u16);

#[derive(Debug)]
struct Pending {
    frame: u64,
    data_hash: u64,
}

/// Pairs echo and timestamp requests with replies.
#[derive(Debug, Default)]
pub(crate) struct IcmpCheck {
    pending: FlowTable<EchoKey, Pending>,
}

impl IcmpCheck {
    /// Make a check holding at most `limits.max_flows` unanswered requests.
    pub(crate) fn new(limits: Limits) -> IcmpCheck {
        IcmpCheck { pending: FlowTable::new(limits.max_flows) }
    }

    /// Pair requests and replies.
    pub(crate) fn check(&mut self, frame: &Frame<'_>, sink: &mut Sink) {
        let (Transport::Icmp(icmp), Some((src, dst))) = (&frame.transport, frame.ipv4_addrs()) else { return };
        let (kind, reply) = match icmp.type_u8() {
            8 => (8, false),
            0 => (8, true),
            13 => (13, false),
            14 => (13, true),
            _ => return,
        };
        let rest = icmp.bytes5to8();
        let id = u16::from_be_bytes([rest[0], rest[1]]);
        let seq = u16::from_be_bytes([rest[2], rest[3]]);
        let data_hash = hash(icmp.payload());
        if !reply {
            let number = frame.number;
            let slot = self.pending.entry(
                &(src, dst, kind, id, seq),
                || Pending { frame: number, data_hash },
                |key, old| unanswered(sink, key, &old),
            );
            *slot = Pending { frame: number, data_hash };
            return;
        }
        match self.pending.remove(&(dst, src, kind, id, seq)) {
            Some(request) => {
                if kind == 8 && request.data_hash != data_hash {
                    sink.report(
                        Severity::Warn,
                        "icmp.echo_data_mismatch",
                        Protocol::Icmp,
                        format!(
                            "echo reply data differs from the request's (frame {}) (RFC 792: data is returned)",
                            request.frame
                        ),
                    );
                }
            }
            None => sink.report(
                Severity::Warn,
                "icmp.unmatched_echo",
                Protocol::Icmp,
                format!("reply id=0x{id:04x} seq={seq} from {} to {} answers no request", ip4(src), ip4(dst)),
            ),
        }
    }

    /// Report requests that were never answered.
    pub(crate) fn finish(&mut self, sink: &mut Sink) {
        for (key, pending) in self.pending.drain_by_age() {
            unanswered(sink, key, &pending);
        }
    }
}

fn unanswered(sink: &mut Sink, (src, dst, _, id, seq): EchoKey, pending: &Pending) {
    sink.report_at(
        pending.frame,
        Severity::Warn,
        "icmp.unanswered",
        Protocol::Icmp,
        format!("request id=0x{id:04x} seq={seq} from {} to {} has no reply", ip4(src), ip4(dst)),
    );
}

/// FNV-1a, enough to compare echo data without storing it.
fn hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod test {
    use super::super::testutil::*;
    use super::*;
    use crate::pcap::LinkType;
    use rstest::rstest;

    #[test]
    fn test_pairs() {
        let frames = vec![
            icmp_echo(A, B, false, 7, 1),
            icmp_echo(B, A, true, 7, 1),
            icmp_echo(A, B, false, 7, 2),
            icmp_echo(B, A, true, 7, 2),
        ];
        assert!(ids(&check_frames(LinkType::Raw, &frames)).is_empty());
    }

    #[test]
    fn test_unmatched_and_unanswered() {
        // Reply with the wrong sequence, and in the wrong direction.
        let frames = vec![icmp_echo(A, B, false, 7, 1), icmp_echo(B, A, true, 7, 2), icmp_echo(A, B, true, 7, 1)];
        assert_eq!(
            ids(&check_frames(LinkType::Raw, &frames)),
            vec![(1, "icmp.unanswered".into()), (2, "icmp.unmatched_echo".into()), (3, "icmp.unmatched_echo".into())]
        );
    }

    #[test]
    fn test_bad_checksum() {
        let mut request = icmp_echo(A, B, false, 7, 1);
        request[22] ^= 0x10;
        let frames = vec![request, icmp_echo(B, A, true, 7, 1)];
        assert_eq!(ids(&check_frames(LinkType::Raw, &frames)), vec![(1, "icmp.bad_checksum".into())]);
    }

    /// An ICMP error message of `icmp_type`/`code` from B to A quoting `quoted`.
    fn icmp_error(icmp_type: u8, code: u8, quoted: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        etherparse::PacketBuilder::ipv4(B, A, 64).icmpv4_raw(icmp_type, code, [0; 4]).write(&mut out, quoted).unwrap();
        out
    }

    #[test]
    fn test_error_message_must_quote_the_header() {
        // RFC 792: the original IP header and 64 bits of its data.
        let original = icmp_echo(A, B, false, 7, 1);
        assert_eq!(ids(&check_frames(LinkType::Raw, &[icmp_error(3, 1, &original[..28])])), vec![]);
        let found = check_frames(LinkType::Raw, &[icmp_error(3, 1, b"")]);
        assert_eq!(ids(&found), vec![(1, "icmp.bad_quoted".into())]);
        assert_eq!(found[0].severity, Severity::Error);
        // 11 (time exceeded) quoting only 20 bytes: the 8 data bytes are missing.
        assert_eq!(
            ids(&check_frames(LinkType::Raw, &[icmp_error(11, 0, &original[..20])])),
            vec![(1, "icmp.bad_quoted".into())]
        );
    }

    #[rstest]
    #[case(0, 0, TypeCode::Valid)]
    #[case(3, 13, TypeCode::Valid)]
    #[case(3, 16, TypeCode::BadCode(15))]
    #[case(11, 2, TypeCode::BadCode(1))]
    #[case(0, 1, TypeCode::BadCode(0))]
    #[case(4, 0, TypeCode::Deprecated)]
    #[case(17, 0, TypeCode::Deprecated)]
    #[case(1, 0, TypeCode::Unassigned)]
    #[case(44, 0, TypeCode::Unassigned)]
    fn test_classify(#[case] t: u8, #[case] c: u8, #[case] expected: TypeCode) {
        assert_eq!(classify(t, c), expected);
    }
}
