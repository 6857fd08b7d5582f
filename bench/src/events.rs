//! The events each function is invoked with, fresh state per event, and the stand-ins
//! (queues, secrets, effects) the subscribers and the relay are deployed against.

use crate::emulator::http_event;
use crate::lambda::Expect;
use crate::shop::{order_body, Shop};
use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_dynamodb::types::AttributeValue;
use checkout_domain::model::events::order_event;
use checkout_domain::ports::queue::{EventQueue, QueueMessage};
use checkout_domain::StoreError;
use checkout_outbox::SideEffect;
use serde_json::{json, Value};
use std::path::PathBuf;

use crate::settings::Settings;
use crate::Result;

/// Makes the events each function is invoked with: fresh state per event, so every
/// invocation does its real work (a new order, a new cart update, a first webhook delivery).
pub(crate) struct Events {
    pub(crate) shop: Shop,
    /// A committed order's item, in the stream's DynamoDB JSON.
    pub(crate) order_image: Value,
    pub(crate) order_keys: Value,
    pub(crate) order_event: Value,
}

impl Events {
    pub(crate) async fn new(
        shop: Shop,
        client: &aws_sdk_dynamodb::Client,
        table: &str,
    ) -> Result<Events> {
        let cart = shop.paid_cart().await;
        let answer = shop.order(&cart, "image").await;
        if answer.status != 201 {
            return Err(format!("seed order: {} {}", answer.status, answer.body));
        }
        let item = client
            .get_item()
            .table_name(table)
            .key("pk", AttributeValue::S(format!("CART#{}", cart.id)))
            .key("sk", AttributeValue::S("ORDER".into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| format!("read the order: {e}"))?
            .item
            .ok_or("the order item")?;
        let image: serde_dynamo::Item = item.into();
        let order = checkout_adapters::dynamodb::order_from_image(image.clone())
            .map_err(|e| e.to_string())?
            .ok_or("an order image")?;
        let event = order_event(None, Some(&order)).ok_or("an OrderCreated event")?;
        Ok(Events {
            shop,
            order_keys: json!({"pk": {"S": format!("CART#{}", cart.id)}, "sk": {"S": "ORDER"}}),
            order_image: serde_json::to_value(&image).map_err(|e| e.to_string())?,
            order_event: serde_json::to_value(&event).map_err(|e| e.to_string())?,
        })
    }

    pub(crate) async fn new_order(&self) -> (Value, Value) {
        let cart = self.shop.paid_cart().await;
        let key = uuid::Uuid::new_v4().to_string();
        let event = http_event(
            "POST",
            "/orders",
            &[("x-session-id", &cart.session), ("idempotency-key", &key)],
            Some(&order_body(&cart)),
        );
        (event.clone(), event)
    }

    pub(crate) async fn webhook(&self) -> Value {
        let (_, body, signature) = self.shop.cart_with_intent().await;
        http_event(
            "POST",
            "/webhooks/stripe",
            &[("stripe-signature", &signature)],
            Some(&body),
        )
    }

    pub(crate) async fn cart_update(&self) -> Value {
        let cart = self.shop.cart().await;
        http_event(
            "POST",
            &format!("/carts/{}", cart.id),
            &[("x-session-id", &cart.session)],
            Some(&Shop::add_mug(&cart)),
        )
    }

    pub(crate) fn schedule(&self) -> Value {
        json!({"version": "0", "id": uuid::Uuid::new_v4().to_string(),
               "detail-type": "Scheduled Event", "source": "aws.events",
               "account": "000000000000", "time": "2026-11-24T00:00:00Z", "region": "us-east-1",
               "resources": ["arn:aws:events:us-east-1:000000000000:rule/sweep"], "detail": {}})
    }

    pub(crate) fn stream(&self) -> Result<Value> {
        let event = json!({"Records": [{
            "eventID": uuid::Uuid::new_v4().simple().to_string(),
            "eventName": "INSERT",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "dynamodb": {
                "ApproximateCreationDateTime": 1_795_000_000.0,
                "Keys": self.order_keys,
                "NewImage": self.order_image,
                "SequenceNumber": "100000000000000000001",
                "SizeBytes": 2048,
                "StreamViewType": "NEW_AND_OLD_IMAGES"
            },
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:000000000000:table/bench/stream/2026-11-24T00:00:00.000"
        }]});
        serde_json::from_value::<StreamEvent>(event.clone())
            .map_err(|e| format!("the stream event does not parse: {e}"))?;
        Ok(event)
    }

    pub(crate) fn sqs(&self) -> Result<Value> {
        let mut body = self.order_event.clone();
        body["id"] = format!(
            "{}:bench-{}",
            body["orderId"].as_str().unwrap_or(""),
            uuid::Uuid::new_v4()
        )
        .into();
        let event = json!({"Records": [{
            "messageId": uuid::Uuid::new_v4().to_string(),
            "receiptHandle": "bench",
            "body": body.to_string(),
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795000000000",
                           "SenderId": "000000000000", "ApproximateFirstReceiveTimestamp": "1795000000000"},
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:erp",
            "awsRegion": "us-east-1"
        }]});
        serde_json::from_value::<SqsEvent>(event.clone())
            .map_err(|e| format!("the SQS event does not parse: {e}"))?;
        Ok(event)
    }

    /// `n` events for `function`, grouped as they are summarized.
    pub(crate) async fn for_function(
        &self,
        function: &str,
        n: usize,
    ) -> Result<Vec<(String, Expect, Vec<Value>)>> {
        let mut events = Vec::with_capacity(n);
        Ok(match function {
            "create-order" | "create-order (Python)" => {
                let mut replays = Vec::with_capacity(n);
                for _ in 0..n {
                    let (event, replay) = self.new_order().await;
                    events.push(event);
                    replays.push(replay);
                }
                // Powertools replays the stored answer as it was (201); the Rust function
                // answers a replay 200 with `Idempotent-Replayed: true`.
                let replayed = if function == "create-order" { 200 } else { 201 };
                vec![
                    ("new order".into(), Expect::Status(201), events),
                    ("replay".into(), Expect::Status(replayed), replays),
                ]
            }
            "payment-webhook" => {
                for _ in 0..n {
                    events.push(self.webhook().await);
                }
                vec![("webhook (commits)".into(), Expect::Status(200), events)]
            }
            "storefront" => {
                for _ in 0..n {
                    events.push(self.cart_update().await);
                }
                vec![("cart update".into(), Expect::Status(200), events)]
            }
            "expire-orders" => {
                for _ in 0..n {
                    events.push(self.schedule());
                }
                vec![("sweep".into(), Expect::Ok, events)]
            }
            "outbox-relay" => {
                for _ in 0..n {
                    events.push(self.stream()?);
                }
                vec![("stream record".into(), Expect::Ok, events)]
            }
            "order-created" => {
                for _ in 0..n {
                    events.push(self.sqs()?);
                }
                vec![("SQS message".into(), Expect::Ok, events)]
            }
            other => return Err(format!("no events for {other}")),
        })
    }
}

/// A side effect that does nothing (the subscriber's DynamoDB work is what is measured).
pub(crate) struct NoEffect;

#[async_trait::async_trait]
impl SideEffect for NoEffect {
    fn consumer(&self) -> &'static str {
        "erp"
    }
    async fn perform(
        &self,
        _: &checkout_domain::model::events::OrderEvent,
    ) -> std::result::Result<bool, checkout_domain::ports::DeliveryError> {
        Ok(true)
    }
}

pub(crate) struct NoQueue;

#[async_trait::async_trait]
impl EventQueue for NoQueue {
    async fn send(&self, _: &[QueueMessage]) -> std::result::Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }
}

pub(crate) async fn sqs_queue(client: &aws_sdk_sqs::Client, name: &str) -> Result<String> {
    client
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .map_err(|e| {
            format!(
                "create queue {name}: {}",
                aws_sdk_sqs::error::DisplayErrorContext(e)
            )
        })?
        .queue_url
        .ok_or_else(|| "a queue URL".into())
}

/// A Secrets Manager secret in moto; its ARN.
pub(crate) async fn secret(
    client: &aws_sdk_secretsmanager::Client,
    name: &str,
    value: &str,
) -> Result<String> {
    client
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .map_err(|e| {
            format!(
                "create secret {name}: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(e)
            )
        })?
        .arn
        .ok_or_else(|| "a secret ARN".into())
}

/// The deflate level of the size figure: Lambda's zip at -9; -1 in the smoke.
pub(crate) fn zip_level(settings: &Settings) -> u32 {
    if settings.smoke {
        1
    } else {
        9
    }
}

/// The bootstrap's size on disk (the release profile strips it) and zipped as Lambda takes it.
pub(crate) fn bootstrap_size(settings: &Settings, name: &str) -> Result<(u64, u64)> {
    let binary = settings.bin_dir.join(name);
    let size = std::fs::metadata(&binary)
        .map_err(|e| format!("{}: {e}", binary.display()))?
        .len();
    let zip = settings.log_dir.join(format!("{name}.zip"));
    let python = settings
        .python
        .clone()
        .unwrap_or_else(|| PathBuf::from("python3"));
    let status = std::process::Command::new(python)
        .args([
            "-c",
            "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED, compresslevel=int(sys.argv[3])) as z:\n    z.write(sys.argv[2], 'bootstrap')",
        ])
        .arg(&zip)
        .arg(&binary)
        // The smoke's debug binaries are ~60 MB: a fast level proves the step, -9 measures it.
        .arg(zip_level(settings).to_string())
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("zip {name}"));
    }
    let zipped = std::fs::metadata(&zip).map_err(|e| e.to_string())?.len();
    Ok((size, zipped))
}
