-- Automatic HTTPS: ACME accounts, per-domain certificate state (Heroku's ACM) and
-- uploaded certificates (Heroku's SNI endpoints). Private keys and account credentials
-- arrive here sealed (AES-256-GCM) by paasd with a key the operator controls; the
-- database never sees them in the clear.

-- One ACME account per directory URL (Let's Encrypt, a test CA, ...).
create table acme_account (
    directory_url      text primary key,
    credentials_sealed bytea not null,
    created_at         timestamptz not null default now()
);

-- Automated certificate management, per app (`certs:auto:enable` / `:disable`). An
-- app without a row has it enabled: custom domains get certificates by default.
create table app_acm (
    app_id  uuid primary key references app (app_id) on delete cascade,
    enabled boolean not null
);

-- A custom domain's certificate state. Removing the domain removes it (and so stops
-- serving and renewing its certificate).
create table domain_cert (
    domain_id       uuid primary key references domain (domain_id) on delete cascade,
    status          text not null default 'pending'
                    constraint domain_cert_status check (status in ('pending', 'issued', 'failing', 'disabled')),
    -- The CA's own words for the last failure.
    reason          text,
    failures        integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    chain_pem       text,
    key_sealed      bytea,
    not_after       timestamptz,
    issued_at       timestamptz,
    updated_at      timestamptz not null default now(),
    constraint domain_cert_pair check ((chain_pem is null) = (key_sealed is null))
);

-- Certificates users upload (`heroku certs:add`): they win over ACME for the names
-- they cover.
create table sni_endpoint (
    endpoint_id uuid primary key,
    app_id      uuid not null references app (app_id) on delete cascade,
    name        text not null constraint sni_endpoint_name_key unique,
    chain_pem   text not null,
    key_sealed  bytea not null,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now()
);
create index sni_endpoint_app on sni_endpoint (app_id);
