//! The `/Users` operations: parse the request, call the store, describe the outcome.

use chrono::Utc;
use http::{HeaderMap, StatusCode, header};

use super::cursor::Position;
use super::ops::etag_matches;
use super::route::parse_query;
use super::{Outcome, ScimServer};
use crate::error::ScimError;
use crate::filter;
use crate::list::{ListQuery, ListResponse};
use crate::patch::PatchRequest;
use crate::projection::Projection;
use crate::resource::input::parse_user;
use crate::resource::{User, UserView};
use crate::schema::SchemaSet;
use crate::sort::SortSpec;
use crate::store::{RequestContext, StoreError};

/// One request on the Users endpoint, with what every operation needs.
pub(super) struct Request<'a, B> {
    pub(super) server: &'a ScimServer,
    pub(super) ctx: &'a RequestContext,
    pub(super) req: &'a http::Request<B>,
    pub(super) base: &'a str,
}

/// Checks the Content-Type of a request with a body: SCIM or plain JSON, any parameters.
fn check_content_type(headers: &HeaderMap) -> Result<(), ScimError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim());
    match ct {
        Some(t)
            if t.eq_ignore_ascii_case(super::SCIM_CONTENT_TYPE)
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

impl<B: AsRef<[u8]>> Request<'_, B> {
    fn body(&self) -> Result<&[u8], ScimError> {
        check_content_type(self.req.headers())?;
        let body = self.req.body().as_ref();
        let max = self.server.inner.config.max_body_bytes;
        if body.len() > max {
            return Err(ScimError::PayloadTooLarge(format!(
                "request body is larger than {max} bytes"
            )));
        }
        Ok(body)
    }

    fn store_error(&self, e: StoreError, user_name: Option<&str>) -> ScimError {
        super::ops::store_error(e, self.ctx, user_name)
    }

    fn location(&self, id: &str) -> String {
        let mut url = String::with_capacity(self.base.len() + 7 + id.len());
        url.push_str(self.base);
        url.push_str("/Users/");
        url.push_str(id);
        url
    }

    /// A user response: location filled in, `ETag` from `meta.version`.
    fn user_outcome(&self, status: StatusCode, user: &User, projection: &Projection) -> Outcome {
        let location = self.location(user.id.as_deref().unwrap_or_default());
        let etag = user.version().map(str::to_owned);
        let mut body = Vec::with_capacity(1024);
        self.render(user, &location, projection).write(&mut body);
        Outcome::Json {
            status,
            body,
            etag,
            location: (status == StatusCode::CREATED).then_some(location),
        }
    }

    /// The query parameters of this request, decoded.
    fn query_params(&self) -> Result<ListParams, ScimError> {
        let mut p = ListParams::default();
        for (name, value) in parse_query(self.req.uri().query().unwrap_or_default())? {
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

    /// The projection asked for in the query string (for single-resource responses).
    fn projection(&self) -> Result<Projection, ScimError> {
        Ok(self.query_params()?.projection(&self.server.inner.schemas))
    }

    /// `GET /Users`.
    pub(super) async fn list(&self) -> Result<Outcome, ScimError> {
        let params = self.query_params()?;
        self.run_list(params).await
    }

    /// `POST /.search` and `POST /Users/.search` (RFC 7644 §3.4.3).
    pub(super) async fn search(&self) -> Result<Outcome, ScimError> {
        let body = self.body()?;
        let params = ListParams::from_search_request(body)?;
        self.run_list(params).await
    }

    async fn run_list(&self, params: ListParams) -> Result<Outcome, ScimError> {
        let inner = &self.server.inner;
        let mut query = params.to_query(&inner.config, &inner.schemas)?;
        let projection = params.projection(&inner.schemas);
        let now = Utc::now().timestamp();
        // RFC 9865: with a cursor, the client's position is checked and handed to the
        // store (native cursors) or turned into an offset.
        let position = match params.cursor.as_deref().map(str::trim) {
            None => None,
            Some("") => Some(None),
            Some(c) => Some(Some(inner.cursors.decode(
                c,
                &self.ctx.tenant,
                &query,
                now,
            )?)),
        };
        let native = inner.store.supports_cursors();
        let offset = match &position {
            Some(Some(Position::Offset(n))) if !native => *n,
            Some(Some(Position::Store(s))) if native => {
                query.cursor = Some(s.clone());
                0
            }
            Some(Some(_)) => {
                return Err(ScimError::InvalidCursor(
                    "the cursor is not valid for this query".into(),
                ));
            }
            Some(None) if native => {
                query.cursor = Some(String::new());
                0
            }
            Some(None) | None => 0,
        };
        if position.is_some() && !native {
            query.start_index = offset.saturating_add(1);
        }
        let budget = inner.config.max_list_bytes;
        let mut page = self.list_page(&query).await?;
        // A page whose resources pass the byte budget is cut short, as RFC 7644
        // §3.4.2.4 lets a server return fewer results than asked (`itemsPerPage` says
        // how many); offsets and this server's cursors then continue after the last
        // resource returned. A store's own cursor points past the page the store
        // returned, so such a store is asked again for the shorter page (at most as
        // many times as the page shrinks; rarely more than once).
        let (mut body, mut ends) = self.render_page(&page.resources, &projection, budget);
        while native && query.cursor.is_some() && ends.len() < page.resources.len() {
            query.count = ends.len();
            page = self.list_page(&query).await?;
            (body, ends) = self.render_page(&page.resources, &projection, budget);
        }
        let returned = ends.len();
        let ranges: Vec<std::ops::Range<usize>> = ends
            .iter()
            .scan(0, |start, &end| Some(std::mem::replace(start, end)..end))
            .collect();
        let rendered = crate::list::ListPage::new(page.total_results, ranges);
        if position.is_none() {
            return Ok(list_outcome(
                &ListResponse::new(rendered, query.start_index),
                &body,
            ));
        }
        let tenant = &self.ctx.tenant;
        let encode = |p: Position| inner.cursors.encode(tenant, &query, &p, now);
        let (next, previous) = if native {
            (page.next_cursor.map(|s| encode(Position::Store(s))), None)
        } else {
            let end = offset.saturating_add(returned);
            let next =
                (returned > 0 && end < page.total_results).then(|| encode(Position::Offset(end)));
            let previous =
                (offset > 0).then(|| encode(Position::Offset(offset.saturating_sub(query.count))));
            (next, previous)
        };
        Ok(list_outcome(
            &ListResponse::with_cursors(rendered, next, previous),
            &body,
        ))
    }

    /// One page from the store.
    async fn list_page(
        &self,
        query: &ListQuery,
    ) -> Result<crate::ListPage<std::sync::Arc<User>>, ScimError> {
        self.server
            .inner
            .store
            .list(self.ctx, query)
            .await
            .map_err(|e| match e {
                StoreError::InvalidFilter(_) if query.cursor.is_some() => {
                    ScimError::InvalidCursor("the cursor is not valid for this query".into())
                }
                e => self.store_error(e, None),
            })
    }

    /// The users of a page rendered one after another, as many as fit in `budget` bytes
    /// (at least one), with the offset where each ends.
    fn render_page(
        &self,
        users: &[std::sync::Arc<User>],
        projection: &Projection,
        budget: usize,
    ) -> (Vec<u8>, Vec<usize>) {
        let mut body = Vec::with_capacity(1024 * users.len().min(64));
        let mut ends = Vec::with_capacity(users.len());
        for user in users {
            let location = self.location(user.id.as_deref().unwrap_or_default());
            let start = body.len();
            self.render(user, &location, projection).write(&mut body);
            if body.len() > budget && !ends.is_empty() {
                body.truncate(start);
                break;
            }
            ends.push(body.len());
        }
        (body, ends)
    }

    /// A user as returned: location filled in, projection applied.
    fn render<'u>(
        &'u self,
        user: &'u User,
        location: &'u str,
        projection: &Projection,
    ) -> Rendered<'u> {
        let schemas = &self.server.inner.schemas;
        let view = UserView {
            user,
            location: Some(location),
            schemas: Some(schemas),
        };
        // Registered extensions may hold `returned: never/request` attributes, which the
        // projection drops even when none is asked for.
        if projection.is_identity() && user.extensions.is_empty() {
            return Rendered::Whole(view);
        }
        let mut value = serde_json::to_value(view).unwrap_or(serde_json::Value::Null);
        projection.apply(&mut value, schemas);
        Rendered::Projected(value)
    }

    /// `POST /Users`.
    pub(super) async fn create(&self) -> Result<Outcome, ScimError> {
        let inner = &self.server.inner;
        let user = parse_user(self.body()?, &inner.config.compatibility, &inner.schemas)?;
        // The query is checked before anything is written: a bad one is a 400 with no write.
        let projection = self.projection()?;
        let created = self.server.create_user(self.ctx, user).await?;
        Ok(self.user_outcome(StatusCode::CREATED, &created, &projection))
    }

    /// `GET /Users/{id}`.
    pub(super) async fn get(&self, id: &str) -> Result<Outcome, ScimError> {
        let projection = self.projection()?;
        let user = self.server.get_user(self.ctx, id).await?;
        if let (Some(tag), Some(current)) = (
            precondition(self.req.headers(), header::IF_NONE_MATCH)?,
            user.version(),
        ) {
            if tag.split(',').any(|t| etag_matches(t.trim(), current)) {
                return Ok(Outcome::NotModified(current.to_owned()));
            }
        }
        Ok(self.user_outcome(StatusCode::OK, &user, &projection))
    }

    /// `PUT /Users/{id}`: replaces every writable attribute. `active` and `password`, when
    /// omitted, keep their current values (a PUT that omits `active` does not deactivate).
    pub(super) async fn replace(&self, id: &str) -> Result<Outcome, ScimError> {
        let inner = &self.server.inner;
        let incoming = parse_user(self.body()?, &inner.config.compatibility, &inner.schemas)?;
        let if_match = precondition(self.req.headers(), header::IF_MATCH)?;
        let projection = self.projection()?;
        let stored = self
            .server
            .replace_user(self.ctx, id, incoming, if_match.as_deref())
            .await?;
        Ok(self.user_outcome(StatusCode::OK, &stored, &projection))
    }

    /// `PATCH /Users/{id}` (RFC 7644 §3.5.2): 200 with the full updated resource.
    pub(super) async fn patch(&self, id: &str) -> Result<Outcome, ScimError> {
        let config = &self.server.inner.config;
        let request = PatchRequest::parse_with_limits(
            self.body()?,
            &config.compatibility,
            &config.filter_limits,
            &self.server.inner.schemas,
        )?;
        let if_match = precondition(self.req.headers(), header::IF_MATCH)?;
        let projection = self.projection()?;
        let stored = self
            .server
            .patch_user(self.ctx, id, &request, if_match.as_deref())
            .await?;
        Ok(self.user_outcome(StatusCode::OK, &stored, &projection))
    }

    /// `DELETE /Users/{id}`.
    pub(super) async fn delete(&self, id: &str) -> Result<Outcome, ScimError> {
        let if_match = precondition(self.req.headers(), header::IF_MATCH)?;
        self.server
            .delete_user(self.ctx, id, if_match.as_deref())
            .await?;
        Ok(Outcome::NoContent)
    }
}

/// A user as returned: written straight from the typed value unless a projection applies.
enum Rendered<'a> {
    Whole(UserView<'a>),
    Projected(serde_json::Value),
}

impl Rendered<'_> {
    /// Appends the user's JSON to `out`.
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Rendered::Whole(view) => crate::resource::write_json_user(view, out),
            Rendered::Projected(value) => {
                // Writing a `Value` to a Vec cannot fail.
                let _ = serde_json::to_writer(out, value);
            }
        }
    }
}

/// A 200 response with a ListResponse whose resources are the ranges of `rendered`.
fn list_outcome(list: &ListResponse<std::ops::Range<usize>>, rendered: &[u8]) -> Outcome {
    let mut body = Vec::with_capacity(256 + rendered.len());
    list.write_json(&mut body, |r, out| {
        out.extend_from_slice(rendered.get(r.clone()).unwrap_or_default());
    });
    Outcome::Json {
        status: StatusCode::OK,
        body,
        etag: None,
        location: None,
    }
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

    fn to_query(
        &self,
        config: &super::Config,
        schemas: &SchemaSet,
    ) -> Result<ListQuery, ScimError> {
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
