-- One database per service, created once when the PostgreSQL data volume is new.
-- Each service's migrations (`python -m services.<name> migrate`) create its tables.
CREATE DATABASE identity;
CREATE DATABASE points;
CREATE DATABASE campaigns;
CREATE DATABASE webhooks;
