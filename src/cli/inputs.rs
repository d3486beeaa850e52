//! Input files that are not what a command expects, recognised by their
//! first bytes, so that the message says what the file is: empty,
//! gzip-compressed, or text (a JSON trace, a log) instead of a capture.

use std::io::Read;
use std::path::Path;

/// What `path` is, when it is plainly not a capture: `None` for anything
/// that may be one (or cannot be opened: the caller's error says why).
pub fn not_a_capture(path: &Path) -> Option<String> {
    let mut head = Vec::with_capacity(512);
    std::fs::File::open(path).ok()?.take(512).read_to_end(&mut head).ok()?;
    let name = path.display();
    if head.is_empty() {
        return Some("the file is empty (0 bytes), not a capture".to_string());
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        return Some(format!("the file is gzip-compressed; decompress it first (gunzip -k {name})"));
    }
    let text = std::str::from_utf8(&head).is_ok_and(|t| t.chars().all(|c| !c.is_control() || c.is_ascii_whitespace()));
    if text {
        let trimmed = String::from_utf8_lossy(&head);
        let json = trimmed.trim_start().starts_with(['[', '{']);
        let hint = if json { "; a JSON packet list becomes a capture with `harness convert`" } else { "" };
        return Some(format!("the file is text, not a capture (PCAP or pcapng){hint}"));
    }
    None
}

/// The message for a capture that could not be read: `error`, followed by
/// what the file is when that explains it.
pub fn explain(path: &Path, error: &dyn std::fmt::Display) -> String {
    match not_a_capture(path) {
        Some(what) => format!("{error}; {what}"),
        None => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_that_are_not_captures_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        };
        assert!(not_a_capture(&write("e.pcap", b"")).unwrap().contains("empty"));
        assert!(not_a_capture(&write("z.pcap.gz", &[0x1f, 0x8b, 8, 0, 0, 0])).unwrap().contains("gzip-compressed"));
        assert!(not_a_capture(&write("t.pcap", b"[{\"protocol\": \"TCP\"}]\n")).unwrap().contains("harness convert"));
        assert!(not_a_capture(&write("l.pcap", b"some log line\n")).unwrap().contains("is text"));
        assert_eq!(not_a_capture(&write("p.pcap", &[0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0])), None);
        assert_eq!(not_a_capture(&dir.path().join("missing.pcap")), None);
    }
}
