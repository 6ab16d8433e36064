-- Add-ons (Postgres and Redis containers paas runs for apps) and their attachments.
-- The store is the record of add-ons: a container without a row is never removed on a
-- guess. An attachment owns the config var `<name>_URL` of its app; attaching and
-- detaching change it as releases (paas-store's ledger).

create table addon (
    addon_id   uuid primary key,
    -- Unique across the installation, and the host name of its URL.
    name       text not null constraint addon_name_key unique
               constraint addon_name_format check (name ~ '^[a-z][a-z0-9-]{1,61}[a-z0-9]$'),
    service    text not null constraint addon_service check (service in ('postgresql', 'redis')),
    plan       text not null,
    -- The owning (billing) app; null once it is destroyed (its add-ons are then
    -- `deprovisioning` until their containers and volumes are gone).
    app_id     uuid references app (app_id) on delete set null,
    db_user    text not null,
    password   text not null,
    db_name    text not null,
    state      text not null default 'provisioning'
               constraint addon_state check (state in ('provisioning', 'provisioned', 'deprovisioning')),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table addon_attachment (
    attachment_id uuid primary key,
    addon_id      uuid not null references addon (addon_id) on delete cascade,
    app_id        uuid not null references app (app_id) on delete cascade,
    -- `DATABASE`: the app's config var `DATABASE_URL` is owned by this attachment.
    name          text not null,
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now(),
    constraint addon_attachment_name_key unique (app_id, name)
);
create index addon_attachment_addon on addon_attachment (addon_id);

-- Every (key, value) an attachment ever set in an app's config: a rollback to a
-- release that carried one of them drops it (the add-on may be gone or its password
-- rotated), and takes the current attachments' values instead.
create table addon_config_history (
    app_id uuid not null references app (app_id) on delete cascade,
    key    text not null,
    value  text not null,
    primary key (app_id, key, value)
);
