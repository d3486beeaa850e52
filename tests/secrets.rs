//! API keys never leave the process: with distinctive keys in the
//! environment, `harness matrix --record`, then `--offline`, then a failing
//! `--live` run (servers that answer 401 quoting the key they got, and the
//! one they expected, as llm-katan does) write no key into any file of the
//! output or cassette folders (every file, binary ones included) nor on
//! stdout or stderr. Servers: llm-katan (OpenAI and Anthropic formats,
//! keys validated) and the loopback fault server (Gemini format, which also
//! answers once with a text quoting the key).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::server::{llm_katan, reference_answers, FaultServer, Step};

const OPENAI_KEY: &str = "sk-harness-secret-openai-5d0c7f1a93";
const ANTHROPIC_KEY: &str = "sk-ant-harness-secret-2b9e64c81f";
const GEMINI_KEY: &str = "AIza-harness-secret-gemini-e41d07b2";
const WRONG_KEY: &str = "sk-harness-secret-wrong-77a3c0d95e";
const KEYS: [&str; 4] = [OPENAI_KEY, ANTHROPIC_KEY, GEMINI_KEY, WRONG_KEY];

/// Every file under `dir`, recursively.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Return the keys found in `bytes`.
fn leaks(bytes: &[u8]) -> Vec<&'static str> {
    KEYS.iter().copied().filter(|key| bytes.windows(key.len()).any(|w| w == key.as_bytes())).collect()
}

#[test]
fn keys_never_reach_files_or_output() {
    let Some(katan) = llm_katan(&format!("openai={OPENAI_KEY},anthropic={ANTHROPIC_KEY},vertexai={GEMINI_KEY}")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let suites = dir.path().join("suites");
    std::fs::create_dir_all(&suites).unwrap();
    std::fs::write(
        suites.join("secrets.toml"),
        "protocol = \"dns\"\nmode = \"conversation\"\ndialect = \"json\"\ncount = 3\nseed = 9\n",
    )
    .unwrap();
    let answers = reference_answers(&suites, "secrets");
    // Gemini: the first answer quotes the key, the second meets a 503 first.
    let scripts = BTreeMap::from([(0, vec![Step::EchoKey]), (1, vec![Step::Status(503, Some("0"))])]);
    let gemini = FaultServer::start(answers, scripts, Some(GEMINI_KEY));
    let katan_url = format!("http://127.0.0.1:{}", katan.port);
    let model = |id: &str, kind: &str, url: &str, env: &str| {
        format!("[[model]]\nid = \"{id}\"\nkind = \"{kind}\"\nbase_url = \"{url}\"\nmodel = \"m-{id}\"\nkey_env = \"{env}\"\ntimeout_s = 5.0\nmax_retries = 1\n\n")
    };
    let registry = [
        model("katan-openai", "openai", &format!("{katan_url}/v1"), "HARNESS_SECRET_OPENAI_KEY"),
        model("katan-anthropic", "anthropic", &katan_url, "HARNESS_SECRET_ANTHROPIC_KEY"),
        model("fault-gemini", "gemini", &gemini.url(""), "HARNESS_SECRET_GEMINI_KEY"),
        model("wrong-openai", "openai", &format!("{katan_url}/v1"), "HARNESS_SECRET_WRONG_KEY"),
        model("wrong-anthropic", "anthropic", &katan_url, "HARNESS_SECRET_WRONG_KEY"),
        model("wrong-gemini", "gemini", &gemini.url(""), "HARNESS_SECRET_WRONG_KEY"),
    ]
    .concat();
    std::fs::write(dir.path().join("models.toml"), registry).unwrap();
    let cassettes = dir.path().join("cassettes");
    let run = |out: &str, models: &str, mode: &str| {
        let output = Command::new(env!("CARGO_BIN_EXE_harness"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("HARNESS_SECRET_OPENAI_KEY", OPENAI_KEY)
            .env("HARNESS_SECRET_ANTHROPIC_KEY", ANTHROPIC_KEY)
            .env("HARNESS_SECRET_GEMINI_KEY", GEMINI_KEY)
            .env("HARNESS_SECRET_WRONG_KEY", WRONG_KEY)
            .args(["matrix", "--models", models, "--suites", "secrets", "--tshark", "auto", mode])
            .arg("--suites-dir")
            .arg(&suites)
            .arg("--registry")
            .arg(dir.path().join("models.toml"))
            .arg("--cassettes")
            .arg(&cassettes)
            .arg("--out")
            .arg(dir.path().join(out))
            .output()
            .unwrap();
        let code = output.status.code();
        // A named model whose every request failed (the wrong keys' 401s)
        // is exit 2: that run judged nothing.
        let expected: &[i32] = if out == "failing" { &[2] } else { &[0, 1] };
        assert!(
            code.is_some_and(|c| expected.contains(&c)),
            "{mode}: exit {code:?}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(leaks(&output.stdout), Vec::<&str>::new(), "{mode}: a key on stdout");
        assert_eq!(leaks(&output.stderr), Vec::<&str>::new(), "{mode}: a key on stderr");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let good = "katan-openai,katan-anthropic,fault-gemini";
    run("recorded", good, "--record");
    run("offline", good, "--offline");
    run("failing", "wrong-openai,wrong-anthropic,wrong-gemini", "--live");

    // The runs did what they should: answers recorded for every model,
    // the key-quoting answer cut, the 401s journaled without the keys.
    for id in ["katan-openai", "katan-anthropic", "fault-gemini"] {
        let cassette = std::fs::read_to_string(cassettes.join(format!("{id}.jsonl"))).unwrap();
        assert_eq!(cassette.lines().count(), 3, "{id}");
        for out in ["recorded", "offline"] {
            let journal = std::fs::read_to_string(dir.path().join(out).join(id).join("secrets/journal.jsonl")).unwrap();
            assert!(!journal.contains("\"status\":\"request\""), "{out}/{id}: {journal}");
        }
    }
    let gemini_cassette = std::fs::read_to_string(cassettes.join("fault-gemini.jsonl")).unwrap();
    assert!(gemini_cassette.contains("# your key is [REDACTED]"), "{gemini_cassette}");
    for id in ["wrong-openai", "wrong-anthropic", "wrong-gemini"] {
        let journal =
            std::fs::read_to_string(dir.path().join("failing").join(id).join("secrets/journal.jsonl")).unwrap();
        let records: Vec<serde_json::Value> = journal.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(records.len(), 3, "{id}");
        for r in &records {
            let message = r["message"].as_str().unwrap();
            assert_eq!(r["status"], "request", "{id}: {r}");
            assert!(
                message.contains("HTTP 401") && message.contains("invalid API key") && message.contains("[REDACTED]"),
                "{id}: {message}"
            );
        }
    }

    // No key anywhere the harness wrote.
    let mut written = Vec::new();
    for folder in ["recorded", "offline", "failing", "cassettes"] {
        files(&dir.path().join(folder), &mut written);
    }
    assert!(
        written.iter().any(|p| p.extension().is_some_and(|e| e == "pcap")),
        "PCAPs were written and are searched too"
    );
    for path in &written {
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(leaks(&bytes), Vec::<&str>::new(), "a key in {}", path.display());
    }
}
