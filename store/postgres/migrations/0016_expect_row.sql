-- 0016: a write that must change a row can say so by failing.
--
-- An Atomic transaction holds back the writes whose results it does not
-- read and sends them with the next statement or with COMMIT, in one
-- pipeline (issue 12). A row count read after the pipeline comes too
-- late to stop the commit; an error raised inside it does not:
-- PostgreSQL skips the rest of the pipeline. Such a write ends with
-- SELECT usher_expect_row(count(*)) FROM the CTE holding its RETURNING.
CREATE FUNCTION usher_expect_row(n bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF n = 0 THEN
		RAISE EXCEPTION 'usher: no row to change' USING ERRCODE = 'no_data_found';
	END IF;
END
$$;
