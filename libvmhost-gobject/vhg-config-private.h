/*
 * Between the config objects: the document, the node helpers of
 * lib/domain (domain-internal.h) and the serial views.
 */
#pragma once

#include "vhg-private.h"

#include <libxml/tree.h>

#include "domain-internal.h"

G_GNUC_INTERNAL
xmlNodePtr vhg_config_domain_root(VhgConfigDomain *conf);
G_GNUC_INTERNAL
xmlDocPtr vhg_xml_read(const char *xml, const char *what, GError **error);

/* A view of @node (a <serial> or <console>) that keeps @conf alive. */
G_GNUC_INTERNAL
VhgConfigDomainSerial *vhg_config_domain_serial_new_view(VhgConfigDomain *conf,
                                                         xmlNodePtr node);
/* Remove the view's node from its document. */
G_GNUC_INTERNAL
void vhg_config_domain_serial_unlink(VhgConfigDomainSerial *serial);
