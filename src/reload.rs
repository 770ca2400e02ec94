//! Flows loaded and checked against every gateway's budget, and reloaded on SIGHUP or,
//! when `reload_poll_secs` > 0, when the flows or translations change on disk.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::Config;
use crate::flow::CompiledFlow;
use crate::problem::Problem;
use crate::render::Budget;
use crate::shutdown::Shutdown;
use crate::survey::Survey;

/// Loads and checks the flows against every gateway's budget: a broken flow never goes live.
pub fn load_flows(c: &Config) -> Result<Vec<CompiledFlow>, Vec<Problem>> {
    let mut budgets: Vec<Budget> = c.gateways.values().map(|g| g.budget).collect();
    budgets.sort_by_key(|b| (b.gsm7_septets, b.ucs2_chars));
    budgets.dedup();
    let mut flows = None;
    let mut problems = Vec::new();
    for budget in budgets {
        let report = crate::check::check(std::slice::from_ref(&c.flows), &c.locales, budget);
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
pub fn tree_stamp(dirs: &[&Path]) -> u64 {
    let mut h = crate::hash::Fnv::default();
    let mut stack: Vec<PathBuf> = dirs.iter().map(|d| d.to_path_buf()).collect();
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

/// Loads the flows again and hands them to `survey`; problems are logged and nothing changes.
pub fn reload(c: &Config, survey: &Survey, why: &str) {
    apply(load_flows(c), survey, why);
}

/// [`reload`] off the runtime's workers: reading and checking flows is blocking work that must
/// never hold up the hops being served.
async fn reload_in_background(c: &Config, survey: &Survey, why: &str) {
    let config = c.clone();
    match tokio::task::spawn_blocking(move || load_flows(&config)).await {
        Ok(loaded) => apply(loaded, survey, why),
        Err(e) => tracing::error!(error = %e, "flows not reloaded: the loader failed"),
    }
}

fn apply(loaded: Result<Vec<CompiledFlow>, Vec<Problem>>, survey: &Survey, why: &str) {
    match loaded {
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

#[cfg(unix)]
pub type Hangup = tokio::signal::unix::Signal;
#[cfg(not(unix))]
pub type Hangup = ();

/// Listens for SIGHUP. Call it before anyone can send one: its default action ends the process.
#[cfg(unix)]
pub fn hangup() -> Option<Hangup> {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
}

#[cfg(not(unix))]
pub fn hangup() -> Option<Hangup> {
    None
}

/// Reloads flows on SIGHUP and, when `reload_poll_secs` > 0, when files change; returns
/// at shutdown.
pub async fn watch<S>(c: Config, survey: S, mut hup: Option<Hangup>, shutdown: Shutdown)
where
    S: Deref<Target = Survey>,
{
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
            () = shutdown.recv() => return,
            () = hangup => reload_in_background(&c, &survey, "SIGHUP").await,
            () = tokio::time::sleep(poll), if polling => {
                let dirs = (c.flows.clone(), c.locales.clone());
                let now = tokio::task::spawn_blocking(move || tree_stamp(&[&dirs.0, &dirs.1]))
                    .await
                    .unwrap_or(stamp);
                if now != stamp {
                    stamp = now;
                    reload_in_background(&c, &survey, "files changed").await;
                }
            }
        }
    }
}
