/* The native path of the two big document tables, `fields` and `line_items`.
 *
 * `fast.py` and `documents.py` say what a row is; this file only does the same work
 * without a Python object per value: a version's `annotations` (or `lines`) object,
 * already parsed, is read here and its rows are written straight into Arrow buffers
 * (validity bytes, values, string offsets), which `native.py` hands to pyarrow without
 * a copy per value. It takes only plain atoms, exactly the ones `fast._atom` takes, plus
 * `textual_coord`; anything else (a key it does not know, a value of an unexpected type,
 * text that is not valid UTF-8, an integer beyond 64 bits) makes `add` return -1 with
 * the table as it was, and the caller asks the Python specification instead. Where a
 * rule is Python's own (a float's `repr`, a numeric string's value, compact JSON), the
 * Python function is called, so there is one definition of every rule.
 * The same rows are read from a `Subtree` (an object left on the tape of a page parsed by
 * `parse_page`, _tape.h, for lazy.py) by the `tape_*` readers. The thread that parsed the
 * page runs them once for every version's objects, without the GIL, into tables of the
 * page's own (`prewrite`); `add` then copies a Subtree's rows from there with the base
 * columns of its version, which is all the exporter's one consuming thread does per
 * version (releasing the GIL inside each `add` instead had made each one wait behind the
 * reader threads, measured). A Subtree that was not prewritten is read from the tape.
 * unit_tests/test_normalize_fast.py proves the rows identical to the specification's.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>
#include <structmember.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#ifdef __linux__
#include <sys/mman.h>
#endif

#include "_tape.h"

typedef struct {
    char *data;
    Py_ssize_t len;
    Py_ssize_t cap;
    int mapped; /* data is a mapping of its own (mmap), else from PyMem_Raw* */
} Buf;

/* A buffer of this size or more is a mapping of its own: it grows by mremap (no copy)
 * and goes back to the system when freed. Through malloc, the big buffers handed to
 * pyarrow and freed once stored (and those of the pages' own tables) left the heap
 * fragmented: a 100k export's peak RSS grew by ~100 MB. */
#ifdef __linux__
#define MAP_FROM ((Py_ssize_t)256 * 1024)
#else
#define MAP_FROM PY_SSIZE_T_MAX /* no mremap: malloc only */
#endif

static void block_free(char *data, Py_ssize_t cap, int mapped) {
    if (data == NULL) return;
#ifdef __linux__
    if (mapped) {
        munmap(data, (size_t)cap);
        return;
    }
#endif
    PyMem_RawFree(data);
}

static void buf_free(Buf *b) { block_free(b->data, b->cap, b->mapped); }

/* A new empty block of `cap` bytes for `b` (its pages are not touched: free until used). */
static int buf_fresh(Buf *b, Py_ssize_t cap) {
    b->data = NULL, b->len = b->cap = 0, b->mapped = 0;
#ifdef __linux__
    if (cap >= MAP_FROM) {
        void *p = mmap(NULL, (size_t)cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return -1;
        b->data = p, b->cap = cap, b->mapped = 1;
        return 0;
    }
#endif
    if (cap > 0 && (b->data = PyMem_RawMalloc((size_t)cap)) == NULL) return -1;
    b->cap = cap;
    return 0;
}

/* Without the GIL too (the tape readers write without it); the callers raise MemoryError. */
static int buf_reserve(Buf *b, Py_ssize_t extra) {
    if (b->len + extra <= b->cap) return 0;
    Py_ssize_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + extra) cap *= 2;
    if (cap < MAP_FROM) {
        char *p = PyMem_RawRealloc(b->data, (size_t)cap);
        if (p == NULL) return -1;
        b->data = p, b->cap = cap;
        return 0;
    }
#ifdef __linux__
    if (b->mapped) {
        void *p = mremap(b->data, (size_t)b->cap, (size_t)cap, MREMAP_MAYMOVE);
        if (p == MAP_FAILED) return -1;
        b->data = p, b->cap = cap;
        return 0;
    }
    Buf grown;
    if (buf_fresh(&grown, cap) < 0) return -1;
    if (b->len) memcpy(grown.data, b->data, (size_t)b->len);
    PyMem_RawFree(b->data);
    b->data = grown.data, b->cap = grown.cap, b->mapped = grown.mapped;
#endif
    return 0;
}

static inline int buf_put(Buf *b, const void *src, Py_ssize_t n) {
    if (n == 0) return 0; /* nothing to copy; b->data may still be NULL */
    if (buf_reserve(b, n) < 0) return -1;
    memcpy(b->data + b->len, src, (size_t)n);
    b->len += n;
    return 0;
}

/* K_TS: timestamp[us, UTC], int64 microseconds since the epoch. */
enum Kind { K_STR, K_I64, K_F64, K_BOOL, K_DATE, K_TS };

typedef struct {
    enum Kind kind;
    Buf valid;  /* one byte per row: 1 = a value */
    Buf values; /* int64 / double / int32 days / one byte per bool / int32 offsets */
    Buf chars;  /* string bytes */
} Column;

/* Column positions of the value part, the same for both tables (schemas.VALUE_COLUMNS). */
enum {
    V_VALUE, V_NUMBER, V_DATE, V_BOOL, V_TEXT, V_CONFIDENCE, V_PAGE, V_UL_LINE, V_UL_CHAR,
    V_LR_LINE, V_LR_CHAR, V_FLAGGED, V_GOLD, V_CORRECT, V_EXTRA, N_VALUES
};
static const enum Kind VALUE_KINDS[N_VALUES] = {
    K_STR, K_F64, K_DATE, K_BOOL, K_STR, K_F64, K_I64, K_I64, K_I64,
    K_I64, K_I64, K_BOOL, K_STR, K_BOOL, K_STR,
};
#define N_BASE 5 /* document_id, version_index, inbox_id, version_name, is_evaluated */
static const enum Kind BASE_KINDS[N_BASE] = {K_STR, K_I64, K_STR, K_STR, K_BOOL};
#define MAX_COLUMNS 32 /* the atom tables have 22 and 23; `documents` has 30 */

typedef struct {
    PyObject_HEAD
    int line_items; /* 0: fields (field_name, occurrence); 1: line_items (3 key columns) */
    int generic;    /* 1: columns of the kinds given, filled by append_row only */
    int n_columns;
    int values_at; /* index of the first value column */
    Py_ssize_t rows;
    Column columns[MAX_COLUMNS];
} AtomTable;

/* Python callables and names, set once by `configure`. */
static PyObject *py_value_number = NULL; /* values.value_number(str) */
static PyObject *py_value_text = NULL;   /* values.value_text(obj) for arrays and objects */
static PyObject *py_textual_extra = NULL; /* the `extra` text of a kept textual_coord */
static PyObject *plain_keys = NULL;      /* frozenset of the atom keys */
static PyObject *k_value, *k_text, *k_confidence, *k_upper, *k_lower, *k_flagged, *k_gold,
    *k_correct, *k_textual;

#define NOT_PLAIN 1 /* returned by the atom readers: not an error, ask the specification */
#define NEEDS_GIL 2 /* returned only without the GIL: a rule that calls Python was met */
/* Set while a reader thread writes a page's atoms without the GIL (parse_page): the tape
 * readers then return NEEDS_GIL where they would call Python, and raise nothing. */
static _Thread_local int without_gil = 0;
/* What a page's own tables may hold (see prewrite): a body can make far more rows and
 * text than it has bytes (a long name repeated on every row of its atoms), and a page's
 * tables live as long as its documents. Past these a Subtree is left to the tape, where
 * the consuming thread decides with the GIL (and raises OverflowError at 2 GiB). A page
 * of 100 documents holds ~10k rows and a few MB of text. */
#define PREWRITE_MAX_ROWS ((Py_ssize_t)1 << 18)
#define PREWRITE_MAX_TEXT ((int64_t)64 * 1024 * 1024)

/* NULL with the exception set: the one a failed call left, else MemoryError (the
 * buffers grow without the GIL, so they cannot raise it themselves). */
static PyObject *raised(void) {
    if (!PyErr_Occurred()) PyErr_NoMemory();
    return NULL;
}

/* After a Python call failed: an ordinary exception is cleared and the specification
 * decides (NOT_PLAIN); KeyboardInterrupt and SystemExit stay set and are raised (-1). */
static int failed_call(void) {
    if (!PyErr_ExceptionMatches(PyExc_Exception)) return -1;
    PyErr_Clear();
    return NOT_PLAIN;
}

static inline int put_null(Column *c) {
    static const char zero[8] = {0};
    const char none = 0;
    if (buf_put(&c->valid, &none, 1) < 0) return -1;
    switch (c->kind) {
    case K_STR: {
        int32_t end;
        memcpy(&end, c->values.data + c->values.len - 4, 4);
        return buf_put(&c->values, &end, 4);
    }
    case K_I64:
    case K_F64:
    case K_TS: return buf_put(&c->values, zero, 8);
    case K_DATE: return buf_put(&c->values, zero, 4);
    case K_BOOL: return buf_put(&c->values, zero, 1);
    }
    return 0;
}

static inline int put_chars(Column *c, const char *s, Py_ssize_t n) {
    const char one = 1;
    int32_t end;
    memcpy(&end, c->values.data + c->values.len - 4, 4);
    if (without_gil && (int64_t)end + n > PREWRITE_MAX_TEXT) return -1; /* no error set */
    if ((int64_t)end + n > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "more than 2 GiB of text in one buffer");
        return -1;
    }
    end += (int32_t)n;
    if (buf_put(&c->chars, s, n) < 0 || buf_put(&c->values, &end, 4) < 0) return -1;
    return buf_put(&c->valid, &one, 1);
}

/* One fixed-width value (and its validity byte). */
static inline int put_fixed(Column *c, const void *v, Py_ssize_t size) {
    const char one = 1;
    if (buf_put(&c->values, v, size) < 0) return -1;
    return buf_put(&c->valid, &one, 1);
}

static inline int put_i64(Column *c, int64_t v) { return put_fixed(c, &v, 8); }
static inline int put_f64(Column *c, double v) { return put_fixed(c, &v, 8); }
static inline int put_i32(Column *c, int32_t v) { return put_fixed(c, &v, 4); }

static inline int put_bool(Column *c, int v) {
    const char value = (char)(v != 0);
    return put_fixed(c, &value, 1);
}

/* 0 written, NOT_PLAIN (a str that is not valid UTF-8: lone surrogates), -1 error. */
static int put_str(Column *c, PyObject *s) {
    Py_ssize_t n;
    const char *data;
    if (PyUnicode_IS_ASCII(s)) {
        n = PyUnicode_GET_LENGTH(s);
        data = (const char *)PyUnicode_DATA(s);
    } else if ((data = PyUnicode_AsUTF8AndSize(s, &n)) == NULL) {
        return failed_call();
    }
    return put_chars(c, data, n) < 0 ? -1 : 0;
}

/* A Python call's str result written to `c`; NOT_PLAIN when the call raised. */
static int put_call_text(Column *c, PyObject *func, PyObject *arg) {
    PyObject *out = PyObject_CallOneArg(func, arg);
    if (out == NULL) return failed_call();
    int rc = out == Py_None ? put_null(c) : PyUnicode_Check(out) ? put_str(c, out) : NOT_PLAIN;
    Py_DECREF(out);
    return rc;
}

static inline int is_int64(PyObject *v, int64_t *out) {
    int overflow = 0;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow || (x == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        return 0;
    }
    *out = (int64_t)x;
    return 1;
}

/* values.value_text: strings as is, booleans true/false, integers in decimal, floats as
 * repr, arrays and objects as compact JSON (Python's own rule), null stays null. */
static int put_value_text(Column *c, PyObject *v) {
    if (v == Py_None) return put_null(c);
    if (PyUnicode_CheckExact(v)) return put_str(c, v);
    if (v == Py_True) return put_chars(c, "true", 4) < 0 ? -1 : 0;
    if (v == Py_False) return put_chars(c, "false", 5) < 0 ? -1 : 0;
    if (PyFloat_CheckExact(v)) {
        /* what float.__repr__ does (Objects/floatobject.c), without the str object */
        char *r = PyOS_double_to_string(PyFloat_AS_DOUBLE(v), 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
        if (r == NULL) return -1;
        int rc = put_chars(c, r, (Py_ssize_t)strlen(r));
        PyMem_Free(r);
        return rc < 0 ? -1 : 0;
    }
    if (PyLong_CheckExact(v)) {
        int64_t x;
        char text[32];
        if (!is_int64(v, &x)) return NOT_PLAIN;
        int n = snprintf(text, sizeof text, "%lld", (long long)x);
        return put_chars(c, text, n) < 0 ? -1 : 0;
    }
    if (PyList_CheckExact(v) || PyDict_CheckExact(v)) return put_call_text(c, py_value_text, v);
    return NOT_PLAIN;
}

static inline int is_digit(char ch) { return ch >= '0' && ch <= '9'; }

/* Whether s[0:n] fully matches values._NUMBER, [+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?,
 * and (`integer`) values._INTEGER, [+-]?\d+. */
static int numeric_text(const char *s, Py_ssize_t n, int *integer) {
    Py_ssize_t i = 0, digits = 0;
    *integer = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    while (i < n && is_digit(s[i])) i++, digits++;
    if (digits && i == n) return *integer = 1;
    if (i < n && s[i] == '.') {
        i++;
        Py_ssize_t fraction = 0;
        while (i < n && is_digit(s[i])) i++, fraction++;
        if (!digits && !fraction) return 0;
    } else if (!digits) {
        return 0;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        Py_ssize_t exponent = 0;
        while (i < n && is_digit(s[i])) i++, exponent++;
        if (!exponent) return 0;
    }
    return i == n;
}

/* values.value_number */
static int put_value_number(Column *c, PyObject *v) {
    if (PyFloat_CheckExact(v)) {
        double d = PyFloat_AS_DOUBLE(v);
        return isfinite(d) ? put_f64(c, d) : put_null(c);
    }
    if (PyLong_CheckExact(v)) {
        int64_t x;
        if (!is_int64(v, &x)) return NOT_PLAIN;
        double d = (double)x;
        /* exact: no float holds some integers beyond 2**53; 2**63 itself is past INT64_MAX */
        if (d < 9223372036854775808.0 && (int64_t)d == x) return put_f64(c, d);
        return put_null(c);
    }
    if (PyUnicode_CheckExact(v)) {
        if (!PyUnicode_IS_ASCII(v)) return put_null(c); /* the pattern is ASCII only */
        Py_ssize_t n = PyUnicode_GET_LENGTH(v);
        const char *s = (const char *)PyUnicode_DATA(v);
        int integer;
        if (n >= 400 || !numeric_text(s, n, &integer)) return put_null(c);
        if (!integer) { /* float(value): Python's own correctly rounded parse */
            char *end;
            double d = PyOS_string_to_double(s, &end, NULL);
            if (d == -1.0 && PyErr_Occurred()) return failed_call();
            if (end != s + n) return NOT_PLAIN;
            return isfinite(d) ? put_f64(c, d) : put_null(c);
        }
        if (n <= 18) { /* int(value), then the float only when it holds it exactly */
            long long x = strtoll(s, NULL, 10);
            double d = (double)x;
            return (int64_t)d == x ? put_f64(c, d) : put_null(c);
        }
        PyObject *out = PyObject_CallOneArg(py_value_number, v); /* long digit runs */
        if (out == NULL) return failed_call();
        int rc = out == Py_None ? put_null(c)
                 : PyFloat_CheckExact(out) ? put_f64(c, PyFloat_AS_DOUBLE(out))
                                           : NOT_PLAIN;
        Py_DECREF(out);
        return rc;
    }
    return put_null(c); /* null, booleans, arrays, objects */
}

static int days_in_month(int y, int m) {
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return days[m - 1];
}

/* Days from 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int32_t days_from_civil(int y, int m, int d) {
    y -= m <= 2;
    const int era = (y >= 0 ? y : y - 399) / 400;
    const int yoe = y - era * 400;
    const int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int32_t)(era * 146097 + doe - 719468);
}

static int put_date_text(Column *c, const unsigned char *s);

/* values.value_date: a string that is exactly YYYY-MM-DD and a real date (year >= 1). */
static int put_value_date(Column *c, PyObject *v) {
    if (!PyUnicode_CheckExact(v) || !PyUnicode_IS_ASCII(v) || PyUnicode_GET_LENGTH(v) != 10)
        return put_null(c);
    return put_date_text(c, (const unsigned char *)PyUnicode_DATA(v));
}

/* s[0:10] as a date, or null (put_value_date). */
static int put_date_text(Column *c, const unsigned char *s) {
    static const int digit_at[8] = {0, 1, 2, 3, 5, 6, 8, 9};
    if (s[4] != '-' || s[7] != '-') return put_null(c);
    for (int i = 0; i < 8; i++)
        if (s[digit_at[i]] < '0' || s[digit_at[i]] > '9') return put_null(c);
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0');
    int d = (s[8] - '0') * 10 + (s[9] - '0');
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m)) return put_null(c);
    return put_i32(c, days_from_civil(y, m, d));
}

/* [a, b, c] (size 3) or [a..f] (size 6) of 64-bit integers. */
static int coordinate(PyObject *v, Py_ssize_t size, int64_t *out) {
    if (!PyList_CheckExact(v) || PyList_GET_SIZE(v) != size) return 0;
    for (Py_ssize_t i = 0; i < size; i++) {
        PyObject *item = PyList_GET_ITEM(v, i);
        if (!PyLong_CheckExact(item) || !is_int64(item, &out[i])) return 0;
    }
    return 1;
}

static inline PyObject *member(PyObject *atom, PyObject *key) {
    PyObject *v = PyDict_GetItemWithError(atom, key); /* borrowed */
    return v == NULL ? Py_None : v;
}

static int put_optional_bool(Column *c, PyObject *v) {
    if (v == Py_None) return put_null(c);
    if (v == Py_True || v == Py_False) return put_bool(c, v == Py_True);
    return NOT_PLAIN;
}

#define CHECK(expr)                         \
    do {                                    \
        int rc_ = (expr);                   \
        if (rc_) return rc_;                \
    } while (0)

static int put_null_values(Column *values, PyObject *correct) {
    for (int i = 0; i < N_VALUES; i++) {
        if (i == V_CORRECT && correct != NULL) CHECK(put_bool(&values[i], 1));
        else CHECK(put_null(&values[i]));
    }
    return 0;
}

/* The page and coordinate columns of an atom's upper-left and lower-right corners. */
static int put_corners(Column *values, int has_upper, const int64_t *ul, int has_lower,
                       const int64_t *lr) {
    if (has_upper) {
        CHECK(put_i64(&values[V_PAGE], ul[0]));
        CHECK(put_i64(&values[V_UL_LINE], ul[1]));
        CHECK(put_i64(&values[V_UL_CHAR], ul[2]));
    } else {
        CHECK(has_lower ? put_i64(&values[V_PAGE], lr[0]) : put_null(&values[V_PAGE]));
        CHECK(put_null(&values[V_UL_LINE]));
        CHECK(put_null(&values[V_UL_CHAR]));
    }
    CHECK(has_lower ? put_i64(&values[V_LR_LINE], lr[1]) : put_null(&values[V_LR_LINE]));
    CHECK(has_lower ? put_i64(&values[V_LR_CHAR], lr[2]) : put_null(&values[V_LR_CHAR]));
    return 0;
}

static int put_textual_extra(Column *c, const int64_t *kept, uint32_t size);

/* The 15 value columns of one atom (atoms.atom_values), or NOT_PLAIN. */
static int put_atom(Column *values, PyObject *atom) {
    if (atom == Py_None) return put_null_values(values, NULL);
    if (!PyDict_CheckExact(atom)) return NOT_PLAIN;
    PyObject *key, *item;
    Py_ssize_t pos = 0;
    while (PyDict_Next(atom, &pos, &key, &item)) {
        if (!PyUnicode_CheckExact(key)) return NOT_PLAIN;
        int known = PySet_Contains(plain_keys, key);
        if (known < 0) return -1;
        if (!known) return NOT_PLAIN; /* drift: the specification keeps it in extra */
    }
    PyObject *value = member(atom, k_value), *text = member(atom, k_text);
    PyObject *confidence = member(atom, k_confidence), *upper = member(atom, k_upper);
    PyObject *lower = member(atom, k_lower), *textual = member(atom, k_textual);
    if (PyErr_Occurred()) return -1;
    int64_t ul[6], lr[3];
    int has_upper = upper != Py_None, has_lower = lower != Py_None, keep_textual = 0;
    if (has_upper && !coordinate(upper, 3, ul)) return NOT_PLAIN;
    if (has_lower && !coordinate(lower, 3, lr)) return NOT_PLAIN;
    if (textual != Py_None) {
        if (!has_upper && !has_lower) {
            if (!coordinate(textual, 6, ul)) return NOT_PLAIN;
            lr[0] = ul[3], lr[1] = ul[4], lr[2] = ul[5];
            has_upper = has_lower = 1;
        } else {
            keep_textual = 1;
        }
    }
    if (text != Py_None && !PyUnicode_CheckExact(text)) return NOT_PLAIN;
    double conf = 0.0;
    int has_conf = 0;
    if (PyFloat_CheckExact(confidence)) {
        conf = PyFloat_AS_DOUBLE(confidence), has_conf = 1;
    } else if (PyLong_CheckExact(confidence)) {
        int64_t x;
        if (!is_int64(confidence, &x)) return NOT_PLAIN;
        conf = (double)x, has_conf = 1;
    } else if (confidence != Py_None) {
        return NOT_PLAIN;
    }
    CHECK(put_value_text(&values[V_VALUE], value));
    CHECK(put_value_number(&values[V_NUMBER], value));
    CHECK(put_value_date(&values[V_DATE], value));
    CHECK(value == Py_True || value == Py_False ? put_bool(&values[V_BOOL], value == Py_True)
                                                : put_null(&values[V_BOOL]));
    CHECK(text == Py_None ? put_null(&values[V_TEXT]) : put_str(&values[V_TEXT], text));
    CHECK(has_conf ? put_f64(&values[V_CONFIDENCE], conf) : put_null(&values[V_CONFIDENCE]));
    CHECK(put_corners(values, has_upper, ul, has_lower, lr));
    CHECK(put_optional_bool(&values[V_FLAGGED], member(atom, k_flagged)));
    CHECK(put_value_text(&values[V_GOLD], member(atom, k_gold)));
    CHECK(put_optional_bool(&values[V_CORRECT], member(atom, k_correct)));
    if (keep_textual) {
        int64_t kept[6];
        Py_ssize_t size = PyList_CheckExact(textual) ? PyList_GET_SIZE(textual) : -1;
        if (size < 1 || size > 6 || !coordinate(textual, size, kept))
            return put_call_text(&values[V_EXTRA], py_textual_extra, textual);
        return put_textual_extra(&values[V_EXTRA], kept, (uint32_t)size);
    }
    return put_null(&values[V_EXTRA]);
}

/* the compact JSON orjson writes for {"textual_coord": [integers]} */
static int put_textual_extra(Column *c, const int64_t *kept, uint32_t size) {
    char text[8 + 18 + 6 * 21];
    int n = snprintf(text, sizeof text, "{\"textual_coord\":[");
    for (uint32_t i = 0; i < size; i++)
        n += snprintf(text + n, sizeof text - (size_t)n, i ? ",%lld" : "%lld", (long long)kept[i]);
    n += snprintf(text + n, sizeof text - (size_t)n, "]}");
    return put_chars(c, text, n) < 0 ? -1 : 0;
}

/* ------------------------------------------------------------------ the table */

static void truncate_to(AtomTable *t, Py_ssize_t rows) {
    for (int i = 0; i < t->n_columns; i++) {
        Column *c = &t->columns[i];
        c->valid.len = rows;
        switch (c->kind) {
        case K_STR: {
            int32_t end;
            memcpy(&end, c->values.data + rows * 4, 4);
            c->values.len = (rows + 1) * 4;
            c->chars.len = end;
            break;
        }
        case K_I64:
        case K_F64:
        case K_TS: c->values.len = rows * 8; break;
        case K_DATE: c->values.len = rows * 4; break;
        case K_BOOL: c->values.len = rows; break;
        }
    }
    t->rows = rows;
}

/* Every column empty (lengths first, so that a failure below still leaves no rows). */
static int reset_columns(AtomTable *t) {
    const int32_t zero = 0;
    t->rows = 0;
    for (int i = 0; i < t->n_columns; i++) {
        Column *c = &t->columns[i];
        c->valid.len = c->values.len = c->chars.len = 0;
    }
    for (int i = 0; i < t->n_columns; i++) {
        Column *c = &t->columns[i];
        if (c->kind == K_STR && buf_put(&c->values, &zero, 4) < 0) {
            t->n_columns = 0; /* unusable: ready() refuses it from now on */
            return -1;
        }
    }
    return 0;
}

/* The kind of each letter of a generic table's layout (native.py: KIND_LETTERS). */
static int kind_of_letter(Py_UCS4 letter, enum Kind *kind) {
    switch (letter) {
    case 's': *kind = K_STR; return 0;
    case 'i': *kind = K_I64; return 0;
    case 'f': *kind = K_F64; return 0;
    case 'b': *kind = K_BOOL; return 0;
    case 'd': *kind = K_DATE; return 0;
    case 't': *kind = K_TS; return 0;
    }
    return -1;
}

/* AtomTable(line_items: bool): fields or line_items; AtomTable(kinds: str): a table of
 * those columns (one letter each, see kind_of_letter) filled row by row by append_row. */
static int AtomTable_init(AtomTable *self, PyObject *args, PyObject *kwds) {
    PyObject *layout;
    if (!PyArg_ParseTuple(args, "O", &layout)) return -1;
    Py_ssize_t n_kinds = 0;
    int line_items = 0;
    if (PyUnicode_Check(layout)) {
        n_kinds = PyUnicode_GET_LENGTH(layout);
        if (n_kinds < 1 || n_kinds > MAX_COLUMNS) {
            PyErr_Format(PyExc_ValueError, "a table has 1 to %d columns", MAX_COLUMNS);
            return -1;
        }
        for (Py_ssize_t i = 0; i < n_kinds; i++) {
            enum Kind unused;
            if (kind_of_letter(PyUnicode_READ_CHAR(layout, i), &unused) < 0) {
                PyErr_SetString(PyExc_ValueError, "a column kind is one of s, i, f, b, d, t");
                return -1;
            }
        }
    } else {
        line_items = PyObject_IsTrue(layout);
        if (line_items < 0) return -1;
    }
    for (int i = 0; i < MAX_COLUMNS; i++) {
        buf_free(&self->columns[i].valid);
        buf_free(&self->columns[i].values);
        buf_free(&self->columns[i].chars);
    }
    memset(self->columns, 0, sizeof self->columns);
    self->line_items = line_items;
    self->generic = n_kinds > 0;
    if (self->generic) {
        for (Py_ssize_t i = 0; i < n_kinds; i++)
            kind_of_letter(PyUnicode_READ_CHAR(layout, i), &self->columns[i].kind);
        self->n_columns = (int)n_kinds;
        self->values_at = 0;
        if (reset_columns(self) < 0) {
            raised();
            return -1;
        }
        return 0;
    }
    int n = 0;
    for (int i = 0; i < N_BASE; i++) self->columns[n++].kind = BASE_KINDS[i];
    if (line_items) {
        self->columns[n++].kind = K_STR; /* table_name */
        self->columns[n++].kind = K_I64; /* row_index */
        self->columns[n++].kind = K_STR; /* column_name */
    } else {
        self->columns[n++].kind = K_STR; /* field_name */
        self->columns[n++].kind = K_I64; /* occurrence */
    }
    self->values_at = n;
    for (int i = 0; i < N_VALUES; i++) self->columns[n++].kind = VALUE_KINDS[i];
    self->n_columns = n;
    if (reset_columns(self) < 0) {
        raised();
        return -1;
    }
    return 0;
}

static void AtomTable_dealloc(AtomTable *self) {
    for (int i = 0; i < MAX_COLUMNS; i++) {
        buf_free(&self->columns[i].valid);
        buf_free(&self->columns[i].values);
        buf_free(&self->columns[i].chars);
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

typedef struct {
    PyObject *document_id, *inbox_id, *version_name, *is_evaluated;
    int64_t version_index;
    /* The same as UTF-8 (NULL for None), read once with the GIL for put_base. */
    const char *id_chars, *inbox_chars, *name_chars;
    Py_ssize_t id_len, inbox_len, name_len;
} Base;

/* The UTF-8 of a str or NULL for None; 0, or 1 (a str that is not valid UTF-8). */
static int base_chars(PyObject *v, const char **chars, Py_ssize_t *len) {
    *chars = NULL, *len = 0;
    if (v == Py_None) return 0;
    if (PyUnicode_IS_ASCII(v)) {
        *chars = (const char *)PyUnicode_DATA(v);
        *len = PyUnicode_GET_LENGTH(v);
        return 0;
    }
    *chars = PyUnicode_AsUTF8AndSize(v, len);
    if (*chars == NULL) {
        PyErr_Clear();
        return 1;
    }
    return 0;
}

static int read_base(PyObject *base, Base *out) {
    if (!PyTuple_CheckExact(base) || PyTuple_GET_SIZE(base) != N_BASE) {
        PyErr_SetString(PyExc_TypeError, "base must be a 5-tuple");
        return -1;
    }
    out->document_id = PyTuple_GET_ITEM(base, 0);
    out->inbox_id = PyTuple_GET_ITEM(base, 2);
    out->version_name = PyTuple_GET_ITEM(base, 3);
    out->is_evaluated = PyTuple_GET_ITEM(base, 4);
    PyObject *index = PyTuple_GET_ITEM(base, 1);
    if (!PyUnicode_CheckExact(out->document_id) || !PyLong_CheckExact(index) ||
        !is_int64(index, &out->version_index) ||
        (out->inbox_id != Py_None && !PyUnicode_CheckExact(out->inbox_id)) ||
        (out->version_name != Py_None && !PyUnicode_CheckExact(out->version_name)) ||
        (out->is_evaluated != Py_None && out->is_evaluated != Py_True &&
         out->is_evaluated != Py_False)) {
        PyErr_SetString(PyExc_TypeError, "base: (str, int, str|None, str|None, bool|None)");
        return -1;
    }
    if (base_chars(out->document_id, &out->id_chars, &out->id_len) ||
        base_chars(out->inbox_id, &out->inbox_chars, &out->inbox_len) ||
        base_chars(out->version_name, &out->name_chars, &out->name_len))
        return NOT_PLAIN;
    return 0;
}

/* 0, or -1 with RuntimeError for a table `__init__` never set up or a module never
 * configured (native.py does both; this guards direct use). */
static int ready(AtomTable *t) {
    if (t->n_columns == 0) {
        PyErr_SetString(PyExc_RuntimeError, "AtomTable.__init__ was not called");
        return -1;
    }
    if (plain_keys == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_native.configure() was not called");
        return -1;
    }
    return 0;
}

static int put_base(AtomTable *t, const Base *b) {
    Column *c = t->columns;
    if (without_gil && t->rows >= PREWRITE_MAX_ROWS) return -1; /* a row more: see prewrite */
    CHECK(put_chars(&c[0], b->id_chars, b->id_len) < 0 ? -1 : 0);
    CHECK(put_i64(&c[1], b->version_index));
    CHECK(b->inbox_chars == NULL ? put_null(&c[2])
                                 : (put_chars(&c[2], b->inbox_chars, b->inbox_len) < 0 ? -1 : 0));
    CHECK(b->name_chars == NULL ? put_null(&c[3])
                                : (put_chars(&c[3], b->name_chars, b->name_len) < 0 ? -1 : 0));
    if (b->is_evaluated == Py_None) return put_null(&c[4]);
    return put_bool(&c[4], b->is_evaluated == Py_True);
}

static int add_fields(AtomTable *t, const Base *b, PyObject *annotations) {
    Column *c = t->columns, *values = &t->columns[t->values_at];
    PyObject *name, *atoms;
    Py_ssize_t pos = 0;
    while (PyDict_Next(annotations, &pos, &name, &atoms)) {
        if (atoms == Py_None) continue; /* a null field has no row */
        if (!PyUnicode_CheckExact(name) || !PyList_CheckExact(atoms)) return NOT_PLAIN;
        Py_ssize_t n = PyList_GET_SIZE(atoms);
        if (n == 0) { /* `[]`: one row, occurrence -1, correct when the version is judged */
            CHECK(put_base(t, b));
            CHECK(put_str(&c[N_BASE], name));
            CHECK(put_i64(&c[N_BASE + 1], -1));
            CHECK(put_null_values(values, b->is_evaluated == Py_True ? Py_True : NULL));
            t->rows++;
            continue;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            CHECK(put_base(t, b));
            CHECK(put_str(&c[N_BASE], name));
            CHECK(put_i64(&c[N_BASE + 1], i));
            CHECK(put_atom(values, PyList_GET_ITEM(atoms, i)));
            t->rows++;
        }
    }
    return 0;
}

static int add_line_items(AtomTable *t, const Base *b, PyObject *lines) {
    Column *c = t->columns, *values = &t->columns[t->values_at];
    PyObject *table, *rows;
    Py_ssize_t pos = 0;
    while (PyDict_Next(lines, &pos, &table, &rows)) {
        if (rows == Py_None) continue;
        if (!PyUnicode_CheckExact(table) || !PyList_CheckExact(rows)) return NOT_PLAIN;
        for (Py_ssize_t r = 0; r < PyList_GET_SIZE(rows); r++) {
            PyObject *cells = PyList_GET_ITEM(rows, r), *column, *cell;
            if (cells == Py_None) continue;
            if (!PyDict_CheckExact(cells)) return NOT_PLAIN;
            Py_ssize_t cpos = 0;
            while (PyDict_Next(cells, &cpos, &column, &cell)) {
                if (!PyUnicode_CheckExact(column)) return NOT_PLAIN;
                CHECK(put_base(t, b));
                CHECK(put_str(&c[N_BASE], table));
                CHECK(put_i64(&c[N_BASE + 1], r));
                CHECK(put_str(&c[N_BASE + 2], column));
                CHECK(put_atom(values, cell));
                t->rows++;
            }
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ pages on a tape */

/* `parse_page(body)` (lazy.py): the body parsed into a tape without the GIL, then built
 * into the Python objects jsonbody.loads would give, except that the `annotations` and
 * `lines` objects of each document's versions and prediction stay on the tape as
 * `Subtree`s: those are ~95% of a page's values and only `add` (below) reads them. */

struct Subtree;

typedef struct {
    PyObject_HEAD
    Py_buffer body; /* the bytes parsed, held: unescaped strings point into them */
    Tape tape;
    /* The rows of every version's annotations (pre[0], a fields table) and lines (pre[1],
     * line_items), written by the reader thread that parsed the page, without the GIL
     * (`prewrite`); `add` then copies a Subtree's rows from here. */
    AtomTable *pre[2];
    struct Subtree **pending; /* the Subtrees still to write (while the page is built) */
    Py_ssize_t n_pending, cap_pending;
} Page;

enum { PRE_NONE, PRE_ROWS, PRE_NOT_PLAIN };

typedef struct Subtree {
    PyObject_HEAD
    Page *page;
    uint32_t node;
    int8_t kind; /* 0: a version's annotations, 1: its lines, -1: other (prediction) */
    int8_t pre;  /* PRE_*: what the reader thread found (PRE_NONE: nothing written) */
    Py_ssize_t pre_start, pre_rows; /* its rows in page->pre[kind] (PRE_ROWS) */
} Subtree;

static void Page_dealloc(Page *self) {
    Py_XDECREF(self->pre[0]);
    Py_XDECREF(self->pre[1]);
    PyMem_Free(self->pending);
    tape_free(&self->tape);
    if (self->body.obj != NULL) PyBuffer_Release(&self->body);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject PageType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "source_contractfit.export.normalize._native.Page",
    .tp_basicsize = sizeof(Page),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A parsed body that Subtrees refer to",
    .tp_dealloc = (destructor)Page_dealloc,
};

static void Subtree_dealloc(Subtree *self) {
    Py_XDECREF(self->page);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static inline const JNode *tape_at(const Page *pg, uint32_t i) { return &pg->tape.nodes[i]; }

static inline const char *tape_chars(const Page *pg, const JNode *n) {
    return (n->flags & J_ESCAPED) ? pg->tape.side + n->v.off : (const char *)pg->body.buf + n->src;
}

/* raw() -> bytes: the subtree's JSON text as the server sent it (lazy.materialize). */
static PyObject *Subtree_raw(Subtree *self, PyObject *unused) {
    const JNode *n = tape_at(self->page, self->node);
    return PyBytes_FromStringAndSize((const char *)self->page->body.buf + n->src,
                                     (Py_ssize_t)(n->v.off - n->src));
}

static PyMethodDef Subtree_methods[] = {
    {"raw", (PyCFunction)Subtree_raw, METH_NOARGS, "raw() -> bytes: the JSON text"},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef Subtree_members[] = {
    {"prewritten", T_BYTE, offsetof(Subtree, pre), READONLY,
     "0: read from the tape by add; 1: rows written by the parsing thread; 2: not plain"},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject SubtreeType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "source_contractfit.export.normalize._native.Subtree",
    .tp_basicsize = sizeof(Subtree),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "An object of a parsed page left unbuilt (see lazy.py)",
    .tp_dealloc = (destructor)Subtree_dealloc,
    .tp_methods = Subtree_methods,
    .tp_members = Subtree_members,
};

static PyObject *tape_str(const char *s, uint32_t n, int ascii) {
    if (!ascii) return PyUnicode_DecodeUTF8(s, (Py_ssize_t)n, "strict");
    PyObject *out = PyUnicode_New((Py_ssize_t)n, 127);
    if (out != NULL) memcpy(PyUnicode_DATA(out), s, n);
    return out;
}

/* Keys repeat on every document: a small cache of their str objects (GIL held). */
#define KEY_CACHE 1024
#define KEY_BYTES 32
static struct {
    uint32_t len;
    char bytes[KEY_BYTES];
    PyObject *key;
} key_cache[KEY_CACHE];

static PyObject *tape_key(const char *s, uint32_t n, int ascii) {
    if (!ascii || n > KEY_BYTES) return tape_str(s, n, ascii);
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    h ^= n;
    __typeof__(key_cache[0]) *slot = &key_cache[h & (KEY_CACHE - 1)];
    if (slot->key != NULL && slot->len == n && memcmp(slot->bytes, s, n) == 0)
        return Py_NewRef(slot->key);
    PyObject *key = tape_str(s, n, 1);
    if (key == NULL) return NULL;
    Py_XSETREF(slot->key, Py_NewRef(key));
    slot->len = n;
    memcpy(slot->bytes, s, n);
    return key;
}

/* Where a value sits in a page, for what is left on the tape. */
enum { R_ANY, R_TOP, R_RESULTS, R_DOCUMENT, R_VERSIONS, R_HOLDER, R_VERSION };

static int key_is(const Page *pg, const JNode *key, const char *name) {
    size_t n = strlen(name);
    return key->count == n && memcmp(tape_chars(pg, key), name, n) == 0;
}

static int child_role(const Page *pg, int role, const JNode *key) {
    switch (role) {
    case R_TOP: return key_is(pg, key, "results") ? R_RESULTS : R_ANY;
    case R_DOCUMENT:
        if (key_is(pg, key, "versions")) return R_VERSIONS;
        return key_is(pg, key, "prediction") ? R_HOLDER : R_ANY;
    default: return R_ANY;
    }
}

static PyTypeObject AtomTableType;
static int prewrite(Page *pg);

/* Remember `sub` for prewrite, with a reference of its own: a key that repeats (a
 * version's second "annotations", a second "versions" or "results" above) makes the dict
 * drop the Subtrees built for the first, which prewrite must not touch once freed (GIL
 * held; -1: no memory, raised). parse_page releases them all. */
static int pend(Page *pg, Subtree *sub) {
    if (pg->n_pending == pg->cap_pending) {
        Py_ssize_t cap = pg->cap_pending ? 2 * pg->cap_pending : 64;
        Subtree **grown = PyMem_Realloc(pg->pending, (size_t)cap * sizeof *grown);
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        pg->pending = grown;
        pg->cap_pending = cap;
    }
    pg->pending[pg->n_pending++] = (Subtree *)Py_NewRef((PyObject *)sub);
    return 0;
}

static PyObject *tape_build(Page *pg, uint32_t i, int role) {
    const JNode *n = tape_at(pg, i);
    switch (n->type) {
    case J_NULL: return Py_NewRef(Py_None);
    case J_TRUE: return Py_NewRef(Py_True);
    case J_FALSE: return Py_NewRef(Py_False);
    case J_INT: return PyLong_FromLongLong((long long)n->v.i);
    case J_FLOAT: return PyFloat_FromDouble(n->v.d);
    case J_STR: return tape_str(tape_chars(pg, n), n->count, n->flags & J_ASCII);
    case J_ARR: {
        PyObject *list = PyList_New((Py_ssize_t)n->count);
        if (list == NULL) return NULL;
        int item_role = role == R_RESULTS ? R_DOCUMENT
                        : role == R_VERSIONS               ? R_VERSION
                                                           : R_ANY;
        uint32_t at = i + 1;
        for (uint32_t k = 0; k < n->count; k++) {
            PyObject *item = tape_build(pg, at, item_role);
            if (item == NULL) {
                Py_DECREF(list);
                return NULL;
            }
            PyList_SET_ITEM(list, (Py_ssize_t)k, item);
            at = tape_at(pg, at)->end;
        }
        return list;
    }
    default: { /* J_OBJ */
        PyObject *dict = PyDict_New();
        if (dict == NULL) return NULL;
        uint32_t at = i + 1;
        for (uint32_t k = 0; k < n->count; k++) {
            const JNode *key_node = tape_at(pg, at), *value = tape_at(pg, at + 1);
            PyObject *key = tape_key(tape_chars(pg, key_node), key_node->count,
                                     key_node->flags & J_ASCII);
            PyObject *item = NULL;
            if (key != NULL) {
                int holder = role == R_HOLDER || role == R_VERSION;
                int lines = holder && key_is(pg, key_node, "lines");
                if (holder && value->type == J_OBJ &&
                    (lines || key_is(pg, key_node, "annotations"))) {
                    Subtree *sub = PyObject_New(Subtree, &SubtreeType);
                    if (sub != NULL) {
                        sub->page = (Page *)Py_NewRef((PyObject *)pg);
                        sub->node = at + 1;
                        sub->kind = role == R_VERSION ? (int8_t)lines : -1;
                        sub->pre = PRE_NONE;
                        sub->pre_start = sub->pre_rows = 0;
                        if (sub->kind >= 0 && pend(pg, sub) < 0) Py_CLEAR(sub);
                    }
                    item = (PyObject *)sub;
                } else {
                    item = tape_build(pg, at + 1, child_role(pg, role, key_node));
                }
            }
            if (item == NULL || PyDict_SetItem(dict, key, item) < 0) {
                Py_XDECREF(key);
                Py_XDECREF(item);
                Py_DECREF(dict);
                return NULL;
            }
            Py_DECREF(key);
            Py_DECREF(item);
            at = value->end;
        }
        return dict;
    }
    }
}

/* parse_page(body: bytes) -> the decoded body with Subtrees, or None: not taken. Only
 * bytes: they cannot change while the parse checks them without the GIL, nor under the
 * Subtrees afterwards (lazy.loads copies a bytearray). */
static PyObject *parse_page(PyObject *module, PyObject *body) {
    if (!PyBytes_CheckExact(body)) Py_RETURN_NONE;
    Page *pg = PyObject_New(Page, &PageType);
    if (pg == NULL) return NULL;
    memset(&pg->tape, 0, sizeof pg->tape);
    memset(&pg->body, 0, sizeof pg->body);
    pg->pre[0] = pg->pre[1] = NULL;
    pg->pending = NULL;
    pg->n_pending = pg->cap_pending = 0;
    if (PyObject_GetBuffer(body, &pg->body, PyBUF_SIMPLE) < 0) {
        Py_DECREF(pg);
        return NULL;
    }
    const unsigned char *data = (const unsigned char *)pg->body.buf;
    size_t size = (size_t)pg->body.len;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = tape_parse(&pg->tape, data, size);
    Py_END_ALLOW_THREADS
    PyObject *out = rc < 0 ? Py_NewRef(Py_None) : tape_build(pg, 0, R_TOP);
    if (out != NULL && out != Py_None && pg->n_pending && prewrite(pg) < 0) Py_CLEAR(out);
    for (Py_ssize_t k = 0; k < pg->n_pending; k++) Py_DECREF(pg->pending[k]);
    PyMem_Free(pg->pending);
    pg->pending = NULL;
    pg->n_pending = pg->cap_pending = 0;
    Py_DECREF(pg); /* the Subtrees hold it */
    return out;
}

/* ------------------------------------------------------------------ atoms on a tape */

/* The same rules as the readers of Python objects above, on tape nodes. Where the
 * Python object path calls back into Python for a rare form (a value that is an array or
 * an object, a kept textual_coord that is not integers), this one says NOT_PLAIN: the
 * document is then materialized and goes the Python objects' way. */

/* Whether a float's JSON text is exactly its repr: fixed notation with the decimal point
 * 1e-4 <= |x| < 1e16 (repr's own choice), no trailing zero but in `.0`, and at most 15
 * significant digits, which any double tells apart (DBL_DIG), so no shorter text is the
 * same double and repr, the shortest, has these very digits. */
static int canonical_float(const char *s, uint32_t n) {
    uint32_t i = 0;
    if (i < n && s[i] == '-') i++;
    uint32_t int_start = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    uint32_t int_digits = i - int_start;
    if (i >= n || s[i] != '.') return 0; /* an exponent: repr's exponents differ */
    uint32_t frac_start = ++i;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    uint32_t frac_digits = i - frac_start;
    if (i != n || frac_digits == 0) return 0;
    int zero_int = int_digits == 1 && s[int_start] == '0';
    if (s[n - 1] == '0') /* only `X.0`: a whole number */
        return frac_digits == 1 && (zero_int || int_digits <= 15);
    if (!zero_int) /* decpt = int_digits <= 16; significant: all of them */
        return int_digits <= 16 && int_digits + frac_digits <= 15;
    uint32_t zeros = 0;
    while (zeros < frac_digits && s[frac_start + zeros] == '0') zeros++;
    /* 0.000ddd has decpt = -zeros: repr writes it so while decpt > -4 */
    return zeros <= 3 && frac_digits - zeros <= 15;
}

static int tape_value_text(Column *c, const Page *pg, const JNode *v) {
    switch (v->type) {
    case J_NULL: return put_null(c);
    case J_STR: return put_chars(c, tape_chars(pg, v), v->count) < 0 ? -1 : 0;
    case J_TRUE: return put_chars(c, "true", 4) < 0 ? -1 : 0;
    case J_FALSE: return put_chars(c, "false", 5) < 0 ? -1 : 0;
    case J_FLOAT: {
        const char *source = (const char *)pg->body.buf + v->src;
        if (canonical_float(source, v->count))
            return put_chars(c, source, v->count) < 0 ? -1 : 0;
        if (without_gil) return NEEDS_GIL;
        char *r = PyOS_double_to_string(v->v.d, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
        if (r == NULL) return -1;
        int rc = put_chars(c, r, (Py_ssize_t)strlen(r));
        PyMem_Free(r);
        return rc < 0 ? -1 : 0;
    }
    case J_INT: {
        char text[32];
        int n = snprintf(text, sizeof text, "%lld", (long long)v->v.i);
        return put_chars(c, text, n) < 0 ? -1 : 0;
    }
    default: return NOT_PLAIN;
    }
}

static int tape_value_number(Column *c, const Page *pg, const JNode *v) {
    if (v->type == J_FLOAT) return put_f64(c, v->v.d); /* finite: the tape has no other */
    if (v->type == J_INT) {
        double d = (double)v->v.i;
        if (d < 9223372036854775808.0 && (int64_t)d == v->v.i) return put_f64(c, d);
        return put_null(c);
    }
    if (v->type != J_STR) return put_null(c);
    if (!(v->flags & J_ASCII)) return put_null(c);
    Py_ssize_t n = v->count;
    int integer;
    char text[400];
    if (n >= 400) return put_null(c);
    memcpy(text, tape_chars(pg, v), (size_t)n);
    text[n] = '\0';
    if (!numeric_text(text, n, &integer)) return put_null(c);
    if (without_gil && !integer) {
        /* strtod, correctly rounded as Python's own is, reads the same text (checked by
         * numeric_text) to the same double; PyOS_string_to_double needs the GIL. Should
         * the C locale ever not use '.', the text is not taken whole: Python decides. */
        char *end;
        double d = strtod(text, &end);
        if (end != text + n) return NEEDS_GIL;
        return isfinite(d) ? put_f64(c, d) : put_null(c);
    }
    if (without_gil && n > 18) return NEEDS_GIL;
    if (!integer) {
        char *end;
        double d = PyOS_string_to_double(text, &end, NULL);
        if (d == -1.0 && PyErr_Occurred()) return failed_call();
        if (end != text + n) return NOT_PLAIN;
        return isfinite(d) ? put_f64(c, d) : put_null(c);
    }
    if (n <= 18) {
        long long x = strtoll(text, NULL, 10);
        double d = (double)x;
        return (int64_t)d == x ? put_f64(c, d) : put_null(c);
    }
    PyObject *s = PyUnicode_FromStringAndSize(text, n);
    if (s == NULL) return -1;
    PyObject *out = PyObject_CallOneArg(py_value_number, s);
    Py_DECREF(s);
    if (out == NULL) return failed_call();
    int rc = out == Py_None              ? put_null(c)
             : PyFloat_CheckExact(out) ? put_f64(c, PyFloat_AS_DOUBLE(out))
                                       : NOT_PLAIN;
    Py_DECREF(out);
    return rc;
}

static int tape_value_date(Column *c, const Page *pg, const JNode *v) {
    if (v->type != J_STR || !(v->flags & J_ASCII) || v->count != 10) return put_null(c);
    return put_date_text(c, (const unsigned char *)tape_chars(pg, v));
}

static int tape_coordinate(const Page *pg, uint32_t i, uint32_t size, int64_t *out) {
    const JNode *n = tape_at(pg, i);
    if (n->type != J_ARR || n->count != size) return 0;
    for (uint32_t k = 0; k < size; k++) {
        const JNode *item = tape_at(pg, i + 1 + k); /* scalars follow one another */
        if (item->type != J_INT) return 0;
        out[k] = item->v.i;
    }
    return 1;
}

static int tape_optional_bool(Column *c, const JNode *v) {
    if (v->type == J_NULL) return put_null(c);
    if (v->type == J_TRUE || v->type == J_FALSE) return put_bool(c, v->type == J_TRUE);
    return NOT_PLAIN;
}

/* The atom keys, in the order of `slots` in tape_atom. */
static const char *const TAPE_ATOM_KEYS[] = {"value", "text", "confidence", "upper_left",
                                             "lower_right", "textual_coord", "flagged", "gold",
                                             "correct"};
#define N_ATOM_KEYS 9
enum { A_VALUE, A_TEXT, A_CONFIDENCE, A_UPPER, A_LOWER, A_TEXTUAL, A_FLAGGED, A_GOLD, A_CORRECT };
static const JNode TAPE_NULL = {.type = J_NULL};

static int tape_atom(Column *values, const Page *pg, uint32_t i) {
    const JNode *atom = tape_at(pg, i);
    if (atom->type == J_NULL) return put_null_values(values, NULL);
    if (atom->type != J_OBJ) return NOT_PLAIN;
    uint32_t slot[N_ATOM_KEYS] = {0}; /* node index of each key's value; 0: absent */
    uint32_t at = i + 1;
    for (uint32_t k = 0; k < atom->count; k++) {
        const JNode *key = tape_at(pg, at);
        int found = -1;
        for (int s = 0; s < N_ATOM_KEYS && found < 0; s++)
            if (key_is(pg, key, TAPE_ATOM_KEYS[s])) found = s;
        if (found < 0 || slot[found]) return NOT_PLAIN; /* drift, or a key twice */
        slot[found] = at + 1;
        at = tape_at(pg, at + 1)->end;
    }
#define SLOT(s) (slot[s] ? tape_at(pg, slot[s]) : &TAPE_NULL)
    const JNode *value = SLOT(A_VALUE), *text = SLOT(A_TEXT), *confidence = SLOT(A_CONFIDENCE);
    const JNode *textual = SLOT(A_TEXTUAL);
    int64_t ul[6], lr[3];
    int has_upper = slot[A_UPPER] && SLOT(A_UPPER)->type != J_NULL;
    int has_lower = slot[A_LOWER] && SLOT(A_LOWER)->type != J_NULL, keep_textual = 0;
    if (has_upper && !tape_coordinate(pg, slot[A_UPPER], 3, ul)) return NOT_PLAIN;
    if (has_lower && !tape_coordinate(pg, slot[A_LOWER], 3, lr)) return NOT_PLAIN;
    if (textual->type != J_NULL) {
        if (!has_upper && !has_lower) {
            if (!tape_coordinate(pg, slot[A_TEXTUAL], 6, ul)) return NOT_PLAIN;
            lr[0] = ul[3], lr[1] = ul[4], lr[2] = ul[5];
            has_upper = has_lower = 1;
        } else {
            keep_textual = 1;
        }
    }
    if (text->type != J_NULL && text->type != J_STR) return NOT_PLAIN;
    double conf = 0.0;
    int has_conf = 1;
    if (confidence->type == J_FLOAT) conf = confidence->v.d;
    else if (confidence->type == J_INT) conf = (double)confidence->v.i;
    else if (confidence->type == J_NULL) has_conf = 0;
    else return NOT_PLAIN;
    CHECK(tape_value_text(&values[V_VALUE], pg, value));
    CHECK(tape_value_number(&values[V_NUMBER], pg, value));
    CHECK(tape_value_date(&values[V_DATE], pg, value));
    CHECK(value->type == J_TRUE || value->type == J_FALSE
              ? put_bool(&values[V_BOOL], value->type == J_TRUE)
              : put_null(&values[V_BOOL]));
    if (text->type == J_NULL) CHECK(put_null(&values[V_TEXT]));
    else if (put_chars(&values[V_TEXT], tape_chars(pg, text), text->count) < 0) return -1;
    CHECK(has_conf ? put_f64(&values[V_CONFIDENCE], conf) : put_null(&values[V_CONFIDENCE]));
    CHECK(put_corners(values, has_upper, ul, has_lower, lr));
    CHECK(tape_optional_bool(&values[V_FLAGGED], SLOT(A_FLAGGED)));
    CHECK(tape_value_text(&values[V_GOLD], pg, SLOT(A_GOLD)));
    CHECK(tape_optional_bool(&values[V_CORRECT], SLOT(A_CORRECT)));
    if (keep_textual) {
        int64_t kept[6];
        uint32_t size = textual->type == J_ARR ? textual->count : 0;
        if (size < 1 || size > 6 || !tape_coordinate(pg, slot[A_TEXTUAL], size, kept))
            return NOT_PLAIN;
        return put_textual_extra(&values[V_EXTRA], kept, size);
    }
#undef SLOT
    return put_null(&values[V_EXTRA]);
}

static uint32_t key_hash(const char *s, uint32_t n) {
    uint32_t h = 2166136261u;
    for (uint32_t k = 0; k < n; k++) h = (h ^ (unsigned char)s[k]) * 16777619u;
    return h;
}

/* Whether an object has a key twice (a dict keeps the last; the readers then differ):
 * pairwise for a few keys, else through a hash table of key nodes (-1: no memory). */
static int tape_repeats_key(const Page *pg, uint32_t i) {
    const JNode *obj = tape_at(pg, i);
    if (obj->count < 2) return 0;
    if (obj->count > 16) {
        uint32_t size = 64;
        while (size < 2 * obj->count) size *= 2;
        uint32_t *slots = PyMem_RawCalloc(size, sizeof(uint32_t)); /* key node + 1; 0: free */
        if (slots == NULL) return -1;
        int repeated = 0;
        uint32_t at = i + 1;
        for (uint32_t k = 0; k < obj->count && !repeated; k++) {
            const JNode *key = tape_at(pg, at);
            const char *chars = tape_chars(pg, key);
            uint32_t h = key_hash(chars, key->count) & (size - 1);
            while (slots[h]) {
                const JNode *seen = tape_at(pg, slots[h] - 1);
                if (seen->count == key->count &&
                    memcmp(tape_chars(pg, seen), chars, key->count) == 0) {
                    repeated = 1;
                    break;
                }
                h = (h + 1) & (size - 1);
            }
            slots[h] = at + 1;
            at = tape_at(pg, at + 1)->end;
        }
        PyMem_RawFree(slots);
        return repeated;
    }
    uint32_t at = i + 1;
    for (uint32_t k = 0; k < obj->count; k++) {
        const JNode *key = tape_at(pg, at);
        uint32_t other = tape_at(pg, at + 1)->end;
        for (uint32_t m = k + 1; m < obj->count; m++) {
            const JNode *later = tape_at(pg, other);
            if (later->count == key->count &&
                memcmp(tape_chars(pg, later), tape_chars(pg, key), key->count) == 0)
                return 1;
            other = tape_at(pg, other + 1)->end;
        }
        at = tape_at(pg, at + 1)->end;
    }
    return 0;
}

static int tape_fields(AtomTable *t, const Base *b, const Page *pg, uint32_t i) {
    Column *c = t->columns, *values = &t->columns[t->values_at];
    const JNode *obj = tape_at(pg, i);
    int twice = tape_repeats_key(pg, i);
    if (twice) return twice < 0 ? -1 : NOT_PLAIN;
    uint32_t at = i + 1;
    for (uint32_t k = 0; k < obj->count; k++) {
        const JNode *name = tape_at(pg, at), *atoms = tape_at(pg, at + 1);
        uint32_t next = atoms->end;
        if (atoms->type == J_NULL) {
            at = next;
            continue;
        }
        if (atoms->type != J_ARR) return NOT_PLAIN;
        const char *name_chars = tape_chars(pg, name);
        if (atoms->count == 0) {
            CHECK(put_base(t, b));
            CHECK(put_chars(&c[N_BASE], name_chars, name->count) < 0 ? -1 : 0);
            CHECK(put_i64(&c[N_BASE + 1], -1));
            CHECK(put_null_values(values, b->is_evaluated == Py_True ? Py_True : NULL));
            t->rows++;
        }
        uint32_t item = at + 2;
        for (uint32_t o = 0; o < atoms->count; o++) {
            CHECK(put_base(t, b));
            CHECK(put_chars(&c[N_BASE], name_chars, name->count) < 0 ? -1 : 0);
            CHECK(put_i64(&c[N_BASE + 1], o));
            CHECK(tape_atom(values, pg, item));
            t->rows++;
            item = tape_at(pg, item)->end;
        }
        at = next;
    }
    return 0;
}

static int tape_line_items(AtomTable *t, const Base *b, const Page *pg, uint32_t i) {
    Column *c = t->columns, *values = &t->columns[t->values_at];
    const JNode *obj = tape_at(pg, i);
    int twice = tape_repeats_key(pg, i);
    if (twice) return twice < 0 ? -1 : NOT_PLAIN;
    uint32_t at = i + 1;
    for (uint32_t k = 0; k < obj->count; k++) {
        const JNode *table = tape_at(pg, at), *rows = tape_at(pg, at + 1);
        uint32_t next = rows->end;
        if (rows->type == J_NULL) {
            at = next;
            continue;
        }
        if (rows->type != J_ARR) return NOT_PLAIN;
        uint32_t row = at + 2;
        for (uint32_t r = 0; r < rows->count; r++) {
            const JNode *cells = tape_at(pg, row);
            if (cells->type == J_OBJ) {
                int twice = tape_repeats_key(pg, row);
                if (twice) return twice < 0 ? -1 : NOT_PLAIN;
                uint32_t cell = row + 1;
                for (uint32_t m = 0; m < cells->count; m++) {
                    const JNode *column = tape_at(pg, cell);
                    CHECK(put_base(t, b));
                    CHECK(put_chars(&c[N_BASE], tape_chars(pg, table), table->count) < 0 ? -1
                                                                                           : 0);
                    CHECK(put_i64(&c[N_BASE + 1], r));
                    CHECK(put_chars(&c[N_BASE + 2], tape_chars(pg, column), column->count) < 0
                              ? -1
                              : 0);
                    CHECK(tape_atom(values, pg, cell + 1));
                    t->rows++;
                    cell = tape_at(pg, cell + 1)->end;
                }
            } else if (cells->type != J_NULL) {
                return NOT_PLAIN;
            }
            row = cells->end;
        }
        at = next;
    }
    return 0;
}

/* The rows of each pending Subtree written into the page's own tables by the thread
 * that parsed it, without the GIL, so that the reader threads do this work in parallel
 * and the exporter's one consuming thread only copies the rows (`add`). A Subtree whose
 * rows need Python (a float's repr, a numeric string's value) or memory that failed is
 * left PRE_NONE and `add` reads it from the tape as before; one that is not plain is
 * PRE_NOT_PLAIN, which does not depend on the base (0 built, -1 raised). */
static int prewrite(Page *pg) {
    for (int kind = 0; kind < 2; kind++) {
        pg->pre[kind] = (AtomTable *)PyObject_CallFunctionObjArgs(
            (PyObject *)&AtomTableType, kind ? Py_True : Py_False, NULL);
        if (pg->pre[kind] == NULL) return -1;
    }
    /* No base: its columns get placeholders; `add` writes the real ones. */
    Base none = {.document_id = Py_None, .inbox_id = Py_None, .version_name = Py_None,
                 .is_evaluated = Py_None};
    Py_BEGIN_ALLOW_THREADS
    without_gil = 1;
    for (Py_ssize_t k = 0; k < pg->n_pending; k++) {
        Subtree *sub = pg->pending[k];
        AtomTable *t = pg->pre[sub->kind];
        Py_ssize_t before = t->rows;
        int rc = sub->kind ? tape_line_items(t, &none, pg, sub->node)
                           : tape_fields(t, &none, pg, sub->node);
        if (rc == 0) {
            sub->pre = PRE_ROWS;
            sub->pre_start = before;
            sub->pre_rows = t->rows - before;
        } else {
            truncate_to(t, before);
            sub->pre = rc == NOT_PLAIN ? PRE_NOT_PLAIN : PRE_NONE;
        }
    }
    without_gil = 0;
    Py_END_ALLOW_THREADS
    return 0;
}

/* Rows [start, start + n) of column `src` appended to `dst` (the same kind). */
static int copy_rows(Column *dst, const Column *src, Py_ssize_t start, Py_ssize_t n) {
    if (buf_put(&dst->valid, src->valid.data + start, n) < 0) return -1;
    switch (dst->kind) {
    case K_STR: {
        const int32_t *off = (const int32_t *)src->values.data + start;
        int32_t last;
        memcpy(&last, dst->values.data + dst->values.len - 4, 4);
        int64_t text = (int64_t)off[n] - off[0];
        if ((int64_t)last + text > INT32_MAX) {
            PyErr_SetString(PyExc_OverflowError, "more than 2 GiB of text in one buffer");
            return -1;
        }
        if (buf_put(&dst->chars, src->chars.data + off[0], (Py_ssize_t)text) < 0 ||
            buf_reserve(&dst->values, 4 * n) < 0)
            return -1;
        int32_t *out = (int32_t *)(dst->values.data + dst->values.len);
        int32_t shift = last - off[0];
        for (Py_ssize_t r = 1; r <= n; r++) out[r - 1] = off[r] + shift;
        dst->values.len += 4 * n;
        return 0;
    }
    case K_I64:
    case K_F64:
    case K_TS: return buf_put(&dst->values, src->values.data + 8 * start, 8 * n);
    case K_DATE: return buf_put(&dst->values, src->values.data + 4 * start, 4 * n);
    case K_BOOL: return buf_put(&dst->values, src->values.data + start, n);
    }
    return 0;
}

/* The rows prewritten for `sub`, with the base `b`: what tape_fields/tape_line_items
 * would write (an empty field list's row is `correct` when the version is judged). */
static int copy_prewritten(AtomTable *t, const Base *b, const Subtree *sub) {
    const AtomTable *src = sub->page->pre[sub->kind];
    Py_ssize_t n = sub->pre_rows, first = t->rows;
    for (Py_ssize_t r = 0; r < n; r++) CHECK(put_base(t, b));
    for (int i = N_BASE; i < t->n_columns; i++)
        if (copy_rows(&t->columns[i], &src->columns[i], sub->pre_start, n) < 0) return -1;
    if (!t->line_items && b->is_evaluated == Py_True) {
        const int64_t *occurrence = (const int64_t *)t->columns[N_BASE + 1].values.data;
        Column *correct = &t->columns[t->values_at + V_CORRECT];
        for (Py_ssize_t r = first; r < first + n; r++)
            if (occurrence[r] == -1) correct->valid.data[r] = correct->values.data[r] = 1;
    }
    t->rows += n;
    return 0;
}

/* add(base, obj) -> rows added, or -1 when obj is not plain (the table as it was). */
static PyObject *AtomTable_add(AtomTable *self, PyObject *args) {
    PyObject *base, *obj;
    Base b;
    if (ready(self) < 0) return NULL;
    if (!PyArg_ParseTuple(args, "OO", &base, &obj)) return NULL;
    if (self->generic) {
        PyErr_SetString(PyExc_TypeError, "add() is for fields and line_items tables");
        return NULL;
    }
    int based = read_base(base, &b);
    if (based < 0) return NULL;
    if (obj == Py_None) return PyLong_FromLong(0);
    if (based) return PyLong_FromLong(-1);
    Py_ssize_t before = self->rows;
    int rc;
    if (Py_IS_TYPE(obj, &SubtreeType)) {
        Subtree *sub = (Subtree *)obj; /* an object node: tape_build makes no other */
        if (sub->pre != PRE_NONE && sub->kind == self->line_items)
            rc = sub->pre == PRE_NOT_PLAIN ? NOT_PLAIN : copy_prewritten(self, &b, sub);
        else
            rc = self->line_items ? tape_line_items(self, &b, sub->page, sub->node)
                                  : tape_fields(self, &b, sub->page, sub->node);
    } else if (PyDict_CheckExact(obj)) {
        rc = self->line_items ? add_line_items(self, &b, obj) : add_fields(self, &b, obj);
    } else {
        return PyLong_FromLong(-1);
    }
    if (rc != 0) {
        truncate_to(self, before);
        if (rc < 0) return raised();
        return PyLong_FromLong(-1);
    }
    return PyLong_FromSsize_t(self->rows - before);
}

/* Microseconds since the epoch of a datetime in UTC (what pyarrow stores for it). */
static int64_t utc_micros(PyObject *v) {
    int64_t days = days_from_civil(PyDateTime_GET_YEAR(v), PyDateTime_GET_MONTH(v),
                                   PyDateTime_GET_DAY(v));
    int64_t seconds = days * 86400 + PyDateTime_DATE_GET_HOUR(v) * 3600 +
                      PyDateTime_DATE_GET_MINUTE(v) * 60 + PyDateTime_DATE_GET_SECOND(v);
    return seconds * 1000000 + PyDateTime_DATE_GET_MICROSECOND(v);
}

/* append_row(values) -> None: one row of the specification, values in column order. A
 * timestamp is a datetime in UTC, as the specification makes them (values.timestamp). */
static PyObject *AtomTable_append_row(AtomTable *self, PyObject *row) {
    if (ready(self) < 0) return NULL;
    if (!PyTuple_Check(row) || PyTuple_GET_SIZE(row) != self->n_columns) {
        PyErr_Format(PyExc_TypeError, "a row is a tuple of %d values", self->n_columns);
        return NULL;
    }
    Py_ssize_t before = self->rows;
    for (int i = 0; i < self->n_columns; i++) {
        Column *c = &self->columns[i];
        PyObject *v = PyTuple_GET_ITEM(row, i);
        int rc = 0;
        if (v == Py_None) {
            rc = put_null(c);
        } else if (c->kind == K_STR && PyUnicode_Check(v)) {
            rc = put_str(c, v);
        } else if (c->kind == K_I64 && PyLong_Check(v) && !PyBool_Check(v)) {
            int64_t x;
            rc = is_int64(v, &x) ? put_i64(c, x) : NOT_PLAIN;
        } else if (c->kind == K_F64 && PyFloat_Check(v)) {
            rc = put_f64(c, PyFloat_AS_DOUBLE(v));
        } else if (c->kind == K_BOOL && PyBool_Check(v)) {
            rc = put_bool(c, v == Py_True);
        } else if (c->kind == K_DATE && PyDate_Check(v)) {
            rc = put_i32(c, days_from_civil(PyDateTime_GET_YEAR(v), PyDateTime_GET_MONTH(v),
                                            PyDateTime_GET_DAY(v)));
        } else if (c->kind == K_TS && PyDateTime_Check(v) &&
                   PyDateTime_DATE_GET_TZINFO(v) == PyDateTime_TimeZone_UTC) {
            rc = put_i64(c, utc_micros(v));
        } else {
            rc = NOT_PLAIN;
        }
        if (rc != 0) {
            truncate_to(self, before);
            if (rc < 0) return raised();
            PyErr_Format(PyExc_TypeError, "column %d: a value of an unexpected type", i);
            return NULL;
        }
    }
    self->rows++;
    Py_RETURN_NONE;
}

static PyObject *AtomTable_rollback(AtomTable *self, PyObject *arg) {
    if (ready(self) < 0) return NULL;
    Py_ssize_t rows = PyLong_AsSsize_t(arg);
    if (rows == -1 && PyErr_Occurred()) return NULL;
    if (rows < 0 || rows > self->rows) {
        PyErr_SetString(PyExc_ValueError, "rollback beyond the rows held");
        return NULL;
    }
    truncate_to(self, rows);
    Py_RETURN_NONE;
}

static PyObject *bitmap(const Buf *bytes, Py_ssize_t rows, Py_ssize_t *set) {
    PyObject *out = PyBytes_FromStringAndSize(NULL, (rows + 7) / 8);
    if (out == NULL) return NULL;
    unsigned char *bits = (unsigned char *)PyBytes_AS_STRING(out);
    memset(bits, 0, (size_t)((rows + 7) / 8));
    Py_ssize_t count = 0;
    for (Py_ssize_t i = 0; i < rows; i++) {
        if (bytes->data[i]) {
            bits[i >> 3] |= (unsigned char)(1u << (i & 7));
            count++;
        }
    }
    *set = count;
    return out;
}

/* A buffer handed over from a Column to pyarrow (which wraps it through the buffer
 * protocol): copying each finished buffer into a bytes object had cost ~10% of a 10k
 * export's GIL time, most of it faulting in the fresh pages of the copy. */
typedef struct {
    PyObject_HEAD
    char *data;
    Py_ssize_t len, cap;
    int mapped;
} Owned;

static int Owned_getbuffer(Owned *self, Py_buffer *view, int flags) {
    return PyBuffer_FillInfo(view, (PyObject *)self, self->data, self->len, 1, flags);
}

static void Owned_dealloc(Owned *self) {
    block_free(self->data, self->cap, self->mapped);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyBufferProcs Owned_as_buffer = {.bf_getbuffer = (getbufferproc)Owned_getbuffer};

static PyTypeObject OwnedType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "source_contractfit.export.normalize._native.Owned",
    .tp_basicsize = sizeof(Owned),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The bytes of a finished column buffer, read-only",
    .tp_dealloc = (destructor)Owned_dealloc,
    .tp_as_buffer = &Owned_as_buffer,
};

/* The bytes of `b`, taken from it. `b` is empty afterwards, with a new block of the same
 * capacity: growing it again from nothing would cost a copy at every doubling (realloc
 * below MAP_FROM copies), which measured more than the copy saved here. */
static PyObject *bytes_of(Buf *b) {
    if (b->len == 0) return PyBytes_FromStringAndSize(NULL, 0);
    Owned *out = PyObject_New(Owned, &OwnedType);
    if (out == NULL) return NULL;
    out->data = b->data, out->len = b->len, out->cap = b->cap, out->mapped = b->mapped;
    if (buf_fresh(b, b->cap) < 0) buf_fresh(b, 0); /* grows again when written */
    return (PyObject *)out;
}

/* finish() -> [(null_count, validity bitmap | None, values, chars | None)] per column, in
 * column order; the table is empty afterwards. Booleans come as a bitmap of values. */
static PyObject *AtomTable_finish(AtomTable *self, PyObject *unused) {
    if (ready(self) < 0) return NULL;
    PyObject *out = PyList_New(self->n_columns);
    if (out == NULL) return NULL;
    Py_ssize_t rows = self->rows;
    for (int i = 0; i < self->n_columns; i++) {
        Column *c = &self->columns[i];
        Py_ssize_t set = 0;
        PyObject *valid = bitmap(&c->valid, rows, &set), *values, *chars;
        if (valid == NULL) goto fail;
        if (set == rows) {
            Py_DECREF(valid);
            valid = Py_NewRef(Py_None);
        }
        if (c->kind == K_BOOL) {
            Py_ssize_t unused_count;
            values = bitmap(&c->values, rows, &unused_count);
        } else {
            values = bytes_of(&c->values);
        }
        chars = c->kind == K_STR ? bytes_of(&c->chars) : Py_NewRef(Py_None);
        PyObject *item = NULL;
        if (values != NULL && chars != NULL)
            item = Py_BuildValue("(nOOO)", rows - set, valid, values, chars);
        Py_DECREF(valid);
        Py_XDECREF(values);
        Py_XDECREF(chars);
        if (item == NULL) goto fail;
        PyList_SET_ITEM(out, i, item);
    }
    if (reset_columns(self) < 0) goto fail;
    return out;
fail:
    Py_DECREF(out);
    /* Some buffers may have been handed over: the table starts empty again (the caller
     * raises, and the run fails with the error). */
    reset_columns(self);
    return raised();
}

static Py_ssize_t AtomTable_len(AtomTable *self) { return self->rows; }

static PyMethodDef AtomTable_methods[] = {
    {"add", (PyCFunction)AtomTable_add, METH_VARARGS,
     "add(base, annotations_or_lines) -> rows added, or -1 (not plain; nothing added)"},
    {"append_row", (PyCFunction)AtomTable_append_row, METH_O,
     "append_row(tuple) -> None: one row of the specification, in column order"},
    {"rollback", (PyCFunction)AtomTable_rollback, METH_O, "rollback(rows): keep the first rows"},
    {"finish", (PyCFunction)AtomTable_finish, METH_NOARGS,
     "finish() -> Arrow buffers per column; the table is empty afterwards"},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods AtomTable_as_sequence = {.sq_length = (lenfunc)AtomTable_len};

static PyTypeObject AtomTableType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "source_contractfit.export.normalize._native.AtomTable",
    .tp_basicsize = sizeof(AtomTable),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "AtomTable(line_items: bool | kinds: str): rows as Arrow buffers",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)AtomTable_init,
    .tp_dealloc = (destructor)AtomTable_dealloc,
    .tp_methods = AtomTable_methods,
    .tp_as_sequence = &AtomTable_as_sequence,
};

/* configure(value_number, value_text, textual_extra, atom_keys) */
static PyObject *configure(PyObject *module, PyObject *args) {
    PyObject *number, *text, *textual, *keys;
    if (!PyArg_ParseTuple(args, "OOOO", &number, &text, &textual, &keys)) return NULL;
    PyObject *frozen = PyFrozenSet_New(keys);
    if (frozen == NULL) return NULL;
    PyObject *tape_keys = PyFrozenSet_New(NULL);
    for (int i = 0; tape_keys != NULL && i < N_ATOM_KEYS; i++) {
        PyObject *name = PyUnicode_FromString(TAPE_ATOM_KEYS[i]);
        if (name == NULL || PySet_Add(tape_keys, name) < 0) Py_CLEAR(tape_keys);
        Py_XDECREF(name);
    }
    int same = tape_keys == NULL ? -1 : PyObject_RichCompareBool(frozen, tape_keys, Py_EQ);
    Py_XDECREF(tape_keys);
    if (same != 1) {
        Py_DECREF(frozen);
        if (same == 0)
            PyErr_SetString(PyExc_ValueError, "the atom keys differ from the tape reader's");
        return NULL;
    }
    Py_XSETREF(plain_keys, frozen);
    Py_XSETREF(py_value_number, Py_NewRef(number));
    Py_XSETREF(py_value_text, Py_NewRef(text));
    Py_XSETREF(py_textual_extra, Py_NewRef(textual));
    Py_RETURN_NONE;
}

#include "_documents.h" /* document_rows: the other three document tables */

static PyMethodDef module_methods[] = {
    {"document_rows", document_rows, METH_VARARGS,
     "document_rows(document, inbox_projects, documents, versions, sections) -> id | None"},
    {"configure_documents", configure_documents, METH_VARARGS,
     "configure_documents(extra_json, names, keys, nested): the specification's tables"},
    {"parse_page", parse_page, METH_O,
     "parse_page(body: bytes) -> the body's value with Subtrees, or None (not taken)"},
    {"configure", configure, METH_VARARGS,
     "configure(value_number, value_text, textual_extra, atom_keys): the Python rules"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_native",
    .m_doc = "Native rows of fields and line_items (see native.py).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__native(void) {
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL) return NULL;
    if (PyType_Ready(&AtomTableType) < 0 || PyType_Ready(&PageType) < 0 ||
        PyType_Ready(&SubtreeType) < 0 || PyType_Ready(&OwnedType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&native_module);
    if (m == NULL) return NULL;
    k_value = PyUnicode_InternFromString("value");
    k_text = PyUnicode_InternFromString("text");
    k_confidence = PyUnicode_InternFromString("confidence");
    k_upper = PyUnicode_InternFromString("upper_left");
    k_lower = PyUnicode_InternFromString("lower_right");
    k_flagged = PyUnicode_InternFromString("flagged");
    k_gold = PyUnicode_InternFromString("gold");
    k_correct = PyUnicode_InternFromString("correct");
    k_textual = PyUnicode_InternFromString("textual_coord");
    if (!k_value || !k_text || !k_confidence || !k_upper || !k_lower || !k_flagged || !k_gold ||
        !k_correct || !k_textual) {
        Py_DECREF(m);
        return NULL;
    }
    if (PyModule_AddObjectRef(m, "AtomTable", (PyObject *)&AtomTableType) < 0 ||
        PyModule_AddObjectRef(m, "Subtree", (PyObject *)&SubtreeType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
