-- Field accuracy per inbox and receive week (every field pooled), to see a model change or
-- a drift; `n` evaluated atoms; `partial` as in stp_weekly.
WITH span AS (
    SELECT min(receive_time) AS first_received, max(receive_time) AS last_received
    FROM documents
)
SELECT coalesce(i.name, f.inbox_id) AS inbox, f.period_start AS week, f.n, f.accuracy,
    (f.period_start + INTERVAL 7 DAY > (SELECT last_received FROM span)
        OR f.period_start < (SELECT first_received FROM span)) AS partial
FROM field_accuracy_by('week') AS f LEFT JOIN inboxes AS i ON i.id = f.inbox_id
WHERE f.field_name = '__all_fields__'
ORDER BY inbox, week
