//! `sealgate`: seal Kubernetes Secrets for Git, unseal them for recovery, and
//! manage age keys. Thin: reads input, calls `sealgate-core`, writes output.

mod args;
mod files;
mod keygen;
mod seal;
mod unseal;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use args::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Seal(a) => seal::run(*a),
        Command::Unseal(a) => unseal::run(a),
        Command::Keygen(a) => keygen::run(a),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "sealgate", &mut std::io::stdout());
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
