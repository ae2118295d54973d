/* sandbox_probe.c — a test fixture, run both inside the sandbox and directly: it tries ONE
 * action named on its command line and prints "allowed" (exit 0) or "refused: <why>" (exit 1);
 * 2 is a usage error. The sandbox tests compare the two runs, so that every refusal they
 * assert is shown to be the sandbox's doing. It must never do anything it was not asked to,
 * and never talk to an address that is not loopback. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/capability.h>

static int allowed(void)
{
    printf("allowed\n");
    return 0;
}

static int refused(const char *what)
{
    printf("refused: %s: %s\n", what, strerror(errno));
    return 1;
}

static int tcp_connect(const char *ip, const char *port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0)
        return -1;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)atoi(port));
    if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1) {
        errno = EINVAL;
        close(s);
        return -1;
    }
    if (connect(s, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int err = errno;
        close(s);
        errno = err;
        return -1;
    }
    return s;
}

/* CONNECT host:port through $HTTPS_PROXY (http://IP:PORT), then check the tunnel echoes;
 * eager: send the first bytes with the request, before the proxy's answer. */
static int via_proxy(const char *host, const char *port, bool eager)
{
    const char *px = getenv("HTTPS_PROXY");
    char ip[64], pp[16];
    if (px == NULL || sscanf(px, "http://%63[0-9.]:%15[0-9]", ip, pp) != 2) {
        errno = EINVAL;
        return refused("HTTPS_PROXY");
    }
    int s = tcp_connect(ip, pp);
    if (s < 0)
        return refused("connect to the proxy");
    char req[512];
    int n = snprintf(req, sizeof req, "CONNECT %s:%s HTTP/1.1\r\nHost: %s:%s\r\n\r\n%s", host,
                     port, host, port, eager ? "ping\n" : "");
    if (write(s, req, (size_t)n) != n)
        return refused("write");
    char buf[512];
    size_t len = 0;
    while (len < sizeof buf - 1) {
        ssize_t r = read(s, buf + len, 1);
        if (r <= 0)
            break;
        len++;
        if (len >= 4 && memcmp(buf + len - 4, "\r\n\r\n", 4) == 0)
            break;
    }
    buf[len] = '\0';
    if (strncmp(buf, "HTTP/1.1 200", 12) != 0) {
        char *eol = strstr(buf, "\r\n");
        if (eol != NULL)
            *eol = '\0';
        printf("refused: proxy answered: %s\n", buf);
        return 1;
    }
    if (!eager && write(s, "ping\n", 5) != 5)
        return refused("write through the tunnel");
    len = 0;
    while (len < 5) {
        ssize_t r = read(s, buf + len, 5 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(s);
    if (len != 5 || memcmp(buf, "ping\n", 5) != 0) {
        errno = EPROTO;
        return refused("no echo through the tunnel");
    }
    return allowed();
}

/* Send LINE (or, for "BIG", 9000 bytes with no end of head) to the proxy as a request head
 * and print its status line. */
static int raw_proxy(const char *line)
{
    int s = tcp_connect("127.0.0.1", "3128");
    if (s < 0)
        return refused("connect to the proxy");
    static char big[9000];
    unsigned total = 0;
    int off = 0;
    if (strcmp(line, "BIG") == 0) {
        memset(big, 'a', sizeof big);
        if (write(s, big, sizeof big) < 0)
            return refused("write");
    } else if (sscanf(line, "PAD %u %n", &total, &off) == 1 && total < sizeof big) {
        /* PAD N LINE: LINE, then an X-Pad header making the head exactly N bytes */
        int n = snprintf(big, sizeof big, "%s\r\nX-Pad: ", line + off);
        if (n < 0 || (unsigned)n + 4 > total)
            return 2;
        memset(big + n, 'p', total - (unsigned)n - 4);
        memcpy(big + total - 4, "\r\n\r\n", 4);
        if (write(s, big, total) != (ssize_t)total)
            return refused("write");
    } else if (strcmp(line, "NUL") == 0) {
        static const char req[] = "CONNECT\0localhost:1 HTTP/1.1\r\n\r\n";
        if (write(s, req, sizeof req - 1) != (ssize_t)sizeof req - 1)
            return refused("write");
    } else {
        char req[600];
        int n = snprintf(req, sizeof req, "%s\r\n\r\n", line);
        if (write(s, req, (size_t)n) != n)
            return refused("write");
    }
    char buf[256];
    ssize_t n = read(s, buf, sizeof buf - 1);
    close(s);
    if (n <= 0)
        return refused("read");
    buf[n] = '\0';
    char *eol = strstr(buf, "\r\n");
    if (eol != NULL)
        *eol = '\0';
    printf("status: %s\n", buf);
    return 0;
}

static int any_caps(void)
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) != 0)
        return refused("capget");
    int bnd = 0;
    for (int c = 0; c <= 40; c++)
        if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1)
            bnd++;
    printf("effective=%08x%08x bounding=%d\n", d[1].effective, d[0].effective, bnd);
    if (d[0].effective == 0 && d[1].effective == 0 && bnd == 0) {
        printf("refused: no capabilities\n");
        return 1;
    }
    return allowed();
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: sandbox_probe ACTION [ARGS]\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *a = argv[1];
    if (strcmp(a, "read") == 0 && argc == 3) {
        int fd = open(argv[2], O_RDONLY);
        char c;
        if (fd < 0 || read(fd, &c, 1) < 0)
            return refused("read");
        return allowed();
    }
    if (strcmp(a, "write") == 0 && argc == 3) {
        int fd = open(argv[2], O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd < 0 || write(fd, "x", 1) != 1)
            return refused("write");
        return allowed();
    }
    if (strcmp(a, "connect") == 0 && argc == 4) {
        int s = tcp_connect(argv[2], argv[3]);
        if (s < 0)
            return refused("connect");
        close(s);
        return allowed();
    }
    if (strcmp(a, "bind") == 0 && argc == 2) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa;
        memset(&sa, 0, sizeof sa);
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof sa) != 0)
            return refused("bind");
        close(s);
        return allowed();
    }
    if (strcmp(a, "abstract") == 0 && argc == 3) {
        /* connect to the abstract unix socket @NAME */
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un su;
        memset(&su, 0, sizeof su);
        su.sun_family = AF_UNIX;
        size_t n = strlen(argv[2]);
        if (s < 0 || n + 1 > sizeof su.sun_path)
            return refused("socket");
        memcpy(su.sun_path + 1, argv[2], n);
        if (connect(s, (struct sockaddr *)&su, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n)) != 0)
            return refused("connect to an abstract unix socket");
        close(s);
        return allowed();
    }
    if (strcmp(a, "hostname") == 0 && argc == 2) {
        struct utsname u;
        uname(&u);
        printf("hostname=%s\n", u.nodename);
        return 0;
    }
    if (strcmp(a, "raw-proxy") == 0 && argc == 3)
        return raw_proxy(argv[2]);
    if (strcmp(a, "proxy") == 0 && argc == 4)
        return via_proxy(argv[2], argv[3], false);
    if (strcmp(a, "proxy-eager") == 0 && argc == 4)
        return via_proxy(argv[2], argv[3], true);
    if (strcmp(a, "mount") == 0 && argc == 3) {
        if (mount("none", argv[2], "tmpfs", 0, "size=64k") != 0)
            return refused("mount");
        umount2(argv[2], MNT_DETACH);
        return allowed();
    }
    if (strcmp(a, "ptrace") == 0 && argc == 2) {
        pid_t c = fork();
        if (c == 0) {
            pause();
            _exit(0);
        }
        long r = ptrace(PTRACE_ATTACH, c, NULL, NULL);
        int err = errno;
        if (r == 0) {
            waitpid(c, NULL, __WALL);
            ptrace(PTRACE_DETACH, c, NULL, NULL);
        }
        kill(c, SIGKILL);
        waitpid(c, NULL, 0);
        errno = err;
        return r == 0 ? allowed() : refused("ptrace");
    }
    if (strcmp(a, "unshare-user") == 0 && argc == 2)
        return unshare(CLONE_NEWUSER) == 0 ? allowed() : refused("unshare(CLONE_NEWUSER)");
    if (strcmp(a, "setuid") == 0 && argc == 2) {
        printf("uid=%d euid=%d\n", (int)getuid(), (int)geteuid());
        if (geteuid() == getuid()) {
            printf("refused: the setuid bit gave nothing\n");
            return 1;
        }
        return allowed();
    }
    if (strcmp(a, "id") == 0 && argc == 2) {
        printf("uid=%d gid=%d\n", (int)getuid(), (int)getgid());
        return 0;
    }
    if (strcmp(a, "caps") == 0 && argc == 2)
        return any_caps();
    if (strcmp(a, "pid") == 0 && argc == 2) {
        printf("pid=%d\n", (int)getpid());
        return 0;
    }
    if (strcmp(a, "env") == 0 && argc == 3) {
        const char *v = getenv(argv[2]);
        printf("%s=%s\n", argv[2], v ? v : "(unset)");
        return 0;
    }
    if (strcmp(a, "exit") == 0 && argc == 3)
        return atoi(argv[2]);
    if (strcmp(a, "wait") == 0 && argc == 3) {
        /* say we run (a file the test waits for), then wait for a signal */
        int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0)
            close(fd);
        for (;;)
            pause();
    }
    fprintf(stderr, "sandbox_probe: unknown action or wrong arguments: %s\n", a);
    return 2;
}
