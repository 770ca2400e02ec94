//! Question kinds: one file per kind, each turning what the respondent typed into an
//! [`Answer`] or an [`Invalid`] reason. Pure functions, checked types, no look-ups by name.

pub mod choice;
pub mod date;
pub mod multi;
pub mod number;
pub mod text;

pub use choice::Choice;

pub use date::{DateBound, DateFormat, DateQuestion};
pub use multi::Multi;
pub use number::NumberQuestion;
pub use text::TextQuestion;

/// What a step asks for. `Info` shows a message and goes on; `End` closes the session.
#[derive(Debug, Clone)]
pub enum Question {
    Choice(Choice),
    Multi(Multi),
    Text(TextQuestion),
    Number(NumberQuestion),
    Date(DateQuestion),
    Info,
    End,
}

impl Question {
    pub fn kind_name(&self) -> &'static str {
        match self {
            Question::Choice(_) => "choice",
            Question::Multi(_) => "multi",
            Question::Text(_) => "text",
            Question::Number(_) => "number",
            Question::Date(_) => "date",
            Question::Info => "info",
            Question::End => "end",
        }
    }

    /// Questions answered by typing a value rather than picking a numbered line.
    pub fn is_typed(&self) -> bool {
        matches!(
            self,
            Question::Text(_) | Question::Number(_) | Question::Date(_)
        )
    }

    /// The option codes shown as numbered lines, if the question has any.
    pub fn options(&self) -> Option<&Options> {
        match self {
            Question::Choice(c) => Some(&c.options),
            Question::Multi(m) => Some(&m.options),
            _ => None,
        }
    }

    /// Parses one input (already trimmed, navigation keys already handled).
    pub fn parse(&self, input: &str, today: time::Date) -> Result<Answer, Invalid> {
        match self {
            Question::Choice(q) => q.parse(input),
            Question::Multi(q) => q.parse(input),
            Question::Text(q) => q.parse(input),
            Question::Number(q) => q.parse(input),
            Question::Date(q) => q.parse(input, today),
            Question::Info | Question::End => Ok(Answer::Skipped),
        }
    }
}

/// A set of options shown as numbered lines; the label of option `code` is the Fluent
/// message `<label_prefix>-<code>` (the list id, or the step id for inline options).
#[derive(Debug, Clone)]
pub struct Options {
    pub label_prefix: String,
    pub codes: Vec<String>,
}

impl Options {
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    pub fn message_id(&self, index: usize) -> String {
        format!("{}-{}", self.label_prefix, self.codes[index])
    }

    pub fn index_of(&self, code: &str) -> Option<u16> {
        self.codes.iter().position(|c| c == code).map(|i| i as u16)
    }

    /// `1`, ` 1 `, `01` all pick the first option.
    pub fn pick(&self, input: &str) -> Option<u16> {
        let digits = input.trim();
        if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: usize = digits.parse().ok()?;
        (1..=self.codes.len()).contains(&n).then(|| (n - 1) as u16)
    }
}

/// A respondent's answer to one step, in the smallest form that keeps its meaning.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Index of the picked option.
    Choice(u16),
    /// Indices of the picked options, ascending, without repeats.
    Multi(Vec<u16>),
    Text(String),
    Integer(i64),
    Decimal(f64),
    Date(time::Date),
    /// A spoken answer to a `text` question: where the gateway keeps the recording, and its
    /// length in seconds when the gateway says.
    Audio {
        url: String,
        secs: Option<u32>,
    },
    /// An optional question the respondent skipped (or an info screen seen).
    Skipped,
}

/// Why an input was refused; each maps to a localised message in `sauti.ftl`.
#[derive(Debug, Clone, PartialEq)]
pub enum Invalid {
    NotAnOption,
    SelectionCount {
        min: u16,
        max: u16,
    },
    Empty,
    TooShort {
        min: u16,
    },
    TooLong {
        max: u16,
    },
    NotANumber,
    NotAnInteger,
    NumberOutOfRange {
        min: Option<f64>,
        max: Option<f64>,
    },
    NotADate {
        example: String,
    },
    DateOutOfRange {
        min: Option<String>,
        max: Option<String>,
    },
}

impl Invalid {
    /// The engine message (in `sauti.ftl`) that explains this reason.
    pub fn message_id(&self) -> &'static str {
        match self {
            Invalid::NotAnOption => "invalid-option",
            Invalid::SelectionCount { .. } => "invalid-selection",
            Invalid::Empty => "invalid-empty",
            Invalid::TooShort { .. } => "invalid-too-short",
            Invalid::TooLong { .. } => "invalid-too-long",
            Invalid::NotANumber => "invalid-number",
            Invalid::NotAnInteger => "invalid-integer",
            Invalid::NumberOutOfRange {
                min: Some(_),
                max: Some(_),
            } => "invalid-range",
            Invalid::NumberOutOfRange { min: Some(_), .. } => "invalid-min",
            Invalid::NumberOutOfRange { .. } => "invalid-max",
            Invalid::NotADate { .. } => "invalid-date",
            Invalid::DateOutOfRange {
                min: Some(_),
                max: Some(_),
            } => "invalid-date-range",
            Invalid::DateOutOfRange { min: Some(_), .. } => "invalid-date-min",
            Invalid::DateOutOfRange { .. } => "invalid-date-max",
        }
    }

    /// Fluent arguments of the message.
    pub fn args(&self) -> Vec<(&'static str, ArgValue)> {
        use ArgValue::{Number, Text};
        let pair = |name, v: Option<ArgValue>| v.map(|v| (name, v));
        match self {
            Invalid::SelectionCount { min, max } => {
                vec![("min", Number(*min as f64)), ("max", Number(*max as f64))]
            }
            Invalid::TooShort { min } => vec![("min", Number(*min as f64))],
            Invalid::TooLong { max } => vec![("max", Number(*max as f64))],
            Invalid::NumberOutOfRange { min, max } => {
                [pair("min", min.map(Number)), pair("max", max.map(Number))]
                    .into_iter()
                    .flatten()
                    .collect()
            }
            Invalid::NotADate { example } => vec![("example", Text(example.clone()))],
            Invalid::DateOutOfRange { min, max } => [
                pair("min", min.clone().map(Text)),
                pair("max", max.clone().map(Text)),
            ]
            .into_iter()
            .flatten()
            .collect(),
            _ => Vec::new(),
        }
    }
}

/// A value given to a Fluent message: numbers stay numbers (for plural rules), typed dates
/// stay text (`01012000` must keep its leading zero).
#[derive(Debug, Clone, PartialEq)]
pub enum ArgValue {
    Number(f64),
    Text(String),
}

/// Every engine message that takes arguments, with the arguments it may use; `check`
/// refuses a translation that uses any other.
pub const ENGINE_MESSAGE_ARGS: &[(&str, &[&str])] = &[
    ("invalid-selection", &["min", "max"]),
    ("invalid-too-short", &["min"]),
    ("invalid-too-long", &["max"]),
    ("invalid-range", &["min", "max"]),
    ("invalid-min", &["min"]),
    ("invalid-max", &["max"]),
    ("invalid-date", &["example"]),
    ("invalid-date-range", &["min", "max"]),
    ("invalid-date-min", &["min"]),
    ("invalid-date-max", &["max"]),
    ("sms-not-started", &["keyword"]),
];
