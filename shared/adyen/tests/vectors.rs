//! Adyen's own HMAC vectors (from its Java and Node libraries) and its sample notification
//! bodies, from `tests/fixtures/adyen` (see its SOURCES.md).

use checkout_adyen::notification::{BodyError, Meaning, Notification, NotificationItem, MAX_ITEMS};
use checkout_adyen::signature::{verify, HmacKey, KeyError, SignatureError};
use checkout_domain::model::payment::TransactionState;
use checkout_domain::model::payment_event::PaymentOutcome;
use checkout_domain::model::values::CartId;
use serde_json::{json, Value};

const VECTORS: &str = include_str!("../../../tests/fixtures/adyen/hmac_vectors.json");
const HMAC_WEBHOOK: &str =
    include_str!("../../../tests/fixtures/adyen/hmac-validation-webhook.json");
const BANKING_WEBHOOK: &[u8] =
    include_bytes!("../../../tests/fixtures/adyen/accountHolderCreated.banking-webhook.json");

fn fixture(name: &str) -> &'static str {
    match name {
        "authorisation-true" => {
            include_str!("../../../tests/fixtures/adyen/authorisation-true.json")
        }
        "capture-true" => include_str!("../../../tests/fixtures/adyen/capture-true.json"),
        "capture-false" => include_str!("../../../tests/fixtures/adyen/capture-false.json"),
        "cancellation-true" => include_str!("../../../tests/fixtures/adyen/cancellation-true.json"),
        "refund-true" => include_str!("../../../tests/fixtures/adyen/refund-true.json"),
        "refund-false" => include_str!("../../../tests/fixtures/adyen/refund-false.json"),
        "chargeback" => include_str!("../../../tests/fixtures/adyen/chargeback.json"),
        other => panic!("no fixture {other}"),
    }
}

#[test]
fn every_hmac_vector_gives_adyens_answer() {
    let vectors: Value = serde_json::from_str(VECTORS).unwrap();
    let vectors = vectors["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 13);
    for vector in vectors {
        let name = vector["name"].as_str().unwrap();
        let key = HmacKey::parse(vector["hmac_key_hex"].as_str().unwrap());
        let expected = vector["expected_valid"].as_bool();
        match vector["kind"].as_str().unwrap() {
            "notification_item" => {
                let mut raw = match vector["item_file"].as_str() {
                    Some(_) => serde_json::from_str(HMAC_WEBHOOK).unwrap(),
                    None => vector["item"].clone(),
                };
                if let Some(signature) = vector["signature_b64"].as_str() {
                    raw["additionalData"]["hmacSignature"] = json!(signature);
                }
                let item: NotificationItem = serde_json::from_value(raw).unwrap();
                if let Some(data) = vector["expected_data_to_sign"].as_str() {
                    assert_eq!(item.data_to_sign(), data, "{name}");
                }
                let result = item.verify(&[key.unwrap()]);
                match expected {
                    Some(true) => assert_eq!(result, Ok(()), "{name}"),
                    Some(false) => assert!(result.is_err(), "{name}: {result:?}"),
                    None => {}
                }
                if vector["expected_error"] == "Missing hmacSignature" {
                    assert_eq!(result, Err(SignatureError::Missing), "{name}");
                }
            }
            "raw_string" => {
                let data = vector["data_to_sign"].as_str().unwrap().as_bytes();
                match (key, expected) {
                    (Ok(key), Some(true)) => {
                        let signature = vector["signature_b64"].as_str().unwrap();
                        assert_eq!(key.sign(data), signature, "{name}");
                        assert_eq!(verify(data, signature, &[key]), Ok(()), "{name}");
                    }
                    (Err(error), Some(false)) => assert_eq!(error, KeyError::NotHex, "{name}"),
                    (key, expected) => panic!("{name}: {key:?} against {expected:?}"),
                }
            }
            "raw_body" => {
                assert_eq!(BANKING_WEBHOOK.len(), 1778);
                let signature = vector["signature_b64"].as_str().unwrap();
                let result = verify(BANKING_WEBHOOK, signature, &[key.unwrap()]);
                assert_eq!(result.is_ok(), expected.unwrap(), "{name}: {result:?}");
            }
            other => panic!("{name}: unknown kind {other}"),
        }
    }
}

/// A sample body's one item, addressed to `cart` (the samples' merchant references are not
/// cart ids).
fn item_for(name: &str, cart: &CartId) -> NotificationItem {
    let notification = Notification::parse(fixture(name).as_bytes()).unwrap();
    let mut items: Vec<NotificationItem> = notification.items().cloned().collect();
    assert_eq!(items.len(), 1);
    let mut item = items.remove(0);
    item.merchant_reference = Some(cart.to_string());
    item
}

fn payment(meaning: Meaning) -> checkout_domain::model::payment_event::PaymentEvent {
    match meaning {
        Meaning::Payment(event) => event,
        other => panic!("expected a payment event, got {other:?}"),
    }
}

#[test]
fn each_sample_notification_means_what_the_mapping_says() {
    let cart = CartId::new();

    let authorised = payment(item_for("authorisation-true", &cart).meaning().unwrap());
    assert_eq!(authorised.reference, "123456789");
    assert_eq!(authorised.cart_id, cart);
    assert_eq!(authorised.event_id, "adyen:AUTHORISATION:123456789");
    assert!(
        matches!(authorised.outcome, PaymentOutcome::Authorized { amount } if amount.cent_amount == 10100)
    );

    assert_eq!(authorised.session, None);
    // A payment made in a Checkout session names it: that links it to our payment.
    let mut in_session = item_for("authorisation-true", &cart);
    in_session
        .additional_data
        .insert("checkoutSessionId".into(), json!("CS1234567890ABCD"));
    let in_session = payment(in_session.meaning().unwrap());
    assert_eq!(in_session.session.as_deref(), Some("CS1234567890ABCD"));
    assert_eq!(in_session.reference, "123456789");

    let captured = payment(item_for("capture-true", &cart).meaning().unwrap());
    assert!(matches!(captured.outcome, PaymentOutcome::Charged { .. }));
    let capture_failed = payment(item_for("capture-false", &cart).meaning().unwrap());
    assert_eq!(capture_failed.reference, "ORIGINAL_PSP");
    assert_eq!(
        capture_failed.outcome,
        PaymentOutcome::Failed {
            amount: match capture_failed.outcome {
                PaymentOutcome::Failed { amount, .. } => amount,
                _ => unreachable!(),
            },
            reason: Some("Insufficient balance on payment".into()),
        }
    );

    let cancelled = payment(item_for("cancellation-true", &cart).meaning().unwrap());
    assert_eq!(cancelled.reference, "8313547924770610");
    assert!(
        matches!(&cancelled.outcome, PaymentOutcome::Canceled { amount, reversal } if amount.cent_amount == 500 && reversal.as_deref() == Some("8412534564722331"))
    );

    let refunded = payment(item_for("refund-true", &cart).meaning().unwrap());
    let refund_failed = payment(item_for("refund-false", &cart).meaning().unwrap());
    for (event, state) in [
        (&refunded, TransactionState::Success),
        (&refund_failed, TransactionState::Failure),
    ] {
        match &event.outcome {
            PaymentOutcome::RefundUpdated(refund) => {
                assert_eq!(refund.state, state);
                assert_eq!(refund.id, "PSP_REFERENCE");
            }
            other => panic!("expected a refund, got {other:?}"),
        }
    }
    // A refund that fails after it succeeded is news, not a duplicate.
    assert_ne!(refunded.interaction_id, refund_failed.interaction_id);

    let chargeback = payment(item_for("chargeback", &cart).meaning().unwrap());
    assert_eq!(chargeback.reference, "9913333333333333");
    assert!(
        matches!(chargeback.outcome, PaymentOutcome::Chargeback { amount, .. } if amount.cent_amount == 1000)
    );
}

#[test]
fn what_is_not_ours_or_not_handled_is_ignored_with_the_reason() {
    // The samples' own merchant references are not cart ids.
    let notification = Notification::parse(fixture("authorisation-true").as_bytes()).unwrap();
    let item = notification.items().next().unwrap();
    assert!(
        matches!(item.meaning().unwrap(), Meaning::Ignored(why) if why.contains("not one of our carts"))
    );
    let cart = CartId::new();
    let mut report = item_for("capture-true", &cart);
    report.event_code = "REPORT_AVAILABLE".into();
    assert!(matches!(report.meaning().unwrap(), Meaning::Ignored(_)));
    // A refused cancellation is a failed reversal: the money is outstanding again.
    let mut refused = item_for("cancellation-true", &cart);
    refused.success = "false".into();
    assert!(matches!(
        payment(refused.meaning().unwrap()).outcome,
        PaymentOutcome::RefundUpdated(refund) if refund.state == TransactionState::Failure
    ));
    // CANCEL_OR_REFUND says which by its modification.action.
    let mut either = item_for("cancellation-true", &cart);
    either.event_code = "CANCEL_OR_REFUND".into();
    assert!(matches!(either.meaning().unwrap(), Meaning::Ignored(_)));
    either
        .additional_data
        .insert("modification.action".into(), json!("refund"));
    assert!(matches!(
        payment(either.meaning().unwrap()).outcome,
        PaymentOutcome::RefundUpdated(_)
    ));
    // A modification without the payment it is about cannot be read.
    let mut orphan = item_for("capture-true", &cart);
    orphan.original_reference = None;
    assert!(orphan.meaning().is_err());
}

#[test]
fn a_signed_item_verifies_and_any_signed_field_changed_does_not() {
    let key =
        HmacKey::parse("00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF").unwrap();
    let mut item = item_for("capture-true", &CartId::new());
    item.sign(&key);
    assert_eq!(item.verify(std::slice::from_ref(&key)), Ok(()));
    let mut more = item.clone();
    more.amount.as_mut().unwrap().value = Some("999999".into());
    assert_eq!(
        more.verify(std::slice::from_ref(&key)),
        Err(SignatureError::Mismatch)
    );
    let mut other_cart = item.clone();
    other_cart.merchant_reference = Some(CartId::new().to_string());
    assert_eq!(other_cart.verify(&[key]), Err(SignatureError::Mismatch));
}

#[test]
fn a_body_that_is_not_a_notification_is_refused_whole() {
    assert!(matches!(
        Notification::parse(b"not json"),
        Err(BodyError::Malformed(_))
    ));
    assert!(matches!(
        Notification::parse(b"{}"),
        Err(BodyError::Malformed(_))
    ));
    assert_eq!(
        Notification::parse(br#"{"live":"false","notificationItems":[]}"#).unwrap_err(),
        BodyError::Empty
    );
    let item = json!({"NotificationRequestItem": {"eventCode": "REPORT_AVAILABLE",
        "merchantAccountCode": "M", "pspReference": "P", "success": "true"}});
    let many = json!({"live": "false", "notificationItems": vec![item.clone(); MAX_ITEMS + 1]});
    assert_eq!(
        Notification::parse(many.to_string().as_bytes()).unwrap_err(),
        BodyError::TooManyItems
    );
    // Items that are not objects, or a success that is neither text nor a boolean.
    let odd = json!({"live": "false", "notificationItems": [[null]]});
    assert!(Notification::parse(odd.to_string().as_bytes()).is_err());
    let mut null_success = item.clone();
    null_success["NotificationRequestItem"]["success"] = Value::Null;
    let body = json!({"live": "false", "notificationItems": [null_success]});
    assert!(Notification::parse(body.to_string().as_bytes()).is_err());
}
