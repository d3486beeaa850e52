//! JSON exporter: the DESIGN.md contract, pretty-printed.

use std::io::{self, Write};

use super::{Reporter, RunReport};

/// Writes the run as one JSON document.
#[derive(Debug, Default, Clone, Copy)]
pub struct Json;

impl Reporter for Json {
    fn write(&self, report: &RunReport, out: &mut dyn Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, report)?;
        writeln!(out)
    }
}

#[cfg(test)]
mod test {
    use super::super::test::render;
    use super::*;

    #[test]
    fn test_contract_keys() {
        let text = render(&Json);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let file = &value["files"][0];
        for key in ["file", "linktype", "packets", "tshark", "findings", "checks", "protocols"] {
            assert!(file.get(key).is_some(), "missing {key}");
        }
        let dns = &file["protocols"]["DNS"];
        for key in ["packets", "correct", "malformed", "non_existent", "success_rate", "presence", "warnings", "errors"]
        {
            assert!(dns.get(key).is_some(), "missing DNS.{key}");
        }
        assert_eq!(file["tshark"]["version"], "4.0.17");
        assert_eq!(file["findings"][0]["severity"], "error");
        insta::assert_snapshot!("json_sample", text);
    }
}
