//! Realism of generated traffic against real captures: NetShare's metric
//! set, computed the same way for any two captures or two sets of them.
//!
//! Jensen–Shannon divergence on source and destination address popularity
//! rank, source and destination ports, the protocol mix (and, for ZigBee,
//! the message-type mix); Earth Mover's distance on packet length,
//! inter-arrival time and flow size (packets per flow); plus seed 000's
//! extras: TCP flag-transition probabilities, per-field entropy, and
//! Kullback–Leibler divergence where the real trace supports every value
//! the generated one takes. [`compare_paths`] is the entry point;
//! [`render`] prints the report and draws the HTML page.

pub(crate) mod metrics;
pub(crate) mod render;
pub mod zigbee;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::dissect::{dissect, Transport};
use crate::finding::Protocol;
use crate::pcap::{ReadError, Reader};
use metrics::{count, emd, entropy, jsd, kl, rank_counts};

/// Why a comparison cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum RealismError {
    /// A capture cannot be read.
    #[error("{path}: {source}")]
    Read {
        /// The capture.
        path: String,
        /// The reader's error.
        source: ReadError,
    },
    /// A side has no captures or no packets.
    #[error("no packets on the {0} side")]
    Empty(&'static str),
}

/// What the metrics need of one packet.
#[derive(Debug, Clone, PartialEq)]
pub struct PacketFeatures {
    /// Capture time in seconds.
    pub time: f64,
    /// Frame length on the wire.
    pub length: u32,
    /// Source address (IPv4, or ZigBee short address), if any.
    pub src: Option<String>,
    /// Destination address, if any.
    pub dst: Option<String>,
    /// TCP/UDP source port.
    pub sport: Option<u16>,
    /// TCP/UDP destination port.
    pub dport: Option<u16>,
    /// The deepest layer that decodes (`TCP`, `DNS`, `ZCL`, …).
    pub protocol: String,
    /// The ZigBee message type (`ZCL: Read Attributes`, …), if any.
    pub message: Option<String>,
    /// TCP flags as a short string (`S`, `SA`, `A`, `PA`, `FA`, `R`).
    pub tcp_flags: Option<String>,
    /// Flow key: the 5-tuple for TCP/UDP, else addresses and protocol.
    pub flow: String,
}

/// Read every packet of a capture as [`PacketFeatures`].
///
/// # Errors
/// [`RealismError::Read`] when the capture cannot be read.
pub fn features(path: &Path) -> Result<Vec<PacketFeatures>, RealismError> {
    let read_error = |source| RealismError::Read { path: path.display().to_string(), source };
    let mut reader = Reader::open(path).map_err(read_error)?;
    let mut out = Vec::new();
    let mut number = 0;
    while let Some(raw) = reader.next_frame() {
        let raw = raw.map_err(read_error)?;
        number += 1;
        let frame = dissect(number, &raw);
        let protocol = Protocol::LAYERS
            .iter()
            .rev()
            .find(|p| frame.present.contains(**p))
            .map_or("OTHER", |p| p.as_str())
            .to_string();
        let (mut src, mut dst) = frame.ipv4_addrs().map_or((None, None), |(s, d)| {
            (Some(crate::check::ip4(s).to_string()), Some(crate::check::ip4(d).to_string()))
        });
        let mut message = None;
        if matches!(frame.link, crate::dissect::Link::Ieee802154 { .. }) {
            let body = if raw.linktype == crate::pcap::LinkType::Ieee802154WithFcs {
                &raw.data[..raw.data.len().saturating_sub(2)]
            } else {
                raw.data
            };
            if let Ok(decoded) = crate::wire::zigbee::decode(body) {
                let (s, d) = decoded.addresses();
                src = s.map(|a| format!("0x{a:04x}"));
                dst = d.map(|a| format!("0x{a:04x}"));
                message = crate::wire::zigbee::classify(&decoded).map(|k| k.name());
            }
        }
        let ports = frame.ports();
        let tcp_flags = match &frame.transport {
            Transport::Tcp(tcp) => Some(flag_string(tcp.syn(), tcp.ack(), tcp.fin(), tcp.rst(), tcp.psh())),
            _ => None,
        };
        let flow = match ports {
            Some((sp, dp)) => {
                format!("{protocol} {}:{sp} > {}:{dp}", src.as_deref().unwrap_or("?"), dst.as_deref().unwrap_or("?"))
            }
            None => format!("{protocol} {} > {}", src.as_deref().unwrap_or("?"), dst.as_deref().unwrap_or("?")),
        };
        out.push(PacketFeatures {
            time: raw.ts as f64 / 1e9,
            length: raw.orig_len,
            src,
            dst,
            sport: ports.map(|p| p.0),
            dport: ports.map(|p| p.1),
            protocol,
            message,
            tcp_flags,
            flow,
        });
    }
    Ok(out)
}

fn flag_string(syn: bool, ack: bool, fin: bool, rst: bool, psh: bool) -> String {
    let mut out = String::new();
    for (set, letter) in [(syn, 'S'), (fin, 'F'), (rst, 'R'), (psh, 'P'), (ack, 'A')] {
        if set {
            out.push(letter);
        }
    }
    if out.is_empty() {
        out.push('0');
    }
    out
}

/// One metric of the comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metric {
    /// What is compared (`packet length`, `src address rank`, …).
    pub name: String,
    /// `jsd`, `emd` or `kl`.
    pub kind: &'static str,
    /// The value; `null` where it is not defined (see `note`).
    pub value: Option<f64>,
    /// Unit: `bits`, `bytes`, `s`, `packets`.
    pub unit: &'static str,
    /// Why a value is missing, or how to read it.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// Entropy of one field on both sides.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntropyRow {
    /// The field.
    pub field: String,
    /// Entropy of the generated side, in bits.
    pub generated: f64,
    /// Entropy of the real side, in bits.
    pub real: f64,
}

/// A distribution on both sides, for the page's plots.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overlay {
    /// What it shows.
    pub name: String,
    /// `categorical` (bars of probabilities), `histogram` or `cdf`.
    pub kind: &'static str,
    /// Unit of the x axis.
    pub unit: &'static str,
    /// Labels (categorical) or bin lower edges / x values.
    pub x: Vec<String>,
    /// Generated side: probabilities per label or bin, or CDF points.
    pub generated: Vec<f64>,
    /// Real side, aligned with `x`.
    pub real: Vec<f64>,
}

/// Side sizes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Side {
    /// The captures.
    pub files: Vec<String>,
    /// Packets.
    pub packets: usize,
    /// Flows.
    pub flows: usize,
}

/// The realism report of generated captures against real ones.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RealismReport {
    /// The generated side.
    pub generated: Side,
    /// The real side.
    pub real: Side,
    /// The metrics, in a fixed order.
    pub metrics: Vec<Metric>,
    /// Per-field entropy.
    pub entropy: Vec<EntropyRow>,
    /// TCP flag-transition probabilities per side (`S→SA`: share of all
    /// transitions within TCP flows), when either side has TCP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_flags: Option<BTreeMap<String, (f64, f64)>>,
    /// The distributions behind the metrics, for plots.
    pub overlays: Vec<Overlay>,
}

/// Compare two sets of captures (each path a capture or a folder of them).
///
/// # Errors
/// [`RealismError`] when a capture cannot be read or a side is empty.
pub fn compare_paths(generated: &[PathBuf], real: &[PathBuf]) -> Result<RealismReport, RealismError> {
    let load =
        |paths: &[PathBuf], side: &'static str| -> Result<(Vec<String>, Vec<Vec<PacketFeatures>>), RealismError> {
            let files = expand(paths);
            let traces = files.iter().map(|f| features(f)).collect::<Result<Vec<_>, _>>()?;
            if traces.iter().all(Vec::is_empty) {
                return Err(RealismError::Empty(side));
            }
            Ok((files.iter().map(|f| f.display().to_string()).collect(), traces))
        };
    let (gen_files, gen) = load(generated, "generated")?;
    let (real_files, real) = load(real, "real")?;
    Ok(compare(gen_files, &gen, real_files, &real))
}

/// Expand folders into the captures they hold (sorted), keep files.
fn expand(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut inner: Vec<PathBuf> = std::fs::read_dir(path)
                .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
                .unwrap_or_default();
            inner.retain(|p| {
                p.is_dir() || matches!(p.extension().and_then(|e| e.to_str()), Some("pcap" | "pcapng" | "cap"))
            });
            inner.sort();
            out.extend(expand(&inner));
        } else {
            out.push(path.clone());
        }
    }
    out
}

/// All the per-side samples the metrics use.
struct Samples {
    packets: usize,
    src: BTreeMap<String, u64>,
    dst: BTreeMap<String, u64>,
    sport: BTreeMap<u16, u64>,
    dport: BTreeMap<u16, u64>,
    protocol: BTreeMap<String, u64>,
    message: BTreeMap<String, u64>,
    length: Vec<f64>,
    lengths: BTreeMap<u32, u64>,
    iat: Vec<f64>,
    flow_sizes: Vec<f64>,
    flag_transitions: BTreeMap<String, u64>,
}

impl Samples {
    fn of(traces: &[Vec<PacketFeatures>]) -> Samples {
        let all = || traces.iter().flatten();
        let mut iat = Vec::new();
        let mut flows: BTreeMap<(usize, &str), u64> = BTreeMap::new();
        let mut flags: BTreeMap<(usize, &str), Vec<&str>> = BTreeMap::new();
        for (t, trace) in traces.iter().enumerate() {
            iat.extend(trace.windows(2).map(|w| w[1].time - w[0].time));
            for p in trace {
                *flows.entry((t, &p.flow)).or_default() += 1;
                if let Some(f) = &p.tcp_flags {
                    flags.entry((t, &p.flow)).or_default().push(f);
                }
            }
        }
        let mut flag_transitions = BTreeMap::new();
        for sequence in flags.values() {
            for w in sequence.windows(2) {
                *flag_transitions.entry(format!("{}→{}", w[0], w[1])).or_default() += 1;
            }
        }
        Samples {
            packets: all().count(),
            src: count(all().filter_map(|p| p.src.clone())),
            dst: count(all().filter_map(|p| p.dst.clone())),
            sport: count(all().filter_map(|p| p.sport)),
            dport: count(all().filter_map(|p| p.dport)),
            protocol: count(all().map(|p| p.protocol.clone())),
            message: count(all().filter_map(|p| p.message.clone())),
            length: all().map(|p| f64::from(p.length)).collect(),
            lengths: count(all().map(|p| p.length)),
            iat,
            flow_sizes: flows.values().map(|v| *v as f64).collect(),
            flag_transitions,
        }
    }
}

fn side(files: Vec<String>, samples: &Samples) -> Side {
    Side { files, packets: samples.packets, flows: samples.flow_sizes.len() }
}

/// Compare per-capture packet features (the core of [`compare_paths`]).
pub fn compare(
    gen_files: Vec<String>,
    gen: &[Vec<PacketFeatures>],
    real_files: Vec<String>,
    real: &[Vec<PacketFeatures>],
) -> RealismReport {
    let g = Samples::of(gen);
    let r = Samples::of(real);
    let mut metrics = Vec::new();
    let absent = |what: &str| format!("no {what} on one side");
    let mut categorical = |name: &str, a: Option<f64>, what: &str| {
        metrics.push(Metric {
            name: name.into(),
            kind: "jsd",
            value: a,
            unit: "bits",
            note: if a.is_none() { absent(what) } else { String::new() },
        });
    };
    categorical("src address rank", jsd(&rank_counts(&g.src), &rank_counts(&r.src)), "addresses");
    categorical("dst address rank", jsd(&rank_counts(&g.dst), &rank_counts(&r.dst)), "addresses");
    categorical("src port", jsd(&g.sport, &r.sport), "ports");
    categorical("dst port", jsd(&g.dport, &r.dport), "ports");
    categorical("protocol", jsd(&g.protocol, &r.protocol), "packets");
    if !g.message.is_empty() || !r.message.is_empty() {
        categorical("message type", jsd(&g.message, &r.message), "ZigBee messages");
    }
    if !g.flag_transitions.is_empty() || !r.flag_transitions.is_empty() {
        categorical(
            "TCP flag transitions",
            jsd(&g.flag_transitions, &r.flag_transitions),
            "TCP flows of two or more segments",
        );
    }
    let mut distance = |name: &str, unit: &'static str, a: &[f64], b: &[f64], what: &str| {
        let value = emd(a, b);
        metrics.push(Metric {
            name: name.into(),
            kind: "emd",
            value,
            unit,
            note: if value.is_none() { absent(what) } else { String::new() },
        });
    };
    distance("packet length", "bytes", &g.length, &r.length, "packets");
    distance("inter-arrival time", "s", &g.iat, &r.iat, "two packets in one capture");
    distance("flow size", "packets", &g.flow_sizes, &r.flow_sizes, "flows");
    let unsupported = "the generated side takes values the real side never does (infinite)";
    let mut divergence = |name: &str, value: Option<f64>, defined: bool| {
        metrics.push(Metric {
            name: name.into(),
            kind: "kl",
            value,
            unit: "bits",
            note: if value.is_none() {
                if defined {
                    unsupported.into()
                } else {
                    absent("values")
                }
            } else {
                String::new()
            },
        });
    };
    let both = |a: usize, b: usize| a > 0 && b > 0;
    divergence("protocol", kl(&g.protocol, &r.protocol), both(g.protocol.len(), r.protocol.len()));
    divergence("packet length", kl(&g.lengths, &r.lengths), both(g.lengths.len(), r.lengths.len()));
    divergence("src address rank", kl(&rank_counts(&g.src), &rank_counts(&r.src)), both(g.src.len(), r.src.len()));
    if both(g.dport.len(), r.dport.len()) {
        divergence("dst port", kl(&g.dport, &r.dport), true);
    }
    if both(g.message.len(), r.message.len()) {
        divergence("message type", kl(&g.message, &r.message), true);
    }
    let entropy_rows = vec![
        EntropyRow { field: "src address".into(), generated: entropy(&g.src), real: entropy(&r.src) },
        EntropyRow { field: "dst address".into(), generated: entropy(&g.dst), real: entropy(&r.dst) },
        EntropyRow { field: "src port".into(), generated: entropy(&g.sport), real: entropy(&r.sport) },
        EntropyRow { field: "dst port".into(), generated: entropy(&g.dport), real: entropy(&r.dport) },
        EntropyRow { field: "protocol".into(), generated: entropy(&g.protocol), real: entropy(&r.protocol) },
        EntropyRow { field: "packet length".into(), generated: entropy(&g.lengths), real: entropy(&r.lengths) },
        EntropyRow { field: "message type".into(), generated: entropy(&g.message), real: entropy(&r.message) },
    ];
    let tcp_flags = (!g.flag_transitions.is_empty() || !r.flag_transitions.is_empty()).then(|| {
        let (pg, pr) = (metrics::normalise(&g.flag_transitions), metrics::normalise(&r.flag_transitions));
        pg.keys()
            .chain(pr.keys())
            .map(|k| (k.clone(), (pg.get(k).copied().unwrap_or(0.0), pr.get(k).copied().unwrap_or(0.0))))
            .collect()
    });
    let overlays = vec![
        bars("protocol", &g.protocol, &r.protocol),
        bars("message type", &g.message, &r.message),
        rank_bars("src address rank", &g.src, &r.src),
        histogram("packet length", "bytes", &g.length, &r.length),
        cdf("inter-arrival time", "s", &g.iat, &r.iat),
        cdf("flow size", "packets", &g.flow_sizes, &r.flow_sizes),
    ]
    .into_iter()
    .filter(|o| !o.x.is_empty())
    .collect();
    RealismReport {
        generated: side(gen_files, &g),
        real: side(real_files, &r),
        metrics,
        entropy: entropy_rows,
        tcp_flags,
        overlays,
    }
}

/// Probability bars over the union of labels (top 20 by joint weight).
fn bars<K: Ord + Clone + ToString>(name: &str, a: &BTreeMap<K, u64>, b: &BTreeMap<K, u64>) -> Overlay {
    let (pa, pb) = (metrics::normalise(a), metrics::normalise(b));
    let mut keys: Vec<&K> = pa.keys().chain(pb.keys()).collect();
    keys.sort();
    keys.dedup();
    let weight = |k: &K| pa.get(k).copied().unwrap_or(0.0) + pb.get(k).copied().unwrap_or(0.0);
    keys.sort_by(|x, y| weight(y).total_cmp(&weight(x)).then_with(|| x.cmp(y)));
    keys.truncate(20);
    Overlay {
        name: name.into(),
        kind: "categorical",
        unit: "",
        x: keys.iter().map(|k| k.to_string()).collect(),
        generated: keys.iter().map(|k| pa.get(*k).copied().unwrap_or(0.0)).collect(),
        real: keys.iter().map(|k| pb.get(*k).copied().unwrap_or(0.0)).collect(),
    }
}

fn rank_bars(name: &str, a: &BTreeMap<String, u64>, b: &BTreeMap<String, u64>) -> Overlay {
    let mut overlay = bars(name, &rank_counts(a), &rank_counts(b));
    // Ranks read in order, not by weight.
    let mut rows: Vec<(usize, f64, f64)> = overlay
        .x
        .iter()
        .zip(overlay.generated.iter().zip(&overlay.real))
        .filter_map(|(x, (g, r))| x.parse::<usize>().ok().map(|x| (x, *g, *r)))
        .collect();
    rows.sort_by_key(|r| r.0);
    overlay.x = rows.iter().map(|r| format!("#{}", r.0 + 1)).collect();
    overlay.generated = rows.iter().map(|r| r.1).collect();
    overlay.real = rows.iter().map(|r| r.2).collect();
    overlay
}

/// A 30-bin histogram of probabilities on shared bins.
fn histogram(name: &str, unit: &'static str, a: &[f64], b: &[f64]) -> Overlay {
    const BINS: usize = 30;
    if a.is_empty() && b.is_empty() {
        return Overlay { name: name.into(), kind: "histogram", unit, x: vec![], generated: vec![], real: vec![] };
    }
    let lo = a.iter().chain(b).copied().fold(f64::INFINITY, f64::min);
    let hi = a.iter().chain(b).copied().fold(f64::NEG_INFINITY, f64::max);
    let (ca, cb) = metrics::shared_bins(a, b, BINS);
    let (pa, pb) = (metrics::normalise(&ca), metrics::normalise(&cb));
    let width = if hi > lo { (hi - lo) / BINS as f64 } else { 1.0 };
    Overlay {
        name: name.into(),
        kind: "histogram",
        unit,
        x: (0..BINS).map(|i| format!("{}", round(lo + width * i as f64))).collect(),
        generated: (0..BINS).map(|i| pa.get(&i).copied().unwrap_or(0.0)).collect(),
        real: (0..BINS).map(|i| pb.get(&i).copied().unwrap_or(0.0)).collect(),
    }
}

/// Both empirical CDFs evaluated at up to 100 shared points.
fn cdf(name: &str, unit: &'static str, a: &[f64], b: &[f64]) -> Overlay {
    let mut xs: Vec<f64> = a.iter().chain(b).copied().filter(|v| v.is_finite()).collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    if xs.len() > 100 {
        let step = (xs.len() - 1) as f64 / 99.0;
        xs = (0..100).map(|i| xs[(i as f64 * step).round() as usize]).collect();
    }
    let at = |sample: &[f64], x: f64| {
        if sample.is_empty() {
            0.0
        } else {
            sample.iter().filter(|v| **v <= x).count() as f64 / sample.len() as f64
        }
    };
    Overlay {
        name: name.into(),
        kind: "cdf",
        unit,
        x: xs.iter().map(|x| format!("{}", round(*x))).collect(),
        generated: xs.iter().map(|x| at(a, *x)).collect(),
        real: xs.iter().map(|x| at(b, *x)).collect(),
    }
}

/// Round to 6 significant decimals for stable text.
fn round(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

#[cfg(test)]
mod test {
    use super::*;

    fn packet(time: f64, length: u32, src: &str, flags: Option<&str>) -> PacketFeatures {
        PacketFeatures {
            time,
            length,
            src: Some(src.into()),
            dst: Some("10.0.0.2".into()),
            sport: Some(1000),
            dport: Some(80),
            protocol: "TCP".into(),
            message: None,
            tcp_flags: flags.map(String::from),
            flow: format!("TCP {src}:1000 > 10.0.0.2:80"),
        }
    }

    #[test]
    fn test_self_comparison_is_zero() {
        let trace = vec![
            packet(0.0, 60, "10.0.0.1", Some("S")),
            packet(0.1, 60, "10.0.0.1", Some("A")),
            packet(0.3, 200, "10.0.0.3", Some("PA")),
        ];
        let report =
            compare(vec!["a".into()], std::slice::from_ref(&trace), vec!["a".into()], std::slice::from_ref(&trace));
        for metric in &report.metrics {
            assert_eq!(metric.value, Some(0.0), "{}", metric.name);
        }
        assert!(report.entropy.iter().all(|e| e.generated == e.real));
    }

    #[test]
    fn test_shifted_lengths_and_flags() {
        let a = vec![packet(0.0, 60, "10.0.0.1", Some("S")), packet(1.0, 60, "10.0.0.1", Some("A"))];
        let b = vec![packet(0.0, 160, "10.0.0.9", Some("S")), packet(1.0, 160, "10.0.0.9", Some("SA"))];
        let report = compare(vec![], &[a], vec![], &[b]);
        let value = |name: &str, kind: &str| {
            report.metrics.iter().find(|m| m.name == name && m.kind == kind).and_then(|m| m.value)
        };
        assert_eq!(value("packet length", "emd"), Some(100.0));
        assert_eq!(value("src address rank", "jsd"), Some(0.0));
        assert_eq!(value("TCP flag transitions", "jsd"), Some(1.0));
        assert_eq!(value("packet length", "kl"), None);
        assert_eq!(report.tcp_flags.as_ref().unwrap()["S→A"], (1.0, 0.0));
    }
}
