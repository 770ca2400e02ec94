//! Where a conversation stands between two inputs: the position, the answers so far and the
//! way back. Small enough to store per hop; it knows nothing of any channel.

use crate::flow::{CompiledFlow, StepIdx};
use crate::question::Answer;

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// On the language screen.
    Language,
    /// Asking this step.
    Step(StepIdx),
    /// Reached this `end` step: the survey is complete.
    Done(StepIdx),
    /// Closed after too many wrong answers to this step.
    GaveUp(StepIdx),
    /// Offering a respondent who came back to continue at this step, or start again.
    Resume(StepIdx),
}

/// Everything the engine needs to continue a conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionState {
    /// Index into the flow's languages.
    pub lang: u8,
    pub at: At,
    /// Wrong answers given to the current question.
    pub attempts: u8,
    /// Steps answered (or seen) in order; `back` walks it backwards.
    pub history: Vec<StepIdx>,
    /// Answers of the steps in `history`.
    pub answers: Vec<(StepIdx, Answer)>,
    /// Short code shown on the closing screen (`{ $receipt }`), chosen by the caller.
    pub receipt: String,
}

impl SessionState {
    pub fn answer(&self, step: StepIdx) -> Option<&Answer> {
        self.answers
            .iter()
            .find(|(s, _)| *s == step)
            .map(|(_, a)| a)
    }

    pub fn is_finished(&self) -> bool {
        matches!(self.at, At::Done(_) | At::GaveUp(_))
    }

    /// Whether every index in this state exists in `flow` (a state read from storage is
    /// checked before the engine trusts it: an index out of range would be a crash).
    pub fn fits(&self, flow: &CompiledFlow) -> bool {
        let step_ok = |i: StepIdx| (i as usize) < flow.steps.len();
        let at_ok = match self.at {
            At::Language => flow.language_screen.is_some(),
            At::Step(i) | At::Done(i) | At::GaveUp(i) | At::Resume(i) => step_ok(i),
        };
        let answer_ok = |(i, a): &(StepIdx, Answer)| {
            step_ok(*i) && {
                let n = flow.steps[*i as usize]
                    .question
                    .options()
                    .map_or(0, |o| o.len());
                match a {
                    Answer::Choice(o) => (*o as usize) < n,
                    Answer::Multi(os) => os.iter().all(|o| (*o as usize) < n),
                    _ => true,
                }
            }
        };
        (self.lang as usize) < flow.locales.len()
            && at_ok
            && self.history.iter().all(|&i| step_ok(i))
            && self.answers.iter().all(answer_ok)
    }

    /// The step a later session could continue at: an unfinished survey with answers.
    pub fn resume_point(&self) -> Option<StepIdx> {
        if self.history.is_empty() {
            return None;
        }
        match self.at {
            At::Step(i) | At::GaveUp(i) | At::Resume(i) => Some(i),
            At::Language | At::Done(_) => None,
        }
    }

    /// A copy with room for one more step in `history` and `answers` (a hop records at most
    /// one): a plain clone is exactly full, and its first push would copy it again.
    pub(super) fn with_room_for_one_more(&self) -> SessionState {
        let mut history = Vec::with_capacity(self.history.len() + 1);
        history.extend_from_slice(&self.history);
        let mut answers = Vec::with_capacity(self.answers.len() + 1);
        answers.extend(self.answers.iter().cloned());
        SessionState {
            lang: self.lang,
            at: self.at,
            attempts: self.attempts,
            history,
            answers,
            receipt: self.receipt.clone(),
        }
    }

    pub(super) fn record(&mut self, step: StepIdx, answer: Option<Answer>) {
        self.answers.retain(|(s, _)| *s != step);
        if let Some(a) = answer {
            self.answers.push((step, a));
        }
        self.history.push(step);
    }
}
