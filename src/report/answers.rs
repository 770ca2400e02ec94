//! A recorded answer (the JSON of responses.jsonl) read back into the engine's [`Answer`], so
//! that a flow's `when` conditions can be replayed over it.

use serde_json::Value;

use crate::flow::Step;
use crate::question::{Answer, Question};

/// The answer `recorded` gives to `step`, or `None` when it does not fit the step (an answer
/// from another version of the flow, or a step that takes no answer).
pub fn decode(step: &Step, recorded: &Value) -> Option<Answer> {
    let value = recorded.get("value")?;
    if recorded.get("skipped").and_then(Value::as_bool) == Some(true) {
        return Some(Answer::Skipped);
    }
    match &step.question {
        Question::Choice(c) => c.options.index_of(value.as_str()?).map(Answer::Choice),
        Question::Multi(m) => {
            let mut picked = value
                .as_array()?
                .iter()
                .map(|code| m.options.index_of(code.as_str()?))
                .collect::<Option<Vec<u16>>>()?;
            picked.sort_unstable();
            picked.dedup();
            Some(Answer::Multi(picked))
        }
        Question::Text(_) if recorded.get("audio").and_then(Value::as_bool) == Some(true) => {
            Some(Answer::Audio {
                url: value.as_str()?.to_owned(),
                secs: recorded
                    .get("duration_secs")
                    .and_then(Value::as_u64)
                    .and_then(|s| u32::try_from(s).ok()),
            })
        }
        Question::Text(_) => value.as_str().map(|t| Answer::Text(t.to_owned())),
        Question::Number(_) => match value.as_i64() {
            Some(n) => Some(Answer::Integer(n)),
            None => value.as_f64().map(Answer::Decimal),
        },
        Question::Date(_) => {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            time::Date::parse(value.as_str()?, format)
                .ok()
                .map(Answer::Date)
        }
        Question::Info | Question::End => None,
    }
}
