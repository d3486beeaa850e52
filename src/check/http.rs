//! HTTP/1.x checks (RFC 9110, RFC 9112): request and status lines, header
//! syntax, Content-Length against the body, responses without requests.
//!
//! Messages are tracked per TCP flow so that a body continued in later
//! segments counts as HTTP (present), and a response is paired with the
//! request before it.

use std::collections::VecDeque;

use super::Sink;
use crate::dissect::{Frame, Transport, HTTP_PORTS};
use crate::finding::{Protocol, Severity};
use crate::wire::http::{self, HttpError, StartRef};

#[derive(Debug, Default)]
struct Direction {
    /// Body bytes still expected (Content-Length not yet reached).
    remaining: u64,
    /// Frame where the message whose body is pending started.
    body_frame: u64,
}

/// The HTTP state of one TCP flow (kept in the checker's shared TCP flow
/// table, [`super::TcpFlowState`]).
#[derive(Debug, Default)]
pub(crate) struct Flow {
    /// Per direction: 0 = from the lower endpoint, 1 = from the higher.
    dirs: [Direction; 2],
    /// Requests awaiting a response: (direction of the request, frame, HEAD?).
    requests: VecDeque<(usize, u64, bool)>,
}

/// Check one frame; marks HTTP present on body continuation segments.
/// `flow` is the HTTP slot of the frame's entry in the shared TCP flow table
/// (`None` when the frame has no TCP over IPv4); it is filled on the flow's
/// first HTTP segment.
pub(crate) fn check(frame: &mut Frame<'_>, flow: Option<&mut Option<Box<Flow>>>, sink: &mut Sink) {
    if !frame.expected.contains(Protocol::Http) {
        return;
    }
    let Transport::Tcp(tcp) = &frame.transport else { return };
    let Some((src, dst)) = frame.ipv4_addrs() else { return };
    let Some(flow) = flow else { return };
    let (sport, dport) = (tcp.source_port(), tcp.destination_port());
    let payload = tcp.payload();
    let forward = (src, sport) <= (dst, dport);
    let dir = usize::from(!forward);
    let number = frame.number;
    let flow = flow.get_or_insert_with(Box::default);
    let mut rest = payload;
    // A body continued from an earlier segment.
    let state = &mut flow.dirs[dir];
    if state.remaining > 0 {
        frame.present.insert(Protocol::Http);
        let take = rest.len().min(state.remaining as usize);
        state.remaining -= take as u64;
        rest = &rest[take..];
        if rest.is_empty() {
            return;
        }
    }
    let mut first = true;
    while !rest.is_empty() {
        if !http::looks_like_http(rest) {
            if first && frame.present.contains(Protocol::Http) {
                // Bytes after a complete body that start no message.
                sink.report(
                    Severity::Error,
                    "http.bad_content_length",
                    Protocol::Http,
                    format!("{} bytes follow the end of the message body", rest.len()),
                );
            } else if first {
                let port = if HTTP_PORTS.contains(&dport) { dport } else { sport };
                sink.report(
                    Severity::Warn,
                    "http.not_http",
                    Protocol::Http,
                    format!("TCP payload on HTTP port {port} is not an HTTP message"),
                );
            } else {
                sink.report(
                    Severity::Error,
                    "http.bad_content_length",
                    Protocol::Http,
                    format!("{} bytes follow the body declared by Content-Length", rest.len()),
                );
            }
            return;
        }
        frame.present.insert(Protocol::Http);
        first = false;
        let message = match http::parse_head(rest) {
            Ok(message) => message,
            Err(HttpError::Partial) => {
                sink.report(
                    Severity::Note,
                    "http.partial_header",
                    Protocol::Http,
                    "header block continues past this segment (not reassembled)".into(),
                );
                return;
            }
            Err(error) => {
                sink.report(Severity::Error, "http.malformed", Protocol::Http, error.to_string());
                if rest.starts_with(b"HTTP/") {
                    // A broken response still answers the request: do
                    // not report that request as unanswered too.
                    if let Some(index) = flow.requests.iter().position(|(d, _, _)| *d != dir) {
                        flow.requests.remove(index);
                    }
                }
                return;
            }
        };
        let mut no_body = false;
        match message.start {
            StartRef::Request { method, version, .. } => {
                flow.requests.push_back((dir, number, method.eq_ignore_ascii_case("HEAD")));
                if version == 1 && !message.host {
                    // RFC 9112 §3.2: "A client MUST send a Host header field
                    // in all HTTP/1.1 request messages."
                    sink.report(Severity::Error, "http.missing_host", Protocol::Http, format!("HTTP/1.1 {method} request without a Host header field (RFC 9112 §3.2)"));
                }
            }
            StartRef::Response { code, .. } => {
                let final_response = code >= 200;
                match flow.requests.iter().position(|(d, _, _)| *d != dir) {
                    Some(index) => {
                        let head = flow.requests[index].2;
                        if final_response {
                            flow.requests.remove(index);
                        }
                        no_body = head;
                    }
                    None => sink.report(
                        Severity::Warn,
                        "http.response_without_request",
                        Protocol::Http,
                        format!("status {code} answers no request on this connection"),
                    ),
                }
                // RFC 9110 §15.4.2-§15.4.9: the server SHOULD generate a
                // Location for 301, 302, 303, 307 and 308.
                if matches!(code, 301 | 302 | 303 | 307 | 308) && !message.location {
                    sink.report(Severity::Warn, "http.missing_location", Protocol::Http, format!("redirect {code} without a Location header field (RFC 9110 §15.4)"));
                }
                // RFC 9110 §6.4.1: 1xx, 204 and 304 responses have no content.
                no_body |= code < 200 || code == 204 || code == 304;
            }
        }
        let body = &rest[message.header_len..];
        let declared = if no_body { Some(0) } else { message.content_length };
        match declared {
            Some(length) if (body.len() as u64) > length => {
                let extra = &body[length as usize..];
                if http::looks_like_http(extra) {
                    rest = extra; // Pipelined message.
                    continue;
                }
                sink.report(
                    Severity::Error,
                    "http.bad_content_length",
                    Protocol::Http,
                    format!("body of {} bytes exceeds Content-Length {length}", body.len()),
                );
                return;
            }
            Some(length) => {
                flow.dirs[dir] = Direction { remaining: length - body.len() as u64, body_frame: number };
            }
            None => {}
        }
        return;
    }
}

/// Report bodies that never completed and requests without responses.
pub(crate) fn incomplete(sink: &mut Sink, flow: &Flow) {
    for dir in &flow.dirs {
        if dir.remaining > 0 {
            sink.report_at(
                dir.body_frame,
                Severity::Warn,
                "http.incomplete_body",
                Protocol::Http,
                format!("{} bytes of the body announced by Content-Length never arrived", dir.remaining),
            );
        }
    }
    for (_, frame, _) in &flow.requests {
        sink.report_at(*frame, Severity::Warn, "http.unanswered", Protocol::Http, "request has no response".into());
    }
}

#[cfg(test)]
mod test {
    use super::super::testutil::*;
    use crate::pcap::LinkType;

    fn run(frames: &[Vec<u8>]) -> Vec<(u64, String)> {
        ids(&check_frames(LinkType::Raw, frames))
    }

    #[test]
    fn test_clean_conversation() {
        assert_eq!(run(&tcp_conversation(GET, OK)), vec![]);
    }

    #[test]
    fn test_malformed_status_line() {
        let bad = b"HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(run(&tcp_conversation(GET, bad)), vec![(6, "http.malformed".into())]);
    }

    #[test]
    fn test_body_longer_than_content_length() {
        let bad = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhello";
        assert_eq!(run(&tcp_conversation(GET, bad)), vec![(6, "http.bad_content_length".into())]);
    }

    #[test]
    fn test_body_shorter_than_content_length() {
        let bad = b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nhello";
        assert_eq!(run(&tcp_conversation(GET, bad)), vec![(6, "http.incomplete_body".into())]);
    }

    #[test]
    fn test_response_without_request() {
        let frames = tcp_conversation(b"HELLO there", OK);
        let found = run(&frames);
        assert!(found.contains(&(4, "http.not_http".into())), "{found:?}");
        assert!(found.contains(&(6, "http.response_without_request".into())), "{found:?}");
    }

    #[test]
    fn test_extension_method_is_http() {
        // RFC 9110 §9.1: SUBSCRIBE (UPnP GENA) is a method like any token.
        let found = run(&tcp_conversation(b"SUBSCRIBE /evt HTTP/1.1\r\nHost: a\r\n\r\n", OK));
        assert_eq!(found, vec![]);
    }

    #[test]
    fn test_missing_host() {
        let found = run(&tcp_conversation(b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", OK));
        assert_eq!(found, vec![(4, "http.missing_host".into())]);
        // HTTP/1.0 has no such rule.
        assert_eq!(run(&tcp_conversation(b"GET / HTTP/1.0\r\n\r\n", OK)), vec![]);
    }

    #[test]
    fn test_redirect_without_location() {
        let found = run(&tcp_conversation(GET, b"HTTP/1.1 301 Moved Permanently\r\nContent-Length: 0\r\n\r\n"));
        assert_eq!(found, vec![(6, "http.missing_location".into())]);
        let found = run(&tcp_conversation(GET, b"HTTP/1.1 301 Moved Permanently\r\nLocation: /b\r\nContent-Length: 0\r\n\r\n"));
        assert_eq!(found, vec![]);
    }

    #[test]
    fn test_unanswered_request() {
        let frames = tcp_conversation(GET, b"");
        let found = run(&frames);
        assert!(found.contains(&(4, "http.unanswered".into())), "{found:?}");
    }
}
