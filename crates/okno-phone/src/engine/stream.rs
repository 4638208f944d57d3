//! SIP over TCP and TLS for the engine's driver (RFC 3261 §18, §26.2): one connection per peer
//! address, opened when a message is first sent there and reused after; each framed by
//! Content-Length (`okno_sip`'s stream parser), so call control sees whole messages as it sees
//! datagrams. Responses go back on the connection a request came in on, because the user agent
//! answers to the address it heard from, which is that connection's peer.
//!
//! - Over TCP, peers may also open connections to our listening port.
//! - Over TLS the phone is a client only (a desk has no certificate to serve): it opens the
//!   connection to its registrar, verifies the registrar's certificate (rustls), and the
//!   registrar sends requests for us back on that connection, which our Via's `alias` asks it to
//!   reuse (RFC 5923).
//! - Over WebSocket (RFC 7118; `wss` inside TLS, verified as above) the phone is a client only
//!   too: it opens `ws://REGISTRAR/` with the `sip` subprotocol (a server that does not agree
//!   to it is not talked to), and each SIP message travels as one text message, so what
//!   arrives goes to call control as a datagram would (a malformed one is answered 400 and the
//!   connection stays). Our keep-alive ping becomes a WebSocket ping, its pong our pong.
//!
//! Keep-alives (RFC 5626 §4.4.1): a peer's CRLF ping is answered with a CRLF pong here; a pong
//! to ours is reported as [`StreamEvent::Pong`] (call control's registration sends the pings
//! and decides when one went unanswered, then asks for the connection to be closed).
//!
//! Each connection has a number: a `Closed` report names it, so the engine can tell the end of
//! a connection it already replaced (and must not fail the new one's requests for) from the end
//! of the current one.
//!
//! Bounds: a connection whose peer sends what cannot be framed (no Content-Length, a message
//! over the parser's size limit, bytes that are not SIP) is closed, and so is one idle for
//! [`IDLE`]; at most [`MAX_CONNECTIONS`] are open at once (new incoming ones beyond are refused).
//! Not yet: a WebSocket path other than `/`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use okno_sip::message::{KEEPALIVE_PING, KEEPALIVE_PONG, Message, Parser, StreamItem};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// A connection nobody wrote to or read from for this long is closed.
pub(super) const IDLE: Duration = Duration::from_secs(600);

/// Connections open at once, both ways.
pub(super) const MAX_CONNECTIONS: usize = 256;

/// What the connections report to the engine.
#[derive(Debug)]
pub(super) enum StreamEvent {
    /// One whole SIP message from `from`, parsed once by the framer.
    Message { from: SocketAddr, message: Box<Message> },
    /// One SIP message from `from` as it came in a WebSocket message, not parsed yet.
    Datagram { from: SocketAddr, bytes: Vec<u8> },
    /// `from` answered our keep-alive ping.
    Pong { from: SocketAddr },
    /// Connection number `id` to `peer` is gone (closed, refused, broken, idle, unframeable, or
    /// closed by us).
    Closed { peer: SocketAddr, id: u64 },
}

/// A connection's bytes, plain or inside TLS.
trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}
type Connection = Pin<Box<dyn Io>>;

/// How TLS connections are opened: the trust and the name the registrar's certificate must bear.
#[derive(Clone)]
pub(super) struct TlsClient {
    pub(super) connector: TlsConnector,
    pub(super) server_name: ServerName<'static>,
}

/// How WebSocket connections are opened: inside TLS for `wss`, to this URL.
#[derive(Clone)]
pub(super) struct WsClient {
    pub(super) tls: Option<TlsClient>,
    pub(super) url: String,
}

/// The engine's stream side: its listener (TCP), its TLS or WebSocket client and a writer per
/// open connection.
pub(super) struct Streams {
    listener: Option<TcpListener>,
    tls: Option<TlsClient>,
    ws: Option<WsClient>,
    /// The open connection to each peer: its number and what to send on it.
    writers: HashMap<SocketAddr, (u64, mpsc::UnboundedSender<Vec<u8>>)>,
    opened: u64,
    events: mpsc::UnboundedSender<StreamEvent>,
}

impl Streams {
    /// Listens on `addr` (the port of the engine's UDP socket); connections report on `events`.
    pub(super) async fn bind(addr: SocketAddr, events: mpsc::UnboundedSender<StreamEvent>) -> std::io::Result<Streams> {
        Ok(Streams {
            listener: Some(TcpListener::bind(addr).await?),
            tls: None,
            ws: None,
            writers: HashMap::new(),
            opened: 0,
            events,
        })
    }

    /// Opens TLS connections only (see the module docs); connections report on `events`.
    pub(super) fn tls(client: TlsClient, events: mpsc::UnboundedSender<StreamEvent>) -> Streams {
        Streams { listener: None, tls: Some(client), ws: None, writers: HashMap::new(), opened: 0, events }
    }

    /// Opens WebSocket connections only (see the module docs); connections report on `events`.
    pub(super) fn ws(client: WsClient, events: mpsc::UnboundedSender<StreamEvent>) -> Streams {
        Streams { listener: None, tls: None, ws: Some(client), writers: HashMap::new(), opened: 0, events }
    }

    /// Waits for a peer to connect and starts reading from it (forever, without a listener).
    pub(super) async fn accept(&mut self) {
        let Some(listener) = &self.listener else { return std::future::pending().await };
        match listener.accept().await {
            Ok((stream, peer)) if self.writers.len() < MAX_CONNECTIONS => {
                tracing::debug!(%peer, "SIP connection accepted");
                let _ = stream.set_nodelay(true);
                let connection: Connection = Box::pin(stream);
                self.opened += 1;
                let writer =
                    spawn_connection(std::future::ready(Ok(connection)), peer, self.opened, self.events.clone());
                self.writers.insert(peer, (self.opened, writer));
            }
            Ok((_, peer)) => tracing::warn!(%peer, "SIP connection refused: too many open"),
            Err(e) => tracing::debug!(error = %e, "SIP accept failed"),
        }
    }

    /// Sends `bytes` to `to`, on its connection or on a new one.
    pub(super) fn send(&mut self, to: SocketAddr, bytes: Vec<u8>) {
        let bytes = match self.writers.get(&to) {
            Some((_, writer)) => match writer.send(bytes) {
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
        self.opened += 1;
        if let Some(client) = self.ws.clone() {
            let (writer, queued) = mpsc::unbounded_channel();
            let events = self.events.clone();
            let id = self.opened;
            tokio::spawn(async move { run_ws(open_ws(to, client).await, to, id, queued, events).await });
            let _ = writer.send(bytes);
            self.writers.insert(to, (id, writer));
            return;
        }
        let tls = self.tls.clone();
        let open = async move {
            let tcp = TcpStream::connect(to).await?;
            let _ = tcp.set_nodelay(true);
            match tls {
                Some(TlsClient { connector, server_name }) => {
                    let stream = connector.connect(server_name, tcp).await?;
                    Ok(Box::pin(stream) as Connection)
                }
                None => Ok(Box::pin(tcp) as Connection),
            }
        };
        let writer = spawn_connection(open, to, self.opened, self.events.clone());
        let _ = writer.send(bytes);
        self.writers.insert(to, (self.opened, writer));
    }

    /// A connection to `peer` is open (or being opened).
    pub(super) fn is_open(&self, peer: SocketAddr) -> bool {
        self.writers.get(&peer).is_some_and(|(_, w)| !w.is_closed())
    }

    /// Closes the connection to `peer`, if one is open: what is queued on it is still written,
    /// and the next message to `peer` opens a new one.
    pub(super) fn close(&mut self, peer: SocketAddr) {
        if self.writers.remove(&peer).is_some() {
            tracing::info!(%peer, "closing a SIP connection that stopped answering");
        }
    }

    /// Forgets connection `id` to `peer`, which reported itself closed; true when it was the
    /// current one (not one already closed by us and replaced).
    pub(super) fn closed(&mut self, peer: SocketAddr, id: u64) -> bool {
        match self.writers.get(&peer) {
            Some((current, _)) if *current == id => {
                self.writers.remove(&peer);
                true
            }
            Some(_) => false,
            None => true,
        }
    }
}

/// Starts a connection's task on `stream` (an accepted one, or one being opened); what to send
/// on it goes into the returned writer, queued until the connection is up.
fn spawn_connection(
    stream: impl Future<Output = std::io::Result<Connection>> + Send + 'static,
    peer: SocketAddr,
    id: u64,
    events: mpsc::UnboundedSender<StreamEvent>,
) -> mpsc::UnboundedSender<Vec<u8>> {
    let (writer, queued) = mpsc::unbounded_channel();
    tokio::spawn(async move { run(stream.await, peer, id, queued, events).await });
    writer
}

/// One connection: writes what is queued, frames what arrives, until either side ends it.
async fn run(
    stream: std::io::Result<Connection>,
    peer: SocketAddr,
    id: u64,
    mut queued: mpsc::UnboundedReceiver<Vec<u8>>,
    events: mpsc::UnboundedSender<StreamEvent>,
) {
    let stream = match stream {
        Ok(s) => s,
        Err(e) => {
            tracing::info!(%peer, error = %e, "cannot open a SIP connection");
            queued.close();
            let _ = events.send(StreamEvent::Closed { peer, id });
            return;
        }
    };
    let parser = Parser::default();
    let (mut reader, mut writer) = tokio::io::split(stream);
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
                    let Some(pings) = frame(&parser, &mut buf, peer, &events) else { break };
                    if pings > 0 && writer.write_all(KEEPALIVE_PONG).await.is_err() {
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
    let _ = events.send(StreamEvent::Closed { peer, id });
}

/// Hands every whole message and pong at the front of `buf` to the engine and returns how many
/// pings the peer sent (to be answered with one pong); `None` when the stream cannot be framed
/// any more and the connection must close.
fn frame(
    parser: &Parser,
    buf: &mut Vec<u8>,
    peer: SocketAddr,
    events: &mpsc::UnboundedSender<StreamEvent>,
) -> Option<usize> {
    let mut pings = 0;
    loop {
        match parser.parse_stream_item(buf) {
            Ok(Some((item, used))) => {
                buf.drain(..used);
                let _ = match item {
                    StreamItem::Message(message) => events.send(StreamEvent::Message { from: peer, message }),
                    StreamItem::Pong => events.send(StreamEvent::Pong { from: peer }),
                    StreamItem::Ping => {
                        pings += 1;
                        Ok(())
                    }
                };
            }
            Ok(None) => return Some(pings),
            Err(e) => {
                tracing::warn!(%peer, error = %e, "closing a SIP connection that cannot be framed");
                return None;
            }
        }
    }
}

type WsStream = tokio_tungstenite::WebSocketStream<Connection>;

/// Opens a WebSocket connection for SIP to `to` (RFC 7118 §4): TCP, TLS for `wss`, then the
/// upgrade asking for the `sip` subprotocol, which the server must agree to.
async fn open_ws(to: SocketAddr, client: WsClient) -> std::io::Result<WsStream> {
    let failed = |e: &dyn std::fmt::Display| std::io::Error::other(e.to_string());
    let tcp = TcpStream::connect(to).await?;
    let _ = tcp.set_nodelay(true);
    let connection: Connection = match client.tls {
        Some(TlsClient { connector, server_name }) => Box::pin(connector.connect(server_name, tcp).await?),
        None => Box::pin(tcp),
    };
    let mut request = client.url.as_str().into_client_request().map_err(|e| failed(&e))?;
    request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("sip"));
    let (ws, response) = tokio_tungstenite::client_async(request, connection).await.map_err(|e| failed(&e))?;
    let agreed = response.headers().get("Sec-WebSocket-Protocol").and_then(|v| v.to_str().ok());
    if !agreed.is_some_and(|p| p.eq_ignore_ascii_case("sip")) {
        return Err(failed(&format!("{} did not agree to the sip subprotocol ({agreed:?})", client.url)));
    }
    Ok(ws)
}

/// One WebSocket connection: each queued message goes as one text message (our keep-alive
/// ping as a WebSocket ping), each received message goes to the engine whole, until either
/// side ends it.
async fn run_ws(
    ws: std::io::Result<WsStream>,
    peer: SocketAddr,
    id: u64,
    mut queued: mpsc::UnboundedReceiver<Vec<u8>>,
    events: mpsc::UnboundedSender<StreamEvent>,
) {
    let ws = match ws {
        Ok(ws) => ws,
        Err(e) => {
            tracing::info!(%peer, error = %e, "cannot open a SIP WebSocket");
            queued.close();
            let _ = events.send(StreamEvent::Closed { peer, id });
            return;
        }
    };
    let (mut sink, mut incoming) = ws.split();
    loop {
        tokio::select! {
            next = queued.recv() => match next {
                Some(bytes) => {
                    let message = if bytes == KEEPALIVE_PING {
                        WsMessage::Ping(Default::default())
                    } else {
                        match String::from_utf8(bytes) {
                            Ok(text) => WsMessage::text(text),
                            Err(e) => WsMessage::binary(e.into_bytes()),
                        }
                    };
                    if let Err(e) = sink.send(message).await {
                        tracing::info!(%peer, error = %e, "SIP WebSocket broke while sending");
                        break;
                    }
                }
                None => break,
            },
            message = incoming.next() => match message {
                Some(Ok(WsMessage::Text(text))) => {
                    let _ = events.send(StreamEvent::Datagram { from: peer, bytes: text.as_bytes().to_vec() });
                }
                Some(Ok(WsMessage::Binary(bytes))) => {
                    let _ = events.send(StreamEvent::Datagram { from: peer, bytes: bytes.to_vec() });
                }
                Some(Ok(WsMessage::Pong(_))) => {
                    let _ = events.send(StreamEvent::Pong { from: peer });
                }
                // tungstenite answers pings itself.
                Some(Ok(WsMessage::Ping(_) | WsMessage::Frame(_))) => {}
                Some(Ok(WsMessage::Close(_))) | None => break,
                Some(Err(e)) => {
                    tracing::info!(%peer, error = %e, "SIP WebSocket broke while reading");
                    break;
                }
            },
            _ = tokio::time::sleep(IDLE) => {
                tracing::debug!(%peer, "idle SIP WebSocket closed");
                break;
            }
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), sink.close()).await;
    queued.close();
    let _ = events.send(StreamEvent::Closed { peer, id });
}
