-- Email invitations: a durable outbox. The address is kept only until delivery; the keyed hash
-- (HMAC-SHA256 with CX_SECRET) stays for the opt-out list and the frequency cap. The link's
-- token is a keyed hash (CX_SECRET) of a 128-bit random nonce: only the nonce and the token's
-- SHA-256 are stored, so reading the database alone gives no working link.
CREATE TABLE invitations (
    id TEXT PRIMARY KEY NOT NULL,
    deployment_id TEXT NOT NULL REFERENCES deployments (id),
    agency_id TEXT NOT NULL REFERENCES agencies (id),
    transaction_id TEXT NOT NULL,
    transaction_date DATE,
    locale TEXT NOT NULL,
    email TEXT,
    email_hash TEXT NOT NULL,
    token_nonce TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'answered')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    claimed_by TEXT,
    claimed_until TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP,
    expires_at TIMESTAMP,
    answered_at TIMESTAMP,
    response_id TEXT,
    UNIQUE (deployment_id, transaction_id)
);
CREATE INDEX invitations_due ON invitations (status, next_attempt_at);
CREATE INDEX invitations_recipient ON invitations (email_hash, created_at);
CREATE INDEX invitations_sent ON invitations (deployment_id, sent_at);

CREATE TABLE opt_outs (
    email_hash TEXT PRIMARY KEY NOT NULL,
    created_at TIMESTAMP NOT NULL
);
