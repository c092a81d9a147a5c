"""Backends of the intent store and the spending ledger; `seedance.state` picks one.

* `files`: JSON files and `flock` in a state folder, for workers on one machine (the default);
* `postgres`: PostgreSQL tables and advisory locks, for workers on many machines.
"""
