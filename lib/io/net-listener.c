/*
 * VhNetListener: a set of listening sockets polled on one GMainContext.
 */
#include "vmhost/io/net-listener.h"

#include "vmhost/io/address.h"

/* After accept() fails for lack of resources (EMFILE...), stop polling for
 * this long rather than spin on a socket that stays readable. */
#define LISTENER_BACKOFF_MS 100

/* How often open() with port 0 retries when the chosen port is taken on a
 * later address (another process got it between the binds). */
#define LISTENER_PORT_ATTEMPTS 10

struct _VhNetListener {
    GObject parent_instance;
    GPtrArray *sockets; /* VhChannelSocket *, listening */
    GPtrArray *watches; /* GSource *, one per socket while accepting */
    VhNetListenerClientFunc func;
    gpointer opaque;
    GDestroyNotify notify;
    GMainContext *ctx;
    GSource *backoff; /* pending resume after an accept failure */
    bool stopped;
};

G_DEFINE_FINAL_TYPE(VhNetListener, vh_net_listener, G_TYPE_OBJECT)

VhNetListener *vh_net_listener_new(void)
{
    return g_object_new(VH_TYPE_NET_LISTENER, NULL);
}

static void listener_update_watches(VhNetListener *l);

static gboolean listener_backoff_done(gpointer opaque)
{
    VhNetListener *l = opaque;

    g_clear_pointer(&l->backoff, g_source_unref);
    listener_update_watches(l);
    return G_SOURCE_REMOVE;
}

static void listener_backoff(VhNetListener *l)
{
    if (l->backoff) {
        return;
    }
    l->backoff = g_timeout_source_new(LISTENER_BACKOFF_MS);
    g_source_set_callback(l->backoff, listener_backoff_done, l, NULL);
    g_source_attach(l->backoff, l->ctx);
}

static void listener_cancel_backoff(VhNetListener *l)
{
    if (l->backoff) {
        g_source_destroy(l->backoff);
        g_clear_pointer(&l->backoff, g_source_unref);
    }
}

static gboolean listener_accept(VhChannel *ioc, GIOCondition cond,
                                gpointer opaque)
{
    VhNetListener *l = opaque;
    g_autoptr(GError) err = NULL;
    g_autoptr(VhChannelSocket) client =
        vh_channel_socket_accept(VH_CHANNEL_SOCKET(ioc), &err);

    if (!client) {
        if (!g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
            g_warning("%s; pausing for %d ms", err->message,
                      LISTENER_BACKOFF_MS);
            listener_backoff(l);
            listener_update_watches(l);
        }
        return G_SOURCE_CONTINUE;
    }
    /* The callback may drop the last reference or disconnect us. */
    g_object_ref(l);
    if (l->func) {
        l->func(l, client, l->opaque);
    }
    g_object_unref(l);
    return G_SOURCE_CONTINUE;
}

static void watch_free(gpointer data)
{
    g_source_destroy(data);
    g_source_unref(data);
}

static void listener_watch_socket(VhNetListener *l, VhChannelSocket *s)
{
    GSource *src = vh_channel_create_watch(VH_CHANNEL(s), G_IO_IN);

    g_source_set_callback(src, G_SOURCE_FUNC(listener_accept), l, NULL);
    g_source_attach(src, l->ctx);
    g_ptr_array_add(l->watches, src);
}

/* Poll every socket that is not yet polled, if we should be accepting. */
static void listener_update_watches(VhNetListener *l)
{
    if (!l->func || l->stopped || l->backoff) {
        g_ptr_array_set_size(l->watches, 0);
        return;
    }
    for (guint i = l->watches->len; i < l->sockets->len; i++) {
        listener_watch_socket(l, g_ptr_array_index(l->sockets, i));
    }
}

static void listener_add(VhNetListener *l, VhChannelSocket *s)
{
    /* A spurious wakeup must not block the main loop in accept(). */
    if (!vh_channel_set_blocking(VH_CHANNEL(s), false, NULL)) {
        g_warn_if_reached();
    }
    g_ptr_array_add(l->sockets, s);
    listener_update_watches(l);
}

static guint16 socket_port(VhChannelSocket *s)
{
    g_autoptr(GSocketAddress) addr =
        vh_channel_socket_get_local_address(s, NULL);

    if (addr && G_IS_INET_SOCKET_ADDRESS(addr)) {
        return g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(addr));
    }
    return 0;
}

/*
 * Bind every address in @addrs, all at one port (@port, or the one the
 * first bind picks when it is 0). Returns the sockets, or NULL.
 */
static GPtrArray *listener_bind_all(GList *addrs, guint16 port, GError **errp)
{
    g_autoptr(GPtrArray) opened =
        g_ptr_array_new_with_free_func(g_object_unref);

    for (GList *l = addrs; l; l = l->next) {
        GInetSocketAddress *isa = l->data;
        g_autoptr(GSocketAddress) addr = g_inet_socket_address_new(
            g_inet_socket_address_get_address(isa), port);
        g_autoptr(VhChannelSocket) s = vh_channel_socket_new();

        if (!vh_channel_socket_listen_sync(s, addr, 0, errp)) {
            return NULL;
        }
        if (port == 0) {
            port = socket_port(s);
        }
        g_ptr_array_add(opened, g_steal_pointer(&s));
    }
    return g_steal_pointer(&opened);
}

bool vh_net_listener_open(VhNetListener *l, const char *host, guint16 port,
                          GError **errp)
{
    g_return_val_if_fail(VH_IS_NET_LISTENER(l), false);

    GList *addrs = vh_socket_address_resolve(host, port, errp);
    if (!addrs) {
        return false;
    }
    g_autoptr(GPtrArray) opened = NULL;
    for (int attempt = 1; !opened; attempt++) {
        g_autoptr(GError) err = NULL;
        opened = listener_bind_all(addrs, port, &err);
        if (!opened &&
            (port != 0 || attempt == LISTENER_PORT_ATTEMPTS ||
             !g_error_matches(err, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE))) {
            g_list_free_full(addrs, g_object_unref);
            g_propagate_error(errp, g_steal_pointer(&err));
            return false;
        }
    }
    g_list_free_full(addrs, g_object_unref);
    for (guint i = 0; i < opened->len; i++) {
        listener_add(l, g_object_ref(g_ptr_array_index(opened, i)));
    }
    return true;
}

bool vh_net_listener_open_address(VhNetListener *l, GSocketAddress *addr,
                                  GError **errp)
{
    g_autoptr(VhChannelSocket) s = vh_channel_socket_new();

    g_return_val_if_fail(VH_IS_NET_LISTENER(l), false);
    if (!vh_channel_socket_listen_sync(s, addr, 0, errp)) {
        return false;
    }
    listener_add(l, g_steal_pointer(&s));
    return true;
}

bool vh_net_listener_add_socket(VhNetListener *l, VhChannelSocket *sock,
                                GError **errp)
{
    g_return_val_if_fail(VH_IS_NET_LISTENER(l), false);
    if (!vh_channel_has_feature(VH_CHANNEL(sock), VH_CHANNEL_FEATURE_LISTEN)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "socket fd %d is not listening",
                    vh_channel_socket_get_fd(sock));
        return false;
    }
    listener_add(l, g_object_ref(sock));
    return true;
}

guint16 vh_net_listener_get_port(VhNetListener *l)
{
    g_return_val_if_fail(VH_IS_NET_LISTENER(l), 0);

    for (guint i = 0; i < l->sockets->len; i++) {
        guint16 port = socket_port(g_ptr_array_index(l->sockets, i));
        if (port) {
            return port;
        }
    }
    return 0;
}

GPtrArray *vh_net_listener_get_sockets(VhNetListener *l)
{
    g_return_val_if_fail(VH_IS_NET_LISTENER(l), NULL);
    return l->sockets;
}

static void listener_clear_func(VhNetListener *l)
{
    GDestroyNotify notify = l->notify;
    gpointer opaque = l->opaque;

    g_ptr_array_set_size(l->watches, 0);
    listener_cancel_backoff(l);
    l->func = NULL;
    l->opaque = NULL;
    l->notify = NULL;
    g_clear_pointer(&l->ctx, g_main_context_unref);
    if (notify) {
        notify(opaque);
    }
}

void vh_net_listener_set_client_func(VhNetListener *l,
                                     VhNetListenerClientFunc func,
                                     gpointer opaque, GDestroyNotify notify,
                                     GMainContext *ctx)
{
    g_return_if_fail(VH_IS_NET_LISTENER(l));

    listener_clear_func(l);
    l->func = func;
    l->opaque = opaque;
    l->notify = notify;
    l->ctx = ctx ? g_main_context_ref(ctx) : NULL;
    listener_update_watches(l);
}

void vh_net_listener_stop_accepting(VhNetListener *l)
{
    g_return_if_fail(VH_IS_NET_LISTENER(l));
    l->stopped = true;
    listener_update_watches(l);
}

void vh_net_listener_resume_accepting(VhNetListener *l)
{
    g_return_if_fail(VH_IS_NET_LISTENER(l));
    l->stopped = false;
    listener_update_watches(l);
}

void vh_net_listener_disconnect(VhNetListener *l)
{
    g_return_if_fail(VH_IS_NET_LISTENER(l));

    g_ptr_array_set_size(l->watches, 0);
    for (guint i = 0; i < l->sockets->len; i++) {
        VhChannel *ioc = g_ptr_array_index(l->sockets, i);
        g_autoptr(GError) err = NULL;
        if (!vh_channel_close(ioc, &err)) {
            g_warning("%s", err->message);
        }
    }
    g_ptr_array_set_size(l->sockets, 0);
}

static void vh_net_listener_dispose(GObject *obj)
{
    VhNetListener *l = VH_NET_LISTENER(obj);

    vh_net_listener_disconnect(l);
    listener_clear_func(l);
    G_OBJECT_CLASS(vh_net_listener_parent_class)->dispose(obj);
}

static void vh_net_listener_finalize(GObject *obj)
{
    VhNetListener *l = VH_NET_LISTENER(obj);

    g_ptr_array_unref(l->watches);
    g_ptr_array_unref(l->sockets);
    G_OBJECT_CLASS(vh_net_listener_parent_class)->finalize(obj);
}

static void vh_net_listener_init(VhNetListener *l)
{
    l->sockets = g_ptr_array_new_with_free_func(g_object_unref);
    l->watches = g_ptr_array_new_with_free_func(watch_free);
}

static void vh_net_listener_class_init(VhNetListenerClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);

    oc->dispose = vh_net_listener_dispose;
    oc->finalize = vh_net_listener_finalize;
}
