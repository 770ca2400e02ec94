//! The `sauti` command line: `serve`, `check`, `simulate`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use sauti::check;

/// mimalloc: a hop allocates and frees many small buffers across threads; glibc's malloc
/// showed up at about 11% of a loaded server's CPU in the profile (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use sauti::engine::HopContext;
use sauti::render::Budget;
use sauti::simulate::{self, Inputs};

#[derive(Parser)]
#[command(name = "sauti", version, about = "USSD and voice IVR survey engine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone, Copy)]
struct BudgetArgs {
    /// Screen budget in GSM-7 septets.
    #[arg(long, default_value_t = 182)]
    gsm7_septets: u32,
    /// Screen budget in characters when a screen needs UCS-2.
    #[arg(long, default_value_t = 80)]
    ucs2_chars: u32,
}

impl From<BudgetArgs> for Budget {
    fn from(b: BudgetArgs) -> Budget {
        Budget {
            gsm7_septets: b.gsm7_septets,
            ucs2_chars: b.ucs2_chars,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Serve USSD gateways over HTTP (embedded defaults: sessions in memory, responses in
    /// <data-dir>/responses.jsonl), and deliver completed surveys to the sinks.
    Serve(ServeArgs),
    /// Only deliver queued responses to the sinks (no HTTP server).
    Deliver(ServeArgs),
    /// Inspect and repair the outbox: status, dead letters, replay.
    Outbox {
        #[command(subcommand)]
        action: OutboxAction,
        #[command(flatten)]
        args: ServeArgs,
    },
    /// Export a flow as an XForm for ODK Central or KoBoToolbox.
    Xform {
        /// A flow file, or the id of a flow in `flows/`.
        flow: String,
        #[arg(long, default_value = "locales")]
        locales: PathBuf,
        /// Write here instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Check flows and translations; one line per problem, with file:line.
    Check {
        /// Flow files or directories of flows.
        #[arg(default_value = "flows")]
        paths: Vec<PathBuf>,
        #[arg(long, default_value = "locales")]
        locales: PathBuf,
        #[command(flatten)]
        budget: BudgetArgs,
    },
    /// Walk a flow in the terminal as a respondent would see it on a phone.
    Simulate {
        /// A flow file, or the id of a flow in `flows/`.
        flow: String,
        /// Language (fr, sw, ln, or fra, swa, lin, fr-CD...); skips the language screen.
        #[arg(long)]
        lang: Option<String>,
        /// Inputs, comma-separated (`1,2,abc`); without it, inputs are read from stdin.
        #[arg(long, value_delimiter = ',')]
        answers: Option<Vec<String>>,
        #[arg(long, default_value = "locales")]
        locales: PathBuf,
        #[command(flatten)]
        budget: BudgetArgs,
        /// Show each question as plain text (no screen budget, no pages) instead of USSD screens.
        #[arg(long)]
        plain: bool,
    },
}

#[derive(Subcommand)]
enum OutboxAction {
    /// Queued, in flight, delivered, dead and the oldest age, per sink.
    Status {
        #[arg(long)]
        sink: Option<String>,
    },
    /// Dead letters with their last error.
    Dead {
        #[arg(long)]
        sink: Option<String>,
    },
    /// Put a dead letter (or all of them) back in the queue.
    Replay {
        /// A response id.
        id: Option<String>,
        #[arg(long, conflicts_with = "id")]
        all_dead: bool,
        #[arg(long)]
        sink: Option<String>,
    },
}

/// Flags of `serve`; each overrides `sauti.toml`, and each has a `SAUTI_*` variable.
#[derive(clap::Args)]
struct ServeArgs {
    /// Configuration file (default: ./sauti.toml when it exists).
    #[arg(long, global = true, env = "SAUTI_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:8080; port 0 picks a free port).
    #[arg(long, global = true, env = "SAUTI_LISTEN")]
    listen: Option<String>,
    /// Directory of flows (default flows).
    #[arg(long, global = true, env = "SAUTI_FLOWS")]
    flows: Option<PathBuf>,
    /// Directory of translations (default locales).
    #[arg(long, global = true, env = "SAUTI_LOCALES")]
    locales: Option<PathBuf>,
    /// Where responses are written (default data).
    #[arg(long, global = true, env = "SAUTI_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// dev or prod; prod refuses to start without a pseudonym key.
    #[arg(long, global = true, env = "SAUTI_PROFILE")]
    profile: Option<sauti::config::Profile>,
    /// Log format: text or json.
    #[arg(long, global = true, env = "SAUTI_LOG_FORMAT")]
    log_format: Option<sauti::config::LogFormat>,
    /// Session time-to-live in seconds (default 180).
    #[arg(long, global = true, env = "SAUTI_SESSION_TTL_SECS")]
    session_ttl_secs: Option<u64>,
    /// Keep sessions in Redis: redis://host:6379, rediss://... (TLS),
    /// redis+cluster://host1:6379,host2:6379 (default: in memory).
    #[arg(long, global = true, env = "SAUTI_REDIS_URL")]
    redis: Option<String>,
    /// First part of every Redis key (default sauti).
    #[arg(long, global = true, env = "SAUTI_REDIS_KEY_PREFIX")]
    redis_key_prefix: Option<String>,
    /// Deliver every flow's responses to this URL too (a webhook sink named `webhook`,
    /// signed with the secret in SAUTI_WEBHOOK_SECRET).
    #[arg(long, global = true, env = "SAUTI_WEBHOOK_URL")]
    webhook: Option<String>,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve::serve(args, true),
        Command::Deliver(args) => serve::serve(args, false),
        Command::Outbox { action, args } => serve::outbox(action, args),
        Command::Xform {
            flow,
            locales,
            output,
        } => {
            let flow = load_one(&flow, &locales, Budget::default())?;
            let xml = sauti::xform::xform(&flow);
            match output {
                Some(p) => {
                    std::fs::write(&p, xml).with_context(|| format!("writing {}", p.display()))?
                }
                None => print!("{xml}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Check {
            paths,
            locales,
            budget,
        } => {
            let report = check::check(&paths, &locales, budget.into());
            for p in &report.problems {
                println!("{p}");
            }
            if !report.problems.is_empty() {
                eprintln!("{} problem(s) found", report.problems.len());
                return Ok(ExitCode::FAILURE);
            }
            for s in &report.summaries {
                println!("{s}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Simulate {
            flow,
            lang,
            answers,
            locales,
            budget,
            plain,
        } => {
            let flow = load_one(&flow, &locales, budget.into())?;
            let lang = match lang {
                Some(tag) => Some(flow.language_index(&tag).with_context(|| {
                    format!(
                        "flow `{}` is not offered in `{tag}` (offered: {})",
                        flow.id,
                        flow.languages.join(", ")
                    )
                })?),
                None => None,
            };
            let now = time::OffsetDateTime::now_utc();
            let ctx = HopContext { today: now.date() };
            let stamp = sauti::survey::rfc3339(now);
            let stdin = std::io::stdin();
            let mut lock = stdin.lock();
            let inputs = match answers {
                Some(list) => Inputs::List(list),
                None => Inputs::Reader(&mut lock),
            };
            let mut out = std::io::stdout().lock();
            let display = if plain {
                simulate::Display::Plain
            } else {
                simulate::Display::Ussd(budget.into())
            };
            simulate::run(&flow, lang, inputs, &mut out, &ctx, display, &stamp)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Loads and checks one flow (a path or an id); its problems are printed and refused.
fn load_one(flow: &str, locales: &Path, budget: Budget) -> anyhow::Result<sauti::CompiledFlow> {
    let path = flow_path(flow);
    let report = check::check(std::slice::from_ref(&path), locales, budget);
    if !report.problems.is_empty() {
        for p in &report.problems {
            eprintln!("{p}");
        }
        bail!(
            "{} has problems; fix them first (sauti check)",
            path.display()
        );
    }
    report.flows.into_iter().next().context("no flow loaded")
}

/// `flows/kufatilia.toml`, or `kufatilia` for the flow of that id in `flows/`.
fn flow_path(arg: &str) -> PathBuf {
    let p = Path::new(arg);
    if p.exists() || arg.ends_with(".toml") {
        p.to_path_buf()
    } else {
        Path::new("flows").join(format!("{arg}.toml"))
    }
}

mod serve {
    //! `sauti serve`: configuration, logging, start-up checks, then the HTTP server.

    use std::path::Path;
    use std::sync::Arc;
    use std::time::Duration;

    use anyhow::{Context, bail};
    use sauti::config::{Config, LogFormat, Profile};
    use sauti::journal::Journal;
    use sauti::metrics::Metrics;
    use sauti::outbox::{Admin, DiskQueue, RedisQueue, run_worker};
    use sauti::pseudonym::Pseudonymizer;
    use sauti::render::Budget;
    use sauti::server::{self, App, Limits};
    use sauti::session::{MemoryStore, RedisStore};
    use sauti::sink::{AnySink, SinkConfig, SinkKind};
    use sauti::survey::{AnyStore, Survey};
    use tracing_subscriber::{EnvFilter, fmt, prelude::*};

    use super::{ExitCode, OutboxAction, ServeArgs};

    fn config(args: &ServeArgs) -> anyhow::Result<Config> {
        let mut c = Config::load(args.config.as_deref()).map_err(|p| anyhow::anyhow!("{p}"))?;
        if let Some(v) = &args.listen {
            c.listen = v.clone();
        }
        if let Some(v) = &args.flows {
            c.flows = v.clone();
        }
        if let Some(v) = &args.locales {
            c.locales = v.clone();
        }
        if let Some(v) = &args.data_dir {
            c.data_dir = v.clone();
        }
        if let Some(v) = args.profile {
            c.profile = v;
        }
        if let Some(v) = args.log_format {
            c.log_format = v;
        }
        if let Some(v) = args.session_ttl_secs {
            c.session_ttl_secs = v;
        }
        if let Some(v) = &args.redis {
            c.redis.url = v.clone();
        }
        if let Some(v) = &args.redis_key_prefix {
            c.redis.key_prefix = v.clone();
        }
        if c.sinks.is_empty() {
            // The embedded default: every response in the data directory's JSONL file.
            let mut file = SinkConfig::new(SinkKind::File {
                path: c.data_dir.join("responses.jsonl"),
            });
            // Appends share fsyncs: many in flight make one fsync serve many responses.
            file.concurrency = 64;
            c.sinks.insert("file".into(), file);
        }
        if let Some(url) = &args.webhook {
            c.sinks.insert(
                "webhook".into(),
                SinkConfig::new(SinkKind::Webhook {
                    url: url.clone(),
                    secret: None,
                    secret_env: Some("SAUTI_WEBHOOK_SECRET".into()),
                }),
            );
        }
        if let Ok(key) = std::env::var("SAUTI_PSEUDONYM_KEY") {
            c.pseudonym_key = Some(key);
        }
        Ok(c)
    }

    fn init_logging(c: &Config) {
        let filter = EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| EnvFilter::new(format!("{},hyper=warn", c.log)));
        let registry = tracing_subscriber::registry().with(filter);
        let _ = match c.log_format {
            LogFormat::Json => registry
                .with(
                    fmt::layer()
                        .json()
                        .flatten_event(true)
                        .with_current_span(false)
                        .with_writer(std::io::stderr),
                )
                .try_init(),
            LogFormat::Text => registry
                .with(fmt::layer().compact().with_writer(std::io::stderr))
                .try_init(),
        };
    }

    /// The key from the configuration or `SAUTI_PSEUDONYM_KEY`; in the dev profile only, a
    /// random key kept in the data directory so that pseudonyms survive restarts.
    fn pseudonym_key(c: &Config) -> anyhow::Result<Vec<u8>> {
        if let Some(k) = &c.pseudonym_key {
            return Ok(k.trim().as_bytes().to_vec());
        }
        if c.profile == Profile::Prod {
            bail!(
                "no pseudonym key: the prod profile needs one, shared by every sauti process.\n\
                 Set SAUTI_PSEUDONYM_KEY (e.g. export SAUTI_PSEUDONYM_KEY=$(openssl rand -hex 32)) \
                 or `pseudonym_key` in sauti.toml. Keep it secret and never change it: \
                 pseudonyms are only comparable under the same key."
            );
        }
        if !c.redis.url.trim().is_empty() {
            // Processes sharing Redis must share the key, or one respondent gets several pseudonyms.
            bail!(
                "no pseudonym key: with Redis, every sauti process must use the same one.\n\
                 Set SAUTI_PSEUDONYM_KEY (e.g. export SAUTI_PSEUDONYM_KEY=$(openssl rand -hex 32)) \
                 or `pseudonym_key` in sauti.toml, the same for every process."
            );
        }
        let path = c.data_dir.join("pseudonym.key");
        if let Ok(k) = std::fs::read_to_string(&path) {
            return Ok(k.trim().as_bytes().to_vec());
        }
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness for a key: {e}"))?;
        let key = hex::encode(bytes);
        std::fs::create_dir_all(&c.data_dir)
            .with_context(|| format!("creating {}", c.data_dir.display()))?;
        write_private(&path, key.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        tracing::warn!(path = %path.display(), "dev profile: generated a pseudonym key; set SAUTI_PSEUDONYM_KEY and SAUTI_PROFILE=prod in production");
        Ok(key.into_bytes())
    }

    fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(path)?;
        f.write_all(data)?;
        f.sync_all()
    }

    /// Loads and checks the flows against every gateway's budget: a broken flow never goes live.
    fn load_flows(c: &Config) -> Result<Vec<sauti::CompiledFlow>, Vec<sauti::Problem>> {
        let mut budgets: Vec<Budget> = c.gateways.values().map(|g| g.budget).collect();
        budgets.sort_by_key(|b| (b.gsm7_septets, b.ucs2_chars));
        budgets.dedup();
        let mut flows = None;
        let mut problems = Vec::new();
        for budget in budgets {
            let report = sauti::check::check(std::slice::from_ref(&c.flows), &c.locales, budget);
            problems.extend(report.problems);
            flows.get_or_insert(report.flows);
        }
        problems.dedup();
        if problems.is_empty() {
            Ok(flows.unwrap_or_default())
        } else {
            Err(problems)
        }
    }

    /// A cheap fingerprint of the flows and locales directories (names, sizes, mtimes).
    fn tree_stamp(dirs: &[&Path]) -> u64 {
        let mut h = sauti::hash::Fnv::default();
        let mut stack: Vec<std::path::PathBuf> = dirs.iter().map(|d| d.to_path_buf()).collect();
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut entries: Vec<_> = entries.flatten().collect();
            entries.sort_by_key(|e| e.path());
            for e in entries {
                let Ok(meta) = e.metadata() else { continue };
                if meta.is_dir() {
                    stack.push(e.path());
                    continue;
                }
                h.update(e.path().as_os_str().as_encoded_bytes());
                h.update(&meta.len().to_le_bytes());
                if let Ok(t) = meta.modified().and_then(|t| {
                    t.duration_since(std::time::UNIX_EPOCH)
                        .map_err(std::io::Error::other)
                }) {
                    h.update(&t.as_nanos().to_le_bytes());
                }
            }
        }
        h.finish()
    }

    fn reload(c: &Config, survey: &Survey, why: &str) {
        match load_flows(c) {
            Err(problems) => {
                for p in &problems {
                    tracing::error!(problem = %p, "flows not reloaded");
                }
            }
            Ok(flows) => {
                let r = survey.reload(flows);
                tracing::info!(why, added = ?r.added, updated = ?r.updated, refused = ?r.refused, "flows reloaded");
            }
        }
    }

    /// Reloads flows on SIGHUP and, when `reload_poll_secs` > 0, when files change.
    async fn watch_flows(c: Config, app: Arc<App>, mut hup: Option<Hangup>) {
        let poll = Duration::from_secs(c.reload_poll_secs.max(1));
        let mut stamp = tree_stamp(&[&c.flows, &c.locales]);
        loop {
            #[cfg(unix)]
            let hangup = async {
                match hup.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            #[cfg(not(unix))]
            let hangup = {
                let _ = &mut hup;
                std::future::pending::<()>()
            };
            let polling = c.reload_poll_secs > 0;
            tokio::select! {
                () = hangup => reload(&c, &app.survey, "SIGHUP"),
                () = tokio::time::sleep(poll), if polling => {
                    let now = tree_stamp(&[&c.flows, &c.locales]);
                    if now != stamp {
                        stamp = now;
                        reload(&c, &app.survey, "files changed");
                    }
                }
            }
        }
    }

    #[cfg(unix)]
    type Hangup = tokio::signal::unix::Signal;
    #[cfg(not(unix))]
    type Hangup = ();

    /// How long a worker waits before taking over a response another (dead) worker held.
    const RECLAIM_IDLE: Duration = Duration::from_secs(60);

    /// This process's name in the outbox consumer groups: stable across restarts of the same
    /// deployment (host name and data directory), distinct between deployments.
    fn consumer_name(c: &Config) -> String {
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_owned())
            .ok()
            .filter(|h| !h.is_empty())
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "sauti".into());
        let dir = c
            .data_dir
            .canonicalize()
            .unwrap_or_else(|_| c.data_dir.clone());
        format!(
            "{host}-{:08x}",
            sauti::hash::fnv1a(dir.as_os_str().as_encoded_bytes()) as u32
        )
    }

    /// Whether `path` is the journal itself (embedded mode writes it on every completion).
    fn is_journal(c: &Config, path: &Path) -> bool {
        let journal = c.data_dir.join("responses.jsonl");
        path == journal
            || (path.canonicalize().ok().is_some()
                && path.canonicalize().ok() == journal.canonicalize().ok())
    }

    /// Starts one delivery worker per sink; they stop when `stop` turns true.
    async fn start_workers(
        c: &Config,
        appended: Option<Arc<tokio::sync::Notify>>,
        metrics: &Metrics,
        stop: &tokio::sync::watch::Receiver<bool>,
    ) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
        let redis = !c.redis.url.trim().is_empty();
        let mut handles = Vec::new();
        for (name, cfg) in &c.sinks {
            if !redis
                && let SinkKind::File { path } = &cfg.kind
                && is_journal(c, path)
            {
                // Embedded mode writes this file on every completion: nothing to deliver.
                continue;
            }
            let sink =
                Arc::new(AnySink::build(cfg).map_err(|e| anyhow::anyhow!("sink `{name}`: {e}"))?);
            let counters = metrics.sink(name);
            if redis {
                let deadline = Duration::from_millis(c.redis.deadline_ms.max(1000));
                let q = RedisQueue::connect(
                    &c.redis.url,
                    &c.redis.key_prefix,
                    name,
                    &consumer_name(c),
                    deadline,
                    RECLAIM_IDLE,
                )
                .await
                .with_context(|| format!("outbox of sink `{name}` in Redis"))?;
                let q = Arc::new(q);
                handles.push(tokio::spawn(run_worker(
                    name.clone(),
                    q,
                    sink,
                    cfg.clone(),
                    counters,
                    stop.clone(),
                )));
            } else {
                let notify = appended.clone().unwrap_or_default();
                let q = DiskQueue::open(&c.data_dir, name, &cfg.flows, notify)
                    .with_context(|| format!("outbox of sink `{name}`"))?;
                handles.push(tokio::spawn(run_worker(
                    name.clone(),
                    Arc::new(q),
                    sink,
                    cfg.clone(),
                    counters,
                    stop.clone(),
                )));
            }
            tracing::info!(sink = %name, "delivering");
        }
        Ok(handles)
    }

    pub fn outbox(action: OutboxAction, args: ServeArgs) -> anyhow::Result<ExitCode> {
        let c = config(&args)?;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async move {
            let chosen = match &action {
                OutboxAction::Status { sink }
                | OutboxAction::Dead { sink }
                | OutboxAction::Replay { sink, .. } => sink.clone(),
            };
            if let Some(s) = &chosen
                && !c.sinks.contains_key(s)
            {
                bail!(
                    "no sink named `{s}` (configured: {})",
                    c.sinks.keys().cloned().collect::<Vec<_>>().join(", ")
                );
            }
            let mut replayed = 0;
            for (name, cfg) in &c.sinks {
                if chosen.as_ref().is_some_and(|s| s != name) {
                    continue;
                }
                if c.redis.url.trim().is_empty()
                    && let SinkKind::File { path } = &cfg.kind
                    && is_journal(&c, path)
                {
                    if let OutboxAction::Status { .. } = action {
                        println!(
                            "{name}: the journal itself: every response is written to it before END"
                        );
                    }
                    continue;
                }
                let run = async {
                    if c.redis.url.trim().is_empty() {
                        outbox_action(&action, &DiskQueue::admin(&c.data_dir, name, &cfg.flows))
                            .await
                    } else {
                        let deadline = Duration::from_millis(c.redis.deadline_ms.max(1000));
                        let q = RedisQueue::connect(
                            &c.redis.url,
                            &c.redis.key_prefix,
                            name,
                            &consumer_name(&c),
                            deadline,
                            RECLAIM_IDLE,
                        )
                        .await?;
                        outbox_action(&action, &q).await
                    }
                };
                match run.await {
                    Ok(n) => replayed += n,
                    Err(sauti::outbox::OutboxError::NoSuchDeadLetter(_)) if chosen.is_none() => {}
                    Err(e) => return Err(anyhow::anyhow!("sink `{name}`: {e}")),
                }
            }
            if let OutboxAction::Replay { id, .. } = &action {
                if replayed == 0 && id.is_some() {
                    bail!("no dead letter with that id");
                }
                println!("replayed {replayed}");
            }
            Ok(ExitCode::SUCCESS)
        })
    }

    async fn outbox_action(
        action: &OutboxAction,
        q: &impl Admin,
    ) -> Result<usize, sauti::outbox::OutboxError> {
        match action {
            OutboxAction::Status { .. } => {
                let s = q.status().await?;
                println!(
                    "{}: queued {} in_flight {} delivered {} dead {} oldest {}",
                    s.sink,
                    s.queued,
                    s.in_flight,
                    s.delivered,
                    s.dead,
                    s.oldest_age_secs
                        .map_or("-".to_owned(), |a| format!("{a}s"))
                );
                Ok(0)
            }
            OutboxAction::Dead { sink } => {
                for d in q.dead_letters().await? {
                    println!(
                        "{}\t{}\t{}\t{} attempts\t{}\t{}",
                        sink.as_deref().unwrap_or(""),
                        d.id,
                        d.flow,
                        d.attempts,
                        d.at,
                        d.error
                    );
                }
                Ok(0)
            }
            OutboxAction::Replay { id, all_dead, .. } => {
                if id.is_none() && !all_dead {
                    return Ok(0);
                }
                q.replay(id.as_deref()).await
            }
        }
    }

    pub fn serve(args: ServeArgs, http: bool) -> anyhow::Result<ExitCode> {
        let c = config(&args)?;
        init_logging(&c);
        if !http {
            return deliver_only(c);
        }
        // rustls (Redis over TLS) needs its crypto provider chosen once per process.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let flows = match load_flows(&c) {
            Ok(f) => f,
            Err(problems) => {
                for p in &problems {
                    eprintln!("{p}");
                }
                bail!(
                    "{} problem(s) in the flows: not serving (see `sauti check`)",
                    problems.len()
                );
            }
        };
        let key = pseudonym_key(&c)?;
        let pseudonyms = Pseudonymizer::new(&key)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let grace = Duration::from_secs(c.shutdown_grace_secs);
        let result = runtime.block_on(async move {
            let (journal, journal_guard) = Journal::open(&c.data_dir)?;
            let resume_window = Duration::from_secs(c.resume_window_secs);
            let store = if c.redis.url.trim().is_empty() {
                let store = MemoryStore::new(c.max_sessions, resume_window);
                store.spawn_sweeper(Duration::from_secs(5));
                AnyStore::Memory(store)
            } else {
                let store = RedisStore::connect(&c.redis, c.longest_session_ttl(), resume_window)
                    .await
                    .with_context(|| format!("connecting to Redis at {}", redact(&c.redis.url)))?;
                AnyStore::Redis(store)
            };
            let store_name = match &store {
                AnyStore::Memory(_) => "memory".to_owned(),
                AnyStore::Redis(_) => format!("redis {}", redact(&c.redis.url)),
            };
            let metrics = Arc::new(Metrics::default());
            let routes = c
                .sinks
                .iter()
                .map(|(n, s)| (n.clone(), s.flows.clone()))
                .collect();
            let appended = journal.appended();
            let survey = Survey::new(flows, store, journal, pseudonyms, routes, metrics.clone());
            let (stop_workers, stop) = tokio::sync::watch::channel(false);
            let workers = start_workers(&c, Some(appended), &metrics, &stop).await?;
            let limits = Limits {
                max_body_bytes: c.max_body_bytes,
                header_timeout: Duration::from_secs(c.header_timeout_secs),
                body_timeout: Duration::from_secs(c.body_timeout_secs),
                max_connections: c.max_connections,
                shutdown_grace: grace,
            };
            let app = Arc::new(App::new(survey, c.configured_gateways(), limits));
            let listener = tokio::net::TcpListener::bind(&c.listen)
                .await
                .with_context(|| format!("cannot listen on {}", c.listen))?;
            let addr = listener.local_addr()?;
            // Before anyone can send SIGHUP (whose default action would end the process).
            #[cfg(unix)]
            let hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
            #[cfg(not(unix))]
            let hup = None;
            println!("sauti listening on http://{addr}");
            for f in app.survey.flows().current() {
                println!(
                    "  flow {} v{} on {} ({})",
                    f.id,
                    f.version,
                    f.ussd.join(" "),
                    f.languages.join(", ")
                );
            }
            for name in c.gateways.keys() {
                println!("  gateway {name}: POST http://{addr}/ussd/{name}");
            }
            println!("  sessions: {store_name}");
            for name in c.sinks.keys() {
                println!("  sink: {name}");
            }
            println!("  responses: {}", app.survey.journal().path().display());
            tracing::info!(%addr, profile = ?c.profile, sessions = %store_name, "serving");
            let watcher = tokio::spawn(watch_flows(c.clone(), app.clone(), hup));
            let sweeper = tokio::spawn(sweep_abandoned(
                app.clone(),
                Duration::from_secs(c.partials_sweep_secs.max(1)),
            ));
            server::run(listener, app.clone(), shutdown_signal()).await;
            watcher.abort();
            sweeper.abort();
            let _ = watcher.await;
            let _ = sweeper.await;
            // Deliveries in flight finish (the rest stays queued for the next start).
            let _ = stop_workers.send(true);
            for w in workers {
                let _ = tokio::time::timeout(grace, w).await;
            }
            // Hops in flight have finished (or the grace period is over): drop the journal
            // handles and wait for the last fsync.
            drop(app);
            let flushed = tokio::task::spawn_blocking(move || journal_guard.finish());
            if tokio::time::timeout(grace, flushed).await.is_err() {
                tracing::warn!("connections still open after the grace period; exiting");
            }
            tracing::info!("stopped");
            Ok::<_, anyhow::Error>(())
        });
        // Whatever is left (a client that never finished its request) must not hold the exit.
        runtime.shutdown_timeout(Duration::from_millis(200));
        result?;
        Ok(ExitCode::SUCCESS)
    }

    /// `sauti deliver`: only the delivery workers, until SIGINT/SIGTERM. No flows, no sessions:
    /// the queues hold everything a worker needs.
    fn deliver_only(c: Config) -> anyhow::Result<ExitCode> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let grace = Duration::from_secs(c.shutdown_grace_secs);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async move {
            let metrics = Metrics::default();
            let (stop_workers, stop) = tokio::sync::watch::channel(false);
            let workers = start_workers(&c, None, &metrics, &stop).await?;
            println!("sauti delivering for {} sink(s)", workers.len());
            shutdown_signal().await;
            let _ = stop_workers.send(true);
            for w in workers {
                let _ = tokio::time::timeout(grace, w).await;
            }
            Ok::<_, anyhow::Error>(())
        })?;
        runtime.shutdown_timeout(Duration::from_millis(200));
        Ok(ExitCode::SUCCESS)
    }

    /// A Redis URL without its password, for messages and logs.
    fn redact(url: &str) -> String {
        match (url.find("://"), url.rfind('@')) {
            (Some(s), Some(at)) if at > s => format!("{}://***@{}", &url[..s], &url[at + 1..]),
            _ => url.to_owned(),
        }
    }

    /// Turns surveys abandoned past their resume window into partial responses.
    async fn sweep_abandoned(app: Arc<App>, every: Duration) {
        loop {
            tokio::time::sleep(every).await;
            if let Err(e) = app
                .survey
                .sweep_abandoned(time::OffsetDateTime::now_utc())
                .await
            {
                tracing::warn!(error = %e, "partial responses not swept this time");
            }
        }
    }

    async fn shutdown_signal() {
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        #[cfg(unix)]
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            () = ctrl_c => {},
            () = term => {},
        }
        tracing::info!("shutdown signal received: finishing hops in flight");
    }
}
