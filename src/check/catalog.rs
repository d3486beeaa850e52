//! The catalogue of own checks: every id the checks can report, with the
//! layer it concerns and the severities it is reported with. The Wireshark
//! plug-in registers one Expert Info item per entry and severity, and the
//! unit tests fail on any finding missing from it.

use crate::finding::{Protocol, Severity};

/// One own check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckInfo {
    /// Stable dotted id.
    pub id: &'static str,
    /// The layer its findings are attached to.
    pub protocol: Protocol,
    /// The severities it reports (most checks have one).
    pub severities: &'static [Severity],
    /// What it means, in a few words.
    pub summary: &'static str,
}

use Protocol::{Arp, Dns, Eth, Frame, Http, Icmp, Ip, Tcp, Udp, ZbeeAps, ZbeeNwk, Zcl, Zdp, Zigbee};
use Severity::{Error as E, Note as N, Warn as W};

macro_rules! checks {
    ($($id:literal $protocol:ident [$($severity:ident),+] $summary:literal;)*) => {
        /// Every own check, grouped by layer.
        pub const CATALOG: &[CheckInfo] = &[$(CheckInfo { id: $id, protocol: $protocol, severities: &[$($severity),+], summary: $summary }),*];
    };
}

checks! {
    "link.raw_ip_in_ethernet" Eth [E] "raw IPv4 packet under an Ethernet link type";
    "link.ethernet_in_raw_ip" Eth [E] "Ethernet frame under a raw-IP link type";
    "link.truncated" Eth [E] "frame shorter than its link header";
    "link.unsupported" Frame [N] "link type recognised but not dissected";
    "eth.group_source_mac" Eth [E] "group or broadcast source MAC";
    "eth.ethertype_mismatch" Eth [E] "EtherType contradicts the payload";
    "eth.unknown_ethertype" Eth [N] "EtherType not dissected";
    "arp.bad_opcode" Arp [E] "opcode is neither request nor reply";
    "arp.bad_sizes" Arp [E] "hardware or protocol address size wrong";
    "arp.truncated" Arp [E] "addresses cut short at the declared sizes";
    "arp.bad_address" Arp [E] "class D/E or broadcast sender or target address";
    "arp.mac_mismatch" Arp [E] "sender MAC differs from the Ethernet source";
    "arp.reply_mismatch" Arp [E] "reply addressed to another MAC than the requester";
    "arp.unsolicited_reply" Arp [W] "reply answering no request";
    "arp.unanswered" Arp [W] "request without reply";
    "arp.duplicate_address" Arp [W] "one IP address claimed by two MACs";
    "ip.bad_version" Ip [E] "IP version is not 4";
    "ip.bad_ihl" Ip [E] "header length below 5 words";
    "ip.truncated" Ip [E] "IPv4 header cut short";
    "ip.bad_total_length" Ip [E] "total length contradicts the bytes present";
    "ip.bad_checksum" Ip [E] "header checksum wrong";
    "ip.checksum_offload" Ip [N] "header checksum 0, left for offload (offload-aware checksums)";
    "ip.length_offload" Ip [N] "total length 0, left for segmentation offload (offload-aware checksums)";
    "ip.unknown_protocol" Ip [E] "unassigned protocol number";
    "ip.extension_header_protocol" Ip [E] "IPv6 extension header number as the IPv4 protocol";
    "ip.ttl_zero" Ip [E] "TTL 0";
    "ip.bad_source" Ip [E] "multicast, broadcast or reserved source address";
    "ip.reserved_flag" Ip [W] "reserved flag bit set";
    "ip.fragment" Ip [N] "fragment (upper layers checked on the first only)";
    "udp.bad_length" Udp [W, E] "length field contradicts the IP payload";
    "udp.bad_checksum" Udp [E] "checksum wrong";
    "udp.checksum_offload" Udp [N] "checksum is the pseudo-header partial sum, left for offload (offload-aware checksums)";
    "tcp.bad_header_length" Tcp [E] "data offset impossible";
    "tcp.bad_flags" Tcp [E] "impossible flag combination";
    "tcp.bad_checksum" Tcp [E] "checksum wrong";
    "tcp.checksum_offload" Tcp [N] "checksum 0 or the pseudo-header partial sum, left for offload (offload-aware checksums)";
    "tcp.no_handshake" Tcp [W] "flow without a three-way handshake";
    "tcp.bad_ack" Tcp [E] "acknowledges bytes never sent, or a wrong handshake ACK";
    "tcp.bad_handshake" Tcp [E] "malformed three-way handshake";
    "tcp.data_before_handshake" Tcp [E] "data before the handshake completed";
    "tcp.syn_data" Tcp [W] "data on a SYN or SYN-ACK (RFC 9293 §3.5, TCP Fast Open)";
    "tcp.missing_ack" Tcp [E] "segment after the handshake without ACK";
    "tcp.seq_gap" Tcp [E, W] "sequence numbers skip bytes (a warning in a flow picked up mid-stream)";
    "tcp.acked_unseen" Tcp [W] "ACK of bytes sent before the capture began (flow picked up mid-stream)";
    "tcp.retransmission" Tcp [N] "retransmitted or overlapping data";
    "tcp.fin_accounting" Tcp [E, W] "FIN not counted as one sequence number (a warning when no ACK ever covers the FIN)";
    "tcp.after_close" Tcp [E] "segment after RST or close";
    "tcp.port_reuse" Tcp [W] "new session on a reused 4-tuple";
    "tcp.not_closed" Tcp [N] "flow never closed";
    "dns.bad_length" Dns [W] "TCP length prefix contradicts the message";
    "dns.count_mismatch" Dns [E] "header counts contradict the records present";
    "dns.malformed" Dns [E] "name or record does not parse";
    "dns.qr_direction" Dns [E] "QR bit contradicts the direction";
    "dns.bad_rcode" Dns [W] "rcode in a query, or unassigned";
    "dns.query_with_answers" Dns [W] "query declaring answers";
    "dns.id_mismatch" Dns [E] "response id matches no query on the flow";
    "dns.question_mismatch" Dns [E] "response does not echo the question";
    "dns.unsolicited_response" Dns [W] "response on a flow with no query";
    "dns.unanswered" Dns [W] "query without response";
    "dns.opt_misplaced" Dns [E] "OPT record outside the additional section, or more than one (RFC 6891 §6.1.1)";
    "dns.soa_misplaced" Dns [W] "SOA of a negative answer outside the authority section (RFC 2308 §3)";
    "icmp.bad_type_code" Icmp [E] "unassigned type, or code invalid for the type";
    "icmp.deprecated_type" Icmp [W] "type deprecated by RFC 6918";
    "icmp.bad_checksum" Icmp [E] "checksum wrong";
    "icmp.bad_quoted" Icmp [E] "error message without the quoted header and 8 data bytes";
    "icmp.unmatched_echo" Icmp [W] "reply answering no request";
    "icmp.unanswered" Icmp [W] "request without reply";
    "icmp.echo_data_mismatch" Icmp [W] "echo reply data differs from the request";
    "http.malformed" Http [E] "start line or header syntax wrong";
    "http.bad_content_length" Http [E] "body longer than Content-Length";
    "http.missing_host" Http [E] "HTTP/1.1 request without Host";
    "http.missing_location" Http [W] "redirect without Location";
    "http.not_http" Http [W] "non-HTTP payload on an HTTP port";
    "http.partial_header" Http [N] "header block continues in another segment";
    "http.response_without_request" Http [W] "response answering no request";
    "http.incomplete_body" Http [W] "body shorter than Content-Length";
    "http.unanswered" Http [W] "request without response";
    "time.not_monotonic" Frame [W] "timestamp going backwards";
    "summary.mismatch" Frame [E] "packet differs from what the summary asked for";
    "host.mac_conflict" Eth [E] "on-link address carried with another MAC than ARP bound it to";
    "arp.missing_resolution" Arp [W] "first frame to a next hop that no earlier ARP resolved";
    "flow.unresolved_destination" Ip [W] "connection to a name's server going to an address no DNS answer gave";
    "dns.unused_answer" Dns [N] "DNS answer bypassed by the connection to its name";
    "zigbee.malformed" Zigbee [E] "IEEE 802.15.4 MAC header cut short or reserved addressing mode";
    "zigbee.bad_fcs" Zigbee [E] "IEEE 802.15.4 FCS wrong";
    "zigbee.addressing" Zigbee [E] "frame control contradicts the addresses";
    "zigbee.ack_broadcast" Zigbee [W] "acknowledgment requested on a broadcast";
    "zigbee.encrypted" Zigbee [N] "MAC security: payload not checked";
    "zbee_nwk.malformed" ZbeeNwk [E] "NWK header cut short";
    "zbee_nwk.bad_version" ZbeeNwk [W] "NWK protocol version not 1-3";
    "zbee_nwk.encrypted" ZbeeNwk [N] "NWK security: payload not checked";
    "zbee_nwk.broadcast_mismatch" ZbeeNwk [W] "MAC and NWK disagree on broadcast";
    "zbee_nwk.seq_reuse" ZbeeNwk [N] "NWK sequence number reused for another frame";
    "zbee_nwk.bad_command" ZbeeNwk [E] "NWK command unassigned or its payload wrong";
    "zbee_nwk.link_status" ZbeeNwk [W] "Link Status not one-hop router broadcast, or entries unsorted";
    "zbee_aps.malformed" ZbeeAps [E] "APS header cut short or reserved frame type";
    "zcl.malformed" Zcl [E] "ZCL header or payload does not fit the command";
    "zcl.unmatched_response" Zcl [W] "ZCL response answering no request of its peer";
    "zcl.unanswered" Zcl [W] "ZCL request without response";
    "zdp.malformed" Zdp [E] "ZDP payload cut short";
    "zdp.unmatched_response" Zdp [W] "ZDP response answering no request of its peer";
    "zdp.unanswered" Zdp [W] "ZDP request without response";
}

/// Return the catalogue entry of `id`.
pub fn lookup(id: &str) -> Option<&'static CheckInfo> {
    CATALOG.iter().find(|info| info.id == id)
}

/// Return the catalogue as a Markdown table (id, layer, severities,
/// meaning), in catalogue order: the table README.md shows between its
/// `<!-- generated:checks -->` markers (`tests/readme.rs` keeps them equal).
pub fn markdown() -> String {
    let mut out = String::from("| id | layer | severity | what |\n|---|---|---|---|\n");
    for info in CATALOG {
        let severities: Vec<&str> = info.severities.iter().map(|s| s.as_str()).collect();
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            info.id,
            info.protocol,
            severities.join(", "),
            info.summary
        ));
    }
    out
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_markdown() {
        let table = markdown();
        assert_eq!(table.lines().count(), CATALOG.len() + 2);
        assert!(
            table.contains("| `summary.mismatch` | FRAME | error | packet differs from what the summary asked for |"),
            "{table}"
        );
        assert!(table.contains("| `udp.bad_length` | UDP | warn, error |"), "{table}");
    }

    #[test]
    fn test_ids_unique_and_well_formed() {
        let mut ids: Vec<&str> = CATALOG.iter().map(|c| c.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), CATALOG.len());
        for id in ids {
            assert!(
                id.split('.').count() == 2 && id.chars().all(|c| c.is_ascii_lowercase() || c == '.' || c == '_'),
                "{id}"
            );
        }
        assert_eq!(lookup("tcp.bad_ack").map(|c| c.protocol), Some(Protocol::Tcp));
        assert!(lookup("nope").is_none());
    }
}
