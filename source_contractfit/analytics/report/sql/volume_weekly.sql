-- Documents received per inbox and week (from the exported documents), for the volume
-- chart; `partial` as in stp_weekly.
WITH span AS (
    SELECT min(receive_time) AS first_received, max(receive_time) AS last_received
    FROM documents
)
SELECT coalesce(i.name, v.inbox_id) AS inbox, v.period_start AS week, v.count AS documents,
    (v.period_start + INTERVAL 7 DAY > (SELECT last_received FROM span)
        OR v.period_start < (SELECT first_received FROM span)) AS partial
FROM volume_by('week') AS v LEFT JOIN inboxes AS i ON i.id = v.inbox_id
WHERE v.status = 'received'
ORDER BY inbox, week
