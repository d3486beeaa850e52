//! Arbitrary bytes never make the reader, the dissector or the checks panic:
//! as frames under every link type, as whole capture files (PCAP, and pcapng
//! with several interfaces), and as mutations of correct traffic.
//!
//! The invariants are those of the fuzz targets (`fuzz/src/lib.rs`, included
//! here); `PROPTEST_CASES` sets the cases per property (default 512).

#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod entries;

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
    entries::pcap_reader(bytes);
}

/// Cases per property: `PROPTEST_CASES`, else 512.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512);
    ProptestConfig { cases, ..ProptestConfig::default() }
}

/// A pcapng block: type, body padded to 32 bits, lengths around it.
fn block(kind: u32, body: &[u8]) -> Vec<u8> {
    let padded = body.len().div_ceil(4) * 4;
    let total = (12 + padded) as u32;
    let mut out = Vec::with_capacity(total as usize);
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&total.to_le_bytes());
    out.extend_from_slice(body);
    out.resize(8 + padded, 0);
    out.extend_from_slice(&total.to_le_bytes());
    out
}

/// A little-endian pcapng file: a section header, interfaces of the given
/// link types (the second with `if_tsresol` 9), then enhanced packet blocks
/// on any interface number (possibly one that does not exist).
fn pcapng(linktypes: &[u16], packets: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let mut out =
        block(0x0A0D_0D0A, &[0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    for (i, linktype) in linktypes.iter().enumerate() {
        let mut body = [linktype.to_le_bytes(), [0, 0]].concat();
        body.extend_from_slice(&65535u32.to_le_bytes());
        if i == 1 {
            body.extend_from_slice(&[9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0]);
        }
        out.extend(block(1, &body));
    }
    for (n, (interface, data)) in packets.iter().enumerate() {
        let mut body = interface.to_le_bytes().to_vec();
        body.extend_from_slice(&0u32.to_le_bytes());
        body.extend_from_slice(&(n as u32 * 1000).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
        out.extend(block(6, &body));
    }
    out
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
                0 => vec![
                    0x45,
                    0,
                    0,
                    60,
                    0,
                    0,
                    0x40,
                    0,
                    64,
                    [6u8, 17, 1][tail.len() % 3],
                    0,
                    0,
                    10,
                    0,
                    0,
                    1,
                    10,
                    0,
                    0,
                    2,
                ],
                // Ethernet + IPv4 UDP to port 53.
                1 => {
                    let mut h = vec![
                        2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0, 0x45, 0, 0, 60, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0,
                        1, 10, 0, 0, 2,
                    ];
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
    #![proptest_config(config())]

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

    #[test]
    fn pcapng_interfaces_never_panic(
        linktypes in proptest::collection::vec(prop_oneof![Just(1u16), Just(101), Just(228), Just(113), Just(195), Just(230), any::<u16>()], 0..4),
        packets in proptest::collection::vec((0u32..5, frame()), 0..12),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
    ) {
        let mut bytes = pcapng(&linktypes, &packets);
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

#[test]
fn pcapng_generator_reads_back() {
    // The generator above must write real pcapng, or its property tests
    // would only ever exercise the error path.
    let bytes = pcapng(&[1, 101], &[(0, vec![0xaa; 20]), (1, vec![0x45; 21])]);
    let mut reader = Reader::new(bytes.as_slice(), "gen").unwrap();
    let mut seen = Vec::new();
    while let Some(frame) = reader.next_frame() {
        let frame = frame.unwrap();
        seen.push((frame.linktype, frame.data.len(), frame.ts));
    }
    // The second interface counts in nanoseconds (if_tsresol 9).
    assert_eq!(seen, vec![(LinkType::Ethernet, 20, 0), (LinkType::Raw, 21, 1000)]);
}
