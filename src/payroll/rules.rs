//! Pay rules as data, and the pay they give. The handbook's tables
//! (POLICY.md section 3) are the defaults; `[payroll]` in the config may
//! change any of them. The single home of the commission bands and of
//! payroll's one rounding rule.
//!
//! # The rounding rule
//!
//! Sales and salaries are whole fen. Every amount that comes from applying a
//! rate or a proportion to an amount (one band of a marginal table, the
//! proxy-visit and SMS commission, a team commission, the base salary cut in
//! proportion to sales) is computed exactly in integers and then rounded
//! ONCE to the nearest fen, half a fen rounding up. Totals are sums of those
//! rounded amounts, so every figure shown adds up to the fen.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::money::Fen;

/// A rate in basis points (hundredths of a percent): 3% is 300, 1.5% is
/// 150. Written and shown as `"1.5%"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Rate(u32);

impl Rate {
    pub const ZERO: Rate = Rate(0);

    /// `bp` hundredths of a percent.
    pub const fn bp(bp: u32) -> Rate {
        Rate(bp)
    }

    /// A whole percent.
    pub const fn percent(p: u32) -> Rate {
        Rate(p * 100)
    }

    pub fn as_bp(self) -> u32 {
        self.0
    }

    /// `amount × self`, rounded by the module's rule.
    pub fn of(self, amount: Fen) -> Fen {
        round_ratio(i128::from(amount.0) * i128::from(self.0), 10_000)
    }
}

/// Why a text is not a rate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a percentage: write e.g. \"3%\" or \"1.5%\" (at most two decimals, at most 1000%)"
)]
pub struct RateParseError(pub String);

/// `"3%"`, `"1.5%"`, `"0.25%"` (the `%` may be left out).
impl FromStr for Rate {
    type Err = RateParseError;
    fn from_str(s: &str) -> Result<Rate, RateParseError> {
        let err = || RateParseError(s.to_string());
        let t = s.trim();
        let t = t.strip_suffix('%').unwrap_or(t).trim();
        let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
        let digits = |x: &str| x.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || whole.len() > 4 || frac.len() > 2 || !digits(whole) || !digits(frac)
        {
            return Err(err());
        }
        let whole: u32 = whole.parse().map_err(|_| err())?;
        let frac: u32 = format!("{frac:0<2}").parse().map_err(|_| err())?;
        let bp = whole * 100 + frac;
        if bp > 100_000 {
            return Err(err());
        }
        Ok(Rate(bp))
    }
}

/// `3%`, `1.5%`, `0.25%`.
impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, frac) = (self.0 / 100, self.0 % 100);
        match frac {
            0 => write!(f, "{whole}%"),
            _ if frac % 10 == 0 => write!(f, "{whole}.{}%", frac / 10),
            _ => write!(f, "{whole}.{frac:02}%"),
        }
    }
}

impl Serialize for Rate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Rate, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// `numerator / denominator` to the nearest fen, half a fen up (for the
/// non-negative amounts of payroll; a negative one rounds half toward zero).
fn round_ratio(numerator: i128, denominator: i128) -> Fen {
    if denominator <= 0 {
        return Fen::ZERO;
    }
    let rounded = (2 * numerator + denominator).div_euclid(2 * denominator);
    Fen(i64::try_from(rounded).unwrap_or(if rounded < 0 { i64::MIN } else { i64::MAX }))
}

/// One band of a marginal table: sales from `from` up to the next band's
/// `from` earn `rate` (like tax brackets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bracket {
    pub from: Fen,
    pub rate: Rate,
}

/// A marginal commission table: bands in increasing order, the first from
/// 0, the last open-ended. Make one with [`MarginalTable::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarginalTable(Vec<Bracket>);

/// Why a table of bands is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    #[error("the table is empty: give at least one band starting at 0")]
    Empty,
    #[error("the first band must start at 0, not {0}")]
    FirstNotZero(String),
    #[error("band {0} does not start above the band before it: list bands in increasing order")]
    NotIncreasing(usize),
}

impl MarginalTable {
    pub fn new(brackets: Vec<Bracket>) -> Result<MarginalTable, TableError> {
        check_bounds(brackets.iter().map(|b| b.from.0), |v| Fen(v).to_string())?;
        Ok(MarginalTable(brackets))
    }

    pub fn brackets(&self) -> &[Bracket] {
        &self.0
    }

    /// The commission on `sales`, band by band.
    pub fn apply(&self, sales: Fen) -> Marginal {
        let mut parts = Vec::new();
        for (i, b) in self.0.iter().enumerate() {
            let upper = self.0.get(i + 1).map(|n| n.from);
            if sales <= b.from {
                break;
            }
            let top = upper.map_or(sales, |u| u.min(sales));
            let amount = top - b.from;
            if b.rate == Rate::ZERO {
                continue;
            }
            parts.push(BandPart {
                from: b.from,
                to: upper,
                amount,
                rate: b.rate,
                commission: b.rate.of(amount),
            });
        }
        let total = parts.iter().map(|p| p.commission).sum();
        Marginal { parts, total }
    }
}

/// Checks that band starts begin at 0 and increase.
fn check_bounds(
    starts: impl Iterator<Item = i64>,
    show: impl Fn(i64) -> String,
) -> Result<(), TableError> {
    let mut prev: Option<i64> = None;
    for (i, from) in starts.enumerate() {
        match prev {
            None if from != 0 => return Err(TableError::FirstNotZero(show(from))),
            Some(p) if from <= p => return Err(TableError::NotIncreasing(i + 1)),
            _ => prev = Some(from),
        }
    }
    prev.map(|_| ()).ok_or(TableError::Empty)
}

/// The part of the sales that fell in one band with a rate above 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BandPart {
    #[serde(rename = "from_fen")]
    pub from: Fen,
    /// `None` for the open-ended top band.
    #[serde(rename = "to_fen")]
    pub to: Option<Fen>,
    /// The sales in this band.
    #[serde(rename = "amount_fen")]
    pub amount: Fen,
    pub rate: Rate,
    #[serde(rename = "commission_fen")]
    pub commission: Fen,
}

/// A marginal commission: each band's part and their sum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marginal {
    pub parts: Vec<BandPart>,
    #[serde(rename = "total_fen")]
    pub total: Fen,
}

/// Supervisor or manager commission: from `from` of the team target
/// reached (inclusive) up to the next band's `from` (exclusive), `rate` of
/// the team's sales. Half-open bands, so 70% exactly is in [70%, 100%).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AchievementBand {
    /// Achievement as a rate: 70% is `Rate::percent(70)`.
    pub from: Rate,
    pub rate: Rate,
}

/// Achievement bands in increasing order, the first from 0%.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AchievementTable(Vec<AchievementBand>);

impl AchievementTable {
    pub fn new(bands: Vec<AchievementBand>) -> Result<AchievementTable, TableError> {
        check_bounds(bands.iter().map(|b| i64::from(b.from.0)), |v| {
            Rate(u32::try_from(v).unwrap_or(0)).to_string()
        })?;
        Ok(AchievementTable(bands))
    }

    pub fn bands(&self) -> &[AchievementBand] {
        &self.0
    }

    /// The band `sales` of `target` falls in: the last whose `from` is
    /// reached, compared exactly (sales × 10000 ≥ target × from).
    pub fn band(&self, sales: Fen, target: Fen) -> AchievementBand {
        let reached = |b: &AchievementBand| {
            i128::from(sales.0) * 10_000 >= i128::from(target.0) * i128::from(b.from.0)
        };
        self.0
            .iter()
            .rev()
            .find(|b| reached(b))
            .or_else(|| self.0.first())
            .copied()
            .unwrap_or(AchievementBand {
                from: Rate::ZERO,
                rate: Rate::ZERO,
            })
    }
}

/// A level of the promotion ladder (晋升阶梯): its base salary, and for a
/// clerk the monthly sales that earn it for the next month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Level {
    pub name: String,
    pub base: Fen,
    pub min_sales: Option<Fen>,
}

/// Every pay rule. `Default` is the handbook's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayRules {
    pub base_probation: Fen,
    pub base_regular: Fen,
    /// Base salary of supervisors and managers; the handbook gives none.
    pub base_supervisor: Option<Fen>,
    pub base_manager: Option<Fen>,
    /// 基础业绩: below it the base salary is cut in proportion.
    pub base_performance: Fen,
    /// Two probation months together at least this → regular from month 3.
    pub probation_two_months: Fen,
    /// 公司最低指标: a month below it is flagged (the handbook names no
    /// figure; the default is the base performance).
    pub minimum_target: Fen,
    pub clerk: MarginalTable,
    pub rep: MarginalTable,
    /// Proxy-visit (代理拜访) share: paid to the rep on top, taken from the
    /// clerk's commission.
    pub proxy_share: Rate,
    /// SMS bulk-sending (短信群发) orders.
    pub sms: Rate,
    pub supervisor: AchievementTable,
    pub manager: AchievementTable,
    pub levels: Vec<Level>,
}

fn yuan(y: i64) -> Fen {
    Fen::from_yuan(y)
}

fn marginal(bands: &[(i64, u32)]) -> MarginalTable {
    MarginalTable(
        bands
            .iter()
            .map(|&(from, pct)| Bracket {
                from: yuan(from),
                rate: Rate::percent(pct),
            })
            .collect(),
    )
}

fn achievement(bands: &[(u32, u32)]) -> AchievementTable {
    AchievementTable(
        bands
            .iter()
            .map(|&(from, bp)| AchievementBand {
                from: Rate::percent(from),
                rate: Rate::bp(bp),
            })
            .collect(),
    )
}

impl Default for PayRules {
    fn default() -> PayRules {
        PayRules {
            base_probation: yuan(700),
            base_regular: yuan(750),
            base_supervisor: None,
            base_manager: None,
            base_performance: yuan(8_000),
            probation_two_months: yuan(15_000),
            minimum_target: yuan(8_000),
            clerk: marginal(&[(0, 0), (8_000, 3), (16_000, 4), (32_000, 5)]),
            rep: marginal(&[(0, 0), (5_000, 3), (12_000, 4), (23_000, 5), (35_000, 6)]),
            proxy_share: Rate::percent(1),
            sms: Rate::percent(3),
            supervisor: achievement(&[(0, 0), (70, 100), (100, 150), (150, 200)]),
            // The handbook's manager table stops at 1.5%.
            manager: achievement(&[(0, 0), (70, 100), (100, 150)]),
            levels: Vec::new(),
        }
    }
}

/// Probation month 1 or 2, or regular (转正).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    #[serde(rename = "probation_1")]
    Probation1,
    #[serde(rename = "probation_2")]
    Probation2,
    Regular,
}

impl Standing {
    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Probation1 => "probation_1",
            Standing::Probation2 => "probation_2",
            Standing::Regular => "regular",
        }
    }
}

/// The base salary before the cut: probation, or the level named, or (for
/// a clerk) the level last month's sales reached, or regular.
pub fn base_salary(
    rules: &PayRules,
    standing: Standing,
    level: Option<&str>,
    clerk_last_month: Option<Fen>,
) -> Fen {
    if standing != Standing::Regular {
        return rules.base_probation;
    }
    if let Some(l) = level.and_then(|name| rules.levels.iter().find(|l| l.name == name)) {
        return l.base;
    }
    clerk_last_month
        .and_then(|sales| {
            rules
                .levels
                .iter()
                .filter(|l| l.min_sales.is_some_and(|m| sales >= m))
                .max_by_key(|l| l.min_sales)
        })
        .map_or(rules.base_regular, |l| l.base)
}

/// The base salary cut in proportion to sales below the base performance
/// (base × sales / base performance); the whole base at or above it.
pub fn base_after_cut(rules: &PayRules, base: Fen, counted_sales: Fen) -> Fen {
    if counted_sales >= rules.base_performance || rules.base_performance.0 <= 0 {
        return base;
    }
    round_ratio(
        i128::from(base.0) * i128::from(counted_sales.0.max(0)),
        i128::from(rules.base_performance.0),
    )
}

/// A rep's commission: marginal on self-developed sales (自拓), plus the
/// proxy-visit share of the sales closed on clerks' visits (代理拜访), plus
/// SMS orders. Proxy sales do not count toward the rep's target.
pub fn rep_commission(rules: &PayRules, own: Fen, proxy: Fen, sms: Fen) -> Commission {
    let sales = rules.rep.apply(own);
    Commission::new(sales, rules.proxy_share.of(proxy), rules.sms.of(sms))
}

/// A clerk's commission: marginal on all the clerk's sales (own and handed
/// to a rep for a visit), less the proxy-visit share of the handed ones,
/// plus SMS orders. The share comes out of the commission only, never out
/// of the base salary.
pub fn clerk_commission(rules: &PayRules, own: Fen, handed: Fen, sms: Fen) -> Commission {
    let sales = rules.clerk.apply(own + handed);
    let share = rules.proxy_share.of(handed).min(sales.total);
    Commission::new(sales, -share, rules.sms.of(sms))
}

/// A commission broken into its parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commission {
    /// Marginal commission on sales.
    pub sales: Marginal,
    /// Proxy-visit share: positive for a rep, negative (given away) for a
    /// clerk.
    pub proxy_fen: Fen,
    pub sms_fen: Fen,
    pub total_fen: Fen,
}

impl Commission {
    fn new(sales: Marginal, proxy: Fen, sms: Fen) -> Commission {
        let total = sales.total + proxy + sms;
        Commission {
            sales,
            proxy_fen: proxy,
            sms_fen: sms,
            total_fen: total,
        }
    }
}

/// A supervisor's or manager's commission on the team's sales.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamCommission {
    pub team_sales_fen: Fen,
    pub target_fen: Fen,
    /// Achievement, as a rate rounded down to 0.01% (for showing; the band
    /// is chosen exactly).
    pub achievement: Rate,
    /// The band's lower bound.
    pub band_from: Rate,
    pub rate: Rate,
    pub commission_fen: Fen,
}

pub fn team_commission(table: &AchievementTable, team_sales: Fen, target: Fen) -> TeamCommission {
    let band = table.band(team_sales, target);
    let achievement = if target.0 > 0 {
        let bp = i128::from(team_sales.0) * 10_000 / i128::from(target.0);
        Rate(u32::try_from(bp).unwrap_or(u32::MAX))
    } else {
        Rate::ZERO
    };
    TeamCommission {
        team_sales_fen: team_sales,
        target_fen: target,
        achievement,
        band_from: band.from,
        rate: band.rate,
        commission_fen: band.rate.of(team_sales),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn r() -> PayRules {
        PayRules::default()
    }

    fn parts(m: &Marginal) -> Vec<Fen> {
        m.parts.iter().map(|p| p.commission).collect()
    }

    #[test]
    fn clerk_worked_example_32000_gives_base_plus_240_plus_640() {
        let c = clerk_commission(&r(), yuan(32_000), Fen::ZERO, Fen::ZERO);
        assert_eq!(parts(&c.sales), [yuan(240), yuan(640)]);
        assert_eq!(c.total_fen, yuan(880));
        assert_eq!(base_after_cut(&r(), yuan(750), yuan(32_000)), yuan(750));
    }

    #[test]
    fn rep_worked_example_23000_own_7000_proxy_gives_base_plus_210_440_70() {
        let c = rep_commission(&r(), yuan(23_000), yuan(7_000), Fen::ZERO);
        assert_eq!(parts(&c.sales), [yuan(210), yuan(440)]);
        assert_eq!(c.proxy_fen, yuan(70));
        assert_eq!(c.total_fen, yuan(720));
    }

    #[test]
    fn clerk_band_edges_are_half_open() {
        let total = |y: i64| clerk_commission(&r(), Fen(y), Fen::ZERO, Fen::ZERO).total_fen;
        assert_eq!(total(800_000), Fen::ZERO, "8000 exactly earns nothing yet");
        assert_eq!(total(800_001), Fen(0), "one fen at 3% rounds to 0");
        assert_eq!(total(800_100), Fen(3), "1 yuan at 3%");
        assert_eq!(total(1_600_000), yuan(240));
        assert_eq!(
            total(1_600_100),
            yuan(240) + Fen(4),
            "the 16000th yuan and up at 4%"
        );
        assert_eq!(total(3_200_100), yuan(880) + Fen(5), "above 32000 at 5%");
        assert_eq!(
            total(5_000_000),
            yuan(880) + yuan(900),
            "50000: the top band"
        );
    }

    #[test]
    fn rep_band_edges_are_half_open() {
        let total = |y: i64| rep_commission(&r(), yuan(y), Fen::ZERO, Fen::ZERO).total_fen;
        assert_eq!(total(5_000), Fen::ZERO);
        assert_eq!(total(5_001), Fen(3));
        assert_eq!(total(12_000), yuan(210));
        assert_eq!(total(12_001), yuan(210) + Fen(4));
        assert_eq!(total(23_000), yuan(650));
        assert_eq!(total(23_001), yuan(650) + Fen(5));
        assert_eq!(total(35_000), yuan(650) + yuan(600));
        assert_eq!(total(35_001), yuan(1_250) + Fen(6));
    }

    #[test]
    fn supervisor_bands_are_half_open_at_70_100_and_150_percent() {
        let t = &r().supervisor;
        let target = yuan(100_000);
        let rate = |sales: i64| t.band(Fen(sales), target).rate;
        assert_eq!(rate(6_999_999), Rate::ZERO, "69.99999%");
        assert_eq!(rate(7_000_000), Rate::percent(1), "70% exactly");
        assert_eq!(rate(9_999_999), Rate::percent(1), "just under 100%");
        assert_eq!(rate(10_000_000), Rate::bp(150), "100% exactly");
        assert_eq!(rate(14_999_999), Rate::bp(150), "just under 150%");
        assert_eq!(rate(15_000_000), Rate::percent(2), "150% exactly");
        let c = team_commission(t, yuan(120_000), target);
        assert_eq!(c.commission_fen, yuan(1_800));
        assert_eq!(c.achievement.to_string(), "120%");
    }

    #[test]
    fn manager_table_stops_at_one_and_a_half_percent() {
        let c = team_commission(&r().manager, yuan(400_000), yuan(100_000));
        assert_eq!(c.rate, Rate::bp(150));
        assert_eq!(c.commission_fen, yuan(6_000));
    }

    #[test]
    fn base_is_cut_in_proportion_below_base_performance() {
        assert_eq!(base_after_cut(&r(), yuan(750), yuan(4_000)), Fen(37_500));
        assert_eq!(base_after_cut(&r(), yuan(700), Fen::ZERO), Fen::ZERO);
        // 750 × 1234.56 / 8000 = 115.74 yuan exactly 11574 fen.
        assert_eq!(base_after_cut(&r(), yuan(750), Fen(123_456)), Fen(11_574));
        // 700 × 1.01 / 8000 = 0.0883750 yuan = 8.8375 fen → 9 fen.
        assert_eq!(base_after_cut(&r(), yuan(700), Fen(101)), Fen(9));
        assert_eq!(base_after_cut(&r(), yuan(750), yuan(8_000)), yuan(750));
    }

    #[test]
    fn half_a_fen_rounds_up() {
        assert_eq!(Rate::bp(50).of(Fen(100)), Fen(1), "0.5 fen");
        assert_eq!(Rate::bp(49).of(Fen(100)), Fen(0), "0.49 fen");
        assert_eq!(Rate::percent(3).of(Fen(50)), Fen(2), "1.5 fen");
    }

    #[test]
    fn clerk_proxy_share_comes_out_of_commission_only() {
        // 20000 in all, 5000 handed to a rep: 240 + 160 − 50.
        let c = clerk_commission(&r(), yuan(15_000), yuan(5_000), Fen::ZERO);
        assert_eq!(c.total_fen, yuan(350));
        assert_eq!(c.proxy_fen, -yuan(50));
        // Below 8000 there is no commission to share.
        let low = clerk_commission(&r(), yuan(1_000), yuan(2_000), Fen::ZERO);
        assert_eq!(low.total_fen, Fen::ZERO);
    }

    #[test]
    fn sms_orders_pay_three_percent() {
        let c = rep_commission(&r(), Fen::ZERO, Fen::ZERO, yuan(1_000));
        assert_eq!(c.sms_fen, yuan(30));
    }

    #[test]
    fn probation_levels_and_clerk_floating_base() {
        let mut rules = r();
        rules.levels = vec![
            Level {
                name: "L2".into(),
                base: yuan(900),
                min_sales: Some(yuan(20_000)),
            },
            Level {
                name: "L3".into(),
                base: yuan(1_100),
                min_sales: Some(yuan(40_000)),
            },
        ];
        assert_eq!(
            base_salary(&rules, Standing::Probation1, Some("L3"), None),
            yuan(700)
        );
        assert_eq!(
            base_salary(&rules, Standing::Regular, Some("L3"), None),
            yuan(1_100)
        );
        assert_eq!(
            base_salary(&rules, Standing::Regular, None, Some(yuan(25_000))),
            yuan(900)
        );
        assert_eq!(
            base_salary(&rules, Standing::Regular, None, Some(yuan(19_999))),
            yuan(750)
        );
    }

    #[test]
    fn rates_read_and_show_with_up_to_two_decimals() {
        assert_eq!("1.5%".parse::<Rate>(), Ok(Rate::bp(150)));
        assert_eq!(" 3 % ".parse::<Rate>(), Ok(Rate::percent(3)));
        assert_eq!("0.25%".parse::<Rate>(), Ok(Rate::bp(25)));
        assert!("1.255%".parse::<Rate>().is_err());
        assert!("-1%".parse::<Rate>().is_err());
        assert!("abc".parse::<Rate>().is_err());
        assert_eq!(Rate::bp(150).to_string(), "1.5%");
        assert_eq!(Rate::bp(25).to_string(), "0.25%");
        assert_eq!(Rate::percent(2).to_string(), "2%");
    }

    #[test]
    fn tables_must_start_at_zero_and_increase() {
        let b = |from: i64| Bracket {
            from: yuan(from),
            rate: Rate::ZERO,
        };
        assert_eq!(MarginalTable::new(vec![]), Err(TableError::Empty));
        assert!(matches!(
            MarginalTable::new(vec![b(5)]),
            Err(TableError::FirstNotZero(_))
        ));
        assert_eq!(
            MarginalTable::new(vec![b(0), b(5), b(5)]),
            Err(TableError::NotIncreasing(3))
        );
    }

    proptest! {
        #[test]
        fn marginal_commission_never_falls_as_sales_rise(a in 0i64..1_000_000_000, d in 0i64..100_000_000) {
            for table in [&r().clerk, &r().rep] {
                prop_assert!(table.apply(Fen(a + d)).total >= table.apply(Fen(a)).total);
            }
        }

        #[test]
        fn marginal_commission_is_the_exact_sum_rounded_per_band(sales in 0i64..1_000_000_000) {
            let m = r().rep.apply(Fen(sales));
            // The parts cover the sales above the zero band exactly.
            let covered: i64 = m.parts.iter().map(|p| p.amount.0).sum();
            prop_assert_eq!(covered, (sales - 500_000).max(0));
            // Each part is within half a fen of the exact product.
            for p in &m.parts {
                let exact = i128::from(p.amount.0) * i128::from(p.rate.as_bp());
                let diff = i128::from(p.commission.0) * 10_000 - exact;
                prop_assert!((-4_999..=5_000).contains(&diff), "half a fen rounds up: {p:?}");
            }
            prop_assert_eq!(m.total, m.parts.iter().map(|p| p.commission).sum::<Fen>());
        }

        #[test]
        fn whole_yuan_at_whole_percents_needs_no_rounding(y in 0i64..1_000_000) {
            let m = r().clerk.apply(yuan(y));
            for p in &m.parts {
                prop_assert_eq!(i128::from(p.commission.0) * 10_000, i128::from(p.amount.0) * i128::from(p.rate.as_bp()));
            }
        }

        #[test]
        fn the_cut_base_never_exceeds_the_base_and_grows_with_sales(s in 0i64..2_000_000, d in 0i64..1_000_000) {
            let rules = r();
            let low = base_after_cut(&rules, yuan(750), Fen(s));
            let high = base_after_cut(&rules, yuan(750), Fen(s + d));
            prop_assert!(low <= high && high <= yuan(750) && low >= Fen::ZERO);
        }
    }
}
