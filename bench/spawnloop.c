/* spawnloop: the physical limit for a job runner on this machine.
 *
 * Throughput mode:  spawnloop -P WIDTH -n JOBS -- PROGRAM [ARGS...]
 *   WIDTH spawner threads share a counter of JOBS; each one posix_spawn()s
 *   PROGRAM and reaps that child by pid with waitpid(), then takes the next.
 *   So at most WIDTH children are outstanding, like a daemon with WIDTH
 *   workers, but with no queue, no files and no bookkeeping.
 *   Prints one JSON object: {"jobs", "width", "seconds", "failed"}.
 *
 * Latency mode:     spawnloop -L SAMPLES -d DIR -- STAMP
 *   For each sample: t0 = CLOCK_REALTIME, posix_spawn(STAMP DIR/ts-<i>),
 *   waitpid, read the nanoseconds STAMP wrote; print a JSON list of
 *   (stamp - t0) in nanoseconds, pausing 20 ms between samples. The baseline
 *   for "drop a job, it starts".
 */
#include "jobloop.h"
#include <stdio.h>
#include <unistd.h>

static char **child_argv;

static int spawn_and_wait(char **argv) {
    pid_t pid;
    return spawn(argv, NULL, &pid) == 0 ? reap(pid) : -1;
}

static void *spawner(void *arg) {
    (void)arg;
    while (take_job() >= 0) {
        if (spawn_and_wait(child_argv) != 0) atomic_fetch_add(&failed_jobs, 1);
    }
    return NULL;
}

static int usage(void) {
    fprintf(stderr, "Usage: spawnloop -P WIDTH -n JOBS -- PROGRAM [ARGS...]\n"
                    "       spawnloop -L SAMPLES -d DIR -- STAMP\n");
    return 64;
}

int main(int argc, char **argv) {
    long width = 1, samples = 0;
    const char *dir = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "P:n:L:d:")) != -1) {
        switch (opt) {
        case 'P': width = atol(optarg); break;
        case 'n': total_jobs = atol(optarg); break;
        case 'L': samples = atol(optarg); break;
        case 'd': dir = optarg; break;
        default: return usage();
        }
    }
    if (optind >= argc) return usage();
    child_argv = argv + optind;

    if (samples > 0) {
        if (!dir) return usage();
        printf("[");
        for (long i = 0; i < samples; i++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/ts-%ld", dir, i);
            char *args[] = {child_argv[0], path, NULL};
            struct timespec t0;
            clock_gettime(CLOCK_REALTIME, &t0);
            if (spawn_and_wait(args) != 0) { fprintf(stderr, "spawnloop: %s failed\n", child_argv[0]); return 1; }
            FILE *f = fopen(path, "r");
            long long stamp = 0;
            if (!f || fscanf(f, "%lld", &stamp) != 1) { fprintf(stderr, "spawnloop: cannot read %s\n", path); return 1; }
            fclose(f);
            long long start = (long long)t0.tv_sec * 1000000000LL + t0.tv_nsec;
            printf("%s%lld", i ? "," : "", stamp - start);
            usleep(20000); /* idle between samples, as bench.py does for the queues */
        }
        printf("]\n");
        return 0;
    }

    if (width < 1 || total_jobs < 1) return usage();
    double seconds = run_threads(width, spawner);
    printf("{\"jobs\": %ld, \"width\": %ld, \"seconds\": %.6f, \"failed\": %ld}\n",
           total_jobs, width, seconds, atomic_load(&failed_jobs));
    return atomic_load(&failed_jobs) ? 1 : 0;
}
