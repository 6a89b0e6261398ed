//! The forms of one account's page: its SCIM switch, and creating and revoking its API
//! keys (a new key's secret is shown once, on the page the creation redirects to).

use std::time::Instant;

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::HeaderMap;
use axum::response::Response;
use scimkit::keys::AdminError;
use serde::Deserialize;

use super::reply::{admin_error, bad_request, query_escape, see_other};
use super::session::{self, Flash, PendingError};
use super::{Console, Posted};

#[derive(Deserialize)]
pub(super) struct ScimForm {
    #[serde(default)]
    pub(super) csrf: String,
    tenant: String,
    /// `on` or `off`.
    scim: String,
}

pub(super) async fn set_scim(
    State(c): State<Console>,
    headers: HeaderMap,
    form: Result<Form<ScimForm>, FormRejection>,
) -> Response {
    let (id, form) = match c.admit(&headers, form) {
        Ok(admitted) => admitted,
        Err(refused) => return refused,
    };
    let enabled = match form.scim.as_str() {
        "on" => true,
        "off" => false,
        _ => return bad_request("The switch must be on or off."),
    };
    if let Err(refused) = c.check_tenant(&form.tenant).await {
        return refused;
    }
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
pub(super) struct CreateKeyForm {
    #[serde(default)]
    pub(super) csrf: String,
    tenant: String,
    name: String,
}

pub(super) async fn create_key(
    State(c): State<Console>,
    headers: HeaderMap,
    form: Result<Form<CreateKeyForm>, FormRejection>,
) -> Response {
    let (id, form) = match admit_for_account(&c, &headers, form, |f| &f.tenant).await {
        Ok(admitted) => admitted,
        Err(refused) => return refused,
    };
    // No key is created whose secret could not wait for its page.
    if c.0
        .sessions
        .with(&id, |s| s.can_add_pending(Instant::now()))
        != Some(true)
    {
        c.flash(
            &id,
            Flash::Error(format!(
                "No key was created: {} new keys are waiting for their secret to be shown. \
                 Open their page first.",
                session::MAX_PENDING_SECRETS
            )),
        );
        return c.back_to(&form.tenant);
    }
    match c.0.keys.create(&form.tenant, form.name.trim(), None).await {
        Ok(key) => {
            let key_id = key.info.id.clone();
            let now = Instant::now();
            // Shown once, all pending keys together, by the page this redirect opens.
            match c.0.sessions.with(&id, |s| s.add_pending(key, now)) {
                Some(Ok(reveal)) => {
                    return see_other(&format!(
                        "/admin?tenant={}&reveal={reveal}",
                        query_escape(&form.tenant)
                    ));
                }
                // The session ended meanwhile, or another request filled the list: a key
                // whose secret nobody will see must not stay live.
                outcome => {
                    if let Err(e) = c.0.keys.revoke(&form.tenant, &key_id).await {
                        tracing::error!(key_id, error = %e, "admin console: could not revoke an unshown key");
                    }
                    let why = match outcome {
                        Some(Err(PendingError::Full)) => {
                            "too many new keys are waiting for their secret to be shown"
                        }
                        Some(Err(PendingError::Randomness)) => "no randomness",
                        _ => "the session ended",
                    };
                    c.flash(
                        &id,
                        Flash::Error(format!("No key was created: {why}. Try again.")),
                    );
                }
            }
        }
        Err(e @ (AdminError::InvalidName(_) | AdminError::NotEntitled(_))) => {
            c.flash(&id, Flash::Error(format!("No key was created: {e}.")));
        }
        Err(e) => return admin_error(e),
    }
    c.back_to(&form.tenant)
}

#[derive(Deserialize)]
pub(super) struct RevokeForm {
    #[serde(default)]
    pub(super) csrf: String,
    tenant: String,
    id: String,
}

pub(super) async fn revoke_key(
    State(c): State<Console>,
    headers: HeaderMap,
    form: Result<Form<RevokeForm>, FormRejection>,
) -> Response {
    let (id, form) = match admit_for_account(&c, &headers, form, |f| &f.tenant).await {
        Ok(admitted) => admitted,
        Err(refused) => return refused,
    };
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

/// Admits a form about one account: the session and its CSRF token
/// ([`Console::admit`]), then the account the form names (`tenant`), which must exist.
async fn admit_for_account<F: Posted>(
    c: &Console,
    headers: &HeaderMap,
    form: Result<Form<F>, FormRejection>,
    tenant: fn(&F) -> &str,
) -> Result<(String, F), Response> {
    let (id, form) = c.admit(headers, form)?;
    c.check_tenant(tenant(&form)).await?;
    Ok((id, form))
}
