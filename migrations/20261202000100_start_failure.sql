-- Why an app's dynos cannot be started (the engine refused: no network, image gone...),
-- written by the supervisor when it backs off and cleared when a start succeeds, so a
-- waiting push and `paas ps` can say so with the engine's reason. One row per app.
create table start_failure (
    app_id     uuid primary key references app (app_id) on delete cascade,
    release_id uuid not null references release (release_id) on delete cascade,
    reason     text not null,
    failures   integer not null check (failures > 0),
    failed_at  timestamptz not null default now()
);
