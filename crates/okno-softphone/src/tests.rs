use super::*;

const T0: Millis = 1_795_176_000_000;

fn desk() -> Softphone {
    let mut d = Softphone::new(DeskConfig::demo());
    let account = SipAccount {
        id: "acc-1".into(),
        label: "Hotline".into(),
        user: "1001".into(),
        domain: "okno.test".into(),
        registrar: "127.0.0.1:5060".into(),
        transport: SipTransport::Udp,
        outbound_proxy: None,
        codecs: vec!["PCMU".into()],
        enabled: true,
        has_password: true,
        ca_file: None,
    };
    d.set_accounts(T0, &[account]);
    d.handle(T0, Signal::Registered { account_id: "acc-1".into() });
    d
}

fn incoming(d: &mut Softphone, id: &str, at: Millis) -> Vec<Effect> {
    d.handle(
        at,
        Signal::Incoming {
            call_id: id.into(),
            account_id: "acc-1".into(),
            from_number: "+79151234567".into(),
            display_name: Some("Ivan".into()),
            line: Some("+7 800 555-35-35".into()),
            page: None,
            ticket_id: None,
            queue: None,
            waited_ms: None,
        },
    )
}

fn saved(effects: &[Effect]) -> Vec<&Mutation> {
    effects.iter().filter_map(|e| if let Effect::Save(m) = e { Some(m.as_ref()) } else { None }).collect()
}

#[test]
fn a_website_call_pops_its_page_and_chat() {
    let mut d = desk();
    let fx = d.handle(
        T0 + 1_000,
        Signal::Incoming {
            call_id: "w1".into(),
            account_id: "acc-1".into(),
            from_number: "web".into(),
            display_name: Some("Pavel (website)".into()),
            line: None,
            page: Some("https://shop.example/cart".into()),
            ticket_id: Some("t-7".into()),
            queue: None,
            waited_ms: None,
        },
    );
    assert!(fx.contains(&Effect::LookupCaller {
        call_id: "w1".into(),
        number: "web".into(),
        ticket_id: Some("t-7".into())
    }));
    let chat = TicketRef { id: "t-7".into(), subject: "Where is my order?".into() };
    d.caller_identified("w1", Some(("cust-9".into(), "Pavel Orlov".into(), vec![chat.clone()])));
    let call = d.call("w1").unwrap();
    assert_eq!(call.page.as_deref(), Some("https://shop.example/cart"), "the card shows the page");
    assert_eq!(call.open_tickets, vec![chat], "and the visitor's chat");
    assert_eq!(call.customer_name.as_deref(), Some("Pavel Orlov"));
}

/// The hotline offers a call: the card shows the queue it waited in, by the name the desk
/// knows, and the wait; the call is the queue's (its record carries the queue).
#[test]
fn a_hotline_call_shows_its_queue_and_wait() {
    let mut d = desk();
    d.handle(
        T0 + 1_000,
        Signal::Incoming {
            call_id: "h1".into(),
            account_id: "acc-1".into(),
            from_number: "+79161112233".into(),
            display_name: Some("billing · +79161112233 · 12s".into()),
            line: None,
            page: None,
            ticket_id: None,
            queue: Some(("billing".into(), "Billing".into())),
            waited_ms: Some(12_400),
        },
    );
    let call = d.call("h1").unwrap();
    assert_eq!((call.queue_name.as_deref(), call.waited_ms), (Some("Billing"), Some(12_400)));
    // The caller gives up while it rings: the missed call is recorded as the queue's.
    let fx = d.handle(T0 + 5_000, Signal::Ended { call_id: "h1".into(), cause: EndCause::CallerCancelled });
    let m = saved(&fx);
    let [Mutation::SaveCall { queue_id, .. }] = m.as_slice() else { panic!("{m:?}") };
    assert_eq!(queue_id.as_deref(), Some("billing"));
}

/// The hotline tells the desk that a team lead listens in (where the center says so); a call
/// that did not come through the hotline cannot claim one.
#[test]
fn a_team_lead_on_a_hotline_call_is_shown_and_another_callers_claim_is_not() {
    let mut d = desk();
    let offered = |call_id: &str, queue: Option<(String, String)>| Signal::Incoming {
        call_id: call_id.into(),
        account_id: "acc-1".into(),
        from_number: "+79161112233".into(),
        display_name: None,
        line: None,
        page: None,
        ticket_id: None,
        queue,
        waited_ms: None,
    };
    d.handle(T0, offered("h1", Some(("billing".into(), "Billing".into()))));
    d.handle(T0 + 2_000, Signal::Answered { call_id: "h1".into() });
    let told = |mode: Option<&str>| Signal::Monitored {
        call_id: "h1".into(),
        by: "lena".into(),
        mode: mode.map(str::to_owned),
    };
    d.handle(T0 + 9_000, told(Some("listen")));
    let shown = d.call("h1").unwrap().monitored.clone();
    assert_eq!(shown, Some(MonitoredBy { by: "lena".into(), mode: "listen".into() }));
    d.handle(T0 + 12_000, told(Some("barge")));
    assert_eq!(d.call("h1").unwrap().monitored.as_ref().map(|m| m.mode.as_str()), Some("barge"));
    d.handle(T0 + 15_000, told(None));
    assert_eq!(d.call("h1").unwrap().monitored, None, "the lead left");
    d.handle(T0 + 16_000, Signal::Ended { call_id: "h1".into(), cause: EndCause::HungUp });

    d.handle(T0 + 20_000, offered("direct", None));
    d.handle(T0 + 21_000, Signal::Answered { call_id: "direct".into() });
    d.handle(
        T0 + 22_000,
        Signal::Monitored { call_id: "direct".into(), by: "mallory".into(), mode: Some("listen".into()) },
    );
    assert_eq!(d.call("direct").unwrap().monitored, None, "a direct caller's INFO is not believed");
}

#[test]
fn an_answered_call_goes_busy_then_wrap_up_then_is_saved_with_its_disposition() {
    let mut d = desk();
    let fx = incoming(&mut d, "c1", T0 + 1_000);
    assert!(fx.contains(&Effect::LookupCaller {
        call_id: "c1".into(),
        number: "+79151234567".into(),
        ticket_id: None
    }));
    assert!(fx.contains(&Effect::Ring { on: true }));
    let call = d.call("c1").unwrap();
    assert_eq!((call.phase, call.queue_name.as_deref()), (CallPhase::RingingIn, Some("Горячая линия 8-800")));
    d.caller_identified("c1", Some(("cust-1".into(), "Иван Петров".into(), vec![])));
    assert_eq!(d.snapshot().calls[0].customer_name.as_deref(), Some("Иван Петров"));
    assert!(d.check_dial().is_err(), "no dialling while a call rings");

    let fx = d.handle(T0 + 4_000, Signal::Answered { call_id: "c1".into() });
    assert_eq!(fx, [Effect::Ring { on: false }, Effect::SetAgentState(AgentState::Busy)]);
    d.handle(T0 + 5_000, Signal::Held { call_id: "c1".into(), held: true });
    assert_eq!(d.call("c1").unwrap().phase, CallPhase::Held);
    d.handle(T0 + 6_000, Signal::Held { call_id: "c1".into(), held: false });
    d.set_note("c1", "order 100123 late").unwrap();
    let fx = d.handle(T0 + 64_000, Signal::Ended { call_id: "c1".into(), cause: EndCause::HungUp });
    assert_eq!(fx, [Effect::SetAgentState(AgentState::WrapUp)]);
    assert!(saved(&fx).is_empty(), "saved at wrap-up, not before");
    assert!(d.check_dial().is_err(), "no dialling during wrap-up");
    assert_eq!(d.snapshot().wrap_up.unwrap().customer_name.as_deref(), Some("Иван Петров"));

    assert_eq!(d.wrap_up("c1", "nope", "", &TicketLink::None), Err(PhoneError::UnknownDisposition("nope".into())));
    let fx = d.wrap_up("c1", "customer.delivery", "  перезвонить завтра ", &TicketLink::None).unwrap();
    let m = saved(&fx);
    let Mutation::SaveCall {
        outcome, disposition, notes, answered_at, ended_at, from_number, to_number, queue_id, ..
    } = m[0]
    else {
        panic!("{m:?}")
    };
    assert_eq!(*outcome, CallOutcome::Answered);
    assert_eq!(disposition.as_deref(), Some("Покупатель / Статус доставки"));
    assert_eq!(notes, "order 100123 late\n\nперезвонить завтра");
    assert_eq!((*answered_at, *ended_at), (Some(T0 + 4_000), T0 + 64_000));
    assert_eq!((from_number.as_str(), to_number.as_str()), ("+79151234567", "+7 800 555-35-35"));
    assert_eq!(queue_id.as_deref(), Some("q-hotline"));
    assert!(fx.contains(&Effect::SetAgentState(AgentState::Available)));
    assert!(d.snapshot().wrap_up.is_none());
    d.check_dial().unwrap();
}

#[test]
fn a_caller_who_gives_up_is_a_missed_call_until_seen() {
    let mut d = desk();
    incoming(&mut d, "c1", T0);
    let fx = d.handle(T0 + 9_000, Signal::Ended { call_id: "c1".into(), cause: EndCause::CallerCancelled });
    assert!(fx.contains(&Effect::Ring { on: false }));
    let m = saved(&fx);
    assert!(matches!(m[0], Mutation::SaveCall { outcome: CallOutcome::Missed, answered_at: None, .. }), "{m:?}");
    incoming(&mut d, "c2", T0 + 20_000);
    d.handle(T0 + 25_000, Signal::Ended { call_id: "c2".into(), cause: EndCause::CallerCancelled });
    assert_eq!(d.snapshot().missed_unseen, 2);
    d.mark_seen();
    assert_eq!(d.snapshot().missed_unseen, 0);
    // Declining is the operator's choice, not a missed call to chase.
    incoming(&mut d, "c3", T0 + 30_000);
    let fx =
        d.handle(T0 + 31_000, Signal::Ended { call_id: "c3".into(), cause: EndCause::Declined { to_queue: false } });
    assert!(matches!(saved(&fx)[0], Mutation::SaveCall { outcome: CallOutcome::Busy, .. }));
    assert_eq!(d.snapshot().missed_unseen, 0);
}

#[test]
fn a_forgotten_wrap_up_is_saved_when_its_limit_runs_out() {
    let mut d = desk();
    incoming(&mut d, "c1", T0);
    d.handle(T0 + 1_000, Signal::Answered { call_id: "c1".into() });
    d.handle(T0 + 2_000, Signal::Ended { call_id: "c1".into(), cause: EndCause::HungUp });
    let deadline = d.poll_timeout().unwrap();
    assert_eq!(deadline, T0 + 2_000 + 120_000);
    assert!(d.handle_timeout(deadline - 1).is_empty());
    let fx = d.handle_timeout(deadline);
    assert!(matches!(saved(&fx)[0], Mutation::SaveCall { disposition: None, outcome: CallOutcome::Answered, .. }));
    assert!(fx.contains(&Effect::SetAgentState(AgentState::Available)));
    assert_eq!(d.poll_timeout(), None);
}

#[test]
fn outgoing_calls_need_a_registered_account_and_record_busy_or_failed() {
    let mut d = Softphone::new(DeskConfig::demo());
    assert!(matches!(d.check_dial(), Err(PhoneError::NotNow(_))), "nothing registered yet");
    let mut d2 = desk();
    d2.check_dial().unwrap();
    d2.handle(T0, Signal::Dialing { call_id: "o1".into(), account_id: "acc-1".into(), to_number: "200".into() });
    d2.handle(T0 + 100, Signal::Ringing { call_id: "o1".into() });
    assert_eq!(d2.call("o1").unwrap().phase, CallPhase::RingingOut);
    let fx = d2.handle(T0 + 900, Signal::Ended { call_id: "o1".into(), cause: EndCause::Refused { status: 486 } });
    assert!(matches!(
        saved(&fx)[0],
        Mutation::SaveCall { outcome: CallOutcome::Busy, direction: CallDirection::Outbound, .. }
    ));
    d.handle(T0, Signal::RegistrationFailed { account_id: "x".into(), detail: "403".into() });
    assert!(d.snapshot().accounts.is_empty(), "only configured accounts are shown");
}

#[test]
fn a_second_answered_call_keeps_the_desk_busy_and_saves_the_first_wrap_up() {
    let mut d = desk();
    incoming(&mut d, "c1", T0);
    d.handle(T0 + 1_000, Signal::Answered { call_id: "c1".into() });
    incoming(&mut d, "c2", T0 + 2_000);
    let fx = d.handle(T0 + 3_000, Signal::Answered { call_id: "c2".into() });
    assert!(!fx.contains(&Effect::SetAgentState(AgentState::Busy)), "already busy");
    let fx = d.handle(T0 + 4_000, Signal::Ended { call_id: "c1".into(), cause: EndCause::HungUp });
    assert!(fx.is_empty(), "still on c2: no wrap-up state yet: {fx:?}");
    let fx = d.handle(T0 + 5_000, Signal::Ended { call_id: "c2".into(), cause: EndCause::HungUp });
    let m = saved(&fx);
    assert_eq!(m.len(), 1, "c1's pending wrap-up is saved, c2's begins");
    assert!(matches!(m[0], Mutation::SaveCall { call_id, .. } if call_id == "c1"));
    assert!(fx.contains(&Effect::SetAgentState(AgentState::WrapUp)));
    assert_eq!(d.snapshot().wrap_up.unwrap().call_id, "c2");
}

#[test]
fn the_snapshot_serializes_as_the_window_expects() {
    let mut d = desk();
    incoming(&mut d, "c1", T0);
    let json = serde_json::to_value(d.snapshot()).unwrap();
    assert_eq!(json["accounts"][0]["state"], "registered");
    assert_eq!(json["calls"][0]["phase"], "ringing_in");
    assert_eq!(json["calls"][0]["direction"], "inbound");
    assert_eq!(json["calls"][0]["recording"], "off");
    let link: TicketLink =
        serde_json::from_value(serde_json::json!({ "kind": "existing", "ticket_id": "t1" })).unwrap();
    assert_eq!(link, TicketLink::Existing { ticket_id: "t1".into() });
    let input = SipAccountInput {
        id: None,
        label: "x".into(),
        user: "u".into(),
        domain: "d".into(),
        registrar: "r".into(),
        transport: SipTransport::Udp,
        outbound_proxy: None,
        codecs: vec![],
        enabled: true,
        password: Some("s3cret".into()),
        ca_file: None,
    };
    assert!(!format!("{input:?}").contains("s3cret"), "a password never reaches a log line");
}

#[test]
fn a_blind_transfer_ends_in_wrap_up_and_records_where_the_call_went() {
    let mut d = desk();
    incoming(&mut d, "c1", T0);
    assert!(d.check_transfer("c1").is_err(), "a ringing call cannot be transferred");
    d.handle(T0 + 2_000, Signal::Answered { call_id: "c1".into() });
    d.check_transfer("c1").unwrap();
    d.handle(T0 + 30_000, Signal::Transferring { call_id: "c1".into(), to: "sip:1002@okno.test".into() });
    let transfer = d.call("c1").unwrap().transfer.clone().unwrap();
    assert_eq!(transfer.phase, TransferPhase::Asking);
    assert!(d.check_transfer("c1").is_err(), "one transfer at a time");
    d.handle(T0 + 35_000, Signal::Transferred { call_id: "c1".into(), to: "1002".into() });
    let fx = d.handle(T0 + 35_100, Signal::Ended { call_id: "c1".into(), cause: EndCause::Transferred });
    assert_eq!(fx, [Effect::SetAgentState(AgentState::WrapUp)]);
    let fx = d.wrap_up("c1", "customer.delivery", "", &TicketLink::None).unwrap();
    let Mutation::SaveCall { transferred_to, outcome, .. } = saved(&fx)[0] else { panic!("{fx:?}") };
    assert_eq!((transferred_to.as_deref(), *outcome), (Some("1002"), CallOutcome::Answered));
}

#[test]
fn a_failed_transfer_is_shown_and_the_call_stays() {
    let mut d = desk();
    incoming(&mut d, "c1", T0);
    d.handle(T0 + 2_000, Signal::Answered { call_id: "c1".into() });
    d.handle(T0 + 3_000, Signal::Transferring { call_id: "c1".into(), to: "1002".into() });
    d.handle(T0 + 9_000, Signal::TransferFailed { call_id: "c1".into(), to: "1002".into(), status: Some(486) });
    let call = d.call("c1").unwrap();
    assert_eq!(call.phase, CallPhase::Active);
    assert_eq!(
        call.transfer,
        Some(TransferView { to: "1002".into(), phase: TransferPhase::Failed, status: Some(486) })
    );
    d.check_transfer("c1").expect("the operator may try again");
}

#[test]
fn an_attended_transfer_has_a_consult_leg_saved_without_its_own_wrap_up() {
    let mut d = desk();
    incoming(&mut d, "c1", T0);
    d.handle(T0 + 2_000, Signal::Answered { call_id: "c1".into() });
    d.handle(T0 + 3_000, Signal::Held { call_id: "c1".into(), held: true });
    d.begin_consult("c1").unwrap();
    let fx = d.handle(
        T0 + 3_100,
        Signal::Dialing { call_id: "k1".into(), account_id: "acc-1".into(), to_number: "1002".into() },
    );
    assert!(fx.is_empty(), "no caller lookup for a colleague: {fx:?}");
    assert_eq!(d.call("k1").unwrap().consult_for.as_deref(), Some("c1"));
    assert!(d.begin_consult("c1").is_err(), "one consult leg at a time");
    assert!(d.check_complete("c1", "k1").is_err(), "the colleague has not answered yet");
    d.handle(T0 + 8_000, Signal::Answered { call_id: "k1".into() });
    d.check_complete("c1", "k1").unwrap();

    // The customer's call is handed over first, then the colleague's leg ends.
    d.handle(T0 + 20_000, Signal::Transferred { call_id: "c1".into(), to: "1002".into() });
    let fx = d.handle(T0 + 20_100, Signal::Ended { call_id: "c1".into(), cause: EndCause::Transferred });
    assert!(fx.is_empty(), "still on the consult call, so still busy: {fx:?}");
    let fx = d.handle(T0 + 20_200, Signal::Ended { call_id: "k1".into(), cause: EndCause::HungUp });
    let legs = saved(&fx);
    let Mutation::SaveCall { call_id, direction, outcome, to_number, .. } = legs[0] else { panic!("{fx:?}") };
    assert_eq!(
        (call_id.as_str(), *direction, *outcome, to_number.as_str()),
        ("k1", CallDirection::Outbound, CallOutcome::Answered, "1002")
    );
    assert!(fx.contains(&Effect::SetAgentState(AgentState::WrapUp)), "{fx:?}");
    assert_eq!(d.snapshot().wrap_up.map(|w| w.call_id).as_deref(), Some("c1"), "the customer's call is wrapped up");
}

#[test]
fn transfer_targets_resolve_through_the_directory() {
    let config = DeskConfig::demo();
    assert_eq!(config.transfer_number(&TransferTarget::Operator { id: "op-02".into() }).unwrap(), "1002");
    assert_eq!(config.transfer_number(&TransferTarget::Department { id: "dep-sales".into() }).unwrap(), "2200");
    assert_eq!(
        config.transfer_number(&TransferTarget::Number { number: "+7 (915) 123-45-67".into() }).unwrap(),
        "+79151234567"
    );
    assert!(config.transfer_number(&TransferTarget::Operator { id: "op-99".into() }).is_err());
    assert!(config.transfer_number(&TransferTarget::Number { number: " - ".into() }).is_err());
}

#[test]
fn a_recorded_call_keeps_its_pauses_in_the_record() {
    let mut d = desk();
    incoming(&mut d, "c1@10.0.0.1", T0);
    assert!(d.set_recording_paused(T0, "c1@10.0.0.1", true).is_err(), "nothing is recorded before the answer");
    d.handle(T0 + 2_000, Signal::Answered { call_id: "c1@10.0.0.1".into() });
    assert_eq!(d.call("c1@10.0.0.1").unwrap().recording, RecordingState::On);
    d.set_recording_paused(T0 + 10_000, "c1@10.0.0.1", true).unwrap();
    assert_eq!(d.call("c1@10.0.0.1").unwrap().recording, RecordingState::Paused);
    d.set_recording_paused(T0 + 25_000, "c1@10.0.0.1", false).unwrap();
    d.set_recording_paused(T0 + 40_000, "c1@10.0.0.1", true).unwrap();
    // Hung up while paused: that pause lasts to the end of the call.
    d.handle(T0 + 50_000, Signal::Ended { call_id: "c1@10.0.0.1".into(), cause: EndCause::HungUp });
    let fx = d.wrap_up("c1@10.0.0.1", "customer.delivery", "", &TicketLink::None).unwrap();
    let Mutation::SaveCall { recording_ref, recording_pauses, .. } = saved(&fx)[0] else { panic!("{fx:?}") };
    assert_eq!(recording_ref.as_deref(), Some("c1_10.0.0.1.wav"));
    let pauses: Vec<(Millis, Millis)> = recording_pauses.iter().map(|p| (p.from, p.to)).collect();
    assert_eq!(pauses, [(T0 + 10_000, T0 + 25_000), (T0 + 40_000, T0 + 50_000)]);
}

#[test]
fn a_conference_joins_the_customer_and_the_consult_leg_until_one_leaves() {
    let mut d = desk();
    incoming(&mut d, "c1", T0);
    d.handle(T0 + 2_000, Signal::Answered { call_id: "c1".into() });
    d.handle(T0 + 3_000, Signal::Held { call_id: "c1".into(), held: true });
    d.begin_consult("c1").unwrap();
    d.handle(
        T0 + 3_100,
        Signal::Dialing { call_id: "k1".into(), account_id: "acc-1".into(), to_number: "+79160000001".into() },
    );
    assert!(d.conference("c1", "k1").is_err(), "the courier has not answered yet");
    d.handle(T0 + 8_000, Signal::Answered { call_id: "k1".into() });
    d.conference("c1", "k1").unwrap();
    assert_eq!(d.call("c1").unwrap().conferenced_with.as_deref(), Some("k1"));
    assert_eq!(d.call("k1").unwrap().conferenced_with.as_deref(), Some("c1"));
    // The courier leaves: the customer's call goes on, no longer in a conference.
    d.handle(T0 + 30_000, Signal::Ended { call_id: "k1".into(), cause: EndCause::HungUp });
    assert_eq!(d.call("c1").unwrap().conferenced_with, None);
    assert!(d.snapshot().wrap_up.is_none(), "the customer is still on the line");
}
