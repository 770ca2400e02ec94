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
    fn holds<T: PartialOrd>(self, a: T, b: T) -> bool {
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
                        None => return Err(format!("unclosed quote at column {}", i + 1)),
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
                            i + 1
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
                    .map_err(|_| format!("bad number `{s}` at column {}", i + 1))?;
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
            _ => return Err(format!("unexpected `{c}` at column {}", i + 1)),
        }
    }
    Ok(out)
}

/// What the parser needs to know about the steps a condition may name.
pub trait StepScope {
    /// The step's index and question, if it is defined before the step being compiled.
    fn earlier(&self, id: &str) -> Result<(StepIdx, &Question), String>;
}

/// Parses and type-checks a `when` condition.
pub fn parse(src: &str, scope: &dyn StepScope) -> Result<Expr, String> {
    let tokens = tokenize(src)?;
    let mut p = Parser {
        tokens,
        at: 0,
        scope,
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

    fn or(&mut self) -> Result<Expr, String> {
        let mut e = self.and()?;
        while self.peek_word("or") {
            self.at += 1;
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut e = self.unary()?;
        while self.peek_word("and") {
            self.at += 1;
            e = Expr::And(Box::new(e), Box::new(self.unary()?));
        }
        Ok(e)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Token::Ident(w)) if w == "not" => Ok(Expr::Not(Box::new(self.unary()?))),
            Some(Token::LParen) => {
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
