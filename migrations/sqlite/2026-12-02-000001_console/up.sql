-- People who sign in to the staff console. Matched by verified email on first sign-in, then
-- by (issuer, subject): an email can change hands, a provider's subject cannot.
CREATE TABLE staff_users (
    id TEXT PRIMARY KEY NOT NULL,
    email TEXT NOT NULL UNIQUE,
    issuer TEXT,
    subject TEXT,
    created_at TIMESTAMP NOT NULL,
    last_sign_in_at TIMESTAMP,
    UNIQUE (issuer, subject)
);

-- One role per person per agency.
CREATE TABLE staff_grants (
    user_id TEXT NOT NULL REFERENCES staff_users (id),
    agency_id TEXT NOT NULL REFERENCES agencies (id),
    role TEXT NOT NULL CHECK (role IN ('viewer', 'manager', 'admin')),
    granted_at TIMESTAMP NOT NULL,
    granted_by TEXT NOT NULL,
    PRIMARY KEY (user_id, agency_id)
);
CREATE INDEX staff_grants_agency ON staff_grants (agency_id, user_id);

-- Server-side sessions: the cookie holds a random id, the table its SHA-256, so a read of the
-- table cannot be replayed as a cookie. Deleting the row signs the person out everywhere.
CREATE TABLE staff_sessions (
    id_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES staff_users (id),
    agency_id TEXT NOT NULL REFERENCES agencies (id),
    csrf_token TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX staff_sessions_user ON staff_sessions (user_id);

-- Sign-ins under way (the OIDC state, nonce and PKCE verifier), single use, minutes long.
-- Keyed by the state's hash; `browser_hash` ties the row to the cookie of the browser that began it.
CREATE TABLE auth_requests (
    state_hash TEXT PRIMARY KEY NOT NULL,
    browser_hash TEXT NOT NULL,
    pending TEXT NOT NULL,
    return_to TEXT,
    expires_at TIMESTAMP NOT NULL
);

-- Break-glass sign-in links from `cx-survey users link`: single use, 15 minutes, hashed.
CREATE TABLE sign_in_links (
    token_hash TEXT PRIMARY KEY NOT NULL,
    email TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);

-- Every change made by a person or a key, per agency, newest read first.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    agency_id TEXT NOT NULL REFERENCES agencies (id),
    at TIMESTAMP NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    object TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_log_agency ON audit_log (agency_id, id);

-- A triage from the console names the person, not a key: api_key_id becomes optional.
CREATE TABLE response_audit_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    response_id TEXT NOT NULL REFERENCES responses (id),
    agency_id TEXT NOT NULL REFERENCES agencies (id),
    api_key_id TEXT REFERENCES api_keys (id),
    from_status TEXT NOT NULL,
    to_status TEXT NOT NULL,
    changed_at TIMESTAMP NOT NULL,
    staff_email TEXT,
    reason TEXT
);
INSERT INTO response_audit_new (id, response_id, agency_id, api_key_id, from_status, to_status, changed_at)
    SELECT id, response_id, agency_id, api_key_id, from_status, to_status, changed_at FROM response_audit;
DROP TABLE response_audit;
ALTER TABLE response_audit_new RENAME TO response_audit;
CREATE INDEX response_audit_response ON response_audit (response_id);

-- The console's responses page reads one (deployment, status) range per part, in
-- (submitted_at, id) order, from this index alone and merges the parts: no sort of the matching
-- rows, whatever the quarter's size (src/admin/response_query.rs).
CREATE INDEX responses_console ON responses (deployment_id, status, submitted_at, id);
