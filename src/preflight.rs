//! Before a role starts: the settings that would make it fail open are refused, all at once,
//! each naming its key. A simulator or an outbox in production, missing Vipps credentials, a
//! worker that cannot know the public address: the process exits before it serves anything.

use secrecy::ExposeSecret;

use crate::{
    config::Settings,
    db::{Db, vipps_events},
    sms::SmsProvider,
    vipps::VippsMode,
};

/// The long-running roles of the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Serve,
    Api,
    Worker,
    Demo,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Serve => "serve",
            Role::Api => "api",
            Role::Worker => "worker",
            Role::Demo => "demo",
        }
    }

    /// Whether this role answers HTTP (and so receives webhooks).
    pub fn has_http(self) -> bool {
        !matches!(self, Role::Worker)
    }

    /// Whether the Vipps simulator can run inside this role's process.
    fn hosts_simulator(self) -> bool {
        matches!(self, Role::Serve | Role::Demo)
    }
}

/// Checks `settings` for `role`; returns the warnings to log, or an error listing every
/// problem. `db` is the migrated database (webhook registrations live there).
pub async fn check(settings: &Settings, role: Role, db: &Db) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let production = settings.origin.is_production();
    let vipps = &settings.vipps;
    match vipps.mode {
        VippsMode::Simulator if !role.hosts_simulator() => problems.push(format!(
            "vipps.mode = \"simulator\": the simulator runs only inside `dialogpay serve` and \
             `dialogpay demo`, not in `dialogpay {}`. For the split deployment without Vipps, \
             run `dialogpay vipps-sim --port 8099` and set vipps.mode = \"live\" and \
             vipps.base_url = \"http://HOST:8099\" (any credentials), then register our \
             webhook with `dialogpay vipps webhooks register`",
            role.name()
        )),
        VippsMode::Simulator if production => warnings.push(
            "vipps.mode = \"simulator\" in production: payments go to the built-in simulator, \
             not to Vipps"
                .to_owned(),
        ),
        VippsMode::Simulator => {}
        VippsMode::Live => {
            let missing = [
                ("vipps.client_id", vipps.client_id.is_empty()),
                (
                    "vipps.client_secret",
                    vipps.client_secret.expose_secret().is_empty(),
                ),
                (
                    "vipps.subscription_key",
                    vipps.subscription_key.expose_secret().is_empty(),
                ),
            ];
            for (key, empty) in missing {
                if empty {
                    problems.push(format!(
                        "{key}: required in live mode (set DIALOGPAY__{})",
                        key.to_uppercase().replace('.', "__")
                    ));
                }
            }
            if role.has_http()
                && vipps.webhook_secret.expose_secret().is_empty()
                && vipps_events::registration_count(db).await? == 0
            {
                problems.push(
                    "vipps.webhook_secret: required in live mode, or a registration made with \
                     `dialogpay vipps webhooks register --msn MSN --url URL` (which stores its \
                     secret in the database); without either every Vipps webhook is refused"
                        .to_owned(),
                );
            }
        }
    }
    if production {
        production_problems(settings, &mut problems, &mut warnings);
    }
    if !role.has_http() && settings.server.public_base_url.is_none() {
        problems.push(
            "server.public_base_url: required for `dialogpay worker`, which has no listener to \
             take it from: the links in SMS and Vipps's merchantAgreementUrl point at the API"
                .to_owned(),
        );
    }
    if problems.is_empty() {
        Ok(warnings)
    } else {
        anyhow::bail!(
            "refusing to start `dialogpay {}`{}:\n  {}",
            role.name(),
            if production {
                " in the production environment"
            } else {
                ""
            },
            problems.join("\n  ")
        )
    }
}

/// Development defaults the production environment does not accept.
fn production_problems(
    settings: &Settings,
    problems: &mut Vec<String>,
    warnings: &mut Vec<String>,
) {
    let origin = &settings.origin;
    if settings.server.public_base_url.is_none() {
        problems.push(
            "server.public_base_url: required in production (the https address users and Vipps \
             reach us at; set DIALOGPAY__SERVER__PUBLIC_BASE_URL)"
                .to_owned(),
        );
    }
    let sms = &settings.sms;
    match sms.provider {
        SmsProvider::Outbox if !origin.is_explicit("sms.provider") => problems.push(
            "sms.provider: \"outbox\" (the default) sends no SMS at all; in production set \
             \"http\" or \"link\", or \"outbox\" explicitly to run without sending"
                .to_owned(),
        ),
        SmsProvider::Outbox => warnings.push(
            "sms.provider = \"outbox\" in production: no SMS is sent, replies are only stored"
                .to_owned(),
        ),
        SmsProvider::Http if sms.inbound_token.expose_secret().is_empty() => problems.push(
            "sms.inbound_token: required in production with sms.provider = \"http\" (without it \
             POST /webhooks/sms/inbound refuses every message; set DIALOGPAY__SMS__INBOUND_TOKEN)"
                .to_owned(),
        ),
        SmsProvider::Link if sms.link.inbound_password.expose_secret().is_empty() => problems.push(
            "sms.link.inbound_password: required in production with sms.provider = \"link\" \
                 (without it LINK's MO messages and delivery reports are refused; set \
                 DIALOGPAY__SMS__LINK__INBOUND_PASSWORD)"
                .to_owned(),
        ),
        SmsProvider::Http | SmsProvider::Link => {}
    }
}
