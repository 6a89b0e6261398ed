//! Parse, for the `/Groups` endpoints of a server that serves groups: a routed request →
//! a [`GroupOperation`]. Pure, as [`parse`](super::parse) is for users, and shares its
//! query, header and body checks.

use std::borrow::Cow;

use http::{Request, header};

use super::Config;
use super::params::{ListParams, body, precondition, query_params};
use super::route::Route;
use crate::error::ScimError;
use crate::filter;
use crate::group::{Group, GroupChange, GroupFilter, GroupProjection, GroupQuery, parse_group};
use crate::patch::PatchRequest;
use crate::schema::SchemaSet;

/// What a `/Groups` request asks, parsed and checked.
#[derive(Debug)]
pub(crate) enum GroupOperation<'a> {
    /// `GET /Groups`, `POST /Groups/.search`.
    List {
        query: GroupQuery,
        projection: GroupProjection,
    },
    /// `POST /Groups`.
    Create {
        group: Group,
        projection: GroupProjection,
    },
    /// `GET /Groups/{id}`.
    Get {
        id: Cow<'a, str>,
        projection: GroupProjection,
        if_none_match: Option<String>,
    },
    /// `PUT /Groups/{id}`.
    Replace {
        id: Cow<'a, str>,
        group: Group,
        if_match: Option<String>,
        projection: GroupProjection,
    },
    /// `PATCH /Groups/{id}`: `projection` is `None` for a 204 answer.
    Patch {
        id: Cow<'a, str>,
        change: GroupChange,
        if_match: Option<String>,
        projection: Option<GroupProjection>,
    },
    /// `DELETE /Groups/{id}`.
    Delete {
        id: Cow<'a, str>,
        if_match: Option<String>,
    },
}

/// Parses a `/Groups` request (the server serves groups).
pub(super) fn parse<'a, B: AsRef<[u8]>>(
    route: Route<'a>,
    req: &Request<B>,
    config: &Config,
    schemas: &SchemaSet,
) -> Result<GroupOperation<'a>, ScimError> {
    let headers = req.headers();
    let params = || query_params(req.uri().query().unwrap_or_default());
    Ok(match route {
        Route::ListGroups => list(params()?, config)?,
        Route::SearchGroups => list(ListParams::from_search_request(body(req, config)?)?, config)?,
        Route::CreateGroup => {
            let group = parse_group(body(req, config)?)?;
            check_members(group.members.len(), config)?;
            GroupOperation::Create {
                group,
                projection: projection(&params()?),
            }
        }
        Route::GetGroup(id) => GroupOperation::Get {
            id,
            projection: projection(&params()?),
            if_none_match: precondition(headers, header::IF_NONE_MATCH)?,
        },
        Route::ReplaceGroup(id) => {
            let group = parse_group(body(req, config)?)?;
            check_members(group.members.len(), config)?;
            GroupOperation::Replace {
                id,
                group,
                if_match: precondition(headers, header::IF_MATCH)?,
                projection: projection(&params()?),
            }
        }
        Route::PatchGroup(id) => {
            let patch = PatchRequest::parse_with_limits(
                body(req, config)?,
                &config.compatibility,
                &config.filter_limits,
                schemas,
            )?;
            super::limit::check_patch_operations(config, &patch)?;
            let change = GroupChange::from_patch(&patch, &id)?;
            check_members(change.member_ids_named(), config)?;
            let params = params()?;
            let asked = params.attributes.is_some();
            let projection = if asked {
                Some(projection(&params))
            } else {
                config
                    .group_patch_returns_group
                    .then(GroupProjection::without_members)
            };
            GroupOperation::Patch {
                id,
                change,
                if_match: precondition(headers, header::IF_MATCH)?,
                projection,
            }
        }
        Route::DeleteGroup(id) => GroupOperation::Delete {
            id,
            if_match: precondition(headers, header::IF_MATCH)?,
        },
        _ => {
            return Err(ScimError::NotFound("not a /Groups endpoint".into()));
        }
    })
}

/// A list or search of groups: the filter in the form group stores serve, the page,
/// whether members are read. `sortBy` is ignored (groups come in their stable creation
/// order, which RFC 7644 §3.4.2.3 allows); RFC 9865 cursors are served on `/Users` only.
fn list(params: ListParams, config: &Config) -> Result<GroupOperation<'static>, ScimError> {
    if params.cursor.is_some() {
        return Err(ScimError::InvalidValue(
            "cursor paging is served on /Users; page /Groups with startIndex and count".into(),
        ));
    }
    let projection = projection(&params);
    let (start_index, count) = params.paging(config);
    let mut query = GroupQuery::all(count)
        .start_index(start_index)
        .members(projection.shows_members());
    if let Some(f) = params.filter.as_deref().filter(|f| !f.trim().is_empty()) {
        let f = filter::parse_tolerant(
            f,
            &config.filter_limits,
            config.compatibility.unquoted_filter_values,
        )?;
        query = query.filter(GroupFilter::from_filter(&f)?);
    }
    Ok(GroupOperation::List { query, projection })
}

/// The group part of a `POST /.search` (see [`super::parse::ListRequest::groups`]).
#[derive(Debug)]
pub(crate) struct GroupSearch {
    pub(crate) query: GroupQuery,
    pub(crate) projection: GroupProjection,
}

/// The group part of a `POST /.search` with these parameters: `None` when groups are
/// not served, with a cursor (RFC 9865 cursors page users), or when the filter names
/// what no group store serves (`userName eq ...`: no group has one).
pub(super) fn search(
    params: &ListParams,
    config: &Config,
) -> Result<Option<GroupSearch>, ScimError> {
    if !config.groups || params.cursor.is_some() {
        return Ok(None);
    }
    let projection = projection(params);
    let mut query = GroupQuery::all(0).members(projection.shows_members());
    if let Some(f) = params.filter.as_deref().filter(|f| !f.trim().is_empty()) {
        let f = filter::parse_tolerant(
            f,
            &config.filter_limits,
            config.compatibility.unquoted_filter_values,
        )?;
        match GroupFilter::from_filter(&f) {
            Ok(g) => query = query.filter(g),
            Err(_) => return Ok(None),
        }
    }
    Ok(Some(GroupSearch { query, projection }))
}

fn projection(params: &ListParams) -> GroupProjection {
    let joined = |v: &Option<Vec<String>>| v.as_ref().map(|items| items.join(","));
    GroupProjection::new(
        joined(&params.attributes).as_deref(),
        joined(&params.excluded).as_deref(),
    )
}

/// 400 when a write names more member ids than the server accepts.
fn check_members(named: usize, config: &Config) -> Result<(), ScimError> {
    let max = config.max_group_member_changes;
    if named > max {
        return Err(ScimError::InvalidValue(format!(
            "the request names {named} members; this server accepts at most {max} per request"
        )));
    }
    Ok(())
}
