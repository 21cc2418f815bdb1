//! One period's charge as Vipps's create request (one call per charge) and as an item of the
//! batch endpoint: the same amount, description, due date and ids either way, captured at once.

use chrono::NaiveDate;

use crate::vipps::{
    validate::CHARGE_DESCRIPTION_MAX,
    wire::{BatchChargeItem, CreateChargeRequest, Ore, TransactionType},
};

use super::clip;

/// What a period's charge is made of, gathered from our charge row and its agreement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeInput {
    /// The agreement at Vipps (in the create call's path; in the batch item's body).
    pub vipps_agreement_id: String,
    /// Our charge id (Vipps's `externalId`).
    pub charge_id: String,
    /// The period's deterministic `orderId` (also the create call's idempotency key).
    pub order_id: String,
    pub amount_ore: Ore,
    /// The dialogue's product name; the description adds the period's month.
    pub product_name: String,
    /// The period's own due date, whose month the description names.
    pub period_due: NaiveDate,
    /// The due date sent: the period's, or the earliest allowed one for a late period.
    pub send_due: NaiveDate,
    /// How many days Vipps retries a failed charge.
    pub retry_days: u32,
}

impl ChargeInput {
    /// `"{product name} MM.YYYY"`, cut to Vipps's 45 characters.
    fn description(&self) -> String {
        let text = format!("{} {}", self.product_name, self.period_due.format("%m.%Y"));
        clip(&text, CHARGE_DESCRIPTION_MAX)
    }
}

impl From<&ChargeInput> for CreateChargeRequest {
    fn from(c: &ChargeInput) -> Self {
        CreateChargeRequest {
            amount: c.amount_ore,
            transaction_type: TransactionType::DirectCapture,
            description: c.description(),
            due: c.send_due,
            retry_days: c.retry_days,
            order_id: Some(c.order_id.clone()),
            external_id: Some(c.charge_id.clone()),
            charge_type: None,
            processing_mode: None,
        }
    }
}

impl From<&ChargeInput> for BatchChargeItem {
    fn from(c: &ChargeInput) -> Self {
        BatchChargeItem {
            agreement_id: c.vipps_agreement_id.clone(),
            amount: c.amount_ore,
            transaction_type: TransactionType::DirectCapture,
            description: c.description(),
            due: c.send_due,
            retry_days: c.retry_days,
            order_id: c.order_id.clone(),
            external_id: Some(c.charge_id.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::vipps::validate;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn input() -> ChargeInput {
        ChargeInput {
            vipps_agreement_id: "agr_vipps_1".into(),
            charge_id: "chg_01".into(),
            order_id: "agr-01-p3".into(),
            amount_ore: 10_000,
            product_name: "Fast giver".into(),
            period_due: d(2027, 4, 30),
            send_due: d(2027, 5, 2),
            retry_days: 3,
        }
    }

    #[test]
    fn the_create_body_is_the_one_vipps_documents() {
        let request = CreateChargeRequest::from(&input());
        assert_eq!(validate::create_charge(&request), Ok(()));
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({
                "amount": 10000,
                "transactionType": "DIRECT_CAPTURE",
                "description": "Fast giver 04.2027",
                "due": "2027-05-02",
                "retryDays": 3,
                "orderId": "agr-01-p3",
                "externalId": "chg_01"
            })
        );
    }

    #[test]
    fn the_batch_item_is_the_create_body_with_its_agreement() {
        let item = BatchChargeItem::from(&input());
        assert_eq!(validate::batch_item(&item), Ok(()));
        let mut expected = serde_json::to_value(CreateChargeRequest::from(&input())).unwrap();
        expected["agreementId"] = json!("agr_vipps_1");
        assert_eq!(serde_json::to_value(&item).unwrap(), expected);
    }

    #[test]
    fn the_description_is_cut_to_45_characters() {
        let c = ChargeInput {
            product_name: "Ø".repeat(45),
            ..input()
        };
        assert_eq!(CreateChargeRequest::from(&c).description, "Ø".repeat(45));
        let c = ChargeInput {
            product_name: "Å".repeat(40),
            ..input()
        };
        assert_eq!(
            BatchChargeItem::from(&c).description,
            format!("{} 04.2", "Å".repeat(40))
        );
    }
}
