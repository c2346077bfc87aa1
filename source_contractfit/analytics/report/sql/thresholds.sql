-- Per inbox, the lowest confidence threshold whose automated fields are 95% correct.
SELECT coalesce(i.name, t.inbox_id) AS inbox, t.field_name, t.threshold,
    t.share_automated
FROM confidence_threshold_for(p_target := 0.95) AS t
LEFT JOIN inboxes AS i ON i.id = t.inbox_id
WHERE t.field_name = '__all_fields__'
ORDER BY inbox
