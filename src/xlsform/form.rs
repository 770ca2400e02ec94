//! A workbook's sheets, as cells of text, read into a typed XLSForm: rows with their types,
//! names, conditions and labels per language, choice lists, and the settings.

use std::collections::BTreeMap;

use super::{Notice, Sheet};

/// One sheet as text: its header and each data row with its number in the spreadsheet
/// (1-based, as a spreadsheet shows it, so that a report points at the right row).
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<(usize, Vec<String>)>,
}

impl Table {
    /// A table from literal rows, numbered from 2 (below the header) as a spreadsheet does.
    #[cfg(test)]
    pub fn literal(header: &[&str], rows: &[&[&str]]) -> Table {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: rows
                .iter()
                .enumerate()
                .map(|(i, r)| (i + 2, r.iter().map(|c| c.to_string()).collect()))
                .collect(),
        }
    }

    fn column(&self, name: &str) -> Option<usize> {
        self.header
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    }
}

/// A text per language (two-letter codes).
pub type Texts = BTreeMap<String, String>;

/// What a `type` cell says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowType {
    SelectOne(String),
    SelectMultiple(String),
    Text,
    Integer,
    Decimal,
    Date,
    Note,
    BeginGroup,
    EndGroup,
    BeginRepeat,
    EndRepeat,
    /// `start`, `deviceid`...: filled by a phone's form app, not asked.
    Metadata,
    /// A type Sauti cannot ask (`geopoint`, `calculate`, `image`...).
    Unsupported,
    /// No type: a blank row.
    Blank,
}

impl RowType {
    /// Parses a `type` cell (`select_one yes_no`, `select one yes_no or_other`, `integer`...).
    pub fn parse(cell: &str) -> RowType {
        let words: Vec<&str> = cell.split_whitespace().collect();
        let keyword = words.first().map(|w| w.to_ascii_lowercase());
        let Some(keyword) = keyword else {
            return RowType::Blank;
        };
        let rest: Vec<&str> = words[1..].to_vec();
        // `select one list` and `begin group` are also written with a space.
        let (keyword, rest) = match (keyword.as_str(), rest.first()) {
            ("select" | "begin" | "end", Some(second)) if !rest.is_empty() => (
                format!("{keyword}_{}", second.to_ascii_lowercase()),
                rest[1..].to_vec(),
            ),
            _ => (keyword, rest),
        };
        let list = || rest.first().map(|l| (*l).to_owned());
        match keyword.as_str() {
            "select_one" => list().map_or(RowType::Unsupported, RowType::SelectOne),
            "select_multiple" => list().map_or(RowType::Unsupported, RowType::SelectMultiple),
            "text" | "string" => RowType::Text,
            "integer" | "int" => RowType::Integer,
            "decimal" => RowType::Decimal,
            "date" => RowType::Date,
            "note" => RowType::Note,
            "begin_group" => RowType::BeginGroup,
            "end_group" => RowType::EndGroup,
            "begin_repeat" | "begin_loop" => RowType::BeginRepeat,
            "end_repeat" | "end_loop" => RowType::EndRepeat,
            "start" | "end" | "today" | "deviceid" | "subscriberid" | "simserial"
            | "phonenumber" | "username" | "email" | "audit" | "start-geopoint" => {
                RowType::Metadata
            }
            _ => RowType::Unsupported,
        }
    }
}

/// A row of the `survey` sheet.
#[derive(Debug, Clone)]
pub struct SurveyRow {
    pub row: usize,
    pub kind: RowType,
    /// The `type` cell as written, for reports.
    pub type_text: String,
    pub name: String,
    pub label: Texts,
    pub hint: Texts,
    pub constraint_message: Texts,
    pub relevant: String,
    pub constraint: String,
    pub required: String,
}

/// A choice of a list, from the `choices` sheet.
#[derive(Debug, Clone)]
pub struct Choice {
    pub row: usize,
    pub name: String,
    pub label: Texts,
}

/// A choice list, its choices in sheet order.
#[derive(Debug, Clone)]
pub struct ChoiceList {
    pub name: String,
    pub choices: Vec<Choice>,
}

/// The `settings` sheet.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub form_id: String,
    pub version: String,
    pub title: String,
}

/// A workbook read as an XLSForm.
#[derive(Debug, Clone)]
pub struct Form {
    pub settings: Settings,
    /// The language of plain `label` columns, and the flow's default.
    pub default_language: String,
    /// Every language with a column, in column order.
    pub languages: Vec<String>,
    pub survey: Vec<SurveyRow>,
    pub lists: Vec<ChoiceList>,
}

/// The columns that carry a text per language (`label::Swahili (sw)`).
const TRANSLATED: [&str; 3] = ["label", "hint", "constraint_message"];

/// The columns the import reads; any other column with a value is reported as ignored.
const READ: [&str; 7] = [
    "type",
    "name",
    "relevant",
    "constraint",
    "required",
    "list_name",
    "list name",
];

/// The two-letter code of a language as XLSForm columns name it: `French (fr)`, `fr`, `French`.
pub fn language_code(tag: &str) -> Option<String> {
    let tag = tag.trim();
    if let (Some(open), true) = (tag.rfind('('), tag.ends_with(')')) {
        return crate::i18n::normalize(&tag[open + 1..tag.len() - 1]);
    }
    if let Some(code) = crate::xform::language::code_of_name(tag) {
        return Some(code.to_owned());
    }
    // Longer words (`Francais`) would parse as language subtags: only accept short tags.
    let short = tag.split(['-', '_']).next().unwrap_or_default();
    if (2..=3).contains(&short.len()) {
        crate::i18n::normalize(tag)
    } else {
        None
    }
}

/// A header cell: its column name (`label`) and language (`None` for the default).
fn split_header(cell: &str) -> (String, Option<&str>) {
    match cell.split_once("::") {
        Some((base, lang)) => (base.trim().to_ascii_lowercase(), Some(lang)),
        None => (cell.trim().to_ascii_lowercase(), None),
    }
}

/// Columns of a sheet that carry text: (column index, name, language code).
fn text_columns(
    table: &Table,
    sheet: Sheet,
    default_language: &str,
    notices: &mut Vec<Notice>,
) -> Vec<(usize, String, String)> {
    let mut columns = Vec::new();
    for (i, cell) in table.header.iter().enumerate() {
        let (base, lang) = split_header(cell);
        if !TRANSLATED.contains(&base.as_str()) {
            continue;
        }
        match lang.map(language_code) {
            None => columns.push((i, base, default_language.to_owned())),
            Some(Some(code)) => columns.push((i, base, code)),
            Some(None) => notices.push(Notice::sheet(
                sheet,
                format!(
                    "column `{cell}`: no language code found (write `{base}::French (fr)`): ignored"
                ),
            )),
        }
    }
    columns
}

fn cell(row: &[String], column: Option<usize>) -> String {
    column
        .and_then(|c| row.get(c))
        .map_or_else(String::new, |v| v.trim().to_owned())
}

/// The texts of one row; a language-tagged column wins over a plain one for the same language.
fn texts(row: &[String], columns: &[(usize, String, String)], base: &str, table: &Table) -> Texts {
    let mut out = Texts::new();
    for (i, _, lang) in columns.iter().filter(|(_, n, _)| n == base) {
        let value = row.get(*i).map(|v| v.trim()).unwrap_or_default();
        let tagged = table.header[*i].contains("::");
        if !value.is_empty() && (tagged || !out.contains_key(lang)) {
            out.insert(lang.clone(), value.to_owned());
        }
    }
    out
}

/// Reports the columns of `table` that the import does not read but that hold a value.
fn ignored_columns(table: &Table, sheet: Sheet, notices: &mut Vec<Notice>) {
    for (i, header) in table.header.iter().enumerate() {
        let (base, _) = split_header(header);
        if base.is_empty() || READ.contains(&base.as_str()) || TRANSLATED.contains(&base.as_str()) {
            continue;
        }
        let used: Vec<usize> = table
            .rows
            .iter()
            .filter(|(_, r)| r.get(i).is_some_and(|v| !v.trim().is_empty()))
            .map(|(n, _)| *n)
            .collect();
        if let Some(first) = used.first() {
            notices.push(Notice::sheet(
                sheet,
                format!(
                    "column `{header}` is not imported (used on {} row(s), first row {first})",
                    used.len()
                ),
            ));
        }
    }
}

/// Reads the three sheets into a form; what it cannot read is added to `notices`.
pub fn read(survey: &Table, choices: &Table, settings: &Table, notices: &mut Vec<Notice>) -> Form {
    let setting = |name: &str| {
        settings
            .rows
            .first()
            .map(|(_, r)| cell(r, settings.column(name)))
            .unwrap_or_default()
    };
    let declared = setting("default_language");
    let default_language = if declared.is_empty() {
        "fr".to_owned()
    } else {
        language_code(&declared).unwrap_or_else(|| {
            notices.push(Notice::sheet(
                Sheet::Settings,
                format!("default_language `{declared}` is not a language: French (fr) is used"),
            ));
            "fr".to_owned()
        })
    };
    let survey_columns = text_columns(survey, Sheet::Survey, &default_language, notices);
    let choice_columns = text_columns(choices, Sheet::Choices, &default_language, notices);
    let mut languages: Vec<String> = Vec::new();
    for (_, _, lang) in survey_columns.iter().chain(&choice_columns) {
        if !languages.contains(lang) {
            languages.push(lang.clone());
        }
    }
    if languages.is_empty() {
        languages.push(default_language.clone());
    }
    ignored_columns(survey, Sheet::Survey, notices);
    ignored_columns(choices, Sheet::Choices, notices);

    let column = |name: &str| survey.column(name);
    let rows = survey
        .rows
        .iter()
        .map(|(number, r)| {
            let type_text = cell(r, column("type"));
            SurveyRow {
                row: *number,
                kind: RowType::parse(&type_text),
                type_text,
                name: cell(r, column("name")),
                label: texts(r, &survey_columns, "label", survey),
                hint: texts(r, &survey_columns, "hint", survey),
                constraint_message: texts(r, &survey_columns, "constraint_message", survey),
                relevant: cell(r, column("relevant")),
                constraint: cell(r, column("constraint")),
                required: cell(r, column("required")),
            }
        })
        .collect();

    let list_column = choices
        .column("list_name")
        .or_else(|| choices.column("list name"));
    let mut lists: Vec<ChoiceList> = Vec::new();
    for (number, r) in &choices.rows {
        let list = cell(r, list_column);
        let name = cell(r, choices.column("name"));
        if list.is_empty() && name.is_empty() {
            continue;
        }
        let choice = Choice {
            row: *number,
            name,
            label: texts(r, &choice_columns, "label", choices),
        };
        match lists.iter_mut().find(|l| l.name == list) {
            Some(l) => l.choices.push(choice),
            None => lists.push(ChoiceList {
                name: list,
                choices: vec![choice],
            }),
        }
    }
    Form {
        settings: Settings {
            form_id: setting("form_id"),
            version: setting("version"),
            title: setting("form_title"),
        },
        default_language,
        languages,
        survey: rows,
        lists,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_read_in_both_spellings() {
        assert_eq!(
            RowType::parse("select_one yes_no"),
            RowType::SelectOne("yes_no".into())
        );
        assert_eq!(
            RowType::parse(" select one  yes_no or_other"),
            RowType::SelectOne("yes_no".into())
        );
        assert_eq!(
            RowType::parse("select_multiple tools"),
            RowType::SelectMultiple("tools".into())
        );
        assert_eq!(RowType::parse("begin group"), RowType::BeginGroup);
        assert_eq!(RowType::parse("end_group"), RowType::EndGroup);
        assert_eq!(RowType::parse("begin_repeat"), RowType::BeginRepeat);
        assert_eq!(RowType::parse("Integer"), RowType::Integer);
        assert_eq!(RowType::parse("start"), RowType::Metadata);
        assert_eq!(RowType::parse("end"), RowType::Metadata);
        for unsupported in [
            "geopoint",
            "calculate",
            "select_one_from_file a.csv",
            "rank x",
            "select_one",
        ] {
            assert_eq!(
                RowType::parse(unsupported),
                RowType::Unsupported,
                "{unsupported}"
            );
        }
        assert_eq!(RowType::parse("  "), RowType::Blank);
    }

    #[test]
    fn language_columns_are_named_in_any_usual_way() {
        for (tag, code) in [
            ("French (fr)", "fr"),
            ("Swahili (sw)", "sw"),
            ("Lingala (ln)", "ln"),
            ("fr", "fr"),
            ("swa", "sw"),
            ("English", "en"),
            ("Kiswahili (swh)", "sw"),
        ] {
            assert_eq!(language_code(tag).as_deref(), Some(code), "{tag}");
        }
        assert_eq!(language_code("Francais"), None);
    }

    #[test]
    fn a_form_is_read_with_its_languages_rows_and_lists() {
        let survey = Table::literal(
            &[
                "type",
                "name",
                "label",
                "label::Swahili (sw)",
                "label::Klingon",
                "relevant",
                "appearance",
            ],
            &[
                &[
                    "select_one yes_no",
                    "ok",
                    "D'accord?",
                    "Sawa?",
                    "x",
                    "",
                    "minimal",
                ],
                &["integer", "age", "Age?", "Umri?", "", "${ok} = 'yes'", ""],
            ],
        );
        let choices = Table::literal(
            &[
                "list_name",
                "name",
                "label::French (fr)",
                "label::Swahili (sw)",
            ],
            &[
                &["yes_no", "yes", "Oui", "Ndiyo"],
                &["", "", "", ""],
                &["yes_no", "no", "Non", "Hapana"],
            ],
        );
        let settings = Table::literal(
            &["form_id", "version", "default_language"],
            &[&["census", "3", "French (fr)"]],
        );
        let mut notices = Vec::new();
        let form = read(&survey, &choices, &settings, &mut notices);
        assert_eq!(form.languages, ["fr", "sw"]);
        assert_eq!(form.default_language, "fr");
        assert_eq!(form.settings.form_id, "census");
        assert_eq!(form.survey[1].row, 3);
        assert_eq!(form.survey[1].label["sw"], "Umri?");
        assert_eq!(form.survey[1].relevant, "${ok} = 'yes'");
        assert_eq!(form.lists[0].choices.len(), 2);
        assert_eq!(form.lists[0].choices[1].row, 4);
        assert_eq!(form.lists[0].choices[1].label["fr"], "Non");
        let notices: Vec<String> = notices.iter().map(|n| n.to_string()).collect();
        assert_eq!(
            notices,
            [
                "survey: column `label::Klingon`: no language code found (write `label::French (fr)`): ignored",
                "survey: column `appearance` is not imported (used on 1 row(s), first row 2)",
            ]
        );
    }
}
