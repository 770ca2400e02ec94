//! Comviva "Flares" HTTP pull, Freeflow style (Airtel and others): a GET (or a POST) per
//! request with the parameters `SessionID`, `MSISDN`, `MSC` and `input`, answered with the
//! screen in `text/plain` and the headers `Freeflow: FC` (continue) or `Freeflow: FB` (end),
//! `charge: N`, `amount: 0`, `Expires: -1` and `Cache-Control: max-age=0`.
//!
//! Parameter names are read without regard to case (`SessionID`/`SessionId`, `input`/`INPUT`
//! and `msisdn` all occur); a POST may carry them in its query or as a form body. `userid`
//! and `password`, which some deployments add, are not read: authenticate the gateway with
//! the gateway's token or the network instead.
//!
//! Flares sends only the **latest** input, and does not say which request opens a session:
//! the first one's `input` is the dialled code without `*` and `#` (`384*7788` for
//! `*384*7788#`), which becomes the address; later ones carry what the respondent just typed
//! and no code. So a request opens a session when Sauti has none for its `SessionID`, and its
//! input answers nothing ([`latest_progress`]); a retry of that first request (the code again)
//! changes nothing, but a retry of a later one cannot be told from the same key typed again.
//! Only the first request names the address ([`Gateway::repeats_address`] is false): later
//! requests' `address` is made the same way from what they carry, and means nothing.
//!
//! A request with `clean` (`clean=clean-session&error=522`) is the gateway's cleanup of a
//! session that ended (the respondent left, or a timeout): [`Decoded::Ended`], answered with
//! an empty 200.

use super::{
    Decoded, Gateway, GatewayError, Inbound, InputCursor, MAX_INPUT, Progress, Reply, SessionEnded,
    WireRequest,
};
use super::{
    form_pairs, input, latest_cursor, latest_progress, optional, phone_number, required, ussd_code,
    ussd_screen,
};
use crate::channel::{Channel, Rendered};

/// The Comviva Flares Freeflow adapter.
#[derive(Debug, Clone, Copy, Default)]
pub struct ComvivaFreeflow;

/// The parameters of a request: its query, then its form body (a POST's).
struct Params(Vec<(String, String)>);

impl Params {
    fn of(request: &WireRequest<'_>) -> Result<Params, GatewayError> {
        let mut pairs = form_pairs(request.query.as_bytes())?;
        if request.method == "POST" && !request.body.is_empty() {
            pairs.extend(form_pairs(request.body)?);
        }
        Ok(Params(pairs))
    }

    /// The first value of `name`, whatever its case.
    fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }
}

const TEXT: &str = "text/plain; charset=utf-8";

impl Gateway for ComvivaFreeflow {
    fn channel(&self) -> Channel {
        Channel::Ussd
    }

    fn decode(&self, request: &WireRequest<'_>) -> Result<Decoded, GatewayError> {
        let params = Params::of(request)?;
        let session_id = required(params.get("SessionID"), "SessionID")?;
        if let Some(clean) = params.get("clean") {
            return Ok(Decoded::Ended(ended(session_id, clean, &params)?));
        }
        let phone_number = phone_number(params.get("MSISDN"), "MSISDN")?;
        let Some(typed) = params.get("input") else {
            return Err(GatewayError::Missing("input"));
        };
        let typed = input(Some(typed), "input", MAX_INPUT)?;
        // The code the first request carries (`384*7788` → `*384*7788#`); the address of a
        // later request is made the same way, and means nothing.
        let address = ussd_code(&typed);
        Ok(Decoded::Hop(Inbound {
            session_id,
            phone_number,
            address,
            network: None,
            input: typed,
            recording: None,
            turn: None,
            message_id: None,
        }))
    }

    /// Latest input only (see [`latest_progress`]): the request that opens a session carries
    /// the code, never an answer.
    fn progress<'h>(&self, cursor: &InputCursor, hop: &'h Inbound) -> Progress<'h> {
        latest_progress(cursor, hop)
    }

    fn cursor(&self, before: &InputCursor, hop: &Inbound) -> InputCursor {
        latest_cursor(before, hop)
    }

    fn encode(&self, rendered: &Rendered) -> Reply {
        let screen = ussd_screen(rendered);
        let mut reply = Reply::ok(TEXT, screen.text.clone());
        // Lower case: the server sets them as given (HTTP header names have no case).
        reply.headers = vec![
            ("freeflow", if screen.end { "FB" } else { "FC" }.into()),
            ("charge", "N".into()),
            ("amount", "0".into()),
            ("expires", "-1".into()),
            ("cache-control", "max-age=0".into()),
        ];
        reply
    }

    fn decode_session_ended(
        &self,
        request: &WireRequest<'_>,
    ) -> Result<SessionEnded, GatewayError> {
        let params = Params::of(request)?;
        let session_id = required(params.get("SessionID"), "SessionID")?;
        ended(session_id, params.get("clean").unwrap_or_default(), &params)
    }

    /// Only a session's first request names its service code.
    fn repeats_address(&self) -> bool {
        false
    }

    fn methods(&self) -> &'static str {
        "GET, POST"
    }

    /// Requests are read from their query (and a POST's form body, of any content type).
    fn content_type(&self) -> Option<&'static str> {
        None
    }

    /// An empty 200, as Flares expects after a cleanup.
    fn ended_reply(&self) -> Reply {
        Reply::ok(TEXT, String::new())
    }
}

/// A cleanup's notice: its `error` code (`522`), else what `clean` says.
fn ended(session_id: String, clean: String, params: &Params) -> Result<SessionEnded, GatewayError> {
    let status = match optional(params.get("error"), "error")? {
        Some(code) => Some(format!("error {code}")),
        None => optional(Some(clean), "clean")?,
    };
    Ok(SessionEnded {
        session_id,
        status,
        hops: None,
        duration_secs: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::fixture::{Request, Response, Session};
    use crate::render::ussd::Screen;

    const DIR: &str = "comviva-flares-freeflow";

    fn decoded(file: &str) -> Decoded {
        ComvivaFreeflow
            .decode(&Request::read(DIR, file).wire())
            .unwrap_or_else(|e| panic!("{file}: {e}"))
    }

    fn hop(file: &str) -> Inbound {
        match decoded(file) {
            Decoded::Hop(hop) => hop,
            other => panic!("{file}: {other:?}"),
        }
    }

    fn get(query: &str) -> Result<Decoded, GatewayError> {
        let headers = hyper::HeaderMap::new();
        ComvivaFreeflow.decode(&WireRequest {
            method: "GET",
            action: "",
            path_and_query: "",
            query,
            headers: &headers,
            body: b"",
        })
    }

    #[test]
    fn the_fixture_requests_decode_to_every_field() {
        let first = Inbound {
            session_id: "4430918277".into(),
            phone_number: "243990000005".into(),
            address: "*384*7788#".into(),
            network: None,
            input: "384*7788".into(),
            recording: None,
            turn: None,
            message_id: None,
        };
        assert_eq!(hop("01-begin.request.http"), first);
        assert_eq!(
            hop("02-continue.request.http"),
            Inbound {
                input: "1".into(),
                address: "*1#".into(),
                ..first.clone()
            }
        );
        assert_eq!(
            hop("03-end.request.http"),
            Inbound {
                input: "2".into(),
                address: "*2#".into(),
                ..first
            }
        );
        assert_eq!(
            hop("05-begin-with-credentials.request.http"),
            Inbound {
                session_id: "4430918300".into(),
                phone_number: "243990000007".into(),
                address: "*384*7788#".into(),
                network: None,
                input: "384*7788".into(),
                recording: None,
                turn: None,
                message_id: None,
            }
        );
        let cleanup = SessionEnded {
            session_id: "4430918299".into(),
            status: Some("error 522".into()),
            hops: None,
            duration_secs: None,
        };
        assert_eq!(
            decoded("04-cleanup.request.http"),
            Decoded::Ended(cleanup.clone())
        );
        let request = Request::read(DIR, "04-cleanup.request.http");
        assert_eq!(
            ComvivaFreeflow.decode_session_ended(&request.wire()),
            Ok(cleanup)
        );
    }

    #[test]
    fn the_fixture_session_takes_the_code_as_its_address_and_no_answer() {
        let gw = ComvivaFreeflow;
        let [begin, lang, kind] = [
            "01-begin.request.http",
            "02-continue.request.http",
            "03-end.request.http",
        ]
        .map(hop);
        let mut session = Session::default();
        assert_eq!(session.hop(&gw, &begin), Progress::Same);
        assert_eq!(session.hop(&gw, &begin), Progress::Same, "a retried begin");
        assert_eq!(session.hop(&gw, &lang), Progress::New("1"));
        assert_eq!(session.hop(&gw, &kind), Progress::New("2"));
        assert!(!gw.repeats_address());
    }

    #[test]
    fn replies_are_the_fixtures() {
        let gw = ComvivaFreeflow;
        for (file, end, text) in [
            (
                "01-begin.response.http",
                false,
                "Sauti\n1. Francais\n2. Kiswahili\n3. Lingala",
            ),
            (
                "02-continue.response.http",
                false,
                "Que voulez-vous signaler?\n1. Accident dans la mine\n2. Violence\n0. Retour",
            ),
            (
                "03-end.response.http",
                true,
                "Merci. Votre signalement est enregistré.",
            ),
        ] {
            let screen = Rendered::Ussd(Screen {
                end,
                text: text.into(),
            });
            Response::read(DIR, file).assert_reply(&gw.encode(&screen));
        }
        Response::read(DIR, "04-cleanup.response.http").assert_reply(&gw.ended_reply());
    }

    #[test]
    fn names_are_read_in_any_case_and_a_post_may_carry_a_form() {
        let Ok(Decoded::Hop(hop)) =
            get("SessionId=7&msisdn=%2B243990000005&INPUT=%2A384%2A7788%23")
        else {
            panic!()
        };
        assert_eq!(
            (hop.session_id.as_str(), hop.address.as_str()),
            ("7", "*384*7788#")
        );
        assert_eq!(hop.phone_number, "+243990000005");
        let headers = hyper::HeaderMap::new();
        let post = WireRequest {
            method: "POST",
            action: "",
            path_and_query: "/ussd/airtel?SessionID=8",
            query: "SessionID=8",
            headers: &headers,
            body: b"MSISDN=243990000005&MSC=1&input=2",
        };
        let Ok(Decoded::Hop(hop)) = ComvivaFreeflow.decode(&post) else {
            panic!()
        };
        assert_eq!((hop.session_id.as_str(), hop.input.as_str()), ("8", "2"));
    }

    #[test]
    fn an_empty_input_is_an_answer_but_a_missing_one_is_refused() {
        let Ok(Decoded::Hop(hop)) = get("SessionID=1&MSISDN=243990000005&MSC=2&input=") else {
            panic!()
        };
        assert_eq!((hop.input.as_str(), hop.address.as_str()), ("", ""));
        assert_eq!(
            get("SessionID=1&MSISDN=243990000005&MSC=2"),
            Err(GatewayError::Missing("input"))
        );
    }

    #[test]
    fn bad_requests_are_named() {
        assert_eq!(
            get("MSISDN=243990000005&input=1"),
            Err(GatewayError::Missing("SessionID"))
        );
        assert_eq!(
            get("SessionID=1&input=1"),
            Err(GatewayError::Missing("MSISDN"))
        );
        assert!(matches!(
            get("SessionID=1&MSISDN=abc&input=1"),
            Err(GatewayError::Invalid {
                field: "MSISDN",
                ..
            })
        ));
        assert!(matches!(
            get(&format!(
                "SessionID=1&MSISDN=243990000005&input={}",
                "1".repeat(MAX_INPUT + 1)
            )),
            Err(GatewayError::Invalid { field: "input", .. })
        ));
        // Bytes that are not UTF-8 are replaced, never a panic.
        let Ok(Decoded::Hop(hop)) = get("SessionID=1&MSISDN=243990000005&input=%FF%FE") else {
            panic!()
        };
        assert_eq!(hop.input, "\u{fffd}\u{fffd}");
        assert_eq!(
            get("clean=clean-session&error=522"),
            Err(GatewayError::Missing("SessionID"))
        );
    }
}
