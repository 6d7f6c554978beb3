"""Schedules: when assetflow wakes up by itself, and what each wake-up (a tick) does.

The modules here are pure (time is always passed in, nothing sleeps or reads a file):
- `spec`: `[schedules.NAME]` -> `ScheduleSpec`, validation, the definition hash;
- `cron`: the croniter wall (naive wall-clock matches only);
- `ticks`: ticks as UTC instants, with the DST rules;
- `decide`: per schedule and moment, which tick runs and what is recorded;
- `coverage`: which partitions a tick covers (the window rule and `catchup`).
"""
