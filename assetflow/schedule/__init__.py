"""Schedules: when assetflow wakes up by itself, and what each wake-up (a tick) does.

The modules here so far are pure (time is always passed in, nothing sleeps or reads a file):
- `ticks`: ticks as UTC instants, with the DST rules;
- `decide`: per schedule and moment, which tick runs and what is recorded;
- `coverage`: which partitions a tick covers (the window rule and `catchup`).
A schedule's definition (`ScheduleSpec`) is read with the rest of assetflow.toml, in
`project/schedules.py`; cron syntax is `project/cron.py`'s (the croniter wall).
"""
