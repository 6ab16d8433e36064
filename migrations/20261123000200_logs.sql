-- Log drains: where an app's log stream is forwarded (syslog over TCP, or HTTP(S) batches).
create table log_drain (
    drain_id   uuid primary key,
    app_id     uuid not null references app (app_id) on delete cascade,
    url        text not null,
    -- Sent with every frame (syslog hostname field, Logplex-Drain-Token header) so a
    -- receiver shared by several apps can tell them apart.
    token      text not null unique,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (app_id, url)
);

-- How far paasd has read each dyno container's output, so a restarted paasd resumes
-- there instead of losing or repeating lines. Docker timestamps have nanoseconds.
create table log_cursor (
    container_id text primary key,
    last_ns      bigint not null,
    updated_at   timestamptz not null default now()
);
