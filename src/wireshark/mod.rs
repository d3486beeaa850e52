//! Wireshark integration: the harness's findings inside Wireshark's Expert
//! Info.
//!
//! One source of truth: `harness check --annotate` stores each own finding
//! as a pcapng packet comment (`harness: <severity> <check> <LAYER>
//! <message>`), and a Lua post-dissector ([`plugin`]) turns those comments
//! into a `harness` protocol tree, display-filter fields (`harness.check`,
//! `harness.severity`, `harness.layer`, `harness.message`) and one Expert
//! Info item per check id and severity. Nothing is re-checked in Lua.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{InterfaceDescriptionBlock, InterfaceDescriptionOption};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::DataLink;

use crate::check::catalog::CATALOG;
use crate::finding::{Finding, Source};
use crate::pcap::{LinkType, ReadError, Reader};

/// File name of the plug-in.
pub const PLUGIN_FILE: &str = "harness.lua";
/// Prefix of the packet comments the plug-in reads.
pub const COMMENT_PREFIX: &str = "harness: ";

/// Why annotating failed.
#[derive(Debug, thiserror::Error)]
pub enum AnnotateError {
    /// The input could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The output could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The output file.
        path: String,
        /// The error.
        source: io::Error,
    },
}

/// Return the comment that carries `finding`.
pub fn comment(finding: &Finding) -> String {
    let message = finding.message.replace(['\r', '\n'], " ");
    format!("{COMMENT_PREFIX}{} {} {} {message}", finding.severity, finding.check, finding.protocol)
}

/// Copy `input` to the pcapng file `output`, attaching each own finding of
/// `findings` (sorted by frame) to its frame as a packet comment; return how
/// many comments were written. Timestamps keep nanosecond resolution.
///
/// # Errors
/// The input cannot be read, or the output cannot be written.
pub fn annotate(input: &Path, output: &Path, findings: &[Finding]) -> Result<u64, AnnotateError> {
    let write_error = |source| AnnotateError::Write { path: output.display().to_string(), source };
    let mut reader = Reader::open(input)?;
    let file = File::create(output).map_err(write_error)?;
    let mut writer = PcapNgWriter::new(BufWriter::new(file)).map_err(|e| write_error(io::Error::other(e)))?;
    let mut interfaces: Vec<LinkType> = Vec::new();
    let mut own = findings.iter().filter(|f| f.source == Source::Harness).peekable();
    let mut number = 0u64;
    let mut written = 0u64;
    while let Some(raw) = reader.next_frame() {
        let raw = raw?;
        number += 1;
        let interface = match interfaces.iter().position(|l| *l == raw.linktype) {
            Some(index) => index,
            None => {
                let idb = InterfaceDescriptionBlock {
                    linktype: DataLink::from(u32::from(raw.linktype)),
                    snaplen: 0,
                    // Nanosecond timestamps (if_tsresol = 9).
                    options: vec![InterfaceDescriptionOption::IfTsResol(9)],
                };
                writer.write_pcapng_block(idb).map_err(|e| write_error(io::Error::other(e)))?;
                interfaces.push(raw.linktype);
                interfaces.len() - 1
            }
        };
        let mut options = Vec::new();
        while let Some(finding) = own.next_if(|f| f.frame <= number) {
            if finding.frame == number {
                options.push(EnhancedPacketOption::Comment(Cow::Owned(comment(finding))));
                written += 1;
            }
        }
        let epb = EnhancedPacketBlock {
            interface_id: interface as u32,
            timestamp: std::time::Duration::from_nanos(raw.ts),
            original_len: raw.orig_len,
            data: Cow::Borrowed(raw.data),
            options,
        };
        writer.write_pcapng_block(epb).map_err(|e| write_error(io::Error::other(e)))?;
    }
    writer.into_inner().flush().map_err(write_error)?;
    Ok(written)
}

/// Return the Lua post-dissector, with one Expert Info item per catalogued
/// check and severity.
pub fn plugin() -> String {
    let mut experts = String::new();
    for info in CATALOG {
        for severity in info.severities {
            let _ = writeln!(
                experts,
                "  expert_item({:?}, {:?}, {:?}),",
                info.id,
                severity.as_str(),
                format!("{} ({})", info.summary, info.id)
            );
        }
    }
    PLUGIN_TEMPLATE.replace("@VERSION@", env!("CARGO_PKG_VERSION")).replace("@EXPERTS@", experts.trim_end())
}

/// Return Wireshark's personal Lua plug-in folder, as `tshark -G folders`
/// reports it.
///
/// # Errors
/// tshark cannot run or reports no such folder.
pub fn personal_plugin_dir(tshark: &Path) -> io::Result<PathBuf> {
    let output = Command::new(tshark).args(["-G", "folders"]).output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|line| line.strip_prefix("Personal Lua Plugins:").map(|dir| PathBuf::from(dir.trim())))
        .ok_or_else(|| io::Error::other("tshark -G folders names no \"Personal Lua Plugins\" folder"))
}

/// Write the plug-in into `dir` (created if missing); return its path.
///
/// # Errors
/// The folder or file cannot be written.
pub fn install(dir: &Path) -> io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(PLUGIN_FILE);
    std::fs::write(&path, plugin())?;
    Ok(path)
}

/// The plug-in; `@EXPERTS@` becomes the expert item list.
const PLUGIN_TEMPLATE: &str = r#"-- harness.lua: the findings of `harness check --annotate` in Wireshark.
-- Generated by harness @VERSION@ (`harness wireshark install`); do not edit:
-- the findings come from the harness, this file only displays them.
--
-- Each finding is a pcapng packet comment
--   harness: <severity> <check id> <LAYER> <message>
-- shown as a "harness" tree, the fields harness.check, harness.severity,
-- harness.layer and harness.message (display filters such as
-- harness.check == "tcp.bad_ack"), and an Expert Info item per check id and
-- severity (harness.expert.<check id>.<severity>).

local harness = Proto("harness", "Harness findings")

local f_check = ProtoField.string("harness.check", "Check")
local f_severity = ProtoField.string("harness.severity", "Severity")
local f_layer = ProtoField.string("harness.layer", "Layer")
local f_message = ProtoField.string("harness.message", "Message")
harness.fields = { f_check, f_severity, f_layer, f_message }

local severities = {
  error = expert.severity.ERROR,
  warn = expert.severity.WARN,
  note = expert.severity.NOTE,
  chat = expert.severity.CHAT,
}

local experts = {}
local expert_list = {}

local function expert_item(check, severity, text)
  local item = ProtoExpert.new("harness.expert." .. check .. "." .. severity, text, expert.group.PROTOCOL, severities[severity])
  experts[check .. " " .. severity] = item
  expert_list[#expert_list + 1] = item
  return item
end

local _ = {
@EXPERTS@
}

-- Findings whose id this plug-in does not know (a newer harness).
local fallback = {}
for name, _ in pairs(severities) do
  fallback[name] = expert_item("other", name, "Harness finding")
end

harness.experts = expert_list

local comment_field = Field.new("frame.comment")

function harness.dissector(tvb, pinfo, tree)
  local comments = { comment_field() }
  local subtree = nil
  for _, fi in ipairs(comments) do
    local severity, check, layer, message = string.match(tostring(fi.value), "^harness: (%a+) (%S+) (%S+) (.*)$")
    if severity and severities[severity] then
      if subtree == nil then
        subtree = tree:add(harness, tvb(0, 0), "Harness findings")
      end
      local item = subtree:add(f_check, tvb(0, 0), check)
      item:append_text(" [" .. severity .. ", " .. layer .. "] " .. message)
      item:add(f_severity, tvb(0, 0), severity)
      item:add(f_layer, tvb(0, 0), layer)
      item:add(f_message, tvb(0, 0), message)
      local ex = experts[check .. " " .. severity] or fallback[severity]
      item:add_proto_expert_info(ex, check .. ": " .. message)
    end
  end
end

register_postdissector(harness)
"#;

#[cfg(test)]
mod test {
    use super::*;
    use crate::finding::{Protocol, Severity};

    #[test]
    fn test_comment_format() {
        let finding = Finding::own(3, Severity::Error, "tcp.bad_ack", Protocol::Tcp, "ACK 5\nbeyond".into());
        assert_eq!(comment(&finding), "harness: error tcp.bad_ack TCP ACK 5 beyond");
    }

    #[test]
    fn test_plugin_lists_every_check() {
        let lua = plugin();
        for info in CATALOG {
            assert!(lua.contains(&format!("expert_item({:?}, ", info.id)), "{}", info.id);
        }
        assert!(!lua.contains("@EXPERTS@"));
    }

    #[test]
    fn test_shipped_plugin_is_generated() {
        // harness/wireshark/harness.lua is the generated file, committed for
        // people who install it by hand; it must not drift.
        let shipped =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/harness/wireshark/harness.lua")).unwrap();
        assert_eq!(shipped, plugin(), "run: cargo run -- wireshark install --dir harness/wireshark");
    }
}
