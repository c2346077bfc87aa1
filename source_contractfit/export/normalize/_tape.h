/* A strict JSON parser into a tape of nodes, run without the GIL (see lazy.py).
 *
 * It accepts a subset of what the project's decoder (api/jsonbody.py) accepts and, for
 * that subset, means the same values: when anything is unusual (invalid JSON or UTF-8, a
 * lone surrogate, an integer of 19 digits or more, a float that overflows or underflows,
 * nesting deeper than MAX_DEPTH) `tape_parse` fails and the caller decodes the body with
 * jsonbody.loads instead, which then decides exactly as before. So this file never has
 * to agree with orjson on an edge: it only has to recognise one.
 *
 * The tape lists values in document order. A container's node is followed by its
 * children (an object's as key, value, key, value...) and records `end`, the index just
 * after its last descendant, so a reader skips a subtree in one step.
 */
#ifndef CONTRACTFIT_TAPE_H
#define CONTRACTFIT_TAPE_H

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { J_NULL, J_FALSE, J_TRUE, J_INT, J_FLOAT, J_STR, J_ARR, J_OBJ };
#define J_ESCAPED 1 /* a string whose bytes are in the side buffer (it had escapes) */
#define J_ASCII 2   /* a string of ASCII bytes only */
#define MAX_DEPTH 256
#define MAX_DIGITS 18 /* longer integers go to jsonbody, which keeps them exact */

typedef struct {
    uint8_t type, flags;
    uint32_t count; /* string: bytes; float: bytes of its text; array: items; object: pairs */
    uint32_t end;   /* index after this value's subtree */
    uint32_t src;   /* offset in the body: a string's first byte, a container's bracket */
    union {
        int64_t i;
        double d;
        uint32_t off; /* an escaped string: offset in the side buffer; a container: the
                       * offset in the body just after its closing bracket */
    } v;
} JNode; /* 24 bytes */

typedef struct {
    const unsigned char *start, *p, *stop;
    JNode *nodes;
    uint32_t n, cap;
    char *side;
    size_t side_len, side_cap;
    int depth;
} Tape;

static int tape_grow(Tape *t) {
    uint32_t cap = t->cap ? t->cap * 2 : 4096;
    JNode *nodes = PyMem_RawRealloc(t->nodes, (size_t)cap * sizeof(JNode));
    if (nodes == NULL) return -1;
    t->nodes = nodes;
    t->cap = cap;
    return 0;
}

static inline int64_t tape_node(Tape *t, uint8_t type) {
    if (t->n == t->cap && tape_grow(t) < 0) return -1;
    if (t->n == UINT32_MAX) return -1;
    JNode *node = &t->nodes[t->n];
    node->type = type;
    node->flags = 0;
    node->count = 0;
    node->src = (uint32_t)(t->p - t->start);
    node->v.i = 0;
    node->end = t->n + 1; /* a scalar's; a container sets its own */
    return t->n++;
}

static int side_put(Tape *t, const void *src, size_t n) {
    if (n == 0) return 0; /* t->side may still be NULL */
    if (t->side_len + n > t->side_cap) {
        size_t cap = t->side_cap ? t->side_cap : 4096;
        while (cap < t->side_len + n) cap *= 2;
        char *side = PyMem_RawRealloc(t->side, cap);
        if (side == NULL) return -1;
        t->side = side;
        t->side_cap = cap;
    }
    memcpy(t->side + t->side_len, src, n);
    t->side_len += n;
    return 0;
}

static inline void skip_space(Tape *t) {
    while (t->p < t->stop && (*t->p == ' ' || *t->p == '\n' || *t->p == '\r' || *t->p == '\t'))
        t->p++;
}

/* Whether s[0:n] is valid UTF-8 (no overlong forms, no surrogates, at most U+10FFFF). */
static int valid_utf8(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        unsigned char lo = 0x80, hi = 0xBF;
        size_t more;
        if (c >= 0xC2 && c <= 0xDF) more = 1;
        else if (c == 0xE0) more = 2, lo = 0xA0;
        else if (c == 0xED) more = 2, hi = 0x9F;
        else if (c >= 0xE1 && c <= 0xEF) more = 2;
        else if (c == 0xF0) more = 3, lo = 0x90;
        else if (c == 0xF4) more = 3, hi = 0x8F;
        else if (c >= 0xF1 && c <= 0xF3) more = 3;
        else return 0;
        if (i + more >= n) return 0;
        if (s[i + 1] < lo || s[i + 1] > hi) return 0;
        for (size_t k = 2; k <= more; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF) return 0;
        i += more + 1;
    }
    return 1;
}

static int hex4(const unsigned char *p, uint32_t *out) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (uint32_t)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

static int put_code_point(Tape *t, uint32_t cp) {
    unsigned char out[4];
    size_t n;
    if (cp < 0x80) out[0] = (unsigned char)cp, n = 1;
    else if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        out[0] = (unsigned char)(0xF0 | (cp >> 18));
        out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return side_put(t, out, n);
}

/* A string at t->p (its opening quote). */
static int parse_string(Tape *t) {
    int64_t at = tape_node(t, J_STR);
    if (at < 0) return -1;
    const unsigned char *s = ++t->p;
    int ascii = 1;
    while (t->p < t->stop) {
        unsigned char c = *t->p;
        if (c == '"' || c == '\\') break;
        if (c < 0x20) return -1;
        if (c >= 0x80) ascii = 0;
        t->p++;
    }
    if (t->p >= t->stop) return -1;
    JNode *node = &t->nodes[at];
    node->src = (uint32_t)(s - t->start);
    if (*t->p == '"') { /* no escapes: the bytes stay in the body */
        size_t n = (size_t)(t->p - s);
        if (!ascii && !valid_utf8(s, n)) return -1;
        node->count = (uint32_t)n;
        node->flags = ascii ? J_ASCII : 0;
        t->p++;
        return 0;
    }
    size_t first = t->side_len;
    if (side_put(t, s, (size_t)(t->p - s)) < 0) return -1;
    while (t->p < t->stop && *t->p != '"') {
        unsigned char c = *t->p;
        if (c < 0x20) return -1;
        if (c != '\\') {
            const unsigned char *run = t->p;
            while (t->p < t->stop && *t->p != '"' && *t->p != '\\' && *t->p >= 0x20) t->p++;
            if (side_put(t, run, (size_t)(t->p - run)) < 0) return -1;
            continue;
        }
        if (t->stop - t->p < 2) return -1;
        unsigned char e = t->p[1];
        char out;
        t->p += 2;
        switch (e) {
        case '"': out = '"'; break;
        case '\\': out = '\\'; break;
        case '/': out = '/'; break;
        case 'b': out = '\b'; break;
        case 'f': out = '\f'; break;
        case 'n': out = '\n'; break;
        case 'r': out = '\r'; break;
        case 't': out = '\t'; break;
        case 'u': {
            uint32_t cp, low;
            if (t->stop - t->p < 4 || hex4(t->p, &cp) < 0) return -1;
            t->p += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF) return -1; /* a lone low surrogate */
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (t->stop - t->p < 6 || t->p[0] != '\\' || t->p[1] != 'u' ||
                    hex4(t->p + 2, &low) < 0 || low < 0xDC00 || low > 0xDFFF)
                    return -1; /* a lone high surrogate */
                t->p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            }
            if (put_code_point(t, cp) < 0) return -1;
            continue;
        }
        default: return -1;
        }
        if (side_put(t, &out, 1) < 0) return -1;
    }
    if (t->p >= t->stop) return -1;
    t->p++;
    size_t n = t->side_len - first;
    if (n > UINT32_MAX || first > UINT32_MAX) return -1;
    const unsigned char *bytes = (const unsigned char *)t->side + first;
    int all_ascii = 1;
    for (size_t i = 0; i < n; i++)
        if (bytes[i] >= 0x80) {
            all_ascii = 0;
            break;
        }
    if (!all_ascii && !valid_utf8(bytes, n)) return -1;
    node = &t->nodes[at];
    node->count = (uint32_t)n;
    node->v.off = (uint32_t)first;
    node->flags = J_ESCAPED | (all_ascii ? J_ASCII : 0);
    return 0;
}

static inline int is_digit_byte(unsigned char c) { return c >= '0' && c <= '9'; }

/* A number at t->p, by JSON's grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int parse_number(Tape *t) {
    const unsigned char *s = t->p;
    int64_t at = tape_node(t, J_INT);
    if (at < 0) return -1;
    int negative = 0, is_float = 0;
    if (t->p < t->stop && *t->p == '-') negative = 1, t->p++;
    const unsigned char *digits = t->p;
    if (t->p >= t->stop || !is_digit_byte(*t->p)) return -1;
    if (*t->p == '0') {
        t->p++;
    } else {
        while (t->p < t->stop && is_digit_byte(*t->p)) t->p++;
    }
    size_t integer_digits = (size_t)(t->p - digits);
    if (t->p < t->stop && *t->p == '.') {
        is_float = 1;
        t->p++;
        if (t->p >= t->stop || !is_digit_byte(*t->p)) return -1;
        while (t->p < t->stop && is_digit_byte(*t->p)) t->p++;
    }
    if (t->p < t->stop && (*t->p == 'e' || *t->p == 'E')) {
        is_float = 1;
        t->p++;
        if (t->p < t->stop && (*t->p == '+' || *t->p == '-')) t->p++;
        if (t->p >= t->stop || !is_digit_byte(*t->p)) return -1;
        while (t->p < t->stop && is_digit_byte(*t->p)) t->p++;
    }
    /* A number glued to a letter or a digit run after `0` ("01") is not JSON. */
    if (t->p < t->stop && (is_digit_byte(*t->p) || *t->p == '.' || *t->p == 'e' ||
                           *t->p == 'E' || *t->p == '-' || *t->p == '+'))
        return -1;
    JNode *node = &t->nodes[at];
    if (!is_float) {
        if (integer_digits > MAX_DIGITS) return -1;
        int64_t v = 0;
        for (const unsigned char *d = digits; d < t->p; d++) v = v * 10 + (*d - '0');
        node->v.i = negative ? -v : v;
        return 0;
    }
    size_t n = (size_t)(t->p - s);
    char buffer[64];
    char *text = n < sizeof buffer ? buffer : PyMem_RawMalloc(n + 1);
    if (text == NULL) return -1;
    memcpy(text, s, n);
    text[n] = '\0';
    char *end;
    errno = 0;
    double d = strtod(text, &end);
    int bad = end != text + n || errno == ERANGE || !isfinite(d);
    if (text != buffer) PyMem_RawFree(text);
    if (bad) return -1; /* overflow, underflow, or a locale's decimal point: jsonbody */
    node = &t->nodes[at];
    node->type = J_FLOAT;
    node->count = (uint32_t)n; /* its text starts at src: canonical_float reads it */
    node->v.d = d;
    return 0;
}

static int parse_value(Tape *t);

static int parse_container(Tape *t, int object) {
    if (++t->depth > MAX_DEPTH) return -1;
    int64_t at = tape_node(t, object ? J_OBJ : J_ARR);
    if (at < 0) return -1;
    t->p++;
    uint32_t count = 0;
    skip_space(t);
    const unsigned char close = object ? '}' : ']';
    if (t->p < t->stop && *t->p == close) {
        t->p++;
    } else {
        for (;;) {
            skip_space(t);
            if (object) {
                if (t->p >= t->stop || *t->p != '"' || parse_string(t) < 0) return -1;
                skip_space(t);
                if (t->p >= t->stop || *t->p != ':') return -1;
                t->p++;
            }
            if (parse_value(t) < 0) return -1;
            count++;
            skip_space(t);
            if (t->p >= t->stop) return -1;
            if (*t->p == ',') {
                t->p++;
                continue;
            }
            if (*t->p != close) return -1;
            t->p++;
            break;
        }
    }
    JNode *node = &t->nodes[at];
    node->count = count;
    node->end = t->n;
    node->v.off = (uint32_t)(t->p - t->start);
    t->depth--;
    return 0;
}

static int parse_value(Tape *t) {
    skip_space(t);
    if (t->p >= t->stop) return -1;
    int64_t at;
    switch (*t->p) {
    case '{': return parse_container(t, 1);
    case '[': return parse_container(t, 0);
    case '"':
        if (parse_string(t) < 0) return -1;
        break;
    case 't':
    case 'f':
    case 'n': {
        static const char *words[3] = {"true", "false", "null"};
        static const uint8_t types[3] = {J_TRUE, J_FALSE, J_NULL};
        int k = *t->p == 't' ? 0 : *t->p == 'f' ? 1 : 2;
        size_t n = strlen(words[k]);
        if ((size_t)(t->stop - t->p) < n || memcmp(t->p, words[k], n) != 0) return -1;
        if ((at = tape_node(t, types[k])) < 0) return -1;
        t->p += n;
        break;
    }
    default:
        if (*t->p != '-' && !is_digit_byte(*t->p)) return -1;
        if (parse_number(t) < 0) return -1;
        break;
    }
    return 0;
}

/* Parse body[0:n] into `t` (zeroed by the caller); 0, or -1: not taken (see the top). */
static int tape_parse(Tape *t, const unsigned char *body, size_t n) {
    if (n >= UINT32_MAX) return -1;
    t->start = t->p = body;
    t->stop = body + n;
    if (parse_value(t) < 0) return -1;
    skip_space(t);
    return t->p == t->stop ? 0 : -1;
}

static void tape_free(Tape *t) {
    PyMem_RawFree(t->nodes);
    PyMem_RawFree(t->side);
    t->nodes = NULL;
    t->side = NULL;
}

#endif
