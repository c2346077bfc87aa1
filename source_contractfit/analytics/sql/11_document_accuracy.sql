-- document_accuracy: per inbox and period, documents judged and documents fully correct
-- (every evaluated atom correct), over each document's last evaluated `predicted` version.
-- `atoms` counts observations: a field evaluated as `[]` (occurrence -1 row) is one, correct.

CREATE OR REPLACE MACRO document_accuracy_by(
    p_grain, p_version := 'predicted', p_start := NULL, p_end := NULL
) AS TABLE
    SELECT
        inbox_id,
        p_grain AS period,
        cf_period_start(p_grain, receive_time) AS period_start,
        count(*) AS documents_evaluated,
        cf_count_if(document_correct) AS documents_correct,
        cf_ratio(cf_count_if(document_correct), count(*)) AS rate,
        sum(atoms)::BIGINT AS atoms,
        sum(atoms_correct)::BIGINT AS atoms_correct
    FROM document_evaluations(p_version)
    WHERE cf_in_window(receive_time, p_start, p_end)
    GROUP BY ALL;

CREATE OR REPLACE VIEW document_accuracy AS
    SELECT inbox_id, cf_inbox_name(inbox_id) AS inbox_name, * EXCLUDE (inbox_id)
    FROM (SELECT * FROM document_accuracy_by('day')
    UNION ALL SELECT * FROM document_accuracy_by('week')
    UNION ALL SELECT * FROM document_accuracy_by('month')
    UNION ALL SELECT * FROM document_accuracy_by('all')
    );

-- Sections of the judged versions: section k covers pages [page_k, page_k+1) (the last runs
-- to the end) and is correct when every evaluated atom on those pages is (vacuously true).
-- An atom without coordinates, and the occurrence -1 row of an empty list, is on page 0.
CREATE OR REPLACE MACRO section_evaluations(p_version := 'predicted') AS TABLE
    WITH judged_sections AS (
        SELECT
            s.document_id,
            s.section_index,
            s.page AS first_page,
            lead(s.page) OVER (PARTITION BY s.document_id ORDER BY s.section_index) AS next_page
        FROM judged_versions(p_version) AS j
        JOIN sections AS s ON s.document_id = j.document_id AND s.version_index = j.version_index
    )
    SELECT
        d.inbox_id,
        d.id AS document_id,
        d.receive_time,
        js.section_index,
        coalesce(bool_and(a.correct), true) AS section_correct
    FROM judged_sections AS js
    JOIN documents AS d ON d.id = js.document_id
    LEFT JOIN evaluated_atoms(p_version) AS a
        ON a.document_id = js.document_id
        AND a.page >= js.first_page
        AND (js.next_page IS NULL OR a.page < js.next_page)
    GROUP BY ALL;
