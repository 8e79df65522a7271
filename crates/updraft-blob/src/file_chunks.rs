//! Reading a blob from a local file in large chunks, each read a single call
//! on the blocking pool. `object_store`'s local reader takes 8 KiB per
//! blocking call, which made a bundle download cost 1.4 cores for a quarter
//! of what the kernel could serve (issue #13); one read per [`CHUNK`] bytes
//! goes straight from the page cache into the buffer the socket is written
//! from, without zeroing it first.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;

use crate::BlobError;

/// Bytes per read. hyper asks for the next chunk while its write queue holds
/// less than about 400 KiB, so a download whose client stops reading holds
/// two or three chunks; `bench/download.sh` measured the choice.
pub(crate) const CHUNK: u64 = 256 * 1024;

/// Streams `range` of `file` (already open) in [`CHUNK`]s. A file shorter
/// than the range ends the stream with an error, so the reply is cut short
/// rather than completed with wrong bytes.
pub(crate) fn stream(
    file: File,
    range: Range<u64>,
) -> BoxStream<'static, Result<Bytes, BlobError>> {
    let state = (file, range.start, range.end, true);
    futures::stream::try_unfold(state, |(mut file, pos, end, first)| async move {
        if pos >= end {
            return Ok(None);
        }
        let want = (end - pos).min(CHUNK);
        // Allocated here, on the runtime's worker (where hyper frees it once
        // written), not on the blocking thread: with a per-thread allocator,
        // buffers from many short-lived blocking threads were kept in their
        // heaps and doubled the server's resident memory.
        let mut buf = Vec::with_capacity(usize::try_from(want).unwrap_or(usize::MAX));
        let read = tokio::task::spawn_blocking(move || {
            if first {
                file.seek(SeekFrom::Start(pos))?;
            }
            Read::by_ref(&mut file).take(want).read_to_end(&mut buf)?;
            Ok::<_, std::io::Error>((file, buf))
        });
        let (file, buf) = read
            .await
            .map_err(|e| BlobError::Storage(format!("reading a bundle file: {e}")))?
            .map_err(|e| BlobError::Storage(format!("reading a bundle file: {e}")))?;
        if buf.is_empty() {
            return Err(BlobError::Storage(format!(
                "bundle file ended at byte {pos}, before the {end} bytes it should hold"
            )));
        }
        let next = pos + buf.len() as u64;
        Ok(Some((Bytes::from(buf), (file, next, end, false))))
    })
    .boxed()
}
