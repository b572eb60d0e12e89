/*
 * A domain's console as a GIOStream over an OPEN_CONSOLE stream. Data from
 * the server arrive on the client's I/O thread and are buffered here; reads
 * wait for them (GInputStream's async reads run the blocking read on a
 * worker thread). Writes queue STREAM packets and never block.
 */
#include "vhg-private.h"

#include <string.h>

#define WAIT_SLICE_US (100 * 1000)
/* What the guest may write that nobody reads before the console fails
 * (a server cannot grow the client without bound). */
#define MAX_BUFFERED (8 * 1024 * 1024)

/* Shared by the stream objects and the client's callback. */
typedef struct {
    gint ref;
    GMutex m;
    GCond cond;
    GByteArray *buf;
    bool eof;
    GError *err;
} ConsoleBuf;

static ConsoleBuf *buf_ref(ConsoleBuf *b)
{
    g_atomic_int_inc(&b->ref);
    return b;
}

static void buf_unref(gpointer opaque)
{
    ConsoleBuf *b = opaque;

    if (b && g_atomic_int_dec_and_test(&b->ref)) {
        g_byte_array_unref(b->buf);
        g_clear_error(&b->err);
        g_mutex_clear(&b->m);
        g_cond_clear(&b->cond);
        g_free(b);
    }
}

/* On the client's I/O thread. */
static void on_data(GBytes *data, const GError *err, gpointer opaque)
{
    ConsoleBuf *b = opaque;

    g_mutex_lock(&b->m);
    if (data && !b->err) {
        gsize len;
        const guint8 *d = g_bytes_get_data(data, &len);

        if (b->buf->len + len > MAX_BUFFERED) {
            b->err = g_error_new(VHG_ERROR, VHG_ERROR_OVERFLOW,
                                 "more than %d bytes of console output were "
                                 "not read",
                                 MAX_BUFFERED);
        } else {
            g_byte_array_append(b->buf, d, len);
        }
    } else if (data) {
        /* failed already: dropped */
    } else if (err) {
        if (!b->err) {
            b->err = g_error_copy(err);
        }
    } else {
        b->eof = true;
    }
    g_cond_broadcast(&b->cond);
    g_mutex_unlock(&b->m);
}

/* ---- input ---- */

#define VH_TYPE_CONSOLE_INPUT (vh_console_input_get_type())
G_DECLARE_FINAL_TYPE(VhConsoleInput, vh_console_input, VH, CONSOLE_INPUT,
                     GInputStream)

struct _VhConsoleInput {
    GInputStream parent;
    ConsoleBuf *buf;
};

G_DEFINE_TYPE(VhConsoleInput, vh_console_input, G_TYPE_INPUT_STREAM)

static gssize input_read(GInputStream *stream, void *out, gsize count,
                         GCancellable *cancellable, GError **error)
{
    ConsoleBuf *b = VH_CONSOLE_INPUT(stream)->buf;
    gssize n = -1;

    g_mutex_lock(&b->m);
    for (;;) {
        if (b->buf->len > 0) {
            n = MIN(count, b->buf->len);
            memcpy(out, b->buf->data, n);
            g_byte_array_remove_range(b->buf, 0, n);
            break;
        }
        if (b->eof) {
            n = 0;
            break;
        }
        if (b->err) {
            g_set_error(error, VHG_ERROR,
                        b->err->domain == VHG_ERROR ? b->err->code
                                                    : VHG_ERROR_RPC,
                        "console: %s", b->err->message);
            break;
        }
        if (g_cancellable_set_error_if_cancelled(cancellable, error)) {
            break;
        }
        g_cond_wait_until(&b->cond, &b->m,
                          g_get_monotonic_time() + WAIT_SLICE_US);
    }
    g_mutex_unlock(&b->m);
    return n;
}

static gboolean input_close(GInputStream *stream, GCancellable *cancellable,
                            GError **error)
{
    return TRUE;
}

static void vh_console_input_finalize(GObject *obj)
{
    buf_unref(VH_CONSOLE_INPUT(obj)->buf);
    G_OBJECT_CLASS(vh_console_input_parent_class)->finalize(obj);
}

static void vh_console_input_init(VhConsoleInput *in)
{
}

static void vh_console_input_class_init(VhConsoleInputClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = vh_console_input_finalize;
    G_INPUT_STREAM_CLASS(klass)->read_fn = input_read;
    G_INPUT_STREAM_CLASS(klass)->close_fn = input_close;
}

/* ---- output ---- */

#define VH_TYPE_CONSOLE_OUTPUT (vh_console_output_get_type())
G_DECLARE_FINAL_TYPE(VhConsoleOutput, vh_console_output, VH, CONSOLE_OUTPUT,
                     GOutputStream)

struct _VhConsoleOutput {
    GOutputStream parent;
    VhRpcClientStream *stream; /* borrowed from the VhConsoleStream */
};

G_DEFINE_TYPE(VhConsoleOutput, vh_console_output, G_TYPE_OUTPUT_STREAM)

static gssize output_write(GOutputStream *stream, const void *data, gsize count,
                           GCancellable *cancellable, GError **error)
{
    VhConsoleOutput *out = VH_CONSOLE_OUTPUT(stream);

    if (!out->stream) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                    "the console is closed");
        return -1;
    }
    if (!vh_rpc_client_stream_send(out->stream, data, count, error)) {
        return -1;
    }
    return count;
}

static gboolean output_close(GOutputStream *stream, GCancellable *cancellable,
                             GError **error)
{
    return TRUE;
}

static void vh_console_output_init(VhConsoleOutput *out)
{
}

static void vh_console_output_class_init(VhConsoleOutputClass *klass)
{
    G_OUTPUT_STREAM_CLASS(klass)->write_fn = output_write;
    G_OUTPUT_STREAM_CLASS(klass)->close_fn = output_close;
}

/* ---- the pair ---- */

#define VH_TYPE_CONSOLE_STREAM (vh_console_stream_get_type())
G_DECLARE_FINAL_TYPE(VhConsoleStream, vh_console_stream, VH, CONSOLE_STREAM,
                     GIOStream)

struct _VhConsoleStream {
    GIOStream parent;
    VhRpcClientStream *stream;
    VhConsoleInput *in;
    VhConsoleOutput *out;
};

G_DEFINE_TYPE(VhConsoleStream, vh_console_stream, G_TYPE_IO_STREAM)

static GInputStream *console_get_input(GIOStream *io)
{
    return G_INPUT_STREAM(VH_CONSOLE_STREAM(io)->in);
}

static GOutputStream *console_get_output(GIOStream *io)
{
    return G_OUTPUT_STREAM(VH_CONSOLE_STREAM(io)->out);
}

static void console_end(VhConsoleStream *con)
{
    if (con->stream) {
        con->out->stream = NULL;
        g_clear_pointer(&con->stream, vh_rpc_client_stream_free);
    }
}

static gboolean console_close(GIOStream *io, GCancellable *cancellable,
                              GError **error)
{
    console_end(VH_CONSOLE_STREAM(io));
    return TRUE;
}

static void vh_console_stream_finalize(GObject *obj)
{
    VhConsoleStream *con = VH_CONSOLE_STREAM(obj);

    console_end(con);
    g_clear_object(&con->in);
    g_clear_object(&con->out);
    G_OBJECT_CLASS(vh_console_stream_parent_class)->finalize(obj);
}

static void vh_console_stream_init(VhConsoleStream *con)
{
}

static void vh_console_stream_class_init(VhConsoleStreamClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = vh_console_stream_finalize;
    G_IO_STREAM_CLASS(klass)->get_input_stream = console_get_input;
    G_IO_STREAM_CLASS(klass)->get_output_stream = console_get_output;
    G_IO_STREAM_CLASS(klass)->close_fn = console_close;
}

GIOStream *vhg_console_open(VhRpcClient *client, const GByteArray *args,
                            GCancellable *cancellable, GError **error)
{
    ConsoleBuf *b = g_new0(ConsoleBuf, 1);
    VhRpcClientStream *s;
    VhConsoleStream *con;

    b->ref = 1;
    b->buf = g_byte_array_new();
    g_mutex_init(&b->m);
    g_cond_init(&b->cond);
    s = vh_rpc_client_stream_call_sync(
        client, VH_REMOTE_PROGRAM, VH_REMOTE_VERSION,
        VH_REMOTE_PROC_DOMAIN_OPEN_CONSOLE, args, on_data, buf_ref(b),
        buf_unref, cancellable, error);
    if (!s) {
        buf_unref(b);
        return NULL;
    }
    con = g_object_new(VH_TYPE_CONSOLE_STREAM, NULL);
    con->stream = s;
    con->in = g_object_new(VH_TYPE_CONSOLE_INPUT, NULL);
    con->in->buf = b;
    con->out = g_object_new(VH_TYPE_CONSOLE_OUTPUT, NULL);
    con->out->stream = s;
    return G_IO_STREAM(con);
}
