use super::*;

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

on_both_stores!(
    a_draft_holds_nothing_until_its_commands_process_it,
    send_to_platform_tells_the_erp_and_the_receipt_is_sent,
    a_batch_answers_each_body_and_twice_creates_nothing_twice,
);
