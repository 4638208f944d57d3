//! SLA clocks across weekends, holidays, time zones and daylight saving changes, as data:
//! `data/calendar_cases.json` names calendars and lists due times, open/closed instants and
//! working minutes between two instants, each as a person would check them on a wall clock.

use std::collections::HashMap;

use okno_rules::{Calendar, CalendarSpec, Pause};
use serde::Deserialize;

#[derive(Deserialize)]
struct Cases {
    calendars: HashMap<String, CalendarSpec>,
    due: Vec<DueCase>,
    open: Vec<OpenCase>,
    between: Vec<BetweenCase>,
}

#[derive(Deserialize)]
struct DueCase {
    name: String,
    calendar: String,
    start: String,
    minutes: i64,
    #[serde(default)]
    pauses: Vec<(String, Option<String>)>,
    due: Option<String>,
}

#[derive(Deserialize)]
struct OpenCase {
    calendar: String,
    at: String,
    open: bool,
}

#[derive(Deserialize)]
struct BetweenCase {
    calendar: String,
    from: String,
    to: String,
    minutes: i64,
}

fn ms(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{text}: {e}")).timestamp_millis()
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.to_rfc3339()).unwrap_or_default()
}

fn load() -> (Cases, HashMap<String, Calendar>) {
    let cases: Cases = serde_json::from_str(include_str!("data/calendar_cases.json")).unwrap();
    let calendars = cases
        .calendars
        .iter()
        .map(|(name, spec)| (name.clone(), Calendar::compile(spec).unwrap_or_else(|e| panic!("{name}: {e}"))))
        .collect();
    (cases, calendars)
}

#[test]
fn due_times_match_the_wall_clock() {
    let (cases, calendars) = load();
    let mut failures = Vec::new();
    for case in &cases.due {
        let pauses: Vec<Pause> =
            case.pauses.iter().map(|(from, until)| Pause { from: ms(from), until: until.as_deref().map(ms) }).collect();
        let got = calendars[&case.calendar].add_working_minutes(ms(&case.start), case.minutes, &pauses);
        let want = case.due.as_deref().map(ms);
        if got != want {
            failures.push(format!("{}: got {:?}, want {:?}", case.name, got.map(iso), want.map(iso)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(cases.due.len() >= 10, "the table was read");
}

#[test]
fn open_and_closed_instants() {
    let (cases, calendars) = load();
    for case in &cases.open {
        assert_eq!(calendars[&case.calendar].is_open(ms(&case.at)), case.open, "{} at {}", case.calendar, case.at);
    }
}

#[test]
fn working_minutes_between_two_instants() {
    let (cases, calendars) = load();
    for case in &cases.between {
        let got = calendars[&case.calendar].working_minutes_between(ms(&case.from), ms(&case.to));
        assert_eq!(got, case.minutes, "{} from {} to {}", case.calendar, case.from, case.to);
    }
}

#[test]
fn a_calendar_that_cannot_work_is_refused_with_the_reason() {
    let mut spec = CalendarSpec::always();
    spec.time_zone = "Mars/Olympus".into();
    assert_eq!(Calendar::compile(&spec).unwrap_err().to_string(), "unknown time zone \"Mars/Olympus\"");
    let mut spec = CalendarSpec::always();
    spec.week = std::array::from_fn(|_| None);
    assert_eq!(Calendar::compile(&spec).unwrap_err().to_string(), "the calendar has no open hours");
    let mut spec = CalendarSpec::always();
    spec.week[2] = Some(okno_rules::DayHours { open: "18:00".into(), close: "09:00".into() });
    assert_eq!(
        Calendar::compile(&spec).unwrap_err().to_string(),
        "on Wednesday the center closes (09:00) before it opens (18:00)"
    );
    let mut spec = CalendarSpec::always();
    spec.week[0] = Some(okno_rules::DayHours { open: "9".into(), close: "25:00".into() });
    assert!(matches!(Calendar::compile(&spec), Err(okno_rules::CalendarError::BadTime(_))));
    let mut spec = CalendarSpec::always();
    spec.holidays = vec!["31.12.2026".into()];
    assert_eq!(Calendar::compile(&spec).unwrap_err().to_string(), "\"31.12.2026\" is not a date (YYYY-MM-DD)");
}
