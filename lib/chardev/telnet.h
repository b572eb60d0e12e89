/*
 * The basic RFC 854 telnet handling of -chardev socket,telnet=on: we offer
 * to echo and suppress go-ahead, refuse every other option, strip commands
 * from the input and double 0xFF (IAC) on output.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#define TELNET_IAC      255
#define TELNET_DONT     254
#define TELNET_DO       253
#define TELNET_WONT     252
#define TELNET_WILL     251
#define TELNET_SB       250
#define TELNET_SE       240
#define TELNET_OPT_ECHO 1
#define TELNET_OPT_SGA  3

typedef struct {
    int state; /* parser state, see telnet.c */
    guint8 verb;
} VhTelnet;

/* The bytes a server sends first (WILL ECHO, WILL SUPPRESS-GO-AHEAD). */
const guint8 *vh_telnet_greeting(size_t *len);

/*
 * Filter @len input bytes in place; returns the data bytes left. Replies
 * to option requests are appended to @reply.
 */
size_t vh_telnet_filter(VhTelnet *t, guint8 *buf, size_t len,
                        GByteArray *reply);

/* @buf with every IAC doubled (transfer full; *out_len its length). */
guint8 *vh_telnet_escape(const guint8 *buf, size_t len, size_t *out_len);
