//! Parse: a routed request → an [`Operation`]. The query string (`filter`, paging,
//! sorting, `attributes`), the headers (`Content-Type`, `If-Match`, `If-None-Match`) and
//! the JSON body, read and checked against the server's [`Config`].
//!
//! A pure function of the request and the configuration: no store, no clock, no
//! randomness, so it is tested and fuzzed without a runtime (the fuzz target
//! `parse_operation`). What needs the store or the caller's tenant (cursors, uniqueness,
//! versions) is left to [`execute`](super::execute).

use std::borrow::Cow;

use http::{Request, header};

use super::Config;
use super::params::{ListParams, body, precondition, query_params};
use super::route::{Document, Route};
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
    /// `GET /Groups` on a server that does not serve groups: always empty.
    ListGroups,
    /// A `/Groups` request on a server that serves groups.
    Group(super::parse_group::GroupOperation<'a>),
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
    /// `POST /.search` on a server that serves groups: the groups the same search
    /// finds, listed after the users (`None` for a user search, or when the filter names
    /// what no group has, or with a cursor, which pages users only).
    pub(crate) groups: Option<super::parse_group::GroupSearch>,
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
        Route::SearchAll => {
            let params = ListParams::from_search_request(body(req, config)?)?;
            let groups = super::parse_group::search(&params, config)?;
            let mut list = params.into_list(config, schemas)?;
            list.groups = groups;
            Operation::ListUsers(list)
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
        Route::ListGroups
        | Route::SearchGroups
        | Route::CreateGroup
        | Route::GetGroup(_)
        | Route::ReplaceGroup(_)
        | Route::PatchGroup(_)
        | Route::DeleteGroup(_)
            if config.groups =>
        {
            Operation::Group(super::parse_group::parse(route, req, config, schemas)?)
        }
        Route::ListGroups => Operation::ListGroups,
        Route::GetGroup(_) => {
            return Err(ScimError::NotFound(
                "groups are not supported by this server".into(),
            ));
        }
        Route::SearchGroups
        | Route::CreateGroup
        | Route::ReplaceGroup(_)
        | Route::PatchGroup(_)
        | Route::DeleteGroup(_) => {
            return Err(ScimError::NotImplemented(
                "groups are not supported by this server".into(),
            ));
        }
        Route::Document(d) => Operation::Document(d),
        Route::NotImplemented(what) => return Err(ScimError::NotImplemented(what.into())),
    })
}

impl ListParams {
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
            groups: None,
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
        (query.start_index, query.count) = self.paging(config);
        Ok(query)
    }
}

#[cfg(test)]
mod tests {
    use super::super::params::parse_query;
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
