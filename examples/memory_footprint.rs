//! How much memory `MemoryUserStore` takes for many typical users, against the size of
//! their compact JSON (issue 9: at most 2×).
//!
//! ```text
//! cargo run --release --example memory_footprint            # 1,000,000 users
//! cargo run --release --example memory_footprint -- 100000  # another count
//! ```
//!
//! Method: the resident set (`VmRSS` in `/proc/self/status`, Linux) is read before the
//! store is filled and after; the difference is the store's footprint, allocator overhead
//! and fragmentation included. The users are the typical user of `benches/handle.rs`
//! (name, displayName, one work email, one phone, title, locale, active, enterprise
//! employeeNumber and department), created as `POST /Users` creates them (uuid `id`,
//! `meta` with millisecond timestamps, a version from the store). The JSON size is the
//! sum of `serde_json::to_vec(&user).len()` over the users as stored.

use chrono::{SubsecRound, Utc};
use scimkit::resource::input::user_from_value;
use scimkit::{Compatibility, MemoryUserStore, Meta, RequestContext, UserStore};
use serde_json::json;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn typical_user(i: usize) -> serde_json::Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "userName": format!("user{i}@example.com"),
        "externalId": format!("00u{i:08}"),
        "name": {"givenName": "Barbara", "familyName": "Jensen", "formatted": "Barbara Jensen"},
        "displayName": "Barbara Jensen",
        "emails": [{"value": format!("user{i}@example.com"), "type": "work", "primary": true}],
        "phoneNumbers": [{"value": "+1 555 555 5555", "type": "work"}],
        "title": "Tour Guide",
        "locale": "en-US",
        "active": true,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": format!("{i}"), "department": "Tour Operations"}
    })
}

/// A `kB` field of `/proc/self/status` (`VmRSS`, `VmHWM`), in bytes.
fn status_bytes(field: &str) -> Result<u64, BoxError> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .ok_or_else(|| format!("no {field} in /proc/self/status"))?;
    let kb: u64 = line.trim().trim_end_matches("kB").trim().parse()?;
    Ok(kb * 1024)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let n: usize = match std::env::args().nth(1) {
        Some(arg) => arg.parse()?,
        None => 1_000_000,
    };
    let compat = Compatibility::default();
    let ctx = RequestContext::system("default");
    let store = MemoryUserStore::new();

    let rss_before = status_bytes("VmRSS")?;
    let mut json_bytes = 0u64;
    for i in 0..n {
        let mut user =
            user_from_value(typical_user(i), &compat, scimkit::schema::SchemaSet::core())?;
        user.id = Some(uuid::Uuid::new_v4().to_string().into());
        user.meta = Some(Meta::new("User", Utc::now().trunc_subsecs(3)));
        let stored = store.create(&ctx, user).await?;
        json_bytes += serde_json::to_vec(&*stored)?.len() as u64;
    }
    let rss_after = status_bytes("VmRSS")?;
    let hwm = status_bytes("VmHWM")?;
    let store_bytes = rss_after.saturating_sub(rss_before);

    println!("users:                 {n}");
    println!(
        "compact JSON:          {:.1} MiB ({:.0} bytes a user)",
        mib(json_bytes),
        json_bytes as f64 / n as f64
    );
    println!(
        "VmRSS before / after:  {:.1} MiB / {:.1} MiB (VmHWM {:.1} MiB)",
        mib(rss_before),
        mib(rss_after),
        mib(hwm)
    );
    println!(
        "store (RSS growth):    {:.1} MiB ({:.0} bytes a user)",
        mib(store_bytes),
        store_bytes as f64 / n as f64
    );
    println!(
        "ratio store / JSON:    {:.2} (target <= 2)",
        store_bytes as f64 / json_bytes.max(1) as f64
    );
    // Keep the store alive until after the last reading.
    println!("(store holds {} users)", store.len("default"));
    Ok(())
}
