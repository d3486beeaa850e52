//! `harness wireshark`: install the Lua plug-in.

use anyhow::Context;

use super::{WiresharkCommand, EXIT_OK};
use crate::wireshark::{install, personal_plugin_dir};

/// Run a `harness wireshark` subcommand.
///
/// # Errors
/// The folder cannot be found or written.
pub fn run(command: &WiresharkCommand) -> anyhow::Result<u8> {
    match command {
        WiresharkCommand::Install { dir, tshark_path } => {
            let dir = match dir {
                Some(dir) => dir.clone(),
                None => personal_plugin_dir(tshark_path).with_context(|| {
                    format!("cannot ask {} for Wireshark's plug-in folder; pass --dir", tshark_path.display())
                })?,
            };
            let path = install(&dir).with_context(|| format!("cannot write the plug-in into {}", dir.display()))?;
            println!("{}", path.display());
            Ok(EXIT_OK)
        }
    }
}
