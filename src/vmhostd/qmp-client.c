/*
 * VhQmpClient: a line-oriented QMP client over a UNIX socket fd. The
 * handshake is blocking in the caller's thread; afterwards an fd source on
 * the attached context reads, and writes are blocking under a mutex
 * (commands are small and the machine always reads its monitor).
 */
#include "qmp-client.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct _VhQmpClient {
    gatomicrefcount ref;
    GMutex lock; /* everything below but @buf */
    int fd;
    GSource *source;
    GHashTable *pending; /* id -> Pending */
    gint64 next_id;
    bool eof;
    VhQmpEventFunc on_event;
    VhQmpEofFunc on_eof;
    gpointer opaque;
    GDestroyNotify destroy;
    GMutex write_lock;
    GString *buf; /* the reader's partial line; reader thread only */
};

typedef struct {
    VhQmpReplyFunc cb;
    gpointer opaque;
} Pending;

static bool wait_fd(int fd, short events, gint64 deadline, GError **errp)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        gint64 left = deadline - g_get_monotonic_time();
        int r;

        if (left <= 0) {
            g_set_error_literal(errp, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                "timed out waiting for the QMP monitor");
            return false;
        }
        r = poll(&p, 1, (int)MIN(left / 1000 + 1, G_MAXINT));
        if (r > 0) {
            return true;
        }
        if (r < 0 && errno != EINTR) {
            g_set_error(errp, G_IO_ERROR, g_io_error_from_errno(errno),
                        "poll on the QMP monitor: %s", g_strerror(errno));
            return false;
        }
    }
}

static bool write_all(VhQmpClient *c, const char *s, gsize len, GError **errp)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&c->write_lock);
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    while (len > 0) {
        ssize_t n = send(c->fd, s, len, MSG_NOSIGNAL);

        if (n > 0) {
            s += n;
            len -= n;
        } else if (n < 0 && errno == EAGAIN) {
            if (!wait_fd(c->fd, POLLOUT, deadline, errp)) {
                return false;
            }
        } else if (n < 0 && errno != EINTR) {
            g_set_error(errp, G_IO_ERROR, g_io_error_from_errno(errno),
                        "write to the QMP monitor: %s", g_strerror(errno));
            return false;
        }
    }
    return true;
}

/* One line in blocking mode (handshake only). */
static char *read_line_sync(int fd, GString *buf, gint64 deadline,
                            GError **errp)
{
    for (;;) {
        char *nl = memchr(buf->str, '\n', buf->len);
        char tmp[4096];
        ssize_t n;

        if (nl) {
            char *line = g_strndup(buf->str, nl - buf->str);

            g_string_erase(buf, 0, nl - buf->str + 1);
            return line;
        }
        if (!wait_fd(fd, POLLIN, deadline, errp)) {
            return NULL;
        }
        n = read(fd, tmp, sizeof(tmp));
        if (n == 0) {
            g_set_error_literal(errp, G_IO_ERROR, G_IO_ERROR_CLOSED,
                                "the QMP monitor closed the connection");
            return NULL;
        }
        if (n < 0 && errno != EINTR && errno != EAGAIN) {
            g_set_error(errp, G_IO_ERROR, g_io_error_from_errno(errno),
                        "read from the QMP monitor: %s", g_strerror(errno));
            return NULL;
        }
        if (n > 0) {
            g_string_append_len(buf, tmp, n);
        }
    }
}

static JsonObject *parse_object(const char *line, GError **errp)
{
    g_autoptr(JsonParser) p = json_parser_new();
    JsonNode *root;

    if (!json_parser_load_from_data(p, line, -1, errp)) {
        return NULL;
    }
    root = json_parser_get_root(p);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                    "QMP monitor sent a non-object: %s", line);
        return NULL;
    }
    return json_object_ref(json_node_get_object(root));
}

static char *command_line(const char *cmd, JsonObject *args, gint64 id)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonNode) root = NULL;
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autofree char *text = NULL;

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "execute");
    json_builder_add_string_value(b, cmd);
    if (args) {
        JsonNode *a = json_node_new(JSON_NODE_OBJECT);

        json_node_set_object(a, args);
        json_builder_set_member_name(b, "arguments");
        json_builder_add_value(b, a);
    }
    json_builder_set_member_name(b, "id");
    json_builder_add_int_value(b, id);
    json_builder_end_object(b);
    root = json_builder_get_root(b);
    json_generator_set_root(gen, root);
    text = json_generator_to_data(gen, NULL);
    return g_strconcat(text, "\n", NULL);
}

static bool handshake(VhQmpClient *c, guint timeout_ms, GError **errp)
{
    gint64 deadline = g_get_monotonic_time() + timeout_ms * 1000ll;
    g_autoptr(GString) buf = g_string_new(NULL);
    g_autofree char *greeting = read_line_sync(c->fd, buf, deadline, errp);
    g_autofree char *cmd = NULL;
    g_autoptr(JsonObject) o = NULL;

    if (!greeting) {
        return false;
    }
    o = parse_object(greeting, errp);
    if (!o) {
        return false;
    }
    if (!json_object_has_member(o, "QMP")) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                    "not a QMP greeting: %s", greeting);
        return false;
    }
    cmd = command_line("qmp_capabilities", NULL, 0);
    if (!write_all(c, cmd, strlen(cmd), errp)) {
        return false;
    }
    for (;;) {
        g_autofree char *line = read_line_sync(c->fd, buf, deadline, errp);
        g_autoptr(JsonObject) r = NULL;

        if (!line || !(r = parse_object(line, errp))) {
            return false;
        }
        if (json_object_has_member(r, "return")) {
            break;
        }
        if (json_object_has_member(r, "error")) {
            g_set_error(errp, G_IO_ERROR, G_IO_ERROR_FAILED,
                        "qmp_capabilities refused: %s", line);
            return false;
        }
    }
    /* Anything read past the reply stays for the reader. */
    g_string_append_len(c->buf, buf->str, buf->len);
    return true;
}

VhQmpClient *vh_qmp_client_connect(const char *path, guint timeout_ms,
                                   GError **errp)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    g_autoptr(VhQmpClient) c = g_new0(VhQmpClient, 1);

    g_atomic_ref_count_init(&c->ref);
    g_mutex_init(&c->lock);
    g_mutex_init(&c->write_lock);
    c->buf = g_string_new(NULL);
    c->next_id = 1;
    c->pending =
        g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
    if (strlen(path) >= sizeof(sa.sun_path)) {
        c->fd = -1;
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_FILENAME_TOO_LONG,
                    "QMP socket path %s is too long", path);
        return NULL;
    }
    strcpy(sa.sun_path, path);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        g_set_error(errp, G_IO_ERROR, g_io_error_from_errno(errno),
                    "cannot connect to the QMP monitor %s: %s", path,
                    g_strerror(errno));
        return NULL;
    }
    if (!g_unix_set_fd_nonblocking(c->fd, TRUE, errp) ||
        !handshake(c, timeout_ms, errp)) {
        g_prefix_error(errp, "QMP monitor %s: ", path);
        return NULL;
    }
    return g_steal_pointer(&c);
}

static void fail_pending(VhQmpClient *c)
{
    g_autoptr(GError) err = g_error_new_literal(
        G_IO_ERROR, G_IO_ERROR_CLOSED, "the QMP monitor closed the connection");
    GHashTable *old;

    g_mutex_lock(&c->lock);
    old = c->pending;
    c->pending =
        g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
    c->eof = true;
    g_mutex_unlock(&c->lock);

    GHashTableIter it;
    gpointer v;

    g_hash_table_iter_init(&it, old);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        Pending *p = v;

        p->cb(c, NULL, err, p->opaque);
    }
    g_hash_table_unref(old);
}

static GError *reply_error(JsonObject *e)
{
    const char *cls =
        json_object_get_string_member_with_default(e, "class", "");
    const char *desc = json_object_get_string_member_with_default(
        e, "desc", "error without a description");

    return g_error_new_literal(G_IO_ERROR,
                               g_str_equal(cls, "CommandNotFound")
                                   ? G_IO_ERROR_NOT_SUPPORTED
                                   : G_IO_ERROR_FAILED,
                               desc);
}

static void dispatch(VhQmpClient *c, JsonObject *o)
{
    Pending *p = NULL;
    gpointer key = NULL;
    gint64 id;

    if (json_object_has_member(o, "event")) {
        JsonObject *data = json_object_has_member(o, "data")
                               ? json_object_get_object_member(o, "data")
                               : NULL;

        if (c->on_event) {
            c->on_event(c, json_object_get_string_member(o, "event"), data,
                        c->opaque);
        }
        return;
    }
    if (!json_object_has_member(o, "id")) {
        return;
    }
    id = json_object_get_int_member(o, "id");
    g_mutex_lock(&c->lock);
    if (!g_hash_table_steal_extended(c->pending, &id, &key, (gpointer *)&p)) {
        g_mutex_unlock(&c->lock);
        return;
    }
    g_mutex_unlock(&c->lock);
    g_free(key);
    if (json_object_has_member(o, "error")) {
        g_autoptr(GError) err =
            reply_error(json_object_get_object_member(o, "error"));

        p->cb(c, NULL, err, p->opaque);
    } else {
        p->cb(c, json_object_get_member(o, "return"), NULL, p->opaque);
    }
    g_free(p);
}

static void dispatch_lines(VhQmpClient *c)
{
    char *nl;

    while ((nl = memchr(c->buf->str, '\n', c->buf->len))) {
        g_autofree char *line = g_strndup(c->buf->str, nl - c->buf->str);
        g_autoptr(JsonObject) o = NULL;

        g_string_erase(c->buf, 0, nl - c->buf->str + 1);
        o = parse_object(line, NULL);
        if (o) {
            dispatch(c, o);
        }
    }
}

void vh_qmp_client_drain(VhQmpClient *c)
{
    char tmp[8192];
    ssize_t n;

    if (c->fd < 0) {
        return;
    }
    while ((n = read(c->fd, tmp, sizeof(tmp))) > 0) {
        g_string_append_len(c->buf, tmp, n);
        dispatch_lines(c);
    }
}

static gboolean on_readable(gint fd, GIOCondition cond, gpointer opaque)
{
    VhQmpClient *c = opaque;
    char tmp[8192];
    ssize_t n = read(fd, tmp, sizeof(tmp));

    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return G_SOURCE_CONTINUE;
    }
    if (n > 0) {
        g_string_append_len(c->buf, tmp, n);
    }
    dispatch_lines(c);
    if (n <= 0) {
        fail_pending(c);
        if (c->on_eof) {
            c->on_eof(c, c->opaque);
        }
        g_mutex_lock(&c->lock);
        g_clear_pointer(&c->source, g_source_unref);
        g_mutex_unlock(&c->lock);
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

void vh_qmp_client_attach(VhQmpClient *c, GMainContext *ctx,
                          VhQmpEventFunc on_event, VhQmpEofFunc on_eof,
                          gpointer opaque, GDestroyNotify destroy)
{
    GSource *s = g_unix_fd_source_new(c->fd, G_IO_IN | G_IO_HUP | G_IO_ERR);

    c->on_event = on_event;
    c->on_eof = on_eof;
    c->opaque = opaque;
    c->destroy = destroy;
    g_source_set_callback(s, G_SOURCE_FUNC(on_readable), vh_qmp_client_ref(c),
                          (GDestroyNotify)vh_qmp_client_unref);
    g_mutex_lock(&c->lock);
    c->source = s;
    g_mutex_unlock(&c->lock);
    g_source_attach(s, ctx);
}

bool vh_qmp_client_execute(VhQmpClient *c, const char *cmd, JsonObject *args,
                           VhQmpReplyFunc cb, gpointer opaque, GError **errp)
{
    g_autofree char *line = NULL;
    gint64 id;
    Pending *p;

    g_mutex_lock(&c->lock);
    if (c->eof || c->fd < 0) {
        g_mutex_unlock(&c->lock);
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_CLOSED,
                    "cannot run %s: the QMP monitor is not connected", cmd);
        return false;
    }
    id = c->next_id++;
    p = g_new(Pending, 1);
    p->cb = cb;
    p->opaque = opaque;
    g_hash_table_insert(c->pending, g_memdup2(&id, sizeof(id)), p);
    g_mutex_unlock(&c->lock);

    line = command_line(cmd, args, id);
    if (!write_all(c, line, strlen(line), errp)) {
        g_mutex_lock(&c->lock);
        g_hash_table_remove(c->pending, &id);
        g_mutex_unlock(&c->lock);
        return false;
    }
    return true;
}

/* Before attach: write and read in the calling thread; events read on
 * the way are dropped (the caller asks for the state it needs). */
static JsonNode *execute_blocking(VhQmpClient *c, const char *cmd,
                                  JsonObject *args, guint timeout_ms,
                                  GError **errp)
{
    gint64 deadline = g_get_monotonic_time() + timeout_ms * 1000ll;
    gint64 id = c->next_id++;
    g_autofree char *line = command_line(cmd, args, id);

    if (!write_all(c, line, strlen(line), errp)) {
        return NULL;
    }
    for (;;) {
        g_autofree char *in = read_line_sync(c->fd, c->buf, deadline, errp);
        g_autoptr(JsonObject) o = NULL;

        if (!in || !(o = parse_object(in, errp))) {
            return NULL;
        }
        if (!json_object_has_member(o, "id") ||
            json_object_get_int_member(o, "id") != id) {
            continue;
        }
        if (json_object_has_member(o, "error")) {
            g_propagate_error(
                errp, reply_error(json_object_get_object_member(o, "error")));
            return NULL;
        }
        return json_node_copy(json_object_get_member(o, "return"));
    }
}

typedef struct {
    GMutex lock;
    GCond cond;
    bool done;
    JsonNode *ret;
    GError *err;
} SyncCall;

static void sync_call_clear(SyncCall *s)
{
    g_mutex_clear(&s->lock);
    g_cond_clear(&s->cond);
    g_clear_pointer(&s->ret, json_node_unref);
    g_clear_error(&s->err);
}

static void sync_reply(VhQmpClient *c, JsonNode *ret, const GError *err,
                       gpointer opaque)
{
    SyncCall *s = opaque;

    g_mutex_lock(&s->lock);
    s->ret = ret ? json_node_copy(ret) : NULL;
    s->err = err ? g_error_copy(err) : NULL;
    s->done = true;
    g_cond_signal(&s->cond);
    g_mutex_unlock(&s->lock);
    g_atomic_rc_box_release_full(s, (GDestroyNotify)sync_call_clear);
}

JsonNode *vh_qmp_client_execute_sync(VhQmpClient *c, const char *cmd,
                                     JsonObject *args, guint timeout_ms,
                                     GError **errp)
{
    SyncCall *s = g_atomic_rc_box_new0(SyncCall);
    gint64 deadline = g_get_monotonic_time() + timeout_ms * 1000ll;
    JsonNode *ret = NULL;

    g_mutex_lock(&c->lock);
    bool attached = c->source != NULL;
    g_mutex_unlock(&c->lock);
    if (!attached) {
        g_atomic_rc_box_release(s);
        return execute_blocking(c, cmd, args, timeout_ms, errp);
    }
    g_mutex_init(&s->lock);
    g_cond_init(&s->cond);
    g_atomic_rc_box_acquire(s); /* the reply's */
    if (!vh_qmp_client_execute(c, cmd, args, sync_reply, s, errp)) {
        g_atomic_rc_box_release_full(s, (GDestroyNotify)sync_call_clear);
        g_atomic_rc_box_release_full(s, (GDestroyNotify)sync_call_clear);
        return NULL;
    }
    g_mutex_lock(&s->lock);
    while (!s->done) {
        if (!g_cond_wait_until(&s->cond, &s->lock, deadline)) {
            break;
        }
    }
    if (!s->done) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                    "QMP command %s got no reply within %u ms", cmd,
                    timeout_ms);
    } else if (s->err) {
        g_propagate_error(errp, g_steal_pointer(&s->err));
    } else {
        ret = g_steal_pointer(&s->ret);
    }
    g_mutex_unlock(&s->lock);
    g_atomic_rc_box_release_full(s, (GDestroyNotify)sync_call_clear);
    return ret;
}

void vh_qmp_client_close(VhQmpClient *c)
{
    GSource *s;

    g_mutex_lock(&c->lock);
    s = g_steal_pointer(&c->source);
    g_mutex_unlock(&c->lock);
    if (s) {
        g_source_destroy(s);
        g_source_unref(s);
    }
    if (c->fd >= 0) {
        shutdown(c->fd, SHUT_RDWR);
    }
    /* Waiters get their error now rather than at their timeout. */
    fail_pending(c);
}

VhQmpClient *vh_qmp_client_ref(VhQmpClient *c)
{
    g_atomic_ref_count_inc(&c->ref);
    return c;
}

void vh_qmp_client_unref(VhQmpClient *c)
{
    if (!c || !g_atomic_ref_count_dec(&c->ref)) {
        return;
    }
    if (c->source) {
        g_source_destroy(c->source);
        g_source_unref(c->source);
    }
    if (c->destroy) {
        c->destroy(c->opaque);
    }
    if (c->fd >= 0) {
        close(c->fd);
    }
    g_hash_table_unref(c->pending);
    g_string_free(c->buf, true);
    g_mutex_clear(&c->lock);
    g_mutex_clear(&c->write_lock);
    g_free(c);
}
