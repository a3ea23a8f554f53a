/* stamp FILE: write CLOCK_REALTIME in nanoseconds to FILE, as early as possible.
 * The latency probe: a job's start time, cheaper than sh -c 'date +%s%N'. */
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (argc != 2) { fputs("Usage: stamp FILE\n", stderr); return 64; }
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%lld\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) { perror(argv[1]); return 1; }
    if (write(fd, buf, (size_t)n) != n) { perror(argv[1]); return 1; }
    return close(fd) == 0 ? 0 : 1;
}
