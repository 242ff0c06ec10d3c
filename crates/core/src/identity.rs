//! Identity (POLICY §2): GB 11643-1999 citizen IDs and name comparison.
//!
//! A person is keyed by the **normalized** ID: trimmed of Unicode whitespace,
//! NFKC (full-width digits and Ｘ become ASCII), `x` upper-cased, legacy
//! 15-digit IDs converted to 18. Validation needs the as-of date D because a
//! birth date after D makes an ID invalid.

use chrono::{Datelike, NaiveDate};
use unicode_normalization::UnicodeNormalization;

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS: [u8; 11] = *b"10X98765432";

/// A valid, normalized 18-character citizen ID.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CitizenId(String);

/// Gender encoded in digit 17 of an ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gender {
    Male,
    Female,
}

impl Gender {
    /// `男` / `女`
    pub fn chinese(self) -> &'static str {
        match self {
            Gender::Male => "男",
            Gender::Female => "女",
        }
    }
}

impl CitizenId {
    /// The 18-character normalized form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Birth date (digits 7–14).
    pub fn birth_date(&self) -> NaiveDate {
        parse_ymd(&self.0[6..14]).expect("validated at construction")
    }

    /// Odd digit 17 = male.
    pub fn gender(&self) -> Gender {
        let d = self.0.as_bytes()[16] - b'0';
        if d % 2 == 1 {
            Gender::Male
        } else {
            Gender::Female
        }
    }

    /// Completed years on `on`.
    pub fn age_on(&self, on: NaiveDate) -> i32 {
        age_on(self.birth_date(), on)
    }

    /// Masked form for logs: `520102********123X` (first 6, last 4).
    pub fn masked(&self) -> String {
        mask_id(&self.0)
    }
}

impl std::fmt::Display for CitizenId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Completed years from `birth` to `on`.
pub fn age_on(birth: NaiveDate, on: NaiveDate) -> i32 {
    let mut age = on.year() - birth.year();
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age
}

/// Masks anything that looks like an ID for a log line: keeps the first 6 and
/// last 4 characters of the trimmed value, `*` in between. Short values are
/// fully masked.
pub fn mask_id(raw: &str) -> String {
    let chars: Vec<char> = raw.trim().chars().collect();
    if chars.len() <= 10 {
        return "*".repeat(chars.len());
    }
    let mut out: String = chars[..6].iter().collect();
    out.extend(std::iter::repeat_n('*', chars.len() - 10));
    out.extend(chars[chars.len() - 4..].iter());
    out
}

/// Masks a name for a log line: keeps the first character.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.trim().chars();
    match chars.next() {
        Some(first) => std::iter::once(first).chain(chars.map(|_| '*')).collect(),
        None => String::new(),
    }
}

/// Step one of §2, before validation: trim Unicode whitespace, NFKC, upper-case `x`.
pub fn normalize_id_text(raw: &str) -> String {
    let trimmed = raw.trim_matches(|c: char| c.is_whitespace());
    if trimmed.is_ascii() {
        // NFKC leaves ASCII unchanged; almost every delivered ID takes this path.
        return trimmed.replace('x', "X");
    }
    trimmed.nfkc().map(|c| if c == 'x' { 'X' } else { c }).collect()
}

/// Why an ID is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("length {0}, expected 18 (or legacy 15)")]
    Length(usize),
    #[error("non-digit character")]
    NotDigits,
    #[error("birth date is not a real date")]
    BadDate,
    #[error("birth date is before 1900 or after the as-of date")]
    DateOutOfRange,
    #[error("check character is wrong")]
    CheckChar,
}

/// Check character for the first 17 digits.
pub fn check_char(first17: &[u8]) -> u8 {
    let sum: u32 = first17.iter().zip(WEIGHTS).map(|(d, w)| (d - b'0') as u32 * w).sum();
    CHECK_CHARS[(sum % 11) as usize]
}

fn parse_ymd(s: &str) -> Option<NaiveDate> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    NaiveDate::from_ymd_opt(s[0..4].parse().ok()?, s[4..6].parse().ok()?, s[6..8].parse().ok()?)
}

/// Normalizes and validates a raw ID as of `as_of` (POLICY §2).
pub fn parse_id(raw: &str, as_of: NaiveDate) -> Result<CitizenId, IdError> {
    let s = normalize_id_text(raw);
    let b = s.as_bytes();
    let full = match s.chars().count() {
        18 => {
            if !b[..17].iter().all(u8::is_ascii_digit) || !(b[17].is_ascii_digit() || b[17] == b'X') {
                return Err(IdError::NotDigits);
            }
            s
        }
        15 => {
            if !b.iter().all(u8::is_ascii_digit) {
                return Err(IdError::NotDigits);
            }
            let mut first17 = Vec::with_capacity(18);
            first17.extend_from_slice(&b[..6]);
            first17.extend_from_slice(b"19");
            first17.extend_from_slice(&b[6..15]);
            let c = check_char(&first17);
            first17.push(c);
            String::from_utf8(first17).expect("ascii")
        }
        n => return Err(IdError::Length(n)),
    };
    let date = parse_ymd(&full[6..14]).ok_or(IdError::BadDate)?;
    if date.year() < 1900 || date > as_of {
        return Err(IdError::DateOutOfRange);
    }
    if check_char(&full.as_bytes()[..17]) != full.as_bytes()[17] {
        return Err(IdError::CheckChar);
    }
    Ok(CitizenId(full))
}

/// Name normalization for comparison: NFKC, drop all whitespace, middle-dot
/// variants → `·` (U+00B7).
pub fn normalize_name(name: &str) -> String {
    name.nfkc()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '•' | '・' | '･' | '‧' | '.' => '·',
            c => c,
        })
        .collect()
}

/// Two names match when their normalized forms are equal. With
/// `gbk_question_marks`, a `?` in `delivered` stands for one registry character
/// that GBK cannot encode (the banking exchange writes `?` there); a `?` in
/// place of a character GBK *can* encode is a real error and does not match.
pub fn names_match(delivered: &str, registry: &str, gbk_question_marks: bool) -> bool {
    let a = normalize_name(delivered);
    let b = normalize_name(registry);
    if !gbk_question_marks || !a.contains('?') {
        return a == b;
    }
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| x == y || (*x == '?' && !gbk_encodes(*y)))
}

/// Whether GBK has a code for `c`.
pub fn gbk_encodes(c: char) -> bool {
    let mut buf = [0u8; 4];
    let (_, _, unmappable) = encoding_rs::GBK.encode(c.encode_utf8(&mut buf));
    !unmappable
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }
    const D: &str = "2026-11-26";

    #[test]
    fn accepts_valid_and_normalizes() {
        let id = parse_id("52030219930128007x", d(D)).unwrap();
        assert_eq!(id.as_str(), "52030219930128007X");
        assert_eq!(parse_id("　520382198001171995 ", d(D)).unwrap().as_str(), "520382198001171995");
        assert_eq!(parse_id("５２０３８２１９８００１１７１９９５", d(D)).unwrap().as_str(), "520382198001171995");
    }

    #[test]
    fn converts_legacy_15() {
        // Roster sample: 520502670915355 → 520502196709153557
        assert_eq!(parse_id("520502670915355", d(D)).unwrap().as_str(), "520502196709153557");
        assert_eq!(parse_id("520221811224863", d(D)).unwrap().as_str(), "520221198112248635");
    }

    #[test]
    fn rejects_invalid() {
        assert_eq!(parse_id("52018120031230852", d(D)), Err(IdError::Length(17)));
        assert_eq!(parse_id("5203021959A6214771", d(D)), Err(IdError::NotDigits));
        assert_eq!(parse_id("52260119861332047X", d(D)), Err(IdError::BadDate));
        assert_eq!(parse_id("520123202705239909", d(D)), Err(IdError::DateOutOfRange));
        assert_eq!(parse_id("520103198109051535", d(D)), Err(IdError::CheckChar));
    }

    #[test]
    fn gender_birth_age() {
        let id = parse_id("520103198109051534", d(D)).unwrap();
        assert_eq!(id.gender(), Gender::Male);
        assert_eq!(id.birth_date(), d("1981-09-05"));
        assert_eq!(id.age_on(d(D)), 45);
        assert_eq!(id.age_on(d("1981-09-04").with_year(2041).unwrap()), 59);
        assert_eq!(id.masked(), "520103********1534");
    }

    #[test]
    fn names() {
        assert!(names_match("迪丽努尔 · 玉素甫", "迪丽努尔•玉素甫", false));
        assert!(names_match("　姚玉荣", "姚玉荣", false));
        assert!(names_match("买买提.热合曼", "买买提·热合曼", false));
        assert!(!names_match("王宇", "王雨", false));
        // 喆 has a GBK code: a `?` in its place is an error, not an encoding gap.
        assert!(!names_match("董荣?", "董荣喆", true));
        // 𠮷 has none: the exchange could only write `?`.
        assert!(names_match("张?", "张𠮷", true));
        assert!(!names_match("张?", "张𠮷", false));
        assert!(!names_match("李?", "张𠮷", true));
        assert!(!names_match("张?", "张𠮷华", true));
    }

    fn valid_id() -> impl Strategy<Value = String> {
        (100000u32..999999, 1900i32..=2026, 1u32..=12, 1u32..=31, 0u32..1000).prop_filter_map(
            "real date",
            |(region, y, m, day, seq)| {
                let date = NaiveDate::from_ymd_opt(y, m, day)?;
                if date > NaiveDate::from_ymd_opt(2026, 11, 26)? {
                    return None;
                }
                let first17 = format!("{region:06}{}{seq:03}", date.format("%Y%m%d"));
                let c = check_char(first17.as_bytes()) as char;
                Some(format!("{first17}{c}"))
            },
        )
    }

    proptest! {
        #[test]
        fn every_valid_id_is_accepted_and_round_trips(id in valid_id()) {
            let parsed = parse_id(&id, d(D)).unwrap();
            prop_assert_eq!(parsed.as_str(), id.as_str());
            let lower = parse_id(&id.to_lowercase(), d(D)).unwrap();
            prop_assert_eq!(lower.as_str(), id.as_str());
        }

        #[test]
        fn every_single_character_corruption_is_caught(id in valid_id(), pos in 0usize..18, delta in 1u8..11) {
            let mut b = id.clone().into_bytes();
            // Replace one character by a different one from the 11-symbol alphabet 0-9X.
            let alphabet = b"0123456789X";
            let cur = alphabet.iter().position(|c| *c == b[pos]).unwrap();
            b[pos] = alphabet[(cur + delta as usize) % 11];
            let corrupted = String::from_utf8(b).unwrap();
            prop_assert!(parse_id(&corrupted, d(D)).is_err(), "{} accepted", corrupted);
        }

        #[test]
        fn legacy_15_converts_to_the_18_digit_form(id in valid_id()) {
            let year: i32 = id[6..10].parse().unwrap();
            prop_assume!((1900..2000).contains(&year));
            let legacy = format!("{}{}{}", &id[..6], &id[8..14], &id[14..17]);
            let converted = parse_id(&legacy, d(D)).unwrap();
            prop_assert_eq!(converted.as_str(), id.as_str());
        }
    }
}
