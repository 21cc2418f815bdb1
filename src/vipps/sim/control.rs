//! The control API under `/_sim/` (not part of Vipps): act as the user, move the clock,
//! inject faults, inspect requests, agreements and webhook deliveries, reset.

use chrono::{DateTime, Utc};
use poem::web::{Data, Json, Path};
use poem::{Response, handler};
use serde::{Deserialize, Serialize};

use super::Simulator;
use super::engine::ApiError;
use super::gate::Faults;
use super::http::Reply;
use crate::vipps::wire::{AgreementStatus, ChargeResponse, Ore};

/// One agreement in `GET /_sim/agreements`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgreementDump {
    pub agreement_id: String,
    pub msn: String,
    pub status: AgreementStatus,
    pub phone_number: Option<String>,
    pub product_name: String,
    pub amount: Option<Ore>,
    pub created: DateTime<Utc>,
    pub start: Option<DateTime<Utc>>,
    pub stop: Option<DateTime<Utc>>,
    pub charges: Vec<ChargeResponse>,
}

fn reply<T: Serialize>(r: Result<T, ApiError>) -> Response {
    Reply::from_result(200, r).into_response()
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ApproveBody {
    #[serde(default, alias = "phone_number")]
    phone_number: Option<String>,
}

#[derive(Serialize)]
struct StatusBody {
    status: AgreementStatus,
}

/// `POST /_sim/agreements/{id}/approve` `{"phoneNumber": "47…"}` (body optional).
#[handler]
pub fn approve(Path(id): Path<String>, body: Vec<u8>, Data(sim): Data<&Simulator>) -> Response {
    let b: ApproveBody = serde_json::from_slice(&body).unwrap_or_default();
    reply(
        sim.approve(&id, b.phone_number.as_deref())
            .map(|status| StatusBody { status }),
    )
}

/// `POST /_sim/agreements/{id}/reject`.
#[handler]
pub fn reject(Path(id): Path<String>, Data(sim): Data<&Simulator>) -> Response {
    reply(sim.reject(&id).map(|()| StatusBody {
        status: AgreementStatus::Stopped,
    }))
}

/// `POST /_sim/agreements/{id}/stop`: the user stops in the app (actor USER).
#[handler]
pub fn user_stop(Path(id): Path<String>, Data(sim): Data<&Simulator>) -> Response {
    reply(sim.user_stop(&id).map(|()| StatusBody {
        status: AgreementStatus::Stopped,
    }))
}

#[derive(Deserialize, Serialize)]
struct Funding {
    ok: bool,
}

/// `POST /_sim/users/{phone}/funding` `{"ok": false}`.
#[handler]
pub fn funding(
    Path(phone): Path<String>,
    Json(f): Json<Funding>,
    Data(sim): Data<&Simulator>,
) -> Response {
    sim.set_funding(&phone, f.ok);
    Reply::json(200, &f).into_response()
}

#[derive(Serialize)]
struct Clock {
    now: DateTime<Utc>,
    /// `ticking` or `frozen`.
    mode: crate::vipps::settings::SimClockMode,
    /// Ticking: how far the clock is ahead of real time.
    offset_seconds: i64,
}

impl Clock {
    fn of(sim: &Simulator) -> Self {
        Self {
            now: sim.now(),
            mode: sim.clock_mode(),
            offset_seconds: sim.clock_offset().num_seconds(),
        }
    }
}

/// `GET /_sim/clock`: `{"now", "mode", "offset_seconds"}`.
#[handler]
pub fn get_clock(Data(sim): Data<&Simulator>) -> Response {
    Reply::json(200, &Clock::of(sim)).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockChange {
    #[serde(default)]
    advance_days: Option<i64>,
    #[serde(default)]
    advance_seconds: Option<i64>,
    #[serde(default)]
    set: Option<DateTime<Utc>>,
}

/// `POST /_sim/clock` `{"advance_days": N}` | `{"advance_seconds": N}` | `{"set": "…Z"}`. A
/// ticking clock keeps the change as its offset and ticks on from there.
#[handler]
pub fn set_clock(Json(c): Json<ClockChange>, Data(sim): Data<&Simulator>) -> Response {
    if let Some(t) = c.set {
        sim.set_now(t);
    }
    if let Some(d) = c.advance_days {
        sim.advance(d);
    }
    if let Some(s) = c.advance_seconds {
        sim.advance_by(chrono::Duration::seconds(s));
    }
    Reply::json(200, &Clock::of(sim)).into_response()
}

/// `POST /_sim/faults`.
#[handler]
pub fn set_faults(Json(f): Json<Faults>, Data(sim): Data<&Simulator>) -> Response {
    Reply::json(200, &sim.add_faults(f)).into_response()
}

/// `GET /_sim/faults`.
#[handler]
pub fn get_faults(Data(sim): Data<&Simulator>) -> Response {
    Reply::json(200, &sim.volatile(|v| v.faults.clone())).into_response()
}

/// `DELETE /_sim/faults`.
#[handler]
pub fn clear_faults(Data(sim): Data<&Simulator>) -> Response {
    sim.clear_faults();
    Reply::empty(204).into_response()
}

/// `GET /_sim/requests`.
#[handler]
pub fn requests(Data(sim): Data<&Simulator>) -> Response {
    Reply::json(200, &sim.requests()).into_response()
}

/// `DELETE /_sim/requests`.
#[handler]
pub fn clear_requests(Data(sim): Data<&Simulator>) -> Response {
    sim.volatile(|v| v.requests.clear());
    Reply::empty(204).into_response()
}

/// `GET /_sim/agreements`.
#[handler]
pub fn agreements(Data(sim): Data<&Simulator>) -> Response {
    Reply::json(200, &sim.agreements()).into_response()
}

/// `GET /_sim/webhooks/deliveries`.
#[handler]
pub fn deliveries(Data(sim): Data<&Simulator>) -> Response {
    Reply::json(200, &sim.deliveries()).into_response()
}

/// `POST /_sim/reset`.
#[handler]
pub fn reset(Data(sim): Data<&Simulator>) -> Response {
    sim.reset();
    Reply::empty(204).into_response()
}
