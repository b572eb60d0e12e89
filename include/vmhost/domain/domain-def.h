/*
 * VhDomainDef: a libvirt domain XML document for what a vmhost machine has.
 *
 *     g_autoptr(VhDomainDef) def = vh_domain_def_parse(xml, -1, 0, errp);
 *     if (!def) {
 *         return NULL;   // VH_VIR_ERROR: XML_ERROR (with the line),
 *     }                  // CONFIG_UNSUPPORTED (naming the device), ...
 *     g_print("%s has %" G_GUINT64_FORMAT " KiB\n",
 *             vh_domain_def_get_name(def), vh_domain_def_get_memory_kib(def));
 *     g_autofree char *out = vh_domain_def_format(def, 0);
 *
 * The parsed libxml2 document is the truth: getters read it, setters edit
 * it, and vh_domain_def_format() serialises it, so elements, attributes and
 * <metadata> in other namespaces that vmhost does not model survive
 * parse -> edit -> format verbatim (libvirt-glib's lesson; the GLib client
 * library builds its config objects on the same document).
 *
 * Parsing validates what vmhost models (libvirt's meaning for each):
 * <domain type='vmhost'> ('kvm' and 'qemu' are accepted as the same), name
 * (required, no '/'), uuid (generated when absent and written into the
 * document), title, description, memory (required) / currentMemory
 * (defaults to memory, never above it) with unit= (b/bytes, KB, k/KiB, MB,
 * M/MiB, GB, G/GiB, TB, T/TiB; default KiB; read back in KiB, rounded up),
 * vcpu (default 1; vmhost's test guest has no vCPUs to size, so it is
 * recorded, not passed on), os/type ('hvm'; arch, machine and <boot> are
 * kept), on_poweroff / on_reboot (destroy, restart, preserve,
 * rename-restart) and on_crash (those and coredump-destroy,
 * coredump-restart), <devices> with <serial> / <console> of type pty, unix
 * (bind/connect) and tcp (bind/connect, with <protocol type='raw'|'telnet'/>
 * and tls='yes'), <metadata>. A <console> on a port some <serial> has
 * (libvirt's console for serial0) is that port again, not a device.
 * <emulator> is accepted and ignored (the daemon picks the binary), as is
 * <memballoon model='none'/> (it asks for no device). Any other device
 * (disk, interface, graphics, serial type='file', ...) fails with
 * CONFIG_UNSUPPORTED naming it ("unsupported configuration: device <disk>
 * is not supported by vmhost"); nothing is dropped silently.
 *
 * Outside <devices>, elements that ask for resources vmhost cannot honour
 * are refused (CONFIG_UNSUPPORTED): maxMemory, memoryBacking, vcpus,
 * iothreads, iothreadids, numatune, cputune, launchSecurity and
 * <qemu:commandline>. Everything else (features, cpu, clock, pm, sysinfo,
 * seclabel, resource, other namespaces, ...) is kept verbatim: it describes
 * what a hypervisor shows a guest, and libvirt's tools write it into every
 * document. A DOCTYPE is refused (no entities), as are documents over
 * 4 MiB; an id='N' on <domain> is kept (live XML re-read by the daemon).
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "vmhost/util/vir-error.h"

G_BEGIN_DECLS

typedef struct _VhDomainDef VhDomainDef;

#define VH_DOMAIN_UUID_LEN 16

/* vh_domain_def_format() flags: libvirt's VIR_DOMAIN_XML_* values. */
typedef enum {
    VH_DOMAIN_XML_SECURE = 1 << 0,   /* include secrets (none yet) */
    VH_DOMAIN_XML_INACTIVE = 1 << 1, /* the persistent config, no live data */
} VhDomainXmlFlags;

typedef enum {
    VH_DOMAIN_CHR_PTY,
    VH_DOMAIN_CHR_UNIX,
    VH_DOMAIN_CHR_TCP,
} VhDomainChrType;

/* One <serial> or <console> (transfer none views into the document). */
typedef struct {
    bool is_console; /* <console> rather than <serial> */
    VhDomainChrType type;
    const char *path;    /* unix: the socket; pty: the live pty, or NULL */
    const char *host;    /* tcp */
    const char *service; /* tcp: the port */
    bool listen;         /* mode='bind' */
    bool telnet;         /* <protocol type='telnet'/> */
    bool tls;            /* tcp with tls='yes' */
    int port;            /* <target port='N'/> */
    /*
     * A <console> that shows a serial port listed before it (libvirt's
     * console for serial0): not a device of its own. Skip these when
     * making devices; every other entry is one isa-serial port.
     */
    bool mirrors_serial;
} VhDomainChr;

/*
 * Parse @len bytes of @xml (-1: NUL-terminated). Errors: VH_VIR_ERROR with
 * XML_ERROR for malformed XML ("XML error: line 3: ..."), CONFIG_UNSUPPORTED
 * for what vmhost cannot provide, XML_ERROR for a missing/invalid value
 * ("XML error: invalid memory unit 'XB'"). Documents over 4 MiB are refused.
 * @flags: reserved, 0.
 */
G_GNUC_WARN_UNUSED_RESULT
VhDomainDef *vh_domain_def_parse(const char *xml, gssize len, guint flags,
                                 GError **errp);
void vh_domain_def_free(VhDomainDef *def);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhDomainDef, vh_domain_def_free)

/* A deep copy (a new document). */
VhDomainDef *vh_domain_def_copy(const VhDomainDef *def);

/* The document as libvirt would print it (indented). (transfer full) */
char *vh_domain_def_format(const VhDomainDef *def, guint flags);

const char *vh_domain_def_get_name(const VhDomainDef *def);
void vh_domain_def_set_name(VhDomainDef *def, const char *name);
void vh_domain_def_get_uuid(const VhDomainDef *def,
                            guint8 uuid[VH_DOMAIN_UUID_LEN]);
/* The UUID in its usual text form (transfer full). */
char *vh_domain_def_get_uuid_string(const VhDomainDef *def);
const char *vh_domain_def_get_title(const VhDomainDef *def);       /* or NULL */
const char *vh_domain_def_get_description(const VhDomainDef *def); /* or NULL */
guint64 vh_domain_def_get_memory_kib(const VhDomainDef *def);
guint64 vh_domain_def_get_current_memory_kib(const VhDomainDef *def);
guint vh_domain_def_get_vcpus(const VhDomainDef *def);
/* "destroy", "restart", "preserve", ... as written (default "destroy"). */
const char *vh_domain_def_get_on_poweroff(const VhDomainDef *def);
const char *vh_domain_def_get_on_crash(const VhDomainDef *def);
/* "restart" by default. */
const char *vh_domain_def_get_on_reboot(const VhDomainDef *def);

/*
 * Setters for the modelled values (each edits only its element; values
 * must be valid: name without '/', title without newlines, memory > 0,
 * current memory <= memory). Setting memory below the current memory
 * lowers the current memory too. NULL title/description removes it.
 */
void vh_domain_def_set_uuid(VhDomainDef *def,
                            const guint8 uuid[VH_DOMAIN_UUID_LEN]);
void vh_domain_def_set_title(VhDomainDef *def, const char *title);
void vh_domain_def_set_description(VhDomainDef *def, const char *text);
void vh_domain_def_set_memory_kib(VhDomainDef *def, guint64 kib);
void vh_domain_def_set_current_memory_kib(VhDomainDef *def, guint64 kib);
void vh_domain_def_set_vcpus(VhDomainDef *def, guint vcpus);

/*
 * The live domain id: <domain id='N'> in the live XML (not with
 * VH_DOMAIN_XML_INACTIVE). -1 removes it / means none. Parsing keeps an
 * id the document has (a daemon re-reading its run dir's live XML).
 */
void vh_domain_def_set_id(VhDomainDef *def, int id);
int vh_domain_def_get_id(const VhDomainDef *def);

/* Serial ports then consoles, in document order. (transfer container) */
GArray *vh_domain_def_get_chardevs(const VhDomainDef *def); /* VhDomainChr */

/*
 * Record the live pty path of serial port @port (the machine's -chardev pty
 * told its path: query-chardev's label "charserialN", filename
 * "pty:/dev/pts/M"): <source path='...'/> and the tty='...' attribute on
 * the <serial> and on a <console> showing that port, as libvirt shows a
 * running domain. NULL @path removes them. Inactive formats omit both.
 */
void vh_domain_def_set_pty_path(VhDomainDef *def, int port, const char *path);

/* The document (libxml2's xmlDocPtr) for the GLib library's live views. */
gpointer vh_domain_def_get_xml_doc(VhDomainDef *def);

/*
 * What the daemon decides per machine, and the command line it makes from
 * the document: "BINARY -name guest=NAME -m <KiB>K -nodefaults -nographic
 * -qmp unix:QMP,server,nowait -pidfile PIDFILE -D LOGFILE -daemonize"
 * (each of -qmp/-pidfile/-D only when given, no -daemonize when
 * @daemonize is false), -S when @start_paused, then per serial port N in
 * port order (consoles that mirror a serial make none):
 * "-chardev pty,id=charserialN" or "-chardev socket,id=charserialN,
 * path=P|host=H,port=S[,server=on,wait=off][,telnet=on][,tls-creds=chrtlsN]"
 * (server from mode='bind', telnet from <protocol>), preceded for
 * tls='yes' by "-object tls-creds-x509,id=chrtlsN,endpoint=server|client,
 * dir=CHARDEV_TLS_DIR,verify-peer=on|off", and
 * "-device isa-serial,chardev=charserialN,id=serialN". Commas in values
 * are doubled. Memory must be a multiple of 4 KiB (CONFIG_UNSUPPORTED).
 * Paths are the daemon's per-domain run files.
 */
typedef struct {
    const char *vmhost_binary; /* "vmhost" or a path */
    const char *qmp_socket;
    const char *pidfile;
    const char *logfile;
    const char *chardev_tls_dir; /* NULL: tls='yes' is an error */
    bool chardev_tls_verify;
    bool daemonize;
    bool start_paused;
} VhDomainArgvOptions;

/* (transfer full) NULL-terminated; NULL with CONFIG_UNSUPPORTED on error. */
G_GNUC_WARN_UNUSED_RESULT
GStrv vh_domain_def_to_argv(const VhDomainDef *def,
                            const VhDomainArgvOptions *opts, GError **errp);

/* Text form <-> bytes of a UUID ("c7a5fdbd-edaf-9455-926a-d65c16db1809"). */
bool vh_domain_uuid_parse(const char *str, guint8 uuid[VH_DOMAIN_UUID_LEN]);
char *vh_domain_uuid_format(const guint8 uuid[VH_DOMAIN_UUID_LEN]);
/* A new random (version 4) UUID. */
void vh_domain_uuid_generate(guint8 uuid[VH_DOMAIN_UUID_LEN]);

G_END_DECLS
