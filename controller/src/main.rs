//! `sealgate-controller`: turns SealedSecrets into Secrets inside the cluster.
//!
//! The sync pipeline is tracked in its own issue; for now this binary prints
//! the CRD (`sealgate-controller crd`), generated from the Rust types in core.

use std::process::ExitCode;

fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        Some("crd") => {
            print!("{}", sealgate_core::crd::crd_yaml());
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("usage: sealgate-controller crd   (the reconcile loop is not built yet)");
            ExitCode::from(2)
        }
    }
}
