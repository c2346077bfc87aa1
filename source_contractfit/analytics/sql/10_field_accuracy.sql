-- field_accuracy: per inbox, field and period, over the judged versions' atoms.
-- tp: predicted non-empty and correct; fp: predicted non-empty and wrong; fn: gold non-empty
-- and (prediction empty or wrong); tn: both empty (and correct). A wrong value is both an fp
-- and an fn. field_name '__all_fields__' sums every field, as the vendor's stats do.
-- A field evaluated as an empty list `[]` (the occurrence -1 row of `fields`) is one
-- observation and a tn, the same as a placeholder atom with value and gold null.

-- p_grain: 'day' | 'week' | 'month' | 'quarter' | 'year' | 'all' (period_start NULL).
CREATE OR REPLACE MACRO field_accuracy_by(
    p_grain, p_version := 'predicted', p_start := NULL, p_end := NULL
) AS TABLE
    WITH observations AS (
        SELECT inbox_id, cf_period_start(p_grain, receive_time) AS period_start, *
            EXCLUDE (inbox_id)
        FROM evaluated_atoms(p_version)
        WHERE cf_in_window(receive_time, p_start, p_end)
    ),
    counted AS (
        SELECT
            inbox_id,
            period_start,
            coalesce(field_name, '__all_fields__') AS field_name,
            count(*) AS n,
            cf_count_if(correct) AS correct,
            cf_count_if(NOT value_empty AND correct) AS tp,
            cf_count_if(NOT value_empty AND NOT correct) AS fp,
            cf_count_if(NOT gold_empty AND (value_empty OR NOT correct)) AS fn,
            cf_count_if(value_empty AND gold_empty AND correct) AS tn
        FROM observations
        GROUP BY GROUPING SETS ((inbox_id, period_start, field_name), (inbox_id, period_start))
    )
    SELECT
        inbox_id,
        p_grain AS period,
        period_start,
        field_name,
        n,
        correct,
        tp,
        fp,
        fn,
        tn,
        cf_ratio(correct, n) AS accuracy,
        cf_ratio(tp, tp + fp) AS precision,
        cf_ratio(tp, tp + fn) AS recall,
        cf_ratio(2 * tp, 2 * tp + fp + fn) AS f1
    FROM counted;

CREATE OR REPLACE VIEW field_accuracy AS
    SELECT inbox_id, cf_inbox_name(inbox_id) AS inbox_name, * EXCLUDE (inbox_id)
    FROM (SELECT * FROM field_accuracy_by('day')
    UNION ALL SELECT * FROM field_accuracy_by('week')
    UNION ALL SELECT * FROM field_accuracy_by('month')
    UNION ALL SELECT * FROM field_accuracy_by('all')
    );
