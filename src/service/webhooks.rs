//! A partner's webhook endpoints (where events about its dialogues are posted), their
//! delivery log, and sending deliveries again. The events themselves are written where the
//! changes happen ([`db::webhooks::emit`]) and delivered by the `webhooks.deliver` job.

use dialogpay_jobs::{JobSpec, webhooks::DeliverWebhook};

use crate::{
    db::{
        audit,
        webhooks::{self, Attempt, Delivery, Endpoint, EndpointChange, NewEndpoint},
    },
    domain::{
        partner_events::{self, DeliveryStatus, EventType},
        standard_webhooks::SigningSecret,
    },
    service::{
        FieldProblem, PartnerActor, ServiceError, ServiceResult,
        page::{Page, PageRequest},
    },
    state::AppState,
};

/// Longest accepted endpoint URL.
pub const MAX_URL_CHARS: usize = 2_000;
/// Longest accepted description.
pub const MAX_DESCRIPTION_CHARS: usize = 200;
/// Most endpoints one partner may have.
pub const MAX_ENDPOINTS: usize = 20;
/// Most deliveries one "send the failed ones again" queues.
pub const MAX_RESEND: i64 = 10_000;

/// What a partner asks for when making or changing an endpoint; `None` keeps a value.
#[derive(Debug, Clone, Default)]
pub struct EndpointInput<'a> {
    pub url: Option<&'a str>,
    pub event_types: Option<&'a [String]>,
    pub description: Option<&'a str>,
    pub enabled: Option<bool>,
}

/// A new endpoint and its signing secret, which is shown this once.
pub struct CreatedEndpoint {
    pub endpoint: Endpoint,
    pub secret: String,
}

/// The checked values of an [`EndpointInput`].
struct Checked {
    url: Option<String>,
    event_types: Option<String>,
    description: Option<String>,
}

/// Checks every field at once: an absolute `https` URL (or `http` outside production, for a
/// receiver on the same machine), at least one known event type, a short description.
fn check(state: &AppState, input: &EndpointInput<'_>) -> ServiceResult<Checked> {
    let mut problems = Vec::new();
    let url = input.url.map(str::trim).and_then(|url| {
        match check_url(url, state.settings.origin.is_production()) {
            Ok(()) => Some(url.to_owned()),
            Err(message) => {
                problems.push(FieldProblem::new("url", message));
                None
            }
        }
    });
    let event_types = input.event_types.map(|names| {
        let mut types = Vec::new();
        for name in names {
            match EventType::try_from(name.as_str()) {
                Ok(t) => types.push(t),
                Err(e) => problems.push(FieldProblem::new("event_types", e.to_string())),
            }
        }
        if names.is_empty() {
            problems.push(FieldProblem::new(
                "event_types",
                "subscribe to at least one event type",
            ));
        }
        partner_events::subscriptions_text(&types)
    });
    let description = input.description.map(|d| d.trim().to_owned());
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_CHARS)
    {
        problems.push(FieldProblem::new(
            "description",
            format!("at most {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    if !problems.is_empty() {
        return Err(ServiceError::Invalid(problems));
    }
    Ok(Checked {
        url,
        event_types,
        description,
    })
}

fn check_url(url: &str, production: bool) -> Result<(), String> {
    if url.chars().count() > MAX_URL_CHARS {
        return Err(format!("at most {MAX_URL_CHARS} characters"));
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not an absolute URL: {e}"))?;
    match parsed.scheme() {
        "https" => {}
        "http" if !production => {}
        "http" => return Err("must be https".to_owned()),
        other => return Err(format!("must be https (not {other})")),
    }
    let Some(host) = parsed.host() else {
        return Err("must name a host".to_owned());
    };
    if production && is_internal(&host) {
        return Err(
            "must be an address on the internet, not this machine or a private network".to_owned(),
        );
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not carry a user name or password".to_owned());
    }
    Ok(())
}

/// A host that names this machine or a private network (by name or address literal): in
/// production, events must not be posted there. A name that resolves to such an address is
/// refused when a delivery connects (`worker::public_dns`).
fn is_internal(host: &url::Host<&str>) -> bool {
    use std::net::IpAddr;
    let internal_ip = partner_events::is_internal_ip;
    match host {
        url::Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost") || name.ends_with(".internal")
        }
        url::Host::Ipv4(ip) => internal_ip(IpAddr::V4(*ip)),
        url::Host::Ipv6(ip) => internal_ip(IpAddr::V6(*ip)),
    }
}

/// Makes an endpoint with a new signing secret (returned this once).
pub async fn create(
    state: &AppState,
    actor: &PartnerActor,
    input: &EndpointInput<'_>,
) -> ServiceResult<CreatedEndpoint> {
    let checked = check(state, input)?;
    let (Some(url), Some(event_types)) = (checked.url, checked.event_types) else {
        let mut problems = Vec::new();
        if input.url.is_none() {
            problems.push(FieldProblem::new("url", "required"));
        }
        if input.event_types.is_none() {
            problems.push(FieldProblem::new("event_types", "required"));
        }
        return Err(ServiceError::Invalid(problems));
    };
    if webhooks::count_endpoints(&state.db, actor.partner_id()).await? >= MAX_ENDPOINTS as i64 {
        return Err(ServiceError::conflict(
            "too_many_endpoints",
            format!("a partner has at most {MAX_ENDPOINTS} webhook endpoints"),
        ));
    }
    let secret = SigningSecret::generate().expose();
    let now = state.clock.now_ms();
    let new = NewEndpoint {
        partner_id: actor.partner_id(),
        url: &url,
        event_types: &event_types,
        description: checked.description.as_deref().unwrap_or(""),
        enabled: input.enabled.unwrap_or(true),
        secret: &secret,
    };
    let mut tx = state.db.begin().await?;
    let id = webhooks::create_endpoint(&mut tx, &new, now).await?;
    audit::record_tx(
        &mut tx,
        &actor.audit("webhook_endpoint.create", "webhook_endpoint", &id),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(CreatedEndpoint {
        endpoint: get(state, actor, &id).await?,
        secret,
    })
}

pub async fn get(state: &AppState, actor: &PartnerActor, id: &str) -> ServiceResult<Endpoint> {
    webhooks::get_endpoint(&state.db, actor.partner_id(), id)
        .await?
        .ok_or(ServiceError::NotFound("webhook endpoint"))
}

/// The partner's endpoints, newest first.
pub async fn list(
    state: &AppState,
    actor: &PartnerActor,
    page: &PageRequest,
) -> ServiceResult<Page<Endpoint>> {
    let rows = webhooks::list_endpoints(
        &state.db,
        actor.partner_id(),
        page.cursor(),
        page.fetch_limit(),
    )
    .await?;
    Ok(page.finish(rows, |e| e.id.clone()))
}

/// Changes an endpoint; enabling a disabled one clears why it was disabled.
pub async fn update(
    state: &AppState,
    actor: &PartnerActor,
    id: &str,
    input: &EndpointInput<'_>,
) -> ServiceResult<Endpoint> {
    let checked = check(state, input)?;
    let change = EndpointChange {
        url: checked.url.as_deref(),
        event_types: checked.event_types.as_deref(),
        description: checked.description.as_deref(),
        enabled: input.enabled,
    };
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    if !webhooks::update_endpoint(&mut tx, actor.partner_id(), id, &change, now).await? {
        return Err(ServiceError::NotFound("webhook endpoint"));
    }
    audit::record_tx(
        &mut tx,
        &actor.audit("webhook_endpoint.update", "webhook_endpoint", id),
        now,
    )
    .await?;
    tx.commit().await?;
    get(state, actor, id).await
}

/// Removes an endpoint with its delivery log; its pending deliveries are not sent.
pub async fn delete(state: &AppState, actor: &PartnerActor, id: &str) -> ServiceResult<()> {
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    if !webhooks::delete_endpoint(&mut tx, actor.partner_id(), id).await? {
        return Err(ServiceError::NotFound("webhook endpoint"));
    }
    audit::record_tx(
        &mut tx,
        &actor.audit("webhook_endpoint.delete", "webhook_endpoint", id),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A delivery log's status filter as given: `PENDING`, `DELIVERED` or `FAILED`; absent is every
/// status, anything else a bad request.
pub fn status_filter(text: Option<&str>) -> ServiceResult<Option<DeliveryStatus>> {
    text.map(DeliveryStatus::try_from)
        .transpose()
        .map_err(|e| ServiceError::BadInput(format!("status: {e}")))
}

/// An endpoint's deliveries, newest first, optionally of one status.
pub async fn deliveries(
    state: &AppState,
    actor: &PartnerActor,
    endpoint_id: &str,
    status: Option<DeliveryStatus>,
    page: &PageRequest,
) -> ServiceResult<Page<Delivery>> {
    get(state, actor, endpoint_id).await?;
    let rows = webhooks::list_deliveries(
        &state.db,
        endpoint_id,
        status,
        page.cursor(),
        page.fetch_limit(),
    )
    .await?;
    Ok(page.finish(rows, |d| d.id.clone()))
}

/// One delivery with its attempts and the body it sends.
pub async fn delivery(
    state: &AppState,
    actor: &PartnerActor,
    delivery_id: &str,
) -> ServiceResult<(Delivery, String, Vec<Attempt>)> {
    let not_found = ServiceError::NotFound("webhook delivery");
    let Some(delivery) = webhooks::get_delivery(&state.db, delivery_id).await? else {
        return Err(not_found);
    };
    if webhooks::get_endpoint(&state.db, actor.partner_id(), &delivery.endpoint_id)
        .await?
        .is_none()
    {
        return Err(not_found);
    }
    let body = webhooks::get_event(&state.db, &delivery.event_id)
        .await?
        .map(|e| e.body)
        .unwrap_or_default();
    let attempts = webhooks::attempts(&state.db, delivery_id).await?;
    Ok((delivery, body, attempts))
}

/// Sends one delivery again (with the same `webhook-id`), whatever its status.
pub async fn resend(
    state: &AppState,
    actor: &PartnerActor,
    delivery_id: &str,
) -> ServiceResult<Delivery> {
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let found = webhooks::resend(
        &mut tx,
        &state.enqueuer,
        actor.partner_id(),
        delivery_id,
        now,
    )
    .await
    .map_err(|e| ServiceError::Internal(e.into()))?;
    if !found {
        return Err(ServiceError::NotFound("webhook delivery"));
    }
    audit::record_tx(
        &mut tx,
        &actor.audit("webhook_delivery.resend", "webhook_delivery", delivery_id),
        now,
    )
    .await?;
    tx.commit().await?;
    state.enqueuer.wake(DeliverWebhook::QUEUE);
    Ok(delivery(state, actor, delivery_id).await?.0)
}

/// Sends again every FAILED delivery of an endpoint made at or after `since_ms`; returns how
/// many (at most [`MAX_RESEND`]).
pub async fn resend_failed(
    state: &AppState,
    actor: &PartnerActor,
    endpoint_id: &str,
    since_ms: i64,
) -> ServiceResult<u64> {
    get(state, actor, endpoint_id).await?;
    let ids = webhooks::failed_since(&state.db, endpoint_id, since_ms, MAX_RESEND).await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    for id in &ids {
        webhooks::resend(&mut tx, &state.enqueuer, actor.partner_id(), id, now)
            .await
            .map_err(|e| ServiceError::Internal(e.into()))?;
    }
    let mut entry = actor.audit(
        "webhook_endpoint.resend_failed",
        "webhook_endpoint",
        endpoint_id,
    );
    entry.details = Some(serde_json::json!({ "since_ms": since_ms, "deliveries": ids.len() }));
    audit::record_tx(&mut tx, &entry, now).await?;
    tx.commit().await?;
    state.enqueuer.wake(DeliverWebhook::QUEUE);
    Ok(ids.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_takes_only_https_urls_on_the_internet() {
        for url in [
            "https://crm.example.org/hooks",
            "https://203.0.113.7:8443/h?x=1",
        ] {
            assert_eq!(check_url(url, true), Ok(()), "{url}");
        }
        for url in [
            "http://crm.example.org/hooks",
            "https://localhost/h",
            "https://127.0.0.1/h",
            "https://10.1.2.3/h",
            "https://192.168.0.10/h",
            "https://169.254.169.254/latest",
            "https://[::1]/h",
            "https://[fd00::1]/h",
            "https://metadata.google.internal/h",
            "https://user:pw@crm.example.org/h",
            "ftp://crm.example.org/h",
            "crm.example.org/h",
        ] {
            assert!(check_url(url, true).is_err(), "{url}");
        }
        assert_eq!(check_url("http://127.0.0.1:9000/hook", false), Ok(()));
        assert!(
            check_url(
                &format!("https://x.example/{}", "a".repeat(MAX_URL_CHARS)),
                false
            )
            .is_err()
        );
    }
}
