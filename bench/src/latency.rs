//! Warm latency in process: each operation timed through the shop's router.

use crate::shop::Shop;
use crate::stats::{self, summarize};
use crate::Result;

/// Warm latency through the router, per operation, each on fresh state.
pub async fn in_process(shop: &Shop, n: usize) -> Result<Vec<(String, stats::Summary)>> {
    let mut carts = Vec::with_capacity(n);
    for _ in 0..n {
        carts.push((shop.paid_cart().await, uuid::Uuid::new_v4().to_string()));
    }
    let (mut new, mut replay) = (Vec::new(), Vec::new());
    for (cart, key) in &carts {
        let answer = shop.order(cart, key).await;
        if answer.status != 201 {
            return Err(format!("order: {} {}", answer.status, answer.body));
        }
        new.push(answer.elapsed);
    }
    for (cart, key) in &carts {
        let answer = shop.order(cart, key).await;
        if answer.status != 200 || !answer.replayed {
            return Err(format!("replay: {} {}", answer.status, answer.body));
        }
        replay.push(answer.elapsed);
    }
    let mut deliveries = Vec::with_capacity(n);
    for _ in 0..n {
        deliveries.push(shop.cart_with_intent().await);
    }
    let mut webhook = Vec::new();
    for (_, body, signature) in &deliveries {
        let answer = shop.deliver(body, signature).await;
        if answer.status != 200 {
            return Err(format!("webhook: {} {}", answer.status, answer.body));
        }
        webhook.push(answer.elapsed);
    }
    let mut fresh = Vec::with_capacity(n);
    for _ in 0..n {
        fresh.push(shop.cart().await);
    }
    let mut update = Vec::new();
    for cart in &fresh {
        let answer = shop.update(cart).await;
        if answer.status != 200 {
            return Err(format!("cart update: {} {}", answer.status, answer.body));
        }
        update.push(answer.elapsed);
    }
    Ok(vec![
        ("create-order: new order".into(), summarize(&new)),
        ("create-order: replay".into(), summarize(&replay)),
        ("webhook (commits the order)".into(), summarize(&webhook)),
        ("cart update".into(), summarize(&update)),
    ])
}
