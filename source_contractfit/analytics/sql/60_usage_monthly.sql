-- usage_monthly: documents and pages (page_count) per inbox and UTC receive month, from the
-- exported documents, beside the vendor's own `usage` stream for the same month (NULL when
-- that stream was not exported). A month with no document on either side has no row: the
-- usage stream zero-fills every day up to today, so without this filter the current month
-- would show a row of zeros on the 1st that the vendor's endpoint never has.

CREATE OR REPLACE VIEW usage_monthly AS
    WITH ours AS (
        SELECT
            inbox_id,
            cf_period_start('month', receive_time) AS month,
            count(*) AS documents,
            sum(page_count)::BIGINT AS pages
        FROM documents
        GROUP BY ALL
    ),
    vendor AS (
        SELECT
            inbox_id,
            date_trunc('month', date)::DATE AS month,
            sum(documents)::BIGINT AS documents,
            sum(pages)::BIGINT AS pages
        FROM usage
        GROUP BY ALL
    )
    SELECT
        coalesce(ours.inbox_id, vendor.inbox_id) AS inbox_id,
        cf_inbox_name(coalesce(ours.inbox_id, vendor.inbox_id)) AS inbox_name,
        coalesce(ours.month, vendor.month) AS month,
        coalesce(ours.documents, 0) AS documents,
        coalesce(ours.pages, 0) AS pages,
        vendor.documents AS vendor_documents,
        vendor.pages AS vendor_pages
    FROM ours
    FULL OUTER JOIN vendor ON vendor.inbox_id = ours.inbox_id AND vendor.month = ours.month
    WHERE coalesce(ours.documents, 0) > 0 OR coalesce(vendor.documents, 0) > 0;
