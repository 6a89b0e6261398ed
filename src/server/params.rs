//! The parts of a request every operation reads the same way: its body (content type,
//! size), its precondition headers and its query or SearchRequest parameters. Shared by
//! [`parse`](super::parse) and [`parse_group`](super::parse_group).

use http::{HeaderMap, Request, header};

use super::Config;
use super::route::percent_decode;
use crate::error::ScimError;

/// The body of a request that has one: SCIM or plain JSON, within the size limit.
pub(crate) fn body<'b, B: AsRef<[u8]>>(
    req: &'b Request<B>,
    config: &Config,
) -> Result<&'b [u8], ScimError> {
    check_content_type(req.headers())?;
    let body = req.body().as_ref();
    let max = config.max_body_bytes;
    if body.len() > max {
        return Err(ScimError::PayloadTooLarge(format!(
            "request body is larger than {max} bytes"
        )));
    }
    Ok(body)
}

/// Checks the Content-Type of a request with a body: SCIM or plain JSON, any parameters.
fn check_content_type(headers: &HeaderMap) -> Result<(), ScimError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim());
    match ct {
        Some(t)
            if t.eq_ignore_ascii_case(crate::SCIM_CONTENT_TYPE)
                || t.eq_ignore_ascii_case("application/json") =>
        {
            Ok(())
        }
        Some(t) => Err(ScimError::UnsupportedMediaType(format!(
            "unsupported Content-Type {t:?}; send application/scim+json"
        ))),
        None => Err(ScimError::UnsupportedMediaType(
            "missing Content-Type; send application/scim+json".into(),
        )),
    }
}

/// The entity tag in an `If-Match`/`If-None-Match` header, if one was sent. `*` is `None`
/// (matches any current version).
pub(super) fn precondition(
    headers: &HeaderMap,
    name: header::HeaderName,
) -> Result<Option<String>, ScimError> {
    match headers.get(&name) {
        None => Ok(None),
        Some(v) => {
            let v = v
                .to_str()
                .map_err(|_| ScimError::InvalidSyntax("malformed precondition header".into()))?
                .trim();
            // `*` matches any current version. An empty If-Match names no version, so it
            // matches none (412); an empty If-None-Match is ignored.
            if v == "*" || (v.is_empty() && name != header::IF_MATCH) {
                Ok(None)
            } else {
                Ok(Some(v.to_owned()))
            }
        }
    }
}

/// Decodes a query string into name/value pairs, in order. Names keep their spelling;
/// callers compare them case-insensitively.
pub(crate) fn parse_query(query: &str) -> Result<Vec<(String, String)>, ScimError> {
    let bad = |_| ScimError::InvalidSyntax("query string is not valid UTF-8 after decoding".into());
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((
                percent_decode(k, true).map_err(bad)?.into_owned(),
                percent_decode(v, true).map_err(bad)?.into_owned(),
            ))
        })
        .collect()
}

/// The query parameters of a request, decoded.
pub(super) fn query_params(query: &str) -> Result<ListParams, ScimError> {
    let mut p = ListParams::default();
    for (name, value) in parse_query(query)? {
        let number = |what: &str| {
            value.trim().parse::<i64>().map_err(|_| {
                ScimError::InvalidValue(format!("{what} must be an integer, got {value:?}"))
            })
        };
        if name.eq_ignore_ascii_case("filter") {
            p.filter = Some(value);
        } else if name.eq_ignore_ascii_case("startIndex") {
            p.start_index = Some(number("startIndex")?);
        } else if name.eq_ignore_ascii_case("count") {
            p.count = Some(number("count")?);
        } else if name.eq_ignore_ascii_case("cursor") {
            p.cursor = Some(value);
        } else if name.eq_ignore_ascii_case("sortBy") {
            p.sort_by = Some(value);
        } else if name.eq_ignore_ascii_case("sortOrder") {
            p.sort_order = Some(value);
        } else if name.eq_ignore_ascii_case("attributes") {
            p.attributes = Some(vec![value]);
        } else if name.eq_ignore_ascii_case("excludedAttributes") {
            p.excluded = Some(vec![value]);
        }
        // Unknown parameters (e.g. Entra's `aadOptscim062020`) are ignored.
    }
    Ok(p)
}

/// The parameters of a list or search, from a query string or a SearchRequest body.
#[derive(Debug, Default)]
pub(super) struct ListParams {
    pub(super) filter: Option<String>,
    pub(super) cursor: Option<String>,
    pub(super) sort_by: Option<String>,
    pub(super) sort_order: Option<String>,
    pub(super) start_index: Option<i64>,
    pub(super) count: Option<i64>,
    pub(super) attributes: Option<Vec<String>>,
    pub(super) excluded: Option<Vec<String>>,
}

/// The SearchRequest message (RFC 7644 §3.4.3). Unknown members are ignored.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchRequest {
    #[serde(default)]
    attributes: Option<Vec<String>>,
    #[serde(default)]
    excluded_attributes: Option<Vec<String>>,
    #[serde(default)]
    filter: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    sort_by: Option<String>,
    #[serde(default)]
    sort_order: Option<String>,
    #[serde(default)]
    start_index: Option<i64>,
    #[serde(default)]
    count: Option<i64>,
}

impl ListParams {
    pub(super) fn from_search_request(body: &[u8]) -> Result<Self, ScimError> {
        let value = crate::resource::json::parse_body(body)?;
        if !value.is_object() {
            return Err(ScimError::InvalidSyntax(
                "a SearchRequest must be a JSON object".into(),
            ));
        }
        let req: SearchRequest = serde_json::from_value(value)
            .map_err(|e| ScimError::InvalidValue(format!("invalid SearchRequest: {e}")))?;
        Ok(Self {
            filter: req.filter,
            cursor: req.cursor,
            sort_by: req.sort_by,
            sort_order: req.sort_order,
            start_index: req.start_index,
            count: req.count,
            attributes: req.attributes,
            excluded: req.excluded_attributes,
        })
    }

    /// `startIndex` and `count` as a store takes them: the page's 1-based start and size.
    pub(super) fn paging(&self, config: &Config) -> (usize, usize) {
        // RFC 7644 §3.4.2.4: a start below 1 is read as 1.
        let start = self
            .start_index
            .map_or(1, |s| usize::try_from(s.max(1)).unwrap_or(1));
        // A negative count is read as 0; above the maximum is capped.
        let count = self.count.map_or(config.default_page_size, |c| {
            usize::try_from(c.max(0))
                .unwrap_or(usize::MAX)
                .min(config.max_page_size)
        });
        (start, count)
    }
}
