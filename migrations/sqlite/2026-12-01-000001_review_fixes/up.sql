-- Who may answer a deployment: anyone (`open`) or only holders of an invitation link.
ALTER TABLE deployments ADD COLUMN access TEXT NOT NULL DEFAULT 'open' CHECK (access IN ('open', 'invitation'));
-- The registry file that declares a deployment (the file is its source of truth), or NULL.
ALTER TABLE deployments ADD COLUMN managed_by TEXT;
-- Survey opportunities an agency counted itself, for channels without impressions (paper, phone).
ALTER TABLE service_volumes ADD COLUMN survey_opportunities BIGINT CHECK (survey_opportunities IS NULL OR survey_opportunities >= 0);
-- Opt-outs belong to the agency whose survey the person left. An opt-out recorded before this
-- (when the page named no agency) stays in force for every agency that had invited the address.
CREATE TABLE opt_outs_scoped (
    agency_id TEXT NOT NULL REFERENCES agencies (id),
    email_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (agency_id, email_hash)
) WITHOUT ROWID;
INSERT INTO opt_outs_scoped (agency_id, email_hash, created_at)
    SELECT DISTINCT i.agency_id, o.email_hash, o.created_at
    FROM opt_outs o JOIN invitations i ON i.email_hash = o.email_hash;
DROP TABLE opt_outs;
ALTER TABLE opt_outs_scoped RENAME TO opt_outs;
-- The frequency cap looks at one agency's invitations of an address.
DROP INDEX invitations_recipient;
CREATE INDEX invitations_recipient ON invitations (agency_id, email_hash, created_at);
-- Responses are counted per instrument version (each is read with the definition it answered),
-- so the report's covering index carries the version too.
DROP INDEX responses_report;
CREATE INDEX responses_report ON responses (deployment_id, submitted_at, status, trust, drivers_positive, drivers_negative,
    v1_satisfaction, v1_effectiveness, v1_ease, v1_efficiency, v1_transparency, v1_employee, instrument_version);
