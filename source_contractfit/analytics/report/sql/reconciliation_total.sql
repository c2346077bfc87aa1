-- The reconciliation in one line: streams compared, metrics compared, metrics matching.
SELECT count(DISTINCT stream) AS streams, count(*) AS metrics,
    cf_count_if(matches) AS matching
FROM stats_reconciliation
