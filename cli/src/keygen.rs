//! `sealgate keygen`: a new age identity.

use std::io::Write;

use anyhow::{Context, Result};
use sealgate_core::Identity;

use crate::args::KeygenArgs;
use crate::files::AtomicWrite;

pub fn run(args: KeygenArgs) -> Result<()> {
    let identity = Identity::generate();
    let file = identity.to_identity_file(&now_rfc3339());
    let recipient = identity.recipient();
    match &args.output {
        Some(path) => {
            AtomicWrite {
                path,
                mode: 0o600,
                overwrite: false,
            }
            .write(file.as_bytes())?;
            println!("{recipient}");
        }
        None => {
            eprintln!("Public key: {recipient}");
            let mut out = std::io::stdout().lock();
            out.write_all(file.as_bytes())
                .and_then(|()| out.flush())
                .context("cannot write to standard output")?;
        }
    }
    Ok(())
}

/// UTC now, second precision, as age-keygen writes it.
fn now_rfc3339() -> String {
    let now = jiff::Timestamp::now();
    jiff::Timestamp::from_second(now.as_second())
        .unwrap_or(now)
        .to_string()
}
