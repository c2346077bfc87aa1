-- STP per inbox and receive week, for the trend chart.
SELECT coalesce(i.name, s.inbox_id) AS inbox, s.period_start AS week, s.processed,
    s.rate AS stp_rate, s.true_stp_rate
FROM stp_by('week') AS s LEFT JOIN inboxes AS i ON i.id = s.inbox_id
ORDER BY inbox, week
