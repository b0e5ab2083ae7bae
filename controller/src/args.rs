//! Flags, each with an environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

/// Turns SealedSecrets into Secrets: watch, unseal, apply, status, events, key rotation.
#[derive(Debug, Parser)]
#[command(name = "sealgate-controller", version, max_term_width = 100)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// The controller's own namespace: where its keys and Lease live.
    #[arg(long, env = "POD_NAMESPACE", default_value = "sealgate-system")]
    pub namespace: String,
    /// Namespaces to watch (comma-separated); all namespaces when empty.
    #[arg(long, env = "SEALGATE_WATCH_NAMESPACES", value_delimiter = ',')]
    pub watch_namespaces: Vec<String>,
    /// Address of the HTTP endpoints (/v1/recipients, /v1/verify, /v1/rotate, /healthz, /readyz, /metrics).
    #[arg(long, env = "SEALGATE_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    /// How often a new sealing key is generated (e.g. 720h, 30d); 0 disables rotation.
    #[arg(long, env = "SEALGATE_KEY_ROTATION_PERIOD", default_value = "720h", value_parser = parse_duration)]
    pub key_rotation_period: Duration,
    /// How often every SealedSecret is reconciled even without changes.
    #[arg(long, env = "SEALGATE_RESYNC_PERIOD", default_value = "10m", value_parser = parse_duration)]
    pub resync_period: Duration,
    /// How long a SealedSecret that cannot be unsealed waits before it is tried again.
    #[arg(long, env = "SEALGATE_UNSEAL_RETRY", default_value = "5m", value_parser = parse_duration)]
    pub unseal_retry: Duration,
    /// Recovery recipient (age1…) published with the active key, so `sealgate seal` seals to it too; repeatable.
    #[arg(
        long = "recovery-recipient",
        env = "SEALGATE_RECOVERY_RECIPIENTS",
        value_delimiter = ','
    )]
    pub recovery_recipients: Vec<String>,
    /// Name of the Lease used for leader election (always on: one replica leads, standbys serve HTTP only).
    #[arg(long, env = "SEALGATE_LEASE_NAME", default_value = "sealgate-controller")]
    pub lease_name: String,
    /// Log filter (error, warn, info, debug, trace, or a tracing directive).
    #[arg(long, env = "SEALGATE_LOG_LEVEL", default_value = "info")]
    pub log_level: String,
    /// Log as JSON lines.
    #[arg(long, env = "SEALGATE_LOG_JSON", default_value_t = false)]
    pub log_json: bool,
    /// Kubeconfig to use outside a cluster [default: in-cluster, then KUBECONFIG].
    #[arg(long, env = "SEALGATE_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the SealedSecret CustomResourceDefinition (generated from the Rust types).
    Crd,
}

/// `90s`, `15m`, `720h`, `30d`, or plain seconds; `0` is zero.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 90s, 15m, 720h or 30d"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (use s, m, h or d)")),
    };
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("720h"), Ok(Duration::from_secs(720 * 3600)));
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("1y").is_err());
        assert!(parse_duration("h").is_err());
    }

    #[test]
    fn leader_election_is_not_optional() {
        // Always on: the flag that turned it on is gone, the Lease name stays.
        assert!(Args::try_parse_from(["sealgate-controller", "--leader-election"]).is_err());
        let args = Args::try_parse_from(["sealgate-controller", "--lease-name=sealgate-a"]).unwrap();
        assert_eq!(args.lease_name, "sealgate-a");
    }
}
