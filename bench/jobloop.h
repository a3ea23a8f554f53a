/* jobloop.h: what spawnloop.c and floor.c share. WIDTH threads take job numbers from one counter
 * until JOBS are taken; a job spawns the program with posix_spawn and reaps it by pid with waitpid.
 * Each program compiles it in (static functions): `cc -O2 spawnloop.c` still builds alone. */
#ifndef JOBLOOP_H
#define JOBLOOP_H

#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static long total_jobs;
static atomic_long next_job;
static atomic_long failed_jobs;

/* The next job's number, or -1 once JOBS have been taken. */
static long take_job(void) {
    long n = atomic_fetch_add(&next_job, 1);
    return n < total_jobs ? n : -1;
}

/* posix_spawns argv (file actions `fa`, NULL for none) into *pid: 0, or -1 with errno set. */
static int spawn(char **argv, const posix_spawn_file_actions_t *fa, pid_t *pid) {
    int rc = posix_spawn(pid, argv[0], fa, NULL, argv, environ);
    if (rc != 0) { errno = rc; return -1; }
    return 0;
}

/* Waits for child `pid`: 0 when it exited with status 0, else -1. */
static int reap(pid_t pid) {
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return -1;
    }
    return (WIFEXITED(status) && WEXITSTATUS(status) == 0) ? 0 : -1;
}

/* Runs `width` threads of `body` (its argument: the thread's number from 0) and returns the
 * seconds, on CLOCK_MONOTONIC, from before the first starts until the last has ended. */
static double run_threads(long width, void *(*body)(void *)) {
    pthread_t *threads = calloc((size_t)width, sizeof *threads);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < width; i++) pthread_create(&threads[i], NULL, body, (void *)i);
    for (long i = 0; i < width; i++) pthread_join(threads[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    free(threads);
    return (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
}

#endif
