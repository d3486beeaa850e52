//! HTTP/1.x checks (RFC 9110, RFC 9112) over the reassembled TCP stream:
//! request and status lines, header syntax, message framing (Content-Length,
//! chunked, or until the connection closes), responses without requests.
//!
//! Each direction of a flow is parsed as the byte stream a receiver would
//! see ([`super::reassembly`]): a header block may span segments, a segment
//! may end one message and start the next (pipelining), a body may run over
//! many segments. Findings are reported on the frame whose bytes reveal
//! them and name the frame where the message started when it is another.

use std::collections::VecDeque;

use super::reassembly::{Budget, Buf, Piece};
use super::Sink;
use crate::finding::{Protocol, Severity};
use crate::wire::http::{self, HttpError, StartRef};

/// Longest header block reassembled (larger ones are noted, not parsed).
const MAX_HEAD: usize = 64 * 1024;
/// Longest chunk-size or trailer line.
const MAX_LINE: usize = 4 * 1024;

/// Where a direction's parser stands.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At a message boundary.
    #[default]
    Start,
    /// Inside a header block (its first bytes are buffered).
    Head,
    /// Inside a body framed by Content-Length.
    Body { remaining: u64 },
    /// Reading a chunk-size line (RFC 9112 §7.1).
    ChunkSize,
    /// Inside chunk data.
    ChunkData { remaining: u64 },
    /// After chunk data: its CRLF (`cr` once the CR was seen).
    ChunkEnd { cr: bool },
    /// Reading the trailer section after the last chunk.
    Trailer,
    /// A body delimited by the end of the connection (RFC 9112 §6.3 rule 8).
    UntilClose,
    /// Not HTTP (any more): bytes are ignored until a segment starts a
    /// message again.
    Lost,
    /// The flow was picked up mid-stream: its first bytes may continue a
    /// message the capture missed; like `Lost`, but counted as HTTP and
    /// not reported.
    Unsynced,
}

/// What the framing decision needs from a parsed header block (copied out
/// of the parser's borrow of the buffered bytes).
struct Framing {
    start: Start,
    location: bool,
    chunked: bool,
    content_length: Option<u64>,
}

/// A start line, reduced to what the checks use.
enum Start {
    /// A request: HEAD or not; the method when an HTTP/1.1 request lacks
    /// its Host (for the message; no allocation otherwise).
    Request {
        head: bool,
        missing_host: Option<String>,
    },
    Response {
        code: u16,
    },
}

impl Framing {
    fn of(head: &http::Head<'_>) -> Framing {
        let start = match head.start {
            StartRef::Request { method, version, .. } => Start::Request {
                head: method.eq_ignore_ascii_case("HEAD"),
                missing_host: (version == 1 && !head.host).then(|| method.to_string()),
            },
            StartRef::Response { code, .. } => Start::Response { code },
        };
        Framing { start, location: head.location, chunked: head.chunked, content_length: head.content_length }
    }
}

/// What parsing a header block left.
enum HeadOutcome {
    /// The head ended after this many bytes of the data given.
    Used(usize),
    /// The head was buffered; these bytes followed it.
    Rest(Vec<u8>),
    /// The data is used up (buffered, or the direction is lost).
    Stop,
}

/// One direction of an HTTP flow.
#[derive(Debug, Default)]
struct Direction {
    state: State,
    /// The partial header block or line.
    buf: Buf,
    /// Frame where the message being read started.
    started: u64,
    /// Whether a message was seen in this direction.
    seen: bool,
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

/// What the caller tells the parser about the frame being checked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx {
    /// The frame being checked.
    pub(crate) frame: u64,
    /// The server's port, for messages.
    pub(crate) port: u16,
}

impl Flow {
    /// Feed one piece of direction `dir`'s stream; return whether its bytes
    /// belong to HTTP messages.
    pub(crate) fn piece(
        &mut self,
        dir: usize,
        piece: Piece<'_>,
        ctx: Ctx,
        budget: &mut Budget,
        sink: &mut Sink,
    ) -> bool {
        match piece {
            Piece::Gap(bytes) => {
                let d = &mut self.dirs[dir];
                d.state = match d.state {
                    State::Body { remaining } if u64::from(bytes) < remaining => {
                        State::Body { remaining: remaining - u64::from(bytes) }
                    }
                    State::Body { .. } => State::Start,
                    State::UntilClose => State::UntilClose,
                    State::Unsynced => State::Unsynced,
                    _ => State::Lost,
                };
                d.buf.clear(budget);
                false
            }
            Piece::Bytes { frame, data } => self.bytes(dir, frame, data, ctx, budget, sink),
        }
    }

    /// Make the state of a flow picked up mid-stream (see
    /// [`State::Unsynced`]).
    pub(crate) fn midstream() -> Flow {
        let mut flow = Flow::default();
        for d in &mut flow.dirs {
            d.state = State::Unsynced;
        }
        flow
    }

    /// Return whether direction `dir` is reading HTTP (not lost).
    pub(crate) fn in_sync(&self, dir: usize) -> bool {
        let d = &self.dirs[dir];
        d.state == State::Unsynced || (d.seen && d.state != State::Lost)
    }

    /// Give back every buffered byte (the flow is dropped).
    pub(crate) fn release(&mut self, budget: &mut Budget) {
        for d in &mut self.dirs {
            d.buf.clear(budget);
        }
    }

    /// Parse the bytes `data` (first sent in `frame`) of direction `dir`.
    fn bytes(
        &mut self,
        dir: usize,
        frame: u64,
        mut data: &[u8],
        ctx: Ctx,
        budget: &mut Budget,
        sink: &mut Sink,
    ) -> bool {
        let mut http = false;
        if matches!(self.dirs[dir].state, State::Lost | State::Unsynced) {
            if !http::looks_like_http(data) {
                return self.dirs[dir].state == State::Unsynced;
            }
            self.dirs[dir].state = State::Start;
        }
        while !data.is_empty() {
            let d = &mut self.dirs[dir];
            match d.state {
                State::Start => {
                    if !(http::looks_like_http(data) || (http::may_start_http(data) && d.buf.is_empty())) {
                        self.not_http(dir, data, ctx, sink);
                        return http;
                    }
                    d.state = State::Head;
                    d.started = frame;
                }
                State::Head => {
                    http = true;
                    match self.head(dir, data, ctx, budget, sink) {
                        HeadOutcome::Used(n) => data = &data[n..],
                        HeadOutcome::Rest(rest) => {
                            // The rest was buffered with the head: parse it
                            // from the copy (whose own heads are never
                            // buffered again in full, so this goes one
                            // level deep).
                            self.bytes(dir, frame, &rest, ctx, budget, sink);
                            return true;
                        }
                        HeadOutcome::Stop => return true,
                    }
                }
                State::Body { remaining } => {
                    http = true;
                    let take = data.len().min(usize::try_from(remaining).unwrap_or(usize::MAX));
                    d.state = if take as u64 == remaining {
                        State::Start
                    } else {
                        State::Body { remaining: remaining - take as u64 }
                    };
                    data = &data[take..];
                }
                State::ChunkData { remaining } => {
                    http = true;
                    let take = data.len().min(usize::try_from(remaining).unwrap_or(usize::MAX));
                    d.state = if take as u64 == remaining {
                        State::ChunkEnd { cr: false }
                    } else {
                        State::ChunkData { remaining: remaining - take as u64 }
                    };
                    data = &data[take..];
                }
                State::ChunkEnd { cr } => {
                    http = true;
                    match (cr, data[0]) {
                        (false, b'\r') => d.state = State::ChunkEnd { cr: true },
                        (_, b'\n') => d.state = State::ChunkSize,
                        _ => {
                            let started = d.started;
                            d.state = State::Lost;
                            report(
                                sink,
                                ctx,
                                Severity::Error,
                                "http.malformed",
                                started,
                                "chunked body: chunk data is not followed by CRLF (RFC 9112 §7.1)".into(),
                            );
                            return http;
                        }
                    }
                    data = &data[1..];
                }
                State::ChunkSize | State::Trailer => {
                    http = true;
                    let Some(end) = data.iter().position(|b| *b == b'\n') else {
                        if !d.buf.append(data, MAX_LINE, budget) {
                            let started = d.started;
                            d.buf.clear(budget);
                            d.state = State::Lost;
                            report(
                                sink,
                                ctx,
                                Severity::Error,
                                "http.malformed",
                                started,
                                format!("chunked body: a chunk-size or trailer line longer than {MAX_LINE} bytes"),
                            );
                        }
                        return http;
                    };
                    let line_part = &data[..end];
                    data = &data[end + 1..];
                    let whole;
                    let line: &[u8] = if d.buf.is_empty() {
                        line_part
                    } else {
                        let mut joined = d.buf.take(budget);
                        joined.extend_from_slice(line_part);
                        whole = joined;
                        &whole
                    };
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    if d.state == State::Trailer {
                        if line.is_empty() {
                            d.state = State::Start;
                        }
                        continue;
                    }
                    match chunk_size(line) {
                        Some(0) => d.state = State::Trailer,
                        Some(size) => d.state = State::ChunkData { remaining: size },
                        None => {
                            let started = d.started;
                            d.state = State::Lost;
                            let shown = String::from_utf8_lossy(&line[..line.len().min(40)]).into_owned();
                            report(
                                sink,
                                ctx,
                                Severity::Error,
                                "http.malformed",
                                started,
                                format!("chunked body: {shown:?} is not a chunk size (hex digits, RFC 9112 §7.1)"),
                            );
                            return http;
                        }
                    }
                }
                State::UntilClose | State::Unsynced => return true,
                State::Lost => return http,
            }
        }
        http
    }

    /// Report bytes that start no HTTP message where one should start.
    fn not_http(&mut self, dir: usize, data: &[u8], ctx: Ctx, sink: &mut Sink) {
        let d = &mut self.dirs[dir];
        d.state = State::Lost;
        if d.seen {
            // Bytes after a complete message that start no message: the
            // framing (Content-Length) was wrong.
            let started = d.started;
            report(
                sink,
                ctx,
                Severity::Error,
                "http.bad_content_length",
                started,
                format!("{} bytes follow the end of the message body and start no HTTP message", data.len()),
            );
        } else {
            sink.report(
                Severity::Warn,
                "http.not_http",
                Protocol::Http,
                format!("TCP payload on HTTP port {} is not an HTTP message", ctx.port),
            );
        }
    }

    /// Parse a header block from the buffered bytes and `data`.
    fn head(&mut self, dir: usize, data: &[u8], ctx: Ctx, budget: &mut Budget, sink: &mut Sink) -> HeadOutcome {
        let d = &mut self.dirs[dir];
        let buffered = !d.buf.is_empty();
        if buffered && !d.buf.append(data, MAX_HEAD, budget) {
            return self.head_too_long(dir, budget, sink);
        }
        let bytes: &[u8] = if buffered { d.buf.bytes() } else { data };
        let head = match http::parse_head(bytes) {
            Ok(head) => head,
            Err(HttpError::Partial) => {
                if !buffered && !d.buf.append(data, MAX_HEAD, budget) {
                    return self.head_too_long(dir, budget, sink);
                }
                return HeadOutcome::Stop;
            }
            Err(error) => {
                let started = d.started;
                let response = bytes.starts_with(b"HTTP/");
                d.buf.clear(budget);
                d.state = State::Lost;
                d.seen = true;
                report(sink, ctx, Severity::Error, "http.malformed", started, error.to_string());
                if response {
                    // A broken response still answers the request: do not
                    // report that request as unanswered too.
                    if let Some(index) = self.requests.iter().position(|(d, _, _)| *d != dir) {
                        self.requests.remove(index);
                    }
                }
                return HeadOutcome::Stop;
            }
        };
        let header_len = head.header_len;
        let head = Framing::of(&head);
        let state = self.framing(dir, &head, ctx, sink);
        let d = &mut self.dirs[dir];
        d.seen = true;
        d.state = state;
        if !buffered {
            return HeadOutcome::Used(header_len);
        }
        let mut all = d.buf.take(budget);
        all.drain(..header_len);
        if all.is_empty() {
            HeadOutcome::Stop
        } else {
            HeadOutcome::Rest(all)
        }
    }

    /// A header block that outgrew what is reassembled.
    fn head_too_long(&mut self, dir: usize, budget: &mut Budget, sink: &mut Sink) -> HeadOutcome {
        let d = &mut self.dirs[dir];
        d.buf.clear(budget);
        d.state = State::Lost;
        d.seen = true;
        sink.report(
            Severity::Note,
            "http.partial_header",
            Protocol::Http,
            format!(
                "header block of the message from frame {} is longer than {} KiB: not reassembled",
                d.started,
                MAX_HEAD / 1024
            ),
        );
        HeadOutcome::Stop
    }

    /// Check a parsed start line against the conversation and return how
    /// its body is framed (RFC 9112 §6.3).
    fn framing(&mut self, dir: usize, head: &Framing, ctx: Ctx, sink: &mut Sink) -> State {
        let started = self.dirs[dir].started;
        let mut no_body = false;
        match &head.start {
            Start::Request { head: is_head, missing_host } => {
                self.requests.push_back((dir, started, *is_head));
                if let Some(method) = missing_host {
                    // RFC 9112 §3.2: "A client MUST send a Host header field
                    // in all HTTP/1.1 request messages."
                    report(
                        sink,
                        ctx,
                        Severity::Error,
                        "http.missing_host",
                        started,
                        format!("HTTP/1.1 {method} request without a Host header field (RFC 9112 §3.2)"),
                    );
                }
                // RFC 9112 §6.3 rule 6: a request with neither
                // Content-Length nor chunked has no body.
                return if head.chunked {
                    State::ChunkSize
                } else {
                    head.content_length.map_or(State::Start, |length| {
                        if length == 0 {
                            State::Start
                        } else {
                            State::Body { remaining: length }
                        }
                    })
                };
            }
            Start::Response { code } => {
                let code = *code;
                let final_response = code >= 200;
                match self.requests.iter().position(|(d, _, _)| *d != dir) {
                    Some(index) => {
                        no_body = self.requests[index].2;
                        if final_response {
                            self.requests.remove(index);
                        }
                    }
                    None => report(
                        sink,
                        ctx,
                        Severity::Warn,
                        "http.response_without_request",
                        started,
                        format!("status {code} answers no request on this connection"),
                    ),
                }
                // RFC 9110 §15.4.2-§15.4.9: the server SHOULD generate a
                // Location for 301, 302, 303, 307 and 308.
                if matches!(code, 301 | 302 | 303 | 307 | 308) && !head.location {
                    report(
                        sink,
                        ctx,
                        Severity::Warn,
                        "http.missing_location",
                        started,
                        format!("redirect {code} without a Location header field (RFC 9110 §15.4)"),
                    );
                }
                // RFC 9110 §6.4.1: 1xx, 204 and 304 responses have no content.
                no_body |= code < 200 || code == 204 || code == 304;
                if code == 101 {
                    // Switching protocols: what follows is not HTTP/1.x.
                    self.dirs[1 - dir].state = State::Lost;
                    return State::Lost;
                }
            }
        }
        if no_body {
            State::Start
        } else if head.chunked {
            State::ChunkSize
        } else {
            match head.content_length {
                Some(0) => State::Start,
                Some(length) => State::Body { remaining: length },
                None => State::UntilClose,
            }
        }
    }
}

/// Report a finding on the frame being checked, naming the frame where the
/// message started when it is another one.
fn report(sink: &mut Sink, ctx: Ctx, severity: Severity, check: &'static str, started: u64, message: String) {
    let message = if started != 0 && started != ctx.frame {
        format!("{message} (message from frame {started})")
    } else {
        message
    };
    sink.report(severity, check, Protocol::Http, message);
}

/// Parse a chunk-size line: hex digits, optionally followed by extensions
/// (`;name=value`) and whitespace.
fn chunk_size(line: &[u8]) -> Option<u64> {
    let end = line.iter().position(|b| *b == b';').unwrap_or(line.len());
    let digits = line[..end].trim_ascii();
    if digits.is_empty() || digits.len() > 15 {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
}

/// Report bodies that never completed and requests without responses.
pub(crate) fn incomplete(sink: &mut Sink, flow: &Flow) {
    for d in &flow.dirs {
        let what = match d.state {
            State::Body { remaining } => {
                Some(format!("{remaining} bytes of the body announced by Content-Length never arrived"))
            }
            State::ChunkSize | State::ChunkData { .. } | State::ChunkEnd { .. } => {
                Some("chunked body never ended (no last chunk, RFC 9112 §7.1)".to_string())
            }
            _ => None,
        };
        if let Some(what) = what {
            sink.report_at(d.started, Severity::Warn, "http.incomplete_body", Protocol::Http, what);
        }
        if d.state == State::Head {
            sink.report_at(
                d.started,
                Severity::Note,
                "http.partial_header",
                Protocol::Http,
                "header block never completed before the capture ended".into(),
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
    use crate::finding::Protocol;
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
        let found =
            run(&tcp_conversation(GET, b"HTTP/1.1 301 Moved Permanently\r\nLocation: /b\r\nContent-Length: 0\r\n\r\n"));
        assert_eq!(found, vec![]);
    }

    #[test]
    fn test_unanswered_request() {
        let frames = tcp_conversation(GET, b"");
        let found = run(&frames);
        assert!(found.contains(&(4, "http.unanswered".into())), "{found:?}");
    }

    /// Split `bytes` at `cuts`.
    fn split<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
        let mut parts = Vec::new();
        let mut at = 0;
        for &cut in cuts {
            parts.push(&bytes[at..cut]);
            at = cut;
        }
        parts.push(&bytes[at..]);
        parts
    }

    #[test]
    fn test_header_split_across_segments() {
        // Split inside the request line, and between a CR and its LF.
        let cr = GET.iter().position(|b| *b == b'\r').unwrap();
        for cuts in [vec![3], vec![cr + 1], vec![2, cr + 1, GET.len() - 1]] {
            let frames = segmented(80, &split(GET, &cuts), &[OK]);
            assert_eq!(run(&frames), vec![], "request cut at {cuts:?}");
            let present = presence(LinkType::Raw, &frames, Protocol::Http);
            assert!(
                present[3..3 + cuts.len() + 1].iter().all(|p| *p),
                "every segment of the request carries HTTP: {present:?}"
            );
        }
    }

    #[test]
    fn test_body_across_segments() {
        let response = b"HTTP/1.1 200 OK\r\nContent-Length: 26\r\n\r\nabcdefghijklmnopqrstuvwxyz";
        let frames = segmented(80, &[GET], &split(response, &[10, 40, 50]));
        assert_eq!(run(&frames), vec![]);
        // A body one byte short of its Content-Length, then the end.
        let frames = segmented(80, &[GET], &split(&response[..response.len() - 1], &[10, 40]));
        assert_eq!(run(&frames), vec![(6, "http.incomplete_body".into())]);
    }

    #[test]
    fn test_pipelined_messages() {
        // Two requests in one segment, the responses split mid-message.
        let requests = [GET, GET].concat();
        let responses = [OK, OK].concat();
        let frames = segmented(80, &[&requests], &split(&responses, &[OK.len() + 5]));
        assert_eq!(run(&frames), vec![]);
        // A second response that answers no request.
        let frames = segmented(80, &[GET], &[&responses]);
        assert_eq!(run(&frames), vec![(6, "http.response_without_request".into())]);
    }

    #[test]
    fn test_chunked_body() {
        let response = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1a;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: 1\r\n\r\n";
        for cuts in [vec![], vec![50, 53, 62, 80, 100], (1..response.len()).collect()] {
            let frames = segmented(80, &[GET], &split(response, &cuts));
            assert_eq!(run(&frames), vec![], "cut at {cuts:?}");
        }
        let bad = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n";
        assert_eq!(run(&segmented(80, &[GET], &[bad])), vec![(6, "http.malformed".into())]);
        let unended = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";
        assert_eq!(run(&segmented(80, &[GET], &[unended])), vec![(6, "http.incomplete_body".into())]);
    }

    #[test]
    fn test_body_until_close() {
        let response = b"HTTP/1.0 200 OK\r\n\r\nany bytes, until the server closes";
        assert_eq!(run(&segmented(80, &[b"GET / HTTP/1.0\r\n\r\n"], &split(response, &[20, 30]))), vec![]);
    }

    #[test]
    fn test_retransmission_and_reordering() {
        let response = b"HTTP/1.1 200 OK\r\nContent-Length: 26\r\n\r\nabcdefghijklmnopqrstuvwxyz";
        let mut frames = segmented(80, &[GET], &split(response, &[30, 50]));
        // Retransmit the second segment after the third.
        frames.insert(8, frames[6].clone());
        assert_eq!(run(&frames), vec![]);
        assert!(presence(LinkType::Raw, &frames, Protocol::Http)[8], "a retransmitted body segment carries HTTP");
    }

    #[test]
    fn test_message_from_earlier_frame_is_named() {
        let bad = b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n";
        let frames = segmented(80, &[GET], &split(bad, &[20]));
        let findings = check_frames(LinkType::Raw, &frames);
        let malformed = findings.iter().find(|f| f.check == "http.malformed").expect("malformed header");
        assert_eq!(malformed.frame, 7);
        assert!(malformed.message.ends_with("(message from frame 6)"), "{}", malformed.message);
    }
}
