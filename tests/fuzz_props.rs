//! The fuzz targets' entry points under proptest, so `cargo test` runs a
//! small fuzzing budget on every change: arbitrary bytes (and structured
//! near-valid inputs) into the capture reader, the own-check pipeline per
//! link type, the DNS and HTTP parsers, the JSON-dialect builder and answer
//! extraction. None may panic, hang or allocate without bound.
//!
//! The entry points are the very functions libFuzzer drives
//! (`fuzz/src/lib.rs`, see `ci/fuzz`). `PROPTEST_CASES` sets the cases per
//! property; the default keeps this file under about ten seconds in debug.

#[path = "../fuzz/src/lib.rs"]
mod entries;

use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// Cases per property: `PROPTEST_CASES`, else a debug-friendly default.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

/// A DNS message that is mostly well formed: a header with small counts,
/// then labels, pointers and fixed fields in random order.
fn dnsish() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        "[a-z]{1,8}".prop_map(|label| {
            let mut v = vec![label.len() as u8];
            v.extend_from_slice(label.as_bytes());
            v
        }),
        Just(vec![0u8]),
        (0u16..64).prop_map(|to| (0xc000 | to).to_be_bytes().to_vec()),
        (any::<u16>(), any::<u16>()).prop_map(|(t, c)| [t.to_be_bytes(), c.to_be_bytes()].concat()),
        (any::<u32>(), 0u16..40)
            .prop_map(|(ttl, len)| [ttl.to_be_bytes().to_vec(), len.to_be_bytes().to_vec()].concat()),
        bytes(6),
    ];
    (any::<u16>(), any::<u16>(), [0u16..4, 0u16..4, 0u16..3, 0u16..3], proptest::collection::vec(piece, 0..24))
        .prop_map(|(id, flags, counts, pieces)| {
            let mut v = [id.to_be_bytes(), flags.to_be_bytes()].concat();
            for count in counts {
                v.extend_from_slice(&count.to_be_bytes());
            }
            v.extend(pieces.concat());
            v
        })
}

/// A JSON value of the dialect's shape: packet objects with known keys and
/// values of any JSON type.
fn jsonish() -> impl Strategy<Value = String> {
    const KEYS: [&str; 40] = [
        "timestamp",
        "protocol",
        "src_ip",
        "dst_ip",
        "src_port",
        "dst_port",
        "flags",
        "seq",
        "ack",
        "payload",
        "payload_hex",
        "src_mac",
        "dst_mac",
        "ttl",
        "ip_id",
        "tos",
        "window",
        "options",
        "mss",
        "wscale",
        "icmp",
        "type",
        "code",
        "id",
        "arp",
        "op",
        "sender_ip",
        "target_ip",
        "dns",
        "questions",
        "answers",
        "name",
        "data",
        "rcode",
        "qdcount",
        "http",
        "method",
        "path",
        "headers",
        "status",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        prop_oneof![
            Just("TCP"),
            Just("UDP"),
            Just("ICMP"),
            Just("ARP"),
            Just("DNS"),
            Just("HTTP"),
            Just("SYN-ACK"),
            Just("10.0.0.1"),
            Just("::1"),
            Just("02:00:00:00:00:01"),
            Just("example.com"),
            Just("GET"),
            Just("A"),
            Just("0a0b"),
        ]
        .prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
    ];
    let value = leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((0..KEYS.len(), inner), 0..6).prop_map(|fields| {
                Value::Object(fields.into_iter().map(|(k, v)| (KEYS[k].to_string(), v)).collect::<Map<_, _>>())
            }),
        ]
    });
    let packet = (0.0f64..10.0, 0usize..6, proptest::collection::vec((0..KEYS.len(), value), 0..10)).prop_map(
        |(ts, proto, fields)| {
            let mut object = Map::new();
            object.insert("timestamp".into(), json!(ts));
            object.insert("protocol".into(), json!(["TCP", "UDP", "ICMP", "ARP", "DNS", "HTTP"][proto]));
            for (k, v) in fields {
                object.insert(KEYS[k].to_string(), v);
            }
            Value::Object(object)
        },
    );
    proptest::collection::vec(packet, 0..5).prop_map(|list| Value::Array(list).to_string())
}

/// An LLM-NTG summary: rows with the known keys; most rows are valid (info
/// texts from the builder's vocabulary), some hold values of any shape.
fn ntgish() -> impl Strategy<Value = String> {
    const INFOS: [&str; 14] = [
        "Link Status",
        "ZCL: Read Attributes, Seq: 7",
        "ZCL: Read Attributes Response, Seq: 7",
        "ZCL: Write Attributes, Seq: 300",
        "ZCL: Default Response, Seq: 1",
        "ZCL Groups: Get Group Membership",
        "ZCL Scenes: Get Scene Membership Response",
        "ZCL OTA: Query Next Image Request",
        "ZCL: Unknown Command: 0x7f",
        "Network Status, 0x1de6: Many-to-One Route Failure",
        "Route Request, Dst: 0x0000, Src: 0x1de6",
        "Route Reply, Responder: 0xd7a7, Originator: 0x0000",
        "Node Descriptor Response, Nwk Addr: 0x1de6, Rev: 22, Status: Success",
        "Simple Descriptor Request, Nwk Addr: 0x1de6, Endpoint: 1",
    ];
    const SOURCES: [&str; 4] = ["0x0000", "0x1de6", "0xd7a7", "1de6"];
    const DESTINATIONS: [&str; 5] = ["0x0000", "0x1de6", "0xd7a7", "Broadcast", "0xfffc"];
    let object = |fields: Vec<(&str, Value)>| {
        Value::Object(fields.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.to_string(), v)).collect())
    };
    let valid = (
        0.0f64..700.0,
        proptest::sample::select(&SOURCES[..]),
        proptest::sample::select(&DESTINATIONS[..]),
        proptest::option::of(0u32..130),
        proptest::sample::select(&INFOS[..]),
    )
        .prop_map(move |(time, src, dst, length, info)| {
            object(vec![
                ("time", time.into()),
                ("src", src.into()),
                ("dst", dst.into()),
                ("protocol", "ZigBee".into()),
                ("length", length.map_or(Value::Null, Value::from)),
                ("info", info.into()),
            ])
        });
    let any_value = prop_oneof![
        Just(Value::Null),
        any::<i64>().prop_map(Value::from),
        (-1e3f64..1e3).prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
        "[0-9a-fx]{0,6}".prop_map(Value::from),
    ];
    let wild = proptest::collection::vec(any_value, 6).prop_map(move |values| {
        object(["time", "src", "dst", "protocol", "length", "info"].into_iter().zip(values).collect())
    });
    let row = prop_oneof![6 => valid, 1 => wild];
    (proptest::collection::vec(row, 0..8), 0u8..3).prop_map(|(rows, form)| {
        let list = Value::Array(rows).to_string();
        match form {
            0 => list,
            1 => Value::from(format!("```json\n{list}\n```")).to_string(),
            _ => format!("Here is the traffic:\n```json\n{list}\n```\n"),
        }
    })
}

/// A model answer: prose and fenced blocks in any order.
fn answerish() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        "\\PC{0,40}".prop_map(|s| format!("{s}\n")),
        (prop_oneof![Just(""), Just("json"), Just("python"), Just("py"), Just("text")], "\\PC{0,40}", any::<bool>())
            .prop_map(|(lang, body, close)| format!("```{lang}\n{body}\n{}", if close { "```\n" } else { "" })),
        Just("from scapy.all import *\n".to_string()),
        Just("pkt\\_1 = IP()/TCP()\n".to_string()),
        Just("[{\"timestamp\": 0.1, \"protocol\": \"ARP\"}]\n".to_string()),
    ];
    proptest::collection::vec(part, 0..8).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn pcap_reader_arbitrary_bytes(data in bytes(600)) {
        entries::pcap_reader(&data);
    }

    #[test]
    fn pcap_reader_pcap_and_pcapng_magic(magic in 0usize..3, rest in bytes(400)) {
        let head: &[u8] = match magic {
            0 => &[0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0],
            1 => &[0x4d, 0x3c, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 101, 0, 0, 0],
            _ => &[0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 28, 0, 0, 0],
        };
        entries::pcap_reader(&[head, &rest].concat());
    }

    #[test]
    fn own_checks_arbitrary_frames(data in bytes(1500)) {
        entries::own_checks(&data);
    }

    #[test]
    fn dns_arbitrary_bytes(data in bytes(600)) {
        entries::dns(&data);
    }

    #[test]
    fn dns_near_valid(data in dnsish()) {
        entries::dns(&data);
    }

    #[test]
    fn http_arbitrary_bytes(data in bytes(400)) {
        entries::http(&data);
    }

    #[test]
    fn http_near_valid(
        start in prop_oneof![Just("GET / HTTP/1.1"), Just("HTTP/1.1 200 OK"), Just("POST /x HTTP/1.0"), Just("HTTP/1.1 999")],
        headers in proptest::collection::vec(("[A-Za-z-]{0,16}", "[ -~]{0,20}"), 0..6),
        body in bytes(40),
    ) {
        let mut message = format!("{start}\r\n");
        for (name, value) in headers {
            message.push_str(&format!("{name}: {value}\r\n"));
        }
        message.push_str("\r\n");
        let mut data = message.into_bytes();
        data.extend(body);
        entries::http(&data);
    }

    #[test]
    fn json_build_arbitrary_bytes(data in bytes(300)) {
        entries::json_build(&data);
    }

    #[test]
    fn json_build_dialect_shaped(text in jsonish()) {
        entries::json_build(text.as_bytes());
    }

    #[test]
    fn ntg_build_arbitrary_bytes(data in bytes(300)) {
        entries::ntg_build(&data);
    }

    #[test]
    fn ntg_build_summary_shaped(text in ntgish()) {
        entries::ntg_build(text.as_bytes());
    }

    #[test]
    fn extract_arbitrary_bytes(data in bytes(300)) {
        entries::extract_answer(&data);
    }

    #[test]
    fn extract_answer_shaped(text in answerish()) {
        entries::extract_answer(text.as_bytes());
    }
}
