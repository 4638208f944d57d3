//! What the work rules cost the server: one message through 200 rules (the goal is
//! ≤ 1 ms), and the SLA clocks of 100,000 open tickets recomputed after a calendar change
//! (goal ≤ 2 s), single-threaded.
//!
//! Run: `cargo bench -p okno-rules --bench rules`. Prints µs per message and seconds per sweep.

use std::hint::black_box;
use std::time::Instant;

use okno_core::rng::Rng;
use okno_core::{Channel, CustomerTier, Priority};
use okno_rules::{
    Action, CalendarSpec, Condition, DayHours, Facts, Known, Pause, Rule, RuleSet, SlaPolicy, SlaPolicySpec, TextTest,
    TicketClock,
};

const SUBJECTS: [&str; 4] =
    ["Где мой заказ 5512?", "Re: [#1024] Счёт № 2026-1187", "Invoice #77 for November", "Спасибо!"];
const BODY: &str = "Здравствуйте! Заказ 5512 не пришёл, курьер не звонил. Мой номер +7 915 123-45-67. \
    Прошу вернуть деньги или доставить до пятницы. Hello, I paid with card and the order is still pending. ";

/// 200 rules of the kinds a center writes: a third regexes, a third phrases, a third
/// domain/tag/channel checks, none of which match the benchmark's messages until the last few.
fn rule_set() -> (Vec<Rule>, Known) {
    let mut rules = Vec::new();
    for i in 0..200 {
        let when = match i % 3 {
            0 => vec![Condition::Subject {
                test: TextTest::Regex(format!("(invoice|сч[её]т)\\s*#?\\s*{}\\d+", 9000 + i)),
            }],
            1 => vec![
                Condition::Channel { any_of: vec![Channel::Email, Channel::Chat] },
                Condition::Body { test: TextTest::Contains(format!("промокод {i}")) },
            ],
            _ => vec![
                Condition::SenderDomain { any_of: vec![format!("partner{i}.test")] },
                Condition::Tag { has: format!("segment-{i}") },
            ],
        };
        rules.push(Rule {
            id: format!("r{i}"),
            name: format!("rule {i}"),
            enabled: true,
            when,
            then: vec![
                Action::SetQueue { queue_id: "billing".into() },
                Action::AddTags { tags: vec![format!("t{i}")] },
            ],
            stop: false,
        });
    }
    let known = Known { queues: vec!["billing".into()], ..Known::default() };
    (rules, known)
}

fn moscow() -> CalendarSpec {
    let day = Some(DayHours { open: "09:00".into(), close: "18:00".into() });
    CalendarSpec {
        time_zone: "Europe/Moscow".into(),
        week: [day.clone(), day.clone(), day.clone(), day.clone(), day, None, None],
        holidays: vec!["2027-01-01".into(), "2027-01-07".into(), "2027-02-23".into(), "2027-03-08".into()],
    }
}

fn main() {
    println!("cargo bench -p okno-rules --bench rules");
    let (rules, known) = rule_set();
    let compile_started = Instant::now();
    let set = RuleSet::compile(&rules, &known).unwrap();
    println!("compile 200 rules: {:.2} ms", compile_started.elapsed().as_secs_f64() * 1e3);
    let tags = vec!["segment-x".to_owned()];
    let bodies: Vec<String> = (0..64).map(|i| BODY.repeat(1 + i % 8)).collect();
    let messages = 20_000;
    let mut fired = 0;
    let started = Instant::now();
    for i in 0..messages {
        let outcome = set.evaluate(black_box(&Facts {
            channel: Channel::Email,
            queue_id: "support",
            mailbox: Some("support"),
            sender: Some("ivan.petrov@mail.test"),
            subject: SUBJECTS[i % SUBJECTS.len()],
            body: &bodies[i % bodies.len()],
            tier: CustomerTier::Standard,
            tags: &tags,
            business_hours_open: true,
            first_message: i % 2 == 0,
        }));
        fired += outcome.fired.len();
    }
    let per_message = started.elapsed().as_secs_f64() / messages as f64;
    let average_body = bodies.iter().map(String::len).sum::<usize>() / bodies.len();
    println!(
        "one message through 200 rules: {:.1} µs (bodies of {average_body} bytes on average; {fired} firings)",
        per_message * 1e6
    );

    // 100,000 open tickets created over the last 30 days, some waiting on the customer.
    let policy = SlaPolicy::compile(&SlaPolicySpec::standard("std", moscow())).unwrap();
    let mut rng = Rng::new(7);
    let now: i64 = 1_796_626_800_000;
    let tickets: Vec<(CustomerTier, TicketClock)> = (0..100_000)
        .map(|_| {
            let created_at = now - (rng.below(30 * 24 * 60) as i64) * 60_000;
            let pauses = if rng.below(4) == 0 {
                vec![Pause { from: created_at + 3_600_000, until: Some(created_at + 5 * 3_600_000) }]
            } else {
                Vec::new()
            };
            let tier = if rng.below(5) == 0 { CustomerTier::Premium } else { CustomerTier::Standard };
            (tier, TicketClock { created_at, first_response_at: None, resolved_at: None, pauses })
        })
        .collect();
    let started = Instant::now();
    let mut due = 0;
    for (tier, clock) in &tickets {
        if policy.due(*tier, Channel::Email, Priority::Normal, black_box(clock)).next.is_some() {
            due += 1;
        }
    }
    println!(
        "SLA clocks of {} open tickets recomputed: {:.3} s ({due} with a due time)",
        tickets.len(),
        started.elapsed().as_secs_f64()
    );
}
