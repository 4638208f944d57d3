//! Routing and auto-close rules: ordered, each a list of conditions that must all hold and a list
//! of actions, with "stop here".
//!
//! Contract:
//! - Rules run top to bottom, each at most once per message, so a rule set cannot loop inside
//!   the server. Later rules see what earlier ones did: a rule that moves a message to the
//!   billing queue makes "queue is billing" true for the rules below it.
//! - Single-valued actions (queue, priority, assignee) are last-writer-wins; tags accumulate;
//!   the first auto-reply wins (a customer gets at most one per message); forwards accumulate.
//! - [`RuleSet::compile`] refuses, with the rule and the reason, everything that could fail or
//!   loop at run time: a pattern that does not compile or is too large, a queue, operator or
//!   template that does not exist, a forward to one of the center's own addresses (the message
//!   would come back in and fire the rule again), a rule without actions.
//! - Evaluation never fails and never allocates per rule beyond the [`Outcome`].

use okno_core::{Channel, CustomerTier, Priority};
use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Longest pattern or phrase an admin may enter.
const MAX_PATTERN_CHARS: usize = 500;
/// The compiled size of one regex; larger means a pattern written to be slow or huge.
const MAX_REGEX_BYTES: usize = 256 * 1024;
/// More rules than a center can reason about; also bounds the work per message.
pub(crate) const MAX_RULES: usize = 1000;

/// A rule as an admin writes it and the server stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Rule {
    pub id: String,
    pub name: String,
    pub enabled: bool,
    /// All must hold; an empty list always holds.
    pub when: Vec<Condition>,
    pub then: Vec<Action>,
    /// When this rule fires, the rules below it are not considered.
    pub stop: bool,
}

/// What a rule can look at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "field", rename_all = "snake_case")]
pub enum Condition {
    Channel {
        any_of: Vec<Channel>,
    },
    /// The queue the message is in now (after the rules above).
    Queue {
        any_of: Vec<String>,
    },
    /// The mailbox an email arrived in (by its configured name).
    Mailbox {
        any_of: Vec<String>,
    },
    /// The sender's address.
    Sender {
        test: TextTest,
    },
    /// The part after `@` of the sender's address; subdomains match too.
    SenderDomain {
        any_of: Vec<String>,
    },
    Subject {
        test: TextTest,
    },
    Body {
        test: TextTest,
    },
    Tier {
        is: CustomerTier,
    },
    /// A tag on the customer or the ticket (including tags added by the rules above).
    Tag {
        has: String,
    },
    /// Whether the message arrived inside the business hours of the queue's calendar.
    BusinessHours {
        open: bool,
    },
    /// Whether the message opened its ticket (`true`) or is a reply on one (`false`).
    FirstMessage {
        is: bool,
    },
}

/// A test on a text; every test ignores case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "op", content = "value", rename_all = "snake_case")]
pub enum TextTest {
    Contains(String),
    NotContains(String),
    Regex(String),
}

/// What a rule can do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "do", rename_all = "snake_case")]
pub enum Action {
    /// Move to a queue (and with it, to the queue's department).
    SetQueue {
        queue_id: String,
    },
    SetPriority {
        priority: Priority,
    },
    AddTags {
        tags: Vec<String>,
    },
    Assign {
        operator_id: String,
    },
    /// The next available operator of the (final) queue, in turn.
    RoundRobin,
    /// Answer the customer at once with a template (email channels only, never to machine mail).
    AutoReply {
        template_id: String,
    },
    /// Close without a person: "thank you" replies, notifications.
    Close,
    /// Close as spam; the sender's next mail is judged again by the rules.
    MarkSpam,
    /// Send a copy to an outside address (a contractor, a billing system).
    Forward {
        to: String,
    },
}

/// What the saved rule set may refer to; compile checks every reference against it.
#[derive(Debug, Clone, Default)]
pub struct Known {
    pub queues: Vec<String>,
    pub operators: Vec<String>,
    pub templates: Vec<String>,
    pub mailboxes: Vec<String>,
    /// The center's own addresses, lowercased: a forward to one would loop.
    pub own_addresses: Vec<String>,
}

/// Why a rule set was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rule {position} ({name:?}): {problem}")]
pub struct RuleError {
    /// 1-based, as the admin sees the list.
    pub position: usize,
    pub name: String,
    pub problem: RuleProblem,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleProblem {
    #[error("a rule needs a name")]
    NoName,
    #[error("a rule needs at least one action")]
    NoActions,
    #[error("two rules share the id {0:?}")]
    DuplicateId(String),
    #[error("the pattern {pattern:?} is not a valid regular expression: {reason}")]
    BadRegex { pattern: String, reason: String },
    #[error("a text to look for is empty")]
    EmptyText,
    #[error("a pattern or text is longer than {MAX_PATTERN_CHARS} characters")]
    TooLong,
    #[error("a condition lists no values")]
    NoValues,
    #[error("there is no queue {0:?}")]
    UnknownQueue(String),
    #[error("there is no operator {0:?}")]
    UnknownOperator(String),
    #[error("there is no template {0:?}")]
    UnknownTemplate(String),
    #[error("there is no mailbox {0:?}")]
    UnknownMailbox(String),
    #[error("{0:?} is not an email address")]
    BadAddress(String),
    #[error("forwarding to {0:?} would loop: it is one of the center's own addresses")]
    ForwardLoop(String),
    #[error("both assigning to an operator and round-robin in one rule")]
    TwoAssignments,
    #[error("more than {MAX_RULES} rules")]
    TooManyRules,
}

/// One message as the rules see it.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub channel: Channel,
    pub queue_id: &'a str,
    pub mailbox: Option<&'a str>,
    pub sender: Option<&'a str>,
    pub subject: &'a str,
    pub body: &'a str,
    pub tier: CustomerTier,
    /// The customer's and the ticket's tags.
    pub tags: &'a [String],
    pub business_hours_open: bool,
    pub first_message: bool,
}

/// Who a ticket goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "to", content = "operator_id", rename_all = "snake_case")]
pub enum Assignment {
    Operator(String),
    RoundRobin,
}

/// A rule that fired, for the ticket's history and the report event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Fired {
    pub rule_id: String,
    pub name: String,
    pub actions: Vec<Action>,
}

/// Everything the rules decided about one message; the server applies it in the message's
/// transaction.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct Outcome {
    pub fired: Vec<Fired>,
    /// The queue the message ends in, when a rule moved it.
    pub queue_id: Option<String>,
    pub priority: Option<Priority>,
    pub add_tags: Vec<String>,
    pub assign: Option<Assignment>,
    pub auto_reply: Option<String>,
    pub close: bool,
    pub spam: bool,
    pub forward: Vec<String>,
}

/// A rule set that compiled: every pattern built, every reference checked.
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<CompiledRule>,
}

#[derive(Debug, Clone)]
struct CompiledRule {
    id: String,
    name: String,
    when: Vec<Check>,
    then: Vec<Action>,
    stop: bool,
}

#[derive(Debug, Clone)]
enum Check {
    Channel(Vec<Channel>),
    Queue(Vec<String>),
    Mailbox(Vec<String>),
    Sender(Text),
    SenderDomain(Vec<String>),
    Subject(Text),
    Body(Text),
    Tier(CustomerTier),
    Tag(String),
    BusinessHours(bool),
    FirstMessage(bool),
}

#[derive(Debug, Clone)]
enum Text {
    /// Lowercased; the facts are lowercased once per message.
    Contains(String),
    NotContains(String),
    Regex(Regex),
}

impl RuleSet {
    /// Check and build `rules` (in order; disabled rules are checked too, so enabling one later
    /// cannot fail).
    pub fn compile(rules: &[Rule], known: &Known) -> Result<RuleSet, RuleError> {
        if rules.len() > MAX_RULES {
            return Err(RuleError {
                position: MAX_RULES + 1,
                name: rules[MAX_RULES].name.clone(),
                problem: RuleProblem::TooManyRules,
            });
        }
        let mut compiled = Vec::with_capacity(rules.len());
        let mut ids = std::collections::HashSet::new();
        for (index, rule) in rules.iter().enumerate() {
            let fail = |problem| RuleError { position: index + 1, name: rule.name.clone(), problem };
            if !ids.insert(rule.id.as_str()) {
                return Err(fail(RuleProblem::DuplicateId(rule.id.clone())));
            }
            let built = compile_rule(rule, known).map_err(fail)?;
            if rule.enabled {
                compiled.push(built);
            }
        }
        Ok(RuleSet { rules: compiled })
    }

    /// No rules: every message passes unchanged.
    pub fn empty() -> RuleSet {
        RuleSet { rules: Vec::new() }
    }

    /// How many enabled rules the set runs.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Run the rules over one message.
    pub fn evaluate(&self, facts: &Facts<'_>) -> Outcome {
        let lowered = Lowered::new(facts);
        let mut outcome = Outcome::default();
        for rule in &self.rules {
            let queue = outcome.queue_id.as_deref().unwrap_or(facts.queue_id);
            let holds = rule.when.iter().all(|check| check.holds(facts, &lowered, queue, &outcome.add_tags));
            if !holds {
                continue;
            }
            for action in &rule.then {
                match action {
                    Action::SetQueue { queue_id } => outcome.queue_id = Some(queue_id.clone()),
                    Action::SetPriority { priority } => outcome.priority = Some(*priority),
                    Action::AddTags { tags } => {
                        for tag in tags {
                            if !outcome.add_tags.contains(tag) && !facts.tags.contains(tag) {
                                outcome.add_tags.push(tag.clone());
                            }
                        }
                    }
                    Action::Assign { operator_id } => outcome.assign = Some(Assignment::Operator(operator_id.clone())),
                    Action::RoundRobin => outcome.assign = Some(Assignment::RoundRobin),
                    Action::AutoReply { template_id } => {
                        outcome.auto_reply.get_or_insert_with(|| template_id.clone());
                    }
                    Action::Close => outcome.close = true,
                    Action::MarkSpam => outcome.spam = true,
                    Action::Forward { to } => {
                        if !outcome.forward.contains(to) {
                            outcome.forward.push(to.clone());
                        }
                    }
                }
            }
            outcome.fired.push(Fired { rule_id: rule.id.clone(), name: rule.name.clone(), actions: rule.then.clone() });
            if rule.stop {
                break;
            }
        }
        outcome
    }
}

/// The texts of a message in lower case, made once for all rules.
struct Lowered {
    sender: String,
    domain: String,
    subject: String,
    body: String,
}

impl Lowered {
    fn new(facts: &Facts<'_>) -> Self {
        let sender = facts.sender.unwrap_or("").trim().to_lowercase();
        let domain = sender.rsplit_once('@').map(|(_, d)| d.to_owned()).unwrap_or_default();
        Lowered { sender, domain, subject: facts.subject.to_lowercase(), body: facts.body.to_lowercase() }
    }
}

impl Check {
    fn holds(&self, facts: &Facts<'_>, lowered: &Lowered, queue: &str, added: &[String]) -> bool {
        match self {
            Check::Channel(any) => any.contains(&facts.channel),
            Check::Queue(any) => any.iter().any(|q| q == queue),
            Check::Mailbox(any) => facts.mailbox.is_some_and(|m| any.iter().any(|a| a.eq_ignore_ascii_case(m))),
            Check::Sender(text) => text.holds(&lowered.sender),
            Check::SenderDomain(any) => any.iter().any(|d| {
                lowered.domain == *d || lowered.domain.strip_suffix(d.as_str()).is_some_and(|head| head.ends_with('.'))
            }),
            Check::Subject(text) => text.holds(&lowered.subject),
            Check::Body(text) => text.holds(&lowered.body),
            Check::Tier(tier) => facts.tier == *tier,
            Check::Tag(tag) => facts.tags.iter().chain(added).any(|t| t.eq_ignore_ascii_case(tag)),
            Check::BusinessHours(open) => facts.business_hours_open == *open,
            Check::FirstMessage(first) => facts.first_message == *first,
        }
    }
}

impl Text {
    fn holds(&self, lowered: &str) -> bool {
        match self {
            Text::Contains(needle) => lowered.contains(needle.as_str()),
            Text::NotContains(needle) => !lowered.contains(needle.as_str()),
            Text::Regex(re) => re.is_match(lowered),
        }
    }
}

fn compile_rule(rule: &Rule, known: &Known) -> Result<CompiledRule, RuleProblem> {
    if rule.name.trim().is_empty() {
        return Err(RuleProblem::NoName);
    }
    if rule.then.is_empty() {
        return Err(RuleProblem::NoActions);
    }
    let when = rule.when.iter().map(|c| compile_condition(c, known)).collect::<Result<Vec<_>, _>>()?;
    let mut assigns = 0;
    for action in &rule.then {
        check_action(action, known)?;
        if matches!(action, Action::Assign { .. } | Action::RoundRobin) {
            assigns += 1;
        }
    }
    if assigns > 1 {
        return Err(RuleProblem::TwoAssignments);
    }
    Ok(CompiledRule { id: rule.id.clone(), name: rule.name.clone(), when, then: rule.then.clone(), stop: rule.stop })
}

fn compile_condition(condition: &Condition, known: &Known) -> Result<Check, RuleProblem> {
    fn non_empty<T: Clone>(values: &[T]) -> Result<Vec<T>, RuleProblem> {
        if values.is_empty() { Err(RuleProblem::NoValues) } else { Ok(values.to_vec()) }
    }
    Ok(match condition {
        Condition::Channel { any_of } => Check::Channel(non_empty(any_of)?),
        Condition::Queue { any_of } => {
            for q in any_of {
                if !known.queues.contains(q) {
                    return Err(RuleProblem::UnknownQueue(q.clone()));
                }
            }
            Check::Queue(non_empty(any_of)?)
        }
        Condition::Mailbox { any_of } => {
            for m in any_of {
                if !known.mailboxes.iter().any(|k| k.eq_ignore_ascii_case(m)) {
                    return Err(RuleProblem::UnknownMailbox(m.clone()));
                }
            }
            Check::Mailbox(non_empty(any_of)?)
        }
        Condition::Sender { test } => Check::Sender(compile_text(test)?),
        Condition::SenderDomain { any_of } => {
            let domains: Vec<String> = any_of
                .iter()
                .map(|d| d.trim().trim_start_matches('@').to_lowercase())
                .filter(|d| !d.is_empty())
                .collect();
            Check::SenderDomain(non_empty(&domains)?)
        }
        Condition::Subject { test } => Check::Subject(compile_text(test)?),
        Condition::Body { test } => Check::Body(compile_text(test)?),
        Condition::Tier { is } => Check::Tier(*is),
        Condition::Tag { has } => {
            if has.trim().is_empty() {
                return Err(RuleProblem::EmptyText);
            }
            Check::Tag(has.trim().to_owned())
        }
        Condition::BusinessHours { open } => Check::BusinessHours(*open),
        Condition::FirstMessage { is } => Check::FirstMessage(*is),
    })
}

fn compile_text(test: &TextTest) -> Result<Text, RuleProblem> {
    let raw = match test {
        TextTest::Contains(s) | TextTest::NotContains(s) | TextTest::Regex(s) => s,
    };
    if raw.is_empty() {
        return Err(RuleProblem::EmptyText);
    }
    if raw.chars().count() > MAX_PATTERN_CHARS {
        return Err(RuleProblem::TooLong);
    }
    Ok(match test {
        TextTest::Contains(s) => Text::Contains(s.to_lowercase()),
        TextTest::NotContains(s) => Text::NotContains(s.to_lowercase()),
        TextTest::Regex(pattern) => Text::Regex(
            RegexBuilder::new(pattern)
                .case_insensitive(true)
                .size_limit(MAX_REGEX_BYTES)
                .dfa_size_limit(MAX_REGEX_BYTES)
                .build()
                .map_err(|e| RuleProblem::BadRegex { pattern: pattern.clone(), reason: regex_reason(&e) })?,
        ),
    })
}

/// The regex crate's message without its multi-line caret drawing, which a form cannot show.
fn regex_reason(error: &regex::Error) -> String {
    match error {
        regex::Error::CompiledTooBig(_) => "the pattern is too large".to_owned(),
        other => other.to_string().lines().last().unwrap_or("invalid").trim().trim_start_matches("error: ").to_owned(),
    }
}

fn check_action(action: &Action, known: &Known) -> Result<(), RuleProblem> {
    match action {
        Action::SetQueue { queue_id } if !known.queues.contains(queue_id) => {
            Err(RuleProblem::UnknownQueue(queue_id.clone()))
        }
        Action::Assign { operator_id } if !known.operators.contains(operator_id) => {
            Err(RuleProblem::UnknownOperator(operator_id.clone()))
        }
        Action::AutoReply { template_id } if !known.templates.contains(template_id) => {
            Err(RuleProblem::UnknownTemplate(template_id.clone()))
        }
        Action::AddTags { tags } if tags.iter().all(|t| t.trim().is_empty()) => Err(RuleProblem::NoValues),
        Action::Forward { to } => {
            let address = to.trim().to_lowercase();
            let plausible = address.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && domain.contains('.') && !address.contains(char::is_whitespace)
            });
            if !plausible {
                Err(RuleProblem::BadAddress(to.clone()))
            } else if known.own_addresses.contains(&address) {
                Err(RuleProblem::ForwardLoop(to.clone()))
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}
