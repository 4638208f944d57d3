//! Contact-center figures the wallboard and reports show, and Erlang C for staffing.

/// Share of offered calls answered within the threshold (the "95% in 20 s" service level).
/// Calls abandoned before the threshold are not counted against the center, as is common.
pub fn service_level(answered_within: u64, offered: u64, abandoned_within: u64) -> Option<f64> {
    let counted = offered.checked_sub(abandoned_within)?;
    (counted > 0).then(|| answered_within as f64 / counted as f64)
}

/// Erlang C: the probability that a contact waits, with `agents` operators and a traffic of
/// `erlangs` (arrival rate × average handle time).
pub fn erlang_c_wait_probability(agents: u32, erlangs: f64) -> f64 {
    if agents == 0 || erlangs <= 0.0 {
        return if erlangs > 0.0 { 1.0 } else { 0.0 };
    }
    let n = f64::from(agents);
    if erlangs >= n {
        return 1.0;
    }
    // Erlang B by its stable recurrence, then convert to C.
    let mut b = 1.0;
    for k in 1..=agents {
        let k = f64::from(k);
        b = erlangs * b / (k + erlangs * b);
    }
    n * b / (n - erlangs * (1.0 - b))
}

/// Expected service level with `agents`: the share answered within `target_secs`.
pub fn erlang_c_service_level(agents: u32, erlangs: f64, aht_secs: f64, target_secs: f64) -> f64 {
    let n = f64::from(agents);
    if erlangs >= n {
        return 0.0;
    }
    let pw = erlang_c_wait_probability(agents, erlangs);
    1.0 - pw * (-(n - erlangs) * target_secs / aht_secs).exp()
}

/// The fewest operators that reach `goal` service level for an hour's volume.
pub fn agents_needed(calls_per_hour: f64, aht_secs: f64, target_secs: f64, goal: f64) -> u32 {
    let erlangs = calls_per_hour * aht_secs / 3600.0;
    let mut agents = erlangs.ceil().max(1.0) as u32;
    while erlang_c_service_level(agents, erlangs, aht_secs, target_secs) < goal {
        agents += 1;
    }
    agents
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_level_excludes_short_abandons() {
        assert_eq!(service_level(95, 101, 1), Some(0.95));
        assert_eq!(service_level(0, 0, 0), None);
    }

    #[test]
    fn erlang_c_matches_the_textbook_example() {
        // 10 erlangs on 11 agents: P(wait) ≈ 0.682 (standard Erlang C tables).
        let p = erlang_c_wait_probability(11, 10.0);
        assert!((p - 0.682).abs() < 0.001, "{p}");
    }

    #[test]
    fn staffing_for_eighty_in_twenty() {
        // 360 calls/h, 3 min AHT = 18 erlangs: 80/20 needs 22 agents (0.716 with 21, 0.822 with 22).
        assert_eq!(agents_needed(360.0, 180.0, 20.0, 0.8), 22);
    }
}
