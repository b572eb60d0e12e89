/*
 * -chardev stdio: fds 0 and 1, the terminal in raw mode while open. Raw
 * includes output: the terminal's own LF -> CR LF translation (OPOST) is
 * off, so a frontend that writes CR LF (HMP) reaches the screen exactly
 * so, and the backend adds the CR before a bare LF itself (the test
 * guest's console writes LF only).
 */
#include "fd-io.h"
#include "vmhost/chardev/char-stdio.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

struct _VhChardevStdio {
    VhChardev parent;
    VhFdIo *io;
    bool tty;       /* stdin is a terminal, in raw mode */
    bool translate; /* stdout is a terminal too: add CRs */
    bool last_cr;   /* the last byte written was CR */
    struct termios saved;
};

G_DEFINE_FINAL_TYPE(VhChardevStdio, vh_chardev_stdio, VH_TYPE_CHARDEV)

/*
 * The raw settings, for the SIGCONT handler: after Ctrl-Z the shell puts
 * the terminal back in its own mode, and `fg` resumes us in it. Written
 * before the handler is installed, only read by it.
 */
static struct termios raw_mode;
static struct sigaction old_sigcont;

/* the open stdio chardev (fds 0 and 1 cannot be shared); not a reference */
static VhChardevStdio *in_use;
G_LOCK_DEFINE_STATIC(in_use);

static void stdio_eof(VhChardev *chr, int err)
{
    if (err) {
        vh_chardev_record_error(chr, "reading stdin failed: %s; input stopped",
                                g_strerror(err));
    }
}

/* Bytes of @buf (@len) whose translation is the first @out bytes. */
static size_t source_len(const guint8 *buf, size_t len, size_t out,
                         bool last_cr)
{
    size_t i, n = 0;

    for (i = 0; i < len; i++) {
        n += buf[i] == '\n' && !(i ? buf[i - 1] == '\r' : last_cr) ? 2 : 1;
        if (n > out) {
            break;
        }
    }
    return i;
}

static gssize stdio_write(VhChardev *chr, const guint8 *buf, size_t len,
                          GError **errp)
{
    VhChardevStdio *s = VH_CHARDEV_STDIO(chr);
    g_autoptr(GByteArray) out = NULL;
    size_t taken;

    if (!s->translate || len == 0) {
        return vh_fd_io_write(s->io, buf, len);
    }
    out = g_byte_array_sized_new(len + len / 8);
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\n' && !(i ? buf[i - 1] == '\r' : s->last_cr)) {
            g_byte_array_append(out, (const guint8 *)"\r", 1);
        }
        g_byte_array_append(out, &buf[i], 1);
    }
    taken = vh_fd_io_write(s->io, out->data, out->len);
    if (taken < out->len) {
        len = source_len(buf, len, taken, s->last_cr);
    }
    if (len) {
        s->last_cr = buf[len - 1] == '\r';
    }
    return len;
}

static char *stdio_describe(VhChardev *chr)
{
    return g_strdup("stdio");
}

static void stdio_update_read_handler(VhChardev *chr)
{
    vh_fd_io_update_read(VH_CHARDEV_STDIO(chr)->io);
}

static void on_sigcont(int signo)
{
    int saved_errno = errno;

    /* only in the foreground: from the background this would SIGTTOU */
    if (tcgetpgrp(STDIN_FILENO) == getpgrp()) {
        tcsetattr(STDIN_FILENO, TCSANOW, &raw_mode);
    }
    errno = saved_errno;
}

static void stdio_close(VhChardev *chr)
{
    VhChardevStdio *s = VH_CHARDEV_STDIO(chr);

    if (s->tty) {
        sigaction(SIGCONT, &old_sigcont, NULL);
        tcsetattr(STDIN_FILENO, TCSADRAIN, &s->saved);
        s->tty = false;
    }
    g_clear_pointer(&s->io, vh_fd_io_free);
    G_LOCK(in_use);
    if (in_use == s) {
        in_use = NULL;
    }
    G_UNLOCK(in_use);
}

static void vh_chardev_stdio_class_init(VhChardevStdioClass *klass)
{
    VhChardevClass *cc = VH_CHARDEV_CLASS(klass);

    cc->write = stdio_write;
    cc->describe = stdio_describe;
    cc->close = stdio_close;
    cc->update_read_handler = stdio_update_read_handler;
}

static void vh_chardev_stdio_init(VhChardevStdio *s)
{
}

/* A program that exits without closing the chardev gets its tty back. */
static void restore_at_exit(void)
{
    G_LOCK(in_use);
    if (in_use && in_use->tty) {
        tcsetattr(STDIN_FILENO, TCSADRAIN, &in_use->saved);
    }
    G_UNLOCK(in_use);
}

static void make_raw(VhChardevStdio *s, bool signal)
{
    static gsize atexit_done;
    struct sigaction sa = {0};
    struct termios t;

    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &s->saved) < 0) {
        return;
    }
    if (g_once_init_enter(&atexit_done)) {
        atexit(restore_at_exit);
        g_once_init_leave(&atexit_done, 1);
    }
    s->tty = true;
    s->translate = isatty(STDOUT_FILENO);
    t = s->saved;
    t.c_iflag &=
        ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
    t.c_oflag &= ~OPOST; /* stdio_write adds the CR a bare LF needs */
    t.c_lflag &= ~(ECHO | ECHONL | ICANON | IEXTEN | ISIG);
    t.c_lflag |= signal ? ISIG : 0;
    t.c_cflag &= ~(CSIZE | PARENB);
    t.c_cflag |= CS8;
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    tcsetattr(STDIN_FILENO, TCSANOW, &t);
    raw_mode = t;
    sa.sa_handler = on_sigcont;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGCONT, &sa, &old_sigcont);
}

static bool claim(VhChardevStdio *s, const char *id, GError **errp)
{
    bool ok;

    G_LOCK(in_use);
    ok = in_use == NULL;
    if (ok) {
        in_use = s;
    } else {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "chardev %s: stdio is already in use by chardev %s", id,
                    vh_chardev_get_id(VH_CHARDEV(in_use)));
    }
    G_UNLOCK(in_use);
    return ok;
}

VhChardev *vh_chardev_stdio_new(const char *id, bool signal, GMainContext *ctx,
                                GError **errp)
{
    g_autoptr(VhChardev) chr = g_object_new(VH_TYPE_CHARDEV_STDIO, NULL);
    VhChardevStdio *s = VH_CHARDEV_STDIO(chr);

    if (!vh_chardev_init_base(chr, id, ctx, errp) || !claim(s, id, errp)) {
        return NULL;
    }
    make_raw(s, signal);
    s->io = vh_fd_io_new(chr, STDIN_FILENO, STDOUT_FILENO, false, stdio_eof);
    vh_fd_io_start_reading(s->io);
    vh_chardev_be_set_connected(chr, true);
    return g_steal_pointer(&chr);
}
