//! SIP signalling: what the engine does with each request, response and transaction event the
//! user agent reports (calls in and out, re-INVITEs, INFO, digest challenges to our INVITEs).

use super::*;

impl CallControl {
    pub(super) fn on_event(&mut self, now: Instant, ev: UaEvent) {
        match ev {
            UaEvent::Request { key, from, request } => self.on_request(now, key, from, request),
            UaEvent::Ack { request, .. } => {
                if let Ok(id) = request.headers.call_id() {
                    tracing::debug!(call_id = id, "ACK");
                }
            }
            UaEvent::Response { key, response } => self.on_response(now, key, response),
            UaEvent::ClientTimeout { key } => self.on_client_timeout(now, &key),
            UaEvent::Cancelled { invite } => {
                let id = self.calls.iter().find(|(_, c)| c.invite.as_ref() == Some(&invite)).map(|(k, _)| k.clone());
                if let Some(id) = id
                    && let Some(call) = self.calls.get(&id)
                    && let Some(req) = &call.invite_request
                {
                    let resp = Response::for_request(req, 487, call.local.tag());
                    let _ = self.ua.send_response(now, &invite, &resp);
                    self.end(now, &id, EndReason::Cancelled);
                }
            }
            UaEvent::StrayResponse { from, response } => {
                // A retransmitted 2xx to one of our INVITEs: our ACK was lost; send it again.
                if response.status / 100 == 2
                    && response.headers.cseq().is_ok_and(|c| c.method == Method::Invite)
                    && let Ok(id) = response.headers.call_id()
                    && self.calls.contains_key(id)
                {
                    let ack = self.ack_for(id, &response);
                    self.ua.send_stateless(from, &Message::Request(ack));
                }
            }
            UaEvent::Malformed { from, error, responded } => {
                self.emit(PhoneEvent::Malformed { from: from.to_string(), error: error.to_string(), responded })
            }
            _ => {}
        }
    }

    pub(super) fn on_client_timeout(&mut self, now: Instant, key: &TransactionKey) {
        let found = self.calls.iter().find_map(|(id, c)| {
            if c.invite.as_ref() == Some(key) || c.bye.as_ref() == Some(key) {
                Some((id.clone(), false))
            } else if c.reinvite.as_ref().is_some_and(|(k, _)| k == key) {
                Some((id.clone(), true))
            } else {
                None
            }
        });
        match found {
            Some((id, true)) => {
                let Some(call) = self.calls.get_mut(&id) else { return };
                if call.reinvite.take().is_some_and(|(_, purpose)| purpose == Reinvite::Refresh) {
                    // An unanswered refresh: the peer is gone (RFC 4028 §10).
                    call.end_cause = Some(EndReason::SessionExpired);
                    return self.send_bye(now, &id);
                }
                self.error(ErrorCode::HoldFailed, Some(&id), "the peer did not answer the re-INVITE");
            }
            Some((id, false)) => self.end(now, &id, EndReason::Timeout),
            None => {}
        }
    }

    /// The call an in-dialog request belongs to: its Call-ID names the call and its tags are the
    /// dialog's (the To tag ours, the From tag the peer's; RFC 3261 §12.2.2). A BYE, REFER or
    /// re-INVITE with the right Call-ID but other tags (sniffed, guessed) is answered 481 and
    /// changes nothing.
    pub(super) fn dialog_call(&self, req: &Request) -> Result<String, u16> {
        let (Ok(id), Ok(from), Ok(to)) = (req.headers.call_id(), req.headers.from(), req.headers.to()) else {
            return Err(400);
        };
        let Some(call) = self.calls.get(id) else { return Err(481) };
        let theirs = call.remote.tag();
        if to.tag() != call.local.tag() || (theirs.is_some() && from.tag() != theirs) {
            tracing::warn!(call_id = id, "an in-dialog request with the wrong tags: refused");
            return Err(481);
        }
        Ok(id.to_owned())
    }

    pub(super) fn on_request(&mut self, now: Instant, key: TransactionKey, from: SocketAddr, req: Request) {
        let respond = |ua: &mut UserAgent, status: u16, tag: Option<&str>| {
            let _ = ua.send_response(now, &key, &Response::for_request(&req, status, tag));
        };
        match req.method {
            Method::Invite => {
                let (Ok(call_id), Ok(remote), Ok(local)) =
                    (req.headers.call_id(), req.headers.from(), req.headers.to())
                else {
                    return respond(&mut self.ua, 400, None);
                };
                let call_id = call_id.to_owned();
                if self.calls.contains_key(&call_id) {
                    if local.tag().is_none() {
                        // Same Call-ID, no To tag: a copy of an INVITE we already have (a loop
                        // or a fork), not a re-INVITE (RFC 3261 §8.2.2.2).
                        return respond(&mut self.ua, 482, None);
                    }
                    return match self.dialog_call(&req) {
                        Ok(id) => self.on_reinvite(now, &key, &id, &req),
                        Err(status) => respond(&mut self.ua, status, None),
                    };
                }
                // Over TCP the proxy opens its connection to us from a port of its choosing, so
                // only its address is known; over UDP it sends from its SIP port.
                let through_registrar = |only: SocketAddr| match self.config.transport {
                    Transport::Tcp | Transport::Tls | Transport::Ws | Transport::Wss => from.ip() == only.ip(),
                    _ => from == only,
                };
                if let Some(only) = self.config.registrar.filter(|_| self.config.calls_only_from_registrar)
                    && !through_registrar(only)
                    && !self.config.trusted_peers.contains(&from.ip())
                {
                    // A call that did not come through the registrar/proxy: someone on the
                    // network dialing the desk's port directly, around the PBX's rules.
                    tracing::warn!(%from, registrar = %only, "refused a call that did not come through the registrar");
                    return respond(&mut self.ua, 403, None);
                }
                if self.shutdown_by.is_some() {
                    return respond(&mut self.ua, 503, None);
                }
                if self.calls.len() >= self.config.max_calls {
                    tracing::warn!(calls = self.calls.len(), "refused a call: the concurrent-call cap is reached");
                    return respond(&mut self.ua, 486, None);
                }
                // A session timer below our minimum is refused here (422); an agreed one is
                // answered with the 200, in `answer`.
                if self.session_asked(now, &key, &req).is_err() {
                    return;
                }
                let replaces = match self.replaced_call(&req) {
                    Ok(r) => r,
                    Err(status) => return respond(&mut self.ua, status, None),
                };
                // An empty body: the offer would come in the ACK, which is not supported yet;
                // the call is answered without SDP and has no media.
                let offer = sdp::Session::parse(&req.body).ok();
                let crypto = match if offer.is_some() { self.fresh_crypto() } else { Ok(Vec::new()) } {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(call_id, error = %e, "no random source for SRTP keys");
                        return respond(&mut self.ua, 500, None);
                    }
                };
                let rtp_port = match self.media.reserve(&call_id, self.local.ip()) {
                    Ok(port) => port,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot take a call without RTP ports");
                        return respond(&mut self.ua, 503, None);
                    }
                };
                let answer = match &offer {
                    Some(o) => {
                        match sdp::answer(
                            o,
                            &self.media_config(rtp_port, Direction::SendRecv, self.config.codecs.clone(), crypto),
                        ) {
                            Ok(a) => Some(a),
                            Err(e) => {
                                tracing::info!(call_id, error = %e, "refusing a call: no common codec or SRTP suite");
                                self.media.stop(&call_id);
                                return respond(&mut self.ua, 488, None);
                            }
                        }
                    }
                    None => None,
                };
                let tag = self.ua.new_tag();
                let remote_target = req
                    .headers
                    .contacts()
                    .ok()
                    .and_then(|c| c.first().and_then(|c| c.addr().map(|a| a.uri.clone())))
                    .unwrap_or_else(|| remote.uri.clone());
                // The proxies that record-routed stay in the path of our requests in this call.
                let route_set = req.headers.record_routes().unwrap_or_default();
                let peer = next_hop(&route_set, &remote_target, from);
                if replaces.is_none() {
                    respond(&mut self.ua, 180, Some(&tag));
                    self.emit(PhoneEvent::Incoming {
                        call_id: call_id.clone(),
                        from: remote.uri.to_string(),
                        to: local.uri.to_string(),
                        display_name: remote.display.clone(),
                        call_info: req.headers.call_info().unwrap_or_else(|e| {
                            tracing::info!(call_id, error = %e, "ignoring a malformed Call-Info");
                            Vec::new()
                        }),
                    });
                }
                let from_uri = remote.uri.to_string();
                self.calls_seen += 1;
                let call = Call::new(
                    false,
                    peer,
                    remote_target,
                    local.with_tag(&tag),
                    remote,
                    key.clone(),
                    self.calls_seen,
                    rtp_port,
                    now,
                );
                self.calls.insert(
                    call_id.clone(),
                    Call { invite_request: Some(req.clone()), offer, answer, route_set, ..call },
                );
                if let Some(old) = replaces {
                    self.take_over(now, &call_id, &old, from_uri);
                }
            }
            Method::Bye => match self.dialog_call(&req) {
                Ok(id) => {
                    respond(&mut self.ua, 200, None);
                    self.end(now, &id, EndReason::RemoteBye);
                }
                Err(status) => respond(&mut self.ua, status, None),
            },
            Method::Options => respond(&mut self.ua, 200, None),
            Method::Info => self.on_info(now, &key, &req),
            Method::Refer => self.on_refer(now, &key, &req),
            Method::Notify => self.on_notify(now, &key, &req),
            Method::Update => self.on_update(now, &key, &req),
            Method::Ack | Method::Cancel => {}
            _ => respond(&mut self.ua, 405, None),
        }
    }

    /// SIP INFO in a call: DTMF the way some PBXes send it (`application/dtmf-relay` with
    /// `Signal=5`, or `application/dtmf` with the key alone), reported like RFC 4733 keys.
    /// Other INFO bodies are acknowledged and ignored.
    pub(super) fn on_info(&mut self, now: Instant, key: &TransactionKey, req: &Request) {
        let status = match self.dialog_call(req) {
            Ok(_) => 200,
            Err(status) => status,
        };
        let _ = self.ua.send_response(now, key, &Response::for_request(req, status, None));
        if status != 200 {
            return;
        }
        let content_type = req.headers.get(&HeaderName::ContentType).unwrap_or_default().to_ascii_lowercase();
        let body = String::from_utf8_lossy(&req.body);
        let key_pressed = if content_type.starts_with("application/dtmf-relay") {
            body.lines()
                .filter_map(|l| l.split_once('='))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("signal"))
                .map(|(_, v)| v.trim().to_owned())
        } else if content_type.starts_with("application/dtmf") {
            Some(body.trim().to_owned())
        } else {
            None
        };
        // Signal=10 and 11 are * and # in the relay format.
        let key_pressed = key_pressed.map(|k| match k.as_str() {
            "10" => "*".to_owned(),
            "11" => "#".to_owned(),
            _ => k,
        });
        if let (Some(k), Ok(id)) = (key_pressed, req.headers.call_id())
            && k.len() == 1
            && k.chars().all(|c| c.is_ascii_digit() || "*#ABCDabcd".contains(c))
        {
            self.emit(PhoneEvent::Dtmf { call_id: id.to_owned(), key: k.to_ascii_uppercase() });
        }
        if let (Some(told), Ok(id)) = (Monitoring::from_info(&content_type, &body), req.headers.call_id()) {
            self.emit(PhoneEvent::Monitored { call_id: id.to_owned(), by: told.by, mode: told.mode });
        }
    }

    /// Our INFO telling the peer of an answered call about a team lead on it.
    pub(super) fn tell_monitoring(&mut self, now: Instant, id: &str, told: Monitoring) {
        match self.calls.get(id) {
            None => return self.unknown_call(id),
            Some(call) if call.answered.is_none() || call.bye.is_some() => {
                return self.error(ErrorCode::InvalidState, Some(id), "only an answered call can be told");
            }
            Some(_) => {}
        }
        if told.mode.as_deref().is_some_and(|m| !MONITOR_MODES.contains(&m)) {
            return self.error(ErrorCode::InvalidArgument, Some(id), "the mode is listen, whisper or barge");
        }
        let Some((mut req, peer)) = self.dialog_request(id, Method::Info) else { return };
        req.headers.push(HeaderName::ContentType, MONITORING_CONTENT_TYPE);
        req.body = told.to_body().into_bytes();
        // Best effort: the answer changes nothing (an old desk says 200 and ignores it).
        self.ua.send_request(now, peer, req);
    }

    /// A re-INVITE from the peer: hold (sendonly/inactive) or resume. Answered on the same
    /// port and codec; our media stops sending while the peer does not want to receive.
    pub(super) fn on_reinvite(&mut self, now: Instant, key: &TransactionKey, id: &str, req: &Request) {
        let Some(call) = self.calls.get(id) else { return };
        let tag = call.local.tag().map(str::to_owned);
        if call.answered.is_none() || call.reinvite.is_some() {
            // Glare with our own re-INVITE, or an offer before the call is up (RFC 3261 §14.2).
            let _ = self.ua.send_response(now, key, &Response::for_request(req, 491, tag.as_deref()));
            return;
        }
        let Ok(asked) = self.session_asked(now, key, req) else { return };
        let Some(call) = self.calls.get(id) else { return };
        let mut ok = Response::for_request(req, 200, tag.as_deref());
        ok.headers.push(HeaderName::Contact, &self.contact);
        let offer = sdp::Session::parse(&req.body).ok();
        let mut answer = None;
        if let Some(offer) = &offer {
            let cfg =
                self.media_config(call.rtp_port, call.our_direction(), self.call_codecs(call), call.crypto.clone());
            match sdp::answer(offer, &cfg) {
                Ok(mut a) => {
                    if let Some(call) = self.calls.get_mut(id) {
                        call.sdp_version += 1;
                        a.origin.session_version = call.sdp_version;
                    }
                    ok.headers.push(HeaderName::ContentType, "application/sdp");
                    ok.body = a.to_bytes();
                    answer = Some(a);
                }
                Err(e) => {
                    tracing::info!(call_id = id, error = %e, "re-INVITE offers no codec of the running call");
                    let _ = self.ua.send_response(now, key, &Response::for_request(req, 488, tag.as_deref()));
                    return;
                }
            }
        }
        self.agree_with_peer(now, id, &asked, &mut ok);
        let _ = self.ua.send_response(now, key, &ok);
        let (Some(offer), Some(_)) = (offer, answer) else { return };
        let Some(offered) = audio_direction(&offer) else { return };
        let Some(call) = self.calls.get_mut(id) else { return };
        let peer_receives = receives(offered);
        if call.peer_receives == peer_receives {
            return; // a session refresh, or the same hold again
        }
        call.peer_receives = peer_receives;
        self.apply_sending(id);
        let (call_id, by) = (id.to_owned(), Party::Remote);
        self.emit(if peer_receives { PhoneEvent::Resumed { call_id, by } } else { PhoneEvent::Held { call_id, by } });
    }

    pub(super) fn ack_for(&mut self, id: &str, ok: &Response) -> Request {
        let via = self.ua.new_via().to_string();
        let call = &self.calls[id];
        let seq = ok.headers.cseq().map(|c| c.seq).unwrap_or(1);
        let mut ack = Request::new(Method::Ack, call.remote_target.clone());
        ack.headers.push(HeaderName::Via, via);
        ack.headers.push(HeaderName::MaxForwards, "70");
        for route in &call.route_set {
            ack.headers.push(HeaderName::Route, route.to_string());
        }
        ack.headers.push(HeaderName::From, call.local.to_string());
        ack.headers.push(HeaderName::To, ok.headers.get(&HeaderName::To).unwrap_or_default());
        ack.headers.push(HeaderName::CallId, id);
        // The ACK of a 2xx carries the INVITE's sequence number (RFC 3261 §13.2.2.4).
        ack.headers.push(HeaderName::CSeq, format!("{seq} ACK"));
        ack
    }

    pub(super) fn send_ack(&mut self, id: &str, ok: &Response) {
        let ack = self.ack_for(id, ok);
        let peer = self.calls[id].peer;
        self.ua.send_stateless(peer, &Message::Request(ack));
    }

    pub(super) fn on_response(&mut self, now: Instant, key: TransactionKey, resp: Response) {
        let Ok(id) = resp.headers.call_id().map(str::to_owned) else { return };
        let Some(call) = self.calls.get_mut(&id) else { return };
        if call.bye.as_ref() == Some(&key) {
            if resp.status >= 200 {
                let cause = call.end_cause.unwrap_or(if call.cancelling {
                    EndReason::LocalCancel
                } else {
                    EndReason::LocalBye
                });
                self.end(now, &id, cause);
            }
            return;
        }
        if call.refer.as_ref() == Some(&key) {
            if resp.status >= 200 {
                self.on_refer_response(&id, resp.status);
            }
            return;
        }
        if call.reinvite.as_ref().is_some_and(|(k, _)| *k == key) {
            if resp.status >= 200 {
                if call.reinvite.as_ref().is_some_and(|(_, purpose)| *purpose == Reinvite::Refresh) {
                    self.on_refresh_response(now, &id, &resp);
                } else {
                    self.on_reinvite_response(&id, &resp);
                    if resp.status / 100 == 2 {
                        self.agree_with_answer(now, &id, &resp, false);
                    }
                }
            }
            return;
        }
        if call.invite.as_ref() != Some(&key) || !call.outgoing {
            return;
        }
        match resp.status {
            100..=199 => {
                call.provisional = true;
                if call.cancelling {
                    if !call.cancel_sent {
                        self.send_cancel(now, &id);
                    }
                } else if matches!(resp.status, 180 | 183) {
                    self.emit(PhoneEvent::Ringing { call_id: id, status: resp.status });
                }
            }
            200..=299 => {
                if call.answered.is_some() {
                    return;
                }
                let remote_target =
                    resp.headers.contacts().ok().and_then(|c| c.first().and_then(|c| c.addr().map(|a| a.uri.clone())));
                // The route set is the 2xx's Record-Route, last proxy first (§12.1.2): in-dialog
                // requests (ACK, BYE, re-INVITE) go through the proxies that asked to stay in the
                // path, or straight to the peer's Contact when none did.
                call.route_set = resp.headers.record_routes().unwrap_or_default().into_iter().rev().collect();
                if let Some(t) = remote_target {
                    call.remote_target = t;
                }
                call.peer = next_hop(&call.route_set, &call.remote_target, call.peer);
                if let Ok(to) = resp.headers.to() {
                    call.remote = to;
                }
                let cancelling = call.cancelling;
                if !cancelling {
                    call.answered = Some(now);
                }
                self.send_ack(&id, &resp);
                self.agree_with_answer(now, &id, &resp, true);
                if cancelling {
                    // The answer crossed our CANCEL: the call is up at the peer, so it is
                    // ended with a BYE at once (RFC 3261 §9.1).
                    return self.send_bye(now, &id);
                }
                self.emit(PhoneEvent::Answered { call_id: id.clone(), direction: CallDirection::Outbound });
                self.notify_referrer(now, &id, "200 OK");
                match sdp::Session::parse(&resp.body) {
                    // The answer is both the plan and the peer's description.
                    Ok(answer) => {
                        let ours = call_offer(self.calls.get(&id));
                        if self.config.srtp == sdp::SrtpPolicy::Require && sdp::srtp_keys(&ours, &answer).is_none() {
                            tracing::info!(call_id = id, "the answer has no SRTP; it is required: hanging up");
                            if let Some(call) = self.calls.get_mut(&id) {
                                call.end_cause = Some(EndReason::SrtpRefused);
                            }
                            return self.send_bye(now, &id);
                        }
                        self.start_media(&id, &ours, &answer, &answer)
                    }
                    Err(e) => tracing::warn!(call_id = id, error = %e, "2xx without a usable SDP answer"),
                }
            }
            401 | 407 if !call.cancelling && call.unauthorized_invite.is_some() => {
                self.authorize_invite(now, &id, &resp);
            }
            status => {
                if call.cancelling {
                    self.end(now, &id, EndReason::LocalCancel);
                } else {
                    self.emit(PhoneEvent::Rejected { call_id: id.clone(), status });
                    self.end(now, &id, EndReason::Status(status));
                }
            }
        }
    }

    /// Our INVITE was challenged (401 from the callee, 407 from a proxy): send it again with
    /// digest credentials (RFC 3261 §22.2), same Call-ID and From tag, the next CSeq. Without a
    /// usable challenge the call fails with that status.
    pub(super) fn authorize_invite(&mut self, now: Instant, id: &str, resp: &Response) {
        let proxy = resp.status == 407;
        let challenges: Vec<&str> =
            if proxy { resp.headers.proxy_authenticate().collect() } else { resp.headers.www_authenticate().collect() };
        let challenge = challenges.into_iter().find_map(|c| okno_sip::auth::Challenge::parse(c).ok());
        let username = match &self.config.account {
            Some(Uri::Sip(sip)) => sip.user.clone().unwrap_or_default(),
            _ => String::new(),
        };
        let Some(call) = self.calls.get_mut(id) else { return };
        let (Some(challenge), Some(mut req), Some(password)) =
            (challenge, call.unauthorized_invite.take(), self.config.password.clone())
        else {
            self.emit(PhoneEvent::Rejected { call_id: id.to_owned(), status: resp.status });
            return self.end(now, id, EndReason::Status(resp.status));
        };
        call.local_cseq += 1;
        req.headers.set(HeaderName::CSeq, format!("{} INVITE", call.local_cseq));
        let credentials = Credentials { username, password };
        let cnonce = self.ua.new_tag();
        let uri = req.uri.to_string();
        match okno_sip::auth::authorize(&challenge, &credentials, "INVITE", &uri, &req.body, &cnonce, 1) {
            Ok(authorization) => {
                let name = if proxy { HeaderName::ProxyAuthorization } else { HeaderName::Authorization };
                req.headers.push(name, authorization.to_string());
                let peer = call.peer;
                tracing::debug!(call_id = id, status = resp.status, "INVITE challenged; sending credentials");
                let key = self.ua.send_request(now, peer, req);
                if let Some(call) = self.calls.get_mut(id) {
                    call.invite = Some(key);
                    call.provisional = false;
                }
            }
            Err(e) => {
                tracing::info!(call_id = id, error = %e, "cannot answer the INVITE's challenge");
                self.emit(PhoneEvent::Rejected { call_id: id.to_owned(), status: resp.status });
                self.end(now, id, EndReason::Status(resp.status));
            }
        }
    }

    /// The final answer to our hold or resume re-INVITE.
    pub(super) fn on_reinvite_response(&mut self, id: &str, resp: &Response) {
        let Some(call) = self.calls.get_mut(id) else { return };
        let Some((_, Reinvite::Hold(hold))) = call.reinvite.take() else { return };
        if resp.status / 100 != 2 {
            let what = if hold { "hold" } else { "resume" };
            return self.error(
                ErrorCode::HoldFailed,
                Some(id),
                format!("the peer answered {} to the {what}", resp.status),
            );
        }
        call.local_hold = hold;
        // The answer's direction is the peer's: it may still hold the call itself.
        if let Some(dir) = sdp::Session::parse(&resp.body).ok().as_ref().and_then(audio_direction) {
            call.peer_receives = receives(dir);
        }
        self.send_ack(id, resp);
        self.apply_sending(id);
        let (call_id, by) = (id.to_owned(), Party::Local);
        self.emit(if hold { PhoneEvent::Held { call_id, by } } else { PhoneEvent::Resumed { call_id, by } });
    }
}
