//! Shared helpers of the integration tests: packet builders with correct
//! checksums, capture writing, and access to the real tools.

#![allow(dead_code, unused_imports)]

pub mod batch_server;
pub mod server;

use std::path::{Path, PathBuf};

use harness::pcap::{LinkType, Writer};
use harness::tshark::Tshark;

/// Every PCAP and pcapng file under `dir`, folders walked in name order.
pub fn captures(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out);
            } else if matches!(path.extension().and_then(|e| e.to_str()), Some("pcap" | "pcapng")) {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out
}

/// Whether the real tools and data must be there (`HARNESS_REQUIRE_TOOLS`
/// or `CI` set): then a missing one fails the test instead of skipping it.
pub fn required() -> bool {
    std::env::var_os("HARNESS_REQUIRE_TOOLS").is_some() || std::env::var_os("CI").is_some()
}

/// Whether Python's Scapy can be imported; outside CI a missing Scapy skips
/// (loudly), in CI it fails the test.
pub fn scapy() -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import scapy"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(!required(), "Scapy is required here (ci/install-deps installs it)");
        eprintln!("SKIPPED: Scapy is not installed (ci/install-deps installs it)");
    }
    ok
}

/// `../shared/corpus/<relative>`, or `None` (loudly) outside CI when it is
/// not beside the checkout; in CI its absence fails the test.
pub fn shared(relative: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus").join(relative);
    if path.exists() {
        return Some(path);
    }
    assert!(!required(), "../shared/corpus/{relative} is missing: CI must run with shared/ beside the checkout");
    eprintln!("SKIPPED: ../shared/corpus/{relative} not found beside the checkout");
    None
}

/// Return the real tshark, or `None` (with a loud message) outside CI when
/// it is not installed. In CI (`HARNESS_REQUIRE_TOOLS` or `CI` set) a
/// missing tshark fails the test.
pub fn tshark() -> Option<Tshark> {
    match Tshark::locate(None) {
        Ok(tshark) => Some(tshark),
        Err(error) => {
            if required() {
                panic!("tshark is required here: {error} (ci/install-deps installs it)");
            }
            eprintln!("SKIPPED: {error}");
            None
        }
    }
}

/// Write `frames` (1 ms apart) as a capture.
pub fn write(path: &Path, linktype: LinkType, frames: &[Vec<u8>]) -> PathBuf {
    let mut out = Vec::new();
    let mut writer = Writer::new(&mut out, linktype).unwrap();
    for (i, frame) in frames.iter().enumerate() {
        writer.write(1_700_000_000_000_000_000 + i as u64 * 1_000_000, frame).unwrap();
    }
    writer.into_inner();
    std::fs::write(path, out).unwrap();
    path.to_path_buf()
}

pub use harness::testkit::{icmp_echo as echo, tcp, udp};

/// A DNS message for `example.com` A: a query, or a response with one
/// answer. `ancount` overrides the answer count in the header.
pub fn dns(id: u16, response: bool, ancount: Option<u16>) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&(if response { 0x8180u16 } else { 0x0100 }).to_be_bytes());
    let answers: u16 = if response { 1 } else { 0 };
    for count in [1, ancount.unwrap_or(answers), 0, 0] {
        out.extend_from_slice(&count.to_be_bytes());
    }
    out.extend_from_slice(b"\x07example\x03com\x00\x00\x01\x00\x01");
    if response {
        // Name pointer to offset 12, A, IN, TTL 300, 93.184.216.34.
        out.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 1, 0x2c, 0, 4, 93, 184, 216, 34]);
    }
    out
}

/// A correct HTTP conversation between `client` and `server` (11 packets).
pub fn http_conversation(client: [u8; 4], server: [u8; 4], port: u16, isn: u32) -> Vec<Vec<u8>> {
    let request = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
    let response = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    harness::testkit::http_conversation(
        client,
        port,
        server,
        isn,
        isn.wrapping_mul(3).wrapping_add(17),
        request,
        response,
    )
}
