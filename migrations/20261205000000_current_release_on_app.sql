-- The current release (an app's newest succeeded release) is kept on the app row, so
-- every read of it is one primary-key join instead of a walk over the app's releases.
-- The walk was cheap per app, but `GET /apps` did it for every app, and on small tables
-- the planner joined each walk to a scan of all of `release_status` (50 apps: 0.7 ms a
-- list, 2.6x slower than the older `distinct on`). Only the ledger's two writes of a
-- status (`ReleaseTx::append`, `ReleaseTx::settle`, under the app's row lock) set it.
-- The key names the app too, so the pointer cannot lead to another app's release;
-- deferred, since a release and the pointer to it are written in one statement.
create unique index release_app_release_key on release (app_id, release_id);
alter table app
  add column current_release_id uuid,
  add constraint app_current_release_fkey
      foreign key (app_id, current_release_id) references release (app_id, release_id)
      deferrable initially deferred;

update app a
   set current_release_id = (
       select r.release_id
         from release r
         join release_status s using (release_id)
        where r.app_id = a.app_id and s.status = 'succeeded'
        order by r.version desc
        limit 1);

create or replace view current_release as
select a.app_id, r.release_id, r.version, r.build_id, r.config, r.created_at
  from app a
  join release r on r.release_id = a.current_release_id;
