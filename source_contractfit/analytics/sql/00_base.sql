-- Building blocks of the analytics views: which rows count, by the definitions at the end
-- of API.md ("Definitions the stats follow"). Every later file builds on these.
--
-- Windows are half-open [p_start, p_end) on receive_time, as the vendor's stats are; pass
-- TIMESTAMPTZ values (a bare string would be read in the session's time zone). Days, weeks
-- and months are UTC calendar periods, whatever the session's TimeZone setting.

-- The UTC calendar day of a TIMESTAMPTZ.
CREATE OR REPLACE MACRO cf_utc_day(ts) AS (ts AT TIME ZONE 'UTC')::DATE;

-- First day of the UTC day/week (ISO, Monday)/month/quarter/year holding ts; NULL for 'all'.
CREATE OR REPLACE MACRO cf_period_start(grain, ts) AS
    CASE
        WHEN grain = 'all' THEN NULL::DATE
        -- date_trunc checks a constant specifier while binding, even in an untaken branch.
        ELSE date_trunc(CASE WHEN grain = 'all' THEN 'day' ELSE grain END, cf_utc_day(ts))::DATE
    END;

-- count_if as BIGINT (DuckDB's is HUGEINT, which pandas turns into floats).
CREATE OR REPLACE MACRO cf_count_if(condition) AS count_if(condition)::BIGINT;

-- A rate, NULL when the denominator is zero (as the API does).
-- An inbox's name, for the views' `inbox_name` beside `inbox_id` (NULL if unknown).
CREATE OR REPLACE MACRO cf_inbox_name(p_inbox_id) AS
    (SELECT max(name) FROM inboxes WHERE id = p_inbox_id);

CREATE OR REPLACE MACRO cf_ratio(n, d) AS CASE WHEN d = 0 THEN NULL ELSE n::DOUBLE / d END;

-- Whether ts falls in [p_start, p_end); a NULL bound is open.
CREATE OR REPLACE MACRO cf_in_window(ts, p_start, p_end) AS
    (p_start IS NULL OR ts >= p_start) AND (p_end IS NULL OR ts < p_end);

-- An empty atom value or gold: null or "".
CREATE OR REPLACE MACRO cf_is_empty(v) AS (v IS NULL OR v = '');

-- The version each document is judged by: its last evaluated version of that name.
CREATE OR REPLACE MACRO judged_versions(p_version) AS TABLE
    SELECT document_id, max(version_index) AS version_index
    FROM document_versions
    WHERE is_evaluated AND name = p_version
    GROUP BY document_id;

-- One observation per atom of the judged versions (line items never count). A field the
-- server wrote as an empty list `[]` is one `fields` row with occurrence -1 (every value
-- column NULL, correct true in an evaluated version): one observation, value and gold
-- empty, correct, page 0, i.e. a tn, exactly like a both-empty placeholder atom.
CREATE OR REPLACE MACRO evaluated_atoms(p_version := 'predicted') AS TABLE
    SELECT
        d.inbox_id,
        d.id AS document_id,
        d.receive_time,
        coalesce(d.flag_for_review, false) AS flag_for_review,
        f.version_index,
        f.field_name,
        f.occurrence,
        f.confidence,
        coalesce(f.flagged, false) AS flagged,
        coalesce(f.page, 0) AS page,
        cf_is_empty(f.value) AS value_empty,
        cf_is_empty(f.gold) AS gold_empty,
        coalesce(f.correct, false) AS correct
    FROM judged_versions(p_version) AS j
    JOIN fields AS f ON f.document_id = j.document_id AND f.version_index = j.version_index
    JOIN documents AS d ON d.id = j.document_id;

-- One row per judged document: correct when every evaluated atom is (vacuously true).
-- An occurrence -1 row (empty list) counts as one atom, correct, as in evaluated_atoms.
CREATE OR REPLACE MACRO document_evaluations(p_version := 'predicted') AS TABLE
    SELECT
        d.inbox_id,
        d.id AS document_id,
        d.receive_time,
        coalesce(d.flag_for_review, false) AS flag_for_review,
        coalesce(d.sampling, false) AS sampling,
        j.version_index,
        count(f.field_name) AS atoms,
        cf_count_if(coalesce(f.correct, false)) AS atoms_correct,
        coalesce(bool_and(coalesce(f.correct, false)), true) AS document_correct
    FROM judged_versions(p_version) AS j
    JOIN documents AS d ON d.id = j.document_id
    LEFT JOIN fields AS f ON f.document_id = j.document_id AND f.version_index = j.version_index
    GROUP BY ALL;

-- Atoms of each document's prediction: its latest machine version that is not an
-- evaluation copy (API.md: `prediction` repeats it; the exporter stores versions only).
-- A field predicted as `[]` is one occurrence -1 row: value empty, no confidence, never
-- flagged, so it names the field (field STP) but is no blocker.
CREATE OR REPLACE VIEW prediction_atoms AS
    WITH latest AS (
        SELECT document_id, max(version_index) AS version_index
        FROM document_versions
        WHERE source = 'machine' AND NOT coalesce(is_evaluated, false)
        GROUP BY document_id
    )
    SELECT
        d.inbox_id,
        d.id AS document_id,
        d.receive_time,
        coalesce(d.flag_for_review, false) AS flag_for_review,
        f.field_name,
        f.occurrence,
        f.confidence,
        coalesce(f.flagged, false) AS flagged,
        cf_is_empty(f.value) AS value_empty
    FROM latest
    JOIN fields AS f ON f.document_id = latest.document_id AND f.version_index = latest.version_index
    JOIN documents AS d ON d.id = latest.document_id;
