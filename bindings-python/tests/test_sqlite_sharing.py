import sqlite3
import warnings

import pytest

import knocker
import knocker._sqlite as ks


def test_extension_shares_the_interpreters_sqlite():
    info = knocker.sqlite_sharing()
    native = knocker._native.sqlite_info()
    assert info["knocker_version"] == native["version"]
    if native["bundled"]:
        pytest.skip("this build bundles SQLite; see test_bundled_build_is_detected")
    assert info["shared"] is True, info
    assert info["python_version"] == sqlite3.sqlite_version == native["version"]


def test_host_app_sqlite3_use_leaves_knocker_working(app, db_path):
    """The host app opens the same file with sqlite3 (reads, writes, closes): nothing is lost."""
    if knocker.sqlite_sharing()["shared"] is not True:
        pytest.skip("two SQLite copies in this process; the docs say not to do this")
    app.add_endpoint(name="a", path="/a")
    app.add_handler(endpoint="a", handler=lambda e, tx: tx.execute("INSERT INTO app_log VALUES (?)", [e.id]))
    ids = []
    for round_ in range(5):
        for i in range(20):
            ids.append(app.ingest(endpoint="a", body=b"%d-%d" % (round_, i)).event_id)
        c = sqlite3.connect(db_path)
        c.execute("CREATE TABLE IF NOT EXISTS app_log (event_id INTEGER)")
        c.execute("CREATE TABLE IF NOT EXISTS app_own (x)")
        c.execute("INSERT INTO app_own VALUES (?)", (round_,))
        assert c.execute("SELECT count(*) FROM knocker_events").fetchone()[0] == len(ids)
        c.commit()
        c.close()  # the close that, with two SQLite copies, drops the other copy's WAL locks
        app.drain(max_events=10)
    app.drain()
    app.close()
    reopened = knocker.open(db_path)
    try:
        assert sorted(e.id for e in reopened.list_events(limit=1000)) == sorted(ids)
        assert {e.status for e in reopened.list_events(limit=1000)} == {"handled"}
        c = sqlite3.connect(db_path)
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert c.execute("SELECT count(*) FROM app_log").fetchone()[0] == len(ids)
        assert c.execute("SELECT count(*) FROM app_own").fetchone()[0] == 5
        c.close()
    finally:
        reopened.close()


def test_bundled_build_is_detected(monkeypatch):
    fake = dict(knocker._native.sqlite_info())
    fake.update(bundled=True, version="3.99.0", library_path=fake["extension_path"])
    monkeypatch.setattr(ks._native, "sqlite_info", lambda: fake)
    info = ks.sqlite_sharing()
    assert info["shared"] is False and "two SQLite copies" in info["message"]
    assert "Do not open the Knocker database file with the sqlite3 module" in info["message"]


def test_not_shared_warns_once_at_open(monkeypatch, db_path):
    import knocker._app as app_mod

    monkeypatch.setattr(app_mod, "_sharing_warned", False)
    monkeypatch.setattr(app_mod, "sqlite_sharing", lambda: {"shared": False, "message": "two SQLite copies"})
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        knocker.open(db_path).close()
        knocker.open(db_path).close()
    assert [x.category for x in w] == [knocker.SQLiteSharingWarning]
