"""Work done outside a request: the job queue, periodic jobs and the `crm worker` that runs them.

The queue is Huey (`queue.py`): on a SQLite file beside the instance by default, so the product still
starts with nothing to install, and on Redis when ``CRM_QUEUE_URL=redis://…`` names one. Periodic jobs
(`periodic.py`) remember their last run in the platform's database, so that `crm worker --once` knows
which of them are due whatever queue is used and however long no worker ran.
"""
