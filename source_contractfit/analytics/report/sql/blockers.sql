-- For each reason (a mandatory field missing, or a confidence under the threshold), the
-- ten fields that flag the most documents for review: one reason's counts never push
-- the other's off the list.
WITH pairs AS (
    SELECT field_name, reason, sum(documents)::BIGINT AS documents,
        cf_ratio(sum(documents), (SELECT count_if(flag_for_review) FROM documents))
            AS share_of_blocked
    FROM automation_blockers
    GROUP BY field_name, reason
)
SELECT * FROM pairs
QUALIFY row_number() OVER (PARTITION BY reason ORDER BY documents DESC, field_name) <= 10
ORDER BY reason, documents DESC, field_name
