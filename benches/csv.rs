//! CSV import and export throughput, and the memory of a 1,000,000-row import.
//!
//! `cargo bench --features csv --bench csv` first imports `SCIMKIT_CSV_ROWS` (default
//! 1,000,000; `0` skips) generated rows once, printing rows/s and the peak resident set
//! (VmHWM from /proc/self/status): a dry run (the importer alone: constant memory), then
//! a real import into MemoryUserStore (whose users are, of course, kept). Then criterion
//! measures importing and exporting 1,000 users.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Instant;

use criterion::{BatchSize, Criterion, Throughput, criterion_group};
use scimkit::csv::{ColumnMap, Export, Import};
use scimkit::{MemoryUserStore, RequestContext, ScimServer, StaticKeyAuthenticator};

/// A CSV of `rows` generated users, made on the fly as it is read.
struct Generated {
    next: u64,
    rows: u64,
    line: Vec<u8>,
    pos: usize,
}

impl Generated {
    fn new(rows: u64) -> Self {
        let header = b"userName,givenName,familyName,email,displayName,active,externalId,title,department,employeeNumber,manager\n";
        Self {
            next: 0,
            rows,
            line: header.to_vec(),
            pos: 0,
        }
    }
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.line.len() {
            if self.next == self.rows {
                return Ok(0);
            }
            let n = self.next;
            self.next += 1;
            self.line.clear();
            self.pos = 0;
            writeln!(
                self.line,
                "user{n}@example.com,Given{n},Family{n},user{n}@example.com,\"Family{n}, Given{n}\",{},e{n},Engineer,R&D,{n},m{}",
                n % 7 != 0,
                n / 10
            )?;
        }
        let k = buf.len().min(self.line.len() - self.pos);
        buf[..k].copy_from_slice(&self.line[self.pos..self.pos + k]);
        self.pos += k;
        Ok(k)
    }
}

fn server(store: Arc<MemoryUserStore>) -> ScimServer {
    ScimServer::builder()
        .shared_store(store)
        .authenticator(StaticKeyAuthenticator::new())
        .build()
        .unwrap()
}

fn ctx() -> RequestContext {
    RequestContext::system("acme")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

fn vm_hwm_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// The one-off large import: figures printed, not sampled by criterion.
fn large_import(rows: u64) {
    let rt = runtime();
    let store = Arc::new(MemoryUserStore::new());
    let server = server(store.clone());

    let base = vm_hwm_mib();
    let mut at_tenth = 0.0;
    let start = Instant::now();
    let dry = rt
        .block_on(
            Import::new(&server, ctx())
                .dry_run(true)
                .on_progress(|p| {
                    if p.rows == rows / 10 {
                        at_tenth = vm_hwm_mib();
                    }
                })
                .run(Generated::new(rows)),
        )
        .unwrap();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "csv dry run   {rows} rows: {secs:.1} s, {:.0} rows/s, {:.1} MiB input; peak RSS {base:.1} MiB at start, {at_tenth:.1} MiB after {} rows, {:.1} MiB after all",
        dry.rows as f64 / secs,
        dry.bytes as f64 / (1024.0 * 1024.0),
        rows / 10,
        vm_hwm_mib()
    );

    let before = vm_hwm_mib();
    let start = Instant::now();
    let real = rt
        .block_on(Import::new(&server, ctx()).run(Generated::new(rows)))
        .unwrap();
    let secs = start.elapsed().as_secs_f64();
    let after = vm_hwm_mib();
    assert_eq!(real.created, rows);
    println!(
        "csv import    {rows} rows into MemoryUserStore: {secs:.1} s, {:.0} rows/s; peak RSS {before:.1} → {after:.1} MiB ({:.0} bytes per stored user)",
        real.rows as f64 / secs,
        (after - before) * 1024.0 * 1024.0 / rows as f64
    );

    let start = Instant::now();
    let mut sink = std::io::sink();
    let exported = rt
        .block_on(Export::new(store.as_ref(), ctx()).run(&mut sink))
        .unwrap();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "csv export    {} users: {secs:.1} s, {:.0} users/s; peak RSS {:.1} MiB",
        exported.users,
        exported.users as f64 / secs,
        vm_hwm_mib()
    );
}

fn throughput(c: &mut Criterion) {
    const N: u64 = 1000;
    let rt = runtime();
    let mut g = c.benchmark_group("csv");
    g.throughput(Throughput::Elements(N));
    g.bench_function("import 1000 new users", |b| {
        b.iter_batched(
            || server(Arc::new(MemoryUserStore::new())),
            |server| {
                rt.block_on(Import::new(&server, ctx()).run(Generated::new(N)))
                    .unwrap()
            },
            BatchSize::SmallInput,
        );
    });
    let store = Arc::new(MemoryUserStore::new());
    let loaded = server(store.clone());
    rt.block_on(Import::new(&loaded, ctx()).run(Generated::new(N)))
        .unwrap();
    g.bench_function("import 1000 unchanged users", |b| {
        b.iter(|| {
            rt.block_on(Import::new(&loaded, ctx()).run(Generated::new(N)))
                .unwrap()
        });
    });
    g.bench_function("export 1000 users", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(256 * 1024);
            rt.block_on(
                Export::new(store.as_ref(), ctx())
                    .columns(ColumnMap::new())
                    .run(&mut out),
            )
            .unwrap();
            out
        });
    });
    g.finish();
}

criterion_group!(benches, throughput);

fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let rows = std::env::var("SCIMKIT_CSV_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    if benching && rows > 0 {
        large_import(rows);
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
