//! Timestamp checks: a capture's clock never goes backwards.

use super::Sink;
use crate::dissect::Frame;
use crate::finding::{Protocol, Severity};
use crate::pcap::Timestamp;

/// Remembers the previous frame's timestamp.
#[derive(Debug, Default)]
pub(crate) struct TimeCheck {
    last: Option<(u64, Timestamp)>,
}

impl TimeCheck {
    /// Report a frame captured before the frame preceding it.
    pub(crate) fn check(&mut self, frame: &Frame<'_>, sink: &mut Sink) {
        if let Some((number, last)) = self.last {
            if frame.ts < last {
                let back = (last - frame.ts) as f64 / 1e9;
                sink.report(
                    Severity::Warn,
                    "time.not_monotonic",
                    Protocol::Frame,
                    format!("timestamp goes back {back:.9} s from frame {number}"),
                );
            }
        }
        if self.last.is_none_or(|(_, last)| frame.ts >= last) {
            self.last = Some((frame.number, frame.ts));
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::dissect::dissect;
    use crate::pcap::{LinkType, RawFrame};

    #[test]
    fn test_backwards() {
        let data = super::super::testutil::icmp_echo([1, 1, 1, 1], [2, 2, 2, 2], false, 1, 1);
        let mut check = TimeCheck::default();
        let mut sink = Sink::new();
        for (n, ts) in [(1, 5), (2, 7), (3, 6), (4, 7)] {
            let raw = RawFrame { linktype: LinkType::Raw, ts, orig_len: 0, data: &data, offset: 0 };
            sink.frame = n;
            check.check(&dissect(n, &raw), &mut sink);
        }
        let frames: Vec<u64> = sink.findings().iter().map(|f| f.frame).collect();
        assert_eq!(frames, vec![3]);
        assert_eq!(sink.findings()[0].check, "time.not_monotonic");
    }
}
