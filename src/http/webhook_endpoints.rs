//! `/api/v1/webhook-endpoints`: where events about the partner's dialogues are posted (signed
//! as the Standard Webhooks specification says), each endpoint's delivery log, and sending
//! deliveries again; the rules are in [`service::webhooks`](crate::service::webhooks).

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, param::Path, param::Query, payload::Json};

use crate::{
    db::webhooks::{Attempt, Delivery, Endpoint},
    domain::partner_events::{EventType, parse_subscriptions},
    http::{
        auth::PartnerAuth,
        error::{ApiError, ApiResult},
        health::ApiTags,
        text::Text,
        time::{ts, ts_opt},
    },
    service::{
        self,
        page::PageRequest,
        webhooks::{CreatedEndpoint, EndpointInput},
    },
    state::AppState,
};

pub struct WebhookEndpointsApi;

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct CreateEndpoint {
    /// Where events are posted: an absolute `https` URL (`http` is accepted outside
    /// production, for a receiver on the same machine).
    url: Text,
    /// The event types to send, e.g. `["agreement.activated", "charge.failed"]`.
    event_types: Vec<Text>,
    /// A note for the partner's own use (at most 200 characters).
    description: Option<Text>,
    /// Send events to it (default true).
    enabled: Option<bool>,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct ChangeEndpoint {
    url: Option<Text>,
    event_types: Option<Vec<Text>>,
    description: Option<Text>,
    /// Enabling a disabled endpoint clears why it was disabled.
    enabled: Option<bool>,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct ResendFailed {
    /// Every FAILED delivery made at or after this time is sent again.
    since: DateTime<Utc>,
}

#[derive(Object)]
struct EndpointView {
    id: String,
    url: String,
    event_types: Vec<String>,
    description: String,
    enabled: bool,
    /// Why it was disabled (after failing every delivery for five days); `null` when enabled
    /// or disabled by the partner.
    #[oai(nullable)]
    disabled_reason: Option<String>,
    /// Since when every delivery has failed; `null` while deliveries succeed.
    #[oai(nullable)]
    failing_since: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<Endpoint> for EndpointView {
    type Error = ApiError;

    fn try_from(e: Endpoint) -> ApiResult<Self> {
        let event_types = parse_subscriptions(&e.event_types)
            .map_err(ApiError::internal)?
            .into_iter()
            .map(|t| t.as_str().to_owned())
            .collect();
        Ok(EndpointView {
            id: e.id,
            url: e.url,
            event_types,
            description: e.description,
            enabled: e.enabled,
            disabled_reason: e.disabled_reason,
            failing_since: ts_opt(e.failing_since)?,
            created_at: ts(e.created_at)?,
            updated_at: ts(e.updated_at)?,
        })
    }
}

#[derive(Object)]
struct CreatedView {
    #[oai(flatten)]
    endpoint: EndpointView,
    /// The signing secret (`whsec_…`), shown this once: keep it where the receiver can read it.
    secret: String,
}

#[derive(Object)]
struct EndpointPage {
    items: Vec<EndpointView>,
    #[oai(nullable)]
    next_cursor: Option<String>,
}

#[derive(Object)]
struct DeliveryView {
    id: String,
    /// The `webhook-id` of every attempt of it.
    event_id: String,
    event_type: String,
    /// `PENDING`, `DELIVERED` or `FAILED`.
    status: String,
    attempts: i32,
    /// The HTTP status of the last answer; `null` before the first attempt or when there was
    /// no answer.
    #[oai(nullable)]
    last_status_code: Option<i32>,
    #[oai(nullable)]
    last_attempt_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    next_attempt_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    delivered_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

impl TryFrom<Delivery> for DeliveryView {
    type Error = ApiError;

    fn try_from(d: Delivery) -> ApiResult<Self> {
        Ok(DeliveryView {
            id: d.id,
            event_id: d.event_id,
            event_type: d.event_type.as_str().to_owned(),
            status: d.status.as_str().to_owned(),
            attempts: d.attempts,
            last_status_code: d.last_status_code,
            last_attempt_at: ts_opt(d.last_attempt_at)?,
            next_attempt_at: ts_opt(d.next_attempt_at)?,
            delivered_at: ts_opt(d.delivered_at)?,
            created_at: ts(d.created_at)?,
        })
    }
}

#[derive(Object)]
struct AttemptView {
    attempt: i32,
    at: DateTime<Utc>,
    /// `null` when there was no answer (refused, timed out).
    #[oai(nullable)]
    status_code: Option<i32>,
    duration_ms: i64,
    /// Why it failed, or the start of the answer's body.
    #[oai(nullable)]
    detail: Option<String>,
}

impl TryFrom<Attempt> for AttemptView {
    type Error = ApiError;

    fn try_from(a: Attempt) -> ApiResult<Self> {
        Ok(AttemptView {
            attempt: a.attempt,
            at: ts(a.at)?,
            status_code: a.status_code,
            duration_ms: a.duration_ms,
            detail: a.detail,
        })
    }
}

#[derive(Object)]
struct DeliveryDetail {
    #[oai(flatten)]
    delivery: DeliveryView,
    /// The exact body posted.
    body: String,
    attempts: Vec<AttemptView>,
}

#[derive(Object)]
struct DeliveryPage {
    items: Vec<DeliveryView>,
    #[oai(nullable)]
    next_cursor: Option<String>,
}

#[derive(Object)]
struct Resent {
    /// Deliveries queued to be sent again.
    deliveries: u64,
}

#[derive(Object)]
struct EventTypes {
    items: Vec<String>,
}

#[derive(ApiResponse)]
enum EndpointCreated {
    #[oai(status = 201)]
    Created(Json<CreatedView>),
}

#[derive(ApiResponse)]
enum Deleted {
    #[oai(status = 204)]
    Deleted,
}

#[derive(ApiResponse)]
enum Queued {
    #[oai(status = 202)]
    Queued(Json<Resent>),
}

#[derive(ApiResponse)]
enum DeliveryQueued {
    #[oai(status = 202)]
    Queued(Json<DeliveryView>),
}

fn texts(items: &[Text]) -> Vec<String> {
    items.iter().map(|t| t.0.clone()).collect()
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Webhooks")]
impl WebhookEndpointsApi {
    /// The event types an endpoint can subscribe to.
    #[oai(path = "/webhook-event-types", method = "get")]
    async fn event_types(&self, _auth: PartnerAuth) -> ApiResult<Json<EventTypes>> {
        Ok(Json(EventTypes {
            items: EventType::ALL
                .iter()
                .map(|t| t.as_str().to_owned())
                .collect(),
        }))
    }

    /// Register an endpoint; the answer carries its signing secret, shown this once.
    #[oai(path = "/webhook-endpoints", method = "post")]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: PartnerAuth,
        body: Json<CreateEndpoint>,
    ) -> ApiResult<EndpointCreated> {
        let event_types = texts(&body.event_types);
        let input = EndpointInput {
            url: Some(&body.url),
            event_types: Some(&event_types),
            description: body.description.as_deref(),
            enabled: body.enabled,
        };
        let CreatedEndpoint { endpoint, secret } =
            service::webhooks::create(&state, &auth.actor(), &input).await?;
        Ok(EndpointCreated::Created(Json(CreatedView {
            endpoint: endpoint.try_into()?,
            secret,
        })))
    }

    /// The partner's endpoints, newest first.
    #[oai(path = "/webhook-endpoints", method = "get")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: PartnerAuth,
        limit: Query<Option<u32>>,
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<EndpointPage>> {
        let page = PageRequest::new(limit.0, cursor.0)?;
        let endpoints = service::webhooks::list(&state, &auth.actor(), &page)
            .await?
            .map(EndpointView::try_from)?;
        Ok(Json(EndpointPage {
            items: endpoints.items,
            next_cursor: endpoints.next_cursor,
        }))
    }

    /// One endpoint.
    #[oai(path = "/webhook-endpoints/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: PartnerAuth,
        id: Path<String>,
    ) -> ApiResult<Json<EndpointView>> {
        let e = service::webhooks::get(&state, &auth.actor(), &id).await?;
        Ok(Json(e.try_into()?))
    }

    /// Change an endpoint's URL, event types, description, or whether it is enabled.
    #[oai(path = "/webhook-endpoints/:id", method = "patch")]
    async fn update(
        &self,
        state: Data<&AppState>,
        auth: PartnerAuth,
        id: Path<String>,
        body: Json<ChangeEndpoint>,
    ) -> ApiResult<Json<EndpointView>> {
        let event_types = body.event_types.as_deref().map(texts);
        let input = EndpointInput {
            url: body.url.as_deref(),
            event_types: event_types.as_deref(),
            description: body.description.as_deref(),
            enabled: body.enabled,
        };
        let e = service::webhooks::update(&state, &auth.actor(), &id, &input).await?;
        Ok(Json(e.try_into()?))
    }

    /// Remove an endpoint and its delivery log; deliveries not yet made are not sent.
    #[oai(path = "/webhook-endpoints/:id", method = "delete")]
    async fn delete(
        &self,
        state: Data<&AppState>,
        auth: PartnerAuth,
        id: Path<String>,
    ) -> ApiResult<Deleted> {
        service::webhooks::delete(&state, &auth.actor(), &id).await?;
        Ok(Deleted::Deleted)
    }

    /// The endpoint's deliveries, newest first; `status` is `PENDING`, `DELIVERED` or `FAILED`.
    #[oai(path = "/webhook-endpoints/:id/deliveries", method = "get")]
    async fn deliveries(
        &self,
        state: Data<&AppState>,
        auth: PartnerAuth,
        id: Path<String>,
        status: Query<Option<String>>,
        limit: Query<Option<u32>>,
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<DeliveryPage>> {
        let status = service::webhooks::status_filter(status.0.as_deref())?;
        let page = PageRequest::new(limit.0, cursor.0)?;
        let deliveries = service::webhooks::deliveries(&state, &auth.actor(), &id, status, &page)
            .await?
            .map(DeliveryView::try_from)?;
        Ok(Json(DeliveryPage {
            items: deliveries.items,
            next_cursor: deliveries.next_cursor,
        }))
    }

    /// Send every FAILED delivery made since a time again.
    #[oai(path = "/webhook-endpoints/:id/resend-failed", method = "post")]
    async fn resend_failed(
        &self,
        state: Data<&AppState>,
        auth: PartnerAuth,
        id: Path<String>,
        body: Json<ResendFailed>,
    ) -> ApiResult<Queued> {
        let since = body.since.timestamp_millis();
        let n = service::webhooks::resend_failed(&state, &auth.actor(), &id, since).await?;
        Ok(Queued::Queued(Json(Resent { deliveries: n })))
    }

    /// One delivery: the body it posts and every attempt (time, answer status, duration).
    #[oai(path = "/webhook-deliveries/:id", method = "get")]
    async fn delivery(
        &self,
        state: Data<&AppState>,
        auth: PartnerAuth,
        id: Path<String>,
    ) -> ApiResult<Json<DeliveryDetail>> {
        let (delivery, body, attempts) =
            service::webhooks::delivery(&state, &auth.actor(), &id).await?;
        Ok(Json(DeliveryDetail {
            delivery: delivery.try_into()?,
            body,
            attempts: attempts
                .into_iter()
                .map(AttemptView::try_from)
                .collect::<ApiResult<_>>()?,
        }))
    }

    /// Send one delivery again, with the same `webhook-id`, whatever its status.
    #[oai(path = "/webhook-deliveries/:id/resend", method = "post")]
    async fn resend(
        &self,
        state: Data<&AppState>,
        auth: PartnerAuth,
        id: Path<String>,
    ) -> ApiResult<DeliveryQueued> {
        let d = service::webhooks::resend(&state, &auth.actor(), &id).await?;
        Ok(DeliveryQueued::Queued(Json(d.try_into()?)))
    }
}
