use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erp_outage_and_a_timeout_are_retried_and_a_refused_order_waits_in_the_dlq_for_a_redrive(
) {
    let scene = scene().await;
    let (erp, outbox) = (&scene.erp, &scene.outbox);
    // Four server errors, then an answer that comes after the client gave up (the ERP took
    // the order: the retry is told 409, already synced).
    erp.script(&[StatusCode::INTERNAL_SERVER_ERROR; 4]);
    erp.slow(1);
    let refused = outbox.address("customer0");
    erp.refuse_customer(&refused);
    let _running = run_outbox(
        &scene,
        outbox.relay(),
        StreamOptions::default(),
        outbox.mailer(),
        QueueOptions::default(),
    )
    .await;
    let placed = place_orders(&scene, 6).await;

    eventually("five orders synced, one dead-lettered", SETTLE, || async {
        let done = erp.records().len() == 5
            && outbox.depth(&outbox.erp_dlq).await == 1
            && outbox.depth(&outbox.erp_queue).await == 0;
        done.then_some(())
    })
    .await;
    assert!(
        erp.calls() >= 4 + 1 + 6,
        "the outage's and the timed-out calls were retried"
    );
    eventually("every email", SETTLE, || async {
        (outbox.emails_accepted.get() == 6).then_some(())
    })
    .await;
    let emails = outbox.sent_emails().await;
    assert_eq!(
        emails.iter().filter(|e| e.to == [refused.clone()]).count(),
        1,
        "the ERP's refusal does not touch the email"
    );

    // Fixed on the ERP's side: the redrive replays the dead letter.
    erp.accept_all();
    let moved = checkout_adapters::sqs::redrive(&outbox.sqs, &outbox.erp_dlq, &outbox.erp_queue)
        .await
        .unwrap();
    assert_eq!(moved, 1);
    assert_each_order_delivered_once(&scene, &placed).await;
    scene.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_failing_email_in_a_batch_of_ten_is_the_only_one_retried() {
    let scene = scene().await;
    let outbox = &scene.outbox;
    let placed = place_orders(&scene, 10).await;
    let relay = StreamPump::start(&scene.store, outbox.relay(), StreamOptions::default()).await;
    eventually("ten events queued", SETTLE, || async {
        (outbox.depth(&outbox.email_queue).await == 10).then_some(())
    })
    .await;
    let mailer = Arc::new(FailOnceFor {
        inner: outbox.mailer(),
        address: placed[3].email.clone(),
        failed: AtomicBool::new(false),
        attempts: Mutex::default(),
    });
    let _email = QueuePump::start(
        &outbox.sqs,
        &outbox.email_queue,
        outbox.email_subscriber(&scene.store, mailer.clone()),
        QueueOptions::default(),
    );
    let _erp = QueuePump::start(
        &outbox.sqs,
        &outbox.erp_queue,
        outbox.erp_subscriber(&scene.store, &scene.erp),
        QueueOptions::default(),
    );
    assert_each_order_delivered_once(&scene, &placed).await;
    drop(relay);
    let attempts = mailer.attempts.lock().unwrap().clone();
    for order in &placed {
        let expected = if order.email == placed[3].email { 2 } else { 1 };
        assert_eq!(attempts[&order.email], expected, "{order:?}");
    }
    scene.finish().await;
}

#[tokio::test]
async fn an_unreadable_message_goes_to_the_dlq_and_is_acknowledged() {
    let sample: aws_lambda_events::event::sqs::SqsEvent =
        serde_json::from_str(include_str!("../../fixtures/aws/example-sqs-event.json")).unwrap();
    let dead_letters = Arc::new(RecordingQueue::default());
    let mailer = Arc::new(FailOnceFor {
        inner: Arc::new(checkout_tests::outbox::NoMail),
        address: String::new(),
        failed: AtomicBool::new(true),
        attempts: Mutex::default(),
    });
    let subscriber = checkout_outbox::Subscriber::new(
        Arc::new(checkout_outbox::EmailConfirmation {
            mailer,
            claims: Arc::new(checkout_adapters::MemoryStore::new()),
            claim_url: checkout_tests::outbox::CLAIM_URL.into(),
        }),
        Arc::new(checkout_adapters::MemoryStore::new()),
        dead_letters.clone(),
    );
    let response = subscriber.handle(sample).await;
    assert!(response.batch_item_failures.is_empty(), "acknowledged");
    assert_eq!(
        dead_letters.batches.lock().unwrap().len(),
        1,
        "dead-lettered"
    );
}
