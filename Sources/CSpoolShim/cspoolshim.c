#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/xattr.h>
#include <unistd.h>
#include "cspoolshim.h"

int cshim_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path) {
    return posix_spawn_file_actions_addchdir_np(actions, path);
}

int cshim_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

int cshim_spawn_setsid_flag(void) { return POSIX_SPAWN_SETSID; }

int cshim_rename_noreplace(int olddirfd, const char *oldpath, int newdirfd, const char *newpath) {
    return renameat2(olddirfd, oldpath, newdirfd, newpath, RENAME_NOREPLACE);
}

int cshim_take_exclusive_lease(int fd) { return fcntl(fd, F_SETLEASE, F_WRLCK); }

void cshim_release_lease(int fd) { (void)fcntl(fd, F_SETLEASE, F_UNLCK); }

int cshim_syncfs(int fd) { return syncfs(fd); }

int cshim_fs_magic(int fd, unsigned long long *magic) {
    struct statfs s;
    if (fstatfs(fd, &s) != 0) return -1;
    *magic = (unsigned long long)(unsigned long)s.f_type;
    return 0;
}

int cshim_pidfd_open(pid_t pid) {
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

int cshim_pidfd_send_signal(int pidfd, int sig) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

int cshim_fsetxattr(int fd, const char *name, const void *value, size_t size) { return fsetxattr(fd, name, value, size, 0); }

int cshim_fremovexattr(int fd, const char *name) { return fremovexattr(fd, name); }

int cshim_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int cshim_epoll_add_oneshot(int epfd, int fd) {
    struct epoll_event event = {.events = EPOLLIN | EPOLLONESHOT, .data = {.fd = fd}};
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event);
}

int cshim_epoll_remove(int epfd, int fd) { return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL); }

int cshim_epoll_wait_one(int epfd) {
    struct epoll_event event;
    int n = epoll_wait(epfd, &event, 1, -1);
    if (n < 0) return -1;
    if (n == 0) {
        errno = EINTR;
        return -1;
    }
    return event.data.fd;
}

int cshim_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

void cshim_name_thread(const char *name) { pthread_setname_np(pthread_self(), name); }
