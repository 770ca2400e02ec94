//! Several choices at once: `1 3 5`, `1,3,5`, `1*3*5`, or `135` when every option is a digit.

use super::{Answer, Invalid, Options};

#[derive(Debug, Clone)]
pub struct Multi {
    pub options: Options,
    pub min_selected: u16,
    pub max_selected: u16,
}

impl Multi {
    pub fn parse(&self, input: &str) -> Result<Answer, Invalid> {
        let separated = input
            .split(|c: char| {
                c == ',' || c == ';' || c == '*' || c == '.' || c == '+' || c.is_whitespace()
            })
            .filter(|s| !s.is_empty());
        let mut picked: Vec<u16> = Vec::new();
        let mut parts = 0;
        for part in separated {
            parts += 1;
            if let Some(i) = self.options.pick(part) {
                picked.push(i);
            } else if self.options.len() <= 9
                && part.len() > 1
                && part.bytes().all(|b| (b'1'..=b'9').contains(&b))
            {
                // `135` on a list of at most nine options means 1, 3 and 5.
                for b in part.bytes() {
                    picked.push(
                        self.options
                            .pick(&((b - b'0').to_string()))
                            .ok_or(Invalid::NotAnOption)?,
                    );
                }
            } else {
                return Err(Invalid::NotAnOption);
            }
        }
        if parts == 0 {
            return Err(Invalid::NotAnOption);
        }
        picked.sort_unstable();
        picked.dedup();
        let n = picked.len() as u16;
        if n < self.min_selected || n > self.max_selected {
            return Err(Invalid::SelectionCount {
                min: self.min_selected,
                max: self.max_selected,
            });
        }
        Ok(Answer::Multi(picked))
    }
}
