//! UDP checks (RFC 768): length field and checksum.

use super::ip::ones_complement_sum;
use super::Sink;
use crate::dissect::{Frame, Net, Transport};
use crate::finding::{Protocol, Severity};

/// UDP header length.
const HEADER_LEN: usize = 8;

/// Check the UDP header of one frame.
pub(crate) fn check(frame: &Frame<'_>, sink: &mut Sink) {
    let (Transport::Udp(udp), Net::Ipv4 { slice, .. }) = (&frame.transport, &frame.net) else { return };
    let length = usize::from(udp.length());
    let ip_payload = slice.payload().payload;
    let ip_payload_len = usize::from(slice.header().total_len()).saturating_sub(slice.header().slice().len());
    let captured = ip_payload.len() >= ip_payload_len;
    if length < HEADER_LEN {
        sink.report(Severity::Error, "udp.bad_length", Protocol::Udp, format!("length {length} is below the 8-byte header"));
        return;
    }
    if length > ip_payload_len {
        sink.report(
            Severity::Error,
            "udp.bad_length",
            Protocol::Udp,
            format!("length {length} exceeds the IP payload of {ip_payload_len} bytes"),
        );
        return;
    }
    if length < ip_payload_len {
        sink.report(
            Severity::Warn,
            "udp.bad_length",
            Protocol::Udp,
            format!("length {length} leaves {} bytes of the IP payload outside the datagram", ip_payload_len - length),
        );
    }
    let stored = udp.checksum();
    if stored == 0 || !captured {
        // RFC 768: zero means "no checksum"; a snap-length cut hides the rest.
        return;
    }
    let header = slice.header();
    let datagram = &ip_payload[..length];
    let (src, dst) = (header.source(), header.destination());
    let mut pseudo = [0u8; 12];
    pseudo[..4].copy_from_slice(&src);
    pseudo[4..8].copy_from_slice(&dst);
    pseudo[9] = 17;
    pseudo[10..12].copy_from_slice(&(length as u16).to_be_bytes());
    let sum = fold(u32::from(ones_complement_sum(&pseudo)) + u32::from(ones_complement_sum(datagram)));
    if sum != 0xffff {
        // Recompute what it should have been, for the message.
        let mut without = datagram.to_vec();
        without[6] = 0;
        without[7] = 0;
        let mut expected = !fold(u32::from(ones_complement_sum(&pseudo)) + u32::from(ones_complement_sum(&without)));
        if expected == 0 {
            expected = 0xffff;
        }
        sink.report(
            Severity::Error,
            "udp.bad_checksum",
            Protocol::Udp,
            format!("checksum 0x{stored:04x}, expected 0x{expected:04x}"),
        );
    }
}

fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

#[cfg(test)]
mod test {
    use super::super::testutil::*;
    use crate::pcap::LinkType;

    #[test]
    fn test_clean() {
        let frames = vec![udp(A, B, 1000, 2000, b"hello"), udp(A, B, 1000, 2000, b"")];
        assert!(ids(&check_frames(LinkType::Raw, &frames)).is_empty());
    }

    #[test]
    fn test_bad_checksum() {
        let mut packet = udp(A, B, 1000, 2000, b"hello");
        packet[27] ^= 0x01;
        assert_eq!(ids(&check_frames(LinkType::Raw, &[packet])), vec![(1, "udp.bad_checksum".to_string())]);
    }

    #[test]
    fn test_zero_checksum_is_none() {
        let mut packet = udp(A, B, 1000, 2000, b"hello");
        packet[26] = 0;
        packet[27] = 0;
        assert!(ids(&check_frames(LinkType::Raw, &[packet])).is_empty());
    }

    #[test]
    fn test_bad_length() {
        let mut packet = udp(A, B, 1000, 2000, b"hello");
        packet[25] += 4;
        assert_eq!(ids(&check_frames(LinkType::Raw, &[packet])), vec![(1, "udp.bad_length".to_string())]);
        let mut packet = udp(A, B, 1000, 2000, b"hello");
        packet[25] = 4;
        assert_eq!(ids(&check_frames(LinkType::Raw, &[packet])), vec![(1, "udp.bad_length".to_string())]);
    }
}
