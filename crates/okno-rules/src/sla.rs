//! SLA policies: first-response and resolution targets by customer tier, channel and priority,
//! counted in the business hours of the policy's calendar.
//!
//! Rules:
//! - The most specific target wins (the one naming the most of tier, channel and priority);
//!   among equally specific targets the first listed wins. A policy whose targets match nothing
//!   for a ticket gives it no due time.
//! - The first-response clock runs from the ticket's creation and stops at the first reply.
//! - The resolution clock runs from creation too, stands still while the ticket waits on the
//!   customer (its pauses), and stops when the ticket is resolved.
//! - [`Due::next`] is what the inbox sorts by and what a breach is measured against: the
//!   earlier of the targets not met yet.

use okno_core::{Channel, CustomerTier, Priority};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::Millis;
use crate::calendar::{Calendar, CalendarError, CalendarSpec, Pause};

/// A policy as an admin writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SlaPolicySpec {
    pub id: String,
    pub name: String,
    pub calendar: CalendarSpec,
    pub targets: Vec<SlaTarget>,
}

/// One line of a policy; an empty field matches every value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SlaTarget {
    pub tier: Option<CustomerTier>,
    pub channel: Option<Channel>,
    pub priority: Option<Priority>,
    /// Working minutes to the first reply.
    pub first_response_minutes: u32,
    /// Working minutes to resolution, pauses excluded; `None` sets no resolution target.
    pub resolution_minutes: Option<u32>,
}

impl SlaPolicySpec {
    /// What the centers we build for promise: 4 h to premium customers, 8 h to everyone else,
    /// resolution within three and five working days of nine hours.
    pub fn standard(id: &str, calendar: CalendarSpec) -> SlaPolicySpec {
        let target = |tier, first: u32, resolution: u32| SlaTarget {
            tier: Some(tier),
            channel: None,
            priority: None,
            first_response_minutes: first,
            resolution_minutes: Some(resolution),
        };
        SlaPolicySpec {
            id: id.to_owned(),
            name: "Standard".to_owned(),
            calendar,
            targets: vec![
                target(CustomerTier::Premium, 4 * 60, 3 * 9 * 60),
                target(CustomerTier::Standard, 8 * 60, 5 * 9 * 60),
            ],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlaError {
    #[error("a policy needs a name")]
    NoName,
    #[error("a policy needs at least one target")]
    NoTargets,
    #[error("target {0}: a first response target of 0 minutes cannot be met")]
    ZeroTarget(usize),
    #[error("target {0}: the resolution target is shorter than the first response target")]
    ResolutionBeforeResponse(usize),
    #[error("calendar: {0}")]
    Calendar(#[from] CalendarError),
}

/// A compiled policy.
#[derive(Debug, Clone)]
pub struct SlaPolicy {
    pub id: String,
    pub calendar: Calendar,
    targets: Vec<SlaTarget>,
}

/// What the clocks of one ticket need.
#[derive(Debug, Clone, Default)]
pub struct TicketClock {
    pub created_at: Millis,
    pub first_response_at: Option<Millis>,
    pub resolved_at: Option<Millis>,
    pub pauses: Vec<Pause>,
}

/// A ticket's due times; `None` where the policy sets no target (or it cannot be reached).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
pub struct Due {
    #[ts(type = "number | null")]
    pub first_response: Option<Millis>,
    #[ts(type = "number | null")]
    pub resolution: Option<Millis>,
    /// The earlier of the targets not met yet.
    #[ts(type = "number | null")]
    pub next: Option<Millis>,
}

impl SlaPolicy {
    pub fn compile(spec: &SlaPolicySpec) -> Result<SlaPolicy, SlaError> {
        if spec.name.trim().is_empty() {
            return Err(SlaError::NoName);
        }
        if spec.targets.is_empty() {
            return Err(SlaError::NoTargets);
        }
        for (i, t) in spec.targets.iter().enumerate() {
            if t.first_response_minutes == 0 {
                return Err(SlaError::ZeroTarget(i + 1));
            }
            if t.resolution_minutes.is_some_and(|r| r < t.first_response_minutes) {
                return Err(SlaError::ResolutionBeforeResponse(i + 1));
            }
        }
        Ok(SlaPolicy {
            id: spec.id.clone(),
            calendar: Calendar::compile(&spec.calendar)?,
            targets: spec.targets.clone(),
        })
    }

    /// The target that applies to a ticket.
    pub fn target(&self, tier: CustomerTier, channel: Channel, priority: Priority) -> Option<&SlaTarget> {
        self.targets
            .iter()
            .filter(|t| {
                t.tier.is_none_or(|x| x == tier)
                    && t.channel.is_none_or(|x| x == channel)
                    && t.priority.is_none_or(|x| x == priority)
            })
            // `max_by_key` keeps the last of equals; reversing keeps the first listed.
            .rev()
            .max_by_key(|t| {
                usize::from(t.tier.is_some()) + usize::from(t.channel.is_some()) + usize::from(t.priority.is_some())
            })
    }

    /// The due times of a ticket.
    pub fn due(&self, tier: CustomerTier, channel: Channel, priority: Priority, clock: &TicketClock) -> Due {
        let Some(target) = self.target(tier, channel, priority) else { return Due::default() };
        let first_response =
            self.calendar.add_working_minutes(clock.created_at, i64::from(target.first_response_minutes), &[]);
        let resolution = target
            .resolution_minutes
            .and_then(|m| self.calendar.add_working_minutes(clock.created_at, i64::from(m), &clock.pauses));
        // A ticket resolved without a reply (a duplicate, spam) owes nothing any more.
        let pending_first = first_response.filter(|_| clock.first_response_at.is_none() && clock.resolved_at.is_none());
        let pending_resolution = resolution.filter(|_| clock.resolved_at.is_none());
        let next = match (pending_first, pending_resolution) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Due { first_response, resolution, next }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MONDAY_10_MSK: Millis = 1_796_626_800_000; // 2026-12-07T07:00:00Z
    const HOUR: Millis = 3_600_000;

    fn moscow() -> CalendarSpec {
        let day = Some(crate::DayHours { open: "09:00".into(), close: "18:00".into() });
        CalendarSpec {
            time_zone: "Europe/Moscow".into(),
            week: [day.clone(), day.clone(), day.clone(), day.clone(), day, None, None],
            holidays: Vec::new(),
        }
    }

    fn target(
        tier: Option<CustomerTier>,
        channel: Option<Channel>,
        priority: Option<Priority>,
        first: u32,
    ) -> SlaTarget {
        SlaTarget { tier, channel, priority, first_response_minutes: first, resolution_minutes: None }
    }

    #[test]
    fn the_most_specific_target_wins_and_ties_go_to_the_first_listed() {
        let spec = SlaPolicySpec {
            id: "p".into(),
            name: "Chat is faster".into(),
            calendar: moscow(),
            targets: vec![
                target(None, None, None, 480),
                target(Some(CustomerTier::Premium), None, None, 240),
                target(Some(CustomerTier::Premium), Some(Channel::Chat), None, 5),
                target(None, Some(Channel::Chat), None, 15),
                target(None, None, Some(Priority::Urgent), 60),
                target(None, None, Some(Priority::Urgent), 30),
            ],
        };
        let policy = SlaPolicy::compile(&spec).unwrap();
        let minutes = |tier, channel, priority| policy.target(tier, channel, priority).unwrap().first_response_minutes;
        assert_eq!(minutes(CustomerTier::Standard, Channel::Email, Priority::Normal), 480);
        assert_eq!(minutes(CustomerTier::Premium, Channel::Email, Priority::Normal), 240);
        assert_eq!(minutes(CustomerTier::Premium, Channel::Chat, Priority::Normal), 5);
        assert_eq!(minutes(CustomerTier::Standard, Channel::Chat, Priority::Normal), 15);
        assert_eq!(minutes(CustomerTier::Standard, Channel::Email, Priority::Urgent), 60, "the first of two equals");
    }

    #[test]
    fn premium_four_hours_standard_eight_and_the_next_target_not_met() {
        let policy = SlaPolicy::compile(&SlaPolicySpec::standard("std", moscow())).unwrap();
        let clock = TicketClock { created_at: MONDAY_10_MSK, ..TicketClock::default() };
        let premium = policy.due(CustomerTier::Premium, Channel::Email, Priority::Normal, &clock);
        assert_eq!(premium.first_response, Some(MONDAY_10_MSK + 4 * HOUR));
        assert_eq!(premium.next, premium.first_response);
        let standard = policy.due(CustomerTier::Standard, Channel::Email, Priority::Normal, &clock);
        // 8 working hours from Monday 10:00: 8 on Monday would end at 18:00 exactly.
        assert_eq!(standard.first_response, Some(MONDAY_10_MSK + 8 * HOUR));
        // Answered: the resolution target is what comes due next.
        let answered = TicketClock { first_response_at: Some(MONDAY_10_MSK + HOUR), ..clock.clone() };
        let after = policy.due(CustomerTier::Premium, Channel::Email, Priority::Normal, &answered);
        assert_eq!(after.next, after.resolution);
        assert!(after.resolution > after.first_response);
        let resolved = TicketClock { resolved_at: Some(MONDAY_10_MSK + 2 * HOUR), ..answered };
        assert_eq!(policy.due(CustomerTier::Premium, Channel::Email, Priority::Normal, &resolved).next, None);
    }

    #[test]
    fn waiting_on_the_customer_moves_only_the_resolution_target() {
        let policy = SlaPolicy::compile(&SlaPolicySpec::standard("std", moscow())).unwrap();
        let plain = TicketClock { created_at: MONDAY_10_MSK, ..TicketClock::default() };
        let paused = TicketClock {
            pauses: vec![Pause { from: MONDAY_10_MSK + HOUR, until: Some(MONDAY_10_MSK + 3 * HOUR) }],
            ..plain.clone()
        };
        let a = policy.due(CustomerTier::Premium, Channel::Email, Priority::Normal, &plain);
        let b = policy.due(CustomerTier::Premium, Channel::Email, Priority::Normal, &paused);
        assert_eq!(a.first_response, b.first_response);
        assert_eq!(b.resolution.unwrap() - a.resolution.unwrap(), 2 * HOUR, "two paused working hours");
    }

    #[test]
    fn a_policy_that_cannot_work_is_refused() {
        let mut spec = SlaPolicySpec::standard("std", moscow());
        spec.targets[0].first_response_minutes = 0;
        assert_eq!(SlaPolicy::compile(&spec).unwrap_err(), SlaError::ZeroTarget(1));
        let mut spec = SlaPolicySpec::standard("std", moscow());
        spec.targets[1].resolution_minutes = Some(10);
        assert_eq!(SlaPolicy::compile(&spec).unwrap_err(), SlaError::ResolutionBeforeResponse(2));
        let mut spec = SlaPolicySpec::standard("std", moscow());
        spec.targets.clear();
        assert_eq!(SlaPolicy::compile(&spec).unwrap_err(), SlaError::NoTargets);
    }
}
