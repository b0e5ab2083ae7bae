//! `sealgate`: seal Kubernetes Secrets for Git, unseal them for recovery, and
//! manage age keys. Thin: reads input, calls `sealgate-core`, writes output.

mod args;
mod cluster;
mod config;
mod controller;
mod files;
mod import;
mod inputs;
mod keygen;
mod objects;
mod references;
mod report;
mod scan;
mod seal;
mod unseal;
mod validate;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use args::{Cli, Command};

fn main() -> ExitCode {
    // One TLS crypto provider for the whole process (kube's client uses rustls).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let done = |r: anyhow::Result<()>| r.map(|()| 0);
    let result = match cli.command {
        Command::Seal(a) => done(seal::run(*a)),
        Command::Unseal(a) => done(unseal::run(a)),
        Command::Keygen(a) => done(keygen::run(a)),
        Command::Scan(a) => scan::run(a),
        Command::Validate(a) => validate::run(a),
        Command::Recipient(a) => done(controller::recipient(a)),
        Command::Verify(a) => controller::verify(a),
        Command::Reencrypt(a) => done(controller::reencrypt(a)),
        Command::Import(a) => done(import::run(a)),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "sealgate", &mut std::io::stdout());
            Ok(0)
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
