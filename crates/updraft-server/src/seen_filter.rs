//! Remembers which device rows this node recently queued, so a device that
//! checks again with nothing changed costs no database work at all.
//!
//! Devices check on every app foreground, often twice per tick. The store
//! already skips rewriting an unchanged row until its `last_seen` is
//! [`updraft_store::LAST_SEEN_REFRESH_MS`] old; this filter skips even the
//! lookup, for the same length of time. Together `last_seen` stays within
//! twice that (10 minutes) of a device's latest check.
//!
//! Only for a single node (SQLite): with several nodes, a device whose checks
//! land on different nodes could change a field on one and change it back on
//! another while the first still remembers the old value.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Mutex;

use updraft_store::{DeviceSeen, LAST_SEEN_REFRESH_MS};

const SHARDS: usize = 16;

/// What is remembered of a queued row: a 32-bit fingerprint of its fields
/// and when, in whole seconds (8 bytes; with its 8-byte key and the table's
/// control byte, about 19 bytes per device at the table's fullest).
///
/// A field change whose fingerprint equals the old one (one change in 2^32)
/// is written when the refresh interval has passed instead of at once; two
/// devices sharing a 64-bit key (about one pair in 3 × 10⁷ at a million
/// devices) only cost each other extra writes, or in the same one-in-2^32
/// case a late one (the fingerprint covers the device too). Seconds make
/// the interval up to a second shorter; a row in the same second as the
/// noted one with other fields is queued and the note dropped (either may
/// be the newer: the store decides), which costs at most one more write.
#[derive(Clone, Copy)]
struct Noted {
    fields: u32,
    at_s: u32,
}

/// The filter: sharded maps from a 64-bit (app, device) key to what was queued.
pub(crate) struct SeenFilter {
    shards: Vec<Mutex<HashMap<u64, Noted>>>,
    per_shard: usize,
    keys: [std::collections::hash_map::RandomState; 2],
}

impl SeenFilter {
    /// A filter remembering up to about `capacity` devices (then a shard starts
    /// over). Each shard is held to 7/8 of a power of two, the most a hash
    /// table of that size holds before it doubles, so memory stays at about
    /// 19 bytes per device.
    pub(crate) fn new(capacity: usize) -> Self {
        let wanted = (capacity / SHARDS).max(1);
        let mut buckets = 8usize;
        while buckets * 2 / 8 * 7 <= wanted {
            buckets *= 2;
        }
        let per_shard = (buckets / 8 * 7).min(wanted);
        Self {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(HashMap::with_capacity(per_shard.min(4096))))
                .collect(),
            per_shard,
            keys: Default::default(),
        }
    }

    fn shard(&self, key: u64) -> &Mutex<HashMap<u64, Noted>> {
        // SHARDS is small: the remainder always fits.
        &self.shards[usize::try_from(key % SHARDS as u64).unwrap_or_default()]
    }

    fn key(&self, d: &DeviceSeen) -> u64 {
        self.keys[0].hash_one((&d.app_id, &d.device_id))
    }

    fn fields(&self, d: &DeviceSeen) -> u32 {
        // The device is part of it, so two devices whose keys collide do not
        // share a fingerprint as well (same app version, platform and OS).
        let h = self.keys[1].hash_one((
            (&d.app_id, &d.device_id),
            (
                d.custom_id.as_deref().filter(|c| !c.is_empty()),
                &d.platform,
                &d.plugin_version,
                &d.version_name,
                &d.version_build,
                &d.version_code,
                &d.version_os,
                d.is_prod,
                d.is_emulator,
                &d.default_channel,
                &d.key_id,
            ),
        ));
        (h >> 32) as u32
    }

    /// Whether `d` must be queued; if so it is noted as queued now. A row
    /// identical to one queued less than the refresh interval ago is not.
    pub(crate) fn admit(&self, d: &DeviceSeen) -> bool {
        let key = self.key(d);
        let noted = Noted {
            fields: self.fields(d),
            at_s: u32::try_from(d.seen_at.max(0) / 1000).unwrap_or(u32::MAX),
        };
        let mut shard = self.shard(key).lock().expect("seen filter lock");
        if let Some(old) = shard.get(&key) {
            // A row older than the noted one (a stats event sent late) is
            // queued but not noted: the store keeps the newer row, so a later
            // check must still be compared with what the newer row said.
            if noted.at_s < old.at_s {
                return true;
            }
            // Within the same second, which row is newer is not known: a
            // different one is queued (the store decides) and the note is
            // dropped, so the device's next row is queued whatever it says.
            if noted.at_s == old.at_s && noted.fields != old.fields {
                shard.remove(&key);
                return true;
            }
            let age_ms = i64::from(noted.at_s - old.at_s) * 1000;
            if old.fields == noted.fields && age_ms < LAST_SEEN_REFRESH_MS {
                return false;
            }
        }
        if shard.len() >= self.per_shard && !shard.contains_key(&key) {
            shard.clear();
        }
        shard.insert(key, noted);
        true
    }

    /// Undoes [`admit`](Self::admit) for a row that could not be queued after all.
    pub(crate) fn forget(&self, d: &DeviceSeen) {
        let key = self.key(d);
        self.shard(key)
            .lock()
            .expect("seen filter lock")
            .remove(&key);
    }

    /// Forgets everything (an app was deleted: its devices must be written again).
    pub(crate) fn clear(&self) {
        for s in &self.shards {
            s.lock().expect("seen filter lock").clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(device: &str, version: &str, at_ms: i64) -> DeviceSeen {
        DeviceSeen {
            app_id: "com.example.app".into(),
            device_id: device.into(),
            version_name: Some(version.into()),
            seen_at: at_ms,
            ..Default::default()
        }
    }

    const D: &str = "00000000-0000-4000-8000-000000000001";

    #[test]
    fn an_unchanged_check_within_the_interval_is_not_queued() {
        let f = SeenFilter::new(1000);
        assert!(f.admit(&seen(D, "1.0.0", 0)));
        assert!(!f.admit(&seen(D, "1.0.0", 1_000)));
        assert!(!f.admit(&seen(D, "1.0.0", LAST_SEEN_REFRESH_MS - 1)));
        assert!(
            f.admit(&seen(D, "1.0.0", LAST_SEEN_REFRESH_MS)),
            "the interval has passed"
        );
    }

    #[test]
    fn a_changed_field_another_device_or_app_is_queued() {
        let f = SeenFilter::new(1000);
        assert!(f.admit(&seen(D, "1.0.0", 0)));
        assert!(f.admit(&seen(D, "1.0.1", 1)), "new version");
        assert!(f.admit(&seen(D, "1.0.0", 2)), "and back");
        let other = "00000000-0000-4000-8000-000000000002";
        assert!(f.admit(&seen(other, "1.0.0", 3)));
        let mut app2 = seen(D, "1.0.0", 4);
        app2.app_id = "com.example.other".into();
        assert!(f.admit(&app2));
        let mut custom = seen(D, "1.0.0", 5);
        custom.custom_id = Some("user-1".into());
        assert!(f.admit(&custom), "a custom id set");
    }

    #[test]
    fn a_late_row_is_queued_without_replacing_the_newer_note() {
        let f = SeenFilter::new(1000);
        assert!(f.admit(&seen(D, "1.0.1", 10_000)));
        assert!(
            f.admit(&seen(D, "1.0.2", 5_000)),
            "late: queued, the store decides"
        );
        assert!(
            !f.admit(&seen(D, "1.0.1", 11_000)),
            "still compared with the newer row"
        );
        assert!(f.admit(&seen(D, "1.0.2", 12_000)), "a real change");
    }

    #[test]
    fn a_row_in_the_same_second_with_other_fields_drops_the_note() {
        let f = SeenFilter::new(1000);
        assert!(f.admit(&seen(D, "1.0.1", 10_500)));
        assert!(
            f.admit(&seen(D, "1.0.2", 10_300)),
            "a late event in the same second: queued, the store decides"
        );
        assert!(
            f.admit(&seen(D, "1.0.2", 12_000)),
            "which row the store kept is not known: the next one is queued"
        );
        assert!(!f.admit(&seen(D, "1.0.2", 13_000)), "and noted again");
    }

    #[test]
    fn forget_and_clear_make_the_next_check_queue_again() {
        let f = SeenFilter::new(1000);
        assert!(f.admit(&seen(D, "1.0.0", 0)));
        f.forget(&seen(D, "1.0.0", 0));
        assert!(f.admit(&seen(D, "1.0.0", 1)));
        f.clear();
        assert!(f.admit(&seen(D, "1.0.0", 2)));
    }

    #[test]
    fn memory_is_bounded() {
        let f = SeenFilter::new(SHARDS * 10);
        for i in 0..10_000 {
            assert!(f.admit(&seen(&format!("00000000-0000-4000-8000-{i:012}"), "1", 0)));
        }
        let total: usize = f.shards.iter().map(|s| s.lock().unwrap().len()).sum();
        assert!(total <= SHARDS * 10, "{total} entries");
    }
}
