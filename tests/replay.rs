//! Recorded IdP traffic, replayed through `ScimServer::handle`.
//!
//! Every file under `tests/fixtures/<client>/` is one flow of one identity provider,
//! written from that client's public documentation or published test suite (named in the
//! file's `source`). Each file has its own test below, named `<client>_<file stem>`;
//! `every_fixture_file_has_a_test` fails when a file has none.
//!
//! # Fixture format
//!
//! ```json
//! {
//!   "client": "okta",
//!   "source": "Okta SCIM 2.0 Spec Test (Runscope), steps 1-12",
//!   "description": "what this flow is and which behaviour it pins",
//!   "variables": {"user_name": "jdoe@example.com"},
//!   "steps": [{
//!     "name": "create the user",
//!     "request": {
//!       "method": "POST",
//!       "path": "/Users",
//!       "headers": {"content-type": "application/json"},
//!       "body": {"userName": "{{user_name}}"}
//!     },
//!     "capture": {"user_id": "$.id", "etag": "header:etag"},
//!     "expect": {
//!       "status": 201,
//!       "headers": {"content-type": "application/scim+json", "location": "{{base_url}}/Users/{{user_id}}"},
//!       "body": {"id": "$string", "emails": {"$contains": [{"value": "{{user_name}}"}]}},
//!       "absent": ["password", "/meta/password"]
//!     }
//!   }]
//! }
//! ```
//!
//! Requests:
//!
//! - `path` is relative to the base path `/scim/v2` and carries the query string exactly
//!   as the client puts it on the wire (`+` or `%20` for spaces, `%40`, `%2B`, a bare
//!   `aadOptscim062020`). `http::Uri` refuses a raw `"` in a query, so quotes are `%22`.
//! - Default headers: `host: scim.example.com`, `authorization: Bearer <the test key>`
//!   and, when there is a body, `content-type: application/scim+json`. A header given in
//!   the fixture replaces the default of the same name; `null` removes it.
//! - `body` is JSON, or `null` for none.
//!
//! `"groups": true` replays against a server that serves the Group resource (a memory
//! group store); without it, groups are off, as in the example server.
//!
//! Variables: `{{name}}` in paths, header values, bodies and expectations is replaced by
//! a variable: the fixture's `variables`, the values captured by earlier steps (and by
//! the current step, whose captures are taken before its expectations are checked), and
//! the built-ins `{{key}}` (the bearer key) and `{{base_url}}`
//! (`http://scim.example.com/scim/v2`). A string that is exactly `"{{name}}"` takes the
//! captured JSON value as it is (a number stays a number); elsewhere the value is
//! spliced into the string. An unknown variable fails the test.
//!
//! Captures: `"$"` is the response body; `.name` and `["name"]` select a member (use the
//! bracket form for URNs, whose names contain dots), `[0]` an array element.
//! `"header:<name>"` captures a response header.
//!
//! Expectations:
//!
//! - `status` (required) is compared exactly.
//! - `headers`: each named header must have exactly that value (after variables), or
//!   match a placeholder below; `"$absent"` means the header must not be sent.
//! - `body` is a *subset matcher*; `null` means the response has no body. Comparing an
//!   expected value `e` with the actual `a`:
//!   - objects: every key of `e` must be in `a` with a matching value; keys of `a` that
//!     `e` does not mention are ignored;
//!   - arrays: by default `a` must have the same length and match element-wise, in
//!     order; `{"$contains": [x, y]}` instead asks that each of `x`, `y` match some
//!     distinct element of `a`, in any order, other elements allowed;
//!   - scalars: JSON equality (strings are case-sensitive);
//!   - placeholders (strings): `"$any"` any value but `null`; `"$string"`, `"$integer"`,
//!     `"$boolean"` any value of that JSON type; `"$absent"` the key must be missing;
//!     `"$blank"` the key is missing, `null` or `""` (what the Microsoft SCIM validator
//!     accepts after clearing an attribute).
//! - `absent`: keys that must not appear in the response body: a top-level member name,
//!   or a JSON pointer (`/Resources/0/password`).
//!
//! A failure names the fixture, the step and every mismatch, with the response.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

const BASE_PATH: &str = "/scim/v2";
const HOST: &str = "scim.example.com";

// --- Okta --------------------------------------------------------------------------

#[tokio::test]
async fn okta_spec_test() {
    replay("okta/spec_test.json").await;
}

#[tokio::test]
async fn okta_create_user() {
    replay("okta/create_user.json").await;
}

#[tokio::test]
async fn okta_import_paging() {
    replay("okta/import_paging.json").await;
}

#[tokio::test]
async fn okta_profile_update_put() {
    replay("okta/profile_update_put.json").await;
}

#[tokio::test]
async fn okta_deactivate_reactivate() {
    replay("okta/deactivate_reactivate.json").await;
}

#[tokio::test]
async fn okta_errors() {
    replay("okta/errors.json").await;
}

#[tokio::test]
async fn okta_group_push() {
    replay("okta/group_push.json").await;
}

// --- Microsoft Entra ID ------------------------------------------------------------

#[tokio::test]
async fn entra_group_provisioning() {
    replay("entra/group_provisioning.json").await;
}

#[tokio::test]
async fn entra_test_connection() {
    replay("entra/test_connection.json").await;
}

#[tokio::test]
async fn entra_user_lifecycle() {
    replay("entra/user_lifecycle.json").await;
}

#[tokio::test]
async fn entra_default_mode_patch() {
    replay("entra/default_mode_patch.json").await;
}

#[tokio::test]
async fn entra_aadoptscim062020_patch() {
    replay("entra/aadoptscim062020_patch.json").await;
}

#[tokio::test]
async fn entra_string_booleans() {
    replay("entra/string_booleans.json").await;
}

#[tokio::test]
async fn entra_manager() {
    replay("entra/manager.json").await;
}

#[tokio::test]
async fn entra_validator_user_tests() {
    replay("entra/validator_user_tests.json").await;
}

#[tokio::test]
async fn entra_validator_null_update() {
    replay("entra/validator_null_update.json").await;
}

#[tokio::test]
async fn entra_validator_pagination() {
    replay("entra/validator_pagination.json").await;
}

// --- OneLogin ----------------------------------------------------------------------

#[tokio::test]
async fn onelogin_provisioning() {
    replay("onelogin/provisioning.json").await;
}

#[tokio::test]
async fn onelogin_custom_templates() {
    replay("onelogin/custom_templates.json").await;
}

// --- JumpCloud ---------------------------------------------------------------------

#[tokio::test]
async fn jumpcloud_group_membership() {
    replay("jumpcloud/group_membership.json").await;
}

#[tokio::test]
async fn jumpcloud_test_connection() {
    replay("jumpcloud/test_connection.json").await;
}

#[tokio::test]
async fn jumpcloud_provisioning() {
    replay("jumpcloud/provisioning.json").await;
}

// --- PingFederate ------------------------------------------------------------------

#[tokio::test]
async fn pingfederate_provisioning() {
    replay("pingfederate/provisioning.json").await;
}

#[tokio::test]
async fn pingfederate_filter_expressions() {
    replay("pingfederate/filter_expressions.json").await;
}

// --- Canaille, WSO2 Identity Server, authentik ------------------------------------------

#[tokio::test]
async fn canaille_provisioning() {
    replay("canaille/provisioning.json").await;
}

#[tokio::test]
async fn wso2_outbound_provisioning() {
    replay("wso2/outbound_provisioning.json").await;
}

#[tokio::test]
async fn authentik_relink_after_conflict() {
    replay("authentik/relink_after_conflict.json").await;
}

// --- the harness ----------------------------------------------------------------------

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Replays one fixture file (relative to `tests/fixtures/`) against a fresh server.
async fn replay(relative: &str) {
    let path = fixtures_dir().join(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {relative}: cannot read {}: {e}", path.display()));
    let doc: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("fixture {relative}: not valid JSON: {e}"));
    let fixture =
        Fixture::parse(relative, &doc).unwrap_or_else(|e| panic!("fixture {relative}: {e}"));
    let server = if fixture.groups {
        common::server_with_groups()
    } else {
        common::server()
    };
    let mut vars = fixture.variables.clone();
    vars.insert("key".into(), Value::String(common::KEY.into()));
    vars.insert(
        "base_url".into(),
        Value::String(format!("http://{HOST}{BASE_PATH}")),
    );
    for (n, step) in fixture.steps.iter().enumerate() {
        let context = format!("fixture {relative}, step {} {:?}", n + 1, step.name);
        let (request, sent_body) = step
            .build_request(&vars)
            .unwrap_or_else(|e| panic!("{context}: cannot build the request: {e}"));
        let response = server.handle(request).await;
        let reply =
            Reply::from(response).unwrap_or_else(|e| panic!("{context}: unreadable response: {e}"));
        for (name, source) in &step.capture {
            let value = reply
                .capture(source)
                .unwrap_or_else(|e| panic!("{context}: capture {name:?}: {e}\n{}", reply.show()));
            vars.insert(name.clone(), value);
        }
        let problems = step.expect.check(&reply, &vars);
        if !problems.is_empty() {
            let mut msg = format!("{context}: the response does not match\n");
            for p in &problems {
                let _ = writeln!(msg, "  - {p}");
            }
            let _ = write!(
                msg,
                "request: {} {}\n{}",
                step.method,
                step.path,
                sent_body.map(|b| format!("{b}\n")).unwrap_or_default()
            );
            let _ = write!(msg, "response: {}", reply.show());
            panic!("{msg}");
        }
    }
}

/// One fixture file.
struct Fixture {
    /// Whether the server serves groups (`"groups": true`; off by default, as in the
    /// example server).
    groups: bool,
    variables: BTreeMap<String, Value>,
    steps: Vec<Step>,
}

struct Step {
    name: String,
    method: String,
    path: String,
    /// Header name (lower case) → value, or `None` to drop a default header.
    headers: Vec<(String, Option<String>)>,
    body: Option<Value>,
    capture: Vec<(String, String)>,
    expect: Expect,
}

struct Expect {
    status: u16,
    headers: Vec<(String, Value)>,
    /// `None`: not checked; `Some(Value::Null)`: no body.
    body: Option<Value>,
    absent: Vec<String>,
}

fn object<'a>(
    v: &'a Value,
    what: &str,
    allowed: &[&str],
) -> Result<&'a Map<String, Value>, String> {
    let obj = v
        .as_object()
        .ok_or_else(|| format!("{what} must be a JSON object"))?;
    if let Some(k) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(format!(
            "{what} has an unknown member {k:?} (allowed: {allowed:?})"
        ));
    }
    Ok(obj)
}

fn string(obj: &Map<String, Value>, key: &str, what: &str) -> Result<String, String> {
    obj.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(str::to_owned)
        .ok_or_else(|| format!("{what} needs a non-empty string {key:?}"))
}

fn string_map(v: Option<&Value>, what: &str) -> Result<Vec<(String, String)>, String> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let obj = v
        .as_object()
        .ok_or_else(|| format!("{what} must be an object"))?;
    obj.iter()
        .map(|(k, v)| {
            v.as_str()
                .map(|s| (k.clone(), s.to_owned()))
                .ok_or_else(|| format!("{what}.{k} must be a string"))
        })
        .collect()
}

impl Fixture {
    fn parse(relative: &str, doc: &Value) -> Result<Self, String> {
        let top = object(
            doc,
            "the fixture",
            &[
                "client",
                "source",
                "description",
                "groups",
                "variables",
                "steps",
            ],
        )?;
        let client = string(top, "client", "the fixture")?;
        let dir = relative.split('/').next().unwrap_or_default();
        if client != dir {
            return Err(format!(
                "\"client\" is {client:?} but the file is under {dir}/"
            ));
        }
        string(top, "source", "the fixture")?;
        string(top, "description", "the fixture")?;
        let variables = match top.get("variables") {
            None => BTreeMap::new(),
            Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            Some(_) => return Err("\"variables\" must be an object".into()),
        };
        let steps = top
            .get("steps")
            .and_then(Value::as_array)
            .filter(|s| !s.is_empty())
            .ok_or("the fixture needs a non-empty \"steps\" array")?
            .iter()
            .enumerate()
            .map(|(i, s)| Step::parse(s).map_err(|e| format!("step {}: {e}", i + 1)))
            .collect::<Result<_, _>>()?;
        let groups = match top.get("groups") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err("\"groups\" must be true or false".into()),
        };
        Ok(Self {
            variables,
            steps,
            groups,
        })
    }
}

impl Step {
    fn parse(v: &Value) -> Result<Self, String> {
        let step = object(v, "a step", &["name", "request", "expect", "capture"])?;
        let name = string(step, "name", "a step")?;
        let request = object(
            step.get("request").ok_or("a step needs a \"request\"")?,
            "\"request\"",
            &["method", "path", "headers", "body"],
        )?;
        let method = string(request, "method", "\"request\"")?;
        let path = string(request, "path", "\"request\"")?;
        if !path.starts_with('/') {
            return Err(format!(
                "the path {path:?} must start with '/' (it is relative to {BASE_PATH})"
            ));
        }
        let headers = match request.get("headers") {
            None => Vec::new(),
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.to_ascii_lowercase(), Some(s.clone()))),
                    Value::Null => Ok((k.to_ascii_lowercase(), None)),
                    _ => Err(format!("request header {k:?} must be a string or null")),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err("request \"headers\" must be an object".into()),
        };
        let body = request.get("body").filter(|b| !b.is_null()).cloned();
        let capture = string_map(step.get("capture"), "\"capture\"")?;
        let expect = Expect::parse(step.get("expect").ok_or("a step needs an \"expect\"")?)?;
        Ok(Self {
            name,
            method,
            path,
            headers,
            body,
            capture,
            expect,
        })
    }

    /// The request to send, and its body as text (for failure messages).
    fn build_request(
        &self,
        vars: &BTreeMap<String, Value>,
    ) -> Result<(http::Request<Vec<u8>>, Option<String>), String> {
        let body = self
            .body
            .as_ref()
            .map(|b| substitute(b, vars))
            .transpose()?;
        let mut headers: Vec<(String, String)> = vec![
            ("host".into(), HOST.into()),
            ("authorization".into(), format!("Bearer {}", common::KEY)),
        ];
        if body.is_some() {
            headers.push(("content-type".into(), "application/scim+json".into()));
        }
        for (name, value) in &self.headers {
            headers.retain(|(n, _)| n != name);
            if let Some(v) = value {
                headers.push((name.clone(), interpolate(v, vars)?));
            }
        }
        let uri = format!("{BASE_PATH}{}", interpolate(&self.path, vars)?);
        let mut builder = http::Request::builder()
            .method(self.method.as_str())
            .uri(&uri);
        for (n, v) in &headers {
            builder = builder.header(n.as_str(), v.as_str());
        }
        let text = body
            .as_ref()
            .map(|b| serde_json::to_string_pretty(b).unwrap_or_default());
        let bytes = body
            .map(|b| serde_json::to_vec(&b).unwrap_or_default())
            .unwrap_or_default();
        let request = builder
            .body(bytes)
            .map_err(|e| format!("{} {uri}: {e}", self.method))?;
        Ok((request, text))
    }
}

impl Expect {
    fn parse(v: &Value) -> Result<Self, String> {
        let expect = object(v, "\"expect\"", &["status", "headers", "body", "absent"])?;
        let status = expect
            .get("status")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .ok_or("\"expect\" needs a numeric \"status\"")?;
        let headers = match expect.get("headers") {
            None => Vec::new(),
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                .collect(),
            Some(_) => return Err("expected \"headers\" must be an object".into()),
        };
        let absent = match expect.get("absent") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_owned)
                        .ok_or("\"absent\" lists strings")
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err("\"absent\" must be an array of strings".into()),
        };
        Ok(Self {
            status,
            headers,
            body: expect.get("body").cloned(),
            absent,
        })
    }

    /// Every way `reply` differs from this expectation.
    fn check(&self, reply: &Reply, vars: &BTreeMap<String, Value>) -> Vec<String> {
        let mut problems = Vec::new();
        if reply.status != self.status {
            problems.push(format!(
                "status: expected {}, got {}",
                self.status, reply.status
            ));
        }
        for (name, expected) in &self.headers {
            let expected = match substitute(expected, vars) {
                Ok(e) => e,
                Err(e) => {
                    problems.push(format!("header {name}: {e}"));
                    continue;
                }
            };
            let actual = reply.header(name).map(|v| Value::String(v.to_owned()));
            matches(
                &expected,
                actual.as_ref(),
                &format!("header {name}"),
                &mut problems,
            );
        }
        match &self.body {
            None => {}
            Some(Value::Null) if reply.json.is_null() => {}
            Some(Value::Null) => problems.push(format!("body: expected none, got {}", reply.json)),
            Some(expected) => match substitute(expected, vars) {
                Ok(e) => matches(&e, Some(&reply.json), "$", &mut problems),
                Err(e) => problems.push(format!("body: {e}")),
            },
        }
        for key in &self.absent {
            let found = if key.starts_with('/') {
                reply.json.pointer(key)
            } else {
                reply.json.get(key)
            };
            if let Some(v) = found {
                problems.push(format!("{key}: expected absent, got {v}"));
            }
        }
        problems
    }
}

/// Compares an expected value (variables already substituted) with the actual one, which
/// is `None` when the key or header is missing. Pushes one line per mismatch.
fn matches(expected: &Value, actual: Option<&Value>, at: &str, problems: &mut Vec<String>) {
    let show = |a: Option<&Value>| a.map_or("nothing".to_owned(), Value::to_string);
    if let Value::String(p) = expected {
        let ok = match p.as_str() {
            "$absent" => Some(actual.is_none()),
            "$blank" => Some(
                matches!(actual, None | Some(Value::Null))
                    || actual == Some(&Value::String(String::new())),
            ),
            "$any" => Some(actual.is_some_and(|a| !a.is_null())),
            "$string" => Some(actual.is_some_and(Value::is_string)),
            "$integer" => Some(actual.is_some_and(|a| a.is_i64() || a.is_u64())),
            "$boolean" => Some(actual.is_some_and(Value::is_boolean)),
            _ => None,
        };
        if let Some(ok) = ok {
            if !ok {
                problems.push(format!("{at}: expected {p}, got {}", show(actual)));
            }
            return;
        }
    }
    let Some(actual) = actual else {
        problems.push(format!("{at}: expected {expected}, got nothing"));
        return;
    };
    match expected {
        Value::Object(e) if e.len() == 1 && e.contains_key("$contains") => {
            let (Some(wanted), Some(items)) = (e["$contains"].as_array(), actual.as_array()) else {
                problems.push(format!(
                    "{at}: expected an array containing {}, got {actual}",
                    e["$contains"]
                ));
                return;
            };
            let mut used = vec![false; items.len()];
            for w in wanted {
                let hit = items.iter().enumerate().find(|(i, item)| {
                    let mut scratch = Vec::new();
                    !used[*i] && {
                        matches(w, Some(item), at, &mut scratch);
                        scratch.is_empty()
                    }
                });
                match hit {
                    Some((i, _)) => used[i] = true,
                    None => problems.push(format!("{at}: no element matches {w} in {actual}")),
                }
            }
        }
        Value::Object(e) => {
            let Some(a) = actual.as_object() else {
                problems.push(format!("{at}: expected an object, got {actual}"));
                return;
            };
            for (k, v) in e {
                matches(v, a.get(k), &member_path(at, k), problems);
            }
        }
        Value::Array(e) => {
            let Some(a) = actual.as_array() else {
                problems.push(format!("{at}: expected an array, got {actual}"));
                return;
            };
            if a.len() != e.len() {
                problems.push(format!(
                    "{at}: expected {} element(s), got {}: {actual}",
                    e.len(),
                    a.len()
                ));
                return;
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                matches(ev, Some(av), &format!("{at}[{i}]"), problems);
            }
        }
        scalar => {
            if scalar != actual {
                problems.push(format!("{at}: expected {scalar}, got {actual}"));
            }
        }
    }
}

fn member_path(at: &str, key: &str) -> String {
    if key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
    {
        format!("{at}.{key}")
    } else {
        format!("{at}[{key:?}]")
    }
}

/// Replaces `{{name}}` everywhere in a JSON value (strings only, keys included).
fn substitute(v: &Value, vars: &BTreeMap<String, Value>) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) => {
            if let Some(name) = s.strip_prefix("{{").and_then(|r| r.strip_suffix("}}")) {
                if !name.contains("{{") {
                    return vars
                        .get(name)
                        .cloned()
                        .ok_or_else(|| format!("unknown variable {{{{{name}}}}}"));
                }
            }
            Value::String(interpolate(s, vars)?)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| substitute(i, vars))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| Ok((interpolate(k, vars)?, substitute(v, vars)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// Splices variables into a string.
fn interpolate(s: &str, vars: &BTreeMap<String, Value>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("unclosed {{{{ in {s:?}"))?;
        let name = &after[..end];
        match vars.get(name) {
            Some(Value::String(v)) => out.push_str(v),
            Some(other) => out.push_str(&other.to_string()),
            None => return Err(format!("unknown variable {{{{{name}}}}} in {s:?}")),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A response: status, headers and the body as JSON (`Null` when empty).
struct Reply {
    status: u16,
    headers: http::HeaderMap,
    json: Value,
}

impl Reply {
    fn from(resp: http::Response<Vec<u8>>) -> Result<Self, String> {
        let json = if resp.body().is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(resp.body()).map_err(|e| {
                format!(
                    "the body is not JSON ({e}): {}",
                    String::from_utf8_lossy(resp.body())
                )
            })?
        };
        Ok(Self {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            json,
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn show(&self) -> String {
        let mut s = format!("{}\n", self.status);
        for (n, v) in &self.headers {
            let _ = writeln!(s, "{n}: {}", v.to_str().unwrap_or("<binary>"));
        }
        s.push_str(&serde_json::to_string_pretty(&self.json).unwrap_or_default());
        s
    }

    /// The value at a capture source: `$...` in the body or `header:<name>`.
    fn capture(&self, source: &str) -> Result<Value, String> {
        if let Some(name) = source.strip_prefix("header:") {
            return self
                .header(name)
                .map(|v| Value::String(v.to_owned()))
                .ok_or_else(|| format!("no {name} header"));
        }
        let mut rest = source
            .strip_prefix('$')
            .ok_or_else(|| format!("{source:?} must start with '$' or 'header:'"))?;
        let mut at = &self.json;
        while !rest.is_empty() {
            let (next, remaining) = if let Some(r) = rest.strip_prefix("[\"") {
                let end = r
                    .find("\"]")
                    .ok_or_else(|| format!("unclosed [\" in {source:?}"))?;
                (at.get(&r[..end]), &r[end + 2..])
            } else if let Some(r) = rest.strip_prefix('[') {
                let end = r
                    .find(']')
                    .ok_or_else(|| format!("unclosed [ in {source:?}"))?;
                let i: usize = r[..end]
                    .parse()
                    .map_err(|_| format!("bad index in {source:?}"))?;
                (at.get(i), &r[end + 1..])
            } else if let Some(r) = rest.strip_prefix('.') {
                let end = r.find(['.', '[']).unwrap_or(r.len());
                (at.get(&r[..end]), &r[end..])
            } else {
                return Err(format!("cannot read {source:?} from {rest:?}"));
            };
            at = next.ok_or_else(|| format!("nothing at {source:?}"))?;
            rest = remaining;
        }
        Ok(at.clone())
    }
}

// --- the harness checks itself --------------------------------------------------------

/// Every fixture file has a test in this file named after it that replays it.
#[test]
fn every_fixture_file_has_a_test() {
    let source = include_str!("replay.rs");
    let mut missing = Vec::new();
    let mut count = 0;
    for client in std::fs::read_dir(fixtures_dir()).expect("tests/fixtures exists") {
        let client = client.unwrap().path();
        assert!(
            client.is_dir(),
            "{}: put fixtures in a per-client directory",
            client.display()
        );
        let client_name = client.file_name().unwrap().to_str().unwrap().to_owned();
        for file in std::fs::read_dir(&client).unwrap() {
            let file = file.unwrap().path();
            let name = file.file_name().unwrap().to_str().unwrap().to_owned();
            let stem = name
                .strip_suffix(".json")
                .unwrap_or_else(|| panic!("{}: fixtures are .json files", file.display()));
            count += 1;
            let test = format!(
                "async fn {client_name}_{stem}() {{\n    replay(\"{client_name}/{name}\").await;\n}}"
            );
            if !source.contains(&test) {
                missing.push(test);
            }
        }
    }
    assert!(count > 0, "no fixtures found");
    assert!(
        missing.is_empty(),
        "fixtures without a test; add to tests/replay.rs:\n\n{}",
        missing
            .iter()
            .map(|t| format!("#[tokio::test]\n{t}"))
            .collect::<Vec<_>>()
            .join("\n\n")
    );
}

#[test]
fn the_subset_matcher_does_what_the_module_documentation_says() {
    let actual = serde_json::json!({
        "id": "42", "active": false, "n": 3, "emails": [{"value": "a", "type": "work"}, {"value": "b"}],
        "empty": "", "nothing": null
    });
    let ok = |e: Value| {
        let mut p = Vec::new();
        matches(&e, Some(&actual), "$", &mut p);
        p
    };
    assert!(
        ok(serde_json::json!({"id": "$string", "active": "$boolean", "n": "$integer"})).is_empty()
    );
    assert!(ok(serde_json::json!({"emails": [{"value": "a"}, {}]})).is_empty());
    assert!(ok(serde_json::json!({"emails": {"$contains": [{"value": "b"}]}})).is_empty());
    assert!(ok(serde_json::json!({"missing": "$absent", "empty": "$blank", "nothing": "$blank", "gone": "$blank"})).is_empty());
    assert_eq!(
        ok(serde_json::json!({"emails": [{"value": "a"}]})).len(),
        1,
        "lengths differ"
    );
    assert_eq!(
        ok(serde_json::json!({"emails": {"$contains": [{"value": "a"}, {"value": "a"}]}})).len(),
        1,
        "distinct elements"
    );
    assert_eq!(ok(serde_json::json!({"id": 42})).len(), 1, "types differ");
    assert_eq!(
        ok(serde_json::json!({"nothing": "$any", "id": "$absent"})).len(),
        2
    );
    let vars = BTreeMap::from([
        ("id".to_owned(), Value::from(7)),
        ("s".to_owned(), Value::from("x")),
    ]);
    assert_eq!(
        substitute(&Value::from("{{id}}"), &vars).unwrap(),
        Value::from(7)
    );
    assert_eq!(
        substitute(&Value::from("a{{id}}{{s}}"), &vars).unwrap(),
        Value::from("a7x")
    );
    assert!(substitute(&Value::from("{{nope}}"), &vars).is_err());
}
