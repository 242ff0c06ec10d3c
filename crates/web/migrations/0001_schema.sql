-- hedui-web store, version 1. Portable SQL: the same text runs on SQLite and
-- PostgreSQL (TEXT and BIGINT only, no auto-increment, no dialect functions).
--
-- Imported runs are copies of published run folders (never edited after import);
-- review state belongs to a discrepancy's natural key (dkey), so a finding
-- reviewed one night keeps its review when it is found again the next nights.

CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    as_of TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    -- as_of | started_at | run_id: the order of nights.
    sort_key TEXT NOT NULL,
    exit_code BIGINT NOT NULL,
    policy TEXT NOT NULL,
    households BIGINT NOT NULL,
    eligible BIGINT NOT NULL,
    ineligible BIGINT NOT NULL,
    review BIGINT NOT NULL,
    discrepancies BIGINT NOT NULL,
    quarantined BIGINT NOT NULL,
    -- run.json as published (sources, counts, digests).
    manifest TEXT NOT NULL,
    -- The run this one is compared with (the previous night) and the summary
    -- of households whose verdict changed (JSON), set by the importer.
    prev_run_id TEXT,
    change_summary TEXT,
    imported_at TEXT NOT NULL
);
CREATE INDEX runs_sort ON runs (sort_key);

CREATE TABLE verdicts (
    run_id TEXT NOT NULL,
    household_id TEXT NOT NULL,
    program TEXT NOT NULL,
    county_code TEXT NOT NULL,
    area_type TEXT NOT NULL,
    verdict TEXT NOT NULL,
    reason_codes TEXT NOT NULL,
    counted_members BIGINT NOT NULL,
    -- Amounts in fen; NULL where verdicts.csv leaves the amount empty.
    standard_monthly_fen BIGINT,
    gross_income_fen BIGINT,
    medical_deduction_fen BIGINT,
    net_income_fen BIGINT,
    financial_assets_fen BIGINT,
    PRIMARY KEY (run_id, household_id)
);
CREATE INDEX verdicts_verdict ON verdicts (run_id, verdict, household_id);
CREATE INDEX verdicts_county ON verdicts (run_id, county_code, household_id);
CREATE INDEX verdicts_household ON verdicts (household_id, run_id);

-- One row per reason of a verdict (explanations.jsonl), for lists and filters.
CREATE TABLE reasons (
    run_id TEXT NOT NULL,
    household_id TEXT NOT NULL,
    ord BIGINT NOT NULL,
    code TEXT NOT NULL,
    summary TEXT NOT NULL,
    value_fen BIGINT,
    limit_fen BIGINT,
    margin_fen BIGINT,
    -- Departments whose records the reason rests on, `;`-joined.
    departments TEXT NOT NULL,
    PRIMARY KEY (run_id, household_id, ord)
);
CREATE INDEX reasons_code ON reasons (run_id, code, household_id);

CREATE TABLE explanations (
    run_id TEXT NOT NULL,
    household_id TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (run_id, household_id)
);

CREATE TABLE discrepancies (
    run_id TEXT NOT NULL,
    -- Row number in discrepancies.csv (1-based): the file's order, and the paging key.
    seq BIGINT NOT NULL,
    code TEXT NOT NULL,
    department TEXT NOT NULL,
    household_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    record_ref TEXT NOT NULL,
    detail TEXT NOT NULL,
    -- The household's county in this run ('' when no household is involved).
    county_code TEXT NOT NULL,
    -- sha256 of department, code, household, person and record: the review key.
    dkey TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX discrepancies_dept ON discrepancies (run_id, department, seq);
CREATE INDEX discrepancies_dept_code ON discrepancies (run_id, department, code, seq);
CREATE INDEX discrepancies_code ON discrepancies (run_id, code, seq);
CREATE INDEX discrepancies_county ON discrepancies (run_id, county_code, seq);
CREATE INDEX discrepancies_household ON discrepancies (run_id, household_id);
CREATE INDEX discrepancies_dkey ON discrepancies (dkey);

-- Households whose verdict changed since the previous run (derived; rebuilt
-- when runs arrive out of order). kind: ineligible / eligible / review.
CREATE TABLE changes (
    run_id TEXT NOT NULL,
    household_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    before_verdict TEXT,
    after_verdict TEXT NOT NULL,
    reasons_added TEXT NOT NULL,
    reasons_removed TEXT NOT NULL,
    PRIMARY KEY (run_id, household_id)
);
CREATE INDEX changes_kind ON changes (run_id, kind, household_id);

CREATE TABLE users (
    name TEXT PRIMARY KEY,
    -- argon2id PHC string.
    password_hash TEXT NOT NULL,
    -- analyst / department
    role TEXT NOT NULL,
    department TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE sessions (
    -- sha256 of the cookie's token: the database never holds a usable token.
    token_hash TEXT PRIMARY KEY,
    user_name TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- Current review of a discrepancy. version counts the changes (optimistic
-- concurrency: an update names the version it saw).
CREATE TABLE reviews (
    dkey TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    comment TEXT NOT NULL,
    version BIGINT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX reviews_status ON reviews (status, dkey);

-- Every review change, append-only (migration 2 makes the database refuse
-- UPDATE and DELETE here).
CREATE TABLE review_history (
    dkey TEXT NOT NULL,
    version BIGINT NOT NULL,
    run_id TEXT NOT NULL,
    at TEXT NOT NULL,
    by_user TEXT NOT NULL,
    before_status TEXT NOT NULL,
    after_status TEXT NOT NULL,
    before_comment TEXT NOT NULL,
    after_comment TEXT NOT NULL,
    PRIMARY KEY (dkey, version)
);
