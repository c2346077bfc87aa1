-- All history per inbox: review latency (receipt to review) beside processing time, for
-- every inbox that has either.
SELECT coalesce(i.name, r.inbox_id, p.inbox_id) AS inbox, r.reviewed, r.p50_hours,
    r.p95_hours, r.p99_hours, p.p50 AS processing_p50, p.p95 AS processing_p95
FROM (SELECT * FROM review_latency WHERE month IS NULL) AS r
FULL JOIN (SELECT * FROM processing_times WHERE page_count IS NULL) AS p
    ON p.inbox_id = r.inbox_id
LEFT JOIN inboxes AS i ON i.id = coalesce(r.inbox_id, p.inbox_id)
ORDER BY inbox
