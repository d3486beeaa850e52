//! `matrix --onwire`: after the cells run, replay the conversations of each
//! conversation cell's captures against real network stacks (the machinery
//! of `harness onwire`, [`crate::onwire`]) and keep per cell how many of
//! them real stacks reproduce ([`Fidelity`]).
//!
//! Only conversation suites are replayed: a packet-mode trace is a list of
//! unrelated packets, not an exchange a server could answer, so packet
//! cells (and ZigBee's LLM-NTG cells, which no IPv4 stack can answer) get
//! no `onwire` entry at all. Within a cell, only the traces whose capture
//! was built are replayed, one capture at a time in trace order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::cell::{read_journal, CellResult};
use crate::onwire::{self, Fidelity, Options};
use crate::scenario::{Mode, SuiteProtocol};

/// Whether `cell` is replayed on the wire: a conversation suite, not a
/// ZigBee one.
pub fn replayable(cell: &CellResult) -> bool {
    cell.mode == Mode::Conversation.name() && cell.ntg.is_none() && cell.protocol != SuiteProtocol::Zigbee.name()
}

/// The captures of `cell` under the matrix's `out` folder: the traces of its
/// journal whose capture was built, in trace order.
pub fn captures(out: &Path, cell: &CellResult) -> Vec<PathBuf> {
    let dir = out.join(super::dir_name(&cell.model)).join(&cell.suite);
    read_journal(&dir).into_values().filter_map(|r| r.pcap.map(|p| dir.join(p))).collect()
}

/// Replay every [`replayable`] cell of `cells` (run into `out`) and set its
/// `onwire`; the real servers used go into `servers`. `progress` is called
/// after each replayed cell. The caller has called [`onwire::prepare`].
///
/// # Errors
/// A capture that cannot be read or a namespace that cannot be built, with
/// the capture named.
pub fn replay_all(
    out: &Path,
    cells: &mut [CellResult],
    servers: &mut BTreeMap<String, String>,
    mut progress: impl FnMut(&CellResult),
) -> anyhow::Result<()> {
    for cell in cells.iter_mut().filter(|c| replayable(c)) {
        let captures = captures(out, cell);
        let fidelity = onwire::tally(captures.iter().map(PathBuf::as_path), &Options::default(), servers)?;
        cell.onwire = Some(fidelity);
        progress(cell);
    }
    Ok(())
}

/// Sum the [`Fidelity`] of `cells` (those replayed): matched, replayed and
/// skipped added, the fields' counts merged, most common first; `None`
/// when none of them was replayed.
pub fn total<'c>(cells: impl Iterator<Item = &'c CellResult>) -> Option<Fidelity> {
    let mut sum: Option<Fidelity> = None;
    let mut fields: BTreeMap<&str, u64> = BTreeMap::new();
    for f in cells.filter_map(|c| c.onwire.as_ref()) {
        let s = sum.get_or_insert_with(Fidelity::default);
        s.matched += f.matched;
        s.replayed += f.replayed;
        s.skipped += f.skipped;
        for (field, n) in &f.fields {
            *fields.entry(field).or_default() += n;
        }
    }
    let mut sum = sum?;
    sum.fields = fields.into_iter().map(|(f, n)| (f.to_string(), n)).collect();
    sum.fields.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Some(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_add_cells_and_merge_fields() {
        let cell = |mode: &str, onwire: Option<Fidelity>| {
            let suite = super::super::suite::Suite::built(
                SuiteProtocol::Http,
                Mode::Conversation,
                crate::exec::extract::Dialect::Json,
                1,
                1,
            );
            CellResult {
                mode: mode.into(),
                onwire,
                ..super::super::cell::aggregate("m", &suite, None, std::iter::empty())
            }
        };
        let a =
            Fidelity { matched: 6, replayed: 8, skipped: 0, fields: vec![("tcp.ack".into(), 2), ("reply".into(), 1)] };
        let b = Fidelity { matched: 0, replayed: 2, skipped: 1, fields: vec![("reply".into(), 2)] };
        let cells = [cell("conversation", Some(a)), cell("packet", None), cell("conversation", Some(b))];
        assert!(replayable(&cells[0]) && !replayable(&cells[1]));
        let sum = total(cells.iter()).unwrap();
        assert_eq!(
            sum,
            Fidelity { matched: 6, replayed: 10, skipped: 1, fields: vec![("reply".into(), 3), ("tcp.ack".into(), 2)] }
        );
        assert_eq!(total(cells[1..2].iter()), None);
    }
}
