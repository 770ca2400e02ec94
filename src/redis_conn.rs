//! One way to reach Redis for every part of Sauti: a single node through a reconnecting
//! connection manager, or a Cluster; every call bounded by a deadline.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
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

/// One node a command can be sent to: the single node, or one master of a Cluster (for
/// commands that read every key, such as `SCAN`, which a Cluster answers node by node).
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Single,
    Master { host: String, port: u16 },
}

impl RedisConn {
    /// Every node holding keys: the one node, or each master of the Cluster.
    pub async fn nodes(&self) -> RedisResult<Vec<Node>> {
        if !self.is_cluster() {
            return Ok(vec![Node::Single]);
        }
        let text: String = self.query(redis::cmd("CLUSTER").arg("NODES")).await?;
        Ok(masters_of(&text))
    }

    /// Runs a command on one node.
    pub async fn query_on<T: FromRedisValue>(
        &self,
        node: &Node,
        cmd: &redis::Cmd,
    ) -> RedisResult<T> {
        match (self.clone(), node) {
            (RedisConn::Cluster(mut c), Node::Master { host, port }) => {
                let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                    host: host.clone(),
                    port: *port,
                });
                let value = c.route_command(cmd.clone(), routing).await?;
                Ok(redis::from_redis_value(value)?)
            }
            _ => self.query(cmd).await,
        }
    }
}

/// The masters in a `CLUSTER NODES` answer (`<id> <ip:port@cport> <flags> ...`), failed
/// ones left out.
fn masters_of(cluster_nodes: &str) -> Vec<Node> {
    cluster_nodes
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let address = fields.nth(1)?;
            let flags = fields.next()?;
            let flags: Vec<&str> = flags.split(',').collect();
            if !flags.contains(&"master") || flags.iter().any(|f| f.starts_with("fail")) {
                return None;
            }
            let (host, port) = address.split('@').next()?.rsplit_once(':')?;
            Some(Node::Master {
                host: host.to_owned(),
                port: port.parse().ok()?,
            })
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::{Node, masters_of};

    #[test]
    fn masters_are_read_from_cluster_nodes_and_replicas_and_failed_ones_left_out() {
        let text = "\
07c3 127.0.0.1:30004@40004 slave e7d1 0 1426238317239 4 connected
67ed 127.0.0.1:30002@40002 master - 0 1426238316232 2 connected 5461-10922
292f 127.0.0.1:30003@40003 master,fail - 0 1426238318243 3 connected
e7d1 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460
";
        assert_eq!(
            masters_of(text),
            vec![
                Node::Master {
                    host: "127.0.0.1".into(),
                    port: 30002
                },
                Node::Master {
                    host: "127.0.0.1".into(),
                    port: 30001
                },
            ]
        );
    }
}
