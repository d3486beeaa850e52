//! The harness's own ZigBee checks, run by `harness check` on IEEE 802.15.4
//! captures: headers that parse, frame control against addressing,
//! broadcast addressing across MAC and NWK, Link Status rules, ZCL payloads
//! that fit their command, direction bits, and ZCL/ZDP responses that answer
//! a request of their peer with the same transaction sequence number.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::Sink;
use crate::dissect::{ieee802154_payload, Frame, Link};
use crate::finding::{Protocol, Severity};
use crate::pcap::LinkType;
use crate::wire::zigbee::{self as wire, aps_type, mac_type, nwk_command, nwk_type, Address, MAC_BROADCAST};
use crate::wire::zigbee::{decode, fcs, zcl_global, App, Decoded, CLUSTER_GROUPS, CLUSTER_OTA, CLUSTER_SCENES};

/// Most request/response peer pairs tracked (memory bound).
const MAX_PAIRS: usize = 4096;
/// Most pending requests remembered per pair.
const MAX_PENDING: usize = 256;

/// What identifies a request/response exchange: client, server, cluster
/// (or ZDP request cluster) and request command.
type Exchange = (u16, u16, u16, u8);

/// ZigBee checks with their per-capture state.
#[derive(Debug, Default)]
pub struct ZigbeeCheck {
    /// Pending requests per exchange: (frame, tsn).
    pending: BTreeMap<Exchange, VecDeque<(u64, u8)>>,
    /// Exchanges in which a request was seen.
    requested: BTreeSet<Exchange>,
    /// Exchanges in which a response was seen.
    answered: BTreeSet<Exchange>,
    /// Last NWK sequence number and payload hash per originator.
    last_nwk: BTreeMap<u16, (u8, u64)>,
}

impl ZigbeeCheck {
    /// Check one frame (ignored unless its link type is IEEE 802.15.4).
    pub fn check(&mut self, frame: &Frame<'_>, sink: &mut Sink) {
        if !matches!(frame.link, Link::Ieee802154 { .. }) {
            return;
        }
        if frame.linktype == LinkType::Ieee802154WithFcs && frame.is_whole() {
            let data = frame.data;
            if data.len() >= 2 {
                let (body, tail) = data.split_at(data.len() - 2);
                let stated = u16::from_le_bytes([tail[0], tail[1]]);
                let computed = fcs(body);
                if stated != computed {
                    sink.report(
                        Severity::Error,
                        "zigbee.bad_fcs",
                        Protocol::Zigbee,
                        format!("FCS 0x{stated:04x}, computed 0x{computed:04x}"),
                    );
                }
            }
        }
        let decoded = match decode(ieee802154_payload(frame)) {
            Ok(decoded) => decoded,
            Err(error) => {
                sink.report(Severity::Error, "zigbee.malformed", Protocol::Zigbee, error.to_string());
                return;
            }
        };
        self.check_mac(&decoded, sink);
        self.check_nwk(&decoded, sink);
        if let Some(Err(error)) = &decoded.aps {
            sink.report(Severity::Error, "zbee_aps.malformed", Protocol::ZbeeAps, error.to_string());
        }
        match &decoded.app {
            App::Zcl(Err(error)) => sink.report(Severity::Error, "zcl.malformed", Protocol::Zcl, error.to_string()),
            App::Zdp(Err(error)) => sink.report(Severity::Error, "zdp.malformed", Protocol::Zdp, error.to_string()),
            App::Zcl(Ok((zcl, payload))) => {
                if let Some(problem) = zcl_payload_problem(&decoded, zcl, payload) {
                    sink.report(Severity::Error, "zcl.malformed", Protocol::Zcl, problem);
                }
            }
            App::Zdp(Ok(_)) | App::None => {}
        }
        self.check_exchange(frame.number, &decoded, sink);
    }

    fn check_mac(&mut self, decoded: &Decoded<'_>, sink: &mut Sink) {
        let mac = &decoded.mac;
        if mac.security {
            sink.report(
                Severity::Note,
                "zigbee.encrypted",
                Protocol::Zigbee,
                "MAC security enabled: the payload is not checked".into(),
            );
        }
        if mac.frame_type == mac_type::DATA && (mac.dst == Address::Absent && mac.src == Address::Absent) {
            sink.report(
                Severity::Error,
                "zigbee.addressing",
                Protocol::Zigbee,
                "data frame with neither destination nor source address".into(),
            );
        }
        if mac.pan_compression && (mac.dst == Address::Absent || mac.src == Address::Absent) && mac.version < 2 {
            sink.report(
                Severity::Error,
                "zigbee.addressing",
                Protocol::Zigbee,
                "PAN ID compression set without both addresses (IEEE 802.15.4-2006 §7.2.1.1.5)".into(),
            );
        }
        if mac.src == Address::Short(MAC_BROADCAST) {
            sink.report(
                Severity::Error,
                "zigbee.addressing",
                Protocol::Zigbee,
                "broadcast source address 0xffff".into(),
            );
        }
        if mac.ack_request && mac.dst == Address::Short(MAC_BROADCAST) {
            sink.report(
                Severity::Warn,
                "zigbee.ack_broadcast",
                Protocol::Zigbee,
                "acknowledgment requested on a broadcast frame (IEEE 802.15.4 §7.2.1.1.4: must be 0)".into(),
            );
        }
    }

    fn check_nwk(&mut self, decoded: &Decoded<'_>, sink: &mut Sink) {
        let Some(nwk) = &decoded.nwk else { return };
        let (nwk, payload) = match nwk {
            Ok(ok) => ok,
            Err(error) => {
                sink.report(Severity::Error, "zbee_nwk.malformed", Protocol::ZbeeNwk, error.to_string());
                return;
            }
        };
        if !(1..=3).contains(&nwk.version) {
            sink.report(
                Severity::Warn,
                "zbee_nwk.bad_version",
                Protocol::ZbeeNwk,
                format!("protocol version {} (ZigBee uses 1–3)", nwk.version),
            );
        }
        if nwk.security {
            sink.report(
                Severity::Note,
                "zbee_nwk.encrypted",
                Protocol::ZbeeNwk,
                "NWK security enabled: the payload is not checked".into(),
            );
        }
        let mac_broadcast = decoded.mac.dst == Address::Short(MAC_BROADCAST);
        let nwk_broadcast = wire::is_nwk_broadcast(nwk.dst);
        if nwk_broadcast && !mac_broadcast {
            sink.report(
                Severity::Warn,
                "zbee_nwk.broadcast_mismatch",
                Protocol::ZbeeNwk,
                format!("NWK broadcast to 0x{:04x} sent to MAC unicast {}", nwk.dst, decoded.mac.dst),
            );
        } else if mac_broadcast && !nwk_broadcast && nwk.frame_type == nwk_type::DATA {
            sink.report(
                Severity::Warn,
                "zbee_nwk.broadcast_mismatch",
                Protocol::ZbeeNwk,
                format!("NWK unicast to 0x{:04x} sent to the MAC broadcast address", nwk.dst),
            );
        }
        let hash =
            payload.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3));
        if let Some((seq, previous)) = self.last_nwk.insert(nwk.src, (nwk.seq, hash)) {
            if seq == nwk.seq && previous != hash {
                sink.report(
                    Severity::Note,
                    "zbee_nwk.seq_reuse",
                    Protocol::ZbeeNwk,
                    format!("0x{:04x} reuses NWK sequence number {} for a different frame", nwk.src, nwk.seq),
                );
            }
        }
        if nwk.frame_type != nwk_type::COMMAND || nwk.security {
            return;
        }
        let Some((&command, body)) = payload.split_first() else {
            sink.report(
                Severity::Error,
                "zbee_nwk.bad_command",
                Protocol::ZbeeNwk,
                "command frame without a command identifier".into(),
            );
            return;
        };
        let problem = match command {
            nwk_command::LINK_STATUS => {
                let count = body.first().map(|o| usize::from(o & 0x1f));
                match count {
                    None => Some("Link Status without options".to_string()),
                    Some(count) if body.len() != 1 + 3 * count => Some(format!(
                        "Link Status announces {count} entries but holds {} bytes of them",
                        body.len() - 1
                    )),
                    Some(count) => {
                        self.check_link_status(nwk, decoded, &body[1..1 + 3 * count], sink);
                        None
                    }
                }
            }
            nwk_command::NETWORK_STATUS if body.len() < 3 => {
                Some(format!("Network Status with {} bytes (3 needed)", body.len()))
            }
            nwk_command::ROUTE_REQUEST if body.len() < 5 => {
                Some(format!("Route Request with {} bytes (5 needed)", body.len()))
            }
            nwk_command::ROUTE_REPLY if body.len() < 7 => {
                Some(format!("Route Reply with {} bytes (7 needed)", body.len()))
            }
            0x01..=0x0d => None,
            other => Some(format!("unassigned command identifier 0x{other:02x}")),
        };
        if let Some(problem) = problem {
            sink.report(Severity::Error, "zbee_nwk.bad_command", Protocol::ZbeeNwk, problem);
        }
    }

    fn check_link_status(&self, nwk: &wire::NwkRepr, decoded: &Decoded<'_>, entries: &[u8], sink: &mut Sink) {
        let mut problems = Vec::new();
        if nwk.dst != 0xfffc {
            problems.push(format!("sent to 0x{:04x}, not to all routers (0xfffc)", nwk.dst));
        }
        if nwk.radius != 1 {
            problems.push(format!("radius {} (Link Status travels one hop: 1)", nwk.radius));
        }
        if decoded.mac.dst != Address::Short(MAC_BROADCAST) {
            problems.push("not a MAC broadcast".to_string());
        }
        let addresses: Vec<u16> = entries.chunks_exact(3).map(|e| u16::from_le_bytes([e[0], e[1]])).collect();
        if addresses.windows(2).any(|w| w[0] >= w[1]) {
            problems.push("entries not in ascending address order (ZigBee §3.4.13.3.2)".to_string());
        }
        if !problems.is_empty() {
            sink.report(
                Severity::Warn,
                "zbee_nwk.link_status",
                Protocol::ZbeeNwk,
                format!("Link Status {}", problems.join("; ")),
            );
        }
    }

    /// Track requests and check that responses answer one.
    fn check_exchange(&mut self, number: u64, decoded: &Decoded<'_>, sink: &mut Sink) {
        let Some((role, exchange_of, tsn, protocol)) = exchange(decoded) else { return };
        let (Some(src), Some(dst)) = decoded.addresses() else { return };
        match role {
            Role::Request => {
                let key = exchange_of(src, dst);
                if self.pending.len() >= MAX_PAIRS && !self.pending.contains_key(&key) {
                    return;
                }
                self.requested.insert(key);
                let queue = self.pending.entry(key).or_default();
                if queue.len() >= MAX_PENDING {
                    queue.pop_front();
                }
                queue.push_back((number, tsn));
            }
            Role::Response => {
                let key = exchange_of(dst, src);
                self.answered.insert(key);
                if !self.requested.contains(&key) {
                    // One-way capture: the requests were not captured.
                    return;
                }
                let queue = self.pending.entry(key).or_default();
                // A response answers the most recent pending request with
                // its sequence number: a repeated sequence number starts a
                // new transaction (a retry, or a counter that wrapped), so
                // an older one is the request left unanswered.
                match queue.iter().rposition(|(_, t)| *t == tsn) {
                    Some(at) => {
                        queue.remove(at);
                    }
                    None => sink.report(
                        Severity::Warn,
                        if protocol == Protocol::Zcl { "zcl.unmatched_response" } else { "zdp.unmatched_response" },
                        protocol,
                        format!("response with sequence number {tsn} answers no pending request from 0x{dst:04x}"),
                    ),
                }
            }
            Role::Other => {}
        }
    }

    /// Report requests left unanswered in exchanges where responses were
    /// seen (a one-way capture is not blamed).
    pub fn finish(&mut self, sink: &mut Sink) {
        for (key, queue) in std::mem::take(&mut self.pending) {
            if !self.answered.contains(&key) {
                continue;
            }
            let (protocol, check) =
                if key.3 == 0xff { (Protocol::Zdp, "zdp.unanswered") } else { (Protocol::Zcl, "zcl.unanswered") };
            for (frame, tsn) in queue {
                sink.report_at(
                    frame,
                    Severity::Warn,
                    check,
                    protocol,
                    format!("request with sequence number {tsn} to 0x{:04x} never answered", key.1),
                );
            }
        }
    }
}

/// Whether an application message is a request or a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Request,
    Response,
    Other,
}

/// Classify a frame as a request or response of an exchange.
#[allow(clippy::type_complexity)]
fn exchange(decoded: &Decoded<'_>) -> Option<(Role, Box<dyn Fn(u16, u16) -> Exchange>, u8, Protocol)> {
    let Some(Ok((aps, _))) = &decoded.aps else { return None };
    if aps.frame_type != aps_type::DATA {
        return None;
    }
    let cluster = aps.cluster?;
    match &decoded.app {
        App::Zdp(Ok((tsn, _))) => {
            let request_cluster = cluster & 0x7fff;
            let role = if cluster & 0x8000 != 0 { Role::Response } else { Role::Request };
            Some((
                role,
                Box::new(move |client, server| (client, server, request_cluster | 0x8000, 0xff)),
                *tsn,
                Protocol::Zdp,
            ))
        }
        App::Zcl(Ok((zcl, _))) => {
            let (role, request) = match (zcl.frame_type, cluster, zcl.command) {
                (0, _, zcl_global::READ_ATTRIBUTES) => (Role::Request, zcl_global::READ_ATTRIBUTES),
                (0, _, zcl_global::READ_ATTRIBUTES_RESPONSE) => (Role::Response, zcl_global::READ_ATTRIBUTES),
                (0, _, zcl_global::WRITE_ATTRIBUTES) => (Role::Request, zcl_global::WRITE_ATTRIBUTES),
                (0, _, zcl_global::WRITE_ATTRIBUTES_RESPONSE) => (Role::Response, zcl_global::WRITE_ATTRIBUTES),
                (1, CLUSTER_GROUPS, 0x02) | (1, CLUSTER_SCENES, 0x06) => {
                    (if zcl.server_to_client { Role::Response } else { Role::Request }, zcl.command)
                }
                (1, CLUSTER_OTA, 0x01) => (Role::Request, 0x01),
                (1, CLUSTER_OTA, 0x02) => (Role::Response, 0x01),
                _ => (Role::Other, 0),
            };
            Some((role, Box::new(move |client, server| (client, server, cluster, request)), zcl.tsn, Protocol::Zcl))
        }
        _ => None,
    }
}

/// Return the size of a ZCL attribute value of `data_type` at the start of
/// `data`, or `None` when the type is unknown or the value cut short.
fn value_len(data_type: u8, data: &[u8]) -> Option<usize> {
    let fixed = match data_type {
        0x08..=0x0f => usize::from(data_type - 0x07),
        0x10 => 1,
        0x18..=0x1f => usize::from(data_type - 0x17),
        0x20..=0x27 => usize::from(data_type - 0x1f),
        0x28..=0x2f => usize::from(data_type - 0x27),
        0x30 => 1,
        0x31 | 0x38 | 0xe8 | 0xe9 => 2,
        0x39 | 0xe0 | 0xe1 | 0xe2 | 0xea => 4,
        0x3a | 0xf0 => 8,
        0xf1 => 16,
        0x41 | 0x42 => return data.first().map(|n| 1 + if *n == 0xff { 0 } else { usize::from(*n) }),
        0x43 | 0x44 => {
            let n = u16::from_le_bytes([*data.first()?, *data.get(1)?]);
            return Some(2 + if n == 0xffff { 0 } else { usize::from(n) });
        }
        _ => return None,
    };
    Some(fixed)
}

/// Describe why a ZCL payload does not fit its command, if it does not.
fn zcl_payload_problem(decoded: &Decoded<'_>, zcl: &wire::ZclRepr, payload: &[u8]) -> Option<String> {
    let cluster = match &decoded.aps {
        Some(Ok((aps, _))) => aps.cluster?,
        _ => return None,
    };
    match (zcl.frame_type, cluster, zcl.command) {
        (0, _, zcl_global::READ_ATTRIBUTES) if payload.len() % 2 != 0 => {
            Some(format!("Read Attributes with {} payload bytes (attribute identifiers are 2 bytes)", payload.len()))
        }
        (0, _, zcl_global::READ_ATTRIBUTES_RESPONSE) => records(payload, true),
        (0, _, zcl_global::WRITE_ATTRIBUTES) => records(payload, false),
        (0, _, zcl_global::WRITE_ATTRIBUTES_RESPONSE) if payload.len() != 1 && payload.len() % 3 != 0 => Some(format!(
            "Write Attributes Response with {} payload bytes (one status, or 3-byte records)",
            payload.len()
        )),
        (0, _, zcl_global::DEFAULT_RESPONSE) if payload.len() != 2 => {
            Some(format!("Default Response with {} payload bytes (2 expected)", payload.len()))
        }
        (1, CLUSTER_GROUPS, 0x02) => {
            let skip = usize::from(zcl.server_to_client);
            let count = usize::from(*payload.get(skip)?);
            let want = skip + 1 + 2 * count;
            (payload.len() != want)
                .then(|| format!("group count {count} needs {want} payload bytes, {} present", payload.len()))
        }
        (1, CLUSTER_SCENES, 0x06) if !zcl.server_to_client && payload.len() != 2 => {
            Some(format!("Get Scene Membership with {} payload bytes (2 expected)", payload.len()))
        }
        (1, CLUSTER_SCENES, 0x06) if zcl.server_to_client => {
            if payload.len() < 4 {
                return Some(format!(
                    "Get Scene Membership Response with {} payload bytes (at least 4)",
                    payload.len()
                ));
            }
            if payload[0] != 0 {
                return None;
            }
            let count = usize::from(*payload.get(4)?);
            (payload.len() != 5 + count)
                .then(|| format!("scene count {count} needs {} payload bytes, {} present", 5 + count, payload.len()))
        }
        _ => None,
    }
}

/// Check attribute records (`with_status`: Read Attributes Response).
fn records(payload: &[u8], with_status: bool) -> Option<String> {
    let mut at = 0;
    while at < payload.len() {
        let rest = &payload[at..];
        let header = if with_status { 3 } else { 2 };
        if rest.len() < header {
            return Some(format!("attribute record cut short at payload byte {at}"));
        }
        if with_status && rest[2] != 0 {
            at += 3;
            continue;
        }
        let Some(&data_type) = rest.get(header) else {
            return Some(format!("attribute record without data type at payload byte {at}"));
        };
        let Some(len) = value_len(data_type, &rest[header + 1..]) else {
            // Unknown or structured type: stop, without blaming.
            return None;
        };
        if rest.len() < header + 1 + len {
            return Some(format!("attribute value of type 0x{data_type:02x} cut short at payload byte {at}"));
        }
        at += header + 1 + len;
    }
    None
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::check::{Checker, Limits};
    use crate::dissect::dissect;
    use crate::exec::ntg::build::{build, Options};
    use crate::exec::ntg::parse;
    use crate::pcap::RawFrame;

    fn findings(linktype: LinkType, frames: &[Vec<u8>]) -> Vec<(u64, String)> {
        let mut checker = Checker::new(Limits::default());
        let mut sink = Sink::new();
        for (i, data) in frames.iter().enumerate() {
            let raw = RawFrame { linktype, ts: i as u64, orig_len: data.len() as u32, data, offset: 0 };
            let mut frame = dissect(i as u64 + 1, &raw);
            checker.check_frame(&mut frame, &mut sink);
        }
        checker.finish(&mut sink);
        sink.into_findings().into_iter().map(|f| (f.frame, f.check.to_string())).collect()
    }

    fn frames(rows: &str) -> Vec<Vec<u8>> {
        let summary = parse(rows).unwrap();
        build(&summary.rows, &Options::default()).unwrap().trace.packets.into_iter().map(|p| p.data).collect()
    }

    const TWO_WAY: &str = r#"[
        {"time": "0", "src": "0x1de6", "dst": "0xfffc", "protocol": "ZigBee", "info": "Link Status"},
        {"time": "1", "src": "0xd7a7", "dst": "0x1de6", "protocol": "ZigBee HA", "info": "ZCL: Read Attributes, Seq: 5"},
        {"time": "2", "src": "0x1de6", "dst": "0xd7a7", "protocol": "ZigBee HA", "info": "ZCL: Read Attributes Response, Seq: 5"},
        {"time": "3", "src": "0xd7a7", "dst": "0x1de6", "protocol": "ZigBee HA", "info": "ZCL Groups: Get Group Membership, Seq: 6"},
        {"time": "4", "src": "0x1de6", "dst": "0xd7a7", "protocol": "ZigBee HA", "info": "ZCL Groups: Get Group Membership Response, Seq: 6"}
    ]"#;

    #[test]
    fn test_built_frames_are_clean() {
        let frames = frames(TWO_WAY);
        assert_eq!(findings(LinkType::Ieee802154NoFcs, &frames), vec![]);
        let raw = RawFrame {
            linktype: LinkType::Ieee802154NoFcs,
            ts: 0,
            orig_len: frames[2].len() as u32,
            data: &frames[2],
            offset: 0,
        };
        let frame = dissect(1, &raw);
        for layer in [Protocol::Zigbee, Protocol::ZbeeNwk, Protocol::ZbeeAps, Protocol::Zcl] {
            assert!(frame.present.contains(layer) && frame.expected.contains(layer), "{layer}");
        }
    }

    #[test]
    fn test_response_with_other_sequence_number() {
        let frames = frames(&TWO_WAY.replace("Read Attributes Response, Seq: 5", "Read Attributes Response, Seq: 9"));
        assert_eq!(
            findings(LinkType::Ieee802154NoFcs, &frames),
            vec![(3, "zcl.unmatched_response".into()), (2, "zcl.unanswered".into())]
        );
    }

    #[test]
    fn test_response_answers_the_latest_request_with_its_number() {
        // Two requests with sequence number 5, one response: the response
        // answers the second (frame 3); the first (frame 2) is unanswered.
        let rows = TWO_WAY.replace(
            r#"{"time": "2", "src": "0x1de6""#,
            r#"{"time": "1.5", "src": "0xd7a7", "dst": "0x1de6", "protocol": "ZigBee HA", "info": "ZCL: Read Attributes, Seq: 5"},
        {"time": "2", "src": "0x1de6""#,
        );
        let frames = frames(&rows);
        assert_eq!(frames.len(), 6);
        assert_eq!(findings(LinkType::Ieee802154NoFcs, &frames), vec![(2, "zcl.unanswered".into())]);
    }

    #[test]
    fn test_one_way_responses_are_not_blamed() {
        let frames = frames(
            r#"[{"time": "2", "src": "0x1de6", "dst": "0xd7a7", "protocol": "ZigBee HA", "info": "ZCL: Read Attributes Response, Seq: 5"}]"#,
        );
        assert_eq!(findings(LinkType::Ieee802154NoFcs, &frames), vec![]);
    }

    #[test]
    fn test_broken_frames() {
        let mut frames = frames(TWO_WAY);
        // Link Status announcing 9 entries, holding 8.
        frames[0][18] = 0x60 | 9;
        // A NWK broadcast sent to a MAC unicast address.
        frames[1][11] = 0xfc;
        frames[1][12] = 0xff;
        // Group count larger than the list.
        let last = frames[4].len() - 9;
        frames[4][last] = 7;
        // A frame cut inside the NWK header.
        frames.push(frames[2][..12].to_vec());
        let got = findings(LinkType::Ieee802154NoFcs, &frames);
        let checks: Vec<(u64, &str)> = got.iter().map(|(f, c)| (*f, c.as_str())).collect();
        assert!(checks.contains(&(1, "zbee_nwk.bad_command")), "{checks:?}");
        assert!(checks.contains(&(2, "zbee_nwk.broadcast_mismatch")), "{checks:?}");
        assert!(checks.contains(&(5, "zcl.malformed")), "{checks:?}");
        assert!(checks.contains(&(6, "zbee_nwk.malformed")), "{checks:?}");
    }

    #[test]
    fn test_fcs() {
        // CRC-16/KERMIT check value.
        assert_eq!(fcs(b"123456789"), 0x2189);
        let mut frame = frames(TWO_WAY)[0].clone();
        frame.extend_from_slice(&fcs(&frame).to_le_bytes());
        assert_eq!(findings(LinkType::Ieee802154WithFcs, &[frame.clone()]), vec![]);
        let end = frame.len() - 1;
        frame[end] ^= 0xff;
        assert_eq!(findings(LinkType::Ieee802154WithFcs, &[frame]), vec![(1, "zigbee.bad_fcs".into())]);
    }
}
