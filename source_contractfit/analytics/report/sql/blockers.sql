-- The fifteen (field, reason) pairs that flag the most documents for review.
SELECT field_name, reason, sum(documents)::BIGINT AS documents,
    cf_ratio(sum(documents), (SELECT count_if(flag_for_review) FROM documents))
        AS share_of_blocked
FROM automation_blockers
GROUP BY ALL
ORDER BY documents DESC, field_name, reason
LIMIT 15
