//! The simulator's listener. During a [`super::Fault::Unreachable`] window it
//! closes its socket, so that connecting is refused as when nothing
//! listens, and resets a connection already open at its next request;
//! afterwards it listens on the same address again.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

use super::Shared;

/// The listening socket, closed while the simulator is out of reach.
pub(super) struct Gate {
    listener: Option<TcpListener>,
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Gate {
    pub(super) fn new(listener: TcpListener, shared: Arc<Shared>) -> io::Result<Gate> {
        Ok(Gate {
            addr: listener.local_addr()?,
            listener: Some(listener),
            shared,
        })
    }

    fn unreachable_until(&self) -> Option<Instant> {
        self.shared.lock().faults.unreachable_until(Instant::now())
    }
}

impl axum::serve::Listener for Gate {
    type Io = Gated;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Gated, SocketAddr) {
        loop {
            if let Some(until) = self.unreachable_until() {
                self.listener = None;
                tokio::time::sleep_until(until).await;
                continue;
            }
            let listener = match &mut self.listener {
                Some(listener) => listener,
                None => match TcpListener::bind(self.addr).await {
                    Ok(listener) => self.listener.insert(listener),
                    Err(error) => {
                        // Another socket took the port meanwhile: unlikely
                        // on loopback, and worth a retry rather than a panic.
                        tracing::warn!(addr = %self.addr, %error, "the simulator cannot listen again yet");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            tokio::select! {
                (stream, peer) = axum::serve::Listener::accept(listener) => {
                    let gated = Gated {
                        stream,
                        shared: Arc::clone(&self.shared),
                    };
                    return (gated, peer);
                }
                () = self.shared.unreachable.notified() => {}
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.addr)
    }
}

/// An accepted connection, reset if it is read from while the simulator is
/// out of reach.
pub(super) struct Gated {
    stream: TcpStream,
    shared: Arc<Shared>,
}

impl AsyncRead for Gated {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let filled = buf.filled().len();
        let read = Pin::new(&mut self.stream).poll_read(cx, buf);
        // Checked once something arrived: an idle connection is reset when
        // it is used, as a peer finds out only then.
        if read.is_ready()
            && buf.filled().len() > filled
            && self
                .shared
                .lock()
                .faults
                .unreachable_until(Instant::now())
                .is_some()
        {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        read
    }
}

impl AsyncWrite for Gated {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
