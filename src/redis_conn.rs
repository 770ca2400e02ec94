//! One way to reach Redis for every part of Sauti: a single node through a reconnecting
//! connection manager, or a Cluster; every call bounded by a deadline.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::{FromRedisValue, RedisResult};

#[derive(Clone)]
pub enum RedisConn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RedisFailure(pub String);

/// Connects to `url`: `redis://`, `rediss://`, `redis+cluster://h1:p1,h2:p2` or
/// `rediss+cluster://...`. A single node connects lazily (the process may start while Redis
/// is down); a Cluster needs its nodes at start. `response_timeout` bounds each command
/// (`None` for connections that block on `XREADGROUP`).
pub async fn connect(
    url: &str,
    connect_timeout: Duration,
    response_timeout: Option<Duration>,
) -> Result<RedisConn, RedisFailure> {
    let fail = |e: redis::RedisError| RedisFailure(e.to_string());
    let url = url.trim();
    let cluster = url
        .strip_prefix("redis+cluster://")
        .map(|r| ("redis", r))
        .or_else(|| url.strip_prefix("rediss+cluster://").map(|r| ("rediss", r)));
    if let Some((scheme, rest)) = cluster {
        let (auth, hosts) = match rest.rsplit_once('@') {
            Some((auth, hosts)) => (format!("{auth}@"), hosts),
            None => (String::new(), rest),
        };
        let nodes: Vec<String> = hosts
            .trim_end_matches('/')
            .split(',')
            .filter(|h| !h.is_empty())
            .map(|h| format!("{scheme}://{auth}{h}"))
            .collect();
        let mut builder = redis::cluster::ClusterClientBuilder::new(nodes)
            .connection_timeout(connect_timeout)
            .retries(1);
        builder = builder.response_timeout(response_timeout.unwrap_or(Duration::from_secs(3600)));
        let client = builder.build().map_err(fail)?;
        return Ok(RedisConn::Cluster(
            client.get_async_connection().await.map_err(fail)?,
        ));
    }
    let client = redis::Client::open(url).map_err(fail)?;
    let cfg = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(connect_timeout))
        .set_response_timeout(response_timeout)
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(500));
    Ok(RedisConn::Single(
        client.get_connection_manager_lazy(cfg).map_err(fail)?,
    ))
}

impl RedisConn {
    pub fn is_cluster(&self) -> bool {
        matches!(self, RedisConn::Cluster(_))
    }

    /// Runs a command. After a lost connection (Redis restarted) the manager reconnects,
    /// but the command that noticed fails: it is sent once more on the new connection.
    /// Every command Sauti sends is safe to repeat (reads, and compare-and-set saves).
    pub async fn query<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> RedisResult<T> {
        let once = || async {
            match self.clone() {
                RedisConn::Single(mut c) => cmd.query_async::<T>(&mut c).await,
                RedisConn::Cluster(mut c) => cmd.query_async::<T>(&mut c).await,
            }
        };
        match once().await {
            Err(e) if reconnected(&e) => once().await,
            r => r,
        }
    }

    pub async fn query_pipe<T: FromRedisValue>(&self, pipe: &redis::Pipeline) -> RedisResult<T> {
        match self.clone() {
            RedisConn::Single(mut c) => pipe.query_async::<T>(&mut c).await,
            RedisConn::Cluster(mut c) => pipe.query_async::<T>(&mut c).await,
        }
    }

    pub async fn invoke<T: FromRedisValue>(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> RedisResult<T> {
        match self.clone() {
            RedisConn::Single(mut c) => invocation.invoke_async::<T>(&mut c).await,
            RedisConn::Cluster(mut c) => invocation.invoke_async::<T>(&mut c).await,
        }
    }
}

/// Whether an error means the connection was lost (and is being re-established), as
/// opposed to Redis answering with an error or being down.
fn reconnected(e: &redis::RedisError) -> bool {
    e.is_connection_dropped() || e.is_unrecoverable_error()
}

/// Runs `f` within `deadline`.
pub async fn within<T>(
    deadline: Duration,
    f: impl Future<Output = RedisResult<T>>,
) -> Result<T, RedisFailure> {
    let started = std::time::Instant::now();
    let result = tokio::time::timeout(deadline, f).await;
    // Every call Sauti makes to Redis goes through here: its latency and failures are exported.
    metrics::histogram!("sauti_redis_duration_seconds").record(started.elapsed().as_secs_f64());
    match result {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            metrics::counter!("sauti_redis_errors_total", "kind" => "error").increment(1);
            Err(RedisFailure(e.to_string()))
        }
        Err(_) => {
            metrics::counter!("sauti_redis_errors_total", "kind" => "timeout").increment(1);
            Err(RedisFailure(format!(
                "no answer within {} ms",
                deadline.as_millis()
            )))
        }
    }
}
