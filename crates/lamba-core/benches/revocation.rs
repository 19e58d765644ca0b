//! What the revocation list costs after a million revocations: the memory
//! its table holds (and the process's resident set), one check, and the
//! minute's sweep that forgets expired entries. In memory, no store: the
//! store is only asked while the change feed is down.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmarks fail loudly"
)]

use criterion::{Criterion, criterion_group, criterion_main};
use lamba_core::keys::revocation::ExpiringSet;
use lamba_model::Instant;
use uuid::Uuid;

const MILLION: usize = 1_000_000;

/// Resident set size in bytes, from `/proc/self/statm` (Linux only; 0
/// elsewhere).
fn resident_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn million(criterion: &mut Criterion) {
    let before = resident_bytes();
    let mut set = ExpiringSet::default();
    let ids: Vec<Uuid> = (0..MILLION).map(|_| Uuid::new_v4()).collect();
    // Half expire after an hour, half after a day: the mix of access tokens
    // and ended sessions a busy day leaves.
    for (index, id) in ids.iter().enumerate() {
        let expires = if index % 2 == 0 {
            3_600_000
        } else {
            86_400_000
        };
        set.insert(*id, Instant::from_millis(expires));
    }
    let full = resident_bytes();
    println!(
        "1M revocations: table {:.1} MiB, resident set +{:.1} MiB (ids vector included: {:.1} MiB)",
        mib(set.table_bytes()),
        mib(full.saturating_sub(before)),
        mib(MILLION * 16),
    );

    let mut next = ids.iter().cycle();
    criterion.bench_function("revocation/check, 1M entries, hit", |bencher| {
        bencher.iter(|| set.contains(next.next().unwrap()));
    });
    criterion.bench_function("revocation/check, 1M entries, miss", |bencher| {
        let unknown = Uuid::new_v4();
        bencher.iter(|| set.contains(&unknown));
    });

    let started = std::time::Instant::now();
    let forgotten = set.forget_expired(Instant::from_millis(3_600_000));
    println!(
        "sweep after an hour: forgot {forgotten} in {:.1} ms, table now {:.1} MiB",
        started.elapsed().as_secs_f64() * 1000.0,
        mib(set.table_bytes()),
    );
    let started = std::time::Instant::now();
    let forgotten = set.forget_expired(Instant::from_millis(86_400_000));
    println!(
        "sweep after a day: forgot {forgotten} in {:.1} ms, table now {:.1} MiB, resident set +{:.1} MiB",
        started.elapsed().as_secs_f64() * 1000.0,
        mib(set.table_bytes()),
        mib(resident_bytes().saturating_sub(before)),
    );
}

criterion_group!(benches, million);
criterion_main!(benches);
