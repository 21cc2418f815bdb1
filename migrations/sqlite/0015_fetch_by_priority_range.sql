-- PostgreSQL's 0015 replaces apalis-postgres's fetch function and drops its NOTIFY trigger.
-- apalis-sqlite's fetch is a statement compiled into the crate and it has no NOTIFY: nothing
-- changes here. The file keeps the version numbers of the two sets the same.
SELECT 1;
