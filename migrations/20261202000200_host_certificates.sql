-- Certificates for each app's default host `<app>.<PAAS_DOMAIN>` when PAAS_DOMAIN is a
-- public name that no operator wildcard covers: ordered from the ACME CA per host, like
-- custom domains (same states). Keyed by hostname, so a changed PAAS_DOMAIN or app name
-- is a new host, ordered anew; the manager deletes the rows of hosts it no longer serves.
create table host_cert (
    hostname        text primary key,
    app_id          uuid not null references app (app_id) on delete cascade,
    status          text not null default 'pending'
                    constraint host_cert_status check (status in ('pending', 'issued', 'failing', 'disabled')),
    reason          text,
    failures        integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    chain_pem       text,
    key_sealed      bytea,
    not_after       timestamptz,
    issued_at       timestamptz,
    updated_at      timestamptz not null default now(),
    constraint host_cert_pair check ((chain_pem is null) = (key_sealed is null))
);
create index host_cert_app on host_cert (app_id);
