//! Finding the elements of a multi-valued attribute that PATCH treats as the same value,
//! in O(log n) a lookup rather than by comparing with every element.
//!
//! Two elements are the same value ([`same_element`]) when both have a string `value`
//! that is equal as the schema compares it (exactly, or case-insensitively) and their
//! `type`s are equal or one of them has none; elements without a string `value`
//! (addresses) are the same when they are equal as a whole. [`Elements`] indexes the
//! elements by those keys, so that `add` (merge or append) and `remove` with a value list
//! do work linear in the elements, up to a logarithm, instead of quadratic.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

/// Counts the operations of the matching helpers, for the tests that check the work is
/// linear (a count, not a time).
#[cfg(test)]
pub(super) mod work {
    use std::cell::Cell;

    thread_local! {
        static COUNT: Cell<u64> = const { Cell::new(0) };
    }

    /// One more operation.
    pub(crate) fn tick() {
        COUNT.with(|c| c.set(c.get() + 1));
    }

    /// The operations counted on this thread since the last call, and restarts the count.
    pub(crate) fn take() -> u64 {
        COUNT.with(|c| c.replace(0))
    }
}

#[cfg(test)]
pub(super) use work::tick;
/// Counts one operation (in tests; nothing otherwise).
#[cfg(not(test))]
#[inline(always)]
pub(super) fn tick() {}

/// Whether two elements are the same value (see the module documentation): the
/// definition, by comparison, that the index is held to.
#[cfg(test)]
pub(super) fn same_element(case_exact: bool, a: &Value, b: &Value) -> bool {
    tick();
    match (a.get("value"), b.get("value")) {
        (Some(Value::String(x)), Some(Value::String(y))) => {
            let same_value = if case_exact {
                x == y
            } else {
                x == y || x.to_lowercase() == y.to_lowercase()
            };
            let same_type = match (a.get("type"), b.get("type")) {
                (Some(t1), Some(t2)) => t1 == t2,
                _ => true,
            };
            same_value && same_type
        }
        _ => a == b,
    }
}

/// How an element is found: by its string `value` (normalised) and `type`, or whole.
enum Key {
    Value { value: String, kind: Option<String> },
    Whole(String),
}

/// Indices of elements, by the keys [`same_element`] compares.
pub(super) struct Elements {
    case_exact: bool,
    /// Every element with a string value, by that value.
    by_value: HashMap<String, BTreeSet<usize>>,
    /// Elements with a string value and a type, by both.
    by_value_type: HashMap<(String, String), BTreeSet<usize>>,
    /// Elements with a string value and no type, by the value.
    untyped: HashMap<String, BTreeSet<usize>>,
    /// Elements without a string value, by their whole JSON.
    whole: HashMap<String, BTreeSet<usize>>,
}

impl Elements {
    /// An index of `items` (compared case-sensitively when `case_exact`).
    pub(super) fn new(case_exact: bool, items: &[Value]) -> Self {
        let mut out = Self {
            case_exact,
            by_value: HashMap::new(),
            by_value_type: HashMap::new(),
            untyped: HashMap::new(),
            whole: HashMap::new(),
        };
        for (i, e) in items.iter().enumerate() {
            out.insert(i, e);
        }
        out
    }

    fn key(&self, e: &Value) -> Key {
        tick();
        match e.get("value") {
            Some(Value::String(v)) => Key::Value {
                value: if self.case_exact {
                    v.clone()
                } else {
                    v.to_lowercase()
                },
                kind: e.get("type").map(type_key),
            },
            _ => Key::Whole(e.to_string()),
        }
    }

    /// Records element `e` at index `i`.
    pub(super) fn insert(&mut self, i: usize, e: &Value) {
        match self.key(e) {
            Key::Value { value, kind } => {
                match kind {
                    Some(t) => self
                        .by_value_type
                        .entry((value.clone(), t))
                        .or_default()
                        .insert(i),
                    None => self.untyped.entry(value.clone()).or_default().insert(i),
                };
                self.by_value.entry(value).or_default().insert(i);
            }
            Key::Whole(w) => {
                self.whole.entry(w).or_default().insert(i);
            }
        }
    }

    /// Forgets element `e` at index `i` (before it changes).
    pub(super) fn remove(&mut self, i: usize, e: &Value) {
        fn drop_from<K: std::hash::Hash + Eq>(
            map: &mut HashMap<K, BTreeSet<usize>>,
            key: K,
            i: usize,
        ) {
            if let Some(set) = map.get_mut(&key) {
                set.remove(&i);
                if set.is_empty() {
                    map.remove(&key);
                }
            }
        }
        match self.key(e) {
            Key::Value { value, kind } => {
                match kind {
                    Some(t) => drop_from(&mut self.by_value_type, (value.clone(), t), i),
                    None => drop_from(&mut self.untyped, value.clone(), i),
                }
                drop_from(&mut self.by_value, value, i);
            }
            Key::Whole(w) => drop_from(&mut self.whole, w, i),
        }
    }

    /// The first indexed element that is the same value as `e`, if any.
    pub(super) fn first_same(&self, e: &Value) -> Option<usize> {
        let first = |set: Option<&BTreeSet<usize>>| set.and_then(|s| s.first().copied());
        match self.key(e) {
            Key::Value {
                value,
                kind: Some(t),
            } => {
                let typed = first(self.by_value_type.get(&(value.clone(), t)));
                let untyped = first(self.untyped.get(&value));
                match (typed, untyped) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
            Key::Value { value, kind: None } => first(self.by_value.get(&value)),
            Key::Whole(w) => first(self.whole.get(&w)),
        }
    }
}

/// A `type` as a key: a string as itself, anything else (which canonical input does not
/// hold) as its JSON after a NUL, so the two never meet.
fn type_key(t: &Value) -> String {
    match t {
        Value::String(s) => s.clone(),
        other => format!("\0{other}"),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::{Elements, same_element};

    fn element() -> impl Strategy<Value = Value> {
        (0..4usize, proptest::option::of(0..3usize), 0..3usize).prop_map(|(v, t, shape)| {
            let value = ["a@x", "A@X", "b@x", "c@x"][v];
            let mut o = serde_json::Map::new();
            match shape {
                0 | 1 => {
                    o.insert("value".into(), json!(value));
                }
                _ => {
                    o.insert("locality".into(), json!(value));
                }
            }
            if let Some(t) = t {
                o.insert("type".into(), json!(["work", "home", "Work"][t]));
            }
            Value::Object(o)
        })
    }

    proptest! {
        /// The index finds the first element `same_element` finds by scanning.
        #[test]
        fn the_index_finds_what_a_scan_finds(
            items in proptest::collection::vec(element(), 0..12),
            probe in element(),
            case_exact in any::<bool>(),
        ) {
            let index = Elements::new(case_exact, &items);
            let scan = items.iter().position(|e| same_element(case_exact, e, &probe));
            prop_assert_eq!(index.first_same(&probe), scan);
        }
    }
}
