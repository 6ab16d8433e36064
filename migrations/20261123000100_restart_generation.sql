-- `ps:restart`: bumping a process type's generation makes its running dynos stale, so the
-- supervisor replaces them one by one like a new release, without making a release.
alter table formation add column restart_seq integer not null default 0;
