-- PostgreSQL's 0014 adds the agreements' statistics counters once per INSERT statement instead
-- of once per row (a bulk insert of agreements). SQLite has row triggers only, and its
-- statements cost no round trip: nothing changes here. The file keeps the version numbers of
-- the two sets the same.
SELECT 1;
