//! A `when` condition as an XPath `relevant` over the form's instance paths, with Sauti's
//! meaning kept: a comparison with a question that has no answer is false, `!=` included.

use crate::flow::expr::{Expr, Op};
use crate::flow::{Step, StepIdx};

use super::xml::element_name;

/// The instance path of a step's answer (`/data/incident`).
pub fn path(steps: &[Step], step: StepIdx) -> String {
    format!("/data/{}", element_name(&steps[step as usize].id))
}

/// An XPath 1.0 string literal for any text: XPath has no escapes, so a text holding both
/// quotes is spelled with `concat()`.
pub fn literal(s: &str) -> String {
    if !s.contains('\'') {
        format!("'{s}'")
    } else if !s.contains('"') {
        format!("\"{s}\"")
    } else {
        let parts: Vec<String> = s.split('\'').map(|p| format!("'{p}'")).collect();
        format!("concat({})", parts.join(", \"'\", "))
    }
}

fn operator(op: Op) -> &'static str {
    match op {
        Op::Eq => "=",
        Op::Ne => "!=",
        Op::Lt => "<",
        Op::Le => "<=",
        Op::Gt => ">",
        Op::Ge => ">=",
    }
}

/// `(path != '' and test)`: an unanswered question makes every comparison false, as in Sauti
/// (XPath alone would find `'' != 'x'` true). XPath does not evaluate `test` when `path` is
/// empty, so `date('')` is never reached.
fn answered_and(path: &str, test: String) -> String {
    format!("({path} != '' and {test})")
}

/// The condition as XPath.
pub fn relevant(expr: &Expr, steps: &[Step]) -> String {
    // `and` binds tighter than `or` in both languages: only an `or` under an `and` needs
    // parentheses.
    let grouped = |e: &Expr| match e {
        Expr::Or(..) => format!("({})", relevant(e, steps)),
        _ => relevant(e, steps),
    };
    let code = |step: StepIdx, option: u16| {
        let codes = steps[step as usize].question.options().map(|o| &o.codes);
        literal(
            codes
                .and_then(|c| c.get(option as usize))
                .map_or("", String::as_str),
        )
    };
    match expr {
        Expr::And(a, b) => format!("{} and {}", grouped(a), grouped(b)),
        Expr::Or(a, b) => format!("{} or {}", relevant(a, steps), relevant(b, steps)),
        Expr::Not(a) => format!("not({})", relevant(a, steps)),
        Expr::Answered(s) => format!("{} != ''", path(steps, *s)),
        Expr::Selected { step, option } => {
            format!("selected({}, {})", path(steps, *step), code(*step, *option))
        }
        Expr::Choice {
            step,
            option,
            equal: true,
        } => {
            format!("{} = {}", path(steps, *step), code(*step, *option))
        }
        Expr::Choice {
            step,
            option,
            equal: false,
        } => {
            let p = path(steps, *step);
            answered_and(&p, format!("{p} != {}", code(*step, *option)))
        }
        Expr::Number { step, op, value } => {
            let p = path(steps, *step);
            // Rust prints 10.0 as `10` and never with an exponent: valid XPath numbers.
            let test = format!("{p} {} {value}", operator(*op));
            if *op == Op::Ne {
                answered_and(&p, test)
            } else {
                test
            }
        }
        Expr::Text { step, equal, value } => {
            let p = path(steps, *step);
            // Sauti ignores ASCII case; XPath 1.0 folds it with translate().
            let folded = format!(
                "translate({p}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') {} {}",
                if *equal { "=" } else { "!=" },
                literal(&value.to_ascii_lowercase())
            );
            answered_and(&p, folded)
        }
        Expr::Date { step, op, value } => {
            let p = path(steps, *step);
            let day = literal(&value.to_string());
            match op {
                // Answers are stored as `YYYY-MM-DD`: equality is equality of the texts.
                Op::Eq => format!("{p} = {day}"),
                Op::Ne => answered_and(&p, format!("{p} != {day}")),
                _ => answered_and(&p, format!("date({p}) {} date({day})", operator(*op))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::question::{
        Choice, DateFormat, DateQuestion, Multi, NumberQuestion, Options, Question, TextQuestion,
    };
    use time::macros::date;

    const CONSENT: StepIdx = 0;
    const SERVICES: StepIdx = 1;
    const PEOPLE: StepIdx = 2;
    const SITE: StepIdx = 3;
    const WHEN: StepIdx = 4;

    fn step(id: &str, question: Question) -> Step {
        Step {
            id: id.into(),
            question,
            when: None,
            next: None,
            required: true,
            line: 1,
        }
    }

    fn steps() -> Vec<Step> {
        let options = |codes: &[&str]| Options {
            label_prefix: "x".into(),
            codes: codes.iter().map(|c| (*c).to_owned()).collect(),
        };
        vec![
            step(
                "consent",
                Question::Choice(Choice {
                    options: options(&["yes", "no"]),
                    goto: vec![None, None],
                }),
            ),
            step(
                "services",
                Question::Multi(Multi {
                    options: options(&["calls", "sms", "internet"]),
                    min_selected: 1,
                    max_selected: 3,
                }),
            ),
            step(
                "people",
                Question::Number(NumberQuestion {
                    decimal: true,
                    min: None,
                    max: None,
                }),
            ),
            step(
                "site",
                Question::Text(TextQuestion {
                    min_len: 1,
                    max_len: 60,
                }),
            ),
            step(
                "when",
                Question::Date(DateQuestion {
                    format: DateFormat::parse("DDMMYYYY").unwrap(),
                    min: None,
                    max: None,
                }),
            ),
        ]
    }

    fn xpath(e: Expr) -> String {
        relevant(&e, &steps())
    }

    fn number(op: Op, value: f64) -> Expr {
        Expr::Number {
            step: PEOPLE,
            op,
            value,
        }
    }

    fn day(op: Op) -> Expr {
        Expr::Date {
            step: WHEN,
            op,
            value: date!(2026 - 03 - 15),
        }
    }

    #[test]
    fn choice_equality_and_inequality() {
        let choice = |equal| Expr::Choice {
            step: CONSENT,
            option: 1,
            equal,
        };
        assert_eq!(xpath(choice(true)), "/data/consent = 'no'");
        assert_eq!(
            xpath(choice(false)),
            "(/data/consent != '' and /data/consent != 'no')"
        );
    }

    #[test]
    fn selected_and_answered() {
        assert_eq!(
            xpath(Expr::Selected {
                step: SERVICES,
                option: 2
            }),
            "selected(/data/services, 'internet')"
        );
        assert_eq!(xpath(Expr::Answered(SITE)), "/data/site != ''");
    }

    #[test]
    fn the_six_number_comparisons() {
        assert_eq!(xpath(number(Op::Eq, 10.0)), "/data/people = 10");
        assert_eq!(
            xpath(number(Op::Ne, 10.0)),
            "(/data/people != '' and /data/people != 10)"
        );
        assert_eq!(xpath(number(Op::Lt, 2.5)), "/data/people < 2.5");
        assert_eq!(xpath(number(Op::Le, -3.0)), "/data/people <= -3");
        assert_eq!(xpath(number(Op::Gt, 0.0)), "/data/people > 0");
        assert_eq!(
            xpath(number(Op::Ge, 1e21)),
            "/data/people >= 1000000000000000000000"
        );
    }

    #[test]
    fn the_six_date_comparisons() {
        assert_eq!(xpath(day(Op::Eq)), "/data/when = '2026-03-15'");
        assert_eq!(
            xpath(day(Op::Ne)),
            "(/data/when != '' and /data/when != '2026-03-15')"
        );
        for (op, sign) in [(Op::Lt, "<"), (Op::Le, "<="), (Op::Gt, ">"), (Op::Ge, ">=")] {
            assert_eq!(
                xpath(day(op)),
                format!("(/data/when != '' and date(/data/when) {sign} date('2026-03-15'))")
            );
        }
    }

    #[test]
    fn text_equality_ignores_ascii_case() {
        let fold =
            "translate(/data/site, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')";
        let text = |equal, value: &str| Expr::Text {
            step: SITE,
            equal,
            value: value.into(),
        };
        assert_eq!(
            xpath(text(true, "Twangiza")),
            format!("(/data/site != '' and {fold} = 'twangiza')")
        );
        assert_eq!(
            xpath(text(false, "École")),
            format!("(/data/site != '' and {fold} != 'École')")
        );
    }

    #[test]
    fn literals_with_quotes_stay_literals() {
        assert_eq!(literal("it's"), "\"it's\"");
        assert_eq!(literal("say \"hi\""), "'say \"hi\"'");
        assert_eq!(literal("it's \"x\""), "concat('it', \"'\", 's \"x\"')");
        assert_eq!(literal(""), "''");
    }

    #[test]
    fn and_or_not_keep_their_precedence() {
        let yes = || {
            Box::new(Expr::Choice {
                step: CONSENT,
                option: 0,
                equal: true,
            })
        };
        let site = || Box::new(Expr::Answered(SITE));
        let many = || Box::new(number(Op::Gt, 10.0));
        assert_eq!(
            xpath(Expr::And(yes(), site())),
            "/data/consent = 'yes' and /data/site != ''"
        );
        assert_eq!(
            xpath(Expr::Or(yes(), Box::new(Expr::And(site(), many())))),
            "/data/consent = 'yes' or /data/site != '' and /data/people > 10"
        );
        assert_eq!(
            xpath(Expr::And(Box::new(Expr::Or(yes(), site())), many())),
            "(/data/consent = 'yes' or /data/site != '') and /data/people > 10"
        );
        assert_eq!(
            xpath(Expr::Not(Box::new(Expr::Or(yes(), site())))),
            "not(/data/consent = 'yes' or /data/site != '')"
        );
        assert_eq!(
            xpath(Expr::Not(Box::new(Expr::Not(yes())))),
            "not(not(/data/consent = 'yes'))"
        );
    }
}
