-- The cluster node a dyno runs on (PAAS_RUNTIME=swarm); null on a single engine.
alter table dyno add column node text;
