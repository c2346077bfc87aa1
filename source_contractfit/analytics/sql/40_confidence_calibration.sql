-- confidence_calibration: how often the machine was right at each confidence, per inbox and
-- field, over the judged versions' atoms that carry a confidence. `*_at_or_above` answer the
-- threshold question: had the inbox threshold been `confidence_from`, the atoms that would
-- have passed are `share_at_or_above` of all, and `accuracy_at_or_above` of them were right.
-- Placeholder atoms and the occurrence -1 rows of empty lists carry no confidence: no bucket.

CREATE OR REPLACE MACRO confidence_calibration_by(
    p_bucket := 10, p_version := 'predicted', p_start := NULL, p_end := NULL
) AS TABLE
    WITH observations AS (
        SELECT
            inbox_id,
            field_name,
            least(floor(confidence / p_bucket) * p_bucket, 100 - p_bucket)::INTEGER AS bucket,
            correct
        FROM evaluated_atoms(p_version)
        WHERE confidence IS NOT NULL AND cf_in_window(receive_time, p_start, p_end)
    ),
    buckets AS (
        SELECT
            inbox_id,
            coalesce(field_name, '__all_fields__') AS field_name,
            bucket,
            count(*) AS n,
            cf_count_if(correct) AS correct
        FROM observations
        GROUP BY GROUPING SETS ((inbox_id, field_name, bucket), (inbox_id, bucket))
    )
    SELECT
        inbox_id,
        field_name,
        bucket AS confidence_from,
        bucket + p_bucket AS confidence_to,
        n,
        correct,
        cf_ratio(correct, n) AS accuracy,
        (sum(n) OVER above)::BIGINT AS n_at_or_above,
        (sum(correct) OVER above)::BIGINT AS correct_at_or_above,
        cf_ratio(sum(correct) OVER above, sum(n) OVER above) AS accuracy_at_or_above,
        cf_ratio(sum(n) OVER above, sum(n) OVER (PARTITION BY inbox_id, field_name))
            AS share_at_or_above
    FROM buckets
    WINDOW above AS (
        PARTITION BY inbox_id, field_name ORDER BY bucket DESC
        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    );

CREATE OR REPLACE VIEW confidence_calibration AS
    SELECT inbox_id, cf_inbox_name(inbox_id) AS inbox_name, * EXCLUDE (inbox_id)
    FROM confidence_calibration_by();

-- The lowest bucket threshold per inbox and field at which the atoms passing it would have
-- been at least p_target accurate (NULL when no threshold reaches it).
CREATE OR REPLACE MACRO confidence_threshold_for(p_target := 0.95, p_bucket := 10) AS TABLE
    SELECT
        inbox_id,
        field_name,
        p_target AS target_accuracy,
        min(confidence_from) FILTER (WHERE accuracy_at_or_above >= p_target) AS threshold,
        arg_min(share_at_or_above, confidence_from) FILTER (
            WHERE accuracy_at_or_above >= p_target
        ) AS share_automated
    FROM confidence_calibration_by(p_bucket)
    GROUP BY ALL;
