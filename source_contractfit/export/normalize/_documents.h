/* The rows of documents, document_versions and sections of a plain Document, in C.
 *
 * Included by _native.c (it uses its columns and AtomTable). The specification is
 * documents.py; this writes exactly its rows for a document it calls plain: only known
 * keys (no drift), values of the expected JSON types, timestamps in the server's own
 * format (2024-03-01T09:00:07.123456Z), strings that are valid UTF-8, integers of 64
 * bits. Anything else is NOT_PLAIN: nothing is left in the tables and the Python fast
 * path (the specification's own functions) takes the document, so odd inputs are decided
 * exactly as before. unit_tests/test_normalize_fast.py holds both to the same tables.
 */

/* Column positions, the order of schemas.DOCUMENT_TABLE_COLUMNS (configure_documents
 * checks the names). */
static const char *const DOCUMENT_COLUMNS[] = {
    "id", "inbox_id", "project_id", "original_filename", "page_count", "document_type",
    "format_id", "flag_for_review", "is_stp", "sampling", "submitted", "submitted_by",
    "rejected", "escalated", "locked", "archived", "last_version", "versions_count",
    "evaluated", "document_correct", "receive_time", "start_time", "done_time",
    "processing_period", "feedback_time", "submit_time", "review_latency_seconds", "pages",
    "source", "extra", NULL};
static const char *const VERSION_COLUMNS[] = {
    "document_id", "version_index", "inbox_id", "name", "source", "is_evaluated",
    "cmp_version", "timestamp", "by", "fields_total", "fields_correct", "document_correct",
    "extra", NULL};
static const char *const SECTION_COLUMNS[] = {
    "document_id", "version_index", "inbox_id", "section_index", "page", "document_type",
    "format_id", "confidence", "extra", NULL};
#define N_DOCUMENT_COLUMNS 30
#define N_VERSION_COLUMNS 13
#define N_SECTION_COLUMNS 9
/* Their kinds, one letter a column (kind_of_letter): a table of another layout is refused,
 * and configure_documents refuses schemas whose layout (native.layout) differs. */
static const char DOCUMENT_LAYOUT[] = "ssssissbbbbsbbbbsibbtttfttfiss";
static const char VERSION_LAYOUT[] = "sisssbstsiibs";
static const char SECTION_LAYOUT[] = "sisiissfs";

/* known.py, set by configure_documents. */
#define N_PARTS 8 /* DOCUMENT_NESTED */
typedef struct {
    PyObject *name, *columns, *extra, *ignored;
    int open_keys;
} Part;
static Part parts[N_PARTS];
static PyObject *document_keys, *prediction_keys, *version_keys, *evaluation_keys,
    *section_keys, *py_extra_json;

/* Member names, interned once. */
enum {
    M_ID, M_INBOX, M_ORIGINAL_FILENAME, M_PAGE_COUNT, M_FLAG_FOR_REVIEW, M_LAST_VERSION,
    M_VERSIONS, M_PREDICTION, M_SECTIONS, M_NAME, M_SOURCE, M_IS_EVALUATED, M_CMP_VERSION,
    M_TIMESTAMP, M_BY, M_EVALUATION, M_FIELDS_TOTAL, M_FIELDS_CORRECT, M_DOCUMENT_CORRECT,
    M_PAGE, M_DOCUMENT_TYPE, M_FORMAT, M_CONFIDENCE, M_SAMPLING, M_ARCHIVED, M_VALUE,
    M_RECEIVE_TIME, M_START_TIME, M_DONE_TIME, M_PROCESSING_PERIOD, M_FEEDBACK_TIME,
    M_SUBMIT_TIME, M_PAGES, N_MEMBERS
};
static const char *const MEMBER_NAMES[N_MEMBERS] = {
    "id", "inbox", "original_filename", "page_count", "flag_for_review", "last_version",
    "versions", "prediction", "sections", "name", "source", "is_evaluated", "cmp_version",
    "timestamp", "by", "evaluation", "fields_total", "fields_correct", "document_correct",
    "page", "document_type", "format", "confidence", "sampling", "archived", "value",
    "receive_time", "start_time", "done_time", "processing_period", "feedback_time",
    "submit_time", "pages"};
static PyObject *members[N_MEMBERS];

/* The parts the document row reads, by their position in DOCUMENT_NESTED. */
enum { P_TIMINGS, P_STATUS, P_USAGE, P_SUBMITTED, P_LOCK, P_ESCALATE, P_REJECT, P_META };
static const char *const PART_NAMES[N_PARTS] = {
    "timings", "status_data", "usage_data", "submitted", "lock", "escalate", "reject",
    "meta_information"};

/* d.get(member), borrowed; NULL with an error set only on a failed lookup. */
static inline PyObject *get(PyObject *d, int member) {
    PyObject *v = PyDict_GetItemWithError(d, members[member]);
    return v != NULL || PyErr_Occurred() ? v : Py_None;
}

/* 1 when every key of `d` is in `known`, 0 if not, -1 on error. */
static int keys_known(PyObject *d, PyObject *known) {
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(d, &pos, &key, &value)) {
        int in = PySet_Contains(known, key);
        if (in == 0) return 0;
        if (in < 0) return failed_call() == NOT_PLAIN ? 0 : -1;
    }
    return 1;
}

/* Each writer: 0 written, NOT_PLAIN (the specification decides), -1 error. */
static int w_text(Column *c, PyObject *v) {
    if (v == NULL) return -1;
    if (v == Py_None) return put_null(c);
    return PyUnicode_Check(v) ? put_str(c, v) : NOT_PLAIN;
}

static int w_bool(Column *c, PyObject *v) {
    if (v == NULL) return -1;
    if (v == Py_None) return put_null(c);
    return PyBool_Check(v) ? put_bool(c, v == Py_True) : NOT_PLAIN;
}

static int w_int(Column *c, PyObject *v) {
    int64_t x;
    if (v == NULL) return -1;
    if (v == Py_None) return put_null(c);
    if (!PyLong_Check(v) || PyBool_Check(v) || !is_int64(v, &x)) return NOT_PLAIN;
    return put_i64(c, x);
}

static int w_number(Column *c, PyObject *v) {
    if (v == NULL) return -1;
    if (v == Py_None) return put_null(c);
    if (PyFloat_Check(v)) return put_f64(c, PyFloat_AS_DOUBLE(v));
    if (!PyLong_Check(v) || PyBool_Check(v)) return NOT_PLAIN;
    double x = PyLong_AsDouble(v);
    if (x == -1.0 && PyErr_Occurred()) return failed_call();
    return put_f64(c, x);
}

static inline int two(const char *s) {
    return is_digit(s[0]) && is_digit(s[1]) ? (s[0] - '0') * 10 + (s[1] - '0') : -1;
}

/* The microseconds of a timestamp in the server's format; 0, or NOT_PLAIN for any other
 * text (values.parse_timestamp takes more forms, and decides about them). */
static int canonical_micros(PyObject *v, int64_t *out) {
    if (!PyUnicode_Check(v) || !PyUnicode_IS_ASCII(v) || PyUnicode_GET_LENGTH(v) != 27)
        return NOT_PLAIN;
    const char *s = (const char *)PyUnicode_DATA(v);
    if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
        s[19] != '.' || s[26] != 'Z')
        return NOT_PLAIN;
    int century = two(s), years = two(s + 2), month = two(s + 5), day = two(s + 8);
    int hour = two(s + 11), minute = two(s + 14), second = two(s + 17);
    int64_t micros = 0;
    for (int i = 20; i < 26; i++) {
        if (!is_digit(s[i])) return NOT_PLAIN;
        micros = micros * 10 + (s[i] - '0');
    }
    if (century < 0 || years < 0 || month < 1 || month > 12 || day < 1 || hour < 0 ||
        hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59)
        return NOT_PLAIN;
    int year = century * 100 + years;
    if (year < 1 || day > days_in_month(year, month)) return NOT_PLAIN;
    int64_t seconds = (int64_t)days_from_civil(year, month, day) * 86400 + hour * 3600 +
                      minute * 60 + second;
    *out = seconds * 1000000 + micros;
    return 0;
}

/* A timestamp column; `*micros` and `*set` tell the value to the caller. */
static int w_time(Column *c, PyObject *v, int64_t *micros, int *set) {
    *set = 0;
    if (v == NULL) return -1;
    if (v == Py_None) return put_null(c);
    int rc = canonical_micros(v, micros);
    if (rc != 0) return rc;
    *set = 1;
    return put_i64(c, *micros);
}

#define TRY(expr)                           \
    do {                                    \
        int rc_ = (expr);                   \
        if (rc_ != 0) return rc_;           \
    } while (0)

/* mapping(): an object or null (read as empty); NOT_PLAIN for anything else. */
static int object_or_null(PyObject *v, PyObject **out) {
    if (v == NULL) return -1;
    if (v == Py_None || PyDict_Check(v)) {
        *out = v;
        return 0;
    }
    return NOT_PLAIN;
}

/* sequence(): an array or null (read as empty); NOT_PLAIN for anything else. */
static int array_or_null(PyObject *v, PyObject **out) {
    if (v == NULL) return -1;
    if (v == Py_None || PyList_Check(v)) {
        *out = v;
        return 0;
    }
    return NOT_PLAIN;
}

/* An object or null whose keys are all in `known` (or NOT_PLAIN). */
static int known_object(PyObject *v, PyObject *known, PyObject **out) {
    TRY(object_or_null(v, out));
    if (*out == Py_None) return 0;
    int all = keys_known(*out, known);
    return all < 0 ? -1 : all ? 0 : NOT_PLAIN;
}

static int put_ids(Column *columns, PyObject *doc_id, int64_t index, PyObject *inbox) {
    TRY(put_str(&columns[0], doc_id));
    TRY(put_i64(&columns[1], index));
    return w_text(&columns[2], inbox);
}

/* One sections row; the first of the prediction's is kept for the document row. */
static int section_row(AtomTable *t, PyObject *doc_id, PyObject *inbox, int64_t version,
                       Py_ssize_t index, PyObject *section) {
    Column *c = t->columns;
    PyObject *obj;
    TRY(known_object(section, section_keys, &obj));
    TRY(put_ids(c, doc_id, version, inbox));
    TRY(put_i64(&c[3], index));
    if (obj == Py_None) {
        for (int i = 4; i < N_SECTION_COLUMNS; i++) TRY(put_null(&c[i]));
        return 0;
    }
    TRY(w_int(&c[4], get(obj, M_PAGE)));
    TRY(w_text(&c[5], get(obj, M_DOCUMENT_TYPE)));
    TRY(w_text(&c[6], get(obj, M_FORMAT)));
    TRY(w_number(&c[7], get(obj, M_CONFIDENCE)));
    return put_null(&c[8]);
}

static int sections_rows(AtomTable *t, PyObject *doc_id, PyObject *inbox, int64_t version,
                         PyObject *list) {
    PyObject *items;
    TRY(array_or_null(list, &items));
    if (items == Py_None) return 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        TRY(section_row(t, doc_id, inbox, version, i, PyList_GET_ITEM(items, i)));
        t->rows++;
    }
    return 0;
}

typedef struct {
    int evaluated;           /* some version has is_evaluated true */
    PyObject *correct;       /* the last evaluated `predicted` version's document_correct */
} Judged;

static int version_rows(AtomTable *versions, AtomTable *sections, PyObject *doc_id,
                        PyObject *inbox, PyObject *list, Py_ssize_t *count, Judged *judged) {
    PyObject *items;
    TRY(array_or_null(list, &items));
    *count = items == Py_None ? 0 : PyList_GET_SIZE(items);
    Column *c = versions->columns;
    for (Py_ssize_t i = 0; i < *count; i++) {
        PyObject *version, *evaluation, *name, *is_evaluated, *correct;
        TRY(known_object(PyList_GET_ITEM(items, i), version_keys, &version));
        TRY(put_ids(c, doc_id, i, inbox));
        if (version == Py_None) { /* keeps its position, no children */
            for (int k = 3; k < N_VERSION_COLUMNS; k++) TRY(put_null(&c[k]));
            versions->rows++;
            continue;
        }
        TRY(known_object(get(version, M_EVALUATION), evaluation_keys, &evaluation));
        name = get(version, M_NAME);
        is_evaluated = get(version, M_IS_EVALUATED);
        TRY(w_text(&c[3], name));
        TRY(w_text(&c[4], get(version, M_SOURCE)));
        TRY(w_bool(&c[5], is_evaluated));
        TRY(w_text(&c[6], get(version, M_CMP_VERSION)));
        int64_t unused;
        int set;
        TRY(w_time(&c[7], get(version, M_TIMESTAMP), &unused, &set));
        TRY(w_text(&c[8], get(version, M_BY)));
        int judged_here = evaluation != Py_None;
        TRY(w_int(&c[9], judged_here ? get(evaluation, M_FIELDS_TOTAL) : Py_None));
        TRY(w_int(&c[10], judged_here ? get(evaluation, M_FIELDS_CORRECT) : Py_None));
        correct = judged_here ? get(evaluation, M_DOCUMENT_CORRECT) : Py_None;
        TRY(w_bool(&c[11], correct));
        TRY(put_null(&c[12]));
        versions->rows++;
        if (is_evaluated == Py_True) {
            judged->evaluated = 1;
            if (PyUnicode_Check(name) && PyUnicode_CompareWithASCIIString(name, "predicted") == 0)
                judged->correct = correct;
        }
        TRY(sections_rows(sections, doc_id, inbox, i, get(version, M_SECTIONS)));
    }
    return 0;
}

/* The known keys of one part that go to extra, as "part.key": value (never null). */
static int part_extra(const Part *part, PyObject *obj, PyObject **extra) {
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(obj, &pos, &key, &value)) {
        int column = PySet_Contains(part->columns, key);
        int ignored = column == 0 ? PySet_Contains(part->ignored, key) : 0;
        int kept = column == 0 && ignored == 0 ? PySet_Contains(part->extra, key) : 0;
        if (column < 0 || ignored < 0 || kept < 0) return failed_call();
        if (column || ignored) continue;
        if (!kept && !part->open_keys) return NOT_PLAIN; /* unknown: drift */
        if (value == Py_None) continue;
        if (!PyUnicode_Check(key) || PyUnicode_AsUTF8AndSize(key, NULL) == NULL)
            return PyErr_Occurred() ? failed_call() : NOT_PLAIN;
        if (*extra == NULL && (*extra = PyDict_New()) == NULL) return -1;
        PyObject *label = PyUnicode_FromFormat("%U.%U", part->name, key);
        if (label == NULL) return -1;
        int rc = PyDict_SetItem(*extra, label, value);
        Py_DECREF(label);
        if (rc < 0) return -1;
    }
    return 0;
}

static int document_row(AtomTable *t, PyObject *document, PyObject *doc_id, PyObject *inbox,
                        PyObject *inbox_projects, PyObject *first_section,
                        Py_ssize_t versions, const Judged *judged) {
    Column *c = t->columns;
    PyObject *objects[N_PARTS], *extra = NULL;
    for (int p = 0; p < N_PARTS; p++) {
        PyObject *found = PyDict_GetItemWithError(document, parts[p].name);
        if (found == NULL && !PyErr_Occurred()) found = Py_None;
        int rc = object_or_null(found, &objects[p]);
        if (rc == 0 && objects[p] != Py_None) rc = part_extra(&parts[p], objects[p], &extra);
        if (rc != 0) {
            Py_XDECREF(extra);
            return rc;
        }
    }
#define PART(p, m) (objects[p] == Py_None ? Py_None : get(objects[p], m))
    int rc = put_str(&c[0], doc_id);
    if (rc == 0) rc = w_text(&c[1], inbox);
    if (rc == 0) {
        PyObject *project = Py_None;
        if (PyDict_Check(inbox_projects) && PyDict_GET_SIZE(inbox_projects) && inbox != Py_None) {
            project = PyDict_GetItemWithError(inbox_projects, inbox);
            if (project == NULL) project = PyErr_Occurred() ? NULL : Py_None;
            if (project != NULL && !PyUnicode_Check(project)) project = Py_None;
        }
        rc = w_text(&c[2], project);
    }
    if (rc == 0) rc = w_text(&c[3], get(document, M_ORIGINAL_FILENAME));
    if (rc == 0) rc = w_int(&c[4], get(document, M_PAGE_COUNT));
    int has_first = first_section != NULL && first_section != Py_None;
    if (rc == 0) rc = w_text(&c[5], has_first ? get(first_section, M_DOCUMENT_TYPE) : Py_None);
    if (rc == 0) rc = w_text(&c[6], has_first ? get(first_section, M_FORMAT) : Py_None);
    PyObject *flag = get(document, M_FLAG_FOR_REVIEW);
    if (rc == 0) rc = w_bool(&c[7], flag);
    if (rc == 0) rc = flag == Py_None ? put_null(&c[8]) : put_bool(&c[8], flag == Py_False);
    if (rc == 0) rc = w_bool(&c[9], PART(P_STATUS, M_SAMPLING));
    if (rc == 0) rc = w_bool(&c[10], PART(P_SUBMITTED, M_VALUE));
    if (rc == 0) rc = w_text(&c[11], PART(P_SUBMITTED, M_BY));
    if (rc == 0) rc = w_bool(&c[12], PART(P_REJECT, M_VALUE));
    if (rc == 0) rc = w_bool(&c[13], PART(P_ESCALATE, M_VALUE));
    if (rc == 0) rc = w_bool(&c[14], PART(P_LOCK, M_VALUE));
    if (rc == 0) rc = w_bool(&c[15], PART(P_STATUS, M_ARCHIVED));
    if (rc == 0) rc = w_text(&c[16], get(document, M_LAST_VERSION));
    if (rc == 0) rc = put_i64(&c[17], versions);
    if (rc == 0) rc = put_bool(&c[18], judged->evaluated);
    if (rc == 0) rc = w_bool(&c[19], judged->correct);
    int64_t receive = 0, feedback = 0, unused = 0;
    int has_receive = 0, has_feedback = 0, set = 0;
    if (rc == 0) rc = w_time(&c[20], PART(P_TIMINGS, M_RECEIVE_TIME), &receive, &has_receive);
    if (rc == 0) rc = w_time(&c[21], PART(P_TIMINGS, M_START_TIME), &unused, &set);
    if (rc == 0) rc = w_time(&c[22], PART(P_TIMINGS, M_DONE_TIME), &unused, &set);
    if (rc == 0) rc = w_number(&c[23], PART(P_TIMINGS, M_PROCESSING_PERIOD));
    if (rc == 0)
        rc = w_time(&c[24], PART(P_TIMINGS, M_FEEDBACK_TIME), &feedback, &has_feedback);
    if (rc == 0) rc = w_time(&c[25], PART(P_TIMINGS, M_SUBMIT_TIME), &unused, &set);
    if (rc == 0) {
        /* timedelta.total_seconds(): microseconds / 10**6, correctly rounded, as this
         * division of two doubles is while the difference is exact (below 2**53). */
        int64_t delta = feedback - receive;
        if (!has_receive || !has_feedback)
            rc = put_null(&c[26]);
        else if (delta > ((int64_t)1 << 53) || delta < -((int64_t)1 << 53))
            rc = NOT_PLAIN;
        else
            rc = put_f64(&c[26], (double)delta / 1e6);
    }
    if (rc == 0) rc = w_int(&c[27], PART(P_USAGE, M_PAGES));
    if (rc == 0) rc = w_text(&c[28], PART(P_META, M_SOURCE));
#undef PART
    if (rc == 0) {
        if (extra == NULL) {
            rc = put_null(&c[29]);
        } else {
            rc = put_call_text(&c[29], py_extra_json, extra);
        }
    }
    Py_XDECREF(extra);
    if (rc == 0) t->rows++;
    return rc;
}

static int plain_document(PyObject *document, PyObject *inbox_projects, AtomTable *documents,
                          AtomTable *versions, AtomTable *sections, PyObject **doc_id) {
    if (!PyDict_Check(document)) return NOT_PLAIN;
    int all = keys_known(document, document_keys);
    if (all <= 0) return all < 0 ? -1 : NOT_PLAIN;
    PyObject *id = get(document, M_ID), *inbox = get(document, M_INBOX), *prediction;
    if (id == NULL || inbox == NULL) return -1;
    if (!PyUnicode_Check(id) || PyUnicode_GET_LENGTH(id) == 0) return NOT_PLAIN;
    if (inbox != Py_None && !PyUnicode_Check(inbox)) return NOT_PLAIN;
    TRY(known_object(get(document, M_PREDICTION), prediction_keys, &prediction));
    Judged judged = {0, Py_None};
    Py_ssize_t count;
    TRY(version_rows(versions, sections, id, inbox, get(document, M_VERSIONS), &count, &judged));
    PyObject *predicted = Py_None, *first = NULL;
    if (prediction != Py_None) TRY(array_or_null(get(prediction, M_SECTIONS), &predicted));
    if (predicted != Py_None) {
        TRY(sections_rows(sections, id, inbox, -1, predicted));
        if (PyList_GET_SIZE(predicted)) first = PyList_GET_ITEM(predicted, 0);
    }
    TRY(document_row(documents, document, id, inbox, inbox_projects, first, count, &judged));
    *doc_id = id;
    return 0;
}

static AtomTable *table_of(PyObject *obj, const char *layout) {
    if (!PyObject_TypeCheck(obj, &AtomTableType)) {
        PyErr_SetString(PyExc_TypeError, "expected an AtomTable");
        return NULL;
    }
    AtomTable *t = (AtomTable *)obj;
    if (ready(t) < 0) return NULL;
    int same = t->generic && t->n_columns == (int)strlen(layout);
    for (int i = 0; same && i < t->n_columns; i++) {
        enum Kind kind;
        same = kind_of_letter((Py_UCS4)layout[i], &kind) == 0 && t->columns[i].kind == kind;
    }
    if (!same) {
        PyErr_SetString(PyExc_TypeError, "a table of another layout");
        return NULL;
    }
    return t;
}

/* document_rows(document, inbox_projects, documents, document_versions, sections)
 *   -> the document's id, or None (not plain: nothing appended) */
static PyObject *document_rows(PyObject *module, PyObject *args) {
    PyObject *document, *projects, *d, *v, *s;
    if (!PyArg_ParseTuple(args, "OOOOO", &document, &projects, &d, &v, &s)) return NULL;
    if (document_keys == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "configure_documents() was not called");
        return NULL;
    }
    AtomTable *documents = table_of(d, DOCUMENT_LAYOUT);
    AtomTable *versions = documents ? table_of(v, VERSION_LAYOUT) : NULL;
    AtomTable *sections = versions ? table_of(s, SECTION_LAYOUT) : NULL;
    if (sections == NULL) return NULL;
    Py_ssize_t before[3] = {documents->rows, versions->rows, sections->rows};
    PyObject *id = NULL;
    int rc = plain_document(document, projects, documents, versions, sections, &id);
    if (rc != 0) {
        truncate_to(documents, before[0]);
        truncate_to(versions, before[1]);
        truncate_to(sections, before[2]);
        if (rc < 0) return raised();
        Py_RETURN_NONE;
    }
    return Py_NewRef(id);
}

static int same_names(PyObject *names, const char *const *expected) {
    PyObject *seq = PySequence_Fast(names, "names must be a sequence");
    if (seq == NULL) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq), i = 0;
    int same = 1;
    for (; same && expected[i] != NULL; i++)
        same = i < n && PyUnicode_Check(PySequence_Fast_GET_ITEM(seq, i)) &&
               PyUnicode_CompareWithASCIIString(PySequence_Fast_GET_ITEM(seq, i),
                                                expected[i]) == 0;
    same = same && i == n;
    Py_DECREF(seq);
    if (!same) PyErr_SetString(PyExc_ValueError, "the table's columns differ from _documents.h");
    return same ? 0 : -1;
}

static int same_layout(PyObject *layout, const char *expected) {
    if (PyUnicode_Check(layout) && PyUnicode_CompareWithASCIIString(layout, expected) == 0)
        return 0;
    PyErr_SetString(PyExc_ValueError, "the table's column types differ from _documents.h");
    return -1;
}

/* configure_documents(extra_json, (documents, versions, sections column names),
 *   (their layouts), (document, prediction, version, evaluation, section keys),
 *   ((part, columns, extra, ignored, open_keys), ...) in DOCUMENT_NESTED order).
 * Nothing changes unless every argument is as expected. */
static PyObject *configure_documents(PyObject *module, PyObject *args) {
    PyObject *extra_json, *names, *layouts, *keys, *nested;
    if (!PyArg_ParseTuple(args, "OOOOO", &extra_json, &names, &layouts, &keys, &nested))
        return NULL;
    PyObject *d, *v, *s;
    if (!PyArg_ParseTuple(names, "OOO", &d, &v, &s) || same_names(d, DOCUMENT_COLUMNS) < 0 ||
        same_names(v, VERSION_COLUMNS) < 0 || same_names(s, SECTION_COLUMNS) < 0)
        return NULL;
    if (!PyArg_ParseTuple(layouts, "OOO", &d, &v, &s) || same_layout(d, DOCUMENT_LAYOUT) < 0 ||
        same_layout(v, VERSION_LAYOUT) < 0 || same_layout(s, SECTION_LAYOUT) < 0)
        return NULL;
    PyObject *k[5];
    if (!PyArg_ParseTuple(keys, "OOOOO", &k[0], &k[1], &k[2], &k[3], &k[4])) return NULL;
    if (!PyTuple_Check(nested) || PyTuple_GET_SIZE(nested) != N_PARTS) {
        PyErr_SetString(PyExc_ValueError, "DOCUMENT_NESTED differs from _documents.h");
        return NULL;
    }
    Part fresh[N_PARTS];
    for (int p = 0; p < N_PARTS; p++) {
        PyObject *name, *columns, *extra, *ignored;
        int open_keys;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(nested, p), "UOOOp", &name, &columns, &extra,
                              &ignored, &open_keys))
            return NULL;
        if (PyUnicode_CompareWithASCIIString(name, PART_NAMES[p]) != 0) {
            PyErr_SetString(PyExc_ValueError, "DOCUMENT_NESTED differs from _documents.h");
            return NULL;
        }
        fresh[p] = (Part){name, columns, extra, ignored, open_keys};
    }
    for (int m = 0; m < N_MEMBERS; m++)
        if (members[m] == NULL && (members[m] = PyUnicode_InternFromString(MEMBER_NAMES[m])) == NULL)
            return NULL;
    /* Everything new is built first; the module's sets change only once all exist. */
    PyObject *sets[5] = {NULL};
    Part built[N_PARTS] = {{NULL}};
    int ok = 1;
    for (int i = 0; ok && i < 5; i++) ok = (sets[i] = PyFrozenSet_New(k[i])) != NULL;
    for (int p = 0; ok && p < N_PARTS; p++) {
        built[p] = (Part){Py_NewRef(fresh[p].name), PyFrozenSet_New(fresh[p].columns),
                          PyFrozenSet_New(fresh[p].extra), PyFrozenSet_New(fresh[p].ignored),
                          fresh[p].open_keys};
        ok = built[p].columns && built[p].extra && built[p].ignored;
    }
    if (!ok) {
        for (int i = 0; i < 5; i++) Py_XDECREF(sets[i]);
        for (int p = 0; p < N_PARTS; p++) {
            Py_XDECREF(built[p].name);
            Py_XDECREF(built[p].columns);
            Py_XDECREF(built[p].extra);
            Py_XDECREF(built[p].ignored);
        }
        return NULL;
    }
    PyObject **slots[5] = {&document_keys, &prediction_keys, &version_keys, &evaluation_keys,
                           &section_keys};
    for (int i = 0; i < 5; i++) Py_XSETREF(*slots[i], sets[i]);
    for (int p = 0; p < N_PARTS; p++) {
        Py_XDECREF(parts[p].name);
        Py_XDECREF(parts[p].columns);
        Py_XDECREF(parts[p].extra);
        Py_XDECREF(parts[p].ignored);
        parts[p] = built[p];
    }
    Py_XSETREF(py_extra_json, Py_NewRef(extra_json));
    Py_RETURN_NONE;
}
