use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_orders_make_a_hundred_emails_and_a_hundred_erp_records() {
    let scene = scene().await;
    let _running = run_outbox(
        &scene,
        scene.outbox.relay(),
        StreamOptions::default(),
        scene.outbox.mailer(),
        QueueOptions::default(),
    )
    .await;
    let placed = place_orders(&scene, 100).await;
    assert_each_order_delivered_once(&scene, &placed).await;
    scene.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_delivered_three_times_still_makes_one_email_and_one_record_per_order() {
    let scene = scene().await;
    let _running = run_outbox(
        &scene,
        scene.outbox.relay(),
        StreamOptions {
            batch_size: 100,
            deliveries: 3,
        },
        scene.outbox.mailer(),
        QueueOptions {
            extra_deliveries: 2,
            crash_before_ack_once: false,
        },
    )
    .await;
    let placed = place_orders(&scene, 40).await;
    assert_each_order_delivered_once(&scene, &placed).await;
    // The relay did send every event three times: the subscribers absorbed the repeats.
    assert_eq!(
        scene.erp.calls(),
        placed.len(),
        "repeats never reached the ERP"
    );
    scene.finish().await;
}

/// A queue that, once it has taken ten messages, sends half of the next batch and crashes.
struct CrashMidBatch {
    inner: Arc<dyn EventQueue>,
    sent: AtomicUsize,
    crashed: Arc<AtomicBool>,
}

#[async_trait]
impl EventQueue for CrashMidBatch {
    async fn send(&self, messages: &[QueueMessage]) -> Result<Vec<String>, StoreError> {
        if self.sent.load(Ordering::SeqCst) >= 10 && !self.crashed.swap(true, Ordering::SeqCst) {
            let half = &messages[..messages.len() / 2];
            let refused = self.inner.send(half).await?;
            assert!(refused.is_empty());
            panic!(
                "the relay crashes after sending {} of {} messages",
                half.len(),
                messages.len()
            );
        }
        let refused = self.inner.send(messages).await?;
        self.sent
            .fetch_add(messages.len() - refused.len(), Ordering::SeqCst);
        Ok(refused)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_mid_batch_and_before_acknowledging_lose_nothing_and_double_nothing() {
    let scene = scene().await;
    let placed = place_orders(&scene, 30).await;
    let crashed = Arc::new(AtomicBool::new(false));
    let relay = scene.outbox.relay_with(|inner| {
        Arc::new(CrashMidBatch {
            inner,
            sent: AtomicUsize::new(0),
            crashed: crashed.clone(),
        })
    });
    let _running = run_outbox(
        &scene,
        relay,
        StreamOptions {
            batch_size: 100,
            deliveries: 1,
        },
        scene.outbox.mailer(),
        QueueOptions {
            extra_deliveries: 0,
            crash_before_ack_once: true,
        },
    )
    .await;
    assert_each_order_delivered_once(&scene, &placed).await;
    assert!(crashed.load(Ordering::SeqCst), "the relay did crash");
    assert_eq!(
        scene.erp.calls(),
        placed.len(),
        "redelivered after a crash, no order reached the ERP twice"
    );
    scene.finish().await;
}

/// A mailer that holds its first send open until the test lets it finish.
#[derive(Default)]
struct HeldMailer {
    sends: AtomicUsize,
    started: tokio::sync::Notify,
    release: tokio::sync::Notify,
}

#[async_trait]
impl Mailer for HeldMailer {
    async fn send(&self, _email: &OutgoingEmail) -> Result<(), DeliveryError> {
        self.sends.fetch_add(1, Ordering::SeqCst);
        self.started.notify_one();
        self.release.notified().await;
        Ok(())
    }
}

#[tokio::test]
async fn two_deliveries_of_one_event_at_the_same_time_send_one_email() {
    let app = App::start(Backend::Memory).await;
    let (guest, cart) = app.paid_guest_cart().await;
    guest
        .post("/orders", order_request(&cart))
        .await
        .assert_status(StatusCode::CREATED);
    let (_, order) = app.stored(&cart).await;
    let event =
        checkout_domain::model::events::order_event(None, order.as_ref()).expect("OrderCreated");
    let mut message = aws_lambda_events::event::sqs::SqsMessage::default();
    message.body = Some(serde_json::to_string(&event).unwrap());

    let mailer = Arc::new(HeldMailer::default());
    let subscriber = checkout_outbox::Subscriber::new(
        Arc::new(checkout_outbox::EmailConfirmation {
            mailer: mailer.clone(),
            claims: Arc::new(checkout_adapters::MemoryStore::new()),
            claim_url: checkout_tests::outbox::CLAIM_URL.into(),
        }),
        Arc::new(checkout_adapters::MemoryStore::new()),
        Arc::new(RecordingQueue::default()),
    );
    let first = {
        let (subscriber, message) = (subscriber.clone(), message.clone());
        tokio::spawn(async move { subscriber.process(&message).await })
    };
    mailer.started.notified().await;
    // While the first delivery is sending, the duplicate is told to come back later.
    assert_eq!(
        subscriber.process(&message).await,
        checkout_outbox::subscriber::Outcome::Retry
    );
    mailer.release.notify_one();
    assert_eq!(
        first.await.unwrap(),
        checkout_outbox::subscriber::Outcome::Done
    );
    // When it does, the effect is done.
    assert_eq!(
        subscriber.process(&message).await,
        checkout_outbox::subscriber::Outcome::Duplicate
    );
    assert_eq!(mailer.sends.load(Ordering::SeqCst), 1);
}
