// _GNU_SOURCE calls the Swift Glibc module does not export.
#ifndef CSPOOLSHIM_H
#define CSPOOLSHIM_H
#include <spawn.h>
#include <sys/types.h>

int cshim_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path);
int cshim_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int from);
int cshim_spawn_setsid_flag(void);
// renameat2(RENAME_NOREPLACE): fails with EEXIST instead of silently replacing the target.
int cshim_rename_noreplace(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);


// A write lease on `fd` succeeds only if no other open file description refers to the file (any
// process). Returns 0 and holds the lease, or -1 (errno EAGAIN: someone else has it open).
int cshim_take_exclusive_lease(int fd);
void cshim_release_lease(int fd);
// fstatfs(2)'s f_type (the filesystem's magic number) into *magic; 0, or -1 with errno.
int cshim_fs_magic(int fd, unsigned long long *magic);
// syncfs(2): commits every dirty file and directory of the filesystem holding `fd`.
int cshim_syncfs(int fd);
// pidfd_open(2) and pidfd_send_signal(2): a handle on a process that no later process can take
// over (a pid alone may be reused), for supervisors the daemon did not start itself.
int cshim_pidfd_open(pid_t pid);
int cshim_pidfd_send_signal(int pidfd, int sig);
// The extended attributes of an open file (POSIX ACLs are "system.posix_acl_access").
int cshim_fsetxattr(int fd, const char *name, const void *value, size_t size);
int cshim_fremovexattr(int fd, const char *name);
// One epoll set of fds each reporting once (EPOLLONESHOT) that they are readable: the exit watcher's
// pidfds. wait_one blocks until one is, and returns it (-1 with errno on failure, EINTR included).
int cshim_epoll_create(void);
int cshim_epoll_add_oneshot(int epfd, int fd);
int cshim_epoll_remove(int epfd, int fd);
int cshim_epoll_wait_one(int epfd);
// pipe2(O_CLOEXEC): both ends close-on-exec from the start.
int cshim_pipe_cloexec(int fds[2]);
// Names the calling thread for the kernel (ps -L, perf, top; at most 15 bytes): Foundation's
// Thread.name does not reach it.
void cshim_name_thread(const char *name);
#endif
