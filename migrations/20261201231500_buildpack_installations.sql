-- An app's buildpack list (Heroku's buildpack installations), run in ordinal order at
-- every build. `buildpack` is the canonical name: `heroku/python` for a bundled one, else
-- the git URL or server path as given. Replaced whole under the app's row lock.
create table buildpack_installation (
    app_id    uuid not null references app (app_id) on delete cascade,
    ordinal   integer not null constraint buildpack_installation_ordinal check (ordinal >= 0),
    buildpack text not null,
    primary key (app_id, ordinal)
);
