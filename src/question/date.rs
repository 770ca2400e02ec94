//! A date typed on the keypad in a fixed order of day, month and year (e.g. `DDMMYYYY`),
//! with or without separators, inside a range that may be relative to today.

use super::{Answer, Invalid};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatePart {
    Day,
    Month,
    Year4,
    Year2,
}

impl DatePart {
    fn width(self) -> usize {
        match self {
            DatePart::Year4 => 4,
            _ => 2,
        }
    }
}

/// A keypad date format such as `DDMMYYYY`, `DDMMYY` or `YYYYMMDD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateFormat {
    pub pattern: String,
    parts: Vec<DatePart>,
}

impl DateFormat {
    pub fn parse(pattern: &str) -> Result<DateFormat, String> {
        let mut parts = Vec::new();
        let mut rest = pattern;
        while !rest.is_empty() {
            let (part, len) = if rest.starts_with("YYYY") {
                (DatePart::Year4, 4)
            } else if rest.starts_with("YY") {
                (DatePart::Year2, 2)
            } else if rest.starts_with("DD") {
                (DatePart::Day, 2)
            } else if rest.starts_with("MM") {
                (DatePart::Month, 2)
            } else {
                return Err(format!(
                    "date format `{pattern}`: expected DD, MM and YYYY (or YY), e.g. `DDMMYYYY`"
                ));
            };
            if parts.iter().any(|p: &DatePart| {
                std::mem::discriminant(p) == std::mem::discriminant(&part)
                    || matches!(
                        (p, part),
                        (DatePart::Year4, DatePart::Year2) | (DatePart::Year2, DatePart::Year4)
                    )
            }) {
                return Err(format!("date format `{pattern}` repeats a part"));
            }
            parts.push(part);
            rest = &rest[len..];
        }
        if parts.len() != 3 {
            return Err(format!(
                "date format `{pattern}` needs a day, a month and a year, e.g. `DDMMYYYY`"
            ));
        }
        Ok(DateFormat {
            pattern: pattern.to_owned(),
            parts,
        })
    }

    /// Reads `31122025`, `31/12/2025`, `31-12-2025` or `31 12 2025` (for `DDMMYYYY`).
    pub fn read(&self, input: &str) -> Option<time::Date> {
        let s = input.trim();
        let groups: Vec<&str> = s
            .split(['/', '-', '.', ' ', '*', '#'])
            .filter(|g| !g.is_empty())
            .collect();
        let mut values = [0u32; 3];
        if groups.len() == 1 {
            let digits = groups[0];
            let width: usize = self.parts.iter().map(|p| p.width()).sum();
            if digits.len() != width || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let mut at = 0;
            for (i, p) in self.parts.iter().enumerate() {
                values[i] = digits[at..at + p.width()].parse().ok()?;
                at += p.width();
            }
        } else if groups.len() == 3 {
            for (i, (g, p)) in groups.iter().zip(&self.parts).enumerate() {
                if g.is_empty() || g.len() > p.width() || !g.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                if matches!(p, DatePart::Year4) && g.len() != 4 {
                    return None;
                }
                values[i] = g.parse().ok()?;
            }
        } else {
            return None;
        }
        let (mut day, mut month, mut year) = (0, 0, 0i32);
        for (p, v) in self.parts.iter().zip(values) {
            match p {
                DatePart::Day => day = v,
                DatePart::Month => month = v,
                DatePart::Year4 => year = v as i32,
                // Two-digit years are this century: surveys ask about recent events.
                DatePart::Year2 => year = 2000 + v as i32,
            }
        }
        let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
        time::Date::from_calendar_date(year, month, u8::try_from(day).ok()?).ok()
    }

    /// How `date` is typed in this format (also used as the example in error messages).
    pub fn write(&self, date: time::Date) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                DatePart::Day => out.push_str(&format!("{:02}", date.day())),
                DatePart::Month => out.push_str(&format!("{:02}", date.month() as u8)),
                DatePart::Year4 => out.push_str(&format!("{:04}", date.year())),
                DatePart::Year2 => out.push_str(&format!("{:02}", date.year().rem_euclid(100))),
            }
        }
        out
    }
}

/// A date limit: fixed, or `today` (plus or minus some days), resolved at each hop from
/// the clock the caller passes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateBound {
    Fixed(time::Date),
    Today { offset_days: i32 },
}

impl DateBound {
    /// `2020-01-01`, `today`, `today-30` or `today+7`.
    pub fn parse(s: &str) -> Result<DateBound, String> {
        let s = s.trim();
        if let Some(rest) = s.strip_prefix("today") {
            let offset_days = if rest.is_empty() {
                0
            } else {
                rest.parse::<i32>().map_err(|_| {
                    format!("`{s}`: expected `today`, `today-N` or `today+N` (days)")
                })?
            };
            return Ok(DateBound::Today { offset_days });
        }
        let fmt = time::macros::format_description!("[year]-[month]-[day]");
        time::Date::parse(s, &fmt)
            .map(DateBound::Fixed)
            .map_err(|_| {
                format!(
                    "`{s}`: expected a date as YYYY-MM-DD, `today`, `today-N` or `today+N` (days)"
                )
            })
    }

    pub fn resolve(self, today: time::Date) -> time::Date {
        match self {
            DateBound::Fixed(d) => d,
            DateBound::Today { offset_days } => today
                .checked_add(time::Duration::days(offset_days as i64))
                .unwrap_or(today),
        }
    }
}

#[derive(Debug, Clone)]
pub struct DateQuestion {
    pub format: DateFormat,
    pub min: Option<DateBound>,
    pub max: Option<DateBound>,
}

impl DateQuestion {
    pub fn parse(&self, input: &str, today: time::Date) -> Result<Answer, Invalid> {
        let Some(date) = self.format.read(input) else {
            return Err(Invalid::NotADate {
                example: self.format.write(today),
            });
        };
        let min = self.min.map(|b| b.resolve(today));
        let max = self.max.map(|b| b.resolve(today));
        if min.is_some_and(|m| date < m) || max.is_some_and(|m| date > m) {
            return Err(Invalid::DateOutOfRange {
                min: min.map(|d| self.format.write(d)),
                max: max.map(|d| self.format.write(d)),
            });
        }
        Ok(Answer::Date(date))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn reads_with_and_without_separators() {
        let f = DateFormat::parse("DDMMYYYY").unwrap();
        assert_eq!(f.read("03022026"), Some(date!(2026 - 02 - 03)));
        assert_eq!(f.read("3/2/2026"), Some(date!(2026 - 02 - 03)));
        assert_eq!(f.read("31022026"), None);
        assert_eq!(f.read("3022026"), None);
        assert_eq!(f.write(date!(2026 - 02 - 03)), "03022026");
    }

    #[test]
    fn bounds_follow_today() {
        let q = DateQuestion {
            format: DateFormat::parse("DDMMYYYY").unwrap(),
            min: Some(DateBound::parse("2020-01-01").unwrap()),
            max: Some(DateBound::parse("today").unwrap()),
        };
        let today = date!(2026 - 11 - 23);
        assert!(q.parse("23112026", today).is_ok());
        assert!(matches!(
            q.parse("24112026", today),
            Err(Invalid::DateOutOfRange { .. })
        ));
        assert!(matches!(
            q.parse("31121999", today),
            Err(Invalid::DateOutOfRange { .. })
        ));
    }
}
