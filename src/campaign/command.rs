//! `sauti campaign`: `start` checks a panel and writes a campaign for `sauti serve` to run;
//! `status` prints what became of each campaign's members.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::Campaign;
use crate::config::{Config, GatewayKind};
use crate::phone::PhoneNumbers;
use crate::pseudonym::Pseudonymizer;
use crate::vault::NumberVault;

/// The largest panel file read (about 100 bytes a member).
const MAX_PANEL_BYTES: u64 = 128 * 1024 * 1024;

#[derive(Debug, Clone, clap::Subcommand)]
pub enum Action {
    /// Text a survey's first question to every member of a panel (who has not opted out),
    /// paced; `sauti serve` sends it. Prints the campaign's id.
    Start {
        /// The flow's id.
        flow: String,
        /// A CSV with a `phone` column (and optionally `lang`), one member a row.
        #[arg(long)]
        panel: PathBuf,
        /// Not before this time (RFC 3339, `2026-03-01T08:00:00+02:00`).
        #[arg(long)]
        at: Option<String>,
        /// First messages per minute, at most (evenly spaced).
        #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=6000))]
        rate: u32,
        /// The short code the messages come from, which respondents answer to.
        #[arg(long)]
        from: String,
        /// The SMS gateway answers come in by (default: the only one declared).
        #[arg(long)]
        gateway: Option<String>,
        /// The language of members whose row names none (default: the language screen).
        #[arg(long)]
        lang: Option<String>,
    },
    /// Per campaign: members sent the first question, started, completed, opted out,
    /// failed, pending.
    Status {
        /// One campaign (default: every one).
        id: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
}

/// How `campaign status` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Two lines per campaign.
    Text,
    /// A JSON array, one object per campaign.
    Json,
}

pub fn run(action: Action, c: Config) -> anyhow::Result<()> {
    match action {
        Action::Start {
            flow,
            panel,
            at,
            rate,
            from,
            gateway,
            lang,
        } => {
            let request = Request {
                flow,
                panel,
                at,
                rate,
                from,
                gateway,
                lang,
            };
            let campaign = start(&c, &request)?;
            println!("{}", campaign.id);
            eprintln!(
                "campaign {}: {} member(s), flow {}, {}/min from {}: `sauti serve` sends it",
                campaign.id, campaign.members, campaign.flow, campaign.rate_per_min, campaign.from
            );
            Ok(())
        }
        Action::Status { id, format } => status(&c.data_dir, id.as_deref(), format),
    }
}

/// What `campaign start` was asked.
struct Request {
    flow: String,
    panel: PathBuf,
    at: Option<String>,
    rate: u32,
    from: String,
    gateway: Option<String>,
    lang: Option<String>,
}

/// Checks everything, then writes the campaign (nothing is written if anything is wrong).
fn start(c: &Config, r: &Request) -> anyhow::Result<Campaign> {
    let (gateway, country) = sms_gateway(c, r.gateway.as_deref())?;
    let flows = crate::reload::load_flows(c).map_err(|problems| {
        anyhow::anyhow!(
            "{} problem(s) in the flows (see `sauti check`)",
            problems.len()
        )
    })?;
    let Some(flow) = flows.iter().find(|f| f.id == r.flow) else {
        bail!(
            "no flow `{}` (flows: {})",
            r.flow,
            flows
                .iter()
                .map(|f| f.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    };
    if let Some(l) = &r.lang
        && !flow.languages.contains(l)
    {
        bail!(
            "--lang {l}: flow `{}` offers {}",
            flow.id,
            flow.languages.join(", ")
        );
    }
    if let Some(at) = &r.at
        && super::runner::parse_time(at).is_none()
    {
        bail!("--at {at}: not an RFC 3339 time (2026-03-01T08:00:00+02:00)");
    }
    let from = r.from.trim();
    if from.is_empty() || from.len() > 15 || !from.chars().all(|ch| ch.is_ascii_alphanumeric()) {
        bail!("--from: a short code or sender id, 1 to 15 letters or digits");
    }
    let numbers = PhoneNumbers::new(Some(&country)).map_err(|e| anyhow::anyhow!(e))?;
    let text = read_panel(&r.panel)?;
    let rows = super::panel::parse(&text, &numbers, &flow.languages).map_err(|problems| {
        anyhow::anyhow!(
            "{}: {} bad row(s), nothing written:\n  {}",
            r.panel.display(),
            problems.len(),
            problems.join("\n  ")
        )
    })?;
    let key = crate::service::pseudonym_key(c)?;
    let pseudonyms = Pseudonymizer::new(&key)?;
    let vault = NumberVault::from_env_or(&key)?;
    let members = super::panel::seal(&rows, &vault, &pseudonyms);
    let campaign = Campaign {
        id: super::new_id(),
        flow: flow.id.clone(),
        rate_per_min: r.rate,
        at: r.at.clone(),
        from: from.to_owned(),
        gateway,
        lang: r.lang.clone(),
        created: crate::recorder::rfc3339(time::OffsetDateTime::now_utc()),
        members: members.len(),
    };
    write(&c.data_dir, &campaign, &members)?;
    Ok(campaign)
}

/// The SMS gateway answers come in by, and the country its numbers are read in.
fn sms_gateway(c: &Config, chosen: Option<&str>) -> anyhow::Result<(String, String)> {
    let sms: Vec<(String, String)> = c
        .gateways
        .iter()
        .filter(|(_, g)| g.adapter == GatewayKind::AfricastalkingSms)
        .map(|(table, g)| {
            let name = g.name.clone().unwrap_or_else(|| table.clone());
            (name, g.country.clone().unwrap_or_else(|| c.country.clone()))
        })
        .collect();
    let names = || {
        sms.iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match chosen {
        Some(name) => sms
            .iter()
            .find(|(n, _)| n == name)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("no SMS gateway `{name}` (declared: {})", names())),
        None => match sms.as_slice() {
            [one] => Ok(one.clone()),
            [] => bail!(
                "no SMS gateway declared: add `[[gateway]] name = \"africastalking\" adapter = \
                 \"africastalking-sms\"` to sauti.toml (docs/sms.md)"
            ),
            _ => bail!(
                "several SMS gateways ({}): choose one with --gateway",
                names()
            ),
        },
    }
}

fn read_panel(path: &Path) -> anyhow::Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut text = Vec::new();
    f.take(MAX_PANEL_BYTES + 1)
        .read_to_end(&mut text)
        .with_context(|| format!("reading {}", path.display()))?;
    if text.len() as u64 > MAX_PANEL_BYTES {
        bail!("{}: larger than {MAX_PANEL_BYTES} bytes", path.display());
    }
    Ok(text)
}

/// Writes the panel, then `campaign.json` last: a campaign without it is not one yet, so a
/// server never runs one half written.
fn write(
    data_dir: &Path,
    campaign: &Campaign,
    members: &[super::panel::Member],
) -> anyhow::Result<()> {
    let dir = super::campaign_dir(data_dir, &campaign.id);
    crate::private_fs::create_dir_all(&dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let mut panel = Vec::new();
    for m in members {
        serde_json::to_writer(&mut panel, m)?;
        panel.push(b'\n');
    }
    let path = dir.join("panel.jsonl");
    crate::private_fs::replace(&path, &panel)
        .with_context(|| format!("writing {}", path.display()))?;
    let path = dir.join("campaign.json");
    let json = serde_json::to_vec_pretty(campaign)?;
    crate::private_fs::replace(&path, &json)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn status(data_dir: &Path, id: Option<&str>, format: Format) -> anyhow::Result<()> {
    let ids = match id {
        Some(id) => {
            if !super::is_campaign_id(id) || !super::list(data_dir).iter().any(|x| x == id) {
                bail!(
                    "no campaign `{}` in {}",
                    id.escape_debug(),
                    data_dir.display()
                );
            }
            vec![id.to_owned()]
        }
        None => super::list(data_dir),
    };
    let statuses = ids
        .iter()
        .map(|id| super::status::of(data_dir, id).with_context(|| format!("campaign {id}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&statuses)?),
        Format::Text if statuses.is_empty() => {
            println!("no campaigns in {}", data_dir.display());
        }
        Format::Text => {
            for s in &statuses {
                print!("{}", super::status::text(s));
            }
        }
    }
    Ok(())
}
