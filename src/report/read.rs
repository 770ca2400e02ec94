//! Reading `responses.jsonl` for reports and exports: line by line with a cap on a line's
//! length, unreadable lines counted and skipped, responses de-duplicated by id (last wins).

use std::collections::HashMap;
use std::io::{self, BufRead, Read};

use crate::response::Response;

/// The longest line read; a response is a few KiB, so a longer line is damage, not data.
pub const MAX_LINE_BYTES: u64 = 1024 * 1024;

/// The responses of a file, each id once.
#[derive(Debug, Default)]
pub struct ResponseSet {
    /// In the order their ids first appeared; a later line with the same id replaced the
    /// earlier one in place.
    pub responses: Vec<Response>,
    /// Lines that were not a response: not JSON, not of the schema, longer than
    /// [`MAX_LINE_BYTES`], or a last line without its newline (torn by a crash).
    pub unreadable: u64,
    /// Lines whose id an earlier line already had.
    pub duplicates: u64,
}

impl ResponseSet {
    /// Reads every line of `input`, keeping the responses `keep` accepts; memory grows with
    /// the responses kept, never with the length of a line.
    pub fn read(input: impl BufRead, keep: impl Fn(&Response) -> bool) -> io::Result<Self> {
        let mut set = ResponseSet::default();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut input = input;
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = (&mut input)
                .take(MAX_LINE_BYTES + 1)
                .read_until(b'\n', &mut line)?;
            if n == 0 {
                break;
            }
            if line.last() != Some(&b'\n') {
                set.unreadable += 1;
                if n as u64 > MAX_LINE_BYTES {
                    skip_rest_of_line(&mut input)?;
                    continue;
                }
                break; // the file ended without a newline: a torn last line
            }
            let Ok(response) = serde_json::from_slice::<Response>(&line) else {
                set.unreadable += 1;
                continue;
            };
            if !keep(&response) {
                continue;
            }
            match index.get(&response.id) {
                Some(&at) => {
                    set.duplicates += 1;
                    set.responses[at] = response;
                }
                None => {
                    index.insert(response.id.clone(), set.responses.len());
                    set.responses.push(response);
                }
            }
        }
        Ok(set)
    }

    /// The flow ids present, in order of first appearance.
    pub fn flows(&self) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        for r in &self.responses {
            if !ids.contains(&r.flow) {
                ids.push(r.flow.clone());
            }
        }
        ids
    }

    pub fn of_flow(&self, flow: &str) -> Vec<&Response> {
        self.responses.iter().filter(|r| r.flow == flow).collect()
    }
}

fn skip_rest_of_line(input: &mut impl BufRead) -> io::Result<()> {
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(at) => {
                input.consume(at + 1);
                return Ok(());
            }
            None => {
                let len = buf.len();
                input.consume(len);
            }
        }
    }
}

/// Whether `response` started on or after `since` (`YYYY-MM-DD`): timestamps have a fixed
/// width, so comparing their text compares their times.
pub fn started_since(response: &Response, since: Option<&str>) -> bool {
    since.is_none_or(|day| response.started_at.as_str() >= day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: &str, status: &str) -> String {
        format!(
            concat!(
                r#"{{"schema":1,"id":"{}","flow":"f","flow_version":1,"status":"{}","#,
                r#""channel":"ussd","gateway":"g","language":"fr","respondent":"r","network":null,"#,
                r#""started_at":"2026-11-02T10:00:00.000Z","completed_at":"2026-11-02T10:01:00.000Z","answers":{{}}}}"#,
                "\n"
            ),
            id, status
        )
    }

    #[test]
    fn bad_lines_are_counted_and_the_last_duplicate_wins() {
        let long = format!("{}\n", "x".repeat(MAX_LINE_BYTES as usize + 10));
        let text = [
            line("a", "partial"),
            "not json\n".into(),
            long,
            line("b", "complete"),
            line("a", "complete"),
            line("c", "complete").trim_end().to_owned(),
        ]
        .concat();
        let set = ResponseSet::read(text.as_bytes(), |_| true).unwrap();
        let ids: Vec<_> = set.responses.iter().map(|r| (&*r.id, &*r.status)).collect();
        assert_eq!(ids, [("a", "complete"), ("b", "complete")]);
        assert_eq!(set.unreadable, 3);
        assert_eq!(set.duplicates, 1);
    }
}
