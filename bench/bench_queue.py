#!/usr/bin/env python
"""The worker's queue throughput on each storage: Huey on a SQLite file (the default) and on Redis.

For each storage, N tasks are put on the queue the way the web processes put them (one ``enqueue``
each), then one worker runs them all the way ``crm worker`` does (``Jobs.run_pending``: read the
schedule, dequeue, execute). Two kinds of task: an empty one (what the queue itself costs) and an
outbox delivery of a webhook to an HTTP server on loopback (claim the row, POST, record it sent —
what a delivery costs end to end on a SQLite database).

No target: the figures are recorded (issue 16 asks for them). Usage:
    python bench/bench_queue.py [--tasks 5000] [--deliveries 500] [--redis redis://127.0.0.1:6379/13]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import make_app  # noqa: E402
from crm_platform import outbox  # noqa: E402
from crm_platform.jobs import delivery  # noqa: E402
from crm_platform.jobs.queue import make_queue  # noqa: E402


class Hook(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def drain(queue) -> int:
    """What ``Jobs.run_pending`` does: run every task on the queue now; how many ran."""
    ran = 0
    while True:
        task = queue.dequeue()
        if task is None:
            return ran
        queue.execute(task)
        ran += 1


def empty_tasks(url: str, n: int) -> tuple[float, float]:
    queue = make_queue(url)
    queue.flush()

    @queue.task(name="bench.noop")
    def noop(i):
        return i

    start = time.perf_counter()
    for i in range(n):
        noop(i)
    enqueued = time.perf_counter() - start
    start = time.perf_counter()
    assert drain(queue) == n
    return n / enqueued, n / (time.perf_counter() - start)


def deliveries(url: str, n: int, folder: Path) -> float:
    """Webhook deliveries per second through the queue's delivery task (SQLite database)."""
    import os
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    os.environ["CRM_WEBHOOK_SECRET"] = "bench"
    app = make_app(f"sqlite:///{folder / f'crm-{abs(hash(url))}.sqlite'}")
    engine = app.extensions["crm"].engine
    hook = f"http://127.0.0.1:{server.server_address[1]}/hook"
    with engine.begin() as conn:
        for i in range(n):
            outbox.add(conn, "webhook", {"url": hook, "body": {"automation": "bench", "entity": "lead", "record": {"id": i}}})
    queue = make_queue(url)
    queue.flush()

    @queue.task(name="bench.deliver")
    def deliver():
        return delivery.deliver_due(engine)

    start = time.perf_counter()
    deliver()
    drain(queue)
    seconds = time.perf_counter() - start
    with engine.connect() as conn:
        sent = conn.exec_driver_sql("SELECT count(*) FROM crm_outbox WHERE status = 'sent'").scalar()
    assert sent == n, sent
    server.shutdown()
    engine.dispose()
    return n / seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--deliveries", type=int, default=500)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="crm_queue_") as tmp:
        folder = Path(tmp)
        storages = [("SQLite file", f"sqlite:///{folder / 'queue.sqlite'}"), ("Redis", args.redis)]
        print(f"{'storage':<12} {'enqueue/s':>10} {'run/s (empty)':>14} {'webhooks/s':>11}")
        for name, url in storages:
            put, ran = empty_tasks(url, args.tasks)
            hooks = deliveries(url, args.deliveries, folder)
            print(f"{name:<12} {put:>10,.0f} {ran:>14,.0f} {hooks:>11,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
