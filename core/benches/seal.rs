//! Sealing throughput next to the age library's own encrypt call, same values,
//! same recipients, same run. `cargo bench -p sealgate-core --bench seal`.
//!
//! Prints values per second for 1 and 3 recipients and the ratio of
//! sealgate's per-value cost to age's (target: at most 1.5).

use std::hint::black_box;
use std::io::Write;
use std::time::{Duration, Instant};

use sealgate_core::seal::{self, Binding, Location, Scope};
use sealgate_core::{Identity, RecipientSet};

const VALUE_LEN: usize = 64;
const ROUNDS: usize = 5;
const PER_ROUND: usize = 400;

fn age_encrypt(recipients: &[age::x25519::Recipient], value: &[u8]) -> Vec<u8> {
    let encryptor = age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
        .expect("recipients");
    let mut out = Vec::new();
    let mut w = encryptor.wrap_output(&mut out).expect("wrap");
    w.write_all(value).expect("write");
    w.finish().expect("finish");
    out
}

/// Best of several rounds, per value: the least disturbed by other load on a shared machine.
fn per_value(mut f: impl FnMut(usize)) -> Duration {
    (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            for i in 0..PER_ROUND {
                f(i);
            }
            start.elapsed() / PER_ROUND as u32
        })
        .min()
        .unwrap_or_default()
}

fn main() {
    let keys: Vec<String> = (0..PER_ROUND).map(|i| format!("key-{i:04}")).collect();
    let value = vec![b'v'; VALUE_LEN];
    println!("sealing {VALUE_LEN}-byte values, best of {ROUNDS} rounds of {PER_ROUND}");
    for n in [1usize, 3] {
        let ids: Vec<Identity> = (0..n).map(|_| Identity::generate()).collect();
        let set = RecipientSet::from(ids.iter().map(Identity::recipient).collect::<Vec<_>>());
        let raw: Vec<age::x25519::Recipient> = set
            .recipients()
            .iter()
            .map(|r| r.to_string().parse().expect("recipient"))
            .collect();

        let age_cost = per_value(|_| {
            black_box(age_encrypt(&raw, black_box(&value)));
        });
        let ours = per_value(|i| {
            let at = Location {
                namespace: "bench",
                name: "secret",
                key: &keys[i],
            };
            let binding = Binding::new(Scope::Strict, at).expect("binding");
            black_box(seal::seal_value(&set, &binding, black_box(&value)).expect("seal"));
        });
        let rate = |d: Duration| 1.0 / d.as_secs_f64();
        println!(
            "{n} recipient(s): sealgate {:>8.0} values/s ({:?}/value), age library {:>8.0} values/s ({:?}/value), ratio {:.2}",
            rate(ours),
            ours,
            rate(age_cost),
            age_cost,
            ours.as_secs_f64() / age_cost.as_secs_f64()
        );
    }
}
