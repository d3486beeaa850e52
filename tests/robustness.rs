//! Arbitrary bytes never make the reader, the dissector or the checks panic:
//! as frames under every link type, as whole capture files, and as
//! mutations of correct traffic.

use harness::analyze::{file_report, own_pass_from};
use harness::check::Limits;
use harness::pcap::{LinkType, Reader, Writer};
use proptest::prelude::*;

fn capture(linktype: LinkType, frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut writer = Writer::new(&mut out, linktype).unwrap();
    for (i, frame) in frames.iter().enumerate() {
        writer.write(i as u64 * 1_000, frame).unwrap();
    }
    writer.into_inner();
    out
}

fn check_bytes(bytes: &[u8]) {
    if let Ok(reader) = Reader::new(bytes, "fuzz") {
        let pass = own_pass_from(reader, Limits { max_flows: 16 });
        let report = file_report("fuzz", pass, None);
        for finding in &report.findings {
            let info = harness::check::catalog::lookup(&finding.check).unwrap_or_else(|| panic!("{} is not in the catalogue", finding.check));
            assert_eq!(info.protocol, finding.protocol, "{}", finding.check);
            assert!(info.severities.contains(&finding.severity), "{} {}", finding.check, finding.severity);
        }
        for row in report.protocols.values() {
            assert_eq!(row.packets, row.correct + row.malformed + row.non_existent);
            assert!((0.0..=1.0).contains(&row.success_rate));
        }
    }
}

fn linktype() -> impl Strategy<Value = LinkType> {
    prop_oneof![
        Just(LinkType::Ethernet),
        Just(LinkType::Raw),
        Just(LinkType::Ipv4),
        Just(LinkType::LinuxSll),
        Just(LinkType::Ieee802154NoFcs),
        Just(LinkType::Unknown(147)),
    ]
}

/// Frames that start like real headers, so the fuzzing reaches deep layers.
fn frame() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..120),
        (proptest::collection::vec(any::<u8>(), 0..100), 0u8..3).prop_map(|(mut tail, kind)| {
            let mut head = match kind {
                // IPv4, IHL 5, protocol TCP/UDP/ICMP.
                0 => vec![0x45, 0, 0, 60, 0, 0, 0x40, 0, 64, [6u8, 17, 1][tail.len() % 3], 0, 0, 10, 0, 0, 1, 10, 0, 0, 2],
                // Ethernet + IPv4 UDP to port 53.
                1 => {
                    let mut h = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0, 0x45, 0, 0, 60, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
                    h.extend_from_slice(&[0x9c, 0x40, 0, 53, 0, 40, 0, 0]);
                    h
                }
                // Ethernet + ARP.
                _ => vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 8, 6, 0, 1, 8, 0, 6, 4, 0, 1],
            };
            head.append(&mut tail);
            head
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_frames_never_panic(linktype in linktype(), frames in proptest::collection::vec(frame(), 0..24)) {
        check_bytes(&capture(linktype, &frames));
    }

    #[test]
    fn arbitrary_files_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        check_bytes(&bytes);
    }

    #[test]
    fn mutated_captures_never_panic(frames in proptest::collection::vec(frame(), 1..8), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..16)) {
        let mut bytes = capture(LinkType::Ethernet, &frames);
        for (at, value) in flips {
            let index = at % bytes.len();
            bytes[index] = value;
        }
        check_bytes(&bytes);
    }
}

#[test]
fn pcapng_magic_with_garbage() {
    let mut bytes = vec![0x0a, 0x0d, 0x0d, 0x0a, 0xff, 0xff, 0xff, 0x7f, 0x4d, 0x3c, 0x2b, 0x1a];
    bytes.extend_from_slice(&[0; 64]);
    assert!(Reader::new(bytes.as_slice(), "x").is_err());
}
