//! Findings: what a check (own or tshark's) says about one frame.
//!
//! The shape is a contract (DESIGN.md, "Findings"): `{frame, severity, source,
//! check, protocol, message}`, with Wireshark's severity vocabulary and stable
//! dotted check ids.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;

/// Severity, in Wireshark's Expert Info vocabulary, ordered from least to most
/// severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Usual workflow information.
    Chat,
    /// Notable, not usual.
    Note,
    /// Possibly a problem.
    Warn,
    /// Definitely a problem: the layer it is attached to is malformed.
    Error,
}

impl Severity {
    /// Return the lowercase name (`error`, `warn`, `note`, `chat`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Chat => "chat",
            Severity::Note => "note",
            Severity::Warn => "warn",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who made a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// tshark's Expert Info.
    Tshark,
    /// The harness's own checks.
    Harness,
}

/// A protocol layer, as used in findings and success-rate tables.
///
/// The order is the stack order used by tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
pub enum Protocol {
    /// Ethernet II and the link layer in general.
    #[serde(rename = "ETH")]
    Eth,
    /// Address Resolution Protocol (RFC 826).
    #[serde(rename = "ARP")]
    Arp,
    /// IPv4 (RFC 791).
    #[serde(rename = "IP")]
    Ip,
    /// ICMP for IPv4 (RFC 792).
    #[serde(rename = "ICMP")]
    Icmp,
    /// UDP (RFC 768).
    #[serde(rename = "UDP")]
    Udp,
    /// DNS (RFC 1035).
    #[serde(rename = "DNS")]
    Dns,
    /// TCP (RFC 793/9293).
    #[serde(rename = "TCP")]
    Tcp,
    /// HTTP/1.x (RFC 9110/9112).
    #[serde(rename = "HTTP")]
    Http,
    /// IEEE 802.15.4 MAC carrying ZigBee.
    #[serde(rename = "ZIGBEE")]
    Zigbee,
    /// ZigBee network layer.
    #[serde(rename = "ZBEE_NWK")]
    ZbeeNwk,
    /// ZigBee application support sub-layer.
    #[serde(rename = "ZBEE_APS")]
    ZbeeAps,
    /// ZigBee Cluster Library.
    #[serde(rename = "ZCL")]
    Zcl,
    /// ZigBee Device Profile.
    #[serde(rename = "ZDP")]
    Zdp,
    /// Frame-level facts that belong to no layer (timestamps).
    #[serde(rename = "FRAME")]
    Frame,
}

impl Protocol {
    /// Every protocol that has a row in success-rate tables, in table order.
    pub const LAYERS: [Protocol; 13] = [
        Protocol::Eth,
        Protocol::Arp,
        Protocol::Ip,
        Protocol::Icmp,
        Protocol::Udp,
        Protocol::Dns,
        Protocol::Tcp,
        Protocol::Http,
        Protocol::Zigbee,
        Protocol::ZbeeNwk,
        Protocol::ZbeeAps,
        Protocol::Zcl,
        Protocol::Zdp,
    ];

    /// Return the table key (`ETH`, `IP`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Eth => "ETH",
            Protocol::Arp => "ARP",
            Protocol::Ip => "IP",
            Protocol::Icmp => "ICMP",
            Protocol::Udp => "UDP",
            Protocol::Dns => "DNS",
            Protocol::Tcp => "TCP",
            Protocol::Http => "HTTP",
            Protocol::Zigbee => "ZIGBEE",
            Protocol::ZbeeNwk => "ZBEE_NWK",
            Protocol::ZbeeAps => "ZBEE_APS",
            Protocol::Zcl => "ZCL",
            Protocol::Zdp => "ZDP",
            Protocol::Frame => "FRAME",
        }
    }

    /// Return the bit of this layer in a [`Layers`] set.
    pub const fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A small set of [`Protocol`] layers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Layers(pub u16);

impl Layers {
    /// Add `protocol` to the set.
    pub fn insert(&mut self, protocol: Protocol) {
        self.0 |= protocol.bit();
    }

    /// Remove `protocol` from the set.
    pub fn remove(&mut self, protocol: Protocol) {
        self.0 &= !protocol.bit();
    }

    /// Return whether `protocol` is in the set.
    pub fn contains(self, protocol: Protocol) -> bool {
        self.0 & protocol.bit() != 0
    }

    /// Return whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// One finding about one frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Finding {
    /// 1-based frame number, as Wireshark numbers it.
    pub frame: u64,
    /// How bad it is.
    pub severity: Severity,
    /// Who found it.
    pub source: Source,
    /// Stable dotted id (`tcp.bad_ack`, `tshark.malformed`, …).
    pub check: Cow<'static, str>,
    /// The layer it is attached to.
    pub protocol: Protocol,
    /// One line for a person.
    pub message: String,
    /// For tshark findings, the stable expert field id
    /// (`tcp.analysis.lost_segment`, `_ws.malformed.expert`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expert: Option<String>,
}

impl Finding {
    /// Make a finding of the harness's own checks.
    pub fn own(frame: u64, severity: Severity, check: &'static str, protocol: Protocol, message: String) -> Finding {
        Finding {
            frame,
            severity,
            source: Source::Harness,
            check: Cow::Borrowed(check),
            protocol,
            message,
            expert: None,
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "frame {} {} {} [{}", self.frame, self.severity, self.protocol, self.check)?;
        if let Some(expert) = &self.expert {
            write!(f, " {expert}")?;
        }
        write!(f, "] {}", self.message)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_severity_order() {
        assert!(Severity::Error > Severity::Warn);
        assert!(Severity::Warn > Severity::Note);
        assert!(Severity::Note > Severity::Chat);
    }

    #[test]
    fn test_layers() {
        let mut layers = Layers::default();
        assert!(layers.is_empty());
        layers.insert(Protocol::Tcp);
        layers.insert(Protocol::Ip);
        assert!(layers.contains(Protocol::Tcp) && layers.contains(Protocol::Ip));
        assert!(!layers.contains(Protocol::Udp));
        layers.remove(Protocol::Tcp);
        assert!(!layers.contains(Protocol::Tcp));
    }

    #[test]
    fn test_json_shape() {
        let finding =
            Finding::own(3, Severity::Error, "tcp.bad_ack", Protocol::Tcp, "ACK 5 acknowledges unsent data".into());
        assert_eq!(
            serde_json::to_string(&finding).unwrap(),
            r#"{"frame":3,"severity":"error","source":"harness","check":"tcp.bad_ack","protocol":"TCP","message":"ACK 5 acknowledges unsent data"}"#
        );
    }
}
