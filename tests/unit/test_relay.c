/* test_relay.c — the relay of `warden run` over real pipes with the real proxy: lines cut at
 * '\n' whatever the reads, a client line at the cap forwarded and one past it answered and not
 * forwarded, a server line past the cap dropped, the server's last unterminated line relayed
 * as it was, pending requests answered when the server is gone, the server still read while
 * its own input is full; and --restart's parser at its limits. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "proxy.h"
#include "relay.h"
#include "run.h"

typedef struct rig {
    int cw, cout_r;  /* the test's ends: writes the client's lines, reads what the client gets */
    int srv_r, so_w; /* reads what the server gets, writes the server's lines */
    wd_relay r;
    wd_proxy *p;
} rig;

static void rig_up(rig *g, size_t max)
{
    int c[2], o[2], si[2], so[2];
    assert_int_equal(pipe(c), 0);
    assert_int_equal(pipe(o), 0);
    assert_int_equal(pipe(si), 0);
    assert_int_equal(pipe(so), 0);
    g->cw = c[1];
    g->cout_r = o[0];
    g->srv_r = si[0];
    g->so_w = so[1];
    fcntl(g->cout_r, F_SETFL, O_NONBLOCK);
    fcntl(g->srv_r, F_SETFL, O_NONBLOCK);
    wd_relay_init(&g->r, c[0], o[1], max);
    wd_err e;
    assert_int_equal(wd_proxy_new("srv", max, NULL, &g->p, &e), WD_OK);
    wd_relay_attach(&g->r, si[1], so[0], g->p);
}

static void rig_down(rig *g)
{
    int cin = g->r.cin, cout = g->r.cout;
    wd_relay_close(&g->r);
    wd_proxy_free(g->p);
    close(cin);
    close(cout);
    close(g->cw);
    close(g->cout_r);
    close(g->srv_r);
    if (g->so_w >= 0)
        close(g->so_w);
}

/* Run the relay until nothing happens for 100 ms. */
static void pump(rig *g)
{
    for (int idle = 0; idle < 2;) {
        struct pollfd pfds[WD_RELAY_NFDS];
        size_t n = wd_relay_pollfds(&g->r, pfds);
        int pr = poll(pfds, n, 50);
        if (pr <= 0) {
            idle++;
            continue;
        }
        wd_err e;
        assert_int_equal(wd_relay_io(&g->r, pfds, n, &e), WD_OK);
    }
}

/* Everything readable on fd now, NUL-terminated (malloc'd). */
static char *drain(int fd)
{
    size_t cap = 1 << 16, len = 0;
    char *b = malloc(cap + 1);
    assert_non_null(b);
    for (;;) {
        ssize_t n = read(fd, b + len, cap - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == cap) {
            b = realloc(b, (cap *= 2) + 1);
            assert_non_null(b);
        }
    }
    b[len] = '\0';
    return b;
}

static void put(int fd, const char *s)
{
    assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

static void lines_whatever_the_reads(void **state)
{
    rig g;
    rig_up(&g, 4096);
    put(g.cw, "{\"jsonrpc\":\"2.0\",\"id\":1,\"meth");
    pump(&g);
    char *s = drain(g.srv_r);
    assert_string_equal(s, ""); /* nothing of a partial line */
    free(s);
    put(g.cw, "od\":\"ping\"}\n{\"jsonrpc\":\"2.0\",\"method\":\"n\"}\n");
    pump(&g);
    s = drain(g.srv_r);
    assert_string_equal(s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n"
                           "{\"jsonrpc\":\"2.0\",\"method\":\"n\"}\n");
    free(s);
    put(g.so_w, "{\"jsonrpc\":\"2.0\",\"id\":1,");
    pump(&g);
    put(g.so_w, "\"result\":{}}\n");
    pump(&g);
    s = drain(g.cout_r);
    assert_string_equal(s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n");
    free(s);
    rig_down(&g);
}

/* A request padded with spaces to exactly len bytes. */
static char *padded(int id, size_t len)
{
    char head[64];
    int hl = snprintf(head, sizeof head, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"ping\"", id);
    char *s = malloc(len + 2);
    assert_non_null(s);
    memcpy(s, head, (size_t)hl);
    memset(s + hl, ' ', len - (size_t)hl - 1);
    s[len - 1] = '}';
    s[len] = '\n';
    s[len + 1] = '\0';
    return s;
}

static void client_cap(void **state)
{
    rig g;
    rig_up(&g, 200);
    char *at = padded(1, 200), *over = padded(2, 201);
    put(g.cw, at);
    put(g.cw, over);
    pump(&g);
    char *s = drain(g.srv_r);
    assert_string_equal(s, at); /* at the cap: forwarded; one past: not */
    free(s);
    s = drain(g.cout_r);
    assert_non_null(strstr(s, "\"id\":2"));
    assert_non_null(strstr(s, "-32600"));
    free(s);
    free(at);
    free(over);
    rig_down(&g);
}

static void server_cap_and_gone(void **state)
{
    rig g;
    rig_up(&g, 200);
    put(g.cw, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"x\"}}\n");
    pump(&g);
    free(drain(g.srv_r));
    char *big = padded(7, 201);
    put(g.so_w, big); /* the answer, past the cap: dropped */
    free(big);
    put(g.so_w, "last words");
    pump(&g);
    char *s = drain(g.cout_r);
    assert_string_equal(s, "");
    free(s);
    assert_int_equal(g.r.dropped_server_lines, 1);
    close(g.so_w);
    g.so_w = -1;
    pump(&g);
    assert_true(g.r.sout_eof);
    wd_err e;
    assert_int_equal(wd_relay_server_gone(&g.r, &e), WD_OK);
    assert_true(wd_relay_flush_client(&g.r, 5000));
    s = drain(g.cout_r);
    /* the unterminated last line as it was, then the pending call's error */
    static const char want[] = "last words{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":-32603";
    assert_memory_equal(s, want, sizeof want - 1);
    free(s);
    assert_int_equal(g.r.sin, -1);
    assert_int_equal(g.r.sout, -1);
    rig_down(&g);
}

static void restart_parse(void **state)
{
    wd_restart_mode m = WD_RESTART_NO;
    unsigned max = 99;
    wd_err e;
    assert_int_equal(wd_restart_parse("on-failure", &m, &max, &e), WD_OK);
    assert_int_equal(m, WD_RESTART_ON_FAILURE);
    assert_int_equal(max, 0);
    assert_int_equal(wd_restart_parse("on-failure:1", &m, &max, &e), WD_OK);
    assert_int_equal(max, 1);
    assert_int_equal(wd_restart_parse("on-failure:1000000", &m, &max, &e), WD_OK);
    assert_int_equal(max, 1000000);
    assert_int_equal(wd_restart_parse("no", &m, &max, &e), WD_OK);
    assert_int_equal(m, WD_RESTART_NO);
    static const char *bad[] = {"on-failure:0", "on-failure:1000001", "on-failure:", "on-failure:01",
                                "on-failure:1x", "always", "", "on-failure:99999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        m = WD_RESTART_NO;
        max = 42;
        assert_int_equal(wd_restart_parse(bad[i], &m, &max, &e), WD_E_USAGE);
        assert_int_equal(m, WD_RESTART_NO); /* nothing changed */
        assert_int_equal(max, 42);
    }
}

/* True when the relay's pollfds wait to read fd. */
static bool polls_read(rig *g, int fd)
{
    struct pollfd pfds[WD_RELAY_NFDS];
    size_t n = wd_relay_pollfds(&g->r, pfds);
    for (size_t i = 0; i < n; i++)
        if (pfds[i].fd == fd && (pfds[i].events & POLLIN))
            return true;
    return false;
}

/* A server that does not read its stdin while the client sends more than the relay buffers for
 * it: the client is no longer read, but the server still is, and its lines reach the client
 * (no deadlock with a server blocked on its stdout). */
static void server_read_while_its_input_is_full(void **state)
{
    (void)state;
    rig g;
    rig_up(&g, 64 * 1024);
    fcntl(g.cw, F_SETFL, O_NONBLOCK);
    size_t big = 32 * 1024;
    char *line = malloc(big + 128);
    assert_non_null(line);
    int head = snprintf(line, 128, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\","
                                   "\"params\":{\"p\":\"");
    memset(line + head, 'x', big);
    size_t len = (size_t)head + big;
    len += (size_t)snprintf(line + len, 128, "\"}}\n");
    size_t sent_lines = 0;
    for (int rounds = 0; rounds < 10000 && polls_read(&g, g.r.cin); rounds++) {
        if (write(g.cw, line, len) == (ssize_t)len)
            sent_lines++;
        struct pollfd pfds[WD_RELAY_NFDS];
        size_t n = wd_relay_pollfds(&g.r, pfds);
        if (poll(pfds, n, 50) > 0) {
            wd_err e;
            assert_int_equal(wd_relay_io(&g.r, pfds, n, &e), WD_OK);
        }
    }
    free(line);
    assert_true(sent_lines * len > WD_RELAY_HIGH);
    assert_true(wd_relay_pending_server(&g.r) >= WD_RELAY_HIGH);
    assert_false(polls_read(&g, g.r.cin));
    assert_true(polls_read(&g, g.r.sout));
    put(g.so_w, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\"}\n");
    pump(&g);
    char *got = drain(g.cout_r);
    assert_string_equal(got, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\"}\n");
    free(got);
    rig_down(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lines_whatever_the_reads),
        cmocka_unit_test(client_cap),
        cmocka_unit_test(server_cap_and_gone),
        cmocka_unit_test(restart_parse),
        cmocka_unit_test(server_read_while_its_input_is_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
