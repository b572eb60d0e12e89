/*
 * VhgConfigDomain: a domain's XML document as a live view.
 *
 *     g_autoptr(VhgConfigDomain) conf = vhg_config_domain_new();
 *     vhg_config_domain_set_name(conf, "vm1");
 *     vhg_config_domain_set_memory(conf, 32 * 1024);
 *     g_autoptr(VhgConfigDomainSerial) s =
 *         vhg_config_domain_add_serial(conf, VHG_CONFIG_DOMAIN_SERIAL_PTY);
 *     g_autofree char *xml = vhg_config_domain_to_xml(conf);
 *
 * The object holds the parsed libxml2 document (the same document the
 * daemon's lib/domain works on); getters read it and setters edit it in
 * place, so elements, attributes and namespaced metadata the library does
 * not model survive parse -> edit -> to_xml untouched.
 */
#pragma once

#if !defined(VMHOST_GOBJECT_INSIDE) && !defined(VMHOST_GOBJECT_COMPILATION)
#error "Only <vmhost-gobject.h> can be included directly."
#endif

#include <glib-object.h>

G_BEGIN_DECLS

/**
 * VhgConfigDomainSerialType:
 * @VHG_CONFIG_DOMAIN_SERIAL_PTY: a pseudo-terminal (type='pty')
 * @VHG_CONFIG_DOMAIN_SERIAL_UNIX: a UNIX socket (type='unix')
 * @VHG_CONFIG_DOMAIN_SERIAL_TCP: a TCP socket (type='tcp')
 * @VHG_CONFIG_DOMAIN_SERIAL_OTHER: any other type the library does not model
 *
 * The type= of a `<serial>` or `<console>`.
 */
typedef enum {
    VHG_CONFIG_DOMAIN_SERIAL_PTY,
    VHG_CONFIG_DOMAIN_SERIAL_UNIX,
    VHG_CONFIG_DOMAIN_SERIAL_TCP,
    VHG_CONFIG_DOMAIN_SERIAL_OTHER,
} VhgConfigDomainSerialType;

#define VHG_TYPE_CONFIG_DOMAIN (vhg_config_domain_get_type())
G_DECLARE_FINAL_TYPE(VhgConfigDomain, vhg_config_domain, VHG, CONFIG_DOMAIN,
                     GObject)

#define VHG_TYPE_CONFIG_DOMAIN_SERIAL (vhg_config_domain_serial_get_type())
G_DECLARE_FINAL_TYPE(VhgConfigDomainSerial, vhg_config_domain_serial, VHG,
                     CONFIG_DOMAIN_SERIAL, GObject)

VhgConfigDomain *vhg_config_domain_new(void);
VhgConfigDomain *vhg_config_domain_new_from_xml(const char *xml,
                                                GError **error);
char *vhg_config_domain_to_xml(VhgConfigDomain *conf);

const char *vhg_config_domain_get_name(VhgConfigDomain *conf);
void vhg_config_domain_set_name(VhgConfigDomain *conf, const char *name);
const char *vhg_config_domain_get_uuid(VhgConfigDomain *conf);
void vhg_config_domain_set_uuid(VhgConfigDomain *conf, const char *uuid);
const char *vhg_config_domain_get_title(VhgConfigDomain *conf);
void vhg_config_domain_set_title(VhgConfigDomain *conf, const char *title);
const char *vhg_config_domain_get_description(VhgConfigDomain *conf);
void vhg_config_domain_set_description(VhgConfigDomain *conf,
                                       const char *description);
guint64 vhg_config_domain_get_memory(VhgConfigDomain *conf);
void vhg_config_domain_set_memory(VhgConfigDomain *conf, guint64 kib);
guint64 vhg_config_domain_get_current_memory(VhgConfigDomain *conf);
void vhg_config_domain_set_current_memory(VhgConfigDomain *conf, guint64 kib);
guint vhg_config_domain_get_vcpus(VhgConfigDomain *conf);
void vhg_config_domain_set_vcpus(VhgConfigDomain *conf, guint vcpus);
const char *vhg_config_domain_get_os_type(VhgConfigDomain *conf);
void vhg_config_domain_set_os_type(VhgConfigDomain *conf, const char *type);
const char *vhg_config_domain_get_virt_type(VhgConfigDomain *conf);
void vhg_config_domain_set_virt_type(VhgConfigDomain *conf, const char *type);
const char *vhg_config_domain_get_on_poweroff(VhgConfigDomain *conf);
void vhg_config_domain_set_on_poweroff(VhgConfigDomain *conf,
                                       const char *action);
const char *vhg_config_domain_get_on_crash(VhgConfigDomain *conf);
void vhg_config_domain_set_on_crash(VhgConfigDomain *conf, const char *action);
const char *vhg_config_domain_get_on_reboot(VhgConfigDomain *conf);
void vhg_config_domain_set_on_reboot(VhgConfigDomain *conf, const char *action);

GList *vhg_config_domain_get_serials(VhgConfigDomain *conf);
VhgConfigDomainSerial *
vhg_config_domain_add_serial(VhgConfigDomain *conf,
                             VhgConfigDomainSerialType type);
VhgConfigDomainSerial *
vhg_config_domain_add_console(VhgConfigDomain *conf,
                              VhgConfigDomainSerialType type);
void vhg_config_domain_remove_serial(VhgConfigDomain *conf,
                                     VhgConfigDomainSerial *serial);

char *vhg_config_domain_get_custom_xml(VhgConfigDomain *conf,
                                       const char *ns_uri);
gboolean vhg_config_domain_set_custom_xml(VhgConfigDomain *conf,
                                          const char *xml,
                                          const char *ns_prefix,
                                          const char *ns_uri, GError **error);

gboolean vhg_config_domain_serial_get_is_console(VhgConfigDomainSerial *serial);
VhgConfigDomainSerialType
vhg_config_domain_serial_get_serial_type(VhgConfigDomainSerial *serial);
void vhg_config_domain_serial_set_serial_type(VhgConfigDomainSerial *serial,
                                              VhgConfigDomainSerialType type);
int vhg_config_domain_serial_get_target_port(VhgConfigDomainSerial *serial);
void vhg_config_domain_serial_set_target_port(VhgConfigDomainSerial *serial,
                                              int port);
const char *vhg_config_domain_serial_get_path(VhgConfigDomainSerial *serial);
void vhg_config_domain_serial_set_path(VhgConfigDomainSerial *serial,
                                       const char *path);
const char *vhg_config_domain_serial_get_host(VhgConfigDomainSerial *serial);
const char *vhg_config_domain_serial_get_service(VhgConfigDomainSerial *serial);
void vhg_config_domain_serial_set_host_service(VhgConfigDomainSerial *serial,
                                               const char *host,
                                               const char *service);
gboolean vhg_config_domain_serial_get_listen(VhgConfigDomainSerial *serial);
void vhg_config_domain_serial_set_listen(VhgConfigDomainSerial *serial,
                                         gboolean listen);
gboolean vhg_config_domain_serial_get_tls(VhgConfigDomainSerial *serial);
void vhg_config_domain_serial_set_tls(VhgConfigDomainSerial *serial,
                                      gboolean tls);

G_END_DECLS
