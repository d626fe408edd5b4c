-- One database per service (each service owns its schema and migrates it alone).
-- Run by the postgres image on first start only (empty data volume), as POSTGRES_USER,
-- which therefore owns the databases. For per-service roles see deploy/README.md.
CREATE DATABASE quanzi_gateway;
CREATE DATABASE quanzi_onboarding;
CREATE DATABASE quanzi_content;
CREATE DATABASE quanzi_activities;
CREATE DATABASE quanzi_rewards;
CREATE DATABASE quanzi_insights;
CREATE DATABASE quanzi_integrations;
