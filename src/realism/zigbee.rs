//! LLM-NTG's statistics of a generated ZigBee trace against the real input:
//! packet-type frequencies, inter-arrival statistics (overall and per
//! type), Jensen–Shannon divergence of timing, size and type mix (the
//! tokens and time a trial cost come from its answer's record, in the
//! matrix's NTG cell statistics).
//!
//! Both sides are lists of summary [`Row`]s: from an `ntg` answer
//! ([`crate::exec::ntg::parse`]), from LLM-NTG's real sample inputs (JSON Lines),
//! or read back from a capture with [`rows_from_capture`], so a converted
//! trace and a real capture are measured the same way.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::metrics::{count, jsd, shared_bins, stats, Stats};
use crate::exec::ntg::{parse_info, Row};
use crate::pcap::{LinkType, ReadError, Reader};
use crate::wire::zigbee::{classify, decode, describe, Carrier};

/// Bins of the inter-arrival histogram the timing JSD compares.
pub const TIMING_BINS: usize = 50;

/// The statistics of one side.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceStats {
    /// Rows (packets).
    pub packets: usize,
    /// Seconds from the first to the last row.
    pub duration: f64,
    /// Packets per message type (`Link Status`, `ZCL: Read Attributes`, …;
    /// unknown info texts count under their own text).
    pub types: BTreeMap<String, u64>,
    /// Share of each message type.
    pub type_shares: BTreeMap<String, f64>,
    /// Inter-arrival times between consecutive rows.
    pub inter_arrival: Option<Stats>,
    /// Inter-arrival times between consecutive rows of the same type.
    pub inter_arrival_by_type: BTreeMap<String, Stats>,
    /// Frame lengths.
    pub length: Option<Stats>,
}

/// LLM-NTG's statistics of a generated trace against the real input.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NtgStats {
    /// The generated side.
    pub generated: TraceStats,
    /// The real side.
    pub real: TraceStats,
    /// JSD (bits) of the inter-arrival histograms ([`TIMING_BINS`] shared bins).
    pub jsd_timing: Option<f64>,
    /// JSD (bits) of the frame-length distributions.
    pub jsd_size: Option<f64>,
    /// JSD (bits) of the message-type mixes.
    pub jsd_types: Option<f64>,
}

/// The message-type key of a row.
fn type_of(row: &Row) -> String {
    parse_info(&row.info).map_or_else(|| row.info.clone(), |(kind, _)| kind.name())
}

/// Compute the statistics of one side.
pub fn trace_stats(rows: &[Row]) -> TraceStats {
    let types = count(rows.iter().map(type_of));
    let total = rows.len().max(1) as f64;
    let type_shares = types.iter().map(|(k, v)| (k.clone(), *v as f64 / total)).collect();
    let gaps: Vec<f64> = rows.windows(2).map(|w| w[1].time - w[0].time).collect();
    let mut last: BTreeMap<String, f64> = BTreeMap::new();
    let mut by_type: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for row in rows {
        let key = type_of(row);
        if let Some(previous) = last.insert(key.clone(), row.time) {
            by_type.entry(key).or_default().push(row.time - previous);
        }
    }
    let lengths: Vec<f64> = rows.iter().filter_map(|r| r.length.map(f64::from)).collect();
    let (first, end) = (rows.first().map_or(0.0, |r| r.time), rows.last().map_or(0.0, |r| r.time));
    TraceStats {
        packets: rows.len(),
        duration: end - first,
        types,
        type_shares,
        inter_arrival: stats(&gaps),
        inter_arrival_by_type: by_type.iter().filter_map(|(k, v)| stats(v).map(|s| (k.clone(), s))).collect(),
        length: stats(&lengths),
    }
}

/// Compute LLM-NTG's statistics of `generated` against `real`.
pub fn ntg_stats(generated: &[Row], real: &[Row]) -> NtgStats {
    let gaps = |rows: &[Row]| -> Vec<f64> { rows.windows(2).map(|w| w[1].time - w[0].time).collect() };
    let (g_gaps, r_gaps) = (gaps(generated), gaps(real));
    let (g_bins, r_bins) = shared_bins(&g_gaps, &r_gaps, TIMING_BINS);
    let sizes = |rows: &[Row]| count(rows.iter().filter_map(|r| r.length));
    let types = |rows: &[Row]| count(rows.iter().map(type_of));
    NtgStats {
        generated: trace_stats(generated),
        real: trace_stats(real),
        jsd_timing: jsd(&g_bins, &r_bins),
        jsd_size: jsd(&sizes(generated), &sizes(real)),
        jsd_types: jsd(&types(generated), &types(real)),
    }
}

/// Read a ZigBee capture back as summary rows: time since the first frame,
/// NWK (else MAC) addresses, tshark's protocol column, frame length and
/// tshark's Info text (`?` for frames outside LLM-NTG's vocabulary).
///
/// # Errors
/// [`ReadError`] when the capture cannot be read.
pub fn rows_from_capture(path: &Path) -> Result<Vec<Row>, ReadError> {
    let mut reader = Reader::open(path)?;
    let mut rows = Vec::new();
    let mut start = None;
    while let Some(raw) = reader.next_frame() {
        let raw = raw?;
        let body = if raw.linktype == LinkType::Ieee802154WithFcs {
            &raw.data[..raw.data.len().saturating_sub(2)]
        } else {
            raw.data
        };
        let decoded = decode(body).ok();
        let (src, dst) = decoded.as_ref().map_or((None, None), |d| d.addresses());
        let protocol = match decoded.as_ref().and_then(classify).map(|k| k.carrier()) {
            Some(Carrier::Nwk) => "ZigBee",
            Some(Carrier::Zcl) => "ZigBee HA",
            Some(Carrier::Zdp) => "ZigBee ZDP",
            None => "IEEE 802.15.4",
        };
        let ts = raw.ts as f64 / 1e9;
        let start = *start.get_or_insert(ts);
        let address = |a: Option<u16>| a.map_or_else(|| "?".to_string(), |a| format!("0x{a:04x}"));
        rows.push(Row {
            time: ts - start,
            src: address(src),
            dst: address(dst),
            protocol: protocol.to_string(),
            length: Some(raw.orig_len),
            info: decoded.as_ref().and_then(describe).unwrap_or_else(|| "?".to_string()),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod test {
    use super::*;

    fn row(time: f64, length: u32, info: &str) -> Row {
        Row {
            time,
            src: "0x1de6".into(),
            dst: "0xd7a7".into(),
            protocol: "ZigBee HA".into(),
            length: Some(length),
            info: info.into(),
        }
    }

    #[test]
    fn test_stats() {
        let rows = vec![
            row(0.0, 80, "Link Status"),
            row(1.0, 61, "ZCL: Read Attributes Response, Seq: 1"),
            row(1.5, 61, "ZCL: Read Attributes Response, Seq: 2"),
            row(14.0, 80, "Link Status"),
        ];
        let s = trace_stats(&rows);
        assert_eq!(s.packets, 4);
        assert_eq!(s.duration, 14.0);
        assert_eq!(s.types["Link Status"], 2);
        assert_eq!(s.type_shares["ZCL: Read Attributes Response"], 0.5);
        assert_eq!(s.inter_arrival_by_type["Link Status"].mean, 14.0);
        assert_eq!(s.inter_arrival.unwrap().max, 12.5);
        let same = ntg_stats(&rows, &rows);
        assert_eq!((same.jsd_timing, same.jsd_size, same.jsd_types), (Some(0.0), Some(0.0), Some(0.0)));
        let other: Vec<Row> = rows.iter().map(|r| Row { length: Some(30), ..r.clone() }).collect();
        assert_eq!(ntg_stats(&rows, &other).jsd_size, Some(1.0));
    }
}
