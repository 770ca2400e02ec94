//! The `when` language for skip logic. A step is asked only when its condition holds.
//!
//! ```text
//! expr   := or
//! or     := and ("or" and)*
//! and    := unary ("and" unary)*
//! unary  := "not" unary | "(" expr ")" | call | step op literal
//! call   := "selected(" step "," 'code' ")" | "answered(" step ")"
//! op     := == | != | < | <= | > | >=
//! literal:= 'text' | "text" | number
//! ```
//! A condition on a step that was not answered (skipped, or on another branch) is false.

use crate::question::{Answer, Question};

use super::StepIdx;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    pub(crate) fn holds<T: PartialOrd>(self, a: T, b: T) -> bool {
        match self {
            Op::Eq => a == b,
            Op::Ne => a != b,
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
        }
    }
}

/// A checked condition: step references are indices, option codes are option indices.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Answered(StepIdx),
    Selected {
        step: StepIdx,
        option: u16,
    },
    Choice {
        step: StepIdx,
        option: u16,
        equal: bool,
    },
    Number {
        step: StepIdx,
        op: Op,
        value: f64,
    },
    Text {
        step: StepIdx,
        equal: bool,
        value: String,
    },
    Date {
        step: StepIdx,
        op: Op,
        value: time::Date,
    },
}

impl Expr {
    /// Evaluates against the answers given so far.
    pub fn eval<'a>(&self, answer: &impl Fn(StepIdx) -> Option<&'a Answer>) -> bool {
        match self {
            Expr::And(a, b) => a.eval(answer) && b.eval(answer),
            Expr::Or(a, b) => a.eval(answer) || b.eval(answer),
            Expr::Not(a) => !a.eval(answer),
            Expr::Answered(s) => !matches!(answer(*s), None | Some(Answer::Skipped)),
            Expr::Selected { step, option } => match answer(*step) {
                Some(Answer::Multi(picked)) => picked.contains(option),
                Some(Answer::Choice(picked)) => picked == option,
                _ => false,
            },
            Expr::Choice {
                step,
                option,
                equal,
            } => match answer(*step) {
                Some(Answer::Choice(picked)) => (picked == option) == *equal,
                _ => false,
            },
            Expr::Number { step, op, value } => match answer(*step) {
                Some(Answer::Integer(n)) => op.holds(*n as f64, *value),
                Some(Answer::Decimal(n)) => op.holds(*n, *value),
                _ => false,
            },
            Expr::Text { step, equal, value } => match answer(*step) {
                Some(Answer::Text(t)) => (t.eq_ignore_ascii_case(value)) == *equal,
                _ => false,
            },
            Expr::Date { step, op, value } => match answer(*step) {
                Some(Answer::Date(d)) => op.holds(*d, *value),
                _ => false,
            },
        }
    }

    /// Every step the condition reads.
    pub fn steps(&self, out: &mut Vec<StepIdx>) {
        match self {
            Expr::And(a, b) | Expr::Or(a, b) => {
                a.steps(out);
                b.steps(out);
            }
            Expr::Not(a) => a.steps(out),
            Expr::Answered(step)
            | Expr::Selected { step, .. }
            | Expr::Choice { step, .. }
            | Expr::Number { step, .. }
            | Expr::Text { step, .. }
            | Expr::Date { step, .. } => out.push(*step),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Num(f64),
    Op(Op),
    LParen,
    RParen,
    Comma,
}

/// The 1-based column of byte offset `i`, in characters: `check` reports every position in
/// characters (`problem::line_col`), and a byte count is off after any accented letter.
fn column(src: &str, i: usize) -> usize {
    src[..i].chars().count() + 1
}

fn tokenize(src: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = src.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Token::LParen);
            }
            ')' => {
                chars.next();
                out.push(Token::RParen);
            }
            ',' => {
                chars.next();
                out.push(Token::Comma);
            }
            '\'' | '"' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some((_, q)) if q == c => break,
                        Some((_, ch)) => s.push(ch),
                        None => return Err(format!("unclosed quote at column {}", column(src, i))),
                    }
                }
                out.push(Token::Str(s));
            }
            '=' | '!' | '<' | '>' => {
                chars.next();
                let eq = chars.next_if(|&(_, n)| n == '=').is_some();
                let op = match (c, eq) {
                    ('=', true) => Op::Eq,
                    ('!', true) => Op::Ne,
                    ('<', false) => Op::Lt,
                    ('<', true) => Op::Le,
                    ('>', false) => Op::Gt,
                    ('>', true) => Op::Ge,
                    _ => {
                        return Err(format!(
                            "unknown operator at column {} (use == or !=)",
                            column(src, i)
                        ));
                    }
                };
                out.push(Token::Op(op));
            }
            c if c.is_ascii_digit() || c == '-' => {
                let mut s = String::new();
                while let Some(&(_, d)) = chars.peek() {
                    if d.is_ascii_digit() || d == '.' || (s.is_empty() && d == '-') {
                        s.push(d);
                        chars.next();
                    } else {
                        break;
                    }
                }
                let n = s
                    .parse()
                    .map_err(|_| format!("bad number `{s}` at column {}", column(src, i)))?;
                out.push(Token::Num(n));
            }
            c if c.is_alphanumeric() || c == '_' => {
                let mut s = String::new();
                while let Some(&(_, d)) = chars.peek() {
                    if d.is_alphanumeric() || d == '_' || d == '-' {
                        s.push(d);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(Token::Ident(s));
            }
            _ => return Err(format!("unexpected `{c}` at column {}", column(src, i))),
        }
    }
    Ok(out)
}

/// What the parser needs to know about the steps a condition may name.
pub trait StepScope {
    /// The step's index and question, if it is defined before the step being compiled.
    fn earlier(&self, id: &str) -> Result<(StepIdx, &Question), String>;
}

/// Most `and`, `or`, `not` and parentheses one condition may hold. The parser recurses once per
/// `not` and parenthesis, and each `and`/`or`/`not` adds a level to the tree that `eval`, `steps`
/// and `drop` recurse through: unbounded, a condition of a few thousand `(` overflowed the stack
/// (a crash of `check`, and of a server reloading the flow), found by fuzzing (docs/fuzzing.md).
pub const MAX_OPERATORS: usize = 100;

/// Parses and type-checks a `when` condition.
pub fn parse(src: &str, scope: &dyn StepScope) -> Result<Expr, String> {
    let tokens = tokenize(src)?;
    let mut p = Parser {
        tokens,
        at: 0,
        scope,
        operators: 0,
    };
    let e = p.or()?;
    if p.at != p.tokens.len() {
        return Err(format!(
            "unexpected `{:?}` after a complete condition",
            p.tokens[p.at]
        ));
    }
    Ok(e)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    at: usize,
    scope: &'a dyn StepScope,
    /// `and`, `or`, `not` and parentheses read so far (see [`MAX_OPERATORS`]).
    operators: usize,
}

impl Parser<'_> {
    fn peek_word(&self, w: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Ident(s)) if s == w)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn expect(&mut self, t: Token, what: &str) -> Result<(), String> {
        match self.next() {
            Some(x) if x == t => Ok(()),
            _ => Err(format!("expected {what}")),
        }
    }

    /// Counts one more `and`, `or`, `not` or parenthesis.
    fn operator(&mut self) -> Result<(), String> {
        self.operators += 1;
        if self.operators > MAX_OPERATORS {
            return Err(format!(
                "the condition is too complex: at most {MAX_OPERATORS} `and`, `or`, `not` and parentheses"
            ));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut e = self.and()?;
        while self.peek_word("or") {
            self.operator()?;
            self.at += 1;
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut e = self.unary()?;
        while self.peek_word("and") {
            self.operator()?;
            self.at += 1;
            e = Expr::And(Box::new(e), Box::new(self.unary()?));
        }
        Ok(e)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Token::Ident(w)) if w == "not" => {
                self.operator()?;
                Ok(Expr::Not(Box::new(self.unary()?)))
            }
            Some(Token::LParen) => {
                self.operator()?;
                let e = self.or()?;
                self.expect(Token::RParen, "`)`")?;
                Ok(e)
            }
            Some(Token::Ident(w)) if w == "answered" || w == "selected" => {
                self.expect(Token::LParen, &format!("`(` after `{w}`"))?;
                let Some(Token::Ident(id)) = self.next() else {
                    return Err(format!("`{w}(...)` takes a step id first"));
                };
                let (step, q) = self.scope.earlier(&id)?;
                let e = if w == "answered" {
                    Expr::Answered(step)
                } else {
                    self.expect(Token::Comma, "`,` then an option code")?;
                    let Some(Token::Str(code)) = self.next() else {
                        return Err("`selected(step, 'code')` takes a quoted option code".into());
                    };
                    let options = q
                        .options()
                        .ok_or_else(|| format!("`selected`: step `{id}` has no options"))?;
                    let option = options
                        .index_of(&code)
                        .ok_or_else(|| format!("step `{id}` has no option `{code}`"))?;
                    Expr::Selected { step, option }
                };
                self.expect(Token::RParen, "`)`")?;
                Ok(e)
            }
            Some(Token::Ident(id)) => {
                let (step, q) = self.scope.earlier(&id)?;
                let Some(Token::Op(op)) = self.next() else {
                    return Err(format!(
                        "expected a comparison after `{id}` (==, !=, <, <=, >, >=)"
                    ));
                };
                let literal = self.next().ok_or("expected a value after the operator")?;
                compare(&id, step, q, op, literal)
            }
            Some(t) => Err(format!("unexpected {t:?}")),
            None => Err("the condition ends too early".into()),
        }
    }
}

fn compare(id: &str, step: StepIdx, q: &Question, op: Op, literal: Token) -> Result<Expr, String> {
    let equality = matches!(op, Op::Eq | Op::Ne);
    match (q, literal) {
        (Question::Choice(c), Token::Str(code)) if equality => {
            let option = c
                .options
                .index_of(&code)
                .ok_or_else(|| format!("step `{id}` has no option `{code}`"))?;
            Ok(Expr::Choice {
                step,
                option,
                equal: op == Op::Eq,
            })
        }
        (Question::Multi(_), _) => Err(format!(
            "`{id}` is a multi choice: use `selected({id}, 'code')`"
        )),
        (Question::Number(_), Token::Num(value)) => Ok(Expr::Number { step, op, value }),
        (Question::Text(_), Token::Str(value)) if equality => Ok(Expr::Text {
            step,
            equal: op == Op::Eq,
            value,
        }),
        (Question::Date(_), Token::Str(s)) => {
            let fmt = time::macros::format_description!("[year]-[month]-[day]");
            let value = time::Date::parse(&s, &fmt)
                .map_err(|_| format!("`{s}`: compare dates as 'YYYY-MM-DD'"))?;
            Ok(Expr::Date { step, op, value })
        }
        (q, _) => Err(format!(
            "cannot compare `{id}` ({}) that way; see docs/flow-format.md",
            q.kind_name()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::question::{
        Choice, DateFormat, DateQuestion, Multi, NumberQuestion, Options, TextQuestion,
    };
    use time::macros::date;

    /// The steps of the example in docs/flow-format.md, as a condition of a later step sees
    /// them; `later` is the step being compiled, so it cannot be read.
    struct Scope(Vec<(&'static str, Question)>);

    const CONSENT: StepIdx = 0;
    const INCIDENT: StepIdx = 1;
    const SERVICES: StepIdx = 2;
    const WHEN: StepIdx = 3;
    const SITE: StepIdx = 4;
    const PEOPLE: StepIdx = 5;
    const NOTE: StepIdx = 6;

    fn options(prefix: &str, codes: &[&str]) -> Options {
        Options {
            label_prefix: prefix.into(),
            codes: codes.iter().map(|c| (*c).to_owned()).collect(),
        }
    }

    fn scope() -> Scope {
        let choice = |prefix, codes: &[&str]| {
            let options = options(prefix, codes);
            Question::Choice(Choice {
                goto: vec![None; options.len()],
                options,
            })
        };
        Scope(vec![
            ("consent", choice("yes_no", &["yes", "no"])),
            (
                "incident",
                choice(
                    "incident",
                    &["accident", "violence", "illegal_tax", "other"],
                ),
            ),
            (
                "services",
                Question::Multi(Multi {
                    options: options("services", &["calls", "sms", "internet"]),
                    min_selected: 1,
                    max_selected: 3,
                }),
            ),
            (
                "when",
                Question::Date(DateQuestion {
                    format: DateFormat::parse("DDMMYYYY").unwrap(),
                    min: None,
                    max: None,
                }),
            ),
            (
                "site",
                Question::Text(TextQuestion {
                    min_len: 1,
                    max_len: 60,
                }),
            ),
            (
                "people",
                Question::Number(NumberQuestion {
                    decimal: true,
                    min: None,
                    max: None,
                }),
            ),
            ("note", Question::Info),
            ("later", Question::End),
        ])
    }

    impl StepScope for Scope {
        fn earlier(&self, id: &str) -> Result<(StepIdx, &Question), String> {
            let current = self.0.len() - 1;
            match self.0.iter().position(|(s, _)| *s == id) {
                None => Err(format!("unknown step `{id}`")),
                Some(i) if i >= current => Err(format!("step `{id}` is not earlier")),
                Some(i) => Ok((i as StepIdx, &self.0[i].1)),
            }
        }
    }

    fn parsed(src: &str) -> Expr {
        parse(src, &scope()).unwrap_or_else(|e| panic!("{src:?} should parse: {e}"))
    }

    fn error(src: &str) -> String {
        match parse(src, &scope()) {
            Ok(e) => panic!("{src:?} should not parse, got {e:?}"),
            Err(msg) => msg,
        }
    }

    /// Whether `src` holds with these answers (steps not listed have no answer).
    fn holds(src: &str, answers: &[(StepIdx, Answer)]) -> bool {
        parsed(src).eval(&|i| answers.iter().find(|(s, _)| *s == i).map(|(_, a)| a))
    }

    fn text(s: &str) -> Answer {
        Answer::Text(s.into())
    }

    // --- choice: == and != with an option code ---

    #[test]
    fn choice_equality_compares_the_option_picked() {
        assert_eq!(
            parsed("consent == 'yes'"),
            Expr::Choice {
                step: CONSENT,
                option: 0,
                equal: true
            }
        );
        assert!(holds("consent == 'yes'", &[(CONSENT, Answer::Choice(0))]));
        assert!(!holds("consent == 'yes'", &[(CONSENT, Answer::Choice(1))]));
        assert!(holds(
            "incident == 'other'",
            &[(INCIDENT, Answer::Choice(3))]
        ));
        assert!(!holds(
            "incident == 'other'",
            &[(INCIDENT, Answer::Choice(2))]
        ));
    }

    #[test]
    fn choice_inequality_compares_the_option_picked() {
        assert!(holds("consent != 'yes'", &[(CONSENT, Answer::Choice(1))]));
        assert!(!holds("consent != 'yes'", &[(CONSENT, Answer::Choice(0))]));
    }

    #[test]
    fn a_choice_without_an_answer_is_neither_equal_nor_unequal() {
        for src in ["consent == 'yes'", "consent != 'yes'"] {
            assert!(!holds(src, &[]), "{src} unanswered");
            assert!(!holds(src, &[(CONSENT, Answer::Skipped)]), "{src} skipped");
        }
        assert!(holds("not (consent == 'yes')", &[]));
    }

    #[test]
    fn choice_comparisons_must_name_an_option_with_equality() {
        assert_eq!(
            error("consent == 'maybe'"),
            "step `consent` has no option `maybe`"
        );
        for src in ["consent < 'yes'", "consent >= 'yes'", "consent == 1"] {
            assert!(
                error(src).starts_with("cannot compare `consent` (choice) that way"),
                "{src}"
            );
        }
    }

    // --- selected(step, 'code') ---

    #[test]
    fn selected_reads_a_multi_answer() {
        assert_eq!(
            parsed("selected(services, 'internet')"),
            Expr::Selected {
                step: SERVICES,
                option: 2
            }
        );
        let picked = [(SERVICES, Answer::Multi(vec![0, 2]))];
        assert!(holds("selected(services, 'internet')", &picked));
        assert!(holds("selected(services, 'calls')", &picked));
        assert!(!holds("selected(services, 'sms')", &picked));
        assert!(!holds("selected(services, 'sms')", &[]));
        assert!(!holds(
            "selected(services, 'sms')",
            &[(SERVICES, Answer::Skipped)]
        ));
    }

    #[test]
    fn selected_reads_a_choice_answer_too() {
        assert!(holds(
            "selected(consent, \"no\")",
            &[(CONSENT, Answer::Choice(1))]
        ));
        assert!(!holds(
            "selected(consent, 'no')",
            &[(CONSENT, Answer::Choice(0))]
        ));
    }

    #[test]
    fn selected_needs_a_step_with_options_and_one_of_its_codes() {
        assert_eq!(
            error("selected(site, 'x')"),
            "`selected`: step `site` has no options"
        );
        assert_eq!(
            error("selected(services, 'tv')"),
            "step `services` has no option `tv`"
        );
        assert_eq!(
            error("services == 'sms'"),
            "`services` is a multi choice: use `selected(services, 'code')`"
        );
    }

    // --- answered(step) ---

    #[test]
    fn answered_is_true_for_any_answer_but_a_skip() {
        assert_eq!(parsed("answered(site)"), Expr::Answered(SITE));
        assert!(holds("answered(site)", &[(SITE, text("Twangiza"))]));
        assert!(holds(
            "answered(site)",
            &[(
                SITE,
                Answer::Audio {
                    url: "https://x/r.wav".into(),
                    secs: Some(3)
                }
            )]
        ));
        assert!(holds("answered(people)", &[(PEOPLE, Answer::Integer(0))]));
        assert!(holds("answered(consent)", &[(CONSENT, Answer::Choice(1))]));
        assert!(!holds("answered(site)", &[(SITE, Answer::Skipped)]));
        assert!(!holds("answered(site)", &[]));
        assert!(!holds("answered(site)", &[(PEOPLE, Answer::Integer(1))]));
    }

    // --- numbers: the six comparisons ---

    #[test]
    fn number_comparisons_with_integer_answers() {
        let ten = [(PEOPLE, Answer::Integer(10))];
        let cases = [
            ("people == 10", true),
            ("people == 11", false),
            ("people != 11", true),
            ("people != 10", false),
            ("people < 11", true),
            ("people < 10", false),
            ("people <= 10", true),
            ("people <= 9", false),
            ("people > 9", true),
            ("people > 10", false),
            ("people >= 10", true),
            ("people >= 11", false),
        ];
        for (src, expected) in cases {
            assert_eq!(holds(src, &ten), expected, "{src} with 10");
        }
        assert_eq!(
            parsed("people>=10"),
            Expr::Number {
                step: PEOPLE,
                op: Op::Ge,
                value: 10.0
            }
        );
    }

    #[test]
    fn number_comparisons_with_decimal_answers_and_literals() {
        let half = [(PEOPLE, Answer::Decimal(2.5))];
        assert!(holds("people == 2.5", &half));
        assert!(!holds("people == 2", &half));
        assert!(holds("people > 2", &half));
        assert!(!holds("people > 2.5", &half));
        assert!(holds("people <= 2.50", &half));
        assert!(holds("people < 3.", &half));
        assert!(holds("people == 3.0", &[(PEOPLE, Answer::Integer(3))]));
    }

    #[test]
    fn negative_number_literals() {
        let minus = [(PEOPLE, Answer::Integer(-3))];
        assert!(holds("people == -3", &minus));
        assert!(holds("people<-2", &minus));
        assert!(!holds("people >= -2.5", &minus));
        assert!(holds("people >= -2.5", &[(PEOPLE, Answer::Integer(0))]));
    }

    #[test]
    fn a_number_without_an_answer_compares_false_every_way() {
        for op in ["==", "!=", "<", "<=", ">", ">="] {
            let src = format!("people {op} 1");
            assert!(!holds(&src, &[]), "{src}");
            assert!(!holds(&src, &[(PEOPLE, Answer::Skipped)]), "{src}");
        }
    }

    #[test]
    fn a_number_is_compared_with_a_number_only() {
        assert!(error("people == '10'").starts_with("cannot compare `people` (number)"));
        assert!(error("people == ten").starts_with("cannot compare `people` (number)"));
    }

    // --- dates: the six comparisons, with 'YYYY-MM-DD' ---

    #[test]
    fn date_comparisons() {
        let ides = [(WHEN, Answer::Date(date!(2026 - 03 - 15)))];
        let cases = [
            ("when == '2026-03-15'", true),
            ("when == '2026-03-16'", false),
            ("when != '2026-03-16'", true),
            ("when != '2026-03-15'", false),
            ("when < '2026-03-16'", true),
            ("when < '2026-03-15'", false),
            ("when <= '2026-03-15'", true),
            ("when <= '2026-03-14'", false),
            ("when > '2025-12-31'", true),
            ("when > '2026-03-15'", false),
            ("when >= '2026-03-15'", true),
            ("when >= '2027-01-01'", false),
        ];
        for (src, expected) in cases {
            assert_eq!(holds(src, &ides), expected, "{src} on 2026-03-15");
            assert!(!holds(src, &[]), "{src} unanswered");
        }
        assert_eq!(
            parsed("when < \"2026-01-01\""),
            Expr::Date {
                step: WHEN,
                op: Op::Lt,
                value: date!(2026 - 01 - 01)
            }
        );
    }

    #[test]
    fn a_date_literal_must_be_a_real_iso_date() {
        for bad in ["2026-02-30", "15-03-2026", "2026-3-5", "today", ""] {
            assert_eq!(
                error(&format!("when < '{bad}'")),
                format!("`{bad}`: compare dates as 'YYYY-MM-DD'"),
            );
        }
        // Unquoted, it is numbers.
        assert!(error("when < 2026-01-01").starts_with("cannot compare `when` (date)"));
    }

    // --- text: == and != ignoring ASCII case ---

    #[test]
    fn text_equality_ignores_ascii_case() {
        let site = [(SITE, text("Twangiza"))];
        assert!(holds("site == 'twangiza'", &site));
        assert!(holds("site == \"TWANGIZA\"", &site));
        assert!(!holds("site == 'Kamituga'", &site));
        assert!(holds("site != 'Kamituga'", &site));
        assert!(!holds("site != 'TWANGIZA'", &site));
        // Only ASCII letters are folded.
        assert!(!holds("site == 'école'", &[(SITE, text("École"))]));
        assert!(holds("site == 'école'", &[(SITE, text("éCOLE"))]));
    }

    #[test]
    fn text_without_a_typed_answer_compares_false() {
        let spoken = [(
            SITE,
            Answer::Audio {
                url: "u".into(),
                secs: None,
            },
        )];
        for src in ["site == 'x'", "site != 'x'"] {
            assert!(!holds(src, &[]), "{src}");
            assert!(!holds(src, &[(SITE, Answer::Skipped)]), "{src}");
            assert!(!holds(src, &spoken), "{src} spoken");
        }
    }

    #[test]
    fn text_is_compared_for_equality_with_a_quoted_text_only() {
        for src in ["site < 'm'", "site >= 'm'", "site == 3"] {
            assert!(
                error(src).starts_with("cannot compare `site` (text)"),
                "{src}"
            );
        }
    }

    #[test]
    fn steps_that_hold_no_value_cannot_be_compared() {
        assert!(error("note == 'x'").starts_with("cannot compare `note` (info)"));
        // An info step records no answer: `answered(note)` never holds.
        assert_eq!(parsed("answered(note)"), Expr::Answered(NOTE));
        assert!(holds("not answered(note)", &[]));
    }

    // --- and, or, not, parentheses, precedence ---

    #[test]
    fn and_or_not_truth_tables() {
        let yes = || (CONSENT, Answer::Choice(0));
        let many = || (PEOPLE, Answer::Integer(20));
        let few = || (PEOPLE, Answer::Integer(1));
        let src_and = "consent == 'yes' and people > 10";
        let src_or = "consent == 'yes' or people > 10";
        assert!(holds(src_and, &[yes(), many()]));
        assert!(!holds(src_and, &[yes(), few()]));
        assert!(!holds(src_and, &[many()]));
        assert!(!holds(src_and, &[]));
        assert!(holds(src_or, &[yes(), many()]));
        assert!(holds(src_or, &[yes(), few()]));
        assert!(holds(src_or, &[many()]));
        assert!(!holds(src_or, &[few()]));
        assert!(!holds("not consent == 'yes'", &[yes()]));
        assert!(holds("not consent == 'yes'", &[]));
        assert!(holds("not not consent == 'yes'", &[yes()]));
    }

    #[test]
    fn and_binds_tighter_than_or() {
        // a or (b and c), not (a or b) and c.
        let src = "consent == 'yes' or consent == 'no' and people > 10";
        assert!(holds(src, &[(CONSENT, Answer::Choice(0))]));
        assert!(!holds(src, &[(CONSENT, Answer::Choice(1))]));
        assert!(holds(
            src,
            &[(CONSENT, Answer::Choice(1)), (PEOPLE, Answer::Integer(11))]
        ));
        assert!(matches!(parsed(src), Expr::Or(..)));
        let src = "consent == 'no' and people > 10 or consent == 'yes'";
        assert!(holds(src, &[(CONSENT, Answer::Choice(0))]));
        assert!(matches!(parsed(src), Expr::Or(..)));
    }

    #[test]
    fn not_binds_tighter_than_and() {
        // (not a) and b, not not (a and b).
        let src = "not consent == 'yes' and answered(site)";
        assert!(holds(src, &[(SITE, text("x"))]));
        assert!(!holds(src, &[]));
        assert!(!holds(
            src,
            &[(CONSENT, Answer::Choice(0)), (SITE, text("x"))]
        ));
        assert!(matches!(parsed(src), Expr::And(..)));
    }

    #[test]
    fn parentheses_override_precedence() {
        let src = "(consent == 'yes' or consent == 'no') and people > 10";
        assert!(!holds(src, &[(CONSENT, Answer::Choice(0))]));
        assert!(holds(
            src,
            &[(CONSENT, Answer::Choice(0)), (PEOPLE, Answer::Integer(11))]
        ));
        assert!(matches!(parsed(src), Expr::And(..)));
        let src = "not (consent == 'yes' and answered(site))";
        assert!(holds(src, &[(CONSENT, Answer::Choice(0))]));
        assert!(!holds(
            src,
            &[(CONSENT, Answer::Choice(0)), (SITE, text("x"))]
        ));
        assert_eq!(
            parsed("((answered(site)))"),
            Expr::Answered(SITE),
            "redundant parentheses leave no trace"
        );
    }

    #[test]
    fn chains_associate_to_the_left() {
        let a = || Box::new(Expr::Answered(CONSENT));
        let b = || Box::new(Expr::Answered(SITE));
        let c = || Box::new(Expr::Answered(PEOPLE));
        assert_eq!(
            parsed("answered(consent) and answered(site) and answered(people)"),
            Expr::And(Box::new(Expr::And(a(), b())), c())
        );
        assert_eq!(
            parsed("answered(consent) or answered(site) or answered(people)"),
            Expr::Or(Box::new(Expr::Or(a(), b())), c())
        );
    }

    #[test]
    fn the_documented_examples_parse_and_hold() {
        let answers = [
            (CONSENT, Answer::Choice(0)),
            (INCIDENT, Answer::Choice(3)),
            (SERVICES, Answer::Multi(vec![2])),
            (WHEN, Answer::Date(date!(2025 - 06 - 01))),
            (PEOPLE, Answer::Integer(12)),
        ];
        for src in [
            "incident == 'other'",
            "people >= 10 and not (consent == 'no')",
            "selected(services, 'internet') or answered(site)",
            "when < '2026-01-01'",
        ] {
            assert!(holds(src, &answers), "{src}");
        }
    }

    // --- literals and layout ---

    #[test]
    fn both_quotes_and_any_whitespace_are_accepted() {
        let site = [(SITE, text("it's"))];
        assert!(holds("site == \"it's\"", &site));
        assert!(holds("\tsite\n==\r\n\"IT'S\"  ", &site));
        assert!(holds("site == 'say \"hi\"'", &[(SITE, text("say \"hi\""))]));
        assert!(holds("site != ''", &site));
        assert!(holds("answered(site)and answered(site)", &site));
    }

    #[test]
    fn steps_lists_every_step_read() {
        let mut out = Vec::new();
        parsed("consent == 'yes' and (people > 1 or not selected(services, 'sms')) or answered(site) or when < '2026-01-01' or site == 'x'")
            .steps(&mut out);
        assert_eq!(out, [CONSENT, PEOPLE, SERVICES, SITE, WHEN, SITE]);
    }

    // --- errors, with their positions ---

    #[test]
    fn lexical_errors_give_their_column() {
        assert_eq!(error("site == 'open"), "unclosed quote at column 9");
        assert_eq!(error("site == \"open'"), "unclosed quote at column 9");
        assert_eq!(
            error("people = 3"),
            "unknown operator at column 8 (use == or !=)"
        );
        assert_eq!(
            error("people ! 3"),
            "unknown operator at column 8 (use == or !=)"
        );
        assert_eq!(
            error("people == 3 && answered(site)"),
            "unexpected `&` at column 13"
        );
        assert_eq!(error("people == 1.2.3"), "bad number `1.2.3` at column 11");
        assert_eq!(error("people == -"), "bad number `-` at column 11");
        assert_eq!(error("people == .5"), "unexpected `.` at column 11");
    }

    /// Columns count characters, as every other position `check` reports does
    /// (`problem::line_col`), not bytes.
    #[test]
    fn columns_count_characters_not_bytes() {
        assert_eq!(error("site == 'éèà' and @"), "unexpected `@` at column 19");
        assert_eq!(error("site == 'ɛ' or 'ɔ"), "unclosed quote at column 16");
    }

    #[test]
    fn structural_errors_say_what_was_expected() {
        let cases = [
            ("", "the condition ends too early"),
            ("   ", "the condition ends too early"),
            ("not", "the condition ends too early"),
            ("consent == 'yes' and", "the condition ends too early"),
            ("consent == 'yes' or ()", "unexpected RParen"),
            (
                "consent",
                "expected a comparison after `consent` (==, !=, <, <=, >, >=)",
            ),
            (
                "consent 'yes'",
                "expected a comparison after `consent` (==, !=, <, <=, >, >=)",
            ),
            ("consent ==", "expected a value after the operator"),
            ("(consent == 'yes'", "expected `)`"),
            ("(consent == 'yes' or answered(site)", "expected `)`"),
            ("'yes' == consent", "unexpected Str(\"yes\")"),
            ("== 3", "unexpected Op(Eq)"),
            (", answered(site)", "unexpected Comma"),
            ("selected services", "expected `(` after `selected`"),
            ("answered site", "expected `(` after `answered`"),
            ("selected('sms')", "`selected(...)` takes a step id first"),
            ("answered()", "`answered(...)` takes a step id first"),
            (
                "selected(services 'sms')",
                "expected `,` then an option code",
            ),
            (
                "selected(services, sms)",
                "`selected(step, 'code')` takes a quoted option code",
            ),
            ("selected(services, 'sms'", "expected `)`"),
            ("answered(site", "expected `)`"),
            ("answered(site, 'x')", "expected `)`"),
            ("nowhere == 'x'", "unknown step `nowhere`"),
            ("answered(nowhere)", "unknown step `nowhere`"),
            ("answered(later)", "step `later` is not earlier"),
        ];
        for (src, expected) in cases {
            assert_eq!(error(src), expected, "{src:?}");
        }
    }

    #[test]
    fn anything_after_a_complete_condition_is_an_error() {
        for src in [
            "answered(site) answered(site)",
            "answered(site))",
            "answered(site) xor answered(site)",
            "consent == 'yes' 'no'",
        ] {
            assert!(error(src).ends_with("after a complete condition"), "{src}");
        }
    }

    /// Found by fuzzing (`when_parser`, docs/fuzzing.md): nesting was unbounded, and 5,000
    /// parentheses (a 10 KB condition) overflowed a 2 MB stack, a crash rather than an error.
    /// Run on a thread of 2 MB, the size of tokio's worker threads (where a server reloads).
    #[test]
    fn deep_or_long_conditions_are_refused_not_a_stack_overflow() {
        let too_complex = format!(
            "the condition is too complex: at most {MAX_OPERATORS} `and`, `or`, `not` and parentheses"
        );
        let within = |src: String| {
            std::thread::Builder::new()
                .stack_size(2 * 1024 * 1024)
                .spawn(move || parse(&src, &scope()).map(|e| e.eval(&|_| None)))
                .unwrap()
                .join()
                .expect("no stack overflow")
        };
        let n = 100_000;
        let nested = format!("{}answered(site){}", "(".repeat(n), ")".repeat(n));
        assert_eq!(within(nested), Err(too_complex.clone()));
        let nots = format!("{}answered(site)", "not ".repeat(n));
        assert_eq!(within(nots), Err(too_complex.clone()));
        let chain = vec!["answered(site)"; n].join(" and ");
        assert_eq!(within(chain), Err(too_complex.clone()));
        let chain = vec!["answered(site)"; n].join(" or ");
        assert_eq!(within(chain), Err(too_complex.clone()));
        // Up to the limit, conditions parse.
        let k = MAX_OPERATORS / 2;
        let at_limit = format!("{}answered(site){}", "(not ".repeat(k), ")".repeat(k));
        assert_eq!(within(at_limit), Ok(false));
        let chain = vec!["answered(site)"; MAX_OPERATORS + 1].join(" or ");
        assert_eq!(within(chain), Ok(false));
        let over = vec!["answered(site)"; MAX_OPERATORS + 2].join(" or ");
        assert_eq!(within(over), Err(too_complex));
    }

    /// In a flow file, a bad condition is reported at the line and column of its string.
    #[test]
    fn a_flow_file_reports_a_bad_condition_where_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.toml");
        std::fs::write(
            &path,
            "spec = 1\nid = \"f\"\nversion = 1\nlanguages = [\"fr\"]\n\n\
             [[step]]\nid = \"a\"\nkind = \"number\"\n\n\
             [[step]]\nid = \"b\"\nkind = \"info\"\nwhen =   \"a = 1\"\n\n\
             [[step]]\nid = \"c\"\nkind = \"end\"\n",
        )
        .unwrap();
        let mut problems = Vec::new();
        let flow =
            crate::flow::compile_file(&path, &crate::i18n::Locales::default(), &mut problems);
        assert!(flow.is_none());
        let p = problems
            .iter()
            .find(|p| p.message.contains("field `when`"))
            .expect("the condition is reported");
        assert_eq!((p.line, p.col), (13, 10), "{p}");
        assert_eq!(
            p.message,
            "step `b` field `when`: unknown operator at column 3 (use == or !=)"
        );
    }
}
