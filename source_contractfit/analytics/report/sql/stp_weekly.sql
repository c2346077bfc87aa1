-- STP per inbox and receive week, for the trend chart. `partial`: the week is not over in
-- the data (it holds the newest document received) or began before the oldest one, so its
-- rate is of part of a week; `small`: too few documents for a rate worth a point.
WITH span AS (
    SELECT min(receive_time) AS first_received, max(receive_time) AS last_received
    FROM documents
)
SELECT coalesce(i.name, s.inbox_id) AS inbox, s.period_start AS week, s.processed,
    s.rate AS stp_rate, s.true_stp_rate,
    (s.period_start + INTERVAL 7 DAY > (SELECT last_received FROM span)
        OR s.period_start < (SELECT first_received FROM span)) AS partial,
    s.processed < $min_documents AS small
FROM stp_by('week') AS s LEFT JOIN inboxes AS i ON i.id = s.inbox_id
ORDER BY inbox, week
