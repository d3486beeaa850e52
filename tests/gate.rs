//! The CI gate cannot pass by mistake: every selection mistake is exit
//! status 2 before anything runs, a run never overwrites another run's
//! folder, the verdict line never says PASS when nothing ran, the binary
//! works from a directory without the checkout, and the README's usage
//! lines name only flags `--help` knows.

mod common;

use std::path::Path;
use std::process::{Command, Output};

/// The real binary, run in `dir`.
fn harness_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harness")).current_dir(dir).args(args).output().expect("run harness")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Run `matrix` with `args` in a fresh folder; assert exit 2, a message
/// holding every one of `expect`, and that nothing was written to --out.
fn refused(args: &[&str], expect: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec!["matrix", "--tshark", "off", "--out", "out"];
    all.extend_from_slice(args);
    let out = harness_in(dir.path(), &all);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    for e in expect {
        assert!(stderr.contains(e), "{args:?}: expected {e:?} in {stderr}");
    }
    assert!(!stderr.contains("PASS"), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?}: {}", text(&out.stdout));
    assert!(!dir.path().join("out").exists(), "{args:?} wrote its --out");
    assert!(stderr.matches("os error").count() <= 1, "said twice: {stderr}");
}

#[test]
fn selection_mistakes_exit_2() {
    refused(&["--models", "gpt4o"], &["unknown model gpt4o", "did you mean gpt-4o?", "known: reference"]);
    refused(&["--models", "mutant:fencd"], &["did you mean mutant:fenced?"]);
    refused(&["--models", ""], &["--models is empty", "known: reference"]);
    refused(&["--models", " , "], &["--models is empty"]);
    refused(&["--suites", ""], &["is empty", "icmp-conversation"]);
    refused(
        &["--models", "reference", "--suites", "icmp-conversaton"],
        &["unknown suite icmp-conversaton", "did you mean icmp-conversation?"],
    );
    // A named model that cannot run: no cassette offline.
    let empty = tempfile::tempdir().unwrap();
    let cassettes = empty.path().to_str().unwrap();
    refused(&["--models", "gpt-4o", "--cassettes", cassettes], &["cannot run model gpt-4o", "no cassette"]);
    // … or whose local endpoint is down.
    let registry = empty.path().join("models.toml");
    std::fs::write(
        &registry,
        "[[model]]\nid = \"down\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\nmodel = \"m\"\n",
    )
    .unwrap();
    let registry = registry.to_str().unwrap();
    refused(&["--models", "down", "--live", "--registry", registry], &["cannot run model down"]);
    refused(
        &["--models", "reference", "--registry", "/nonexistent/models.toml"],
        &["--registry /nonexistent/models.toml"],
    );
    // A mutant on no suite it applies to runs nothing.
    refused(&["--models", "mutant:dns-count-high", "--suites", "arp-packet"], &["runs on none of the selected suites"]);
}

#[test]
fn suite_folder_mistakes_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    refused(&["--models", "reference", "--suites-dir", empty.to_str().unwrap()], &["no suite in it"]);
    refused(
        &["--models", "reference", "--suites-dir", "/nonexistent/suites"],
        &["/nonexistent/suites: does not exist"],
    );
    refused(&["--models", "reference", "--prompts", "/nonexistent/prompts"], &["/nonexistent/prompts: does not exist"]);
    // A suite that reads ../shared says so when it is missing.
    let paper = dir.path().join("paper");
    std::fs::create_dir(&paper).unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("harness/suites-paper/paper-arp-conversation.toml");
    std::fs::copy(source, paper.join("paper-arp-conversation.toml")).unwrap();
    refused(
        &["--models", "reference", "--suites-dir", paper.to_str().unwrap()],
        &["paper-arp-conversation", "../shared"],
    );
}

#[test]
fn missing_input_folders_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let train = dir.path().join("train.jsonl");
    let train_arg = train.to_str().unwrap();
    for args in [
        vec!["export-finetune", "/nonexistent", "-o", train_arg],
        vec!["export-finetune", dir.path().to_str().unwrap(), "-o", train_arg],
        vec!["merge", "/nonexistent"],
        vec!["check", "/nonexistent.pcap"],
    ] {
        let out = harness_in(dir.path(), &args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("nonexistent") || stderr.contains("no cell"), "{args:?}: {stderr}");
        assert!(stderr.matches("os error").count() <= 1, "said twice: {stderr}");
        assert!(!train.exists(), "{args:?} wrote {train_arg}");
    }
}

/// `--out` holding another run is refused and left as it was; `--resume`
/// continues the same run only; `--force` replaces the whole folder.
#[test]
fn another_runs_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let mut all = vec!["matrix", "--tshark", "off", "--format", "json", "--out", "out"];
        all.extend_from_slice(args);
        harness_in(dir.path(), &all)
    };
    let first = run(&["--models", "reference", "--suites", "dns-conversation-json"]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let out = dir.path().join("out");
    let selection: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(selection["models"], serde_json::json!(["reference"]));
    assert_eq!(selection["suites"], serde_json::json!(["dns-conversation-json"]));
    let report = std::fs::read(out.join("report.json")).unwrap();
    let html = std::fs::read(out.join("report.html")).unwrap();
    for extra in [&[][..], &["--resume"][..]] {
        let other = run(&[&["--models", "reference", "--suites", "tcp-conversation-json"], extra].concat());
        let stderr = text(&other.stderr);
        assert_eq!(other.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("holds another run") && stderr.contains("--force"), "{stderr}");
        assert_eq!(std::fs::read(out.join("report.json")).unwrap(), report, "report.json touched");
        assert_eq!(std::fs::read(out.join("report.html")).unwrap(), html, "report.html touched");
        assert!(!out.join("reference/tcp-conversation-json").exists(), "a cell of the refused run was written");
    }
    // The same run resumes.
    let again = run(&["--models", "reference", "--suites", "dns-conversation-json", "--resume"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert_eq!(std::fs::read(out.join("report.json")).unwrap(), report);
    // --force replaces the folder: the old cell is gone.
    let forced = run(&["--models", "reference", "--suites", "tcp-conversation-json", "--force"]);
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced.stderr));
    assert!(out.join("reference/tcp-conversation-json/cell.json").is_file());
    assert!(!out.join("reference/dns-conversation-json").exists(), "--force keeps an old cell");
    // A folder of other files is never replaced, even with --force.
    let mine = dir.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("notes.txt"), "mine").unwrap();
    let refused = harness_in(
        dir.path(),
        &[
            "matrix",
            "--tshark",
            "off",
            "--models",
            "reference",
            "--suites",
            "dns-conversation-json",
            "--out",
            "mine",
            "--force",
        ],
    );
    assert_eq!(refused.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(mine.join("notes.txt")).unwrap(), "mine");
}

/// The verdict line ends the run and names the skipped models; the report
/// path follows.
#[test]
fn verdict_line_counts_skipped_models() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("no-cassettes");
    std::fs::create_dir(&empty).unwrap();
    let e = empty.to_str().unwrap();
    let out = harness_in(
        dir.path(),
        &[
            "matrix",
            "--tshark",
            "off",
            "--format",
            "md",
            "--models",
            "all",
            "--suites",
            "dns-conversation-json",
            "--cassettes",
            e,
            "--corpus-cassettes",
            e,
            "--out",
            "out",
        ],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let verdict = stderr
        .lines()
        .find(|l| l.starts_with("harness: PASS: "))
        .unwrap_or_else(|| panic!("no verdict line: {stderr}"));
    assert!(
        verdict.contains("skipped (gpt-4o, claude, gemini, local-llama, smollm2-135m, experts, corpus:*)"),
        "{verdict}"
    );
    assert!(verdict.contains("7 models skipped"), "{verdict}");
    let report = stderr.lines().last().unwrap();
    let path = report.strip_prefix("harness: report: ").unwrap_or_else(|| panic!("{report}"));
    assert!(
        Path::new(path).is_absolute() && Path::new(path).ends_with("out/report.html") && Path::new(path).is_file(),
        "{path}"
    );
    assert!(text(&out.stdout).starts_with("# harness matrix"), "stdout holds the report only");
}

/// No checkout around: the built-in suites, prompts and registry carry the
/// run (the real tshark and Scapy judge it when they are installed).
#[test]
fn runs_from_a_directory_without_the_checkout() {
    let dir = tempfile::tempdir().unwrap();
    let scapy = common::scapy();
    let tshark = if common::tshark().is_some() { "on" } else { "off" };
    let mut args = vec!["matrix", "--models", "reference", "--tshark", tshark, "--format", "json", "--out", "out"];
    if !scapy {
        args.extend([
            "--suites",
            "dns-conversation-json,http-conversation-json,tcp-conversation-json,day-conversation-json",
        ]);
    }
    let out = harness_in(dir.path(), &args);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("harness: PASS: "), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cells = report["cells"].as_array().unwrap();
    let expected = if scapy { harness::matrix::defaults::SUITES.len() } else { 4 };
    assert_eq!(cells.len(), expected);
    for c in cells {
        assert_eq!(c["conversations"]["succeeded"], c["conversations"]["total"], "{c}");
    }
    // generate and export-finetune too.
    let generate = harness_in(
        dir.path(),
        &[
            "generate",
            "--model",
            "reference",
            "--suite",
            "dns-conversation-json",
            "--count",
            "2",
            "--tshark",
            "off",
            "--out",
            "gen",
        ],
    );
    assert_eq!(generate.status.code(), Some(0), "{}", text(&generate.stderr));
    let export = harness_in(dir.path(), &["export-finetune", "gen", "-o", "-"]);
    assert_eq!(export.status.code(), Some(0), "{}", text(&export.stderr));
    assert_eq!(text(&export.stdout).lines().count(), 2);
}

/// Every flag the README's usage lines give a subcommand is one its
/// `--help` lists; `matrix`'s synopsis lists every flag of its `--help`.
#[test]
fn readme_usage_lines_match_help() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let flags = |s: &str| -> Vec<String> {
        let mut out: Vec<String> = s
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .filter(|w| w.starts_with("--") && w.len() > 2 && w.chars().nth(2).is_some_and(|c| c.is_ascii_lowercase()))
            .map(str::to_string)
            .collect();
        out.sort();
        out.dedup();
        out
    };
    // Usage blocks: the lines of ```sh blocks that start a harness command
    // and their continuation lines.
    let mut usage: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
    let mut in_sh = false;
    let mut current: Option<String> = None;
    for line in readme.lines() {
        if line.starts_with("```") {
            in_sh = line == "```sh";
            current = None;
            continue;
        }
        if !in_sh {
            continue;
        }
        let code = line.split("  #").next().unwrap_or("");
        if let Some(rest) = code.strip_prefix("harness ") {
            let sub = rest.split_whitespace().next().unwrap_or("").to_string();
            if sub.starts_with('-') || sub.is_empty() {
                current = None;
                continue;
            }
            usage.entry(sub.clone()).or_default().push_str(rest);
            current = Some(sub);
        } else if let (Some(sub), true) = (&current, code.starts_with("   ")) {
            usage.get_mut(sub).unwrap().push_str(code);
        } else {
            current = None;
        }
    }
    assert!(usage.contains_key("matrix") && usage.contains_key("check") && usage.contains_key("convert"), "{usage:?}");
    for (sub, line) in &usage {
        let mut args: Vec<&str> = sub.split(' ').collect();
        if sub == "wireshark" {
            args.push("install");
        }
        args.push("--help");
        let help = harness_in(dir.path(), &args);
        assert_eq!(help.status.code(), Some(0), "{sub}");
        let help = text(&help.stdout);
        let known = flags(&help);
        for flag in flags(line) {
            assert!(
                known.contains(&flag),
                "README's usage of `harness {sub}` names {flag}, which `harness {sub} --help` does not list:\n{help}"
            );
        }
        if sub == "matrix" {
            let named = flags(line);
            for flag in known.iter().filter(|f| !["--help", "--version"].contains(&f.as_str())) {
                assert!(
                    named.contains(flag),
                    "`harness matrix --help` lists {flag}, the README's matrix usage does not"
                );
            }
        }
    }
}

/// Files that are not captures are named for what they are; a multi-file
/// check ends with one summary line; an undissected link type is not
/// reported as succeeded conversations.
#[test]
fn check_names_what_it_reads() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("empty.pcap"), b"").unwrap();
    std::fs::write(d.join("trace.pcap.gz"), [0x1f, 0x8b, 8, 0, 0, 0, 0, 0]).unwrap();
    std::fs::write(d.join("trace.json"), b"[{\"protocol\": \"TCP\"}]").unwrap();
    let good = common::write(
        &d.join("good.pcap"),
        harness::pcap::LinkType::Raw,
        &[common::echo([10, 0, 0, 1], [10, 0, 0, 2], false, 1, 1)],
    );
    let out = harness_in(
        d,
        &["check", "--tshark", "off", "empty.pcap", "trace.pcap.gz", "trace.json", good.to_str().unwrap()],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let line = |name: &str| {
        stderr.lines().find(|l| l.contains(name)).unwrap_or_else(|| panic!("{name}: {stderr}")).to_string()
    };
    assert!(line("empty.pcap").contains("the file is empty"), "{stderr}");
    assert!(line("trace.pcap.gz").contains("the file is gzip-compressed"), "{stderr}");
    assert!(
        line("trace.json").contains("the file is text") && line("trace.json").contains("harness convert"),
        "{stderr}"
    );
    assert!(
        stderr.lines().last().unwrap().contains("checked 4 files, 1 packets; 3 with errors (3 unreadable)"),
        "{stderr}"
    );
    // A link type read but not dissected.
    let odd =
        common::write(&d.join("odd.pcap"), harness::pcap::LinkType::Unknown(147), &vec![vec![0x41, 0x88, 1, 2, 3]; 11]);
    let out = harness_in(d, &["check", "--tshark", "off", odd.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Conversations: not judged") && stdout.contains("link.unsupported"), "{stdout}");
    assert!(!stdout.contains("11/11 succeeded"), "{stdout}");
}

/// `convert` rejects the ntg-only options with the json dialect and writes
/// to standard output with `-o -`.
#[test]
fn convert_options_and_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let trace = r#"[{"timestamp": 0.1, "protocol": "ICMP", "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2", "icmp": {"type": 8, "code": 0, "id": 1, "seq": 1}}]"#;
    std::fs::write(d.join("t.json"), trace).unwrap();
    let lengths = harness_in(d, &["convert", "t.json", "-o", "t.pcap", "--lengths", "canonical"]);
    assert_eq!(lengths.status.code(), Some(2));
    assert!(text(&lengths.stderr).contains("--dialect ntg only"), "{}", text(&lengths.stderr));
    assert!(!d.join("t.pcap").exists());
    let file = harness_in(d, &["convert", "t.json", "-o", "t.pcap"]);
    assert_eq!(file.status.code(), Some(0), "{}", text(&file.stderr));
    let piped = harness_in(d, &["convert", "t.json", "-o", "-"]);
    assert_eq!(piped.status.code(), Some(0), "{}", text(&piped.stderr));
    assert_eq!(piped.stdout, std::fs::read(d.join("t.pcap")).unwrap());
}

/// Run the real binary in `dir` with `stdin` as its standard input.
fn harness_stdin(dir: &Path, args: &[&str], stdin: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harness"))
        .current_dir(dir)
        .args(args)
        .stdin(std::fs::File::open(stdin).unwrap())
        .output()
        .expect("run harness")
}

/// `check -` reads the capture from standard input: the same report as the
/// file (named `<stdin>`), with tshark when it is there, beside other files;
/// `-` twice is exit 2. `convert -o - | check -` works end to end.
#[test]
fn check_reads_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tshark = if common::tshark().is_some() { "on" } else { "off" };
    let good = common::write(
        &d.join("good.pcap"),
        harness::pcap::LinkType::Raw,
        &[
            common::echo([10, 0, 0, 1], [10, 0, 0, 2], false, 1, 1),
            common::echo([10, 0, 0, 2], [10, 0, 0, 1], true, 1, 1),
        ],
    );
    let bad = common::write(
        &d.join("bad.pcap"),
        harness::pcap::LinkType::Raw,
        &[common::udp([10, 0, 0, 2], [10, 0, 0, 1], 53, 40000, &common::dns(7, true, Some(3)))],
    );
    let json = |out: &Output| -> serde_json::Value {
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stderr)))
    };
    for (file, code) in [(&good, 0), (&bad, 1)] {
        let from_file = harness_in(d, &["check", "--format", "json", "--tshark", tshark, file.to_str().unwrap()]);
        let from_stdin = harness_stdin(d, &["check", "--format", "json", "--tshark", tshark, "-"], file);
        assert_eq!(from_stdin.status.code(), Some(code), "{}", text(&from_stdin.stderr));
        assert_eq!(from_file.status.code(), Some(code));
        let (mut a, b) = (json(&from_file), json(&from_stdin));
        assert_eq!(b["files"][0]["file"], "<stdin>");
        a["files"][0]["file"] = "<stdin>".into();
        assert_eq!(a, b, "stdin and file reports differ");
    }
    // Beside a file, in argument order.
    let both = harness_stdin(d, &["check", "--format", "json", "--tshark", "off", "good.pcap", "-"], &bad);
    assert_eq!(both.status.code(), Some(1), "{}", text(&both.stderr));
    let files: Vec<String> =
        json(&both)["files"].as_array().unwrap().iter().map(|f| f["file"].as_str().unwrap().to_string()).collect();
    assert_eq!(files, ["good.pcap", "<stdin>"]);
    let twice = harness_stdin(d, &["check", "--tshark", "off", "-", "-"], &good);
    assert_eq!(twice.status.code(), Some(2));
    assert!(text(&twice.stderr).contains("only once"), "{}", text(&twice.stderr));
    // Not a capture on stdin: named as such, exit 2.
    std::fs::write(d.join("t.json"), br#"[{"timestamp": 0.1, "protocol": "ICMP", "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2", "icmp": {"type": 8, "code": 0, "id": 1, "seq": 1}}]"#).unwrap();
    let text_in = harness_stdin(d, &["check", "--tshark", "off", "-"], &d.join("t.json"));
    assert_eq!(text_in.status.code(), Some(2));
    assert!(
        text(&text_in.stderr).contains("<stdin>") && text(&text_in.stderr).contains("harness convert"),
        "{}",
        text(&text_in.stderr)
    );
    // convert -o - piped into check -.
    let pcap = harness_in(d, &["convert", "t.json", "-o", "-"]);
    assert_eq!(pcap.status.code(), Some(0));
    std::fs::write(d.join("piped.pcap"), &pcap.stdout).unwrap();
    let checked = harness_stdin(d, &["check", "--format", "json", "--tshark", tshark, "-"], &d.join("piped.pcap"));
    assert_eq!(json(&checked)["files"][0]["packets"], 1, "{}", text(&checked.stderr));
}

/// Piped, stdout holds the report alone (valid JSON over several files) and
/// stderr holds plain lines: no progress bar, no escape code, no carriage
/// return. The matrix keeps its one plain line per cell for CI logs, which
/// `--quiet` silences.
#[test]
fn piped_output_has_no_progress_bars() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tshark = if common::tshark().is_some() { "on" } else { "off" };
    let mut names = Vec::new();
    for i in 0..5u16 {
        let name = format!("c{i}.pcap");
        common::write(
            &d.join(&name),
            harness::pcap::LinkType::Raw,
            &[
                common::echo([10, 0, 0, 1], [10, 0, 0, 2], false, i, 1),
                common::udp([10, 0, 0, 2], [10, 0, 0, 1], 53, 40000 + i, &common::dns(i, true, Some(2))),
            ],
        );
        names.push(name);
    }
    let mut args = vec!["check", "--format", "json", "--tshark", tshark];
    args.extend(names.iter().map(String::as_str));
    let out = harness_in(d, &args);
    let stderr = text(&out.stderr);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {}", text(&out.stdout)));
    assert_eq!(report["files"].as_array().unwrap().len(), 5);
    assert!(!stderr.contains('\x1b') && !stderr.contains('\r'), "escape codes on a piped stderr: {stderr:?}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.starts_with("harness: note:")).collect();
    assert!(lines.len() == 1 && lines[0].starts_with("harness: checked 5 files, 10 packets; "), "{stderr}");
    // The matrix: one plain line per cell, or none with --quiet.
    let run = |quiet: bool, out: &str| {
        let mut args = vec![
            "matrix",
            "--tshark",
            "off",
            "--format",
            "json",
            "--models",
            "reference,mutant:dns-count-high",
            "--suites",
            "dns-conversation-json",
            "--out",
            out,
        ];
        if quiet {
            args.push("--quiet");
        }
        harness_in(d, &args)
    };
    let loud = run(false, "loud");
    let stderr = text(&loud.stderr);
    assert_eq!(loud.status.code(), Some(0), "{stderr}");
    serde_json::from_slice::<serde_json::Value>(&loud.stdout).unwrap();
    assert!(!stderr.contains('\x1b') && !stderr.contains('\r'), "{stderr:?}");
    let cells: Vec<&str> = stderr.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(cells.len(), 2, "{stderr}");
    assert!(cells[0].starts_with("[1/2] ") && cells[1].starts_with("[2/2] "), "{stderr}");
    let quiet = run(true, "quiet");
    let stderr = text(&quiet.stderr);
    assert_eq!(quiet.status.code(), Some(0), "{stderr}");
    assert!(!stderr.lines().any(|l| l.starts_with('[')), "--quiet still prints cell lines: {stderr}");
    assert!(stderr.contains("harness: PASS: "), "--quiet keeps the verdict: {stderr}");
}

/// `generate --out` adds cells to a folder of generate's cells but refuses
/// a matrix run's folder (unless --force) and a folder of other files;
/// `merge --out` replaces its own earlier merge but refuses a shard's
/// folder (unless --force) and a folder of other files.
#[test]
fn generate_and_merge_keep_off_other_runs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let generate = |suite: &str, out: &str, force: bool| {
        let mut args =
            vec!["generate", "--model", "reference", "--suite", suite, "--count", "2", "--tshark", "off", "--out", out];
        if force {
            args.push("--force");
        }
        harness_in(d, &args)
    };
    // Two suites into one folder of generate's.
    for suite in ["dns-conversation-json", "tcp-conversation-json"] {
        let out = generate(suite, "gen", false);
        assert_eq!(out.status.code(), Some(0), "{suite}: {}", text(&out.stderr));
    }
    assert!(
        d.join("gen/reference/dns-conversation-json/cell.json").is_file()
            && d.join("gen/reference/tcp-conversation-json/cell.json").is_file()
    );
    // A matrix run's folder.
    let matrix = harness_in(
        d,
        &[
            "matrix",
            "--tshark",
            "off",
            "--format",
            "json",
            "--models",
            "reference",
            "--suites",
            "dns-conversation-json",
            "--out",
            "m",
            "--shard",
            "1/1",
        ],
    );
    assert_eq!(matrix.status.code(), Some(0), "{}", text(&matrix.stderr));
    let report = std::fs::read(d.join("m/report.json")).unwrap();
    let refused = generate("tcp-conversation-json", "m", false);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused.stderr).contains("holds another run (matrix") && text(&refused.stderr).contains("--force"),
        "{}",
        text(&refused.stderr)
    );
    assert_eq!(std::fs::read(d.join("m/report.json")).unwrap(), report, "report.json touched");
    assert!(!d.join("m/reference/tcp-conversation-json").exists());
    // A folder of other files, even with --force.
    std::fs::create_dir(d.join("mine")).unwrap();
    std::fs::write(d.join("mine/notes.txt"), "mine").unwrap();
    for force in [false, true] {
        let refused = generate("tcp-conversation-json", "mine", force);
        assert_eq!(refused.status.code(), Some(2));
        assert!(text(&refused.stderr).contains("not a harness run"), "{}", text(&refused.stderr));
    }
    let merge = |out: &str, force: bool| {
        let mut args = vec!["merge", "--format", "json", "m", "--out", out];
        if force {
            args.push("--force");
        }
        harness_in(d, &args)
    };
    // merge --out: its own folder twice, not the shard's, not other files.
    for _ in 0..2 {
        let merged = merge("merged", false);
        assert_eq!(merged.status.code(), Some(0), "{}", text(&merged.stderr));
    }
    let into_shard = merge("m", false);
    assert_eq!(into_shard.status.code(), Some(2));
    assert!(
        text(&into_shard.stderr).contains("holds another run") && text(&into_shard.stderr).contains("--force"),
        "{}",
        text(&into_shard.stderr)
    );
    assert_eq!(std::fs::read(d.join("m/report.json")).unwrap(), report);
    assert_eq!(merge("mine", true).status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(d.join("mine/notes.txt")).unwrap(), "mine");
    // --force replaces a run's folder: the matrix's cells go.
    let forced = generate("tcp-conversation-json", "m", true);
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced.stderr));
    assert!(
        !d.join("m/reference/dns-conversation-json").exists()
            && d.join("m/reference/tcp-conversation-json/cell.json").is_file()
    );
}
