/* SPDX-License-Identifier: BSD-2-Clause */
/* nginx access log lines: the line reader, the log_format matcher, the
 * fields scan uses ($request or its parts, $status, $request_time or
 * $upstream_response_time) and the route key of a PHP request. A reader
 * holds one buffer, a format compiles into one allocation; matching never
 * allocates and touches nothing but the fields it returns. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fpmd/uri.h"
#include "migrate/tool/log_line.h"

enum field {
    F_SKIP = 0,
    F_REQUEST,
    F_METHOD,
    F_REQUEST_URI,
    F_URI,
    F_ARGS,
    F_STATUS,
    F_REQUEST_TIME,
    F_UPSTREAM_TIME,
    F_COUNT
};

static const struct {
    const char *name;
    enum field field;
} known_vars[] = {
    {"request", F_REQUEST},
    {"request_method", F_METHOD},
    {"request_uri", F_REQUEST_URI},
    {"uri", F_URI},
    {"document_uri", F_URI},
    {"args", F_ARGS},
    {"query_string", F_ARGS},
    {"status", F_STATUS},
    {"request_time", F_REQUEST_TIME},
    {"upstream_response_time", F_UPSTREAM_TIME},
};

/* Far more than any real format has; keeps a format one fixed block. */
#define ELEMS_MAX 256

struct elem {
    const char *text;           /* the literal, or the variable's name */
    size_t len;
    int var;
    enum field field;
};

struct fpmd_log_format {
    struct elem elems[ELEMS_MAX];
    size_t nelems;
    unsigned char has[F_COUNT];
    enum field time;            /* F_REQUEST_TIME, F_UPSTREAM_TIME, F_SKIP */
    char text[];                /* the format, unquoted */
};

const char *const fpmd_log_route_params_default[] = {
    "r", "route", "action", "act", "do", "c", "m", "a", "controller",
    "module", "page",
};
const size_t fpmd_log_route_params_ndefault =
    FPMD_ARRAY_LEN(fpmd_log_route_params_default);

static bool
is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static bool
is_alnum(int c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* RFC 9110 tchar: what a method is made of. */
static bool
is_tchar(int c)
{
    return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c)
                           != NULL);
}

static bool
is_blank(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* --- lines ------------------------------------------------------------ */

int
fpmd_log_reader_init(struct fpmd_log_reader *rd, int fd, size_t max_line)
{
    memset(rd, 0, sizeof(*rd));
    rd->fd = fd;
    rd->max_line = max_line;
    rd->cap = max_line + FPMD_LOG_READ_CHUNK;
    rd->buf = malloc(rd->cap);
    return rd->buf != NULL ? FPMD_OK : FPMD_ERROR;
}

void
fpmd_log_reader_free(struct fpmd_log_reader *rd)
{
    free(rd->buf);
    rd->buf = NULL;
}

int
fpmd_log_reader_next(struct fpmd_log_reader *rd, char **line, size_t *len)
{
    for (;;) {
        char *nl = memchr(rd->buf + rd->start, '\n', rd->end - rd->start);
        ssize_t n;

        if (nl != NULL) {
            char *p = rd->buf + rd->start;
            size_t l = (size_t) (nl - p);

            rd->start += l + 1;
            if (rd->skipping) {         /* the end of a line too long */
                rd->skipping = 0;
                continue;
            }
            rd->lineno++;
            if (l > 0 && p[l - 1] == '\r')
                l--;
            if (l > rd->max_line)
                return FPMD_DECLINED;
            *line = p;
            *len = l;
            return FPMD_OK;
        }
        if (!rd->skipping && rd->end - rd->start > rd->max_line) {
            rd->skipping = 1;
            rd->lineno++;
            rd->start = rd->end = 0;
            return FPMD_DECLINED;
        }
        if (rd->skipping)
            rd->start = rd->end = 0;
        if (rd->eof) {
            char *p = rd->buf + rd->start;
            size_t l = rd->end - rd->start;

            if (l == 0)
                return FPMD_DONE;
            rd->start = rd->end;
            rd->lineno++;
            if (p[l - 1] == '\r')
                l--;
            *line = p;
            *len = l;
            return FPMD_OK;
        }
        memmove(rd->buf, rd->buf + rd->start, rd->end - rd->start);
        rd->end -= rd->start;
        rd->start = 0;
        n = read(rd->fd, rd->buf + rd->end, rd->cap - rd->end);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return FPMD_ERROR;
        if (n == 0)
            rd->eof = 1;
        rd->end += (size_t) n;
    }
}

/* --- formats ------------------------------------------------------------ */

/* A format as pasted from nginx.conf: quoted strings, joined, with
 * nginx's escapes (ngx_conf_read_token), and an optional final ';'.
 * FPMD_ERROR when the text does not read so. */
static int
unquote(const char *in, char *out)
{
    const char *p = in;
    size_t o = 0;

    for (;;) {
        char q;

        while (is_blank(*p))
            p++;
        if (*p == '\0')
            break;
        if (*p == ';') {
            for (p++; is_blank(*p); p++)
                ;
            if (*p != '\0')
                return FPMD_ERROR;
            break;
        }
        if (*p != '\'' && *p != '"')
            return FPMD_ERROR;
        q = *p++;
        while (*p != q) {
            if (*p == '\0')
                return FPMD_ERROR;
            if (*p == '\\' && p[1] != '\0'
                && strchr("\"'\\trn", p[1]) != NULL) {
                out[o++] = p[1] == 't' ? '\t' : p[1] == 'r' ? '\r'
                         : p[1] == 'n' ? '\n' : p[1];
                p += 2;
                continue;
            }
            out[o++] = *p++;
        }
        p++;
    }
    out[o] = '\0';
    return FPMD_OK;
}

static enum field
field_of(const char *name, size_t len)
{
    for (size_t i = 0; i < FPMD_ARRAY_LEN(known_vars); i++) {
        if (strlen(known_vars[i].name) == len
            && memcmp(known_vars[i].name, name, len) == 0)
            return known_vars[i].field;
    }
    return F_SKIP;
}

static int
add_elem(struct fpmd_log_format *f, const char *text, size_t len, int var,
         char *err, size_t errlen)
{
    struct elem *el;

    if (f->nelems == ELEMS_MAX) {
        snprintf(err, errlen, "more than %d variables and literals",
                 ELEMS_MAX);
        return FPMD_ERROR;
    }
    if (var && f->nelems > 0 && f->elems[f->nelems - 1].var) {
        const struct elem *prev = &f->elems[f->nelems - 1];

        snprintf(err, errlen, "$%.*s follows $%.*s with no text between "
                 "them: nothing tells where one ends", (int) len, text,
                 (int) prev->len, prev->text);
        return FPMD_ERROR;
    }
    el = &f->elems[f->nelems++];
    el->text = text;
    el->len = len;
    el->var = var;
    el->field = var ? field_of(text, len) : F_SKIP;
    if (el->field != F_SKIP)
        f->has[el->field] = 1;
    return FPMD_OK;
}

static int
split_format(struct fpmd_log_format *f, char *err, size_t errlen)
{
    const char *p = f->text, *end = f->text + strlen(f->text);

    while (p < end) {
        const char *name, *dollar = p;
        size_t len = 0;

        if (*p != '$') {
            const char *lit = p;

            while (p < end && *p != '$')
                p++;
            if (add_elem(f, lit, (size_t) (p - lit), 0, err, errlen)
                != FPMD_OK)
                return FPMD_ERROR;
            continue;
        }
        name = ++p;
        if (p < end && *p == '{') {
            const char *close = memchr(p, '}', (size_t) (end - p));

            name = p + 1;
            if (close == NULL) {
                snprintf(err, errlen, "a \"${\" at offset %zu is not closed",
                         (size_t) (dollar - f->text));
                return FPMD_ERROR;
            }
            while (name + len < close && (is_alnum(name[len])
                                          || name[len] == '_'))
                len++;
            if (name + len != close)
                len = 0;
            p = close + 1;
        } else {
            while (p < end && (is_alnum(*p) || *p == '_'))
                p++;
            len = (size_t) (p - name);
        }
        if (len == 0) {
            snprintf(err, errlen, "a '$' at offset %zu without a variable "
                     "name", (size_t) (dollar - f->text));
            return FPMD_ERROR;
        }
        if (add_elem(f, name, len, 1, err, errlen) != FPMD_OK)
            return FPMD_ERROR;
    }
    return FPMD_OK;
}

/* Splits f->text and checks it gives the request. */
static int
compile_text(struct fpmd_log_format *f, char *err, size_t errlen)
{
    if (f->text[0] == '\0') {
        snprintf(err, errlen, "empty");
        return FPMD_ERROR;
    }
    if (split_format(f, err, errlen) != FPMD_OK)
        return FPMD_ERROR;
    if (!f->has[F_REQUEST]
        && !(f->has[F_METHOD] && (f->has[F_REQUEST_URI] || f->has[F_URI]))) {
        snprintf(err, errlen, "no $request, nor $request_method with "
                 "$request_uri or $uri: the requests cannot be told");
        return FPMD_ERROR;
    }
    f->time = f->has[F_REQUEST_TIME] ? F_REQUEST_TIME
            : f->has[F_UPSTREAM_TIME] ? F_UPSTREAM_TIME : F_SKIP;
    return FPMD_OK;
}

struct fpmd_log_format *
fpmd_log_format_compile(const char *text, char *err, size_t errlen)
{
    struct fpmd_log_format *f;
    const char *p;
    size_t len;

    if (text == NULL || strcmp(text, "combined") == 0)
        text = FPMD_LOG_FORMAT_COMBINED;
    len = strlen(text);
    if (len > FPMD_LOG_FORMAT_MAX) {
        snprintf(err, errlen, "longer than %d bytes", FPMD_LOG_FORMAT_MAX);
        return NULL;
    }
    f = calloc(1, sizeof(*f) + len + 1);
    if (f == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    /* As pasted from nginx.conf if it reads so, else as written: a
     * format may well start with a quote of its own ("$request" ...). */
    for (p = text; is_blank(*p); p++)
        ;
    if ((*p == '\'' || *p == '"')
        && unquote(text, f->text) == FPMD_OK
        && compile_text(f, err, errlen) == FPMD_OK)
        return f;
    memset(f, 0, sizeof(*f));
    memcpy(f->text, text, len + 1);
    if (compile_text(f, err, errlen) == FPMD_OK)
        return f;
    free(f);
    return NULL;
}

void
fpmd_log_format_free(struct fpmd_log_format *f)
{
    free(f);
}

int
fpmd_log_format_timed(const struct fpmd_log_format *f)
{
    return f->time != F_SKIP;
}

/* nginx's "%T.%03M" seconds; more fractional digits are taken down to
 * microseconds. "-": no time (-1). */
static int
parse_seconds(const char *p, size_t n, int64_t *us)
{
    int64_t sec = 0, frac = 0, scale = 100000;
    size_t i = 0;

    if (n == 1 && p[0] == '-') {
        *us = -1;
        return FPMD_OK;
    }
    for (; i < n && is_digit(p[i]); i++) {
        sec = sec * 10 + (p[i] - '0');
        if (sec > 1000000000)       /* 31 years: not a request's time */
            return FPMD_ERROR;
    }
    if (i == 0)
        return FPMD_ERROR;
    if (i < n && p[i] == '.') {
        size_t start = ++i;

        for (; i < n && is_digit(p[i]); i++) {
            frac += (p[i] - '0') * scale;
            scale /= 10;
        }
        if (i == start)
            return FPMD_ERROR;
    }
    if (i != n)
        return FPMD_ERROR;
    *us = sec * 1000000 + frac;
    return FPMD_OK;
}

/* One time per upstream tried, ", " between servers and " : " between
 * internal redirects (ngx_http_upstream_response_time_variable); "-" for
 * one that sent nothing. The request's PHP time is their sum. */
static int
parse_upstream(const char *p, size_t n, int64_t *us)
{
    int64_t sum = 0;
    size_t i = 0;
    int any = 0, tokens = 0;

    while (i < n) {
        size_t start;
        int64_t t;

        while (i < n && (p[i] == ' ' || p[i] == ',' || p[i] == ':'))
            i++;
        if (i == n)
            break;
        start = i;
        while (i < n && p[i] != ' ' && p[i] != ',' && p[i] != ':')
            i++;
        if (parse_seconds(p + start, i - start, &t) != FPMD_OK)
            return FPMD_ERROR;
        tokens++;
        if (t >= 0) {
            sum += t;
            any = 1;
        }
    }
    if (tokens == 0)
        return FPMD_ERROR;
    *us = any ? sum : -1;
    return FPMD_OK;
}

/* nginx's log escaping (ngx_http_log_escape): \xXX back to the byte. */
static size_t
unescape(char *p, size_t n)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        int hi, lo;

        if (p[i] == '\\' && n - i >= 4 && p[i + 1] == 'x'
            && (hi = fpmd_hexval(p[i + 2])) >= 0
            && (lo = fpmd_hexval(p[i + 3])) >= 0) {
            p[o++] = (char) (hi * 16 + lo);
            i += 3;
        } else {
            p[o++] = p[i];
        }
    }
    return o;
}

static bool
valid_method(const char *p, size_t n)
{
    if (n == 0 || n > FPMD_LOG_METHOD_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!is_tchar((unsigned char) p[i]))
            return false;
    }
    return true;
}

struct span {
    char *p;
    size_t n;
};

static int
fail(const char **why, const char *reason)
{
    *why = reason;
    return FPMD_ERROR;
}

/* Checks what is checked before anything is unescaped, so that a line
 * refused is left as read. */
static int
parse_numbers(const struct fpmd_log_format *f, const struct span *v,
              struct fpmd_log_entry *e, const char **why)
{
    const struct span *s = &v[F_STATUS];

    e->status = 0;
    if (f->has[F_STATUS]) {
        if (s->n != 3 || !is_digit(s->p[0]) || !is_digit(s->p[1])
            || !is_digit(s->p[2]))
            return fail(why, "$status is not three digits");
        e->status = (s->p[0] - '0') * 100 + (s->p[1] - '0') * 10
                  + (s->p[2] - '0');
    }
    e->time_us = -1;
    s = &v[f->time];
    if (f->time == F_REQUEST_TIME
        && parse_seconds(s->p, s->n, &e->time_us) != FPMD_OK)
        return fail(why, "$request_time is not a time");
    if (f->time == F_UPSTREAM_TIME
        && parse_upstream(s->p, s->n, &e->time_us) != FPMD_OK)
        return fail(why, "$upstream_response_time is not a time");
    return FPMD_OK;
}

static void
parse_request(const struct fpmd_log_format *f, struct span *v,
              struct fpmd_log_entry *e)
{
    e->method = NULL;
    e->method_len = 0;
    e->target = NULL;
    e->target_len = 0;
    e->target_is_uri = 0;
    e->args = NULL;
    e->args_len = 0;
    if (f->has[F_METHOD]) {
        e->method = v[F_METHOD].p;
        e->method_len = unescape(v[F_METHOD].p, v[F_METHOD].n);
    }
    if (f->has[F_REQUEST_URI]) {
        e->target = v[F_REQUEST_URI].p;
        e->target_len = unescape(v[F_REQUEST_URI].p, v[F_REQUEST_URI].n);
    }
    if (f->has[F_REQUEST] && (e->method == NULL || e->target == NULL)) {
        /* "METHOD SP target [SP version]", as the client sent it */
        char *p = v[F_REQUEST].p, *sp, *end;
        size_t n = unescape(p, v[F_REQUEST].n);

        end = p + n;
        sp = memchr(p, ' ', n);
        if (sp != NULL) {
            char *t = sp + 1, *tend = memchr(t, ' ', (size_t) (end - t));

            if (e->method == NULL) {
                e->method = p;
                e->method_len = (size_t) (sp - p);
            }
            if (e->target == NULL) {
                e->target = t;
                e->target_len = (size_t) ((tend != NULL ? tend : end) - t);
            }
        }
    }
    if (e->target == NULL && f->has[F_URI]) {
        e->target = v[F_URI].p;
        e->target_len = unescape(v[F_URI].p, v[F_URI].n);
        e->target_is_uri = 1;
        if (f->has[F_ARGS]) {
            size_t n = unescape(v[F_ARGS].p, v[F_ARGS].n);

            /* nginx logs an empty value as "-" */
            if (!(n == 1 && v[F_ARGS].p[0] == '-')) {
                e->args = v[F_ARGS].p;
                e->args_len = n;
            }
        }
    }
}

int
fpmd_log_line_parse(const struct fpmd_log_format *f, char *line, size_t len,
                    struct fpmd_log_entry *e, const char **why)
{
    struct span v[F_COUNT];
    size_t pos = 0;

    memset(v, 0, sizeof(v));
    for (size_t i = 0; i < f->nelems; i++) {
        const struct elem *el = &f->elems[i];
        size_t end = len;

        if (!el->var) {
            if (len - pos < el->len
                || memcmp(line + pos, el->text, el->len) != 0)
                return fail(why, "does not match the format");
            pos += el->len;
            continue;
        }
        /* the next element is a literal (two variables never touch) */
        if (i + 1 < f->nelems) {
            const struct elem *next = &f->elems[i + 1];
            const char *hit = memmem(line + pos, len - pos, next->text,
                                     next->len);

            if (hit == NULL)
                return fail(why, "does not match the format");
            end = (size_t) (hit - line);
        }
        v[el->field].p = line + pos;
        v[el->field].n = end - pos;
        pos = end;
    }
    if (pos != len)
        return fail(why, "has text after the end of the format");
    if (parse_numbers(f, v, e, why) != FPMD_OK)
        return FPMD_ERROR;
    parse_request(f, v, e);
    if (e->method == NULL || !valid_method(e->method, e->method_len)
        || e->target == NULL || e->target_len == 0) {
        *why = "no request line";
        return FPMD_DECLINED;
    }
    return FPMD_OK;
}

/* --- route keys ---------------------------------------------------------- */

/* Bytes a key shows as they are: printable, and not the delimiters of a
 * key (or '%', which would make a key read back as another). */
static int
keep_in_path(int c)
{
    return c > 0x20 && c < 0x7f && strchr("%?#\"\\", c) == NULL;
}

static int
keep_in_query(int c)
{
    return is_alnum(c) || (c != '\0' && strchr("-._~/:@!$'()*,;", c)
                           != NULL);
}

static int
put(struct fpmd_log_route *r, int c, int (*keep)(int))
{
    static const char hex[] = "0123456789ABCDEF";
    unsigned char u = (unsigned char) c;

    if (keep(u)) {
        if (r->key_len + 1 > FPMD_LOG_KEY_MAX)
            return FPMD_ERROR;
        r->key[r->key_len++] = (char) u;
        return FPMD_OK;
    }
    if (r->key_len + 3 > FPMD_LOG_KEY_MAX)
        return FPMD_ERROR;
    r->key[r->key_len++] = '%';
    r->key[r->key_len++] = hex[u >> 4];
    r->key[r->key_len++] = hex[u & 15];
    return FPMD_OK;
}

/* A query component as PHP decodes it (php_url_decode: '+' is a space,
 * a '%' without two hex digits stays), put in the key's own encoding. */
static int
put_query_part(struct fpmd_log_route *r, const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        if (put(r, fpmd_form_char(s, n, &i), keep_in_query) != FPMD_OK)
            return FPMD_ERROR;
    }
    return FPMD_OK;
}

/* Decodes a parameter name into out (FPMD_LOG_PARAM_NAME_MAX + 1 bytes);
 * 0 when it is longer, so matches nothing. */
static size_t
decode_name(const char *s, size_t n, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < n;) {
        int c = fpmd_form_char(s, n, &i);

        if (o == FPMD_LOG_PARAM_NAME_MAX)
            return 0;
        out[o++] = (char) c;
    }
    return o;
}

/* The end of the first segment ending in ".php" after at least one other
 * byte (nginx's "[^/]\.php(/|$)"), 0 when none. */
static size_t
script_end(const char *path, size_t len)
{
    size_t seg = 0;

    for (size_t i = 0; i <= len; i++) {
        if (i == len || path[i] == '/') {
            if (i - seg >= 5 && memcmp(path + i - 4, ".php", 4) == 0)
                return i;
            seg = i + 1;
        }
    }
    return 0;
}

static int
put_params(struct fpmd_log_route *r, const char *q, size_t qlen,
           const char *const *params, size_t nparams)
{
    struct {
        const char *p;
        size_t n;
    } val[FPMD_LOG_PARAMS_MAX];
    unsigned char found[FPMD_LOG_PARAMS_MAX] = {0};
    const char *end = q + qlen;

    if (nparams > FPMD_LOG_PARAMS_MAX)
        nparams = FPMD_LOG_PARAMS_MAX;
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t) (end - q));
        const char *pend = amp != NULL ? amp : end;
        const char *eq = memchr(q, '=', (size_t) (pend - q));
        const char *nend = eq != NULL ? eq : pend;
        char name[FPMD_LOG_PARAM_NAME_MAX + 1];
        size_t nlen = decode_name(q, (size_t) (nend - q), name);

        for (size_t j = 0; nlen > 0 && j < nparams; j++) {
            if (strlen(params[j]) == nlen
                && memcmp(params[j], name, nlen) == 0) {
                /* PHP keeps the last of a repeated name */
                val[j].p = eq != NULL ? eq + 1 : pend;
                val[j].n = (size_t) (pend - val[j].p);
                found[j] = 1;
            }
        }
        q = amp != NULL ? amp + 1 : end;
    }
    for (size_t j = 0; j < nparams; j++) {
        if (!found[j])
            continue;
        if (r->key_len + 1 > FPMD_LOG_KEY_MAX)
            return FPMD_ERROR;
        r->key[r->key_len++] = r->query_off == 0 ? '?' : '&';
        if (r->query_off == 0)
            r->query_off = r->key_len;
        if (put_query_part(r, params[j], strlen(params[j])) != FPMD_OK
            || r->key_len + 1 > FPMD_LOG_KEY_MAX)
            return FPMD_ERROR;
        r->key[r->key_len++] = '=';
        if (put_query_part(r, val[j].p, val[j].n) != FPMD_OK)
            return FPMD_ERROR;
    }
    return FPMD_OK;
}

int
fpmd_log_route_of(const struct fpmd_log_entry *e, const char *const *params,
                  size_t nparams, struct fpmd_log_route *r)
{
    const char *query = NULL;
    size_t qlen = 0;

    if (!valid_method(e->method, e->method_len) || e->target == NULL
        || e->target_len > FPMD_LOG_PATH_MAX
        || memchr(e->target, '\0', e->target_len) != NULL)
        return FPMD_DECLINED;
    memcpy(r->method, e->method, e->method_len);
    r->method[e->method_len] = '\0';
    if (e->target_is_uri) {
        if (e->target_len == 0 || e->target[0] != '/')
            return FPMD_DECLINED;
        memcpy(r->path, e->target, e->target_len);
        r->path[e->target_len] = '\0';
        r->path_len = e->target_len;
        query = e->args;
        qlen = e->args_len;
    } else {
        const char *q = memchr(e->target, '?', e->target_len);

        if (fpmd_uri_normalize(e->target, e->target_len, r->path,
                               &r->path_len) != FPMD_OK)
            return FPMD_DECLINED;
        if (q != NULL) {
            query = q + 1;
            qlen = e->target_len - (size_t) (query - e->target);
        }
    }
    r->script_len = script_end(r->path, r->path_len);
    if (r->script_len == 0)
        return FPMD_DECLINED;
    r->key_len = 0;
    r->query_off = 0;
    for (size_t i = 0; i < r->path_len; i++) {
        if (put(r, r->path[i], keep_in_path) != FPMD_OK)
            return FPMD_ERROR;
    }
    if (query != NULL
        && put_params(r, query, qlen, params, nparams) != FPMD_OK)
        return FPMD_ERROR;
    r->key[r->key_len] = '\0';
    return FPMD_OK;
}
