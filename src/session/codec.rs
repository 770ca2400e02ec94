//! The compact binary form of a [`SessionRecord`] (what Redis stores per live session):
//! varints, raw ids, no field names. Ten answers into kufatilia it is about 160 bytes.

use crate::channel::ChannelMemory;
use crate::engine::{At, SessionState};
use crate::gateway::InputCursor;
use crate::question::{Answer, Invalid};
use crate::response::receipt_of;

use super::SessionRecord;

/// First byte of every encoded record; bump it when the layout changes (and keep a
/// decoder for the previous one while sessions in that form may still live).
/// 2: the address the session is bound to, and the channel's part apart from the engine's.
/// 3: the gateway and the time of the last hop (what a partial response reports).
/// 4: the count of messages sent in an SMS conversation (its cap).
pub const FORMAT: u8 = 4;

/// Format 4 without the count of messages sent in an SMS conversation.
const FORMAT_3: u8 = 3;

/// Format 3 without the gateway and the last hop's time.
const FORMAT_2: u8 = 2;

/// The layout before channels: no address, the USSD page inside the engine's state. Resume
/// records in this form live up to the resume window (48 h by default) after an upgrade.
const FORMAT_1: u8 = 1;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("undecodable session record: {0}")]
pub struct DecodeError(pub &'static str);

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn var(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
    fn zigzag(&mut self, v: i64) {
        self.var(((v << 1) ^ (v >> 63)) as u64);
    }
    fn str(&mut self, s: &str) {
        self.var(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
    }
    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.var(0),
            Some(s) => {
                self.var(s.len() as u64 + 1);
                self.0.extend_from_slice(s.as_bytes());
            }
        }
    }
    fn f64(&mut self, v: f64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.0.len() < n {
            return Err(DecodeError("truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn var(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            v |= ((b & 0x7f) as u64) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(DecodeError("varint too long"))
    }
    fn small(&mut self) -> Result<u16, DecodeError> {
        u16::try_from(self.var()?).map_err(|_| DecodeError("index out of range"))
    }
    fn zigzag(&mut self) -> Result<i64, DecodeError> {
        let v = self.var()?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }
    fn str(&mut self) -> Result<String, DecodeError> {
        let n = self.var()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| DecodeError("bad UTF-8"))
    }
    fn opt_str(&mut self) -> Result<Option<String>, DecodeError> {
        match self.var()? as usize {
            0 => Ok(None),
            n => String::from_utf8(self.take(n - 1)?.to_vec())
                .map(Some)
                .map_err(|_| DecodeError("bad UTF-8")),
        }
    }
    fn f64(&mut self) -> Result<f64, DecodeError> {
        let b = self.take(8)?;
        Ok(f64::from_le_bytes(b.try_into().expect("eight bytes")))
    }
}

pub fn encode(r: &SessionRecord) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(160));
    w.u8(FORMAT);
    w.str(&r.flow_id);
    w.var(r.flow_version as u64);
    w.0.extend_from_slice(r.response_id.as_bytes());
    // Pseudonyms are 64 hex characters: stored as their 32 bytes.
    match hex::decode(&r.respondent) {
        Ok(raw) if raw.len() == 32 && r.respondent.bytes().all(|b| !b.is_ascii_uppercase()) => {
            w.u8(0);
            w.0.extend_from_slice(&raw);
        }
        _ => {
            w.u8(1);
            w.str(&r.respondent);
        }
    }
    w.opt_str(r.network.as_deref());
    w.zigzag(r.started_at_ms);
    w.0.extend_from_slice(&r.address.to_le_bytes());
    w.var(r.cursor.len as u64);
    w.0.extend_from_slice(&r.cursor.hash.to_le_bytes());
    encode_reason(&mut w, r.reason.as_ref());
    match r.channel {
        ChannelMemory::Ussd { page } => {
            w.u8(0);
            w.u8(page);
        }
        ChannelMemory::Voice { page, silences } => {
            w.u8(1);
            w.u8(page);
            w.u8(silences);
        }
        ChannelMemory::Sms { stopped, sent } => {
            w.u8(2);
            w.u8(u8::from(stopped));
            w.var(u64::from(sent));
        }
    }
    let s = &r.state;
    w.u8(s.lang);
    let (tag, step) = match s.at {
        At::Language => (0, 0),
        At::Step(i) => (1, i),
        At::Done(i) => (2, i),
        At::GaveUp(i) => (3, i),
        At::Resume(i) => (4, i),
    };
    w.u8(tag);
    w.var(step as u64);
    w.u8(s.attempts);
    w.var(s.history.len() as u64);
    for &h in &s.history {
        w.var(h as u64);
    }
    w.var(s.answers.len() as u64);
    for (step, a) in &s.answers {
        w.var(*step as u64);
        match a {
            Answer::Choice(o) => {
                w.u8(0);
                w.var(*o as u64);
            }
            Answer::Multi(os) => {
                w.u8(1);
                w.var(os.len() as u64);
                for &o in os {
                    w.var(o as u64);
                }
            }
            Answer::Text(t) => {
                w.u8(2);
                w.str(t);
            }
            Answer::Integer(n) => {
                w.u8(3);
                w.zigzag(*n);
            }
            Answer::Decimal(n) => {
                w.u8(4);
                w.f64(*n);
            }
            Answer::Date(d) => {
                w.u8(5);
                w.zigzag(d.to_julian_day() as i64);
            }
            Answer::Skipped => w.u8(6),
            Answer::Audio { url, secs } => {
                w.u8(7);
                w.str(url);
                w.var(secs.map_or(0, |s| s as u64 + 1));
            }
        }
    }
    w.str(&r.gateway);
    w.zigzag(r.last_hop_ms);
    w.0
}

fn encode_reason(w: &mut Writer, reason: Option<&Invalid>) {
    let opt_f64 = |w: &mut Writer, v: Option<f64>| match v {
        None => w.u8(0),
        Some(x) => {
            w.u8(1);
            w.f64(x);
        }
    };
    match reason {
        None => w.u8(0),
        Some(Invalid::NotAnOption) => w.u8(1),
        Some(Invalid::SelectionCount { min, max }) => {
            w.u8(2);
            w.var(*min as u64);
            w.var(*max as u64);
        }
        Some(Invalid::Empty) => w.u8(3),
        Some(Invalid::TooShort { min }) => {
            w.u8(4);
            w.var(*min as u64);
        }
        Some(Invalid::TooLong { max }) => {
            w.u8(5);
            w.var(*max as u64);
        }
        Some(Invalid::NotANumber) => w.u8(6),
        Some(Invalid::NotAnInteger) => w.u8(7),
        Some(Invalid::NumberOutOfRange { min, max }) => {
            w.u8(8);
            opt_f64(w, *min);
            opt_f64(w, *max);
        }
        Some(Invalid::NotADate { example }) => {
            w.u8(9);
            w.str(example);
        }
        Some(Invalid::DateOutOfRange { min, max }) => {
            w.u8(10);
            w.opt_str(min.as_deref());
            w.opt_str(max.as_deref());
        }
    }
}

fn decode_reason(r: &mut Reader<'_>) -> Result<Option<Invalid>, DecodeError> {
    let opt_f64 = |r: &mut Reader<'_>| -> Result<Option<f64>, DecodeError> {
        match r.u8()? {
            0 => Ok(None),
            _ => r.f64().map(Some),
        }
    };
    Ok(Some(match r.u8()? {
        0 => return Ok(None),
        1 => Invalid::NotAnOption,
        2 => Invalid::SelectionCount {
            min: r.small()?,
            max: r.small()?,
        },
        3 => Invalid::Empty,
        4 => Invalid::TooShort { min: r.small()? },
        5 => Invalid::TooLong { max: r.small()? },
        6 => Invalid::NotANumber,
        7 => Invalid::NotAnInteger,
        8 => Invalid::NumberOutOfRange {
            min: opt_f64(r)?,
            max: opt_f64(r)?,
        },
        9 => Invalid::NotADate { example: r.str()? },
        10 => Invalid::DateOutOfRange {
            min: r.opt_str()?,
            max: r.opt_str()?,
        },
        _ => return Err(DecodeError("unknown reason")),
    }))
}

pub fn decode(bytes: &[u8]) -> Result<SessionRecord, DecodeError> {
    let mut r = Reader(bytes);
    let format = r.u8()?;
    if ![FORMAT, FORMAT_3, FORMAT_2, FORMAT_1].contains(&format) {
        return Err(DecodeError("unknown format"));
    }
    let flow_id = r.str()?;
    let flow_version = u32::try_from(r.var()?).map_err(|_| DecodeError("flow version"))?;
    let response_id =
        uuid::Uuid::from_slice(r.take(16)?).map_err(|_| DecodeError("response id"))?;
    let respondent = match r.u8()? {
        0 => hex::encode(r.take(32)?),
        1 => r.str()?,
        _ => return Err(DecodeError("respondent")),
    };
    let network = r.opt_str()?;
    let started_at_ms = r.zigzag()?;
    // Format 1 sessions are bound to no address: the first hop's is taken as theirs.
    let address = if format == FORMAT_1 {
        0
    } else {
        u64::from_le_bytes(r.take(8)?.try_into().expect("eight bytes"))
    };
    let cursor = InputCursor {
        len: u32::try_from(r.var()?).map_err(|_| DecodeError("consumed length"))?,
        hash: u64::from_le_bytes(r.take(8)?.try_into().expect("eight bytes")),
    };
    let reason = decode_reason(&mut r)?;
    let mut channel = match format {
        FORMAT_1 => ChannelMemory::Ussd { page: 0 },
        _ => match r.u8()? {
            0 => ChannelMemory::Ussd { page: r.u8()? },
            1 => ChannelMemory::Voice {
                page: r.u8()?,
                silences: r.u8()?,
            },
            2 => ChannelMemory::Sms {
                stopped: r.u8()? != 0,
                // Conversations of format 3 (and 2) count from their next message.
                sent: match format {
                    FORMAT => u16::try_from(r.var()?).map_err(|_| DecodeError("messages sent"))?,
                    _ => 0,
                },
            },
            _ => return Err(DecodeError("channel")),
        },
    };
    let lang = r.u8()?;
    let tag = r.u8()?;
    let step = r.small()?;
    let at = match tag {
        0 => At::Language,
        1 => At::Step(step),
        2 => At::Done(step),
        3 => At::GaveUp(step),
        4 => At::Resume(step),
        _ => return Err(DecodeError("position")),
    };
    if format == FORMAT_1 {
        channel = ChannelMemory::Ussd { page: r.u8()? };
    }
    let attempts = r.u8()?;
    let n = r.var()? as usize;
    let mut history = Vec::with_capacity(n.min(256));
    for _ in 0..n {
        history.push(r.small()?);
    }
    let n = r.var()? as usize;
    let mut answers = Vec::with_capacity(n.min(256));
    for _ in 0..n {
        let step = r.small()?;
        let a = match r.u8()? {
            0 => Answer::Choice(r.small()?),
            1 => {
                let k = r.var()? as usize;
                let mut os = Vec::with_capacity(k.min(96));
                for _ in 0..k {
                    os.push(r.small()?);
                }
                Answer::Multi(os)
            }
            2 => Answer::Text(r.str()?),
            3 => Answer::Integer(r.zigzag()?),
            4 => Answer::Decimal(r.f64()?),
            5 => {
                let day = i32::try_from(r.zigzag()?).map_err(|_| DecodeError("date"))?;
                Answer::Date(time::Date::from_julian_day(day).map_err(|_| DecodeError("date"))?)
            }
            6 => Answer::Skipped,
            7 => {
                let url = r.str()?;
                let secs = match r.var()? {
                    0 => None,
                    n => Some(u32::try_from(n - 1).map_err(|_| DecodeError("duration"))?),
                };
                Answer::Audio { url, secs }
            }
            _ => return Err(DecodeError("answer")),
        };
        answers.push((step, a));
    }
    let (gateway, last_hop_ms) = match format {
        FORMAT | FORMAT_3 => (r.str()?, r.zigzag()?),
        _ => ("-".to_owned(), started_at_ms),
    };
    if !r.0.is_empty() {
        return Err(DecodeError("trailing bytes"));
    }
    Ok(SessionRecord {
        gateway,
        last_hop_ms,
        flow_id,
        flow_version,
        response_id,
        respondent,
        network,
        started_at_ms,
        address,
        cursor,
        channel,
        reason,
        state: SessionState {
            lang,
            at,
            attempts,
            history,
            answers,
            receipt: receipt_of(&response_id),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(answers: Vec<(u16, Answer)>, reason: Option<Invalid>) -> SessionRecord {
        let response_id = uuid::Uuid::now_v7();
        SessionRecord {
            flow_id: "kufatilia".into(),
            flow_version: 3,
            response_id,
            respondent: "ab".repeat(32),
            network: Some("63001".into()),
            started_at_ms: 1_795_000_000_000,
            address: crate::session::address_tag("*384*1#"),
            cursor: InputCursor::of("1*1*2*Mwenga*centre"),
            channel: ChannelMemory::Ussd { page: 1 },
            reason,
            state: SessionState {
                lang: 2,
                at: At::Step(9),
                attempts: 1,
                history: (0..answers.len() as u16).collect(),
                answers,
                receipt: receipt_of(&response_id),
            },
            gateway: "at-orange".into(),
            last_hop_ms: 1_795_000_042_000,
        }
    }

    #[test]
    fn every_answer_and_reason_round_trips() {
        let answers = vec![
            (0, Answer::Choice(0)),
            (1, Answer::Multi(vec![0, 3, 5])),
            (2, Answer::Text("Puits *7# à Kamituga".into())),
            (3, Answer::Integer(-12)),
            (4, Answer::Decimal(2.5)),
            (5, Answer::Date(time::macros::date!(2026 - 03 - 14))),
            (6, Answer::Skipped),
            (
                7,
                Answer::Audio {
                    url: "https://voice.example/rec/1.mp3".into(),
                    secs: Some(12),
                },
            ),
        ];
        for reason in [
            None,
            Some(Invalid::NotAnOption),
            Some(Invalid::SelectionCount { min: 1, max: 3 }),
            Some(Invalid::TooLong { max: 140 }),
            Some(Invalid::NumberOutOfRange {
                min: Some(0.0),
                max: None,
            }),
            Some(Invalid::NotADate {
                example: "23112026".into(),
            }),
            Some(Invalid::DateOutOfRange {
                min: Some("01012000".into()),
                max: Some("23112026".into()),
            }),
        ] {
            let r = sample(answers.clone(), reason);
            assert_eq!(decode(&encode(&r)).unwrap(), r);
        }
    }

    #[test]
    fn ten_answers_into_kufatilia_fit_in_300_bytes() {
        let answers = vec![
            (1, Answer::Choice(0)),
            (2, Answer::Choice(8)),
            (3, Answer::Text("Des soldats ont pris l'or du puits".into())),
            (4, Answer::Choice(4)),
            (5, Answer::Date(time::macros::date!(2026 - 03 - 14))),
            (6, Answer::Choice(0)),
            (8, Answer::Text("Mwenga".into())),
            (9, Answer::Text("Kamituga centre".into())),
            (10, Answer::Integer(12)),
            (11, Answer::Choice(1)),
        ];
        let bytes = encode(&sample(answers, None));
        assert!(bytes.len() <= 300, "{} bytes", bytes.len());
    }

    /// A resume record written before channels existed (format 1, bytes as that build wrote
    /// them) still decodes: its page goes to the USSD part, and it is bound to no address.
    #[test]
    fn a_record_in_the_previous_format_still_decodes() {
        let id = uuid::Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_00aa);
        let mut v1 = vec![FORMAT_1];
        v1.push(9);
        v1.extend_from_slice(b"kufatilia");
        v1.push(1); // flow version
        v1.extend_from_slice(id.as_bytes());
        v1.push(0);
        v1.extend_from_slice(&[0xab; 32]);
        v1.push(0); // no network
        v1.push(4); // started at 2 ms
        v1.push(3); // consumed: "1*1"
        v1.extend_from_slice(&crate::hash::fnv1a(b"1*1").to_le_bytes());
        v1.push(0); // no reason
        v1.extend_from_slice(&[1, 1, 2, 1, 0]); // lang 1, At::Step(2), page 1, 0 attempts
        v1.extend_from_slice(&[2, 0, 1]); // history [0, 1]
        v1.extend_from_slice(&[2, 0, 0, 0, 1, 0, 0]); // answers: step 0 option 0, step 1 option 0
        let r = decode(&v1).unwrap();
        assert_eq!(r.flow_id, "kufatilia");
        assert_eq!(r.address, 0);
        assert_eq!(r.cursor, InputCursor::of("1*1"));
        assert_eq!(r.channel, ChannelMemory::Ussd { page: 1 });
        assert_eq!(r.state.at, At::Step(2));
        assert_eq!(r.state.history, vec![0, 1]);
        assert_eq!(r.state.answers.len(), 2);
        assert_eq!(r.started_at_ms, 2);
        // Written again, it is in today's format.
        assert_eq!(encode(&r)[0], FORMAT);
        assert_eq!(decode(&encode(&r)).unwrap(), r);
    }

    /// A record of format 2 (live while an upgrade rolls out) decodes: its gateway is not
    /// known, and its last hop is taken to be its start.
    #[test]
    fn a_record_of_format_2_decodes_without_gateway_and_last_hop() {
        let today = sample(vec![(0, Answer::Choice(1))], None);
        let mut v2 = encode(&today);
        let tail = 1 + today.gateway.len() + {
            let mut w = Writer(Vec::new());
            w.zigzag(today.last_hop_ms);
            w.0.len()
        };
        v2.truncate(v2.len() - tail);
        v2[0] = FORMAT_2;
        let r = decode(&v2).unwrap();
        assert_eq!(r.gateway, "-");
        assert_eq!(r.last_hop_ms, today.started_at_ms);
        assert_eq!(r.state, today.state);
    }

    /// An SMS conversation keeps its count of messages sent; one saved in format 3 (bytes
    /// as that build wrote them, before the count) decodes with none sent.
    #[test]
    fn sms_conversations_keep_their_count_and_format_3_decodes() {
        let mut sms = sample(vec![(0, Answer::Choice(1))], None);
        sms.channel = ChannelMemory::Sms {
            stopped: false,
            sent: 300,
        };
        assert_eq!(decode(&encode(&sms)).unwrap(), sms);
        let response_id = uuid::Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_00bb);
        let mut v3 = vec![FORMAT_3];
        v3.push(9);
        v3.extend_from_slice(b"kufatilia");
        v3.push(2); // flow version
        v3.extend_from_slice(response_id.as_bytes());
        v3.push(0);
        v3.extend_from_slice(&[0xcd; 32]);
        v3.push(0); // no network
        v3.push(8); // started at 4 ms
        v3.extend_from_slice(&crate::session::address_tag("kufatilia").to_le_bytes());
        v3.push(2); // two messages taken, the last one's id:
        v3.extend_from_slice(&crate::hash::fnv1a(b"m-2").to_le_bytes());
        v3.push(0); // no reason
        v3.extend_from_slice(&[2, 1]); // SMS, stopped
        v3.extend_from_slice(&[0, 1, 1, 0]); // lang 0, At::Step(1), 0 attempts
        v3.extend_from_slice(&[1, 0]); // history [0]
        v3.extend_from_slice(&[1, 0, 0, 1]); // answers: step 0 option 1
        v3.push(14);
        v3.extend_from_slice(b"africastalking");
        v3.push(20); // last hop at 10 ms
        let r = decode(&v3).unwrap();
        assert_eq!(
            r.channel,
            ChannelMemory::Sms {
                stopped: true,
                sent: 0
            }
        );
        assert_eq!(r.cursor.len, 2);
        assert_eq!(r.gateway, "africastalking");
        assert_eq!(r.last_hop_ms, 10);
        assert_eq!(r.state.answers, vec![(0, Answer::Choice(1))]);
        assert_eq!(encode(&r)[0], FORMAT);
        assert_eq!(decode(&encode(&r)).unwrap(), r);
        // Format 3 USSD records are today's layout with another first byte.
        let ussd = sample(vec![(0, Answer::Choice(1))], None);
        let mut v3 = encode(&ussd);
        v3[0] = FORMAT_3;
        assert_eq!(decode(&v3).unwrap(), ussd);
    }

    #[test]
    fn garbage_is_refused_not_panicked_on() {
        let good = encode(&sample(vec![(0, Answer::Text("x".into()))], None));
        for cut in 0..good.len() {
            assert!(decode(&good[..cut]).is_err());
        }
        assert!(
            decode(&[
                FORMAT, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
            ])
            .is_err()
        );
        let mut extra = good.clone();
        extra.push(0);
        assert!(decode(&extra).is_err());
    }
}
