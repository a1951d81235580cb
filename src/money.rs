//! Money in whole fen (1 yuan = 100 fen). Never floating point.

use std::fmt;
use std::ops::{Add, Neg, Sub};

use serde::{Deserialize, Serialize};

/// An amount of money in fen. Negative amounts are reversals (waivers).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Fen(pub i64);

impl Fen {
    pub const ZERO: Fen = Fen(0);

    pub fn from_yuan(yuan: i64) -> Fen {
        Fen(yuan * 100)
    }

    /// The share of `self` given by `percent` (at most 100), rounded toward
    /// zero to a whole fen, so that the fund never receives more than the
    /// rule says. Exact for any amount: the product is taken in i128.
    pub fn percent(self, percent: u8) -> Fen {
        let share = i128::from(self.0) * i128::from(percent.min(100)) / 100;
        // |share| <= |self|, so it fits.
        Fen(i64::try_from(share).unwrap_or(self.0))
    }
}

impl Add for Fen {
    type Output = Fen;
    fn add(self, rhs: Fen) -> Fen {
        Fen(self.0 + rhs.0)
    }
}

impl Sub for Fen {
    type Output = Fen;
    fn sub(self, rhs: Fen) -> Fen {
        Fen(self.0 - rhs.0)
    }
}

impl Neg for Fen {
    type Output = Fen;
    fn neg(self) -> Fen {
        Fen(-self.0)
    }
}

impl std::iter::Sum for Fen {
    fn sum<I: Iterator<Item = Fen>>(iter: I) -> Fen {
        Fen(iter.map(|f| f.0).sum())
    }
}

/// Shown as yuan with two decimals: `50.00`, `-25.00`, `8000.00`; the
/// form files and the command line give, which other programs read.
impl fmt::Display for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

/// An amount as people read it in an email: yuan with two decimals and
/// the thousands grouped by commas (`8,000.00`), as Chinese and English
/// accounts both write them, and a negative one with the minus sign
/// (`−1,250.50`) the emails put before a deduction, so one email never
/// mixes two signs.
#[derive(Debug, Clone, Copy)]
pub struct Grouped(Fen);

impl Fen {
    /// `self` as people read it ([`Grouped`]).
    pub fn grouped(self) -> Grouped {
        Grouped(self)
    }
}

impl fmt::Display for Grouped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plain = self.0.to_string();
        let (sign, digits) = plain
            .strip_prefix('-')
            .map_or(("", plain.as_str()), |rest| ("−", rest));
        let (yuan, fen) = digits.split_at(digits.len() - 3);
        f.write_str(sign)?;
        for (i, c) in yuan.chars().enumerate() {
            if i > 0 && (yuan.len() - i) % 3 == 0 {
                f.write_str(",")?;
            }
            write!(f, "{c}")?;
        }
        f.write_str(fen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifty_yuan_fine_gives_twenty_five_to_the_fund() {
        let fine = Fen::from_yuan(50);
        assert_eq!(fine, Fen(5000));
        assert_eq!(fine.percent(50), Fen(2500));
    }

    #[test]
    fn the_share_of_the_largest_amounts_does_not_overflow() {
        assert_eq!(Fen(i64::MAX).percent(50), Fen(i64::MAX / 2));
        assert_eq!(Fen(i64::MIN).percent(100), Fen(i64::MIN));
        assert_eq!(Fen(1_000).percent(250), Fen(1_000), "at most 100%");
    }

    #[test]
    fn odd_fen_share_rounds_down() {
        assert_eq!(Fen(101).percent(50), Fen(50));
    }

    #[test]
    fn displays_as_yuan_with_two_decimals() {
        assert_eq!(Fen(5000).to_string(), "50.00");
        assert_eq!(Fen(-2505).to_string(), "-25.05");
        assert_eq!(Fen(7).to_string(), "0.07");
        assert_eq!(Fen(80_870_000).to_string(), "808700.00");
    }

    #[test]
    fn an_amount_in_an_email_groups_its_thousands_and_signs_a_negative_with_a_minus() {
        let shown = |fen: i64| Fen(fen).grouped().to_string();
        assert_eq!(shown(5000), "50.00");
        assert_eq!(shown(7), "0.07");
        assert_eq!(shown(99_999), "999.99");
        assert_eq!(shown(100_000), "1,000.00");
        assert_eq!(shown(80_870_000), "808,700.00");
        assert_eq!(shown(-125_050), "−1,250.50");
        assert_eq!(shown(-2505), "−25.05");
        assert_eq!(shown(123_456_789_012), "1,234,567,890.12");
        assert_eq!(shown(i64::MIN), "−92,233,720,368,547,758.08");
    }
}
