//! Wire formats the harness reads and writes itself, smoltcp-style.
//!
//! Ethernet, IPv4, TCP, UDP, ICMP and ARP come from `etherparse`; this module
//! holds only what no crate gives us in the shape the checkers need:
//!
//! - [`dns`]: a lenient DNS message view (RFC 1035). Besides the usual
//!   `Packet` view and `Repr`, [`dns::walk`] walks every section of an
//!   untrusted message, counts the records really present against the header
//!   counts and reports where and why it stopped, without ever failing.
//! - [`http`]: HTTP/1.x message framing (RFC 9110, RFC 9112) over `httparse`:
//!   start line, headers, `Content-Length` and `Transfer-Encoding`.
//!
//! Binary formats come in two levels, as in smoltcp: a `Packet<T>` view that
//! reads and writes header fields in place (use `new_checked` on untrusted
//! bytes; once it returns `Ok`, no getter panics), and a `Repr` value that is
//! `parse`d from and `emit`ted into a view, sized by `buffer_len`.
//!
//! ```
//! use harness::wire::dns::{Flags, Packet, Question, RecordType, Repr};
//!
//! let repr = Repr {
//!     id: 0x1234,
//!     flags: Flags { recursion_desired: true, ..Flags::default() },
//!     questions: vec![Question { name: "example.com".into(), qtype: RecordType::A, qclass: 1 }],
//!     answers: vec![],
//!     authorities: vec![],
//!     additionals: vec![],
//! };
//! let mut buffer = vec![0; repr.buffer_len()];
//! repr.emit(&mut Packet::new_unchecked(&mut buffer));
//! let packet = Packet::new_checked(&buffer)?;
//! assert_eq!(packet.question_count(), 1);
//! assert_eq!(Repr::parse(&packet)?, repr);
//! # Ok::<(), harness::wire::dns::Error>(())
//! ```

pub mod dns;
pub mod http;
pub mod zigbee;
