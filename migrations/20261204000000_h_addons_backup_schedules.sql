-- Daily scheduled backups of Postgres add-ons (pg:backups:schedule --at 'HH:MM TZ'),
-- run by paasd; scheduled backups beyond `keep` verified ones are pruned.

create table addon_backup_schedule (
    addon_id    uuid primary key references addon (addon_id) on delete cascade,
    at_time     time not null,
    -- An IANA zone name Postgres knows (checked on the way in) or UTC.
    timezone    text not null default 'UTC',
    keep        integer not null default 7
                constraint addon_backup_schedule_keep check (keep between 1 and 90),
    -- The due time the last run was for: a schedule runs at most once per due time.
    last_due_at timestamptz,
    -- When it was set: a due time before this is not run (nor missed).
    created_at  timestamptz not null default now()
);

-- Scheduled backups are the ones pruned; manual captures are kept until deleted.
alter table addon_backup add column scheduled boolean not null default false;
