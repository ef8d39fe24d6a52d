-- PostgreSQL's ceiling for keel::jobs (bench/jobs/run runs it with pgbench): one job's three
-- statements as PostgresStore runs them, each its own transaction: the insert that NOTIFYs,
-- the claim under FOR UPDATE SKIP LOCKED, the completion.
WITH job AS (INSERT INTO keel_jobs (kind, queue, args, priority, max_attempts, run_at, created_at, unique_key, unique_until, trace_parent) VALUES ('bench.noop', 'ceiling', '{}', 0, 25, 0, 0, NULL, NULL, '') RETURNING id) SELECT id FROM job, pg_notify('keel_jobs_ceiling', 'ceiling') \gset
UPDATE keel_jobs SET state = 'running', attempt = attempt + 1, leased_by = 'ceiling', lease_until = 30000, attempted_at = 0 WHERE id IN (SELECT id FROM keel_jobs WHERE id = :id AND queue = 'ceiling' AND ((state = 'available' AND run_at <= 0) OR (state = 'running' AND lease_until < 0)) FOR UPDATE SKIP LOCKED) RETURNING id;
UPDATE keel_jobs SET state = 'completed', finished_at = 0, leased_by = NULL, lease_until = NULL WHERE id = :id AND state = 'running';
