/* SPDX-License-Identifier: BSD-2-Clause */
/* Connection plumbing shared by the FastCGI and HTTP codecs. The read
 * callback is the only place a codec parses; everything that happens
 * inside it defers flushing and freeing to its end, so no frame above
 * ever sees its connection freed. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "fpmd/conn.h"
#include "fpmd/log.h"
#include "fpmd/worker.h"

static struct fpmd_conn *conns;

/* How long a half-closed connection waits for its peer's EOF. */
#define LINGER_MS 1000

/* Reads and drops what the peer still sends after the answer; closes at
 * its EOF (or on an error). */
static void
drain_input(struct fpmd_conn *c)
{
    char scratch[4096];
    ssize_t n;

    while ((n = read(c->fd, scratch, sizeof(scratch))) > 0)
        ;
    if (n == 0 || (errno != EAGAIN && errno != EINTR))
        fpmd_conn_close(c);
}

/* Closing a socket whose input was not all read makes the kernel send an
 * RST, and a peer that gets one may drop the answer it has not read yet
 * (nginx does, when a handler answers before the request body ended, as
 * with fastcgi_request_buffering off). So: half-close, read and drop
 * until the peer's EOF, then close; LINGER_MS at most. */
static void
linger(struct fpmd_conn *c)
{
    shutdown(c->fd, SHUT_WR);
    c->lingering = 1;
    event_add(&c->read_ev, NULL);
    fpmd_conn_timer(c, fpmd_conn_timeout(LINGER_MS));
    drain_input(c);
}

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
    struct fpmd_conn *c = arg;
    int paused;

    if (c->lingering) {
        drain_input(c);
        fpmd_conn_maybe_free(c);
        return;
    }
    c->in_callback = 1;
    paused = c->ops->read(c);
    c->in_callback = 0;
    if (!c->closed) {
        /* Closing: no new request is read, but the rest of one already
         * under way is (the tail of a body answered early), so that the
         * codec gets back to idle and the connection can close. */
        if (paused || (c->close_after_flush && c->ops->idle(c)))
            event_del(&c->read_ev);
        else
            event_add(&c->read_ev, NULL);
        fpmd_conn_flush(c);
    }
    if (!c->closed && !c->lingering)
        c->ops->update_timer(c);
    fpmd_conn_maybe_free(c);
}

static void
on_write(evutil_socket_t fd, short what, void *arg)
{
    struct fpmd_conn *c = arg;

    c->write_armed = 0;
    fpmd_conn_flush(c);
    fpmd_conn_maybe_free(c);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct fpmd_conn *c = arg;

    c->timer_armed = 0;
    if (c->lingering) {     /* the peer never closed: enough */
        fpmd_conn_close(c);
        fpmd_conn_maybe_free(c);
        return;
    }
    c->ops->timeout(c);
    if (!c->closed)
        fpmd_conn_flush(c);
    fpmd_conn_maybe_free(c);
}

int
fpmd_conn_init(struct fpmd_conn *c, const struct fpmd_conn_ops *ops, int fd,
               const char *peer)
{
    c->out = evbuffer_new();
    if (c->out == NULL)
        return FPMD_ERROR;
    c->ops = ops;
    c->fd = fd;
    c->fresh = 1;
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    event_assign(&c->read_ev, fpmd_worker->base, fd, EV_READ | EV_PERSIST,
                 on_read, c);
    event_assign(&c->write_ev, fpmd_worker->base, fd, EV_WRITE, on_write, c);
    event_assign(&c->timer_ev, fpmd_worker->base, -1, 0, on_timer, c);
    event_add(&c->read_ev, NULL);
    c->next = conns;
    if (conns != NULL)
        conns->prev = c;
    conns = c;
    ops->update_timer(c);
    return FPMD_OK;
}

int
fpmd_conn_congested(const struct fpmd_conn *c)
{
    return !c->closed && evbuffer_get_length(c->out) > FPMD_CONN_OUT_HIGH;
}

void
fpmd_conn_after_write(struct fpmd_conn *c)
{
    if (evbuffer_get_length(c->out) > FPMD_CONN_OUT_HIGH)
        fpmd_conn_flush(c);
    else if (!c->in_callback && !c->closed)
        /* A handler resumed by another socket's event (a backend's) writes
         * its answer in pieces and then ends it: the write goes out once,
         * later in this loop pass, with all of them. */
        event_active(&c->write_ev, EV_WRITE, 1);
}

void
fpmd_conn_flush(struct fpmd_conn *c)
{
    while (!c->closed && evbuffer_get_length(c->out) > 0) {
        if (evbuffer_write(c->out, c->fd) < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            if (errno != EPIPE && errno != ECONNRESET)
                fpmd_log_errno(FPMD_LOG_NOTICE, "%s: write", c->peer);
            fpmd_conn_close(c);
            return;
        }
    }
    if (c->closed)
        return;
    if (evbuffer_get_length(c->out) > 0) {
        if (!c->write_armed) {
            event_add(&c->write_ev, NULL);
            c->write_armed = 1;
        }
    } else {
        if (c->write_armed) {
            event_del(&c->write_ev);
            c->write_armed = 0;
        }
        if (c->close_after_flush && !c->ops->busy(c) && c->ops->idle(c)
            && !c->lingering) {
            /* RFC 9112 §9.6: half-close first, so the peer reads the
             * answer before it sees the connection go; unless the peer
             * has said all it will, and nothing of it is left unread. */
            if (c->ops->input_done != NULL && c->ops->input_done(c))
                fpmd_conn_close(c);
            else
                linger(c);
            return;
        }
    }
    if (evbuffer_get_length(c->out) < FPMD_CONN_OUT_LOW)
        c->ops->drained(c);
}

void
fpmd_conn_close(struct fpmd_conn *c)
{
    if (c->closed)
        return;
    c->closed = 1;
    event_del(&c->read_ev);
    event_del(&c->write_ev);
    if (c->timer_armed)
        event_del(&c->timer_ev);
    c->timer_armed = c->write_armed = 0;
    close(c->fd);
    c->fd = -1;
    c->ops->closed(c);
}

void
fpmd_conn_settle(struct fpmd_conn *c)
{
    if (c->in_callback)
        return;
    fpmd_conn_flush(c);
    if (c->closed)
        fpmd_conn_maybe_free(c);
    else if (!c->lingering)
        c->ops->update_timer(c);
}

void
fpmd_conn_maybe_free(struct fpmd_conn *c)
{
    if (!c->closed || c->in_callback || c->ops->busy(c))
        return;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    evbuffer_free(c->out);
    fpmd_worker_conn_closed(c->fresh);
    c->ops->destroy(c);
}

void
fpmd_conn_timer(struct fpmd_conn *c, const struct timeval *tv)
{
    if (tv == NULL) {
        if (c->timer_armed)
            event_del(&c->timer_ev);
        c->timer_armed = 0;
        return;
    }
    event_add(&c->timer_ev, tv);
    c->timer_armed = 1;
}

const struct timeval *
fpmd_conn_timeout(uint64_t ms)
{
    struct timeval tv = {(time_t) (ms / 1000), (suseconds_t) (ms % 1000) * 1000};

    return event_base_init_common_timeout(fpmd_worker->base, &tv);
}

void
fpmd_conn_read_again(struct fpmd_conn *c)
{
    if (!c->closed)
        event_active(&c->read_ev, EV_READ, 0);
}

void
fpmd_conn_unfresh(struct fpmd_conn *c)
{
    if (c->fresh) {
        c->fresh = 0;
        fpmd_worker_conn_unfresh();
    }
}

void
fpmd_conn_drain_all(void)
{
    struct fpmd_conn *c, *next;

    for (c = conns; c != NULL; c = next) {
        next = c->next;
        if (c->ops->drain(c)) {
            fpmd_conn_close(c);
            fpmd_conn_maybe_free(c);
        }
    }
}

void
fpmd_conn_close_all(void)
{
    struct fpmd_conn *c, *next;

    for (c = conns; c != NULL; c = next) {
        next = c->next;
        fpmd_conn_close(c);
        fpmd_conn_maybe_free(c);
    }
}
