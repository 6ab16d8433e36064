-- The runtime lines a build ran on, by kind ({"python": "3.14"}): Heroku's Python keeps
-- the last build's version when the source asks for none.
alter table build add column runtimes jsonb not null default '{}'::jsonb;
