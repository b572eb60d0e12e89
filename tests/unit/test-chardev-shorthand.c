/* Tests for the -serial/-monitor/-qmp device shorthand (lib/chardev). */
#include "vmhost/chardev/chardev-shorthand.h"
#include "vmhost/util/error.h"

#include <string.h>

typedef struct {
    const char *dev;
    VhChardevShorthandKind kind;
    const char *want;  /* NEW: the options as a string; EXISTING: the id */
    const char *error; /* substring of the error, or NULL */
} Case;

static const Case cases[] = {
    {"none", VH_CHARDEV_SHORTHAND_NONE, NULL, NULL},
    {"chardev:s0", VH_CHARDEV_SHORTHAND_EXISTING, "s0", NULL},
    {"null", VH_CHARDEV_SHORTHAND_NEW, "backend=null,id=serial0", NULL},
    {"stdio", VH_CHARDEV_SHORTHAND_NEW, "backend=stdio,id=serial0", NULL},
    {"pty", VH_CHARDEV_SHORTHAND_NEW, "backend=pty,id=serial0", NULL},
    {"file:/tmp/out.log", VH_CHARDEV_SHORTHAND_NEW,
     "backend=file,path=/tmp/out.log,id=serial0", NULL},
    {"tcp:127.0.0.1:4444", VH_CHARDEV_SHORTHAND_NEW,
     "backend=socket,host=127.0.0.1,port=4444,id=serial0", NULL},
    {"tcp::4444,server,nowait", VH_CHARDEV_SHORTHAND_NEW,
     "backend=socket,port=4444,server=on,wait=off,id=serial0", NULL},
    {"tcp:[::1]:4444,server=on,wait=off", VH_CHARDEV_SHORTHAND_NEW,
     "backend=socket,host=::1,port=4444,server=on,wait=off,id=serial0", NULL},
    {"telnet:localhost:23,server", VH_CHARDEV_SHORTHAND_NEW,
     "backend=socket,telnet=on,host=localhost,port=23,server=on,id=serial0",
     NULL},
    {"unix:/run/a,,b.sock,server,nowait", VH_CHARDEV_SHORTHAND_NEW,
     "backend=socket,path=/run/a,,b.sock,server=on,wait=off,id=serial0", NULL},
    {"tcp:", 0, NULL,
     "-serial: 'tcp:': the address is missing (tcp:HOST:PORT)"},
    {"unix:", 0, NULL, "-serial: 'unix:': the address is missing (unix:PATH)"},
    {"unix:,server", 0, NULL, "-serial: element 1 is empty"},
    {"tcp:localhost", 0, NULL,
     "-serial: 'tcp:localhost': expected tcp:HOST:PORT"},
    {"telnet:host:", 0, NULL,
     "-serial: 'telnet:host:': expected telnet:HOST:PORT"},
    {"file:", 0, NULL, "-serial: 'file:': unknown device (expected chardev:ID"},
    {"vc", 0, NULL, "-serial: 'vc': unknown device"},
    {"tcp:h:1,=x", 0, NULL, "-serial"},
};

/* @o's keys and values, as they will reach vh_chardev_new_from_opts(). */
static char *opts_text(VhOpts *o)
{
    GString *s = g_string_new(NULL);

    for (guint i = 0; i < vh_opts_count(o); i++) {
        const char *value = vh_opts_nth_value(o, i);

        if (i) {
            g_string_append_c(s, ',');
        }
        /* bare "server"/"nowait": booleans read later, shown as read */
        if (!value) {
            const char *k = vh_opts_nth_key(o, i);
            g_string_append_printf(s, "%s=%s",
                                   g_str_equal(k, "nowait") ? "wait" : k,
                                   g_str_equal(k, "nowait") ? "off" : "on");
            continue;
        }
        g_string_append_printf(s, "%s=", vh_opts_nth_key(o, i));
        for (const char *p = value; *p; p++) {
            g_string_append(s, *p == ',' ? ",," : (char[]){*p, 0});
        }
    }
    return g_string_free(s, FALSE);
}

static void test_table(void)
{
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        const Case *c = &cases[i];
        g_autoptr(GError) err = NULL;
        VhChardevShorthand sh;
        bool ok;

        g_test_message("%s", c->dev);
        ok =
            vh_chardev_shorthand_parse("-serial", c->dev, "serial0", &sh, &err);
        if (c->error) {
            g_assert_false(ok);
            g_test_message("-> %s", err->message);
            g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
            g_assert_nonnull(strstr(err->message, c->error));
            g_assert_null(sh.opts);
            g_assert_null(sh.chardev_id);
            continue;
        }
        g_assert_no_error(err);
        g_assert_true(ok);
        g_assert_cmpint(sh.kind, ==, c->kind);
        switch (c->kind) {
        case VH_CHARDEV_SHORTHAND_NONE:
            g_assert_null(sh.opts);
            g_assert_null(sh.chardev_id);
            break;
        case VH_CHARDEV_SHORTHAND_EXISTING:
            g_assert_null(sh.opts);
            g_assert_cmpstr(sh.chardev_id, ==, c->want);
            break;
        case VH_CHARDEV_SHORTHAND_NEW:
        default: {
            g_autofree char *text = opts_text(sh.opts);

            g_assert_null(sh.chardev_id);
            g_assert_cmpstr(vh_opts_get_optname(sh.opts), ==, "-serial");
            g_assert_cmpstr(text, ==, c->want);
            break;
        }
        }
        vh_chardev_shorthand_clear(&sh);
        vh_chardev_shorthand_clear(&sh); /* twice is harmless */
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/chardev/shorthand/table", test_table);
    return g_test_run();
}
