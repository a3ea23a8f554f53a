"""The tools people use instead of spoold, one module each, driven at the same width P.

- tsp: task-spooler, a private server per round (TS_SOCKET in the run dir);
- nq: no daemon, one job at a time per NQDIR;
- oneshot: GNU parallel and xargs, one process from exec to exit;
- huey: huey's own consumer on FileStorage (the consumer is bench/huey_bench.py).
"""
