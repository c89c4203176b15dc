CREATE TABLE agencies (
    id TEXT PRIMARY KEY NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    agency_id TEXT NOT NULL REFERENCES agencies(id),
    label TEXT,
    key_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);

CREATE TABLE hisps (
    id TEXT PRIMARY KEY NOT NULL,
    agency_id TEXT NOT NULL REFERENCES agencies(id),
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (agency_id, slug)
);

CREATE TABLE services (
    id TEXT PRIMARY KEY NOT NULL,
    agency_id TEXT NOT NULL REFERENCES agencies(id),
    hisp_id TEXT NOT NULL REFERENCES hisps(id),
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    channels TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (agency_id, slug)
);

-- Every version of every instrument ever loaded: responses keep pointing at the one they answered.
CREATE TABLE instruments (
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    definition TEXT NOT NULL,
    loaded_at TIMESTAMP NOT NULL,
    PRIMARY KEY (id, version)
);

CREATE TABLE deployments (
    id TEXT PRIMARY KEY NOT NULL,
    agency_id TEXT NOT NULL REFERENCES agencies(id),
    service_id TEXT NOT NULL REFERENCES services(id),
    instrument_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    transaction_point TEXT NOT NULL,
    allowed_origins TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX deployments_agency ON deployments (agency_id);

CREATE TABLE responses (
    id TEXT PRIMARY KEY NOT NULL,
    deployment_id TEXT NOT NULL REFERENCES deployments(id),
    instrument_id TEXT NOT NULL,
    instrument_version INTEGER NOT NULL,
    submission_id TEXT,
    external_id TEXT,
    submitted_at TIMESTAMP NOT NULL,
    locale TEXT NOT NULL,
    channel TEXT NOT NULL,
    source TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('counted', 'spam', 'test', 'deleted')),
    trust SMALLINT,
    drivers_positive INTEGER NOT NULL,
    drivers_negative INTEGER NOT NULL,
    comment TEXT,
    v1_satisfaction SMALLINT,
    v1_effectiveness SMALLINT,
    v1_ease SMALLINT,
    v1_efficiency SMALLINT,
    v1_transparency SMALLINT,
    v1_employee SMALLINT,
    answers TEXT NOT NULL,
    page_url TEXT,
    FOREIGN KEY (instrument_id, instrument_version) REFERENCES instruments (id, version)
);
-- Idempotency: a client's submission_id is stored once per deployment.
CREATE UNIQUE INDEX responses_submission ON responses (submission_id, deployment_id);
CREATE UNIQUE INDEX responses_external ON responses (deployment_id, external_id);
-- The quarterly aggregation reads one deployment's quarter from this index alone (it covers
-- every column the counts need); exports use its (deployment_id, submitted_at) prefix.
CREATE INDEX responses_report ON responses (deployment_id, submitted_at, status, trust, drivers_positive, drivers_negative,
    v1_satisfaction, v1_effectiveness, v1_ease, v1_efficiency, v1_transparency, v1_employee);
-- The report's response files read a quarter in (submitted_at, id) order straight off this index.
CREATE INDEX responses_time ON responses (submitted_at, id);

CREATE TABLE impressions (
    id BIGSERIAL PRIMARY KEY,
    deployment_id TEXT NOT NULL REFERENCES deployments(id),
    occurred_at TIMESTAMP NOT NULL
);
CREATE INDEX impressions_deployment_time ON impressions (deployment_id, occurred_at);

CREATE TABLE response_audit (
    id BIGSERIAL PRIMARY KEY,
    response_id TEXT NOT NULL REFERENCES responses(id),
    agency_id TEXT NOT NULL REFERENCES agencies(id),
    api_key_id TEXT NOT NULL REFERENCES api_keys(id),
    from_status TEXT NOT NULL,
    to_status TEXT NOT NULL,
    changed_at TIMESTAMP NOT NULL
);
CREATE INDEX response_audit_response ON response_audit (response_id);

CREATE TABLE service_volumes (
    service_id TEXT NOT NULL REFERENCES services(id),
    fiscal_year INTEGER NOT NULL,
    quarter SMALLINT NOT NULL CHECK (quarter BETWEEN 1 AND 4),
    channel TEXT NOT NULL,
    volume_of_customers BIGINT NOT NULL CHECK (volume_of_customers >= 0),
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (service_id, fiscal_year, quarter, channel)
);
