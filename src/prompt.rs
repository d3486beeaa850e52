//! Prompt templates: `prompts/<protocol>/<mode>.<dialect>.md`.
//!
//! A template is Markdown with two top-level sections, `# System` and
//! `# User`; the user part holds `{{summary}}`, where each summary goes. The
//! structure follows what the paper found works: the task first, then
//! few-shot example(s), the rules last, and variables given as commands
//! ("Use id=…"), not as prose.
//!
//! A prompt's *version* is the first 12 hex digits of the SHA-256 of its
//! template text (line endings normalised): the same for every summary, so
//! an edit changes the version of every request of the suite, and an
//! offline run explains its cassette misses with "the prompt changed".

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::exec::extract::Dialect;
use crate::scenario::{Mode, SuiteProtocol};

/// Why a template cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// The file cannot be read.
    #[error("cannot read prompt {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a template.
    #[error("prompt {path}: {what}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        what: String,
    },
}

/// A loaded template.
#[derive(Debug, Clone)]
pub struct Template {
    /// Where it came from (relative path, for messages).
    pub name: String,
    /// The system message.
    pub system: String,
    /// The user message, with `{{summary}}`.
    pub user: String,
    /// Version: 12 hex digits of the template's SHA-256.
    pub version: String,
}

/// A rendered prompt for one summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// The system message.
    pub system: String,
    /// The user message.
    pub user: String,
    /// The template's version.
    pub version: String,
    /// The template's name.
    pub name: String,
}

/// The template file name of a protocol, mode and dialect.
pub fn file_name(protocol: SuiteProtocol, mode: Mode, dialect: Dialect) -> PathBuf {
    let dialect = match dialect {
        Dialect::Json => "json",
        Dialect::Scapy => "scapy",
    };
    PathBuf::from(protocol.name()).join(format!("{}.{dialect}.md", mode.name()))
}

impl Template {
    /// Load `dir/<protocol>/<mode>.<dialect>.md`.
    ///
    /// # Errors
    /// Unreadable file, missing section or placeholder.
    pub fn load(dir: &Path, protocol: SuiteProtocol, mode: Mode, dialect: Dialect) -> Result<Template, PromptError> {
        let rel = file_name(protocol, mode, dialect);
        let path = dir.join(&rel);
        let text = std::fs::read_to_string(&path)
            .map_err(|source| PromptError::Read { path: path.display().to_string(), source })?;
        Template::parse(&format!("prompts/{}", rel.display()), &text)
    }

    /// Parse template text.
    ///
    /// # Errors
    /// A missing `# System` or `# User` section, or no `{{summary}}`.
    pub fn parse(name: &str, text: &str) -> Result<Template, PromptError> {
        let text = text.replace("\r\n", "\n");
        let err = |what: &str| PromptError::Format { path: name.to_string(), what: what.to_string() };
        let system_at = text.find("# System\n").ok_or_else(|| err("no `# System` section"))?;
        let user_at = text.find("\n# User\n").ok_or_else(|| err("no `# User` section after `# System`"))?;
        if user_at < system_at {
            return Err(err("`# System` must come before `# User`"));
        }
        let system = text[system_at + "# System\n".len()..user_at].trim().to_string();
        let user = text[user_at + "\n# User\n".len()..].trim().to_string();
        if !user.contains("{{summary}}") && !user.contains("{{sample}}") {
            return Err(err("the user section has no {{summary}} (or {{sample}})"));
        }
        let hash = Sha256::digest(text.as_bytes());
        let version = hash.iter().take(6).map(|b| format!("{b:02x}")).collect();
        Ok(Template { name: name.to_string(), system, user, version })
    }

    /// The prompt with each `{{name}}` of `vars` replaced by its value.
    pub fn render_vars(&self, vars: &[(&str, &str)]) -> Prompt {
        let mut user = self.user.clone();
        for (name, value) in vars {
            user = user.replace(&format!("{{{{{name}}}}}"), value.trim());
        }
        Prompt { system: self.system.clone(), user, version: self.version.clone(), name: self.name.clone() }
    }

    /// The prompt for one summary.
    pub fn render(&self, summary: &str) -> Prompt {
        Prompt {
            system: self.system.clone(),
            user: self.user.replace("{{summary}}", summary.trim()),
            version: self.version.clone(),
            name: self.name.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_render_and_version() {
        let t = Template::parse("t", "intro\n# System\nYou write packets.\n\n# User\nSummary: {{summary}}\n").unwrap();
        assert_eq!(t.system, "You write packets.");
        assert_eq!(t.render(" a b ").user, "Summary: a b");
        let u = Template::parse("t", "intro\n# System\nYou write packets!\n\n# User\nSummary: {{summary}}\n").unwrap();
        assert_ne!(t.version, u.version);
        assert_eq!(t.version.len(), 12);
        assert!(Template::parse("t", "# System\nx\n# User\nno placeholder").is_err());
    }

    #[test]
    fn every_shipped_template_loads() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts");
        for protocol in SuiteProtocol::ALL {
            for mode in [Mode::Packet, Mode::Conversation] {
                if matches!(protocol, SuiteProtocol::Tcp | SuiteProtocol::Day) && mode == Mode::Packet {
                    continue;
                }
                for dialect in [Dialect::Json, Dialect::Scapy] {
                    Template::load(&dir, protocol, mode, dialect).unwrap_or_else(|e| panic!("{e}"));
                }
            }
        }
    }
}

/// The text of the template this project ships for a protocol, mode and
/// dialect: task, one worked example (the `reference` model's answer to an
/// example summary), then the rules. `prompts/` holds exactly these texts; a
/// test keeps them in step (`HARNESS_WRITE_PROMPTS=1 cargo test --lib
/// prompt::` rewrites them).
pub fn default_template(protocol: SuiteProtocol, mode: Mode, dialect: Dialect) -> String {
    use crate::model::{answer, reference};
    let example = crate::scenario::generate::generate(protocol, mode, 0x5eed, 1).remove(0);
    let example_answer = answer::render(&reference::packets(&example), dialect);
    let what = match (protocol, mode) {
        (SuiteProtocol::Icmp, Mode::Packet) => "one ICMP packet",
        (SuiteProtocol::Icmp, _) => "an ICMP exchange: the request and its reply",
        (SuiteProtocol::Arp, Mode::Packet) => "one ARP packet on Ethernet",
        (SuiteProtocol::Arp, _) => "an ARP exchange on Ethernet: the request and the target's reply",
        (SuiteProtocol::Dns, Mode::Packet) => "one DNS message over UDP",
        (SuiteProtocol::Dns, _) => "a DNS exchange over UDP: the query and the resolver's response",
        (SuiteProtocol::Http, Mode::Packet) => "one TCP segment carrying one HTTP/1.1 message",
        (SuiteProtocol::Http, _) => "a complete HTTP/1.1 exchange over one TCP connection",
        (SuiteProtocol::Tcp, _) => "a complete TCP connection exchanging one request and one reply",
        (SuiteProtocol::Day | SuiteProtocol::Zigbee, _) => {
            "a client's first minute on a network, on Ethernet: ARP for the gateway, a DNS lookup, then an HTTP exchange with the resolved server"
        }
    };
    let form = match dialect {
        Dialect::Json => "Answer with one JSON array of packet objects and nothing else: no Markdown fences, no comments, no prose before or after.\n\
- Per packet: `timestamp` (seconds), `protocol` (TCP, UDP, ICMP, ARP, DNS, HTTP), `src_ip`, `dst_ip`, `src_port`, `dst_port`, `flags`, `seq`, `ack`, `window`, `payload`; where needed `src_mac`/`dst_mac`, `ttl`, `options` (`{\"mss\": 1460}`), `icmp` (`type`, `code`, `id`, `seq`), `arp` (`op`, `sender_mac`, `sender_ip`, `target_mac`, `target_ip`), `dns` (`id`, `response`, `questions`, `answers`).\n\
- Numbers are JSON numbers; every value must fit its field (ports and windows 0-65535).",
        Dialect::Scapy => "Answer with Python code only: no Markdown fences, no prose, no comments.\n\
- Scapy's names and the modules `time` and `random` are already available: write no import lines.\n\
- Assign the packets to `pkt_1`, `pkt_2`, ... in the order they travel; call `time.sleep(seconds)` between packets for their timing; end with `wrpcap(\"trace.pcap\", [pkt_1, ...])`. Never send packets.\n\
- Use only real Scapy layer and field names; every value must fit its field (ports and windows 0-65535).",
    };
    let rules = match (protocol, mode) {
        (_, Mode::Packet) if protocol != SuiteProtocol::Tcp && protocol != SuiteProtocol::Day => {
            "- Exactly one packet, with every value the summary line gives (addresses, ports, ids, types, codes).\n\
- Lengths and checksums are computed for you: do not set them."
        }
        (SuiteProtocol::Icmp, _) => {
            "- Two packets. The reply swaps source and destination and keeps the request's id and seq.\n\
- An echo reply carries the request's data unchanged; a timestamp reply copies the originate timestamp."
        }
        (SuiteProtocol::Arp, _) => {
            "- Two packets. The request goes to the Destination MAC (broadcast or directed) and asks for the Wanted IP.\n\
- The reply comes from the Wanted host (its MAC is the Destination MAC unless that is broadcast), to the asker; sender and target fields are swapped.\n\
- The ARP sender MAC always equals the Ethernet source MAC; source MACs are never group addresses."
        }
        (SuiteProtocol::Dns, _) => {
            "- Two packets. The query goes from the source's port to port 53; the response comes back from port 53 to the same port.\n\
- The response copies the query's id and question exactly and sets the response flag; the header counts equal the records present.\n\
- Use the record type and the answer data the summary gives."
        }
        (SuiteProtocol::Http, _) | (SuiteProtocol::Tcp, _) => {
            "- Eleven packets: SYN, SYN-ACK, ACK, the client's data (PSH-ACK), the server's ACK, the server's data (PSH-ACK), the client's ACK, the client's FIN-ACK, the server's ACK, the server's FIN-ACK, the client's final ACK.\n\
- Sequence and acknowledgment numbers count every data byte and each SYN and FIN exactly once.\n\
- Each side uses the port and window the summary gives it; the server answers from the port the client connected to."
        }
        (SuiteProtocol::Day | SuiteProtocol::Zigbee, _) => {
            "- Fifteen packets: ARP request for the gateway (broadcast) and its reply; the DNS query to the resolver and its response (A record for the host); then the eleven packets of the HTTP exchange with the resolved address.\n\
- Every packet has Ethernet addresses: the client's MAC and the gateway's MAC (traffic beyond the link goes through the gateway).\n\
- MACs, addresses and ports stay consistent across the three conversations; SEQ/ACK count every byte and each SYN and FIN."
        }
    };
    format!(
        "<!-- Prompt of the harness project for {p} {m} summaries, {d} dialect. Version = hash of this file. -->\n\
# System\n\
You are a network engineer who writes exact, protocol-correct packet traces.\n\n\
# User\n\
Write {what} described by the summary below.\n\n\
## Example\n\n\
Summary: {example}\n\n\
Answer:\n\n\
{example_answer}\n\n\
## Rules\n\n\
{form}\n\
{rules}\n\n\
## Your summary\n\n\
Summary: {{{{summary}}}}\n",
        p = protocol.name(),
        m = mode.name(),
        d = match dialect {
            Dialect::Json => "json",
            Dialect::Scapy => "scapy",
        },
    )
}

#[cfg(test)]
mod shipped {
    use super::*;

    /// The files in `prompts/` are the texts of [`default_template`].
    #[test]
    fn prompts_match_the_generator() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts");
        let write = std::env::var_os("HARNESS_WRITE_PROMPTS").is_some();
        for protocol in SuiteProtocol::ALL {
            for mode in [Mode::Packet, Mode::Conversation] {
                if matches!(protocol, SuiteProtocol::Tcp | SuiteProtocol::Day) && mode == Mode::Packet {
                    continue;
                }
                for dialect in [Dialect::Json, Dialect::Scapy] {
                    let path = dir.join(file_name(protocol, mode, dialect));
                    let want = default_template(protocol, mode, dialect);
                    if write {
                        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                        std::fs::write(&path, &want).unwrap();
                    }
                    let have = std::fs::read_to_string(&path).unwrap_or_default();
                    assert!(
                        have == want,
                        "{} is stale: run HARNESS_WRITE_PROMPTS=1 cargo test --lib prompt::",
                        path.display()
                    );
                }
            }
        }
    }
}
