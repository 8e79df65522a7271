//! Time limits on connections, the same on plain HTTP and TLS: a connection
//! must start its first request within the header timeout (hyper's own header
//! timer only starts once it knows the protocol, so a client that connects and
//! sends nothing would otherwise be kept forever), each request's headers must
//! arrive within it, and an idle keep-alive connection is closed after it. An
//! HTTP/1.1 client that stops reading a reply (a stalled download holds its
//! read-ahead chunks) is cut off once its connection has refused writes for
//! [`write_stall`].

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum_server::accept::Accept;
use futures::future::BoxFuture;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use crate::config::Config;

/// hyper's settings: header read timeout on HTTP/1 (which hyper also applies
/// while a keep-alive connection waits for its next request), and keep-alive
/// pings that drop dead HTTP/2 peers.
pub(crate) fn configure(
    builder: &mut hyper_util::server::conn::auto::Builder<TokioExecutor>,
    config: &Config,
) {
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.limits.header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(config.limits.header_timeout))
        .keep_alive_timeout(Duration::from_secs(20));
}

/// How long a connection's writes may be refused before it is cut off: five
/// times the body timeout (5 minutes by default). The kernel reports a full
/// socket writable again only once about a third of its send buffer has
/// drained (a few hundred KiB on a fast link), so this is also the time a
/// slow reader has to take that much in: 2 MB of buffer at 2–3 KB/s.
pub(crate) fn write_stall(config: &Config) -> Duration {
    config.limits.body_timeout.saturating_mul(5)
}

/// Wraps an acceptor so every accepted stream must deliver its first byte
/// within `deadline`, and may not refuse writes for longer than `stall`.
#[derive(Clone, Debug)]
pub(crate) struct FirstByteDeadline<A> {
    pub(crate) inner: A,
    pub(crate) deadline: Duration,
    pub(crate) stall: Duration,
}

impl<A, I, S> Accept<I, S> for FirstByteDeadline<A>
where
    A: Accept<I, S>,
    A::Future: Send + 'static,
    A::Stream: Send + 'static,
    A::Service: Send + 'static,
{
    type Stream = Deadlined<A::Stream>;
    type Service = A::Service;
    type Future = BoxFuture<'static, io::Result<(Self::Stream, Self::Service)>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        let accepted = self.inner.accept(stream, service);
        let (deadline, stall) = (self.deadline, self.stall);
        Box::pin(async move {
            let (stream, service) = accepted.await?;
            Ok((
                Deadlined {
                    inner: stream,
                    first_byte: Some(Box::pin(tokio::time::sleep(deadline))),
                    stall,
                    stalled: None,
                },
                service,
            ))
        })
    }
}

/// A stream whose reads fail with `TimedOut` if nothing arrives before its
/// deadline (then reads pass through), and whose writes fail with `TimedOut`
/// once the peer has accepted nothing for `stall`.
pub(crate) struct Deadlined<S> {
    inner: S,
    first_byte: Option<Pin<Box<Sleep>>>,
    stall: Duration,
    /// Armed while writes are refused (the peer's window is full).
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<S> Deadlined<S> {
    /// Tracks a write's outcome: progress disarms the stall timer, a refusal
    /// arms it (once) and fails the write when it has run out.
    fn watch_write<T>(
        &mut self,
        cx: &mut Context<'_>,
        r: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match r {
            Poll::Ready(r) => {
                self.stalled = None;
                Poll::Ready(r)
            }
            Poll::Pending => {
                let stall = self.stall;
                let timer = self
                    .stalled
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(stall)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client took in nothing of the reply for five times the body timeout",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Deadlined<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    this.first_byte = None;
                }
                Poll::Ready(r)
            }
            Poll::Pending => match this.first_byte.as_mut().map(|s| s.as_mut().poll(cx)) {
                Some(Poll::Ready(())) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no request within the header timeout",
                ))),
                _ => Poll::Pending,
            },
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Deadlined<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch_write(cx, r)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch_write(cx, r)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch_write(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
