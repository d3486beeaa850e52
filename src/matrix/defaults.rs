//! The default run configuration, built into the binary: the suites of
//! `harness/suites/`, the prompt templates of `prompts/` and the model
//! registry `harness/models.toml`.
//!
//! The files in the repository stay the editable source; this module
//! embeds them (`include_str!`), so `harness matrix --models reference`
//! works from any directory and after `cargo install`. A test keeps the
//! lists here equal to the files (a file added, removed or renamed there
//! fails it until it is listed here).

use std::path::{Path, PathBuf};

/// What `--suites-dir`, `--prompts` and `--registry` say when they are not
/// given: the built-in copy of the repository's files.
pub const BUILT_IN: &str = "built-in";

/// The suites of `harness/suites/`: (file name, text).
pub const SUITES: &[(&str, &str)] = &[
    ("arp-conversation.toml", include_str!("../../harness/suites/arp-conversation.toml")),
    ("arp-packet.toml", include_str!("../../harness/suites/arp-packet.toml")),
    ("day-conversation-json.toml", include_str!("../../harness/suites/day-conversation-json.toml")),
    ("day-conversation.toml", include_str!("../../harness/suites/day-conversation.toml")),
    ("dns-conversation-json.toml", include_str!("../../harness/suites/dns-conversation-json.toml")),
    ("dns-conversation.toml", include_str!("../../harness/suites/dns-conversation.toml")),
    ("dns-packet.toml", include_str!("../../harness/suites/dns-packet.toml")),
    ("http-conversation-json.toml", include_str!("../../harness/suites/http-conversation-json.toml")),
    ("http-conversation.toml", include_str!("../../harness/suites/http-conversation.toml")),
    ("http-packet.toml", include_str!("../../harness/suites/http-packet.toml")),
    ("icmp-conversation.toml", include_str!("../../harness/suites/icmp-conversation.toml")),
    ("icmp-packet.toml", include_str!("../../harness/suites/icmp-packet.toml")),
    ("tcp-conversation-json.toml", include_str!("../../harness/suites/tcp-conversation-json.toml")),
];

/// The templates of `prompts/`: (path relative to `prompts/`, text).
pub const PROMPTS: &[(&str, &str)] = &[
    ("arp/conversation.json.md", include_str!("../../prompts/arp/conversation.json.md")),
    ("arp/conversation.scapy.md", include_str!("../../prompts/arp/conversation.scapy.md")),
    ("arp/packet.json.md", include_str!("../../prompts/arp/packet.json.md")),
    ("arp/packet.scapy.md", include_str!("../../prompts/arp/packet.scapy.md")),
    ("day/conversation.json.md", include_str!("../../prompts/day/conversation.json.md")),
    ("day/conversation.scapy.md", include_str!("../../prompts/day/conversation.scapy.md")),
    ("dns/conversation.json.md", include_str!("../../prompts/dns/conversation.json.md")),
    ("dns/conversation.scapy.md", include_str!("../../prompts/dns/conversation.scapy.md")),
    ("dns/packet.json.md", include_str!("../../prompts/dns/packet.json.md")),
    ("dns/packet.scapy.md", include_str!("../../prompts/dns/packet.scapy.md")),
    ("http/conversation.json.md", include_str!("../../prompts/http/conversation.json.md")),
    ("http/conversation.scapy.md", include_str!("../../prompts/http/conversation.scapy.md")),
    ("http/packet.json.md", include_str!("../../prompts/http/packet.json.md")),
    ("http/packet.scapy.md", include_str!("../../prompts/http/packet.scapy.md")),
    ("icmp/conversation.json.md", include_str!("../../prompts/icmp/conversation.json.md")),
    ("icmp/conversation.scapy.md", include_str!("../../prompts/icmp/conversation.scapy.md")),
    ("icmp/packet.json.md", include_str!("../../prompts/icmp/packet.json.md")),
    ("icmp/packet.scapy.md", include_str!("../../prompts/icmp/packet.scapy.md")),
    ("tcp/conversation.json.md", include_str!("../../prompts/tcp/conversation.json.md")),
    ("tcp/conversation.scapy.md", include_str!("../../prompts/tcp/conversation.scapy.md")),
    ("zigbee/one_way.ntg.md", include_str!("../../prompts/zigbee/one_way.ntg.md")),
    ("zigbee/two_way.ntg.md", include_str!("../../prompts/zigbee/two_way.ntg.md")),
];

/// The model registry `harness/models.toml`.
pub const REGISTRY: &str = include_str!("../../harness/models.toml");

/// The built-in suites, sorted by name.
///
/// # Errors
/// None in a released binary (a test parses every one); the type is the
/// one [`Suite::load`](super::suite::Suite::load) returns.
pub fn suites() -> Result<Vec<super::suite::Suite>, super::suite::SuiteError> {
    let mut out = SUITES
        .iter()
        .map(|(name, text)| {
            super::suite::Suite::parse(
                &format!("{BUILT_IN} harness/suites/{name}"),
                Path::new(name),
                text,
                Path::new("."),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The built-in prompts written out as a folder `prompts/` under a new
/// temporary directory (removed when the returned guard drops), for the
/// code that reads templates from a folder.
///
/// # Errors
/// The temporary directory cannot be written.
pub fn prompts_dir() -> std::io::Result<(tempfile::TempDir, PathBuf)> {
    let temp = tempfile::Builder::new().prefix("harness-prompts-").tempdir()?;
    let root = temp.path().join("prompts");
    for (name, text) in PROMPTS {
        let path = root.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, text)?;
    }
    Ok((temp, root))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &Path, depth: usize, prefix: &str, out: &mut Vec<(String, String)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for path in entries {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() && depth > 0 {
                files(&path, depth - 1, &format!("{prefix}{name}/"), out);
            } else if path.is_file() && name != "README.md" {
                out.push((format!("{prefix}{name}"), std::fs::read_to_string(&path).unwrap()));
            }
        }
    }

    fn listed(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect()
    }

    /// The embedded copies are the repository's files, every one of them.
    #[test]
    fn embedded_defaults_equal_the_files() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut suites = Vec::new();
        files(&root.join("harness/suites"), 0, "", &mut suites);
        suites.retain(|(n, _)| n.ends_with(".toml"));
        assert_eq!(listed(SUITES), suites, "src/defaults.rs SUITES must list every harness/suites/*.toml");
        let mut prompts = Vec::new();
        files(&root.join("prompts"), 1, "", &mut prompts);
        prompts.retain(|(n, _)| n.contains('/'));
        assert_eq!(listed(PROMPTS), prompts, "src/defaults.rs PROMPTS must list every prompts/<protocol>/* file");
        assert_eq!(REGISTRY, std::fs::read_to_string(root.join("harness/models.toml")).unwrap());
    }

    /// The built-in suites load as the files do, and the registry parses.
    #[test]
    fn embedded_defaults_parse() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let from_files = crate::matrix::suite::Suite::load_dir(&root.join("harness/suites")).unwrap();
        let built_in = suites().unwrap();
        assert_eq!(built_in.len(), from_files.len());
        for (a, b) in built_in.iter().zip(&from_files) {
            assert_eq!(
                (&a.name, a.protocol, a.mode, a.dialect, a.count, a.seed),
                (&b.name, b.protocol, b.mode, b.dialect, b.count, b.seed)
            );
        }
        crate::model::registry::Registry::parse(REGISTRY).unwrap();
        let (_guard, dir) = prompts_dir().unwrap();
        for s in &built_in {
            crate::prompt::Template::load(&dir, s.protocol, s.mode, s.dialect).unwrap();
        }
    }
}
