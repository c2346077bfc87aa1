-- Every inbox pooled: sum the counts, then take the ratios; least accurate first, the
-- pooled '__all_fields__' row last.
SELECT field_name, sum(n)::BIGINT AS n, sum(tp)::BIGINT AS tp, sum(fp)::BIGINT AS fp,
    sum(fn)::BIGINT AS fn, sum(tn)::BIGINT AS tn,
    cf_ratio(sum(correct), sum(n)) AS accuracy,
    cf_ratio(sum(tp), sum(tp) + sum(fp)) AS precision,
    cf_ratio(sum(tp), sum(tp) + sum(fn)) AS recall,
    cf_ratio(2 * sum(tp), 2 * sum(tp) + sum(fp) + sum(fn)) AS f1
FROM field_accuracy_by('all')
GROUP BY field_name
ORDER BY field_name = '__all_fields__', accuracy NULLS FIRST, field_name
