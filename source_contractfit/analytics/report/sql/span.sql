-- What the data covers: the receive times of its oldest and newest documents, and when
-- the export last committed (NULL for a file written before the exporter recorded it).
SELECT min(receive_time) AS first_received, max(receive_time) AS last_received,
    count(*) AS documents,
    (SELECT max(value) FROM _contractfit_meta WHERE key = 'last_commit_at') AS last_commit_at
FROM documents
