//! Batches split into statements of a few fixed sizes.
//!
//! sqlx keeps every statement a connection prepared in its cache (100 per
//! connection), and a many-row `INSERT` is a new statement for each row
//! count. Cut at a fixed size, a batch's remainder takes every length from 1
//! to that size in turn, so the telemetry writer's connection filled its
//! cache with a hundred large prepared inserts: about 35 MB of SQLite's heap
//! at 1,000,000 devices (bench/README.md, "Where the memory goes"). Split
//! into powers of two, a query shape has at most `log2(max) + 1` lengths (10
//! for 512 rows, 11 for 1,024), each prepared once.

/// Splits `items` in order into chunks whose lengths are powers of two: as
/// many of `max` as fit, then the remainder by its binary digits, largest
/// first. `max` must be a power of two.
pub fn pow2_chunks<T>(items: &[T], max: usize) -> impl Iterator<Item = &[T]> {
    debug_assert!(
        max.is_power_of_two(),
        "chunk size {max} is not a power of two"
    );
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = if rest.len() >= max {
            max
        } else {
            1 << rest.len().ilog2()
        };
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Some(head)
    })
}

#[cfg(test)]
mod tests {
    use super::pow2_chunks;
    use std::collections::BTreeSet;

    #[test]
    fn chunks_cover_the_batch_in_order_with_few_distinct_lengths() {
        let mut lengths = BTreeSet::new();
        for n in 0..2_100usize {
            let items: Vec<usize> = (0..n).collect();
            let chunks: Vec<&[usize]> = pow2_chunks(&items, 512).collect();
            assert_eq!(chunks.concat(), items, "batch of {n}");
            for c in &chunks {
                assert!(
                    c.len().is_power_of_two() && c.len() <= 512,
                    "{n}: {}",
                    c.len()
                );
                lengths.insert(c.len());
            }
            // Full chunks, then one chunk per binary digit of the remainder.
            let expected = n / 512 + (n % 512).count_ones() as usize;
            assert_eq!(chunks.len(), expected, "batch of {n}");
        }
        assert_eq!(lengths.len(), 10, "1, 2, 4, ... 512: {lengths:?}");
    }
}
