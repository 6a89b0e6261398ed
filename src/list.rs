//! List queries (RFC 7644 §3.4.2) and the ListResponse envelope.

use serde::Serialize;

use crate::filter::Filter;
use crate::schema::LIST_RESPONSE_SCHEMA;
use crate::sort::SortSpec;

/// What a client asked `GET /Users` for, already parsed and bounded.
///
/// A store receives it whole: it may push the filter and paging down to its database,
/// and must count `totalResults` over every match before paging.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ListQuery {
    /// The parsed filter, if any. Stores never see the filter string.
    pub filter: Option<Filter>,
    /// 1-based index of the first result (RFC 7644 §3.4.2.4); at least 1.
    pub start_index: usize,
    /// The most results to return; already capped by the server's page size limit.
    /// `0` asks for the count only.
    pub count: usize,
    /// The order of the results; `None` is the store's stable order. A store that
    /// cannot sort in its database sorts in memory with [`SortSpec::sort`].
    pub sort: Option<SortSpec>,
    /// RFC 9865 cursor paging, for stores whose [`crate::UserStore::supports_cursors`]
    /// is true: `Some("")` asks for the first page, `Some(position)` for the page after a
    /// position the store itself returned in [`ListPage::next_cursor`]; `start_index` is
    /// then ignored. The server signs, scopes and expires positions before clients see
    /// them, so a store receives only positions it issued for this same query.
    pub cursor: Option<String>,
}

impl ListQuery {
    /// A query for every user, first page of `count`.
    pub fn all(count: usize) -> Self {
        Self {
            filter: None,
            start_index: 1,
            count,
            sort: None,
            cursor: None,
        }
    }

    /// The same query sorted.
    pub fn sorted_by(mut self, sort: SortSpec) -> Self {
        self.sort = Some(sort);
        self
    }

    /// The same query with a filter.
    pub fn with_filter(mut self, filter: Filter) -> Self {
        self.filter = Some(filter);
        self
    }

    /// The same query starting at `start_index` (values below 1 are read as 1).
    pub fn starting_at(mut self, start_index: usize) -> Self {
        self.start_index = start_index.max(1);
        self
    }

    /// Pages an iterator of matching items in their stable order: skips to
    /// `start_index`, takes `count`, and counts every item for `totalResults`.
    /// For stores that filter in memory.
    pub fn page<T>(&self, matching: impl Iterator<Item = T>) -> ListPage<T> {
        let skip = self.start_index.saturating_sub(1);
        let mut total = 0usize;
        let mut resources = Vec::with_capacity(self.count.min(16));
        for item in matching {
            if total >= skip && resources.len() < self.count {
                resources.push(item);
            }
            total += 1;
        }
        ListPage::new(total, resources)
    }
}

/// One page of a store's answer to a [`ListQuery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPage<T> {
    /// Every match of the filter, counted before paging.
    pub total_results: usize,
    /// The page, in the store's stable order.
    pub resources: Vec<T>,
    /// For cursor queries on stores that support them: the position after this page,
    /// or `None` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> ListPage<T> {
    /// A page without a next cursor.
    pub fn new(total_results: usize, resources: Vec<T>) -> Self {
        Self {
            total_results,
            resources,
            next_cursor: None,
        }
    }
}

/// The ListResponse message (RFC 7644 §3.4.2, RFC 9865 §3).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse<T> {
    /// Always the ListResponse URN.
    pub schemas: [&'static str; 1],
    /// Every match, counted before paging.
    pub total_results: usize,
    /// The 1-based index of the first resource returned (index paging only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_index: Option<usize>,
    /// The number of resources returned.
    pub items_per_page: usize,
    /// RFC 9865: the cursor of the next page (cursor paging only; absent on the last).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// RFC 9865: the cursor of the previous page, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_cursor: Option<String>,
    /// The resources (always present, possibly empty).
    #[serde(rename = "Resources")]
    pub resources: Vec<T>,
}

impl<T> ListResponse<T> {
    /// Wraps a page returned for an index query starting at `start_index`.
    pub fn new(page: ListPage<T>, start_index: usize) -> Self {
        Self {
            schemas: [LIST_RESPONSE_SCHEMA],
            total_results: page.total_results,
            start_index: Some(start_index),
            items_per_page: page.resources.len(),
            next_cursor: None,
            previous_cursor: None,
            resources: page.resources,
        }
    }

    /// Wraps a page of a cursor query, with the cursors the client sees.
    pub fn with_cursors(
        page: ListPage<T>,
        next_cursor: Option<String>,
        previous_cursor: Option<String>,
    ) -> Self {
        Self {
            schemas: [LIST_RESPONSE_SCHEMA],
            total_results: page.total_results,
            start_index: None,
            items_per_page: page.resources.len(),
            next_cursor,
            previous_cursor,
            resources: page.resources,
        }
    }

    /// Writes this message as compact JSON, each resource by `item`: the bytes
    /// `serde_json::to_writer` writes when `item` writes what `T`'s `Serialize` would.
    pub(crate) fn write_json(&self, out: &mut Vec<u8>, item: impl Fn(&T, &mut Vec<u8>)) {
        let str_member = |out: &mut Vec<u8>, key: &str, value: &Option<String>| {
            if let Some(v) = value {
                out.extend_from_slice(b",\"");
                out.extend_from_slice(key.as_bytes());
                out.extend_from_slice(b"\":");
                crate::resource::write_json_str(out, v);
            }
        };
        out.extend_from_slice(b"{\"schemas\":[");
        crate::resource::write_json_str(out, self.schemas[0]);
        out.extend_from_slice(b"],\"totalResults\":");
        write_integer(out, self.total_results);
        if let Some(start) = self.start_index {
            out.extend_from_slice(b",\"startIndex\":");
            write_integer(out, start);
        }
        out.extend_from_slice(b",\"itemsPerPage\":");
        write_integer(out, self.items_per_page);
        str_member(out, "nextCursor", &self.next_cursor);
        str_member(out, "previousCursor", &self.previous_cursor);
        out.extend_from_slice(b",\"Resources\":[");
        for (i, r) in self.resources.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            item(r, out);
        }
        out.extend_from_slice(b"]}");
    }
}

/// Writes `n` in decimal, as `serde_json` writes it, without `fmt` machinery.
fn write_integer(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(crate::resource::decimal(n as u64, &mut [0; 20]).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_list_responses_are_serde_jsons_bytes() {
        let write_number =
            |n: &u32, out: &mut Vec<u8>| out.extend_from_slice(n.to_string().as_bytes());
        for list in [
            ListResponse::new(ListQuery::all(2).starting_at(2).page(1..=5), 2),
            ListResponse::new(ListQuery::all(0).page(1..=5), 1),
            ListResponse::with_cursors(
                ListQuery::all(3).page(1..=5),
                Some("n\"ext\\\u{1}".into()),
                Some("prev".into()),
            ),
            ListResponse::with_cursors(ListQuery::all(3).page(std::iter::empty()), None, None),
        ] {
            let mut out = Vec::new();
            list.write_json(&mut out, write_number);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(&list).unwrap()
            );
        }
        for n in [0, 7, 10, 99, 100, 1_000_000, usize::MAX] {
            let mut list = ListResponse::new(ListQuery::all(1).page(1..=1), n);
            list.total_results = n;
            list.items_per_page = n;
            let mut out = Vec::new();
            list.write_json(&mut out, write_number);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(&list).unwrap()
            );
        }
    }

    #[test]
    fn page_counts_before_paging() {
        let q = ListQuery::all(2).starting_at(2);
        let p = q.page(1..=5);
        assert_eq!(p.total_results, 5);
        assert_eq!(p.resources, vec![2, 3]);
        let past_end = ListQuery::all(10).starting_at(9).page(1..=5);
        assert_eq!(past_end.total_results, 5);
        assert!(past_end.resources.is_empty());
        let count_only = ListQuery::all(0).page(1..=5);
        assert_eq!(count_only.total_results, 5);
        assert!(count_only.resources.is_empty());
    }

    #[test]
    fn list_response_shape() {
        let r = ListResponse::new(ListPage::new(3, vec![1]), 3);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["totalResults"], 3);
        assert_eq!(v["itemsPerPage"], 1);
        assert_eq!(v["startIndex"], 3);
        assert_eq!(v["Resources"][0], 1);
        assert_eq!(v["schemas"][0], LIST_RESPONSE_SCHEMA);
    }
}
