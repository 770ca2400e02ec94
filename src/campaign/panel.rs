//! A campaign's panel: the CSV an operator gives (`phone`, optional `lang`), checked whole,
//! and the members as kept at rest (`panel.jsonl`): each number sealed, beside its pseudonym.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::phone::PhoneNumbers;
use crate::pseudonym::Pseudonymizer;
use crate::vault::NumberVault;

/// The most members one panel may hold.
pub const MAX_MEMBERS: usize = 1_000_000;

/// One row of the CSV, checked: its number in E.164, its language if it names one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub number: String,
    pub lang: Option<String>,
}

/// A panel member as kept in `panel.jsonl` (the line number is the member's index).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The number sealed with the [`NumberVault`]: never in clear at rest.
    pub number: String,
    pub pseudonym: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
}

/// Parses a panel CSV: a header naming `phone` (and maybe `lang`), then one member a row.
/// Every bad row is reported (by its line in the file, the header being line 1), without
/// quoting its number: the report may end up in a terminal log.
pub fn parse(
    csv_text: &[u8],
    numbers: &PhoneNumbers,
    languages: &[String],
) -> Result<Vec<Row>, Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(csv_text);
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => return Err(vec![format!("line 1: not a CSV header ({e})")]),
    };
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}').eq_ignore_ascii_case(name))
    };
    let Some(phone) = column("phone") else {
        return Err(vec!["line 1: the header has no `phone` column".into()]);
    };
    let lang = column("lang");
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                problems.push(format!("line {line}: not CSV ({})", csv_error_kind(&e)));
                continue;
            }
        };
        let line = record.position().map_or(0, csv::Position::line);
        if rows.len() + problems.len() >= MAX_MEMBERS {
            problems.push(format!("line {line}: more than {MAX_MEMBERS} members"));
            break;
        }
        let raw = record.get(phone).unwrap_or("");
        if raw.is_empty() {
            problems.push(format!("line {line}: no phone number"));
            continue;
        }
        // A caller id passed through as it is (`call:`) is not a number to text.
        let number = match numbers.e164(raw) {
            Ok(n) if n.starts_with('+') => n,
            _ => {
                problems.push(format!("line {line}: not a phone number"));
                continue;
            }
        };
        let lang = lang
            .and_then(|i| record.get(i))
            .filter(|l| !l.is_empty())
            .map(str::to_owned);
        if let Some(l) = &lang
            && !languages.iter().any(|x| x == l)
        {
            problems.push(format!(
                "line {line}: language `{}` is not one the flow offers ({})",
                l.escape_debug(),
                languages.join(", ")
            ));
            continue;
        }
        if let Some(first) = seen.get(&number) {
            problems.push(format!("line {line}: the same number as line {first}"));
            continue;
        }
        seen.insert(number.clone(), line);
        rows.push(Row { number, lang });
    }
    if rows.is_empty() && problems.is_empty() {
        problems.push("the panel has no members".into());
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(problems)
    }
}

/// The kind of a CSV error, without the field that caused it (it may hold a number).
fn csv_error_kind(e: &csv::Error) -> &'static str {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "not UTF-8",
        csv::ErrorKind::UnequalLengths { .. } => "a row of another length",
        _ => "unreadable",
    }
}

/// The members to keep: each number sealed, with its pseudonym.
pub fn seal(rows: &[Row], vault: &NumberVault, pseudonyms: &Pseudonymizer) -> Vec<Member> {
    rows.iter()
        .map(|r| Member {
            number: vault.seal(&r.number),
            pseudonym: pseudonyms.of(&r.number),
            lang: r.lang.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cd() -> PhoneNumbers {
        PhoneNumbers::new(Some("CD")).unwrap()
    }

    fn langs() -> Vec<String> {
        vec!["fr".into(), "sw".into()]
    }

    #[test]
    fn numbers_are_read_in_every_form_with_their_language() {
        let csv = "\u{feff}Phone,lang\n+243810000001,sw\n 0810000002 ,\n00243 810 000 003,fr\n";
        let rows = parse(csv.as_bytes(), &cd(), &langs()).unwrap();
        let numbers: Vec<_> = rows.iter().map(|r| r.number.as_str()).collect();
        assert_eq!(numbers, ["+243810000001", "+243810000002", "+243810000003"]);
        assert_eq!(rows[0].lang.as_deref(), Some("sw"));
        assert_eq!(rows[1].lang, None);
        let only_phone = parse(b"phone\n+243810000001\n", &cd(), &langs()).unwrap();
        assert_eq!(only_phone.len(), 1);
    }

    #[test]
    fn every_bad_row_is_reported_by_line_without_its_number() {
        let csv = "name,phone,lang\na,+243810000001,fr\nb,12,fr\nc,,fr\nd,+243810000001,sw\ne,+243810000005,xx\nf,call:abc,fr\n";
        let problems = parse(csv.as_bytes(), &cd(), &langs()).unwrap_err();
        assert_eq!(
            problems,
            [
                "line 3: not a phone number",
                "line 4: no phone number",
                "line 5: the same number as line 2",
                "line 6: language `xx` is not one the flow offers (fr, sw)",
                "line 7: not a phone number",
            ]
        );
        assert!(!problems.join("\n").contains("810000005"));
    }

    #[test]
    fn a_panel_without_a_phone_column_or_members_is_refused() {
        assert_eq!(
            parse(b"number\n+243810000001\n", &cd(), &langs()).unwrap_err(),
            ["line 1: the header has no `phone` column"]
        );
        assert_eq!(
            parse(b"phone\n", &cd(), &langs()).unwrap_err(),
            ["the panel has no members"]
        );
        assert!(parse(b"", &cd(), &langs()).is_err());
        assert!(parse(b"phone\n\xff\xfe\n", &cd(), &langs()).is_err());
    }

    #[test]
    fn sealed_members_hold_no_number_in_clear() {
        let vault = NumberVault::derived_from(b"0123456789abcdef0123");
        let pseudonyms = Pseudonymizer::new(b"0123456789abcdef0123").unwrap();
        let rows = parse(b"phone\n+243810000001\n", &cd(), &langs()).unwrap();
        let members = seal(&rows, &vault, &pseudonyms);
        let line = serde_json::to_string(&members[0]).unwrap();
        assert!(!line.contains("810000001"), "{line}");
        assert_eq!(
            vault.open(&members[0].number).as_deref(),
            Some("+243810000001")
        );
        assert_eq!(members[0].pseudonym, pseudonyms.of("+243810000001"));
    }
}
