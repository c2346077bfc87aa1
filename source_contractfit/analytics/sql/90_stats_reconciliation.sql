-- stats_reconciliation: our numbers, computed from the exported documents, beside the
-- vendor's stats_* and usage streams for the same inbox and UTC day, one row per metric.
-- Only (inbox, day, stream) triples the vendor stream holds are compared, so exporting the
-- stats for fewer days than the documents is not a difference. A metric the vendor lists
-- for a day we have no rows for counts as 0 (counts) or NULL (rates). `matches` allows a
-- relative 1e-9 for floating-point sums (processing means and deviations); counts and rates
-- are compared exactly. The document-side inputs are the judged `predicted` versions. A
-- field the server evaluated as `[]` rather than as a placeholder atom is the occurrence -1
-- row of `fields`, a tn in both tn and count, so either form of the server reconciles.

CREATE OR REPLACE VIEW stats_reconciliation AS
WITH vendor_wide AS (
    SELECT inbox_id, date AS day, 'stats_fields' AS stream, 'field' AS breakdown, field_name,
        tp::DOUBLE AS tp, fp::DOUBLE AS fp, fn::DOUBLE AS fn, tn::DOUBLE AS tn,
        "count"::DOUBLE AS "count", accuracy, precision, recall, f1
    FROM stats_fields
),
vendor AS (
    SELECT inbox_id, day, stream, breakdown, field_name, metric, value
    FROM vendor_wide UNPIVOT INCLUDE NULLS (
        value FOR metric IN (tp, fp, fn, tn, "count", accuracy, precision, recall, f1)
    )
    UNION ALL
    SELECT inbox_id, day, stream, breakdown, field_name, metric, value FROM (
        SELECT inbox_id, date AS day, 'stats_accuracy' AS stream, level AS breakdown,
            field_name, correct::DOUBLE AS correct, total::DOUBLE AS total
        FROM stats_accuracy
    ) UNPIVOT INCLUDE NULLS (value FOR metric IN (correct, total))
    UNION ALL
    SELECT inbox_id, day, stream, breakdown, field_name, metric, value FROM (
        SELECT inbox_id, date AS day, 'stats_stp' AS stream, level AS breakdown, field_name,
            stp::DOUBLE AS stp, total::DOUBLE AS total, rate
        FROM stats_stp
    ) UNPIVOT INCLUDE NULLS (value FOR metric IN (stp, total, rate))
    UNION ALL
    SELECT inbox_id, day, stream, breakdown, field_name, metric, value FROM (
        SELECT inbox_id, date AS day, 'stats_automation_blockers' AS stream,
            reason AS breakdown, field_name, documents::DOUBLE AS documents,
            total_documents::DOUBLE AS total_documents,
            blocked_documents::DOUBLE AS blocked_documents
        FROM stats_automation_blockers
    ) UNPIVOT INCLUDE NULLS (value FOR metric IN (documents, total_documents, blocked_documents))
    UNION ALL
    SELECT inbox_id, day, stream, breakdown, field_name, metric, value FROM (
        SELECT inbox_id, date AS day, 'stats_processing' AS stream,
            page_count AS breakdown, '__all__' AS field_name, "count"::DOUBLE AS "count",
            mean, min, max, std, p50, p95, p99
        FROM stats_processing
    ) UNPIVOT INCLUDE NULLS (value FOR metric IN ("count", mean, min, max, std, p50, p95, p99))
    UNION ALL
    SELECT inbox_id, date, 'stats_volume', status, '__all__', 'count', "count"::DOUBLE
    FROM stats_volume
    UNION ALL
    SELECT inbox_id, day, stream, breakdown, field_name, metric, value FROM (
        SELECT inbox_id, date AS day, 'usage' AS stream, 'inbox' AS breakdown,
            '__all__' AS field_name, documents::DOUBLE AS documents, pages::DOUBLE AS pages
        FROM usage
    ) UNPIVOT INCLUDE NULLS (value FOR metric IN (documents, pages))
),
fields_day AS (SELECT * FROM field_accuracy_by('day')),
ours AS (
    SELECT inbox_id, day, stream, breakdown, field_name, metric, value FROM (
        SELECT inbox_id, period_start AS day, 'stats_fields' AS stream, 'field' AS breakdown,
            field_name, tp::DOUBLE AS tp, fp::DOUBLE AS fp, fn::DOUBLE AS fn,
            tn::DOUBLE AS tn, n::DOUBLE AS "count", accuracy, precision, recall, f1
        FROM fields_day
    ) UNPIVOT INCLUDE NULLS (
        value FOR metric IN (tp, fp, fn, tn, "count", accuracy, precision, recall, f1)
    )
    UNION ALL
    SELECT inbox_id, day, stream, breakdown, field_name, metric, value FROM (
        SELECT inbox_id, period_start AS day, 'stats_accuracy' AS stream,
            'field' AS breakdown, field_name, correct::DOUBLE AS correct,
            n::DOUBLE AS total
        FROM fields_day WHERE field_name <> '__all_fields__'
        UNION ALL
        SELECT inbox_id, period_start, 'stats_accuracy', 'document', '__all__',
            documents_correct, documents_evaluated
        FROM document_accuracy_by('day')
        UNION ALL
        SELECT inbox_id, cf_utc_day(receive_time), 'stats_accuracy', 'section', '__all__',
            cf_count_if(section_correct), count(*)
        FROM section_evaluations()
        GROUP BY ALL
    ) UNPIVOT INCLUDE NULLS (value FOR metric IN (correct, total))
    UNION ALL
    SELECT inbox_id, day, stream, breakdown, field_name, metric, value FROM (
        SELECT inbox_id, period_start AS day, 'stats_stp' AS stream,
            'document' AS breakdown, '__all__' AS field_name, stp::DOUBLE AS stp,
            processed::DOUBLE AS total, rate
        FROM stp_by('day')
        UNION ALL
        SELECT d.inbox_id, cf_utc_day(d.receive_time), 'stats_stp', 'section', '__all__',
            cf_count_if(NOT coalesce(d.flag_for_review, false)), count(*),
            cf_ratio(cf_count_if(NOT coalesce(d.flag_for_review, false)), count(*))
        FROM documents AS d JOIN sections AS s ON s.document_id = d.id
        WHERE s.version_index = -1
        GROUP BY ALL
        UNION ALL
        SELECT inbox_id, period_start, 'stats_stp', 'field', field_name, stp, total, rate
        FROM field_stp_by('day')
    ) UNPIVOT INCLUDE NULLS (value FOR metric IN (stp, total, rate))
    UNION ALL
    SELECT inbox_id, day, stream, breakdown, field_name, metric, value FROM (
        -- The vendor lists both reasons of every field with a blocker, one of them maybe 0.
        SELECT b.inbox_id, b.period_start AS day, 'stats_automation_blockers' AS stream,
            r.reason AS breakdown, b.field_name,
            coalesce(sum(b.documents) FILTER (WHERE b.reason = r.reason), 0)::DOUBLE
                AS documents,
            any_value(b.total_documents)::DOUBLE AS total_documents,
            any_value(b.blocked_documents)::DOUBLE AS blocked_documents
        FROM automation_blockers_by('day') AS b
        CROSS JOIN (VALUES ('low_confidence'), ('missing')) AS r(reason)
        GROUP BY b.inbox_id, b.period_start, r.reason, b.field_name
        UNION ALL
        SELECT inbox_id, cf_utc_day(receive_time), 'stats_automation_blockers', 'blocked',
            '__all__', cf_count_if(coalesce(flag_for_review, false)), count(*),
            cf_count_if(coalesce(flag_for_review, false))
        FROM documents
        GROUP BY ALL
    ) UNPIVOT INCLUDE NULLS (value FOR metric IN (documents, total_documents, blocked_documents))
    UNION ALL
    SELECT inbox_id, day, stream, breakdown, field_name, metric, value FROM (
        SELECT inbox_id, period_start AS day, 'stats_processing' AS stream,
            page_count::VARCHAR AS breakdown, '__all__' AS field_name,
            "count"::DOUBLE AS "count", mean, min, max, std, p50, p95, p99
        FROM processing_times_by('day') WHERE page_count IS NOT NULL
    ) UNPIVOT INCLUDE NULLS (value FOR metric IN ("count", mean, min, max, std, p50, p95, p99))
    UNION ALL
    SELECT inbox_id, period_start, 'stats_volume', status, '__all__', 'count', "count"::DOUBLE
    FROM volume_by('day')
    UNION ALL
    SELECT inbox_id, day, stream, breakdown, field_name, metric, value FROM (
        SELECT inbox_id, cf_utc_day(receive_time) AS day, 'usage' AS stream,
            'inbox' AS breakdown, '__all__' AS field_name, count(*)::DOUBLE AS documents,
            sum(page_count)::DOUBLE AS pages
        FROM documents
        GROUP BY ALL
    ) UNPIVOT INCLUDE NULLS (value FOR metric IN (documents, pages))
),
-- What the vendor reported: a day of a stream, and for volume the status too (a server
-- may not support every status; one it refused has no rows and is not compared).
covered AS (
    SELECT DISTINCT inbox_id, day, stream,
        CASE WHEN stream = 'stats_volume' THEN breakdown END AS status
    FROM vendor
),
compared AS (
    SELECT
        coalesce(v.inbox_id, o.inbox_id) AS inbox_id,
        coalesce(v.day, o.day) AS day,
        coalesce(v.stream, o.stream) AS stream,
        coalesce(v.breakdown, o.breakdown) AS breakdown,
        coalesce(v.field_name, o.field_name) AS field_name,
        coalesce(v.metric, o.metric) AS metric,
        CASE
            WHEN o.metric IS NULL AND v.metric IN (
                'tp', 'fp', 'fn', 'tn', 'count', 'correct', 'total', 'stp', 'documents',
                'total_documents', 'blocked_documents', 'pages'
            ) THEN 0
            ELSE o.value
        END AS ours,
        v.value AS vendor
    FROM vendor AS v
    FULL OUTER JOIN (
        SELECT ours.* FROM ours SEMI JOIN covered AS c
            ON c.inbox_id = ours.inbox_id AND c.day = ours.day AND c.stream = ours.stream
            AND (c.status IS NULL OR c.status = ours.breakdown)
    ) AS o
        ON o.inbox_id = v.inbox_id AND o.day = v.day AND o.stream = v.stream
        AND o.breakdown = v.breakdown AND o.field_name = v.field_name AND o.metric = v.metric
)
SELECT
    inbox_id,
    cf_inbox_name(inbox_id) AS inbox_name,
    * EXCLUDE (inbox_id),
    ours - vendor AS difference,
    coalesce(
        ours IS NOT DISTINCT FROM vendor OR abs(ours - vendor) <= 1e-9 * greatest(abs(vendor), 1),
        false
    ) AS matches
FROM compared;
