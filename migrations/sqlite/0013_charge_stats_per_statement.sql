-- PostgreSQL's 0013 adds the charges' statistics counters once per INSERT statement instead of
-- once per row (a bulk insert of a chunk of charges). SQLite has row triggers only, and its
-- statements cost no round trip: nothing changes here. The file keeps the version numbers of
-- the two sets the same.
SELECT 1;
