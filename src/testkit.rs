//! Packet builders with correct lengths and checksums, shared by the unit
//! tests, the integration tests and the benchmarks. Not a stable API.

use etherparse::{PacketBuilder, TcpHeader};

/// Build a raw IPv4/TCP packet. `flags` uses letters: S, A, F, R, P, U; the
/// acknowledgment number is written only with A.
#[allow(clippy::too_many_arguments)]
pub fn tcp(
    src: [u8; 4],
    dst: [u8; 4],
    sport: u16,
    dport: u16,
    flags: &str,
    seq: u32,
    ack: u32,
    payload: &[u8],
) -> Vec<u8> {
    let mut header = TcpHeader::new(sport, dport, seq, 64240);
    header.syn = flags.contains('S');
    header.fin = flags.contains('F');
    header.rst = flags.contains('R');
    header.psh = flags.contains('P');
    header.urg = flags.contains('U');
    if flags.contains('A') {
        header.ack = true;
        header.acknowledgment_number = ack;
    }
    let mut out = Vec::with_capacity(40 + payload.len());
    PacketBuilder::ipv4(src, dst, 64)
        .tcp_header(header)
        .write(&mut out, payload)
        .expect("writing to a Vec cannot fail");
    out
}

/// Build a raw IPv4/UDP packet.
pub fn udp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(28 + payload.len());
    PacketBuilder::ipv4(src, dst, 64).udp(sport, dport).write(&mut out, payload).expect("writing to a Vec cannot fail");
    out
}

/// Build a raw IPv4 ICMP echo request (`reply == false`) or reply carrying
/// `abcdefgh`.
pub fn icmp_echo(src: [u8; 4], dst: [u8; 4], reply: bool, id: u16, seq: u16) -> Vec<u8> {
    let builder = PacketBuilder::ipv4(src, dst, 64);
    let builder = if reply { builder.icmpv4_echo_reply(id, seq) } else { builder.icmpv4_echo_request(id, seq) };
    let mut out = Vec::with_capacity(36);
    builder.write(&mut out, b"abcdefgh").expect("writing to a Vec cannot fail");
    out
}

/// Wrap `payload` in an Ethernet II header.
pub fn ethernet(src: [u8; 6], dst: [u8; 6], ether_type: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(14 + payload.len());
    out.extend_from_slice(&dst);
    out.extend_from_slice(&src);
    out.extend_from_slice(&ether_type.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Build a correct HTTP-over-TCP conversation as raw IPv4 packets: handshake,
/// request, ACK, response, ACK, FIN teardown started by the client (11
/// packets). The server listens on port 80; sequence numbers wrap.
pub fn http_conversation(
    client: [u8; 4],
    port: u16,
    server: [u8; 4],
    isn_c: u32,
    isn_s: u32,
    request: &[u8],
    response: &[u8],
) -> Vec<Vec<u8>> {
    let (c, s) = (isn_c, isn_s);
    let (q, r) = (request.len() as u32, response.len() as u32);
    let up = |flags: &str, seq: u32, ack: u32, payload: &[u8]| tcp(client, server, port, 80, flags, seq, ack, payload);
    let down =
        |flags: &str, seq: u32, ack: u32, payload: &[u8]| tcp(server, client, 80, port, flags, seq, ack, payload);
    vec![
        up("S", c, 0, b""),
        down("SA", s, c.wrapping_add(1), b""),
        up("A", c.wrapping_add(1), s.wrapping_add(1), b""),
        up("PA", c.wrapping_add(1), s.wrapping_add(1), request),
        down("A", s.wrapping_add(1), c.wrapping_add(1 + q), b""),
        down("PA", s.wrapping_add(1), c.wrapping_add(1 + q), response),
        up("A", c.wrapping_add(1 + q), s.wrapping_add(1 + r), b""),
        up("FA", c.wrapping_add(1 + q), s.wrapping_add(1 + r), b""),
        down("A", s.wrapping_add(1 + r), c.wrapping_add(2 + q), b""),
        down("FA", s.wrapping_add(1 + r), c.wrapping_add(2 + q), b""),
        up("A", c.wrapping_add(2 + q), s.wrapping_add(2 + r), b""),
    ]
}
