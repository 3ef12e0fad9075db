import json

import pytest

import knocker
from conftest import SECRET, rows, sign


def test_valid_receive_stores_delivery_and_event(hmac_app, db_path):
    body = b'{"id": 1}'
    r = hmac_app.receive(endpoint="acme", body=body, headers={"X-Signature": sign(body), "X-Id": "d-1", "X-Type": "invoice.paid"})
    assert (r.status_code, r.duplicate, r.error_code) == (204, False, None)
    assert r.delivery_id and r.event_id
    ev = rows(db_path, "SELECT * FROM knocker_events WHERE id = ?", (r.event_id,))[0]
    assert ev["status"] == "received" and ev["event_type"] == "invoice.paid" and ev["dedupe_key"] == "d-1"
    d = rows(db_path, "SELECT * FROM knocker_deliveries WHERE id = ?", (r.delivery_id,))[0]
    assert d["signature_valid"] == 1 and d["event_id"] == r.event_id and bytes(d["body_blob"]) == body
    assert d["status_code"] == 204 and d["secret_index"] == 0
    e = hmac_app.get_event(r.event_id)
    assert e.body == body and e.json() == {"id": 1} and e.provider_delivery_id == "d-1"
    assert e.headers["X-Id"] == "d-1" and e.status == "received" and e.attempt_count == 0


def test_duplicate_links_to_existing_event_and_never_changes_it(hmac_app):
    b1, b2 = b'{"v": 1}', b'{"v": 2}'
    r1 = hmac_app.receive(endpoint="acme", body=b1, headers={"X-Signature": sign(b1), "X-Id": "same"})
    r2 = hmac_app.receive(endpoint="acme", body=b2, headers={"X-Signature": sign(b2), "X-Id": "same"})
    assert r2.status_code == 204 and r2.duplicate and r2.event_id == r1.event_id and r2.delivery_id != r1.delivery_id
    assert hmac_app.get_event(r1.event_id).body == b1
    assert len(hmac_app.list_deliveries(event_id=r1.event_id)) == 2


def test_invalid_and_missing_signature_are_orphans(hmac_app, db_path):
    body = b"{}"
    bad = hmac_app.receive(endpoint="acme", body=body, headers={"X-Signature": sign(body, "wrong"), "X-Id": "x1"})
    missing = hmac_app.receive(endpoint="acme", body=body, headers={"X-Id": "x2"})
    for r, code in ((bad, "signature_mismatch"), (missing, "missing_signature")):
        assert r.status_code == 401 and r.event_id is None and r.error_code == code
        d = hmac_app.get_delivery(r.delivery_id)
        assert d.signature_valid is False and d.event_id is None and d.signature_error and d.error_code == code
        assert d.provider_delivery_id in ("x1", "x2")  # metadata extracted before the check
    assert rows(db_path, "SELECT count(*) AS n FROM knocker_events")[0]["n"] == 0


def test_secret_rotation(app):
    app.add_endpoint(name="r", path="/r", provider="generic-hmac", secrets=["old", "new"])
    body = b"x"
    r = app.receive(endpoint="r", body=body, headers={"X-Signature": sign(body, "new")})
    assert r.status_code == 204 and app.get_delivery(r.delivery_id).secret_index == 1


def test_unknown_disabled_and_oversize(app, db_path):
    r = app.receive(endpoint="nope", body=b"x")
    assert r.status_code == 404 and r.delivery_id is None and r.error_code == "unknown_endpoint"
    app.add_endpoint(name="off", path="/off", enabled=False)
    r = app.receive(endpoint="off", body=b"x")
    assert r.status_code == 404 and r.delivery_id is not None and r.event_id is None
    assert app.get_delivery(r.delivery_id).error_code == "endpoint_disabled"
    app.add_endpoint(name="small", path="/s", max_body_bytes=4)
    r = app.receive(endpoint="small", body=b"123456")
    assert r.status_code == 413 and r.error_code == "body_too_large"
    d = app.get_delivery(r.delivery_id)
    assert d.body == b"" and d.body_size == 6


def test_body_must_be_bytes(hmac_app):
    for bad in ("text", bytearray(b"x"), None, 1):
        with pytest.raises(TypeError):
            hmac_app.receive(endpoint="acme", body=bad)
        with pytest.raises(knocker.KnockerError):
            hmac_app.ingest(endpoint="acme", body=bad)


def test_ingest_trusted_outcomes(app):
    app.add_endpoint(name="t", path="/t")
    ok = app.ingest(endpoint="t", body=b"a", dedupe_key="k1")
    none = app.ingest(endpoint="t", body=b"b", signature_valid=None)
    bad = app.ingest(endpoint="t", body=b"c", signature_valid=False, signature_error="nope")
    assert ok.status_code == 204 and app.get_delivery(ok.delivery_id).signature_valid is True
    assert none.status_code == 204 and none.event_id and app.get_delivery(none.delivery_id).signature_valid is None
    assert bad.status_code == 401 and bad.event_id is None and app.get_delivery(bad.delivery_id).signature_error == "nope"
    with pytest.raises(ValueError):
        app.ingest(endpoint="t", body=b"c", signature_valid=False)
    with pytest.raises(TypeError):
        app.ingest(endpoint="t", body=b"c", signature_valid=1)


def test_dedupe_precedence_and_scope(app):
    app.add_endpoint(name="a", path="/a")
    app.add_endpoint(name="b", path="/b")
    r1 = app.ingest(endpoint="a", body=b"1", provider_event_id="e", provider_delivery_id="d", dedupe_key="k")
    r2 = app.ingest(endpoint="a", body=b"2", provider_event_id="e2", dedupe_key="k")
    r3 = app.ingest(endpoint="a", body=b"3", provider_event_id="e2")
    r4 = app.ingest(endpoint="b", body=b"4", dedupe_key="k")
    assert r2.duplicate and r2.event_id == r1.event_id
    assert not r3.duplicate and r3.event_id != r1.event_id
    assert not r4.duplicate
    assert app.get_event(r1.event_id).dedupe_key == "k"


def test_headers_and_query_shapes(app):
    app.add_endpoint(name="h", path="/h")
    r = app.ingest(endpoint="h", body=b"", method="GET", headers=[("Z", "1"), ("A", "2")], query={"q": ["1", "2"], "x": "y"})
    e = app.get_event(r.event_id)
    assert e.headers == {"Z": "1", "A": "2"} and e.method == "GET"
    assert e.query == {"q": ["1", "2"], "x": "y"}
    with pytest.raises(TypeError):
        app.ingest(endpoint="h", body=b"", headers={"A": 1})
    with pytest.raises(TypeError):
        app.ingest(endpoint="h", body=b"", headers="A: 1")


def test_legacy_verification_dict_reaches_the_same_provider(app):
    app.add_endpoint(name="legacy", path="/l", verification={"kind": "hmac-sha256", "header": "X-Hub", "secrets": [SECRET]})
    app.add_endpoint(name="modern", path="/m", provider="generic-hmac", secrets=SECRET, provider_options={"header": "X-Hub"})
    body = b'{"a": 1}'
    for ep in ("legacy", "modern"):
        assert app.receive(endpoint=ep, body=body, headers={"x-hub": sign(body)}).status_code == 204
        assert app.receive(endpoint=ep, body=body, headers={"X-Hub": sign(body, "bad")}).status_code == 401
    app.add_endpoint(name="noprefix", path="/n", verification={"kind": "hmac", "header": "S", "prefix": None, "secret": "s"})
    assert app.receive(endpoint="noprefix", body=body, headers={"S": sign(body, "s", "")}).status_code == 204
    assert app.get_event(1).endpoint == "legacy"


def test_add_endpoint_argument_errors(app):
    with pytest.raises(ValueError):
        app.add_endpoint(name="x", path="/x", verification={"kind": "hmac", "header": "S", "secret": "s"}, secrets=["s"])
    with pytest.raises(ValueError):
        app.add_endpoint(name="x", path="/x", verification={"kind": "hmac", "header": "S"}, provider_options={})
    with pytest.raises(ValueError) as ei:
        app.add_endpoint(name="x", path="/x", provider="nonesuch", secrets=["s"])
    assert isinstance(ei.value, knocker.UnknownProviderError) and ei.value.code == "unknown_provider"
    with pytest.raises(TypeError):
        app.add_endpoint(name="x", path="/x", provider=42)
    with pytest.raises(ValueError):
        app.add_endpoint(name="x", path="/x", provider="generic-hmac")  # requires secrets
    with pytest.raises(ValueError):
        app.add_endpoint(name="x", path="/x", provider="generic-hmac", secrets=[])
    with pytest.raises(ValueError):
        app.add_endpoint(name="x", path="/x", provider="generic-hmac", secrets=[""])
    with pytest.raises(TypeError):
        app.add_endpoint(name="x", path="/x", provider="generic-hmac", secrets=[1])
    with pytest.raises(ValueError):
        app.add_endpoint(name="x", path="/x", provider="generic-hmac", secrets=["s"], provider_options={"bogus": 1})
    with pytest.raises(TypeError):
        app.add_endpoint(name="x", path="/x", delivery_key="not callable")


def test_readd_without_secrets_keeps_them_and_upper_case_name(hmac_app):
    hmac_app.add_endpoint(name="acme", path="/new", provider="GENERIC-HMAC")
    body = b"{}"
    assert hmac_app.receive(endpoint="acme", body=body, headers={"X-Signature": sign(body)}).status_code == 204


def test_fail_closed_in_a_process_without_secrets(hmac_app, db_path):
    other = knocker.open(db_path)
    try:
        with pytest.raises(knocker.VerificationNotConfiguredError) as ei:
            other.receive(endpoint="acme", body=b"{}")
        assert ei.value.code == "verification_not_configured"
    finally:
        other.close()


def test_key_functions_replace_extracted_values(app):
    seen = []

    def ev_key(req):
        seen.append((req.header("x-evt"), req.json()))
        return req.json()["id"]

    app.add_endpoint(name="k", path="/k", event_key=ev_key, delivery_key=lambda req: None)
    r1 = app.receive(endpoint="k", body=b'{"id": 7}', headers={"X-Evt": "yes"})
    r2 = app.receive(endpoint="k", body=b'{"id": 7}')
    assert r2.duplicate and r1.event_id == r2.event_id
    e = app.get_event(r1.event_id)
    assert e.provider_event_id == "7" and e.provider_delivery_id is None
    assert seen[0] == ("yes", {"id": 7})


class PrefixProvider(knocker.Provider):
    name = "app-token"
    version = "1.2.0"
    option_keys = frozenset({"header"})

    def verify(self, request, *, secrets, options):
        meta = {"provider_event_id": request.header("x-event-id"), "event_type": "custom.thing"}
        token = request.header(options.get("header", "x-token"))
        if token is None:
            return knocker.ProviderResult.reject("missing token", **meta)
        if token.encode() in secrets:
            return knocker.ProviderResult.accept(**meta)
        return knocker.ProviderResult.reject("bad token", error_code="bad_token", **meta)


def test_app_local_provider(app):
    app.add_endpoint(name="c", path="/c", provider=PrefixProvider(), secrets=["t0k"], provider_options={"header": "X-Auth"})
    ok = app.receive(endpoint="c", body=b"1", headers={"X-Auth": "t0k", "X-Event-Id": "ev1"})
    bad = app.receive(endpoint="c", body=b"2", headers={"X-Auth": "nah", "X-Event-Id": "ev2"})
    assert ok.status_code == 204 and app.get_event(ok.event_id).event_type == "custom.thing"
    assert app.get_event(ok.event_id).provider_event_id == "ev1"
    assert bad.status_code == 401 and bad.error_code == "bad_token"
    d = app.get_delivery(bad.delivery_id)
    assert d.signature_error == "bad token" and d.provider_event_id == "ev2"
    with pytest.raises(ValueError):
        app.add_endpoint(name="c2", path="/c2", provider=PrefixProvider(), secrets=["t"], provider_options={"nope": 1})


def test_app_local_provider_errors_become_invalid_deliveries(app):
    class Boom(knocker.Provider):
        name = "boom"
        version = "0.1.0"

        def verify(self, request, *, secrets, options):
            raise RuntimeError("kaput")

    class Wrong(knocker.Provider):
        name = "wrong"
        version = "0.1.0"

        def verify(self, request, *, secrets, options):
            return True

    app.add_endpoint(name="b", path="/b", provider=Boom(), secrets=["s"])
    app.add_endpoint(name="w", path="/w", provider=Wrong(), secrets=["s"])
    r = app.receive(endpoint="b", body=b"x")
    assert r.status_code == 401 and r.error_code == "provider_error"
    assert app.get_delivery(r.delivery_id).signature_error == "provider error: RuntimeError: kaput"
    r = app.receive(endpoint="w", body=b"x")
    assert r.status_code == 401 and "non-ProviderResult" in app.get_delivery(r.delivery_id).signature_error


def test_app_local_provider_cannot_take_a_curated_name(app):
    class Shadow(PrefixProvider):
        name = "generic-hmac"

    class Bad(PrefixProvider):
        version = "one"

    with pytest.raises(ValueError):
        app.add_endpoint(name="s", path="/s", provider=Shadow(), secrets=["x"])
    with pytest.raises(ValueError):
        app.add_endpoint(name="s", path="/s", provider=Bad(), secrets=["x"])


def test_provider_request_and_result_api():
    req = knocker.ProviderRequest("POST", None, [("Content-Type", "a"), ("X", "1")], [("q", "1")], b"{bad")
    assert req.header("content-type") == "a" and req.headers.get("content-type") is None
    assert req.query["q"] == "1"
    with pytest.raises(ValueError):
        req.json()
    with pytest.raises(ValueError):
        knocker.ProviderResult.reject("")
    assert knocker.ProviderResult.accept(event_type="t").valid


def test_provider_versions(app):
    v = app.provider_versions()
    assert v["generic-hmac"] == "1.0.0" and "token-header" in v
    cat = knocker.provider_catalogue()
    assert {c["name"] for c in cat} == set(v)
    assert json.dumps(cat)
