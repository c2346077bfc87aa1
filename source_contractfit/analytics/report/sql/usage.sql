-- Documents and pages per inbox and month, beside the vendor's usage stream.
SELECT coalesce(i.name, u.inbox_id) AS inbox, u.month, u.documents, u.pages,
    u.vendor_documents, u.vendor_pages
FROM usage_monthly AS u LEFT JOIN inboxes AS i ON i.id = u.inbox_id
ORDER BY inbox, u.month
