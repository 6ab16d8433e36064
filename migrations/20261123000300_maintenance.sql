-- Maintenance mode (`heroku maintenance:on`): the router answers the app's visitors with
-- a 503 maintenance page instead of forwarding to its dynos, which keep running.
alter table app add column maintenance boolean not null default false;
