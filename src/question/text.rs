//! Free text, kept as typed (including `*`, `#` and non-ASCII letters), within a length.

use super::{Answer, Invalid};

#[derive(Debug, Clone)]
pub struct TextQuestion {
    pub min_len: u16,
    pub max_len: u16,
}

impl TextQuestion {
    pub fn parse(&self, input: &str) -> Result<Answer, Invalid> {
        let text = input.trim();
        let len = text.chars().count();
        if len == 0 {
            return Err(Invalid::Empty);
        }
        if len < self.min_len as usize {
            return Err(Invalid::TooShort { min: self.min_len });
        }
        if len > self.max_len as usize {
            return Err(Invalid::TooLong { max: self.max_len });
        }
        Ok(Answer::Text(text.to_owned()))
    }
}
