/* watch.c — hearing what other leaders sharing the store change (SPEC §16): one thread with its
 * own libevent loop watches the store's dedicated listening connection (watch_open's socket)
 * and hands each announced stream key to the `changed` hook, which re-reads that stream into
 * the in-memory view and wakes the held polls waiting on it. When the connection is lost it is
 * reopened after a short, growing delay (100 ms doubling to 5 s), and every successful open is
 * followed by changed(NULL): re-read everything, since announcements made while nobody
 * listened are gone. It must never block a worker's loop, never spin on a dead connection, and
 * never call the hook after wd_watch_stop returned. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "metrics.h"
#include "watch.h"

#define RETRY_MIN_MS 100
#define RETRY_MAX_MS 5000

struct wd_watch {
    wd_leader *L;
    void (*changed)(wd_leader *L, const char *key);
    struct event_base *base;
    struct event *rd;    /* the socket of the listening connection */
    struct event *retry; /* reopen timer */
    struct event *stop;  /* activated by wd_watch_stop */
    pthread_t th;
    bool started;
    atomic_bool up;      /* listening now */
    int delay_ms;
    bool logged_down;    /* one warning per outage, not one per retry */
};

static void schedule_retry(wd_watch *w)
{
    struct timeval tv = {w->delay_ms / 1000, (w->delay_ms % 1000) * 1000};
    evtimer_add(w->retry, &tv);
    w->delay_ms = w->delay_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : w->delay_ms * 2;
}

static void lost(wd_watch *w, const wd_err *e)
{
    wd_store *s = w->L->store;
    atomic_store(&w->up, false);
    if (w->rd != NULL) {
        event_free(w->rd);
        w->rd = NULL;
    }
    s->ops->watch_close(s);
    if (!w->logged_down) {
        wd_log(w->L, WD_LOG_WARN, "store-watch", "outcome", "lost", "error", e->msg,
               "detail", "not hearing other leaders' changes; reconnecting", NULL);
        wd_metrics_error(w->L->metrics, "operational");
        w->logged_down = true;
    }
    schedule_retry(w);
}

static void on_key(void *ctx, const char *key)
{
    wd_watch *w = ctx;
    w->changed(w->L, key);
}

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    wd_watch *w = arg;
    wd_store *s = w->L->store;
    wd_err e;
    wd_err_clear(&e);
    if (s->ops->watch_read(s, on_key, w, &e) != WD_OK)
        lost(w, &e);
}

static void open_cb(evutil_socket_t fd0, short what, void *arg)
{
    (void)fd0;
    (void)what;
    wd_watch *w = arg;
    wd_store *s = w->L->store;
    wd_err e;
    wd_err_clear(&e);
    int fd = -1;
    if (s->ops->watch_open(s, &fd, &e) != WD_OK) {
        if (!w->logged_down) {
            wd_log(w->L, WD_LOG_WARN, "store-watch", "outcome", "unavailable", "error", e.msg,
                   "detail", "not hearing other leaders' changes; retrying", NULL);
            wd_metrics_error(w->L->metrics, "operational");
            w->logged_down = true;
        }
        schedule_retry(w);
        return;
    }
    w->rd = event_new(w->base, fd, EV_READ | EV_PERSIST, read_cb, w);
    if (w->rd == NULL || event_add(w->rd, NULL) != 0) {
        wd_err_set(&e, WD_E_NOMEM, "cannot watch the listening connection");
        lost(w, &e);
        return;
    }
    atomic_store(&w->up, true);
    w->delay_ms = RETRY_MIN_MS;
    if (w->logged_down)
        wd_log(w->L, WD_LOG_INFO, "store-watch", "outcome", "listening", NULL);
    w->logged_down = false;
    /* whatever was announced before we listened is not coming: re-read everything */
    w->changed(w->L, NULL);
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    wd_watch *w = arg;
    event_base_loopbreak(w->base);
}

static void *watch_main(void *arg)
{
    wd_watch *w = arg;
    event_base_dispatch(w->base);
    return NULL;
}

static void watch_free(wd_watch *w)
{
    if (w->rd != NULL)
        event_free(w->rd);
    if (w->retry != NULL)
        event_free(w->retry);
    if (w->stop != NULL)
        event_free(w->stop);
    if (w->base != NULL)
        event_base_free(w->base);
    free(w);
}

wd_code wd_watch_start(wd_leader *L, void (*changed)(wd_leader *L, const char *key),
                       wd_watch **out, wd_err *e)
{
    *out = NULL;
    if (L == NULL || L->store == NULL || L->store->ops->watch_open == NULL || changed == NULL)
        return WD_OK; /* nothing to hear */
    wd_watch *w = calloc(1, sizeof *w);
    if (w == NULL)
        return wd_err_set(e, WD_E_NOMEM, "out of memory");
    w->L = L;
    w->changed = changed;
    atomic_init(&w->up, false);
    w->delay_ms = RETRY_MIN_MS;
    w->base = event_base_new();
    w->retry = w->base ? evtimer_new(w->base, open_cb, w) : NULL;
    w->stop = w->base ? event_new(w->base, -1, EV_PERSIST, stop_cb, w) : NULL;
    if (w->stop == NULL || w->retry == NULL || event_add(w->stop, NULL) != 0) {
        watch_free(w);
        return wd_err_set(e, WD_E_NOMEM, "cannot create the store watcher's event loop");
    }
    /* the first open runs on the watcher's thread, at once */
    struct timeval now = {0, 0};
    evtimer_add(w->retry, &now);
    if (pthread_create(&w->th, NULL, watch_main, w) != 0) {
        watch_free(w);
        return wd_err_set(e, WD_E_IO, "cannot start the store watcher's thread");
    }
    w->started = true;
    *out = w;
    return WD_OK;
}

bool wd_watch_ok(const wd_watch *w)
{
    return w == NULL || atomic_load(&((wd_watch *)w)->up);
}

void wd_watch_stop(wd_watch *w)
{
    if (w == NULL)
        return;
    if (w->started) {
        event_active(w->stop, EV_READ, 0);
        pthread_join(w->th, NULL);
    }
    if (w->L->store != NULL && w->L->store->ops->watch_close != NULL)
        w->L->store->ops->watch_close(w->L->store);
    watch_free(w);
}
