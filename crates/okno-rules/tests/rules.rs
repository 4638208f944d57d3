//! Routing rules as a table: each row is a rule set as an admin saves it (JSON, as the server
//! stores it), one message, and what the center should do with it.

use okno_core::{Channel, CustomerTier, Priority};
use okno_rules::{Assignment, Facts, Known, Outcome, Rule, RuleProblem, RuleSet};
use serde_json::{Value, json};

fn known() -> Known {
    Known {
        queues: vec!["support".into(), "billing".into(), "vip".into(), "spam".into()],
        operators: vec!["op-anna".into(), "op-boris".into()],
        templates: vec!["tpl-thanks".into(), "tpl-after-hours".into()],
        mailboxes: vec!["support".into(), "invoices".into()],
        own_addresses: vec!["support@shop.test".into(), "invoices@shop.test".into()],
    }
}

fn rules(value: Value) -> Vec<Rule> {
    let list = value.as_array().unwrap().iter().enumerate().map(|(i, r)| {
        let mut r = r.clone();
        let object = r.as_object_mut().unwrap();
        object.entry("id").or_insert(json!(format!("r{i}")));
        object.entry("name").or_insert(json!(format!("rule {}", i + 1)));
        object.entry("enabled").or_insert(json!(true));
        object.entry("when").or_insert(json!([]));
        object.entry("stop").or_insert(json!(false));
        r
    });
    serde_json::from_value(Value::Array(list.collect())).unwrap()
}

struct Message {
    channel: Channel,
    mailbox: Option<&'static str>,
    sender: Option<&'static str>,
    subject: &'static str,
    body: &'static str,
    tier: CustomerTier,
    tags: Vec<String>,
    open: bool,
    first: bool,
}

fn mail(sender: &'static str, subject: &'static str, body: &'static str) -> Message {
    Message {
        channel: Channel::Email,
        mailbox: Some("support"),
        sender: Some(sender),
        subject,
        body,
        tier: CustomerTier::Standard,
        tags: Vec::new(),
        open: true,
        first: true,
    }
}

fn run(set: &RuleSet, m: &Message) -> Outcome {
    set.evaluate(&Facts {
        channel: m.channel,
        queue_id: "support",
        mailbox: m.mailbox,
        sender: m.sender,
        subject: m.subject,
        body: m.body,
        tier: m.tier,
        tags: &m.tags,
        business_hours_open: m.open,
        first_message: m.first,
    })
}

fn fired(outcome: &Outcome) -> Vec<&str> {
    outcome.fired.iter().map(|f| f.name.as_str()).collect()
}

#[test]
fn the_rules_do_what_the_table_says() {
    let invoices = rules(json!([
        { "name": "invoices to billing", "when": [{ "field": "subject", "test": { "op": "regex", "value": "(сч[её]т|invoice)\\s*(№|no\\.?|#)?\\s*\\d+" } }],
          "then": [{ "do": "set_queue", "queue_id": "billing" }, { "do": "add_tags", "tags": ["invoice"] }] },
        { "name": "billing is urgent for premium", "when": [{ "field": "queue", "any_of": ["billing"] }, { "field": "tier", "is": "premium" }],
          "then": [{ "do": "set_priority", "priority": "urgent" }] }
    ]));
    let thanks = rules(json!([
        { "name": "thank-you replies close", "when": [{ "field": "first_message", "is": false },
            { "field": "body", "test": { "op": "regex", "value": "^\\s*(спасибо|thank you|thanks)[!. ]*$" } }],
          "then": [{ "do": "close" }], "stop": true },
        { "name": "everything else to anna", "then": [{ "do": "assign", "operator_id": "op-anna" }] }
    ]));
    let spam = rules(json!([
        { "name": "known spam domain", "when": [{ "field": "sender_domain", "any_of": ["@promo-mail.test"] }],
          "then": [{ "do": "mark_spam" }, { "do": "set_queue", "queue_id": "spam" }], "stop": true },
        { "name": "after hours", "when": [{ "field": "business_hours", "open": false }, { "field": "channel", "any_of": ["email"] }],
          "then": [{ "do": "auto_reply", "template_id": "tpl-after-hours" }] },
        { "name": "always thank", "then": [{ "do": "auto_reply", "template_id": "tpl-thanks" }, { "do": "round_robin" }] }
    ]));
    let vip = rules(json!([
        { "name": "vip tag", "when": [{ "field": "tag", "has": "VIP" }], "then": [{ "do": "set_queue", "queue_id": "vip" }] },
        { "name": "disabled", "enabled": false, "then": [{ "do": "close" }] },
        { "name": "copy vip to the account manager", "when": [{ "field": "queue", "any_of": ["vip"] }],
          "then": [{ "do": "forward", "to": "manager@partner.test" }, { "do": "add_tags", "tags": ["vip", "forwarded"] }] }
    ]));
    let invoices = RuleSet::compile(&invoices, &known()).unwrap();
    let thanks = RuleSet::compile(&thanks, &known()).unwrap();
    let spam = RuleSet::compile(&spam, &known()).unwrap();
    let vip = RuleSet::compile(&vip, &known()).unwrap();
    assert_eq!(vip.len(), 2, "a disabled rule does not run");

    // (what, rule set, message, check)
    type Check = fn(&Outcome);
    let premium_invoice = Message {
        tier: CustomerTier::Premium,
        ..mail("acc@client.test", "Счёт № 2026-1187", "во вложении")
    };
    let reply_thanks = Message { first: false, ..mail("ivan@mail.test", "Re: [#12] Заказ", "  Спасибо! ") };
    let reply_more = Message {
        first: false,
        ..mail("ivan@mail.test", "Re: [#12] Заказ", "Спасибо, но курьер не пришёл")
    };
    let night = Message { open: false, ..mail("ivan@mail.test", "Где заказ", "...") };
    let tagged = Message { tags: vec!["vip".into()], ..mail("boss@client.test", "Hello", "...") };
    let table: Vec<(&str, &RuleSet, Message, Check)> = vec![
        (
            "an invoice in Russian goes to billing, tagged",
            &invoices,
            mail("acc@client.test", "Счёт № 2026-1187", "во вложении"),
            |o| {
                assert_eq!(o.queue_id.as_deref(), Some("billing"));
                assert_eq!(o.add_tags, ["invoice"]);
                assert_eq!(o.priority, None, "a standard customer's invoice is not urgent");
            },
        ),
        (
            "an English invoice matches regardless of case",
            &invoices,
            mail("a@b.test", "INVOICE #77 for November", ""),
            |o| {
                assert_eq!(o.queue_id.as_deref(), Some("billing"));
            },
        ),
        ("a later rule sees the queue an earlier one set", &invoices, premium_invoice, |o| {
            assert_eq!(fired(o), ["invoices to billing", "billing is urgent for premium"]);
            assert_eq!(o.priority, Some(Priority::Urgent));
        }),
        ("no rule fires on an ordinary question", &invoices, mail("a@b.test", "Where is my order?", "..."), |o| {
            assert_eq!(*o, Outcome::default());
        }),
        ("a thank-you reply is closed and stops the rules", &thanks, reply_thanks, |o| {
            assert!(o.close);
            assert_eq!(fired(o), ["thank-you replies close"]);
            assert_eq!(o.assign, None);
        }),
        ("a reply that only starts with thanks stays open", &thanks, reply_more, |o| {
            assert!(!o.close);
            assert_eq!(o.assign, Some(Assignment::Operator("op-anna".into())));
        }),
        (
            "a spam domain and its subdomains are closed as spam",
            &spam,
            mail("news@eu.promo-mail.test", "Sale!", "..."),
            |o| {
                assert!(o.spam);
                assert_eq!(o.queue_id.as_deref(), Some("spam"));
                assert_eq!(o.auto_reply, None, "spam gets no auto-reply");
            },
        ),
        (
            "a domain that only ends the same is not the spam domain",
            &spam,
            mail("a@notpromo-mail.test", "Hi", "..."),
            |o| {
                assert!(!o.spam);
            },
        ),
        ("the first auto-reply wins", &spam, night, |o| {
            assert_eq!(o.auto_reply.as_deref(), Some("tpl-after-hours"));
            assert_eq!(o.assign, Some(Assignment::RoundRobin));
        }),
        ("in hours the general auto-reply goes out", &spam, mail("ivan@mail.test", "Где заказ", "..."), |o| {
            assert_eq!(o.auto_reply.as_deref(), Some("tpl-thanks"));
        }),
        ("a customer tag routes, and the forward follows the new queue", &vip, tagged, |o| {
            assert_eq!(o.queue_id.as_deref(), Some("vip"));
            assert_eq!(o.forward, ["manager@partner.test"]);
            assert_eq!(o.add_tags, ["forwarded"], "a tag the customer already has is not added again");
            assert!(!o.close, "the disabled rule did not run");
        }),
    ];
    for (what, set, message, check) in table {
        let outcome = run(set, &message);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&outcome)));
        assert!(result.is_ok(), "{what}: {outcome:?}");
    }
}

#[test]
fn a_rule_set_that_cannot_work_is_refused_with_the_rule_and_the_reason() {
    let cases: Vec<(Value, RuleProblem, &str)> = vec![
        (
            json!([{ "when": [{ "field": "subject", "test": { "op": "regex", "value": "(unclosed" } }], "then": [{ "do": "close" }] }]),
            RuleProblem::BadRegex { pattern: "(unclosed".into(), reason: "unclosed group".into() },
            "rule 1 (\"rule 1\"): the pattern \"(unclosed\" is not a valid regular expression: unclosed group",
        ),
        (
            json!([{ "then": [{ "do": "close" }] }, { "then": [{ "do": "forward", "to": "Support@Shop.test" }] }]),
            RuleProblem::ForwardLoop("Support@Shop.test".into()),
            "rule 2 (\"rule 2\"): forwarding to \"Support@Shop.test\" would loop: it is one of the center's own addresses",
        ),
        (
            json!([{ "then": [{ "do": "set_queue", "queue_id": "nowhere" }] }]),
            RuleProblem::UnknownQueue("nowhere".into()),
            "there is no queue",
        ),
        (
            json!([{ "then": [{ "do": "assign", "operator_id": "op-ghost" }] }]),
            RuleProblem::UnknownOperator("op-ghost".into()),
            "there is no operator",
        ),
        (
            json!([{ "then": [{ "do": "auto_reply", "template_id": "tpl-gone" }] }]),
            RuleProblem::UnknownTemplate("tpl-gone".into()),
            "there is no template",
        ),
        (
            json!([{ "when": [{ "field": "mailbox", "any_of": ["sales"] }], "then": [{ "do": "close" }] }]),
            RuleProblem::UnknownMailbox("sales".into()),
            "there is no mailbox",
        ),
        (json!([{ "then": [] }]), RuleProblem::NoActions, "at least one action"),
        (json!([{ "name": " ", "then": [{ "do": "close" }] }]), RuleProblem::NoName, "needs a name"),
        (
            json!([{ "then": [{ "do": "forward", "to": "not an address" }] }]),
            RuleProblem::BadAddress("not an address".into()),
            "not an email address",
        ),
        (
            json!([{ "when": [{ "field": "body", "test": { "op": "contains", "value": "" } }], "then": [{ "do": "close" }] }]),
            RuleProblem::EmptyText,
            "is empty",
        ),
        (
            json!([{ "when": [{ "field": "channel", "any_of": [] }], "then": [{ "do": "close" }] }]),
            RuleProblem::NoValues,
            "lists no values",
        ),
        (
            json!([{ "then": [{ "do": "round_robin" }, { "do": "assign", "operator_id": "op-anna" }] }]),
            RuleProblem::TwoAssignments,
            "both",
        ),
        (
            json!([{ "id": "same", "then": [{ "do": "close" }] }, { "id": "same", "then": [{ "do": "close" }] }]),
            RuleProblem::DuplicateId("same".into()),
            "share the id",
        ),
        // The regex crate refuses a pattern whose compiled form is huge instead of running it slowly.
        (
            json!([{ "when": [{ "field": "body", "test": { "op": "regex", "value": "(\\w{100}){100}" } }], "then": [{ "do": "close" }] }]),
            RuleProblem::BadRegex { pattern: "(\\w{100}){100}".into(), reason: "the pattern is too large".into() },
            "too large",
        ),
    ];
    for (set, problem, message) in cases {
        let error = RuleSet::compile(&rules(set.clone()), &known()).expect_err(&set.to_string());
        assert_eq!(error.problem, problem, "{set}");
        assert!(error.to_string().contains(message), "{error} should say {message:?}");
    }
    // A disabled rule is checked too: enabling it later cannot break the saved set.
    let disabled = rules(json!([{ "enabled": false, "then": [{ "do": "set_queue", "queue_id": "nowhere" }] }]));
    assert!(RuleSet::compile(&disabled, &known()).is_err());
}

#[test]
fn a_hostile_message_cannot_make_a_pattern_slow() {
    // Backtracking engines take exponential time on this pair; the regex crate is linear.
    let set = RuleSet::compile(
        &rules(json!([{ "when": [{ "field": "body", "test": { "op": "regex", "value": "^(a+)+$" } }], "then": [{ "do": "close" }] }])),
        &known(),
    )
    .unwrap();
    let body: &'static str = Box::leak(format!("{}!", "a".repeat(100_000)).into_boxed_str());
    let outcome = run(&set, &mail("x@y.test", "", body));
    assert!(!outcome.close, "the pattern does not match a body ending in '!'");
}
