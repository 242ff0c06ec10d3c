//! Money in integer fen (分). Never a float: yuan strings are parsed digit by
//! digit, products are compared as integers (POLICY §5: "compare without dividing").

use std::fmt;

/// An amount in fen (1 yuan = 100 fen).
pub type Fen = i64;

/// Why an amount string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("empty amount")]
    Empty,
    #[error("not an amount: {0:?}")]
    Invalid(String),
    #[error("more than {max} decimals: {raw:?}")]
    TooPrecise { raw: String, max: u32 },
    #[error("amount out of range: {0:?}")]
    Overflow(String),
}

/// Parses a decimal string into an integer number of `10^-scale` units,
/// exactly. Accepts thousands separators (`1,234.5`), full-width digits are
/// expected to be NFKC-normalized already. Refuses more decimals than `scale`.
pub fn parse_scaled(raw: &str, scale: u32) -> Result<i64, MoneyError> {
    let s: String = raw.trim().chars().filter(|c| *c != ',' && *c != '，' && !c.is_whitespace()).collect();
    if s.is_empty() {
        return Err(MoneyError::Empty);
    }
    let (neg, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(&s)),
    };
    let (int_part, frac_part) = match body.split_once('.') {
        Some((i, f)) => (i, f),
        None => (body, ""),
    };
    if (int_part.is_empty() && frac_part.is_empty())
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(MoneyError::Invalid(raw.to_string()));
    }
    if frac_part.len() as u32 > scale {
        // Trailing zeros beyond the scale are harmless ("12.3400" at scale 2).
        if frac_part[scale as usize..].bytes().any(|b| b != b'0') {
            return Err(MoneyError::TooPrecise { raw: raw.to_string(), max: scale });
        }
    }
    let mut value: i64 = 0;
    let overflow = || MoneyError::Overflow(raw.to_string());
    for b in int_part.bytes() {
        value = value.checked_mul(10).and_then(|v| v.checked_add((b - b'0') as i64)).ok_or_else(overflow)?;
    }
    let frac = frac_part.as_bytes();
    for i in 0..scale as usize {
        let d = frac.get(i).map(|b| (b - b'0') as i64).unwrap_or(0);
        value = value.checked_mul(10).and_then(|v| v.checked_add(d)).ok_or_else(overflow)?;
    }
    Ok(if neg { -value } else { value })
}

/// Parses yuan (`1,234.56`, `1234`, `0.5`) into fen.
pub fn parse_yuan(raw: &str) -> Result<Fen, MoneyError> {
    parse_scaled(raw, 2)
}

/// Parses 万元 with up to 4 decimals (`50`, `12.3456`) into fen: 1 万元 = 1,000,000 fen.
pub fn parse_wan_yuan(raw: &str) -> Result<Fen, MoneyError> {
    // 万元 with 4 decimals is a whole number of yuan; yuan → fen is ×100.
    parse_scaled(raw, 4)?.checked_mul(100).ok_or_else(|| MoneyError::Overflow(raw.to_string()))
}

/// Converts a foreign amount in cents at `rate` (expressed in 10^-`rate_scale`
/// units, e.g. 7.10 → 710 at scale 2) to fen, rounding half-up (away from zero
/// for negative amounts) to the fen.
pub fn convert_half_up(cents: i64, rate: i64, rate_scale: u32) -> Fen {
    let num = cents as i128 * rate as i128;
    let den = 10i128.pow(rate_scale);
    let q = num / den;
    let r = (num % den).abs();
    let adj = if r * 2 >= den { if num < 0 { -1 } else { 1 } } else { 0 };
    (q + adj) as Fen
}

/// An amount of fen formatted as yuan with exactly two decimals (`1234.50`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Yuan(pub Fen);

impl fmt::Display for Yuan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", a / 100, a % 100)
    }
}

/// Formats fen as yuan with thousands separators (`9,120.00`) for human text.
pub fn yuan_grouped(fen: Fen) -> String {
    let s = Yuan(fen).to_string();
    let (sign, rest) = s.strip_prefix('-').map(|r| ("-", r)).unwrap_or(("", &s));
    let (int, frac) = rest.split_once('.').unwrap_or((rest, "00"));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}.{frac}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_yuan_with_separators() {
        assert_eq!(parse_yuan("25,920.00"), Ok(2_592_000));
        assert_eq!(parse_yuan("4,886,963.02"), Ok(488_696_302));
        assert_eq!(parse_yuan("0.5"), Ok(50));
        assert_eq!(parse_yuan(" 12 "), Ok(1200));
        assert_eq!(parse_yuan("-3.01"), Ok(-301));
        assert!(matches!(parse_yuan("1.234"), Err(MoneyError::TooPrecise { .. })));
        assert_eq!(parse_yuan("1.230"), Ok(123));
        assert!(matches!(parse_yuan("abc"), Err(MoneyError::Invalid(_))));
        assert_eq!(parse_yuan(""), Err(MoneyError::Empty));
    }

    #[test]
    fn parses_wan_yuan() {
        assert_eq!(parse_wan_yuan("10"), Ok(10_000_000)); // 10 万元 = 100,000.00 yuan
        assert_eq!(parse_wan_yuan("12.3456"), Ok(12_345_600));
        assert_eq!(parse_wan_yuan("0.0001"), Ok(100)); // one yuan
    }

    #[test]
    fn usd_rounds_half_up_to_the_fen() {
        // 1.00 USD × 7.10 = 7.10 CNY
        assert_eq!(convert_half_up(100, 710, 2), 710);
        // 0.05 USD × 7.10 = 0.355 → 0.36
        assert_eq!(convert_half_up(5, 710, 2), 36);
        // 0.01 USD × 7.20 = 0.072 → 0.07
        assert_eq!(convert_half_up(1, 720, 2), 7);
        // 0.15 × 7.10 = 1.065 → 1.07 (exactly half rounds up)
        assert_eq!(convert_half_up(15, 710, 2), 107);
    }

    #[test]
    fn formats_yuan() {
        assert_eq!(Yuan(0).to_string(), "0.00");
        assert_eq!(Yuan(804000).to_string(), "8040.00");
        assert_eq!(Yuan(-5).to_string(), "-0.05");
        assert_eq!(yuan_grouped(912000), "9,120.00");
        assert_eq!(yuan_grouped(100000000), "1,000,000.00");
    }
}
