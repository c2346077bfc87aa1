-- Per vendor stats stream: metrics compared with our own numbers, and how many match.
SELECT stream, count(*) AS metrics, count_if(matches) AS matching,
    max(abs(difference)) AS max_abs_difference
FROM stats_reconciliation
GROUP BY stream
ORDER BY stream
