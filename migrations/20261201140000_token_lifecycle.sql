-- Tokens expire and are revoked (issue 14). A revoked token's row is deleted; every paasd
-- process that caches tokens hears of a deletion or an expiry change at once through
-- NOTIFY on channel paas_api_token (payload: the token's SHA-256), whoever made it
-- (`paasd tokens revoke` is a separate process). last_used_at is batched and fires nothing.
alter table api_token add column expires_at timestamptz;

create function api_token_notify() returns trigger language plpgsql as $$
begin
    perform pg_notify('paas_api_token', old.token_sha256);
    return null;
end $$;

create trigger api_token_changed
    after delete or update of expires_at, token_sha256 on api_token
    for each row execute function api_token_notify();

-- '*': forget every cached token.
create function api_token_notify_all() returns trigger language plpgsql as $$
begin
    perform pg_notify('paas_api_token', '*');
    return null;
end $$;

create trigger api_token_truncated
    after truncate on api_token
    for each statement execute function api_token_notify_all();
