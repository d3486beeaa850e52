//! `harness matrix --format html` opened in the real headless Chromium: the
//! chart elements are in the rendered DOM, the charts paint (their exact
//! fills, in the amounts and lengths the report's numbers call for, in a
//! screenshot), and the page logs no script or console error.
//!
//! Chromium, Scapy (the ICMP suite's answers are Scapy code) and the
//! harness binary are real; nothing is mocked. Without Chromium or Scapy the
//! tests skip loudly, unless `HARNESS_REQUIRE_TOOLS` (or `CI`) is set: then
//! they fail and name ci/install-deps.

mod common;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::matrix::html::{BAR_MAX, HEAT_FULL, PALETTE};
use serde_json::Value;

/// The Chromium binary on PATH, or `None` (with a loud message) outside CI.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Some(found) = std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file()) {
            return Some(found);
        }
    }
    if common::required() {
        panic!("Chromium is required here but is not on PATH (ci/install-deps installs it: apt-get install chromium)");
    }
    eprintln!("SKIPPED: Chromium is not on PATH (ci/install-deps installs it)");
    None
}

/// What one Chromium run printed.
struct Run {
    stdout: String,
    stderr: String,
}

/// Run headless Chromium on `page` with `extra` flags, a fresh profile and
/// no network use, stdout and stderr to files, killed after 90 s.
fn chromium_run(bin: &Path, work: &Path, page: &Path, extra: &[String]) -> Run {
    let profile = tempfile::tempdir_in(work).unwrap();
    let (out_path, err_path) = (work.join("chromium.stdout"), work.join("chromium.stderr"));
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        // Exact colours and one device pixel per CSS pixel, for the pixel counts.
        .args(["--force-color-profile=srgb", "--force-device-scale-factor=1", "--hide-scrollbars"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let run = Run {
                stdout: std::fs::read_to_string(&out_path).unwrap(),
                stderr: std::fs::read_to_string(&err_path).unwrap(),
            };
            assert!(status.success(), "chromium failed ({status}): {}", run.stderr);
            return run;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 90 s: {}", std::fs::read_to_string(&err_path).unwrap_or_default());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Lines of Chromium's log (`--enable-logging=stderr`) that report a
/// script error or any console message; the page has no script, so any
/// is a defect.
fn console_errors(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains("Uncaught") || l.contains(":CONSOLE")).collect()
}

/// An RGB screenshot.
struct Shot {
    width: usize,
    height: usize,
    rgb: Vec<[u8; 3]>,
}

impl Shot {
    fn load(path: &Path) -> Shot {
        let mut decoder = png::Decoder::new(File::open(path).unwrap());
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        let channels = match info.color_type {
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            other => panic!("unexpected PNG colour type {other:?}"),
        };
        let rgb = buf[..info.buffer_size()].chunks_exact(channels).map(|p| [p[0], p[1], p[2]]).collect();
        Shot { width: info.width as usize, height: info.height as usize, rgb }
    }

    fn at(&self, x: usize, y: usize) -> [u8; 3] {
        self.rgb[y * self.width + x]
    }

    /// Rows holding at least one pixel of `colour`.
    fn rows_with(&self, colour: [u8; 3]) -> Vec<usize> {
        (0..self.height).filter(|y| (0..self.width).any(|x| self.at(x, *y) == colour)).collect()
    }

    /// Pixels of `colour` in rows `rows`.
    fn count(&self, colour: [u8; 3], rows: std::ops::Range<usize>) -> usize {
        rows.flat_map(|y| (0..self.width).map(move |x| (x, y))).filter(|(x, y)| self.at(*x, *y) == colour).count()
    }

    /// The longest horizontal run of `colour` in any row.
    fn longest_run(&self, colour: [u8; 3]) -> usize {
        let mut best = 0;
        for y in 0..self.height {
            let mut run = 0;
            for x in 0..self.width {
                run = if self.at(x, y) == colour { run + 1 } else { 0 };
                best = best.max(run);
            }
        }
        best
    }
}

fn rgb(hex: &str) -> [u8; 3] {
    let v = u32::from_str_radix(hex.trim_start_matches('#'), 16).unwrap();
    [(v >> 16) as u8, (v >> 8) as u8, v as u8]
}

/// The numeric attribute `name` of the element whose start tag begins
/// with `prefix` in `page`.
fn svg_attr(page: &str, prefix: &str, name: &str) -> f64 {
    let start = page.find(prefix).unwrap_or_else(|| panic!("no {prefix}"));
    let tag = &page[start..start + page[start..].find('>').unwrap()];
    let at = tag.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
    tag[at..at + tag[at..].find('"').unwrap()].parse().unwrap()
}

/// What the charts must show, computed from report.json independently of
/// the renderer: heat cells (model × layer with packets), how many of them
/// are at 100 %, and the conversation bars (model × suite protocol and
/// mode) with their rates.
struct Expected {
    heat_cells: usize,
    heat_full: usize,
    bars: Vec<(String, f64)>,
}

fn expected(report: &Value) -> Expected {
    let cells = report["cells"].as_array().unwrap();
    let mut layers: BTreeMap<&str, BTreeMap<&str, (u64, u64)>> = BTreeMap::new();
    let mut convs: BTreeMap<(&str, String), (u64, u64)> = BTreeMap::new();
    for c in cells {
        let model = c["model"].as_str().unwrap();
        for (layer, row) in c["protocols"].as_object().unwrap() {
            let judged = row["correct"].as_u64().unwrap()
                + row["malformed"].as_u64().unwrap()
                + row["non_existent"].as_u64().unwrap();
            let e = layers.entry(model).or_default().entry(layer).or_default();
            e.0 += row["correct"].as_u64().unwrap();
            e.1 += judged;
        }
        if c.get("expected_check").is_none() {
            let group = format!("{} {}", c["protocol"].as_str().unwrap(), c["mode"].as_str().unwrap());
            let e = convs.entry((model, group)).or_default();
            e.0 += c["conversations"]["succeeded"].as_u64().unwrap();
            e.1 += c["conversations"]["total"].as_u64().unwrap();
        }
    }
    let heat_cells = layers.values().map(BTreeMap::len).sum();
    let heat_full = layers.values().flat_map(BTreeMap::values).filter(|(ok, judged)| ok == judged).count();
    let bars = convs
        .into_iter()
        .filter(|(_, (_, t))| *t > 0)
        .map(|((m, g), (ok, t))| (format!("{m} on {g}"), ok as f64 / t as f64))
        .collect();
    Expected { heat_cells, heat_full, bars }
}

#[test]
fn matrix_html_renders_in_headless_chromium() {
    let Some(chromium) = chromium() else { return };
    if !common::scapy() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("matrix");
    let output = Command::new(env!("CARGO_BIN_EXE_harness"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "matrix",
            "--models",
            "reference,mutant:fenced",
            "--suites",
            "icmp-conversation,dns-conversation-json",
            "--tshark",
            "off",
            "--format",
            "html",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "reference not clean or the mutant not caught: {stderr}");
    let html = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        std::fs::read_to_string(out.join("report.html")).unwrap(),
        html,
        "report.html is what --format html prints"
    );
    assert!(
        html.starts_with("<!DOCTYPE html>") && !html.contains("://") && !html.contains("<script"),
        "self-contained, no script"
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let want = expected(&report);
    assert!(
        want.heat_full >= 4 && want.bars.len() == 2,
        "the fixture changed: {} full heat cells, bars {:?}",
        want.heat_full,
        want.bars
    );
    let page = out.join("report.html");

    // (a) + (c): the DOM Chromium built holds the charts, and no error was logged.
    let dom = chromium_run(
        &chromium,
        dir.path(),
        &page,
        &["--enable-logging=stderr".into(), "--v=0".into(), "--dump-dom".into()],
    );
    assert!(
        dom.stdout.contains("<svg class=\"chart\" id=\"heat-map\"")
            && dom.stdout.contains("<svg class=\"chart\" id=\"conversation-chart\""),
        "charts missing from the DOM"
    );
    assert_eq!(dom.stdout.matches("<rect class=\"heat\"").count(), want.heat_cells, "heat cells in the DOM");
    assert_eq!(
        dom.stdout.matches(&format!("fill=\"{HEAT_FULL}\" stroke=\"#fff\" data-rate=\"1.000000\"")).count(),
        want.heat_full,
        "100 % heat cells in the DOM"
    );
    assert_eq!(dom.stdout.matches("<rect class=\"bar\"").count(), want.bars.len(), "bars in the DOM");
    for (what, rate) in &want.bars {
        assert!(dom.stdout.contains(&format!("<title>{what}: ")), "no bar for {what}");
        assert!(
            dom.stdout.contains(&format!("width=\"{:.1}\"", rate * BAR_MAX)),
            "no bar {:.1} px long for {what}",
            rate * BAR_MAX
        );
    }
    assert!(dom.stdout.contains("<td class=\"caught\""), "the detection matrix shows the caught mutant");
    let errors = console_errors(&dom.stderr);
    assert!(errors.is_empty(), "the page logged errors: {errors:#?}");

    // (b): the charts paint. The screenshot holds the 100 % fill over the
    // area of the 100 % heat cells (less their labels), within the heat
    // map's band; and the reference's bar colour over two full bars, the
    // longest run as long as a 100 % bar.
    let shot_path = dir.path().join("shot.png");
    chromium_run(
        &chromium,
        dir.path(),
        &page,
        &[format!("--screenshot={}", shot_path.display()), "--window-size=1280,2000".into()],
    );
    let shot = Shot::load(&shot_path);
    assert_eq!((shot.width, shot.height), (1280, 2000));
    let full = rgb(HEAT_FULL);
    let rows = shot.rows_with(full);
    let first = *rows.first().expect("no pixel of the 100 % fill: the heat map did not paint");
    let heat_h = svg_attr(&html, "<svg class=\"chart\" id=\"heat-map\"", "height") as usize;
    let in_heat = shot.count(full, first..(first + heat_h).min(shot.height));
    let cell_area = 72 * 24;
    assert!(
        in_heat >= want.heat_full * cell_area * 6 / 10 && in_heat <= want.heat_full * cell_area + 16 * 16,
        "{in_heat} pixels of {HEAT_FULL} in the heat map, for {} cells at 100 % of {cell_area} px each",
        want.heat_full
    );
    let bar = rgb(PALETTE[0]);
    let bar_px = shot.count(bar, 0..shot.height);
    let bar_area: f64 = want.bars.iter().map(|(_, r)| r * BAR_MAX * 16.0).sum();
    assert!(
        bar_px as f64 >= bar_area * 0.9 && bar_px as f64 <= bar_area + 12.0 * 12.0 + 2.0 * BAR_MAX,
        "{bar_px} pixels of {} for bars of {bar_area} px²",
        PALETTE[0]
    );
    let longest = shot.longest_run(bar);
    assert!((longest as f64 - BAR_MAX).abs() <= 2.0, "the 100 % bar is {longest} px long, not {BAR_MAX}");
    let bar_rows = shot.rows_with(bar);
    assert!(bar_rows.first() > rows.first(), "the bar chart is below the heat map");
}

#[test]
fn console_check_catches_a_script_error() {
    // The error check above must be able to fail: a page that throws and
    // logs is caught by the same flags and the same filter.
    let Some(chromium) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("bad.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><body><p>x</p><script>console.error('boom'); notDefined();</script></body></html>",
    )
    .unwrap();
    let run = chromium_run(
        &chromium,
        dir.path(),
        &page,
        &["--enable-logging=stderr".into(), "--v=0".into(), "--dump-dom".into()],
    );
    let errors = console_errors(&run.stderr);
    assert!(
        errors.iter().any(|l| l.contains("Uncaught ReferenceError")),
        "the thrown error was not seen: {}",
        run.stderr
    );
    assert!(errors.iter().any(|l| l.contains("boom")), "console.error was not seen: {}", run.stderr);
}

/// A script appended to a copy of a page: it measures every text of the
/// charts (`selector`) as Chromium laid it out and writes the result into
/// the DOM as JSON, for `--dump-dom`. A text overflows when it leaves its
/// SVG's view box, is wider than its `data-room`, or (legend entries)
/// overlaps another legend entry.
const MEASURE: &str = r#"<script>
(() => {
  const bad = [], texts = [], fonts = [];
  for (const svg of document.querySelectorAll(SELECTOR)) {
    const vb = svg.viewBox.baseVal;
    const legends = [];
    for (const t of svg.querySelectorAll('text')) {
      const b = t.getBBox();
      const cls = t.getAttribute('class') || '';
      texts.push({cls, text: t.textContent, svg: svg.id || svg.getAttribute('aria-label')});
      fonts.push(parseFloat(getComputedStyle(t).fontSize));
      const rotated = t.hasAttribute('transform');
      if (!rotated && (b.x < -0.5 || b.x + b.width > vb.width + 0.5 || b.y < -0.5 || b.y + b.height > vb.height + 0.5)) {
        bad.push(`${t.textContent}: [${b.x}, ${b.x + b.width}] outside the view box width ${vb.width}`);
      }
      if (rotated) {
        const r = t.getBoundingClientRect(), s = svg.getBoundingClientRect();
        if (r.left < s.left - 0.5 || r.right > s.right + 0.5 || r.bottom > s.bottom + 0.5) bad.push(`${t.textContent}: rotated label outside its figure`);
      }
      const room = t.getAttribute('data-room');
      if (room !== null && b.width > parseFloat(room) + 0.5) bad.push(`${t.textContent}: ${b.width} px wide in ${room} px of room`);
      if (cls === 'legend') legends.push([t.textContent, b]);
    }
    for (let i = 0; i < legends.length; i++) for (let j = i + 1; j < legends.length; j++) {
      const [a, p] = legends[i], [c, q] = legends[j];
      if (p.x < q.x + q.width && q.x < p.x + p.width && p.y < q.y + q.height && q.y < p.y + p.height) bad.push(`legend ${a} overlaps ${c}`);
    }
  }
  const pre = document.createElement('pre');
  pre.id = 'measured';
  pre.textContent = JSON.stringify({bad, texts, fonts});
  document.body.appendChild(pre);
})();
</script>"#;

/// What [`MEASURE`] found on `page` (a copy with the script is written
/// beside it), with Chromium's console errors.
fn measure(chromium: &Path, work: &Path, page: &Path, selector: &str) -> (Value, Vec<String>) {
    let html = std::fs::read_to_string(page).unwrap();
    let script = MEASURE.replace("SELECTOR", &format!("'{selector}'"));
    let measured = page.with_extension("measured.html");
    std::fs::write(&measured, html.replace("</body>", &format!("{script}</body>"))).unwrap();
    let run = chromium_run(
        chromium,
        work,
        &measured,
        &["--enable-logging=stderr".into(), "--v=0".into(), "--dump-dom".into()],
    );
    let start = run.stdout.find("<pre id=\"measured\">").expect("the measuring script did not run")
        + "<pre id=\"measured\">".len();
    let json = &run.stdout[start..start + run.stdout[start..].find("</pre>").unwrap()];
    let json = json.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&amp;", "&");
    (serde_json::from_str(&json).unwrap(), console_errors(&run.stderr).into_iter().map(str::to_string).collect())
}

/// Where screenshots for a human go: `<target>/html-report/`.
fn shots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"), PathBuf::from);
    let dir = target.join("html-report");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The real corpus, cut to its first `per` answers of every model, protocol
/// and mode (lines kept verbatim), so that every imported model runs fast.
fn trimmed_corpus(corpus: &Path, out: &Path, per: usize) {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut kept = String::new();
    for line in std::fs::read_to_string(corpus).unwrap().lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap();
        let key = format!("{} {} {} {}", v["model"], v["protocol"], v["mode"], v["notes"]);
        let n = seen.entry(key).or_default();
        *n += 1;
        if *n <= per {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    std::fs::write(out, kept).unwrap();
}

/// The report of the real corpus's models (imported by `harness
/// import-answers`, replayed through real Scapy) in headless Chromium:
/// every model's full name is in the heat map and in the bar chart's
/// legend, no chart text overflows its room or its chart, legend entries
/// do not overlap, every 0 % bar has its visible stub, every legend swatch
/// paints; a screenshot is left in `<target>/html-report/` for a human.
#[test]
fn corpus_report_names_every_model_in_full() {
    let Some(chromium) = chromium() else { return };
    let Some(corpus) = common::shared("completions.jsonl") else { return };
    if !common::scapy() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("completions.jsonl");
    trimmed_corpus(&corpus, &small, 2);
    let cassettes = dir.path().join("cassettes");
    let harness = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_harness"));
        cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
        cmd
    };
    let import = harness().arg("import-answers").arg(&small).arg("--out").arg(&cassettes).output().unwrap();
    assert_eq!(import.status.code(), Some(0), "{}", String::from_utf8_lossy(&import.stderr));
    let out = dir.path().join("matrix");
    let run = harness()
        .args([
            "matrix",
            "--models",
            "corpus:*,reference",
            "--suites",
            "all",
            "--tshark",
            "off",
            "--format",
            "json",
            "--corpus-cassettes",
        ])
        .arg(&cassettes)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(matches!(run.status.code(), Some(0 | 1)), "{stderr}");
    let report: Value = serde_json::from_slice(&run.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    let mut models: Vec<String> =
        report["cells"].as_array().unwrap().iter().map(|c| c["model"].as_str().unwrap().to_string()).collect();
    models.dedup();
    let corpus_models: Vec<&String> = models.iter().filter(|m| m.starts_with("corpus:")).collect();
    assert!(corpus_models.len() >= 6 && corpus_models.iter().any(|m| m.len() > 22), "the fixture changed: {models:?}");
    let want = expected(&report);
    let zero_bars = want.bars.iter().filter(|(_, r)| *r == 0.0).count();
    assert!(zero_bars >= 1, "the fixture has no 0 % bar: {:?}", want.bars);

    let page = out.join("report.html");
    let (measured, errors) = measure(&chromium, dir.path(), &page, "svg.chart");
    assert!(errors.is_empty(), "the page logged errors: {errors:#?}");
    let bad: Vec<&str> = measured["bad"].as_array().unwrap().iter().map(|b| b.as_str().unwrap()).collect();
    assert!(bad.is_empty(), "chart text overflows: {bad:#?}");
    let texts: Vec<(String, String, String)> = measured["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["svg"].as_str().unwrap().to_string(),
                t["cls"].as_str().unwrap().to_string(),
                t["text"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for model in &models {
        let shown = |svg: &str, cls: &str| texts.iter().any(|t| t.0 == svg && t.1 == cls && t.2 == *model);
        assert!(shown("heat-map", "label"), "the heat map does not name {model} in full");
        assert!(shown("conversation-chart", "legend"), "the bar chart's legend does not name {model} in full");
    }
    assert!(texts.iter().all(|t| !t.2.contains('…')), "a chart text is cut");
    assert!(
        measured["fonts"].as_array().unwrap().iter().all(|f| f.as_f64().unwrap() >= 12.0),
        "chart text under 12 px"
    );
    // 0 % bars: a visible stub each.
    let html = std::fs::read_to_string(&page).unwrap();
    assert_eq!(html.matches("<rect class=\"bar-zero\"").count(), zero_bars, "0 % bars without their stub");
    assert!(svg_attr(&html, "<rect class=\"bar-zero\"", "width") >= 2.0);
    assert!(html.contains("Mutants are meant to fail"), "the note on mutants");

    // The screenshot, for a human and for the paint: every model's legend
    // swatch colour is on it (models after the palette's length share colours).
    let shot_path = shots_dir().join("corpus-report.png");
    chromium_run(
        &chromium,
        dir.path(),
        &page,
        &[format!("--screenshot={}", shot_path.display()), "--window-size=1280,2400".into()],
    );
    let shot = Shot::load(&shot_path);
    for (i, model) in models.iter().enumerate().take(PALETTE.len()) {
        assert!(!shot.rows_with(rgb(PALETTE[i])).is_empty(), "{model}'s colour {} is not painted", PALETTE[i]);
    }
}

/// `harness compare --html` on two real corpus captures: every figure's
/// text is at least 11 px, stays inside its figure and its room, the shown
/// axis labels of a figure are distinct, categorical labels are complete;
/// a screenshot is left in `<target>/html-report/`.
#[test]
fn compare_page_labels_are_distinct_and_readable() {
    let Some(chromium) = chromium() else { return };
    let Some(generated) =
        common::shared("pcaps/GPT-on-the-wire/gpt-3.5/Packets/DNS/pcap/DNSgenerated_3_5_turbo-instruct_conv.pcap")
    else {
        return;
    };
    let Some(real) = common::shared(
        "pcaps/GPT-on-the-wire/gpt-3.5/Fine_Tuned/DNS/pcap/Test_DNS_CONV_v2_generated_3_5_turbo-instruct_conv.pcap",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("compare.html");
    let run = Command::new(env!("CARGO_BIN_EXE_harness"))
        .arg("compare")
        .arg(&generated)
        .arg(&real)
        .args(["--format", "json", "--html"])
        .arg(&page)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    let report: Value = serde_json::from_slice(&run.stdout).unwrap();
    let (measured, errors) = measure(&chromium, dir.path(), &page, "svg.overlay");
    assert!(errors.is_empty(), "the page logged errors: {errors:#?}");
    let bad: Vec<&str> = measured["bad"].as_array().unwrap().iter().map(|b| b.as_str().unwrap()).collect();
    assert!(bad.is_empty(), "figure text overflows: {bad:#?}");
    assert!(
        measured["fonts"].as_array().unwrap().iter().all(|f| f.as_f64().unwrap() >= 11.0),
        "figure text under 11 px: {}",
        measured["fonts"]
    );
    let texts = measured["texts"].as_array().unwrap();
    let overlays = report["overlays"].as_array().unwrap();
    assert!(
        overlays.iter().any(|o| o["kind"] == "categorical") && overlays.iter().any(|o| o["kind"] != "categorical"),
        "the fixture changed"
    );
    for overlay in overlays {
        let name = overlay["name"].as_str().unwrap();
        let of = |cls: &str| -> Vec<&str> {
            texts.iter().filter(|t| t["svg"] == name && t["cls"] == cls).map(|t| t["text"].as_str().unwrap()).collect()
        };
        for cls in ["label", "tick"] {
            let shown = of(cls);
            let mut distinct = shown.clone();
            distinct.sort_unstable();
            distinct.dedup();
            assert_eq!(distinct.len(), shown.len(), "{name}: {cls} texts repeat: {shown:?}");
        }
        assert_eq!(of("legend"), ["generated", "real"], "{name}: legend");
        if overlay["kind"] == "categorical" {
            let want: Vec<&str> = overlay["x"].as_array().unwrap().iter().map(|x| x.as_str().unwrap()).collect();
            assert_eq!(of("label"), want, "{name}: categories not labelled in full");
        }
    }
    let shot_path = shots_dir().join("compare.png");
    chromium_run(
        &chromium,
        dir.path(),
        &page,
        &[format!("--screenshot={}", shot_path.display()), "--window-size=1300,3000".into()],
    );
    let shot = Shot::load(&shot_path);
    assert!(
        !shot.rows_with(rgb("#d95f02")).is_empty() && !shot.rows_with(rgb("#1b9e77")).is_empty(),
        "the figures did not paint"
    );
}
