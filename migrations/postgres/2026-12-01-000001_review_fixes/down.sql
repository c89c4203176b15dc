DROP INDEX responses_report;
CREATE INDEX responses_report ON responses (deployment_id, submitted_at, status, trust, drivers_positive, drivers_negative,
    v1_satisfaction, v1_effectiveness, v1_ease, v1_efficiency, v1_transparency, v1_employee);
DROP INDEX invitations_recipient;
CREATE INDEX invitations_recipient ON invitations (email_hash, created_at);
CREATE TABLE opt_outs_global (email_hash TEXT PRIMARY KEY NOT NULL, created_at TIMESTAMP NOT NULL);
INSERT INTO opt_outs_global SELECT email_hash, MIN(created_at) FROM opt_outs GROUP BY email_hash;
DROP TABLE opt_outs;
ALTER TABLE opt_outs_global RENAME TO opt_outs;
ALTER TABLE service_volumes DROP COLUMN survey_opportunities;
ALTER TABLE deployments DROP COLUMN managed_by;
ALTER TABLE deployments DROP COLUMN access;
