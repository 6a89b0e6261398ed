//! The console's HTML, rendered on the server. Every interpolated value goes through
//! [`esc`]; there is no inline script, style or event handler (the CSP forbids them):
//! behaviour is in `app.js`, looks in `app.css`.

use std::fmt::Write;

use chrono::{DateTime, Utc};
use scimkit::csv::{ImportSummary, RowOutcome, RowReport};
use scimkit::keys::{ApiKeyInfo, NewApiKey, Tenant};

use super::session::Flash;

/// HTML-escapes text for an element's content or a quoted attribute value.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The document around `body`.
fn layout(title: &str, header: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · scimkit admin</title>
<link rel="stylesheet" href="/admin/static/app.css">
<script src="/admin/static/app.js" defer></script>
</head>
<body>
<header class="top">
<div class="brand">scimkit <span>admin console</span></div>
{header}
</header>
<main>
{body}
</main>
</body>
</html>
"#,
        title = esc(title),
    )
}

/// A hidden input carrying the session's CSRF token.
fn csrf_field(csrf: &str) -> String {
    format!(r#"<input type="hidden" name="csrf" value="{}">"#, esc(csrf))
}

/// The login form.
pub fn login(csrf: &str, error: Option<&str>) -> String {
    let error = error.map_or_else(String::new, |e| {
        format!(r#"<p class="flash error" role="alert">{}</p>"#, esc(e))
    });
    let body = format!(
        r#"<section class="card narrow">
<h1>Log in</h1>
{error}
<p class="muted">Use the admin password the server printed when it started
(<code>Admin console: … (password: …)</code>).</p>
<form method="post" action="/admin/login" id="login-form">
{csrf}
<label for="password">Admin password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required autofocus>
<button type="submit" class="primary">Log in</button>
</form>
</section>"#,
        csrf = csrf_field(csrf),
    );
    layout("Log in", "", &body)
}

/// A page that only says what went wrong.
pub fn error(title: &str, message: &str) -> String {
    let body = format!(
        r#"<section class="card narrow">
<h1>{}</h1>
<p>{}</p>
<p><a href="/admin">Back to the admin console</a></p>
</section>"#,
        esc(title),
        esc(message)
    );
    layout(title, "", &body)
}

/// The outcome of a CSV upload, for the report under the upload form.
pub struct ImportView {
    /// The uploaded file's name, as the browser gave it.
    pub file_name: String,
    /// The counts, or why the import could not run (or stopped).
    pub result: Result<ImportSummary, String>,
    /// The first rows' outcomes.
    pub rows: Vec<RowReport>,
    /// Whether there were more rows than `rows` holds.
    pub truncated: bool,
}

/// Everything the dashboard shows for one tenant.
pub struct Dashboard<'a> {
    pub csrf: &'a str,
    pub tenant: &'a Tenant,
    /// The tenants the picker offers, the current one included.
    pub tenants: &'a [String],
    pub api_url: Option<&'a str>,
    pub keys: &'a [ApiKeyInfo],
    pub flash: Option<&'a Flash>,
    /// Keys just created: their secrets are shown in a dialog, this once.
    pub reveal: &'a [NewApiKey],
    pub import: Option<&'a ImportView>,
    /// The account's groups (first page) when the server serves groups (`--groups`).
    pub groups: Option<&'a GroupsView>,
    pub now: DateTime<Utc>,
}

/// The groups the console shows, read-only: the identity provider owns them.
pub struct GroupsView {
    /// How many groups the account has.
    pub total: usize,
    /// The first of them: display name and the identity provider's `externalId`.
    pub groups: Vec<(String, Option<String>)>,
}

/// The admin console's one page.
pub fn dashboard(d: &Dashboard<'_>) -> String {
    let mut body = String::new();
    if let Some(flash) = d.flash {
        let (class, text) = match flash {
            Flash::Info(t) => ("info", t),
            Flash::Error(t) => ("error", t),
        };
        let _ = write!(
            body,
            r#"<p class="flash {class}" role="status" id="flash">{}</p>"#,
            esc(text)
        );
    }
    body.push_str(&scim_section(d));
    body.push_str(&api_url_section(d));
    body.push_str(&keys_section(d));
    body.push_str(&import_section(d));
    if let Some(groups) = d.groups {
        body.push_str(&groups_section(groups));
    }
    if !d.reveal.is_empty() {
        body.push_str(&secret_dialog(d.reveal));
    }
    layout(&d.tenant.id, &header(d), &body)
}

/// The tenant picker and the logout button.
fn header(d: &Dashboard<'_>) -> String {
    let mut options = String::new();
    for t in d.tenants {
        let _ = write!(
            options,
            r#"<option value="{v}"{sel}>{v}</option>"#,
            v = esc(t),
            sel = if *t == d.tenant.id { " selected" } else { "" }
        );
    }
    format!(
        r#"<form method="get" action="/admin" class="tenant-picker">
<label for="tenant">Account</label>
<select id="tenant" name="tenant" data-autosubmit>{options}</select>
<button type="submit" class="secondary js-hidden">Open</button>
</form>
<form method="post" action="/admin/logout" class="logout">
{csrf}
<button type="submit" class="link">Log out</button>
</form>"#,
        csrf = csrf_field(d.csrf)
    )
}

fn tenant_field(d: &Dashboard<'_>) -> String {
    format!(
        r#"<input type="hidden" name="tenant" value="{}">"#,
        esc(&d.tenant.id)
    )
}

fn scim_section(d: &Dashboard<'_>) -> String {
    let t = d.tenant;
    // Connected: SCIM is on and a live key has been used.
    let connected = if t.scim_active() {
        d.keys
            .iter()
            .filter(|k| k.is_live(d.now))
            .filter_map(|k| k.last_used_at.map(|at| (at, k)))
            .max_by_key(|(at, _)| *at)
    } else {
        None
    };
    let (pill, status) = if !t.scim_entitled {
        (
            r#"<span class="pill off" id="scim-status">Not available</span>"#,
            "SCIM provisioning is not available for this account yet: the vendor makes it \
             available (in this example server: <code>server tenants entitle ACCOUNT</code>). \
             Until then, the switch and API keys are unavailable."
                .to_owned(),
        )
    } else if t.scim_enabled {
        let status = match connected {
            Some((at, key)) => format!(
                "Your identity provider is connected: its last request was at {} with the \
                 key “{}”.",
                esc(&when(at)),
                esc(&key.name)
            ),
            None => "Requests with a valid API key are served. No identity provider has \
                     called yet: paste the API URL and an API key into it."
                .to_owned(),
        };
        (
            r#"<span class="pill on" id="scim-status">On</span>"#,
            status,
        )
    } else {
        (
            r#"<span class="pill off" id="scim-status">Off</span>"#,
            "Requests from your identity provider are refused (403) until you turn SCIM \
             provisioning on."
                .to_owned(),
        )
    };
    let switch = if t.scim_entitled {
        let (value, label, confirm) = if t.scim_enabled {
            (
                "off",
                "Turn SCIM provisioning off",
                r#" data-confirm="Turn SCIM provisioning off? Your identity provider's requests will be refused until you turn it on again.""#,
            )
        } else {
            ("on", "Turn SCIM provisioning on", "")
        };
        format!(
            r#"<form method="post" action="/admin/scim" class="inline"{confirm}>
{csrf}{tenant}
<input type="hidden" name="scim" value="{value}">
<button type="submit" class="switch" id="scim-switch" role="switch" aria-checked="{checked}">
<span class="track"><span class="knob"></span></span><span class="switch-label">{label}</span>
</button>
</form>"#,
            csrf = csrf_field(d.csrf),
            tenant = tenant_field(d),
            checked = t.scim_enabled,
        )
    } else {
        String::new()
    };
    let note = if connected.is_some() {
        "CSV upload (below) remains available for one-off imports."
    } else {
        "Until the SCIM connection with your identity provider is complete, provision your \
         users by uploading a CSV file (below)."
    };
    format!(
        r#"<section class="card" id="scim">
<div class="card-head"><h2>SCIM provisioning</h2>{pill}</div>
<p>{status}</p>
{switch}
<p class="note" id="csv-note">{note}</p>
</section>
"#
    )
}

fn api_url_section(d: &Dashboard<'_>) -> String {
    let body = match d.api_url {
        Some(url) => format!(
            r#"<div class="copy-row">
<input type="text" id="api-url" value="{}" readonly spellcheck="false" aria-label="API URL">
<button type="button" class="secondary" data-copy="api-url">Copy</button>
</div>"#,
            esc(url)
        ),
        None => "<p>No public URL is configured (<code>--base-url</code>).</p>".to_owned(),
    };
    format!(
        r#"<section class="card" id="api">
<h2>API URL</h2>
<p>Paste this URL into your identity provider's SCIM settings (Okta: “SCIM connector base
URL”; Entra ID: “Tenant URL”), with an API key as the bearer token.</p>
{body}
</section>
"#
    )
}

fn keys_section(d: &Dashboard<'_>) -> String {
    let create = if d.tenant.scim_entitled {
        format!(
            r#"<form method="post" action="/admin/keys" class="create-key" id="create-key">
{csrf}{tenant}
<label for="key-name">New key name</label>
<input type="text" id="key-name" name="name" maxlength="200" required placeholder="e.g. Okta production" autocomplete="off">
<button type="submit" class="primary">Create API key</button>
</form>"#,
            csrf = csrf_field(d.csrf),
            tenant = tenant_field(d),
        )
    } else {
        r#"<p class="muted">API keys can be created once SCIM is available for this account.</p>"#
            .to_owned()
    };
    let mut rows = String::new();
    for k in d.keys {
        let (status, action) = match (k.revoked_at, k.expires_at) {
            (Some(at), _) => (
                format!(
                    r#"<span class="pill off">revoked {}</span>"#,
                    esc(&when(at))
                ),
                String::new(),
            ),
            (None, Some(e)) if e <= d.now => (
                r#"<span class="pill off">expired</span>"#.to_owned(),
                revoke_form(d, k),
            ),
            (None, Some(e)) => (
                format!(
                    r#"<span class="pill on">live</span> <span class="muted">expires {}</span>"#,
                    esc(&when(e))
                ),
                revoke_form(d, k),
            ),
            (None, None) => (
                r#"<span class="pill on">live</span>"#.to_owned(),
                revoke_form(d, k),
            ),
        };
        let _ = write!(
            rows,
            r#"<tr data-key-id="{id}"><td class="key-name">{name}</td><td class="when">{created}</td><td class="when">{used}</td><td>{status}</td><td class="actions">{action}</td></tr>"#,
            id = esc(&k.id),
            name = esc(&k.name),
            created = esc(&when(k.created_at)),
            used = esc(&k.last_used_at.map_or_else(|| "never".to_owned(), when)),
        );
    }
    let table = if d.keys.is_empty() {
        r#"<p class="muted" id="no-keys">No API keys yet.</p>"#.to_owned()
    } else {
        format!(
            r#"<table class="keys" id="key-list">
<thead><tr><th>Name</th><th>Created</th><th>Last used</th><th>Status</th><th></th></tr></thead>
<tbody>{rows}</tbody>
</table>"#
        )
    };
    format!(
        r#"<section class="card" id="keys">
<h2>API keys</h2>
<p>Give each identity provider connection its own key. To rotate one, create a new key,
configure it in the identity provider, wait until the old key's “last used” stops moving,
then revoke the old key.</p>
{create}
{table}
</section>
"#
    )
}

fn revoke_form(d: &Dashboard<'_>, k: &ApiKeyInfo) -> String {
    format!(
        r#"<form method="post" action="/admin/keys/revoke" class="inline" data-confirm="Revoke the key “{name}”? Requests with it will be refused at once.">
{csrf}{tenant}
<input type="hidden" name="id" value="{id}">
<button type="submit" class="danger">Revoke</button>
</form>"#,
        name = esc(&k.name),
        id = esc(&k.id),
        csrf = csrf_field(d.csrf),
        tenant = tenant_field(d),
    )
}

fn import_section(d: &Dashboard<'_>) -> String {
    let report = d.import.map(import_report).unwrap_or_default();
    format!(
        r#"<section class="card" id="import">
<h2>Import users from a CSV file</h2>
<p>One user per row after a header row, matched by <code>userName</code>: a new userName
creates a user, a known one updates the columns the file has. Columns such as
<code>userName</code>, <code>givenName</code>, <code>familyName</code>, <code>email</code>,
<code>displayName</code>, <code>active</code>, <code>department</code> (or any User
attribute path); an export (<code>server export</code>) imports back unchanged.</p>
<form method="post" action="/admin/import" enctype="multipart/form-data" id="import-form">
{csrf}{tenant}
<label for="csv-file">CSV file</label>
<input type="file" id="csv-file" name="file" accept=".csv,text/csv" required>
<label class="check"><input type="checkbox" name="dry_run" value="1"> Check only (dry run: nothing is written)</label>
<button type="submit" class="primary">Upload and import</button>
</form>
{report}
</section>
"#,
        csrf = csrf_field(d.csrf),
        tenant = tenant_field(d),
    )
}

/// The account's groups, read-only (the identity provider pushes them).
fn groups_section(v: &GroupsView) -> String {
    let mut rows = String::new();
    for (name, external_id) in &v.groups {
        let _ = write!(
            rows,
            "<tr><td>{}</td><td>{}</td></tr>",
            esc(name),
            esc(external_id.as_deref().unwrap_or(""))
        );
    }
    let table = if v.groups.is_empty() {
        "<p>No groups yet: they appear when the identity provider pushes them.</p>".to_owned()
    } else {
        format!(
            r#"<table id="groups-table"><thead><tr><th>Group</th><th>External id</th></tr></thead><tbody>{rows}</tbody></table>"#
        )
    };
    let more = if v.total > v.groups.len() {
        format!("<p>The first {} of {} groups.</p>", v.groups.len(), v.total)
    } else {
        String::new()
    };
    format!(
        r#"<section class="card" id="groups">
<h2>Groups</h2>
<p>Pushed by the identity provider over SCIM; shown here read-only.</p>
{table}{more}
</section>
"#
    )
}

fn import_report(v: &ImportView) -> String {
    let summary = match &v.result {
        Ok(s) => format!(
            r#"<p class="flash {class}" id="import-summary">{file}: {rows} row{plural}: {created} created, {updated} updated, {unchanged} unchanged, {rejected} rejected{dry}.</p>"#,
            class = if s.rejected > 0 { "error" } else { "info" },
            file = esc(&v.file_name),
            rows = s.rows,
            plural = if s.rows == 1 { "" } else { "s" },
            created = s.created,
            updated = s.updated,
            unchanged = s.unchanged,
            rejected = s.rejected,
            dry = if s.dry_run {
                " (dry run: nothing was written)"
            } else {
                ""
            },
        ),
        Err(e) => format!(
            r#"<p class="flash error" id="import-summary">{}: {}</p>"#,
            esc(&v.file_name),
            esc(e)
        ),
    };
    if v.rows.is_empty() {
        return summary;
    }
    let mut rows = String::new();
    for r in &v.rows {
        let (class, outcome, detail) = match &r.outcome {
            RowOutcome::Created { id } => (
                "created",
                "created",
                id.as_deref()
                    .map_or_else(String::new, |id| format!("id {id}")),
            ),
            RowOutcome::Updated { id } => ("updated", "updated", format!("id {id}")),
            RowOutcome::Unchanged { id } => ("unchanged", "unchanged", format!("id {id}")),
            RowOutcome::Rejected(e) => (
                "rejected",
                "rejected",
                match e.scim_type() {
                    Some(t) => format!("{} ({})", e, t.as_str()),
                    None => e.to_string(),
                },
            ),
            _ => ("", "other", String::new()),
        };
        let _ = write!(
            rows,
            r#"<tr class="{class}"><td class="num">{line}</td><td>{user}</td><td><span class="outcome {class}">{outcome}</span></td><td>{detail}</td></tr>"#,
            line = r.line,
            user = esc(&r.user_name),
            detail = esc(&detail),
        );
    }
    let more = if v.truncated {
        r#"<p class="muted">Only the first rows are listed; the counts above cover the whole file.</p>"#
    } else {
        ""
    };
    format!(
        r#"{summary}
<table class="report" id="import-report">
<thead><tr><th>Line</th><th>userName</th><th>Outcome</th><th>Details</th></tr></thead>
<tbody>{rows}</tbody>
</table>
{more}"#
    )
}

/// The dialog with the secrets of the keys just created (usually one; several when the
/// form was submitted more than once), each shown this once.
fn secret_dialog(keys: &[NewApiKey]) -> String {
    let title = match keys {
        [key] => format!("API key “{}” created", esc(&key.info.name)),
        keys => format!("{} API keys created", keys.len()),
    };
    let mut secrets = String::new();
    for (i, key) in keys.iter().enumerate() {
        let id = if i == 0 {
            "new-key-secret".to_owned()
        } else {
            format!("new-key-secret-{}", i + 1)
        };
        let label = if keys.len() > 1 {
            format!(
                r#"<label for="{id}" class="secret-name">{}</label>"#,
                esc(&key.info.name)
            )
        } else {
            String::new()
        };
        let _ = write!(
            secrets,
            r#"{label}<div class="copy-row">
<input type="text" id="{id}" class="new-key-secret" value="{secret}" readonly spellcheck="false" autocomplete="off" aria-label="API key secret of {name}">
<button type="button" class="primary" data-copy="{id}">Copy</button>
</div>
"#,
            name = esc(&key.info.name),
            secret = esc(key.secret.expose()),
        );
    }
    let (copy, these) = if keys.len() > 1 {
        (
            "Copy the secrets now and paste each into the identity provider it is for",
            "These secrets",
        )
    } else {
        (
            "Copy the secret now and paste it into your identity provider",
            "This secret",
        )
    };
    format!(
        r#"<dialog id="new-key" open data-modal aria-labelledby="new-key-title">
<h2 id="new-key-title">{title}</h2>
<p>{copy} as the bearer token, together with the API URL.</p>
{secrets}<p class="warning" id="new-key-warning"><strong>{these} will not be shown again.</strong>
Only a hash is stored, so nobody can retrieve it later. If you lose a secret, create a new
key and revoke the old one.</p>
<form method="dialog"><button type="submit" class="secondary" id="new-key-done">I have stored it</button></form>
</dialog>"#
    )
}

/// A time as the console shows it: to the minute, in UTC.
fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
