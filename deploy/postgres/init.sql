-- CityHub local PostgreSQL: one database per service (database-per-service).
-- Run once by the postgres image on first start (docker-entrypoint-initdb.d),
-- as POSTGRES_USER, who therefore owns every database. Each service creates
-- its own tables with `python -m cityhub_<name> migrate`.
-- The gateway is stateless and has no database.
CREATE DATABASE identity;
CREATE DATABASE catalog;
CREATE DATABASE waittimes;
CREATE DATABASE incidents;
CREATE DATABASE notifications;
