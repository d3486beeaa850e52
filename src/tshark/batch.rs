//! Batching: one tshark process for many small captures.
//!
//! Starting tshark costs far more than dissecting a few dozen packets, so
//! traces are concatenated into one temporary capture per batch. tshark's
//! stateful analyses (TCP sequence analysis, DNS and ICMP request/response
//! tracking, ARP duplicate-address detection) are keyed by addresses, so two
//! traces go into the same batch only when they share no IPv4 address pair
//! and no ARP-announced address, and have the same link type. Frame numbers
//! are mapped back to each trace.

use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::{Expert, Tshark, TsharkError};
use crate::dissect::{dissect, Net};
use crate::finding::Finding;
use crate::pcap::{LinkType, Reader, Writer};

/// Traces larger than this run alone (batching brings nothing there).
pub const MAX_BATCH_PACKETS: u64 = 50_000;

/// What tshark's cross-packet analyses are keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    /// A canonical IPv4 address pair (TCP, UDP, DNS, ICMP conversations).
    Pair([u8; 4], [u8; 4]),
    /// An address claimed or asked for in ARP.
    Host([u8; 4]),
}

/// What the planner knows about one capture.
#[derive(Debug)]
struct Profile {
    linktype: LinkType,
    packets: u64,
    keys: HashSet<Key>,
}

/// Read `path` and collect its keys; `None` when it cannot be batched
/// (unreadable, several link types, frames whose state tshark keys
/// otherwise, or too large).
fn profile(path: &Path) -> Option<Profile> {
    let mut reader = Reader::open(path).ok()?;
    let mut profile =
        Profile { linktype: reader.linktype().unwrap_or(LinkType::Ethernet), packets: 0, keys: HashSet::new() };
    let mut first = true;
    while let Some(raw) = reader.next_frame() {
        let raw = raw.ok()?;
        if first {
            profile.linktype = raw.linktype;
            first = false;
        } else if raw.linktype != profile.linktype {
            return None;
        }
        profile.packets += 1;
        if profile.packets > MAX_BATCH_PACKETS {
            return None;
        }
        let frame = dissect(profile.packets, &raw);
        match &frame.net {
            Net::Ipv4 { .. } => {
                let (a, b) = frame.ipv4_addrs()?;
                let (a, b) = if a <= b { (a, b) } else { (b, a) };
                profile.keys.insert(Key::Pair(a, b));
            }
            Net::Arp(arp) => {
                for addr in [arp.sender_protocol_addr(), arp.target_protocol_addr()] {
                    profile.keys.insert(Key::Host(addr.try_into().ok()?));
                }
            }
            // Anything else may be keyed in ways we do not model: alone.
            _ => return None,
        }
    }
    Some(profile)
}

/// Group `paths` into batches: indices into `paths`, each batch sharing one
/// link type and no key. Unbatchable captures get a batch of their own.
pub fn plan(paths: &[&Path]) -> Vec<Vec<usize>> {
    struct Open {
        linktype: LinkType,
        packets: u64,
        keys: HashSet<Key>,
        members: Vec<usize>,
    }
    let mut batches: Vec<Open> = Vec::new();
    let mut alone: Vec<Vec<usize>> = Vec::new();
    for (index, path) in paths.iter().enumerate() {
        let Some(profile) = profile(path) else {
            alone.push(vec![index]);
            continue;
        };
        let fits = batches.iter_mut().find(|b| {
            b.linktype == profile.linktype
                && b.packets + profile.packets <= MAX_BATCH_PACKETS
                && b.keys.is_disjoint(&profile.keys)
        });
        match fits {
            Some(batch) => {
                batch.packets += profile.packets;
                batch.keys.extend(profile.keys);
                batch.members.push(index);
            }
            None => batches.push(Open {
                linktype: profile.linktype,
                packets: profile.packets,
                keys: profile.keys,
                members: vec![index],
            }),
        }
    }
    let mut out: Vec<Vec<usize>> = batches.into_iter().map(|b| b.members).collect();
    out.extend(alone);
    out.sort_by_key(|members| members[0]);
    out
}

impl Tshark {
    /// Run tshark's Expert Info on every capture in `paths`, batching them
    /// ([`plan`]); return one result per path, in order. The batches run
    /// side by side, as many at a time as there are cores.
    ///
    /// # Errors
    /// A batch whose temporary capture cannot be written. A tshark failure
    /// on a batch is retried per capture, so that one bad file does not
    /// take the others down; the per-capture error is in its slot.
    pub fn expert_many(&self, paths: &[&Path]) -> Result<Vec<Result<Expert, TsharkError>>, TsharkError> {
        // Calls may run side by side on one instance (matrix cells on
        // several threads): each call's batch files get a name of their own.
        static CALL: AtomicU64 = AtomicU64::new(0);
        let call = CALL.fetch_add(1, Ordering::Relaxed);
        let batches = plan(paths);
        let next = AtomicUsize::new(0);
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get).min(batches.len());
        let run = || -> Result<Vec<Slot>, TsharkError> {
            let mut out = Vec::new();
            loop {
                let batch_index = next.fetch_add(1, Ordering::Relaxed);
                let Some(members) = batches.get(batch_index) else { return Ok(out) };
                self.expert_batch(paths, members, call, batch_index, &mut out)?;
            }
        };
        let done: Vec<Result<Vec<_>, TsharkError>> = if threads <= 1 {
            vec![run()]
        } else {
            std::thread::scope(|scope| {
                let workers: Vec<_> = (0..threads).map(|_| scope.spawn(run)).collect();
                workers.into_iter().map(|w| w.join().expect("tshark batch threads do not panic")).collect()
            })
        };
        let mut results: Vec<Option<Result<Expert, TsharkError>>> = paths.iter().map(|_| None).collect();
        for part in done {
            for (index, result) in part? {
                results[index] = Some(result);
            }
        }
        Ok(results.into_iter().map(|r| r.expect("every path is planned")).collect())
    }

    /// Run tshark on batch `batch_index` of call `call` (the captures of
    /// `paths` at `members`) and push each member's result to `out`.
    fn expert_batch(
        &self,
        paths: &[&Path],
        members: &[usize],
        call: u64,
        batch_index: usize,
        out: &mut Vec<Slot>,
    ) -> Result<(), TsharkError> {
        if members.len() == 1 {
            out.push((members[0], self.expert(paths[members[0]])));
            return Ok(());
        }
        // The private config directory belongs to this instance alone.
        let merged = self.config_dir.join(format!("batch-{call}-{batch_index}.pcap"));
        let ranges = merge(paths, members, &merged)
            .map_err(|source| TsharkError::Spawn { path: merged.display().to_string(), source })?;
        match self.expert(&merged) {
            Ok((_, findings)) => {
                for (member, (start, count)) in members.iter().zip(&ranges) {
                    let own: Vec<Finding> = findings
                        .iter()
                        .filter(|f| f.frame > *start && f.frame <= start + count)
                        .map(|f| Finding { frame: f.frame - start, ..f.clone() })
                        .collect();
                    out.push((*member, Ok((self.summarise(&own), own))));
                }
            }
            Err(_) => {
                for member in members {
                    out.push((*member, self.expert(paths[*member])));
                }
            }
        }
        let _ = std::fs::remove_file(&merged);
        Ok(())
    }
}

/// One capture's result: its index in the paths, and tshark's verdict.
type Slot = (usize, Result<Expert, TsharkError>);

/// Concatenate the captures of `members` into `out`; return each member's
/// (first frame - 1, frame count) in the merged file.
fn merge(paths: &[&Path], members: &[usize], out: &PathBuf) -> std::io::Result<Vec<(u64, u64)>> {
    let mut writer: Option<Writer<BufWriter<std::fs::File>>> = None;
    let mut ranges = Vec::with_capacity(members.len());
    let mut total = 0u64;
    for member in members {
        let mut reader = Reader::open(paths[*member]).map_err(std::io::Error::other)?;
        let start = total;
        while let Some(raw) = reader.next_frame() {
            let raw = raw.map_err(std::io::Error::other)?;
            if writer.is_none() {
                writer = Some(Writer::new(BufWriter::new(std::fs::File::create(out)?), raw.linktype)?);
            }
            writer.as_mut().expect("created").write(raw.ts, raw.data)?;
            total += 1;
        }
        ranges.push((start, total - start));
    }
    if let Some(writer) = writer {
        writer.into_inner().flush()?;
    }
    Ok(ranges)
}
