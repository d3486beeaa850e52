//! Reading summary text back into a [`Scenario`].
//!
//! Lenient where the paper's files are (curly quotes, `IP= "…"`, `seq= 147`,
//! unquoted values, trailing spaces, a trailing `OPT` in tshark lines),
//! strict where a value is needed: a missing or unreadable field is an
//! error naming it.

use std::net::Ipv4Addr;
use std::str::FromStr;

use super::*;

/// Why a summary line could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read {protocol} {mode} summary: {what} (in {line:?})")]
pub struct ParseError {
    /// The suite protocol.
    pub protocol: &'static str,
    /// The mode.
    pub mode: &'static str,
    /// What is missing or wrong.
    pub what: String,
    /// The line (cut to 120 characters).
    pub line: String,
}

type Fields = Vec<(String, String)>;

struct Ctx<'a> {
    protocol: SuiteProtocol,
    mode: Mode,
    line: &'a str,
}

impl Ctx<'_> {
    fn err(&self, what: impl Into<String>) -> ParseError {
        ParseError {
            protocol: self.protocol.name(),
            mode: self.mode.name(),
            what: what.into(),
            line: self.line.chars().take(120).collect(),
        }
    }

    fn get<'f>(&self, fields: &'f Fields, part: &str, key: &str) -> Result<&'f str, ParseError> {
        lookup(fields, key).ok_or_else(|| self.err(format!("{part}: no {key}")))
    }

    fn num<T: FromStr>(&self, fields: &Fields, part: &str, key: &str) -> Result<T, ParseError> {
        let v = self.get(fields, part, key)?;
        parse_num(v).ok_or_else(|| self.err(format!("{part}: {key}={v:?} is not a number in range")))
    }

    fn ip(&self, fields: &Fields, part: &str, key: &str) -> Result<Ipv4Addr, ParseError> {
        let v = self.get(fields, part, key)?;
        v.trim().parse().map_err(|_| self.err(format!("{part}: {key}={v:?} is not an IPv4 address")))
    }

    fn mac(&self, fields: &Fields, part: &str, key: &str) -> Result<Mac, ParseError> {
        let v = self.get(fields, part, key)?;
        parse_mac(v).ok_or_else(|| self.err(format!("{part}: {key}={v:?} is not a MAC address")))
    }
}

fn lookup<'f>(fields: &'f Fields, key: &str) -> Option<&'f str> {
    fields.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_str())
}

/// A decimal or `0x` hexadecimal number; `147/37632` (tshark's seq BE/LE)
/// reads as 147.
fn parse_num<T: FromStr>(v: &str) -> Option<T> {
    let v = v.trim().split('/').next()?.trim();
    if let Some(hex) = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        let n = u64::from_str_radix(hex, 16).ok()?;
        return n.to_string().parse().ok();
    }
    v.parse().ok()
}

/// `aa:bb:cc:dd:ee:ff` or with `-`; `Broadcast` is ff:ff:ff:ff:ff:ff.
pub(crate) fn parse_mac(v: &str) -> Option<Mac> {
    let v = v.trim();
    if v.eq_ignore_ascii_case("broadcast") {
        return Some(BROADCAST);
    }
    let mut out = [0u8; 6];
    let mut parts = v.split([':', '-']);
    for byte in &mut out {
        *byte = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// Curly and typographic quotes become `"`.
fn normalise(line: &str) -> String {
    line.replace(['\u{201c}', '\u{201d}', '\u{201e}', '\u{2033}'], "\"").trim().to_string()
}

/// `key=value` and `key: value` pairs of one `//` part, the part's label
/// (`Source`, …) removed. Values are quoted strings (with `\"`, `\\`,
/// `\r`, `\n` escapes) or runs up to a comma or whitespace.
fn fields(part: &str) -> (String, Fields) {
    let part = part.trim();
    let (label, rest) = match part.split_once(':') {
        Some((l, r)) if LABELS.iter().any(|known| known.eq_ignore_ascii_case(l.trim())) => (l.trim().to_string(), r),
        _ => (String::new(), part),
    };
    let chars: Vec<char> = rest.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !(chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
            i += 1;
        }
        let key: String = chars[start..i].iter().collect();
        while i < chars.len() && chars[i] == ' ' {
            i += 1;
        }
        if i >= chars.len() || !(chars[i] == '=' || chars[i] == ':') {
            continue;
        }
        i += 1;
        while i < chars.len() && chars[i] == ' ' {
            i += 1;
        }
        let mut value = String::new();
        if i < chars.len() && (chars[i] == '"' || chars[i] == '\'') {
            let quote = chars[i];
            i += 1;
            while i < chars.len() && chars[i] != quote {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    i += 1;
                    value.push(match chars[i] {
                        'r' => '\r',
                        'n' => '\n',
                        c => c,
                    });
                } else {
                    value.push(chars[i]);
                }
                i += 1;
            }
            i += 1;
        } else {
            while i < chars.len() && chars[i] != ',' && !chars[i].is_whitespace() {
                value.push(chars[i]);
                i += 1;
            }
        }
        out.push((key, unlist(&value)));
    }
    (label, out)
}

/// `['www.cnn.com']` (a Python list printed into the summary, as the
/// fine-tuned experts' prompts did) becomes `www.cnn.com`.
fn unlist(value: &str) -> String {
    match value.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
        Some(inner) => inner.trim().trim_matches(|c| c == '\'' || c == '"').to_string(),
        None => value.to_string(),
    }
}

/// The labels of the parts of a conversation summary.
const LABELS: &[&str] = &["Source", "Destination", "Others", "Wanted", "Client", "Gateway", "Resolver"];

/// The first bare `0x…` token of the `Others:` part (the experts' DNS
/// summaries write the id without `id=`).
fn bare_id(line: &str) -> Option<u16> {
    let others = &line[line.find("Others:")? + "Others:".len()..];
    others.split([' ', ',']).find(|t| t.starts_with("0x") || t.starts_with("0X")).and_then(parse_num)
}

pub(super) fn parse(protocol: SuiteProtocol, mode: Mode, text: &str) -> Result<Scenario, ParseError> {
    let line = normalise(text);
    let cx = Ctx { protocol, mode, line: &line };
    match mode {
        Mode::Conversation => conversation(&cx),
        Mode::Packet => packet(&cx),
    }
}

/// Split at the `//` separators: a `//` with whitespace on either side
/// (`http://…` inside a value is not one).
fn parts(cx: &Ctx<'_>) -> Vec<(String, Fields)> {
    let line = cx.line;
    let bytes = line.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + 1 < bytes.len() {
        let spaced =
            (i > 0 && bytes[i - 1].is_ascii_whitespace()) || bytes.get(i + 2).is_some_and(u8::is_ascii_whitespace);
        if bytes[i] == b'/' && bytes[i + 1] == b'/' && spaced {
            out.push(fields(&line[start..i]));
            start = i + 2;
            i += 2;
        } else {
            i += 1;
        }
    }
    out.push(fields(&line[start..]));
    out
}

fn part<'p>(cx: &Ctx<'_>, parts: &'p [(String, Fields)], label: &str) -> Result<&'p Fields, ParseError> {
    parts
        .iter()
        .find(|(l, _)| l.eq_ignore_ascii_case(label))
        .map(|(_, f)| f)
        .ok_or_else(|| cx.err(format!("no {label}: part")))
}

/// The `Source`, `Destination` and `Others` parts.
fn sdo<'p>(cx: &Ctx<'_>, parts: &'p [(String, Fields)]) -> Result<(&'p Fields, &'p Fields, &'p Fields), ParseError> {
    Ok((part(cx, parts, "Source")?, part(cx, parts, "Destination")?, part(cx, parts, "Others")?))
}

/// `IP=…, port=…, Window: …` of one side of a TCP summary.
fn endpoint(cx: &Ctx<'_>, fields: &Fields, part: &str) -> Result<(Ipv4Addr, u16, u16), ParseError> {
    Ok((cx.ip(fields, part, "IP")?, cx.num(fields, part, "port")?, cx.num(fields, part, "Window")?))
}

fn conversation(cx: &Ctx<'_>) -> Result<Scenario, ParseError> {
    let parts = parts(cx);
    match cx.protocol {
        SuiteProtocol::Zigbee => Err(cx.err("ZigBee suites continue real sample rows; they have no summary lines")),
        SuiteProtocol::Icmp => {
            let (s, d, o) = sdo(cx, &parts)?;
            let kind = lookup(o, "type").unwrap_or("Echo");
            Ok(Scenario::IcmpConversation(IcmpConversation {
                src: cx.ip(s, "Source", "IP")?,
                dst: cx.ip(d, "Destination", "IP")?,
                id: cx.num(o, "Others", "id")?,
                seq: cx.num(o, "Others", "seq")?,
                timestamp: match kind.to_ascii_lowercase().as_str() {
                    "echo" | "ping" => false,
                    "timestamp" => true,
                    other => return Err(cx.err(format!("Others: unknown type={other:?} (Echo or Timestamp)"))),
                },
            }))
        }
        SuiteProtocol::Arp => {
            let (s, d, w) =
                (part(cx, &parts, "Source")?, part(cx, &parts, "Destination")?, part(cx, &parts, "Wanted")?);
            Ok(Scenario::ArpConversation(ArpConversation {
                src_mac: cx.mac(s, "Source", "MAC")?,
                src_ip: cx.ip(s, "Source", "IP")?,
                dst_mac: cx.mac(d, "Destination", "MAC")?,
                target_ip: cx.ip(w, "Wanted", "IP")?,
            }))
        }
        SuiteProtocol::Dns => {
            let (s, d, o) = sdo(cx, &parts)?;
            let client_port = if lookup(s, "port").is_some() { Some(cx.num(s, "Source", "port")?) } else { None };
            Ok(Scenario::DnsConversation(DnsConversation {
                src: cx.ip(s, "Source", "IP")?,
                dst: cx.ip(d, "Destination", "IP")?,
                client_port,
                id: match bare_id(cx.line) {
                    Some(id) if lookup(o, "id").is_none() => id,
                    _ => cx.num(o, "Others", "id")?,
                },
                record: DnsRecord {
                    rtype: lookup(o, "type").unwrap_or("A").to_ascii_uppercase(),
                    name: cx.get(o, "Others", "resource")?.trim_end_matches('.').to_string(),
                    data: cx.get(o, "Others", "response")?.replace('\'', "\""),
                },
            }))
        }
        SuiteProtocol::Http => {
            let (s, d, o) = sdo(cx, &parts)?;
            let code: u16 = cx.num(o, "Others", "Code")?;
            let ((client, client_port, client_window), (server, server_port, server_window)) =
                (endpoint(cx, s, "Source")?, endpoint(cx, d, "Destination")?);
            Ok(Scenario::HttpConversation(HttpConversation {
                client,
                client_port,
                client_window,
                server,
                server_port,
                server_window,
                host: cx.get(o, "Others", "Host")?.to_string(),
                path: lookup(o, "Path").unwrap_or("").to_string(),
                method: lookup(o, "Method").unwrap_or("GET").to_ascii_uppercase(),
                reason: lookup(o, "Reason_Phrase").map_or_else(|| standard_reason(code).to_string(), str::to_string),
                code,
            }))
        }
        SuiteProtocol::Tcp => {
            let (s, d, o) = sdo(cx, &parts)?;
            let ((client, client_port, client_window), (server, server_port, server_window)) =
                (endpoint(cx, s, "Source")?, endpoint(cx, d, "Destination")?);
            Ok(Scenario::TcpConversation(TcpConversation {
                client,
                client_port,
                client_window,
                server,
                server_port,
                server_window,
                request: cx.get(o, "Others", "Request")?.to_string(),
                reply: cx.get(o, "Others", "Reply")?.to_string(),
            }))
        }
        SuiteProtocol::Day => {
            let (c, g, r, o) = (
                part(cx, &parts, "Client")?,
                part(cx, &parts, "Gateway")?,
                part(cx, &parts, "Resolver")?,
                part(cx, &parts, "Others")?,
            );
            let code: u16 = cx.num(o, "Others", "Code")?;
            Ok(Scenario::Day(DayInTheLife {
                client_mac: cx.mac(c, "Client", "MAC")?,
                client_ip: cx.ip(c, "Client", "IP")?,
                gateway_mac: cx.mac(g, "Gateway", "MAC")?,
                gateway_ip: cx.ip(g, "Gateway", "IP")?,
                resolver: cx.ip(r, "Resolver", "IP")?,
                host: cx.get(o, "Others", "Host")?.to_string(),
                server_ip: cx.ip(o, "Others", "Server_IP")?,
                dns_id: cx.num(o, "Others", "id")?,
                dns_port: cx.num(o, "Others", "DNS_port")?,
                http_port: cx.num(o, "Others", "HTTP_port")?,
                method: lookup(o, "Method").unwrap_or("GET").to_ascii_uppercase(),
                path: target(lookup(o, "Path").unwrap_or("/")),
                reason: lookup(o, "Reason_Phrase").map_or_else(|| standard_reason(code).to_string(), str::to_string),
                code,
            }))
        }
    }
}

/// `SRC → DST PROTO info…` (also `->`; tshark's column layout with runs of
/// spaces is accepted).
/// Split a packet-mode summary into its packet lines: the imported answers
/// join a multi-line summary with spaces, so a new packet starts wherever
/// tshark's column form does (`SRC [→] DST PROTO LEN`, addresses IPv4 or
/// MAC). A text with at most one such start comes back whole.
pub fn split_packets(text: &str) -> Vec<&str> {
    const PROTOCOLS: [&str; 6] = ["ICMP", "ARP", "DNS", "HTTP", "TCP", "UDP"];
    let is_ipv4 = |t: &str| {
        t.split('.').count() == 4
            && t.split('.').all(|o| !o.is_empty() && o.len() <= 3 && o.bytes().all(|b| b.is_ascii_digit()))
    };
    let is_mac = |t: &str| {
        t.len() == 17
            && t.split(':').count() == 6
            && t.split(':').all(|o| o.len() == 2 && o.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    let is_addr = |t: &str| is_ipv4(t) || is_mac(t);
    let base = text.as_ptr() as usize;
    let tokens: Vec<(usize, &str)> = text.split_whitespace().map(|t| (t.as_ptr() as usize - base, t)).collect();
    let word = |i: usize| tokens.get(i).map_or("", |(_, t)| *t);
    let mut starts = Vec::new();
    for (i, (at, token)) in tokens.iter().enumerate() {
        if !is_addr(token) {
            continue;
        }
        let j = if matches!(word(i + 1), "→" | "->" | "â†’") { i + 2 } else { i + 1 };
        if (is_addr(word(j)) || word(j) == "Broadcast")
            && PROTOCOLS.contains(&word(j + 1))
            && !word(j + 2).is_empty()
            && word(j + 2).bytes().all(|b| b.is_ascii_digit())
        {
            starts.push(*at);
        }
    }
    if starts.len() <= 1 {
        return vec![text];
    }
    let mut out = Vec::new();
    if starts[0] > 0 && !text[..starts[0]].trim().is_empty() {
        out.push(text[..starts[0]].trim());
    }
    for (k, start) in starts.iter().enumerate() {
        let end = starts.get(k + 1).copied().unwrap_or(text.len());
        out.push(text[*start..end].trim());
    }
    out
}

fn split_packet_line<'l>(cx: &Ctx<'l>) -> Result<(&'l str, &'l str, &'l str), ParseError> {
    let line = cx.line;
    let (src, rest) = line
        .split_once('→')
        .or_else(|| line.split_once("->"))
        .map(|(a, b)| (a.trim(), b.trim_start()))
        .or_else(|| {
            // tshark's column form: SRC  DST  PROTO  LEN  info
            let mut it = line.split_whitespace();
            let src = it.next()?;
            let at = line.find(src)? + src.len();
            Some((src, line[at..].trim_start()))
        })
        .ok_or_else(|| cx.err("expected `SRC → DST PROTO info`"))?;
    let (dst, rest) = rest.split_once(char::is_whitespace).ok_or_else(|| cx.err("no destination"))?;
    let (proto, info) = rest.trim_start().split_once(char::is_whitespace).unwrap_or((rest.trim(), ""));
    let mut info = info.trim();
    // tshark's column form carries the frame length before the info.
    if let Some((len, more)) = info.split_once(char::is_whitespace) {
        if len.chars().all(|c| c.is_ascii_digit()) {
            info = more.trim_start();
        }
    }
    let _ = proto;
    Ok((src, dst, info.trim_end().trim_end_matches(" OPT").trim_end()))
}

/// The type word of `TYPE DATA…`.
fn rtype_of(answer: &str) -> &str {
    answer.split(' ').next().unwrap_or("")
}

fn ip_of(cx: &Ctx<'_>, v: &str, what: &str) -> Result<Ipv4Addr, ParseError> {
    v.trim().parse().map_err(|_| cx.err(format!("{what} {v:?} is not an IPv4 address")))
}

fn packet(cx: &Ctx<'_>) -> Result<Scenario, ParseError> {
    let (src, dst, info) = split_packet_line(cx)?;
    let (_, kv) = fields(info);
    match cx.protocol {
        SuiteProtocol::Icmp => {
            let words = [
                ("Echo (ping) request", IcmpKind::EchoRequest),
                ("Echo (ping) reply", IcmpKind::EchoReply),
                ("Timestamp request", IcmpKind::TimestampRequest),
                ("Timestamp reply", IcmpKind::TimestampReply),
                ("Time-to-live exceeded", IcmpKind::TtlExceeded),
                ("Destination unreachable (Port unreachable)", IcmpKind::PortUnreachable),
                ("Destination unreachable (Host unreachable)", IcmpKind::HostUnreachable),
            ];
            let kind = words
                .iter()
                .find(|(w, _)| info.starts_with(w))
                .map(|(_, k)| *k)
                .ok_or_else(|| cx.err("unknown ICMP message"))?;
            let original = if kind.is_error() {
                let at = info.find("original UDP").ok_or_else(|| cx.err("an ICMP error needs `original UDP A → B`"))?;
                let rest = &info[at + "original UDP".len()..];
                let (a, b) = rest
                    .split_once('→')
                    .or_else(|| rest.split_once("->"))
                    .ok_or_else(|| cx.err("original: expected `A → B`"))?;
                let b = b.split([',', ' ']).find(|s| !s.is_empty()).unwrap_or("");
                Some((ip_of(cx, a, "original source")?, ip_of(cx, b, "original destination")?))
            } else {
                None
            };
            Ok(Scenario::IcmpPacket(IcmpPacket {
                src: ip_of(cx, src, "source")?,
                dst: ip_of(cx, dst, "destination")?,
                kind,
                id: if original.is_some() { 0 } else { cx.num(&kv, "info", "id")? },
                seq: if original.is_some() { 0 } else { cx.num(&kv, "info", "seq")? },
                ttl: if lookup(&kv, "ttl").is_some() { cx.num(&kv, "info", "ttl")? } else { 64 },
                original,
            }))
        }
        SuiteProtocol::Arp => {
            let src_mac = parse_mac(src).ok_or_else(|| cx.err(format!("source {src:?} is not a MAC address")))?;
            let dst_mac = parse_mac(dst).ok_or_else(|| cx.err(format!("destination {dst:?} is not a MAC address")))?;
            if let Some(rest) = info.strip_prefix("Who has ") {
                let (target, tell) =
                    rest.split_once("? Tell ").ok_or_else(|| cx.err("expected `Who has A? Tell B`"))?;
                Ok(Scenario::ArpPacket(ArpPacket {
                    src_mac,
                    dst_mac,
                    reply: false,
                    sender_ip: ip_of(cx, tell, "Tell")?,
                    target_ip: ip_of(cx, target, "Who has")?,
                }))
            } else if let Some((sender, rest)) = info.split_once(" is at ") {
                let to = rest
                    .split_once(", to ")
                    .map(|(_, t)| t)
                    .ok_or_else(|| cx.err("a reply needs `, to B` (the asker's IP)"))?;
                Ok(Scenario::ArpPacket(ArpPacket {
                    src_mac,
                    dst_mac,
                    reply: true,
                    sender_ip: ip_of(cx, sender, "sender")?,
                    target_ip: ip_of(cx, to, "to")?,
                }))
            } else {
                Err(cx.err("expected `Who has A? Tell B` or `A is at M, to B`"))
            }
        }
        SuiteProtocol::Dns => {
            let (body, port) = match info.rsplit_once(", client port=") {
                Some((b, p)) => (b, parse_num(p).ok_or_else(|| cx.err(format!("client port {p:?}")))?),
                None => (info, 53124),
            };
            let (response, rest) = if let Some(r) = body.strip_prefix("Standard query response ") {
                (true, r)
            } else if let Some(r) = body.strip_prefix("Standard query ") {
                (false, r)
            } else {
                return Err(cx.err("expected `Standard query …` or `Standard query response …`"));
            };
            let mut tokens = rest.splitn(4, ' ');
            let id = tokens.next().and_then(parse_num).ok_or_else(|| cx.err("no transaction id (0x…)"))?;
            let rtype = tokens.next().ok_or_else(|| cx.err("no record type"))?.to_ascii_uppercase();
            let name = tokens.next().ok_or_else(|| cx.err("no name"))?.trim_end_matches('.').to_string();
            let data = if response {
                let more = tokens.next().ok_or_else(|| cx.err("a response needs its answer"))?;
                let data =
                    more.split_once(' ').map(|(_, d)| d).ok_or_else(|| cx.err("answer: expected `TYPE DATA`"))?;
                // tshark lists every answer (`A 1.2.3.4 A 5.6.7.8`); keep the
                // first, whose data ends where the next `TYPE` begins.
                let cut = data.find(&format!(" {} ", rtype_of(more))).unwrap_or(data.len());
                data[..cut].to_string()
            } else {
                String::new()
            };
            let (s, d) = (ip_of(cx, src, "source")?, ip_of(cx, dst, "destination")?);
            Ok(Scenario::DnsPacket(DnsPacket {
                src: s,
                dst: d,
                client_port: port,
                id,
                response,
                record: DnsRecord { rtype, name, data },
            }))
        }
        SuiteProtocol::Http => {
            let (s, d) = (ip_of(cx, src, "source")?, ip_of(cx, dst, "destination")?);
            let (msg, ports) = info.rsplit_once(", ports ").ok_or_else(|| cx.err("expected `, ports A → B`"))?;
            let (a, b) = ports
                .split_once('→')
                .or_else(|| ports.split_once("->"))
                .ok_or_else(|| cx.err("ports: expected `A → B`"))?;
            let sport = parse_num(a).ok_or_else(|| cx.err("source port"))?;
            let dport = parse_num(b).ok_or_else(|| cx.err("destination port"))?;
            if let Some(rest) = msg.strip_prefix("HTTP/1.1 ").or_else(|| msg.strip_prefix("HTTP/1.0 ")) {
                let code = rest.split(' ').next().and_then(parse_num).ok_or_else(|| cx.err("status code"))?;
                Ok(Scenario::HttpPacket(HttpPacket {
                    src: s,
                    dst: d,
                    sport,
                    dport,
                    method: None,
                    path: String::new(),
                    host: String::new(),
                    code,
                }))
            } else {
                let (line, host) = msg.split_once(", Host=").ok_or_else(|| cx.err("a request needs `, Host=…`"))?;
                let mut words = line.split(' ');
                let method = words.next().filter(|m| !m.is_empty()).ok_or_else(|| cx.err("method"))?.to_string();
                let path = words.next().ok_or_else(|| cx.err("request target"))?.to_string();
                Ok(Scenario::HttpPacket(HttpPacket {
                    src: s,
                    dst: d,
                    sport,
                    dport,
                    method: Some(method),
                    path,
                    host: host.trim().to_string(),
                    code: 0,
                }))
            }
        }
        SuiteProtocol::Tcp | SuiteProtocol::Day => Err(cx.err("this protocol has conversation summaries only")),
        SuiteProtocol::Zigbee => Err(cx.err("ZigBee suites continue real sample rows; they have no summary lines")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_http_line_with_quirks() {
        let line = "Source: IP=\"10.10.10.1\", port=8239, Window: 512 // Destination: IP=\"10.10.10.2\", port=80, Window: 3491 // Others: Host=\"http://www.facebook.com/\", Path=\"\", Code=200,  Reason_Phrase= \"OK\" ";
        let Scenario::HttpConversation(c) = Scenario::parse(SuiteProtocol::Http, Mode::Conversation, line).unwrap()
        else {
            panic!()
        };
        assert_eq!((c.client_port, c.client_window, c.server_port, c.server_window), (8239, 512, 80, 3491));
        assert_eq!(
            (c.host_name(), c.target().as_str(), c.method.as_str(), c.code, c.reason.as_str()),
            ("www.facebook.com", "/", "GET", 200, "OK")
        );
    }

    #[test]
    fn paper_arp_line_with_curly_quotes() {
        let line = "Source: MAC=\u{201c}f1:a2:b3:c4:d5:e6\u{201d}, IP=\u{201c}172.16.1.10\u{201d} // Destination: MAC=\u{201c}FF:FF:FF:FF:FF:FF\u{201d} // Wanted: IP= \u{201c}172.16.1.20\u{201d}";
        let Scenario::ArpConversation(c) = Scenario::parse(SuiteProtocol::Arp, Mode::Conversation, line).unwrap()
        else {
            panic!()
        };
        assert_eq!(c.dst_mac, BROADCAST);
        assert_eq!(c.target_ip, Ipv4Addr::new(172, 16, 1, 20));
    }

    #[test]
    fn paper_dns_and_icmp_lines() {
        let dns = "Source: IP= \"10.10.10.1\" // Destination: IP= \"10.10.10.2\" // Others: id=0x8234 , resource= www.youtube.com , response = \"172.217.10.206\"";
        let Scenario::DnsConversation(c) = Scenario::parse(SuiteProtocol::Dns, Mode::Conversation, dns).unwrap() else {
            panic!()
        };
        assert_eq!(
            (c.id, c.record.name.as_str(), c.record.data.as_str(), c.client_port),
            (0x8234, "www.youtube.com", "172.217.10.206", None)
        );
        let icmp =
            "Source: IP=\"10.10.10.1\" // Destination: IP=\"10.10.10.2\" // Others: id=0x8234 seq= 223 type=Timestamp";
        let Scenario::IcmpConversation(c) = Scenario::parse(SuiteProtocol::Icmp, Mode::Conversation, icmp).unwrap()
        else {
            panic!()
        };
        assert_eq!((c.id, c.seq, c.timestamp), (0x8234, 223, true));
    }

    #[test]
    fn tshark_column_lines() {
        let ping = "10.0.0.2              10.0.0.1              ICMP     114    Echo (ping) request  id=0x0001, seq=1/256, ttl=255";
        let Scenario::IcmpPacket(p) = Scenario::parse(SuiteProtocol::Icmp, Mode::Packet, ping).unwrap() else {
            panic!()
        };
        assert_eq!((p.kind, p.id, p.seq, p.ttl), (IcmpKind::EchoRequest, 1, 1, 255));
        let dns = "130.231.240.70 → 130.231.202.234 DNS 101 Standard query response 0x4897 A www.google.com A 142.250.185.196 OPT";
        let Scenario::DnsPacket(p) = Scenario::parse(SuiteProtocol::Dns, Mode::Packet, dns).unwrap() else { panic!() };
        assert_eq!((p.id, p.response, p.record.data.as_str()), (0x4897, true, "142.250.185.196"));
    }

    #[test]
    fn experts_summaries_with_lists_and_bare_ids() {
        let dns = "Source: IP= 10.0.60.223 // Destination: IP= 172.16.194.111 // Others: 0x4663 , resource= ['www.cnn.com'] , response = 10.0.48.231";
        let Scenario::DnsConversation(c) = Scenario::parse(SuiteProtocol::Dns, Mode::Conversation, dns).unwrap() else {
            panic!()
        };
        assert_eq!((c.id, c.record.name.as_str(), c.record.data.as_str()), (0x4663, "www.cnn.com", "10.0.48.231"));
        let http = "Source: IP=172.16.184.12, port=10077, Window: 1700 // Destination: IP=172.16.223.215, port=80, Window: 316 // Others: Host=['www.linkedin.com'], Path=, Code=200, Reason_Phrase= OK";
        let Scenario::HttpConversation(c) = Scenario::parse(SuiteProtocol::Http, Mode::Conversation, http).unwrap()
        else {
            panic!()
        };
        assert_eq!((c.host_name(), c.target().as_str(), c.code), ("www.linkedin.com", "/", 200));
        let arp = "Source: MAC=\"02:00:F5:CC:CC:CC\", IP=\"192.168.1.37\" // Destination: MAC=\"02:00:06:DD:DD:DD\" // Wanted: IP=\"192.168.1.38\n";
        assert!(Scenario::parse(SuiteProtocol::Arp, Mode::Conversation, arp).is_ok());
    }

    #[test]
    fn errors_name_the_field() {
        let err = Scenario::parse(
            SuiteProtocol::Http,
            Mode::Conversation,
            "Source: IP=\"1.2.3.4\" // Destination: IP=\"5.6.7.8\"",
        )
        .unwrap_err();
        assert!(err.to_string().contains("no Others: part"), "{err}");
        let err = Scenario::parse(
            SuiteProtocol::Icmp,
            Mode::Conversation,
            "Source: IP=\"1.2.3\" // Destination: IP=\"5.6.7.8\" // Others: id=1 seq=2",
        )
        .unwrap_err();
        assert!(err.to_string().contains("not an IPv4 address"), "{err}");
    }

    #[test]
    fn split_packets_of_a_joined_summary() {
        let joined = "192.168.42.12         5.35.226.136          ICMP     110    Echo (ping) request  id=0x0456, seq=79/20224, ttl=64 5.35.226.136          192.168.42.12         ICMP     110    Echo (ping) reply    id=0x0456, seq=22/5632, ttl=54";
        let lines = super::split_packets(joined);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[1].starts_with("5.35.226.136") && lines[1].ends_with("ttl=54"));
        let arp = "c2:3d:19:6c:00:01     Broadcast             ARP      60     Who has 10.0.0.2? Tell 10.0.0.1 c2:3c:19:6c:00:01     c2:3d:19:6c:00:01     ARP      60     10.0.0.2 is at c2:3c:19:6c:00:01";
        assert_eq!(super::split_packets(arp).len(), 2);
        let one = "10.0.0.1 → 10.0.0.2 ICMP 98 Echo (ping) request id=0x0001, seq=1/256, ttl=64";
        assert_eq!(super::split_packets(one), vec![one]);
    }
}
