//! The sweeper within its budget: its two queues are read in turn, so a flood of one (saved
//! orders nobody pays) never starves the other (paid carts whose money must go back), and
//! what it could not finish is counted for the alarm and is due again next time.

use checkout_domain::model::commit_plan::SAVED_ORDER_HOLD;
use checkout_domain::ports::metrics::Metric;
use checkout_domain::usecases::sweeper::SweepBudget;
use checkout_tests::faults::{FaultPoint, FaultyStore};
use checkout_tests::serde_json::json;
use checkout_tests::{on_both_stores, order_request, App, Backend};
use http::StatusCode;
use time::Duration;

const GRACE: Duration = Duration::minutes(30);

/// `count` saved orders nobody pays, from as many customers as the cap needs.
async fn unpaid_saved_orders(app: &App, count: usize) {
    for i in 0..count {
        let (customer, cart) = app.ready_customer_cart(&format!("c{}", i / 3)).await;
        let mut body = order_request(&cart);
        body["action"] = json!("save_order");
        customer
            .post("/orders", body)
            .await
            .assert_status(StatusCode::CREATED);
    }
}

async fn a_flood_of_saved_orders_never_starves_paid_carts(backend: Backend) {
    let app = App::start(backend).await;
    let (_, mut cart) = app.ready_guest_cart().await;
    app.pay(&mut cart, None).await;
    unpaid_saved_orders(&app, 4).await;
    app.advance(SAVED_ORDER_HOLD.max(GRACE) + Duration::seconds(1));

    // Two pages of one item: one of the saved orders, then the paid cart.
    let tight = SweepBudget {
        time: std::time::Duration::from_secs(60),
        pages: 2,
        page_size: 1,
    };
    let report = app.storefront.sweeper().sweep(GRACE, tight).await.unwrap();
    assert_eq!(report.orders_released, 1);
    assert_eq!(report.carts_reversed, 1, "the cart had its turn");
    assert!(report.out_of_time);
    assert_eq!(app.stored(&cart).await.0.payments[0].secured(), 0);

    // What was left is due next time.
    let rest = app
        .storefront
        .sweeper()
        .sweep(GRACE, SweepBudget::time(std::time::Duration::from_secs(60)))
        .await
        .unwrap();
    assert_eq!(rest.orders_released, 3);
    assert!(!rest.out_of_time);
    assert_eq!(app.metrics.get(Metric::SweepOrdersReleased), 4);
    assert_eq!(app.metrics.get(Metric::SweepCartsReversed), 1);
}

async fn a_sweep_that_fails_is_counted_for_the_alarm_and_tried_again(backend: Backend) {
    let (app, faults) = FaultyStore::app(backend).await;
    let (_, mut cart) = app.ready_guest_cart().await;
    app.pay(&mut cart, None).await;
    app.advance(GRACE + Duration::seconds(1));
    let budget = SweepBudget::time(std::time::Duration::from_secs(60));
    // The fourth store call from now (the give-back's read of the cart, after both queues'
    // pages and the sweep's own read) fails.
    faults.fail_nth(4, FaultPoint::Before);
    let report = app.storefront.sweeper().sweep(GRACE, budget).await.unwrap();
    assert_eq!(report.failures, 1);
    assert_eq!(app.metrics.get(Metric::SweepFailures), 1);
    assert!(app.stored(&cart).await.0.payments[0].secured() > 0);

    let again = app.storefront.sweeper().sweep(GRACE, budget).await.unwrap();
    assert_eq!((again.failures, again.carts_reversed), (0, 1));
    assert_eq!(app.stored(&cart).await.0.payments[0].secured(), 0);
    assert_eq!(app.metrics.get(Metric::SweepFailures), 1);
}

on_both_stores!(
    a_flood_of_saved_orders_never_starves_paid_carts,
    a_sweep_that_fails_is_counted_for_the_alarm_and_tried_again,
);
