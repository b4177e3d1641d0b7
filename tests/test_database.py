"""The PostgreSQL foundation (mapper/database.py): URLs, the dialect translation,
versioned migrations, and the CLI's --database option."""

from __future__ import annotations

import pytest

from mapper import database
from mapper.cli import main
from mapper.database import DATABASE_URL_ENV, Row, parse_url, redact, translate
from mapper.errors import MapperError


def test_parse_url_reads_a_postgresql_url():
    url = parse_url("postgresql://ana:s3cret@db.example:5433/mapper")
    assert (url.host, url.port, url.dbname, url.user) == ("db.example", 5433, "mapper", "ana")
    assert "s3cret" not in str(url) and "s3cret" not in repr(url)
    assert str(url) == "postgresql://ana:***@db.example:5433/mapper"


@pytest.mark.parametrize("bad", ["mysql://ana:s3cret@h/db", "sqlite:///x.db",
                                 "postgresql://ana:s3cret@h", "postgresql://ana:s3cret@h/",
                                 "ana:s3cret@h/db", "postgresql://ana:s3cret@h:99999/db"])
def test_parse_url_refuses_anything_else_without_showing_the_password(bad):
    with pytest.raises(MapperError) as caught:
        parse_url(bad)
    assert "s3cret" not in str(caught.value)
    assert "postgresql://USER" in str(caught.value)


def test_configured_url_reads_the_environment(monkeypatch):
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    assert database.configured_url() is None
    monkeypatch.setenv(DATABASE_URL_ENV, "postgresql://u@h/db")
    assert database.configured_url().dbname == "db"
    assert database.configured_url("") is None  # "" forces the embedded store


def test_redact_leaves_urls_without_password():
    assert redact("postgresql://u@h/db") == "postgresql://u@h/db"
    assert redact("postgresql://u:p@h/db") == "postgresql://u:***@h/db"


def test_translate_swaps_placeholders_outside_quotes_only():
    assert translate("SELECT * FROM t WHERE a = ? AND b LIKE 'x?%' AND c = :name") == \
        "SELECT * FROM t WHERE a = %s AND b LIKE 'x?%%' AND c = %(name)s"
    assert translate("SELECT 'it''s ?', \"odd?\" FROM t WHERE d = ?") == \
        "SELECT 'it''s ?', \"odd?\" FROM t WHERE d = %s"
    assert translate("SELECT 50 % 7, x::text") == "SELECT 50 %% 7, x::text"


def test_row_answers_like_sqlite3_row():
    row = Row(["a", "b"], (1, "two"))
    assert (row["a"], row[1], dict(row), tuple(row), len(row)) == \
        (1, "two", {"a": 1, "b": "two"}, (1, "two"), 2)


def test_cli_refuses_a_bad_database_url_without_the_password(capsys):
    assert main(["--database", "mysql://ana:s3cret@h/db", "info"]) == 1
    err = capsys.readouterr().err
    assert "not a PostgreSQL URL" in err and "s3cret" not in err and "***" in err


def test_cli_names_an_unreachable_server_without_the_password(capsys, tmp_path):
    code = main(["--workspace", str(tmp_path), "--database",
                 "postgresql://ana:s3cret@127.0.0.1:1/db", "user", "list"])
    err = capsys.readouterr().err
    assert code == 1 and "cannot connect" in err and "s3cret" not in err


def test_cli_database_option_is_undone_after_the_command(monkeypatch, tmp_path):
    import os

    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    main(["--workspace", str(tmp_path), "--database", "postgresql://u@127.0.0.1:1/db",
          "user", "list"])
    assert DATABASE_URL_ENV not in os.environ


# -- against a real server ------------------------------------------------------------------


def test_migrations_run_each_step_once_in_order(pg_url):
    steps = {1: ("CREATE TABLE t (a INTEGER)",),
             2: ("ALTER TABLE t ADD COLUMN b TEXT", "INSERT INTO t VALUES (1, 'x')")}
    with database.connect(pg_url) as conn:
        assert database.schema_version(conn, "mig_test") == 0
        assert database.apply_migrations(conn, "mig_test", {1: steps[1]}) == [1]
        assert database.apply_migrations(conn, "mig_test", steps) == [2]
        assert database.apply_migrations(conn, "mig_test", steps) == []
        assert database.schema_version(conn, "mig_test") == 2
        assert conn.execute("SELECT a, b FROM mig_test.t").fetchall()[0][1] == "x"
        assert [r[0] for r in conn.execute(
            "SELECT version FROM mig_test.schema_migrations ORDER BY version")] == [1, 2]


def test_a_failing_migration_step_leaves_the_schema_as_it_was(pg_url):
    with database.connect(pg_url) as conn:
        database.apply_migrations(conn, "mig_fail", {1: ("CREATE TABLE t (a INTEGER)",)})
        broken = {1: ("CREATE TABLE t (a INTEGER)",),
                  2: ("CREATE TABLE u (a INTEGER)", "SELECT no_such_function()")}
        with pytest.raises(Exception, match="no_such_function"):
            database.apply_migrations(conn, "mig_fail", broken)
        assert database.schema_version(conn, "mig_fail") == 1
        assert conn.execute("SELECT to_regclass('mig_fail.u')").fetchone()[0] is None


def test_postgis_is_there(pg_url):
    with database.connect(pg_url) as conn:
        assert conn.execute("SELECT ST_SRID(ST_SetSRID(ST_Point(530000, 180000), 27700))"
                            ).fetchone()[0] == 27700


def test_connection_speaks_sqlite_style_sql(pg_url):
    conn = database.Connection(database.connect(pg_url), database.POSTGRESQL)
    try:
        conn.execute("CREATE TABLE speak (id BIGINT GENERATED BY DEFAULT AS IDENTITY "
                     "PRIMARY KEY, k TEXT UNIQUE, v TEXT)")
        conn.begin_write()
        first = conn.insert("INSERT INTO speak (k, v) VALUES (?, ?)", ("a", "1"), "id")
        conn.executemany("INSERT INTO speak (k, v) VALUES (:k, :v) ON CONFLICT (k) DO "
                         "UPDATE SET v = excluded.v", [{"k": "a", "v": "2"}, {"k": "b", "v": "3"}])
        conn.commit()
        rows = conn.execute("SELECT * FROM speak WHERE v LIKE '%' ORDER BY k").fetchall()
        assert first == 1
        assert [(r["id"], r["k"], r["v"]) for r in rows][0] == (1, "a", "2")
        assert [(r["k"], r["v"]) for r in rows] == [("a", "2"), ("b", "3")]
    finally:
        conn.close()


def test_the_app_database_connects_again_after_the_server_drops_it(pg_url, tmp_path):
    import psycopg

    from mapper.appdb import AppDB

    db = AppDB(tmp_path, pg_url)
    db.put_record("groups", "g1", {"name": "a"}, actor="t", expected_version=None)

    def drop() -> None:
        pid = db.query("SELECT pg_backend_pid()")[0][0]
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

    drop()
    assert db.get_record("groups", "g1").data == {"name": "a"}  # a read, on a new one
    drop()
    assert db.put_record("groups", "g1", {"name": "b"}, actor="t", expected_version=1) == 2
    db.close()


def test_racing_writers_on_separate_connections_one_wins_the_others_conflict(pg_url,
                                                                             tmp_path):
    """As several servers would: each writer its own AppDB (connection); all start from
    version 1 of one record at once; exactly one saves, every other gets a Conflict."""
    import threading

    from mapper.appdb import AppDB, Conflict

    AppDB(tmp_path, pg_url).put_record("groups", "race", {"name": "v1"}, actor="t",
                                       expected_version=None)
    writers = [AppDB(tmp_path, pg_url) for _ in range(8)]
    for db in writers:
        db.query("SELECT 1")  # connected before the start
    start, outcomes = threading.Barrier(len(writers)), []

    def write(n: int, db: AppDB) -> None:
        start.wait()
        try:
            outcomes.append(db.put_record("groups", "race", {"name": f"w{n}"}, actor=f"w{n}",
                                          expected_version=1))
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=write, args=(n, db)) for n, db in enumerate(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes, key=str) == [2] + ["conflict"] * 7
    assert writers[0].get_record("groups", "race").version == 2
    for db in writers:
        db.close()


def test_readers_share_a_small_pool_that_replaces_dropped_connections(pg_url, monkeypatch):
    """pgstore's readers take connections from one pool per database and process: several
    at once (each its own backend), at most POOL_MAX, a connection the server dropped is
    replaced, and close_pools ends them."""
    import threading
    import time

    import psycopg

    from mapper import pgstore

    url = database.parse_url(pg_url)
    pgstore.close_all()
    inside, release = threading.Barrier(3), threading.Event()
    pids: list[int] = []

    def read() -> None:
        with pgstore.reading(url) as conn:
            pids.append(conn.execute("SELECT pg_backend_pid()").fetchone()[0])
            inside.wait(timeout=20)
            release.wait(timeout=20)

    threads = [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    inside.wait(timeout=20)  # both readers hold a connection at the same time
    release.set()
    for thread in threads:
        thread.join()
    assert len(set(pids)) == 2
    assert database.POOL_MAX <= 8
    monkeypatch.setattr(database, "POOL_CHECK_IDLE_S", 0.0)  # check before every use
    with psycopg.connect(pg_url, autocommit=True) as admin:
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        time.sleep(0.2)
        with pgstore.reading(url) as conn:  # not a dropped one
            assert conn.execute("SELECT pg_backend_pid()").fetchone()[0] not in pids
        assert pgstore.layers(url) == []
        pgstore.close_all()
        left = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                             "AND pid <> pg_backend_pid() AND application_name = 'mapper'",
                             (url.dbname,)).fetchone()[0]
    assert left == 0
