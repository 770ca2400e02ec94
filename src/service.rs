//! `sauti serve` and `sauti deliver`: start-up checks, sessions, delivery workers and the HTTP
//! server, wired from a [`Config`], and stopped through [`crate::shutdown::run`].

use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::audio::AudioCatalogue;
use crate::config::{Config, Profile};
use crate::journal::Journal;
use crate::metrics::{Metrics, SinkCounters};
use crate::outbox::{Admin, DiskQueue, Queue, RedisQueue, run_worker};
use crate::pseudonym::Pseudonymizer;
use crate::reload;
use crate::server::{App, Limits};
use crate::session::{MemoryStore, RedisStore};
use crate::shutdown::{self, Http, Running, Shutdown};
use crate::sink::{AnySink, SinkConfig, SinkKind};
use crate::survey::{AnyStore, Survey};

/// `sauti serve`: checks the flows, serves the gateways over HTTP and delivers completed
/// surveys, until SIGINT/SIGTERM.
pub fn serve(c: Config) -> anyhow::Result<()> {
    // rustls (Redis over TLS, HTTPS sinks and OTLP) needs its crypto provider chosen once.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let logging = crate::logging::init(&c)?;
    let traces_to = logging.traces_to();
    let flows = match reload::load_flows(&c) {
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
    let vault = Arc::new(crate::vault::NumberVault::from_env_or(&key)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let grace = Duration::from_secs(c.shutdown_grace_secs);
    let result = runtime.block_on(async move {
        // Embedded mode's outbox; with Redis the streams are the outbox and no file is made.
        let (journal, journal_guard) = match c.uses_redis() {
            false => {
                let (journal, guard) = Journal::open(&c.data_dir)?;
                (Some(journal), Some(guard))
            }
            true => (None, None),
        };
        let resume_window = Duration::from_secs(c.resume_window_secs);
        let store = if c.uses_redis() {
            let store = RedisStore::connect(&c.redis, c.longest_session_ttl(), resume_window)
                .await
                .with_context(|| format!("connecting to Redis at {}", crate::redact::url(&c.redis.url)))?;
            AnyStore::Redis(store)
        } else {
            let store = MemoryStore::new(c.max_sessions, resume_window);
            store.spawn_sweeper(Duration::from_secs(5));
            AnyStore::Memory(store)
        };
        let store_name = match &store {
            AnyStore::Memory(_) => "memory".to_owned(),
            AnyStore::Redis(_) => format!("redis {}", crate::redact::url(&c.redis.url)),
        };
        let metrics = Arc::new(Metrics::default());
        let routes = c
            .sinks
            .iter()
            .map(|(n, s)| (n.clone(), s.flows.clone()))
            .collect();
        let appended = journal.as_ref().map(Journal::progress);
        let mut survey = Survey::new(flows, store, journal, pseudonyms, routes, metrics.clone());
        survey.limit_respondents(c.respondent_rate, c.max_sessions);
        survey.limit_sms(
            c.sms.respondent_rate,
            c.max_sessions,
            c.sms.max_messages_per_session,
        );
        let serves_sms = c
            .gateways
            .values()
            .any(|g| crate::config::channel_of(g.adapter) == crate::channel::Channel::Sms);
        let campaigns = Arc::new(crate::campaign::tracker::Tracker::new(c.data_dir.clone()));
        if serves_sms {
            crate::private_fs::create_dir_all(&c.data_dir)
                .with_context(|| format!("creating {}", c.data_dir.display()))?;
            let opt_outs = crate::campaign::optouts::OptOuts::open(&c.data_dir)
                .context("reading the SMS opt-out list")?;
            survey.keep_sms_records(Arc::new(opt_outs), campaigns.clone());
        }
        let stop_workers = Shutdown::new();
        let mut workers = start_workers(&c, appended, &metrics, &stop_workers).await?;
        let limits = Limits {
            max_body_bytes: c.max_body_bytes,
            header_timeout: Duration::from_secs(c.header_timeout_secs),
            body_timeout: Duration::from_secs(c.body_timeout_secs),
            max_connections: c.max_connections,
            max_in_flight: c.max_in_flight,
            shutdown_grace: grace,
        };
        let listener = tokio::net::TcpListener::bind(&c.listen)
            .await
            .with_context(|| format!("cannot listen on {}", c.listen))?;
        let addr = listener.local_addr()?;
        let public_url = c.public_url(Some(addr));
        let audio = Arc::new(
            AudioCatalogue::scan(&c.audio, &c.audio_url(&public_url))
                .with_context(|| format!("reading recordings in {}", c.audio.display()))?,
        );
        let gateways = c
            .configured_gateways(&public_url, audio.clone())
            .map_err(|e| anyhow::anyhow!(e))?;
        for g in &gateways {
            if g.auth.is_open() && !g.auth.open_on_purpose() {
                if c.profile == Profile::Prod {
                    bail!(
                        "gateway `{}` ({}) has no authentication: anyone who reaches it can \
                         answer as any phone number. Give it `auth = {{ token_header = ..., \
                         token_env = ... }}` or `auth = {{ allow = [\"<gateway's addresses>\"] }}`, \
                         or say `auth = {{ none = true }}` if a proxy in front of Sauti \
                         authenticates it (docs/security.md)",
                        g.name,
                        g.channel().name()
                    );
                }
                tracing::warn!(gateway = %g.name, channel = g.channel().name(), "gateway without authentication (the prod profile refuses this; docs/security.md)");
            }
        }
        let mut app = App::new(survey, gateways, audio.clone(), limits);
        let mut sms_compactor = None;
        if app.gateways.contains_key(&crate::channel::Channel::Sms) {
            let outbox = crate::sms_outbox::SmsOutbox::open(&c.data_dir, vault.clone())?;
            if let Some((handle, queue)) = start_sms_sender(&c, &outbox, &metrics, &stop_workers)? {
                workers.handles.push(handle);
                sms_compactor = Some(crate::outbox::compact::Compactor {
                    journal: outbox.journal().clone(),
                    queues: vec![queue],
                    threshold: c.sms.send.compact_bytes,
                });
            }
            app.sms_outbox = Some(outbox);
        }
        if c.simulator_enabled() {
            let simulator =
                crate::simulator::Simulator::new(app.gateways.values().flat_map(|g| g.values()));
            app = app.with_simulator(simulator);
        }
        let app = Arc::new(app);
        // Before anyone can send a signal (whose default action would end the process).
        let hup = reload::hangup();
        let signal = shutdown::signal();
        println!("sauti listening on http://{addr}");
        for f in app.survey.flows().current() {
            let mut on: Vec<&str> = f.ussd.iter().map(String::as_str).collect();
            on.extend(f.voice.iter().map(String::as_str));
            println!(
                "  flow {} v{} on {} ({})",
                f.id,
                f.version,
                on.join(" "),
                f.languages.join(", ")
            );
        }
        let mut gateways: Vec<_> = app.gateways.values().flat_map(|g| g.values()).collect();
        gateways.sort_by(|a, b| (a.channel(), &a.name).cmp(&(b.channel(), &b.name)));
        for g in gateways {
            println!(
                "  gateway {}: POST {public_url}/{}/{}",
                g.name,
                g.channel().name(),
                g.name
            );
        }
        println!(
            "  voice prompts: {} recording(s) in {}",
            audio.len(),
            c.audio.display()
        );
        println!("  sessions: {store_name}");
        if app.simulator.is_some() {
            println!("  simulator: {public_url}/simulator (in memory: nothing is recorded)");
        }
        match app.survey.journal() {
            Some(j) => println!("  outbox: {} (fsynced before END)", j.path().display()),
            None => println!(
                "  outbox: Redis streams {}:{{outbox:<sink>}}",
                c.redis.key_prefix
            ),
        }
        for (name, sink) in &c.sinks {
            println!("  sink {name}: {}", sink.kind.describe());
        }
        if let Some(to) = &traces_to {
            println!("  traces: OTLP to {to}");
        }
        tracing::info!(%addr, profile = ?c.profile, sessions = %store_name, "serving");
        let shutdown = Shutdown::new();
        let watcher = tokio::spawn(reload::watch(
            c.clone(),
            SurveyOf(app.clone()),
            hup,
            shutdown.clone(),
        ));
        let sweeper = tokio::spawn(sweep_abandoned(
            app.clone(),
            Duration::from_secs(c.partials_sweep_secs.max(1)),
            shutdown.clone(),
        ));
        let mut background = vec![watcher, sweeper];
        if c.activity_log_secs > 0 {
            let app = app.clone();
            let every = Duration::from_secs(c.activity_log_secs);
            let stop = shutdown.clone();
            background.push(tokio::spawn(async move {
                app.survey.metrics.activity.report(every, stop.recv()).await;
            }));
        }
        if let Some(compactor) = sms_compactor {
            background.push(tokio::spawn(
                compactor.run(Duration::from_millis(500), shutdown.clone()),
            ));
        }
        if app.sms_outbox.is_some() {
            let runner = crate::campaign::runner::Runner {
                app: app.clone(),
                data_dir: c.data_dir.clone(),
                vault: vault.clone(),
                tracker: campaigns,
                shutdown: shutdown.clone(),
            };
            background.push(tokio::spawn(runner.run()));
        }
        // The journal is only a queue unless a file sink writes it (then it is the data).
        let journal_is_data = c
            .sinks
            .values()
            .any(|s| matches!(&s.kind, SinkKind::File { path } if is_journal(&c, path)));
        if let Some(journal) = app.survey.journal()
            && c.journal_compact_bytes > 0
            && !journal_is_data
        {
            let compactor = crate::outbox::compact::Compactor {
                journal: journal.clone(),
                queues: workers.disk_queues.clone(),
                threshold: c.journal_compact_bytes,
            };
            background.push(tokio::spawn(
                compactor.run(Duration::from_millis(100), shutdown.clone()),
            ));
        }
        let running = Running {
            http: Some(Http { listener, app }),
            background,
            workers: workers.handles,
            stop_workers,
            journal: journal_guard,
        };
        shutdown::run(running, shutdown, signal, grace).await;
        Ok::<_, anyhow::Error>(())
    });
    // Whatever is left (a client that never finished its request) must not hold the exit.
    runtime.shutdown_timeout(Duration::from_millis(200));
    logging.finish();
    result
}

/// `sauti deliver`: only the delivery workers, until SIGINT/SIGTERM. No flows, no sessions:
/// the queues hold everything a worker needs.
pub fn deliver(c: Config) -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let logging = crate::logging::init(&c)?;
    let grace = Duration::from_secs(c.shutdown_grace_secs);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let signal = shutdown::signal();
        let metrics = Metrics::default();
        let stop_workers = Shutdown::new();
        let workers = start_workers(&c, None, &metrics, &stop_workers).await?;
        println!("sauti delivering for {} sink(s)", workers.handles.len());
        let running = Running {
            http: None,
            background: Vec::new(),
            workers: workers.handles,
            stop_workers,
            journal: None,
        };
        shutdown::run(running, Shutdown::new(), signal, grace).await;
        Ok::<_, anyhow::Error>(())
    })?;
    runtime.shutdown_timeout(Duration::from_millis(200));
    logging.finish();
    Ok(())
}

/// The survey inside a shared [`App`], for tasks that only need the survey.
struct SurveyOf(Arc<App>);

impl Deref for SurveyOf {
    type Target = Survey;
    fn deref(&self) -> &Survey {
        &self.0.survey
    }
}

/// The key from the configuration or `SAUTI_PSEUDONYM_KEY`; in the dev profile only, a
/// random key kept in the data directory so that pseudonyms survive restarts.
pub fn pseudonym_key(c: &Config) -> anyhow::Result<Vec<u8>> {
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
    if c.uses_redis() {
        // Processes sharing Redis must share the key, or one respondent gets several pseudonyms.
        bail!(
            "no pseudonym key: with Redis, every sauti process must use the same one.\n\
             Set SAUTI_PSEUDONYM_KEY (e.g. export SAUTI_PSEUDONYM_KEY=$(openssl rand -hex 32)) \
             or `pseudonym_key` in sauti.toml, the same for every process."
        );
    }
    let path = c.data_dir.join("pseudonym.key");
    if let Ok(meta) = std::fs::symlink_metadata(&path) {
        // Whoever can read or swap the key can undo every pseudonym.
        if meta.file_type().is_symlink() || !meta.is_file() {
            bail!(
                "{} is not a regular file (a link?): refusing it as the pseudonym key",
                path.display()
            );
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                bail!(
                    "{} can be read by other users (mode {mode:o}): `chmod 600 {}` first",
                    path.display(),
                    path.display()
                );
            }
        }
        let k = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        return Ok(k.trim().as_bytes().to_vec());
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness for a key: {e}"))?;
    let key = hex::encode(bytes);
    crate::private_fs::create_dir_all(&c.data_dir)
        .with_context(|| format!("creating {}", c.data_dir.display()))?;
    write_private(&path, key.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    tracing::warn!(path = %path.display(), "dev profile: generated a pseudonym key; set SAUTI_PSEUDONYM_KEY and SAUTI_PROFILE=prod in production");
    Ok(key.into_bytes())
}

/// Writes a new file whole or not at all: a temporary file, fsynced, linked to `path` (which
/// fails if another process made it first), then the directory fsynced. A key file that
/// vanished or came back empty after a power loss would give every respondent a new pseudonym.
fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(name);
    let _ = std::fs::remove_file(&tmp);
    let mut f = crate::private_fs::create_new(&tmp)?;
    let written = f
        .write_all(data)
        .and_then(|()| f.sync_all())
        .and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    written?;
    crate::private_fs::sync_parent(path)
}

/// This process's name in the outbox consumer groups: stable across restarts of the same
/// deployment (host name and data directory), distinct between deployments.
pub fn consumer_name(c: &Config) -> String {
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
        crate::hash::fnv1a(dir.as_os_str().as_encoded_bytes()) as u32
    )
}

/// Whether `path` is the journal itself (embedded mode writes it on every completion).
pub fn is_journal(c: &Config, path: &Path) -> bool {
    let journal = c.data_dir.join("responses.jsonl");
    path == journal
        || (path.canonicalize().ok().is_some()
            && path.canonicalize().ok() == journal.canonicalize().ok())
}

/// Connects to the Redis outbox of sink `name`.
pub async fn redis_queue(c: &Config, name: &str) -> Result<RedisQueue, crate::outbox::OutboxError> {
    let deadline = Duration::from_millis(c.redis.deadline_ms.max(1000));
    RedisQueue::connect(
        &c.redis.url,
        &c.redis.key_prefix,
        name,
        &consumer_name(c),
        deadline,
        Duration::from_secs(c.reclaim_idle_secs.max(1)),
    )
    .await
}

/// Starts one delivery worker per sink; they stop when `stop` is notified.
pub async fn start_workers(
    c: &Config,
    appended: Option<Arc<crate::journal::JournalProgress>>,
    metrics: &Metrics,
    stop: &Shutdown,
) -> anyhow::Result<Workers> {
    let redis = c.uses_redis();
    let mut handles = Vec::new();
    let mut disk_queues = Vec::new();
    for (name, cfg) in &c.sinks {
        if !redis
            && let SinkKind::File { path } = &cfg.kind
            && is_journal(c, path)
        {
            // Embedded mode writes this file on every completion: nothing to deliver.
            continue;
        }
        // A configuration error may quote the URL: not its token.
        let sink = Arc::new(
            AnySink::build(cfg)
                .map_err(|e| anyhow::anyhow!("sink `{name}`: {}", cfg.redactor().text(&e)))?,
        );
        if let Some(n) = cfg.max_attempts {
            tracing::warn!(sink = %name, max_attempts = n, max_age_secs = cfg.max_age_secs, "max_attempts is no longer a limit: a failing response is retried until it is max_age_secs old (docs/delivery.md)");
        }
        let counters = metrics.sink(name);
        let worker = Worker {
            sink: &sink,
            config: cfg,
            counters,
            stop,
        };
        handles.push(if redis {
            let q = redis_queue(c, name)
                .await
                .with_context(|| format!("outbox of sink `{name}` in Redis"))?;
            worker.spawn(name, Arc::new(q))
        } else {
            let notify = appended
                .clone()
                .unwrap_or_else(crate::journal::JournalProgress::whole_file);
            let q = Arc::new(
                DiskQueue::open(&c.data_dir, name, &cfg.flows, notify)
                    .with_context(|| format!("outbox of sink `{name}`"))?,
            );
            disk_queues.push(q.clone());
            worker.spawn(name, q)
        });
        tracing::info!(sink = %name, "delivering");
    }
    Ok(Workers {
        handles,
        disk_queues,
    })
}

/// The SMS outbox's worker, and its queue (which compaction holds still).
type SmsSender = (
    tokio::task::JoinHandle<()>,
    Arc<DiskQueue<crate::sms_outbox::QueuedSms>>,
);

/// The SMS outbox's sender, when an API to send through is configured: its worker and queue
/// (for compaction). Without one, replies wait in the outbox (and a warning says so).
fn start_sms_sender(
    c: &Config,
    outbox: &crate::sms_outbox::SmsOutbox,
    metrics: &Metrics,
    stop: &Shutdown,
) -> anyhow::Result<Option<SmsSender>> {
    use crate::sms_outbox::{FILE, QUEUE};
    use crate::sms_sender::{AfricasTalkingSms, GenericSms, Sender, SmsSenders};
    if c.sinks.contains_key(QUEUE) {
        bail!("a sink may not be named `{QUEUE}`: the SMS outbox uses that name for its files");
    }
    let delivery = c.sms.send.delivery();
    let timeout = Duration::from_millis(delivery.timeout_ms);
    // Each SMS gateway sends what came in by it.
    let mut senders = SmsSenders::default();
    for (table, g) in &c.gateways {
        let name = g.name.as_deref().unwrap_or(table);
        match g.adapter {
            crate::config::GatewayKind::AfricastalkingSms => {
                let Some(api) = c.sms.send.api() else {
                    tracing::warn!(gateway = %name, "no SMS API configured ([sms.send] url or SAUTI_AT_SMS_URL): its replies wait in the SMS outbox");
                    continue;
                };
                let sender = AfricasTalkingSms::new(api, outbox.vault(), timeout)
                    .map_err(|e| anyhow::anyhow!("SMS sender: {}", delivery.redactor().text(&e)))?;
                senders.add(name, Sender::AfricasTalking(sender));
            }
            crate::config::GatewayKind::GenericSms => {
                let Some(send) = g.generic_sms.as_ref().and_then(|s| s.send.clone()) else {
                    tracing::warn!(gateway = %name, "no [gateway.generic_sms.send]: its replies wait in the SMS outbox");
                    continue;
                };
                let sender = GenericSms::new(send, outbox.vault(), timeout)
                    .map_err(|e| anyhow::anyhow!("SMS gateway `{name}`: {e}"))?;
                senders.add(name, Sender::Generic(sender));
            }
            _ => {}
        }
    }
    if senders.is_empty() {
        return Ok(None);
    }
    let queue = Arc::new(
        DiskQueue::open_log(&c.data_dir, FILE, QUEUE, &[], outbox.progress())
            .context("SMS outbox")?,
    );
    tracing::info!(sink = QUEUE, gateways = ?senders.gateways(), "sending SMS replies");
    let handle = tokio::spawn(run_worker(
        QUEUE.to_owned(),
        queue.clone(),
        Arc::new(senders),
        delivery,
        metrics.sink(QUEUE),
        stop.receiver(),
    ));
    Ok(Some((handle, queue)))
}

/// The delivery workers started, and (embedded mode) the queues they read.
pub struct Workers {
    pub handles: Vec<tokio::task::JoinHandle<()>>,
    pub disk_queues: Vec<Arc<DiskQueue>>,
}

/// Turns surveys abandoned past their resume window into partial responses, every `every`,
/// until `shutdown`.
async fn sweep_abandoned(app: Arc<App>, every: Duration, shutdown: Shutdown) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = shutdown.recv() => return,
        }
        if let Err(e) = app
            .survey
            .sweep_abandoned(time::OffsetDateTime::now_utc())
            .await
        {
            tracing::warn!(error = %e, "partial responses not swept this time");
        }
    }
}

/// What a sink's delivery worker needs besides its queue.
struct Worker<'a> {
    sink: &'a Arc<AnySink>,
    config: &'a SinkConfig,
    counters: &'static SinkCounters,
    stop: &'a Shutdown,
}

impl Worker<'_> {
    fn spawn<Q: Queue + Admin + Sync + 'static>(
        &self,
        name: &str,
        queue: Arc<Q>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(run_worker(
            name.to_owned(),
            queue,
            self.sink.clone(),
            self.config.clone(),
            self.counters,
            self.stop.receiver(),
        ))
    }
}
