//! Render: an [`Outcome`] → `http::Response<Vec<u8>>` (`application/scim+json`, `ETag`,
//! `Location`), and the JSON of users as returned (location filled in, projection
//! applied by the one response writer, `resource/write.rs`).
//!
//! A failed request is rendered by [`ScimError::to_response`](crate::ScimError::to_response),
//! the one place an error meets the wire, called once by [`ScimServer::handle`](super::ScimServer::handle).

use std::ops::Range;
use std::sync::Arc;

use http::{HeaderValue, Response, StatusCode, header};

use crate::SCIM_CONTENT_TYPE;
use crate::list::{ListPage, ListResponse};
use crate::projection::Projection;
use crate::resource::{Selection, User, UserView};
use crate::schema::SchemaSet;

/// What a successful request produced, before rendering.
pub(crate) enum Outcome {
    /// One user as stored: 201 with `Location` when `created`, else 200; its `ETag` is
    /// `meta.version`.
    User {
        user: Arc<User>,
        created: bool,
        projection: Projection,
    },
    /// One group as stored: 201 with `Location` when `created`, else 200; its `ETag` is
    /// `meta.version`.
    Group {
        group: Box<crate::group::Group>,
        created: bool,
        projection: crate::group::GroupProjection,
    },
    /// A ListResponse, already written: a page is rendered while it is fetched, so that
    /// it is cut at the byte budget (see [`page`]).
    List(Vec<u8>),
    /// A discovery document.
    Document(serde_json::Value),
    /// 204 No Content.
    NoContent,
    /// 304 Not Modified, with the current `ETag`.
    NotModified(String),
}

/// The response for `outcome`; `base` is the absolute URL of the SCIM API.
pub(crate) fn render(outcome: Outcome, base: &str, schemas: &SchemaSet) -> Response<Vec<u8>> {
    match outcome {
        Outcome::User {
            user,
            created,
            projection,
        } => {
            let location = location(base, &user);
            let mut body = Vec::with_capacity(1024);
            let selection = Selection::new::<User>(&projection, schemas);
            write(&user, &location, &selection, &mut body);
            created_or_ok(body, created, user.version(), location)
        }
        Outcome::Group {
            group,
            created,
            projection,
        } => {
            let location = crate::group::location(base, &group);
            let mut body = Vec::with_capacity(512);
            crate::group::write_group(&group, base, &projection, &mut body);
            created_or_ok(body, created, group.version(), location)
        }
        Outcome::List(body) => json(StatusCode::OK, body),
        Outcome::Document(value) => {
            let mut body = Vec::with_capacity(1024);
            // Writing a `Value` to a Vec cannot fail.
            let _ = serde_json::to_writer(&mut body, &value);
            json(StatusCode::OK, body)
        }
        Outcome::NoContent => {
            let mut resp = Response::new(Vec::new());
            *resp.status_mut() = StatusCode::NO_CONTENT;
            resp
        }
        Outcome::NotModified(etag) => {
            let mut resp = Response::new(Vec::new());
            *resp.status_mut() = StatusCode::NOT_MODIFIED;
            if let Ok(v) = HeaderValue::from_str(&etag) {
                resp.headers_mut().insert(header::ETAG, v);
            }
            resp
        }
    }
}

fn json(status: StatusCode, body: Vec<u8>) -> Response<Vec<u8>> {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(SCIM_CONTENT_TYPE),
    );
    resp
}

/// 201 with `Location` when `created`, else 200; `ETag` from the version.
fn created_or_ok(
    body: Vec<u8>,
    created: bool,
    version: Option<&str>,
    location: String,
) -> Response<Vec<u8>> {
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut resp = json(status, body);
    let headers = resp.headers_mut();
    if let Some(v) = version.and_then(|e| HeaderValue::try_from(e).ok()) {
        headers.insert(header::ETAG, v);
    }
    if created {
        if let Ok(v) = HeaderValue::try_from(location) {
            headers.insert(header::LOCATION, v);
        }
    }
    resp
}

/// The URL of a user: `{base}/Users/{id}`.
fn location(base: &str, user: &User) -> String {
    let id = user.id.as_deref().unwrap_or_default();
    let mut url = String::with_capacity(base.len() + 7 + id.len());
    url.push_str(base);
    url.push_str("/Users/");
    url.push_str(id);
    url
}

/// The users of a page rendered one after another, as many as fit in `budget` bytes (at
/// least one), with the offset where each ends.
pub(crate) fn page(
    users: &[Arc<User>],
    base: &str,
    projection: &Projection,
    budget: usize,
    schemas: &SchemaSet,
) -> (Vec<u8>, Vec<usize>) {
    let mut body = Vec::with_capacity(1024 * users.len().min(64));
    let mut ends = Vec::with_capacity(users.len());
    let selection = Selection::new::<User>(projection, schemas);
    for user in users {
        let location = location(base, user);
        let start = body.len();
        write(user, &location, &selection, &mut body);
        if body.len() > budget && !ends.is_empty() {
            body.truncate(start);
            break;
        }
        ends.push(body.len());
    }
    (body, ends)
}

/// A ListResponse whose resources are the users of `rendered` ending at `ends` (from
/// [`page`]); `envelope` makes the message from the page of their byte ranges.
pub(crate) fn list(
    total_results: usize,
    rendered: &[u8],
    ends: &[usize],
    envelope: impl FnOnce(ListPage<Range<usize>>) -> ListResponse<Range<usize>>,
) -> Vec<u8> {
    let ranges: Vec<Range<usize>> = ends
        .iter()
        .scan(0, |start, &end| Some(std::mem::replace(start, end)..end))
        .collect();
    let list = envelope(ListPage::new(total_results, ranges));
    let mut body = Vec::with_capacity(256 + rendered.len());
    list.write_json(&mut body, |r, out| {
        out.extend_from_slice(rendered.get(r.clone()).unwrap_or_default());
    });
    body
}

/// Appends the JSON of `user` as returned: with its `location`, as `selection` projects it
/// (the attributes' own `returned` applies even when no projection is asked for).
fn write(user: &User, location: &str, selection: &Selection<'_>, out: &mut Vec<u8>) {
    let view = UserView {
        user,
        location: Some(location),
        schemas: None,
    };
    crate::resource::write_json_user(&view, Some(selection), out);
}
