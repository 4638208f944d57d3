//! How many failed sign-ins the server takes before it answers 429: per account name, per
//! client address, and overall, each in a sliding window; in memory, per instance.
//!
//! Invariants:
//! - A flood of made-up names cannot reset anything. Each window keeps at most the failures of
//!   its span, and the overall limit caps how many failures a span can hold, so the per-name and
//!   per-address maps are bounded by it too: entries are dropped only when they expire, never
//!   to make room.
//! - A refused attempt (limited before the password is checked) is not a failure: it costs no
//!   Argon2 work and does not extend anyone's wait.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The limits, per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    pub per_name: usize,
    pub per_address: usize,
    pub overall: usize,
    pub window: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits { per_name: 5, per_address: 20, overall: 300, window: Duration::from_secs(60) }
    }
}

/// Which limit refused an attempt, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    Name(u64),
    Address(u64),
    Overall(u64),
}

impl Limited {
    /// Seconds until the attempt may be made again.
    pub fn wait_seconds(self) -> u64 {
        match self {
            Limited::Name(s) | Limited::Address(s) | Limited::Overall(s) => s,
        }
    }
}

#[derive(Debug, Default)]
struct Failures {
    by_name: HashMap<String, VecDeque<Instant>>,
    by_address: HashMap<IpAddr, VecDeque<Instant>>,
    overall: VecDeque<Instant>,
    /// When expired entries were last swept from the maps.
    swept: Option<Instant>,
}

/// Failed sign-ins, shared by the requests of one instance.
#[derive(Debug)]
pub struct LoginLimiter {
    limits: LoginLimits,
    failures: Mutex<Failures>,
}

fn expire(list: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while list.front().is_some_and(|t| now.saturating_duration_since(*t) >= window) {
        list.pop_front();
    }
}

/// `Some(seconds)` when `list` is at `max` within the window.
fn full(list: &VecDeque<Instant>, max: usize, now: Instant, window: Duration) -> Option<u64> {
    (list.len() >= max).then(|| {
        let oldest = list.front().copied().unwrap_or(now);
        window.saturating_sub(now.saturating_duration_since(oldest)).as_secs().max(1)
    })
}

impl LoginLimiter {
    pub fn new(limits: LoginLimits) -> Self {
        LoginLimiter { limits, failures: Mutex::new(Failures::default()) }
    }

    /// May `name` from `address` try a password now?
    pub fn check(&self, name: &str, address: Option<IpAddr>, now: Instant) -> Result<(), Limited> {
        let LoginLimits { per_name, per_address, overall, window } = self.limits;
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        expire(&mut f.overall, now, window);
        if let Some(list) = f.by_name.get_mut(name) {
            expire(list, now, window);
            if let Some(wait) = full(list, per_name, now, window) {
                return Err(Limited::Name(wait));
            }
        }
        if let Some(list) = address.and_then(|a| f.by_address.get_mut(&a)) {
            expire(list, now, window);
            if let Some(wait) = full(list, per_address, now, window) {
                return Err(Limited::Address(wait));
            }
        }
        if let Some(wait) = full(&f.overall, overall, now, window) {
            return Err(Limited::Overall(wait));
        }
        Ok(())
    }

    pub fn record_failure(&self, name: &str, address: Option<IpAddr>, now: Instant) {
        let window = self.limits.window;
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        f.overall.push_back(now);
        f.by_name.entry(name.to_owned()).or_default().push_back(now);
        if let Some(address) = address {
            f.by_address.entry(address).or_default().push_back(now);
        }
        // Sweep expired keys once per window: the maps then hold at most the failures of about
        // two windows, which the overall limit bounds.
        if f.swept.is_none_or(|t| now.saturating_duration_since(t) >= window) {
            f.by_name.retain(|_, list| {
                expire(list, now, window);
                !list.is_empty()
            });
            f.by_address.retain(|_, list| {
                expire(list, now, window);
                !list.is_empty()
            });
            f.swept = Some(now);
        }
    }

    /// A successful sign-in forgets the name's failures (not the address's: one right
    /// password does not excuse a spray from the same machine).
    pub fn clear(&self, name: &str) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).by_name.remove(name);
    }

    /// Names and addresses currently tracked (for tests and metrics).
    pub fn tracked(&self) -> (usize, usize) {
        let f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        (f.by_name.len(), f.by_address.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([10, 0, 0, last]))
    }

    #[test]
    fn each_limit_blocks_in_its_window() {
        let limiter =
            LoginLimiter::new(LoginLimits { per_name: 3, per_address: 5, overall: 8, window: Duration::from_secs(60) });
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(limiter.check("anna", ip(1), t0), Ok(()));
            limiter.record_failure("anna", ip(i + 1), t0);
        }
        assert_eq!(limiter.check("anna", ip(9), t0 + Duration::from_secs(10)), Err(Limited::Name(50)));
        assert_eq!(limiter.check("boris", ip(9), t0), Ok(()), "per name");
        assert_eq!(limiter.check("anna", ip(9), t0 + Duration::from_secs(60)), Ok(()), "expired");

        // A minute later anna's failures have expired; eight more fill the overall limit.
        let t1 = t0 + Duration::from_secs(61);
        for n in 0..5 {
            limiter.record_failure(&format!("n{n}"), ip(7), t1);
        }
        for n in 0..3 {
            limiter.record_failure(&format!("m{n}"), ip(n + 20), t1);
        }
        assert_eq!(limiter.check("olga", ip(7), t1), Err(Limited::Address(60)), "per address");
        assert_eq!(limiter.check("olga", ip(8), t1), Err(Limited::Overall(60)), "8 failures overall");
        assert_eq!(limiter.check("olga", ip(8), t1 + Duration::from_secs(60)), Ok(()));
    }

    #[test]
    fn a_flood_of_names_does_not_reset_the_limits() {
        let limiter = LoginLimiter::new(LoginLimits::default());
        let t0 = Instant::now();
        for _ in 0..5 {
            limiter.record_failure("anna", ip(1), t0);
        }
        // 10,000 names from 10,000 addresses, as fast as the limiter lets them in.
        let mut let_in = 0;
        for n in 0..10_000u32 {
            let address = Some(IpAddr::from(n.to_be_bytes()));
            if limiter.check(&format!("spray{n}"), address, t0).is_ok() {
                limiter.record_failure(&format!("spray{n}"), address, t0);
                let_in += 1;
            }
        }
        assert_eq!(let_in, 300 - 5, "the overall limit stops the spray");
        assert!(matches!(limiter.check("anna", ip(2), t0), Err(Limited::Name(_))), "anna is still blocked");
        let (names, addresses) = limiter.tracked();
        assert!(names <= 300 && addresses <= 300, "memory bounded: {names} names, {addresses} addresses");
    }
}
