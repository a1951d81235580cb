//! The Date header, read leniently (never with `mailparse::dateparse`, which
//! reads garbage as 1970 and `+08:00` as eight minutes). Only ever used to
//! show or flag a sender's claim: arrival is the server's INTERNALDATE.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, TimeZone};

/// Reads a Date header leniently: RFC 5322 with or without weekday and
/// seconds, comments, 2-digit years, `+0800`, `+08:00`, `GMT`/`UT`/`Z`,
/// US zone names, and ISO 8601 (`2026-11-28 21:30:00+08:00`). `CST` is read
/// as China Standard Time (+08:00) and a missing zone as +08:00, because
/// this mailbox's senders are in China. `None` when no valid date and time
/// can be read (never 1970 from garbage).
pub fn parse_date(value: &str) -> Option<DateTime<FixedOffset>> {
    // Drop comments, e.g. `(CST)` or `(GMT+08:00)`.
    let mut text = String::with_capacity(value.len());
    let mut depth = 0u32;
    for c in value.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => text.push(c),
            _ => {}
        }
    }
    let text = text.replace(',', " ");
    let mut tokens: Vec<&str> = Vec::new();
    for t in text.split_whitespace() {
        // ISO 8601: split `2026-11-28T21:30:00+08:00` into date, time, zone.
        if let Some((d, rest)) = t.split_once(['T', 't'])
            && d.len() == 10
            && d.as_bytes().get(4) == Some(&b'-')
        {
            tokens.push(d);
            let zone_at = rest.find(['+', '-', 'Z', 'z']).unwrap_or(rest.len());
            tokens.push(&rest[..zone_at]);
            if zone_at < rest.len() {
                tokens.push(&rest[zone_at..]);
            }
        } else {
            tokens.push(t);
        }
    }

    let (mut year, mut month, mut day) = (None::<i32>, None::<u32>, None::<u32>);
    let mut time = None::<NaiveTime>;
    let mut offset = None::<i32>;
    for t in tokens {
        let lower = t.to_ascii_lowercase();
        let lower = lower.trim_end_matches('.');
        if let Some(m) = month_from_name(lower) {
            month = month.or(Some(m));
        } else if is_weekday(lower) {
        } else if t.contains(':') && time.is_none() && t.starts_with(|c: char| c.is_ascii_digit()) {
            // A zone glued to the time: `21:30:00+0800`.
            let (clock, zone) = match t.find(['+', '-']) {
                Some(i) => (&t[..i], Some(&t[i..])),
                None => (t, None),
            };
            time = Some(parse_clock(clock)?);
            if let Some(z) = zone {
                offset = offset.or(parse_zone(z));
            }
        } else if (t.starts_with('+') || t.starts_with('-')) && t.len() > 1 {
            offset = offset.or(Some(parse_zone(t)?));
        } else if t.chars().all(|c| c.is_ascii_digit()) {
            let n: u32 = t.parse().ok()?;
            match t.len() {
                4 => year = year.or(Some(n as i32)),
                1 | 2 if day.is_none() => day = Some(n),
                2 | 3 if year.is_none() => year = Some(expand_year(n)),
                _ => return None,
            }
        } else if let Some((y, m, d)) = iso_date(t) {
            year = Some(y);
            month = Some(m);
            day = Some(d);
        } else if let Some(z) = parse_zone(t) {
            offset = offset.or(Some(z));
        }
        // Anything else (military zones, stray words) is ignored.
    }
    let date = NaiveDate::from_ymd_opt(year?, month?, day?)?;
    if !(1900..=9999).contains(&date.year()) {
        return None;
    }
    let zone = FixedOffset::east_opt(offset.unwrap_or(8 * 3600))?;
    zone.from_local_datetime(&date.and_time(time?)).single()
}

fn month_from_name(s: &str) -> Option<u32> {
    const NAMES: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    if s.len() < 3 || !s.is_ascii() {
        return None;
    }
    let i = NAMES.iter().position(|n| s.starts_with(n))?;
    let full = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    (full[i].starts_with(s) || s == "sept").then_some(i as u32 + 1)
}

fn is_weekday(s: &str) -> bool {
    const NAMES: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    s.len() >= 2
        && NAMES
            .iter()
            .any(|n| n.starts_with(s) || (s.len() >= 3 && s.starts_with(&n[..3])))
}

fn expand_year(n: u32) -> i32 {
    match n {
        0..=49 => 2000 + n as i32,
        50..=99 => 1900 + n as i32,
        _ => 1900 + n as i32,
    }
}

fn parse_clock(s: &str) -> Option<NaiveTime> {
    let mut parts = s.split([':', '.']);
    let h: u32 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let sec: u32 = match parts.next() {
        Some(p) if !p.is_empty() => p.parse().ok()?,
        _ => 0,
    };
    NaiveTime::from_hms_opt(h, m, sec.min(59))
}

fn iso_date(s: &str) -> Option<(i32, u32, u32)> {
    let mut parts = s.split(['-', '/']);
    let y = parts.next()?;
    let m = parts.next()?;
    let d = parts.next()?;
    if parts.next().is_some() || y.len() != 4 {
        return None;
    }
    Some((y.parse().ok()?, m.parse().ok()?, d.parse().ok()?))
}

/// Seconds east of UTC.
fn parse_zone(s: &str) -> Option<i32> {
    let upper = s.to_ascii_uppercase();
    let named = match upper.as_str() {
        "GMT" | "UT" | "UTC" | "Z" | "WET" => Some(0),
        "CST" | "BJT" | "HKT" | "SGT" | "AWST" | "CCT" => Some(8),
        "JST" | "KST" => Some(9),
        "EST" => Some(-5),
        "EDT" => Some(-4),
        "CDT" => Some(-5),
        "MST" => Some(-7),
        "MDT" => Some(-6),
        "PST" => Some(-8),
        "PDT" => Some(-7),
        "CET" | "MET" | "BST" => Some(1),
        "CEST" | "EET" => Some(2),
        "EEST" => Some(3),
        _ => None,
    };
    if let Some(h) = named {
        return Some(h * 3600);
    }
    let (sign, digits) = match upper.as_bytes().first()? {
        b'+' => (1, &upper[1..]),
        b'-' => (-1, &upper[1..]),
        _ => return None,
    };
    let digits: String = digits.chars().filter(|&c| c != ':').collect();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (h, m): (i32, i32) = match digits.len() {
        1 | 2 => (digits.parse().ok()?, 0),
        3 => (digits[..1].parse().ok()?, digits[1..].parse().ok()?),
        4 => (digits[..2].parse().ok()?, digits[2..].parse().ok()?),
        _ => return None,
    };
    if h > 14 || m > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60))
}
