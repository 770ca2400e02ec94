//! Voice calls in tests: recordings made the way a field team would (from `sauti prompts`),
//! a real server with voice gateways, XML replies parsed (so they must be well-formed), and a
//! caller who follows the callback URLs each reply gives, as Africa's Talking or Twilio does.

use std::path::{Path, PathBuf};
use std::process::Command;

use quick_xml::Reader;
use quick_xml::events::Event;

use super::REPO;
use super::server::{HttpReply, Options, Server};

pub const PUBLIC_URL: &str = "https://sauti.example.org";
pub const TWILIO_TOKEN: &str = "sauti-test-auth-token-0000000000";

/// A short silent WAV (8 kHz, 16-bit mono, 0.1 s): a stand-in for a person's recording.
pub fn silent_wav(path: &Path) {
    let data = vec![0u8; 1600];
    let mut wav = Vec::new();
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&8000u32.to_le_bytes());
    wav.extend_from_slice(&16000u32.to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&(data.len() as u32).to_le_bytes());
    wav.extend_from_slice(&data);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, wav).unwrap();
}

/// One row of `sauti prompts --format csv`.
#[derive(Debug, Clone)]
pub struct PromptRow {
    pub language: String,
    pub message: String,
    pub file: String,
    pub text: String,
    pub status: String,
}

/// `sauti prompts <flow> --format csv`, parsed.
pub fn prompts(flow: &Path, locales: &Path, audio: &Path, config: Option<&Path>) -> Vec<PromptRow> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sauti"));
    cmd.arg("prompts")
        .arg(flow)
        .arg("--format")
        .arg("csv")
        .arg("--locales")
        .arg(locales)
        .arg("--audio")
        .arg(audio)
        .current_dir(audio.parent().unwrap());
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("language,message,file,text,status"));
    lines.map(parse_csv_row).collect()
}

fn parse_csv_row(line: &str) -> PromptRow {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    fields.push(cur);
    assert_eq!(fields.len(), 5, "{line}");
    PromptRow {
        language: fields[0].clone(),
        message: fields[1].clone(),
        file: fields[2].clone(),
        text: fields[3].clone(),
        status: fields[4].clone(),
    }
}

/// A voice set-up: flows and locales, recordings for some languages, voices for others.
pub struct Lab {
    pub server: Server,
    pub audio: PathBuf,
    pub dir: tempfile::TempDir,
}

pub struct LabOptions<'a> {
    pub flows: PathBuf,
    pub locales: PathBuf,
    /// `[voice.tts]` entries.
    pub tts: &'a [(&'a str, &'a str)],
    /// Languages whose every prompt is recorded (silent WAVs named as `sauti prompts` says).
    pub recorded: &'a [&'a str],
    /// Extra `sauti.toml` lines.
    pub config: &'a str,
    /// More recordings (`fr/thanks.wav`).
    pub extra: &'a [&'a str],
}

impl Lab {
    pub fn shipped(tts: &[(&str, &str)], recorded: &[&str]) -> Lab {
        Lab::start(LabOptions {
            flows: Path::new(REPO).join("flows"),
            locales: Path::new(REPO).join("locales"),
            tts,
            recorded,
            config: "",
            extra: &[],
        })
    }

    pub fn start(o: LabOptions<'_>) -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let audio = dir.path().join("audio");
        std::fs::create_dir_all(&audio).unwrap();
        for entry in std::fs::read_dir(&o.flows).unwrap() {
            let flow = entry.unwrap().path();
            for row in prompts(&flow, &o.locales, &audio, None) {
                if o.recorded.contains(&row.language.as_str()) {
                    silent_wav(&audio.join(&row.file));
                }
            }
        }
        for file in o.extra {
            silent_wav(&audio.join(file));
        }
        let mut config = String::from("[voice]\nno_input_retries = 2\n[voice.tts]\n");
        for (lang, voice) in o.tts {
            let quoted = voice.replace('\\', "\\\\").replace('"', "\\\"");
            config.push_str(&format!("{lang} = \"{quoted}\"\n"));
        }
        config.push_str(o.config);
        let server = Server::start_with(Options {
            flows: o.flows,
            locales: o.locales,
            config: Some(config),
            env: vec![
                (
                    "SAUTI_PSEUDONYM_KEY".into(),
                    "test-key-0123456789abcdef".into(),
                ),
                ("SAUTI_TWILIO_AUTH_TOKEN".into(), TWILIO_TOKEN.into()),
            ],
            args: vec![
                "--audio".into(),
                audio.display().to_string(),
                "--public-url".into(),
                PUBLIC_URL.into(),
            ],
            wrapper: Vec::new(),
        });
        Lab { server, audio, dir }
    }
}

/// An XML element, as parsed from a reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Node>,
}

impl Node {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every element below (and including) this one, in document order.
    pub fn all(&self) -> Vec<&Node> {
        let mut out = vec![self];
        for c in &self.children {
            out.extend(c.all());
        }
        out
    }

    pub fn find(&self, name: &str) -> Option<&Node> {
        self.all().into_iter().find(|n| n.name == name)
    }

    /// The names of the children, in order.
    pub fn names(&self) -> Vec<&str> {
        self.children.iter().map(|c| c.name.as_str()).collect()
    }

    /// What the caller hears, in order: `say:<text>` and `play:<url>`.
    pub fn heard(&self) -> Vec<String> {
        self.all()
            .into_iter()
            .filter_map(|n| match n.name.as_str() {
                "Say" => Some(format!("say:{}", n.text)),
                "Play" => Some(format!(
                    "play:{}",
                    n.attr("url").map_or(n.text.as_str(), |u| u)
                )),
                _ => None,
            })
            .collect()
    }
}

/// Parses a whole reply; panics unless it is well-formed XML with one `<Response>` root.
pub fn parse_xml(xml: &str) -> Node {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Node> = vec![Node {
        name: "#document".into(),
        attrs: vec![],
        text: String::new(),
        children: vec![],
    }];
    let node = |e: &quick_xml::events::BytesStart<'_>| Node {
        name: e.name().as_ref().to_owned(),
        attrs: e
            .attributes()
            .map(|a| {
                let a = a.expect("well-formed attribute");
                (
                    a.key.as_ref().to_owned(),
                    // Not `a.unescape_value()`: it does not exist once quick-xml's `encoding`
                    // feature is on, and calamine (`import-xlsform`) turns it on.
                    quick_xml::escape::unescape(&a.value)
                        .expect("escaped attribute")
                        .into_owned(),
                )
            })
            .collect(),
        text: String::new(),
        children: vec![],
    };
    loop {
        match reader
            .read_event()
            .unwrap_or_else(|e| panic!("malformed XML: {e}\n{xml}"))
        {
            Event::Start(e) => stack.push(node(&e)),
            Event::Empty(e) => {
                let n = node(&e);
                stack.last_mut().unwrap().children.push(n);
            }
            Event::End(_) => {
                let n = stack.pop().unwrap();
                stack.last_mut().unwrap().children.push(n);
            }
            Event::Text(t) => {
                let t = t.xml10_content();
                assert!(!t.contains(['<', '&']), "unescaped text {t:?}");
                stack.last_mut().unwrap().text.push_str(&t);
            }
            Event::GeneralRef(r) => {
                let name: &str = r.as_ref();
                let c = match name {
                    "amp" => "&",
                    "lt" => "<",
                    "gt" => ">",
                    "quot" => "\"",
                    "apos" => "'",
                    other => panic!("unknown entity &{other};"),
                };
                stack.last_mut().unwrap().text.push_str(c);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(stack.len(), 1, "unclosed elements in {xml}");
    let doc = stack.pop().unwrap();
    assert_eq!(doc.children.len(), 1, "one root element: {xml}");
    let root = doc.children.into_iter().next().unwrap();
    assert_eq!(root.name, "Response");
    root
}

/// Which voice gateway a call comes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    AfricasTalking,
    Twilio,
}

/// A caller on the phone: dials a number, then does what each reply asks, following the
/// callback URLs in it exactly as the gateway would.
pub struct Call<'s> {
    pub server: &'s Server,
    pub via: Via,
    pub id: String,
    pub from: String,
    pub to: String,
    /// The last reply.
    pub reply: Node,
    pub status: u16,
}

impl<'s> Call<'s> {
    pub fn dial(server: &'s Server, via: Via, id: &str, from: &str, to: &str) -> Call<'s> {
        let mut call = Call {
            server,
            via,
            id: id.into(),
            from: from.into(),
            to: to.into(),
            reply: Node {
                name: "Response".into(),
                attrs: vec![],
                text: String::new(),
                children: vec![],
            },
            status: 0,
        };
        let path = match via {
            Via::AfricasTalking => "/gateways/africastalking/voice".to_owned(),
            Via::Twilio => "/gateways/twilio/voice".to_owned(),
        };
        call.send(&path, &[]);
        call
    }

    /// The fields every request of this call carries.
    fn fields(&self) -> Vec<(String, String)> {
        match self.via {
            Via::AfricasTalking => vec![
                ("isActive".into(), "1".into()),
                ("sessionId".into(), self.id.clone()),
                ("direction".into(), "Inbound".into()),
                ("callerNumber".into(), self.from.clone()),
                ("destinationNumber".into(), self.to.clone()),
            ],
            Via::Twilio => vec![
                (
                    "AccountSid".into(),
                    "AC00000000000000000000000000000000".into(),
                ),
                ("CallSid".into(), self.id.clone()),
                ("From".into(), self.from.clone()),
                ("To".into(), self.to.clone()),
                ("CallStatus".into(), "in-progress".into()),
                ("Direction".into(), "inbound".into()),
            ],
        }
    }

    /// Posts to `path` (relative to the server) with the call's fields and `extra`.
    pub fn send(&mut self, path: &str, extra: &[(&str, &str)]) -> HttpReply {
        let mut fields = self.fields();
        fields.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let reply = self.post(path, &fields);
        self.status = reply.status;
        if reply.status == 200 && !reply.body.is_empty() {
            self.reply = parse_xml(&reply.body);
        }
        reply
    }

    pub fn post(&self, path: &str, fields: &[(String, String)]) -> HttpReply {
        let body = serde_html_form::to_string(fields).unwrap();
        let mut head = format!(
            "POST {path} HTTP/1.1\r\nHost: sauti.example.org\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        );
        if self.via == Via::Twilio {
            let sig = sauti::gateway::twilio_signature::sign(
                TWILIO_TOKEN,
                &format!("{PUBLIC_URL}{path}"),
                fields,
            );
            head.push_str(&format!("X-Twilio-Signature: {sig}\r\n"));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body.as_bytes());
        self.server.raw(&bytes)
    }

    /// The element that waits for keys (`GetDigits` or `Gather`), if the reply has one.
    pub fn keys_element(&self) -> Option<&Node> {
        self.reply
            .find("GetDigits")
            .or_else(|| self.reply.find("Gather"))
    }

    /// A URL of the reply as a path on the server.
    fn local(url: &str) -> String {
        url.strip_prefix(PUBLIC_URL).unwrap_or(url).to_owned()
    }

    /// Where keys are sent.
    pub fn keys_url(&self) -> String {
        let e = self
            .keys_element()
            .unwrap_or_else(|| panic!("no key prompt in {:#?}", self.reply));
        Call::local(e.attr("callbackUrl").or(e.attr("action")).unwrap())
    }

    /// Presses `keys` (as the gateway reports them: without the final `#`).
    pub fn press(&mut self, keys: &str) -> &Node {
        let url = self.keys_url();
        let field = match self.via {
            Via::AfricasTalking => "dtmfDigits",
            Via::Twilio => "Digits",
        };
        self.send(&url, &[(field, keys)]);
        &self.reply
    }

    /// Presses nothing: the gateway goes on to the fallback after the prompt.
    pub fn stay_silent(&mut self) -> &Node {
        let redirect = self
            .reply
            .child("Redirect")
            .unwrap_or_else(|| panic!("no fallback after the prompt: {:#?}", self.reply));
        let url = Call::local(redirect.text.trim());
        self.send(&url, &[]);
        &self.reply
    }

    /// Speaks an answer after the beep; the gateway reports the recording's URL.
    pub fn speak(&mut self, recording_url: &str, secs: u32) -> &Node {
        let record = self
            .reply
            .find("Record")
            .unwrap_or_else(|| panic!("not recording: {:#?}", self.reply));
        let url = Call::local(
            record
                .attr("callbackUrl")
                .or(record.attr("action"))
                .unwrap(),
        );
        let secs = secs.to_string();
        match self.via {
            Via::AfricasTalking => self.send(&url, &[("recordingUrl", recording_url)]),
            Via::Twilio => self.send(
                &url,
                &[
                    ("RecordingUrl", recording_url),
                    ("RecordingDuration", &secs),
                    ("Digits", "#"),
                ],
            ),
        };
        &self.reply
    }

    /// Hangs up: the gateway's final request.
    pub fn hang_up(&mut self) -> HttpReply {
        match self.via {
            Via::AfricasTalking => {
                let mut fields = self.fields();
                fields.retain(|(k, _)| k != "isActive");
                fields.push(("isActive".into(), "0".into()));
                fields.push(("durationInSeconds".into(), "42".into()));
                fields.push(("hangupCause".into(), "NORMAL_CLEARING".into()));
                self.post("/gateways/africastalking/voice", &fields)
            }
            Via::Twilio => {
                let mut fields = self.fields();
                fields.retain(|(k, _)| k != "CallStatus");
                fields.push(("CallStatus".into(), "completed".into()));
                fields.push(("CallDuration".into(), "42".into()));
                self.post("/gateways/twilio/status", &fields)
            }
        }
    }

    /// Whether the reply ends the call.
    pub fn ended(&self) -> bool {
        match self.via {
            Via::Twilio => self.reply.child("Hangup").is_some(),
            Via::AfricasTalking => {
                self.keys_element().is_none() && self.reply.find("Record").is_none()
            }
        }
    }

    /// Everything said in the reply, joined (for text assertions).
    pub fn said(&self) -> String {
        self.reply
            .all()
            .into_iter()
            .filter(|n| n.name == "Say")
            .map(|n| n.text.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The URLs played in the reply.
    pub fn played(&self) -> Vec<String> {
        self.reply
            .all()
            .into_iter()
            .filter(|n| n.name == "Play")
            .map(|n| n.attr("url").unwrap_or(n.text.as_str()).to_owned())
            .collect()
    }
}
