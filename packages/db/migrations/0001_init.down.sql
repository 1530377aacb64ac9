DROP TABLE rejected_hits;
DROP TABLE usage_hourly;
DROP TABLE usage_daily;
DROP TABLE hits;
DROP TABLE clients;
