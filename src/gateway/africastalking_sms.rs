//! Africa's Talking SMS: a form POST per inbound message (`from`, `to`, `text`, `date`, `id`,
//! `linkId`), acknowledged `200` empty (replies are queued), and delivery reports at `…/delivery`.

use serde::Deserialize;

use super::{
    Decoded, DeliveryReport, DeliveryStatus, Gateway, GatewayError, Inbound, InputCursor,
    MAX_INPUT, Progress, Reply, SessionEnded, WireRequest,
};
use super::{message_cursor, message_progress, optional, phone_number, required};
use crate::channel::{Channel, Rendered};

/// The Africa's Talking SMS adapter.
#[derive(Debug, Clone, Copy, Default)]
pub struct AfricasTalkingSms;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageForm {
    from: Option<String>,
    to: Option<String>,
    text: Option<String>,
    id: Option<String>,
    // `date` and `linkId` are read by the sender (premium replies), not by the survey.
}

/// A delivery report's form (Africa's Talking's names).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeliveryForm {
    id: Option<String>,
    status: Option<String>,
    phone_number: Option<String>,
    network_code: Option<String>,
    failure_reason: Option<String>,
    retry_count: Option<String>,
}

/// Africa's Talking's delivery statuses; any other is [`DeliveryStatus::Other`].
fn delivery_status(status: &str) -> DeliveryStatus {
    match status {
        "Sent" => DeliveryStatus::Sent,
        "Submitted" => DeliveryStatus::Submitted,
        "Buffered" => DeliveryStatus::Buffered,
        "Rejected" => DeliveryStatus::Rejected,
        "Success" => DeliveryStatus::Delivered,
        "Failed" => DeliveryStatus::Failed,
        "AbsentSubscriber" => DeliveryStatus::AbsentSubscriber,
        "Expired" => DeliveryStatus::Expired,
        _ => DeliveryStatus::Other,
    }
}

/// The session id of a respondent's conversation with a short code: SMS has none of its own.
pub fn session_id(short_code: &str) -> String {
    format!("sms:{}", short_code.trim())
}

impl Gateway for AfricasTalkingSms {
    fn channel(&self) -> Channel {
        Channel::Sms
    }

    fn decode(&self, request: &WireRequest<'_>) -> Result<Decoded, GatewayError> {
        let form: MessageForm = serde_html_form::from_bytes(request.body)
            .map_err(|e| GatewayError::Malformed(e.to_string()))?;
        let phone_number = phone_number(form.from, "from")?;
        let to = required(form.to, "to")?;
        let text = form.text.unwrap_or_default();
        if text.len() > MAX_INPUT {
            return Err(GatewayError::Invalid {
                field: "text",
                why: "too long",
            });
        }
        Ok(Decoded::Hop(Inbound {
            session_id: session_id(&to),
            address: to,
            phone_number,
            network: None,
            input: text,
            recording: None,
            turn: None,
            message_id: Some(required(form.id, "id")?),
        }))
    }

    /// A message is new unless it is the last one taken (`message_progress`).
    fn progress<'h>(&self, cursor: &InputCursor, hop: &'h Inbound) -> Progress<'h> {
        message_progress(cursor, hop)
    }

    fn cursor(&self, before: &InputCursor, hop: &Inbound) -> InputCursor {
        message_cursor(before, hop)
    }

    /// The callback is acknowledged empty: what the respondent reads goes out by the outbox.
    fn encode(&self, rendered: &Rendered) -> Reply {
        debug_assert!(matches!(rendered, Rendered::Sms(_)));
        Reply::ok("text/plain; charset=utf-8", String::new())
    }

    fn repeats_address(&self) -> bool {
        false
    }

    fn decode_session_ended(
        &self,
        _request: &WireRequest<'_>,
    ) -> Result<SessionEnded, GatewayError> {
        Err(GatewayError::Missing("sessionId"))
    }

    fn sends_delivery_reports(&self) -> bool {
        true
    }

    /// `id` and `status` are required; `phoneNumber`, when sent, must be a number (it is
    /// then dropped); a `retryCount` that is not a count is refused.
    fn decode_delivery_report(
        &self,
        request: &WireRequest<'_>,
    ) -> Result<DeliveryReport, GatewayError> {
        let form: DeliveryForm = serde_html_form::from_bytes(request.body)
            .map_err(|e| GatewayError::Malformed(e.to_string()))?;
        let message_id = required(form.id, "id")?;
        let status = delivery_status(&required(form.status, "status")?);
        if form.phone_number.is_some() {
            phone_number(form.phone_number, "phoneNumber")?;
        }
        let retry_count = optional(form.retry_count, "retryCount")?
            .map(|n| {
                n.parse::<u32>().map_err(|_| GatewayError::Invalid {
                    field: "retryCount",
                    why: "expected a count",
                })
            })
            .transpose()?;
        Ok(DeliveryReport {
            message_id,
            status,
            network: optional(form.network_code, "networkCode")?,
            failure_reason: optional(form.failure_reason, "failureReason")?,
            retry_count,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(body: &str) -> Result<DeliveryReport, GatewayError> {
        AfricasTalkingSms.decode_delivery_report(&WireRequest::form(body.as_bytes()))
    }

    #[test]
    fn delivery_reports_decode_without_the_number() {
        let r = report(
            "id=ATXid_1&status=Failed&phoneNumber=%2B243810000001&networkCode=63001\
             &failureReason=UserInBlackList&retryCount=2",
        )
        .unwrap();
        assert_eq!(
            r,
            DeliveryReport {
                message_id: "ATXid_1".into(),
                status: DeliveryStatus::Failed,
                network: Some("63001".into()),
                failure_reason: Some("UserInBlackList".into()),
                retry_count: Some(2),
            }
        );
        assert!(!format!("{r:?}").contains("810000001"));
        for (sent, status) in [
            ("Sent", DeliveryStatus::Sent),
            ("Submitted", DeliveryStatus::Submitted),
            ("Buffered", DeliveryStatus::Buffered),
            ("Rejected", DeliveryStatus::Rejected),
            ("Success", DeliveryStatus::Delivered),
            ("AbsentSubscriber", DeliveryStatus::AbsentSubscriber),
            ("Expired", DeliveryStatus::Expired),
            ("Teleported", DeliveryStatus::Other),
            ("success", DeliveryStatus::Other),
        ] {
            let r = report(&format!("id=1&status={sent}")).unwrap();
            assert_eq!(r.status, status, "{sent}");
        }
    }

    #[test]
    fn malformed_delivery_reports_are_named() {
        assert_eq!(report("status=Success"), Err(GatewayError::Missing("id")));
        assert_eq!(report("id=1"), Err(GatewayError::Missing("status")));
        assert_eq!(report("id=1&status="), Err(GatewayError::Missing("status")));
        assert!(matches!(
            report("id=1&status=Success&phoneNumber=nobody"),
            Err(GatewayError::Invalid {
                field: "phoneNumber",
                ..
            })
        ));
        assert!(matches!(
            report("id=1&status=Success&retryCount=-1"),
            Err(GatewayError::Invalid {
                field: "retryCount",
                ..
            })
        ));
        assert!(matches!(
            report(&format!("id={}&status=Success", "x".repeat(300))),
            Err(GatewayError::Invalid { field: "id", .. })
        ));
        assert!(matches!(
            report("id=1&id=2&status=Success"),
            Err(GatewayError::Malformed(_))
        ));
    }
}
