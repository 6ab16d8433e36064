-- "The current release" defined once: an app's newest succeeded release. Every read that
-- needs it (a release's `current` flag, an app's `released_at`, the supervisor's desired
-- state, the ledger's writers) selects from this view, so the rule has one copy.
create view current_release as
select distinct on (r.app_id)
       r.app_id, r.release_id, r.version, r.build_id, r.config, r.created_at
  from release r
  join release_status s using (release_id)
 where s.status = 'succeeded'
 order by r.app_id, r.version desc;
