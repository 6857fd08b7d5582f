//! `create_table`: the table, its indexes and its stream, as `template.yaml` declares them.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
};
use aws_sdk_dynamodb::Client;

use checkout_domain::StoreError;

use crate::dynamodb::expr::store_error;

use super::{HISTORY_INDEX, SEARCH_INDEX, SWEEP_INDEX};

/// Creates the table as `template.yaml` declares it (keys, indexes, and the stream when
/// `stream`). For tests and the local server; deployments create it through CloudFormation.
pub(crate) async fn create_table(
    client: &Client,
    table: &str,
    stream: bool,
) -> Result<(), StoreError> {
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("name and type are set")
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .expect("name and type are set")
    };
    let index = |name: &str, pk: &str, sk: &str, projection: ProjectionType| {
        GlobalSecondaryIndex::builder()
            .index_name(name)
            .key_schema(key(pk, KeyType::Hash))
            .key_schema(key(sk, KeyType::Range))
            .projection(Projection::builder().projection_type(projection).build())
            .build()
            .expect("index is complete")
    };
    let result = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(vec![
            attribute("pk"),
            attribute("sk"),
            attribute("gsi1pk"),
            attribute("gsi1sk"),
            attribute("gsi2pk"),
            attribute("gsi2sk"),
            attribute("gsi3pk"),
            attribute("gsi3sk"),
        ]))
        .set_key_schema(Some(vec![
            key("pk", KeyType::Hash),
            key("sk", KeyType::Range),
        ]))
        // Every index keeps keys only: an item entering or leaving one costs one write unit
        // there, not its whole size. The history's and the search's orders are then read from
        // the table by key; the sweeper needs only the cart id, from `pk`.
        .global_secondary_indexes(index(
            HISTORY_INDEX,
            "gsi1pk",
            "gsi1sk",
            ProjectionType::KeysOnly,
        ))
        .global_secondary_indexes(index(
            SWEEP_INDEX,
            "gsi2pk",
            "gsi2sk",
            ProjectionType::KeysOnly,
        ))
        .global_secondary_indexes(index(
            SEARCH_INDEX,
            "gsi3pk",
            "gsi3sk",
            ProjectionType::KeysOnly,
        ))
        .set_stream_specification(stream.then(|| {
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .expect("stream spec is complete")
        }))
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(store_error(e)),
    }
}
