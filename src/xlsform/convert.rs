//! An XLSForm translated into a Sauti flow and its messages per language: each row that Sauti
//! can ask becomes a step, and every row or part of one that it cannot is reported.

use std::collections::BTreeMap;

use super::flow_file::{FlowFile, Kind, ListFile, StepFile};
use super::form::{Form, RowType, SurveyRow, Texts};
use super::ftl::Piece;
use super::ids::Ids;
use super::relevant::{Earlier, Scope, When};
use super::{Notice, Sheet, constraint, relevant, xpath};

/// The closing text of the flow's `end` step, per language (the form has none).
const THANKS: [(&str, &str); 4] = [
    ("fr", "Merci pour vos reponses!"),
    ("sw", "Asante kwa majibu yako!"),
    ("ln", "Matondi mpo na biyano na yo!"),
    ("en", "Thank you for your answers!"),
];

/// A flow and its texts, ready to be written.
#[derive(Debug, Clone)]
pub struct Import {
    pub flow: FlowFile,
    /// Per language, each message (id, text) in flow order.
    pub messages: BTreeMap<String, Vec<(String, Vec<Piece>)>>,
    pub title: String,
}

/// A question imported so far, which later conditions and labels may name.
struct Known {
    name: String,
    id: String,
    kind: Kind,
    codes: Vec<(String, String)>,
}

/// A choice list as the flow has it: its id and its codes (XLSForm name, code).
struct UsedList {
    id: String,
    codes: Vec<(String, String)>,
}

/// The questions before the row being translated, and why other names are not among them.
struct Questions<'a> {
    known: &'a [Known],
    /// Names of rows not imported, with the row and why.
    dropped: &'a BTreeMap<String, usize>,
}

impl Scope for Questions<'_> {
    fn earlier(&self, name: &str) -> Result<Earlier<'_>, String> {
        if let Some(k) = self.known.iter().find(|k| k.name == name) {
            return Ok(Earlier {
                id: &k.id,
                kind: k.kind,
                codes: &k.codes,
            });
        }
        Err(match self.dropped.get(name) {
            Some(row) => format!("`${{{name}}}` (row {row}) is not imported"),
            None => format!("`${{{name}}}` is not a question before this row"),
        })
    }
}

/// The translation in progress.
struct Converter<'a> {
    form: &'a Form,
    notices: &'a mut Vec<Notice>,
    step_ids: Ids,
    list_ids: Ids,
    known: Vec<Known>,
    dropped: BTreeMap<String, usize>,
    lists: BTreeMap<String, UsedList>,
    flow_lists: BTreeMap<String, ListFile>,
    steps: Vec<StepFile>,
    messages: BTreeMap<String, Vec<(String, Vec<Piece>)>>,
    hint_rows: Vec<usize>,
    /// Option labels of a list just made, written after the prompt of the step that uses it.
    pending: Vec<(String, String, Vec<Piece>)>,
}

/// Translates `form`; `fallback_id` names the flow when the settings give no `form_id`.
pub fn convert(form: &Form, fallback_id: &str, notices: &mut Vec<Notice>) -> Import {
    let mut c = Converter {
        form,
        notices,
        step_ids: Ids::default(),
        list_ids: Ids::default(),
        known: Vec::new(),
        dropped: BTreeMap::new(),
        lists: BTreeMap::new(),
        flow_lists: BTreeMap::new(),
        steps: Vec::new(),
        messages: form
            .languages
            .iter()
            .map(|l| (l.clone(), Vec::new()))
            .collect(),
        hint_rows: Vec::new(),
        pending: Vec::new(),
    };
    c.rows();
    c.end_step();
    if !c.hint_rows.is_empty() {
        let rows: Vec<String> = c.hint_rows.iter().map(|r| r.to_string()).collect();
        c.notices.push(Notice::sheet(
            Sheet::Survey,
            format!(
                "hints are not imported (a USSD screen has no room for them): rows {}",
                rows.join(", ")
            ),
        ));
    }
    let flow = FlowFile {
        spec: 1,
        id: c.flow_id(fallback_id),
        version: c.version(),
        languages: form.languages.clone(),
        default_language: c.default_language(),
        lists: c.flow_lists,
        steps: c.steps,
    };
    Import {
        flow,
        messages: c.messages,
        title: form.settings.title.clone(),
    }
}

/// How a supported row is asked.
fn kind_of(row: &RowType) -> Option<(Kind, Option<&str>, bool)> {
    Some(match row {
        RowType::SelectOne(list) => (Kind::Choice, Some(list.as_str()), false),
        RowType::SelectMultiple(list) => (Kind::Multi, Some(list.as_str()), false),
        RowType::Text => (Kind::Text, None, false),
        RowType::Integer => (Kind::Number, None, false),
        RowType::Decimal => (Kind::Number, None, true),
        RowType::Date => (Kind::Date, None, false),
        RowType::Note => (Kind::Info, None, false),
        _ => return None,
    })
}

impl Converter<'_> {
    fn notice(&mut self, row: usize, message: String) {
        self.notices.push(Notice::row(Sheet::Survey, row, message));
    }

    fn rows(&mut self) {
        let form = self.form;
        // Each open group's condition (`None`: none, or one that could not be translated).
        let mut groups: Vec<Option<When>> = Vec::new();
        // The row of the `begin repeat` being skipped, and how deep in repeats we are.
        let mut repeat: Option<(usize, usize)> = None;
        for row in &form.survey {
            if let Some((start, depth)) = repeat {
                let depth = match row.kind {
                    RowType::BeginRepeat => depth + 1,
                    RowType::EndRepeat => depth - 1,
                    _ => depth,
                };
                if !row.name.is_empty() {
                    self.dropped.insert(row.name.clone(), row.row);
                }
                repeat = (depth > 0).then_some((start, depth));
                if depth == 0 {
                    self.notice(
                        start,
                        format!(
                            "repeats are not supported: rows {start} to {} skipped",
                            row.row
                        ),
                    );
                }
                continue;
            }
            match &row.kind {
                RowType::Blank => {}
                RowType::BeginGroup => {
                    let condition = self.condition(row, "the group's relevant");
                    groups.push(condition);
                }
                RowType::EndGroup => {
                    if groups.pop().is_none() {
                        self.notice(row.row, "`end group` without `begin group`".into());
                    }
                }
                RowType::BeginRepeat => repeat = Some((row.row, 1)),
                RowType::EndRepeat => {
                    self.notice(row.row, "`end repeat` without `begin repeat`".into());
                }
                RowType::Metadata => {
                    self.drop_row(row, "metadata a form app fills in: not collected (a response has its own times)");
                }
                RowType::Unsupported => {
                    self.drop_row(row, "not supported: skipped");
                }
                question => {
                    let (kind, list, decimal) = kind_of(question).expect("a question type");
                    let inherited = groups.iter().flatten().cloned().reduce(When::and);
                    self.question(row, kind, list, decimal, inherited);
                }
            }
        }
        if let Some((start, _)) = repeat {
            self.notice(
                start,
                "repeats are not supported: the rest of the survey skipped".into(),
            );
        }
        if !groups.is_empty() {
            self.notices.push(Notice::sheet(
                Sheet::Survey,
                format!("{} group(s) not closed by `end group`", groups.len()),
            ));
        }
    }

    fn drop_row(&mut self, row: &SurveyRow, why: &str) {
        if !row.name.is_empty() {
            self.dropped.insert(row.name.clone(), row.row);
        }
        self.notice(row.row, format!("`{}`: {why}", row.type_text));
    }

    /// A row's `relevant` as a condition, or `None` (reported when there was one).
    fn condition(&mut self, row: &SurveyRow, what: &str) -> Option<When> {
        if row.relevant.is_empty() {
            return None;
        }
        let scope = Questions {
            known: &self.known,
            dropped: &self.dropped,
        };
        match xpath::parse(&row.relevant).and_then(|e| relevant::translate(&e, &scope)) {
            Ok(w) => Some(w),
            Err(why) => {
                self.notice(
                    row.row,
                    format!(
                        "{what} `{}` has no equivalent ({why}): imported without it, so asked to everyone",
                        row.relevant
                    ),
                );
                None
            }
        }
    }

    fn question(
        &mut self,
        row: &SurveyRow,
        kind: Kind,
        list: Option<&str>,
        decimal: bool,
        inherited: Option<When>,
    ) {
        let used_list = match list {
            Some(name) => match self.list(name) {
                Some(l) => Some(l),
                None => {
                    self.drop_row(row, &format!("no choices in list `{name}`: skipped"));
                    return;
                }
            },
            None => None,
        };
        if row.type_text.contains("or_other") {
            self.notice(
                row.row,
                "`or_other` is not supported: imported without its `other` text".into(),
            );
        }
        let (id, renamed) = if row.name.is_empty() {
            self.step_ids.make(&format!("row_{}", row.row), true)
        } else {
            self.step_ids.make(&row.name, true)
        };
        if row.name.is_empty() {
            self.notice(row.row, format!("no name: imported as `{id}`"));
        } else if renamed {
            self.notice(
                row.row,
                format!("name `{}` is not a Sauti id: imported as `{id}`", row.name),
            );
        }
        let mut step = StepFile::new(id.clone(), kind);
        step.list = used_list.as_ref().map(|(l, _)| l.clone());
        step.when = match (inherited, self.condition(row, "relevant")) {
            (Some(a), Some(b)) => Some(When::and(a, b)),
            (a, b) => a.or(b),
        }
        .map(|w| w.to_string());
        if kind != Kind::Info {
            step.required = self.required(row);
        }
        if decimal {
            step.decimal = Some(true);
        }
        if !row.constraint.is_empty() {
            match xpath::parse(&row.constraint)
                .and_then(|e| constraint::translate(&e, kind, decimal))
            {
                Ok(limits) => step.limits = limits,
                Err(why) => self.notice(
                    row.row,
                    format!(
                        "constraint `{}` has no equivalent ({why}): imported without it",
                        row.constraint
                    ),
                ),
            }
        }
        if !row.hint.is_empty() {
            self.hint_rows.push(row.row);
        }
        let label = self.texts(row.row, &row.label, &row.name, "label");
        self.add_message(&id, row.row, &label);
        for (lang, message_id, pieces) in std::mem::take(&mut self.pending) {
            if let Some(m) = self.messages.get_mut(&lang) {
                m.push((message_id, pieces));
            }
        }
        if !row.constraint_message.is_empty() {
            let invalid = self.texts(row.row, &row.constraint_message, "", "constraint_message");
            self.add_message(&format!("{id}-invalid"), row.row, &invalid);
        }
        self.steps.push(step);
        if kind != Kind::Info {
            self.known.push(Known {
                name: row.name.clone(),
                id,
                kind,
                codes: used_list.map(|(_, codes)| codes).unwrap_or_default(),
            });
        }
    }

    /// `required`: XLSForm questions are optional unless marked, Sauti's are required unless
    /// `required = false`.
    fn required(&mut self, row: &SurveyRow) -> Option<bool> {
        match row.required.to_ascii_lowercase().as_str() {
            "yes" | "true" | "true()" | "1" => None,
            "" | "no" | "false" | "false()" | "0" => Some(false),
            other => {
                self.notice(
                    row.row,
                    format!("required `{other}` is a condition: imported as optional"),
                );
                Some(false)
            }
        }
    }

    /// The flow list for XLSForm list `name` (made on first use), with its codes.
    fn list(&mut self, name: &str) -> Option<(String, Vec<(String, String)>)> {
        if let Some(l) = self.lists.get(name) {
            return Some((l.id.clone(), l.codes.clone()));
        }
        let form = self.form;
        let source = form.lists.iter().find(|l| l.name == name)?;
        let (id, renamed) = self.list_ids.make(name, true);
        if renamed {
            let row = source.choices[0].row;
            self.notices.push(Notice::row(
                Sheet::Choices,
                row,
                format!("list `{name}` is not a Sauti id: imported as `{id}`"),
            ));
        }
        let mut code_ids = Ids::default();
        let mut codes = Vec::new();
        for choice in &source.choices {
            if choice.name.is_empty() {
                self.notices.push(Notice::row(
                    Sheet::Choices,
                    choice.row,
                    "a choice without a name: skipped".into(),
                ));
                continue;
            }
            let (code, renamed) = code_ids.make(&choice.name, false);
            if renamed {
                self.notices.push(Notice::row(
                    Sheet::Choices,
                    choice.row,
                    format!(
                        "choice `{}` is not a Sauti option code: imported as `{code}`",
                        choice.name
                    ),
                ));
            }
            let label = self.texts_of(
                Sheet::Choices,
                choice.row,
                &choice.label,
                &choice.name,
                "label",
            );
            for (lang, text) in label {
                self.pending
                    .push((lang, format!("{id}-{code}"), vec![Piece::Text(text)]));
            }
            codes.push((choice.name.clone(), code));
        }
        if codes.is_empty() {
            return None;
        }
        self.flow_lists.insert(
            id.clone(),
            ListFile {
                options: codes.iter().map(|(_, c)| c.clone()).collect(),
            },
        );
        self.lists.insert(
            name.to_owned(),
            UsedList {
                id: id.clone(),
                codes: codes.clone(),
            },
        );
        Some((id, codes))
    }

    fn texts(
        &mut self,
        row: usize,
        texts: &Texts,
        name: &str,
        column: &str,
    ) -> Vec<(String, String)> {
        self.texts_of(Sheet::Survey, row, texts, name, column)
    }

    /// A text in every language of the form: a missing one is the default language's (or
    /// any language's, or `name`), reported.
    fn texts_of(
        &mut self,
        sheet: Sheet,
        row: usize,
        texts: &Texts,
        name: &str,
        column: &str,
    ) -> Vec<(String, String)> {
        let form = self.form;
        let fallback = texts
            .get(&form.default_language)
            .or_else(|| texts.values().next())
            .cloned();
        let missing: Vec<&str> = form
            .languages
            .iter()
            .filter(|l| !texts.contains_key(*l))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            let used = match (&fallback, texts.contains_key(&form.default_language)) {
                (Some(_), true) => format!("the {} one is used", form.default_language),
                (Some(_), false) => "another language's is used".to_owned(),
                (None, _) => format!("the name `{name}` is used"),
            };
            self.notices.push(Notice::row(
                sheet,
                row,
                format!("no {column} in {}: {used}", missing.join(", ")),
            ));
        }
        let fallback = fallback.unwrap_or_else(|| name.to_owned());
        form.languages
            .iter()
            .map(|l| {
                (
                    l.clone(),
                    texts.get(l).cloned().unwrap_or_else(|| fallback.clone()),
                )
            })
            .collect()
    }

    /// Adds message `id` in each language; `${name}` in a label echoes that earlier answer.
    fn add_message(&mut self, id: &str, row: usize, texts: &[(String, String)]) {
        for (lang, text) in texts {
            let pieces = self.pieces(row, text);
            if let Some(m) = self.messages.get_mut(lang) {
                m.push((id.to_owned(), pieces));
            }
        }
    }

    fn pieces(&mut self, row: usize, text: &str) -> Vec<Piece> {
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            let Some(len) = rest[start..].find('}') else {
                break;
            };
            let name = rest[start + 2..start + len].trim();
            let echoed = self.known.iter().find(|k| {
                k.name == name
                    && matches!(
                        k.kind,
                        Kind::Choice | Kind::Text | Kind::Number | Kind::Date
                    )
            });
            match echoed {
                Some(k) => {
                    pieces.push(Piece::Text(rest[..start].to_owned()));
                    pieces.push(Piece::Answer(k.id.clone()));
                }
                None => {
                    self.notice(
                        row,
                        format!("`${{{name}}}` in a label is not an earlier answer Sauti can show: kept as text"),
                    );
                    pieces.push(Piece::Text(rest[..start + len + 1].to_owned()));
                }
            }
            rest = &rest[start + len + 1..];
        }
        pieces.push(Piece::Text(rest.to_owned()));
        pieces
    }

    fn end_step(&mut self) {
        let (id, _) = self.step_ids.make("end", true);
        for (lang, messages) in &mut self.messages {
            let thanks = THANKS
                .iter()
                .find(|(l, _)| l == lang)
                .map_or(THANKS[0].1, |(_, t)| t);
            messages.push((id.clone(), vec![Piece::Text(thanks.to_owned())]));
        }
        self.steps.push(StepFile::new(id, Kind::End));
    }

    fn flow_id(&mut self, fallback: &str) -> String {
        let given = &self.form.settings.form_id;
        let name = if given.is_empty() {
            fallback
        } else {
            given.as_str()
        };
        let (id, renamed) = Ids::default().make(name, true);
        if renamed {
            self.notices.push(Notice::sheet(
                Sheet::Settings,
                format!("form_id `{name}` is not a Sauti id: the flow is `{id}`"),
            ));
        }
        id
    }

    fn version(&mut self) -> u32 {
        let given = self.form.settings.version.trim();
        if given.is_empty() {
            return 1;
        }
        given.parse().unwrap_or_else(|_| {
            self.notices.push(Notice::sheet(
                Sheet::Settings,
                format!("version `{given}` is not a whole number (up to 4294967295): version 1"),
            ));
            1
        })
    }

    fn default_language(&mut self) -> String {
        let form = self.form;
        if form.languages.contains(&form.default_language) {
            return form.default_language.clone();
        }
        self.notices.push(Notice::sheet(
            Sheet::Settings,
            format!(
                "no texts in the default language `{}`: `{}` is the default",
                form.default_language, form.languages[0]
            ),
        ));
        form.languages[0].clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xlsform::form::{self, Table};

    fn import(survey: &[&[&str]], choices: &[&[&str]]) -> (Import, Vec<String>) {
        let survey = Table::literal(
            &[
                "type",
                "name",
                "label::French (fr)",
                "label::Swahili (sw)",
                "relevant",
                "constraint",
                "required",
                "hint",
            ],
            survey,
        );
        let choices = Table::literal(
            &[
                "list_name",
                "name",
                "label::French (fr)",
                "label::Swahili (sw)",
            ],
            choices,
        );
        let settings = Table::literal(&["form_id", "version"], &[&["enquete", "4"]]);
        let mut notices = Vec::new();
        let form = form::read(&survey, &choices, &settings, &mut notices);
        let import = convert(&form, "file", &mut notices);
        (import, notices.iter().map(|n| n.to_string()).collect())
    }

    #[test]
    fn rows_become_steps_with_conditions_limits_and_messages() {
        let (import, notices) = import(
            &[
                &[
                    "select_one yn",
                    "works",
                    "Travaillez-vous?",
                    "Unafanya kazi?",
                    "",
                    "",
                    "yes",
                    "",
                ],
                &["begin group", "job", "", "", "${works} = 'yes'", "", "", ""],
                &[
                    "integer",
                    "hours",
                    "Heures?",
                    "Saa?",
                    "",
                    ". >= 0 and . <= 24",
                    "",
                    "par jour",
                ],
                &[
                    "select_multiple tools",
                    "tools",
                    "Outils?",
                    "Zana?",
                    "${hours} > 2",
                    "",
                    "true()",
                    "",
                ],
                &["end group", "", "", "", "", "", "", ""],
                &[
                    "note",
                    "bye",
                    "Vous avez dit ${hours} h.",
                    "Ulisema ${hours}.",
                    "",
                    "",
                    "",
                    "",
                ],
            ],
            &[
                &["yn", "yes", "Oui", "Ndiyo"],
                &["yn", "no", "Non", "Hapana"],
                &["tools", "pick", "Pioche", "Sururu"],
                &["tools", "pan", "Batee", "Karai"],
                &["unused", "x", "X", "X"],
            ],
        );
        let flow = &import.flow;
        assert_eq!((flow.id.as_str(), flow.version), ("enquete", 4));
        let ids: Vec<&str> = flow.steps.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["works", "hours", "tools", "bye", "end"]);
        assert_eq!(flow.steps[0].required, None);
        assert_eq!(flow.steps[1].required, Some(false));
        assert_eq!(flow.steps[1].when.as_deref(), Some("works == 'yes'"));
        assert_eq!(flow.steps[1].limits.max, Some(toml::Value::Integer(24)));
        assert_eq!(
            flow.steps[2].when.as_deref(),
            Some("works == 'yes' and hours > 2")
        );
        assert_eq!(flow.steps[2].kind, Kind::Multi);
        assert_eq!(flow.steps[3].when, None, "the group is closed");
        assert_eq!(
            flow.steps[3].required, None,
            "an info step is never optional"
        );
        assert_eq!(
            flow.lists.keys().collect::<Vec<_>>(),
            ["tools", "yn"],
            "unused lists are left out"
        );
        let sw = &import.messages["sw"];
        let bye = &sw.iter().find(|(id, _)| id == "bye").unwrap().1;
        assert_eq!(bye[1], Piece::Answer("hours".into()));
        assert!(
            sw.iter()
                .any(|(id, p)| id == "tools-pick" && p == &[Piece::Text("Sururu".into())])
        );
        assert!(sw.iter().any(|(id, _)| id == "end"));
        assert_eq!(
            notices,
            ["survey: hints are not imported (a USSD screen has no room for them): rows 4"]
        );
    }

    #[test]
    fn what_cannot_be_imported_is_reported_with_its_row() {
        let (import, notices) = import(
            &[
                &["geopoint", "where", "Ou?", "Wapi?", "", "", "", ""],
                &["calculate", "twice", "", "", "", "", "", ""],
                &[
                    "text",
                    "my name",
                    "Nom?",
                    "",
                    "${where} != ''",
                    "regex(., '[a-z]+')",
                    "",
                    "",
                ],
                &[
                    "integer",
                    "n",
                    "N?",
                    "N?",
                    "regex(${my name}, 'x')",
                    "",
                    "${n} > 1",
                    "",
                ],
                &["select_one nowhere", "pick", "?", "?", "", "", "", ""],
                &["begin repeat", "kids", "", "", "", "", "", ""],
                &["text", "kid", "Nom?", "Jina?", "", "", "", ""],
                &["end repeat", "", "", "", "", "", "", ""],
            ],
            &[],
        );
        assert_eq!(import.flow.steps.len(), 3, "my_name, n, end");
        assert_eq!(import.flow.steps[0].id, "my_name");
        assert_eq!(import.flow.steps[0].when, None);
        assert_eq!(
            notices,
            [
                "survey row 2: `geopoint`: not supported: skipped",
                "survey row 3: `calculate`: not supported: skipped",
                "survey row 4: name `my name` is not a Sauti id: imported as `my_name`",
                "survey row 4: relevant `${where} != ''` has no equivalent (`${where}` (row 2) is not imported): imported without it, so asked to everyone",
                "survey row 4: constraint `regex(., '[a-z]+')` has no equivalent (the function `regex()` has no equivalent here): imported without it",
                "survey row 4: no label in sw: the fr one is used",
                "survey row 5: relevant `regex(${my name}, 'x')` has no equivalent (the function `regex()` has no equivalent in Sauti's conditions): imported without it, so asked to everyone",
                "survey row 5: required `${n} > 1` is a condition: imported as optional",
                "survey row 6: `select_one nowhere`: no choices in list `nowhere`: skipped",
                "survey row 7: repeats are not supported: rows 7 to 9 skipped",
            ]
        );
    }
}
