//! Remembers which (app, device, bundle) offers this node recently queued as
//! a release signal, so a device that checks again and is offered the same
//! bundle costs no database work for it.
//!
//! The store keeps only the first time a device was offered a bundle, so a
//! repeated `Offered` write changes nothing; this filter skips it before it
//! is queued. It is a fixed table of fingerprints indexed by the
//! fingerprint itself (no allocation, no lock, [`SLOTS`] × 8 bytes): a slot
//! that another offer took since only costs one more idempotent write, and
//! two offers sharing a 64-bit fingerprint (about one in 10¹⁹) would leave
//! one device's first offer unrecorded in the funnel. Safe on every backend:
//! what it skips is a write that would change nothing.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

/// Fingerprints remembered: 2^19 slots, 4 MiB.
pub(crate) const SLOTS: usize = 1 << 19;

/// The filter.
pub(crate) struct OfferFilter {
    slots: Box<[AtomicU64]>,
    keys: std::collections::hash_map::RandomState,
}

impl Default for OfferFilter {
    fn default() -> Self {
        Self {
            slots: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(),
            keys: std::collections::hash_map::RandomState::new(),
        }
    }
}

impl OfferFilter {
    /// Whether the offer of `bundle_id` to `device_id` of `app_id` should be
    /// queued: false when this node queued the same one and its slot still
    /// holds it. Marks it queued.
    pub(crate) fn admit(&self, app_id: &str, device_id: &str, bundle_id: i64) -> bool {
        let (slot, print) = self.slot(app_id, device_id, bundle_id);
        slot.swap(print, Ordering::Relaxed) != print
    }

    /// Forgets the offer again (its write could not be queued).
    pub(crate) fn forget(&self, app_id: &str, device_id: &str, bundle_id: i64) {
        let (slot, print) = self.slot(app_id, device_id, bundle_id);
        let _ = slot.compare_exchange(print, 0, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// The offer's slot and fingerprint (never 0, which marks an empty slot).
    fn slot(&self, app_id: &str, device_id: &str, bundle_id: i64) -> (&AtomicU64, u64) {
        let print = self.keys.hash_one((app_id, device_id, bundle_id)).max(1);
        // The low bits index the table (SLOTS is a power of two).
        let index = usize::try_from(print % SLOTS as u64).unwrap_or_default();
        (&self.slots[index], print)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_offer_is_admitted_once_until_forgotten() {
        let f = OfferFilter::default();
        assert!(f.admit("com.a", "d1", 7));
        assert!(!f.admit("com.a", "d1", 7));
        assert!(f.admit("com.a", "d1", 8), "another bundle is another offer");
        assert!(f.admit("com.a", "d2", 7), "another device too");
        assert!(f.admit("com.b", "d1", 7), "and another app");
        f.forget("com.a", "d1", 7);
        assert!(
            f.admit("com.a", "d1", 7),
            "a forgotten offer is queued again"
        );
    }

    #[test]
    fn many_offers_are_mostly_remembered() {
        let f = OfferFilter::default();
        let n = SLOTS / 4;
        for i in 0..n {
            f.admit("com.a", &i.to_string(), 1);
        }
        let again = (0..n)
            .filter(|i| f.admit("com.a", &i.to_string(), 1))
            .count();
        // A quarter-full direct-mapped table: about 1 - e^(-1/4) ≈ 22 % of
        // the keys share a slot with a later one.
        assert!(again < n / 3, "{again} of {n} offers queued twice");
    }
}
