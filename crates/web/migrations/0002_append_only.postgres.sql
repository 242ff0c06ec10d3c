-- review_history is append-only: the database itself refuses changes.
CREATE FUNCTION review_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'review_history is append-only';
END
$$;
CREATE TRIGGER review_history_no_change BEFORE UPDATE OR DELETE ON review_history
    FOR EACH ROW EXECUTE FUNCTION review_history_append_only();
CREATE TRIGGER review_history_no_truncate BEFORE TRUNCATE ON review_history
    FOR EACH STATEMENT EXECUTE FUNCTION review_history_append_only();
