//! README.md's result and catalogue tables cannot drift: each block between
//! `<!-- generated:NAME -->` and `<!-- /generated -->` is the output of the
//! tool (the check catalogue, the agreement table, `harness check --rules
//! paper` and `harness paper` on the published captures, the cross-model
//! tables of the main job's matrix), and this test
//! fails when the README differs. Regenerate with
//! `HARNESS_UPDATE_README=1 HARNESS_REQUIRE_TOOLS=1 cargo test --test readme`.

mod common;

use std::path::Path;
use std::process::Command;

const README: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
const GPT35: &str = "../shared/corpus/pcaps/GPT-on-the-wire/gpt-3.5";
const REGENERATE: &str = "HARNESS_UPDATE_README=1 HARNESS_REQUIRE_TOOLS=1 cargo test --test readme";

/// Run the harness binary in the checkout (paths as the README shows them)
/// and return its standard output.
fn harness(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(out.status.code().is_some_and(|c| c < 2), "harness {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Return the content of block `name`, or `None` when this machine lacks
/// what it needs (the corpus, tshark: skipped loudly outside CI).
fn generate(name: &str) -> Option<String> {
    match name {
        "checks" => Some(harness::check::catalog::markdown()),
        "agreement" => Some(harness::verdict::equivalence::markdown()),
        "paper-moe" => {
            common::shared("pcaps/GPT-on-the-wire/gpt-3.5/MOE")?;
            let moe = format!("{GPT35}/MOE/MOE_Conversations_generated_3_5_turbo-instruct_conv.pcap");
            Some(harness(&["check", "--rules", "paper", "--tshark", "off", "--format", "md", &moe]))
        }
        "paper-tables" => {
            common::shared("pcaps/GPT-on-the-wire/gpt-3.5")?;
            common::tshark()?;
            let md = harness(&["paper", "--from", GPT35, "--tshark", "on", "--format", "md"]);
            // Headings two levels down: the tables sit under a README section.
            Some(md.lines().map(|l| if l.starts_with('#') { format!("##{l}\n") } else { format!("{l}\n") }).collect())
        }
        "main-job" => {
            // What `ci/main` ends with: `harness matrix --models all`, tshark
            // on, the published answers imported by the run itself; the
            // cross-model tables (the mutants are in the detection matrix).
            common::shared("completions.jsonl")?;
            common::tshark()?;
            if !common::scapy() {
                return None;
            }
            let dir = tempfile::tempdir().unwrap();
            let cassettes = dir.path().join("cassettes").display().to_string();
            let out = dir.path().join("run").display().to_string();
            let md = harness(&[
                "matrix",
                "--models",
                "all",
                "--tshark",
                "on",
                "--corpus-cassettes",
                &cassettes,
                "--out",
                &out,
                "--format",
                "md",
                "--quiet",
            ]);
            let start = md.find("## Cross-model, packet level").expect("the matrix prints its cross-model tables");
            Some(
                md[start..]
                    .lines()
                    .map(|l| if let Some(h) = l.strip_prefix("## ") { format!("**{h}**\n") } else { format!("{l}\n") })
                    .collect(),
            )
        }
        other => panic!("README.md has a generated block `{other}` this test does not know"),
    }
}

/// Return `text` with every generated block regenerated (blocks that
/// cannot be generated here are kept), and the names of the blocks.
fn regenerate(text: &str) -> (String, Vec<String>) {
    let (mut out, mut names, mut rest) = (String::new(), Vec::new(), text);
    while let Some(start) = rest.find("<!-- generated:") {
        let open_end = start + rest[start..].find("-->").expect("unterminated marker") + 3;
        let name = rest[start + "<!-- generated:".len()..open_end - 3].trim().to_string();
        let close = open_end
            + rest[open_end..]
                .find("<!-- /generated -->")
                .unwrap_or_else(|| panic!("block {name} has no <!-- /generated -->"));
        out.push_str(&rest[..open_end]);
        match generate(&name) {
            Some(body) => {
                out.push('\n');
                out.push_str(body.trim_end());
                out.push('\n');
            }
            None => out.push_str(&rest[open_end..close]),
        }
        names.push(name);
        rest = &rest[close..];
    }
    out.push_str(rest);
    (out, names)
}

#[test]
fn readme_tables_are_generated() {
    let text = std::fs::read_to_string(README).unwrap();
    let (fresh, names) = regenerate(&text);
    for name in ["checks", "agreement", "paper-moe", "paper-tables", "main-job"] {
        assert!(names.iter().any(|n| n == name), "README.md lost its generated block `{name}`");
    }
    if fresh == text {
        return;
    }
    if std::env::var_os("HARNESS_UPDATE_README").is_some() {
        std::fs::write(README, fresh).unwrap();
        eprintln!("README.md regenerated");
        return;
    }
    let first = text
        .lines()
        .zip(fresh.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| text.lines().count().min(fresh.lines().count()));
    panic!(
        "README.md differs from the tool's output from line {} on:\n  README: {:?}\n  tool:   {:?}\nRegenerate with `{REGENERATE}` and review the diff.",
        first + 1,
        text.lines().nth(first),
        fresh.lines().nth(first)
    );
}

#[test]
fn regenerate_replaces_only_block_bodies() {
    let text = "a\n<!-- generated:checks -->\nstale\n<!-- /generated -->\nb\n";
    let (fresh, names) = regenerate(text);
    assert_eq!(names, ["checks"]);
    assert!(fresh.starts_with("a\n<!-- generated:checks -->\n| id | layer |"), "{fresh}");
    assert!(fresh.ends_with("|\n<!-- /generated -->\nb\n"), "{fresh}");
    assert!(!fresh.contains("stale"));
    assert!(Path::new(README).exists());
}
