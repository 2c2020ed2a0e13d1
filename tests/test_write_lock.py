"""A transaction that reads and then writes, while another process writes, must wait, not fail.

On SQLite a plain (deferred) transaction that has read cannot take the write lock once another
connection has written meanwhile: "database is locked", at once. The worker's jobs (reminders, the
outbox, periodic claims) and the bell's writes read first and write after, beside web requests and
other jobs, so they begin with ``db.writing``, which takes the write lock up front.
"""
import threading
import time

import sqlalchemy as sa

from crm_platform.db import create_engine, writing


def test_a_read_then_write_waits_for_another_writer_instead_of_failing(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'lock.sqlite'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (who TEXT)")
    other_done = []

    def other_writer():
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES ('other')")
        other_done.append(True)

    with writing(engine) as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM t")).scalar_one() == 0
        thread = threading.Thread(target=other_writer)
        thread.start()
        time.sleep(0.3)  # the other writer is waiting for our lock, not done
        assert other_done == []
        conn.exec_driver_sql("INSERT INTO t VALUES ('first')")
    thread.join(timeout=30)
    with engine.connect() as conn:
        assert list(conn.execute(sa.text("SELECT who FROM t ORDER BY rowid")).scalars()) == ["first", "other"]
    engine.dispose()
