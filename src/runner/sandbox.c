/* sandbox.c — the server's confinement (SPEC §14.2): plan it from a permission profile (globs
 * Landlock can express exactly, kernel features present: proven by a dry run of the whole
 * set-up in a throw-away child), then start the server under it. The child is created with a
 * raw clone() straight into new user, mount, PID, IPC, UTS (and network) namespaces, so it is
 * PID 1 there and a direct child of warden: it maps the caller's uid/gid, runs warden's last
 * gate check, mounts a /proc of its own, brings loopback up, sets no_new_privs, drops every
 * capability, applies Landlock and a seccomp filter, and then stays as a tiny init that passes
 * signals on to the server, reaps, and exits with the server's status.
 * Everything the child needs is prepared in the parent: between clone and exec it allocates
 * nothing. It must never exec a server with any confinement step skipped or failed, and never
 * weaken a profile: what cannot be expressed or enforced is an error naming it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/securebits.h>
#include <linux/seccomp.h>

#include <seccomp.h>

#include "sandbox.h"
#include "connect_proxy.h"
#include "base/base.h"

/* ---- Landlock, spelled out here: Debian 12's kernel headers predate ABI 4-6 ---- */
struct ll_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
    uint64_t scoped;
};
struct ll_path_beneath {
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__((packed));
struct ll_net_port {
    uint64_t allowed_access;
    uint64_t port;
};
#define LL_CREATE_RULESET_VERSION (1U << 0)
#define LL_RULE_PATH_BENEATH 1
#define LL_RULE_NET_PORT 2
#define LL_FS_EXECUTE (1ULL << 0)
#define LL_FS_WRITE_FILE (1ULL << 1)
#define LL_FS_READ_FILE (1ULL << 2)
#define LL_FS_READ_DIR (1ULL << 3)
#define LL_FS_REMOVE_DIR (1ULL << 4)
#define LL_FS_REMOVE_FILE (1ULL << 5)
#define LL_FS_MAKE_CHAR (1ULL << 6)
#define LL_FS_MAKE_DIR (1ULL << 7)
#define LL_FS_MAKE_REG (1ULL << 8)
#define LL_FS_MAKE_SOCK (1ULL << 9)
#define LL_FS_MAKE_FIFO (1ULL << 10)
#define LL_FS_MAKE_BLOCK (1ULL << 11)
#define LL_FS_MAKE_SYM (1ULL << 12)
#define LL_FS_REFER (1ULL << 13)
#define LL_FS_TRUNCATE (1ULL << 14)
#define LL_FS_IOCTL_DEV (1ULL << 15)
#define LL_NET_BIND_TCP (1ULL << 0)
#define LL_NET_CONNECT_TCP (1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX (1ULL << 0)
#define LL_SCOPE_SIGNAL (1ULL << 1)

/* Rights a rule on a file (not a directory) may carry. */
#define LL_FILE_RIGHTS \
    (LL_FS_EXECUTE | LL_FS_WRITE_FILE | LL_FS_READ_FILE | LL_FS_TRUNCATE | LL_FS_IOCTL_DEV)
#define RIGHTS_READ (LL_FS_READ_FILE | LL_FS_READ_DIR)
#define RIGHTS_SYS (LL_FS_READ_FILE | LL_FS_READ_DIR | LL_FS_EXECUTE)
#define RIGHTS_WRITE                                                                           \
    (LL_FS_READ_FILE | LL_FS_READ_DIR | LL_FS_WRITE_FILE | LL_FS_REMOVE_DIR |                  \
     LL_FS_REMOVE_FILE | LL_FS_MAKE_DIR | LL_FS_MAKE_REG | LL_FS_MAKE_SOCK | LL_FS_MAKE_FIFO | \
     LL_FS_MAKE_SYM | LL_FS_REFER | LL_FS_TRUNCATE)
#define RIGHTS_DEV_RW (LL_FS_READ_FILE | LL_FS_WRITE_FILE)

/* Landlock ABI needed by the filesystem rules (3: truncate is controlled, so a read-only file
 * cannot be truncated) and by TCP port rules (4). */
#define ABI_FS 3
#define ABI_NET 4

static long ll_create(const struct ll_ruleset_attr *a, size_t size, uint32_t flags)
{
    return syscall(SYS_landlock_create_ruleset, a, size, flags);
}
static long ll_add(int fd, int type, const void *attr)
{
    return syscall(SYS_landlock_add_rule, fd, type, attr, 0);
}
static long ll_restrict(int fd)
{
    return syscall(SYS_landlock_restrict_self, fd, 0);
}

/* ---- the read-only system set (docs/SANDBOX.md says why each entry is there) ---- */
typedef struct sys_entry {
    const char *path;
    uint64_t rights;
} sys_entry;

static const sys_entry system_set[] = {
    {"/usr", RIGHTS_SYS},          {"/bin", RIGHTS_SYS},
    {"/sbin", RIGHTS_SYS},         {"/lib", RIGHTS_SYS},
    {"/lib32", RIGHTS_SYS},        {"/lib64", RIGHTS_SYS},
    {"/libx32", RIGHTS_SYS},       {"/etc/ld.so.cache", RIGHTS_READ},
    {"/etc/ld.so.conf", RIGHTS_READ}, {"/etc/ld.so.conf.d", RIGHTS_READ},
    {"/etc/ssl", RIGHTS_READ},     {"/etc/ca-certificates", RIGHTS_READ},
    {"/etc/hosts", RIGHTS_READ},   {"/etc/resolv.conf", RIGHTS_READ},
    {"/etc/nsswitch.conf", RIGHTS_READ}, {"/etc/host.conf", RIGHTS_READ},
    {"/etc/gai.conf", RIGHTS_READ}, {"/etc/passwd", RIGHTS_READ},
    {"/etc/group", RIGHTS_READ},   {"/etc/localtime", RIGHTS_READ},
    {"/dev/null", RIGHTS_DEV_RW},  {"/dev/zero", LL_FS_READ_FILE},
    {"/dev/full", RIGHTS_DEV_RW},  {"/dev/random", LL_FS_READ_FILE},
    {"/dev/urandom", LL_FS_READ_FILE},
};
/* /proc is added by the child after it mounted its own (see child_main). */

/* A Landlock rule to add: an absolute path and the rights beneath it. exact: the profile
 * named this path exactly, so a directory there would grant more than asked (refused). */
typedef struct rule {
    char *path;
    uint64_t rights;
    bool exact;
    const char *what; /* "read", "write", "system", "executable" */
} rule;

struct wd_sandbox {
    char *exe;
    wd_network net;
    bool privileged;
    bool use_proxy;   /* allow_hosts: the CONNECT proxy in the server's network namespace */
    bool ll_net;      /* TCP connect/bind under Landlock */
    char **hosts;
    size_t n_hosts;
    uint16_t *ports;
    size_t n_ports;
    rule *rules;
    size_t n_rules;
    int abi;
    uint64_t handled_fs;
    struct sock_filter *bpf;  /* the seccomp filter, exported by libseccomp */
    unsigned short bpf_len;
    int cap_last;
    wd_cproxy *proxy;
};

/* ---- feature probes and test hooks ---- */

/* A test-only hook: the value of WARDEN_TEST_<name>, or NULL. Hooks can only make the plan
 * fail (pretend a feature is missing), never weaken a sandbox. */
static const char *test_hook(const char *name)
{
    char var[64];
    snprintf(var, sizeof var, "WARDEN_TEST_%s", name);
    const char *v = getenv(var);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

int wd_sandbox_landlock_abi(void)
{
    long abi = ll_create(NULL, 0, LL_CREATE_RULESET_VERSION);
    if (abi < 0)
        abi = 0;
    const char *h = test_hook("LANDLOCK_ABI");
    if (h != NULL) {
        char *end;
        long v = strtol(h, &end, 10);
        if (*end == '\0' && v >= 0 && v < abi)
            abi = v;
    }
    return (int)abi;
}

static uint64_t handled_fs_for(int abi)
{
    uint64_t h = (LL_FS_MAKE_SYM << 1) - 1; /* ABI 1: bits 0..12 */
    if (abi >= 2)
        h |= LL_FS_REFER;
    if (abi >= 3)
        h |= LL_FS_TRUNCATE;
    if (abi >= 5)
        h |= LL_FS_IOCTL_DEV;
    return h;
}

/* ---- small helpers ---- */

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

static wd_code add_rule(wd_sandbox *sb, const char *path, size_t len, uint64_t rights,
                        bool exact, const char *what, wd_err *e)
{
    rule *r = realloc(sb->rules, (sb->n_rules + 1) * sizeof *r);
    if (r == NULL)
        return wd_err_set(e, WD_E_NOMEM, "sandbox: out of memory");
    sb->rules = r;
    char *p = malloc(len + 1);
    if (p == NULL)
        return wd_err_set(e, WD_E_NOMEM, "sandbox: out of memory");
    memcpy(p, path, len);
    p[len] = '\0';
    r[sb->n_rules++] = (rule){p, rights, exact, what};
    return WD_OK;
}

/* A read or write glob as a Landlock rule: an absolute exact path, or DIR/ followed by two
 * stars (everything beneath DIR; "/" followed by two stars is the whole tree). Anything else
 * has no exact Landlock equivalent and is refused, naming the glob. */
static wd_code glob_rule(wd_sandbox *sb, const char *field, size_t i, const char *g,
                         uint64_t rights, wd_err *e)
{
    char shown[160];
    wd_clean_text(g, shown, sizeof shown);
    size_t n = strlen(g);
    if (g[0] != '/')
        return wd_err_set(e, WD_E_INVALID_POLICY,
                          "sandbox: permission_profile.%s[%zu] \"%s\": not an absolute path; "
                          "the sandbox cannot express it as a Landlock rule",
                          field, i, shown);
    bool beneath = n >= 3 && strcmp(g + n - 3, "/**") == 0;
    size_t plen = beneath ? (n == 3 ? 1 : n - 3) : n;
    if (strcspn(g, "*?[") < plen)
        return wd_err_set(e, WD_E_INVALID_POLICY,
                          "sandbox: permission_profile.%s[%zu] \"%s\": Landlock can only "
                          "express an exact path or DIR/** (everything beneath DIR); refused "
                          "rather than granting more or less than the glob says",
                          field, i, shown);
    /* no "." or ".." component, no empty one: the glob is matched as text, the rule by path */
    for (size_t s = 0; s < plen;) {
        size_t t = s + 1;
        while (t < plen && g[t] != '/')
            t++;
        size_t cl = t - s - 1;
        if ((cl == 0 && !(plen == 1)) || (cl == 1 && g[s + 1] == '.') ||
            (cl == 2 && g[s + 1] == '.' && g[s + 2] == '.'))
            return wd_err_set(e, WD_E_INVALID_POLICY,
                              "sandbox: permission_profile.%s[%zu] \"%s\": an empty, '.' or "
                              "'..' path component; write the path plainly",
                              field, i, shown);
        s = t;
    }
    return add_rule(sb, g, plen, rights, !beneath, field, e);
}

/* ---- the seccomp filter ---- */

/* Refused with EPERM (docs/SANDBOX.md lists them). Names libseccomp does not know on this
 * architecture are skipped. */
static const char *const refused_syscalls[] = {
    "mount", "umount", "umount2", "pivot_root", "move_mount", "open_tree", "fsopen", "fsmount",
    "fsconfig", "fspick", "mount_setattr", "ptrace", "process_vm_readv", "process_vm_writev",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "bpf",
    "keyctl", "add_key", "request_key", "perf_event_open", "setns", "io_uring_setup",
    "io_uring_enter", "io_uring_register", "userfaultfd", "open_by_handle_at", "name_to_handle_at",
};

static wd_code build_seccomp(wd_sandbox *sb, wd_err *e)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (ctx == NULL)
        return wd_err_set(e, WD_E_NOMEM, "sandbox: seccomp_init failed");
    int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
    for (size_t i = 0; rc == 0 && i < sizeof refused_syscalls / sizeof *refused_syscalls; i++) {
        int nr = seccomp_syscall_resolve_name(refused_syscalls[i]);
        if (nr == __NR_SCMP_ERROR || nr < 0)
            continue;
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
    }
    /* new user namespaces: unshare and clone with CLONE_NEWUSER; clone3 hides its flags in
     * memory a filter cannot read, so it answers ENOSYS and the C library falls back to clone */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER));
    if (rc == 0) {
        int nr = seccomp_syscall_resolve_name("clone3");
        if (nr != __NR_SCMP_ERROR && nr >= 0)
            rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
    }
    int mfd = -1;
    if (rc == 0) {
        mfd = memfd_create("wd-seccomp", MFD_CLOEXEC);
        if (mfd < 0)
            rc = -errno;
    }
    if (rc == 0)
        rc = seccomp_export_bpf(ctx, mfd);
    seccomp_release(ctx);
    if (rc != 0) {
        if (mfd >= 0)
            close(mfd);
        return wd_err_set(e, WD_E_INTERNAL, "sandbox: cannot build the seccomp filter: %s",
                          strerror(-rc));
    }
    struct stat st;
    wd_code r = WD_OK;
    if (fstat(mfd, &st) != 0 || st.st_size <= 0 ||
        st.st_size % (off_t)sizeof(struct sock_filter) != 0 ||
        st.st_size / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS) {
        r = wd_err_set(e, WD_E_INTERNAL, "sandbox: the seccomp filter has an unexpected size");
    } else if ((sb->bpf = malloc((size_t)st.st_size)) == NULL) {
        r = wd_err_set(e, WD_E_NOMEM, "sandbox: out of memory");
    } else if (pread(mfd, sb->bpf, (size_t)st.st_size, 0) != st.st_size) {
        r = wd_err_set(e, WD_E_INTERNAL, "sandbox: cannot read the seccomp filter back");
    } else {
        sb->bpf_len = (unsigned short)(st.st_size / (off_t)sizeof(struct sock_filter));
    }
    close(mfd);
    return r;
}

/* ---- the Landlock ruleset, built in the parent for each spawn ---- */

/* A ruleset fd with every rule of sb (paths that do not exist grant nothing and are skipped).
 * Returns -1 and fills e on error. */
static int build_ruleset(const wd_sandbox *sb, wd_err *e)
{
    struct ll_ruleset_attr a = {sb->handled_fs, 0, 0};
    if (sb->ll_net)
        a.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
    if (sb->abi >= 6)
        a.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
    int fd = (int)ll_create(&a, sizeof a, 0);
    if (fd < 0) {
        wd_err_set(e, WD_E_IO, "sandbox: cannot create a Landlock ruleset: %s", strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < sb->n_rules; i++) {
        const rule *r = &sb->rules[i];
        int pfd = open(r->path, O_PATH | O_CLOEXEC);
        if (pfd < 0) {
            if (errno == ENOENT || errno == ENOTDIR)
                continue; /* nothing there: nothing to grant */
            char shown[160];
            wd_clean_text(r->path, shown, sizeof shown);
            wd_err_set(e, WD_E_IO, "sandbox: %s path %s: %s", r->what, shown, strerror(errno));
            close(fd);
            return -1;
        }
        struct stat st;
        if (fstat(pfd, &st) != 0) {
            wd_err_set(e, WD_E_IO, "sandbox: cannot stat a %s path: %s", r->what,
                       strerror(errno));
            close(pfd);
            close(fd);
            return -1;
        }
        uint64_t rights = r->rights & sb->handled_fs;
        if (S_ISDIR(st.st_mode)) {
            if (r->exact) {
                char shown[160];
                wd_clean_text(r->path, shown, sizeof shown);
                wd_err_set(e, WD_E_INVALID_POLICY,
                           "sandbox: permission_profile.%s \"%s\" names a directory: a Landlock "
                           "rule on it would grant everything beneath it; write \"%s/**\" for "
                           "that",
                           r->what, shown, shown);
                close(pfd);
                close(fd);
                return -1;
            }
        } else {
            rights &= LL_FILE_RIGHTS;
        }
        struct ll_path_beneath pb = {rights, pfd};
        long ar = rights != 0 ? ll_add(fd, LL_RULE_PATH_BENEATH, &pb) : 0;
        int err = errno;
        close(pfd);
        if (ar != 0) {
            char shown[160];
            wd_clean_text(r->path, shown, sizeof shown);
            wd_err_set(e, WD_E_IO, "sandbox: cannot add the Landlock rule for %s: %s", shown,
                       strerror(err));
            close(fd);
            return -1;
        }
    }
    if (sb->ll_net) {
        /* with the proxy, the only port the server may reach is the proxy's own */
        for (size_t i = 0; i < (sb->use_proxy ? 1 : sb->n_ports); i++) {
            struct ll_net_port np = {LL_NET_CONNECT_TCP,
                                     sb->use_proxy ? WD_SANDBOX_PROXY_PORT : sb->ports[i]};
            if (ll_add(fd, LL_RULE_NET_PORT, &np) != 0) {
                wd_err_set(e, WD_E_IO, "sandbox: cannot add a Landlock TCP rule: %s",
                           strerror(errno));
                close(fd);
                return -1;
            }
        }
    }
    return fd;
}

/* ---- the child: everything from clone to exec ---- */

/* Set-up steps, reported to the parent by number when one fails. */
enum step {
    ST_SETGROUPS = 1, ST_UIDMAP, ST_GIDMAP, ST_STREAMS, ST_MOUNT_PRIVATE, ST_MOUNT_PROC,
    ST_HOSTNAME, ST_LOOPBACK, ST_PROXY_LISTEN, ST_PROXY_SEND, ST_NNP, ST_CAPS, ST_LANDLOCK,
    ST_SECCOMP, ST_SIGNALS, ST_FORK, ST_COUNT
};
static const char *const step_name[ST_COUNT] = {
    [ST_SETGROUPS] = "deny setgroups in the user namespace",
    [ST_UIDMAP] = "map the caller's uid into the user namespace",
    [ST_GIDMAP] = "map the caller's gid into the user namespace",
    [ST_STREAMS] = "set up the standard streams",
    [ST_MOUNT_PRIVATE] = "make the mount namespace private",
    [ST_MOUNT_PROC] = "mount /proc for the PID namespace",
    [ST_HOSTNAME] = "set the host name in the UTS namespace",
    [ST_LOOPBACK] = "bring loopback up in the network namespace",
    [ST_PROXY_LISTEN] = "listen for the CONNECT proxy in the network namespace",
    [ST_PROXY_SEND] = "hand the proxy's socket to warden",
    [ST_NNP] = "set no_new_privs",
    [ST_CAPS] = "drop capabilities",
    [ST_LANDLOCK] = "apply the Landlock rules",
    [ST_SECCOMP] = "load the seccomp filter",
    [ST_SIGNALS] = "set up signal forwarding",
    [ST_FORK] = "start the server in the PID namespace",
};

/* What the parent prepares for the child (copied into it by clone). */
typedef struct child_args {
    wd_sandbox *sb;
    bool dry_run;          /* plan: prove the set-up works, then exit 0 */
    int sock;              /* the child's end of the report socket */
    int ruleset;
    int fds[3];
    char uid_map[64], gid_map[64];
    char *const *argv;
    char *const *envp;
    int (*pre_exec)(void *);
    void *ctx;
    int clone_err;         /* set by start_child when clone itself failed */
} child_args;

typedef struct report {
    int kind; /* 'R' ready, 'E' error, 'P' proxy socket attached */
    int step;
    int err;
} report;

static void send_report(int sock, int kind, int step, int err, int fd)
{
    report r = {kind, step, err};
    struct iovec iov = {&r, sizeof r};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    if (fd >= 0) {
        memset(&u, 0, sizeof u);
        m.msg_control = u.buf;
        m.msg_controllen = sizeof u.buf;
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof fd);
    }
    while (sendmsg(sock, &m, MSG_NOSIGNAL) < 0 && errno == EINTR)
        ;
}

__attribute__((noreturn)) static void child_fail(const child_args *a, int step)
{
    send_report(a->sock, 'E', step, errno, -1);
    _exit(126);
}

static int write_all_file(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t n = strlen(s);
    ssize_t w = write(fd, s, n);
    int err = errno;
    close(fd);
    errno = err;
    return w == (ssize_t)n ? 0 : -1;
}

static int loopback_up(void)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -1;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    int r = ioctl(s, SIOCGIFFLAGS, &ifr);
    if (r == 0) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        r = ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    int err = errno;
    close(s);
    errno = err;
    return r;
}

static int proxy_listener(void)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -1;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(WD_SANDBOX_PROXY_PORT);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(s, 64) != 0) {
        int err = errno;
        close(s);
        errno = err;
        return -1;
    }
    return s;
}

static int drop_caps(int cap_last)
{
    for (int c = 0; c <= cap_last; c++)
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL)
            return -1;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
        return -1;
    /* root in the namespace gets nothing back on exec, and the bits cannot be undone */
    if (prctl(PR_SET_SECUREBITS,
              SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                  SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
                  SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
              0, 0, 0) != 0)
        return -1;
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    return (int)syscall(SYS_capset, &h, d);
}

/* PID 1 of the sandbox: pass signals on to the server, reap everything, and exit with the
 * server's status (128+N when a signal N ended it). */
__attribute__((noreturn)) static void init_loop(int sfd, pid_t server)
{
    int status = 0;
    for (;;) {
        struct signalfd_siginfo si;
        ssize_t n = read(sfd, &si, sizeof si);
        if (n != (ssize_t)sizeof si) {
            if (n < 0 && errno == EINTR)
                continue;
            kill(server, SIGKILL); /* cannot go on forwarding: do not leave it unsupervised */
        } else if (si.ssi_signo != SIGCHLD) {
            kill(server, (int)si.ssi_signo);
            continue;
        }
        for (;;) {
            int st;
            pid_t w = waitpid(-1, &st, n == (ssize_t)sizeof si ? WNOHANG : 0);
            if (w <= 0)
                break;
            if (w == server) {
                status = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
                _exit(status); /* the kernel ends whatever is left in the namespace */
            }
        }
    }
}

static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD};

__attribute__((noreturn)) static void child_main(child_args *a)
{
    wd_sandbox *sb = a->sb;
    /* a clone of warden: its handlers and mask are not the server's */
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP)
            signal(s, SIG_DFL);
    /* the signals the init passes on stay blocked from here on: one that warden sends during
     * the set-up waits in the queue and reaches the server once it runs (an init ignores a
     * signal it neither handles nor blocks) */
    sigset_t none, fw;
    sigemptyset(&none);
    sigemptyset(&fw);
    for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++)
        sigaddset(&fw, forwarded[i]);
    sigprocmask(SIG_SETMASK, &fw, NULL);
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);

    if (write_all_file("/proc/self/setgroups", "deny") != 0)
        child_fail(a, ST_SETGROUPS);
    if (write_all_file("/proc/self/uid_map", a->uid_map) != 0)
        child_fail(a, ST_UIDMAP);
    if (write_all_file("/proc/self/gid_map", a->gid_map) != 0)
        child_fail(a, ST_GIDMAP);

    if (!a->dry_run) {
        /* 0/1/2 from the caller's fds (which may overlap them), everything else closed on exec */
        int tmp[3];
        for (int i = 0; i < 3; i++)
            if ((tmp[i] = fcntl(a->fds[i], F_DUPFD_CLOEXEC, 10)) < 0)
                child_fail(a, ST_STREAMS);
        for (int i = 0; i < 3; i++)
            if (dup2(tmp[i], i) < 0)
                child_fail(a, ST_STREAMS);
        for (int i = 0; i < 3; i++)
            close(tmp[i]);
        if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0)
            child_fail(a, ST_STREAMS);
        if (a->pre_exec != NULL) {
            int rc = a->pre_exec(a->ctx);
            if (rc != 0)
                _exit(rc & 0xff ? rc & 0xff : 1);
        }
    }

    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        child_fail(a, ST_MOUNT_PRIVATE);
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
        child_fail(a, ST_MOUNT_PROC);
    if (sethostname("warden-sandbox", 14) != 0)
        child_fail(a, ST_HOSTNAME);
    if (sb->net != WD_NET_HOST && !(sb->net == WD_NET_ALLOW && !sb->use_proxy)) {
        if (loopback_up() != 0)
            child_fail(a, ST_LOOPBACK);
    }
    if (sb->use_proxy) {
        int ls = proxy_listener();
        if (ls < 0)
            child_fail(a, ST_PROXY_LISTEN);
        if (!a->dry_run)
            send_report(a->sock, 'P', 0, 0, ls);
        close(ls);
    }
    /* the fresh /proc (this PID namespace's processes only): read-only */
    {
        int pfd = open("/proc", O_PATH | O_CLOEXEC | O_DIRECTORY);
        struct ll_path_beneath pb = {RIGHTS_READ, pfd};
        if (pfd < 0 || ll_add(a->ruleset, LL_RULE_PATH_BENEATH, &pb) != 0)
            child_fail(a, ST_LANDLOCK);
        close(pfd);
    }

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        child_fail(a, ST_NNP);
    if (!sb->privileged && drop_caps(sb->cap_last) != 0)
        child_fail(a, ST_CAPS);
    if (ll_restrict(a->ruleset) != 0)
        child_fail(a, ST_LANDLOCK);
    close(a->ruleset);
    struct sock_fprog prog = {sb->bpf_len, sb->bpf};
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0)
        child_fail(a, ST_SECCOMP);

    if (a->dry_run) {
        send_report(a->sock, 'R', 0, 0, -1);
        _exit(0);
    }
    int sfd = signalfd(-1, &fw, SFD_CLOEXEC);
    if (sfd < 0)
        child_fail(a, ST_SIGNALS);
    /* vfork: no copy of the init's page tables; the child only sets its mask and execs */
    pid_t server = vfork();
    if (server < 0)
        child_fail(a, ST_FORK);
    if (server == 0) {
        sigprocmask(SIG_SETMASK, &none, NULL);
        execve(sb->exe, a->argv, a->envp);
        int err = errno;
        static const char msg[] = "warden: sandbox: cannot execute the server: ";
        const char *es = strerror(err);
        ssize_t ig = write(2, msg, sizeof msg - 1);
        ig = write(2, es, strlen(es));
        ig = write(2, "\n", 1);
        (void)ig;
        _exit(err == ENOENT ? 127 : 126);
    }
    send_report(a->sock, 'R', 0, 0, -1);
    close(a->sock);
    /* the server holds the streams now; the init must not keep them open, nor any other
     * descriptor it inherited from warden (close-on-exec does not apply: the init never
     * execs) — a pipe end kept here would keep the server from ever seeing end of file */
    close(0);
    close(1);
    close(2);
    if (sfd > 3)
        syscall(SYS_close_range, 3U, (unsigned)sfd - 1U, 0U);
    syscall(SYS_close_range, (unsigned)sfd + 1U, ~0U, 0U);
    init_loop(sfd, server);
}

/* ---- parent side ---- */

static int ns_flags(const wd_sandbox *sb)
{
    int f = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
    if (sb->net == WD_NET_NONE || sb->use_proxy)
        f |= CLONE_NEWNET;
    return f;
}

/* Start a child with a, wait for its report. On WD_OK *pid is the child (still running unless
 * it exited early, e.g. its pre_exec refused) and *proxy_fd the proxy's socket or -1. On error
 * the child is reaped. */
static wd_code start_child(child_args *a, pid_t *pid, int *proxy_fd, wd_err *e)
{
    *pid = -1;
    *proxy_fd = -1;
    int sp[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0)
        return wd_err_set(e, WD_E_IO, "sandbox: socketpair: %s", strerror(errno));
    snprintf(a->uid_map, sizeof a->uid_map, "%lu %lu 1\n", (unsigned long)getuid(),
             (unsigned long)getuid());
    snprintf(a->gid_map, sizeof a->gid_map, "%lu %lu 1\n", (unsigned long)getgid(),
             (unsigned long)getgid());
    a->sock = sp[1];
    fflush(stdout);
    fflush(stderr);
    long c = syscall(SYS_clone, (unsigned long)ns_flags(a->sb) | SIGCHLD, NULL, NULL, NULL, 0);
    if (c == 0) {
        close(sp[0]);
        child_main(a);
    }
    int cerr = errno;
    close(sp[1]);
    if (c < 0) {
        a->clone_err = cerr;
        close(sp[0]);
        return wd_err_set(e, WD_E_IO, "sandbox: cannot create the namespaces: %s",
                          strerror(cerr));
    }
    pid_t child = (pid_t)c;
    wd_code r = WD_OK;
    for (;;) {
        report rep;
        union {
            char buf[CMSG_SPACE(sizeof(int))];
            struct cmsghdr align;
        } u;
        struct iovec iov = {&rep, sizeof rep};
        struct msghdr m;
        memset(&m, 0, sizeof m);
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = u.buf;
        m.msg_controllen = sizeof u.buf;
        ssize_t n = recvmsg(sp[0], &m, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            break; /* the child exited before set-up (its pre_exec refused): caller waits */
        if (n != (ssize_t)sizeof rep) {
            r = wd_err_set(e, WD_E_IO, "sandbox: bad report from the child");
            break;
        }
        struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
        if (cm != NULL && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
            int fd;
            memcpy(&fd, CMSG_DATA(cm), sizeof fd);
            if (rep.kind == 'P' && *proxy_fd < 0)
                *proxy_fd = fd;
            else
                close(fd);
        }
        if (rep.kind == 'R')
            break;
        if (rep.kind == 'E') {
            const char *what = rep.step > 0 && rep.step < ST_COUNT ? step_name[rep.step]
                                                                    : "set up";
            r = wd_err_set(e, WD_E_IO, "sandbox: cannot %s: %s", what, strerror(rep.err));
            break;
        }
    }
    close(sp[0]);
    if (r != WD_OK) {
        kill(child, SIGKILL);
        while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
            ;
        if (*proxy_fd >= 0)
            close(*proxy_fd);
        *proxy_fd = -1;
        return r;
    }
    *pid = child;
    return WD_OK;
}

/* The namespaces a test hook pretends are missing, or (probe) the first one the kernel
 * refuses, each tried alone with a user namespace. */
static wd_code check_namespaces(const wd_sandbox *sb, bool probe, wd_err *e)
{
    static const struct {
        int flag;
        const char *name;
        const char *hook;
    } kinds[] = {
        {CLONE_NEWUSER, "user", "user"}, {CLONE_NEWNS, "mount", "mount"},
        {CLONE_NEWPID, "PID", "pid"},    {CLONE_NEWIPC, "IPC", "ipc"},
        {CLONE_NEWUTS, "UTS", "uts"},    {CLONE_NEWNET, "network", "net"},
    };
    int want = ns_flags(sb);
    const char *hook = test_hook("NO_NAMESPACE");
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        if (!(want & kinds[i].flag))
            continue;
        const char *why = kinds[i].flag == CLONE_NEWNET
                              ? (sb->use_proxy ? "needed by network.allow_hosts"
                                               : "needed by network: none")
                              : "needed by every sandbox";
        int err = 0;
        if (hook != NULL && strcmp(hook, kinds[i].hook) == 0) {
            err = EPERM;
        } else if (probe) {
            long c = syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | kinds[i].flag) | SIGCHLD,
                             NULL, NULL, NULL, 0);
            if (c == 0)
                _exit(0);
            if (c < 0)
                err = errno;
            else
                while (waitpid((pid_t)c, NULL, 0) < 0 && errno == EINTR)
                    ;
        }
        if (err != 0)
            return wd_err_set(e, WD_E_IO,
                              "sandbox: the kernel cannot create a %s namespace (%s): %s",
                              kinds[i].name, why, strerror(err));
    }
    return WD_OK;
}

void wd_sandbox_free(wd_sandbox *sb)
{
    if (sb == NULL)
        return;
    wd_cproxy_stop(sb->proxy);
    free(sb->exe);
    for (size_t i = 0; i < sb->n_hosts; i++)
        free(sb->hosts[i]);
    free(sb->hosts);
    free(sb->ports);
    for (size_t i = 0; i < sb->n_rules; i++)
        free(sb->rules[i].path);
    free(sb->rules);
    free(sb->bpf);
    free(sb);
}

static wd_code copy_profile(wd_sandbox *sb, const wd_profile *p, wd_err *e)
{
    if (p == NULL) {
        sb->net = WD_NET_NONE;
        return WD_OK;
    }
    sb->net = p->network;
    sb->privileged = p->privileged;
    if (p->network == WD_NET_ALLOW) {
        if (p->n_allow_hosts > 0) {
            if ((sb->hosts = calloc(p->n_allow_hosts, sizeof *sb->hosts)) == NULL)
                return wd_err_set(e, WD_E_NOMEM, "sandbox: out of memory");
            for (; sb->n_hosts < p->n_allow_hosts; sb->n_hosts++)
                if ((sb->hosts[sb->n_hosts] = xstrdup(p->allow_hosts[sb->n_hosts])) == NULL)
                    return wd_err_set(e, WD_E_NOMEM, "sandbox: out of memory");
            sb->use_proxy = true;
        }
        if (p->n_allow_ports > 0) {
            if ((sb->ports = calloc(p->n_allow_ports, sizeof *sb->ports)) == NULL)
                return wd_err_set(e, WD_E_NOMEM, "sandbox: out of memory");
            memcpy(sb->ports, p->allow_ports, p->n_allow_ports * sizeof *sb->ports);
            sb->n_ports = p->n_allow_ports;
        }
        sb->ll_net = true;
        if (sb->n_hosts == 0 && sb->n_ports == 0) {
            /* nothing allowed at all: the host's network namespace would still leave UDP
             * open, so this is network none */
            sb->net = WD_NET_NONE;
            sb->ll_net = false;
        }
    }
    wd_code r = WD_OK;
    for (size_t i = 0; r == WD_OK && i < p->n_read; i++)
        r = glob_rule(sb, "read", i, p->read[i], RIGHTS_READ, e);
    for (size_t i = 0; r == WD_OK && i < p->n_write; i++)
        r = glob_rule(sb, "write", i, p->write[i], RIGHTS_WRITE, e);
    return r;
}

wd_code wd_sandbox_new(const wd_profile *profile, const char *exe, wd_sandbox **out, wd_err *e)
{
    *out = NULL;
    if (exe == NULL || exe[0] != '/')
        return wd_err_set(e, WD_E_USAGE, "sandbox: the server's executable must be an "
                                         "absolute path");
    wd_sandbox *sb = calloc(1, sizeof *sb);
    if (sb == NULL)
        return wd_err_set(e, WD_E_NOMEM, "sandbox: out of memory");
    wd_code r = WD_OK;
    if ((sb->exe = xstrdup(exe)) == NULL)
        r = wd_err_set(e, WD_E_NOMEM, "sandbox: out of memory");
    for (size_t i = 0; r == WD_OK && i < sizeof system_set / sizeof *system_set; i++)
        r = add_rule(sb, system_set[i].path, strlen(system_set[i].path), system_set[i].rights,
                     false, "system", e);
    if (r == WD_OK)
        r = add_rule(sb, exe, strlen(exe), LL_FS_READ_FILE | LL_FS_EXECUTE, false, "executable",
                     e);
    if (r == WD_OK)
        r = copy_profile(sb, profile, e);
    if (r == WD_OK)
        r = check_namespaces(sb, false, e);
    if (r == WD_OK) {
        sb->abi = wd_sandbox_landlock_abi();
        if (sb->abi == 0)
            r = wd_err_set(e, WD_E_IO,
                           "sandbox: the kernel has no Landlock (the filesystem rules need "
                           "Landlock ABI %d: Linux 6.2 or later with landlock in the LSM list)",
                           ABI_FS);
        else if (sb->abi < ABI_FS)
            r = wd_err_set(e, WD_E_IO,
                           "sandbox: the kernel's Landlock ABI is %d; the filesystem rules need "
                           "ABI %d (truncate control, Linux 6.2)",
                           sb->abi, ABI_FS);
        else if (sb->ll_net && sb->abi < ABI_NET)
            r = wd_err_set(e, WD_E_IO,
                           "sandbox: the kernel's Landlock ABI is %d; network.%s needs ABI %d "
                           "(TCP port rules, Linux 6.7)",
                           sb->abi, sb->use_proxy ? "allow_hosts" : "allow_ports", ABI_NET);
        sb->handled_fs = handled_fs_for(sb->abi);
    }
    if (r == WD_OK && (test_hook("NO_SECCOMP") != NULL ||
                       (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0 && errno == EINVAL)))
        r = wd_err_set(e, WD_E_IO, "sandbox: the kernel has no seccomp filters (needed to refuse "
                                   "mount, ptrace, kexec, module loading, bpf, keyctl, "
                                   "perf_event_open and new user namespaces)");
    if (r == WD_OK)
        r = build_seccomp(sb, e);
    if (r == WD_OK) {
        long cl = 40;
        FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
        if (f != NULL) {
            if (fscanf(f, "%ld", &cl) != 1 || cl < 0 || cl > 63)
                cl = 63;
            fclose(f);
        } else {
            cl = 63;
        }
        sb->cap_last = (int)cl;
    }
    /* the dry run: the whole set-up in a throw-away child, so that spawn cannot meet a
     * refusal the plan did not see (an LSM refusing mounts, a masked /proc, ...) */
    if (r == WD_OK) {
        int rs = build_ruleset(sb, e);
        if (rs < 0) {
            r = e != NULL ? e->code : WD_E_IO;
        } else {
            child_args a;
            memset(&a, 0, sizeof a);
            a.sb = sb;
            a.dry_run = true;
            a.ruleset = rs;
            pid_t pid;
            int pfd;
            r = start_child(&a, &pid, &pfd, e);
            close(rs);
            /* the kernel refused the namespaces: say which one */
            if (r != WD_OK && a.clone_err != 0 && check_namespaces(sb, true, e) == WD_OK)
                wd_err_set(e, WD_E_IO, "sandbox: the kernel cannot create the namespaces: %s",
                           strerror(a.clone_err));
            if (r == WD_OK) {
                int st = 0;
                while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                    ;
                if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                    r = wd_err_set(e, WD_E_IO, "sandbox: the set-up check failed (status %d)",
                                   st);
            }
        }
    }
    if (r != WD_OK) {
        wd_sandbox_free(sb);
        return r;
    }
    *out = sb;
    return WD_OK;
}

/* envp plus the proxy variables (any the caller gave are replaced). The strings are static
 * or the caller's; only the array is allocated. */
static char **proxy_env(char *const envp[])
{
    static char *const extra[] = {
#define PURL "http://127.0.0.1:" WD_STR(WD_SANDBOX_PROXY_PORT)
#define WD_STR(x) WD_STR2(x)
#define WD_STR2(x) #x
        "HTTPS_PROXY=" PURL, "HTTP_PROXY=" PURL, "https_proxy=" PURL, "http_proxy=" PURL,
        "ALL_PROXY=" PURL,   "all_proxy=" PURL,  "NO_PROXY=",        "no_proxy=",
    };
    size_t n = 0;
    while (envp != NULL && envp[n] != NULL)
        n++;
    size_t nx = sizeof extra / sizeof *extra;
    char **out = calloc(n + nx + 1, sizeof *out);
    if (out == NULL)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool replaced = false;
        for (size_t j = 0; j < nx && !replaced; j++) {
            size_t kl = (size_t)(strchr(extra[j], '=') - extra[j]) + 1;
            replaced = strncmp(envp[i], extra[j], kl) == 0;
        }
        if (!replaced)
            out[k++] = envp[i];
    }
    for (size_t j = 0; j < nx; j++)
        out[k++] = extra[j];
    return out;
}

wd_code wd_sandbox_spawn(wd_sandbox *sb, char *const argv[], char *const envp[], int in_fd,
                         int out_fd, int err_fd, int (*pre_exec)(void *), void *ctx, pid_t *pid,
                         wd_err *e)
{
    *pid = -1;
    if (in_fd < 0 || out_fd < 0 || err_fd < 0 || argv == NULL || argv[0] == NULL)
        return wd_err_set(e, WD_E_USAGE, "sandbox: spawn needs argv and three open streams");
    char **env2 = NULL;
    if (sb->use_proxy && (env2 = proxy_env(envp)) == NULL)
        return wd_err_set(e, WD_E_NOMEM, "sandbox: out of memory");
    static char *const empty_env[] = {NULL};
    int rs = build_ruleset(sb, e);
    if (rs < 0) {
        free(env2);
        return e != NULL ? e->code : WD_E_IO;
    }
    /* a respawn: the earlier server's namespace is gone, and its proxy with it */
    wd_cproxy_stop(sb->proxy);
    sb->proxy = NULL;
    child_args a;
    memset(&a, 0, sizeof a);
    a.sb = sb;
    a.ruleset = rs;
    a.fds[0] = in_fd;
    a.fds[1] = out_fd;
    a.fds[2] = err_fd;
    a.argv = argv;
    a.envp = env2 != NULL ? env2 : envp != NULL ? envp : empty_env;
    a.pre_exec = pre_exec;
    a.ctx = ctx;
    int pfd = -1;
    pid_t child;
    wd_code r = start_child(&a, &child, &pfd, e);
    close(rs);
    free(env2);
    if (r != WD_OK)
        return r;
    if (pfd >= 0) {
        r = wd_cproxy_start(pfd, sb->hosts, sb->n_hosts, sb->ports, sb->n_ports, err_fd,
                            &sb->proxy, e);
        if (r != WD_OK) {
            kill(child, SIGKILL);
            while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
                ;
            return r;
        }
    }
    *pid = child;
    return WD_OK;
}
