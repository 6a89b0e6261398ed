//! The discovery endpoints (RFC 7644 §4, RFC 7643 §5–7): `/ServiceProviderConfig`,
//! `/ResourceTypes` and `/Schemas`. They say exactly what the server does.

use serde_json::{Value, json};

use super::Config;
use super::required::Required;
use crate::error::ScimError;
use crate::group::{GROUP_SCHEMA, GROUP_SCHEMA_DEF};
use crate::list::{ListPage, ListResponse};
use crate::schema::{
    RESOURCE_TYPE_SCHEMA, SERVICE_PROVIDER_CONFIG_SCHEMA, SchemaDef, SchemaSet, USER_SCHEMA,
};

/// The ServiceProviderConfig document.
pub(crate) fn service_provider_config(config: &Config, base: &str) -> Value {
    let mut doc = json!({
        "schemas": [SERVICE_PROVIDER_CONFIG_SCHEMA],
        "documentationUri": "https://docs.rs/scimkit",
        "patch": { "supported": true },
        "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
        "filter": { "supported": true, "maxResults": config.max_page_size },
        "changePassword": { "supported": false },
        "sort": { "supported": true },
        "etag": { "supported": true },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with an API key sent as a bearer token (Authorization: Bearer <key>).",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": true
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/ServiceProviderConfig")
        }
    });
    // RFC 9865's `pagination` only when the host asks for it (see
    // `Config::advertise_cursor_paging`): strict RFC 7643 clients refuse unknown members.
    if config.advertise_cursor_paging {
        doc["pagination"] = json!({
            "cursor": true,
            "index": true,
            "defaultPaginationMethod": "index",
            "defaultPageSize": config.default_page_size,
            "maxPageSize": config.max_page_size,
            "cursorTimeout": config.cursor_timeout.as_secs()
        });
    }
    doc
}

fn user_resource_type(base: &str, required: &[Required], schemas: &SchemaSet) -> Value {
    let extensions: Vec<Value> = schemas
        .all()
        .skip(1)
        .map(|s| {
            json!({
                "schema": s.id,
                "required": s.attributes.iter().any(|a| a.required)
                    || required.iter().any(|r| r.extension() == Some(s.id)),
            })
        })
        .collect();
    json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "User Account",
        "schema": USER_SCHEMA,
        "schemaExtensions": extensions,
        "meta": { "resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User") }
    })
}

/// The Group resource type, offered when the server serves groups.
fn group_resource_type(base: &str) -> Value {
    json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": "Group",
        "name": "Group",
        "endpoint": "/Groups",
        "description": "Group",
        "schema": GROUP_SCHEMA,
        "schemaExtensions": [],
        "meta": { "resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group") }
    })
}

/// `GET /ResourceTypes`: `User`, and `Group` when groups are served.
pub(crate) fn resource_types(
    base: &str,
    required: &[Required],
    schemas: &SchemaSet,
    groups: bool,
) -> Value {
    let mut types = vec![user_resource_type(base, required, schemas)];
    if groups {
        types.push(group_resource_type(base));
    }
    list(types)
}

/// `GET /ResourceTypes/{name}`.
pub(crate) fn resource_type(
    base: &str,
    name: &str,
    required: &[Required],
    schemas: &SchemaSet,
    groups: bool,
) -> Result<Value, ScimError> {
    if name == "User" {
        Ok(user_resource_type(base, required, schemas))
    } else if name == "Group" && groups {
        Ok(group_resource_type(base))
    } else {
        Err(ScimError::NotFound(format!("no resource type {name:?}")))
    }
}

fn schema_location(base: &str, schema: &SchemaDef) -> String {
    format!("{base}/Schemas/{}", schema.id)
}

/// The schemas the server advertises: the User schema and its extensions, and the Group
/// schema when groups are served.
fn advertised<'s>(
    schemas: &'s SchemaSet,
    groups: bool,
) -> impl Iterator<Item = &'static SchemaDef> + 's {
    schemas.all().chain(groups.then_some(&GROUP_SCHEMA_DEF))
}

/// `GET /Schemas`.
pub(crate) fn schemas(
    base: &str,
    required: &[Required],
    schemas: &SchemaSet,
    groups: bool,
) -> Value {
    list(
        advertised(schemas, groups)
            .map(|s| schema_json(base, s, required))
            .collect(),
    )
}

fn schema_json(base: &str, schema: &SchemaDef, required: &[Required]) -> Value {
    let mut doc = schema.to_json(&schema_location(base, schema));
    super::required::advertise(required, schema.id, &mut doc);
    doc
}

/// `GET /Schemas/{urn}`.
pub(crate) fn schema(
    base: &str,
    id: &str,
    required: &[Required],
    schemas: &SchemaSet,
    groups: bool,
) -> Result<Value, ScimError> {
    advertised(schemas, groups)
        .find(|s| s.id.eq_ignore_ascii_case(id))
        .map(|s| schema_json(base, s, required))
        .ok_or_else(|| ScimError::NotFound(format!("no schema {id:?}")))
}

fn list(items: Vec<Value>) -> Value {
    let page = ListPage::new(items.len(), items);
    serde_json::to_value(ListResponse::new(page, 1)).unwrap_or(Value::Null)
}
