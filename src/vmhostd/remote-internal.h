/*
 * Shared by remote.c (the server, per-connection state, events) and the
 * procedure files remote-connect.c and remote-domain.c.
 */
#pragma once

#include "remote.h"
#include "vmhost/rpc/remote-protocol.h"
#include "vmhost/rpc/server.h"

struct _VhRemoteServer {
    VhDriver *drv;
    VhRpcServer *rpc;
    guint event_id;
    GMutex lock;      /* conns */
    GPtrArray *conns; /* VhRpcConn * (a reference each) */
    /* our keepalive on the connections we open (p2p migration) */
    guint keepalive_interval_ms, keepalive_count;
};

typedef struct {
    int id;       /* callbackID; -1 for the legacy registrations */
    int event_id; /* virDomainEventID */
    bool has_dom;
    guint8 uuid[VH_REMOTE_UUID_LEN];
} RemoteEventCb;

/* A connection's REMOTE_PROGRAM state (vh_rpc_conn_get_data). */
typedef struct {
    VhRemoteServer *srv;
    GMutex lock; /* everything below */
    char *uri;
    bool opened;
    GArray *cbs; /* RemoteEventCb */
    int next_cb_id;
    bool legacy_lifecycle; /* DOMAIN_EVENT_REGISTER(_ANY) of LIFECYCLE */
    GPtrArray *incoming;   /* names of migrations prepared here: stopped
                              if the connection ends before their finish */
} RemoteConn;

static inline RemoteConn *remote_conn(VhRpcCall *call)
{
    return vh_rpc_conn_get_data(vh_rpc_call_get_conn(call));
}

static inline VhDriver *remote_driver(VhRpcCall *call)
{
    return remote_conn(call)->srv->drv;
}

/* INVALID_ARG "unsupported flags (0x%x) in function %s" for bits outside
 * @allowed, as libvirt's virCheckFlags says it. */
bool remote_check_flags(guint32 flags, guint32 allowed, const char *func,
                        GError **errp);

extern const VhRpcProc vh_remote_connect_procs[];
extern const gsize vh_remote_connect_n_procs;
extern const VhRpcProc vh_remote_domain_procs[];
extern const gsize vh_remote_domain_n_procs;
extern const VhRpcProc vh_remote_event_procs[];
extern const gsize vh_remote_event_n_procs;
/* remote-migrate.c: the connection ended; stop what it left prepared. */
void vh_remote_migrate_conn_closed(RemoteConn *rc);
extern const VhRpcProc vh_remote_migrate_procs[];
extern const gsize vh_remote_migrate_n_procs;
