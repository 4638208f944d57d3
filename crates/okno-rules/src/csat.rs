//! Customer satisfaction marks: what a customer may answer after a closed contact, and which
//! answers count as bad (those go back to the operations manager).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The scale a center asks on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum CsatScale {
    /// Good, normal, bad.
    #[default]
    Three,
    /// 1 to 5 stars.
    Five,
}

/// One answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum CsatScore {
    Good,
    Normal,
    Bad,
    Stars1,
    Stars2,
    Stars3,
    Stars4,
    Stars5,
}

/// How a center asks for marks, as admins and team leads set it in the window; the server keeps
/// it and every instance reads it when it asks or takes an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CsatSettings {
    pub scale: CsatScale,
    /// Ask email customers by a link after their ticket is resolved (needs the server's public
    /// address, `[csat] public_url` in its config).
    pub ask_by_email: bool,
    /// Ask website visitors in the widget when their chat ends.
    pub ask_in_chat: bool,
    /// Where a bad mark reopens the ticket (`None`: in its own queue).
    pub manager_queue_id: Option<String>,
}

impl Default for CsatSettings {
    fn default() -> Self {
        CsatSettings { scale: CsatScale::Three, ask_by_email: true, ask_in_chat: true, manager_queue_id: None }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an answer on this scale")]
pub struct NotAScore(pub String);

impl CsatScore {
    /// The answers a scale offers, best first.
    pub fn choices(scale: CsatScale) -> &'static [CsatScore] {
        match scale {
            CsatScale::Three => &[CsatScore::Good, CsatScore::Normal, CsatScore::Bad],
            CsatScale::Five => {
                &[CsatScore::Stars5, CsatScore::Stars4, CsatScore::Stars3, CsatScore::Stars2, CsatScore::Stars1]
            }
        }
    }

    /// Read an answer as a form or the widget sends it (`good`, `bad`, `1`..`5`), on `scale`.
    pub fn parse(text: &str, scale: CsatScale) -> Result<CsatScore, NotAScore> {
        let score = match text.trim() {
            "good" => CsatScore::Good,
            "normal" => CsatScore::Normal,
            "bad" => CsatScore::Bad,
            "1" => CsatScore::Stars1,
            "2" => CsatScore::Stars2,
            "3" => CsatScore::Stars3,
            "4" => CsatScore::Stars4,
            "5" => CsatScore::Stars5,
            other => return Err(NotAScore(other.to_owned())),
        };
        if CsatScore::choices(scale).contains(&score) { Ok(score) } else { Err(NotAScore(text.to_owned())) }
    }

    /// The stored form: `good`, `normal`, `bad` or the number of stars.
    pub fn as_str(self) -> &'static str {
        match self {
            CsatScore::Good => "good",
            CsatScore::Normal => "normal",
            CsatScore::Bad => "bad",
            CsatScore::Stars1 => "1",
            CsatScore::Stars2 => "2",
            CsatScore::Stars3 => "3",
            CsatScore::Stars4 => "4",
            CsatScore::Stars5 => "5",
        }
    }

    /// A bad mark reopens the ticket for the operations manager: "bad", or one or two stars.
    pub fn is_bad(self) -> bool {
        matches!(self, CsatScore::Bad | CsatScore::Stars1 | CsatScore::Stars2)
    }

    /// The mark on a 0–100 scale, for averages across both scales in reports.
    pub fn percent(self) -> u8 {
        match self {
            CsatScore::Good | CsatScore::Stars5 => 100,
            CsatScore::Stars4 => 75,
            CsatScore::Normal | CsatScore::Stars3 => 50,
            CsatScore::Stars2 => 25,
            CsatScore::Bad | CsatScore::Stars1 => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_on_their_scale_and_the_bad_ones_are_known() {
        assert_eq!(CsatScore::parse("bad", CsatScale::Three), Ok(CsatScore::Bad));
        assert_eq!(CsatScore::parse(" 2 ", CsatScale::Five), Ok(CsatScore::Stars2));
        assert!(CsatScore::parse("2", CsatScale::Three).is_err(), "stars on a three-answer scale");
        assert!(CsatScore::parse("good", CsatScale::Five).is_err());
        assert!(CsatScore::parse("excellent", CsatScale::Three).is_err());
        let bad: Vec<&str> = [CsatScale::Three, CsatScale::Five]
            .iter()
            .flat_map(|s| CsatScore::choices(*s))
            .filter(|c| c.is_bad())
            .map(|c| c.as_str())
            .collect();
        assert_eq!(bad, ["bad", "2", "1"]);
        assert_eq!(CsatScore::Stars4.percent(), 75);
    }
}
