//! SLA clocks: when a first response is due, counting only the center's business hours.
//!
//! Pure arithmetic over Unix milliseconds with a fixed UTC offset, so the same rule runs on the
//! desktop (to sort the inbox by due time) and on the server (to decide breaches).

use crate::{CustomerTier, Millis, Priority};

const MINUTE: Millis = 60_000;
const DAY_MINUTES: i64 = 24 * 60;

/// The first-response targets of a queue, by customer tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaPolicy {
    pub premium_first_response_minutes: i64,
    pub standard_first_response_minutes: i64,
}

impl Default for SlaPolicy {
    /// The centers we build for promise 4 h to premium customers and 8 h to everyone else.
    fn default() -> Self {
        Self { premium_first_response_minutes: 4 * 60, standard_first_response_minutes: 8 * 60 }
    }
}

impl SlaPolicy {
    /// Working minutes allowed until the first response; urgent tickets get a quarter of it.
    pub fn first_response_minutes(&self, tier: CustomerTier, priority: Priority) -> i64 {
        let base = match tier {
            CustomerTier::Premium => self.premium_first_response_minutes,
            CustomerTier::Standard => self.standard_first_response_minutes,
        };
        match priority {
            Priority::Urgent => (base / 4).max(1),
            Priority::High => (base / 2).max(1),
            Priority::Normal | Priority::Low => base,
        }
    }
}

/// Opening hours, the same every working day, in the center's local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusinessHours {
    /// Local time minus UTC, in minutes (Moscow: +180).
    pub utc_offset_minutes: i64,
    /// Minute of the local day the center opens (9:00 = 540).
    pub open_minute: i64,
    /// Minute of the local day the center closes (21:00 = 1260); `open == 0 && close == 1440` is 24 h.
    pub close_minute: i64,
    /// Monday first.
    pub working_days: [bool; 7],
}

impl BusinessHours {
    /// Round the clock, every day.
    pub const ALWAYS: BusinessHours =
        BusinessHours { utc_offset_minutes: 0, open_minute: 0, close_minute: DAY_MINUTES, working_days: [true; 7] };

    fn is_working_day(&self, local_day: i64) -> bool {
        // 1970-01-01 was a Thursday: index 3 with Monday as 0.
        let weekday = (local_day + 3).rem_euclid(7) as usize;
        self.working_days[weekday]
    }

    /// Whether the center is open at `at` (a chat widget offers "leave a message" when not).
    pub fn is_open(&self, at: Millis) -> bool {
        let local = at + self.utc_offset_minutes * MINUTE;
        let day = local.div_euclid(DAY_MINUTES * MINUTE);
        let minute = local.rem_euclid(DAY_MINUTES * MINUTE) / MINUTE;
        self.is_working_day(day) && minute >= self.open_minute && minute < self.close_minute
    }

    /// The instant `working_minutes` of open time after `start`.
    ///
    /// Returns `None` when the calendar has no open time at all, so a misconfigured queue
    /// shows "no SLA" instead of looping forever.
    pub fn add_working_minutes(&self, start: Millis, working_minutes: i64) -> Option<Millis> {
        if self.close_minute <= self.open_minute || !self.working_days.iter().any(|d| *d) {
            return None;
        }
        let offset = self.utc_offset_minutes * MINUTE;
        let local = start + offset;
        let mut day = local.div_euclid(DAY_MINUTES * MINUTE);
        let mut minute_of_day = (local.rem_euclid(DAY_MINUTES * MINUTE)) as f64 / MINUTE as f64;
        let mut left = working_minutes as f64;
        loop {
            if self.is_working_day(day) {
                let from = minute_of_day.max(self.open_minute as f64);
                let available = self.close_minute as f64 - from;
                if available > 0.0 {
                    if left <= available {
                        let local_ms = day * DAY_MINUTES * MINUTE + ((from + left) * MINUTE as f64).round() as i64;
                        return Some(local_ms - offset);
                    }
                    left -= available;
                }
            }
            day += 1;
            minute_of_day = 0.0;
        }
    }
}

/// When the first response to a ticket created at `created_at` is due.
pub fn first_response_due(
    created_at: Millis,
    tier: CustomerTier,
    priority: Priority,
    policy: &SlaPolicy,
    hours: &BusinessHours,
) -> Option<Millis> {
    hours.add_working_minutes(created_at, policy.first_response_minutes(tier, priority))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_hours_are_read_in_the_centers_local_time() {
        // Moscow (+3), 9:00 to 21:00, Monday to Friday. 2026-12-07 is a Monday.
        let hours = BusinessHours {
            utc_offset_minutes: 180,
            open_minute: 9 * 60,
            close_minute: 21 * 60,
            working_days: [true, true, true, true, true, false, false],
        };
        let monday_utc = 1_796_601_600_000; // 2026-12-07T00:00:00Z
        let at = |hour: i64, minute: i64| monday_utc + (hour * 60 + minute) * MINUTE;
        assert!(!hours.is_open(at(5, 59)), "8:59 in Moscow");
        assert!(hours.is_open(at(6, 0)), "9:00 in Moscow");
        assert!(hours.is_open(at(17, 59)), "20:59 in Moscow");
        assert!(!hours.is_open(at(18, 0)), "21:00 in Moscow");
        assert!(!hours.is_open(at(6, 0) + 5 * DAY_MINUTES * MINUTE), "Saturday");
        assert!(BusinessHours::ALWAYS.is_open(at(3, 0)));
    }

    /// 2026-11-23 is a Monday; 10:00 UTC.
    const MONDAY_10_UTC: Millis = 1_795_428_000_000;

    fn moscow_office() -> BusinessHours {
        BusinessHours {
            utc_offset_minutes: 180,
            open_minute: 9 * 60,
            close_minute: 18 * 60,
            working_days: [true, true, true, true, true, false, false],
        }
    }

    #[test]
    fn round_the_clock_is_plain_addition() {
        let due = BusinessHours::ALWAYS.add_working_minutes(MONDAY_10_UTC, 240).unwrap();
        assert_eq!(due - MONDAY_10_UTC, 4 * 3_600_000);
    }

    #[test]
    fn premium_is_four_hours_standard_eight() {
        let policy = SlaPolicy::default();
        let premium =
            first_response_due(MONDAY_10_UTC, CustomerTier::Premium, Priority::Normal, &policy, &BusinessHours::ALWAYS);
        let standard = first_response_due(
            MONDAY_10_UTC,
            CustomerTier::Standard,
            Priority::Normal,
            &policy,
            &BusinessHours::ALWAYS,
        );
        assert_eq!(premium.unwrap() - MONDAY_10_UTC, 4 * 3_600_000);
        assert_eq!(standard.unwrap() - MONDAY_10_UTC, 8 * 3_600_000);
    }

    #[test]
    fn clock_stops_overnight_and_over_the_weekend() {
        // Friday 2026-11-27 16:00 Moscow = 13:00 UTC; 8 working hours: 2 on Friday, 6 on Monday.
        let friday_16_msk = MONDAY_10_UTC + 4 * 86_400_000 + 3 * 3_600_000;
        let due = moscow_office().add_working_minutes(friday_16_msk, 8 * 60).unwrap();
        // Monday 2026-11-30 15:00 Moscow = 12:00 UTC.
        let monday_15_msk = MONDAY_10_UTC + 7 * 86_400_000 + 2 * 3_600_000;
        assert_eq!(due, monday_15_msk);
    }

    #[test]
    fn created_before_opening_starts_at_opening() {
        // Monday 05:00 Moscow = 02:00 UTC; 60 minutes → 10:00 Moscow = 07:00 UTC.
        let early = MONDAY_10_UTC - 8 * 3_600_000;
        let due = moscow_office().add_working_minutes(early, 60).unwrap();
        assert_eq!(due, MONDAY_10_UTC - 3 * 3_600_000);
    }

    #[test]
    fn a_calendar_without_open_time_has_no_due_time() {
        let closed = BusinessHours { working_days: [false; 7], ..moscow_office() };
        assert_eq!(closed.add_working_minutes(MONDAY_10_UTC, 60), None);
    }

    #[test]
    fn urgent_tickets_get_a_quarter_of_the_target() {
        let policy = SlaPolicy::default();
        assert_eq!(policy.first_response_minutes(CustomerTier::Premium, Priority::Urgent), 60);
        assert_eq!(policy.first_response_minutes(CustomerTier::Standard, Priority::High), 240);
    }
}
