//! A question's limits as an XForm `constraint`, with the reason Sauti would give for a wrong
//! answer (the engine's `invalid-*` message, or the flow's `<step>-invalid`) as its message.

use crate::question::date::DateBound;
use crate::question::{ArgValue, Invalid, Question};

use super::label::Shown;

/// A constraint and the engine messages that explain it, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Constraint {
    pub xpath: String,
    pub reasons: Vec<Reason>,
}

/// One engine message and its arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    pub message_id: &'static str,
    pub args: Vec<(&'static str, Shown)>,
}

impl Reason {
    fn of(why: Invalid) -> Reason {
        Reason {
            message_id: why.message_id(),
            args: why
                .args()
                .into_iter()
                .map(|(name, v)| (name, Shown::Value(v)))
                .collect(),
        }
    }
}

/// A date bound as XPath (`date('2000-01-01')`, `today()`, `today() - 30`) and as shown in a
/// message: a fixed date as `YYYY-MM-DD`, `today` as the form's date of the day.
fn date_bound(bound: DateBound) -> (String, Shown) {
    match bound {
        DateBound::Fixed(d) => (
            format!("date('{d}')"),
            Shown::Value(ArgValue::Text(d.to_string())),
        ),
        DateBound::Today { offset_days } => {
            let xpath = match offset_days {
                0 => "today()".to_owned(),
                n if n > 0 => format!("today() + {n}"),
                n => format!("today() - {}", n.unsigned_abs()),
            };
            (xpath.clone(), Shown::Output(format!("date({xpath})")))
        }
    }
}

/// The constraint of a question, if its kind or settings limit the answers.
pub fn of(question: &Question) -> Option<Constraint> {
    let joined = |tests: Vec<String>| tests.join(" and ");
    match question {
        Question::Text(t) => {
            let mut tests = Vec::new();
            let mut reasons = Vec::new();
            if t.min_len > 1 {
                tests.push(format!("string-length(.) >= {}", t.min_len));
                reasons.push(Reason::of(Invalid::TooShort { min: t.min_len }));
            }
            tests.push(format!("string-length(.) <= {}", t.max_len));
            reasons.push(Reason::of(Invalid::TooLong { max: t.max_len }));
            Some(Constraint {
                xpath: joined(tests),
                reasons,
            })
        }
        Question::Number(n) => {
            let tests: Vec<String> = [
                n.min.map(|m| format!(". >= {m}")),
                n.max.map(|m| format!(". <= {m}")),
            ]
            .into_iter()
            .flatten()
            .collect();
            (!tests.is_empty()).then(|| Constraint {
                xpath: joined(tests),
                reasons: vec![Reason::of(Invalid::NumberOutOfRange {
                    min: n.min,
                    max: n.max,
                })],
            })
        }
        Question::Date(d) => {
            let min = d.min.map(date_bound);
            let max = d.max.map(date_bound);
            let tests: Vec<String> = [
                min.as_ref().map(|(x, _)| format!(". >= {x}")),
                max.as_ref().map(|(x, _)| format!(". <= {x}")),
            ]
            .into_iter()
            .flatten()
            .collect();
            if tests.is_empty() {
                return None;
            }
            // The message id depends on which bounds exist; the arguments are the form's own.
            let why = Invalid::DateOutOfRange {
                min: min.as_ref().map(|_| String::new()),
                max: max.as_ref().map(|_| String::new()),
            };
            let args = [min.map(|(_, s)| ("min", s)), max.map(|(_, s)| ("max", s))]
                .into_iter()
                .flatten()
                .collect();
            Some(Constraint {
                xpath: joined(tests),
                reasons: vec![Reason {
                    message_id: why.message_id(),
                    args,
                }],
            })
        }
        Question::Multi(m)
            if m.min_selected > 1 || usize::from(m.max_selected) < m.options.len() =>
        {
            Some(Constraint {
                xpath: format!(
                    "count-selected(.) >= {} and count-selected(.) <= {}",
                    m.min_selected, m.max_selected
                ),
                reasons: vec![Reason::of(Invalid::SelectionCount {
                    min: m.min_selected,
                    max: m.max_selected,
                })],
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::question::{DateFormat, DateQuestion, NumberQuestion, TextQuestion};
    use time::macros::date;

    #[test]
    fn numbers_dates_and_texts_get_their_limits() {
        let number = Question::Number(NumberQuestion {
            decimal: false,
            min: Some(0.0),
            max: Some(9999.0),
        });
        let c = of(&number).unwrap();
        assert_eq!(c.xpath, ". >= 0 and . <= 9999");
        assert_eq!(c.reasons[0].message_id, "invalid-range");

        let open = Question::Number(NumberQuestion {
            decimal: true,
            min: None,
            max: None,
        });
        assert_eq!(of(&open), None);

        let text = Question::Text(TextQuestion {
            min_len: 3,
            max_len: 40,
        });
        let c = of(&text).unwrap();
        assert_eq!(c.xpath, "string-length(.) >= 3 and string-length(.) <= 40");
        let ids: Vec<_> = c.reasons.iter().map(|r| r.message_id).collect();
        assert_eq!(ids, ["invalid-too-short", "invalid-too-long"]);

        let day = |min, max| {
            Question::Date(DateQuestion {
                format: DateFormat::parse("DDMMYYYY").unwrap(),
                min,
                max,
            })
        };
        let c = of(&day(
            Some(DateBound::Fixed(date!(2000 - 01 - 01))),
            Some(DateBound::Today { offset_days: 0 }),
        ))
        .unwrap();
        assert_eq!(c.xpath, ". >= date('2000-01-01') and . <= today()");
        assert_eq!(c.reasons[0].message_id, "invalid-date-range");
        let c = of(&day(None, Some(DateBound::Today { offset_days: -30 }))).unwrap();
        assert_eq!(c.xpath, ". <= today() - 30");
        assert_eq!(c.reasons[0].message_id, "invalid-date-max");
        assert_eq!(of(&day(None, None)), None);
    }
}
