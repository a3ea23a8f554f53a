/* floor: the least file work the spool's contract asks of a job runner, in C.
 *
 *   floor -P WIDTH -n JOBS -d DIR [-r] [-s] -- PROGRAM [ARGS...]
 *
 * The raw loop (spawnloop.c) with, around each job, only what docs/spec.md makes a runner do with
 * files, each done as spoold does it, and nothing else: no JSON, no validation, no ids, no
 * leases, no history, no events, no recovery, and one job at a time per thread (spoold's group
 * commits and overlapped ends are what it does beyond a runner like this one).
 * Before the clock starts, JOBS job files are written into DIR/inbox/ (DIR gets the spool's
 * folders) and synced. Then WIDTH threads share the jobs; each, per job:
 *   read inbox/job-N.json; rename it to tmp/ (the claim);
 *   write a record of typical size (900 bytes) in tmp/, rename it to pending/N.json, drop the claim;
 *   rename pending/N.json to running/N.json;
 *   make running/N.stdout and running/N.stderr, posix_spawn PROGRAM with them as 1 and 2, waitpid;
 *   move the outputs the job wrote to into done/, drop the empty ones (the record names none);
 *   write the final record (1,000 bytes) in tmp/, rename it to done/N.json; drop running/N.json.
 * Dropped files are unlinked and new ones created, or with -r recycled as spoold's spare pool does
 * (docs/design.md, "Durability and its cost"): a dropped file is renamed into tmp/ as a spare, and
 * a record or output is written into a spare instead of a new file (outputs into spares that were
 * empty; a record truncates one that held data, as spoold does). Pools are per thread, no locks.
 * -s: durable, as spoold is by default: the claim's folder is fsynced after the claim, each record
 * before its rename and its folder after, inbox/ before the claim is dropped, running/ after the
 * spawn, an output with data and done/ before the record that names it; a recycled spare waits for
 * the fsync of the folder its old name left.
 * Without -s nothing is fsynced. Prints one JSON object: {"jobs", "width", "seconds", "failed",
 * "durable", "recycled"}. What it measures: how far below the raw loop the contract's file moves
 * alone put a runner on this machine's disk (docs/design.md, "What bounds the speed").
 */
#include "jobloop.h"
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char **child_argv;
static int durable, recycle;
static int inbox, tmp, pending, running, done;
static char record[1000];

static void die(const char *what, const char *name) {
    fprintf(stderr, "floor: %s %s: %s\n", what, name, strerror(errno));
    exit(1);
}

static int open_dir(const char *root, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root, name);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) die("mkdir", path);
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) die("open", path);
    return fd;
}

/* A thread's spares: names in tmp/, those that held data and those that were empty, and (with
 * -s) those waiting for the folder their old name left to be fsynced, as spoold's quarantine. */
struct held {
    char name[48];
    int folder, was_empty;
};
struct pool {
    long thread, made;
    char full[64][48], empty[64][48];
    int nfull, nempty;
    struct held held[256];
    int nheld;
};

/* Puts spare `name` where `take` finds it, or unlinks it when that list is full. */
static void ready(struct pool *p, const char *name, int was_empty) {
    int *n = was_empty ? &p->nempty : &p->nfull;
    if (*n == 64) {
        if (unlinkat(tmp, name, 0) != 0) die("unlink", name);
        return;
    }
    strcpy(was_empty ? p->empty[*n] : p->full[*n], name);
    (*n)++;
}

/* Moves `dirfd`/`name` into tmp/ as a spare (or unlinks it without -r, or when nothing more can
 * be held). With -s it is held until `dirfd` is fsynced: before that, a power cut could bring the
 * old name back, naming whatever the spare became. */
static void retire(struct pool *p, int dirfd, const char *name, int was_empty) {
    if (!recycle || (durable && p->nheld == 256)) {
        if (unlinkat(dirfd, name, 0) != 0) die("unlink", name);
        return;
    }
    char spare[48];
    snprintf(spare, sizeof spare, "spare.%ld.%ld", p->thread, p->made++);
    if (renameat(dirfd, name, tmp, spare) != 0) die("rename", name);
    if (!durable) {
        ready(p, spare, was_empty);
        return;
    }
    struct held *h = &p->held[p->nheld++];
    strcpy(h->name, spare);
    h->folder = dirfd;
    h->was_empty = was_empty;
}

static void sync_fd(struct pool *p, int fd, const char *what);

/* An output's end: kept in done/ when the job wrote to it (the record would name it; with -s its
 * bytes and its name are durable before the record is), else retired. */
static void drop_output(struct pool *p, const char *name) {
    struct stat st;
    if (fstatat(running, name, &st, AT_SYMLINK_NOFOLLOW) != 0) die("stat", name);
    if (st.st_size == 0) {
        retire(p, running, name, 1);
        return;
    }
    if (durable) {
        int fd = openat(running, name, O_RDONLY | O_CLOEXEC);
        if (fd < 0) die("open", name);
        sync_fd(p, fd, name);
        close(fd);
    }
    if (renameat(running, name, done, name) != 0) die("rename", name);
    sync_fd(p, done, "done/");
}

/* Puts into `name` a spare's name in tmp/ for a new file (`for_output`: one that was empty) and
 * returns 1, or a name for a file to create there and returns 0. */
static int take(struct pool *p, int for_output, char *name) {
    if (p->nfull > 0 && !for_output) { strcpy(name, p->full[--p->nfull]); return 1; }
    if (p->nempty > 0) { strcpy(name, p->empty[--p->nempty]); return 1; }
    snprintf(name, 48, "new.%ld.%ld", p->thread, p->made++);
    return 0;
}

/* With -s: fsyncs `fd`, then readies the spares held for it if it is a folder. */
static void sync_fd(struct pool *p, int fd, const char *what) {
    if (!durable) return;
    if (fsync(fd) != 0) die("fsync", what);
    int kept = 0;
    for (int i = 0; i < p->nheld; i++) {
        if (p->held[i].folder == fd) ready(p, p->held[i].name, p->held[i].was_empty);
        else p->held[kept++] = p->held[i];
    }
    p->nheld = kept;
}

/* Writes `len` bytes of a record into tmp/`scratch`, then renames it to `folder`/`name`. */
static void place(struct pool *p, size_t len, int folder, const char *name) {
    char scratch[48];
    take(p, 0, scratch);
    int fd = openat(tmp, scratch, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) die("create", scratch);
    if (write(fd, record, len) != (ssize_t)len) die("write", scratch);
    sync_fd(p, fd, scratch);
    close(fd);
    if (renameat(tmp, scratch, folder, name) != 0) die("rename", scratch);
    sync_fd(p, folder, name);
}

/* A new file named `name` in `folder` (an output), made from a spare with -r. */
static int output(struct pool *p, int folder, const char *name) {
    char spare[48];
    if (take(p, 1, spare) && renameat(tmp, spare, folder, name) != 0) die("rename", spare);
    int fd = openat(folder, name, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) die("create", name);
    return fd;
}

static int run(struct pool *p, long n) {
    char job[64], claim[64], name[64], out[64], err[64];
    snprintf(job, sizeof job, "job-%06ld.json", n);
    snprintf(claim, sizeof claim, "%ld.claim", n);
    snprintf(name, sizeof name, "%ld.json", n);
    snprintf(out, sizeof out, "%ld.stdout", n);
    snprintf(err, sizeof err, "%ld.stderr", n);

    char buf[4096];
    int fd = openat(inbox, job, O_RDONLY | O_CLOEXEC);
    if (fd < 0) die("open", job);
    if (read(fd, buf, sizeof buf) < 0) die("read", job);
    close(fd);
    if (renameat(inbox, job, tmp, claim) != 0) die("rename", job);
    sync_fd(p, tmp, "tmp/");

    place(p, 900, pending, name);
    sync_fd(p, inbox, "inbox/");  /* the inbox name durably gone before the claim goes */
    retire(p, tmp, claim, 0);

    if (renameat(pending, name, running, name) != 0) die("rename", name);
    int o = output(p, running, out), e = output(p, running, err);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, o, 1);
    posix_spawn_file_actions_adddup2(&fa, e, 2);
    pid_t pid;
    int spawned = spawn(child_argv, &fa, &pid) == 0;
    posix_spawn_file_actions_destroy(&fa);
    close(o);
    close(e);
    sync_fd(p, running, "running/");  /* after the spawn, as spoold does for a requeue job */
    int ok = spawned && reap(pid) == 0;

    drop_output(p, out);
    drop_output(p, err);
    place(p, 1000, done, name);
    retire(p, running, name, 0);
    return ok ? 0 : -1;
}

static void *worker(void *arg) {
    struct pool *p = calloc(1, sizeof *p);
    p->thread = (long)arg;
    long n;
    while ((n = take_job()) >= 0) {
        if (run(p, n) != 0) atomic_fetch_add(&failed_jobs, 1);
    }
    free(p);
    return NULL;
}

static int usage(void) {
    fprintf(stderr, "Usage: floor -P WIDTH -n JOBS -d DIR [-r] [-s] -- PROGRAM [ARGS...]\n");
    return 64;
}

int main(int argc, char **argv) {
    long width = 1;
    const char *dir = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "P:n:d:rs")) != -1) {
        switch (opt) {
        case 'P': width = atol(optarg); break;
        case 'n': total_jobs = atol(optarg); break;
        case 'd': dir = optarg; break;
        case 'r': recycle = 1; break;
        case 's': durable = 1; break;
        default: return usage();
        }
    }
    if (optind >= argc || !dir || width < 1 || total_jobs < 1) return usage();
    child_argv = argv + optind;
    memset(record, ' ', sizeof record);
    record[sizeof record - 1] = '\n';

    if (mkdir(dir, 0755) != 0 && errno != EEXIST) die("mkdir", dir);
    inbox = open_dir(dir, "inbox");
    tmp = open_dir(dir, "tmp");
    pending = open_dir(dir, "pending");
    running = open_dir(dir, "running");
    done = open_dir(dir, "done");
    static const char job[] = "{\"command\": [\"/bin/true\"]}";
    for (long n = 0; n < total_jobs; n++) {
        char name[64];
        snprintf(name, sizeof name, "job-%06ld.json", n);
        int fd = openat(inbox, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, job, sizeof job - 1) != (ssize_t)(sizeof job - 1)) die("write", name);
        close(fd);
    }
    sync();

    double seconds = run_threads(width, worker);
    printf("{\"jobs\": %ld, \"width\": %ld, \"seconds\": %.6f, \"failed\": %ld, \"durable\": %s, \"recycled\": %s}\n",
           total_jobs, width, seconds, atomic_load(&failed_jobs), durable ? "true" : "false", recycle ? "true" : "false");
    return atomic_load(&failed_jobs) ? 1 : 0;
}
