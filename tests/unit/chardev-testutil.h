/*
 * Test helpers for chardevs made from -chardev option strings.
 *
 *     g_autoptr(VhChardev) chr = vh_test_chardev_new_ok("null,id=n0");
 *     vh_test_chardev_expect_error("null", "parameter 'id' is required");
 */
#pragma once

#include "vmhost/chardev/chardev-opts.h"

/* The chardev for @str (transfer full), or NULL with *errp set. */
VhChardev *vh_test_chardev_new(const char *str, GError **errp);
/* The chardev for @str (transfer full); the test fails on an error. */
VhChardev *vh_test_chardev_new_ok(const char *str);
/* Creating @str must fail with an error containing @message. */
void vh_test_chardev_expect_error(const char *str, const char *message);
