DROP INDEX IF EXISTS responses_console;
CREATE TABLE response_audit_old (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    response_id TEXT NOT NULL REFERENCES responses (id),
    agency_id TEXT NOT NULL REFERENCES agencies (id),
    api_key_id TEXT NOT NULL REFERENCES api_keys (id),
    from_status TEXT NOT NULL,
    to_status TEXT NOT NULL,
    changed_at TIMESTAMP NOT NULL
);
INSERT INTO response_audit_old SELECT id, response_id, agency_id, api_key_id, from_status, to_status, changed_at
    FROM response_audit WHERE api_key_id IS NOT NULL;
DROP TABLE response_audit;
ALTER TABLE response_audit_old RENAME TO response_audit;
CREATE INDEX response_audit_response ON response_audit (response_id);
DROP TABLE audit_log;
DROP TABLE sign_in_links;
DROP TABLE auth_requests;
DROP TABLE staff_sessions;
DROP TABLE staff_grants;
DROP TABLE staff_users;
