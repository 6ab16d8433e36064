-- Backups of Postgres add-ons: pg_dump custom-format files under PAAS_BACKUP_DIR, each
-- verified by restoring it into a scratch database and comparing row counts.

create table addon_backup (
    backup_id   uuid primary key,
    addon_id    uuid not null references addon (addon_id) on delete cascade,
    -- b001, b002 … per add-on.
    num         integer not null,
    status      text not null default 'running'
                constraint addon_backup_status check (status in ('running', 'verified', 'failed')),
    -- Why it failed, in the tools' own words.
    reason      text,
    size_bytes  bigint,
    -- Rows per table when it was captured: what a restore must reproduce.
    row_counts  jsonb,
    started_at  timestamptz not null default now(),
    finished_at timestamptz,
    constraint addon_backup_num_key unique (addon_id, num)
);
