//! Distribution distances as pure functions: Jensen–Shannon divergence,
//! Kullback–Leibler divergence, Shannon entropy (all in bits) over
//! categorical counts, and the Earth Mover's (1-Wasserstein) distance
//! between two samples of numbers.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::Hash;

/// Turn counts into probabilities (empty counts give an empty map).
pub fn normalise<K: Ord + Clone>(counts: &BTreeMap<K, u64>) -> BTreeMap<K, f64> {
    let total: u64 = counts.values().sum();
    if total == 0 {
        return BTreeMap::new();
    }
    counts.iter().map(|(k, v)| (k.clone(), *v as f64 / total as f64)).collect()
}

/// Count the values of an iterator.
pub fn count<K: Ord, I: IntoIterator<Item = K>>(values: I) -> BTreeMap<K, u64> {
    let mut out = BTreeMap::new();
    for value in values {
        *out.entry(value).or_insert(0) += 1;
    }
    out
}

/// Return the popularity-rank distribution of `counts`: the share of the
/// most frequent value at rank 0, the next at rank 1, … (NetShare compares
/// addresses this way, since generated and real addresses differ).
pub fn rank_counts<K: Hash + Eq>(counts: &BTreeMap<K, u64>) -> BTreeMap<usize, u64> {
    let mut values: Vec<u64> = counts.values().copied().collect();
    values.sort_unstable_by(|a, b| b.cmp(a));
    values.into_iter().enumerate().collect()
}

fn plogp(p: f64) -> f64 {
    if p > 0.0 {
        p * p.log2()
    } else {
        0.0
    }
}

/// Shannon entropy in bits of categorical counts (0 for none).
pub fn entropy<K: Ord + Clone>(counts: &BTreeMap<K, u64>) -> f64 {
    (-normalise(counts).values().map(|p| plogp(*p)).sum::<f64>()).max(0.0)
}

/// Jensen–Shannon divergence in bits (0 = same distribution, 1 = disjoint)
/// between two categorical count maps. `None` when either is empty.
pub fn jsd<K: Ord + Clone>(a: &BTreeMap<K, u64>, b: &BTreeMap<K, u64>) -> Option<f64> {
    let (p, q) = (normalise(a), normalise(b));
    if p.is_empty() || q.is_empty() {
        return None;
    }
    let keys: BTreeSet<&K> = p.keys().chain(q.keys()).collect();
    let mut sum = 0.0;
    for key in keys {
        let pi = p.get(key).copied().unwrap_or(0.0);
        let qi = q.get(key).copied().unwrap_or(0.0);
        let m = (pi + qi) / 2.0;
        if pi > 0.0 {
            sum += 0.5 * pi * (pi / m).log2();
        }
        if qi > 0.0 {
            sum += 0.5 * qi * (qi / m).log2();
        }
    }
    Some(sum.clamp(0.0, 1.0))
}

/// Kullback–Leibler divergence D(P‖Q) in bits. `None` when either is empty
/// or P gives weight to a value Q never takes (the divergence is infinite).
pub fn kl<K: Ord + Clone>(p: &BTreeMap<K, u64>, q: &BTreeMap<K, u64>) -> Option<f64> {
    let (p, q) = (normalise(p), normalise(q));
    if p.is_empty() || q.is_empty() {
        return None;
    }
    let mut sum = 0.0;
    for (key, pi) in &p {
        let qi = q.get(key).copied().unwrap_or(0.0);
        if qi == 0.0 {
            return None;
        }
        sum += pi * (pi / qi).log2();
    }
    Some(sum.max(0.0))
}

/// Earth Mover's distance (1-Wasserstein) between two samples, in their
/// unit: the area between their empirical CDFs. `None` when either is
/// empty or holds a non-finite value.
pub fn emd(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.is_empty() || b.is_empty() || a.iter().chain(b).any(|v| !v.is_finite()) {
        return None;
    }
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let mut last = a[0].min(b[0]);
    let mut area = 0.0;
    while i < a.len() || j < b.len() {
        let next = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => x.min(*y),
            (Some(x), None) => *x,
            (None, Some(y)) => *y,
            (None, None) => break,
        };
        let cdf_gap = (i as f64 / na - j as f64 / nb).abs();
        area += cdf_gap * (next - last);
        last = next;
        while a.get(i) == Some(&next) {
            i += 1;
        }
        while b.get(j) == Some(&next) {
            j += 1;
        }
    }
    Some(area)
}

/// Summary statistics of a sample.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Stats {
    /// Number of values.
    pub count: usize,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub median: f64,
    /// Population standard deviation.
    pub std: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

/// Return summary statistics, or `None` for an empty sample.
pub fn stats(values: &[f64]) -> Option<Stats> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let mean = sorted.iter().sum::<f64>() / n as f64;
    let median = if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 };
    let var = sorted.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
    Some(Stats { count: n, mean, median, std: var.sqrt(), min: sorted[0], max: sorted[n - 1] })
}

/// Bin two samples on shared equal-width bins over their joint range and
/// return the per-bin counts (for JSD of continuous values, as LLM-NTG
/// does for timing).
pub fn shared_bins(a: &[f64], b: &[f64], bins: usize) -> (BTreeMap<usize, u64>, BTreeMap<usize, u64>) {
    let finite = || a.iter().chain(b).copied().filter(|v| v.is_finite());
    let lo = finite().fold(f64::INFINITY, f64::min);
    let hi = finite().fold(f64::NEG_INFINITY, f64::max);
    let bins = bins.max(1);
    let bin = |v: f64| -> usize {
        if hi <= lo {
            0
        } else {
            (((v - lo) / (hi - lo)) * bins as f64).floor().clamp(0.0, (bins - 1) as f64) as usize
        }
    };
    let side = |s: &[f64]| count(s.iter().copied().filter(|v| v.is_finite()).map(bin));
    (side(a), side(b))
}

#[cfg(test)]
mod test {
    use super::*;
    use proptest::prelude::*;

    fn counts(values: &[(u8, u64)]) -> BTreeMap<u8, u64> {
        values.iter().copied().filter(|(_, c)| *c > 0).collect()
    }

    #[test]
    fn test_known_values() {
        let a = counts(&[(0, 1)]);
        let b = counts(&[(1, 1)]);
        assert_eq!(jsd(&a, &b), Some(1.0));
        assert_eq!(jsd(&a, &a), Some(0.0));
        assert_eq!(entropy(&counts(&[(0, 1), (1, 1)])), 1.0);
        assert_eq!(entropy(&counts(&[(0, 1), (1, 1), (2, 1), (3, 1)])), 2.0);
        assert_eq!(kl(&a, &b), None);
        assert_eq!(
            kl(&counts(&[(0, 1), (1, 1)]), &counts(&[(0, 3), (1, 1)])).map(|v| (v * 1e6).round() / 1e6),
            Some(0.207519)
        );
        assert_eq!(emd(&[0.0, 1.0], &[0.0, 1.0]), Some(0.0));
        assert_eq!(emd(&[0.0], &[3.0]), Some(3.0));
        assert_eq!(emd(&[0.0, 0.0], &[0.0, 2.0]), Some(1.0));
        assert_eq!(emd(&[], &[1.0]), None);
        let ranks = rank_counts(&count(["a", "b", "b", "c", "c", "c"]));
        assert_eq!(ranks, BTreeMap::from([(0, 3), (1, 2), (2, 1)]));
        let s = stats(&[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!((s.mean, s.median, s.min, s.max), (2.5, 2.5, 1.0, 4.0));
    }

    fn arb_counts() -> impl Strategy<Value = BTreeMap<u8, u64>> {
        proptest::collection::btree_map(0u8..12, 1u64..50, 1..8)
    }

    proptest! {
        #[test]
        fn prop_jsd_symmetric_bounded(a in arb_counts(), b in arb_counts()) {
            let ab = jsd(&a, &b).unwrap();
            let ba = jsd(&b, &a).unwrap();
            prop_assert!((ab - ba).abs() < 1e-12);
            prop_assert!((0.0..=1.0).contains(&ab));
            prop_assert!(jsd(&a, &a).unwrap() < 1e-12);
        }

        #[test]
        fn prop_kl_nonnegative_zero_on_self(a in arb_counts()) {
            prop_assert!(kl(&a, &a).unwrap().abs() < 1e-12);
            let mut wider = a.clone();
            wider.insert(200, 3);
            prop_assert!(kl(&a, &wider).unwrap() >= 0.0);
        }

        #[test]
        fn prop_emd_of_shift_is_the_shift(sample in proptest::collection::vec(-1000.0f64..1000.0, 1..40), shift in -500.0f64..500.0) {
            let shifted: Vec<f64> = sample.iter().map(|v| v + shift).collect();
            let d = emd(&sample, &shifted).unwrap();
            prop_assert!((d - shift.abs()).abs() < 1e-6 * (1.0 + shift.abs()), "{d} vs {shift}");
            prop_assert!((emd(&shifted, &sample).unwrap() - d).abs() < 1e-9);
            prop_assert!(emd(&sample, &sample).unwrap() == 0.0);
        }

        #[test]
        fn prop_entropy_bounded(a in arb_counts()) {
            let h = entropy(&a);
            prop_assert!(h >= 0.0 && h <= (a.len() as f64).log2() + 1e-12);
        }
    }
}
