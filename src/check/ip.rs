//! IPv4 header checks (RFC 791, RFC 1812 §4.2.2).

use super::{ip4, Checksums, Sink};
use crate::dissect::{Frame, Net, NetError};
use crate::finding::{Protocol, Severity};

/// Check the IPv4 header of one frame.
pub(crate) fn check(frame: &Frame<'_>, checksums: Checksums, sink: &mut Sink) {
    match &frame.net {
        Net::Bad { protocol: Protocol::Ip, reason } => report_bad(*reason, sink),
        Net::Ipv4 { slice, offset } => {
            let header = slice.header();
            let header_len = header.slice().len();
            let total = usize::from(header.total_len());
            let available = frame.data.len() - offset;
            let captured_whole = frame.is_whole();
            if total == 0 && checksums == Checksums::OffloadAware {
                // TCP segmentation offload (and Linux BIG TCP) hand the
                // NIC one large segment whose total length it fills in.
                sink.report(
                    Severity::Note,
                    "ip.length_offload",
                    Protocol::Ip,
                    format!("total length 0 on a {available}-byte packet: left for segmentation offload to fill in"),
                );
            } else if total < header_len {
                sink.report(
                    Severity::Error,
                    "ip.bad_total_length",
                    Protocol::Ip,
                    format!("total length {total} is smaller than the header length {header_len}"),
                );
            } else if total > available && captured_whole {
                sink.report(
                    Severity::Error,
                    "ip.bad_total_length",
                    Protocol::Ip,
                    format!("total length {total} exceeds the {available} bytes present"),
                );
            }
            // Verified over the header bytes as they are: etherparse's
            // Ipv4Header drops the reserved flag, so recomputing from it
            // would call such headers bad.
            if checksums == Checksums::OffloadAware && header.header_checksum() == 0 {
                sink.report(
                    Severity::Note,
                    "ip.checksum_offload",
                    Protocol::Ip,
                    "header checksum 0: left for checksum offload to fill in".into(),
                );
            } else if checksums != Checksums::Off && checksum(header.slice()) != 0 {
                let mut zeroed = [0u8; 60];
                zeroed[..header_len].copy_from_slice(header.slice());
                zeroed[10] = 0;
                zeroed[11] = 0;
                let expected = !ones_complement_sum(&zeroed[..header_len]);
                sink.report(
                    Severity::Error,
                    "ip.bad_checksum",
                    Protocol::Ip,
                    format!("header checksum 0x{:04x}, expected 0x{expected:04x}", header.header_checksum()),
                );
            }
            let protocol = header.protocol().0;
            if (144..=252).contains(&protocol) {
                sink.report(
                    Severity::Error,
                    "ip.unknown_protocol",
                    Protocol::Ip,
                    format!("protocol number {protocol} is unassigned (IANA protocol numbers)"),
                );
            }
            // IANA's protocol-number registry flags 0 (HOPOPT), 43
            // (IPv6-Route), 44 (IPv6-Frag) and 60 (IPv6-Opts) as IPv6
            // extension headers (RFC 8200 §4): they only follow an IPv6
            // header, never an IPv4 one.
            if matches!(protocol, 0 | 43 | 44 | 60) {
                sink.report(
                    Severity::Error,
                    "ip.extension_header_protocol",
                    Protocol::Ip,
                    format!(
                        "protocol number {protocol} is an IPv6 extension header (RFC 8200 §4), not an IPv4 payload"
                    ),
                );
            }
            if header.ttl() == 0 {
                sink.report(
                    Severity::Error,
                    "ip.ttl_zero",
                    Protocol::Ip,
                    "TTL 0: such a packet is never forwarded nor sent (RFC 1812 §4.2.2.9)".into(),
                );
            }
            let src = header.source();
            if src[0] >= 224 {
                sink.report(
                    Severity::Error,
                    "ip.bad_source",
                    Protocol::Ip,
                    format!("source address {} is multicast, broadcast or reserved (RFC 1812 §5.3.7)", ip4(src)),
                );
            }
            if header.slice()[6] & 0x80 != 0 {
                sink.report(
                    Severity::Warn,
                    "ip.reserved_flag",
                    Protocol::Ip,
                    "reserved flag bit set (RFC 791 §3.1: must be zero)".into(),
                );
            }
            if header.more_fragments() || header.fragments_offset().value() != 0 {
                sink.report(
                    Severity::Note,
                    "ip.fragment",
                    Protocol::Ip,
                    "fragment: upper layers are checked on the first fragment only".into(),
                );
            }
        }
        _ => {}
    }
}

fn report_bad(reason: NetError, sink: &mut Sink) {
    let (check, message) = match reason {
        NetError::Version(v) => ("ip.bad_version", format!("version {v} in an IPv4 packet (must be 4)")),
        NetError::Ihl(ihl) => ("ip.bad_ihl", format!("header length {ihl} words is below the minimum of 5")),
        NetError::Truncated { needed, available } => {
            ("ip.truncated", format!("IPv4 header needs {needed} bytes, {available} present"))
        }
    };
    sink.report(Severity::Error, check, Protocol::Ip, message);
}

/// Return the folded ones' complement sum of the IPv4 pseudo-header of a
/// TCP or UDP segment (RFC 9293 §3.1, RFC 768): what Linux leaves in the
/// checksum field of a packet whose checksum the NIC completes
/// (CHECKSUM_PARTIAL), not complemented.
pub(crate) fn pseudo_header_sum(src: [u8; 4], dst: [u8; 4], protocol: u8, length: usize) -> u16 {
    let mut bytes = [0u8; 12];
    bytes[..4].copy_from_slice(&src);
    bytes[4..8].copy_from_slice(&dst);
    bytes[9] = protocol;
    bytes[10..].copy_from_slice(&(length as u16).to_be_bytes());
    ones_complement_sum(&bytes)
}

/// Return whether a wrong TCP/UDP checksum is what checksum offload leaves
/// before the NIC fills it in: 0, or the pseudo-header partial sum.
pub(crate) fn offloaded(stored: u16, src: [u8; 4], dst: [u8; 4], protocol: u8, length: usize) -> bool {
    stored == 0 || same_checksum(stored, pseudo_header_sum(src, dst, protocol, length))
}

/// Return whether two checksums are equal in ones' complement arithmetic,
/// which has two zeros (0x0000 and 0xffff).
pub(crate) fn same_checksum(a: u16, b: u16) -> bool {
    a == b || (a == 0 && b == 0xffff) || (a == 0xffff && b == 0)
}

/// Return the ones' complement sum of `bytes` (RFC 1071), folded to 16 bits.
fn ones_complement_sum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut chunks = bytes.chunks_exact(2);
    for chunk in &mut chunks {
        sum += u32::from(u16::from_be_bytes([chunk[0], chunk[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// Return the Internet checksum over `bytes` including its checksum field:
/// 0 when the stored checksum is correct.
pub(crate) fn checksum(bytes: &[u8]) -> u16 {
    !ones_complement_sum(bytes)
}

#[cfg(test)]
mod test {
    use super::super::testutil::*;
    use crate::pcap::LinkType;
    use rstest::rstest;

    fn fixed(mut packet: Vec<u8>) -> Vec<u8> {
        packet[10] = 0;
        packet[11] = 0;
        let sum = super::checksum(&packet[..20]);
        packet[10..12].copy_from_slice(&sum.to_be_bytes());
        packet
    }

    #[rstest]
    #[case::checksum(|p: &mut Vec<u8>| p[11] ^= 0xff, false, "ip.bad_checksum")]
    #[case::ttl(|p: &mut Vec<u8>| p[8] = 0, true, "ip.ttl_zero")]
    #[case::protocol(|p: &mut Vec<u8>| p[9] = 200, true, "ip.unknown_protocol")]
    #[case::hop_by_hop(|p: &mut Vec<u8>| p[9] = 0, true, "ip.extension_header_protocol")]
    #[case::ipv6_fragment(|p: &mut Vec<u8>| p[9] = 44, true, "ip.extension_header_protocol")]
    #[case::total_length(|p: &mut Vec<u8>| p[3] = p[3].wrapping_add(10), true, "ip.bad_total_length")]
    #[case::short_total(|p: &mut Vec<u8>| { p[2] = 0; p[3] = 12 }, true, "ip.bad_total_length")]
    #[case::version(|p: &mut Vec<u8>| p[0] = 0x55, true, "ip.bad_version")]
    #[case::ihl(|p: &mut Vec<u8>| p[0] = 0x44, true, "ip.bad_ihl")]
    #[case::source(|p: &mut Vec<u8>| p[12] = 239, true, "ip.bad_source")]
    #[case::reserved(|p: &mut Vec<u8>| p[6] |= 0x80, true, "ip.reserved_flag")]
    fn test_single_fault(#[case] mutate: fn(&mut Vec<u8>), #[case] refix: bool, #[case] check: &str) {
        let mut packet = icmp_echo(A, B, false, 1, 1);
        mutate(&mut packet);
        if refix {
            packet = fixed(packet);
        }
        let found = ids(&check_frames(LinkType::Raw, &[packet]));
        // The lone echo request is also unanswered.
        let found: Vec<_> = found.into_iter().filter(|(_, c)| c != "icmp.unanswered").collect();
        assert_eq!(found, vec![(1, check.to_string())]);
    }

    #[test]
    fn test_checksum_helper() {
        let packet = icmp_echo(A, B, false, 1, 1);
        assert_eq!(super::checksum(&packet[..20]), 0);
    }

    /// The checks at `warn` and above, and the notes, under a checksum rule.
    fn under(rule: super::Checksums, frames: &[Vec<u8>]) -> (Vec<(u64, String)>, Vec<String>) {
        let limits = super::super::Limits { checksums: rule, ..Default::default() };
        let findings = check_frames_with(limits, LinkType::Raw, frames);
        let notes = findings
            .iter()
            .filter(|f| f.severity == crate::finding::Severity::Note)
            .map(|f| f.check.to_string())
            .collect();
        (ids(&findings), notes)
    }

    #[test]
    fn test_offload_rules() {
        use super::Checksums::{Off, OffloadAware, Strict};
        // The pseudo-header partial sum in a TCP checksum (Linux
        // CHECKSUM_PARTIAL), and 0.
        let mut partial = tcp(A, B, 40000, 80, "S", 1, 0, b"");
        let sum = super::pseudo_header_sum(A, B, 6, 20);
        partial[20 + 16..20 + 18].copy_from_slice(&sum.to_be_bytes());
        let mut zero = tcp(A, B, 40001, 80, "S", 1, 0, b"");
        zero[20 + 16..20 + 18].copy_from_slice(&[0, 0]);
        // Any other wrong value.
        let mut wrong = tcp(A, B, 40002, 80, "S", 1, 0, b"");
        wrong[20 + 17] ^= 0x40;
        // IPv4 total length 0 (segmentation offload), header checksum
        // recomputed; and an IPv4 header checksum of 0.
        let mut length = fixed({
            let mut p = tcp(A, B, 40003, 80, "S", 1, 0, b"");
            p[2] = 0;
            p[3] = 0;
            p
        });
        length.truncate(40);
        let mut ip_zero = tcp(A, B, 40004, 80, "S", 1, 0, b"");
        ip_zero[10] = 0;
        ip_zero[11] = 0;
        let frames = [partial, zero, wrong, length, ip_zero];
        let (errors, notes) = under(OffloadAware, &frames);
        let errors: Vec<_> = errors.into_iter().filter(|(_, c)| c != "tcp.not_closed").collect();
        assert_eq!(errors, vec![(3, "tcp.bad_checksum".to_string())]);
        for id in ["tcp.checksum_offload", "ip.length_offload", "ip.checksum_offload"] {
            assert!(notes.iter().any(|n| n == id), "{id} in {notes:?}");
        }
        assert_eq!(notes.iter().filter(|n| *n == "tcp.checksum_offload").count(), 2);
        let (errors, _) = under(Strict, &frames);
        let strict: Vec<&str> = errors.iter().map(|(_, c)| c.as_str()).collect();
        assert_eq!(
            strict,
            ["tcp.bad_checksum", "tcp.bad_checksum", "tcp.bad_checksum", "ip.bad_total_length", "ip.bad_checksum"]
        );
        let (errors, _) = under(Off, &frames);
        assert_eq!(errors, vec![(4, "ip.bad_total_length".to_string())]);
    }
}
