/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef FPMD_URI_H
#define FPMD_URI_H

#include <stddef.h>

/* The path of a request target as nginx's $uri has it: scheme and
 * authority of an absolute-form target dropped, query cut off, %XX
 * decoded, "//" merged, "." and ".." resolved. out needs len + 1 bytes
 * (the result is never longer). FPMD_ERROR (answer 400) for a bad escape,
 * an escaped NUL, a path not starting with '/' or ".." above the root. */
int fpmd_uri_normalize(const char *in, size_t len, char *out, size_t *outlen);

/* The value of a hex digit, -1 for another character. */
int fpmd_hexval(int c);

/* The character at s[*i] of a form-encoded string of n bytes, decoded as
 * PHP does ('+' a space, %XX a byte, a stray '%' itself), with *i moved
 * past it. */
int fpmd_form_char(const char *s, size_t n, size_t *i);

#endif
