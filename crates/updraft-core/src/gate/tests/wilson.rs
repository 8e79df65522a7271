//! The Wilson score bounds the gates judge rates with.

use super::*;

#[test]
fn wilson_bounds_match_the_formula() {
    let (lo, hi) = wilson(30, 1000);
    assert!((lo - 0.022_316).abs() < 1e-5, "{lo}");
    assert!((hi - 0.040_221).abs() < 1e-5, "{hi}");
    let (lo, hi) = wilson(1, 2);
    assert!((lo - 0.120_852).abs() < 1e-5 && (hi - 0.879_148).abs() < 1e-5);
    assert_eq!(wilson(0, 0), (0.0, 1.0));
    assert_eq!(wilson(0, 20).0, 0.0);
    assert_eq!(wilson(20, 20).1, 1.0);
}

/// Every k of every n up to 300, and a sweep of larger n: the interval holds
/// the point estimate, stays within 0..1, and narrows when n doubles at the
/// same rate.
#[test]
fn the_wilson_interval_holds_the_estimate_and_narrows_with_n() {
    let ns = (1..=300).chain((301..=100_000).step_by(997));
    for n in ns {
        for k in (0..=n).step_by(usize::try_from(n / 150 + 1).unwrap()) {
            let (lo, hi) = wilson(k, n);
            let p = k as f64 / n as f64;
            assert!(
                (0.0..=1.0).contains(&lo) && (0.0..=1.0).contains(&hi),
                "{k}/{n}: ({lo}, {hi})"
            );
            assert!(
                lo <= p + 1e-12 && p <= hi + 1e-12,
                "{k}/{n}: {p} outside ({lo}, {hi})"
            );
            let (lo2, hi2) = wilson(2 * k, 2 * n);
            assert!(
                hi2 - lo2 < hi - lo,
                "{k}/{n}: no narrower at twice the devices"
            );
        }
    }
}
