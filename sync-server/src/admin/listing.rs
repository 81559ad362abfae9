//! What the admin commands that list things print: a tab-separated table for a person (names
//! escaped), or with `--json` one JSON array for a script. Also the audit trail's entries
//! and the ages `--stale 7d` and `--since 30d` take.

use serde::Serialize;

use crate::error::{AppError, AppResult};
use crate::storage::audit::AuditEntry;
use crate::storage::{DeviceRecord, SyncStorage, User};
use crate::text::escape_controls;

/// Who runs an admin command, for the audit trail: `--actor`, else the user `sudo` was run
/// by, else the OS user, else `unknown`.
pub fn actor(given: Option<&str>) -> String {
    given
        .map(str::to_owned)
        .or_else(|| std::env::var("SUDO_USER").ok())
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .filter(|a| !a.trim().is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// Records an admin action; a failure to record fails the command (after the action, which
/// the message says).
pub fn record(
    storage: &dyn SyncStorage,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &str,
    now: i64,
) -> AppResult<()> {
    storage
        .record_audit(&AuditEntry {
            at: now,
            actor: actor.to_owned(),
            action: action.to_owned(),
            subject: subject.to_owned(),
            detail: detail.to_owned(),
        })
        .map_err(|e| AppError::Internal(format!("`{action}` was done but not recorded: {e}")))
}

/// `7d`, `12h`, `30m` or a plain number of days, in milliseconds.
pub fn parse_age(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let (number, unit_ms) = match text.char_indices().last() {
        Some((i, 'd')) => (&text[..i], 86_400_000),
        Some((i, 'h')) => (&text[..i], 3_600_000),
        Some((i, 'm')) => (&text[..i], 60_000),
        _ => (text, 86_400_000),
    };
    number
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .and_then(|n| n.checked_mul(unit_ms))
        .ok_or_else(|| format!("`{text}` is not an age such as `7d`, `12h` or `30m`"))
}

fn utc(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| millis.to_string())
}

fn print_json(value: &impl Serialize) -> AppResult<()> {
    let text = serde_json::to_string_pretty(value).map_err(AppError::internal)?;
    println!("{text}");
    Ok(())
}

#[derive(Serialize)]
struct UserJson<'a> {
    id: &'a str,
    role: &'a str,
    name: &'a str,
}

pub fn print_users(users: &[User], json: bool) -> AppResult<()> {
    if json {
        let rows: Vec<UserJson> = users
            .iter()
            .map(|u| UserJson {
                id: &u.id,
                role: u.role.code(),
                name: &u.name,
            })
            .collect();
        return print_json(&rows);
    }
    for u in users {
        println!("{}\t{}\t{}", u.id, u.role, escape_controls(&u.name));
    }
    Ok(())
}

#[derive(Serialize)]
struct DeviceJson<'a> {
    id: &'a str,
    user: &'a str,
    name: &'a str,
    enrolled_at: String,
    revoked_at: Option<String>,
    last_seen_at: Option<String>,
}

/// Devices a device list keeps: of `user` if given, and with `stale_ms`, only devices not
/// revoked that have not synced (or, never having synced, were enrolled) that long ago.
pub fn select_devices(
    devices: Vec<DeviceRecord>,
    user: Option<&str>,
    stale_ms: Option<i64>,
    now: i64,
) -> Vec<DeviceRecord> {
    devices
        .into_iter()
        .filter(|d| user.is_none_or(|u| u == d.user_id))
        .filter(|d| match stale_ms {
            None => true,
            Some(age) => {
                d.revoked_at.is_none() && d.last_seen_at.unwrap_or(d.enrolled_at) <= now - age
            }
        })
        .collect()
}

pub fn print_devices(devices: &[DeviceRecord], json: bool) -> AppResult<()> {
    if json {
        let rows: Vec<DeviceJson> = devices
            .iter()
            .map(|d| DeviceJson {
                id: &d.device_id,
                user: &d.user_id,
                name: &d.name,
                enrolled_at: utc(d.enrolled_at),
                revoked_at: d.revoked_at.map(utc),
                last_seen_at: d.last_seen_at.map(utc),
            })
            .collect();
        return print_json(&rows);
    }
    for d in devices {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            d.device_id,
            d.user_id,
            escape_controls(&d.name),
            utc(d.enrolled_at),
            d.revoked_at.map(utc).unwrap_or_else(|| "-".into()),
            d.last_seen_at.map(utc).unwrap_or_else(|| "-".into()),
        );
    }
    Ok(())
}

#[derive(Serialize)]
struct AuditJson<'a> {
    at: String,
    actor: &'a str,
    action: &'a str,
    subject: &'a str,
    detail: &'a str,
}

pub fn print_audit(entries: &[AuditEntry], json: bool) -> AppResult<()> {
    if json {
        let rows: Vec<AuditJson> = entries
            .iter()
            .map(|e| AuditJson {
                at: utc(e.at),
                actor: &e.actor,
                action: &e.action,
                subject: &e.subject,
                detail: &e.detail,
            })
            .collect();
        return print_json(&rows);
    }
    for e in entries {
        println!(
            "{}\t{}\t{}\t{}\t{}",
            utc(e.at),
            escape_controls(&e.actor),
            e.action,
            escape_controls(&e.subject),
            escape_controls(&e.detail)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_days_hours_minutes_or_plain_days_and_refuse_the_rest() {
        assert_eq!(parse_age("7d"), Ok(7 * 86_400_000));
        assert_eq!(parse_age("12h"), Ok(12 * 3_600_000));
        assert_eq!(parse_age("30m"), Ok(30 * 60_000));
        assert_eq!(parse_age("2"), Ok(2 * 86_400_000));
        assert!(parse_age("soon").is_err());
        assert!(parse_age("-1d").is_err());
    }

    #[test]
    fn stale_devices_are_those_not_seen_for_the_age_never_seen_ones_by_enrollment_and_not_revoked()
    {
        let day = 86_400_000;
        let now = 100 * day;
        let device =
            |id: &str, enrolled: i64, seen: Option<i64>, revoked: Option<i64>| DeviceRecord {
                device_id: id.into(),
                user_id: "am-li".into(),
                name: id.into(),
                enrolled_at: enrolled,
                revoked_at: revoked,
                last_seen_at: seen,
            };
        let all = vec![
            device("fresh", 0, Some(now - day), None),
            device("stale", 0, Some(now - 8 * day), None),
            device("never-old", now - 9 * day, None, None),
            device("never-new", now - day, None, None),
            device("revoked", 0, Some(now - 30 * day), Some(now - 29 * day)),
        ];
        let ids: Vec<String> = select_devices(all, None, Some(7 * day), now)
            .into_iter()
            .map(|d| d.device_id)
            .collect();
        assert_eq!(ids, ["stale", "never-old"]);
    }
}
