//! XLSForm `relevant` expressions translated into Sauti's `when` language, keeping XPath's
//! meaning for unanswered questions, or refused with the reason when Sauti has no equivalent.

use std::fmt;

use super::flow_file::Kind;
use super::xpath::{self, CmpOp, XExpr};

/// An earlier question a condition may name: its step id, kind and option codes.
#[derive(Debug, Clone)]
pub struct Earlier<'a> {
    pub id: &'a str,
    pub kind: Kind,
    /// Its options as (XLSForm name, Sauti code).
    pub codes: &'a [(String, String)],
}

impl Earlier<'_> {
    fn code(&self, name: &str) -> Result<&str, String> {
        self.codes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, code)| code.as_str())
            .ok_or_else(|| format!("`{}` has no choice `{name}`", self.id))
    }
}

/// What a condition may refer to: the questions imported before the one being translated.
pub trait Scope {
    /// The question named `name` in the workbook, or why it cannot be named.
    fn earlier(&self, name: &str) -> Result<Earlier<'_>, String>;
}

/// A literal in a `when` comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Text(String),
    Number(f64),
}

/// A `when` condition (docs/flow-format.md), printed in Sauti's syntax by `Display`.
#[derive(Debug, Clone, PartialEq)]
pub enum When {
    And(Box<When>, Box<When>),
    Or(Box<When>, Box<When>),
    Not(Box<When>),
    Answered(String),
    Selected(String, String),
    Compare(String, CmpOp, Literal),
}

impl When {
    pub fn and(a: When, b: When) -> When {
        When::And(Box::new(a), Box::new(b))
    }

    /// Writes `self`, in parentheses when it would bind less tightly than where it stands.
    fn operand(&self, f: &mut fmt::Formatter<'_>, tighter_than_or: bool) -> fmt::Result {
        let loose = match self {
            When::Or(..) => true,
            When::And(..) => tighter_than_or,
            _ => false,
        };
        if loose {
            write!(f, "({self})")
        } else {
            write!(f, "{self}")
        }
    }
}

impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            When::Or(a, b) => {
                a.operand(f, false)?;
                f.write_str(" or ")?;
                b.operand(f, false)
            }
            When::And(a, b) => {
                a.operand(f, false)?;
                f.write_str(" and ")?;
                b.operand(f, false)
            }
            When::Not(a) => {
                f.write_str("not ")?;
                match **a {
                    When::Answered(_) | When::Selected(..) => write!(f, "{a}"),
                    _ => write!(f, "({a})"),
                }
            }
            When::Answered(id) => write!(f, "answered({id})"),
            When::Selected(id, code) => write!(f, "selected({id}, '{code}')"),
            When::Compare(id, op, value) => {
                let op = match op {
                    CmpOp::Eq => "==",
                    CmpOp::Ne => "!=",
                    CmpOp::Lt => "<",
                    CmpOp::Le => "<=",
                    CmpOp::Gt => ">",
                    CmpOp::Ge => ">=",
                };
                write!(f, "{id} {op} ")?;
                match value {
                    Literal::Number(n) => write!(f, "{n}"),
                    // `when` has no escapes: the quote used is one the text does not hold
                    // (`translate` refuses a text that holds both).
                    Literal::Text(t) if t.contains('\'') => write!(f, "\"{t}\""),
                    Literal::Text(t) => write!(f, "'{t}'"),
                }
            }
        }
    }
}

/// Translates a `relevant` expression.
pub fn translate(expr: &XExpr, scope: &dyn Scope) -> Result<When, String> {
    match expr {
        XExpr::Or(a, b) => Ok(When::Or(
            Box::new(translate(a, scope)?),
            Box::new(translate(b, scope)?),
        )),
        XExpr::And(a, b) => Ok(When::and(translate(a, scope)?, translate(b, scope)?)),
        XExpr::Call(name, args) if name == "not" => match args.as_slice() {
            [a] => Ok(When::Not(Box::new(translate(a, scope)?))),
            _ => Err("`not` takes one argument".into()),
        },
        XExpr::Call(name, args) if name == "selected" => match args.as_slice() {
            [XExpr::Field(q), value] => {
                let q = scope.earlier(q)?;
                if !matches!(q.kind, Kind::Choice | Kind::Multi) {
                    return Err(format!("`{}` is not a select question", q.id));
                }
                let code = q.code(&literal_text(value)?)?;
                Ok(When::Selected(q.id.to_owned(), code.to_owned()))
            }
            _ => Err("`selected` takes a question `${name}` and a choice".into()),
        },
        XExpr::Cmp(left, op, right) => match (&**left, &**right) {
            (value, XExpr::Field(_) | XExpr::Call(..)) if !is_question(value) => {
                compare(right, xpath::flipped(*op), value, scope)
            }
            _ => compare(left, *op, right, scope),
        },
        XExpr::Call(name, _) => Err(format!(
            "the function `{name}()` has no equivalent in Sauti's conditions"
        )),
        XExpr::Field(name) => Err(format!(
            "`${{{name}}}` alone is not a condition (compare it with a value)"
        )),
        XExpr::Current | XExpr::Str(_) | XExpr::Num(_) => {
            Err("a value alone is not a condition".into())
        }
    }
}

fn is_question(e: &XExpr) -> bool {
    matches!(e, XExpr::Field(_) | XExpr::Call(..))
}

/// A choice name written as a text or a number (`${q} = 1` when choices are numbered).
fn literal_text(e: &XExpr) -> Result<String, String> {
    match e {
        XExpr::Str(s) => Ok(s.clone()),
        XExpr::Num(n) => Ok(n.to_string()),
        _ => Err("a choice is compared with a quoted name".into()),
    }
}

/// `count-selected(${q}) op n`, which only Sauti's `answered` can say: a select question's
/// answer holds at least one choice, so counts split into none (unanswered) or some.
fn count_selected(q: &Earlier<'_>, op: CmpOp, n: f64) -> Result<When, String> {
    let none = op.holds(0.0, n);
    let one = op.holds(1.0, n);
    // Every count from 1 up must agree; the comparisons are monotonic but for `=` and `!=`.
    let some = one == op.holds(f64::from(u16::MAX), n) && one == op.holds(2.0, n);
    match (none, one, some) {
        (false, true, true) => Ok(When::Answered(q.id.to_owned())),
        (true, false, true) => Ok(When::Not(Box::new(When::Answered(q.id.to_owned())))),
        _ => Err(format!(
            "`count-selected` compared with {n} has no equivalent (only `> 0` or `= 0`)"
        )),
    }
}

/// A number in a literal or a quoted literal (`${age} > '17'`).
fn number(value: &XExpr) -> Option<f64> {
    match value {
        XExpr::Num(n) => Some(*n),
        XExpr::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A date literal, `'2026-01-31'` or `date('2026-01-31')`, checked as a real date.
fn date(value: &XExpr) -> Option<String> {
    let text = match value {
        XExpr::Str(s) => s,
        XExpr::Call(name, args) if name == "date" => match args.as_slice() {
            [XExpr::Str(s)] => s,
            _ => return None,
        },
        _ => return None,
    };
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, &format).ok()?;
    Some(text.clone())
}

/// `question op value`. XPath compares an unanswered question as an empty text, so that
/// `!=` holds; Sauti's comparisons are false on an unanswered step, so `!=` is written
/// `not (q == value)`, which holds in the same cases.
fn compare(question: &XExpr, op: CmpOp, value: &XExpr, scope: &dyn Scope) -> Result<When, String> {
    let q = match question {
        XExpr::Field(name) => scope.earlier(name)?,
        XExpr::Call(name, args) if name == "count-selected" => {
            let [XExpr::Field(name)] = args.as_slice() else {
                return Err("`count-selected` takes a question `${name}`".into());
            };
            let q = scope.earlier(name)?;
            let n = number(value).ok_or("`count-selected` is compared with a number")?;
            return count_selected(&q, op, n);
        }
        XExpr::Call(name, _) => {
            return Err(format!(
                "the function `{name}()` has no equivalent in Sauti's conditions"
            ));
        }
        _ => return Err("a comparison of two values, or of a value with itself".into()),
    };
    if matches!(value, XExpr::Field(_)) {
        return Err("comparing two questions has no equivalent".into());
    }
    let id = q.id.to_owned();
    if *value == XExpr::Str(String::new()) {
        let answered = When::Answered(id);
        return match op {
            CmpOp::Ne => Ok(answered),
            CmpOp::Eq => Ok(When::Not(Box::new(answered))),
            _ => Err("an order comparison with an empty text".into()),
        };
    }
    let literal = match q.kind {
        Kind::Choice if matches!(op, CmpOp::Eq | CmpOp::Ne) => {
            Literal::Text(q.code(&literal_text(value)?)?.to_owned())
        }
        Kind::Choice => return Err(format!("`{id}` is a select_one: compare it with = or !=")),
        Kind::Multi => {
            return Err(format!(
                "`{id}` is a select_multiple: use selected(${{...}}, 'choice')"
            ));
        }
        Kind::Text if matches!(op, CmpOp::Eq | CmpOp::Ne) => match value {
            XExpr::Str(s) if s.contains('\'') && s.contains('"') => {
                return Err("a text holding both kinds of quotes".into());
            }
            XExpr::Str(s) => Literal::Text(s.clone()),
            _ => return Err(format!("`{id}` is a text: compare it with a quoted text")),
        },
        Kind::Text => return Err(format!("`{id}` is a text: compare it with = or !=")),
        Kind::Number => Literal::Number(
            number(value).ok_or_else(|| format!("`{id}` is a number: compare it with one"))?,
        ),
        Kind::Date => Literal::Text(date(value).ok_or_else(|| {
            format!("`{id}` is a date: compare it with 'YYYY-MM-DD' or date('YYYY-MM-DD')")
        })?),
        Kind::Info | Kind::End => return Err(format!("`{id}` holds no answer")),
    };
    Ok(match op {
        CmpOp::Ne => When::Not(Box::new(When::Compare(id, CmpOp::Eq, literal))),
        op => When::Compare(id, op, literal),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xlsform::xpath::parse;

    /// (XLSForm name, step id, kind, codes) of each earlier question.
    type Question = (&'static str, &'static str, Kind, Vec<(String, String)>);

    struct Questions(Vec<Question>);

    impl Scope for Questions {
        fn earlier(&self, name: &str) -> Result<Earlier<'_>, String> {
            self.0
                .iter()
                .find(|(n, ..)| *n == name)
                .map(|(_, id, kind, codes)| Earlier {
                    id,
                    kind: *kind,
                    codes,
                })
                .ok_or_else(|| format!("`${{{name}}}` is not an earlier question"))
        }
    }

    fn codes(names: &[&str]) -> Vec<(String, String)> {
        names
            .iter()
            .map(|n| (n.to_string(), n.replace(' ', "_")))
            .collect()
    }

    fn scope() -> Questions {
        Questions(vec![
            ("work", "work", Kind::Choice, codes(&["mine", "farm", "1"])),
            (
                "tools",
                "tools",
                Kind::Multi,
                codes(&["pick", "pan", "wash plant"]),
            ),
            ("age", "age", Kind::Number, vec![]),
            ("site", "site", Kind::Text, vec![]),
            ("start", "start", Kind::Date, vec![]),
            ("my.name", "my_name", Kind::Text, vec![]),
        ])
    }

    fn when(src: &str) -> Result<String, String> {
        translate(&parse(src)?, &scope()).map(|w| w.to_string())
    }

    #[test]
    fn the_usual_conditions_translate() {
        for (src, expected) in [
            ("${work} = 'mine'", "work == 'mine'"),
            ("${work} = 1", "work == '1'"),
            ("'mine' = ${work}", "work == 'mine'"),
            ("${work} != 'farm'", "not (work == 'farm')"),
            ("${age} >= 18", "age >= 18"),
            ("18 < ${age}", "age > 18"),
            ("${age} <= '65'", "age <= 65"),
            ("${age} != 0", "not (age == 0)"),
            ("${site} = \"it's\"", "site == \"it's\""),
            ("${start} > '2026-01-01'", "start > '2026-01-01'"),
            ("${start} < date('2026-01-01')", "start < '2026-01-01'"),
            (
                "selected(${tools}, 'wash plant')",
                "selected(tools, 'wash_plant')",
            ),
            ("selected(${work}, 'farm')", "selected(work, 'farm')"),
            ("count-selected(${tools}) > 0", "answered(tools)"),
            ("count-selected(${tools}) >= 1", "answered(tools)"),
            ("count-selected(${tools}) = 0", "not answered(tools)"),
            ("${site} != ''", "answered(site)"),
            ("${my.name} = ''", "not answered(my_name)"),
            ("not(${age} > 5)", "not (age > 5)"),
            (
                "not(selected(${tools}, 'pan'))",
                "not selected(tools, 'pan')",
            ),
        ] {
            assert_eq!(when(src).as_deref(), Ok(expected), "{src}");
        }
    }

    #[test]
    fn connectives_keep_their_grouping() {
        assert_eq!(
            when("(${age} > 5 or ${age} < 2) and ${work} = 'mine'").unwrap(),
            "(age > 5 or age < 2) and work == 'mine'"
        );
        assert_eq!(
            when("${age} > 5 or ${age} < 2 and ${work} = 'mine'").unwrap(),
            "age > 5 or age < 2 and work == 'mine'"
        );
        assert_eq!(
            when("not(${age} > 5 and ${work} = 'farm')").unwrap(),
            "not (age > 5 and work == 'farm')"
        );
    }

    #[test]
    fn what_sauti_cannot_say_is_refused_with_the_reason() {
        for (src, reason) in [
            (
                "regex(${site}, '^a')",
                "the function `regex()` has no equivalent",
            ),
            (
                "${age} > ${work}",
                "comparing two questions has no equivalent",
            ),
            ("${tools} = 'pick'", "`tools` is a select_multiple"),
            ("${work} = 'boat'", "`work` has no choice `boat`"),
            ("${work} > 'mine'", "`work` is a select_one"),
            ("${site} < 'm'", "`site` is a text"),
            ("${age} = 'many'", "`age` is a number"),
            ("${start} > today()", "`start` is a date"),
            (
                "count-selected(${tools}) = 2",
                "`count-selected` compared with 2",
            ),
            ("${later} = 'x'", "`${later}` is not an earlier question"),
            ("${age}", "`${age}` alone is not a condition"),
            (
                "string-length(${site}) > 3",
                "the function `string-length()`",
            ),
        ] {
            let error = when(src).unwrap_err();
            assert!(error.starts_with(reason), "{src}: {error}");
        }
    }
}
