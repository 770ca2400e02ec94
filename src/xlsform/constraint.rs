//! XLSForm `constraint`s that are bounds (`. >= 0 and . <= 120`, `string-length(.) <= 40`,
//! `count-selected(.) <= 3`, `. <= today()`) as a step's `min`/`max` fields; others are refused.

use super::flow_file::{Kind, Limits};
use super::xpath::{self, CmpOp, XExpr};

/// The bounds a constraint sets on a question of `kind`, or why it has no equivalent.
pub fn translate(expr: &XExpr, kind: Kind, decimal: bool) -> Result<Limits, String> {
    let mut limits = Limits::default();
    let mut conjuncts = Vec::new();
    flatten_and(expr, &mut conjuncts)?;
    for c in conjuncts {
        let (left, op, right) = match c {
            XExpr::Cmp(left, op, right) => (left, op, right),
            XExpr::Call(f, _) => {
                return Err(format!("the function `{f}()` has no equivalent here"));
            }
            _ => return Err("only comparisons of `.` joined by `and` have an equivalent".into()),
        };
        // Value on the right: `0 <= .` is `. >= 0`.
        let (subject, op, value) = if is_subject(left) {
            (&**left, *op, &**right)
        } else {
            (&**right, xpath::flipped(*op), &**left)
        };
        match (kind, subject) {
            (Kind::Number, XExpr::Current) => number_bound(&mut limits, op, value, decimal)?,
            (Kind::Date, XExpr::Current) => date_bound(&mut limits, op, value)?,
            (Kind::Text, XExpr::Call(f, args)) if f == "string-length" && is_dot(args) => {
                let (min, max) = count_bounds(op, value)?;
                limits.min_len = tighter(limits.min_len, min, u16::max);
                limits.max_len = tighter(limits.max_len, max, u16::min);
            }
            (Kind::Multi, XExpr::Call(f, args)) if f == "count-selected" && is_dot(args) => {
                let (min, max) = count_bounds(op, value)?;
                limits.min_selected = tighter(limits.min_selected, min, u16::max);
                limits.max_selected = tighter(limits.max_selected, max, u16::min);
            }
            (_, XExpr::Call(f, _)) => {
                return Err(format!("the function `{f}()` has no equivalent here"));
            }
            _ => return Err("this comparison has no equivalent for this kind of question".into()),
        }
    }
    Ok(limits)
}

fn flatten_and<'a>(e: &'a XExpr, out: &mut Vec<&'a XExpr>) -> Result<(), String> {
    match e {
        XExpr::And(a, b) => {
            flatten_and(a, out)?;
            flatten_and(b, out)
        }
        XExpr::Or(..) => Err("`or` in a constraint has no equivalent".into()),
        other => {
            out.push(other);
            Ok(())
        }
    }
}

fn is_subject(e: &XExpr) -> bool {
    matches!(e, XExpr::Current | XExpr::Call(..))
        && !matches!(e, XExpr::Call(f, _) if f == "date" || f == "today")
}

fn is_dot(args: &[XExpr]) -> bool {
    matches!(args, [XExpr::Current])
}

/// The tighter of two bounds (the larger minimum or the smaller maximum).
fn tighter(old: Option<u16>, new: Option<u16>, pick: fn(u16, u16) -> u16) -> Option<u16> {
    match (old, new) {
        (Some(a), Some(b)) => Some(pick(a, b)),
        (a, b) => a.or(b),
    }
}

fn tighter_value(old: &mut Option<toml::Value>, new: f64, is_min: bool) {
    let keep = old
        .as_ref()
        .and_then(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64)))
        .is_some_and(|o| if is_min { o >= new } else { o <= new });
    if !keep {
        *old = Some(if new.fract() == 0.0 && new.abs() < 1e15 {
            toml::Value::Integer(new as i64)
        } else {
            toml::Value::Float(new)
        });
    }
}

/// `. op n` on a number. A whole-number question turns `> n` into `>= n + 1`; a decimal one
/// cannot say "strictly above", which Sauti's bounds (inclusive) lack.
fn number_bound(
    limits: &mut Limits,
    op: CmpOp,
    value: &XExpr,
    decimal: bool,
) -> Result<(), String> {
    let n = match value {
        XExpr::Num(n) => *n,
        XExpr::Str(s) => s.trim().parse().map_err(|_| "compare `.` with a number")?,
        _ => return Err("compare `.` with a number".into()),
    };
    let strict = |n: f64| -> Result<f64, String> {
        if decimal {
            Err("a strict bound (`<`, `>`) on a decimal has no equivalent: use `<=`, `>=`".into())
        } else {
            Ok(n)
        }
    };
    match op {
        CmpOp::Ge => tighter_value(&mut limits.min, if decimal { n } else { n.ceil() }, true),
        CmpOp::Gt => tighter_value(&mut limits.min, strict(n.floor() + 1.0)?, true),
        CmpOp::Le => tighter_value(&mut limits.max, if decimal { n } else { n.floor() }, false),
        CmpOp::Lt => tighter_value(&mut limits.max, strict(n.ceil() - 1.0)?, false),
        CmpOp::Eq => {
            tighter_value(&mut limits.min, n, true);
            tighter_value(&mut limits.max, n, false);
        }
        CmpOp::Ne => return Err("`!=` in a constraint has no equivalent".into()),
    }
    Ok(())
}

/// `. op date` on a date: `'YYYY-MM-DD'`, `date('YYYY-MM-DD')` or `today()`.
fn date_bound(limits: &mut Limits, op: CmpOp, value: &XExpr) -> Result<(), String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let day = match value {
        XExpr::Call(f, args) if f == "today" && args.is_empty() => None,
        XExpr::Str(s) => Some(s),
        XExpr::Call(f, args) if f == "date" => match args.as_slice() {
            [XExpr::Str(s)] => Some(s),
            _ => return Err("`date()` takes a quoted 'YYYY-MM-DD'".into()),
        },
        _ => return Err("compare `.` with 'YYYY-MM-DD', date('YYYY-MM-DD') or today()".into()),
    };
    // Sauti's bounds are inclusive: a strict one moves by a day.
    let shift: i64 = match op {
        CmpOp::Gt => 1,
        CmpOp::Lt => -1,
        CmpOp::Ge | CmpOp::Le => 0,
        CmpOp::Eq | CmpOp::Ne => return Err("`=`/`!=` on a date has no equivalent".into()),
    };
    let bound = match day {
        None if shift == 0 => "today".to_owned(),
        None => format!("today{shift:+}"),
        Some(s) => {
            let date = time::Date::parse(s, &format)
                .map_err(|_| format!("`{s}` is not a date as 'YYYY-MM-DD'"))?;
            let date = date
                .checked_add(time::Duration::days(shift))
                .ok_or("a date out of range")?;
            date.format(&format).map_err(|e| e.to_string())?
        }
    };
    let slot = if matches!(op, CmpOp::Gt | CmpOp::Ge) {
        &mut limits.min
    } else {
        &mut limits.max
    };
    if slot.is_some() {
        return Err("two bounds on the same side of a date".into());
    }
    *slot = Some(toml::Value::String(bound));
    Ok(())
}

/// `string-length(.)`/`count-selected(.)` `op n` as (minimum, maximum).
fn count_bounds(op: CmpOp, value: &XExpr) -> Result<(Option<u16>, Option<u16>), String> {
    let n = match value {
        XExpr::Num(n) if n.fract() == 0.0 && *n >= 0.0 && *n <= f64::from(u16::MAX) => *n as u16,
        _ => return Err("compare a length or a count with a whole number".into()),
    };
    Ok(match op {
        CmpOp::Ge => (Some(n), None),
        CmpOp::Gt => (Some(n.saturating_add(1)), None),
        CmpOp::Le => (None, Some(n)),
        CmpOp::Lt if n > 0 => (None, Some(n - 1)),
        CmpOp::Eq => (Some(n), Some(n)),
        CmpOp::Lt | CmpOp::Ne => return Err("this length or count bound has no equivalent".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xlsform::xpath::parse;
    use toml::Value::{Float, Integer, String as Str};

    fn limits(src: &str, kind: Kind, decimal: bool) -> Result<Limits, String> {
        translate(&parse(src)?, kind, decimal)
    }

    #[test]
    fn number_bounds() {
        let l = limits(". >= 0 and . <= 120", Kind::Number, false).unwrap();
        assert_eq!((l.min, l.max), (Some(Integer(0)), Some(Integer(120))));
        let l = limits(". > 0 and . < 100", Kind::Number, false).unwrap();
        assert_eq!((l.min, l.max), (Some(Integer(1)), Some(Integer(99))));
        let l = limits("0 <= . and 10 >= .", Kind::Number, false).unwrap();
        assert_eq!((l.min, l.max), (Some(Integer(0)), Some(Integer(10))));
        let l = limits(". >= 0.5 and . <= 2.5", Kind::Number, true).unwrap();
        assert_eq!((l.min, l.max), (Some(Float(0.5)), Some(Float(2.5))));
        let l = limits(
            ". >= 1 and . >= 3 and . <= 9 and . <= 5",
            Kind::Number,
            false,
        )
        .unwrap();
        assert_eq!((l.min, l.max), (Some(Integer(3)), Some(Integer(5))));
        assert!(
            limits(". > 0", Kind::Number, true)
                .unwrap_err()
                .contains("strict")
        );
        assert!(
            limits(". < 0 or . > 10", Kind::Number, false)
                .unwrap_err()
                .contains("`or`")
        );
    }

    #[test]
    fn text_lengths_and_selection_counts() {
        let l = limits("string-length(.) <= 40", Kind::Text, false).unwrap();
        assert_eq!((l.min_len, l.max_len), (None, Some(40)));
        let l = limits(
            "string-length(.) > 2 and string-length(.) < 41",
            Kind::Text,
            false,
        )
        .unwrap();
        assert_eq!((l.min_len, l.max_len), (Some(3), Some(40)));
        let l = limits("count-selected(.) <= 2", Kind::Multi, false).unwrap();
        assert_eq!((l.min_selected, l.max_selected), (None, Some(2)));
    }

    #[test]
    fn date_bounds() {
        let l = limits(". <= today() and . >= '2020-01-01'", Kind::Date, false).unwrap();
        assert_eq!(
            (l.min, l.max),
            (Some(Str("2020-01-01".into())), Some(Str("today".into())))
        );
        let l = limits(". < today() and . > date('2020-12-31')", Kind::Date, false).unwrap();
        assert_eq!(
            (l.min, l.max),
            (Some(Str("2021-01-01".into())), Some(Str("today-1".into())))
        );
    }

    #[test]
    fn other_constraints_are_refused() {
        for (src, kind) in [
            ("regex(., '^[0-9]+$')", Kind::Text),
            (". != 3", Kind::Number),
            (". >= ${age}", Kind::Number),
            ("string-length(.) <= 40", Kind::Number),
            (". <= 10", Kind::Choice),
        ] {
            assert!(limits(src, kind, false).is_err(), "{src}");
        }
    }
}
