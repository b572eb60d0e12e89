/* -chardev serial / tty: a host terminal in raw mode. */
#include "fd-io.h"
#include "vmhost/chardev/char-serial.h"
#include "vmhost/util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

struct _VhChardevSerial {
    VhChardev parent;
    char *path;
    int fd;
    struct termios saved; /* restored on close */
    VhFdIo *io;
};

G_DEFINE_FINAL_TYPE(VhChardevSerial, vh_chardev_serial, VH_TYPE_CHARDEV)

static void serial_eof(VhChardev *chr, int err)
{
    vh_chardev_record_error(chr, "reading %s failed: %s; input stopped",
                            VH_CHARDEV_SERIAL(chr)->path,
                            err ? g_strerror(err) : "end of file (hang-up)");
}

static gssize serial_write(VhChardev *chr, const guint8 *buf, size_t len,
                           GError **errp)
{
    return vh_fd_io_write(VH_CHARDEV_SERIAL(chr)->io, buf, len);
}

static char *serial_describe(VhChardev *chr)
{
    return g_strdup_printf("serial:%s", VH_CHARDEV_SERIAL(chr)->path);
}

static void serial_update_read_handler(VhChardev *chr)
{
    vh_fd_io_update_read(VH_CHARDEV_SERIAL(chr)->io);
}

static void serial_close(VhChardev *chr)
{
    VhChardevSerial *s = VH_CHARDEV_SERIAL(chr);

    if (s->fd >= 0) {
        tcsetattr(s->fd, TCSANOW, &s->saved);
    }
    g_clear_pointer(&s->io, vh_fd_io_free);
    s->fd = -1;
}

static void vh_chardev_serial_finalize(GObject *obj)
{
    g_free(VH_CHARDEV_SERIAL(obj)->path);
    G_OBJECT_CLASS(vh_chardev_serial_parent_class)->finalize(obj);
}

static void vh_chardev_serial_class_init(VhChardevSerialClass *klass)
{
    VhChardevClass *cc = VH_CHARDEV_CLASS(klass);

    G_OBJECT_CLASS(klass)->finalize = vh_chardev_serial_finalize;
    cc->write = serial_write;
    cc->describe = serial_describe;
    cc->close = serial_close;
    cc->update_read_handler = serial_update_read_handler;
}

static void vh_chardev_serial_init(VhChardevSerial *s)
{
    s->fd = -1;
}

static const struct {
    unsigned baud;
    speed_t speed;
} speeds[] = {
    {50, B50},           {75, B75},           {110, B110},
    {134, B134},         {150, B150},         {200, B200},
    {300, B300},         {600, B600},         {1200, B1200},
    {1800, B1800},       {2400, B2400},       {4800, B4800},
    {9600, B9600},       {19200, B19200},     {38400, B38400},
    {57600, B57600},     {115200, B115200},   {230400, B230400},
    {460800, B460800},   {500000, B500000},   {576000, B576000},
    {921600, B921600},   {1000000, B1000000}, {1152000, B1152000},
    {1500000, B1500000}, {2000000, B2000000}, {2500000, B2500000},
    {3000000, B3000000}, {3500000, B3500000}, {4000000, B4000000},
};

static bool baud_to_speed(unsigned baud, speed_t *out)
{
    for (size_t i = 0; i < G_N_ELEMENTS(speeds); i++) {
        if (speeds[i].baud == baud) {
            *out = speeds[i].speed;
            return true;
        }
    }
    return false;
}

static bool param_error(VhChardevSerial *s, GError **errp, const char *what)
{
    g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT, "chardev %s: %s: %s",
                vh_chardev_get_id(VH_CHARDEV(s)), s->path, what);
    return false;
}

static bool set_line(VhChardevSerial *s, unsigned baud, int data_bits,
                     char parity, int stop_bits, GError **errp)
{
    static const tcflag_t sizes[] = {CS5, CS6, CS7, CS8};
    struct termios t;
    speed_t speed;

    if (!baud_to_speed(baud, &speed)) {
        g_autofree char *m = g_strdup_printf("unsupported baud rate %u", baud);
        return param_error(s, errp, m);
    }
    if (data_bits < 5 || data_bits > 8) {
        return param_error(s, errp, "data bits must be 5 to 8");
    }
    if (parity != 'N' && parity != 'E' && parity != 'O') {
        return param_error(s, errp, "parity must be 'N', 'E' or 'O'");
    }
    if (stop_bits != 1 && stop_bits != 2) {
        return param_error(s, errp, "stop bits must be 1 or 2");
    }
    if (tcgetattr(s->fd, &t) < 0) {
        return param_error(s, errp, g_strerror(errno));
    }
    cfmakeraw(&t);
    t.c_cflag |= CLOCAL | CREAD;
    t.c_cflag &= ~(CSIZE | PARENB | PARODD | CSTOPB);
    t.c_cflag |= sizes[data_bits - 5];
    t.c_cflag |= parity == 'N' ? 0 : parity == 'O' ? PARENB | PARODD : PARENB;
    t.c_cflag |= stop_bits == 2 ? CSTOPB : 0;
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    cfsetispeed(&t, speed);
    cfsetospeed(&t, speed);
    if (tcsetattr(s->fd, TCSANOW, &t) < 0) {
        return param_error(s, errp, g_strerror(errno));
    }
    return true;
}

bool vh_chardev_serial_set_params(VhChardev *chr, unsigned baud, int data_bits,
                                  char parity, int stop_bits, GError **errp)
{
    g_return_val_if_fail(VH_IS_CHARDEV(chr), false);
    chr = vh_chardev_get_backend(chr);
    if (!VH_IS_CHARDEV_SERIAL(chr)) {
        return true;
    }
    if (VH_CHARDEV_SERIAL(chr)->fd < 0) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_CLOSED, "chardev %s is closed",
                    vh_chardev_get_id(chr));
        return false;
    }
    return set_line(VH_CHARDEV_SERIAL(chr), baud, data_bits, parity, stop_bits,
                    errp);
}

static bool open_tty(VhChardevSerial *s, GError **errp)
{
    s->fd = open(s->path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (s->fd < 0) {
        vh_set_error_errno(errp, errno, "cannot open %s", s->path);
        return false;
    }
    if (!isatty(s->fd) || tcgetattr(s->fd, &s->saved) < 0) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "%s is not a terminal", s->path);
        close(s->fd);
        s->fd = -1;
        return false;
    }
    return true;
}

VhChardev *vh_chardev_serial_new(const char *id, const char *path,
                                 GMainContext *ctx, GError **errp)
{
    g_autoptr(VhChardev) chr = g_object_new(VH_TYPE_CHARDEV_SERIAL, NULL);
    VhChardevSerial *s = VH_CHARDEV_SERIAL(chr);

    if (!vh_chardev_init_base(chr, id, ctx, errp)) {
        return NULL;
    }
    s->path = g_strdup(path);
    if (!open_tty(s, errp)) {
        g_prefix_error(errp, "chardev %s: ", id);
        return NULL;
    }
    s->io = vh_fd_io_new(chr, s->fd, s->fd, true, serial_eof);
    if (!set_line(s, 115200, 8, 'N', 1, errp)) {
        return NULL;
    }
    vh_fd_io_start_reading(s->io);
    vh_chardev_be_set_connected(chr, true);
    return g_steal_pointer(&chr);
}
