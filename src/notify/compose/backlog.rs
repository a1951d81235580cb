//! Backlogs in mail kept small: a list of reports (waiting for a reply,
//! still owed) shows at most [`LIST_CAP`] rows, the newest, oldest first,
//! and counts the older rest ("以及另外 N 份更早的报告（最早 8月3日）"),
//! while the subject and heading give the true total. And the escalation
//! a manager gets once a working day, one section per supervisor.

use serde::Serialize;

use super::{Contact, PendingReply};

/// The rows of one list an email shows.
pub const LIST_CAP: usize = 15;

/// The rows of a list not shown: how many, and the earliest of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rest {
    pub count: usize,
    /// The oldest of them, as people say it (`8月3日（周一）`, `第32周…`).
    pub earliest: String,
}

/// A list as an email shows it: the newest [`LIST_CAP`] rows, oldest
/// first, the older rest counted, and how many there are in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed<T> {
    pub shown: Vec<T>,
    pub rest: Option<Rest>,
    pub total: usize,
}

impl<T> Listed<T> {
    /// `items` (oldest first) listed; `earliest` names an item's date.
    pub fn of(items: Vec<T>, earliest: impl Fn(&T) -> String) -> Listed<T> {
        let total = items.len();
        let (shown, rest) = capped(items, earliest);
        Listed { shown, rest, total }
    }

    /// [`Listed::of`] the rows `make` makes of `items`, made only for the
    /// rows shown and the earliest of the rest: a group's backlog since
    /// tracking began is hundreds of reports, a list shows 15.
    pub fn made<S>(
        items: &[S],
        make: impl Fn(&S) -> T,
        earliest: impl Fn(&T) -> String,
    ) -> Listed<T> {
        let older = older_than_shown(items.len());
        Listed {
            shown: items[older..].iter().map(&make).collect(),
            rest: items[..older].first().map(|first| Rest {
                count: older,
                earliest: earliest(&make(first)),
            }),
            total: items.len(),
        }
    }

    /// The positions in a list of `len` items of those [`Listed::made`]
    /// makes: the rows shown and the earliest of the rest.
    pub fn made_at(len: usize) -> impl Iterator<Item = usize> {
        let older = older_than_shown(len);
        (older > 0).then_some(0).into_iter().chain(older..len)
    }
}

/// How many of `len` items (oldest first) are older than those shown.
fn older_than_shown(len: usize) -> usize {
    len.saturating_sub(LIST_CAP)
}

/// `items` (oldest first) cut to the newest [`LIST_CAP`], with the older
/// rest counted; `earliest` names an item's date.
fn capped<T>(mut items: Vec<T>, earliest: impl Fn(&T) -> String) -> (Vec<T>, Option<Rest>) {
    let shown = items.split_off(older_than_shown(items.len()));
    let rest = items.first().map(|first| Rest {
        count: items.len(),
        earliest: earliest(first),
    });
    (shown, rest)
}

/// `items` (shown, oldest first, `rest` older still) cut further to the
/// newest `cap`, the rows dropped joining the rest.
pub fn shorten<T>(
    items: &mut Vec<T>,
    rest: &mut Option<Rest>,
    cap: usize,
    earliest: impl Fn(&T) -> String,
) {
    if items.len() <= cap {
        return;
    }
    let dropped: Vec<T> = items.drain(..items.len() - cap).collect();
    let count = dropped.len() + rest.as_ref().map_or(0, |r| r.count);
    let earliest = match rest.take() {
        Some(r) => r.earliest,
        None => dropped.first().map(&earliest).unwrap_or_default(),
    };
    *rest = Some(Rest { count, earliest });
}

/// One supervisor's backlog in an escalation.
#[derive(Debug, Clone, Serialize)]
pub struct Backlog {
    pub supervisor: Contact,
    /// Every report waiting for their reply since tracking began.
    pub total: usize,
    /// Of `total`, those past the reply time.
    pub overdue: usize,
    /// Of `total`, those past their last reminder (why the manager hears).
    pub past_reminders: usize,
    /// The newest [`LIST_CAP`], oldest first.
    pub reports: Vec<PendingReply>,
    pub rest: Option<Rest>,
}

impl Backlog {
    /// `reports` (every waiting one, oldest first) as an escalation lists
    /// them.
    pub fn new(supervisor: Contact, reports: Vec<PendingReply>, past_reminders: usize) -> Backlog {
        let overdue = reports.iter().filter(|r| r.overdue).count();
        let listed = Listed::of(reports, PendingReply::earliest);
        Backlog {
            supervisor,
            total: listed.total,
            overdue,
            past_reminders,
            reports: listed.shown,
            rest: listed.rest,
        }
    }
}

/// A manager's escalation of the day: every supervisor with a report past
/// its last reply reminder, each with their whole backlog. At most one a
/// working day.
#[derive(Debug, Clone, Serialize)]
pub struct Escalation {
    pub manager: Contact,
    pub reply_within_hours: u32,
    pub supervisors: Vec<Backlog>,
    /// Reports waiting across `supervisors`.
    pub total: usize,
}

impl Escalation {
    pub fn new(manager: Contact, reply_within_hours: u32, supervisors: Vec<Backlog>) -> Escalation {
        let total = supervisors.iter().map(|b| b.total).sum();
        Escalation {
            manager,
            reply_within_hours,
            supervisors,
            total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_at_names_exactly_the_items_a_list_makes_rows_of() {
        for len in [0, 1, LIST_CAP, LIST_CAP + 1, 40] {
            let items: Vec<usize> = (0..len).collect();
            let made = std::cell::RefCell::new(Vec::new());
            Listed::made(
                &items,
                |i| {
                    made.borrow_mut().push(*i);
                    *i
                },
                |i| i.to_string(),
            );
            let mut made = made.into_inner();
            made.sort_unstable();
            made.dedup();
            assert_eq!(
                Listed::<usize>::made_at(len).collect::<Vec<_>>(),
                made,
                "{len}"
            );
        }
    }

    #[test]
    fn a_long_list_shows_the_newest_rows_and_counts_the_older_rest() {
        let items: Vec<u32> = (1..=20).collect();
        let (shown, rest) = capped(items, |n| format!("day {n}"));
        assert_eq!(shown, (6..=20).collect::<Vec<_>>());
        assert_eq!(
            rest,
            Some(Rest {
                count: 5,
                earliest: "day 1".into()
            })
        );
        let (shown, rest) = capped(vec![1, 2], |n| n.to_string());
        assert_eq!((shown.len(), rest), (2, None));
    }

    #[test]
    fn a_list_made_of_only_the_rows_shown_is_the_list_of_every_row_made() {
        let made = std::cell::Cell::new(0);
        for len in 0..=2 * LIST_CAP + 1 {
            let items: Vec<u32> = (1..=len as u32).collect();
            made.set(0);
            let listed = Listed::made(
                &items,
                |n| {
                    made.set(made.get() + 1);
                    format!("#{n}")
                },
                |s| format!("day {s}"),
            );
            let every: Vec<String> = items.iter().map(|n| format!("#{n}")).collect();
            assert_eq!(listed, Listed::of(every, |s| format!("day {s}")), "{len}");
            let older = usize::from(len > LIST_CAP);
            assert_eq!(made.get(), len.min(LIST_CAP) + older, "rows made for {len}");
        }
    }

    #[test]
    fn a_shortened_list_adds_what_it_drops_to_the_rest() {
        let (mut shown, mut rest) = capped((1..=20).collect::<Vec<u32>>(), |n| format!("day {n}"));
        shorten(&mut shown, &mut rest, 8, |n| format!("day {n}"));
        assert_eq!(shown, (13..=20).collect::<Vec<_>>());
        assert_eq!(
            rest.map(|r| (r.count, r.earliest)),
            Some((12, "day 1".into()))
        );
        let (mut shown, mut rest) = (vec![1, 2, 3], None);
        shorten(&mut shown, &mut rest, 2, |n| format!("day {n}"));
        assert_eq!(shown, [2, 3]);
        assert_eq!(
            rest.map(|r| (r.count, r.earliest)),
            Some((1, "day 1".into()))
        );
    }
}
