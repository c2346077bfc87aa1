-- The review backlog now, per inbox and status: from the exported documents (their flags
-- as last read), beside the vendor's volume stream for the same status on its last day.
WITH ours AS (
    SELECT inbox_id, status, sum(count)::BIGINT AS documents
    FROM volume_by('all')
    WHERE status IN ('to_review', 'rejected', 'escalated')
    GROUP BY ALL
),
vendor AS (
    SELECT inbox_id, status, sum(count)::BIGINT AS vendor_documents
    FROM stats_volume
    WHERE status IN ('to_review', 'rejected', 'escalated')
    GROUP BY ALL
)
SELECT coalesce(i.name, o.inbox_id) AS inbox, o.status, o.documents, v.vendor_documents
FROM ours AS o
LEFT JOIN vendor AS v USING (inbox_id, status)
LEFT JOIN inboxes AS i ON i.id = o.inbox_id
ORDER BY inbox, CASE o.status WHEN 'to_review' THEN 1 WHEN 'escalated' THEN 2 ELSE 3 END
