//! The Sauti flow an import produces, as serde structures written with the `toml` crate, so
//! that every value read from a workbook is quoted and escaped by the TOML writer itself.

use std::collections::BTreeMap;

use serde::Serialize;

/// A step kind of the flow format (docs/flow-format.md), as the flow loader reads it.
pub use crate::flow::raw::RawKind as Kind;

/// `flows/<id>.toml`.
#[derive(Debug, Clone, Serialize)]
pub struct FlowFile {
    pub spec: u32,
    pub id: String,
    pub version: u32,
    pub languages: Vec<String>,
    pub default_language: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub lists: BTreeMap<String, ListFile>,
    #[serde(rename = "step")]
    pub steps: Vec<StepFile>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ListFile {
    pub options: Vec<String>,
}

/// One `[[step]]`; only the fields its kind uses are set.
#[derive(Debug, Clone, Serialize)]
pub struct StepFile {
    pub id: String,
    pub kind: Kind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    #[serde(flatten)]
    pub limits: Limits,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decimal: Option<bool>,
}

impl StepFile {
    pub fn new(id: impl Into<String>, kind: Kind) -> StepFile {
        StepFile {
            id: id.into(),
            kind,
            list: None,
            when: None,
            required: None,
            limits: Limits::default(),
            decimal: None,
        }
    }
}

/// A question's bounds, from an XLSForm `constraint`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Limits {
    /// A number, or a date (`"2020-01-01"`, `"today"`, `"today-1"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<toml::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<toml::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_len: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_len: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_selected: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_selected: Option<u16>,
}

/// The flow file's text: a comment on where it came from and how to route a USSD code to
/// it, then the flow.
pub fn render(flow: &FlowFile) -> Result<String, toml::ser::Error> {
    Ok(format!(
        "# Imported from an XLSForm by `sauti import-xlsform`; texts in locales/<lang>/{id}.ftl.\n\
         # To route a USSD service code to this flow, add a line such as: ussd = [\"*384*9#\"]\n\n{}",
        toml::to_string(flow)?,
        id = flow.id,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flow_reads_back_as_a_sauti_flow_with_its_texts_escaped() {
        let mut lists = BTreeMap::new();
        lists.insert(
            "yes_no".to_owned(),
            ListFile {
                options: vec!["yes".into(), "no".into()],
            },
        );
        let mut age = StepFile::new("age", Kind::Number);
        age.when = Some("consent == 'yes' and site != \"it's\"".into());
        age.required = Some(false);
        age.limits.min = Some(toml::Value::Integer(0));
        age.limits.max = Some(toml::Value::Integer(120));
        let mut consent = StepFile::new("consent", Kind::Choice);
        consent.list = Some("yes_no".into());
        let flow = FlowFile {
            spec: 1,
            id: "census".into(),
            version: 7,
            languages: vec!["fr".into(), "sw".into()],
            default_language: "fr".into(),
            lists,
            steps: vec![consent, age, StepFile::new("end", Kind::End)],
        };
        let text = render(&flow).unwrap();
        let raw: crate::flow::raw::RawFlow = toml::from_str(&text).unwrap();
        assert_eq!(raw.id.get_ref(), "census");
        assert_eq!(raw.steps.len(), 3);
        let age = raw.steps[1].get_ref();
        assert_eq!(
            age.when.as_ref().unwrap().get_ref(),
            "consent == 'yes' and site != \"it's\""
        );
        assert_eq!(age.required.as_ref().map(|r| *r.get_ref()), Some(false));
        assert_eq!(
            age.max.as_ref().unwrap().get_ref(),
            &toml::Value::Integer(120)
        );
        assert!(raw.steps[0].get_ref().when.is_none());
        assert!(text.contains("ussd = [\"*384*9#\"]"), "{text}");
    }
}
