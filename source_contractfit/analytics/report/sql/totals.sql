-- The page's headline cards: every inbox pooled (sum the counts, then take the ratio).
SELECT coalesce(sum(s.processed), 0)::BIGINT AS documents,
    cf_ratio(sum(s.stp), sum(s.processed)) AS stp_rate,
    coalesce(sum(d.documents_evaluated), 0)::BIGINT AS documents_evaluated
FROM stp_by('all') AS s
LEFT JOIN document_accuracy_by('all') AS d USING (inbox_id)
