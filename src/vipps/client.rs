//! [`VippsClient`]: the Recurring v3, access-token and Webhooks API calls dialogpay makes.
//!
//! Every call takes the merchant serial number (`msn`) of the sales unit it acts for and
//! sends the headers Vipps requires. Mutating calls take an [`IdempotencyKey`]; requests are
//! validated against the documented limits before sending; the access token is cached and a
//! 401 refreshes it once; a client-side throttle keeps us under the documented rate limits.
//! The client does not retry by itself beyond that: [`VippsError::is_retryable`] tells the
//! job what to do.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::{VippsError, parse_retry_after};
use super::idempotency::IdempotencyKey;
use super::operation::{LimitScope, Operation};
use super::settings::{RateLimits, VippsSettings};
use super::throttle::Throttle;
use super::token::TokenCache;
use super::validate;
use super::wire::{
    AccessTokenResponse, AgreementPatch, AgreementResponse, AsyncChargeResponse, BatchChargeItem,
    CaptureRequest, ChargeReference, ChargeResponse, ChargeStatus, CreateChargeRequest,
    DraftAgreementRequest, DraftAgreementResponse, ErrorBody, ForceAcceptRequest,
    ListAgreementsQuery, PhoneNumber, RefundRequest, RegisterWebhookRequest,
    RegisterWebhookResponse, WebhookList,
};

const RECURRING: &str = "/recurring/v3";
const WEBHOOKS: &str = "/webhooks/v1/webhooks";

/// Whether a capture/cancel/refund/update was applied (204) or only accepted (202: poll).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// 204: done.
    Done,
    /// 202: accepted, not yet applied; re-read the resource later.
    Accepted,
}

/// The Vipps client. Cheap to clone (an `Arc` inside); share one per process.
#[derive(Clone)]
pub struct VippsClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: String,
    client_id: String,
    client_secret: SecretString,
    subscription_key: SecretString,
    system_headers: HeaderMap,
    limits: RateLimits,
    tokens: TokenCache,
    throttle: Throttle,
}

/// One API request, before auth headers are added.
struct Call<'a> {
    op: Operation,
    method: Method,
    path: String,
    msn: &'a str,
    key: Option<&'a IdempotencyKey>,
    body: Option<Vec<u8>>,
    query: Vec<(&'static str, String)>,
    /// Agreement id and charge id (or idempotency key) for the throttle key.
    scope: (String, String),
}

/// A successful raw response.
struct Answer {
    status: StatusCode,
    body: Vec<u8>,
}

impl VippsClient {
    /// A client for [`VippsSettings::effective_base_url`].
    pub fn new(settings: &VippsSettings) -> Result<Self, VippsError> {
        Self::with_base_url(settings, settings.effective_base_url())
    }

    /// A client for an explicit base URL (tests: a simulator on `127.0.0.1:0`).
    pub fn with_base_url(settings: &VippsSettings, base_url: &str) -> Result<Self, VippsError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(settings.timeout_ms))
            .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
            .pool_max_idle_per_host(settings.pool_max_idle_per_host)
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(format!("dialogpay/{}", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| VippsError::Config(format!("HTTP client: {e}")))?;
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(VippsError::Config(format!(
                "base URL must start with http:// or https://, got {base_url:?}"
            )));
        }
        let mut system_headers = HeaderMap::new();
        for (name, value) in [
            ("vipps-system-name", &settings.system_name),
            ("vipps-system-version", &settings.system_version),
            ("vipps-system-plugin-name", &settings.plugin_name),
            ("vipps-system-plugin-version", &settings.plugin_version),
        ] {
            if value.is_empty() {
                continue;
            }
            if value.len() > 30 {
                return Err(VippsError::Config(format!(
                    "{name} is longer than 30 characters"
                )));
            }
            let v = HeaderValue::from_str(value)
                .map_err(|_| VippsError::Config(format!("{name} is not a valid header value")))?;
            system_headers.insert(HeaderName::from_static(name), v);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base: base_url.trim_end_matches('/').to_owned(),
                client_id: settings.client_id.clone(),
                client_secret: settings.client_secret.clone(),
                subscription_key: settings.subscription_key.clone(),
                system_headers,
                limits: settings.rate_limits.clone(),
                tokens: TokenCache::new(),
                throttle: Throttle::new(),
            }),
        })
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    // ---- access token -------------------------------------------------------------------

    /// Calls `POST /accesstoken/get` (uncached).
    pub async fn fetch_access_token(&self) -> Result<AccessTokenResponse, VippsError> {
        let op = Operation::AccessToken;
        let i = &self.inner;
        let req = i
            .http
            .post(format!("{}/accesstoken/get", i.base))
            .headers(i.system_headers.clone())
            .header("client_id", header_value(&i.client_id)?)
            .header(
                "client_secret",
                header_value(i.client_secret.expose_secret())?,
            )
            .header(
                "Ocp-Apim-Subscription-Key",
                header_value(i.subscription_key.expose_secret())?,
            )
            .header(reqwest::header::CONTENT_LENGTH, "0");
        let answer = self.dispatch(op, req).await?;
        decode(op, &answer)
    }

    /// A valid access token, from the cache when possible.
    pub async fn access_token(&self) -> Result<Arc<str>, VippsError> {
        self.inner.tokens.get(|| self.fetch_access_token()).await
    }

    // ---- agreements ---------------------------------------------------------------------

    /// `POST /recurring/v3/agreements`. Note: Vipps is reported not to honour the key on
    /// this call; persist the returned `agreementId` before redirecting the user.
    pub async fn draft_agreement(
        &self,
        msn: &str,
        req: &DraftAgreementRequest,
        key: impl AsRef<IdempotencyKey>,
    ) -> Result<DraftAgreementResponse, VippsError> {
        validate::draft_agreement(req)?;
        let key = key.as_ref();
        let call = Call::new(
            Operation::DraftAgreement,
            Method::POST,
            format!("{RECURRING}/agreements"),
            msn,
        )
        .key(key)
        .json(req)?;
        self.json(call).await
    }

    /// `GET /recurring/v3/agreements/{agreementId}`.
    pub async fn get_agreement(
        &self,
        msn: &str,
        agreement_id: &str,
    ) -> Result<AgreementResponse, VippsError> {
        validate::path_id("agreementId", agreement_id)?;
        let call = Call::new(
            Operation::FetchAgreement,
            Method::GET,
            format!("{RECURRING}/agreements/{agreement_id}"),
            msn,
        )
        .scope(agreement_id, "");
        self.json(call).await
    }

    /// `GET /recurring/v3/agreements` (without a status Vipps lists only ACTIVE ones).
    pub async fn list_agreements(
        &self,
        msn: &str,
        query: &ListAgreementsQuery,
    ) -> Result<Vec<AgreementResponse>, VippsError> {
        let mut call = Call::new(
            Operation::ListAgreements,
            Method::GET,
            format!("{RECURRING}/agreements"),
            msn,
        );
        if let Some(s) = &query.status {
            call.query.push(("status", s.to_string()));
        }
        if let Some(t) = query.created_after {
            call.query.push(("createdAfter", t.to_string()));
        }
        self.json(call).await
    }

    /// `PATCH /recurring/v3/agreements/{agreementId}` (stop, price, texts, interval).
    pub async fn update_agreement(
        &self,
        msn: &str,
        agreement_id: &str,
        patch: &AgreementPatch,
        key: impl AsRef<IdempotencyKey>,
    ) -> Result<Applied, VippsError> {
        validate::path_id("agreementId", agreement_id)?;
        validate::agreement_patch(patch)?;
        let call = Call::new(
            Operation::UpdateAgreement,
            Method::PATCH,
            format!("{RECURRING}/agreements/{agreement_id}"),
            msn,
        )
        .key(key.as_ref())
        .scope(agreement_id, "")
        .json(patch)?;
        self.applied(call).await
    }

    /// Stops an agreement (`{"status":"STOPPED"}`).
    pub async fn stop_agreement(
        &self,
        msn: &str,
        agreement_id: &str,
        key: impl AsRef<IdempotencyKey>,
    ) -> Result<Applied, VippsError> {
        self.update_agreement(msn, agreement_id, &AgreementPatch::stop(), key)
            .await
    }

    /// `PATCH /recurring/v3/agreements/{agreementId}/accept` (test environment only).
    pub async fn force_accept_agreement(
        &self,
        msn: &str,
        agreement_id: &str,
        phone_number: &PhoneNumber,
        key: impl AsRef<IdempotencyKey>,
    ) -> Result<Applied, VippsError> {
        validate::path_id("agreementId", agreement_id)?;
        let body = ForceAcceptRequest {
            phone_number: phone_number.clone(),
        };
        let call = Call::new(
            Operation::ForceAcceptAgreement,
            Method::PATCH,
            format!("{RECURRING}/agreements/{agreement_id}/accept"),
            msn,
        )
        .key(key.as_ref())
        .json(&body)?;
        self.applied(call).await
    }

    // ---- charges ------------------------------------------------------------------------

    /// `POST /recurring/v3/agreements/{agreementId}/charges`.
    pub async fn create_charge(
        &self,
        msn: &str,
        agreement_id: &str,
        req: &CreateChargeRequest,
        key: impl AsRef<IdempotencyKey>,
    ) -> Result<ChargeReference, VippsError> {
        validate::path_id("agreementId", agreement_id)?;
        validate::create_charge(req)?;
        let key = key.as_ref();
        let call = Call::new(
            Operation::CreateCharge,
            Method::POST,
            format!("{RECURRING}/agreements/{agreement_id}/charges"),
            msn,
        )
        .key(key)
        .scope(
            agreement_id,
            req.order_id.as_deref().unwrap_or(key.as_str()),
        )
        .json(req)?;
        self.json(call).await
    }

    /// `POST /recurring/v3/agreements/charges`: up to 2000 charges, validated per item by
    /// Vipps; later failures arrive as `recurring.charge-creation-failed.v1` webhooks.
    pub async fn create_charges_batch(
        &self,
        msn: &str,
        items: &[BatchChargeItem],
        key: impl AsRef<IdempotencyKey>,
    ) -> Result<AsyncChargeResponse, VippsError> {
        if items.is_empty() || items.len() > 2000 {
            return Err(VippsError::Validation(validate::ValidationErrors(vec![
                validate::FieldError {
                    field: "body".into(),
                    reason: format!("a batch holds 1–2000 charges, got {}", items.len()),
                },
            ])));
        }
        for item in items {
            validate::batch_item(item)?;
        }
        let call = Call::new(
            Operation::CreateChargesBatch,
            Method::POST,
            format!("{RECURRING}/agreements/charges"),
            msn,
        )
        .key(key.as_ref())
        .json(items)?;
        self.json(call).await
    }

    /// `GET /recurring/v3/agreements/{agreementId}/charges/{chargeId}`.
    pub async fn get_charge(
        &self,
        msn: &str,
        agreement_id: &str,
        charge_id: &str,
    ) -> Result<ChargeResponse, VippsError> {
        let call = self.charge_call(
            Operation::FetchCharge,
            Method::GET,
            msn,
            agreement_id,
            charge_id,
            "",
        )?;
        self.json(call).await
    }

    /// `GET /recurring/v3/charges/{chargeId}` (support lookups; stricter limits).
    pub async fn get_charge_by_id(
        &self,
        msn: &str,
        charge_id: &str,
    ) -> Result<ChargeResponse, VippsError> {
        validate::path_id("chargeId", charge_id)?;
        let call = Call::new(
            Operation::FetchChargeById,
            Method::GET,
            format!("{RECURRING}/charges/{charge_id}"),
            msn,
        );
        self.json(call).await
    }

    /// `GET /recurring/v3/agreements/{agreementId}/charges` (sort by `due` yourself).
    pub async fn list_charges(
        &self,
        msn: &str,
        agreement_id: &str,
        status: Option<&ChargeStatus>,
    ) -> Result<Vec<ChargeResponse>, VippsError> {
        validate::path_id("agreementId", agreement_id)?;
        let mut call = Call::new(
            Operation::ListCharges,
            Method::GET,
            format!("{RECURRING}/agreements/{agreement_id}/charges"),
            msn,
        )
        .scope(agreement_id, "");
        if let Some(s) = status {
            call.query.push(("status", s.to_string()));
        }
        self.json(call).await
    }

    /// `DELETE .../charges/{chargeId}`: PENDING, DUE, RESERVED → CANCELLED.
    pub async fn cancel_charge(
        &self,
        msn: &str,
        agreement_id: &str,
        charge_id: &str,
        key: impl AsRef<IdempotencyKey>,
    ) -> Result<Applied, VippsError> {
        let call = self
            .charge_call(
                Operation::CancelCharge,
                Method::DELETE,
                msn,
                agreement_id,
                charge_id,
                "",
            )?
            .key(key.as_ref());
        self.applied(call).await
    }

    /// `POST .../charges/{chargeId}/capture` (RESERVE_CAPTURE charges).
    pub async fn capture_charge(
        &self,
        msn: &str,
        agreement_id: &str,
        charge_id: &str,
        req: &CaptureRequest,
        key: impl AsRef<IdempotencyKey>,
    ) -> Result<Applied, VippsError> {
        validate::capture(req)?;
        let call = self
            .charge_call(
                Operation::CaptureCharge,
                Method::POST,
                msn,
                agreement_id,
                charge_id,
                "/capture",
            )?
            .key(key.as_ref())
            .json(req)?;
        self.applied(call).await
    }

    /// `POST .../charges/{chargeId}/refund`.
    pub async fn refund_charge(
        &self,
        msn: &str,
        agreement_id: &str,
        charge_id: &str,
        req: &RefundRequest,
        key: impl AsRef<IdempotencyKey>,
    ) -> Result<Applied, VippsError> {
        validate::refund(req)?;
        let call = self
            .charge_call(
                Operation::RefundCharge,
                Method::POST,
                msn,
                agreement_id,
                charge_id,
                "/refund",
            )?
            .key(key.as_ref())
            .json(req)?;
        self.applied(call).await
    }

    fn charge_call<'a>(
        &self,
        op: Operation,
        method: Method,
        msn: &'a str,
        agreement_id: &str,
        charge_id: &str,
        suffix: &str,
    ) -> Result<Call<'a>, VippsError> {
        validate::path_id("agreementId", agreement_id)?;
        validate::path_id("chargeId", charge_id)?;
        Ok(Call::new(
            op,
            method,
            format!("{RECURRING}/agreements/{agreement_id}/charges/{charge_id}{suffix}"),
            msn,
        )
        .scope(agreement_id, charge_id))
    }

    // ---- webhooks -----------------------------------------------------------------------

    /// `POST /webhooks/v1/webhooks`. Store the returned secret: it is shown once.
    pub async fn register_webhook(
        &self,
        msn: &str,
        req: &RegisterWebhookRequest,
    ) -> Result<RegisterWebhookResponse, VippsError> {
        validate::register_webhook(req)?;
        let call = Call::new(
            Operation::RegisterWebhook,
            Method::POST,
            WEBHOOKS.to_owned(),
            msn,
        )
        .json(req)?;
        self.json(call).await
    }

    /// `GET /webhooks/v1/webhooks`.
    pub async fn list_webhooks(&self, msn: &str) -> Result<WebhookList, VippsError> {
        let call = Call::new(
            Operation::ListWebhooks,
            Method::GET,
            WEBHOOKS.to_owned(),
            msn,
        );
        self.json(call).await
    }

    /// `DELETE /webhooks/v1/webhooks/{id}`.
    pub async fn delete_webhook(&self, msn: &str, id: &str) -> Result<(), VippsError> {
        validate::path_id("id", id)?;
        let call = Call::new(
            Operation::DeleteWebhook,
            Method::DELETE,
            format!("{WEBHOOKS}/{id}"),
            msn,
        );
        self.execute(call).await.map(|_| ())
    }

    // ---- plumbing -----------------------------------------------------------------------

    async fn json<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T, VippsError> {
        let op = call.op;
        let answer = self.execute(call).await?;
        decode(op, &answer)
    }

    async fn applied(&self, call: Call<'_>) -> Result<Applied, VippsError> {
        let answer = self.execute(call).await?;
        Ok(if answer.status == StatusCode::ACCEPTED {
            Applied::Accepted
        } else {
            Applied::Done
        })
    }

    /// How long a merchant-scoped call of `op` would wait for the client-side throttle now
    /// (zero when unthrottled). Jobs use it to give their worker slot back instead of waiting.
    pub fn throttle_wait(&self, op: Operation, msn: &str) -> std::time::Duration {
        let own = (op.limit_scope() == LimitScope::Merchant)
            .then(|| self.inner.limits.per_minute(op))
            .flatten()
            .map(|limit| (op.limit_key(msn, "", ""), limit));
        own.into_iter()
            .chain(self.pool_limit(op, msn))
            .map(|(key, limit)| self.inner.throttle.would_wait(&key, limit))
            .max()
            .unwrap_or_default()
    }

    /// The merchant-wide pool `op` counts against, with its configured limit.
    fn pool_limit(&self, op: Operation, msn: &str) -> Option<(String, u32)> {
        let pool = op.merchant_pool()?;
        let limit = self.inner.limits.pool_per_minute(pool)?;
        Some((pool.limit_key(msn), limit))
    }

    /// Every throttle key a call counts against: its operation's own, and a merchant pool.
    fn throttle_keys(&self, call: &Call<'_>) -> Vec<(String, u32)> {
        let own = self.inner.limits.per_minute(call.op).map(|limit| {
            (
                call.op.limit_key(call.msn, &call.scope.0, &call.scope.1),
                limit,
            )
        });
        own.into_iter()
            .chain(self.pool_limit(call.op, call.msn))
            .collect()
    }

    /// Throttles, authenticates, sends; on 401 refreshes the token once and resends.
    async fn execute(&self, call: Call<'_>) -> Result<Answer, VippsError> {
        validate::msn(call.msn)?;
        let throttle_keys = self.throttle_keys(&call);
        for (key, limit) in &throttle_keys {
            self.inner.throttle.acquire(key, *limit).await;
        }
        let token = self.access_token().await?;
        let answer = self.send_once_reauthenticated(&call, &token).await;
        // Vipps still said 429: nothing more under these keys until its Retry-After has passed.
        if let Err(e @ VippsError::Api { status: 429, .. }) = &answer {
            let after = e.retry_after().unwrap_or(std::time::Duration::from_secs(1));
            for (key, limit) in &throttle_keys {
                self.inner.throttle.hold(key, after, *limit);
            }
        }
        answer
    }

    async fn send_once_reauthenticated(
        &self,
        call: &Call<'_>,
        token: &str,
    ) -> Result<Answer, VippsError> {
        match self.send(call, token).await {
            Err(VippsError::Api { status: 401, .. }) => {
                tracing::info!(vipps.operation = %call.op, "Vipps answered 401; refreshing the access token once");
                self.inner.tokens.invalidate(token);
                let token = self.access_token().await?;
                self.send(call, &token).await
            }
            other => other,
        }
    }

    async fn send(&self, call: &Call<'_>, token: &str) -> Result<Answer, VippsError> {
        let i = &self.inner;
        let mut req = i
            .http
            .request(call.method.clone(), format!("{}{}", i.base, call.path))
            .headers(i.system_headers.clone())
            .header(
                reqwest::header::AUTHORIZATION,
                header_value(&format!("Bearer {token}"))?,
            )
            .header(
                "Ocp-Apim-Subscription-Key",
                header_value(i.subscription_key.expose_secret())?,
            )
            .header("Merchant-Serial-Number", header_value(call.msn)?);
        if !call.query.is_empty() {
            req = req.query(&call.query);
        }
        if let Some(key) = call.key {
            req = req.header("Idempotency-Key", header_value(key.as_str())?);
        }
        if let Some(body) = &call.body {
            req = req
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        self.dispatch(call.op, req).await
    }

    /// The one place requests leave: sends, reads the answer, logs and counts the call.
    async fn dispatch(
        &self,
        op: Operation,
        req: reqwest::RequestBuilder,
    ) -> Result<Answer, VippsError> {
        let started = std::time::Instant::now();
        let result = self.finish(op, req.send().await).await;
        let elapsed = started.elapsed();
        let status = match &result {
            Ok(answer) => Some(answer.status.as_u16()),
            Err(err) => err.status(),
        };
        tracing::debug!(
            vipps.operation = %op,
            vipps.status = status.unwrap_or(0),
            vipps.elapsed_ms = elapsed.as_millis() as u64,
            "Vipps call"
        );
        crate::monitoring::vipps_call(op.name(), status, elapsed);
        result
    }

    /// Reads the response; non-2xx becomes [`VippsError::Api`].
    async fn finish(
        &self,
        op: Operation,
        sent: Result<reqwest::Response, reqwest::Error>,
    ) -> Result<Answer, VippsError> {
        let resp = sent.map_err(|e| VippsError::from_reqwest(op, e))?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let body = resp
            .bytes()
            .await
            .map_err(|e| VippsError::from_reqwest(op, e))?
            .to_vec();
        if status.is_success() {
            return Ok(Answer { status, body });
        }
        Err(VippsError::Api {
            operation: op,
            status: status.as_u16(),
            body: ErrorBody::parse(&body),
            retry_after,
        })
    }
}

impl<'a> Call<'a> {
    fn new(op: Operation, method: Method, path: String, msn: &'a str) -> Self {
        Self {
            op,
            method,
            path,
            msn,
            key: None,
            body: None,
            query: Vec::new(),
            scope: (String::new(), String::new()),
        }
    }

    fn key(mut self, key: &'a IdempotencyKey) -> Self {
        if self.scope.1.is_empty() {
            self.scope.1 = key.as_str().to_owned();
        }
        self.key = Some(key);
        self
    }

    fn scope(mut self, agreement_id: &str, charge: &str) -> Self {
        self.scope = (agreement_id.to_owned(), charge.to_owned());
        self
    }

    fn json(mut self, body: &(impl Serialize + ?Sized)) -> Result<Self, VippsError> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| VippsError::Config(format!("cannot serialise request: {e}")))?;
        self.body = Some(bytes);
        Ok(self)
    }
}

impl AsRef<IdempotencyKey> for IdempotencyKey {
    fn as_ref(&self) -> &IdempotencyKey {
        self
    }
}

fn header_value(v: &str) -> Result<HeaderValue, VippsError> {
    HeaderValue::from_str(v)
        .map_err(|_| VippsError::Config("a header value contains invalid characters".into()))
}

fn decode<T: DeserializeOwned>(op: Operation, answer: &Answer) -> Result<T, VippsError> {
    serde_json::from_slice(&answer.body).map_err(|e| VippsError::Decode {
        operation: op,
        status: answer.status.as_u16(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vipps::validate::tests::{charge, draft};

    fn client() -> VippsClient {
        VippsClient::with_base_url(&VippsSettings::default(), "http://127.0.0.1:9").expect("client")
    }

    fn keys(client: &VippsClient, op: Operation) -> Vec<(String, u32)> {
        let call = Call::new(op, Method::POST, "/x".into(), "123456").scope("agr_1", "chr_1");
        client.throttle_keys(&call)
    }

    #[test]
    fn charge_creation_counts_against_its_own_limit_and_the_merchant_pool() {
        let c = client();
        assert_eq!(
            keys(&c, Operation::CreateCharge),
            vec![
                ("create_charge|123456|agr_1|chr_1".to_owned(), 2),
                ("charge_creation|123456".to_owned(), 500),
            ]
        );
        // The batch call has no limit of its own, only the shared one.
        assert_eq!(
            keys(&c, Operation::CreateChargesBatch),
            vec![("charge_creation|123456".to_owned(), 500)]
        );
        assert_eq!(
            keys(&c, Operation::DraftAgreement),
            vec![("draft_agreement|123456".to_owned(), 300)]
        );
    }

    fn refused_before_sending(result: Result<impl std::fmt::Debug, VippsError>, field: &str) {
        // The client points at a closed port: anything that reached the network would be a
        // connection error, not a validation error.
        match result {
            Err(VippsError::Validation(errors)) => {
                assert!(
                    errors.0.iter().any(|e| e.field == field),
                    "{field}: {errors:?}"
                )
            }
            other => panic!("{field}: expected a validation error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_empty_agreement_id_or_msn_never_reaches_vipps() {
        let c = client();
        let key = IdempotencyKey::new("k-1".to_owned()).unwrap();
        refused_before_sending(c.get_agreement("123456", "").await, "agreementId");
        refused_before_sending(c.stop_agreement("123456", "", &key).await, "agreementId");
        refused_before_sending(
            c.create_charge("123456", "", &charge(), &key).await,
            "agreementId",
        );
        refused_before_sending(c.get_charge("123456", "", "chr_1").await, "agreementId");
        refused_before_sending(c.get_agreement("", "agr_1").await, "Merchant-Serial-Number");
        refused_before_sending(
            c.draft_agreement("", &draft(), &key).await,
            "Merchant-Serial-Number",
        );
        refused_before_sending(
            c.create_charge("", "agr_1", &charge(), &key).await,
            "Merchant-Serial-Number",
        );
        let item = BatchChargeItem {
            agreement_id: String::new(),
            amount: 9900,
            transaction_type: super::super::wire::TransactionType::DirectCapture,
            description: "May".into(),
            due: chrono::NaiveDate::from_ymd_opt(2030, 1, 1).unwrap(),
            retry_days: 2,
            order_id: "dp-1-1".into(),
            external_id: None,
        };
        refused_before_sending(
            c.create_charges_batch("123456", &[item], &key).await,
            "agreementId",
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_used_up_pool_holds_back_batch_calls_too() {
        let c = client();
        for _ in 0..30 {
            let call = Call::new(Operation::CreateCharge, Method::POST, "/x".into(), "123456");
            for (key, limit) in c.throttle_keys(&call.scope("agr_1", "chr_1")) {
                c.inner.throttle.reserve(&key, limit);
            }
        }
        assert!(c.throttle_wait(Operation::CreateChargesBatch, "123456") > Duration::ZERO);
        assert_eq!(
            c.throttle_wait(Operation::CreateChargesBatch, "654321"),
            Duration::ZERO
        );
    }
}
