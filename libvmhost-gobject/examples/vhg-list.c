/*
 * vhg-list URI: open a connection with libvmhost-gobject (asynchronously,
 * on a GMainLoop), print the server's host name and every domain with its
 * state and memory, then close.
 *
 *     vhg-list 'vmhost+tls://host.example.org/system'
 *     vhg-list 'test+unix:///default?socket=/run/libvirt/libvirt-sock'
 */
#include <vmhost-gobject.h>

typedef struct {
    GMainLoop *loop;
    GError *error;
} Ctx;

static void on_open(GObject *source, GAsyncResult *res, gpointer opaque)
{
    Ctx *ctx = opaque;

    vhg_connection_open_finish(VHG_CONNECTION(source), res, &ctx->error);
    g_main_loop_quit(ctx->loop);
}

static const char *state_name(VhgDomainState state)
{
    GEnumClass *klass = g_type_class_ref(VHG_TYPE_DOMAIN_STATE);
    GEnumValue *v = g_enum_get_value(klass, state);

    g_type_class_unref(klass);
    return v ? v->value_nick : "?";
}

static int list(VhgConnection *conn, GError **error)
{
    g_autofree char *host = vhg_connection_get_hostname(conn, NULL, error);
    GList *doms;

    if (!host || !vhg_connection_fetch_domains(conn, NULL, error)) {
        return 1;
    }
    g_print("hostname: %s\n", host);
    doms = vhg_connection_get_domains(conn);
    for (GList *l = doms; l; l = l->next) {
        VhgDomain *dom = l->data;
        g_autoptr(VhgDomainInfo) info = vhg_domain_get_info(dom, NULL, error);

        if (!info) {
            g_list_free_full(doms, g_object_unref);
            return 1;
        }
        g_print("%4d %-20s %-10s %" G_GUINT64_FORMAT " KiB\n",
                vhg_domain_get_id(dom), vhg_domain_get_name(dom),
                state_name(info->state), info->max_mem);
    }
    g_list_free_full(doms, g_object_unref);
    return 0;
}

int main(int argc, char **argv)
{
    Ctx ctx = {g_main_loop_new(NULL, FALSE), NULL};
    g_autoptr(VhgConnection) conn = NULL;
    int rc;

    if (argc != 2) {
        g_printerr("usage: %s URI\n", argv[0]);
        return 2;
    }
    conn = vhg_connection_new(argv[1]);
    vhg_connection_open_async(conn, NULL, on_open, &ctx);
    g_main_loop_run(ctx.loop);
    g_main_loop_unref(ctx.loop);
    rc = ctx.error ? 1 : list(conn, &ctx.error);
    if (ctx.error) {
        g_printerr("vhg-list: %s\n", ctx.error->message);
        g_error_free(ctx.error);
    }
    vhg_connection_close(conn);
    return rc;
}
