//! The expectation of a summary: the reference model's answer to it,
//! built by the JSON builder and digested ([`Expectation::from_reference`]).
//!
//! Building runs the reference model and the executor, so it lives here,
//! above both (imports point down the layers of the README's
//! "Architecture"), while `scenario/` only reads summaries and compares
//! traces with expectations. For the same reason a summary is only usable
//! when its reference trace builds: [`parse`] and [`parse_all`] read
//! summaries as [`Scenario::parse`] does and refuse those.

use std::path::Path;

use super::{answer, reference};
use crate::exec::json;
use crate::scenario::expect::{Expectation, Sidecar};
use crate::scenario::{Mode, ParseError, Scenario, SuiteProtocol};

/// The expectation of `scenario`, from its reference trace.
///
/// # Errors
/// Why the reference trace cannot be built: a summary asking for
/// something the dialects cannot write (the JSON builder's error).
pub fn try_of(scenario: &Scenario) -> Result<Expectation, json::JsonTraceError> {
    let trace = json::build(&answer::render_json(&reference::packets(scenario)))?;
    Ok(Expectation::from_reference(scenario, &trace))
}

/// The expectation of `scenario`, from its reference trace.
///
/// # Panics
/// Never for a scenario [`parse`] or [`parse_all`] accepts: they refuse
/// summaries whose reference trace does not build.
pub fn of(scenario: &Scenario) -> Expectation {
    try_of(scenario).expect("model::expect::parse refuses summaries whose reference trace does not build")
}

/// The expectation of several summaries in a row (the packet lines of one
/// packet-mode answer): see [`Expectation::concat`].
///
/// # Panics
/// As [`of`].
pub fn of_all<'s>(scenarios: impl IntoIterator<Item = &'s Scenario>) -> Expectation {
    Expectation::concat(scenarios.into_iter().map(of))
}

/// Read a summary line for `protocol` in `mode` that can be used: it
/// reads ([`Scenario::parse`]) and its correct answer can be written.
///
/// # Errors
/// A [`ParseError`] naming the part of the line that could not be read,
/// or saying that the summary cannot be built.
pub fn parse(protocol: SuiteProtocol, mode: Mode, text: &str) -> Result<Scenario, ParseError> {
    let scenario = Scenario::parse(protocol, mode, text)?;
    try_of(&scenario).map_err(|what| ParseError {
        protocol: protocol.name(),
        mode: mode.name(),
        what: format!("the summary cannot be built: {what}"),
        line: text.chars().take(120).collect(),
    })?;
    Ok(scenario)
}

/// Read every packet line of a summary ([`Scenario::parse_all`]); `None`
/// unless every line reads and can be built (see [`parse`]).
pub fn parse_all(protocol: SuiteProtocol, mode: Mode, text: &str) -> Option<Vec<Scenario>> {
    let scenarios = Scenario::parse_all(protocol, mode, text)?;
    scenarios.iter().all(|s| try_of(s).is_ok()).then_some(scenarios)
}

/// The expectation of `capture` from its sidecar ([`Sidecar::read`]), if
/// it has one whose summary can be used.
pub fn of_sidecar(capture: &Path) -> Option<Expectation> {
    let sidecar = Sidecar::read(capture)?;
    let scenarios = parse_all(sidecar.protocol, sidecar.mode, &sidecar.summary)?;
    Some(of_all(&scenarios))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Protocol;
    use crate::scenario::expect::SERVER_FIELDS;
    use crate::scenario::generate::generate;

    #[test]
    fn reference_meets_its_expectation() {
        for protocol in SuiteProtocol::ALL {
            for mode in [Mode::Packet, Mode::Conversation] {
                for s in generate(protocol, mode, 9, 20) {
                    let e = of(&s);
                    let text = answer::render_json(&reference::packets(&s));
                    let trace = json::build(&text).unwrap();
                    assert_eq!(e.compare(&trace), vec![], "{s}");
                }
            }
        }
    }

    #[test]
    fn dns_client_port_is_free_unless_the_summary_names_it() {
        let line = |port: &str| {
            format!("Source: IP= \"10.0.0.1\"{port} // Destination: IP= \"10.0.0.2\" // Others: id=0x1234 , resource= \"a.com\" , response = \"1.2.3.4\"")
        };
        let free = parse(SuiteProtocol::Dns, Mode::Conversation, &line("")).unwrap();
        let fixed = parse(SuiteProtocol::Dns, Mode::Conversation, &line(", port=5555")).unwrap();
        let mut pkts = reference::packets(&fixed);
        if let answer::Body::Ip(ip) = &mut pkts[0].body {
            if let answer::L4::Udp(u) = &mut ip.l4 {
                u.sport = 4444;
            }
        }
        let trace = json::build(&answer::render_json(&pkts)).unwrap();
        assert_eq!(of(&free).compare(&trace), vec![]);
        let found = of(&fixed).compare(&trace);
        assert!(found.len() == 1 && found[0].message.contains("udp.sport is 4444"), "{found:?}");
        assert!(of(&free).packets.iter().all(|p| p.iter().any(|f| f.value == "53")));
    }

    #[test]
    fn day_answer_connection_and_host_name_one_server() {
        let s = &generate(SuiteProtocol::Day, Mode::Conversation, 1, 3)[0];
        let Scenario::Day(day) = s else { unreachable!() };
        let e = of(s);
        let server = day.server_ip.to_string();
        assert!(e.packets.iter().any(|p| p.iter().any(|f| f.name == "dns.answers" && f.value == server)), "{e:?}");
        assert!(e.packets.iter().any(|p| p.iter().any(|f| f.name == "http.host" && f.value == day.host)), "{e:?}");
        // The DNS answer names another server: a mismatch on the response.
        let mut pkts = reference::packets(s);
        super::super::mutant::Fault::DnsHttpMismatch.apply_packets(&mut pkts);
        let trace = json::build(&answer::render_json(&pkts)).unwrap();
        let found = e.compare(&trace);
        assert!(
            found.len() == 1 && found[0].protocol == Protocol::Dns && found[0].message.starts_with("dns.answers is "),
            "{found:?}"
        );
        // Other suites do not compare them.
        for protocol in [SuiteProtocol::Dns, SuiteProtocol::Http] {
            let e = of(&generate(protocol, Mode::Conversation, 1, 3)[0]);
            assert!(e.packets.iter().flatten().all(|f| !SERVER_FIELDS.contains(&f.name)), "{e:?}");
        }
    }

    #[test]
    fn swapped_reply_and_missing_packet_are_mismatches() {
        let s = &generate(SuiteProtocol::Icmp, Mode::Conversation, 1, 1)[0];
        let e = of(s);
        let mut pkts = reference::packets(s);
        if let answer::Body::Ip(ip) = &mut pkts[1].body {
            std::mem::swap(&mut ip.src, &mut ip.dst);
        }
        let trace = json::build(&answer::render_json(&pkts)).unwrap();
        let found = e.compare(&trace);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found.iter().all(|f| f.frame == 2 && f.protocol == Protocol::Ip));
        pkts.pop();
        let trace = json::build(&answer::render_json(&pkts)).unwrap();
        let found = e.compare(&trace);
        assert_eq!((found.len(), found[0].protocol), (1, Protocol::Frame), "{found:?}");
    }

    #[test]
    fn summaries_no_packet_can_carry_are_errors_not_panics() {
        // A real tshark line (text-davinci-003's prompt in the corpus): the answer is a CNAME chain.
        let line = "130.231.240.70 → 130.231.202.234 DNS 207 Standard query response 0xea13 A steamstore-a.akamaihd.net CNAME steamstore-a.akamaihd.net.edgesuite.net CNAME a1737.b.akamai.net A 193.166.4.71";
        // It reads, but its reference trace does not build: not usable.
        let scenario = Scenario::parse(SuiteProtocol::Dns, Mode::Packet, line).unwrap();
        assert!(matches!(try_of(&scenario), Err(json::JsonTraceError::Field { .. })));
        let err = parse(SuiteProtocol::Dns, Mode::Packet, line).unwrap_err();
        assert!(err.to_string().contains("cannot be built"), "{err}");
        assert_eq!(parse_all(SuiteProtocol::Dns, Mode::Packet, line), None);
    }

    #[test]
    fn packet_summaries_of_several_lines_expect_every_packet() {
        let one = "10.0.0.1 → 10.0.0.2 ICMP 98 Echo (ping) request id=0x0001, seq=1/256, ttl=64";
        let two = format!("{one} 10.0.0.2 → 10.0.0.1 ICMP 98 Echo (ping) reply id=0x0001, seq=1/256, ttl=64");
        let scenarios = parse_all(SuiteProtocol::Icmp, Mode::Packet, &two).unwrap();
        assert_eq!(scenarios.len(), 2);
        let e = of_all(&scenarios);
        assert_eq!((e.packets.len(), e.waived.len()), (2, of(&scenarios[0]).waived.len()));
    }

    #[test]
    fn sidecars_give_the_expectation_of_their_capture() {
        let dir = tempfile::tempdir().unwrap();
        let capture = dir.path().join("0000.pcap");
        assert_eq!(of_sidecar(&capture), None);
        let s = &generate(SuiteProtocol::Arp, Mode::Conversation, 3, 1)[0];
        let sidecar = Sidecar { protocol: SuiteProtocol::Arp, mode: Mode::Conversation, summary: s.to_string() };
        std::fs::write(Sidecar::path_of(&capture), serde_json::to_string(&sidecar).unwrap()).unwrap();
        assert_eq!(of_sidecar(&capture), Some(of(s)));
        let unreadable = Sidecar { summary: "not a summary".into(), ..sidecar };
        std::fs::write(Sidecar::path_of(&capture), serde_json::to_string(&unreadable).unwrap()).unwrap();
        assert_eq!(of_sidecar(&capture), None);
    }
}
