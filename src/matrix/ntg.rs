//! LLM-NTG cells: ZigBee traces generated from real sample input.
//!
//! An NTG suite reproduces one of LLM-NTG's experiments (seed 001): each
//! trial shows the model real summary rows (`sample`) and asks it to
//! continue the network's traffic for `minutes`; the answer (the `ntg`
//! dialect) is built into an IEEE 802.15.4 capture, checked by the own
//! ZigBee checks and tshark, and compared with the real input by LLM-NTG's
//! statistics (packet-type frequencies, inter-arrival statistics, JSD of
//! timing, size and type mix), next to tokens and time per trial.
//!
//! The `reference` model answers with the sample rows themselves: real
//! traffic, the zero-divergence baseline.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::cell::{aggregate, io_err, read_journal, CellError, CellResult, TraceRecord, TraceStatus};
use super::suite::{Item, Suite};
use crate::exec::ntg::{self, build};
use crate::exec::trace::ExecStatus;
use crate::model::{Answer, AnswerError, Answerer, Request};
use crate::pcap::write_pcap;
use crate::prompt::Template;
use crate::realism::zigbee as stats;

/// What an NTG suite adds to a suite file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NtgSpec {
    /// `one_way` or `two_way`: the prompt `prompts/zigbee/<experiment>.ntg.md`.
    pub experiment: String,
    /// Real summary rows shown to the model (an LLM-NTG sample input).
    pub sample: PathBuf,
    /// Minutes of traffic asked for.
    #[serde(default = "default_minutes")]
    pub minutes: u32,
}

fn default_minutes() -> u32 {
    10
}

/// LLM-NTG's statistics of a cell, averaged over its trials.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NtgCellStats {
    /// Trials whose answer could be built.
    pub trials: u64,
    /// Mean JSD (bits) of the inter-arrival histograms against the sample.
    pub jsd_timing: Option<f64>,
    /// Mean JSD (bits) of the frame lengths.
    pub jsd_size: Option<f64>,
    /// Mean JSD (bits) of the message-type mix.
    pub jsd_types: Option<f64>,
    /// Packets per message type over all trials.
    pub types: BTreeMap<String, u64>,
    /// Mean packets per trial.
    pub packets_per_trial: f64,
    /// Mean inter-arrival time (s) over all trials.
    pub mean_inter_arrival_s: Option<f64>,
    /// Mean tokens per trial (prompt + completion).
    pub tokens_per_trial: f64,
    /// Mean answer time per trial (s).
    pub seconds_per_trial: f64,
}

/// The statistics of one trial, kept in the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TrialStats {
    jsd_timing: Option<f64>,
    jsd_size: Option<f64>,
    jsd_types: Option<f64>,
    types: BTreeMap<String, u64>,
    packets: u64,
    mean_inter_arrival_s: Option<f64>,
}

/// Run one NTG cell into `dir` (see [`super::cell::run_cell`] for the
/// journal and `resume`).
///
/// # Errors
/// Unreadable sample or prompt, unwritable output.
#[allow(clippy::too_many_arguments)]
pub fn run_ntg_cell(
    model: &str,
    answerer: &dyn Answerer,
    spec: &NtgSpec,
    suite: &Suite,
    tools: &super::cell::Tools<'_>,
    dir: &Path,
    resume: bool,
) -> Result<CellResult, CellError> {
    fs::create_dir_all(dir).map_err(io_err("cannot create", dir))?;
    let sample_text = fs::read_to_string(&spec.sample).map_err(io_err("cannot read the sample", &spec.sample))?;
    let real = ntg::parse(&sample_text)
        .map_err(|e| CellError::Io {
            what: "cannot read the sample",
            path: spec.sample.display().to_string(),
            source: std::io::Error::other(e.to_string()),
        })?
        .rows;
    let prompt_path = tools.prompts.join("zigbee").join(format!("{}.ntg.md", spec.experiment));
    let text = fs::read_to_string(&prompt_path).map_err(io_err("cannot read the prompt", &prompt_path))?;
    let template = Template::parse(&format!("prompts/zigbee/{}.ntg.md", spec.experiment), &text)?;
    let prompt = template.render_vars(&[("sample", &sample_text), ("minutes", &spec.minutes.to_string())]);
    let journal_path = dir.join("journal.jsonl");
    let mut done = if resume { read_journal(dir) } else { BTreeMap::new() };
    if !resume {
        let _ = fs::remove_file(&journal_path);
    }
    let items: Vec<Item> = (0..suite.count)
        .map(|index| Item {
            index,
            text: format!("{} trial {}", spec.experiment, index + 1),
            scenario: None,
            more: Vec::new(),
        })
        .collect();
    let todo: Vec<&Item> = items.iter().filter(|i| !done.contains_key(&i.index)).collect();
    let requests: Vec<Request<'_>> = todo.iter().map(|item| suite.request(item, &prompt)).collect();
    let answers: Vec<Result<Answer, AnswerError>> = if model == "reference" {
        todo.iter().map(|_| Ok(Answer { text: sample_text.clone(), ..Answer::default() })).collect()
    } else {
        answerer.answer_all(&requests)
    };
    let mut records = Vec::new();
    let mut pcaps = Vec::new();
    for (item, answer) in todo.iter().zip(answers) {
        let mut record = TraceRecord::from_answer(item.index, &item.text, &prompt.version, answer);
        if !record.status.is_ok() {
            pcaps.push(None);
        } else {
            match ntg::parse(&record.answer)
                .and_then(|s| build::build(&s.rows, &build::Options::default()).map(|c| (s.rows, c)))
            {
                Ok((rows, conversion)) => {
                    let name = format!("{:04}.pcap", item.index);
                    let path = dir.join(&name);
                    write_pcap(&path, &conversion.trace).map_err(io_err("cannot write", &path))?;
                    record.packets = conversion.trace.packets.len() as u64;
                    record.pcap = Some(name);
                    record.findings = conversion.findings;
                    let s = stats::ntg_stats(&rows, &real);
                    let trial = TrialStats {
                        jsd_timing: s.jsd_timing,
                        jsd_size: s.jsd_size,
                        jsd_types: s.jsd_types,
                        types: s.generated.types.clone(),
                        packets: s.generated.packets as u64,
                        mean_inter_arrival_s: s.generated.inter_arrival.as_ref().map(|st| st.mean),
                    };
                    record.extra = serde_json::to_value(trial).ok();
                    pcaps.push(Some(path));
                }
                Err(e) => {
                    record.status = TraceStatus::Exec(ExecStatus::Ntg);
                    record.message = e.to_string();
                    record.answer_checks.push("exec.ntg".into());
                    pcaps.push(None);
                }
            }
        }
        records.push(record);
    }
    let present: Vec<&Path> = pcaps.iter().flatten().map(PathBuf::as_path).collect();
    let mut expert = match tools.tshark {
        Some(t) if !present.is_empty() => {
            t.expert_many(&present).map_err(|e| CellError::Tshark(e.to_string()))?.into_iter()
        }
        _ => Vec::new().into_iter(),
    };
    for (record, pcap) in records.iter_mut().zip(&pcaps) {
        let tshark_result = if tools.tshark.is_some() && pcap.is_some() { expert.next() } else { None };
        record.succeeded = super::cell::judge(record, pcap.as_deref(), tools, tshark_result, None, false)?;
    }
    super::cell::append_journal(&journal_path, &records)?;
    for r in records {
        done.insert(r.index, r);
    }
    let mut result = aggregate(model, suite, None, done.values());
    result.ntg = Some(cell_stats(done.values()));
    if let Some(reference) = &suite.reference_capture {
        result.realism = Some(super::cell::realism(dir, &done, reference));
    }
    Ok(result)
}

fn mean(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let v: Vec<f64> = values.flatten().collect();
    (!v.is_empty()).then(|| (v.iter().sum::<f64>() / v.len() as f64 * 1e6).round() / 1e6)
}

fn cell_stats<'r>(records: impl Iterator<Item = &'r TraceRecord> + Clone) -> NtgCellStats {
    let all: Vec<&TraceRecord> = records.collect();
    let trials: Vec<TrialStats> =
        all.iter().filter_map(|r| r.extra.clone().and_then(|v| serde_json::from_value(v).ok())).collect();
    let n = trials.len().max(1) as f64;
    let mut types = BTreeMap::new();
    for t in &trials {
        for (k, v) in &t.types {
            *types.entry(k.clone()).or_default() += v;
        }
    }
    let attempts = all.len().max(1) as f64;
    NtgCellStats {
        trials: trials.len() as u64,
        jsd_timing: mean(trials.iter().map(|t| t.jsd_timing)),
        jsd_size: mean(trials.iter().map(|t| t.jsd_size)),
        jsd_types: mean(trials.iter().map(|t| t.jsd_types)),
        types,
        packets_per_trial: trials.iter().map(|t| t.packets as f64).sum::<f64>() / n + 0.0,
        mean_inter_arrival_s: mean(trials.iter().map(|t| t.mean_inter_arrival_s)),
        // `+ 0.0`: an empty f64 sum is -0.0.
        tokens_per_trial: all
            .iter()
            .filter_map(|r| r.usage)
            .map(|u| (u.prompt_tokens + u.completion_tokens) as f64)
            .sum::<f64>()
            / attempts
            + 0.0,
        seconds_per_trial: all.iter().map(|r| r.latency_ms as f64 / 1000.0).sum::<f64>() / attempts + 0.0,
    }
}
