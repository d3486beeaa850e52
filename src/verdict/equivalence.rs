//! Which own checks and which tshark Expert Info items name the same
//! problem: the table the agreement summary pairs findings through
//! ([`crate::verdict::agreement`]).
//!
//! Two findings on the same frame agree only when one row of
//! [`EQUIVALENCES`] lists the own check id and the tshark expert field.
//! Being on the same frame or layer is not enough: tshark's "Malformed
//! Packet" inside an IPv6 hop-by-hop header and a timestamp going backwards
//! are two problems, not one seen twice.
//!
//! The tshark ids are expert fields of tshark 4.0 (`tshark -G fields`, the
//! `FT_NONE` rows, and `_ws.expert` items of the corpus captures). Some
//! pairings were read off real captures rather than guessed from names:
//! tshark's `icmp.resp_not_found` ("No response seen to ICMP request") is
//! put on the request, so it is the own `icmp.unanswered`; tshark says
//! nothing about a reply without a request (`icmp.unmatched_echo`).

/// One problem that both sources can report, with the ids each uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Equivalence {
    /// The problem, in a few words.
    pub problem: &'static str,
    /// Own check ids (see [`crate::check::catalog::CATALOG`]).
    pub own: &'static [&'static str],
    /// tshark expert field ids.
    pub tshark: &'static [&'static str],
}

/// tshark's generic "Malformed Packet (Exception occurred)" item: a
/// dissector ran out of bytes or met an impossible value.
const MALFORMED: &str = "_ws.malformed.expert";

/// Every pairing of own checks with tshark expert items, by problem.
pub const EQUIVALENCES: &[Equivalence] = &[
    Equivalence {
        problem: "frame stored under the wrong link type",
        own: &["link.ethernet_in_raw_ip", "link.raw_ip_in_ethernet"],
        tshark: &[
            "ip.bogus_ip_version",
            "ip.bogus_header_length",
            "ip.bogus_ip_length",
            "ipv6.bogus_ipv6_version",
            "ipv6.plen_exceeds_framing",
            "eth.invalid_lentype.expert",
            "eth.len.past_end",
            MALFORMED,
        ],
    },
    Equivalence { problem: "frame cut short", own: &["link.truncated"], tshark: &[MALFORMED] },
    Equivalence { problem: "group source MAC", own: &["eth.group_source_mac"], tshark: &["eth.src_not_group"] },
    Equivalence {
        problem: "ARP message does not decode",
        own: &["arp.bad_sizes", "arp.truncated", "arp.bad_opcode"],
        tshark: &[MALFORMED],
    },
    Equivalence {
        problem: "one IP address claimed by two MACs",
        own: &["arp.duplicate_address"],
        tshark: &["arp.duplicate-address-detected"],
    },
    Equivalence {
        problem: "IPv4 header does not decode",
        own: &["ip.bad_version", "ip.bad_ihl", "ip.truncated", "ip.bad_total_length"],
        tshark: &["ip.bogus_ip_version", "ip.bogus_header_length", "ip.bogus_ip_length", MALFORMED],
    },
    Equivalence { problem: "IPv4 header checksum", own: &["ip.bad_checksum"], tshark: &["ip.checksum_bad.expert"] },
    Equivalence { problem: "TTL 0", own: &["ip.ttl_zero"], tshark: &["ip.ttl.too_small"] },
    Equivalence {
        problem: "IPv6 extension header as the IPv4 payload",
        own: &["ip.extension_header_protocol"],
        tshark: &["ipv6.hopopts.not_first", "ipv6.opt.invalid_len", "ipv6.opt.header_mismatch", MALFORMED],
    },
    Equivalence {
        problem: "UDP checksum",
        own: &["udp.bad_checksum"],
        tshark: &["udp.checksum.bad", "udp.checksum.zero"],
    },
    Equivalence {
        problem: "UDP length",
        own: &["udp.bad_length"],
        tshark: &["udp.length.bad", "udp.length.bad_zero", MALFORMED],
    },
    Equivalence { problem: "TCP checksum", own: &["tcp.bad_checksum"], tshark: &["tcp.checksum_bad.expert"] },
    Equivalence {
        problem: "TCP header length",
        own: &["tcp.bad_header_length"],
        tshark: &["tcp.bogus_header_length", MALFORMED],
    },
    Equivalence {
        problem: "sequence or acknowledgment numbers that skip bytes",
        own: &["tcp.seq_gap", "tcp.bad_ack", "tcp.fin_accounting", "tcp.acked_unseen"],
        tshark: &["tcp.analysis.lost_segment", "tcp.analysis.ack_lost_segment", "tcp.analysis.out_of_order"],
    },
    Equivalence {
        problem: "retransmitted data",
        own: &["tcp.retransmission"],
        tshark: &[
            "tcp.analysis.retransmission",
            "tcp.analysis.fast_retransmission",
            "tcp.analysis.spurious_retransmission",
        ],
    },
    Equivalence { problem: "reused 4-tuple", own: &["tcp.port_reuse"], tshark: &["tcp.analysis.reused_ports"] },
    Equivalence { problem: "ICMP checksum", own: &["icmp.bad_checksum"], tshark: &["icmp.checksum_bad"] },
    Equivalence {
        problem: "ICMP error message without a valid quoted IPv4 header",
        own: &["icmp.bad_quoted"],
        tshark: &["ip.bogus_ip_version", "ip.bogus_header_length", "ip.bogus_ip_length", MALFORMED],
    },
    Equivalence { problem: "ICMP request without reply", own: &["icmp.unanswered"], tshark: &["icmp.resp_not_found"] },
    Equivalence {
        problem: "DNS message does not decode",
        own: &["dns.malformed", "dns.count_mismatch", "dns.bad_length"],
        tshark: &["dns.extraneous", MALFORMED],
    },
    Equivalence { problem: "HTTP syntax", own: &["http.malformed"], tshark: &["http.bad_header_name", MALFORMED] },
    Equivalence { problem: "IEEE 802.15.4 FCS", own: &["zigbee.bad_fcs"], tshark: &["wpan.fcs.bad"] },
    Equivalence {
        problem: "IEEE 802.15.4 addressing",
        own: &["zigbee.addressing", "zigbee.malformed"],
        tshark: &[
            "wpan.invalid_addressing",
            "wpan.dst_invalid",
            "wpan.src_invalid",
            "wpan.invalid_panid_compression",
            MALFORMED,
        ],
    },
    Equivalence {
        problem: "ZigBee layer does not decode",
        own: &["zbee_nwk.malformed", "zbee_aps.malformed", "zcl.malformed", "zdp.malformed"],
        tshark: &[MALFORMED],
    },
];

/// Return whether own check `own` and tshark expert field `expert` name
/// the same problem (one row of [`EQUIVALENCES`] lists both).
pub fn related(own: &str, expert: &str) -> bool {
    EQUIVALENCES.iter().any(|e| e.own.contains(&own) && e.tshark.contains(&expert))
}

/// Return the table as Markdown (problem, own checks, tshark items): the
/// table README.md shows between its `<!-- generated:agreement -->`
/// markers (`tests/readme.rs` keeps them equal).
pub fn markdown() -> String {
    let ids = |list: &[&str]| list.iter().map(|id| format!("`{id}`")).collect::<Vec<_>>().join(", ");
    let mut out = String::from("| problem | own checks | tshark expert items |\n|---|---|---|\n");
    for e in EQUIVALENCES {
        out.push_str(&format!("| {} | {} | {} |\n", e.problem, ids(e.own), ids(e.tshark)));
    }
    out
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::check::catalog;

    #[test]
    fn test_own_ids_are_catalogued() {
        for e in EQUIVALENCES {
            for id in e.own {
                assert!(catalog::lookup(id).is_some(), "{}: {id} is not an own check", e.problem);
            }
            assert!(!e.tshark.is_empty() && !e.own.is_empty(), "{}", e.problem);
        }
    }

    #[test]
    fn test_related() {
        assert!(related("arp.duplicate_address", "arp.duplicate-address-detected"));
        assert!(related("tcp.bad_ack", "tcp.analysis.ack_lost_segment"));
        assert!(related("dns.malformed", "_ws.malformed.expert"));
        assert!(related("icmp.unanswered", "icmp.resp_not_found"));
        assert!(!related("icmp.unmatched_echo", "icmp.resp_not_found"));
        assert!(!related("time.not_monotonic", "_ws.malformed.expert"));
        assert!(!related("dns.id_mismatch", "_ws.malformed.expert"));
        assert!(!related("eth.group_source_mac", "ip.bogus_ip_version"));
    }
}
