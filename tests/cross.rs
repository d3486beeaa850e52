//! The cross-protocol checks on the paper's published day-in-the-life
//! capture (`../shared/corpus/.../ADayIn/`): it tells one consistent story
//! (ARP for the gateway, a DNS answer, the TCP connection and HTTP `Host`
//! to the answered server), so none of them fires; its twin with the DNS
//! answer changed is caught by the own checks, while tshark's Expert Info
//! does not change at all.

mod common;

use std::path::Path;

use harness::analyze::{file_report, own_pass};
use harness::check::Limits;
use harness::finding::Finding;
use harness::pcap::{LinkType, Reader, Writer};

/// The new checks' ids.
const CROSS: [&str; 4] =
    ["host.mac_conflict", "arp.missing_resolution", "flow.unresolved_destination", "dns.unused_answer"];

const DAY: &str =
    "pcaps/GPT-on-the-wire/gpt-3.5/ADayIn/pcap/ADayInTheLifeHTTP_Conversations_generated_3_5_turbo-instruct_conv.pcap";

/// The answer the capture's DNS response gives (frame 4), and the twin's.
const ANSWER: [u8; 4] = [185, 199, 108, 153];
const CHANGED: [u8; 4] = [185, 199, 108, 152];

fn findings(path: &Path) -> Vec<Finding> {
    file_report("day", own_pass(path, Limits::default()).unwrap(), None).findings
}

fn cross(findings: &[Finding]) -> Vec<(u64, &str, harness::finding::Severity)> {
    findings.iter().filter(|f| CROSS.contains(&&*f.check)).map(|f| (f.frame, &*f.check, f.severity)).collect()
}

/// Copy `from` to `to` with the DNS response's A record changed to
/// [`CHANGED`] (UDP checksum recomputed, so nothing else differs).
fn twin(from: &Path, to: &Path) {
    let mut reader = Reader::open(from).unwrap();
    let mut out = Vec::new();
    let mut writer = Writer::new(&mut out, LinkType::Ethernet).unwrap();
    let mut changed = 0;
    while let Some(frame) = reader.next_frame() {
        let frame = frame.unwrap();
        let mut data = frame.data.to_vec();
        let sliced = etherparse::SlicedPacket::from_ethernet(frame.data).unwrap();
        if let (Some(etherparse::NetSlice::Ipv4(ip)), Some(etherparse::TransportSlice::Udp(udp))) =
            (&sliced.net, &sliced.transport)
        {
            let payload = udp.payload();
            let at = payload.len() - 4;
            if udp.source_port() == 53 && payload[at..] == ANSWER {
                let (header, ip_header) = (udp.to_header(), ip.header().to_header());
                let mut payload = payload.to_vec();
                payload[at..].copy_from_slice(&CHANGED);
                let checksum = header.calc_checksum_ipv4(&ip_header, &payload).unwrap();
                let end = data.len();
                data[end - 4..].copy_from_slice(&CHANGED);
                let udp_start = end - payload.len() - 8;
                data[udp_start + 6..udp_start + 8].copy_from_slice(&checksum.to_be_bytes());
                changed += 1;
            }
        }
        writer.write(frame.ts, &data).unwrap();
    }
    writer.into_inner();
    assert_eq!(changed, 1, "the capture has one DNS answer");
    std::fs::write(to, out).unwrap();
}

#[test]
fn published_day_in_the_life_is_consistent_and_its_twin_is_not() {
    let Some(day) = common::shared(DAY) else { return };
    let original = findings(&day);
    assert_eq!(cross(&original), vec![], "{original:?}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("twin.pcap");
    twin(&day, &path);
    let changed = findings(&path);
    use harness::finding::Severity::{Note, Warn};
    // The request (frame 8) goes to the server the answer (frame 4) no
    // longer names; the answer is never used.
    assert_eq!(
        cross(&changed),
        vec![(4, "dns.unused_answer", Note), (8, "flow.unresolved_destination", Warn)],
        "{changed:?}"
    );
    // Nothing else changes: the twin is as right as the original packet by
    // packet.
    let others = |f: &[Finding]| f.iter().filter(|f| !CROSS.contains(&&*f.check)).cloned().collect::<Vec<_>>();
    assert_eq!(others(&changed), others(&original));
    // tshark reads both alike: no Expert Info item looks across protocols.
    if let Some(tshark) = common::tshark() {
        let (a, b) = (tshark.expert(&day).unwrap(), tshark.expert(&path).unwrap());
        let items = |f: &[Finding]| f.iter().map(|f| (f.frame, f.check.to_string(), f.severity)).collect::<Vec<_>>();
        assert_eq!(items(&b.1), items(&a.1));
        assert_eq!((b.0.warnings, b.0.errors), (a.0.warnings, a.0.errors));
    }
}
