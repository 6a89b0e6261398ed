//! Route: method + path (after the configured base path) → [`Route`], decided before
//! anything else of the request is read.

use std::borrow::Cow;

use http::Method;

use crate::error::ScimError;

/// The route of a request to `path` under `base_path`: 404 on an unknown endpoint, 405
/// for a method the endpoint does not allow.
///
/// A path outside the base path is taken as one under it: a host that mounts the server
/// under its base path may strip it (axum's `nest_service` does). When such a path is no
/// endpoint either, the 404 names the base path.
pub(crate) fn route<'a>(
    base_path: &str,
    method: &Method,
    path: &'a str,
) -> Result<Route<'a>, ScimError> {
    let (rest, stripped) = match path
        .strip_prefix(base_path)
        .filter(|r| r.is_empty() || r.starts_with('/'))
    {
        Some(rest) => (rest, false),
        None => (path, true),
    };
    let endpoint = Endpoint::parse(rest).map_err(|e| {
        if stripped && !base_path.is_empty() {
            ScimError::NotFound(format!(
                "no SCIM endpoint at {path:?}: the base path is {base_path:?}"
            ))
        } else {
            e
        }
    })?;
    endpoint.route(method)
}

/// The endpoints this server knows (RFC 7644 §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Endpoint<'a> {
    Users,
    User(Cow<'a, str>),
    UsersSearch,
    /// `POST /.search`: every resource type the server serves.
    RootSearch,
    Groups,
    Group(Cow<'a, str>),
    GroupsSearch,
    Document(Document<'a>),
    Me,
    Bulk,
}

/// A discovery document (RFC 7644 §4): the same at every stage of the pipeline, from the
/// endpoint to the operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Document<'a> {
    ServiceProviderConfig,
    ResourceTypes,
    ResourceType(Cow<'a, str>),
    Schemas,
    Schema(Cow<'a, str>),
}

/// What a request asks for, decided from its method and path alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route<'a> {
    ListUsers,
    CreateUser,
    GetUser(Cow<'a, str>),
    ReplaceUser(Cow<'a, str>),
    PatchUser(Cow<'a, str>),
    DeleteUser(Cow<'a, str>),
    SearchUsers,
    SearchAll,
    ListGroups,
    SearchGroups,
    CreateGroup,
    GetGroup(Cow<'a, str>),
    ReplaceGroup(Cow<'a, str>),
    PatchGroup(Cow<'a, str>),
    DeleteGroup(Cow<'a, str>),
    Document(Document<'a>),
    NotImplemented(&'static str),
}

impl Route<'_> {
    /// The operation's name, as logs and traces show it.
    pub(crate) fn operation(&self) -> &'static str {
        match self {
            Route::ListUsers => "list_users",
            Route::CreateUser => "create_user",
            Route::GetUser(_) => "get_user",
            Route::ReplaceUser(_) => "replace_user",
            Route::PatchUser(_) => "patch_user",
            Route::DeleteUser(_) => "delete_user",
            Route::SearchUsers => "search_users",
            Route::SearchAll => "search",
            Route::ListGroups => "list_groups",
            Route::SearchGroups => "search_groups",
            Route::CreateGroup => "create_group",
            Route::GetGroup(_) => "get_group",
            Route::ReplaceGroup(_) => "replace_group",
            Route::PatchGroup(_) => "patch_group",
            Route::DeleteGroup(_) => "delete_group",
            Route::Document(Document::ServiceProviderConfig) => "service_provider_config",
            Route::Document(Document::ResourceTypes | Document::ResourceType(_)) => {
                "resource_types"
            }
            Route::Document(Document::Schemas | Document::Schema(_)) => "schemas",
            Route::NotImplemented(_) => "not_implemented",
        }
    }
}

impl<'a> Endpoint<'a> {
    /// Parses the part of the path after the base path (`/Users/2819c223`).
    pub(crate) fn parse(rest: &'a str) -> Result<Self, ScimError> {
        let not_found = || ScimError::NotFound(format!("no SCIM endpoint at {rest:?}"));
        let trimmed = rest.strip_prefix('/').ok_or_else(not_found)?;
        // A base URL configured with a trailing slash makes clients send `//Users`.
        let trimmed = trimmed.trim_start_matches('/');
        let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
        let mut parts = trimmed.split('/');
        let first = parts.next().unwrap_or_default();
        let second = parts.next();
        if parts.next().is_some() {
            return Err(not_found());
        }
        let second = second.map(percent_decode_path).transpose()?;
        let is = |name: &str| first.eq_ignore_ascii_case(name);
        let doc = Self::Document;
        Ok(match second {
            None if is("Users") => Self::Users,
            None if first == ".search" => Self::RootSearch,
            Some(s) if is("Users") && s.as_ref() == ".search" => Self::UsersSearch,
            Some(id) if is("Users") && !id.is_empty() => Self::User(id),
            None if is("Groups") => Self::Groups,
            Some(s) if is("Groups") && s.as_ref() == ".search" => Self::GroupsSearch,
            Some(id) if is("Groups") && !id.is_empty() => Self::Group(id),
            None if is("ServiceProviderConfig") => doc(Document::ServiceProviderConfig),
            None if is("ResourceTypes") => doc(Document::ResourceTypes),
            Some(n) if is("ResourceTypes") => doc(Document::ResourceType(n)),
            None if is("Schemas") => doc(Document::Schemas),
            Some(n) if is("Schemas") => doc(Document::Schema(n)),
            None if is("Me") => Self::Me,
            None if is("Bulk") => Self::Bulk,
            _ => return Err(not_found()),
        })
    }

    /// Picks the route for `method`, or 405 with the methods this endpoint allows.
    pub(crate) fn route(self, method: &Method) -> Result<Route<'a>, ScimError> {
        let m = method.as_str();
        let not_allowed = |allowed| Err(ScimError::MethodNotAllowed { allowed });
        Ok(match (self, m) {
            (Self::Users, "GET") => Route::ListUsers,
            (Self::Users, "POST") => Route::CreateUser,
            (Self::Users, _) => return not_allowed("GET, POST"),
            (Self::User(id), "GET") => Route::GetUser(id),
            (Self::User(id), "PUT") => Route::ReplaceUser(id),
            (Self::User(id), "PATCH") => Route::PatchUser(id),
            (Self::User(id), "DELETE") => Route::DeleteUser(id),
            (Self::User(_), _) => return not_allowed("GET, PUT, PATCH, DELETE"),
            (Self::UsersSearch, "POST") => Route::SearchUsers,
            (Self::UsersSearch, _) => return not_allowed("POST"),
            (Self::RootSearch, "POST") => Route::SearchAll,
            (Self::RootSearch, _) => return not_allowed("POST"),
            (Self::Groups, "GET") => Route::ListGroups,
            (Self::Groups, "POST") => Route::CreateGroup,
            (Self::Groups, _) => return not_allowed("GET, POST"),
            (Self::GroupsSearch, "POST") => Route::SearchGroups,
            (Self::GroupsSearch, _) => return not_allowed("POST"),
            (Self::Group(id), "GET") => Route::GetGroup(id),
            (Self::Group(id), "PUT") => Route::ReplaceGroup(id),
            (Self::Group(id), "PATCH") => Route::PatchGroup(id),
            (Self::Group(id), "DELETE") => Route::DeleteGroup(id),
            (Self::Group(_), _) => return not_allowed("GET, PUT, PATCH, DELETE"),
            (Self::Document(d), "GET") => Route::Document(d),
            (Self::Document(_), _) => return not_allowed("GET"),
            (Self::Me, _) => Route::NotImplemented("the /Me endpoint is not supported"),
            (Self::Bulk, "POST") => Route::NotImplemented("bulk operations are not supported"),
            (Self::Bulk, _) => return not_allowed("POST"),
        })
    }
}

/// Percent-decodes `s`; with `plus_is_space`, `+` decodes to a space (form encoding, which
/// Entra ID uses in filters). A `%` not followed by two hex digits is kept literally.
pub(super) fn percent_decode(
    s: &str,
    plus_is_space: bool,
) -> Result<Cow<'_, str>, std::str::Utf8Error> {
    if plus_is_space && s.contains('+') {
        let spaced = s.replace('+', " ");
        return percent_encoding::percent_decode_str(&spaced)
            .decode_utf8()
            .map(|d| Cow::Owned(d.into_owned()));
    }
    percent_encoding::percent_decode_str(s).decode_utf8()
}

fn percent_decode_path(segment: &str) -> Result<Cow<'_, str>, ScimError> {
    if !segment.contains('%') {
        return Ok(Cow::Borrowed(segment));
    }
    percent_decode(segment, false)
        .map_err(|_| ScimError::NotFound("path is not valid UTF-8 after decoding".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse() {
        assert_eq!(Endpoint::parse("/Users").unwrap(), Endpoint::Users);
        assert_eq!(Endpoint::parse("/users/").unwrap(), Endpoint::Users);
        assert_eq!(Endpoint::parse("//Users").unwrap(), Endpoint::Users);
        assert_eq!(
            Endpoint::parse("/Users/a%20b").unwrap(),
            Endpoint::User("a b".into())
        );
        assert_eq!(
            Endpoint::parse("/Users/.search").unwrap(),
            Endpoint::UsersSearch
        );
        assert_eq!(
            Endpoint::parse("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User").unwrap(),
            Endpoint::Document(Document::Schema(
                "urn:ietf:params:scim:schemas:core:2.0:User".into()
            ))
        );
        assert!(Endpoint::parse("/Users/a/b").is_err());
        assert!(Endpoint::parse("/Widgets").is_err());
        assert!(Endpoint::parse("").is_err());
        assert!(Endpoint::parse("/Users/%FF").is_err());
    }

    #[test]
    fn methods_route_or_405() {
        assert_eq!(
            Endpoint::Users.route(&Method::DELETE),
            Err(ScimError::MethodNotAllowed {
                allowed: "GET, POST"
            })
        );
        assert_eq!(
            Endpoint::User("x".into()).route(&Method::PUT),
            Ok(Route::ReplaceUser("x".into()))
        );
    }
}
