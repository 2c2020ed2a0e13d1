"""Automation rules at run time (the definitions are ``metadata/automations.py``).

- ``conditions``: which records meet a rule's conditions (the rule-tag language), in Python for
  plain field tests and in SQL where related records are counted;
- ``actions``: what each action does, through the record service, the notifications and the outbox,
  on the caller's connection (the follow-ups of pipeline stages are ``create_records`` too);
- ``engine``: the after-write hook of the event triggers (created, updated, stage_entered), the
  chain limits and the run log;
- ``timed``: the time triggers (date, no_activity, schedule), run by `crm worker`;
- ``preview``: the dry run — how many records a rule would act on now.
"""
