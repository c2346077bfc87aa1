-- One row per inbox: volume, STP, sampled true STP, document and field accuracy.
SELECT coalesce(i.name, s.inbox_id) AS inbox, s.inbox_id, s.processed AS documents,
    s.stp, s.rate AS stp_rate, s.sampled, s.true_stp_rate,
    d.documents_evaluated, d.rate AS document_accuracy,
    f.accuracy AS field_accuracy, f.f1 AS field_f1
FROM stp_by('all') AS s
LEFT JOIN document_accuracy_by('all') AS d USING (inbox_id)
LEFT JOIN (SELECT * FROM field_accuracy_by('all') WHERE field_name = '__all_fields__')
    AS f USING (inbox_id)
LEFT JOIN inboxes AS i ON i.id = s.inbox_id
ORDER BY inbox
