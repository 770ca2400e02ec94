//! A single choice from numbered options, with optional per-option branching (`goto`).

use super::{Answer, Invalid, Options};
use crate::flow::StepIdx;

#[derive(Debug, Clone)]
pub struct Choice {
    pub options: Options,
    /// Where each option leads, by option index; `None` follows the step's `next`.
    pub goto: Vec<Option<StepIdx>>,
}

impl Choice {
    pub fn parse(&self, input: &str) -> Result<Answer, Invalid> {
        self.options
            .pick(input)
            .map(Answer::Choice)
            .ok_or(Invalid::NotAnOption)
    }
}
