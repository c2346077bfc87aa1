-- automation_blockers: what kept documents from going straight through. For each document
-- flagged for review and each field with a flagged atom in its prediction: `missing` when a
-- flagged atom is empty (a mandatory field not found), `low_confidence` when a flagged atom
-- has a value (confidence under the inbox threshold). Counts are documents. A field
-- predicted as `[]` (occurrence -1 row, flagged NULL) blocks nothing, like an unflagged
-- empty atom.

CREATE OR REPLACE MACRO blocker_reasons(p_start := NULL, p_end := NULL) AS TABLE
    SELECT
        inbox_id,
        document_id,
        receive_time,
        field_name,
        CASE WHEN value_empty THEN 'missing' ELSE 'low_confidence' END AS reason,
        min(CASE WHEN value_empty THEN NULL ELSE confidence END) AS confidence
    FROM prediction_atoms
    WHERE flag_for_review AND flagged AND (value_empty OR confidence IS NOT NULL)
        AND cf_in_window(receive_time, p_start, p_end)
    GROUP BY ALL;

CREATE OR REPLACE MACRO automation_blockers_by(p_grain, p_start := NULL, p_end := NULL) AS TABLE
    WITH totals AS (
        SELECT
            inbox_id,
            cf_period_start(p_grain, receive_time) AS period_start,
            count(*) AS total_documents,
            cf_count_if(coalesce(flag_for_review, false)) AS blocked_documents
        FROM documents
        WHERE cf_in_window(receive_time, p_start, p_end)
        GROUP BY ALL
    ),
    reasons AS (
        SELECT
            inbox_id,
            cf_period_start(p_grain, receive_time) AS period_start,
            field_name,
            reason,
            count(*) AS documents,
            min(confidence) AS min_confidence,
            median(confidence) AS median_confidence
        FROM blocker_reasons(p_start, p_end)
        GROUP BY ALL
    )
    SELECT
        r.inbox_id,
        p_grain AS period,
        r.period_start,
        r.field_name,
        r.reason,
        r.documents,
        t.blocked_documents,
        t.total_documents,
        cf_ratio(r.documents, t.blocked_documents) AS share_of_blocked,
        r.min_confidence,
        r.median_confidence
    FROM reasons AS r
    JOIN totals AS t
        ON t.inbox_id = r.inbox_id AND t.period_start IS NOT DISTINCT FROM r.period_start;

-- Per inbox, field and reason over all history (use automation_blockers_by for periods).
CREATE OR REPLACE VIEW automation_blockers AS
    SELECT inbox_id, cf_inbox_name(inbox_id) AS inbox_name,
        * EXCLUDE (inbox_id, period, period_start)
    FROM automation_blockers_by('all');
