//! Fixed-window rate limits kept in memory: per replica, which the docs say.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::{Config, Limit};

/// Counts events per key in fixed windows.
pub struct RateLimiter {
    limit: Limit,
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    pub fn new(limit: Limit) -> Self {
        RateLimiter {
            limit,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one event for `key`; `Err(retry_after)` once the window's budget is spent.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let Ok(mut windows) = self.windows.lock() else {
            return Ok(());
        };
        if windows.len() > 50_000 {
            windows.retain(|_, (start, _)| now.duration_since(*start) < self.limit.window);
        }
        let entry = windows.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.limit.window {
            *entry = (now, 0);
        }
        if entry.1 >= self.limit.max {
            return Err(self.limit.window.saturating_sub(now.duration_since(entry.0)));
        }
        entry.1 += 1;
        Ok(())
    }
}

/// Every limiter of one process.
pub struct Limits {
    pub global: RateLimiter,
    pub auth: RateLimiter,
    pub api_key: RateLimiter,
    /// Look-ups of users by email, per user.
    pub user_search: RateLimiter,
}

impl Limits {
    pub fn from_config(config: &Config) -> Self {
        Limits {
            global: RateLimiter::new(config.rate_limit),
            auth: RateLimiter::new(config.auth_rate_limit),
            api_key: RateLimiter::new(config.api_key_rate_limit),
            user_search: RateLimiter::new(config.user_search_rate_limit),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_allows_max_then_refuses_with_the_wait() {
        let limiter = RateLimiter::new(Limit {
            max: 3,
            window: Duration::from_secs(60),
        });
        for _ in 0..3 {
            assert!(limiter.check("a").is_ok());
        }
        let retry = limiter.check("a").unwrap_err();
        assert!(retry <= Duration::from_secs(60) && retry > Duration::from_secs(50));
        assert!(limiter.check("b").is_ok(), "keys are counted separately");
    }
}
