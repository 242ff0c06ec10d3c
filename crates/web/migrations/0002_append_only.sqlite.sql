-- review_history is append-only: the database itself refuses changes.
CREATE TRIGGER review_history_no_update BEFORE UPDATE ON review_history
BEGIN
    SELECT RAISE(ABORT, 'review_history is append-only');
END;
CREATE TRIGGER review_history_no_delete BEFORE DELETE ON review_history
BEGIN
    SELECT RAISE(ABORT, 'review_history is append-only');
END;
