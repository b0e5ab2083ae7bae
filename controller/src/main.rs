//! `sealgate-controller`: turns SealedSecrets into Secrets inside the cluster.
//!
//! Not built yet: the sync pipeline is tracked in its own issue. This binary
//! exists so the workspace layout matches DESIGN.md from the start.

fn main() {
    eprintln!("sealgate-controller: not implemented yet (see the controller issue)");
    std::process::exit(2);
}
