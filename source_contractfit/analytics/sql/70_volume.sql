-- Document counts per inbox, UTC receive day and workflow status, by the vendor's volume
-- definitions: to_review = flagged for review and neither submitted nor rejected.

CREATE OR REPLACE MACRO volume_by(p_grain, p_start := NULL, p_end := NULL) AS TABLE
    SELECT inbox_id, p_grain AS period, period_start, status, count
    FROM (
        SELECT
            inbox_id,
            cf_period_start(p_grain, receive_time) AS period_start,
            count(*) AS received,
            cf_count_if(coalesce(flag_for_review, false) AND NOT coalesce(submitted, false)
                AND NOT coalesce(rejected, false)) AS to_review,
            cf_count_if(coalesce(submitted, false)) AS submitted,
            cf_count_if(coalesce(rejected, false)) AS rejected,
            cf_count_if(coalesce(escalated, false)) AS escalated,
            cf_count_if(coalesce(archived, false)) AS archived
        FROM documents
        WHERE cf_in_window(receive_time, p_start, p_end)
        GROUP BY ALL
    ) UNPIVOT (count FOR status IN (received, to_review, submitted, rejected, escalated, archived));
