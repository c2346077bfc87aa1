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
 * unit_tests/test_normalize_native.py proves the rows identical to the specification's.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    char *data;
    Py_ssize_t len;
    Py_ssize_t cap;
} Buf;

static int buf_reserve(Buf *b, Py_ssize_t extra) {
    if (b->len + extra <= b->cap) return 0;
    Py_ssize_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + extra) cap *= 2;
    char *p = PyMem_Realloc(b->data, (size_t)cap);
    if (p == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

static inline int buf_put(Buf *b, const void *src, Py_ssize_t n) {
    if (n == 0) return 0; /* nothing to copy; b->data may still be NULL */
    if (buf_reserve(b, n) < 0) return -1;
    memcpy(b->data + b->len, src, (size_t)n);
    b->len += n;
    return 0;
}

enum Kind { K_STR, K_I64, K_F64, K_BOOL, K_DATE };

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
#define MAX_COLUMNS (N_BASE + 3 + N_VALUES)

typedef struct {
    PyObject_HEAD
    int line_items; /* 0: fields (field_name, occurrence); 1: line_items (3 key columns) */
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
    case K_F64: return buf_put(&c->values, zero, 8);
    case K_DATE: return buf_put(&c->values, zero, 4);
    case K_BOOL: return buf_put(&c->values, zero, 1);
    }
    return 0;
}

static inline int put_chars(Column *c, const char *s, Py_ssize_t n) {
    const char one = 1;
    int32_t end;
    memcpy(&end, c->values.data + c->values.len - 4, 4);
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

/* values.value_date: a string that is exactly YYYY-MM-DD and a real date (year >= 1). */
static int put_value_date(Column *c, PyObject *v) {
    if (!PyUnicode_CheckExact(v) || !PyUnicode_IS_ASCII(v) || PyUnicode_GET_LENGTH(v) != 10)
        return put_null(c);
    const unsigned char *s = (const unsigned char *)PyUnicode_DATA(v);
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
    CHECK(put_optional_bool(&values[V_FLAGGED], member(atom, k_flagged)));
    CHECK(put_value_text(&values[V_GOLD], member(atom, k_gold)));
    CHECK(put_optional_bool(&values[V_CORRECT], member(atom, k_correct)));
    if (keep_textual) {
        int64_t kept[6];
        Py_ssize_t size = PyList_CheckExact(textual) ? PyList_GET_SIZE(textual) : -1;
        if (size < 1 || size > 6 || !coordinate(textual, size, kept))
            return put_call_text(&values[V_EXTRA], py_textual_extra, textual);
        /* the compact JSON orjson writes for {"textual_coord": [integers]} */
        char text[8 + 18 + 6 * 21];
        int n = snprintf(text, sizeof text, "{\"textual_coord\":[");
        for (Py_ssize_t i = 0; i < size; i++)
            n += snprintf(text + n, sizeof text - (size_t)n, i ? ",%lld" : "%lld",
                          (long long)kept[i]);
        n += snprintf(text + n, sizeof text - (size_t)n, "]}");
        return put_chars(&values[V_EXTRA], text, n) < 0 ? -1 : 0;
    }
    return put_null(&values[V_EXTRA]);
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
        case K_F64: c->values.len = rows * 8; break;
        case K_DATE: c->values.len = rows * 4; break;
        case K_BOOL: c->values.len = rows; break;
        }
    }
    t->rows = rows;
}

static int reset_columns(AtomTable *t) {
    const int32_t zero = 0;
    for (int i = 0; i < t->n_columns; i++) {
        Column *c = &t->columns[i];
        c->valid.len = c->values.len = c->chars.len = 0;
        if (c->kind == K_STR && buf_put(&c->values, &zero, 4) < 0) return -1;
    }
    t->rows = 0;
    return 0;
}

static int AtomTable_init(AtomTable *self, PyObject *args, PyObject *kwds) {
    int line_items = 0;
    if (!PyArg_ParseTuple(args, "p", &line_items)) return -1;
    for (int i = 0; i < MAX_COLUMNS; i++) {
        PyMem_Free(self->columns[i].valid.data);
        PyMem_Free(self->columns[i].values.data);
        PyMem_Free(self->columns[i].chars.data);
    }
    memset(self->columns, 0, sizeof self->columns);
    self->line_items = line_items;
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
    return reset_columns(self);
}

static void AtomTable_dealloc(AtomTable *self) {
    for (int i = 0; i < MAX_COLUMNS; i++) {
        PyMem_Free(self->columns[i].valid.data);
        PyMem_Free(self->columns[i].values.data);
        PyMem_Free(self->columns[i].chars.data);
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

typedef struct {
    PyObject *document_id, *inbox_id, *version_name, *is_evaluated;
    int64_t version_index;
} Base;

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
    CHECK(put_str(&c[0], b->document_id));
    CHECK(put_i64(&c[1], b->version_index));
    CHECK(b->inbox_id == Py_None ? put_null(&c[2]) : put_str(&c[2], b->inbox_id));
    CHECK(b->version_name == Py_None ? put_null(&c[3]) : put_str(&c[3], b->version_name));
    return put_optional_bool(&c[4], b->is_evaluated);
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

/* add(base, obj) -> rows added, or -1 when obj is not plain (the table as it was). */
static PyObject *AtomTable_add(AtomTable *self, PyObject *args) {
    PyObject *base, *obj;
    Base b;
    if (ready(self) < 0) return NULL;
    if (!PyArg_ParseTuple(args, "OO", &base, &obj) || read_base(base, &b) < 0) return NULL;
    if (obj == Py_None) return PyLong_FromLong(0);
    if (!PyDict_CheckExact(obj)) return PyLong_FromLong(-1);
    Py_ssize_t before = self->rows;
    int rc = self->line_items ? add_line_items(self, &b, obj) : add_fields(self, &b, obj);
    if (rc != 0) {
        truncate_to(self, before);
        if (rc < 0) return NULL;
        return PyLong_FromLong(-1);
    }
    return PyLong_FromSsize_t(self->rows - before);
}

/* append_row(values) -> None: one row of the specification, values in column order. */
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
        } else {
            rc = NOT_PLAIN;
        }
        if (rc != 0) {
            truncate_to(self, before);
            if (rc > 0)
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

static PyObject *bytes_of(const Buf *b) { return PyBytes_FromStringAndSize(b->data, b->len); }

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
    return NULL;
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
    .tp_doc = "AtomTable(line_items: bool): the rows of fields or line_items, as Arrow buffers",
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
    Py_XSETREF(plain_keys, frozen);
    Py_XSETREF(py_value_number, Py_NewRef(number));
    Py_XSETREF(py_value_text, Py_NewRef(text));
    Py_XSETREF(py_textual_extra, Py_NewRef(textual));
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
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
    if (PyType_Ready(&AtomTableType) < 0) return NULL;
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
    if (PyModule_AddObjectRef(m, "AtomTable", (PyObject *)&AtomTableType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
