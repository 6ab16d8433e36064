-- The paas schema: apps, their config, builds, the release ledger, the formation,
-- dynos, domains and API tokens. Constraint names are explicit because paas-store maps
-- them to domain errors.

create table app (
    app_id       uuid primary key,
    name         text not null constraint app_name_key unique
                 constraint app_name_format check (name ~ '^[a-z][a-z0-9-]{0,28}[a-z0-9]$'),
    -- Last release version handed out; bumped under the app's row lock, so versions have
    -- no gaps and no duplicates however many writers race.
    release_seq  integer not null default 0,
    -- Last one-off dyno number handed out (run.N).
    run_seq      integer not null default 0,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now()
);

-- The app's current config; every change also snapshots the whole config into a release.
create table config_var (
    app_id  uuid not null references app (app_id) on delete cascade,
    key     text not null constraint config_var_key_format check (key ~ '^[A-Za-z_][A-Za-z0-9_]*$'),
    value   text not null constraint config_var_value_size check (octet_length(value) <= 32768),
    primary key (app_id, key)
);

create table build (
    build_id       uuid primary key,
    app_id         uuid not null references app (app_id) on delete cascade,
    status         text not null default 'pending'
                   constraint build_status check (status in ('pending', 'succeeded', 'failed')),
    source_version text,
    -- Immutable image reference (image id), never a mutable tag.
    image          text,
    -- {"web": "command", ...} as found in the Procfile, buildpack or image CMD.
    process_types  jsonb not null default '{}'::jsonb,
    buildpacks     jsonb not null default '[]'::jsonb,
    output         text not null default '',
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now(),
    constraint build_succeeded_has_image check (status <> 'succeeded' or image is not null)
);
create index build_app_idx on build (app_id, created_at);

-- The release ledger. Append-only: see the trigger below.
create table release (
    release_id   uuid primary key,
    app_id       uuid not null references app (app_id) on delete cascade,
    version      integer not null constraint release_version_positive check (version >= 1),
    build_id     uuid references build (build_id),
    config       jsonb not null default '{}'::jsonb,
    description  text not null,
    created_at   timestamptz not null default now(),
    constraint release_app_version_key unique (app_id, version)
);

-- A release's outcome changes (pending → succeeded | failed) while its row may not, so the
-- mutable part lives beside the ledger.
create table release_status (
    release_id  uuid primary key references release (release_id) on delete cascade,
    status      text not null constraint release_status_value
                check (status in ('pending', 'succeeded', 'failed')),
    reason      text,
    updated_at  timestamptz not null default now()
);

create function release_is_append_only() returns trigger language plpgsql as $$
begin
    if tg_op = 'DELETE' and not exists (select 1 from app where app_id = old.app_id) then
        -- The app itself is gone: this is its destruction cascading, the one way a
        -- history may end.
        return old;
    end if;
    raise exception 'the release ledger is append-only: % of release rows is not allowed', tg_op
        using errcode = 'P0001', constraint = 'release_append_only';
end;
$$;

create trigger release_append_only
    before update or delete on release
    for each row execute function release_is_append_only();

create function release_no_truncate() returns trigger language plpgsql as $$
begin
    raise exception 'the release ledger is append-only: TRUNCATE is not allowed'
        using errcode = 'P0001';
end;
$$;

create trigger release_no_truncate
    before truncate on release
    for each statement execute function release_no_truncate();

create table formation (
    formation_id  uuid primary key,
    app_id        uuid not null references app (app_id) on delete cascade,
    type          text not null constraint formation_type_format check (type ~ '^[a-z][a-z0-9_-]{0,29}$'),
    quantity      integer not null constraint formation_quantity_range check (quantity between 0 and 100),
    size          text not null default 'basic',
    command       text not null,
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now(),
    constraint formation_app_type_key unique (app_id, type)
);

-- Dynos as last reported by the supervisor; Docker's labels stay the source of truth.
create table dyno (
    dyno_id       uuid primary key,
    app_id        uuid not null references app (app_id) on delete cascade,
    name          text not null,
    type          text not null,
    release_id    uuid references release (release_id) on delete cascade,
    command       text not null default '',
    state         text not null constraint dyno_state check (state in ('starting', 'up', 'crashed', 'down', 'idle')),
    container_id  text,
    exit_code     integer,
    started_at    timestamptz,
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now(),
    constraint dyno_app_name_key unique (app_id, name)
);

create table domain (
    domain_id   uuid primary key,
    app_id      uuid not null references app (app_id) on delete cascade,
    hostname    text not null constraint domain_hostname_key unique,
    kind        text not null default 'custom' constraint domain_kind check (kind in ('heroku', 'custom')),
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now()
);

-- API tokens: only a SHA-256 of the token is kept; the token itself is shown once.
create table api_token (
    token_id      uuid primary key,
    name          text not null,
    token_sha256  text not null constraint api_token_hash_key unique,
    created_at    timestamptz not null default now(),
    last_used_at  timestamptz
);
