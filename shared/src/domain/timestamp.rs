//! UTC instants, rendered as RFC 3339 with milliseconds and a `Z`, a fixed-width
//! form that also sorts correctly as a string (the store's range keys rely on it).

use std::fmt;
use std::time::Duration;

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

use super::DomainError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    pub const EPOCH: Timestamp = Timestamp(OffsetDateTime::UNIX_EPOCH);

    pub fn from_unix_millis(millis: i64) -> Result<Self, DomainError> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
            .map(Self)
            .map_err(|_| DomainError::invalid("timestamp", "out of range"))
    }

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        OffsetDateTime::parse(raw, &Rfc3339)
            .ok()
            // An offset can carry an instant past year 9999 in UTC, which
            // `to_offset` would panic on: refused like any other bad instant.
            .and_then(|t| t.checked_to_offset(UtcOffset::UTC))
            .map(Self)
            .ok_or_else(|| DomainError::invalid("timestamp", "must be an RFC 3339 instant"))
    }

    pub fn unix_millis(self) -> i64 {
        // In range for any instant OffsetDateTime can hold with a 4-digit year.
        (self.0.unix_timestamp_nanos() / 1_000_000) as i64
    }

    pub fn unix_seconds(self) -> i64 {
        self.0.unix_timestamp()
    }

    pub fn plus(self, duration: Duration) -> Self {
        Self(
            self.0
                .saturating_add(duration.try_into().unwrap_or(time::Duration::MAX)),
        )
    }

    pub fn to_rfc3339(self) -> String {
        let format = format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        // Formatting a UTC instant with a 4-digit year cannot fail; fall back to the
        // library's own RFC 3339 form rather than panic if it ever did.
        self.0
            .to_offset(UtcOffset::UTC)
            .format(&format)
            .or_else(|_| self.0.format(&Rfc3339))
            .unwrap_or_default()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_fixed_width_utc_and_parses_back() {
        let t = Timestamp::from_unix_millis(1_795_608_000_123).unwrap();
        let text = t.to_rfc3339();
        assert_eq!(text, "2026-11-25T12:00:00.123Z");
        assert_eq!(Timestamp::parse(&text), Ok(t));
        let whole = Timestamp::from_unix_millis(1_795_608_000_000).unwrap();
        assert_eq!(whole.to_rfc3339(), "2026-11-25T12:00:00.000Z");
        assert!(whole.to_rfc3339() < t.to_rfc3339());
    }

    #[test]
    fn an_instant_past_what_utc_can_hold_is_refused_not_a_panic() {
        assert!(Timestamp::parse("9999-12-31T23:59:59-01:00").is_err());
        assert!(Timestamp::parse("9999-12-31T23:59:59+01:00").is_ok());
    }

    #[test]
    fn adds_durations() {
        let t = Timestamp::from_unix_millis(1_000).unwrap();
        assert_eq!(t.plus(Duration::from_secs(900)).unix_millis(), 901_000);
    }
}
