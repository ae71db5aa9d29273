/* SPDX-License-Identifier: BSD-2-Clause */
/* php-fpm's status page formats (fpm_status.c): plain text, JSON, XML,
 * HTML and OpenMetrics, with php-fpm's field names and order, fpmd's own
 * fields after them. Pure: it renders the snapshot it is given
 * (fpmd_status_snapshot). */
#ifndef FPMD_STATUS_RENDER_H
#define FPMD_STATUS_RENDER_H

#include <stdio.h>

#include "fpmd/fpmd.h"

enum fpmd_status_format {
    FPMD_STATUS_TEXT,
    FPMD_STATUS_JSON,
    FPMD_STATUS_XML,
    FPMD_STATUS_HTML,
    FPMD_STATUS_OPENMETRICS,
};

/* php-fpm's query words: json, xml, html, openmetrics, full, in any
 * order, '&'-separated. */
void fpmd_status_parse_query(const char *query, enum fpmd_status_format *fmt,
                             int *full);

/* Writes the page to out; *content_type gets php-fpm's value for the
 * format. FPMD_ERROR when out failed (memory). */
int fpmd_status_render(FILE *out, const struct fpmd_status_snapshot *v,
                       enum fpmd_status_format fmt, int full,
                       const char **content_type);

/* php-fpm's no-cache headers, name/value pairs, NULL-terminated. */
extern const char *const fpmd_status_headers[];

#endif
