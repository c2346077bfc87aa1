-- Accuracy per field and confidence bucket, every inbox pooled; buckets of fewer atoms
-- than $min_atoms are noise, not a curve, and are left out.
SELECT field_name, confidence_from, sum(n)::BIGINT AS n,
    cf_ratio(sum(correct), sum(n)) AS accuracy
FROM confidence_calibration
GROUP BY ALL
HAVING sum(n) >= $min_atoms
ORDER BY field_name, confidence_from
