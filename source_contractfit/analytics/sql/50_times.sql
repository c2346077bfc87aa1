-- processing_times: the service's processing period (seconds) per inbox and page count,
-- periods and windows on start_time like the vendor's processing stats; page_count NULL = all pages.
-- review_latency: receive-to-feedback time of human-reviewed documents, per inbox and UTC
-- receive month; month NULL = all history. Percentiles interpolate linearly between
-- closest ranks (quantile_cont, numpy's default).

CREATE OR REPLACE MACRO processing_times_by(p_grain, p_start := NULL, p_end := NULL) AS TABLE
    SELECT
        inbox_id,
        p_grain AS period,
        cf_period_start(p_grain, start_time) AS period_start,
        page_count,
        count(*) AS count,
        avg(processing_period) AS mean,
        min(processing_period) AS min,
        max(processing_period) AS max,
        stddev_samp(processing_period) AS std,
        quantile_cont(processing_period, 0.5) AS p50,
        quantile_cont(processing_period, 0.95) AS p95,
        quantile_cont(processing_period, 0.99) AS p99
    FROM documents
    WHERE processing_period IS NOT NULL AND start_time IS NOT NULL
        AND cf_in_window(start_time, p_start, p_end)
    GROUP BY GROUPING SETS ((inbox_id, period_start, page_count), (inbox_id, period_start));

CREATE OR REPLACE VIEW processing_times AS
    SELECT inbox_id, cf_inbox_name(inbox_id) AS inbox_name,
        * EXCLUDE (inbox_id, period, period_start)
    FROM processing_times_by('all');

CREATE OR REPLACE VIEW review_latency AS
    SELECT
        inbox_id,
        cf_inbox_name(inbox_id) AS inbox_name,
        cf_period_start('month', receive_time) AS month,
        count(*) AS reviewed,
        avg(review_latency_seconds) AS mean_seconds,
        quantile_cont(review_latency_seconds, 0.5) AS p50_seconds,
        quantile_cont(review_latency_seconds, 0.95) AS p95_seconds,
        quantile_cont(review_latency_seconds, 0.99) AS p99_seconds,
        quantile_cont(review_latency_seconds, 0.5) / 3600 AS p50_hours,
        quantile_cont(review_latency_seconds, 0.95) / 3600 AS p95_hours,
        quantile_cont(review_latency_seconds, 0.99) / 3600 AS p99_hours
    FROM documents
    WHERE review_latency_seconds IS NOT NULL
    GROUP BY GROUPING SETS ((inbox_id, month), (inbox_id));
