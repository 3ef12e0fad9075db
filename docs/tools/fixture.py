#!/usr/bin/env python3
"""Builds the fixture database the operator snippets run against (through $KNOCKER_DB).

    .venv/bin/python docs/tools/fixture.py /tmp/app.db

Endpoint `shop` (generic-hmac, secret `whsec_docs`, `X-Delivery-Id` as the idempotency key,
`X-Event-Type` as the event type) holding:
- 3 handled `order.paid` events,
- 1 dead `order.refunded` event (its handler discarded it) with a duplicate delivery,
- 1 failed `order.created` event (its handler asked to retry in an hour),
- 1 received `order.paid` event not processed yet,
- 1 orphan delivery (bad signature).
"""

import hashlib
import hmac
import sys

import knocker

SECRET = b"whsec_docs"


def signed(app, delivery_id, event_type, body, good=True):
    sig = hmac.new(SECRET if good else b"wrong", body, hashlib.sha256).hexdigest()
    return app.receive(
        endpoint="shop",
        body=body,
        headers={"X-Signature": "sha256=" + sig, "X-Delivery-Id": delivery_id, "X-Event-Type": event_type},
    )


def main(path):
    app = knocker.open(path)
    app.add_endpoint(
        name="shop",
        path="/webhooks/shop",
        provider="generic-hmac",
        secrets=[SECRET],
        provider_options={"header": "X-Signature", "id_header": "X-Delivery-Id", "event_type_header": "X-Event-Type"},
    )
    for i in range(3):
        signed(app, f"d-{i}", "order.paid", b'{"order": %d, "total": 100}' % i)
    signed(app, "d-refund", "order.refunded", b'{"order": 7, "total": -40}')
    signed(app, "d-refund", "order.refunded", b'{"order": 7, "total": -40}')
    signed(app, "d-created", "order.created", b'{"order": 8}')
    signed(app, "d-bad", "order.paid", b'{"order": 9}', good=False)

    @app.handle(endpoint="shop", event_type="order.paid")
    def paid(event, tx):
        pass

    @app.handle(endpoint="shop", event_type="order.refunded")
    def refunded(event, tx):
        raise knocker.Discard("refund service answered 410 Gone")

    @app.handle(endpoint="shop", event_type="order.created")
    def created(event, tx):
        raise knocker.Retry(after_s=3600, reason="inventory service is down")

    assert app.drain() == 5
    signed(app, "d-late", "order.paid", b'{"order": 10, "total": 5}')
    app.close()


if __name__ == "__main__":
    main(sys.argv[1])
