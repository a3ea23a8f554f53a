"""spoolbench: the modules behind bench/bench.py (spoold against its peers, in one run).

    common   errors, log, processes and kill by run marker, run_cmd, wait_for, RunDir, helpers
    spoold   the spoold scenarios and the Spoold runner
    raw      the raw posix_spawn loop (the ratio base)
    peers/   tsp, nq, oneshot (xargs, parallel), huey
    runner   RUNNERS, Context, detect_tools, tool_versions, machine_info, measure, run_all
    report   summarise, ratios, table, plot, markdown, JSON

bench/bench.py parses the arguments and calls these; bench/run prepares and starts it.
"""
