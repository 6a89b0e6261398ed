//! The admin console at `/admin`: what an account's admin does to set up provisioning,
//! in a browser, on top of the library's own API ([`ApiKeys`], [`Tenants`],
//! [`scimkit::csv::Import`]).
//!
//! For one account (tenant) at a time it shows the SCIM switch, the API URL to paste into
//! the identity provider, the API keys (create: the secret is shown once in a dialog;
//! list; revoke) and a CSV upload with its per-row report.
//!
//! Security (see `session.rs` for the pieces):
//!
//! - Every request must name the console's configured host (`--base-url`'s, or the
//!   listen address), whatever DNS says (421 otherwise): no DNS rebinding.
//! - Every route but the login form and the static files needs a session, started by
//!   the admin password printed at start-up; no session exists before the login (the
//!   login form is protected by a stateless signed double-submit token), so anonymous
//!   traffic cannot evict anything. The session cookie is HttpOnly, SameSite=Strict and
//!   scoped to `/admin`, and Secure when the configured origin is HTTPS.
//! - Failed logins are limited globally (429 with `Retry-After`), and warnings about
//!   unauthenticated requests have a budget per minute.
//! - Every POST must carry the session's (or the login form's) token, and a browser's
//!   POST must come from the configured origin (`Origin`, `Sec-Fetch-Site`): 403
//!   otherwise.
//! - Every response has a strict Content-Security-Policy (no inline script or style),
//!   `nosniff`, no referrer to other sites, and pages are `Cache-Control: no-store`.
//! - A new key's secret goes from the POST to the next page through the server-side
//!   session (an opaque one-time reveal id in the redirect, never the secret), is shown
//!   only by a GET of that redirect (not HEAD, not a prefetch, not another page), waits
//!   at most five minutes, and is never logged.
//! - The console acts only on accounts of the tenant store (and the server's own), with
//!   ids free of control and invisible formatting characters.

mod account;
mod guard;
mod import;
mod login;
mod page;
mod reply;
mod session;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Form, Path, Query, Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use chrono::Utc;
use scimkit::ScimServer;
use scimkit::keys::{AdminError, ApiKeys, Tenants};
use serde::Deserialize;

use account::{CreateKeyForm, RevokeForm, ScimForm, create_key, revoke_key, set_scim};
pub use guard::Origins;
use import::import_csv;
pub use login::random_password;
use login::{Attempt, Budget, LoginLimiter, LoginTokens, Password, WarningBudget};
use page::{Dashboard, ImportView};
use reply::{
    Refused, admin_error, bad_request, forbidden, html_response, internal_error, not_found,
    query_escape, randomness_failed, see_other, with_cookie,
};
use session::{Flash, Sessions};

/// The largest CSV file the console accepts (the CLI's `import` takes any size).
const MAX_UPLOAD_BYTES: usize = 16 * 1024 * 1024;
/// The import report lists at most this many rows (the counts cover the whole file).
const MAX_REPORT_ROWS: usize = 1000;
/// How long a wrong password waits before its answer.
const LOGIN_FAILURE_DELAY: Duration = Duration::from_millis(500);
/// How often expired sessions and secrets are dropped, besides at every session use.
const PURGE_INTERVAL: Duration = Duration::from_secs(60);

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
    /// The account shown first; it always exists.
    default_tenant: String,
    password: Password,
    sessions: Sessions,
    login_tokens: LoginTokens,
    limiter: LoginLimiter,
    warnings: WarningBudget,
    /// The console's own origin and host names (and whether cookies get `Secure`).
    origins: Origins,
    /// How long a request may take, body included (as on the SCIM route).
    request_timeout: Duration,
}

impl Console {
    /// A console over these keys and tenants, importing CSV through `server`, opening on
    /// `default_tenant`, for whoever knows `password`, at `origins`; a request gets
    /// `request_timeout` (a CSV import's own run excepted).
    pub fn new(
        keys: ApiKeys,
        tenants: Tenants,
        server: ScimServer,
        default_tenant: &str,
        password: &str,
        origins: Origins,
        request_timeout: Duration,
    ) -> Result<Self, getrandom::Error> {
        Ok(Self(Arc::new(Inner {
            keys,
            tenants,
            server,
            default_tenant: default_tenant.to_owned(),
            password: Password::new(password),
            sessions: Sessions::default(),
            login_tokens: LoginTokens::new()?,
            limiter: LoginLimiter::new(),
            warnings: WarningBudget::new(),
            origins,
            request_timeout,
        })))
    }

    /// The `/admin` routes; also starts the periodic purge of expired sessions.
    pub fn router(self) -> Router {
        self.spawn_purge();
        // Every route but the import within the request timeout; the import reads its
        // upload within it, then runs on a blocking thread to the end.
        let timed = Router::new()
            .route("/admin", get(dashboard))
            .route("/admin/", any(trailing_slash))
            .route("/admin/login", get(login_form).post(login))
            .route("/admin/logout", post(logout))
            .route("/admin/scim", post(set_scim))
            .route("/admin/keys", post(create_key))
            .route("/admin/keys/revoke", post(revoke_key))
            .route("/admin/static/{file}", get(asset))
            .route("/admin/{*rest}", any(not_found))
            .layer(axum::middleware::from_fn_with_state(self.clone(), guard));
        let import = Router::new()
            .route(
                "/admin/import",
                post(import_csv).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
            )
            .layer(axum::middleware::from_fn(guard_panics));
        timed
            .merge(import)
            .layer(axum::middleware::from_fn_with_state(
                self.clone(),
                check_host,
            ))
            .layer(axum::middleware::map_response(guard::security_headers))
            .with_state(self)
    }

    /// Drops expired sessions and secrets every minute, for as long as the console lives.
    fn spawn_purge(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let console = Arc::downgrade(&self.0);
        runtime.spawn(async move {
            let mut tick = tokio::time::interval(PURGE_INTERVAL);
            loop {
                tick.tick().await;
                match console.upgrade() {
                    Some(c) => c.sessions.purge(),
                    None => break,
                }
            }
        });
    }

    /// Logs a warning about a refused, unauthenticated request, within the budget.
    fn warn(&self, what: &str) {
        match self.0.warnings.spend(Instant::now()) {
            Budget::Log => tracing::warn!("admin console: {what}"),
            Budget::LogLast => tracing::warn!(
                "admin console: {what} (more such warnings in the next minute are not logged)"
            ),
            Budget::Quiet => {}
        }
    }

    /// The id of the request's logged-in session.
    fn logged_in(&self, headers: &HeaderMap) -> Option<String> {
        let id = session::session_id(headers)?;
        self.0.sessions.with(&id, |_| ()).map(|()| id)
    }

    /// Checks a state-changing request before its body is read: from this origin, in a
    /// logged-in session. Returns the session id.
    fn authorize(&self, headers: &HeaderMap) -> Result<String, Refused> {
        if !guard::same_origin(headers, &self.0.origins) {
            self.warn("cross-origin POST refused");
            return Err(Refused("This request did not come from the admin console."));
        }
        self.logged_in(headers)
            .ok_or(Refused("Your session has ended: log in again."))
    }

    /// Checks the form's CSRF token against the session's.
    /// The preamble of every console POST: a same-origin request of a logged-in session
    /// with a readable form carrying the session's CSRF token. Gives the session id and
    /// the form, or the response refusing the request.
    #[allow(
        clippy::result_large_err,
        reason = "the refusal is the response itself, returned at once by every caller"
    )]
    fn admit<F: Posted>(
        &self,
        headers: &HeaderMap,
        form: Result<Form<F>, FormRejection>,
    ) -> Result<(String, F), Response> {
        let id = self
            .authorize(headers)
            .map_err(IntoResponse::into_response)?;
        let Ok(Form(form)) = form else {
            return Err(bad_request("The form could not be read."));
        };
        self.check_csrf(&id, form.csrf())
            .map_err(IntoResponse::into_response)?;
        Ok((id, form))
    }

    fn check_csrf(&self, id: &str, token: &str) -> Result<(), Refused> {
        let ok = self
            .0
            .sessions
            .with(id, |s| login::tokens_match(&s.csrf, token))
            .unwrap_or(false);
        if ok {
            Ok(())
        } else {
            self.warn("POST without a valid CSRF token refused");
            Err(Refused(
                "The form's security token is missing or wrong. Reload the page and try again.",
            ))
        }
    }

    /// Leaves a message for the next page of session `id`.
    fn flash(&self, id: &str, flash: Flash) {
        self.0.sessions.with(id, |s| s.flash = Some(flash));
    }

    /// The accounts the console acts on: those of the tenant store, and the server's
    /// own; ids with hidden characters are left out.
    async fn tenant_ids(&self) -> Result<Vec<String>, AdminError> {
        let mut ids: Vec<String> = self
            .0
            .tenants
            .list()
            .await?
            .into_iter()
            .map(|t| t.id)
            .filter(|id| !id.chars().any(guard::is_hidden_char))
            .collect();
        ids.push(self.0.default_tenant.clone());
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    /// Checks that the console may act on `tenant` (400 for a malformed id, 404 for an
    /// account that does not exist); returns the accounts, for the picker.
    async fn check_tenant(&self, tenant: &str) -> Result<Vec<String>, Response> {
        if tenant.chars().any(guard::is_hidden_char) {
            return Err(bad_request(
                "An account id cannot contain control or invisible formatting characters.",
            ));
        }
        let ids = self.tenant_ids().await.map_err(admin_error)?;
        if ids.iter().any(|t| t == tenant) {
            Ok(ids)
        } else {
            Err(html_response(
                StatusCode::NOT_FOUND,
                page::error("No such account", "There is no account with this id."),
            ))
        }
    }

    /// The dashboard of `tenant` (checked: one of `ids`) for session `id`, with the
    /// secrets of the keys pending for it when `reveal` is the id of one of them.
    async fn render(
        &self,
        id: &str,
        tenant: &str,
        ids: &[String],
        import: Option<ImportView>,
        reveal: Option<&str>,
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
        let now = Instant::now();
        let Some((csrf, flash, revealed)) = c.sessions.with(id, |s| {
            let revealed = match reveal {
                Some(r) => s.take_pending(&tenant.id, r, now),
                None => Vec::new(),
            };
            (s.csrf.clone(), s.flash.take(), revealed)
        }) else {
            return see_other("/admin/login");
        };
        let groups = match self.groups(&tenant.id).await {
            Ok(g) => g,
            Err(e) => {
                tracing::error!(error = %e, "the console could not list the account's groups");
                None
            }
        };
        let html = page::dashboard(&Dashboard {
            csrf: &csrf,
            tenant: &tenant,
            tenants: ids,
            api_url: c.tenants.api_url(&tenant.id).as_deref(),
            keys: &keys,
            flash: flash.as_ref(),
            reveal: &revealed,
            import: import.as_ref(),
            groups: groups.as_ref(),
            now: Utc::now(),
        });
        html_response(status, html)
    }

    /// The first 100 groups of `tenant` (their members are not read), when the server
    /// serves groups.
    async fn groups(&self, tenant: &str) -> Result<Option<page::GroupsView>, scimkit::ScimError> {
        let c = &self.0;
        if !c.server.config().groups() {
            return Ok(None);
        }
        let ctx = scimkit::RequestContext::system(tenant);
        let query = scimkit::group::GroupQuery::all(100).members(false);
        let page = c.server.list_groups(&ctx, &query).await?;
        Ok(Some(page::GroupsView {
            total: page.total_results,
            groups: page
                .resources
                .iter()
                .map(|g| {
                    let external_id = g.external_id.as_ref().map(ToString::to_string);
                    (g.display_name.to_string(), external_id)
                })
                .collect(),
        }))
    }

    /// Back to the dashboard of `tenant` (a 303, so a reload does not repeat the POST).
    fn back_to(&self, tenant: &str) -> Response {
        see_other(&format!("/admin?tenant={}", query_escape(tenant)))
    }
}

/// Refuses requests for any host but the console's own (DNS rebinding: a page of the
/// attacker's name resolving to this server would otherwise be same-origin with it).
async fn check_host(State(c): State<Console>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()));
    match host {
        Some(host) if c.0.origins.allows_host(&host) => next.run(req).await,
        _ => {
            c.warn("request for another host name refused (Host header)");
            html_response(
                StatusCode::MISDIRECTED_REQUEST,
                page::error(
                    "Wrong address",
                    &format!(
                        "This server's admin console is at {}/admin.",
                        c.0.origins.primary()
                    ),
                ),
            )
        }
    }
}

/// The request timeout and panic isolation of the SCIM route, for the console's routes.
async fn guard(State(c): State<Console>, req: Request, next: Next) -> Response {
    let limit = c.0.request_timeout;
    match tokio::time::timeout(limit, catch_panics(next.run(req))).await {
        Ok(response) => response,
        Err(_) => timed_out(limit),
    }
}

/// Panic isolation only (the import times its upload itself).
async fn guard_panics(req: Request, next: Next) -> Response {
    catch_panics(next.run(req)).await
}

/// Runs `work`; a panic in it ends only this request, with a 500 page.
async fn catch_panics(work: impl Future<Output = Response> + Send) -> Response {
    let mut work = Box::pin(work);
    let outcome = std::future::poll_fn(move |cx| {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work.as_mut().poll(cx))) {
            Ok(poll) => poll.map(Ok),
            Err(panic) => std::task::Poll::Ready(Err(panic)),
        }
    })
    .await;
    outcome.unwrap_or_else(|_| {
        tracing::error!("admin console: a request panicked");
        internal_error("The request failed; the cause is in the server's log.")
    })
}

fn timed_out(limit: Duration) -> Response {
    html_response(
        StatusCode::SERVICE_UNAVAILABLE,
        page::error(
            "Too slow",
            &format!(
                "The request took longer than {} s. Try again.",
                limit.as_secs()
            ),
        ),
    )
}

#[derive(Deserialize)]
struct DashboardQuery {
    tenant: Option<String>,
    /// The one-time reveal id of the redirect after a key's creation.
    reveal: Option<String>,
}

async fn dashboard(
    State(c): State<Console>,
    method: Method,
    headers: HeaderMap,
    query: Result<Query<DashboardQuery>, QueryRejection>,
) -> Response {
    let Some(id) = c.logged_in(&headers) else {
        return see_other("/admin/login");
    };
    let Ok(Query(q)) = query else {
        return bad_request("The address of this page is malformed.");
    };
    let tenant = q.tenant.unwrap_or_else(|| c.0.default_tenant.clone());
    let ids = match c.check_tenant(&tenant).await {
        Ok(ids) => ids,
        Err(refused) => return refused,
    };
    // A secret is spent only by the browser's navigation to the page: not by a HEAD
    // (axum routes it here too) or a prefetch, which nobody would see.
    let reveal = q
        .reveal
        .filter(|_| method == Method::GET && !guard::is_prefetch(&headers));
    c.render(&id, &tenant, &ids, None, reveal.as_deref(), StatusCode::OK)
        .await
}

/// `/admin/` is `/admin`.
async fn trailing_slash(uri: Uri) -> Response {
    match uri.query() {
        Some(q) => see_other(&format!("/admin?{q}")),
        None => see_other("/admin"),
    }
}

async fn login_form(State(c): State<Console>, headers: HeaderMap) -> Response {
    if c.logged_in(&headers).is_some() {
        return see_other("/admin");
    }
    login_page(&c, &headers, StatusCode::OK, None)
}

/// The login form with its token: the browser's own while it is young enough (another
/// tab's form stays valid), a fresh one otherwise. Nothing is stored on the server.
fn login_page(
    c: &Console,
    headers: &HeaderMap,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let now = login::unix_now();
    let cookie = session::cookie(headers, session::LOGIN_COOKIE);
    if let Some(token) = c.0.login_tokens.reusable(cookie.as_deref(), now) {
        return html_response(status, page::login(&token, error));
    }
    match c.0.login_tokens.issue(now) {
        Ok(token) => with_cookie(
            html_response(status, page::login(&token, error)),
            &session::set_login_cookie(&token, c.0.origins.secure()),
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
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    if !guard::same_origin(&headers, &c.0.origins) {
        c.warn("cross-origin login refused");
        return forbidden("This request did not come from the admin console.");
    }
    let Ok(Form(form)) = form else {
        return bad_request("The login form could not be read.");
    };
    let cookie = session::cookie(&headers, session::LOGIN_COOKIE);
    if !c
        .0
        .login_tokens
        .verify(cookie.as_deref(), &form.csrf, login::unix_now())
    {
        return login_page(
            &c,
            &headers,
            StatusCode::FORBIDDEN,
            Some("The login form had expired. Please enter the password again."),
        );
    }
    // The slot is taken before the password is checked: parallel guesses count too. The
    // client is the TCP peer (behind a reverse proxy, the proxy: forwarded-for headers are
    // not trusted, since any client can send them).
    let ticket = match c.0.limiter.attempt(peer.ip(), Instant::now()) {
        Attempt::Allowed(ticket) => ticket,
        Attempt::Refused { retry_after, first } => {
            let secs = retry_after.as_secs().max(1);
            if first {
                tracing::warn!(
                    client = %peer.ip(),
                    max_failures = login::MAX_LOGIN_FAILURES,
                    max_failures_all_clients = login::MAX_LOGIN_FAILURES_GLOBAL,
                    retry_after_secs = secs,
                    "admin console: too many failed logins; logins are refused until the \
                     minute is over"
                );
            }
            let mut response = login_page(
                &c,
                &headers,
                StatusCode::TOO_MANY_REQUESTS,
                Some(&format!(
                    "Too many failed logins. Try again in {secs} seconds."
                )),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            return response;
        }
    };
    if !c.0.password.matches(&form.password) {
        c.warn("wrong password");
        tokio::time::sleep(LOGIN_FAILURE_DELAY).await;
        return login_page(
            &c,
            &headers,
            StatusCode::UNAUTHORIZED,
            Some("Wrong password."),
        );
    }
    c.0.limiter.succeeded(ticket);
    // A new session at every login; one the browser had is ended.
    if let Some(old) = session::session_id(&headers) {
        c.0.sessions.end(&old);
    }
    match c.0.sessions.start() {
        Ok(id) => {
            tracing::info!("admin console: logged in");
            let secure = c.0.origins.secure();
            with_cookie(
                with_cookie(see_other("/admin"), &session::set_cookie(&id, secure)),
                &session::clear_login_cookie(secure),
            )
        }
        Err(e) => randomness_failed(&e),
    }
}

/// A form posted by a logged-in admin: it carries the session's CSRF token.
trait Posted {
    fn csrf(&self) -> &str;
}

macro_rules! posted {
    ($($form:ty),+) => {
        $(impl Posted for $form {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        })+
    };
}

posted!(CsrfForm, ScimForm, CreateKeyForm, RevokeForm);

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
    let (id, _) = match c.admit(&headers, form) {
        Ok(admitted) => admitted,
        Err(refused) => return refused,
    };
    c.0.sessions.end(&id);
    with_cookie(
        see_other("/admin/login"),
        &session::clear_cookie(c.0.origins.secure()),
    )
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_request_gets_a_500_page() {
        let response = catch_panics(async {
            if std::hint::black_box(true) {
                panic!("boom");
            }
            not_found().await
        })
        .await;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let response = catch_panics(async { not_found().await }).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn query_values_are_escaped() {
        assert_eq!(query_escape("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }
}
