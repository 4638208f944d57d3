//! `GET /v1/widget/{channel}/ws`: one task per open widget. The channel must exist and the page's
//! Origin be one the channel allows (checked before the upgrade). The first frame must be the
//! visitor's `hello` within [`HELLO_TIMEOUT`]; then requests and the chat's frames from the hub
//! interleave until the visitor leaves. A request the server refuses gets an `error` frame; only
//! a socket that sends binary frames, or nothing valid at first, is closed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use okno_core::{AttachmentRef, Millis};
use tokio::sync::mpsc;

use super::config::ChatChannel;
use super::hub;
use super::protocol::{ChatLine, FromVisitor, PublicLimits, ToVisitor, frame};
use super::store::{self, Place, Visitor};
use crate::AppState;
use crate::error::AppError;

pub const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
const PING_EVERY: Duration = Duration::from_secs(25);
/// A visitor's typing is passed on at most this often.
const TYPING_EVERY: Duration = Duration::from_secs(2);

pub(crate) async fn widget_socket(
    State(state): State<AppState>,
    Path(channel): Path<String>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Result<Response, AppError> {
    let channel = allowed_channel(&state, &channel, &headers)?.clone();
    let upgrade = upgrade.read_buffer_size(4 * 1024).write_buffer_size(0).max_message_size(64 * 1024);
    Ok(upgrade.on_upgrade(move |socket| async move {
        let id = channel.id.clone();
        if let Err(reason) = run(state, channel, socket).await {
            tracing::debug!(channel = %id, reason, "visitor socket closed");
        }
    }))
}

/// The channel named in the path, if the request's page may open it.
pub(crate) fn allowed_channel<'a>(
    state: &'a AppState,
    channel: &str,
    headers: &HeaderMap,
) -> Result<&'a ChatChannel, AppError> {
    let channel =
        state.chat.channel(channel).ok_or_else(|| AppError::NotFound(format!("no chat channel {channel:?}")))?;
    if !channel.origins.is_empty() {
        let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()).unwrap_or_default().to_ascii_lowercase();
        if !channel.origins.contains(&origin) {
            return Err(AppError::Forbidden(format!("this chat is not offered on {origin:?}")));
        }
    }
    Ok(channel)
}

fn now_ms() -> Millis {
    okno_core::unix_ms(std::time::SystemTime::now())
}

/// The socket's state: the visitor, and where it is registered in the hub.
struct Conversation {
    state: AppState,
    channel: ChatChannel,
    visitor: Visitor,
    registered: Option<(String, u64)>,
    last_typing: Option<Instant>,
    /// The read receipt this socket last stored: a `seen` at or before it (a repeat) is
    /// answered without asking the database.
    seen_up_to: Millis,
    /// The website call in progress on this socket, and where its states go.
    call: Option<u64>,
    call_tx: mpsc::UnboundedSender<ToVisitor>,
}

async fn run(state: AppState, channel: ChatChannel, mut socket: WebSocket) -> Result<(), String> {
    let hello = tokio::time::timeout(HELLO_TIMEOUT, socket.recv()).await.map_err(|_| "no hello".to_owned())?;
    let (token, page) = match hello {
        Some(Ok(Message::Text(text))) => match serde_json::from_str::<FromVisitor>(&text) {
            Ok(FromVisitor::Hello { token, page }) => (token, page.map(|p| p.chars().take(2000).collect::<String>())),
            _ => {
                let _ = send(&mut socket, &error("hello_first", "say hello first")).await;
                return Err("the first frame was not a hello".into());
            }
        },
        _ => return Err("closed before hello".into()),
    };
    let now = now_ms();
    let known = match &token {
        Some(t) if t.len() == 64 => {
            store::find_visitor(&state.pool, &channel.id, t, page.as_deref(), now).await.map_err(|e| e.to_string())?
        }
        _ => None,
    };
    let (visitor, token) = match (known, token) {
        (Some(v), Some(t)) => (v, t),
        _ => store::new_visitor(&state.pool, &channel.id, page.as_deref(), now).await.map_err(|e| e.to_string())?,
    };
    let (history, status, read_at) = match &visitor.ticket_id {
        Some(ticket) => store::history(&state.pool, ticket).await.map_err(|e| e.to_string())?,
        None => (Vec::new(), None, None),
    };
    let limits = &state.chat.config.limits;
    let csat = {
        let mut conn = state.pool.acquire().await.map_err(|e| e.to_string())?;
        crate::work::csat::settings(&mut conn, state.csat.as_deref()).await.map_err(|e| e.to_string())?
    };
    let welcome = ToVisitor::Welcome {
        token,
        title: channel.title.clone(),
        open: channel.hours.is_open(now),
        can_leave_message: channel.mailbox.is_some(),
        name: visitor.name.clone(),
        status,
        history,
        read_at,
        limits: PublicLimits {
            max_message_chars: limits.max_message_chars,
            max_attachment_bytes: limits.max_attachment_bytes,
            attachment_types: limits.attachment_types.clone(),
        },
        calls: state.gateway.as_deref().filter(|_| channel.calls).map(super::calls::settings),
        rating: csat.ask_in_chat.then_some(csat.scale),
    };
    send(&mut socket, &welcome).await?;
    let (call_tx, mut call_rx) = mpsc::unbounded_channel::<ToVisitor>();
    let mut chat = Conversation {
        state,
        channel,
        visitor,
        registered: None,
        last_typing: None,
        seen_up_to: 0,
        call: None,
        call_tx,
    };
    let mut rx = Some(chat.register());
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let result = loop {
        tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let replies = chat.handle(&text).await;
                    if let Some(new_rx) = chat.reregister() {
                        rx = Some(new_rx);
                    }
                    let mut sent = Ok(());
                    for reply in replies {
                        sent = send(&mut socket, &reply).await;
                        if sent.is_err() { break }
                    }
                    if let Err(e) = sent { break Err(e) }
                }
                Some(Ok(Message::Binary(_))) => break Err("binary frame".into()),
                Some(Ok(_)) => {}
                Some(Err(e)) => break Err(e.to_string()),
                None => break Ok(()),
            },
            out = recv(&mut rx) => match out {
                Some(frame) => {
                    if let Err(e) = send_raw(&mut socket, &frame).await { break Err(e) }
                }
                None => rx = None,
            },
            Some(frame) = call_rx.recv() => {
                if let ToVisitor::Call { state: "ended", .. } = &frame {
                    chat.call = None;
                }
                if let Err(e) = send(&mut socket, &frame).await { break Err(e) }
            }
            _ = ping.tick() => {
                if socket.send(Message::Ping(Default::default())).await.is_err() { break Err("ping failed".into()) }
            }
        }
    };
    chat.unregister();
    if let (Some(gateway), Some(call)) = (&chat.state.gateway, chat.call) {
        // The visitor left the page mid-call: the center's side hangs up too.
        gateway.hangup(call).await;
    }
    result
}

/// A socket whose hub channel closed waits on nothing more from it.
async fn recv(rx: &mut Option<mpsc::Receiver<Arc<str>>>) -> Option<Arc<str>> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

impl Conversation {
    /// Where this socket listens: its chat, or its visitor while there is none.
    fn hub_key(&self) -> String {
        self.visitor.ticket_id.clone().unwrap_or_else(|| hub::visitor_key(&self.visitor.id))
    }

    fn register(&mut self) -> mpsc::Receiver<Arc<str>> {
        let key = self.hub_key();
        let (id, rx) = self.state.live.visitors.register(&key);
        self.registered = Some((key, id));
        rx
    }

    /// When the visitor's chat changed (their first message opened one), move the socket to it.
    fn reregister(&mut self) -> Option<mpsc::Receiver<Arc<str>>> {
        if self.registered.as_ref().map(|(key, _)| key.as_str()) == Some(self.hub_key().as_str()) {
            return None;
        }
        self.unregister();
        Some(self.register())
    }

    fn unregister(&mut self) {
        if let Some((_, id)) = self.registered.take() {
            self.state.live.visitors.unregister(id);
        }
    }

    fn socket_id(&self) -> Option<u64> {
        self.registered.as_ref().map(|(_, id)| *id)
    }

    async fn handle(&mut self, text: &str) -> Vec<ToVisitor> {
        let request = match serde_json::from_str::<FromVisitor>(text) {
            Ok(r) => r,
            Err(e) => return vec![error("bad_request", &format!("not a request this server understands: {e}"))],
        };
        match self.answer(request).await {
            Ok(replies) => replies,
            Err(e) => {
                tracing::error!(error = %e, visitor = %self.visitor.id, "a chat request failed");
                vec![error("internal", "the server could not do this; try again")]
            }
        }
    }

    async fn answer(&mut self, request: FromVisitor) -> anyhow::Result<Vec<ToVisitor>> {
        let pool = &self.state.pool;
        let now = now_ms();
        Ok(match request {
            FromVisitor::Hello { .. } => vec![error("bad_request", "hello is said once")],
            FromVisitor::Start { name, contact } => {
                let (name, contact) = (name.trim().to_owned(), contact.trim().to_owned());
                if let Some(refusal) = check_name(&name) {
                    return Ok(vec![refusal]);
                }
                if contact.chars().count() > 200 || store::contact_identity(&contact).is_none() {
                    return Ok(vec![error("bad_contact", "an email address or a phone number, please")]);
                }
                store::introduce(pool, &self.visitor.id, &name, &contact).await?;
                self.visitor.name = Some(name.clone());
                self.visitor.contact = Some(contact);
                let started = ToVisitor::Started { name };
                // The visitor's other tabs leave the pre-chat form too.
                self.state.live.visitors.deliver(&self.hub_key(), frame(&started), self.socket_id());
                vec![started]
            }
            FromVisitor::Message { id, text, attachments } => self.message(&id, &text, &attachments, now).await?,
            FromVisitor::Typing => {
                let due = self.last_typing.is_none_or(|t| t.elapsed() >= TYPING_EVERY);
                if let (true, Some(ticket)) = (due, &self.visitor.ticket_id) {
                    self.last_typing = Some(Instant::now());
                    let bucket = crate::changelog::queue_bucket(&self.channel.queue);
                    self.state.live.typing(&bucket, ticket);
                }
                Vec::new()
            }
            FromVisitor::Seen { at } => {
                if at <= self.seen_up_to {
                    return Ok(Vec::new());
                }
                if let Some((changes, version)) = store::visitor_seen(pool, &self.visitor, at).await? {
                    let stored = changes.first().and_then(|c| c.data["visitor_read_at"].as_i64());
                    self.seen_up_to = stored.unwrap_or(self.seen_up_to);
                    self.state.live.committed(&changes, version);
                }
                Vec::new()
            }
            FromVisitor::End => {
                if let Some((changes, version)) = store::end(pool, &self.visitor, now).await? {
                    self.state.live.committed(&changes, version);
                    super::committed(&self.state.live, &changes);
                }
                Vec::new()
            }
            FromVisitor::Rate { score, comment } => {
                let settings =
                    crate::work::csat::settings(&mut *pool.acquire().await?, self.state.csat.as_deref()).await?;
                if !settings.ask_in_chat {
                    return Ok(vec![error("not_asked", "this center does not take ratings in the chat")]);
                }
                let Ok(score) = okno_rules::CsatScore::parse(&score, settings.scale) else {
                    return Ok(vec![error("bad_score", "good, normal or bad; or 1 to 5")]);
                };
                let comment: String =
                    comment.trim().chars().take(self.state.chat.config.limits.max_message_chars).collect();
                let manager = settings.manager_queue_id;
                match store::rate(pool, &self.visitor, score, &comment, manager.as_deref(), now).await? {
                    Some((changes, version)) => {
                        self.state.live.committed(&changes, version);
                        vec![ToVisitor::Rated]
                    }
                    None => vec![error("no_chat", "there is no chat to rate")],
                }
            }
            FromVisitor::CallOffer { sdp } => self.call(sdp).await,
            FromVisitor::CallHangup => {
                if let (Some(gateway), Some(call)) = (&self.state.gateway, self.call) {
                    gateway.hangup(call).await;
                }
                Vec::new()
            }
            FromVisitor::LeaveMessage { name, email, text } => {
                let Some(mailbox) = self.channel.mailbox.clone() else {
                    return Ok(vec![error("closed", "the center is closed; please come back in opening hours")]);
                };
                let (name, email, text) = (name.trim(), email.trim(), text.trim());
                if let Some(refusal) = check_name(name) {
                    return Ok(vec![refusal]);
                }
                if email.parse::<lettre::Address>().is_err() {
                    return Ok(vec![error("bad_contact", "an email address to answer to, please")]);
                }
                if let Some(refusal) = self.check_text(text, false) {
                    return Ok(vec![refusal]);
                }
                if !self.state.chat.take_message(&self.visitor.id, Instant::now()) {
                    return Ok(vec![error("rate_limited", "too many messages; wait a minute")]);
                }
                let place = Place { channel: &self.channel.id, queue_id: &self.channel.queue };
                let message = store::LeftMessage { name, email, text, page: self.visitor.page.as_deref() };
                let (number, changes, version) = store::leave_message(pool, place, &mailbox, &message, now).await?;
                self.state.live.committed(&changes, version);
                vec![ToVisitor::Left { number }]
            }
        })
    }

    /// Place a website call for the visitor's offer: answer it, and pass the call's states on.
    async fn call(&mut self, sdp: String) -> Vec<ToVisitor> {
        let Some(gateway) = self.state.gateway.clone().filter(|_| self.channel.calls) else {
            return vec![error("no_calls", "this chat takes no calls")];
        };
        let Some(name) = self.visitor.name.clone() else {
            return vec![error("form_needed", "tell us your name and how to reach you first")];
        };
        if self.call.is_some() {
            return vec![error("busy", "a call is already in progress")];
        }
        // The desk's screen pop: the page the visitor calls from and their chat, if they wrote.
        let context = okno_gateway::CallContext {
            page: self.visitor.page.clone(),
            ticket_id: self.visitor.ticket_id.clone(),
            ..Default::default()
        };
        let caller = okno_gateway::Caller { display_name: format!("{name} (website)"), context };
        let call = match gateway.call(sdp, &caller).await {
            Ok(call) => call,
            Err(e) => {
                tracing::info!(error = %e, visitor = %self.visitor.id, "website call refused");
                return vec![error("call_failed", &e.to_string())];
            }
        };
        self.call = Some(call.id);
        let (tx, mut states) = (self.call_tx.clone(), call.states);
        tokio::spawn(async move {
            loop {
                let state = states.borrow_and_update().clone();
                let (word, reason) = match state {
                    okno_gateway::CallState::Calling => ("calling", None),
                    okno_gateway::CallState::Ringing => ("ringing", None),
                    okno_gateway::CallState::Answered => ("answered", None),
                    okno_gateway::CallState::Held => ("held", None),
                    okno_gateway::CallState::Ended { reason } => ("ended", Some(reason)),
                };
                let ended = word == "ended";
                if tx.send(ToVisitor::Call { state: word, reason }).is_err() || ended || states.changed().await.is_err()
                {
                    if !ended {
                        let _ = tx.send(ToVisitor::Call { state: "ended", reason: Some("gateway".into()) });
                    }
                    return;
                }
            }
        });
        vec![ToVisitor::CallAnswer { sdp: call.answer_sdp }]
    }

    /// A refusal for a text over the limit, or empty when empty is not allowed.
    fn check_text(&self, text: &str, may_be_empty: bool) -> Option<ToVisitor> {
        let max = self.state.chat.config.limits.max_message_chars;
        if text.chars().count() > max {
            return Some(error("too_long", &format!("a message is at most {max} characters")));
        }
        (!may_be_empty && text.trim().is_empty()).then(|| error("empty", "the message is empty"))
    }

    async fn message(
        &mut self,
        client_id: &str,
        text: &str,
        attachments: &[AttachmentRef],
        now: Millis,
    ) -> anyhow::Result<Vec<ToVisitor>> {
        let refuse = |code, message: &str| Ok(vec![error(code, message)]);
        if self.visitor.name.is_none() {
            // The form may have been filled in in another tab since this one said hello.
            match store::introduced(&self.state.pool, &self.visitor.id).await? {
                Some((name, contact)) => (self.visitor.name, self.visitor.contact) = (Some(name), Some(contact)),
                None => return refuse("form_needed", "tell us your name and how to reach you first"),
            }
        }
        if client_id.is_empty()
            || client_id.len() > 64
            || !client_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return refuse("bad_request", "a message id is 1 to 64 letters, digits or '-'");
        }
        if let Some(refusal) = self.check_text(text, !attachments.is_empty()) {
            return Ok(vec![refusal]);
        }
        if attachments.len() > 10 {
            return refuse("too_many_files", "at most 10 files in one message");
        }
        if !attachments.is_empty() && !store::uploaded_by(&self.state.pool, &self.visitor.id, attachments).await? {
            return refuse("bad_file", "a file in this message was not uploaded from this chat");
        }
        if !self.state.chat.take_message(&self.visitor.id, Instant::now()) {
            return refuse("rate_limited", "too many messages; wait a minute");
        }
        let place = Place { channel: &self.channel.id, queue_id: &self.channel.queue };
        let posted = store::post(&self.state, place, &self.visitor, client_id, text, attachments, now).await?;
        if self.visitor.ticket_id.is_none() {
            // This message opened the chat (or found the one another tab opened): the visitor's
            // tabs waiting without a chat follow it from here.
            self.state.live.visitors.promote(&hub::visitor_key(&self.visitor.id), &posted.ticket_id);
        }
        self.visitor.ticket_id = Some(posted.ticket_id.clone());
        if !posted.changes.is_empty() {
            self.state.live.committed(&posted.changes, posted.version);
        }
        let echo = ToVisitor::Message { message: posted.line, client_id: Some(client_id.to_owned()) };
        if posted.changes.is_empty() {
            // A resend: only this socket needs the echo.
            return Ok(vec![echo]);
        }
        // The visitor's other tabs show it too; this socket gets it as the reply.
        let this_socket = self.socket_id();
        let others = self.state.live.visitors.deliver(&posted.ticket_id, frame(&echo), this_socket);
        tracing::debug!(others, "visitor message stored");
        let status = posted
            .changes
            .iter()
            .find(|c| c.entity == "ticket")
            .and_then(|c| c.data["status"].as_str().map(str::to_owned));
        let mut replies = vec![echo];
        if let Some(status) = status {
            replies.push(ToVisitor::Status { status });
        }
        // The rules' auto-reply, posted with the message: this socket may not be registered
        // for a chat its message just opened, so it gets the line in its reply; other tabs too.
        let answers =
            posted.changes.iter().filter(|c| c.entity == "message").filter_map(|c| ChatLine::from_row(&c.data));
        for line in answers.filter(|l| l.from == "operator") {
            let answer = ToVisitor::Message { message: line, client_id: None };
            self.state.live.visitors.deliver(&posted.ticket_id, frame(&answer), this_socket);
            replies.push(answer);
        }
        Ok(replies)
    }
}

/// The pre-chat form's and leave-a-message's name: 1 to 100 characters.
fn check_name(name: &str) -> Option<ToVisitor> {
    (name.is_empty() || name.chars().count() > 100).then(|| error("bad_name", "a name of 1 to 100 characters, please"))
}

fn error(code: &'static str, message: &str) -> ToVisitor {
    ToVisitor::Error { code, message: message.to_owned() }
}

async fn send(socket: &mut WebSocket, message: &ToVisitor) -> Result<(), String> {
    send_raw(socket, &frame(message)).await
}

async fn send_raw(socket: &mut WebSocket, frame: &str) -> Result<(), String> {
    match tokio::time::timeout(crate::live::ws::SEND_TIMEOUT, socket.send(Message::Text(frame.into()))).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the visitor's socket is too slow".into()),
    }
}
