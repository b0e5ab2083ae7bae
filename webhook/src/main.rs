//! `sealgate-webhook`: the validating admission webhook (deploy gate).
//!
//! Not built yet: tracked in its own issue. This binary exists so the
//! workspace layout matches DESIGN.md from the start.

fn main() {
    eprintln!("sealgate-webhook: not implemented yet (see the webhook issue)");
    std::process::exit(2);
}
