//! JSON-dialect traces generated correct by construction give no finding at
//! `warn` or above; a single mutation (SEQ or ACK shifted, a DNS count or id
//! changed, an ARP MAC swapped, a timestamp moved back) gives the matching
//! finding on the frame that carries it.

use harness::analyze::{file_report, own_pass_from};
use harness::check::Limits;
use harness::exec::json::build;
use harness::finding::Severity;
use harness::pcap::{Reader, Writer};
use proptest::prelude::*;
use serde_json::{json, Value};

/// One conversation, correct by construction, as JSON packets.
#[derive(Debug, Clone)]
enum Conversation {
    Http { client: u8, port: u16, isn_c: u32, isn_s: u32, path_len: usize, body_len: usize },
    Dns { client: u8, port: u16, id: u16, name_len: usize },
    Icmp { client: u8, id: u16, seq: u16 },
    Arp { client: u8 },
}

fn ip(host: u8) -> String {
    format!("10.0.0.{host}")
}

fn mac(host: u8) -> String {
    format!("02:00:00:00:00:{host:02x}")
}

const SERVER: u8 = 200;

impl Conversation {
    /// Return the packets, timestamps from `t0` in 1 ms steps.
    fn packets(&self, t0: f64) -> Vec<Value> {
        let mut t = t0;
        let mut next = || {
            t += 0.001;
            (t * 1000.0).round() / 1000.0
        };
        match *self {
            Conversation::Http { client, port, isn_c, isn_s, path_len, body_len } => {
                let request = format!("GET /{} HTTP/1.1\r\nHost: example.com\r\n\r\n", "a".repeat(path_len));
                let body = "b".repeat(body_len);
                let response = format!("HTTP/1.1 200 OK\r\nContent-Length: {body_len}\r\n\r\n{body}");
                let (q, r) = (request.len() as u32, response.len() as u32);
                let c = |seq: u32| seq;
                let seg = |t: f64, from_client: bool, flags: &str, seq: u32, ack: u32, payload: &str| {
                    let (src, dst, sport, dport) = if from_client {
                        (ip(client), ip(SERVER), port, 80)
                    } else {
                        (ip(SERVER), ip(client), 80, port)
                    };
                    json!({"timestamp": t, "protocol": "TCP", "src_ip": src, "dst_ip": dst, "src_port": sport, "dst_port": dport,
                           "flags": flags, "seq": seq, "ack": ack, "payload": payload})
                };
                let (a, b) = (isn_c, isn_s);
                vec![
                    seg(next(), true, "SYN", a, 0, ""),
                    seg(next(), false, "SYN-ACK", b, c(a.wrapping_add(1)), ""),
                    seg(next(), true, "ACK", a.wrapping_add(1), b.wrapping_add(1), ""),
                    seg(next(), true, "PSH-ACK", a.wrapping_add(1), b.wrapping_add(1), &request),
                    seg(next(), false, "PSH-ACK", b.wrapping_add(1), a.wrapping_add(1 + q), &response),
                    seg(next(), true, "FIN-ACK", a.wrapping_add(1 + q), b.wrapping_add(1 + r), ""),
                    seg(next(), false, "FIN-ACK", b.wrapping_add(1 + r), a.wrapping_add(2 + q), ""),
                    seg(next(), true, "ACK", a.wrapping_add(2 + q), b.wrapping_add(2 + r), ""),
                ]
            }
            Conversation::Dns { client, port, id, name_len } => {
                let name = format!("{}.example.com", "x".repeat(name_len));
                let question = json!([{"name": name, "type": "A"}]);
                vec![
                    json!({"timestamp": next(), "protocol": "DNS", "src_ip": ip(client), "dst_ip": ip(SERVER), "src_port": port, "dst_port": 53,
                           "dns": {"id": id, "questions": question}}),
                    json!({"timestamp": next(), "protocol": "DNS", "src_ip": ip(SERVER), "dst_ip": ip(client), "src_port": 53, "dst_port": port,
                           "dns": {"id": id, "response": true, "questions": question,
                                   "answers": [{"name": name, "type": "A", "ttl": 60, "data": "192.0.2.7"}]}}),
                ]
            }
            Conversation::Icmp { client, id, seq } => vec![
                json!({"timestamp": next(), "protocol": "ICMP", "src_ip": ip(client), "dst_ip": ip(SERVER), "icmp": {"type": 8, "id": id, "seq": seq}, "payload": "ping"}),
                json!({"timestamp": next(), "protocol": "ICMP", "src_ip": ip(SERVER), "dst_ip": ip(client), "icmp": {"type": 0, "id": id, "seq": seq}, "payload": "ping"}),
            ],
            Conversation::Arp { client } => vec![
                json!({"timestamp": next(), "protocol": "ARP", "arp": {"op": "request", "sender_mac": mac(client), "sender_ip": ip(client), "target_ip": ip(SERVER)}}),
                json!({"timestamp": next(), "protocol": "ARP", "arp": {"op": "reply", "sender_mac": mac(SERVER), "sender_ip": ip(SERVER),
                                                                      "target_mac": mac(client), "target_ip": ip(client)}}),
            ],
        }
    }
}

/// Conversations between distinct clients, so that they never collide.
fn conversations() -> impl Strategy<Value = Vec<Conversation>> {
    let one = prop_oneof![
        (1024u16..5000, any::<u32>(), any::<u32>(), 0usize..40, 0usize..300).prop_map(
            |(port, isn_c, isn_s, path_len, body_len)| Conversation::Http {
                client: 0,
                port,
                isn_c,
                isn_s,
                path_len,
                body_len
            }
        ),
        (1024u16..5000, any::<u16>(), 1usize..30).prop_map(|(port, id, name_len)| Conversation::Dns {
            client: 0,
            port,
            id,
            name_len
        }),
        (any::<u16>(), any::<u16>()).prop_map(|(id, seq)| Conversation::Icmp { client: 0, id, seq }),
        Just(Conversation::Arp { client: 0 }),
    ];
    proptest::collection::vec(one, 1..6).prop_map(|mut list| {
        for (i, conversation) in list.iter_mut().enumerate() {
            let host = i as u8 + 1;
            match conversation {
                Conversation::Http { client, .. }
                | Conversation::Dns { client, .. }
                | Conversation::Icmp { client, .. }
                | Conversation::Arp { client } => *client = host,
            }
        }
        list
    })
}

fn trace(list: &[Conversation]) -> Vec<Value> {
    let mut packets = Vec::new();
    for (i, conversation) in list.iter().enumerate() {
        packets.extend(conversation.packets(i as f64));
    }
    packets
}

/// Build, write, check; return (frame, check) at warn or above.
fn findings(packets: &[Value]) -> Vec<(u64, String)> {
    let built = build(&Value::Array(packets.to_vec()).to_string()).expect("valid trace");
    let mut bytes = Vec::new();
    let mut writer = Writer::new(&mut bytes, built.linktype).unwrap();
    for packet in &built.packets {
        writer.write(packet.ts, &packet.data).unwrap();
    }
    writer.into_inner();
    let pass = own_pass_from(Reader::new(bytes.as_slice(), "trace").unwrap(), Limits::default());
    let report = file_report("trace", pass, None);
    report.findings.iter().filter(|f| f.severity >= Severity::Warn).map(|f| (f.frame, f.check.to_string())).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn correct_by_construction_gives_no_findings(list in conversations()) {
        prop_assert_eq!(findings(&trace(&list)), vec![]);
    }

    #[test]
    fn single_mutation_gives_the_matching_finding(list in conversations(), pick in any::<prop::sample::Index>(), delta in 1u32..1000) {
        let mut packets = trace(&list);
        // Find the first packet of the picked conversation.
        let which = pick.index(list.len());
        let start: usize = list[..which].iter().map(|c| c.packets(0.0).len()).sum();
        let (index, check) = match &list[which] {
            Conversation::Http { .. } => {
                // Shift the SEQ of the response (frame start+5) forward: bytes skipped.
                let at = start + 4;
                let seq = packets[at]["seq"].as_u64().unwrap() as u32;
                packets[at]["seq"] = json!(seq.wrapping_add(delta));
                (at, "tcp.seq_gap")
            }
            Conversation::Dns { .. } => {
                // The response declares one answer more than it holds.
                let at = start + 1;
                packets[at]["dns"]["ancount"] = json!(2);
                (at, "dns.count_mismatch")
            }
            Conversation::Icmp { id, .. } => {
                // The reply answers another identifier.
                let at = start + 1;
                packets[at]["icmp"]["id"] = json!(id.wrapping_add(delta as u16 | 1));
                (at, "icmp.unmatched_echo")
            }
            Conversation::Arp { .. } => {
                // The reply's sender MAC differs from its Ethernet source.
                let at = start + 1;
                packets[at]["src_mac"] = json!("02:00:00:00:ee:ee");
                (at, "arp.mac_mismatch")
            }
        };
        let found = findings(&packets);
        prop_assert!(found.contains(&(index as u64 + 1, check.to_string())), "expected {} on frame {}, got {:?}", check, index + 1, found);
    }

    #[test]
    fn ack_shift_gives_bad_ack(isn_c in any::<u32>(), isn_s in any::<u32>(), delta in 1u32..1000) {
        let conversation = Conversation::Http { client: 1, port: 40000, isn_c, isn_s, path_len: 3, body_len: 5 };
        let mut packets = conversation.packets(0.0);
        // The server acknowledges more than the request it got.
        let ack = packets[4]["ack"].as_u64().unwrap() as u32;
        packets[4]["ack"] = json!(ack.wrapping_add(delta));
        prop_assert!(findings(&packets).contains(&(5, "tcp.bad_ack".to_string())));
    }

    #[test]
    fn dns_id_change_gives_id_mismatch(id in any::<u16>(), delta in 1u16..) {
        let conversation = Conversation::Dns { client: 1, port: 40000, id, name_len: 4 };
        let mut packets = conversation.packets(0.0);
        packets[1]["dns"]["id"] = json!(id.wrapping_add(delta));
        prop_assert!(findings(&packets).contains(&(2, "dns.id_mismatch".to_string())));
    }
}
