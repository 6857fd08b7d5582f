"""The Python peer of create-order, for the bench only: the same commit as a Python 3.11 Lambda
handler with boto3 and Powertools idempotency, run under the bench's Runtime API emulator
through awslambdaric.

The same commit means: one strongly consistent Query of the cart's partition (the cart and its
order, if any), then one TransactWriteItems that puts the order (attribute_not_exists), claims
the order number (attribute_not_exists), moves the cart Active -> Ordered conditioned on its
version, and decrements stock per SKU conditioned on availability. Powertools keeps the
Idempotency-Key record (an INPROGRESS put before the handler, a COMPLETED update after it) in
the same table. It does not re-price the cart, check prices, discounts or ownership: it is a
lower bound on what the Rust function does.
"""

import json
import os
import secrets
from decimal import Decimal

import boto3
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent,
)
from boto3.dynamodb.types import TypeDeserializer

TABLE = os.environ["TABLE_NAME"]
ddb = boto3.client("dynamodb")
persistence = DynamoDBPersistenceLayer(table_name=TABLE, key_attr="pk", sort_key_attr="sk")
config = IdempotencyConfig(
    event_key_jmespath='headers."idempotency-key"',
    payload_validation_jmespath="body",
    raise_on_no_idempotency_key=False,
)
_plain = TypeDeserializer()


def _json_default(value):
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(type(value))


def _answer(status, body):
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body, default=_json_default),
    }


def _view(item):
    return {k: _plain.deserialize(v) for k, v in item.items() if k not in ("pk", "sk")}


@idempotent(config=config, persistence_store=persistence)
def handler(event, context):
    try:
        request = json.loads(event.get("body") or "")
        cart_id = str(request["cartId"])
        version = int(request["cartVersion"])
    except (ValueError, KeyError, TypeError):
        return _answer(400, {"code": "InvalidInput"})

    pk = f"CART#{cart_id}"
    items = ddb.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
        ConsistentRead=True,
    )["Items"]
    cart = next((i for i in items if i["sk"]["S"] == "CART"), None)
    order = next((i for i in items if i["sk"]["S"] == "ORDER"), None)
    if cart is None:
        return _answer(404, {"code": "NotFound"})
    if order is not None:
        return _answer(200, _view(order))
    if cart["state"]["S"] != "Active" or int(cart["version"]["N"]) != version:
        return _answer(409, {"code": "ConcurrentModification"})

    number = "B" + secrets.token_hex(5).upper()
    order_item = {
        "pk": {"S": pk},
        "sk": {"S": "ORDER"},
        "orderNumber": {"S": number},
        "cartId": {"S": cart_id},
        "state": {"S": "Open"},
        "paymentState": {"S": "Paid"},
        "revision": {"N": "1"},
    }
    for name in ("lineItems", "totals", "shippingAddress", "billingAddress",
                 "shippingMethod", "discountCodes", "payments", "guest", "currency"):
        if name in cart:
            order_item[name] = cart[name]
    writes = [
        {"Put": {"TableName": TABLE, "Item": order_item,
                 "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Put": {"TableName": TABLE,
                 "Item": {"pk": {"S": f"ORDERNUMBER#{number}"}, "sk": {"S": "ORDERNUMBER"},
                          "cartId": {"S": cart_id}},
                 "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Update": {"TableName": TABLE, "Key": {"pk": {"S": pk}, "sk": {"S": "CART"}},
                    "UpdateExpression": "SET #state = :ordered, #version = :next, orderNumber = :n",
                    "ConditionExpression": "#state = :active AND #version = :v",
                    "ExpressionAttributeNames": {"#state": "state", "#version": "version"},
                    "ExpressionAttributeValues": {
                        ":ordered": {"S": "Ordered"}, ":active": {"S": "Active"},
                        ":v": {"N": str(version)}, ":next": {"N": str(version + 1)},
                        ":n": {"S": number}}}},
    ]
    quantities = {}
    for line in cart["lineItems"]["L"]:
        sku = line["M"]["sku"]["S"]
        quantities[sku] = quantities.get(sku, 0) + int(line["M"]["quantity"]["N"])
    for sku, quantity in sorted(quantities.items()):
        writes.append({"Update": {
            "TableName": TABLE, "Key": {"pk": {"S": f"PRODUCT#{sku}"}, "sk": {"S": "PRODUCT"}},
            "UpdateExpression": "SET stock = stock - :q",
            "ConditionExpression": "stock >= :q",
            "ExpressionAttributeValues": {":q": {"N": str(quantity)}}}})
    try:
        ddb.transact_write_items(TransactItems=writes)
    except ddb.exceptions.TransactionCanceledException:
        return _answer(409, {"code": "ConcurrentModification"})
    return _answer(201, _view(order_item))
