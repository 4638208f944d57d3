//! The call queue in virtual time: who gets which call, what happens when a desk stays silent or
//! a caller gives up, callbacks; then a busy hour of random arrivals, talk times and give-ups
//! (seeded) holding every invariant, with the service level from the raw events equal to the
//! one counted call by call.

use okno_acd::distributor::{AcdError, AcdEventKind};
use okno_acd::{Action, Distributor, QueueSpec, figures};
use okno_core::AgentState::{Available, Break};
use okno_core::rng::Rng;

const S: i64 = 1_000;

fn queue(id: &str, skill: Option<&str>) -> QueueSpec {
    QueueSpec {
        id: id.into(),
        skill: skill.map(Into::into),
        ring_timeout_ms: 15_000,
        callback_after_ms: Some(120_000),
        announce_every_ms: 30_000,
        wrap_up_ms: 0,
    }
}

fn actions(d: &mut Distributor) -> Vec<Action> {
    std::iter::from_fn(|| d.poll_action()).collect()
}

fn offered_to(actions: &[Action]) -> Vec<(String, String)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Offer { call_id, agent_id, .. } => Some((call_id.clone(), agent_id.clone())),
            _ => None,
        })
        .collect()
}

/// Three agents with the `ru` skill became free at 10 s, 20 s and 5 s; one more without it.
fn hotline() -> Distributor {
    let mut d = Distributor::new(vec![queue("hotline", Some("ru")), queue("vip", None)]);
    for (agent, free_at, skills) in
        [("anna", 10, vec!["ru"]), ("boris", 20, vec!["ru"]), ("olga", 5, vec!["ru"]), ("li", 1, vec!["en"])]
    {
        d.agent_joined(agent, skills.into_iter().map(String::from).collect(), 0);
        d.agent_state(agent, Available, free_at * S).unwrap();
    }
    actions(&mut d);
    d
}

#[test]
fn the_longest_idle_agent_with_the_skill_is_offered_the_call() {
    let mut d = hotline();
    d.call_arrived("c1", "hotline", "+79001234567", 100 * S).unwrap();
    d.call_arrived("c2", "hotline", "+79007654321", 101 * S).unwrap();
    let a = actions(&mut d);
    assert_eq!(
        offered_to(&a),
        [("c1".into(), "olga".into()), ("c2".into(), "anna".into())],
        "olga was free since 5 s, anna since 10 s; li lacks the skill"
    );
    // Olga answers; the caller waited 3 s.
    d.offer_answered("c1", "olga", 103 * S).unwrap();
    assert_eq!(actions(&mut d), [Action::Bridge { call_id: "c1".into(), agent_id: "olga".into() }]);
    let answered: Vec<_> = std::iter::from_fn(|| d.poll_event()).filter(|e| e.kind == AcdEventKind::Answered).collect();
    assert_eq!(answered[0].waited_ms, Some(3_000));
    // Boris answering a call offered to anna is refused: the driver ends his leg.
    assert_eq!(
        d.offer_answered("c2", "boris", 104 * S),
        Err(AcdError::NotOffered { call_id: "c2".into(), agent_id: "boris".into() })
    );
}

#[test]
fn a_silent_desk_loses_the_call_to_the_next_agent_and_is_marked_not_responding() {
    let mut d = hotline();
    d.call_arrived("c1", "hotline", "+79001234567", 100 * S).unwrap();
    assert_eq!(offered_to(&actions(&mut d)), [("c1".into(), "olga".into())]);
    assert_eq!(d.next_timeout(), Some(115 * S), "the ring timeout");
    d.handle_timeout(115 * S);
    let a = actions(&mut d);
    assert!(a.contains(&Action::CancelOffer { call_id: "c1".into(), agent_id: "olga".into() }), "{a:?}");
    assert!(a.contains(&Action::AgentNotResponding { agent_id: "olga".into() }), "{a:?}");
    assert_eq!(offered_to(&a), [("c1".into(), "anna".into())]);
    // Olga's desk comes back: she is offered calls again.
    d.agent_state("olga", Available, 116 * S).unwrap();
    d.call_arrived("c2", "hotline", "+79007654321", 117 * S).unwrap();
    assert_eq!(offered_to(&actions(&mut d)), [("c2".into(), "boris".into())], "boris idled longer than olga now");
}

#[test]
fn a_caller_who_gives_up_is_abandoned_with_their_wait_and_the_desk_stops_ringing() {
    let mut d = hotline();
    for agent in ["anna", "boris", "olga"] {
        d.agent_state(agent, Break, 50 * S).unwrap();
    }
    d.call_arrived("c1", "hotline", "+79001234567", 100 * S).unwrap();
    assert!(offered_to(&actions(&mut d)).is_empty(), "nobody is available");
    d.caller_hung_up("c1", 142 * S).unwrap();
    let abandoned: Vec<_> =
        std::iter::from_fn(|| d.poll_event()).filter(|e| e.kind == AcdEventKind::Abandoned).collect();
    assert_eq!(abandoned.len(), 1);
    assert_eq!(abandoned[0].waited_ms, Some(42_000));
    assert_eq!(d.caller_hung_up("c1", 143 * S), Err(AcdError::UnknownCall("c1".into())), "a second hang-up is refused");

    d.agent_state("anna", Available, 150 * S).unwrap();
    d.call_arrived("c2", "hotline", "+79007654321", 160 * S).unwrap();
    assert_eq!(offered_to(&actions(&mut d)), [("c2".into(), "anna".into())]);
    d.caller_hung_up("c2", 162 * S).unwrap();
    assert_eq!(actions(&mut d), [Action::CancelOffer { call_id: "c2".into(), agent_id: "anna".into() }]);
}

#[test]
fn a_long_wait_offers_a_callback_which_is_placed_when_an_agent_is_free() {
    let mut d = hotline();
    for agent in ["anna", "boris", "olga"] {
        d.agent_state(agent, Break, 50 * S).unwrap();
    }
    d.call_arrived("c1", "hotline", "+79001234567", 100 * S).unwrap();
    d.handle_timeout(130 * S);
    assert_eq!(
        actions(&mut d),
        [Action::Announce { call_id: "c1".into(), position: 1, expected_wait_ms: 45_000 }],
        "first in line; 3 minutes of talk over 4 staffed agents"
    );
    assert_eq!(
        d.callback_requested("c1", 200 * S),
        Err(AcdError::CallbackNotOffered("c1".into())),
        "a 1 pressed before the offer asks for nothing"
    );
    d.handle_timeout(220 * S);
    assert!(actions(&mut d).contains(&Action::OfferCallback { call_id: "c1".into() }));
    d.callback_requested("c1", 225 * S).unwrap();
    assert_eq!(actions(&mut d), [Action::EndCallerLeg { call_id: "c1".into() }]);
    assert!(d.waiting("hotline").next().is_none(), "nobody waits on the line any more");
    d.agent_state("boris", Available, 300 * S).unwrap();
    assert_eq!(
        actions(&mut d),
        [Action::PlaceCallback { call_id: "c1".into(), agent_id: "boris".into(), number: "+79001234567".into() }]
    );
    d.call_ended("c1", 400 * S).unwrap();
    let kinds: Vec<AcdEventKind> = std::iter::from_fn(|| d.poll_event()).map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [AcdEventKind::Queued, AcdEventKind::CallbackRequested, AcdEventKind::CallbackPlaced, AcdEventKind::Ended]
    );
}

#[test]
fn a_team_lead_moves_a_waiting_call_and_it_keeps_its_place() {
    let mut d = hotline();
    for agent in ["anna", "boris", "olga", "li"] {
        d.agent_state(agent, Break, 50 * S).unwrap();
    }
    d.call_arrived("c1", "hotline", "+7900", 100 * S).unwrap();
    d.call_arrived("c2", "vip", "+7901", 110 * S).unwrap();
    d.move_call("c1", "vip", 120 * S).unwrap();
    assert_eq!(d.waiting("vip").map(|(id, _)| id).collect::<Vec<_>>(), ["c1", "c2"], "by arrival");
    assert_eq!(d.move_call("c1", "nowhere", 121 * S), Err(AcdError::UnknownQueue("nowhere".into())));
    // The wallboard, recomputed from the events alone, shows both calls waiting in vip.
    let events: Vec<_> = std::iter::from_fn(|| d.poll_event()).collect();
    let waiting = okno_acd::waiting_calls(&events, "vip", 125 * S);
    let ids: Vec<_> = waiting.iter().map(|w| (w.call_id.as_str(), w.waited_ms)).collect();
    assert_eq!(ids, [("c1", 25 * S as u64), ("c2", 15 * S as u64)], "oldest first, with their waits");
    assert!(okno_acd::waiting_calls(&events, "hotline", 125 * S).is_empty(), "moved away");
    d.agent_state("li", Available, 130 * S).unwrap();
    let a = actions(&mut d);
    assert_eq!(
        offered_to(&a),
        [("c1".into(), "li".into())],
        "the vip queue takes any agent; the older call goes first"
    );
    d.offer_answered("c1", "li", 131 * S).unwrap();
    let events: Vec<_> = events.into_iter().chain(std::iter::from_fn(|| d.poll_event())).collect();
    let still: Vec<_> = okno_acd::waiting_calls(&events, "vip", 132 * S).into_iter().map(|w| w.call_id).collect();
    assert_eq!(still, ["c2"], "an answered call no longer waits");
}

#[test]
fn a_call_handed_to_another_instance_keeps_its_turn_and_counts_once() {
    // The stopping instance: c1 waits; while it is being handed over nobody here is offered it.
    let mut stopping = hotline();
    for agent in ["anna", "boris", "olga", "li"] {
        stopping.agent_state(agent, Break, 50 * S).unwrap();
    }
    stopping.call_arrived("c1", "hotline", "+7900", 100 * S).unwrap();
    assert_eq!(stopping.calls_to_hand_over(), ["c1"]);
    stopping.hand_over_started("c1").unwrap();
    assert_eq!(stopping.hand_over_started("c1"), Err(AcdError::NotWaiting("c1".into())), "once at a time");
    assert!(stopping.calls_to_hand_over().is_empty());
    stopping.agent_state("olga", Available, 101 * S).unwrap();
    assert!(offered_to(&actions(&mut stopping)).is_empty(), "a call on its way out is offered to nobody");
    // The first try failed (nobody took it): it is offered here again meanwhile.
    stopping.hand_over_failed("c1", 102 * S).unwrap();
    assert_eq!(offered_to(&actions(&mut stopping)), [("c1".into(), "olga".into())]);
    stopping.offer_refused("c1", "olga", 103 * S).unwrap();
    stopping.agent_state("olga", Break, 103 * S).unwrap();
    actions(&mut stopping);
    stopping.hand_over_started("c1").unwrap();
    stopping.handed_over("c1", 104 * S).unwrap();
    assert_eq!(stopping.waiting("hotline").count(), 0, "gone from the stopping instance");
    let mut events: Vec<_> = std::iter::from_fn(|| stopping.poll_event()).collect();
    assert_eq!(events.last().map(|e| (e.kind, e.waited_ms)), Some((AcdEventKind::HandedOver, Some(4_000))));

    // The instance that takes over: c2 arrived there at 102 s, after c1; c1 resumes at 105 s
    // and goes first, its wait counted from 100 s.
    let mut taking = hotline();
    for agent in ["anna", "boris", "olga", "li"] {
        taking.agent_state(agent, Break, 50 * S).unwrap();
    }
    taking.call_arrived("c2", "hotline", "+7901", 102 * S).unwrap();
    taking.call_resumed("c1", "hotline", "+7900", 100 * S, 105 * S).unwrap();
    assert_eq!(
        taking.call_resumed("c1", "hotline", "+7900", 100 * S, 105 * S),
        Err(AcdError::DuplicateCall("c1".into()))
    );
    assert_eq!(taking.waiting("hotline").map(|(id, _)| id).collect::<Vec<_>>(), ["c1", "c2"], "by arrival");
    taking.agent_state("anna", Available, 110 * S).unwrap();
    assert_eq!(offered_to(&actions(&mut taking)), [("c1".into(), "anna".into())]);
    taking.offer_answered("c1", "anna", 112 * S).unwrap();
    events.extend(std::iter::from_fn(|| taking.poll_event()));
    let answered = events.iter().find(|e| e.call_id == "c1" && e.kind == AcdEventKind::Answered).unwrap();
    assert_eq!(answered.waited_ms, Some(12_000), "the wait spans both instances");
    // The raw records of both instances together: c1 is one call, answered in 12 s; c2 waits.
    let f = figures(&events, "hotline", 0, 112 * S);
    assert_eq!((f.offered, f.answered, f.abandoned, f.waiting), (2, 1, 0, 1));
}

#[test]
fn the_records_say_which_call_each_agent_is_on() {
    let on = |events: &[okno_acd::AcdEvent]| {
        let mut on: Vec<(String, String)> = okno_acd::agents_on_calls(events).into_iter().collect();
        on.sort();
        on
    };
    let pair = |agent: &str, call: &str| (agent.to_owned(), call.to_owned());
    let mut d = hotline();
    // Olga, anna and boris are rung, by how long they were idle.
    d.call_arrived("c1", "hotline", "+7900", 100 * S).unwrap();
    d.call_arrived("c2", "hotline", "+7901", 101 * S).unwrap();
    d.call_arrived("c3", "hotline", "+7902", 102 * S).unwrap();
    // Olga answers c1; anna refuses c2, which rings her again (nobody else with the skill is
    // free); c3's caller gives up while boris's desk rings.
    d.offer_answered("c1", "olga", 103 * S).unwrap();
    d.offer_refused("c2", "anna", 104 * S).unwrap();
    d.caller_hung_up("c3", 105 * S).unwrap();
    let mut events: Vec<_> = std::iter::from_fn(|| d.poll_event()).collect();
    assert_eq!(on(&events), [pair("anna", "c2"), pair("olga", "c1")]);
    d.call_ended("c1", 110 * S).unwrap();
    events.extend(std::iter::from_fn(|| d.poll_event()));
    assert_eq!(on(&events), [pair("anna", "c2")], "olga's talk ended");
    d.hand_over_started("c2").unwrap_err();
    d.agent_state("anna", Break, 111 * S).unwrap();
    events.extend(std::iter::from_fn(|| d.poll_event()));
    actions(&mut d);
    assert!(on(&events).iter().all(|(agent, _)| agent != "anna"), "anna's desk stopped ringing: {:?}", on(&events));
}

/// A busy hour: 300 calls over an hour (random arrivals), 14 agents, talk 60-240 s,
/// a tenth of callers give up after 10-90 s, some desks let a call ring out.
#[test]
fn a_busy_hour_keeps_every_invariant_and_the_figures_match_the_calls() {
    let mut rng = Rng::new(19);
    let mut d =
        Distributor::new(vec![QueueSpec { callback_after_ms: None, wrap_up_ms: 5_000, ..queue("hotline", None) }]);
    let agents: Vec<String> = (1..=14).map(|n| format!("a{n}")).collect();
    for a in &agents {
        d.agent_joined(a, Vec::new(), 0);
        d.agent_state(a, Available, 0).unwrap();
    }
    // Scheduled inputs: (at, what).
    #[derive(Debug, Clone)]
    enum Ev {
        Arrive(String),
        GiveUp(String),
        Hangup(String),
        Back(String),
    }
    let mut schedule: Vec<(i64, Ev)> = Vec::new();
    let mut at = 0;
    for n in 0..300 {
        at += 1 + rng.below(23) as i64 * S;
        let id = format!("call-{n}");
        schedule.push((at, Ev::Arrive(id.clone())));
        if rng.chance(0.1) {
            schedule.push((at + (10 + rng.below(80) as i64) * S, Ev::GiveUp(id)));
        }
    }
    let mut events = Vec::new();
    let mut ringing: std::collections::HashMap<String, String> = Default::default();
    let mut ended = std::collections::HashSet::new();
    let mut now = 0;
    let mut answered_by_hand = (0u64, 0u64, 0u64, 0u64); // (in target, answered, abandoned in target, offered)
    loop {
        schedule.sort_by_key(|(t, _)| *t);
        let next_input = schedule.first().map(|(t, _)| *t);
        let next = match (next_input, d.next_timeout()) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => match a.or(b) {
                Some(t) => t,
                None => break,
            },
        };
        now = next.max(now);
        while schedule.first().is_some_and(|(t, _)| *t <= now) {
            let (_, ev) = schedule.remove(0);
            match ev {
                Ev::Arrive(id) => {
                    d.call_arrived(&id, "hotline", "+7900", now).unwrap();
                    answered_by_hand.3 += 1;
                }
                Ev::Back(agent) => d.agent_state(&agent, Available, now).unwrap(),
                Ev::GiveUp(id) | Ev::Hangup(id) => {
                    // A caller giving up after being answered is a talk that ended: either way the call ends once.
                    if !ended.contains(&id) && d.caller_hung_up(&id, now).is_ok() {
                        ended.insert(id.clone());
                        ringing.remove(&id);
                    }
                }
            }
        }
        d.handle_timeout(now);
        while let Some(action) = d.poll_action() {
            match action {
                Action::Offer { call_id, agent_id, .. } => {
                    assert!(!ringing.values().any(|a| *a == agent_id), "{agent_id} holds two offers");
                    assert!(ringing.insert(call_id.clone(), agent_id.clone()).is_none(), "{call_id} offered twice");
                    // One offer in eight rings out; the others are answered after 2-6 s.
                    if !rng.chance(0.125) {
                        let answer_at = now + (2 + rng.below(5) as i64) * S;
                        let talk = (60 + rng.below(180) as i64) * S;
                        let (call, agent) = (call_id.clone(), agent_id.clone());
                        d.offer_answered(&call, &agent, answer_at).unwrap();
                        ringing.remove(&call);
                        schedule.push((answer_at + talk, Ev::Hangup(call)));
                    }
                }
                Action::CancelOffer { call_id, .. } => {
                    ringing.remove(&call_id);
                }
                Action::AgentNotResponding { agent_id } => {
                    // The operator notices and is available again half a minute later.
                    d.agent_state(&agent_id, Break, now).unwrap();
                    schedule.push((now + 30 * S, Ev::Back(agent_id)));
                }
                _ => {}
            }
        }
        while let Some(e) = d.poll_event() {
            events.push(e);
        }
        if schedule.is_empty()
            && d.waiting("hotline").next().is_none()
            && ringing.is_empty()
            && d.next_timeout().is_none()
        {
            break;
        }
    }
    // Every call ended exactly once in answered or abandoned.
    let outcome = |kind| events.iter().filter(|e| e.kind == kind).count();
    assert_eq!(outcome(AcdEventKind::Queued), 300);
    assert_eq!(outcome(AcdEventKind::Answered) + outcome(AcdEventKind::Abandoned), 300);
    for e in events.iter().filter(|e| e.kind == AcdEventKind::Answered) {
        let w = e.waited_ms.unwrap();
        answered_by_hand.1 += 1;
        if w <= 20_000 {
            answered_by_hand.0 += 1;
        }
    }
    for e in events.iter().filter(|e| e.kind == AcdEventKind::Abandoned) {
        if e.waited_ms.unwrap() <= 20_000 {
            answered_by_hand.2 += 1;
        }
    }
    let f = figures(&events, "hotline", 0, now);
    assert_eq!((f.offered, f.answered, f.waiting), (300, answered_by_hand.1, 0));
    let by_hand = answered_by_hand.0 as f64 / (answered_by_hand.3 - answered_by_hand.2) as f64;
    assert_eq!(f.service_level, Some(by_hand));
    assert!(f.abandoned > 0 && f.abandoned < 60, "{f:?}");
    // Staffed for the load (about 12.5 erlangs on 14 agents): most calls are answered in time.
    assert!(f.service_level.is_some_and(|sl| sl > 0.5), "{f:?}");
    eprintln!("busy hour: {f:?}");
}

/// A caller still waiting within the 20 s target is not decided yet; one waiting past it
/// already counts against the service level.
#[test]
fn a_call_still_waiting_counts_against_the_service_level_only_past_the_target() {
    let recorded = |id: &str, started: i64, answered: Option<i64>| {
        okno_acd::recorded_call_events(id, "hotline", Some("anna"), started, answered, answered.map(|a| a + 60 * S))
    };
    let mut events = recorded("fast", 0, Some(5 * S));
    events.extend(recorded("waits-a-little", 90 * S, None));
    events.extend(recorded("waits-long", 60 * S, None));
    events.sort_by_key(|e| e.at);
    let f = figures(&events, "hotline", 0, 100 * S);
    assert_eq!((f.offered, f.answered, f.waiting, f.longest_wait_ms), (3, 1, 2, 40_000));
    assert_eq!(f.service_level, Some(0.5), "one in target of the two decided");
}

#[test]
fn an_event_kind_is_stored_as_it_travels() {
    for kind in AcdEventKind::ALL {
        assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str(), "{kind:?}");
        assert_eq!(kind.as_str().parse::<AcdEventKind>(), Ok(kind));
    }
    assert!("hung_up".parse::<AcdEventKind>().is_err());
}
