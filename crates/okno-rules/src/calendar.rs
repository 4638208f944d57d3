//! Business-hours calendars: a time zone, opening hours per weekday, holidays; and the
//! working-time arithmetic that SLA clocks run on.
//!
//! Invariants:
//! - Hours are wall-clock times in the calendar's zone, so 9:00 stays 9:00 across a daylight
//!   saving change; a wall time that does not exist (the spring-forward gap) opens at the first
//!   instant after the gap, an ambiguous one (fall-back) at its earlier instant.
//! - A day's hours lie inside that day (`close` up to `24:00`); a holiday closes the whole day.
//! - Every walk over days is bounded ([`HORIZON_DAYS`]): a calendar that never opens yields
//!   `None` ("no SLA") instead of a loop, and compile refuses one without any open minute.

use chrono::{Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::Millis;

const MINUTE: Millis = 60_000;
/// How far a due time may lie; beyond it the target is treated as unreachable.
const HORIZON_DAYS: u64 = 3 * 366;

/// A calendar as an admin writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CalendarSpec {
    /// IANA name: `Europe/Moscow`, `Asia/Yekaterinburg`.
    pub time_zone: String,
    /// Monday first; `None` is a day off.
    pub week: [Option<DayHours>; 7],
    /// Local dates (`2027-01-01`) the center is closed.
    #[serde(default)]
    pub holidays: Vec<String>,
}

/// One day's opening hours, `HH:MM` in the calendar's zone; `close` may be `24:00`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DayHours {
    pub open: String,
    pub close: String,
}

impl CalendarSpec {
    /// Round the clock, every day, in UTC: what a queue without a calendar gets.
    pub fn always() -> CalendarSpec {
        let day = Some(DayHours { open: "00:00".into(), close: "24:00".into() });
        CalendarSpec { time_zone: "UTC".into(), week: std::array::from_fn(|_| day.clone()), holidays: Vec::new() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("unknown time zone {0:?}")]
    UnknownZone(String),
    #[error("{0:?} is not a time of day (HH:MM, up to 24:00)")]
    BadTime(String),
    #[error("on {day} the center closes ({close}) before it opens ({open})")]
    ClosesBeforeOpening { day: &'static str, open: String, close: String },
    #[error("{0:?} is not a date (YYYY-MM-DD)")]
    BadDate(String),
    #[error("the calendar has no open hours")]
    NeverOpen,
}

/// A time the SLA clock stands still (waiting on the customer); `until: None` is still paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Pause {
    #[ts(type = "number")]
    pub from: Millis,
    #[ts(type = "number | null")]
    pub until: Option<Millis>,
}

/// A compiled calendar.
#[derive(Debug, Clone)]
pub struct Calendar {
    zone: Tz,
    /// Monday first: minutes of the local day, `open < close <= 1440`.
    week: [Option<(u32, u32)>; 7],
    /// Sorted.
    holidays: Vec<NaiveDate>,
}

const DAY_NAMES: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

fn parse_minute(text: &str) -> Result<u32, CalendarError> {
    let bad = || CalendarError::BadTime(text.to_owned());
    let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    let minute = h * 60 + m;
    if m >= 60 || minute > 24 * 60 { Err(bad()) } else { Ok(minute) }
}

impl Calendar {
    pub fn compile(spec: &CalendarSpec) -> Result<Calendar, CalendarError> {
        let zone: Tz = spec.time_zone.parse().map_err(|_| CalendarError::UnknownZone(spec.time_zone.clone()))?;
        let mut week = [None; 7];
        for (i, day) in spec.week.iter().enumerate() {
            let Some(hours) = day else { continue };
            let (open, close) = (parse_minute(&hours.open)?, parse_minute(&hours.close)?);
            if close < open {
                return Err(CalendarError::ClosesBeforeOpening {
                    day: DAY_NAMES[i],
                    open: hours.open.clone(),
                    close: hours.close.clone(),
                });
            }
            if close > open {
                week[i] = Some((open, close));
            }
        }
        if week.iter().all(Option::is_none) {
            return Err(CalendarError::NeverOpen);
        }
        let mut holidays = spec
            .holidays
            .iter()
            .map(|d| NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").map_err(|_| CalendarError::BadDate(d.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        holidays.sort_unstable();
        holidays.dedup();
        Ok(Calendar { zone, week, holidays })
    }

    /// Whether the center is open at `at`.
    pub fn is_open(&self, at: Millis) -> bool {
        let date = self.local_date(at);
        self.day_interval(date).is_some_and(|(from, to)| at >= from && at < to)
    }

    /// The instant `minutes` of open time after `start`, skipping `pauses`; `None` when a pause
    /// is still running or the calendar gives no open time within the horizon.
    pub fn add_working_minutes(&self, start: Millis, minutes: i64, pauses: &[Pause]) -> Option<Millis> {
        let mut left = minutes.max(0) * MINUTE;
        let mut sorted: Vec<Pause> = pauses.iter().copied().filter(|p| p.until.is_none_or(|u| u > p.from)).collect();
        sorted.sort_unstable_by_key(|p| p.from);
        let mut date = self.local_date(start);
        for _ in 0..HORIZON_DAYS {
            if let Some((open, close)) = self.day_interval(date) {
                let mut cursor = open.max(start);
                while cursor < close {
                    // The next pause that covers or follows `cursor` inside today's hours.
                    let blocking = sorted.iter().find(|p| p.until.is_none_or(|u| u > cursor) && p.from < close);
                    let run_until = match blocking {
                        Some(p) if p.from <= cursor => {
                            cursor = p.until?;
                            continue;
                        }
                        Some(p) => p.from,
                        None => close,
                    };
                    let available = run_until - cursor;
                    if left <= available {
                        return Some(cursor + left);
                    }
                    left -= available;
                    cursor = run_until;
                }
            }
            date = date.checked_add_days(Days::new(1))?;
        }
        None
    }

    /// Open minutes between `from` and `to` (zero when `to <= from`).
    pub fn working_minutes_between(&self, from: Millis, to: Millis) -> i64 {
        if to <= from {
            return 0;
        }
        let mut total = 0;
        let mut date = self.local_date(from);
        let last = self.local_date(to);
        while date <= last {
            if let Some((open, close)) = self.day_interval(date) {
                let (a, b) = (open.max(from), close.min(to));
                if b > a {
                    total += b - a;
                }
            }
            let Some(next) = date.checked_add_days(Days::new(1)) else { break };
            date = next;
        }
        total / MINUTE
    }

    fn local_date(&self, at: Millis) -> NaiveDate {
        match self.zone.timestamp_millis_opt(at) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.date_naive(),
            LocalResult::None => NaiveDate::MIN,
        }
    }

    /// The open interval of a local date, as UTC milliseconds.
    fn day_interval(&self, date: NaiveDate) -> Option<(Millis, Millis)> {
        if self.holidays.binary_search(&date).is_ok() {
            return None;
        }
        let (open, close) = self.week[weekday_index(date.weekday())]?;
        Some((self.instant(date, open), self.instant(date, close)))
    }

    /// The instant a local wall time names; gaps resolve forward, overlaps to the earlier one.
    fn instant(&self, date: NaiveDate, minute: u32) -> Millis {
        let (date, minute) = if minute >= 24 * 60 {
            (date.checked_add_days(Days::new(1)).unwrap_or(date), minute - 24 * 60)
        } else {
            (date, minute)
        };
        let mut wall =
            NaiveDateTime::new(date, NaiveTime::from_hms_opt(minute / 60, minute % 60, 0).unwrap_or_default());
        // No zone has a gap longer than a few hours; step forward a quarter hour at a time.
        for _ in 0..24 {
            match self.zone.from_local_datetime(&wall) {
                LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => return t.timestamp_millis(),
                LocalResult::None => wall += chrono::Duration::minutes(15),
            }
        }
        wall.and_utc().timestamp_millis()
    }
}

fn weekday_index(day: Weekday) -> usize {
    day.num_days_from_monday() as usize
}
