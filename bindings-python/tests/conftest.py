import hashlib
import hmac
import os
import sqlite3
import sys

import pytest

import knocker

SECRET = "whsec_test_secret"


def sign(body: bytes, secret: str = SECRET, prefix: str = "sha256=") -> str:
    return prefix + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture
def db_path(tmp_path):
    return str(tmp_path / "knocker.db")


@pytest.fixture
def app(db_path):
    a = knocker.open(db_path, backoff_base_s=0, backoff_max_s=0, max_attempts=3)
    yield a
    a.close()


@pytest.fixture
def hmac_app(app):
    app.add_endpoint(
        name="acme",
        path="/hooks/acme",
        provider="generic-hmac",
        secrets=[SECRET],
        provider_options={"header": "X-Signature", "id_header": "X-Id", "event_type_header": "X-Type"},
    )
    return app


def rows(db_path, sql, params=()):
    """Reads the stored file with Python's own sqlite3 (the public, queryable contract)."""
    c = sqlite3.connect(db_path)
    c.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in c.execute(sql, params)]
    finally:
        c.close()


PYTHON = sys.executable
HERE = os.path.dirname(os.path.abspath(__file__))
