//! SIP over TCP for the engine's driver (RFC 3261 §18): one connection per peer address, opened
//! when a message is first sent there and reused after, and connections peers open to our
//! listening port; each framed by Content-Length (`okno_sip`'s stream parser), so call control
//! sees whole messages as it sees datagrams. Responses go back on the connection a request came
//! in on, because the user agent answers to the address it heard from, which is that
//! connection's peer.
//!
//! Bounds: a connection whose peer sends what cannot be framed (no Content-Length, a message
//! over the parser's size limit, bytes that are not SIP) is closed, and so is one idle for
//! [`IDLE`]; at most [`MAX_CONNECTIONS`] are open at once (new incoming ones beyond are refused).
//! Not yet: TLS, WebSocket, CRLF keep-alives (RFC 5626).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use okno_sip::message::{Message, Parser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// A connection nobody wrote to or read from for this long is closed.
pub(super) const IDLE: Duration = Duration::from_secs(600);

/// Connections open at once, both ways.
pub(super) const MAX_CONNECTIONS: usize = 256;

/// What the connections report to the engine.
#[derive(Debug)]
pub(super) enum StreamEvent {
    /// One whole SIP message from `from`, parsed once by the framer.
    Message { from: SocketAddr, message: Box<Message> },
    /// The connection to `peer` is gone (closed, refused, broken, idle, or unframeable).
    Closed { peer: SocketAddr },
}

/// The engine's TCP side: its listener and a writer per open connection.
pub(super) struct Streams {
    listener: TcpListener,
    writers: HashMap<SocketAddr, mpsc::UnboundedSender<Vec<u8>>>,
    events: mpsc::UnboundedSender<StreamEvent>,
}

impl Streams {
    /// Listens on `addr` (the port of the engine's UDP socket); connections report on `events`.
    pub(super) async fn bind(addr: SocketAddr, events: mpsc::UnboundedSender<StreamEvent>) -> std::io::Result<Streams> {
        Ok(Streams { listener: TcpListener::bind(addr).await?, writers: HashMap::new(), events })
    }

    /// Waits for a peer to connect and starts reading from it.
    pub(super) async fn accept(&mut self) {
        match self.listener.accept().await {
            Ok((stream, peer)) if self.writers.len() < MAX_CONNECTIONS => {
                tracing::debug!(%peer, "SIP connection accepted");
                let writer = spawn_connection(std::future::ready(Ok(stream)), peer, self.events.clone());
                self.writers.insert(peer, writer);
            }
            Ok((_, peer)) => tracing::warn!(%peer, "SIP connection refused: too many open"),
            Err(e) => tracing::debug!(error = %e, "SIP accept failed"),
        }
    }

    /// Sends `bytes` to `to`, on its connection or on a new one.
    pub(super) fn send(&mut self, to: SocketAddr, bytes: Vec<u8>) {
        let bytes = match self.writers.get(&to) {
            Some(writer) => match writer.send(bytes) {
                Ok(()) => return,
                // The connection ended a moment ago: open a new one.
                Err(mpsc::error::SendError(bytes)) => bytes,
            },
            None => bytes,
        };
        if self.writers.len() >= MAX_CONNECTIONS {
            tracing::warn!(%to, "no SIP connection opened: too many open");
            return;
        }
        let writer = spawn_connection(TcpStream::connect(to), to, self.events.clone());
        let _ = writer.send(bytes);
        self.writers.insert(to, writer);
    }

    /// A connection to `peer` is open (or being opened).
    pub(super) fn is_open(&self, peer: SocketAddr) -> bool {
        self.writers.get(&peer).is_some_and(|w| !w.is_closed())
    }

    /// Forgets a connection that reported itself closed.
    pub(super) fn closed(&mut self, peer: SocketAddr) {
        if self.writers.get(&peer).is_some_and(mpsc::UnboundedSender::is_closed) {
            self.writers.remove(&peer);
        }
    }
}

/// Starts a connection's task on `stream` (an accepted one, or one being opened); what to send
/// on it goes into the returned writer, queued until the connection is up.
fn spawn_connection(
    stream: impl Future<Output = std::io::Result<TcpStream>> + Send + 'static,
    peer: SocketAddr,
    events: mpsc::UnboundedSender<StreamEvent>,
) -> mpsc::UnboundedSender<Vec<u8>> {
    let (writer, queued) = mpsc::unbounded_channel();
    tokio::spawn(async move { run(stream.await, peer, queued, events).await });
    writer
}

/// One connection: writes what is queued, frames what arrives, until either side ends it.
async fn run(
    stream: std::io::Result<TcpStream>,
    peer: SocketAddr,
    mut queued: mpsc::UnboundedReceiver<Vec<u8>>,
    events: mpsc::UnboundedSender<StreamEvent>,
) {
    let mut stream = match stream {
        Ok(s) => s,
        Err(e) => {
            tracing::info!(%peer, error = %e, "cannot open a SIP connection");
            queued.close();
            let _ = events.send(StreamEvent::Closed { peer });
            return;
        }
    };
    let _ = stream.set_nodelay(true);
    let parser = Parser::default();
    let (mut reader, mut writer) = stream.split();
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            next = queued.recv() => match next {
                Some(bytes) => {
                    if let Err(e) = writer.write_all(&bytes).await {
                        tracing::info!(%peer, error = %e, "SIP connection broke while sending");
                        break;
                    }
                }
                None => break,
            },
            read = reader.read(&mut chunk) => match read {
                Ok(0) => break,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    if !frame(&parser, &mut buf, peer, &events) {
                        break;
                    }
                }
                Err(e) => {
                    tracing::info!(%peer, error = %e, "SIP connection broke while reading");
                    break;
                }
            },
            _ = tokio::time::sleep(IDLE) => {
                tracing::debug!(%peer, "idle SIP connection closed");
                break;
            }
        }
    }
    queued.close();
    let _ = events.send(StreamEvent::Closed { peer });
}

/// Hands every whole message at the front of `buf` to the engine; false when the stream cannot
/// be framed any more and the connection must close.
fn frame(parser: &Parser, buf: &mut Vec<u8>, peer: SocketAddr, events: &mpsc::UnboundedSender<StreamEvent>) -> bool {
    loop {
        match parser.parse_stream(buf) {
            Ok(Some((message, used))) => {
                buf.drain(..used);
                let _ = events.send(StreamEvent::Message { from: peer, message: Box::new(message) });
            }
            Ok(None) => return true,
            Err(e) => {
                tracing::warn!(%peer, error = %e, "closing a SIP connection that cannot be framed");
                return false;
            }
        }
    }
}
