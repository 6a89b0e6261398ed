//! Parse: a routed request → an [`Operation`]. The query string (`filter`, paging,
//! sorting, `attributes`), the headers (`Content-Type`, `If-Match`, `If-None-Match`) and
//! the JSON body, read and checked against the server's [`Config`].
//!
//! A pure function of the request and the configuration: no store, no clock, no
//! randomness, so it is tested and fuzzed without a runtime (the fuzz target
//! `parse_operation`). What needs the store or the caller's tenant (cursors, uniqueness,
//! versions) is left to [`execute`](super::execute).

use std::borrow::Cow;

use http::{HeaderMap, Request, header};

use super::Config;
use super::route::{Document, Route, percent_decode};
use crate::error::ScimError;
use crate::filter;
use crate::list::ListQuery;
use crate::patch::PatchRequest;
use crate::projection::Projection;
use crate::resource::User;
use crate::resource::input::parse_user;
use crate::schema::SchemaSet;
use crate::sort::SortSpec;

/// What a request asks the server to do, parsed and checked, before anything is read or
/// written.
#[derive(Debug)]
pub(crate) enum Operation<'a> {
    /// `GET /Users` or `POST /.search`, `POST /Users/.search`.
    ListUsers(ListRequest),
    /// `POST /Users`.
    CreateUser {
        user: Box<User>,
        projection: Projection,
    },
    /// `GET /Users/{id}`; `If-None-Match` (`None` for `*` or absent).
    GetUser {
        id: Cow<'a, str>,
        projection: Projection,
        if_none_match: Option<String>,
    },
    /// `PUT /Users/{id}`.
    ReplaceUser {
        id: Cow<'a, str>,
        user: Box<User>,
        if_match: Option<String>,
        projection: Projection,
    },
    /// `PATCH /Users/{id}`.
    PatchUser {
        id: Cow<'a, str>,
        patch: PatchRequest,
        if_match: Option<String>,
        projection: Projection,
    },
    /// `DELETE /Users/{id}`.
    DeleteUser {
        id: Cow<'a, str>,
        if_match: Option<String>,
    },
    /// `GET /Groups`: always empty (groups are not served).
    ListGroups,
    /// `GET /ServiceProviderConfig`, `/ResourceTypes[/{name}]`, `/Schemas[/{id}]`.
    Document(Document<'a>),
}

/// A list or search: the query for the store, the projection of the returned users and
/// the client's RFC 9865 cursor (`Some("")` asks for the first page of cursor paging).
#[derive(Debug)]
pub(crate) struct ListRequest {
    pub(crate) query: ListQuery,
    pub(crate) projection: Projection,
    pub(crate) cursor: Option<String>,
}

/// Parses the request `route` was taken from into an [`Operation`].
pub(crate) fn parse<'a, B: AsRef<[u8]>>(
    route: Route<'a>,
    req: &Request<B>,
    config: &Config,
    schemas: &SchemaSet,
) -> Result<Operation<'a>, ScimError> {
    let headers = req.headers();
    let query = || query_params(req.uri().query().unwrap_or_default());
    Ok(match route {
        Route::ListUsers => Operation::ListUsers(query()?.into_list(config, schemas)?),
        Route::SearchUsers => {
            let params = ListParams::from_search_request(body(req, config)?)?;
            Operation::ListUsers(params.into_list(config, schemas)?)
        }
        Route::CreateUser => {
            let user = parse_user(body(req, config)?, &config.compatibility, schemas)?;
            // The query is checked before anything is written: a bad one is a 400 with no
            // write.
            Operation::CreateUser {
                user: Box::new(user),
                projection: query()?.projection(schemas),
            }
        }
        Route::GetUser(id) => Operation::GetUser {
            id,
            projection: query()?.projection(schemas),
            if_none_match: precondition(headers, header::IF_NONE_MATCH)?,
        },
        Route::ReplaceUser(id) => {
            let user = parse_user(body(req, config)?, &config.compatibility, schemas)?;
            Operation::ReplaceUser {
                id,
                user: Box::new(user),
                if_match: precondition(headers, header::IF_MATCH)?,
                projection: query()?.projection(schemas),
            }
        }
        Route::PatchUser(id) => {
            let patch = PatchRequest::parse_with_limits(
                body(req, config)?,
                &config.compatibility,
                &config.filter_limits,
                schemas,
            )?;
            Operation::PatchUser {
                id,
                patch,
                if_match: precondition(headers, header::IF_MATCH)?,
                projection: query()?.projection(schemas),
            }
        }
        Route::DeleteUser(id) => Operation::DeleteUser {
            id,
            if_match: precondition(headers, header::IF_MATCH)?,
        },
        Route::ListGroups => Operation::ListGroups,
        Route::GetGroup => {
            return Err(ScimError::NotFound(
                "groups are not supported by this server".into(),
            ));
        }
        Route::WriteGroups => {
            return Err(ScimError::NotImplemented(
                "groups are not supported by this server".into(),
            ));
        }
        Route::Document(d) => Operation::Document(d),
        Route::NotImplemented(what) => return Err(ScimError::NotImplemented(what.into())),
    })
}

/// The body of a request that has one: SCIM or plain JSON, within the size limit.
fn body<'b, B: AsRef<[u8]>>(req: &'b Request<B>, config: &Config) -> Result<&'b [u8], ScimError> {
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
fn precondition(
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
fn query_params(query: &str) -> Result<ListParams, ScimError> {
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
struct ListParams {
    filter: Option<String>,
    cursor: Option<String>,
    sort_by: Option<String>,
    sort_order: Option<String>,
    start_index: Option<i64>,
    count: Option<i64>,
    attributes: Option<Vec<String>>,
    excluded: Option<Vec<String>>,
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
    fn from_search_request(body: &[u8]) -> Result<Self, ScimError> {
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

    fn projection(&self, schemas: &SchemaSet) -> Projection {
        fn refs(v: &Option<Vec<String>>) -> Option<Vec<&str>> {
            v.as_ref()
                .map(|items| items.iter().map(String::as_str).collect())
        }
        Projection::from_lists(refs(&self.attributes), refs(&self.excluded), schemas)
    }

    fn into_list(self, config: &Config, schemas: &SchemaSet) -> Result<ListRequest, ScimError> {
        let query = self.to_query(config, schemas)?;
        Ok(ListRequest {
            query,
            projection: self.projection(schemas),
            cursor: self.cursor,
        })
    }

    fn to_query(&self, config: &Config, schemas: &SchemaSet) -> Result<ListQuery, ScimError> {
        let mut query = ListQuery::all(config.default_page_size);
        if let Some(f) = self.filter.as_deref().filter(|f| !f.trim().is_empty()) {
            let f = filter::parse_tolerant(
                f,
                &config.filter_limits,
                config.compatibility.unquoted_filter_values,
            )?;
            f.validate_in(schemas)?;
            query.filter = Some(f);
        }
        if let Some(by) = self.sort_by.as_deref().filter(|b| !b.trim().is_empty()) {
            query.sort = Some(SortSpec::parse(by, self.sort_order.as_deref())?);
        }
        if self.cursor.is_some() && self.start_index.is_some() {
            return Err(ScimError::InvalidValue(
                "cursor and startIndex cannot be used together".into(),
            ));
        }
        if let Some(start) = self.start_index {
            // RFC 7644 §3.4.2.4: a value below 1 is read as 1.
            query.start_index = usize::try_from(start.max(1)).unwrap_or(1);
        }
        if let Some(count) = self.count {
            // Negative is read as 0; above the maximum is capped.
            let n = usize::try_from(count.max(0)).unwrap_or(usize::MAX);
            query.count = n.min(config.max_page_size);
        }
        Ok(query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::route::route;

    fn request(method: &str, uri: &str, body: &str) -> Request<Vec<u8>> {
        Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/scim+json")
            .header("if-match", "W/\"3\"")
            .body(body.as_bytes().to_vec())
            .unwrap()
    }

    fn parsed(method: &str, uri: &str, body: &str) -> Result<String, ScimError> {
        let config = Config::default();
        let req = request(method, uri, body);
        let route = route(&config.base_path, req.method(), req.uri().path())?;
        parse(route, &req, &config, crate::schema::SchemaSet::core()).map(|op| format!("{op:?}"))
    }

    /// The fuzz target `parse_operation` compares two parses of one request: a projection
    /// naming several attributes must read the same both times (it once did not, its
    /// paths being kept in hash maps).
    #[test]
    fn a_request_parsed_twice_reads_the_same() {
        let body = r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "attributes":["emails","userName","name.givenName","title","nickName"],
            "excludedAttributes":["phoneNumbers","addresses"]}"#;
        let first = parsed("POST", "/scim/v2/Users/.search", body).unwrap();
        for _ in 0..20 {
            assert_eq!(
                parsed("POST", "/scim/v2/Users/.search", body).unwrap(),
                first
            );
        }
    }

    #[test]
    fn query_decoding_handles_plus_and_percent() {
        let q =
            parse_query("filter=userName+eq+%22a%2Bb%40x.com%22&aadOptscim062020&count=5").unwrap();
        assert_eq!(q[0], ("filter".into(), "userName eq \"a+b@x.com\"".into()));
        assert_eq!(q[1], ("aadOptscim062020".into(), String::new()));
        assert_eq!(q[2], ("count".into(), "5".into()));
        assert_eq!(parse_query("a=100%").unwrap()[0].1, "100%");
        assert!(parse_query("filter=%FF").is_err());
    }

    #[test]
    fn requests_parse_to_operations_without_a_store() {
        let list = parsed(
            "GET",
            "/scim/v2/Users?filter=userName+eq+%22a%22&count=5&attributes=userName",
            "",
        )
        .unwrap();
        assert!(list.starts_with("ListUsers("), "{list}");
        assert!(list.contains("count: 5"), "{list}");
        let patch = parsed(
            "PATCH",
            "/scim/v2/Users/u1",
            r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}"#,
        )
        .unwrap();
        assert!(patch.starts_with("PatchUser { id: \"u1\""), "{patch}");
        assert!(patch.contains("if_match: Some(\"W/\\\"3\\\"\")"), "{patch}");
        let create = parsed("POST", "/scim/v2/Users", r#"{"userName":"bjensen"}"#).unwrap();
        assert!(create.starts_with("CreateUser"), "{create}");
        assert!(create.contains("bjensen"), "{create}");
    }

    #[test]
    fn bad_requests_fail_in_parsing() {
        let status = |m, u, b| parsed(m, u, b).unwrap_err().status().as_u16();
        assert_eq!(status("GET", "/scim/v2/Users?count=x", ""), 400);
        assert_eq!(status("GET", "/scim/v2/Users?filter=userName+eq", ""), 400);
        assert_eq!(status("POST", "/scim/v2/Users", "{"), 400);
        assert_eq!(status("GET", "/scim/v2/Groups/g1", ""), 404);
        assert_eq!(status("POST", "/scim/v2/Bulk", "{}"), 501);
        let mut req = request("POST", "/scim/v2/Users", "{}");
        req.headers_mut().remove("content-type");
        let config = Config::default();
        let route = route(&config.base_path, req.method(), req.uri().path()).unwrap();
        assert_eq!(
            parse(route, &req, &config, crate::schema::SchemaSet::core())
                .unwrap_err()
                .status()
                .as_u16(),
            415
        );
    }
}
