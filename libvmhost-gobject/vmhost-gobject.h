/*
 * libvmhost-gobject: a GLib client library for libvirt's remote protocol
 * (vmhostd, libvirtd), introspectable as VmhostGObject-1.0.
 */
#pragma once

#define VMHOST_GOBJECT_INSIDE
#include "vhg-config-domain.h"
#include "vhg-connection.h"
#include "vhg-domain.h"
#include "vhg-enum-types.h"
#include "vhg-error.h"
#include "vhg-migrate.h"
#undef VMHOST_GOBJECT_INSIDE
