-- STP (straight-through processing) over every processed document, reviewed or not.
-- A document is STP when flag_for_review is false. Part of the STP documents is sampled
-- for quality control (status_data.sampling) and reviewed: the share of those found fully
-- correct estimates the "true STP" rate, i.e. documents that went through and were right.

CREATE OR REPLACE MACRO stp_by(p_grain, p_version := 'predicted', p_start := NULL, p_end := NULL)
AS TABLE
    WITH judged AS (SELECT document_id, document_correct FROM document_evaluations(p_version)),
    counted AS (
        SELECT
            d.inbox_id,
            cf_period_start(p_grain, d.receive_time) AS period_start,
            count(*) AS processed,
            cf_count_if(NOT coalesce(d.flag_for_review, false)) AS stp,
            cf_count_if(NOT coalesce(d.flag_for_review, false) AND coalesce(d.sampling, false)
                AND j.document_id IS NOT NULL) AS sampled,
            cf_count_if(NOT coalesce(d.flag_for_review, false) AND coalesce(d.sampling, false)
                AND coalesce(j.document_correct, false)) AS sampled_correct
        FROM documents AS d
        LEFT JOIN judged AS j ON j.document_id = d.id
        WHERE cf_in_window(d.receive_time, p_start, p_end)
        GROUP BY ALL
    )
    SELECT
        inbox_id,
        p_grain AS period,
        period_start,
        processed,
        stp,
        cf_ratio(stp, processed) AS rate,
        sampled,
        sampled_correct,
        cf_ratio(sampled_correct, sampled) AS sample_accuracy,
        cf_ratio(stp, processed) * cf_ratio(sampled_correct, sampled) AS true_stp_rate
    FROM counted;

-- stp_daily: per inbox and UTC receive day.
CREATE OR REPLACE VIEW stp_daily AS
    SELECT inbox_id, cf_inbox_name(inbox_id) AS inbox_name, period_start AS day,
        * EXCLUDE (inbox_id, period, period_start)
    FROM stp_by('day');

-- Per-field STP, as the vendor counts it: documents with no flagged atom of that field in
-- their prediction, out of every document. A field predicted as `[]` (occurrence -1 row)
-- is never flagged; true STP reads document_evaluations, where such a field is correct.
CREATE OR REPLACE MACRO field_stp_by(p_grain, p_start := NULL, p_end := NULL) AS TABLE
    WITH docs AS (
        SELECT inbox_id, cf_period_start(p_grain, receive_time) AS period_start, count(*) AS total
        FROM documents
        WHERE cf_in_window(receive_time, p_start, p_end)
        GROUP BY ALL
    ),
    names AS (SELECT DISTINCT inbox_id, field_name FROM prediction_atoms),
    flagged AS (
        SELECT
            inbox_id,
            cf_period_start(p_grain, receive_time) AS period_start,
            field_name,
            count(DISTINCT document_id) AS flagged_documents
        FROM prediction_atoms
        WHERE flagged AND cf_in_window(receive_time, p_start, p_end)
        GROUP BY ALL
    )
    SELECT
        docs.inbox_id,
        p_grain AS period,
        docs.period_start,
        names.field_name,
        docs.total - coalesce(flagged.flagged_documents, 0) AS stp,
        docs.total,
        cf_ratio(docs.total - coalesce(flagged.flagged_documents, 0), docs.total) AS rate
    FROM docs
    JOIN names ON names.inbox_id = docs.inbox_id
    LEFT JOIN flagged
        ON flagged.inbox_id = docs.inbox_id
        AND flagged.period_start IS NOT DISTINCT FROM docs.period_start
        AND flagged.field_name = names.field_name;
