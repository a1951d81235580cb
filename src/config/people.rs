//! The team roster: who everyone is (`[[person]]`), looked up by address or
//! alias, and the validation of the people in a config (unique addresses
//! and aliases, real supervisors, dates in order).

use std::collections::HashMap;
use std::ops::Range;

use chrono::NaiveDate;
use toml::de::DeValue;

use super::{
    At, Ctx, Language, PERSON_KEYS, Role, Sec, check_keys, email_problem, missing, opt_choice,
    opt_date, opt_str, opt_str_list, req_str, wrong_type,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub name: String,
    /// Lower-cased.
    pub email: String,
    /// Other addresses the person sends from (a personal mailbox),
    /// lower-cased; mail from one of them is theirs.
    pub aliases: Vec<String>,
    pub role: Role,
    pub group: Option<String>,
    /// Lower-cased email of the direct supervisor (reps and clerks).
    pub supervisor: Option<String>,
    /// Periods due before this date are not judged.
    pub since: Option<NaiveDate>,
    /// Periods due after this date are not judged; nothing is sent after it.
    pub until: Option<NaiveDate>,
    pub language: Option<Language>,
}

/// The configured people, looked up by address (their own or an alias)
/// through a hash map, and found by name in text.
#[derive(Debug, Clone, Default)]
pub struct Roster {
    /// In config order. Build a roster with [`Roster::new`] so the lookups
    /// below know every person.
    pub people: Vec<Person>,
    /// Lower-cased address or alias → index in `people` (the first person
    /// holding it, should the config repeat one). Hashed with foldhash:
    /// the config puts every key in; an address from mail is only looked
    /// up, and a pass looks up tens of thousands.
    by_address: HashMap<String, usize, foldhash::fast::RandomState>,
    /// First character of a lower-cased name of two characters or more →
    /// the names starting with it, for [`Roster::names_in`].
    names_by_start: HashMap<char, Vec<String>>,
}

impl Roster {
    pub fn new(people: Vec<Person>) -> Roster {
        let mut by_address = HashMap::default();
        let mut names_by_start: HashMap<char, Vec<String>> = HashMap::new();
        for (i, p) in people.iter().enumerate() {
            for address in std::iter::once(&p.email).chain(&p.aliases) {
                by_address.entry(address.to_lowercase()).or_insert(i);
            }
            let name = p.name.trim().to_lowercase();
            if let Some(first) = name.chars().next()
                && name.chars().count() >= 2
            {
                names_by_start.entry(first).or_default().push(name);
            }
        }
        Roster {
            people,
            by_address,
            names_by_start,
        }
    }

    /// The person whose address or alias `email` is, compared ignoring case.
    pub fn by_email(&self, email: &str) -> Option<&Person> {
        let upper = if email.is_ascii() {
            email.bytes().any(|b| b.is_ascii_uppercase())
        } else {
            email.chars().any(char::is_uppercase)
        };
        let key = if upper {
            std::borrow::Cow::Owned(email.to_lowercase())
        } else {
            std::borrow::Cow::Borrowed(email)
        };
        self.by_address
            .get(key.as_ref())
            .and_then(|&i| self.people.get(i))
    }

    /// Where people's names (of two characters or more) are written in
    /// `text`, which must be in lower case; the longest name wins where
    /// two start at one place.
    pub fn names_in(&self, text: &str) -> Vec<Range<usize>> {
        let mut out = Vec::new();
        let mut next = 0;
        for (i, c) in text.char_indices() {
            if i < next {
                continue;
            }
            let longest = self
                .names_by_start
                .get(&c)
                .into_iter()
                .flatten()
                .filter(|name| text[i..].starts_with(name.as_str()))
                .map(String::len)
                .max();
            if let Some(len) = longest {
                out.push(i..i + len);
                next = i + len;
            }
        }
        out
    }

    /// People who must send reports (reps and clerks), in config order.
    pub fn reporters(&self) -> impl Iterator<Item = &Person> {
        self.people.iter().filter(|p| p.role.must_report())
    }

    pub fn supervisor_of(&self, person: &Person) -> Option<&Person> {
        person.supervisor.as_deref().and_then(|s| self.by_email(s))
    }

    /// Whether `supervisor` (an address, any case) is `person`'s direct
    /// supervisor: the one rule reply matching, reminders and digests share.
    pub fn supervises(&self, supervisor: &str, person: &Person) -> bool {
        self.supervisor_of(person)
            .is_some_and(|s| s.email.eq_ignore_ascii_case(supervisor))
    }

    /// `items` grouped by the direct supervisor of each one's person (as
    /// `person` finds it), matched as [`Roster::supervises`] matches: built
    /// once, so going through every supervisor does not scan every item for
    /// each. Items whose person is unknown or has no supervisor are left out.
    pub fn by_supervisor<'r, T>(
        &'r self,
        items: impl IntoIterator<Item = T>,
        person: impl Fn(&T) -> Option<&'r Person>,
    ) -> BySupervisor<T> {
        let mut groups: HashMap<String, Vec<T>> = HashMap::new();
        for item in items {
            if let Some(s) = person(&item).and_then(|p| self.supervisor_of(p)) {
                // Keyed without a new string per item: an address is
                // lower-cased only when it has an upper-case letter.
                let key = if s.email.bytes().any(|b| b.is_ascii_uppercase()) {
                    std::borrow::Cow::Owned(s.email.to_ascii_lowercase())
                } else {
                    std::borrow::Cow::Borrowed(s.email.as_str())
                };
                match groups.get_mut(key.as_ref()) {
                    Some(items) => items.push(item),
                    None => {
                        groups.insert(key.into_owned(), vec![item]);
                    }
                }
            }
        }
        BySupervisor { groups }
    }

    /// The group a person belongs to: their own `group`, else their
    /// supervisor's (a rep's group is often written only on the supervisor).
    pub fn group_of<'a>(&'a self, person: &'a Person) -> Option<&'a str> {
        person
            .group
            .as_deref()
            .or_else(|| self.supervisor_of(person).and_then(|s| s.group.as_deref()))
    }

    pub fn managers(&self) -> impl Iterator<Item = &Person> {
        self.people.iter().filter(|p| p.role == Role::Manager)
    }

    pub fn assistants(&self) -> impl Iterator<Item = &Person> {
        self.people.iter().filter(|p| p.role == Role::Assistant)
    }
}

/// Items grouped by their person's direct supervisor: see
/// [`Roster::by_supervisor`].
#[derive(Debug)]
pub struct BySupervisor<T> {
    /// The supervisor's address in ASCII lower case (what
    /// [`Roster::supervises`] compares) → the items, in the order given.
    groups: HashMap<String, Vec<T>>,
}

impl<T> BySupervisor<T> {
    /// The items whose person `supervisor` (an address, any case) directly
    /// supervises.
    pub fn of(&self, supervisor: &str) -> &[T] {
        self.groups
            .get(&supervisor.to_ascii_lowercase())
            .map_or(&[], Vec::as_slice)
    }
}

/// One `[[person]]` as read, before cross-checks.
struct RawPerson {
    key: String,
    line: usize,
    name: Option<String>,
    email: Option<At<String>>,
    aliases: Vec<(usize, At<String>)>,
    role: Option<At<Role>>,
    group: Option<String>,
    supervisor: Option<At<String>>,
    since: Option<At<NaiveDate>>,
    until: Option<At<NaiveDate>>,
    language: Option<Language>,
}

pub(super) fn parse_people(ctx: &mut Ctx<'_>, root: &Sec<'_, '_>) -> Roster {
    let mut raw = Vec::new();
    match root.get("person") {
        None => {}
        Some(item) => match item.get_ref() {
            DeValue::Array(array) => {
                for (i, elem) in array.iter().enumerate() {
                    let line = ctx.line(elem.span());
                    match elem.get_ref() {
                        DeValue::Table(table) => {
                            let sec = Sec {
                                path: format!("person[{i}]"),
                                table,
                                line,
                            };
                            raw.push(parse_person(ctx, &sec));
                        }
                        _ => wrong_type(
                            ctx,
                            format!("person[{i}]"),
                            elem,
                            "a table",
                            "a [[person]] section",
                        ),
                    }
                }
            }
            _ => wrong_type(
                ctx,
                "person".to_string(),
                item,
                "a list of [[person]] sections",
                "[[person]] followed by name = ..., email = ..., role = ...",
            ),
        },
    }

    // Duplicate addresses.
    let mut first_with: HashMap<&str, &RawPerson> = HashMap::new();
    for p in &raw {
        if let Some(email) = &p.email {
            if let Some(first) = first_with.get(email.v.as_str()) {
                ctx.push(
                    format!("{}.email", p.key),
                    email.line,
                    format!(
                        "\"{}\" is already the address of {} (line {}); each person needs their own \
                         address (addresses are compared ignoring case)",
                        email.v,
                        first.key,
                        first.email.as_ref().map_or(first.line, |e| e.line)
                    ),
                );
            } else {
                first_with.insert(email.v.as_str(), p);
            }
        }
    }

    check_aliases(ctx, &raw, &first_with);

    // Supervisors.
    for p in &raw {
        let Some(role) = &p.role else { continue };
        let who = p.name.as_deref().unwrap_or("this person");
        match (&p.supervisor, role.v.must_report()) {
            (None, true) => ctx.push(
                format!("{}.supervisor", p.key),
                p.line,
                format!(
                    "{who} is a {} and sends reports, so needs a direct supervisor; add \
                     supervisor = \"<email of their supervisor>\"",
                    role.v
                ),
            ),
            (Some(sup), true) => {
                let own = p.email.as_ref().map(|e| e.v.as_str());
                match first_with.get(sup.v.as_str()) {
                    _ if own == Some(sup.v.as_str()) => ctx.push(
                        format!("{}.supervisor", p.key),
                        sup.line,
                        format!(
                            "{who} cannot be their own supervisor; write their supervisor's address"
                        ),
                    ),
                    None => {
                        let message = unknown_supervisor(&raw, &sup.v);
                        ctx.push(format!("{}.supervisor", p.key), sup.line, message);
                    }
                    Some(boss) => {
                        if let Some(boss_role) = &boss.role
                            && !boss_role.v.can_supervise()
                        {
                            ctx.push(
                                format!("{}.supervisor", p.key),
                                sup.line,
                                format!(
                                    "\"{}\" is {} ({}), who has role \"{}\"; a direct supervisor must have \
                                     role \"supervisor\" or \"manager\": fix the address or \
                                     that person's role",
                                    sup.v,
                                    boss.name.as_deref().unwrap_or("a person"),
                                    boss.key,
                                    boss_role.v
                                ),
                            );
                        }
                    }
                }
            }
            (Some(sup), false) => ctx.push(
                format!("{}.supervisor", p.key),
                sup.line,
                format!(
                    "only reps and clerks have a direct supervisor (they send the reports); {who} \
                     has role \"{}\", so remove this key",
                    role.v
                ),
            ),
            (None, false) => {}
        }
        if let (Some(since), Some(until)) = (&p.since, &p.until)
            && since.v > until.v
        {
            ctx.push(
                format!("{}.until", p.key),
                until.line,
                format!(
                    "until ({}) is before since ({}, line {}); fix one of the dates",
                    until.v, since.v, since.line
                ),
            );
        }
    }

    if !raw
        .iter()
        .any(|p| p.role.as_ref().is_some_and(|r| r.v == Role::Assistant))
        // A person whose role could not be read may be the assistant; that
        // mistake is already reported.
        && !raw.iter().any(|p| p.role.is_none())
    {
        ctx.push(
            "person",
            0,
            "no person has role \"assistant\"; add a [[person]] with role = \"assistant\" for \
             the assistant who is CC'd on every report and owns the mailbox",
        );
    }

    let people = raw
        .into_iter()
        .filter_map(|p| {
            Some(Person {
                name: p.name?,
                email: p.email?.v,
                aliases: p.aliases.into_iter().map(|(_, a)| a.v).collect(),
                role: p.role?.v,
                group: p.group,
                supervisor: p.supervisor.map(|s| s.v),
                since: p.since.map(|d| d.v),
                until: p.until.map(|d| d.v),
                language: p.language,
            })
        })
        .collect();
    Roster::new(people)
}

/// What to say of a `supervisor` that is nobody's email: it may be an
/// alias, which the roster does not take for a supervisor.
fn unknown_supervisor(raw: &[RawPerson], sup: &str) -> String {
    let owner = raw
        .iter()
        .find(|r| r.aliases.iter().any(|(_, a)| a.v == sup));
    match owner.and_then(|o| o.email.as_ref().map(|e| (o, e))) {
        Some((o, email)) => format!(
            "\"{sup}\" is an alias of {} ({}); write their main address \"{}\"",
            o.key,
            o.name.as_deref().unwrap_or("a person"),
            email.v
        ),
        None => format!(
            "no person with email \"{sup}\"; add them as a [[person]] with role \
             \"supervisor\" or fix the address"
        ),
    }
}

/// Each alias belongs to one person: it is nobody's address and no other
/// alias. Every clash is named with the alias's key and line and where the
/// address was seen first.
fn check_aliases(ctx: &mut Ctx<'_>, raw: &[RawPerson], emails: &HashMap<&str, &RawPerson>) {
    let mut first_alias: HashMap<&str, (&RawPerson, usize, usize)> = HashMap::new();
    for p in raw {
        for (i, alias) in &p.aliases {
            let key = format!("{}.aliases[{i}]", p.key);
            let clash = if let Some(owner) = emails.get(alias.v.as_str()) {
                let line = owner.email.as_ref().map_or(owner.line, |e| e.line);
                if std::ptr::eq(*owner, p) {
                    format!(
                        "\"{}\" is this person's own email (line {line}); remove the alias",
                        alias.v
                    )
                } else {
                    format!(
                        "\"{}\" is the email of {} (line {line}); an alias must be an address \
                         no one else uses: remove it from one of them",
                        alias.v, owner.key
                    )
                }
            } else if let Some((owner, j, line)) = first_alias.get(alias.v.as_str()) {
                format!(
                    "\"{}\" is already {}.aliases[{j}] (line {line}); an alias must belong \
                     to one person only: remove one of them",
                    alias.v, owner.key
                )
            } else {
                first_alias.insert(alias.v.as_str(), (p, *i, alias.line));
                continue;
            };
            ctx.push(key, alias.line, clash);
        }
    }
}

fn parse_person(ctx: &mut Ctx<'_>, sec: &Sec<'_, '_>) -> RawPerson {
    check_keys(ctx, sec, PERSON_KEYS);
    let name = req_str(ctx, sec, "name", r#"name = "张伟""#).map(|n| n.v.trim().to_string());
    let email = req_str(ctx, sec, "email", r#"email = "zhangwei@example.com""#).and_then(|e| {
        let v = e.v.trim().to_lowercase();
        match email_problem(&v) {
            Some(problem) => {
                ctx.push(
                    sec.key("email"),
                    e.line,
                    format!(
                        "\"{}\" is not an email address: it {problem}; write e.g. \
                         email = \"zhangwei@example.com\"",
                        e.v
                    ),
                );
                None
            }
            None => Some(At { v, line: e.line }),
        }
    });
    let aliases = parse_aliases(ctx, sec);
    let role = if sec.has("role") {
        opt_choice::<Role>(ctx, sec, "role", r#"role = "rep""#)
    } else {
        missing(
            ctx,
            sec,
            "role",
            r#"role = "rep" (rep | clerk | supervisor | manager | assistant)"#,
        );
        None
    };
    let group = opt_str(ctx, sec, "group", r#"group = "商务一组""#).map(|g| g.v.trim().to_string());
    let supervisor = opt_str(
        ctx,
        sec,
        "supervisor",
        r#"supervisor = "wangfang@example.com""#,
    )
    .and_then(|s| {
        let v = s.v.trim().to_lowercase();
        match email_problem(&v) {
            Some(problem) => {
                ctx.push(
                    sec.key("supervisor"),
                    s.line,
                    format!(
                        "\"{}\" is not an email address: it {problem}; write the \
                         supervisor's address, e.g. supervisor = \"wangfang@example.com\"",
                        s.v
                    ),
                );
                None
            }
            None => Some(At { v, line: s.line }),
        }
    });
    let since = opt_date(ctx, sec, "since", r#"since = "2026-03-01""#);
    let until = opt_date(ctx, sec, "until", r#"until = "2026-12-31""#);
    let language = opt_choice::<Language>(ctx, sec, "language", r#"language = "en""#).map(|l| l.v);
    RawPerson {
        key: sec.path.clone(),
        line: sec.line,
        name,
        email,
        aliases,
        role,
        group,
        supervisor,
        since,
        until,
        language,
    }
}

/// `aliases = ["zhangwei1985@163.com"]`: other addresses of the person,
/// lower-cased, each with its index and line.
fn parse_aliases(ctx: &mut Ctx<'_>, sec: &Sec<'_, '_>) -> Vec<(usize, At<String>)> {
    let example = r#"aliases = ["zhangwei1985@163.com"]"#;
    let Some(items) = opt_str_list(ctx, sec, "aliases", example) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items {
        let v = item.v.trim().to_lowercase();
        match email_problem(&v) {
            Some(problem) => ctx.push(
                format!("{}[{i}]", sec.key("aliases")),
                item.line,
                format!(
                    "\"{}\" is not an email address: it {problem}; write another address the \
                     person sends from, e.g. {example}",
                    item.v
                ),
            ),
            None => out.push((i, At { v, line: item.line })),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(email: &str, role: Role, supervisor: Option<&str>, aliases: &[&str]) -> Person {
        Person {
            name: email.to_string(),
            email: email.to_string(),
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            role,
            group: None,
            supervisor: supervisor.map(str::to_string),
            since: None,
            until: None,
            language: None,
        }
    }

    fn roster() -> Roster {
        Roster::new(vec![
            person("boss@x.com", Role::Supervisor, None, &["boss.home@y.com"]),
            person("other@x.com", Role::Supervisor, None, &[]),
            // Supervisor written as the boss's alias.
            person("a@x.com", Role::Rep, Some("boss.home@y.com"), &[]),
            person("b@x.com", Role::Rep, Some("other@x.com"), &[]),
            person("c@x.com", Role::Rep, Some("boss@x.com"), &[]),
            // A supervisor nobody configured, and none at all.
            person("d@x.com", Role::Rep, Some("gone@x.com"), &[]),
            person("e@x.com", Role::Rep, None, &[]),
        ])
    }

    fn emails(people: &[&Person]) -> Vec<String> {
        people.iter().map(|p| p.email.clone()).collect()
    }

    #[test]
    fn a_person_is_found_by_any_case_of_their_address_ascii_or_not() {
        let roster = Roster::new(vec![
            person("Wang.Fang@X.com", Role::Supervisor, None, &[]),
            person(
                "ärger@x.com",
                Role::Rep,
                Some("wang.fang@x.com"),
                &["Zoë@X.com"],
            ),
        ]);
        let found = |e: &str| roster.by_email(e).map(|p| p.email.clone());
        for e in ["wang.fang@x.com", "WANG.FANG@X.COM", "Wang.Fang@X.com"] {
            assert_eq!(found(e).as_deref(), Some("Wang.Fang@X.com"), "{e}");
        }
        for e in [
            "ärger@x.com",
            "ÄRGER@X.COM",
            "Ärger@x.com",
            "zoë@x.com",
            "ZOË@X.COM",
        ] {
            assert_eq!(found(e).as_deref(), Some("ärger@x.com"), "{e}");
        }
        assert_eq!(found("arger@x.com"), None);
        // Grouped under the supervisor whatever case the config wrote.
        let groups = roster.by_supervisor(roster.reporters(), |p| Some(*p));
        assert_eq!(emails(groups.of("WANG.fang@x.com")), ["ärger@x.com"]);
    }

    #[test]
    fn grouping_by_supervisor_resolves_aliases_and_ignores_case_like_supervises() {
        let roster = roster();
        let groups = roster.by_supervisor(roster.reporters(), |p| Some(*p));
        assert_eq!(emails(groups.of("boss@x.com")), ["a@x.com", "c@x.com"]);
        assert_eq!(emails(groups.of("BOSS@X.com")), ["a@x.com", "c@x.com"]);
        assert_eq!(emails(groups.of("other@x.com")), ["b@x.com"]);
        assert!(groups.of("gone@x.com").is_empty());
        assert!(groups.of("nobody@x.com").is_empty());
        // The same answer as asking `supervises` of every pair.
        for s in ["boss@x.com", "Other@X.COM", "gone@x.com", "a@x.com"] {
            let scanned: Vec<&Person> = roster
                .reporters()
                .filter(|p| roster.supervises(s, p))
                .collect();
            assert_eq!(emails(groups.of(s)), emails(&scanned), "{s}");
        }
    }

    #[test]
    fn grouping_by_supervisor_finds_each_item_by_its_persons_address_in_order() {
        let roster = roster();
        // Items naming their person by an address in upper case, one
        // unknown; order kept within a supervisor.
        let items = ["C@X.COM", "zz@x.com", "a@x.com", "b@x.com", "c@x.com"];
        let groups = roster.by_supervisor(items, |e| roster.by_email(e));
        assert_eq!(groups.of("boss@x.com"), ["C@X.COM", "a@x.com", "c@x.com"]);
        assert_eq!(groups.of("other@x.com"), ["b@x.com"]);
    }
}
