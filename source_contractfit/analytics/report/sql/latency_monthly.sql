-- Review latency per inbox and month of receipt, for the latency chart.
SELECT coalesce(i.name, r.inbox_id) AS inbox, r.month, r.reviewed, r.p50_hours,
    r.p95_hours, r.p99_hours
FROM review_latency AS r LEFT JOIN inboxes AS i ON i.id = r.inbox_id
WHERE r.month IS NOT NULL
ORDER BY inbox, r.month
