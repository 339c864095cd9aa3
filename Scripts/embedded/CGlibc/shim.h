// The C library as the embedded agent build sees it: the headers the agent's
// sources use through `import Glibc`, plus the few things Swift cannot import
// directly (errno is a macro; open is variadic; environ needs unistd's
// _GNU_SOURCE view).
#define _GNU_SOURCE 1
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

static inline int kognita_errno(void) { return errno; }
static inline void kognita_set_errno(int value) { errno = value; }
static inline int kognita_open(const char *path, int flags, mode_t mode) { return open(path, flags, mode); }
static inline char **kognita_environ(void) { return environ; }
