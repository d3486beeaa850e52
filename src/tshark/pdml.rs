//! Reading tshark's PDML (`-T pdml`): one finding per Expert Info item.
//!
//! PDML is read as a stream of XML events (quick-xml), one element at a
//! time, so neither tshark's indentation, its line breaks nor its attribute
//! order matter, entities (`&quot;`, `&#x27;`, …) are decoded by the XML
//! reader, and only the current element is held in memory.
//!
//! What the reader keeps of the document:
//! - `<packet>` starts a frame; its number is the `show` of its first
//!   `num` or `frame.number` field.
//! - Each `<proto>` sets the protocol of the Expert Info items that follow
//!   it in the packet, in document order (`geninfo` and `frame` do not;
//!   `_ws.malformed` names the broken protocol in its `showname`,
//!   `[Malformed Packet: DNS]`).
//! - A `<field name="_ws.expert">` element is one item: its first
//!   descendant field other than `_ws.expert.message`, `.severity` and
//!   `.group` is the expert field (`tcp.analysis.lost_segment`), and those
//!   three give the message, the `PI_*` severity and the `PI_*` group.

use std::borrow::Cow;
use std::io::BufRead;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::protocol_of;
use crate::finding::{Finding, Protocol, Severity, Source};

/// Why tshark's PDML could not be read to its end.
#[derive(Debug, thiserror::Error)]
pub enum PdmlError {
    /// Not well-formed XML (a bad tag, attribute, entity or end tag), or
    /// the stream could not be read.
    #[error("malformed PDML at byte {position} (after {findings} finding(s)): {source}")]
    Xml {
        /// Byte offset of the error in the stream.
        position: u64,
        /// Findings read before the error.
        findings: usize,
        /// What the XML reader found.
        source: quick_xml::Error,
    },
    /// The stream ended inside an element: the output was cut short.
    #[error("truncated PDML: it ends at byte {position} inside {open} element(s) (after {findings} finding(s))")]
    Truncated {
        /// Length of the stream.
        position: u64,
        /// Elements left open.
        open: usize,
        /// Findings read before the end.
        findings: usize,
    },
    /// The document is not PDML: no `<pdml>` root element.
    #[error("not PDML: {0}")]
    NotPdml(String),
}

/// One Expert Info item being read.
#[derive(Debug, Default)]
struct Item {
    id: Option<String>,
    message: Option<String>,
    severity: Option<u32>,
    group: Option<u32>,
}

/// What the reader knows at the current point of the document.
#[derive(Debug)]
struct State {
    frame: u64,
    protocol: Protocol,
    /// The item being read and the depth of its `_ws.expert` element.
    item: Option<(Item, usize)>,
    findings: Vec<Finding>,
}

/// Read tshark's PDML from `reader` and return one finding per Expert Info
/// item (Comments and the harness plug-in's own items excepted).
///
/// # Errors
/// [`PdmlError`] when the stream is not well-formed PDML, is cut short, or
/// cannot be read; the error says how many findings were read before.
pub fn parse_pdml(reader: impl BufRead) -> Result<Vec<Finding>, PdmlError> {
    let mut xml = Reader::from_reader(reader);
    let mut buf = Vec::new();
    let mut state = State { frame: 0, protocol: Protocol::Frame, item: None, findings: Vec::new() };
    let mut depth = 0usize;
    let mut root = false;
    loop {
        buf.clear();
        let event = xml.read_event_into(&mut buf).map_err(|source| PdmlError::Xml {
            position: xml.error_position(),
            findings: state.findings.len(),
            source,
        })?;
        match event {
            Event::Start(ref element) | Event::Empty(ref element) => {
                if depth == 0 {
                    if root {
                        return Err(PdmlError::NotPdml("a second root element after </pdml>".into()));
                    }
                    if element.name().as_ref() != b"pdml" {
                        let name = String::from_utf8_lossy(element.name().as_ref()).into_owned();
                        return Err(PdmlError::NotPdml(format!("the root element is <{name}>, not <pdml>")));
                    }
                    root = true;
                }
                let open = matches!(event, Event::Start(_));
                if let Err(source) = state.element(element, depth, open) {
                    let findings = state.findings.len();
                    return Err(PdmlError::Xml { position: xml.buffer_position(), findings, source });
                }
                if open {
                    depth += 1;
                }
            }
            Event::End(_) => {
                // The reader checks that end tags match their start tags.
                depth = depth.saturating_sub(1);
                if state.item.as_ref().is_some_and(|(_, at)| *at == depth) {
                    state.finish_item();
                }
            }
            Event::Eof => break,
            // Declarations, processing instructions, comments, whitespace.
            _ => {}
        }
    }
    if depth > 0 {
        return Err(PdmlError::Truncated {
            position: xml.buffer_position(),
            open: depth,
            findings: state.findings.len(),
        });
    }
    if !root {
        return Err(PdmlError::NotPdml("no <pdml> element".into()));
    }
    Ok(state.findings)
}

impl State {
    /// Take in the start of `element` at `depth` (`open` when it has
    /// content, not self-closing).
    fn element(&mut self, element: &BytesStart<'_>, depth: usize, open: bool) -> Result<(), quick_xml::Error> {
        match element.name().as_ref() {
            b"packet" => {
                self.finish_item();
                self.frame = 0;
                self.protocol = Protocol::Frame;
            }
            b"proto" => {
                let Attributes { name, showname, .. } = Attributes::of(element)?;
                if name == "_ws.malformed" {
                    // "[Malformed Packet: DNS]" names the layer that broke.
                    self.protocol = showname
                        .unwrap_or_default()
                        .rsplit(": ")
                        .next()
                        .map(|p| protocol_of(p.trim_end_matches(']')))
                        .unwrap_or(Protocol::Frame);
                } else if name != "geninfo" && name != "frame" {
                    self.protocol = protocol_of(&name);
                }
            }
            b"field" => self.field(element, depth, open)?,
            _ => {}
        }
        Ok(())
    }

    /// Take in one `<field>` element.
    fn field(&mut self, element: &BytesStart<'_>, depth: usize, open: bool) -> Result<(), quick_xml::Error> {
        let Attributes { name, show, .. } = Attributes::of(element)?;
        if matches!(&*name, "num" | "frame.number") && self.frame == 0 {
            self.frame = show.and_then(|s| s.parse().ok()).unwrap_or(0);
        } else if name == "_ws.expert" {
            self.finish_item();
            self.item = Some((Item::default(), depth));
            if !open {
                self.finish_item();
            }
        } else if let Some((current, _)) = self.item.as_mut() {
            match &*name {
                "_ws.expert.message" => current.message = show.map(Cow::into_owned),
                "_ws.expert.severity" => current.severity = show.and_then(|s| s.parse().ok()),
                "_ws.expert.group" => current.group = show.and_then(|s| s.parse().ok()),
                _ if current.id.is_none() => current.id = Some(name.into_owned()),
                _ => {}
            }
        }
        Ok(())
    }

    /// Turn the item being read, if any, into a finding.
    fn finish_item(&mut self) {
        let Some((item, _)) = self.item.take() else { return };
        let Some(severity) = item.severity.and_then(severity_of) else { return };
        if item.id.as_deref().is_some_and(|id| id.starts_with("harness.")) {
            // Our own findings shown by an installed harness plug-in: not
            // tshark's opinion.
            return;
        }
        let group = group_of(item.group.unwrap_or(0));
        self.findings.push(Finding {
            frame: self.frame,
            severity,
            source: Source::Tshark,
            check: Cow::Owned(format!("tshark.{group}")),
            protocol: self.protocol,
            message: item.message.unwrap_or_default(),
            expert: Some(item.id.unwrap_or_else(|| "_ws.expert".to_string())),
        });
    }
}

/// The attributes the reader uses, entities decoded.
#[derive(Debug, Default)]
struct Attributes<'a> {
    name: Cow<'a, str>,
    show: Option<Cow<'a, str>>,
    showname: Option<Cow<'a, str>>,
}

impl<'a> Attributes<'a> {
    /// Read every attribute of `element` (so that a malformed or repeated
    /// one is an error wherever it stands) and keep `name`, `show` and
    /// `showname`; bytes that are not UTF-8 become U+FFFD.
    ///
    /// # Errors
    /// A malformed or repeated attribute, or a malformed entity.
    fn of(element: &'a BytesStart<'_>) -> Result<Attributes<'a>, quick_xml::Error> {
        let mut found = Attributes::default();
        for attr in element.attributes() {
            let attr = attr?;
            let slot = match attr.key.as_ref() {
                b"name" => &mut found.name,
                b"show" => found.show.insert(Cow::Borrowed("")),
                b"showname" => found.showname.insert(Cow::Borrowed("")),
                _ => continue,
            };
            *slot = match attr.value {
                Cow::Borrowed(raw) => match String::from_utf8_lossy(raw) {
                    Cow::Borrowed(text) => quick_xml::escape::unescape(text)?,
                    Cow::Owned(text) => Cow::Owned(quick_xml::escape::unescape(&text)?.into_owned()),
                },
                Cow::Owned(raw) => {
                    Cow::Owned(quick_xml::escape::unescape(&String::from_utf8_lossy(&raw))?.into_owned())
                }
            };
        }
        Ok(found)
    }
}

/// Map Wireshark's severity values (`PI_*` in epan/proto.h) to ours.
fn severity_of(value: u32) -> Option<Severity> {
    match value {
        0x0020_0000 => Some(Severity::Chat),
        0x0040_0000 => Some(Severity::Note),
        0x0060_0000 => Some(Severity::Warn),
        0x0080_0000 => Some(Severity::Error),
        _ => None, // Comments (0x0010_0000) are not findings.
    }
}

/// Return the expert group name for `PI_*` group values.
fn group_of(value: u32) -> &'static str {
    match value {
        0x0100_0000 => "checksum",
        0x0200_0000 => "sequence",
        0x0300_0000 => "response_code",
        0x0400_0000 => "request_code",
        0x0500_0000 => "undecoded",
        0x0600_0000 => "reassemble",
        0x0700_0000 => "malformed",
        0x0800_0000 => "debug",
        0x0900_0000 => "protocol",
        0x0a00_0000 => "security",
        0x0b00_0000 => "comments_group",
        0x0c00_0000 => "decryption",
        0x0d00_0000 => "assumption",
        0x0e00_0000 => "deprecated",
        0x0f00_0000 => "receive",
        0x1000_0000 => "interface",
        0x1100_0000 => "disturbance",
        _ => "unknown",
    }
}

#[cfg(test)]
mod test {
    use super::*;

    /// Shaped like tshark 4.0's output: a malformed DNS reply (frame 2),
    /// then an ARP reply whose Expert Info sits three fields deep in
    /// `fake-field-wrapper` (frame 66).
    const PDML: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<?xml-stylesheet type="text/xsl" href="pdml2html.xsl"?>
<!-- You can find pdml2html.xsl in /usr/share/wireshark or at https://gitlab.com/wireshark/wireshark/-/raw/master/pdml2html.xsl. -->
<pdml version="0" creator="wireshark/4.0.17" time="Thu Jan  1 00:00:00 2026" capture_file="x.pcap">
<packet>
  <proto name="geninfo" pos="0" showname="General information" size="48">
    <field name="num" pos="0" show="2" showname="Number" value="2" size="48"/>
  </proto>
  <proto name="frame" showname="Frame 2: 48 bytes on wire" size="48" pos="0">
    <field name="frame.number" showname="Frame Number: 2" size="0" pos="0" show="2"/>
  </proto>
  <proto name="dns" showname="Domain Name System (response)" size="29" pos="28">
    <field name="dns.id" showname="Transaction ID: 0x1234" size="2" pos="28" show="0x1234" value="1234"/>
  </proto>
  <proto name="_ws.malformed" showname="[Malformed Packet: DNS]" size="0" pos="0">
    <field name="_ws.expert" showname="Expert Info (Error/Malformed): Malformed Packet (Exception occurred)" size="0" pos="0">
      <field name="_ws.malformed.expert" showname="Malformed Packet (Exception occurred)" size="0" pos="0" show="" value=""/>
      <field name="_ws.expert.message" showname="Message: Malformed Packet (Exception occurred)" hide="yes" size="0" pos="0" show="Malformed Packet (Exception occurred)"/>
      <field name="_ws.expert.severity" showname="Severity level: Error" size="0" pos="0" show="8388608"/>
      <field name="_ws.expert.group" showname="Group: Malformed" size="0" pos="0" show="117440512"/>
    </field>
  </proto>
</packet>
<packet>
  <proto name="geninfo" pos="0" showname="General information" size="42">
    <field name="num" pos="0" show="66" showname="Number" value="42" size="42"/>
  </proto>
  <proto name="arp" showname="Address Resolution Protocol (reply/gratuitous ARP)" size="28" pos="14">
    <field name="arp.opcode" showname="Opcode: reply (2)" size="2" pos="20" show="2" value="0002"/>
  </proto>
  <proto name="fake-field-wrapper">
    <field name="arp.duplicate-address-detected" showname="Duplicate IP address detected for 177.132.83.183 (b2:a1:f0:e9:d8:c7) - also in use by 02:00:8f:ab:cd:ef (frame 65)" size="0" pos="0" show="" value="">
      <field name="arp.duplicate-address-frame" showname="Frame showing earlier use of IP address: 65" size="0" pos="14" show="65">
        <field name="_ws.expert" showname="Expert Info (Warning/Sequence): Duplicate IP address configured (177.132.83.183)" size="0" pos="14">
          <field name="arp.duplicate-address-detected" showname="Duplicate IP address configured (177.132.83.183)" size="0" pos="0" show="" value=""/>
          <field name="_ws.expert.message" showname="Message: Duplicate IP address configured (177.132.83.183)" hide="yes" size="0" pos="0" show="Duplicate IP address configured (177.132.83.183)"/>
          <field name="_ws.expert.severity" showname="Severity level: Warning" size="0" pos="0" show="6291456"/>
          <field name="_ws.expert.group" showname="Group: Sequence" size="0" pos="0" show="33554432"/>
        </field>
      </field>
      <field name="arp.seconds-since-duplicate-address-frame" showname="Seconds since earlier frame seen: 1" size="0" pos="14" show="1"/>
    </field>
  </proto>
</packet>
</pdml>
"#;

    /// Return "frame severity protocol check expert | message" per finding.
    fn lines(findings: &[Finding]) -> Vec<String> {
        findings
            .iter()
            .map(|f| {
                let expert = f.expert.as_deref().unwrap_or("-");
                format!("{} {} {} {} {expert} | {}", f.frame, f.severity, f.protocol, f.check, f.message)
            })
            .collect()
    }

    /// Wrap `packets` into a PDML document.
    fn doc(packets: &str) -> String {
        format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<pdml version=\"0\">{packets}</pdml>\n")
    }

    /// One packet numbered `frame` whose protocol `proto` has one Expert
    /// Info item: `expert` is the raw `_ws.expert` element.
    fn packet(frame: u64, proto: &str, expert: &str) -> String {
        format!(
            r#"<packet><proto name="geninfo"><field name="num" show="{frame}"/></proto><proto name="{proto}">{expert}</proto></packet>"#
        )
    }

    #[test]
    fn test_parse_pdml() {
        let findings = parse_pdml(PDML.as_bytes()).unwrap();
        assert_eq!(
            lines(&findings),
            [
                "2 error DNS tshark.malformed _ws.malformed.expert | Malformed Packet (Exception occurred)",
                "66 warn FRAME tshark.sequence arp.duplicate-address-detected | Duplicate IP address configured (177.132.83.183)",
            ]
        );
        let f = &findings[0];
        assert_eq!((f.frame, f.severity, f.protocol, f.source), (2, Severity::Error, Protocol::Dns, Source::Tshark));
    }

    #[test]
    fn test_no_line_breaks_or_indentation() {
        // The same document on one line, and with CRLF and odd indentation.
        let one_line: String = PDML.lines().map(str::trim).collect();
        let crlf = PDML.replace('\n', "\r\n\t   ");
        let expected = lines(&parse_pdml(PDML.as_bytes()).unwrap());
        assert_eq!(lines(&parse_pdml(one_line.as_bytes()).unwrap()), expected);
        assert_eq!(lines(&parse_pdml(crlf.as_bytes()).unwrap()), expected);
    }

    #[test]
    fn test_attribute_order() {
        let ordered = packet(
            3,
            "tcp",
            r#"<field name="_ws.expert" showname="Expert Info"><field name="tcp.analysis.lost_segment" show=""/><field name="_ws.expert.message" showname="Message" show="Previous segment not captured"/><field name="_ws.expert.severity" show="6291456"/><field name="_ws.expert.group" show="33554432"/></field>"#,
        );
        // Every attribute moved around; single quotes for some values.
        let shuffled = r#"<packet><proto name='geninfo'><field show="3" name="num"/></proto><proto size="20" name="tcp"><field showname="Expert Info" name='_ws.expert'><field show="" name="tcp.analysis.lost_segment"/><field show="Previous segment not captured" hide="yes" name="_ws.expert.message"/><field show='6291456' name="_ws.expert.severity"/><field show="33554432" pos="0" name="_ws.expert.group"/></field></proto></packet>"#;
        let expected =
            ["3 warn TCP tshark.sequence tcp.analysis.lost_segment | Previous segment not captured".to_string()];
        assert_eq!(lines(&parse_pdml(doc(&ordered).as_bytes()).unwrap()), expected);
        assert_eq!(lines(&parse_pdml(doc(shuffled).as_bytes()).unwrap()), expected);
    }

    #[test]
    fn test_entities() {
        let expert = r#"<field name="_ws.expert"><field name="http.chat" show=""/><field name="_ws.expert.message" show="GET /a?b=1&amp;c=&quot;d&quot; &lt;e&gt; &apos;f&apos; &#x41;&#66;&#x20AC; HTTP/1.1\r\n"/><field name="_ws.expert.severity" show="2097152"/><field name="_ws.expert.group" show="&#x33;3554432"/></field>"#;
        let findings = parse_pdml(doc(&packet(8, "http", expert)).as_bytes()).unwrap();
        assert_eq!(
            lines(&findings),
            [r#"8 chat HTTP tshark.sequence http.chat | GET /a?b=1&c="d" <e> 'f' AB€ HTTP/1.1\r\n"#]
        );
    }

    #[test]
    fn test_showname_with_markup_characters() {
        // `>` may stand unescaped in an attribute value, and a single-quoted
        // value may hold double quotes; neither ends the value or the tag.
        let expert = r#"<field name="_ws.expert" showname="Expert Info (Note/Sequence): a > b, &quot;c&quot; &lt;d&gt;"><field name="tcp.x" showname='say "hi" > <' show=""/><field showname="Message: &quot;" name="_ws.expert.message" show='a "quoted" > message'/><field name="_ws.expert.severity" showname="Severity > level" show="4194304"/><field name="_ws.expert.group" show="33554432"/></field>"#;
        let malformed = r#"<packet><proto name="geninfo"><field name="num" show="9"/></proto><proto name="_ws.malformed" showname="[Malformed Packet: &lt;x&gt; &quot;y&quot;: DNS]"><field name="_ws.expert"><field name="_ws.malformed.expert" show=""/><field name="_ws.expert.message" show="Malformed Packet"/><field name="_ws.expert.severity" show="8388608"/><field name="_ws.expert.group" show="117440512"/></field></proto></packet>"#;
        let findings = parse_pdml(doc(&(packet(4, "tcp", expert) + malformed)).as_bytes()).unwrap();
        assert_eq!(
            lines(&findings),
            [
                r#"4 note TCP tshark.sequence tcp.x | a "quoted" > message"#,
                "9 error DNS tshark.malformed _ws.malformed.expert | Malformed Packet",
            ]
        );
    }

    #[test]
    fn test_self_closing_and_open_fields() {
        // Every field written as an open element with an end tag.
        let open = r#"<packet><proto name="geninfo"><field name="num" show="5"></field></proto><proto name="icmp"><field name="_ws.expert"><field name="icmp.resp_not_found" show=""></field><field name="_ws.expert.message" show="No response seen"></field><field name="_ws.expert.severity" show="6291456"></field><field name="_ws.expert.group" show="50331648"></field></field></proto></packet>"#;
        let closed = r#"<packet><proto name="geninfo"><field name="num" show="5"/></proto><proto name="icmp"><field name="_ws.expert"><field name="icmp.resp_not_found" show=""/><field name="_ws.expert.message" show="No response seen"/><field name="_ws.expert.severity" show="6291456"/><field name="_ws.expert.group" show="50331648"/></field></proto></packet>"#;
        let expected = ["5 warn ICMP tshark.response_code icmp.resp_not_found | No response seen".to_string()];
        assert_eq!(lines(&parse_pdml(doc(open).as_bytes()).unwrap()), expected);
        assert_eq!(lines(&parse_pdml(doc(closed).as_bytes()).unwrap()), expected);
        // A self-closing `_ws.expert` has no severity: no finding, and the
        // fields after it are not taken as its parts.
        let empty = r#"<packet><proto name="geninfo"><field name="num" show="6"/></proto><proto name="udp"><field name="_ws.expert"/><field name="udp.length" show="8"/><field name="_ws.expert.severity" show="8388608"/></proto></packet>"#;
        assert_eq!(parse_pdml(doc(empty).as_bytes()).unwrap(), []);
    }

    #[test]
    fn test_nested_fields() {
        // The expert field has children of its own; a field after the item
        // closes belongs to no item; a nested proto sets the protocol of
        // what follows it in document order.
        let expert = r#"<field name="icmp.type" show="3"><field name="ip" show=""><proto name="ip"><field name="ip.src" show="10.0.0.1"/></proto></field></field><field name="_ws.expert"><field name="ip.bogus_header_length" show=""><field name="ip.hdr_len" show="4"/></field><field name="_ws.expert.message" show="Bogus IP header length"/><field name="_ws.expert.severity" show="8388608"/><field name="_ws.expert.group" show="117440512"/></field><field name="ip.len" show="20"/>"#;
        let findings = parse_pdml(doc(&packet(7, "icmp", expert)).as_bytes()).unwrap();
        assert_eq!(lines(&findings), ["7 error IP tshark.malformed ip.bogus_header_length | Bogus IP header length"]);
    }

    #[test]
    fn test_protocol_and_frame_reset_per_packet() {
        // An item in the `frame` proto of a later packet belongs to no
        // protocol (FRAME), not to the last protocol of the packet before.
        let item = r#"<field name="_ws.expert"><field name="frame.time_invalid" show=""/><field name="_ws.expert.message" show="Arrival Time: Fractional second out of range"/><field name="_ws.expert.severity" show="6291456"/><field name="_ws.expert.group" show="150994944"/></field>"#;
        let second = format!(r#"<packet><proto name="frame">{item}</proto></packet>"#);
        let findings = parse_pdml(doc(&(packet(1, "dns", item) + &second)).as_bytes()).unwrap();
        assert_eq!(
            lines(&findings),
            [
                "1 warn DNS tshark.protocol frame.time_invalid | Arrival Time: Fractional second out of range",
                "0 warn FRAME tshark.protocol frame.time_invalid | Arrival Time: Fractional second out of range",
            ]
        );
    }

    #[test]
    fn test_comments_and_plugin_items_dropped() {
        let comment = r#"<field name="_ws.expert"><field name="frame.comment.expert" show=""/><field name="_ws.expert.message" show="hi"/><field name="_ws.expert.severity" show="1048576"/><field name="_ws.expert.group" show="184549376"/></field>"#;
        let own = r#"<field name="_ws.expert"><field name="harness.dns.id_mismatch" show=""/><field name="_ws.expert.message" show="x"/><field name="_ws.expert.severity" show="8388608"/><field name="_ws.expert.group" show="150994944"/></field>"#;
        let text = doc(&(packet(1, "frame", comment) + &packet(2, "harness", own)));
        assert_eq!(parse_pdml(text.as_bytes()).unwrap(), []);
    }

    #[test]
    fn test_no_expert_info() {
        let empty =
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<pdml version=\"0\" creator=\"wireshark/4.0.17\">\n</pdml>\n";
        assert_eq!(parse_pdml(empty.as_bytes()).unwrap(), []);
        assert_eq!(parse_pdml(&b"<pdml/>"[..]).unwrap(), []);
    }

    #[test]
    fn test_truncated_at_every_byte() {
        // Every strict prefix that cuts into the document is an error,
        // never a panic and never a silently shorter list.
        let end = PDML.trim_end().len();
        for cut in 0..end {
            let result = parse_pdml(&PDML.as_bytes()[..cut]);
            assert!(result.is_err(), "a cut at byte {cut} was accepted: {result:?}");
        }
        assert!(parse_pdml(&PDML.as_bytes()[..end]).is_ok());
        // The error says what happened and how much was read.
        let cut =
            PDML.find("<packet>\n  <proto name=\"geninfo\" pos=\"0\" showname=\"General information\" size=\"42\">");
        let error = parse_pdml(&PDML.as_bytes()[..cut.unwrap() + 20]).unwrap_err().to_string();
        assert!(error.contains("after 1 finding(s)"), "{error}");
    }

    #[test]
    fn test_malformed_xml() {
        let cases: &[(&str, &[u8])] = &[
            ("empty", b""),
            ("text", b"tshark: The file \"x.pcap\" isn't a capture file in a format TShark understands.\n"),
            ("json", b"[{\"_index\": \"packets\"}]"),
            ("other root", b"<psml version=\"0\"></psml>"),
            ("two roots", b"<pdml></pdml><pdml></pdml>"),
            ("mismatched end tag", b"<pdml><packet><proto name=\"ip\"></packet></proto></pdml>"),
            ("unmatched end tag", b"<pdml></packet></pdml>"),
            ("unclosed quote", b"<pdml><packet><proto name=\"ip></proto></packet></pdml>"),
            ("unquoted attribute", b"<pdml><packet><proto name=ip></proto></packet></pdml>"),
            ("unknown entity", b"<pdml><packet><proto name=\"ip&bogus;\"/></packet></pdml>"),
            ("bad char reference", b"<pdml><packet><proto name=\"&#xZZ;\"/></packet></pdml>"),
            ("dangling ampersand", b"<pdml><packet><proto name=\"a & b\"/></packet></pdml>"),
            ("duplicate attribute", b"<pdml><packet><proto name=\"ip\" name=\"tcp\"/></packet></pdml>"),
            ("unclosed tag", b"<pdml><packet><proto name=\"ip\""),
            ("unclosed comment", b"<pdml><!-- </pdml>"),
        ];
        for (what, input) in cases {
            let result = parse_pdml(*input);
            assert!(result.is_err(), "{what}: accepted as {result:?}");
        }
        let error = parse_pdml(&b"<psml version=\"0\"></psml>"[..]).unwrap_err();
        assert_eq!(error.to_string(), "not PDML: the root element is <psml>, not <pdml>");
    }

    #[test]
    fn test_invalid_utf8_in_a_value() {
        // A byte that is not UTF-8 becomes U+FFFD instead of losing the run.
        let mut text = doc(&packet(
            2,
            "http",
            r#"<field name="_ws.expert"><field name="http.chat" show=""/><field name="_ws.expert.message" show="GET /XX"/><field name="_ws.expert.severity" show="2097152"/><field name="_ws.expert.group" show="33554432"/></field>"#,
        ))
        .into_bytes();
        let at = text.windows(2).position(|w| w == b"XX").unwrap();
        text[at] = 0xff;
        let findings = parse_pdml(&text[..]).unwrap();
        assert_eq!(findings[0].message, "GET /\u{fffd}X");
    }

    proptest::proptest! {
        #[test]
        fn prop_arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = parse_pdml(&bytes[..]);
        }

        #[test]
        fn prop_mutated_pdml_never_panics(at in 0..PDML.len(), byte in proptest::prelude::any::<u8>(), cut in 0..PDML.len()) {
            let mut bytes = PDML.as_bytes().to_vec();
            bytes[at] = byte;
            bytes.truncate(cut.max(at + 1));
            let _ = parse_pdml(&bytes[..]);
        }
    }
}
