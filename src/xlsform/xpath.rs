//! The part of XLSForm's expression language (XPath 1.0 with `${name}` references) that
//! `relevant` and `constraint` columns use, parsed into a tree that can be translated or refused.

/// A comparison operator (`=`, `!=`, `<`, `<=`, `>`, `>=` in XPath): the `when` language's.
pub use crate::flow::expr::Op as CmpOp;

/// The same comparison with its operands swapped (`5 < x` is `x > 5`).
pub fn flipped(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Ge => CmpOp::Le,
        same => same,
    }
}

/// An XLSForm expression.
#[derive(Debug, Clone, PartialEq)]
pub enum XExpr {
    Or(Box<XExpr>, Box<XExpr>),
    And(Box<XExpr>, Box<XExpr>),
    Cmp(Box<XExpr>, CmpOp, Box<XExpr>),
    /// A function call: `not(...)`, `selected(...)`, `count-selected(...)`, `regex(...)`...
    Call(String, Vec<XExpr>),
    /// `${name}`: another question's value.
    Field(String),
    /// `.`: the question's own value (in a constraint).
    Current,
    Str(String),
    Num(f64),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    LParen,
    RParen,
    Comma,
    Op(CmpOp),
    Field(String),
    Dot,
    Str(String),
    Num(f64),
    /// A name: a function, or the words `and`, `or`.
    Name(String),
}

/// Whether a `-` here starts a negative number rather than a subtraction.
fn starts_operand(previous: Option<&Token>) -> bool {
    matches!(
        previous,
        None | Some(Token::LParen | Token::Comma | Token::Op(_))
    ) || matches!(previous, Some(Token::Name(w)) if w == "and" || w == "or")
}

fn tokenize(src: &str) -> Result<Vec<Token>, String> {
    let mut out: Vec<Token> = Vec::new();
    let mut chars = src.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | ',' => {
                chars.next();
                out.push(match c {
                    '(' => Token::LParen,
                    ')' => Token::RParen,
                    _ => Token::Comma,
                });
            }
            '$' => {
                chars.next();
                if chars.next() != Some('{') {
                    return Err("`$` not followed by `{name}`".into());
                }
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(ch) => name.push(ch),
                        None => return Err("unclosed `${`".into()),
                    }
                }
                out.push(Token::Field(name.trim().to_owned()));
            }
            '\'' | '"' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some(q) if q == c => break,
                        Some(ch) => s.push(ch),
                        None => return Err("unclosed quote".into()),
                    }
                }
                out.push(Token::Str(s));
            }
            '=' | '!' | '<' | '>' => {
                chars.next();
                let eq = chars.next_if_eq(&'=').is_some();
                out.push(Token::Op(match (c, eq) {
                    ('=', _) => CmpOp::Eq,
                    ('!', true) => CmpOp::Ne,
                    ('<', false) => CmpOp::Lt,
                    ('<', true) => CmpOp::Le,
                    ('>', false) => CmpOp::Gt,
                    ('>', true) => CmpOp::Ge,
                    _ => return Err("`!` alone (use `!=` or `not(...)`)".into()),
                }));
            }
            '.' | '-' | '0'..='9' => {
                chars.next();
                let negative = c == '-';
                if negative && !starts_operand(out.last()) {
                    return Err("arithmetic (`-`) has no equivalent".into());
                }
                let mut number = String::from(c);
                while let Some(&d) = chars.peek() {
                    if d.is_ascii_digit() || d == '.' {
                        number.push(d);
                        chars.next();
                    } else {
                        break;
                    }
                }
                if number == "." {
                    out.push(Token::Dot);
                } else if number == ".." {
                    return Err("`..` (parent) has no equivalent".into());
                } else {
                    let n = number
                        .parse()
                        .map_err(|_| format!("`{number}` is not a number"))?;
                    out.push(Token::Num(n));
                }
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut name = String::new();
                while let Some(&d) = chars.peek() {
                    if d.is_alphanumeric() || matches!(d, '_' | '-' | ':' | '.') {
                        name.push(d);
                        chars.next();
                    } else {
                        break;
                    }
                }
                if name == "div" || name == "mod" {
                    return Err(format!("arithmetic (`{name}`) has no equivalent"));
                }
                out.push(Token::Name(name));
            }
            '+' | '*' => return Err(format!("arithmetic (`{c}`) has no equivalent")),
            _ => return Err(format!("`{c}` has no equivalent")),
        }
    }
    Ok(out)
}

/// Parses an XLSForm expression; the error says what part of it is not understood.
pub fn parse(src: &str) -> Result<XExpr, String> {
    let mut p = Parser {
        tokens: tokenize(src)?,
        at: 0,
    };
    let e = p.or()?;
    if p.at < p.tokens.len() {
        return Err("unexpected text after a complete expression".into());
    }
    Ok(e)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn word(&mut self, w: &str) -> bool {
        let found = matches!(self.peek(), Some(Token::Name(n)) if n == w);
        if found {
            self.at += 1;
        }
        found
    }

    fn or(&mut self) -> Result<XExpr, String> {
        let mut e = self.and()?;
        while self.word("or") {
            e = XExpr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }

    fn and(&mut self) -> Result<XExpr, String> {
        let mut e = self.comparison()?;
        while self.word("and") {
            e = XExpr::And(Box::new(e), Box::new(self.comparison()?));
        }
        Ok(e)
    }

    fn comparison(&mut self) -> Result<XExpr, String> {
        let left = self.primary()?;
        if let Some(Token::Op(op)) = self.peek().cloned() {
            self.at += 1;
            let right = self.primary()?;
            return Ok(XExpr::Cmp(Box::new(left), op, Box::new(right)));
        }
        Ok(left)
    }

    fn primary(&mut self) -> Result<XExpr, String> {
        match self.next() {
            Some(Token::LParen) => {
                let e = self.or()?;
                match self.next() {
                    Some(Token::RParen) => Ok(e),
                    _ => Err("missing `)`".into()),
                }
            }
            Some(Token::Field(name)) => Ok(XExpr::Field(name)),
            Some(Token::Dot) => Ok(XExpr::Current),
            Some(Token::Str(s)) => Ok(XExpr::Str(s)),
            Some(Token::Num(n)) => Ok(XExpr::Num(n)),
            Some(Token::Name(name)) if self.peek() == Some(&Token::LParen) => {
                self.at += 1;
                let mut args = Vec::new();
                if self.peek() == Some(&Token::RParen) {
                    self.at += 1;
                    return Ok(XExpr::Call(name, args));
                }
                loop {
                    args.push(self.or()?);
                    match self.next() {
                        Some(Token::Comma) => continue,
                        Some(Token::RParen) => return Ok(XExpr::Call(name, args)),
                        _ => return Err(format!("missing `)` after the arguments of `{name}`")),
                    }
                }
            }
            Some(Token::Name(name)) => Err(format!(
                "`{name}` is not understood (a question is written `${{{name}}}`)"
            )),
            Some(Token::Op(_)) | Some(Token::Comma) | Some(Token::RParen) => {
                Err("an operator or `)` where a value was expected".into())
            }
            None => Err("the expression ends too early".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(n: &str) -> Box<XExpr> {
        Box::new(XExpr::Field(n.into()))
    }

    #[test]
    fn comparisons_and_connectives_follow_xpath_precedence() {
        assert_eq!(
            parse("${a} = 'x' or ${b} >= 3 and ${c} != -2.5").unwrap(),
            XExpr::Or(
                Box::new(XExpr::Cmp(
                    field("a"),
                    CmpOp::Eq,
                    Box::new(XExpr::Str("x".into()))
                )),
                Box::new(XExpr::And(
                    Box::new(XExpr::Cmp(field("b"), CmpOp::Ge, Box::new(XExpr::Num(3.0)))),
                    Box::new(XExpr::Cmp(
                        field("c"),
                        CmpOp::Ne,
                        Box::new(XExpr::Num(-2.5))
                    )),
                )),
            )
        );
    }

    #[test]
    fn calls_take_their_arguments() {
        assert_eq!(
            parse("not(selected( ${q} , \"a b\"))").unwrap(),
            XExpr::Call(
                "not".into(),
                vec![XExpr::Call(
                    "selected".into(),
                    vec![XExpr::Field("q".into()), XExpr::Str("a b".into())]
                )]
            )
        );
        assert_eq!(
            parse("string-length(.) <= 40").unwrap(),
            XExpr::Cmp(
                Box::new(XExpr::Call("string-length".into(), vec![XExpr::Current])),
                CmpOp::Le,
                Box::new(XExpr::Num(40.0))
            )
        );
        assert_eq!(
            parse("today()").unwrap(),
            XExpr::Call("today".into(), vec![])
        );
    }

    #[test]
    fn what_has_no_equivalent_is_an_error_that_says_so() {
        for (src, error) in [
            ("${a} + 1 > 2", "arithmetic (`+`) has no equivalent"),
            ("${a} - 1 > 2", "arithmetic (`-`) has no equivalent"),
            ("${a} div 2 > 2", "arithmetic (`div`) has no equivalent"),
            ("${a} = 'x", "unclosed quote"),
            ("(${a} = 'x'", "missing `)`"),
            (
                "age > 3",
                "`age` is not understood (a question is written `${age}`)",
            ),
            ("${a} =", "the expression ends too early"),
            ("${a} = 1 1", "unexpected text after a complete expression"),
            ("/data/a = 1", "`/` has no equivalent"),
        ] {
            assert_eq!(parse(src).unwrap_err(), error, "{src}");
        }
    }
}
