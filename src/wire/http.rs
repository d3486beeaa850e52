//! HTTP/1.x message framing over `httparse` (RFC 9110, RFC 9112).
//!
//! [`parse`] reads the start line and header block at the front of one TCP
//! payload and works out how the body is framed (`Content-Length` or chunked
//! `Transfer-Encoding`, RFC 9112 §6); it does not reassemble segments or
//! decode bodies. `httparse` does the tokenizing; this module adds the checks
//! it leaves to its caller (status code range, `Content-Length` syntax and
//! agreement, conflicting framing) and errors that quote the offending line.
//!
//! ```
//! use harness::wire::http::{parse, StartLine};
//!
//! let message = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")?;
//! assert_eq!(message.start, StartLine::Response { version: 1, code: 200, reason: "OK".into() });
//! assert_eq!(message.content_length, Some(5));
//! assert_eq!(message.body_complete(), Some(true));
//! # Ok::<(), harness::wire::http::HttpError>(())
//! ```

use std::mem::MaybeUninit;

/// Most header fields one message may carry.
pub const MAX_HEADERS: usize = 64;

/// Request methods [`looks_like_http`] recognises: RFC 9110 §9 and PATCH
/// (RFC 5789). Methods are case-sensitive (RFC 9110 §9.1).
const METHODS: [&[u8]; 9] = [b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"CONNECT", b"OPTIONS", b"TRACE", b"PATCH"];

/// The version prefix of a status line (RFC 9112 §4).
const RESPONSE_PREFIX: &[u8] = b"HTTP/1.";

/// Length of `HTTP/1.x NNN ` in front of a reason phrase.
const REASON_OFFSET: usize = 13;

/// Longest excerpt of a line quoted in an error.
const QUOTE_LEN: usize = 60;

/// The first line of a message (RFC 9112 §3, §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    /// A request line.
    Request {
        /// The method token, e.g. `GET`.
        method: String,
        /// The request target, e.g. `/index.html`.
        target: String,
        /// The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
        version: u8,
    },
    /// A status line.
    Response {
        /// The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
        version: u8,
        /// The status code, 100 to 599.
        code: u16,
        /// The reason phrase, possibly empty (RFC 9112 §4); octets outside
        /// UTF-8 are replaced with U+FFFD.
        reason: String,
    },
}

/// The start line and header block of one HTTP/1.x message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The request or status line.
    pub start: StartLine,
    /// Header fields in order, names as sent, values without surrounding
    /// whitespace.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Octets from the start of the payload through the empty line that ends
    /// the header block.
    pub header_len: usize,
    /// The `Content-Length` value, if the message has one.
    pub content_length: Option<u64>,
    /// Whether the final transfer coding is `chunked` (RFC 9112 §6.1).
    pub chunked: bool,
    /// Octets after the header block in this payload.
    pub body_len: usize,
}

impl Message {
    /// Return the value of the first header field named `name`, compared
    /// case-insensitively (RFC 9110 §5.1).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_slice())
    }

    /// Return whether this payload holds the whole body announced by
    /// `Content-Length`, or `None` when there is no `Content-Length`.
    pub fn body_complete(&self) -> Option<bool> {
        self.content_length.map(|length| self.body_len as u64 >= length)
    }

    /// Return whether the message is a request.
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }
}

/// Why [`parse`] rejected a payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// The header block does not end in this payload.
    #[error("HTTP header block incomplete: no empty line ends it in this payload")]
    Partial,
    /// The request or status line is malformed.
    #[error("HTTP start line: {detail}")]
    BadStartLine {
        /// What is wrong, quoting the line.
        detail: String,
    },
    /// A header field is malformed, or there are too many.
    #[error("HTTP header: {detail}")]
    BadHeader {
        /// What is wrong, quoting the line.
        detail: String,
    },
    /// A `Content-Length` value is not a number, or several disagree.
    #[error("HTTP Content-Length: {detail} (RFC 9110 §8.6)")]
    BadContentLength {
        /// What is wrong.
        detail: String,
    },
    /// Both `Transfer-Encoding` and `Content-Length` are present.
    #[error(
        "HTTP framing: both Transfer-Encoding and Content-Length are present (RFC 9112 §6.2 forbids it, §6.3 says to treat it as an error)"
    )]
    ConflictingFraming,
}

/// Return whether a TCP payload starts like an HTTP/1.x message: a known
/// method followed by a space, `HTTP/1.`, or a request line with any other
/// method token (RFC 9110 §9.1: the method is a token, and extension methods
/// such as `SUBSCRIBE` are methods; RFC 9112 §3: `method SP request-target SP
/// HTTP-version`) that ends in `HTTP/1.x`.
pub fn looks_like_http(payload: &[u8]) -> bool {
    payload.starts_with(RESPONSE_PREFIX)
        || METHODS.iter().any(|m| payload.len() > m.len() && payload.starts_with(m) && payload[m.len()] == b' ')
        || extension_request_line(payload)
}

/// Return whether `bytes`, too short to decide, may be the start of an
/// HTTP/1.x message (a prefix of `HTTP/1.` or of a known method and its
/// space): a stream reassembler waits for more before it decides.
pub fn may_start_http(bytes: &[u8]) -> bool {
    let prefix_of = |whole: &[u8]| bytes.len() < whole.len() && whole.starts_with(bytes);
    !bytes.is_empty()
        && (prefix_of(RESPONSE_PREFIX)
            || METHODS.iter().any(|m| prefix_of(m) || (bytes.len() == m.len() && bytes == *m)))
}

/// Return whether `payload` starts with a request line whose method is a
/// token outside [`METHODS`]: `token SP target SP HTTP/1.d` up to the line end.
fn extension_request_line(payload: &[u8]) -> bool {
    let line = payload.split(|b| *b == b'\n').next().unwrap_or(payload);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut parts = line.split(|b| *b == b' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    // RFC 9110 §5.6.2: token = 1*tchar.
    let tchar = |b: &u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b);
    !method.is_empty()
        && method.iter().all(tchar)
        && !target.is_empty()
        && version.len() == 8
        && version.starts_with(b"HTTP/1.")
        && version[7].is_ascii_digit()
}

/// Parse the start line and header block at the front of `payload`.
///
/// Bare LF line endings are accepted (RFC 9112 §2.2 allows recipients to),
/// and so is a status line without a reason phrase (RFC 9112 §4).
///
/// # Errors
/// [`HttpError::Partial`] when the header block does not end in `payload`;
/// [`HttpError::BadStartLine`], [`HttpError::BadHeader`],
/// [`HttpError::BadContentLength`] or [`HttpError::ConflictingFraming`] when
/// it is malformed.
pub fn parse(payload: &[u8]) -> Result<Message, HttpError> {
    let mut headers = [const { MaybeUninit::uninit() }; MAX_HEADERS];
    let (head, fields) = parse_into(payload, &mut headers)?;
    let start = match head.start {
        StartRef::Request { method, target, version } => {
            StartLine::Request { method: method.to_string(), target: target.to_string(), version }
        }
        StartRef::Response { version, code, reason } => {
            StartLine::Response { version, code, reason: reason_phrase(payload, reason) }
        }
    };
    let headers = fields.iter().map(|h| (h.name.to_string(), h.value.to_vec())).collect();
    let Head { header_len, content_length, chunked, body_len, .. } = head;
    Ok(Message { start, headers, header_len, content_length, chunked, body_len })
}

/// Return the standard reason phrase of a status code (RFC 9110 §15), or
/// `""` for a code without one here.
pub fn standard_reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// Return the request target and the `Host` field value of the request at
/// the front of `payload`, without allocating: `None` for a response, a
/// request without `Host` (RFC 9112 §3.2), or a header block that does not
/// parse whole.
pub fn request_host(payload: &[u8]) -> Option<(&str, &[u8])> {
    let mut headers = [const { MaybeUninit::uninit() }; MAX_HEADERS];
    let (head, fields) = parse_into(payload, &mut headers).ok()?;
    let StartRef::Request { target, .. } = head.start else { return None };
    let host = fields.iter().find(|h| h.name.eq_ignore_ascii_case("host"))?;
    Some((target, host.value))
}

/// The start line of a message as [`parse_head`] sees it, borrowed from the
/// payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartRef<'a> {
    /// A request line.
    Request {
        /// The method token, e.g. `GET`.
        method: &'a str,
        /// The request target, e.g. `/index.html`.
        target: &'a str,
        /// The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
        version: u8,
    },
    /// A status line.
    Response {
        /// The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
        version: u8,
        /// The status code, 100 to 599.
        code: u16,
        /// The reason phrase as `httparse` gives it: empty when the phrase
        /// holds obs-text ([`Message`]'s owned phrase keeps those octets).
        reason: &'a str,
    },
}

/// What [`parse_head`] finds: a [`Message`] without its header fields,
/// borrowed from the payload and allocation-free.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head<'a> {
    /// The request or status line.
    pub start: StartRef<'a>,
    /// Octets from the start of the payload through the empty line that ends
    /// the header block.
    pub header_len: usize,
    /// The `Content-Length` value, if the message has one.
    pub content_length: Option<u64>,
    /// Whether the final transfer coding is `chunked` (RFC 9112 §6.1).
    pub chunked: bool,
    /// Octets after the header block in this payload.
    pub body_len: usize,
    /// Whether a `Host` header field is present (RFC 9112 §3.2).
    pub host: bool,
    /// Whether a `Location` header field is present (RFC 9110 §10.2.2).
    pub location: bool,
}

/// Parse the start line and header block at the front of `payload` as
/// [`parse`] does, with the same errors, without allocating: for callers
/// that need the framing but not the header fields.
///
/// # Errors
/// As [`parse`].
pub fn parse_head(payload: &[u8]) -> Result<Head<'_>, HttpError> {
    let mut headers = [const { MaybeUninit::uninit() }; MAX_HEADERS];
    parse_into(payload, &mut headers).map(|(head, _)| head)
}

/// Parse into the caller's header array (left uninitialised: `httparse`
/// writes only the fields it finds, and the 64-entry array would cost more
/// to fill than a short message to parse); return the head and the fields.
fn parse_into<'b, 'h>(
    payload: &'b [u8],
    headers: &'h mut [MaybeUninit<httparse::Header<'b>>],
) -> Result<(Head<'b>, &'h [httparse::Header<'b>]), HttpError> {
    // The default configuration, as `Request::parse` and `Response::parse` use.
    let config = httparse::ParserConfig::default();
    let (start, header_len, fields) = if skip_empty_lines(payload).starts_with(b"HTTP/") {
        let mut response = httparse::Response::new(&mut []);
        let header_len = complete(config.parse_response_with_uninit_headers(&mut response, payload, headers), payload)?;
        let (Some(version), Some(code)) = (response.version, response.code) else {
            return Err(HttpError::Partial);
        };
        // RFC 9110 §15: a status code is three digits, 100 to 599.
        if !(100..=599).contains(&code) {
            return Err(HttpError::BadStartLine {
                detail: format!(
                    "status code {code:03} is outside 100-599 (RFC 9110 §15) in {}",
                    quote_start_line(payload)
                ),
            });
        }
        let reason = response.reason.unwrap_or("");
        (StartRef::Response { version, code, reason }, header_len, response.headers)
    } else {
        let mut request = httparse::Request::new(&mut []);
        let header_len = complete(config.parse_request_with_uninit_headers(&mut request, payload, headers), payload)?;
        let (Some(method), Some(target), Some(version)) = (request.method, request.path, request.version) else {
            return Err(HttpError::Partial);
        };
        (StartRef::Request { method, target, version }, header_len, request.headers)
    };
    let fields: &'h [httparse::Header<'b>] = fields;
    let content_length = content_length(fields)?;
    let coding = final_coding(fields);
    if coding.is_some() && content_length.is_some() {
        return Err(HttpError::ConflictingFraming);
    }
    let chunked = coding.is_some_and(|c| c.eq_ignore_ascii_case(b"chunked"));
    if coding.is_some() && !chunked && matches!(start, StartRef::Request { .. }) {
        // RFC 9112 §6.3: a request whose final coding is not chunked has no
        // determinable length.
        return Err(HttpError::BadHeader {
            detail: "Transfer-Encoding of a request does not end with chunked (RFC 9112 §6.3)".into(),
        });
    }
    let has = |name: &str| fields.iter().any(|h| h.name.eq_ignore_ascii_case(name));
    let head = Head {
        start,
        header_len,
        content_length,
        chunked,
        body_len: payload.len() - header_len,
        host: has("host"),
        location: has("location"),
    };
    Ok((head, fields))
}

/// Turn an `httparse` result into the header length or an error.
fn complete(result: httparse::Result<usize>, payload: &[u8]) -> Result<usize, HttpError> {
    match result {
        Ok(httparse::Status::Complete(len)) => Ok(len),
        Ok(httparse::Status::Partial) => Err(HttpError::Partial),
        Err(error) => Err(describe(error, payload)),
    }
}

/// Explain an `httparse` error, quoting the line it concerns.
fn describe(error: httparse::Error, payload: &[u8]) -> HttpError {
    use httparse::Error as E;
    let start = skip_empty_lines(payload);
    let first = lines(start).next().unwrap_or_default();
    match error {
        E::Version => {
            HttpError::BadStartLine { detail: format!("HTTP version is not HTTP/1.0 or HTTP/1.1 in {}", quote(first)) }
        }
        E::Status => HttpError::BadStartLine {
            detail: format!(
                "status code is not three digits followed by a space or line end (RFC 9112 §4) in {}",
                quote(first)
            ),
        },
        E::Token => HttpError::BadStartLine {
            detail: format!("request line is not `method SP target SP version` (RFC 9112 §3) in {}", quote(first)),
        },
        E::NewLine if first.contains(&b'\r') => {
            HttpError::BadStartLine { detail: format!("CR without LF in {}", quote(first)) }
        }
        E::TooManyHeaders => HttpError::BadHeader { detail: format!("more than {MAX_HEADERS} header fields") },
        E::HeaderName | E::HeaderValue | E::NewLine => {
            let what = match error {
                E::HeaderName => "malformed field name (`name: value` expected, RFC 9110 §5.1, RFC 9112 §5)",
                E::HeaderValue => "invalid octet in field value (RFC 9110 §5.5)",
                _ => "CR without LF",
            };
            match bad_header_line(start, error) {
                Some((number, line)) => {
                    HttpError::BadHeader { detail: format!("{what} on line {number}: {}", quote(line)) }
                }
                None => HttpError::BadHeader { detail: what.into() },
            }
        }
    }
}

/// Find the header line (1-based, the start line being 1) that `error` most
/// likely concerns.
fn bad_header_line(message: &[u8], error: httparse::Error) -> Option<(usize, &[u8])> {
    let is_tchar = |b: &u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b);
    lines(message).enumerate().skip(1).take_while(|(_, line)| !line.is_empty()).find_map(|(i, line)| {
        let bad = match error {
            httparse::Error::HeaderName => match line.iter().position(|&b| b == b':') {
                Some(colon) => colon == 0 || !line[..colon].iter().all(is_tchar),
                None => true,
            },
            httparse::Error::HeaderValue => line.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f),
            _ => line.contains(&b'\r'),
        };
        bad.then_some((i + 1, line))
    })
}

/// Skip the empty lines a recipient may ignore before a start line (RFC 9112 §2.2).
fn skip_empty_lines(mut payload: &[u8]) -> &[u8] {
    loop {
        if let Some(rest) = payload.strip_prefix(b"\r\n") {
            payload = rest;
        } else if let Some(rest) = payload.strip_prefix(b"\n") {
            payload = rest;
        } else {
            return payload;
        }
    }
}

/// Split on LF, dropping the CR of a CRLF.
fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes.split(|&b| b == b'\n').map(|line| line.strip_suffix(b"\r").unwrap_or(line))
}

/// Return the reason phrase from the raw status line, since `httparse` gives
/// "" for one holding obs-text (RFC 9112 §4 allows it).
fn reason_phrase(payload: &[u8], parsed: &str) -> String {
    if !parsed.is_empty() {
        return parsed.to_string();
    }
    let line = lines(skip_empty_lines(payload)).next().unwrap_or_default();
    line.get(REASON_OFFSET..).map(|raw| String::from_utf8_lossy(raw).into_owned()).unwrap_or_default()
}

/// Quote the start line of `payload` for an error message.
fn quote_start_line(payload: &[u8]) -> String {
    quote(lines(skip_empty_lines(payload)).next().unwrap_or_default())
}

/// Quote a line for an error message: escaped, cut to [`QUOTE_LEN`] octets.
fn quote(line: &[u8]) -> String {
    let cut = &line[..line.len().min(QUOTE_LEN)];
    let more = if cut.len() < line.len() { "..." } else { "" };
    format!("\"{}{more}\"", cut.escape_ascii())
}

/// Return the `Content-Length` (RFC 9110 §8.6): every field and every list
/// member must be digits, and all must agree.
fn content_length(headers: &[httparse::Header<'_>]) -> Result<Option<u64>, HttpError> {
    let mut length = None;
    for value in headers.iter().filter(|h| h.name.eq_ignore_ascii_case("content-length")).map(|h| h.value) {
        // RFC 9110 §8.6 lets a recipient accept a list of identical values.
        for member in value.split(|&b| b == b',') {
            let member = trim_ows(member);
            let parsed = if !member.is_empty() && member.iter().all(u8::is_ascii_digit) {
                std::str::from_utf8(member).ok().and_then(|s| s.parse::<u64>().ok())
            } else {
                None
            };
            let Some(parsed) = parsed else {
                return Err(HttpError::BadContentLength {
                    detail: format!("{} is not a decimal length", quote(value)),
                });
            };
            match length {
                Some(previous) if previous != parsed => {
                    return Err(HttpError::BadContentLength {
                        detail: format!("several different values ({previous} and {parsed})"),
                    });
                }
                _ => length = Some(parsed),
            }
        }
    }
    Ok(length)
}

/// Return the last transfer coding named by the `Transfer-Encoding` fields
/// (RFC 9112 §6.1), without parameters, or `None` when there are none. An
/// empty field still counts, as an empty coding.
fn final_coding<'b>(headers: &[httparse::Header<'b>]) -> Option<&'b [u8]> {
    let mut last = None;
    for value in headers.iter().filter(|h| h.name.eq_ignore_ascii_case("transfer-encoding")).map(|h| h.value) {
        last = Some(last.unwrap_or_default());
        for member in value.split(|&b| b == b',') {
            let coding = trim_ows(member.split(|&b| b == b';').next().unwrap_or_default());
            if !coding.is_empty() {
                last = Some(coding);
            }
        }
    }
    last
}

/// Trim optional whitespace (SP, HTAB; RFC 9110 §5.6.3).
fn trim_ows(bytes: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes.iter().position(|b| !is_ows(b)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !is_ows(b)).map_or(start, |i| i + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod test {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    static GET_BYTES: &[u8] = b"GET /index.html HTTP/1.1\r\n\
        Host: example.com\r\n\
        User-Agent: curl/8.5.0\r\n\
        Accept: */*\r\n\
        \r\n";

    static OK_BYTES: &[u8] = b"HTTP/1.1 200 OK\r\n\
        Content-Type: text/html; charset=UTF-8\r\n\
        Content-Length: 13\r\n\
        \r\n\
        <html></html>";

    #[test]
    fn test_parse_request() {
        let message = parse(GET_BYTES).expect("valid");
        assert_eq!(
            message,
            Message {
                start: StartLine::Request { method: "GET".into(), target: "/index.html".into(), version: 1 },
                headers: vec![
                    ("Host".into(), b"example.com".to_vec()),
                    ("User-Agent".into(), b"curl/8.5.0".to_vec()),
                    ("Accept".into(), b"*/*".to_vec()),
                ],
                header_len: GET_BYTES.len(),
                content_length: None,
                chunked: false,
                body_len: 0,
            }
        );
        assert!(message.is_request());
        assert_eq!(message.header("host"), Some(&b"example.com"[..]));
        assert_eq!(message.header("Content-Length"), None);
        assert_eq!(message.body_complete(), None);
    }

    #[test]
    fn test_parse_response() {
        let message = parse(OK_BYTES).expect("valid");
        assert_eq!(message.start, StartLine::Response { version: 1, code: 200, reason: "OK".into() });
        assert_eq!(message.header_len, OK_BYTES.len() - 13);
        assert_eq!(&OK_BYTES[message.header_len..], b"<html></html>");
        assert_eq!((message.content_length, message.body_len, message.body_complete()), (Some(13), 13, Some(true)));
        assert!(!message.is_request());
        assert_eq!(message.header("CONTENT-TYPE"), Some(&b"text/html; charset=UTF-8"[..]));
    }

    #[rstest]
    #[case::get(GET_BYTES)]
    #[case::ok(OK_BYTES)]
    #[case::head_request(b"HEAD / HTTP/1.0\r\n\r\n")]
    #[case::obs_text_reason(b"HTTP/1.1 200 \xe9t\xe9\r\nContent-Length: 0\r\n\r\n")]
    #[case::chunked(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")]
    #[case::bad_code(b"HTTP/1.1 700 Odd\r\n\r\n")]
    #[case::bad_length(b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n")]
    #[case::conflict(b"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n")]
    #[case::partial(b"GET / HTTP/1.1\r\nHost: x\r\n")]
    fn test_parse_head_agrees_with_parse(#[case] payload: &[u8]) {
        let owned = parse(payload);
        let head = parse_head(payload);
        match (owned, head) {
            (Ok(message), Ok(head)) => {
                let (header_len, content_length, chunked, body_len) =
                    (head.header_len, head.content_length, head.chunked, head.body_len);
                assert_eq!(
                    (message.header_len, message.content_length, message.chunked, message.body_len),
                    (header_len, content_length, chunked, body_len)
                );
                match (message.start, head.start) {
                    (
                        StartLine::Request { method, target, version },
                        StartRef::Request { method: m, target: t, version: v },
                    ) => {
                        assert_eq!((method.as_str(), target.as_str(), version), (m, t, v));
                    }
                    (StartLine::Response { version, code, .. }, StartRef::Response { version: v, code: c, .. }) => {
                        assert_eq!((version, code), (v, c))
                    }
                    (owned, head) => panic!("start lines differ: {owned:?} vs {head:?}"),
                }
            }
            (Err(a), Err(b)) => assert_eq!(a, b),
            (a, b) => panic!("parse {a:?} but parse_head {b:?}"),
        }
    }

    #[rstest]
    #[case::get(GET_BYTES)]
    #[case::response(b"HTTP/1.1 200 OK\r\n\r\n")]
    #[case::http10(b"HTTP/1.0 404 Not Found\r\n\r\n")]
    #[case::patch(b"PATCH /x HTTP/1.1\r\n")]
    #[case::delete(b"DELETE / HTTP/1.1")]
    #[case::subscribe(b"SUBSCRIBE /AVTransport/evt HTTP/1.1\r\nHost: a\r\n\r\n")]
    #[case::unsubscribe_lf(b"UNSUBSCRIBE /x HTTP/1.0\n")]
    #[case::token_chars(b"M-SEARCH * HTTP/1.1\r\n")]
    // RFC 9110 §9.1: methods are case-sensitive tokens, so `get` and
    // `GETX` are (unregistered) methods, not garbage.
    #[case::lowercase(b"get / HTTP/1.1\r\n")]
    #[case::longer_token(b"GETX / HTTP/1.1\r\n")]
    fn test_looks_like_http(#[case] payload: &[u8]) {
        assert!(looks_like_http(payload));
    }

    #[rstest]
    #[case::empty(b"")]
    #[case::method_only(b"GET")]
    #[case::lowercase_without_version(b"get /\r\n")]
    #[case::no_space(b"GET/ HTTP/1.1\r\n")]
    #[case::http2_preface(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")]
    #[case::http2(b"HTTP/2 200\r\n")]
    #[case::tls(b"\x16\x03\x01\x02\x00\x01")]
    #[case::ssh(b"SSH-2.0-OpenSSH_9.6\r\n")]
    #[case::prose(b"hello there world\r\n")]
    #[case::no_version(b"SUBSCRIBE /x\r\n")]
    #[case::bad_token(b"SUB(SCRIBE) /x HTTP/1.1\r\n")]
    fn test_not_http(#[case] payload: &[u8]) {
        assert!(!looks_like_http(payload));
    }

    /// (start line, content length, chunked, body length) of good messages.
    #[rstest]
    #[case::bare_lf(b"GET / HTTP/1.1\nHost: a\n\n", StartLine::Request { method: "GET".into(), target: "/".into(), version: 1 }, None, false, 0)]
    #[case::http10_request(b"HEAD /a?b=c HTTP/1.0\r\n\r\n", StartLine::Request { method: "HEAD".into(), target: "/a?b=c".into(), version: 0 }, None, false, 0)]
    #[case::no_reason(b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", StartLine::Response { version: 1, code: 200, reason: "".into() }, Some(0), false, 0)]
    #[case::empty_reason(b"HTTP/1.1 204 \r\n\r\n", StartLine::Response { version: 1, code: 204, reason: "".into() }, None, false, 0)]
    #[case::obs_text_reason(b"HTTP/1.1 200 \xe9t\xe9\r\n\r\n", StartLine::Response { version: 1, code: 200, reason: "\u{fffd}t\u{fffd}".into() }, None, false, 0)]
    #[case::leading_empty_line(b"\r\nGET / HTTP/1.1\r\n\r\n", StartLine::Request { method: "GET".into(), target: "/".into(), version: 1 }, None, false, 0)]
    #[case::body_short(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", StartLine::Response { version: 1, code: 200, reason: "OK".into() }, Some(10), false, 5)]
    #[case::body_long(b"POST /f HTTP/1.1\r\nContent-Length: 2\r\n\r\nhello", StartLine::Request { method: "POST".into(), target: "/f".into(), version: 1 }, Some(2), false, 5)]
    #[case::repeated_same_length(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length: 5, 5\r\n\r\nhello", StartLine::Response { version: 1, code: 200, reason: "OK".into() }, Some(5), false, 5)]
    #[case::chunked(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", StartLine::Response { version: 1, code: 200, reason: "OK".into() }, None, true, 15)]
    #[case::gzip_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", StartLine::Response { version: 1, code: 200, reason: "OK".into() }, None, false, 0)]
    #[case::status_599(b"HTTP/1.1 599 Custom\r\n\r\n", StartLine::Response { version: 1, code: 599, reason: "Custom".into() }, None, false, 0)]
    fn test_good(
        #[case] payload: &[u8],
        #[case] start: StartLine,
        #[case] content_length: Option<u64>,
        #[case] chunked: bool,
        #[case] body_len: usize,
    ) {
        let message = parse(payload).expect("valid");
        assert_eq!(message.start, start);
        assert_eq!(message.content_length, content_length);
        assert_eq!(message.chunked, chunked);
        assert_eq!(message.body_len, body_len);
        assert_eq!(message.header_len + message.body_len, payload.len());
    }

    #[rstest]
    #[case::empty(b"", HttpError::Partial)]
    #[case::no_empty_line(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n", HttpError::Partial)]
    #[case::half_start_line(b"GET /ind", HttpError::Partial)]
    #[case::two_digit_status(b"HTTP/1.1 20 OK\r\n\r\n", HttpError::BadStartLine {
        detail: "status code is not three digits followed by a space or line end (RFC 9112 §4) in \"HTTP/1.1 20 OK\"".into() })]
    #[case::status_600(b"HTTP/1.1 600 Nope\r\n\r\n", HttpError::BadStartLine {
        detail: "status code 600 is outside 100-599 (RFC 9110 §15) in \"HTTP/1.1 600 Nope\"".into() })]
    #[case::status_099(b"HTTP/1.1 099 Low\r\n\r\n", HttpError::BadStartLine {
        detail: "status code 099 is outside 100-599 (RFC 9110 §15) in \"HTTP/1.1 099 Low\"".into() })]
    #[case::http2_version(b"HTTP/2.0 200 OK\r\n\r\n", HttpError::BadStartLine {
        detail: "HTTP version is not HTTP/1.0 or HTTP/1.1 in \"HTTP/2.0 200 OK\"".into() })]
    #[case::request_version(b"GET / HTTP/1.2\r\n\r\n", HttpError::BadStartLine {
        detail: "HTTP version is not HTTP/1.0 or HTTP/1.1 in \"GET / HTTP/1.2\"".into() })]
    #[case::missing_target(b"GET HTTP/1.1\r\n\r\n", HttpError::BadStartLine {
        detail: "request line is not `method SP target SP version` (RFC 9112 §3) in \"GET HTTP/1.1\"".into() })]
    #[case::bad_method(b"G(T / HTTP/1.1\r\n\r\n", HttpError::BadStartLine {
        detail: "request line is not `method SP target SP version` (RFC 9112 §3) in \"G(T / HTTP/1.1\"".into() })]
    #[case::header_without_colon(b"GET / HTTP/1.1\r\nHost example.com\r\n\r\n", HttpError::BadHeader {
        detail: "malformed field name (`name: value` expected, RFC 9110 §5.1, RFC 9112 §5) on line 2: \"Host example.com\"".into() })]
    #[case::space_before_colon(b"HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length : 5\r\n\r\nhello", HttpError::BadHeader {
        detail: "malformed field name (`name: value` expected, RFC 9110 §5.1, RFC 9112 §5) on line 3: \"Content-Length : 5\"".into() })]
    #[case::control_in_value(b"GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n", HttpError::BadHeader {
        detail: "invalid octet in field value (RFC 9110 §5.5) on line 2: \"X: a\\x01b\"".into() })]
    #[case::cl_not_numeric(b"HTTP/1.1 200 OK\r\nContent-Length: five\r\n\r\n", HttpError::BadContentLength {
        detail: "\"five\" is not a decimal length".into() })]
    #[case::cl_negative(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", HttpError::BadContentLength {
        detail: "\"-1\" is not a decimal length".into() })]
    #[case::cl_empty(b"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", HttpError::BadContentLength {
        detail: "\"\" is not a decimal length".into() })]
    #[case::cl_overflow(b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", HttpError::BadContentLength {
        detail: "\"99999999999999999999\" is not a decimal length".into() })]
    #[case::cl_disagree(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", HttpError::BadContentLength {
        detail: "several different values (5 and 6)".into() })]
    #[case::cl_list_disagree(b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello", HttpError::BadContentLength {
        detail: "several different values (5 and 6)".into() })]
    #[case::te_and_cl(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
        HttpError::ConflictingFraming
    )]
    #[case::request_te_not_chunked(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", HttpError::BadHeader {
        detail: "Transfer-Encoding of a request does not end with chunked (RFC 9112 §6.3)".into() })]
    fn test_bad(#[case] payload: &[u8], #[case] error: HttpError) {
        assert_eq!(parse(payload), Err(error));
    }

    #[test]
    fn test_too_many_headers() {
        let mut payload = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            payload.extend_from_slice(format!("X-{i}: {i}\r\n").as_bytes());
        }
        payload.extend_from_slice(b"\r\n");
        assert_eq!(
            parse(&payload),
            Err(HttpError::BadHeader { detail: format!("more than {MAX_HEADERS} header fields") })
        );
    }

    #[test]
    fn test_error_messages() {
        let error = parse(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n").expect_err("bad");
        assert_eq!(error.to_string(), "HTTP Content-Length: \"x\" is not a decimal length (RFC 9110 §8.6)");
        let long = format!("GET / HTTP/1.1\r\nBad Header{}\r\n\r\n", "x".repeat(100));
        let error = parse(long.as_bytes()).expect_err("bad");
        assert!(
            error
                .to_string()
                .ends_with("on line 2: \"Bad Headerxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...\""),
            "{error}"
        );
    }

    proptest! {
        #[test]
        fn prop_parse_never_panics(payload in prop::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(message) = parse(&payload) {
                prop_assert_eq!(message.header_len + message.body_len, payload.len());
            }
            let _ = looks_like_http(&payload);
        }

        #[test]
        fn prop_parse_mutated_never_panics(
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut payload = OK_BYTES.to_vec();
            for (at, value) in flips {
                let at = at.index(payload.len());
                payload[at] = value;
            }
            payload.truncate(cut.index(payload.len() + 1));
            if let Ok(message) = parse(&payload) {
                prop_assert_eq!(message.header_len + message.body_len, payload.len());
            }
        }
    }
}
