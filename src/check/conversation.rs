//! Conversations: which frames belong together.
//!
//! A conversation is what a summary line asks a model for: a TCP session
//! (a new one starts when a SYN with a new ISN reuses the 4-tuple), a DNS
//! exchange (flow and id), an ICMP echo or timestamp exchange (address pair,
//! id, sequence), an ARP exchange (address pair), a UDP flow; any other frame
//! is a conversation of its own.

use etherparse::ArpOperation;

use super::{FlowTable, Limits};
use crate::dissect::{Frame, Net, Transport};
use crate::finding::Protocol;

/// Index of a conversation within one capture, from 0.
pub type ConversationId = u32;

/// Canonical (ordered) endpoint pair plus what distinguishes exchanges.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Tcp([u8; 4], u16, [u8; 4], u16),
    Udp([u8; 4], u16, [u8; 4], u16, Option<u16>),
    Icmp([u8; 4], [u8; 4], u8, u16, u16),
    Arp([u8; 4], [u8; 4]),
}

/// The conversation of one flow or exchange.
#[derive(Debug)]
pub(crate) struct State {
    id: ConversationId,
    /// ISN of the SYN that opened a TCP session.
    syn_seq: Option<u32>,
}

/// Assigns conversation ids to frames.
#[derive(Debug, Default)]
pub(crate) struct Conversations {
    table: FlowTable<Key, Option<State>>,
    next: ConversationId,
}

impl Conversations {
    /// Make a tracker holding at most `limits.max_flows` open conversations.
    pub(crate) fn new(limits: Limits) -> Conversations {
        Conversations { table: FlowTable::new(limits.max_flows), next: 0 }
    }

    /// Return how many conversations have been assigned.
    pub(crate) fn count(&self) -> u32 {
        self.next
    }

    /// Return the conversation of `frame`. `tcp` is the conversation slot of
    /// the frame's TCP flow when the caller already looked the flow up (see
    /// [`super::TcpFlowState`]); other frames use this tracker's own table.
    #[inline]
    pub(crate) fn assign(&mut self, frame: &Frame<'_>, tcp: Option<&mut Option<State>>) -> ConversationId {
        let slot = match tcp {
            Some(slot) => slot,
            None => {
                let Some(key) = key(frame) else { return self.fresh() };
                self.table.entry(&key, || None, |_, _| {})
            }
        };
        let syn = match &frame.transport {
            Transport::Tcp(tcp) if tcp.syn() && !tcp.ack() => Some(tcp.sequence_number()),
            _ => None,
        };
        let next = &mut self.next;
        let state = slot.get_or_insert_with(|| {
            let id = *next;
            *next += 1;
            State { id, syn_seq: syn }
        });
        if let (Some(seq), Some(open)) = (syn, state.syn_seq) {
            if seq != open {
                // Port reuse: a new session on the same 4-tuple.
                state.id = *next;
                state.syn_seq = Some(seq);
                *next += 1;
            }
        } else if syn.is_some() {
            state.syn_seq = syn;
        }
        state.id
    }

    fn fresh(&mut self) -> ConversationId {
        self.next += 1;
        self.next - 1
    }
}

fn ordered<T: Ord + Copy>(a: T, b: T) -> (T, T) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

fn key(frame: &Frame<'_>) -> Option<Key> {
    if let Net::Arp(arp) = &frame.net {
        let spa: [u8; 4] = arp.sender_protocol_addr().try_into().ok()?;
        let tpa: [u8; 4] = arp.target_protocol_addr().try_into().ok()?;
        if !matches!(arp.operation(), ArpOperation::REQUEST | ArpOperation::REPLY) {
            return None;
        }
        let (a, b) = ordered(spa, tpa);
        return Some(Key::Arp(a, b));
    }
    let (src, dst) = frame.ipv4_addrs()?;
    match &frame.transport {
        Transport::Tcp(tcp) => {
            let ((a, ap), (b, bp)) = ordered((src, tcp.source_port()), (dst, tcp.destination_port()));
            Some(Key::Tcp(a, ap, b, bp))
        }
        Transport::Udp(udp) => {
            let ((a, ap), (b, bp)) = ordered((src, udp.source_port()), (dst, udp.destination_port()));
            let payload = udp.payload();
            let dns_id = (frame.present.contains(Protocol::Dns) && payload.len() >= 2)
                .then(|| u16::from_be_bytes([payload[0], payload[1]]));
            Some(Key::Udp(a, ap, b, bp, dns_id))
        }
        Transport::Icmp(icmp) => {
            let (a, b) = ordered(src, dst);
            let rest = icmp.bytes5to8();
            match icmp.type_u8() {
                0 | 8 => Some(Key::Icmp(
                    a,
                    b,
                    8,
                    u16::from_be_bytes([rest[0], rest[1]]),
                    u16::from_be_bytes([rest[2], rest[3]]),
                )),
                13 | 14 => Some(Key::Icmp(
                    a,
                    b,
                    13,
                    u16::from_be_bytes([rest[0], rest[1]]),
                    u16::from_be_bytes([rest[2], rest[3]]),
                )),
                _ => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod test {
    use super::super::testutil::*;
    use super::*;
    use crate::dissect::dissect;
    use crate::pcap::{LinkType, RawFrame};

    fn assign_all(frames: &[Vec<u8>]) -> Vec<ConversationId> {
        let mut conversations = Conversations::new(Limits::default());
        frames
            .iter()
            .enumerate()
            .map(|(i, data)| {
                let raw = RawFrame { linktype: LinkType::Raw, ts: 0, orig_len: data.len() as u32, data, offset: 0 };
                conversations.assign(&dissect(i as u64 + 1, &raw), None)
            })
            .collect()
    }

    #[test]
    fn test_tcp_session_and_reuse() {
        let mut frames = tcp_conversation(GET, OK);
        let mut second = tcp_conversation(GET, OK);
        second[0] = tcp(A, B, 40000, 80, "S", 9000, 0, b"");
        frames.extend(second.into_iter().take(1));
        let ids = assign_all(&frames);
        assert!(ids[..11].iter().all(|&id| id == 0));
        assert_eq!(ids[11], 1);
    }

    #[test]
    fn test_icmp_pairs() {
        let frames = vec![
            icmp_echo(A, B, false, 1, 1),
            icmp_echo(B, A, true, 1, 1),
            icmp_echo(A, B, false, 1, 2),
            icmp_echo(B, A, true, 1, 2),
        ];
        assert_eq!(assign_all(&frames), vec![0, 0, 1, 1]);
    }
}
