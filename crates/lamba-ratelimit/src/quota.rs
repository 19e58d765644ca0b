//! Quotas, the rates they are written in, and the limits the server applies.

use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

/// A named limit: `per_period` requests per `period`, with a burst of `per_period`.
///
/// The limit is a GCRA (a leaky bucket without a background refill): a fresh
/// key may spend all `per_period` requests at once, and then earns one back
/// every `period / per_period`. The name keeps the counters of two quotas
/// apart, so two quotas applied to the same key never share a budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Quota {
    /// Names the counters (`sessions_user`, `signin_ip`, ...). It is part of the
    /// Redis key, so it must stay short and made of `[a-z0-9_]`.
    pub name: &'static str,
    /// How many requests a key may make per `period`; also the burst.
    pub per_period: NonZeroU32,
    /// The window `per_period` is counted over.
    pub period: Duration,
}

impl Quota {
    /// A quota of `per_period` requests per `period`.
    pub const fn new(name: &'static str, per_period: NonZeroU32, period: Duration) -> Self {
        Self {
            name,
            per_period,
            period,
        }
    }

    /// A quota of `per_period` requests per minute.
    pub const fn per_minute(name: &'static str, per_period: NonZeroU32) -> Self {
        Self::new(name, per_period, Duration::from_secs(60))
    }

    /// The rate this quota counts at.
    pub const fn rate(&self) -> Rate {
        Rate {
            per_period: self.per_period,
            period: self.period,
        }
    }

    /// The time one request's worth of budget takes to come back: `period / per_period`,
    /// never less than a nanosecond so that the arithmetic stays defined.
    pub(crate) fn emission_interval(&self) -> Duration {
        (self.period / self.per_period.get()).max(Duration::from_nanos(1))
    }
}

impl fmt::Display for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, self.rate())
    }
}

/// A rate as configured: `per_period` requests per `period`, parsed from `60`,
/// `60/min`, `10/s` or `1000/h`.
///
/// A bare number counts per minute, so `LAMBA_RATE_LIMIT_SESSIONS=60` means
/// 60 per minute. Units: `s`, `sec`, `second`; `m`, `min`, `minute`; `h`,
/// `hour`; `d`, `day` (plurals accepted). `FromStr` makes it usable directly
/// as a clap value parser.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rate {
    /// How many requests per `period`.
    pub per_period: NonZeroU32,
    /// The window.
    pub period: Duration,
}

impl Rate {
    /// The quota named `name` that counts at this rate.
    pub const fn quota(self, name: &'static str) -> Quota {
        Quota::new(name, self.per_period, self.period)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.period.as_secs();
        let unit = match (seconds, self.period.subsec_nanos()) {
            (1, 0) => "s",
            (60, 0) => "min",
            (3600, 0) => "h",
            (86_400, 0) => "d",
            _ => return write!(f, "{}/{}ms", self.per_period, self.period.as_millis()),
        };
        write!(f, "{}/{unit}", self.per_period)
    }
}

/// Why a rate did not parse. The message names the value and shows the accepted forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid rate {value:?}: {reason}; expected requests per period such as `60` (per minute), `60/min`, `10/s` or `1000/h`"
)]
pub struct RateParseError {
    value: String,
    reason: &'static str,
}

impl FromStr for Rate {
    type Err = RateParseError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let error = |reason| RateParseError {
            value: value.to_owned(),
            reason,
        };
        let (count, unit) = match value.split_once('/') {
            Some((count, unit)) => (count.trim(), Some(unit.trim())),
            None => (value.trim(), None),
        };
        if count.is_empty() {
            return Err(error("the number of requests is missing"));
        }
        if !count.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(error("the number of requests must be a whole number"));
        }
        let count: u32 = count
            .parse()
            .map_err(|_| error("the number of requests is too large"))?;
        let per_period = NonZeroU32::new(count)
            .ok_or_else(|| error("the number of requests must be at least 1"))?;
        let seconds = match unit.map(str::to_ascii_lowercase).as_deref() {
            None => 60,
            Some("s" | "sec" | "secs" | "second" | "seconds") => 1,
            Some("m" | "min" | "mins" | "minute" | "minutes") => 60,
            Some("h" | "hour" | "hours") => 3600,
            Some("d" | "day" | "days") => 86_400,
            Some("") => return Err(error("the period after `/` is missing")),
            Some(_) => return Err(error("unknown period; use s, min, h or d")),
        };
        Ok(Self {
            per_period,
            period: Duration::from_secs(seconds),
        })
    }
}

/// The limits the HTTP layer applies, each from its own environment variable.
///
/// | variable | quota | default | keyed by |
/// |---|---|---|---|
/// | `LAMBA_RATE_LIMIT_SESSIONS` | `sessions_user` | 60/min | user, on `/v1/sessions/*` |
/// | `LAMBA_RATE_LIMIT_SESSIONS_IP` | `sessions_ip` | the value of `LAMBA_RATE_LIMIT_SESSIONS` | client IP, on `/v1/sessions/*` |
/// | `LAMBA_RATE_LIMIT_SIGNIN` | `signin_identifier` | 10/min | sign-in identifier (normalised email) |
/// | `LAMBA_RATE_LIMIT_SIGNIN_IP` | `signin_ip` | 100/min | client IP, on sign-in |
/// | `LAMBA_RATE_LIMIT_TOKEN` | `token_client` | 600000/min | client id, on `/connect/token` |
///
/// Why these defaults:
/// - Sessions: 60 per minute per user and per IP is the contract (CONTRACTS.md §3.1).
/// - Sign-in per identifier, 10 per minute: the brute-force defence. A person
///   who mistypes a password a few times never meets it; a guesser gets at
///   most 14,400 tries a day against one account, on every node together.
/// - Sign-in per IP, 100 per minute: the credential-stuffing defence, set ten
///   times higher than the per-identifier limit because many people share an
///   address (office NAT, carrier-grade NAT). Load tests that sign in many
///   users from one address should raise it.
/// - Token per client id, 600,000 per minute (10,000 a second): the token
///   endpoint's grants are high-entropy secrets, so its limit only stops one
///   runaway client from starving the others. It is keyed by client, never by
///   IP, because a per-IP limit would cap a benchmark or a backend that mints
///   tokens from one host; and it sits above what one small node serves, so it
///   never shapes a benchmark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `/v1/sessions/*` per user.
    pub sessions_per_user: Quota,
    /// `/v1/sessions/*` per client IP.
    pub sessions_per_ip: Quota,
    /// Sign-in attempts per identifier.
    pub signin_per_identifier: Quota,
    /// Sign-in attempts per client IP.
    pub signin_per_ip: Quota,
    /// `/connect/token` requests per client id.
    pub token_per_client: Quota,
}

/// The environment variable for [`Limits::sessions_per_user`].
pub const ENV_SESSIONS: &str = "LAMBA_RATE_LIMIT_SESSIONS";
/// The environment variable for [`Limits::sessions_per_ip`].
pub const ENV_SESSIONS_IP: &str = "LAMBA_RATE_LIMIT_SESSIONS_IP";
/// The environment variable for [`Limits::signin_per_identifier`].
pub const ENV_SIGNIN: &str = "LAMBA_RATE_LIMIT_SIGNIN";
/// The environment variable for [`Limits::signin_per_ip`].
pub const ENV_SIGNIN_IP: &str = "LAMBA_RATE_LIMIT_SIGNIN_IP";
/// The environment variable for [`Limits::token_per_client`].
pub const ENV_TOKEN: &str = "LAMBA_RATE_LIMIT_TOKEN";

const fn per_minute(name: &'static str, count: u32) -> Quota {
    match NonZeroU32::new(count) {
        Some(count) => Quota::per_minute(name, count),
        None => Quota::per_minute(name, NonZeroU32::MIN),
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            sessions_per_user: per_minute("sessions_user", 60),
            sessions_per_ip: per_minute("sessions_ip", 60),
            signin_per_identifier: per_minute("signin_identifier", 10),
            signin_per_ip: per_minute("signin_ip", 100),
            token_per_client: per_minute("token_client", 600_000),
        }
    }
}

/// A limit's environment variable held a value that is not a rate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {source}")]
pub struct LimitsError {
    /// The variable that held the bad value.
    pub variable: &'static str,
    /// What was wrong with it.
    pub source: RateParseError,
}

impl Limits {
    /// Reads the limits from the process environment; see [`Limits::from_lookup`].
    pub fn from_env() -> Result<Self, LimitsError> {
        Self::from_lookup(|variable| std::env::var(variable).ok())
    }

    /// Reads the limits through `lookup` (an environment-variable getter), over
    /// the defaults. An unset or blank variable keeps its default;
    /// `LAMBA_RATE_LIMIT_SESSIONS_IP` defaults to the sessions value.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, LimitsError> {
        let read = |variable: &'static str, default: Quota| -> Result<Quota, LimitsError> {
            match lookup(variable) {
                Some(value) if !value.trim().is_empty() => value
                    .parse::<Rate>()
                    .map(|rate| rate.quota(default.name))
                    .map_err(|source| LimitsError { variable, source }),
                _ => Ok(default),
            }
        };
        let defaults = Self::default();
        let sessions_per_user = read(ENV_SESSIONS, defaults.sessions_per_user)?;
        let sessions_per_ip = read(
            ENV_SESSIONS_IP,
            sessions_per_user
                .rate()
                .quota(defaults.sessions_per_ip.name),
        )?;
        Ok(Self {
            sessions_per_user,
            sessions_per_ip,
            signin_per_identifier: read(ENV_SIGNIN, defaults.signin_per_identifier)?,
            signin_per_ip: read(ENV_SIGNIN_IP, defaults.signin_per_ip)?,
            token_per_client: read(ENV_TOKEN, defaults.token_per_client)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(value: &str) -> Result<(u32, u64), String> {
        value
            .parse::<Rate>()
            .map(|rate| (rate.per_period.get(), rate.period.as_secs()))
            .map_err(|error| error.to_string())
    }

    #[test]
    fn parses_the_documented_forms() {
        assert_eq!(rate("60"), Ok((60, 60)));
        assert_eq!(rate("60/min"), Ok((60, 60)));
        assert_eq!(rate("10/s"), Ok((10, 1)));
        assert_eq!(rate("1000/h"), Ok((1000, 3600)));
        assert_eq!(rate(" 5 / Minute "), Ok((5, 60)));
        assert_eq!(rate("7/days"), Ok((7, 86_400)));
        assert_eq!(rate("4294967295/s"), Ok((u32::MAX, 1)));
    }

    #[test]
    fn rejects_bad_values_with_a_reason() {
        let cases = [
            ("", "the number of requests is missing"),
            ("/min", "the number of requests is missing"),
            ("0", "must be at least 1"),
            ("-5", "whole number"),
            ("1.5/s", "whole number"),
            ("ten", "whole number"),
            ("4294967296", "too large"),
            ("10/", "period after `/` is missing"),
            ("10/fortnight", "unknown period"),
            ("10/s/s", "unknown period"),
        ];
        for (value, reason) in cases {
            let message = rate(value).expect_err(value);
            assert!(message.contains(reason), "{value:?}: {message}");
            assert!(message.contains("`60/min`"), "{value:?}: {message}");
        }
    }

    #[test]
    fn displays_rates_as_they_are_written() {
        for value in ["60/min", "10/s", "1000/h", "3/d"] {
            assert_eq!(value.parse::<Rate>().unwrap().to_string(), value);
        }
        assert_eq!("60".parse::<Rate>().unwrap().to_string(), "60/min");
    }

    #[test]
    fn limits_default_and_read_the_environment() {
        let limits = Limits::from_lookup(|_| None).unwrap();
        assert_eq!(limits, Limits::default());
        assert_eq!(limits.sessions_per_user.to_string(), "sessions_user 60/min");
        assert_eq!(limits.signin_per_identifier.rate().to_string(), "10/min");
        assert_eq!(limits.signin_per_ip.rate().to_string(), "100/min");
        assert_eq!(limits.token_per_client.rate().to_string(), "600000/min");

        let limits = Limits::from_lookup(|variable| match variable {
            ENV_SESSIONS => Some("30".to_owned()),
            ENV_SIGNIN => Some("5/min".to_owned()),
            ENV_TOKEN => Some("  ".to_owned()),
            _ => None,
        })
        .unwrap();
        assert_eq!(limits.sessions_per_user.rate().to_string(), "30/min");
        // The per-IP sessions limit follows the sessions one unless set itself.
        assert_eq!(limits.sessions_per_ip.rate().to_string(), "30/min");
        assert_eq!(limits.sessions_per_ip.name, "sessions_ip");
        assert_eq!(limits.signin_per_identifier.rate().to_string(), "5/min");
        assert_eq!(limits.token_per_client, Limits::default().token_per_client);

        let error =
            Limits::from_lookup(|variable| (variable == ENV_SIGNIN_IP).then(|| "lots".to_owned()))
                .unwrap_err();
        assert_eq!(error.variable, ENV_SIGNIN_IP);
        assert!(
            error
                .to_string()
                .starts_with("LAMBA_RATE_LIMIT_SIGNIN_IP: invalid rate \"lots\"")
        );
    }
}
