//! Serving a blob from a local file: the file is mapped read-only and its
//! bytes go to the socket in [`CHUNK`]-sized slices of the mapping, straight
//! from the page cache. `object_store`'s local reader took 8 KiB per blocking
//! call (0.25× nginx `sendfile`); reading 256 KiB chunks into buffers on the
//! blocking pool still copied every byte twice (file to buffer, buffer to
//! socket), which on a CPU without fast string copies halved the throughput
//! again; with the mapping each byte is copied once (issue #13,
//! `bench/download.sh`).

use std::fs::File;
use std::ops::Range;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;

use crate::BlobError;

/// Bytes per slice handed to hyper: it asks for the next one while its write
/// queue holds less than about 400 KiB. Slices share the mapping, so a client
/// that stops reading holds no memory of its own, only the mapped file.
pub(crate) const CHUNK: u64 = 256 * 1024;

/// Streams `range` of `file` from a read-only memory map, in [`CHUNK`]-sized
/// slices of it: the socket is written from the page cache directly, with no
/// copy into a buffer first (one copy per byte instead of two).
pub(crate) fn mapped(
    file: &File,
    range: Range<u64>,
) -> Result<BoxStream<'static, Result<Bytes, BlobError>>, BlobError> {
    if range.is_empty() {
        return Ok(futures::stream::empty().boxed());
    }
    // SAFETY: a mapped file that shrinks raises SIGBUS on access. Bundle
    // files never change once stored: they are written under `tmp/`, checked,
    // renamed into place and only ever unlinked (an unlinked file stays
    // mapped whole). Only someone truncating a file under `blobs/` by hand
    // could break this, as the README says.
    #[allow(unsafe_code)]
    let map = unsafe { memmap2::Mmap::map(file) }
        .map_err(|e| BlobError::Storage(format!("mapping a bundle file: {e}")))?;
    if (map.len() as u64) < range.end {
        return Err(BlobError::Storage(format!(
            "bundle file holds {} bytes, fewer than the {} it should",
            map.len(),
            range.end
        )));
    }
    let start = usize::try_from(range.start).unwrap_or(usize::MAX);
    let end = usize::try_from(range.end).unwrap_or(usize::MAX);
    // Read ahead from disk now, so the socket writes find the pages cached.
    let _ = map.advise_range(memmap2::Advice::WillNeed, start, end - start);
    let all = Bytes::from_owner(map);
    let step = usize::try_from(CHUNK).unwrap_or(usize::MAX);
    Ok(futures::stream::iter(
        (start..end)
            .step_by(step)
            .map(move |at| Ok(all.slice(at..(at + step).min(end)))),
    )
    .boxed())
}
