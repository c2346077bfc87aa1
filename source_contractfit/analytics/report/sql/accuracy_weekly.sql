-- Field accuracy per inbox and receive week (every field pooled), to see a model change or
-- a drift; `n` evaluated atoms.
SELECT coalesce(i.name, f.inbox_id) AS inbox, f.period_start AS week, f.n, f.accuracy
FROM field_accuracy_by('week') AS f LEFT JOIN inboxes AS i ON i.id = f.inbox_id
WHERE f.field_name = '__all_fields__'
ORDER BY inbox, week
