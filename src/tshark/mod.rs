//! tshark as a second opinion: locate it, run it reproducibly, and turn its
//! Expert Info into findings.
//!
//! tshark runs with an empty private configuration directory and explicit
//! preferences ([`profile_preferences`]), in two-pass mode, and prints PDML only for the
//! frames that carry Expert Info (`-Y _ws.expert`), so a clean capture costs
//! one dissection pass and almost no output. PDML is the only output that
//! names each item's expert field (e.g. `tcp.analysis.lost_segment`); it is
//! read as an XML stream while tshark writes it ([`parse_pdml`]).

mod batch;
mod pdml;

pub use batch::{plan, MAX_BATCH_PACKETS};
pub use pdml::{parse_pdml, PdmlError};

use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use crate::finding::{Finding, Protocol, Severity};

/// The preferences every run uses, recorded in reports: with
/// `checksums`, tshark validates IPv4, TCP and UDP checksums (the default
/// for generated traces; Wireshark's own default is off, because of
/// checksum offload).
pub fn profile_preferences(checksums: bool) -> [(&'static str, &'static str); 5] {
    let check = if checksums { "TRUE" } else { "FALSE" };
    [
        ("ip.check_checksum", check),
        ("tcp.check_checksum", check),
        ("udp.check_checksum", check),
        ("tcp.analyze_sequence_numbers", "TRUE"),
        ("tcp.relative_sequence_numbers", "TRUE"),
    ]
}

/// tshark's part of a file report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TsharkSummary {
    /// `tshark --version`'s version number.
    pub version: String,
    /// Expert Info items of error severity.
    pub errors: u64,
    /// Expert Info items of warning severity.
    pub warnings: u64,
    /// Expert Info items of note severity.
    pub notes: u64,
    /// Expert Info items of chat severity.
    pub chats: u64,
}

/// How tshark was run, recorded so that a report can be reproduced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TsharkProfile {
    /// `tshark --version`'s version number.
    pub version: String,
    /// The command-line options given to every run (`-2`, `-o` preferences).
    pub options: Vec<String>,
}

/// Why tshark could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TsharkError {
    /// No tshark binary.
    #[error("tshark not found ({0}); install it (Debian: apt-get install tshark) or pass --tshark-path")]
    NotFound(String),
    /// tshark could not be started or waited for.
    #[error("cannot run {path}: {source}")]
    Spawn {
        /// The binary.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// tshark exited with a failure status.
    #[error("{path} failed ({status}): {stderr}")]
    Failed {
        /// The binary.
        path: String,
        /// Its exit status.
        status: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// tshark exited successfully but its PDML could not be read.
    #[error("cannot read {path}'s PDML for {capture}: {source}")]
    Pdml {
        /// The binary.
        path: String,
        /// The capture it read.
        capture: String,
        /// What was wrong with the PDML.
        source: PdmlError,
    },
}

/// tshark's verdict on one capture: counts per severity and findings.
pub type Expert = (TsharkSummary, Vec<Finding>);

/// A located tshark binary and its version.
///
/// Not `Clone`: it owns its private configuration folder, which is removed
/// when it is dropped; share it by reference (it is safe to use from several
/// threads at once).
#[derive(Debug)]
pub struct Tshark {
    path: PathBuf,
    version: String,
    config_dir: PathBuf,
    /// Whether tshark validates checksums (see [`profile_preferences`]).
    checksums: bool,
}

impl Tshark {
    /// Find tshark (`explicit`, else `PATH`) and read its version.
    ///
    /// # Errors
    /// [`TsharkError::NotFound`] when there is none, or when it does not run.
    pub fn locate(explicit: Option<&Path>) -> Result<Tshark, TsharkError> {
        let path = match explicit {
            Some(path) => path.to_path_buf(),
            None => find_in_path("tshark").ok_or_else(|| TsharkError::NotFound("not on PATH".into()))?,
        };
        let output = Command::new(&path)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| TsharkError::NotFound(format!("{}: {e}", path.display())))?;
        let text = String::from_utf8_lossy(&output.stdout);
        let version = parse_version(&text)
            .ok_or_else(|| TsharkError::NotFound(format!("{}: unrecognised --version output", path.display())))?;
        // One private directory per instance: instances may run side by side.
        static INSTANCE: AtomicU64 = AtomicU64::new(0);
        let instance = INSTANCE.fetch_add(1, Ordering::Relaxed);
        let config_dir = std::env::temp_dir().join(format!("harness-tshark-{}-{instance}", std::process::id()));
        std::fs::create_dir_all(&config_dir)
            .map_err(|source| TsharkError::Spawn { path: config_dir.display().to_string(), source })?;
        Ok(Tshark { path, version, config_dir, checksums: true })
    }

    /// Set whether tshark validates IPv4, TCP and UDP checksums (on by
    /// default).
    pub fn set_checksum_validation(&mut self, on: bool) {
        self.checksums = on;
    }

    /// Return how this tshark runs: version and options, for reports.
    pub fn profile(&self) -> TsharkProfile {
        TsharkProfile { version: self.version.clone(), options: self.options() }
    }

    /// Return the analysis options of every run (the capture comes after).
    fn options(&self) -> Vec<String> {
        let mut options: Vec<String> =
            ["-n", "-2", "-Y", "_ws.expert", "-T", "pdml"].iter().map(|s| s.to_string()).collect();
        for (name, value) in profile_preferences(self.checksums) {
            options.push("-o".into());
            options.push(format!("{name}:{value}"));
        }
        options
    }

    /// Return the version number (`4.0.17`).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Run tshark's two-pass Expert Info analysis on `capture`.
    ///
    /// # Errors
    /// tshark cannot start or fails (its stderr is in the error).
    pub fn expert(&self, capture: &Path) -> Result<Expert, TsharkError> {
        let mut command = Command::new(&self.path);
        command
            .env("WIRESHARK_CONFIG_DIR", &self.config_dir)
            .env("LC_ALL", "C")
            .args(self.options())
            .arg("-r")
            .arg(capture);
        let spawn_error = |source| TsharkError::Spawn { path: self.path.display().to_string(), source };
        let mut child =
            command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().map_err(spawn_error)?;
        let stderr = child.stderr.take().expect("piped");
        let stderr_thread = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = BufReader::new(stderr).read_to_string(&mut text);
            text
        });
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        let findings = parse_pdml(&mut stdout);
        if findings.is_err() {
            // Read tshark's output to its end so that it does not block on a
            // full pipe; its exit status decides which error is reported.
            let _ = std::io::copy(&mut stdout, &mut std::io::sink());
        }
        let status = child.wait().map_err(spawn_error)?;
        let stderr = stderr_thread.join().unwrap_or_default();
        if !status.success() {
            let stderr = stderr.lines().filter(|l| !l.starts_with("Running as user")).collect::<Vec<_>>().join("; ");
            return Err(TsharkError::Failed {
                path: self.path.display().to_string(),
                status: status.to_string(),
                stderr,
            });
        }
        let findings = findings.map_err(|source| TsharkError::Pdml {
            path: self.path.display().to_string(),
            capture: capture.display().to_string(),
            source,
        })?;
        Ok((self.summarise(&findings), findings))
    }

    /// Count `findings` per severity.
    fn summarise(&self, findings: &[Finding]) -> TsharkSummary {
        let mut summary = TsharkSummary { version: self.version.clone(), ..TsharkSummary::default() };
        for finding in findings {
            match finding.severity {
                Severity::Error => summary.errors += 1,
                Severity::Warn => summary.warnings += 1,
                Severity::Note => summary.notes += 1,
                Severity::Chat => summary.chats += 1,
            }
        }
        summary
    }
}

impl Drop for Tshark {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.config_dir);
    }
}

/// Return the first executable called `name` on `PATH`.
fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|candidate| candidate.is_file())
}

/// Extract `4.0.17` from `TShark (Wireshark) 4.0.17 (Git v4.0.17 …)`.
fn parse_version(text: &str) -> Option<String> {
    let line = text.lines().find(|l| l.starts_with("TShark"))?;
    let after = line.split(')').nth(1)?.trim();
    let version = after.split_whitespace().next()?;
    version.chars().next()?.is_ascii_digit().then(|| version.to_string())
}

/// Map a tshark protocol name to a table layer.
fn protocol_of(name: &str) -> Protocol {
    match name.to_ascii_lowercase().as_str() {
        "eth" | "ethernet" | "sll" => Protocol::Eth,
        "arp" | "arp/rarp" => Protocol::Arp,
        "ip" | "ipv4" => Protocol::Ip,
        "icmp" => Protocol::Icmp,
        "udp" => Protocol::Udp,
        "dns" | "mdns" => Protocol::Dns,
        "tcp" => Protocol::Tcp,
        "http" => Protocol::Http,
        // Abbreviations, and the short names "[Malformed Packet: …]" uses.
        "wpan" | "wpan-nofcs" | "ieee 802.15.4" => Protocol::Zigbee,
        "zbee_nwk" | "zigbee" => Protocol::ZbeeNwk,
        "zbee_aps" | "zigbee aps" => Protocol::ZbeeAps,
        name if name.starts_with("zbee_zcl") || name.starts_with("zigbee zcl") => Protocol::Zcl,
        name if name.starts_with("zbee_zdp") || name.starts_with("zigbee zdp") => Protocol::Zdp,
        _ => Protocol::Frame,
    }
}

/// Return the table layer an Expert Info item belongs to by the protocol
/// prefix of its field (`arp.duplicate-address-detected` → ARP,
/// `ipv6.hopopts…` → FRAME, meaning no row: the judge then attaches it to
/// the deepest layer decoded in its frame); `None` for Wireshark's own
/// `_ws.*` items (`_ws.malformed` names the broken protocol in the PDML).
pub fn layer_of_expert(id: &str) -> Option<Protocol> {
    if id.starts_with("_ws.") || id == "_ws" {
        return None;
    }
    Some(protocol_of(id.split('.').next().unwrap_or(id)))
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_layer_of_expert() {
        assert_eq!(layer_of_expert("arp.duplicate-address-detected"), Some(Protocol::Arp));
        assert_eq!(layer_of_expert("dns.retransmit_request"), Some(Protocol::Dns));
        assert_eq!(layer_of_expert("zbee_zcl_general.onoff.attr"), Some(Protocol::Zcl));
        assert_eq!(layer_of_expert("ipv6.hopopts.len.invalid"), Some(Protocol::Frame));
        assert_eq!(layer_of_expert("_ws.malformed.expert"), None);
        assert_eq!(protocol_of("ARP/RARP"), Protocol::Arp);
    }

    #[test]
    fn test_parse_version() {
        assert_eq!(
            parse_version("TShark (Wireshark) 4.0.17 (Git v4.0.17 packaged as 4.0.17-0+deb12u3).\n").as_deref(),
            Some("4.0.17")
        );
        assert_eq!(parse_version("nonsense"), None);
    }
}
