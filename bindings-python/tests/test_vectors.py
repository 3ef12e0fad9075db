"""Runs every shared provider vector under tests/vectors/providers/<name>/*.json."""

import base64
import glob
import json
import os

import pytest

import knocker
from conftest import HERE

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
VECTOR_DIR = os.path.join(ROOT, "tests", "vectors", "providers")
FILES = sorted(glob.glob(os.path.join(VECTOR_DIR, "*", "*.json")))
CURATED = set(knocker._native.provider_catalogue() and [c["name"] for c in knocker.provider_catalogue()])


def _load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _secret(s):
    return s.encode() if isinstance(s, str) else bytes(s)


@pytest.mark.skipif(not FILES, reason=f"no provider vectors under {VECTOR_DIR} yet")
@pytest.mark.parametrize("path", FILES, ids=[os.path.relpath(p, VECTOR_DIR) for p in FILES])
def test_vector(path):
    v = _load(path)
    if v["provider"] not in CURATED:
        pytest.skip(f"provider {v['provider']} is not in this build's catalogue")
    req = v["request"]
    got = knocker._native.verify_vector(
        v["provider"],
        req.get("method", "POST"),
        req.get("url"),
        [tuple(h) for h in req.get("headers", [])],
        [tuple(q) for q in req.get("query", [])],
        base64.b64decode(req.get("body_b64", "")),
        [_secret(s) for s in v.get("secrets", [])],
        json.dumps(v.get("options") or {}),
        int(v["now"]),
    )
    exp = v["expected"]
    for key, want in exp.items():
        if key == "handshake":
            if want is None:
                assert got["handshake"] is None
            else:
                h = got["handshake"]
                assert h is not None
                for hk, hv in want.items():
                    if hk in ("body_b64",):
                        assert h["body"] == base64.b64decode(hv)
                    elif hk == "body":
                        assert h["body"] == (hv.encode() if isinstance(hv, str) else hv)
                    else:
                        assert h[hk] == hv, (hk, h)
        else:
            assert got.get(key) == want, (key, got)


def test_vector_helper_and_receive_agree_on_generic_hmac(app):
    """The vector helper runs the same core provider as receive (independent of vector files)."""
    import hashlib
    import hmac

    body = b'{"k": 1}'
    sig = "sha256=" + hmac.new(b"s3", body, hashlib.sha256).hexdigest()
    opts = {"header": "X-Sig", "id_header": "X-Id"}
    got = knocker._native.verify_vector("generic-hmac", "POST", None, [("X-Sig", sig), ("X-Id", "i1")], [], body, [b"s0", b"s3"], json.dumps(opts), 0)
    assert got["valid"] and got["secret_index"] == 1 and got["idempotency_key"] == "i1"
    app.add_endpoint(name="g", path="/g", provider="generic-hmac", secrets=["s0", "s3"], provider_options=opts)
    r = app.receive(endpoint="g", body=body, headers=[("X-Sig", sig), ("X-Id", "i1")])
    assert r.status_code == 204 and app.get_delivery(r.delivery_id).secret_index == 1
    bad = knocker._native.verify_vector("generic-hmac", "POST", None, [("X-Sig", "sha256=00")], [], body, [b"s0"], json.dumps(opts), 0)
    assert not bad["valid"] and bad["error_code"] == "signature_mismatch"
    with pytest.raises(ValueError):
        knocker._native.verify_vector("nonesuch", "POST", None, [], [], b"", [], None, 0)
