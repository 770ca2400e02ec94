//! The metadata every form declares and every submission fills: ODK's `start`, `end`,
//! `meta/instanceID` and `meta/instanceName`, and the `sauti` group (language, status…).

use crate::response::{Response, receipt_of};

/// The instance elements the metadata takes; a flow whose steps use one of these ids cannot be
/// exported (its answer and the metadata would share an element).
pub const RESERVED: [&str; 4] = ["start", "end", GROUP, "meta"];

/// The group of Sauti's own fields.
pub const GROUP: &str = "sauti";

/// What a survey became, the values of `sauti/status`. `declined` is for a respondent who
/// refuses consent; no flow marks a consent step yet, so Sauti does not produce it today.
pub const STATUSES: [&str; 3] = ["complete", "partial", "declined"];

/// A field of the `sauti` group: its name and XForm type.
pub struct SautiField {
    pub name: &'static str,
    pub kind: &'static str,
}

/// The `sauti` group, in instance order.
pub const SAUTI_FIELDS: [SautiField; 7] = [
    SautiField {
        name: "language",
        kind: "string",
    },
    SautiField {
        name: "channel",
        kind: "string",
    },
    SautiField {
        name: "gateway",
        kind: "string",
    },
    SautiField {
        name: "flow_version",
        kind: "int",
    },
    SautiField {
        name: "status",
        kind: "string",
    },
    SautiField {
        name: "respondent",
        kind: "string",
    },
    SautiField {
        name: "network",
        kind: "string",
    },
];

/// The metadata of one response, as the submission writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Metadata {
    pub start: String,
    pub end: String,
    /// The `sauti` group's values, in the order of [`SAUTI_FIELDS`].
    pub sauti: [String; 7],
    /// `uuid:<response id>`: the same on every resend, so collectors see a duplicate.
    pub instance_id: String,
    pub instance_name: String,
}

impl Metadata {
    pub fn of(response: &Response) -> Metadata {
        Metadata {
            start: response.started_at.clone(),
            end: response.completed_at.clone(),
            sauti: [
                response.language.clone(),
                response.channel.clone(),
                response.gateway.clone(),
                response.flow_version.to_string(),
                response.status.clone(),
                response.respondent.clone(),
                response.network.clone().unwrap_or_default(),
            ],
            instance_id: format!("uuid:{}", response.id),
            instance_name: instance_name(response),
        }
    }
}

/// `<flow> <status> <receipt>` (`kufatilia partial 7QMZ`): what a row of Central's or KoBo's
/// table is called, so a partial stands out and a respondent's receipt code finds the row.
pub fn instance_name(response: &Response) -> String {
    let short = uuid::Uuid::parse_str(&response.id)
        .map(|id| receipt_of(&id))
        .unwrap_or_else(|_| response.id.chars().take(8).collect());
    format!("{} {} {short}", response.flow, response.status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_instance_name_shows_flow_status_and_receipt() {
        let mut response: Response = serde_json::from_value(serde_json::json!({
            "schema": 1, "id": "019ab0c4-5e6f-7a12-8b34-56789abcdef0", "flow": "kufatilia",
            "flow_version": 1, "status": "partial", "channel": "ussd", "gateway": "-",
            "language": "sw", "respondent": "ab", "network": null,
            "started_at": "s", "completed_at": "e", "answers": {}
        }))
        .unwrap();
        let receipt = receipt_of(&uuid::Uuid::parse_str(&response.id).unwrap());
        assert_eq!(
            instance_name(&response),
            format!("kufatilia partial {receipt}")
        );
        response.id = "not-a-uuid-at-all".into();
        assert_eq!(instance_name(&response), "kufatilia partial not-a-uu");
        assert_eq!(Metadata::of(&response).sauti[6], "", "no network: empty");
    }
}
