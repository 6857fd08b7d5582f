//! Programmatic orders (server to server): one call carries an order through its commands;
//! a failing command answers 422 naming it and leaves nothing held, charged or written;
//! drafts hold nothing until processed; a batch answers each body on its own and posting it
//! again creates nothing twice — on both stores.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use checkout_domain::model::events::order_event;
use checkout_domain::model::order_number::OrderNumber;
use checkout_domain::ports::erp::{Erp, ErpReceipt};
use checkout_domain::ports::DeliveryError;
use checkout_outbox::{EmailConfirmation, ErpSync, SideEffect};
use checkout_tests::faults::{FaultPoint, FaultSpec, FaultyStore};
use checkout_tests::outbox::Mailbox;
use checkout_tests::serde_json::{json, Value};
use checkout_tests::{cents, on_both_stores, App, Backend};
use http::StatusCode;

use crate::gift_cards::{balance, integration, paid_order, put_card};

/// Five mugs to Germany: 64.95 + 19 % tax (12.34), shipping free above 50.00.
const FIVE_MUGS: i64 = 7729;

/// What must not move when a request fails.
#[derive(Debug, PartialEq, Eq)]
struct Holdings {
    mugs: u32,
    lamps: u32,
    card: i64,
    open_authorizations: usize,
}

async fn holdings(app: &App) -> Holdings {
    Holdings {
        mugs: app.stock("MUG").await,
        lamps: app.stock("LAMP").await,
        card: balance(app, "GIFT-20").await,
        open_authorizations: app.psp.open_authorizations().len(),
    }
}

async fn a_full_pipeline_pays_with_a_gift_card_and_a_card(backend: Backend) {
    let app = App::start(backend).await;
    put_card(&app, "GIFT-20", "EUR", 2_000).await;
    let mugs = app.stock("MUG").await;
    let body = paid_order(
        "full-1",
        5,
        json!([{"giftCard": "GIFT-20"}, {"paymentMethod": "pm_card_visa"}]),
    );
    let created = integration(&app).post("/admin/orders", body.clone()).await;
    created.assert_status(StatusCode::CREATED);
    let order = &created.body;
    assert_eq!(order["state"], "Open");
    assert_eq!(order["paymentState"], "Paid");
    assert_eq!(cents(&order["totals"]["total"]), FIVE_MUGS);
    let names: Vec<_> = order["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["status"].as_str().unwrap()))
        .collect();
    assert_eq!(names.len(), 5);
    assert!(names.iter().all(|(_, status)| *status == "completed"));
    // The card is charged exactly the rest; the gift card gave exactly its balance.
    let card = order["payments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["psp"] == "stripe")
        .expect("a card payment");
    let reference = card["pspReference"].as_str().unwrap();
    assert_eq!(app.psp.captured(reference), FIVE_MUGS - 2_000);
    let kinds: Vec<_> = card["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["Authorization", "Charge"]);
    assert_eq!(balance(&app, "GIFT-20").await, 0);
    assert_eq!(app.stock("MUG").await, mugs - 5);
    assert!(app.psp.open_authorizations().is_empty());
    // The order is stored as answered, and a retry replays it without charging again.
    let number = OrderNumber::parse(order["orderNumber"].as_str().unwrap()).unwrap();
    let stored = app.store.order(&number).await.unwrap().expect("stored");
    assert_eq!(
        stored.payment_state,
        checkout_domain::model::payment::PaymentState::Paid
    );
    let replay = integration(&app).post("/admin/orders", body.clone()).await;
    replay.assert_status(StatusCode::OK);
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    assert_eq!(replay.body["orderNumber"], order["orderNumber"]);
    assert_eq!(app.psp_requests("authorize").len(), 1);
    assert_eq!(app.psp_requests("capture").len(), 1);
    let mut other = body;
    other["lineItems"][0]["quantity"] = 6.into();
    integration(&app)
        .post("/admin/orders", other)
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "IdempotencyKeyReused");
}

/// Each command's own failure: 422 naming it, and stock, gift card and authorizations as before.
async fn each_failing_command_is_named_and_changes_nothing(backend: Backend) {
    let app = App::start(backend).await;
    put_card(&app, "GIFT-20", "EUR", 2_000).await;
    let before = holdings(&app).await;
    let gift_and = |method: &str| json!([{"giftCard": "GIFT-20"}, {"paymentMethod": method}]);
    let mut no_address = paid_order("fail-address", 5, gift_and("pm_card_visa"));
    no_address
        .as_object_mut()
        .unwrap()
        .remove("shippingAddress");
    let declined = paid_order("fail-declined", 5, gift_and("pm_card_chargeDeclined"));
    // A card that pays only 1.00: authorized, then released when the payments fall short.
    let short = paid_order(
        "fail-short",
        5,
        json!([{"giftCard": "GIFT-20"}, {"paymentMethod": "pm_card_visa", "amount": 100}]),
    );
    let mut lamps = paid_order("fail-stock", 1, gift_and("pm_card_visa"));
    lamps["lineItems"] = json!([{"sku": "LAMP", "quantity": 6}]);
    let cases = [
        (no_address, "calculate_shipping", 0, "InvalidInput"),
        (declined, "authorize_payments", 2, "PaymentDeclined"),
        (short, "process_order", 3, "InsufficientPayment"),
        (lamps, "process_order", 3, "OutOfStock"),
    ];
    for (body, command, index, cause) in cases {
        let refused = integration(&app).post("/admin/orders", body.clone()).await;
        let problem = refused.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "CommandFailed");
        assert_eq!(problem["command"], command, "{problem}");
        assert_eq!(problem["index"], index, "{problem}");
        assert_eq!(problem["cause"]["code"], cause, "{problem}");
        assert_eq!(
            holdings(&app).await,
            before,
            "{command}: nothing held or taken"
        );
        // The failure is the key's answer: a retry gets it again, and nothing runs twice.
        let again = integration(&app).post("/admin/orders", body).await;
        again.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "CommandFailed");
        assert_eq!(again.headers["idempotent-replayed"], "true");
    }
    let missing = integration(&app)
        .post(
            "/admin/orders",
            paid_order("fail-address", 5, gift_and("pm_card_visa")),
        )
        .await;
    missing.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "IdempotencyKeyReused");
    // What was authorized was cancelled, with its own key.
    assert!(!app.psp_requests("cancel").is_empty());
    assert!(app.psp.open_authorizations().is_empty());
}

async fn only_integrations_and_administrators_may_order(backend: Backend) {
    let app = App::start(backend).await;
    let body = paid_order("auth-1", 1, json!([{"paymentMethod": "pm_card_visa"}]));
    app.anonymous()
        .post("/admin/orders", body.clone())
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "Unauthorized");
    app.customer("mallory")
        .post("/admin/orders", body.clone())
        .await
        .assert_problem(StatusCode::FORBIDDEN, "Forbidden");
    app.with_scope("reader", "orders:read")
        .post("/admin/orders/batch", json!({"orders": [body.clone()]}))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "Forbidden");
    app.admin()
        .post("/admin/orders", body)
        .await
        .assert_status(StatusCode::CREATED);
}

async fn bad_input_is_a_400_with_pointers_and_writes_nothing(backend: Backend) {
    let app = App::start(backend).await;
    put_card(&app, "POUNDS", "GBP", 5_000).await;
    let client = integration(&app);
    let many = client
        .post(
            "/admin/orders",
            json!({"lineItems": [{"sku": "MUG", "quantity": 0}],
                   "commands": ["fly", "process_order", "process_order"],
                   "payments": [{"paymentMethod": "pm_card_visa", "amount": -5}]}),
        )
        .await;
    assert_eq!(
        many.pointers(),
        [
            "/idempotencyKey",
            "/lineItems/0/quantity",
            "/payments/0/amount",
            "/commands/0",
            "/commands/2"
        ]
    );
    let mut unknown = paid_order("bad-1", 1, json!([{"giftCard": "POUNDS"}]));
    unknown["lineItems"] = json!([{"sku": "NOPE", "quantity": 1}]);
    assert_eq!(
        client.post("/admin/orders", unknown).await.pointers(),
        ["/lineItems/0/sku", "/payments/0/giftCard"]
    );
    let mut typo = paid_order("bad-1", 1, json!([]));
    typo["lineItem"] = json!([]);
    assert_eq!(
        client.post("/admin/orders", typo).await.pointers(),
        ["/lineItem"]
    );
    // Nothing was written under the key: it still takes a valid order.
    client
        .post(
            "/admin/orders",
            paid_order("bad-1", 1, json!([{"paymentMethod": "pm_card_visa"}])),
        )
        .await
        .assert_status(StatusCode::CREATED);
}

/// A draft holds nothing and tells nobody; its commands carry it on to a paid order.
async fn a_draft_holds_nothing_until_its_commands_process_it(backend: Backend) {
    let app = App::start(backend).await;
    let mugs = app.stock("MUG").await;
    let mut body = paid_order("draft-1", 2, json!([{"paymentMethod": "pm_card_visa"}]));
    body["commands"] = json!(["calculate_shipping", "calculate_tax_rates"]);
    body["sendReceipt"] = false.into();
    let draft = integration(&app).post("/admin/orders", body).await;
    draft.assert_status(StatusCode::CREATED);
    assert_eq!(draft.body["state"], "Draft");
    assert_eq!(draft.body["paymentState"], "Pending");
    assert_eq!(app.stock("MUG").await, mugs, "a draft holds no stock");
    let number = draft.body["orderNumber"].as_str().unwrap().to_string();
    let stored = app
        .store
        .order(&OrderNumber::parse(&number).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        order_event(None, Some(&stored)).is_none(),
        "a draft is no news"
    );

    let path = format!("/admin/orders/{number}/commands");
    let commands = json!({"commands": ["authorize_payments", "process_order", "charge_payments"]});
    let processed = integration(&app).post(&path, commands.clone()).await;
    processed.assert_status(StatusCode::OK);
    assert_eq!(processed.body["state"], "Open");
    assert_eq!(processed.body["paymentState"], "Paid");
    assert_eq!(processed.body["orderNumber"], number.as_str());
    assert_eq!(app.stock("MUG").await, mugs - 2);
    assert!(app.psp.open_authorizations().is_empty());
    // Again: the order as it is, nothing new.
    let again = integration(&app).post(&path, commands).await;
    again.assert_status(StatusCode::OK);
    assert_eq!(app.stock("MUG").await, mugs - 2);
    assert_eq!(app.psp_requests("capture").len(), 1);

    // Created now, with no receipt asked for and no `send_to_platform`: nobody is told.
    let order = app
        .store
        .order(&OrderNumber::parse(&number).unwrap())
        .await
        .unwrap()
        .unwrap();
    let event = order_event(Some(&stored), Some(&order)).expect("processing creates the order");
    let mailbox = Arc::new(Mailbox::default());
    let email = EmailConfirmation {
        mailer: mailbox.clone(),
        claims: app.claim_tickets(),
        claim_url: "http://127.0.0.1:3000/claim".into(),
    };
    assert!(!email.perform(&event).await.unwrap());
    assert!(mailbox.take().is_empty());
    let erp = Arc::new(CountingErp::default());
    assert!(!ErpSync { erp: erp.clone() }.perform(&event).await.unwrap());
    assert_eq!(erp.0.load(Ordering::SeqCst), 0);
}

async fn send_to_platform_tells_the_erp_and_the_receipt_is_sent(backend: Backend) {
    let app = App::start(backend).await;
    let mut body = paid_order("erp-1", 2, json!([{"paymentMethod": "pm_card_visa"}]));
    body["commands"] = json!([
        "calculate_shipping",
        "authorize_payments",
        "process_order",
        "send_to_platform",
        "charge_payments"
    ]);
    let created = integration(&app).post("/admin/orders", body).await;
    created.assert_status(StatusCode::CREATED);
    let number = OrderNumber::parse(created.body["orderNumber"].as_str().unwrap()).unwrap();
    let order = app.store.order(&number).await.unwrap().unwrap();
    let event = order_event(None, Some(&order)).unwrap();
    let erp = Arc::new(CountingErp::default());
    assert!(ErpSync { erp: erp.clone() }.perform(&event).await.unwrap());
    assert_eq!(erp.0.load(Ordering::SeqCst), 1);
    let mailbox = Arc::new(Mailbox::default());
    let email = EmailConfirmation {
        mailer: mailbox.clone(),
        claims: app.claim_tickets(),
        claim_url: "http://127.0.0.1:3000/claim".into(),
    };
    assert!(email.perform(&event).await.unwrap());
    assert_eq!(mailbox.take().len(), 1);
}

/// Fifty drafts, three of them bad: 47 drafts and 3 problems, each at its index; the same
/// batch again answers the same 47 orders and creates nothing.
async fn a_batch_answers_each_body_and_twice_creates_nothing_twice(backend: Backend) {
    let app = App::start(backend).await;
    let bodies: Vec<Value> = (0..50)
        .map(|i| match i {
            7 => {
                json!({"idempotencyKey": "batch-7", "lineItems": [{"sku": "MUG", "quantity": -1}]})
            }
            21 => json!({"lineItems": [{"sku": "MUG", "quantity": 1}]}),
            42 => json!({"idempotencyKey": "batch-42", "commands": ["teleport"]}),
            _ => {
                let mut body = paid_order(&format!("batch-{i}"), 1, json!([]));
                body["commands"] = json!(["calculate_shipping"]);
                body
            }
        })
        .collect();
    let client = integration(&app);
    let first = client
        .post("/admin/orders/batch", json!({"orders": bodies}))
        .await;
    first.assert_status(StatusCode::OK);
    let results = first.body["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 50);
    let mut numbers = Vec::new();
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result["index"], i);
        if [7, 21, 42].contains(&i) {
            assert_eq!(result["status"], 400, "{result}");
            assert_eq!(result["problem"]["code"], "InvalidInput");
        } else {
            assert_eq!(result["status"], 201, "{result}");
            assert_eq!(result["order"]["state"], "Draft");
            numbers.push(result["order"]["orderNumber"].clone());
        }
    }
    assert_eq!(numbers.len(), 47);
    let second = client
        .post("/admin/orders/batch", json!({"orders": bodies}))
        .await;
    second.assert_status(StatusCode::OK);
    let again: Vec<Value> = second.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == 200)
        .map(|r| r["order"]["orderNumber"].clone())
        .collect();
    assert_eq!(again, numbers, "the same 47 orders, nothing new");
    // Too many bodies, or too many bytes: 413, nothing written.
    let many: Vec<Value> = (0..51)
        .map(|i| paid_order(&format!("many-{i}"), 1, json!([])))
        .collect();
    client
        .post("/admin/orders/batch", json!({"orders": many}))
        .await
        .assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLarge");
    let huge = json!({"orders": [{"idempotencyKey": "x".repeat(1_100_000)}]});
    client
        .post("/admin/orders/batch", huge)
        .await
        .assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLarge");
}

/// A crash after the commit (the store wrote, the caller saw an error): the answer is a 503
/// and the key is free; the retry finds the order the first attempt committed, releases the
/// authorization it made for the amounts it now sees, and captures the order's own once.
async fn a_crash_after_the_commit_is_finished_by_the_retry(backend: Backend) {
    crash_and_retry(backend, 2, "commit").await;
}

/// A crash after the capture was recorded: the retry captures nothing more.
async fn a_crash_after_the_capture_is_finished_by_the_retry(backend: Backend) {
    crash_and_retry(backend, 3, "record_order_payments").await;
}

async fn crash_and_retry(backend: Backend, nth_write: u32, method: &str) {
    let (app, faults) = FaultyStore::app(backend).await;
    put_card(&app, "GIFT-20", "EUR", 2_000).await;
    let mugs = app.stock("MUG").await;
    let body = paid_order(
        "crash-1",
        5,
        json!([{"giftCard": "GIFT-20"}, {"paymentMethod": "pm_card_visa"}]),
    );
    let client = integration(&app);
    let spec = FaultSpec {
        nth: nth_write,
        point: FaultPoint::After,
    };
    let crashed = FaultyStore::scoped(Some(spec), client.post("/admin/orders", body.clone())).await;
    crashed.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable");
    assert_eq!(faults.injected()[0].method, method);
    let retried = client.post("/admin/orders", body.clone()).await;
    retried.assert_status(StatusCode::CREATED);
    assert_eq!(retried.body["paymentState"], "Paid");
    let card = retried.body["payments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["psp"] == "stripe")
        .unwrap()
        .clone();
    let reference = card["pspReference"].as_str().unwrap();
    assert_eq!(app.psp.captured(reference), FIVE_MUGS - 2_000);
    assert_eq!(app.psp_requests("capture").len(), 1, "captured once");
    assert!(
        app.psp.open_authorizations().is_empty(),
        "nothing held for nothing"
    );
    assert_eq!(balance(&app, "GIFT-20").await, 0, "redeemed once");
    assert_eq!(app.stock("MUG").await, mugs - 5, "one order's stock");
    let replay = client.post("/admin/orders", body).await;
    replay.assert_status(StatusCode::OK);
    assert_eq!(replay.body["orderNumber"], retried.body["orderNumber"]);
}

/// The same request delivered twice at once: one runs, the other is told to wait or gets
/// its answer; one order, one capture.
async fn the_same_key_twice_at_once_makes_one_order(backend: Backend) {
    let app = App::start(backend).await;
    let mugs = app.stock("MUG").await;
    let body = paid_order("twice-1", 1, json!([{"paymentMethod": "pm_card_visa"}]));
    let client = integration(&app);
    let (a, b) = tokio::join!(
        client.post("/admin/orders", body.clone()),
        client.post("/admin/orders", body.clone())
    );
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort();
    assert!(
        statuses == [200, 201] || statuses == [201, 409],
        "{statuses:?}: {} {}",
        a.body,
        b.body
    );
    assert_eq!(app.stock("MUG").await, mugs - 1);
    assert_eq!(app.psp_requests("capture").len(), 1);
}

/// Two integrations carrying the same draft on at once: it is processed once (one order,
/// one capture, the stock taken once); the other is told to retry or sees the order.
async fn a_draft_processed_twice_at_once_is_processed_once(backend: Backend) {
    let app = App::start(backend).await;
    let mugs = app.stock("MUG").await;
    let mut body = paid_order("draft-race", 2, json!([{"paymentMethod": "pm_card_visa"}]));
    body["commands"] = json!(["calculate_shipping"]);
    let client = integration(&app);
    let draft = client.post("/admin/orders", body).await;
    draft.assert_status(StatusCode::CREATED);
    let path = format!(
        "/admin/orders/{}/commands",
        draft.body["orderNumber"].as_str().unwrap()
    );
    let commands = json!({"commands": ["authorize_payments", "process_order", "charge_payments"]});
    let (a, b) = tokio::join!(
        client.post(&path, commands.clone()),
        client.post(&path, commands.clone())
    );
    let statuses = [a.status.as_u16(), b.status.as_u16()];
    assert!(
        statuses.contains(&200),
        "{statuses:?}: {} {}",
        a.body,
        b.body
    );
    assert!(
        statuses.iter().all(|s| [200, 409].contains(s)),
        "{statuses:?}: {} {}",
        a.body,
        b.body
    );
    assert_eq!(app.stock("MUG").await, mugs - 2);
    // Both may ask to capture, under the same provider key: one capture, recorded once.
    let order = if a.status == StatusCode::OK {
        &a.body
    } else {
        &b.body
    };
    let reference = order["payments"][0]["pspReference"].as_str().unwrap();
    assert_eq!(
        app.psp.captured(reference),
        cents(&order["totals"]["total"])
    );
    let number = OrderNumber::parse(order["orderNumber"].as_str().unwrap()).unwrap();
    let stored = app.store.order(&number).await.unwrap().unwrap();
    let charges = stored.payments[0]
        .transactions
        .iter()
        .filter(|t| t.kind == checkout_domain::model::payment::TransactionKind::Charge)
        .count();
    assert_eq!(charges, 1);
    let keys: std::collections::BTreeSet<_> = app
        .psp_requests("capture")
        .into_iter()
        .map(|r| r.idempotency_key)
        .collect();
    assert_eq!(keys.len(), 1, "one capture key");
    assert!(app.psp.open_authorizations().is_empty());
}

#[derive(Default)]
struct CountingErp(AtomicUsize);

#[async_trait::async_trait]
impl Erp for CountingErp {
    async fn push(
        &self,
        _: &checkout_domain::model::events::OrderEvent,
    ) -> Result<ErpReceipt, DeliveryError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(ErpReceipt::Created)
    }
}

/// Goods worth less than the configured minimum order value: `process_order` fails naming
/// it, and the card authorized before it is released — not a retry-later that holds the
/// card until the authorization lapses.
async fn an_order_below_the_minimum_fails_process_order_and_holds_nothing(backend: Backend) {
    let app = App::start(backend).await;
    put_card(&app, "GIFT-20", "EUR", 2_000).await;
    let mut catalog: Value = checkout_tests::serde_json::from_str(checkout_tests::CATALOG).unwrap();
    catalog["config"]["minOrderValue"] = json!({"EUR": 100_000});
    app.admin()
        .put("/admin/config", catalog["config"].clone())
        .await
        .assert_status(StatusCode::OK);
    let before = holdings(&app).await;
    let body = paid_order(
        "below-minimum",
        1,
        json!([{"giftCard": "GIFT-20"}, {"paymentMethod": "pm_card_visa"}]),
    );
    let refused = integration(&app).post("/admin/orders", body).await;
    let problem = refused.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "CommandFailed");
    assert_eq!(problem["command"], "process_order", "{problem}");
    assert_eq!(
        problem["cause"]["code"], "BelowMinimumOrderValue",
        "{problem}"
    );
    assert_eq!(holdings(&app).await, before, "nothing held or taken");
    assert!(app.psp.open_authorizations().is_empty());
    assert_eq!(app.psp_requests("cancel").len(), 1);
}

/// A capture that answers `processing` (a method that settles later) is recorded pending;
/// Stripe's `payment_intent.succeeded` for that same charge then records it captured — not
/// taken for a report seen before — so a refund of the order is a refund, not a cancel.
async fn a_capture_still_processing_is_settled_by_the_webhook(backend: Backend) {
    use checkout_domain::model::payment::{TransactionKind, TransactionState};
    let app = App::start(backend).await;
    app.psp.process_captures_later();
    let body = paid_order(
        "processing-1",
        2,
        json!([{"paymentMethod": "pm_card_visa"}]),
    );
    let created = integration(&app).post("/admin/orders", body).await;
    created.assert_status(StatusCode::CREATED);
    let number = OrderNumber::parse(created.body["orderNumber"].as_str().unwrap()).unwrap();
    let card = |order: &checkout_domain::model::order::Order| order.payments[0].clone();
    let order = app.store.order(&number).await.unwrap().unwrap();
    let charges: Vec<_> = card(&order)
        .transactions
        .iter()
        .filter(|t| t.kind == TransactionKind::Charge)
        .map(|t| t.state)
        .collect();
    assert_eq!(charges, [TransactionState::Pending]);
    assert!(!card(&order).charged());

    let reference = card(&order).psp_reference;
    app.deliver(&app.payment_event(&reference, true))
        .await
        .assert_status(StatusCode::OK);
    let order = app.store.order(&number).await.unwrap().unwrap();
    assert!(card(&order).charged(), "the webhook settled the capture");
    assert_eq!(
        card(&order).secured(),
        cents(&created.body["totals"]["total"])
    );
    assert_eq!(
        order.payment_state,
        checkout_domain::model::payment::PaymentState::Paid
    );
}

/// An `idempotencyKey`'s record is kept 24 hours; the order the key made lives on and
/// remembers the request it was made for. After the record expired, the same body replays
/// that order (nothing runs again) and another body is still a 422 — a draft's key too.
async fn a_key_reused_after_its_record_expired_answers_only_its_own_body(backend: Backend) {
    let app = App::start(backend).await;
    let body = paid_order("expiring-1", 1, json!([{"paymentMethod": "pm_card_visa"}]));
    let mut draft = paid_order("expiring-2", 2, json!([{"paymentMethod": "pm_card_visa"}]));
    draft["commands"] = json!(["calculate_shipping"]);
    let client = integration(&app);
    let order = client.post("/admin/orders", body.clone()).await;
    order.assert_status(StatusCode::CREATED);
    let saved = client.post("/admin/orders", draft.clone()).await;
    saved.assert_status(StatusCode::CREATED);
    assert_eq!(saved.body["state"], "Draft");
    let mugs = app.stock("MUG").await;

    app.advance(time::Duration::hours(24) + time::Duration::minutes(1));
    for (first, answered) in [(&body, &order), (&draft, &saved)] {
        let mut other = first.clone();
        other["lineItems"][0]["quantity"] = 3.into();
        other["sendReceipt"] = false.into();
        client
            .post("/admin/orders", other.clone())
            .await
            .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "IdempotencyKeyReused");
        let replay = client.post("/admin/orders", first.clone()).await;
        replay.assert_status(StatusCode::OK);
        assert_eq!(replay.headers["idempotent-replayed"], "true");
        assert_eq!(replay.body["orderNumber"], answered.body["orderNumber"]);
        assert_eq!(replay.body["state"], answered.body["state"]);
        assert_eq!(replay.body["totals"], answered.body["totals"]);
        // The replay stored the key's answer again; the other body is still refused.
        client
            .post("/admin/orders", other)
            .await
            .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "IdempotencyKeyReused");
    }
    assert_eq!(app.stock("MUG").await, mugs, "nothing taken again");
    assert_eq!(app.psp_requests("authorize").len(), 1);
    assert_eq!(app.psp_requests("capture").len(), 1);
    assert!(app.psp.open_authorizations().is_empty());
}

on_both_stores!(
    a_capture_still_processing_is_settled_by_the_webhook,
    an_order_below_the_minimum_fails_process_order_and_holds_nothing,
    a_full_pipeline_pays_with_a_gift_card_and_a_card,
    each_failing_command_is_named_and_changes_nothing,
    only_integrations_and_administrators_may_order,
    bad_input_is_a_400_with_pointers_and_writes_nothing,
    a_draft_holds_nothing_until_its_commands_process_it,
    send_to_platform_tells_the_erp_and_the_receipt_is_sent,
    a_batch_answers_each_body_and_twice_creates_nothing_twice,
    a_crash_after_the_commit_is_finished_by_the_retry,
    a_crash_after_the_capture_is_finished_by_the_retry,
    the_same_key_twice_at_once_makes_one_order,
    a_draft_processed_twice_at_once_is_processed_once,
    a_key_reused_after_its_record_expired_answers_only_its_own_body,
);

/// The Stripe adapter under the pipeline, against a fake Stripe: the authorization sends the
/// saved method, the Stripe customer, `confirm`, `off_session` and manual capture under a key
/// derived from the order's; the capture takes exactly the card's share; a declined card
/// (HTTP 402) fails `authorize_payments` with nothing held.
#[tokio::test]
async fn the_stripe_adapter_authorizes_and_captures_a_saved_card() {
    use checkout_adapters::stripe::StripeClient;
    use checkout_domain::model::identity::Caller;
    use checkout_domain::model::programmatic_order::ProgrammaticOrderInput;
    use checkout_domain::model::values::CustomerId;
    use wiremock::matchers::{body_string_contains, header, header_regex, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .and(header_regex(
            "idempotency-key",
            "^order:[0-9a-f]{32}:authorize:1:5729$",
        ))
        .and(body_string_contains("amount=5729"))
        .and(body_string_contains("currency=eur"))
        .and(body_string_contains("payment_method=pm_card_visa"))
        .and(body_string_contains("customer=cus_test"))
        .and(body_string_contains("confirm=true"))
        .and(body_string_contains("off_session=true"))
        .and(body_string_contains("capture_method=manual"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "pi_saved", "status": "requires_capture"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents/pi_saved/capture"))
        .and(header("idempotency-key", "capture:pi_saved"))
        .and(body_string_contains("amount_to_capture=5729"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"id": "pi_saved", "status": "succeeded", "latest_charge": "ch_saved"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .and(body_string_contains("payment_method=pm_card_chargeDeclined"))
        .respond_with(ResponseTemplate::new(402).set_body_json(
            json!({"error": {"type": "card_error", "code": "card_declined", "message": "Your card was declined."}}),
        ))
        .expect(1)
        .mount(&server)
        .await;

    let app = App::start(Backend::Memory).await;
    put_card(&app, "GIFT-20", "EUR", 2_000).await;
    let storefront = app
        .storefront
        .clone()
        .with_psp(Arc::new(StripeClient::new(server.uri(), "sk_test_123")));
    let caller = Caller {
        customer: Some(CustomerId::parse("erp-bridge").unwrap()),
        scopes: vec!["orders:write".into()],
        ..Caller::default()
    };
    let input = |body: &Value| -> ProgrammaticOrderInput {
        checkout_tests::serde_json::from_value(body.clone()).expect("a valid body")
    };
    let deadline = time::OffsetDateTime::now_utc() + time::Duration::seconds(30);
    let mut body = paid_order(
        "stripe-1",
        5,
        json!([{"giftCard": "GIFT-20"}, {"paymentMethod": "pm_card_visa"}]),
    );
    body["customer"]["customerId"] = "cus_test".into();
    let answer = storefront
        .create_admin_order(&caller, &input(&body), deadline)
        .await
        .expect("the order is made");
    let checkout_domain::usecases::admin_orders::AdminAnswer::Created(order) = answer else {
        panic!("a new order");
    };
    let card = order.payments.iter().find(|p| p.psp == "stripe").unwrap();
    assert_eq!(card.psp_reference, "pi_saved");
    let interactions: Vec<_> = card
        .transactions
        .iter()
        .map(|t| t.interaction_id.as_str())
        .collect();
    assert_eq!(interactions, ["authorization:pi_saved", "charge:ch_saved"]);
    assert_eq!(balance(&app, "GIFT-20").await, 0);

    let mut declined = paid_order(
        "stripe-2",
        1,
        json!([{"paymentMethod": "pm_card_chargeDeclined"}]),
    );
    declined["customer"]["customerId"] = "cus_test".into();
    let refused = storefront
        .create_admin_order(&caller, &input(&declined), deadline)
        .await
        .unwrap_err();
    match refused {
        checkout_domain::Error::CommandFailed { command, cause, .. } => {
            assert_eq!(command, "authorize_payments");
            assert!(matches!(
                *cause,
                checkout_domain::Error::PaymentDeclined { .. }
            ));
        }
        other => panic!("expected CommandFailed, got {other:?}"),
    }
}
