//! Daily backup schedules of Postgres add-ons (`pg:backups:schedule --at 'HH:MM [TZ]'`,
//! kept N), as plain values and one decision: given the schedule's latest due time (the
//! store computes it in the schedule's time zone, with Postgres's tz database), when it
//! last ran and the clock, is a backup due now, late because paasd was down (*missed*:
//! announced loudly and captured at once), or not yet?
//!
//! The clock is a value (`now`), so the rule is tested without waiting for a day.

use chrono::{DateTime, Duration, NaiveTime, Utc};

use crate::ParseError;

/// How many scheduled backups are kept when `--keep` is not given (Heroku keeps 7
/// daily backups on its smaller plans).
pub const DEFAULT_KEEP: u16 = 7;
/// The most a schedule may keep.
pub const MAX_KEEP: u16 = 90;
/// A due backup started later than this after its time is a *missed* one (paasd was
/// down or busy): it is captured at once and announced as missed.
pub const LATE_AFTER: Duration = Duration::minutes(10);

/// When a schedule runs: a time of day in a time zone (`02:00 Europe/Paris`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupAt {
    pub time: NaiveTime,
    /// An IANA name or `UTC`; whether the name exists is for the store to check (the
    /// tz database is Postgres's).
    pub timezone: String,
}

impl BackupAt {
    /// `HH:MM`, optionally followed by a time zone (default `UTC`).
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let bad = || {
            ParseError::new(
                "at",
                format!(
                    "--at {raw:?} is not a time of day: use 'HH:MM' or 'HH:MM TIMEZONE' (e.g. '02:00 Europe/Paris')"
                ),
            )
        };
        let mut parts = raw.split_whitespace();
        let clock = parts.next().ok_or_else(bad)?;
        let timezone = parts.next().unwrap_or("UTC");
        if parts.next().is_some() {
            return Err(bad());
        }
        let (h, m) = clock.split_once(':').ok_or_else(bad)?;
        if h.is_empty() || h.len() > 2 || m.len() != 2 {
            return Err(bad());
        }
        let hour: u32 = h.parse().map_err(|_| bad())?;
        let minute: u32 = m.parse().map_err(|_| bad())?;
        let time = NaiveTime::from_hms_opt(hour, minute, 0).ok_or_else(bad)?;
        let tz_ok = timezone.len() <= 64
            && timezone
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_+-".contains(c));
        if !tz_ok {
            return Err(bad());
        }
        Ok(Self {
            time,
            timezone: timezone.to_owned(),
        })
    }

    /// `02:00 Europe/Paris`.
    pub fn display(&self) -> String {
        format!("{} {}", self.time.format("%H:%M"), self.timezone)
    }
}

/// How many scheduled backups to keep: 1 to [`MAX_KEEP`].
pub fn parse_keep(n: i64) -> Result<u16, ParseError> {
    u16::try_from(n)
        .ok()
        .filter(|n| (1..=MAX_KEEP).contains(n))
        .ok_or_else(|| ParseError::new("keep", format!("keep must be 1 to {MAX_KEEP}")))
}

/// What a schedule asks for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduledRun {
    /// Nothing due: it ran for its latest due time, or that time came before the
    /// schedule was set.
    Wait,
    /// Due now: capture.
    Run,
    /// Due long ago and never run (paasd was down): announce it missed, then capture.
    Missed,
}

/// The decision for a schedule whose latest due time (≤ `now`) is `due`, that last ran
/// for due time `last_due` and was set at `since`.
pub fn scheduled_run(
    due: DateTime<Utc>,
    last_due: Option<DateTime<Utc>>,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> ScheduledRun {
    if due > now || due < since || last_due.is_some_and(|l| l >= due) {
        ScheduledRun::Wait
    } else if now - due > LATE_AFTER {
        ScheduledRun::Missed
    } else {
        ScheduledRun::Run
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn at_is_a_time_of_day_and_an_optional_zone() {
        let at = BackupAt::parse("02:00 Europe/Paris").unwrap();
        assert_eq!(at.time, NaiveTime::from_hms_opt(2, 0, 0).unwrap());
        assert_eq!(at.timezone, "Europe/Paris");
        assert_eq!(BackupAt::parse("7:05").unwrap().display(), "07:05 UTC");
        assert_eq!(
            BackupAt::parse("23:59 America/Argentina/Buenos_Aires")
                .unwrap()
                .timezone,
            "America/Argentina/Buenos_Aires"
        );
        for bad in [
            "",
            "24:00",
            "12:60",
            "12",
            "12:5",
            "noon",
            "1:00 UTC extra",
            "1:00 ';drop",
            "-1:00",
            "123:00",
        ] {
            assert!(BackupAt::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn keep_is_bounded() {
        assert_eq!(parse_keep(7).unwrap(), 7);
        assert!(parse_keep(0).is_err());
        assert!(parse_keep(91).is_err());
        assert!(parse_keep(-3).is_err());
    }

    #[test]
    fn a_schedule_runs_once_per_due_time_and_a_late_one_is_missed() {
        let due = t("2026-12-02T02:00:00Z");
        let since = t("2026-11-30T12:00:00Z");
        // (last_due, since, now) → decision
        let table = [
            (None, since, t("2026-12-02T02:00:05Z"), ScheduledRun::Run),
            (None, since, t("2026-12-02T02:09:59Z"), ScheduledRun::Run),
            (None, since, t("2026-12-02T02:10:01Z"), ScheduledRun::Missed),
            (None, since, t("2026-12-02T14:00:00Z"), ScheduledRun::Missed),
            (
                Some(due),
                since,
                t("2026-12-02T02:00:05Z"),
                ScheduledRun::Wait,
            ),
            (
                Some(t("2026-12-01T02:00:00Z")),
                since,
                t("2026-12-02T02:00:05Z"),
                ScheduledRun::Run,
            ),
            (
                Some(t("2026-12-01T02:00:00Z")),
                since,
                t("2026-12-02T09:00:00Z"),
                ScheduledRun::Missed,
            ),
            // Set after today's time: its first run is tomorrow's.
            (
                None,
                t("2026-12-02T03:00:00Z"),
                t("2026-12-02T03:00:05Z"),
                ScheduledRun::Wait,
            ),
            // A due time in the future is never run early.
            (None, since, t("2026-12-02T01:59:59Z"), ScheduledRun::Wait),
        ];
        for (last, since, now, want) in table {
            assert_eq!(
                scheduled_run(due, last, since, now),
                want,
                "last {last:?} since {since} now {now}"
            );
        }
    }
}
