//! The admin console at `/admin`: what an account's admin does to set up provisioning,
//! in a browser, on top of the library's own API ([`ApiKeys`], [`Tenants`],
//! [`scimkit::csv::Import`]).
//!
//! For one account (tenant) at a time it shows the SCIM switch, the API URL to paste into
//! the identity provider, the API keys (create: the secret is shown once in a dialog;
//! list; revoke) and a CSV upload with its per-row report.
//!
//! Security: every route but the login form and the static files needs a session, started
//! by the admin password printed at start-up; the session cookie is HttpOnly,
//! SameSite=Strict and scoped to `/admin`. Every POST must come from this origin and
//! carry the session's CSRF token (403 otherwise). Every response has a strict
//! Content-Security-Policy (no inline script or style), `nosniff`, no referrer to other
//! sites, and pages are `Cache-Control: no-store`. A new key's secret goes from the POST
//! to the next page through the server-side session, never through a URL, and is never
//! logged.

mod page;
mod session;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Form, Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use scimkit::csv::{CsvError, Import, RowReport};
use scimkit::keys::{AdminError, ApiKeys, Tenants};
use scimkit::{RequestContext, ScimServer};
use serde::Deserialize;

use page::{Dashboard, ImportView};
pub use session::random_password;
use session::{Flash, Password, Sessions};

/// The largest CSV file the console accepts (the CLI's `import` takes any size).
const MAX_UPLOAD_BYTES: usize = 16 * 1024 * 1024;
/// The import report lists at most this many rows (the counts cover the whole file).
const MAX_REPORT_ROWS: usize = 1000;
/// How long a wrong password waits before its answer.
const LOGIN_FAILURE_DELAY: Duration = Duration::from_millis(500);

const APP_JS: &str = include_str!("console/app.js");
const APP_CSS: &str = include_str!("console/app.css");

/// The console's state: the admin side of the library, the sessions, the password.
#[derive(Clone)]
pub struct Console(Arc<Inner>);

struct Inner {
    keys: ApiKeys,
    tenants: Tenants,
    /// For CSV imports: the same validation and required attributes as SCIM requests.
    server: ScimServer,
    /// The account shown first.
    default_tenant: String,
    password: Password,
    sessions: Sessions,
    /// Whether cookies get `Secure` (the server's public URL is HTTPS).
    secure_cookies: bool,
}

impl Console {
    /// A console over these keys and tenants, importing CSV through `server`, opening on
    /// `default_tenant`, for whoever knows `password`.
    pub fn new(
        keys: ApiKeys,
        tenants: Tenants,
        server: ScimServer,
        default_tenant: &str,
        password: &str,
        secure_cookies: bool,
    ) -> Self {
        Self(Arc::new(Inner {
            keys,
            tenants,
            server,
            default_tenant: default_tenant.to_owned(),
            password: Password::new(password),
            sessions: Sessions::default(),
            secure_cookies,
        }))
    }

    /// The `/admin` routes.
    pub fn router(self) -> Router {
        Router::new()
            .route("/admin", get(dashboard))
            .route("/admin/login", get(login_form).post(login))
            .route("/admin/logout", post(logout))
            .route("/admin/scim", post(set_scim))
            .route("/admin/keys", post(create_key))
            .route("/admin/keys/revoke", post(revoke_key))
            .route(
                "/admin/import",
                post(import_csv).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
            )
            .route("/admin/static/{file}", get(asset))
            .route("/admin/{*rest}", axum::routing::any(not_found))
            .layer(axum::middleware::map_response(session::security_headers))
            .with_state(self)
    }

    /// The id of the request's logged-in session.
    fn logged_in(&self, headers: &HeaderMap) -> Option<String> {
        let id = session::session_id(headers)?;
        self.0
            .sessions
            .with(&id, |s| s.authenticated)
            .filter(|ok| *ok)
            .map(|_| id)
    }

    /// Checks a state-changing request before its body is read: from this origin, in a
    /// logged-in session. Returns the session id.
    fn authorize(&self, headers: &HeaderMap) -> Result<String, Refused> {
        if !session::same_origin(headers) {
            tracing::warn!("admin console: cross-origin POST refused");
            return Err(Refused("This request did not come from the admin console."));
        }
        self.logged_in(headers)
            .ok_or(Refused("Your session has ended: log in again."))
    }

    /// Checks the form's CSRF token against the session's.
    fn check_csrf(&self, id: &str, token: &str) -> Result<(), Refused> {
        let ok = self
            .0
            .sessions
            .with(id, |s| session::tokens_match(&s.csrf, token))
            .unwrap_or(false);
        if ok {
            Ok(())
        } else {
            tracing::warn!("admin console: POST without a valid CSRF token refused");
            Err(Refused(
                "The form's security token is missing or wrong. Reload the page and try again.",
            ))
        }
    }

    /// Leaves a message for the next page of session `id`.
    fn flash(&self, id: &str, flash: Flash) {
        self.0.sessions.with(id, |s| s.flash = Some(flash));
    }

    /// The dashboard of `tenant` for session `id`.
    async fn render(
        &self,
        id: &str,
        tenant: &str,
        import: Option<ImportView>,
        status: StatusCode,
    ) -> Response {
        let c = &self.0;
        let tenant = match c.tenants.get(tenant).await {
            Ok(t) => t,
            Err(e) => return admin_error(e),
        };
        let keys = match c.keys.list(&tenant.id).await {
            Ok(keys) => keys,
            Err(e) => return admin_error(e),
        };
        let mut ids: Vec<String> = match c.tenants.list().await {
            Ok(list) => list.into_iter().map(|t| t.id).collect(),
            Err(e) => return admin_error(e),
        };
        ids.push(tenant.id.clone());
        ids.push(c.default_tenant.clone());
        ids.sort();
        ids.dedup();
        let Some((csrf, flash, reveal)) = c.sessions.with(id, |s| {
            // A key created for another account (another tab) waits for its own page.
            let reveal = match s.reveal.take() {
                Some(k) if k.info.tenant == tenant.id => Some(k),
                other => {
                    s.reveal = other;
                    None
                }
            };
            (s.csrf.clone(), s.flash.take(), reveal)
        }) else {
            return see_other("/admin/login");
        };
        let html = page::dashboard(&Dashboard {
            csrf: &csrf,
            tenant: &tenant,
            tenants: &ids,
            api_url: c.tenants.api_url(&tenant.id).as_deref(),
            keys: &keys,
            flash: flash.as_ref(),
            reveal: reveal.as_ref(),
            import: import.as_ref(),
            now: Utc::now(),
        });
        html_response(status, html)
    }

    /// Back to the dashboard of `tenant` (a 303, so a reload does not repeat the POST).
    fn back_to(&self, tenant: &str) -> Response {
        see_other(&format!("/admin?tenant={}", query_escape(tenant)))
    }
}

#[derive(Deserialize)]
struct TenantQuery {
    tenant: Option<String>,
}

async fn dashboard(
    State(c): State<Console>,
    headers: HeaderMap,
    query: Result<Query<TenantQuery>, QueryRejection>,
) -> Response {
    let Some(id) = c.logged_in(&headers) else {
        return see_other("/admin/login");
    };
    let Ok(Query(q)) = query else {
        return bad_request("The address of this page is malformed.");
    };
    let tenant = q.tenant.unwrap_or_else(|| c.0.default_tenant.clone());
    c.render(&id, &tenant, None, StatusCode::OK).await
}

async fn login_form(State(c): State<Console>, headers: HeaderMap) -> Response {
    if c.logged_in(&headers).is_some() {
        return see_other("/admin");
    }
    let existing =
        session::session_id(&headers).and_then(|id| c.0.sessions.with(&id, |s| s.csrf.clone()));
    match existing {
        Some(csrf) => html_response(StatusCode::OK, page::login(&csrf, None)),
        None => new_login_session(&c, StatusCode::OK, None),
    }
}

/// The login form in a fresh anonymous session (it holds the form's CSRF token).
fn new_login_session(c: &Console, status: StatusCode, error: Option<&str>) -> Response {
    let started = c.0.sessions.start(false).map(|id| {
        let csrf =
            c.0.sessions
                .with(&id, |s| s.csrf.clone())
                .unwrap_or_default();
        (id, csrf)
    });
    match started {
        Ok((id, csrf)) => with_cookie(
            html_response(status, page::login(&csrf, error)),
            &session::set_cookie(&id, c.0.secure_cookies),
        ),
        Err(e) => randomness_failed(&e),
    }
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
}

async fn login(
    State(c): State<Console>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    if !session::same_origin(&headers) {
        return forbidden("This request did not come from the admin console.");
    }
    let Ok(Form(form)) = form else {
        return bad_request("The login form could not be read.");
    };
    let Some(old) = session::session_id(&headers).filter(|id| {
        c.0.sessions
            .with(id, |s| session::tokens_match(&s.csrf, &form.csrf))
            .unwrap_or(false)
    }) else {
        return new_login_session(
            &c,
            StatusCode::FORBIDDEN,
            Some("The login form had expired. Please enter the password again."),
        );
    };
    if !c.0.password.matches(&form.password) {
        tracing::warn!("admin console: wrong password");
        tokio::time::sleep(LOGIN_FAILURE_DELAY).await;
        let csrf =
            c.0.sessions
                .with(&old, |s| s.csrf.clone())
                .unwrap_or_default();
        return html_response(
            StatusCode::UNAUTHORIZED,
            page::login(&csrf, Some("Wrong password.")),
        );
    }
    // A new session id at login: an id planted before it is worth nothing after.
    c.0.sessions.end(&old);
    match c.0.sessions.start(true) {
        Ok(id) => {
            tracing::info!("admin console: logged in");
            with_cookie(
                see_other("/admin"),
                &session::set_cookie(&id, c.0.secure_cookies),
            )
        }
        Err(e) => randomness_failed(&e),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(c): State<Console>,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let id = match c.authorize(&headers) {
        Ok(id) => id,
        Err(refused) => return refused.into_response(),
    };
    let Ok(Form(form)) = form else {
        return bad_request("The form could not be read.");
    };
    if let Err(refused) = c.check_csrf(&id, &form.csrf) {
        return refused.into_response();
    }
    c.0.sessions.end(&id);
    with_cookie(
        see_other("/admin/login"),
        &session::clear_cookie(c.0.secure_cookies),
    )
}

#[derive(Deserialize)]
struct ScimForm {
    #[serde(default)]
    csrf: String,
    tenant: String,
    /// `on` or `off`.
    scim: String,
}

async fn set_scim(
    State(c): State<Console>,
    headers: HeaderMap,
    form: Result<Form<ScimForm>, FormRejection>,
) -> Response {
    let id = match c.authorize(&headers) {
        Ok(id) => id,
        Err(refused) => return refused.into_response(),
    };
    let Ok(Form(form)) = form else {
        return bad_request("The form could not be read.");
    };
    if let Err(refused) = c.check_csrf(&id, &form.csrf) {
        return refused.into_response();
    }
    let enabled = match form.scim.as_str() {
        "on" => true,
        "off" => false,
        _ => return bad_request("The switch must be on or off."),
    };
    match c.0.tenants.set_scim_enabled(&form.tenant, enabled).await {
        Ok(t) => c.flash(
            &id,
            Flash::Info(format!(
                "SCIM provisioning is now {} for {}.",
                if t.scim_enabled { "on" } else { "off" },
                t.id
            )),
        ),
        Err(AdminError::NotEntitled(_)) => c.flash(
            &id,
            Flash::Error("SCIM provisioning is not available for this account.".into()),
        ),
        Err(e) => return admin_error(e),
    }
    c.back_to(&form.tenant)
}

#[derive(Deserialize)]
struct CreateKeyForm {
    #[serde(default)]
    csrf: String,
    tenant: String,
    name: String,
}

async fn create_key(
    State(c): State<Console>,
    headers: HeaderMap,
    form: Result<Form<CreateKeyForm>, FormRejection>,
) -> Response {
    let id = match c.authorize(&headers) {
        Ok(id) => id,
        Err(refused) => return refused.into_response(),
    };
    let Ok(Form(form)) = form else {
        return bad_request("The form could not be read.");
    };
    if let Err(refused) = c.check_csrf(&id, &form.csrf) {
        return refused.into_response();
    }
    match c.0.keys.create(&form.tenant, form.name.trim(), None).await {
        // Shown once by the next page, which takes it out of the session.
        Ok(key) => {
            c.0.sessions.with(&id, |s| s.reveal = Some(key));
        }
        Err(e @ (AdminError::InvalidName(_) | AdminError::NotEntitled(_))) => {
            c.flash(&id, Flash::Error(format!("No key was created: {e}.")));
        }
        Err(e) => return admin_error(e),
    }
    c.back_to(&form.tenant)
}

#[derive(Deserialize)]
struct RevokeForm {
    #[serde(default)]
    csrf: String,
    tenant: String,
    id: String,
}

async fn revoke_key(
    State(c): State<Console>,
    headers: HeaderMap,
    form: Result<Form<RevokeForm>, FormRejection>,
) -> Response {
    let id = match c.authorize(&headers) {
        Ok(id) => id,
        Err(refused) => return refused.into_response(),
    };
    let Ok(Form(form)) = form else {
        return bad_request("The form could not be read.");
    };
    if let Err(refused) = c.check_csrf(&id, &form.csrf) {
        return refused.into_response();
    }
    match c.0.keys.revoke(&form.tenant, &form.id).await {
        Ok(k) => c.flash(
            &id,
            Flash::Info(format!(
                "The key “{}” is revoked: requests with it are refused.",
                k.name
            )),
        ),
        Err(AdminError::NotFound) => {
            c.flash(&id, Flash::Error("This account has no such key.".into()));
        }
        Err(e) => return admin_error(e),
    }
    c.back_to(&form.tenant)
}

async fn import_csv(
    State(c): State<Console>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let id = match c.authorize(&headers) {
        Ok(id) => id,
        Err(refused) => return refused.into_response(),
    };
    let Ok(mut multipart) = multipart else {
        return bad_request("The upload could not be read.");
    };
    let mut csrf_checked = false;
    let mut tenant = None;
    let mut dry_run = false;
    let mut file = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return upload_error(e.status()),
        };
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            // The browser sends fields in form order: the token comes before the file,
            // and no file is read for a request that does not carry it.
            if !csrf_checked {
                return forbidden("The form's security token is missing. Reload the page.");
            }
            let file_name = field.file_name().unwrap_or("upload.csv").to_owned();
            match field.bytes().await {
                Ok(bytes) => file = Some((file_name, bytes)),
                Err(e) => return upload_error(e.status()),
            }
            continue;
        }
        let text = match field.text().await {
            Ok(text) => text,
            Err(e) => return upload_error(e.status()),
        };
        match name.as_str() {
            "csrf" => {
                if let Err(refused) = c.check_csrf(&id, &text) {
                    return refused.into_response();
                }
                csrf_checked = true;
            }
            "tenant" => tenant = Some(text),
            "dry_run" => dry_run = true,
            _ => {}
        }
    }
    if !csrf_checked {
        return forbidden("The form's security token is missing. Reload the page.");
    }
    let Some(tenant) = tenant else {
        return bad_request("The upload names no account.");
    };
    if let Err(e) = c.0.tenants.get(&tenant).await {
        return admin_error(e);
    }
    let view = match file {
        Some((file_name, bytes)) if !bytes.is_empty() => {
            run_import(&c, &tenant, file_name, &bytes, dry_run).await
        }
        _ => ImportView {
            file_name: "No file".into(),
            result: Err("choose a CSV file to upload".into()),
            rows: Vec::new(),
            truncated: false,
        },
    };
    let status = if view.result.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    c.render(&id, &tenant, Some(view), status).await
}

/// Imports `bytes` into `tenant` and keeps the report of the first rows.
async fn run_import(
    c: &Console,
    tenant: &str,
    file_name: String,
    bytes: &Bytes,
    dry_run: bool,
) -> ImportView {
    let mut rows: Vec<RowReport> = Vec::new();
    let mut truncated = false;
    let result = Import::new(&c.0.server, RequestContext::system(tenant))
        .dry_run(dry_run)
        .on_row(|r| {
            if rows.len() < MAX_REPORT_ROWS {
                rows.push(r.clone());
            } else {
                truncated = true;
            }
        })
        .run(bytes.as_ref())
        .await;
    let result = match result {
        Ok(s) => {
            tracing::info!(
                tenant,
                rows = s.rows,
                created = s.created,
                updated = s.updated,
                unchanged = s.unchanged,
                rejected = s.rejected,
                dry_run,
                "admin console: CSV import"
            );
            Ok(s)
        }
        Err(e @ CsvError::Aborted { .. }) => {
            tracing::error!(tenant, error = %e, "admin console: CSV import stopped");
            Err(format!("{e}. The rows before it were imported."))
        }
        Err(e) => Err(e.to_string()),
    };
    ImportView {
        file_name,
        result,
        rows,
        truncated,
    }
}

async fn asset(Path(file): Path<String>) -> Response {
    let (body, content_type) = match file.as_str() {
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        "app.css" => (APP_CSS, "text/css; charset=utf-8"),
        _ => return not_found().await,
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn not_found() -> Response {
    html_response(
        StatusCode::NOT_FOUND,
        page::error("Not found", "There is no such page in the admin console."),
    )
}

fn html_response(status: StatusCode, html: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response()
}

fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => (StatusCode::SEE_OTHER, [(header::LOCATION, v)]).into_response(),
        Err(_) => bad_request("Cannot go back to this page."),
    }
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// A request refused by the session, origin or CSRF checks: a 403 page saying why.
struct Refused(&'static str);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        forbidden(self.0)
    }
}

fn forbidden(message: &str) -> Response {
    html_response(StatusCode::FORBIDDEN, page::error("Refused", message))
}

fn bad_request(message: &str) -> Response {
    html_response(StatusCode::BAD_REQUEST, page::error("Bad request", message))
}

fn upload_error(status: StatusCode) -> Response {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        html_response(
            status,
            page::error(
                "File too large",
                &format!(
                    "The console imports files of up to {} MiB; use the command line \
                     (`server import FILE --tenant ACCOUNT`) for larger ones.",
                    MAX_UPLOAD_BYTES / (1024 * 1024)
                ),
            ),
        )
    } else {
        bad_request("The upload could not be read.")
    }
}

/// A user error (bad account id, ...) as a 400 page; a store failure as a 500 with the
/// cause logged, not shown.
fn admin_error(e: AdminError) -> Response {
    match e {
        AdminError::Store(_) | AdminError::Randomness => {
            tracing::error!(error = %e, "admin console: operation failed");
            html_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                page::error(
                    "Something went wrong",
                    "The operation failed; the cause is in the server's log.",
                ),
            )
        }
        e => bad_request(&format!("{e}.")),
    }
}

fn randomness_failed(e: &getrandom::Error) -> Response {
    tracing::error!(error = %e, "admin console: no randomness for a session");
    html_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        page::error("Something went wrong", "No session could be started."),
    )
}

/// Percent-encodes a query-string value (everything but RFC 3986 unreserved characters).
fn query_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
