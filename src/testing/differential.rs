//! The differential property: random filters over random users give the same set on a
//! store as [`Filter::matches`] (the in-memory evaluator is the oracle).
//!
//! Each case stores a handful of [`arbitrary::users`] in a tenant of its own, reads them
//! back (the oracle judges what the store kept, so a store that drops `password` or fills in
//! `meta.version` is judged fairly), then lists with each of the case's
//! [`arbitrary::filter_over`] filters and compares ids and `totalResults` with what
//! [`Filter::matches`] says about the read-back users. A failing case is shrunk (fewer
//! users, smaller filters) and reported with the filter, the users and the seed that
//! reproduces it.
//!
//! Proptest drives the generation and shrinking; the store is async, so the cases run on
//! the caller's runtime through [`ValueTree`] instead of `proptest!`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::Arc;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use super::arbitrary;
use crate::filter::Filter;
use crate::list::ListQuery;
use crate::resource::User;
use crate::store::{RequestContext, StoreError, UserStore};

/// How many cases to run and how large they are.
#[derive(Debug, Clone)]
pub struct Differential {
    /// Cases (sets of users, each with a few filters). `PROPTEST_CASES` overrides it.
    pub cases: u32,
    /// Users per case, at most.
    pub max_users: usize,
    /// Filters per case, at most.
    pub max_filters: usize,
    /// Shrinking steps after a failure, at most.
    pub max_shrink_steps: u32,
    /// The seed; `None` draws one (printed with any failure). `SCIMKIT_PROPTEST_SEED`
    /// (64 hex digits) overrides it.
    pub seed: Option<[u8; 32]>,
}

impl Default for Differential {
    fn default() -> Self {
        Self {
            cases: 64,
            max_users: 12,
            max_filters: 8,
            max_shrink_steps: 512,
            seed: None,
        }
    }
}

/// What a run did: the numbers a caller can assert on (a check that compared nothing
/// proves nothing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DifferentialReport {
    /// Cases run.
    pub cases: u32,
    /// Filters compared.
    pub filters: usize,
    /// Filters that selected some but not all of their case's users.
    pub selective: usize,
    /// Filters the store refused with [`StoreError::InvalidFilter`] (allowed by the
    /// contract, never silently wrong).
    pub refused: usize,
}

impl Differential {
    /// Runs the property against `store`, panicking with a shrunk counterexample if the
    /// store and [`Filter::matches`] disagree.
    pub async fn run(&self, store: &dyn UserStore) -> DifferentialReport {
        let cases = std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(self.cases);
        let seed = seed_from_env().or(self.seed).unwrap_or_else(random_seed);
        let mut runner = TestRunner::new_with_rng(
            Config {
                cases,
                ..Config::default()
            },
            TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
        );
        let max_filters = self.max_filters.max(1);
        let strategy = arbitrary::users(self.max_users).prop_flat_map(move |users| {
            let filters = vec(arbitrary::filter_over(&users), 1..=max_filters);
            (Just(users), filters)
        });
        let mut report = DifferentialReport::default();
        for _ in 0..cases {
            let mut tree = match strategy.new_tree(&mut runner) {
                Ok(tree) => tree,
                Err(e) => panic!("generating a case failed: {e}"),
            };
            let (users, filters) = tree.current();
            match run_case(store, &users, &filters).await {
                Ok(case) => {
                    report.cases += 1;
                    report.filters += case.filters;
                    report.selective += case.selective;
                    report.refused += case.refused;
                }
                Err(failure) => {
                    let failure = shrink(store, &mut tree, failure, self.max_shrink_steps).await;
                    panic!(
                        "the store disagrees with Filter::matches (seed {}; rerun with \
                         SCIMKIT_PROPTEST_SEED={}):\n{failure}",
                        hex::encode(seed),
                        hex::encode(seed)
                    );
                }
            }
        }
        report
    }
}

/// Runs the property with the default settings and asserts it compared something.
pub async fn check_filters_agree(store: &dyn UserStore) -> DifferentialReport {
    let report = Differential::default().run(store).await;
    assert!(
        report.cases == 0 || report.filters > report.refused * 2,
        "the store refused {} of {} filters",
        report.refused,
        report.filters
    );
    report
}

/// Proptest's shrinking loop, awaiting the store between steps.
async fn shrink<T>(store: &dyn UserStore, tree: &mut T, mut failure: String, steps: u32) -> String
where
    T: ValueTree<Value = (Vec<User>, Vec<Filter>)>,
{
    let mut left = steps;
    if !tree.simplify() {
        return failure;
    }
    while left > 0 {
        left -= 1;
        let (users, filters) = tree.current();
        match run_case(store, &users, &filters).await {
            Err(f) => {
                failure = f;
                if !tree.simplify() {
                    break;
                }
            }
            Ok(_) => {
                if !tree.complicate() {
                    break;
                }
            }
        }
    }
    failure
}

struct CaseReport {
    filters: usize,
    selective: usize,
    refused: usize,
}

async fn run_case(
    store: &dyn UserStore,
    users: &[User],
    filters: &[Filter],
) -> Result<CaseReport, String> {
    let tenant = format!("proptest-{}", uuid::Uuid::new_v4().simple());
    let c = RequestContext::system(&tenant);
    let mut stored: Vec<Arc<User>> = Vec::with_capacity(users.len());
    for u in users {
        let mut u = u.clone();
        u.id = u.id.map(|id| format!("{tenant}-{id}").into());
        let id = u.id.clone().unwrap_or_default();
        store
            .create(&c, u)
            .await
            .map_err(|e| format!("create {id}: {e}"))?;
        match store.get(&c, &id).await {
            Ok(Some(got)) => stored.push(got),
            other => return Err(format!("get {id} after create: {other:?}")),
        }
    }
    let mut report = CaseReport {
        filters: 0,
        selective: 0,
        refused: 0,
    };
    for filter in filters {
        // The server refuses these with 400 before a store sees them.
        if filter.validate().is_err() {
            continue;
        }
        let expected: BTreeSet<&str> = stored
            .iter()
            .filter(|u| filter.matches(u))
            .filter_map(|u| u.id.as_deref())
            .collect();
        let query = ListQuery::all(users.len() + 1).with_filter(filter.clone());
        let page = match store.list(&c, &query).await {
            Ok(page) => page,
            Err(StoreError::InvalidFilter(_)) => {
                report.refused += 1;
                continue;
            }
            Err(e) => return Err(describe(filter, &stored, &format!("list failed: {e}"))),
        };
        let got: BTreeSet<&str> = page
            .resources
            .iter()
            .filter_map(|u| u.id.as_deref())
            .collect();
        if got != expected || page.total_results != expected.len() {
            let what = format!(
                "the store listed {got:?} (totalResults {}), Filter::matches selects {expected:?}",
                page.total_results
            );
            return Err(describe(filter, &stored, &what));
        }
        report.filters += 1;
        if !expected.is_empty() && expected.len() < stored.len() {
            report.selective += 1;
        }
    }
    Ok(report)
}

fn describe(filter: &Filter, users: &[Arc<User>], what: &str) -> String {
    let mut out = format!("filter: {filter}\n{what}\nusers as read back from the store:\n");
    for u in users {
        let _ = writeln!(out, "  {}", u.to_value());
    }
    out
}

fn random_seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    seed[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    seed[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    seed
}

fn seed_from_env() -> Option<[u8; 32]> {
    let text = std::env::var("SCIMKIT_PROPTEST_SEED").ok()?;
    let text = text.trim();
    if text.len() != 64 {
        return None;
    }
    let mut seed = [0u8; 32];
    hex::decode_to_slice(text, &mut seed).ok()?;
    Some(seed)
}
