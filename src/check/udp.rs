//! UDP checks (RFC 768): length field and checksum.

use super::{Checksums, Sink};
use crate::dissect::{Frame, Net, Transport};
use crate::finding::{Protocol, Severity};

/// UDP header length.
const HEADER_LEN: usize = 8;

/// Check the UDP header of one frame.
pub(crate) fn check(frame: &Frame<'_>, checksums: Checksums, sink: &mut Sink) {
    let (Transport::Udp(udp), Net::Ipv4 { slice, .. }) = (&frame.transport, &frame.net) else { return };
    let length = usize::from(udp.length());
    let ip_payload = slice.payload().payload;
    let ip_payload_len = if slice.header().total_len() == 0 && checksums == Checksums::OffloadAware {
        // Left for offload to fill in (noted by the IP check): the bytes
        // present are the payload.
        ip_payload.len()
    } else {
        usize::from(slice.header().total_len()).saturating_sub(slice.header().slice().len())
    };
    let captured = ip_payload.len() >= ip_payload_len;
    if length < HEADER_LEN {
        sink.report(
            Severity::Error,
            "udp.bad_length",
            Protocol::Udp,
            format!("length {length} is below the 8-byte header"),
        );
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
    if stored == 0 || !captured || checksums == Checksums::Off {
        // RFC 768: zero means "no checksum"; a snap-length cut hides the rest.
        return;
    }
    let header = slice.header();
    let datagram = &ip_payload[..length];
    // The pseudo-header sum over the datagram as it is (RFC 768).
    let Ok(expected) =
        udp.to_header().calc_checksum_ipv4_raw(header.source(), header.destination(), &datagram[HEADER_LEN..])
    else {
        return;
    };
    if expected != stored {
        if checksums == Checksums::OffloadAware
            && super::ip::offloaded(stored, header.source(), header.destination(), 17, length)
        {
            sink.report(
                Severity::Note,
                "udp.checksum_offload",
                Protocol::Udp,
                format!("checksum 0x{stored:04x} is the pseudo-header partial sum: left for checksum offload to complete (expected 0x{expected:04x})"),
            );
            return;
        }
        sink.report(
            Severity::Error,
            "udp.bad_checksum",
            Protocol::Udp,
            format!("checksum 0x{stored:04x}, expected 0x{expected:04x}"),
        );
    }
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
