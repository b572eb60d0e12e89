/*
 * Reading the files an operator names: the one way every program and
 * library layer reads a whole file.
 *
 *     g_autofree char *text = NULL;
 *     gsize len = 0;
 *
 *     if (!vh_file_read_regular(path, VH_FILE_MAX_TEXT, VH_FILE_READ_TEXT,
 *                               &text, &len, errp)) {
 *         return false;   // "/etc/vmhost/vmhost.conf: not a regular file
 *     }                   //  (a FIFO)", "x.conf:3: a NUL byte ..."
 *
 * The file is opened non-blocking (a FIFO, a terminal or a device opened
 * for reading must not hang the caller: an open() that blocks ignores
 * SIGTERM and, in a main loop, freezes it), checked with fstat() to be a
 * regular file (the null device passes too and reads as empty: it is how
 * "no file" is said, VMHOST_CONF=/dev/null), and read up to a size cap. With
 * VH_FILE_READ_TEXT a NUL byte is an error naming the file and the line, so no
 * parser ever sees text silently cut short at a NUL.
 *
 * Errors are G_IO_ERROR (so callers can tell G_IO_ERROR_NOT_FOUND apart)
 * and their messages start with the path: "PATH: <why>" or, for a NUL,
 * "PATH:LINE: <why>", ready to be prefixed with what the file is for
 * ("Cannot read config file " + message).
 */
#pragma once

#include <gio/gio.h>
#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

G_BEGIN_DECLS

typedef enum {
    VH_FILE_READ_BINARY = 0,
    /* The file is text: refuse a NUL byte (G_IO_ERROR_INVALID_DATA). */
    VH_FILE_READ_TEXT = 1 << 0,
} VhFileReadFlags;

/* Size caps: far beyond any real file of the kind, short of silly. */
#define VH_FILE_MAX_TEXT        (4 * 1024 * 1024)
#define VH_FILE_MAX_CREDENTIALS (16 * 1024 * 1024)

/*
 * Read the regular file @path, at most @max_size bytes, into *@contents
 * (transfer full, always NUL-terminated; the terminator is not counted in
 * *@len). Returns false with @errp set, and leaves *@contents NULL, when
 * the file cannot be opened (G_IO_ERROR code from errno:
 * G_IO_ERROR_NOT_FOUND, G_IO_ERROR_PERMISSION_DENIED...), is not a regular
 * file (G_IO_ERROR_IS_DIRECTORY, G_IO_ERROR_NOT_REGULAR_FILE: "PATH: not a
 * regular file (a FIFO)"), is larger than @max_size
 * (G_IO_ERROR_MESSAGE_TOO_LARGE) or, with VH_FILE_READ_TEXT, holds a NUL
 * (G_IO_ERROR_INVALID_DATA). @len may be NULL.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_file_read_regular(const char *path, gsize max_size,
                          VhFileReadFlags flags, char **contents, gsize *len,
                          GError **errp);

typedef enum {
    /* Regular files only (and the null device, as above). */
    VH_FILE_OPEN_REGULAR = 0,
    /*
     * Also what a log may be written to: a character device (/dev/null,
     * a terminal) or a pipe or FIFO that already has a reader
     * (/dev/stderr on a pipe). A FIFO without a reader is refused at once
     * (it would block open()); directories, sockets and block devices too.
     */
    VH_FILE_OPEN_STREAMS = 1 << 0,
} VhFileOpenFlags;

/*
 * open(@path, @oflags, @mode) for a file an operator names, without ever
 * blocking in open() (O_NONBLOCK, then cleared: the descriptor returned is
 * blocking; O_CLOEXEC and O_NOCTTY are added), refusing what @flags does
 * not allow with an error naming the file: "PATH: not a regular file (a
 * FIFO)" (G_IO_ERROR_NOT_REGULAR_FILE, G_IO_ERROR_IS_DIRECTORY), "PATH: a
 * FIFO with no reader ..." or the G_IO_ERROR from errno. Returns the fd or
 * -1. For reading a whole file use vh_file_read_regular().
 */
G_GNUC_WARN_UNUSED_RESULT
int vh_file_open(const char *path, int oflags, mode_t mode,
                 VhFileOpenFlags flags, GError **errp);

/*
 * Refuse a NUL byte in the @len bytes of @text (G_IO_ERROR_INVALID_DATA,
 * "NAME:LINE: a NUL byte in text ..."): for parsers that take
 * length-delimited text from elsewhere than a file. @name is what the
 * message calls the text (a path, an option name).
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_text_check_nul(const char *name, const char *text, gsize len,
                       GError **errp);

G_END_DECLS
