//! More than one payment provider: a payment names its provider (`psp`), the provider's
//! reports are matched to its own payments, and everything the system later asks about a
//! payment (a refund, a cancel) goes to the provider it was made with — on both stores.

use std::sync::Arc;

use async_trait::async_trait;
use checkout_adapters::psp_simulator::PspSimulator;
use checkout_domain::model::money::Money;
use checkout_domain::model::values::CartId;
use checkout_domain::ports::psp::{
    Authorization, Capture, Intent, IntentRequest, PaymentProvider, PspError, Reversal,
    SavedMethodRequest,
};
use checkout_domain::usecases::payment_webhook::WebhookAnswer;
use checkout_tests::serde_json::json;
use checkout_tests::{on_both_stores, App, Backend};
use http::StatusCode;

/// The simulator's behaviour under another provider's name.
struct Renamed {
    name: &'static str,
    inner: Arc<PspSimulator>,
}

#[async_trait]
impl PaymentProvider for Renamed {
    fn name(&self) -> &'static str {
        self.name
    }
    async fn create_intent(&self, request: &IntentRequest) -> Result<Intent, PspError> {
        self.inner.create_intent(request).await
    }
    async fn cancel(
        &self,
        reference: &str,
        cart: &CartId,
        key: &str,
    ) -> Result<Reversal, PspError> {
        self.inner.cancel(reference, cart, key).await
    }
    async fn retrieve(&self, reference: &str) -> Result<Option<CartId>, PspError> {
        self.inner.retrieve(reference).await
    }
    async fn refund(
        &self,
        reference: &str,
        cart: &CartId,
        amount: Money,
        key: &str,
    ) -> Result<Reversal, PspError> {
        self.inner.refund(reference, cart, amount, key).await
    }
    async fn refund_status(&self, refund_id: &str) -> Result<Reversal, PspError> {
        self.inner.refund_status(refund_id).await
    }
    async fn authorize_saved(
        &self,
        request: &SavedMethodRequest,
    ) -> Result<Authorization, PspError> {
        self.inner.authorize_saved(request).await
    }
    async fn capture(
        &self,
        reference: &str,
        cart: &CartId,
        amount: Money,
        key: &str,
    ) -> Result<Capture, PspError> {
        self.inner.capture(reference, cart, amount, key).await
    }
}

async fn a_payment_made_through_a_second_provider_stays_with_it(backend: Backend) {
    let second = Arc::new(PspSimulator::new());
    let app = App::start(backend).await.with_other_psp(Arc::new(Renamed {
        name: "adyen",
        inner: second.clone(),
    }));
    let (guest, cart) = app.ready_guest_cart().await;
    let path = format!("/carts/{}/payments", cart.id);

    // A provider this deployment does not have is the caller's mistake, and changes nothing.
    for unknown in ["paypal", "", "none", "STRIPE"] {
        let refused = guest.post(&path, json!({"psp": unknown})).await;
        refused.assert_problem(StatusCode::BAD_REQUEST, "InvalidInput");
        assert_eq!(refused.pointers(), ["/psp"]);
    }
    guest
        .post(&path, json!({"psp": 7}))
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "InvalidInput");
    assert!(app.stored(&cart).await.0.payments.is_empty());
    assert!(second.requests().is_empty());

    let started = guest.post(&path, json!({"psp": "adyen"})).await;
    started.assert_status(StatusCode::CREATED);
    assert_eq!(started.body["psp"], "adyen");
    let reference = started.body["pspReference"].as_str().unwrap().to_string();
    assert!(
        app.psp_requests("create_intent").is_empty(),
        "not the default's"
    );
    assert_eq!(second.requests().len(), 1);

    // The second provider reports the success: recorded on its own payment, the order made.
    let event = second.event(&reference, true).expect("a known intent");
    let parsed: checkout_adapters::stripe::Event =
        checkout_tests::serde_json::from_str(&event).unwrap();
    let report = checkout_adapters::stripe::report(&parsed);
    let locked_until = app.storefront.now() + time::Duration::seconds(60);
    let answer = app
        .storefront
        .payment_webhook()
        .receive_payment_report("adyen", &parsed.id, report, locked_until)
        .await
        .expect("recorded");
    assert!(matches!(answer, WebhookAnswer::Handled(_)), "{answer:?}");
    let (_, order) = app.stored(&cart).await;
    let order = order.expect("an order");
    assert_eq!(
        order.payments.len(),
        1,
        "one payment, not a second for the report"
    );
    assert_eq!(order.payments[0].psp, "adyen");

    // The merchant's refund goes to the provider the money came from.
    let refund = app
        .admin()
        .post(
            &format!("/admin/orders/{}/refunds", order.order_number),
            json!({"idempotencyKey": "r1", "amount": 500, "reason": "Scratched"}),
        )
        .await;
    refund.assert_status(StatusCode::CREATED);
    assert_eq!(second.reversed(&reference).refunded, 500);
    assert!(
        app.psp_requests("refund").is_empty(),
        "nothing asked of the default"
    );
}

on_both_stores!(a_payment_made_through_a_second_provider_stays_with_it);
