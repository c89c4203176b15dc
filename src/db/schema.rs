// The schema both backends share. Migrations in `migrations/{sqlite,postgres}` are its source;
// UUIDs are TEXT and timestamps are UTC without zone on both, so one code path serves both.

diesel::table! {
    agencies (id) {
        id -> Text,
        slug -> Text,
        name -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        agency_id -> Text,
        label -> Nullable<Text>,
        key_hash -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    hisps (id) {
        id -> Text,
        agency_id -> Text,
        slug -> Text,
        name -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    services (id) {
        id -> Text,
        agency_id -> Text,
        hisp_id -> Text,
        slug -> Text,
        name -> Text,
        channels -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    instruments (id, version) {
        id -> Text,
        version -> Integer,
        content_hash -> Text,
        definition -> Text,
        loaded_at -> Timestamp,
    }
}

diesel::table! {
    deployments (id) {
        id -> Text,
        agency_id -> Text,
        service_id -> Text,
        instrument_id -> Text,
        channel -> Text,
        transaction_point -> Text,
        allowed_origins -> Text,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        access -> Text,
        managed_by -> Nullable<Text>,
    }
}

diesel::table! {
    responses (id) {
        id -> Text,
        deployment_id -> Text,
        instrument_id -> Text,
        instrument_version -> Integer,
        submission_id -> Nullable<Text>,
        external_id -> Nullable<Text>,
        submitted_at -> Timestamp,
        locale -> Text,
        channel -> Text,
        source -> Text,
        status -> Text,
        trust -> Nullable<SmallInt>,
        drivers_positive -> Integer,
        drivers_negative -> Integer,
        comment -> Nullable<Text>,
        v1_satisfaction -> Nullable<SmallInt>,
        v1_effectiveness -> Nullable<SmallInt>,
        v1_ease -> Nullable<SmallInt>,
        v1_efficiency -> Nullable<SmallInt>,
        v1_transparency -> Nullable<SmallInt>,
        v1_employee -> Nullable<SmallInt>,
        answers -> Text,
        page_url -> Nullable<Text>,
    }
}

diesel::table! {
    impressions (id) {
        id -> BigInt,
        deployment_id -> Text,
        occurred_at -> Timestamp,
    }
}

diesel::table! {
    response_audit (id) {
        id -> BigInt,
        response_id -> Text,
        agency_id -> Text,
        api_key_id -> Nullable<Text>,
        from_status -> Text,
        to_status -> Text,
        changed_at -> Timestamp,
        staff_email -> Nullable<Text>,
        reason -> Nullable<Text>,
    }
}

diesel::table! {
    service_volumes (service_id, fiscal_year, quarter, channel) {
        service_id -> Text,
        fiscal_year -> Integer,
        quarter -> SmallInt,
        channel -> Text,
        volume_of_customers -> BigInt,
        updated_at -> Timestamp,
        survey_opportunities -> Nullable<BigInt>,
    }
}

diesel::table! {
    staff_users (id) {
        id -> Text,
        email -> Text,
        issuer -> Nullable<Text>,
        subject -> Nullable<Text>,
        created_at -> Timestamp,
        last_sign_in_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    staff_grants (user_id, agency_id) {
        user_id -> Text,
        agency_id -> Text,
        role -> Text,
        granted_at -> Timestamp,
        granted_by -> Text,
    }
}

diesel::table! {
    staff_sessions (id_hash) {
        id_hash -> Text,
        user_id -> Text,
        agency_id -> Text,
        csrf_token -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    auth_requests (state_hash) {
        state_hash -> Text,
        browser_hash -> Text,
        pending -> Text,
        return_to -> Nullable<Text>,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    sign_in_links (token_hash) {
        token_hash -> Text,
        email -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        agency_id -> Text,
        at -> Timestamp,
        actor -> Text,
        action -> Text,
        object -> Text,
        detail -> Text,
    }
}

diesel::joinable!(api_keys -> agencies (agency_id));
diesel::joinable!(hisps -> agencies (agency_id));
diesel::joinable!(services -> hisps (hisp_id));
diesel::joinable!(deployments -> services (service_id));
diesel::table! {
    invitations (id) {
        id -> Text,
        deployment_id -> Text,
        agency_id -> Text,
        transaction_id -> Text,
        transaction_date -> Nullable<Date>,
        locale -> Text,
        email -> Nullable<Text>,
        email_hash -> Text,
        token_nonce -> Text,
        token_hash -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        claimed_by -> Nullable<Text>,
        claimed_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        expires_at -> Nullable<Timestamp>,
        answered_at -> Nullable<Timestamp>,
        response_id -> Nullable<Text>,
    }
}

diesel::table! {
    opt_outs (agency_id, email_hash) {
        agency_id -> Text,
        email_hash -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    rate_windows (bucket, window_start) {
        bucket -> Text,
        window_start -> BigInt,
        hits -> Integer,
    }
}

diesel::joinable!(responses -> deployments (deployment_id));
diesel::joinable!(invitations -> deployments (deployment_id));
diesel::joinable!(staff_grants -> staff_users (user_id));
diesel::joinable!(staff_grants -> agencies (agency_id));
diesel::joinable!(staff_sessions -> staff_users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    agencies,
    api_keys,
    hisps,
    services,
    instruments,
    deployments,
    responses,
    impressions,
    response_audit,
    service_volumes,
    invitations,
    opt_outs,
    rate_windows,
    staff_users,
    staff_grants,
    staff_sessions,
    auth_requests,
    sign_in_links,
    audit_log,
);
