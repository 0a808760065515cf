"""The gunicorn worker `make serve` runs (gunicorn.conf.py): gunicorn's gthread worker that
takes a new connection only while one of its threads is free.

gthread accepts every connection it can (up to worker_connections, 1,000), and a
keep-alive connection stays with the process that accepted it. The process that happens
to be awake when a team's browsers (or a proxy's upstream connections) connect takes
nearly all of them: with 20 reviewers pressing "Review next" one process held 18–19 of
the 20 connections while the other sat idle, so the whole team shared one process's GIL,
one core of two. Here a process whose threads are all busy leaves new connections in the
listen queue, for a process with a thread free to take them.

It only changes when the worker accepts (set_accept_enabled, accept, enqueue_req and
finish_request all run on the worker's main thread); requests are handled as gthread
handles them. Tied to gunicorn 27's gthread (requirements.txt pins it);
tests/moderation/test_gunicorn_worker.py serves through it.
"""

from __future__ import annotations

from gunicorn.workers.gthread import ThreadWorker


class FreeThreadWorker(ThreadWorker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.in_hand = 0  # requests submitted to the thread pool and not yet finished

    def set_accept_enabled(self, enabled):
        super().set_accept_enabled(enabled and self.in_hand < self.cfg.threads)

    def accept(self, listener):
        super().accept(listener)
        if self.in_hand >= self.cfg.threads:
            self.set_accept_enabled(False)

    def enqueue_req(self, conn):
        self.in_hand += 1
        super().enqueue_req(conn)

    def finish_request(self, conn, fs):
        self.in_hand -= 1
        super().finish_request(conn, fs)
