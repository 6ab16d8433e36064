-- The same rule as 20261201000100_current_release.sql (an app's newest succeeded
-- release), read through the (app_id, version) index: per app, walk its releases newest
-- first and stop at the first succeeded one. The `distinct on` form sorted every release
-- of the app (of every app, when joined to `app`) on each read, so each config change
-- got slower as the ledger grew (10 ms at 3,000 releases, inside the app's row lock).
-- `app_id` comes from `app`, so a filter or join on it picks the app first.
create or replace view current_release as
select a.app_id, c.release_id, c.version, c.build_id, c.config, c.created_at
  from app a
 cross join lateral (
       select r.release_id, r.version, r.build_id, r.config, r.created_at
         from release r
         join release_status s using (release_id)
        where r.app_id = a.app_id and s.status = 'succeeded'
        order by r.version desc
        limit 1) c;
