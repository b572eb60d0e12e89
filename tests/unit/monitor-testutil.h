/*
 * Monitor tests: a monitor's chardev is one end of a socketpair (fd=),
 * the test is the peer at the other end, on the default main context.
 */
#pragma once

#include "vmhost/chardev/chardev.h"
#include "vmhost/monitor/monitor.h"
#include "vmhost/monitor/qmp.h"

typedef struct {
    VhChardev *chr; /* the monitor's side, registered as @id */
    int fd;         /* the test's side, non-blocking */
    GString *in;    /* received, not yet consumed */
} MonPeer;

/* A machine over 8 MiB of RAM, in prelaunch. */
VhMachine *mon_machine_new(void);

/* A connected socket chardev @id (registered) and its peer end. */
void mon_peer_open(MonPeer *p, const char *id);
/* Unregister and close the chardev; close the peer fd. */
void mon_peer_close(MonPeer *p);

void mon_send(MonPeer *p, const char *text);
/* Send @text with @fd attached (SCM_RIGHTS). */
void mon_send_fd(MonPeer *p, const char *text, int fd);
/* A pipe whose write end is sent with getfd: true if @fd is that end. */
bool mon_fd_is_pipe_end(int fd, int read_end);
/* Iterate the default context until @pred (or fail after 10 s). */
void mon_wait(bool (*pred)(void *), void *opaque);
/* Take the received text up to and including @end (transfer full). */
char *mon_read_until(MonPeer *p, const char *end);
/* Iterate the context a little, for output that must not come. */
void mon_settle(void);

/* The next message from a QMP monitor, parsed: a JSON object (transfer full).
 */
JsonObject *mon_read_json(MonPeer *p);
/*
 * A QMP monitor for @host on a new peer "qmp0" (transfer full), its
 * greeting read and checked; not negotiated.
 */
VhQmp *mon_qmp_open(MonPeer *p, VhMonitorHost *host);
/* Free @qmp, clear @host, close the peer and remove every chardev. */
void mon_qmp_close(MonPeer *p, VhMonitorHost *host, VhQmp *qmp);
