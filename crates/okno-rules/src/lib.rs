//! The center's work rules, decided once for every desk and channel: what a routing rule does
//! with a message, when the center is open, when a first response and a resolution are due, and
//! what a reply template says, and which satisfaction marks go back to the operations manager.
//!
//! Everything here is a pure function of its inputs; the time is always an argument (Unix
//! milliseconds), so the server, the benches and the data-driven tests run the same code. The
//! server stores what admins write ([`Rule`], [`CalendarSpec`], [`SlaPolicySpec`], [`Template`])
//! and compiles it here; a spec that cannot work (a bad pattern, a forward back into the center,
//! a calendar without an open minute) is refused by the compile step with a typed reason, so a
//! saved rule set always evaluates.

mod calendar;
mod csat;
mod rule;
mod sla;
mod template;
pub mod wire;

pub use calendar::{Calendar, CalendarError, CalendarSpec, DayHours, Pause};
pub use csat::{CsatScale, CsatScore, CsatSettings, NotAScore};
pub use rule::{
    Action, Assignment, Condition, Facts, Fired, Known, Outcome, Rule, RuleError, RuleProblem, RuleSet, TextTest,
};
pub use sla::{Due, SlaError, SlaPolicy, SlaPolicySpec, SlaTarget, TicketClock};
pub use template::{Rendered, Template, TemplateError, TemplateVars, VARIABLES};

/// Unix milliseconds, as everywhere in Okno.
pub type Millis = okno_core::Millis;
