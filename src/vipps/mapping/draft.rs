//! One of our PENDING agreements on its dialogue's terms as Vipps's draft request: a fixed
//! price per period (LEGACY pricing, NOK), an initial charge of one period captured at once,
//! the user's phone prefilled, and our manage page as the agreement's link and the redirect.

use crate::{
    domain::period::Period,
    vipps::{
        validate::{CHARGE_DESCRIPTION_MAX, PRODUCT_DESCRIPTION_MAX, PRODUCT_NAME_MAX},
        wire::{
            DraftAgreementRequest, InitialCharge, IntervalUnit, Ore, PhoneNumber, PricingRequest,
            TimePeriod, TransactionType,
        },
    },
};

use super::clip;

/// What a draft is made of, gathered from our agreement and its dialogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftInput<'a> {
    /// Our agreement id (Vipps's `externalId`).
    pub agreement_id: &'a str,
    /// The user's phone as we store it (`+4791234567`); Vipps wants it without the `+`.
    pub phone: &'a str,
    /// The price of one period, which the initial charge also takes.
    pub amount_ore: Ore,
    pub period: Period,
    /// Cut to Vipps's 45 characters (and the initial charge's description).
    pub product_name: &'a str,
    /// Cut to Vipps's 100 characters.
    pub product_description: &'a str,
    /// Our page where the user manages the agreement.
    pub manage_url: &'a str,
    /// The initial charge's `orderId` (period 0).
    pub initial_order_id: &'a str,
}

impl From<&DraftInput<'_>> for DraftAgreementRequest {
    fn from(d: &DraftInput<'_>) -> Self {
        DraftAgreementRequest {
            pricing: PricingRequest::legacy_nok(d.amount_ore),
            interval: TimePeriod::new(d.period.into(), 1),
            merchant_agreement_url: d.manage_url.to_owned(),
            merchant_redirect_url: format!("{}?from=vipps", d.manage_url),
            product_name: clip(d.product_name, PRODUCT_NAME_MAX),
            product_description: Some(clip(d.product_description, PRODUCT_DESCRIPTION_MAX)),
            phone_number: Some(PhoneNumber::new(d.phone.trim_start_matches('+'))),
            initial_charge: Some(InitialCharge {
                amount: d.amount_ore,
                description: clip(d.product_name, CHARGE_DESCRIPTION_MAX),
                transaction_type: TransactionType::DirectCapture,
                order_id: Some(d.initial_order_id.to_owned()),
                external_id: None,
            }),
            campaign: None,
            external_id: Some(d.agreement_id.to_owned()),
            country_code: None,
            scope: None,
            is_app: None,
            skip_landing_page: None,
        }
    }
}

/// Vipps's billing interval unit of one of our periods (with count 1). Vipps's `DAY` has no
/// period of ours.
impl From<Period> for IntervalUnit {
    fn from(p: Period) -> Self {
        match p {
            Period::Week => IntervalUnit::Week,
            Period::Month => IntervalUnit::Month,
            Period::Year => IntervalUnit::Year,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::vipps::validate;

    fn input() -> DraftInput<'static> {
        DraftInput {
            agreement_id: "agr_01",
            phone: "+4791234567",
            amount_ore: 10_000,
            period: Period::Month,
            product_name: "Fast giver",
            product_description: "Støtt oss hver måned",
            manage_url: "https://dialogpay.example/my/agreements/tok1",
            initial_order_id: "agr-01-p0",
        }
    }

    #[test]
    fn the_draft_body_is_the_one_vipps_documents() {
        let request = DraftAgreementRequest::from(&input());
        assert_eq!(validate::draft_agreement(&request), Ok(()));
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({
                "pricing": {"type": "LEGACY", "currency": "NOK", "amount": 10000},
                "interval": {"unit": "MONTH", "count": 1},
                "merchantAgreementUrl": "https://dialogpay.example/my/agreements/tok1",
                "merchantRedirectUrl": "https://dialogpay.example/my/agreements/tok1?from=vipps",
                "productName": "Fast giver",
                "productDescription": "Støtt oss hver måned",
                "phoneNumber": "4791234567",
                "initialCharge": {
                    "amount": 10000,
                    "description": "Fast giver",
                    "transactionType": "DIRECT_CAPTURE",
                    "orderId": "agr-01-p0"
                },
                "externalId": "agr_01"
            })
        );
    }

    #[test]
    fn long_texts_are_cut_to_vipps_limits_by_characters() {
        let name = "Æ".repeat(50);
        let description = "ø".repeat(120);
        let request = DraftAgreementRequest::from(&DraftInput {
            product_name: &name,
            product_description: &description,
            ..input()
        });
        assert_eq!(request.product_name, "Æ".repeat(45));
        assert_eq!(request.product_description, Some("ø".repeat(100)));
        let initial = request.initial_charge.as_ref().unwrap();
        assert_eq!(initial.description, "Æ".repeat(45));
        assert_eq!(validate::draft_agreement(&request), Ok(()));
    }

    #[test]
    fn a_phone_without_plus_is_sent_as_it_is() {
        let request = DraftAgreementRequest::from(&DraftInput {
            phone: "4791234567",
            ..input()
        });
        assert_eq!(request.phone_number, Some(PhoneNumber::new("4791234567")));
    }

    #[test]
    fn every_period_is_a_vipps_unit() {
        let units: Vec<IntervalUnit> = Period::ALL.iter().map(|p| (*p).into()).collect();
        assert_eq!(
            units,
            [IntervalUnit::Week, IntervalUnit::Month, IntervalUnit::Year]
        );
        for p in Period::ALL {
            let request = DraftAgreementRequest::from(&DraftInput {
                period: *p,
                ..input()
            });
            assert_eq!(request.interval, TimePeriod::new((*p).into(), 1));
        }
    }
}
