//! A number typed on the keypad: integer by default, decimal (`2.5` or `2,5`) when allowed.

use super::{Answer, Invalid};

#[derive(Debug, Clone)]
pub struct NumberQuestion {
    pub decimal: bool,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

impl NumberQuestion {
    pub fn parse(&self, input: &str) -> Result<Answer, Invalid> {
        let s = input.trim();
        let (sign, digits) = match s.as_bytes().first() {
            Some(b'-') => (-1.0, &s[1..]),
            Some(b'+') => (1.0, &s[1..]),
            _ => (1.0, s),
        };
        let (whole, frac) = match digits.find(['.', ',']) {
            Some(i) => (&digits[..i], Some(&digits[i + 1..])),
            None => (digits, None),
        };
        let is_digits =
            |p: &str| !p.is_empty() && p.len() <= 15 && p.bytes().all(|b| b.is_ascii_digit());
        if !is_digits(whole) || frac.is_some_and(|f| !is_digits(f)) {
            return Err(Invalid::NotANumber);
        }
        if frac.is_some() && !self.decimal {
            return Err(Invalid::NotAnInteger);
        }
        let value: f64 = match frac {
            Some(f) => format!("{whole}.{f}")
                .parse::<f64>()
                .map_err(|_| Invalid::NotANumber)?,
            None => whole.parse::<f64>().map_err(|_| Invalid::NotANumber)?,
        } * sign;
        if self.min.is_some_and(|m| value < m) || self.max.is_some_and(|m| value > m) {
            return Err(Invalid::NumberOutOfRange {
                min: self.min,
                max: self.max,
            });
        }
        if self.decimal {
            Ok(Answer::Decimal(value))
        } else {
            Ok(Answer::Integer(value as i64))
        }
    }
}
