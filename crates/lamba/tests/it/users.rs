//! The Users and Registrations API over HTTP.
//!
//! The registration cases marked "needs the Applications API" create their
//! application with `POST /api/application`; every other case stands alone.

use lamba_core::identity::passwords::{Password, PasswordHasher};
use lamba_model::{User, UserId};
use lamba_store::DynStore;
use lamba_store_postgres::PostgresStore;
use lamba_store_sqlite::SqliteStore;
use lamba_testkit::{Backend, Database, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{call, field_codes, general_codes, on_both_backends, start};

const PASSWORD: &str = "correct horse battery";

on_both_backends!(
    create_with_random_id_then_retrieve,
    create_with_provided_id,
    create_validation,
    passwords_are_hashed_and_never_returned,
    emails_are_unique_regardless_of_case,
    usernames_are_optional_unique_and_never_emails,
    find_by_email,
    put_replaces,
    patch_merges,
    delete_then_gone,
    unicode_names_and_data_round_trip,
    bad_inputs_get_clear_4xx,
    registration_rules_that_need_no_application,
    // Need the Applications API.
    registrations_life_cycle,
    registration_validation,
    registrations_follow_their_user,
);

async fn create_user(server: &TestServer, email: &str) -> Value {
    let (status, response) = call(
        server,
        Method::POST,
        "/api/user",
        Some(json!({"user": {"email": email, "password": PASSWORD}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{response}");
    response["user"].clone()
}

/// Creates an application with the roles `admin` and `user` (the default).
async fn create_application(server: &TestServer) -> String {
    let (status, response) = call(
        server,
        Method::POST,
        "/api/application",
        Some(json!({"application": {
            "name": "App",
            "roles": [{"name": "admin", "isDefault": false}, {"name": "user", "isDefault": true}],
            "oauthConfiguration": {
                "authorizedRedirectURLs": ["https://app.example.com/callback"],
                "enabledGrants": ["authorization_code", "refresh_token"],
                "clientAuthenticationPolicy": "Required"
            }
        }})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "POST /api/application: {response}");
    response["application"]["id"].as_str().unwrap().to_owned()
}

/// The user as stored, password hash included, read straight from the
/// server's database.
async fn stored_user(server: &TestServer, id: &str) -> User {
    let database = server.database();
    let store: DynStore = match &database {
        Database::Sqlite(_) => {
            std::sync::Arc::new(SqliteStore::connect(&database.url()).await.unwrap())
        }
        Database::Postgres(_) => {
            std::sync::Arc::new(PostgresStore::connect(&database.url()).await.unwrap())
        }
    };
    let user = store
        .lookup_user(id.parse::<UserId>().unwrap())
        .await
        .unwrap()
        .expect("the user is stored");
    store.close().await;
    user
}

async fn verifies(hash: &str, password: &str) -> bool {
    PasswordHasher::new()
        .verify(Password::new(password), hash)
        .await
        .unwrap()
}

/// A response body must never show a password or a hash.
fn assert_no_secrets(body: &Value, password: &str) {
    let text = body.to_string();
    assert!(!text.contains(password), "the password leaked: {text}");
    assert!(!text.contains("$argon2"), "a hash leaked: {text}");
    assert!(!text.contains("\"password"), "a password member: {text}");
}

fn query_escape(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

async fn create_with_random_id_then_retrieve(backend: Backend) {
    let server = start(backend).await;
    let before = now_millis();
    let (status, created) = call(
        &server,
        Method::POST,
        "/api/user",
        Some(json!({"user": {
            "email": "jane@example.com",
            "password": PASSWORD,
            "firstName": "Jane",
            "lastName": "Doe",
            "data": {"plan": "pro", "seats": 3}
        }})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_no_secrets(&created, PASSWORD);
    let user = &created["user"];
    let id = user["id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok());
    assert_eq!(user["email"], "jane@example.com");
    assert_eq!(user["firstName"], "Jane");
    assert_eq!(user["lastName"], "Doe");
    assert_eq!(user["data"], json!({"plan": "pro", "seats": 3}));
    let inserted = user["insertInstant"].as_i64().unwrap();
    assert!(inserted >= before - 1000 && inserted <= now_millis() + 1000);
    assert_eq!(user["lastUpdateInstant"], user["insertInstant"]);
    let mut keys: Vec<&str> = user
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "data",
            "email",
            "firstName",
            "id",
            "insertInstant",
            "lastName",
            "lastUpdateInstant"
        ]
    );

    let (status, fetched) = call(&server, Method::GET, &format!("/api/user/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, created);

    // Optional fields: absent names are absent, data is an empty object.
    let bare = create_user(&server, "bare@example.com").await;
    assert_eq!(bare.get("firstName"), None);
    assert_eq!(bare.get("lastName"), None);
    assert_eq!(bare["data"], json!({}));

    let (status, body) = call(
        &server,
        Method::GET,
        &format!("/api/user/{}", uuid::Uuid::new_v4()),
        None,
    )
    .await;
    assert_eq!(
        (status, body),
        (StatusCode::NOT_FOUND, Value::Null),
        "unknown id: 404, empty"
    );
}

async fn create_with_provided_id(backend: Backend) {
    let server = start(backend).await;
    let id = uuid::Uuid::new_v4().to_string();
    let (status, created) = call(
        &server,
        Method::POST,
        &format!("/api/user/{id}"),
        Some(json!({"user": {"email": "given@example.com", "password": PASSWORD}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(created["user"]["id"], id.as_str());

    let (status, again) = call(
        &server,
        Method::POST,
        &format!("/api/user/{id}"),
        Some(json!({"user": {"email": "other@example.com", "password": PASSWORD}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&again, "userId"), ["[duplicate]userId"]);

    // Every problem at once: the id and the email are both taken.
    let (status, both) = call(
        &server,
        Method::POST,
        &format!("/api/user/{id}"),
        Some(json!({"user": {"email": "GIVEN@example.com", "password": PASSWORD}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&both, "userId"), ["[duplicate]userId"]);
    assert_eq!(field_codes(&both, "user.email"), ["[duplicate]user.email"]);

    for bad in [
        "not-a-uuid",
        "123",
        &id.replace('-', ""),
        &format!("{{{id}}}"),
    ] {
        let (status, body) = call(
            &server,
            Method::POST,
            &format!("/api/user/{bad}"),
            Some(json!({"user": {"email": "x@example.com", "password": PASSWORD}})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(field_codes(&body, "userId"), ["[invalid]userId"], "{bad}");
    }
    let (status, _) = call(&server, Method::GET, "/api/user?email=x@example.com", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing invalid was stored");
}

/// `POST /api/user` with `{"user": user}`.
async fn post_user(server: &TestServer, user: Value) -> (StatusCode, Value) {
    call(
        server,
        Method::POST,
        "/api/user",
        Some(json!({"user": user})),
    )
    .await
}

async fn usernames_are_optional_unique_and_never_emails(backend: Backend) {
    let server = start(backend).await;
    let post = |user: Value| post_user(&server, user);
    let (status, zoe) =
        post(json!({"email": "zoe@example.com", "username": " Zoe.Ng ", "password": PASSWORD}))
            .await;
    assert_eq!(status, StatusCode::OK, "{zoe}");
    assert_eq!(zoe["user"]["username"], "Zoe.Ng", "trimmed, case kept");
    let id = zoe["user"]["id"].as_str().unwrap().to_owned();
    let (status, none) = post(json!({"email": "max@example.com", "password": PASSWORD})).await;
    assert_eq!(status, StatusCode::OK, "{none}");
    assert!(none["user"].get("username").is_none(), "{none}");

    let (status, body) =
        post(json!({"email": "twin@example.com", "username": "zoe.NG", "password": PASSWORD}))
            .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        field_codes(&body, "user.username"),
        ["[duplicate]user.username"]
    );
    for bad in ["zoe@example.com", "zo e", "x".repeat(192).as_str()] {
        let (status, body) =
            post(json!({"email": "bad@example.com", "username": bad, "password": PASSWORD})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(
            field_codes(&body, "user.username"),
            ["[invalid]user.username"],
            "{bad}"
        );
    }
    let (status, body) =
        post(json!({"email": "bad@example.com", "username": 7, "password": PASSWORD})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(!field_codes(&body, "user.username").is_empty(), "{body}");
    assert_eq!(
        call(
            &server,
            Method::GET,
            "/api/user?email=bad@example.com",
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND,
        "nothing was written"
    );

    // PUT keeps it only if it is sent; PATCH changes it; the old one is free.
    let (status, put) = call(
        &server,
        Method::PUT,
        &format!("/api/user/{id}"),
        Some(json!({"user": {"email": "zoe@example.com", "username": "zoe2"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{put}");
    assert_eq!(put["user"]["username"], "zoe2");
    let (status, patched) = call(
        &server,
        Method::PATCH,
        &format!("/api/user/{id}"),
        Some(json!({"user": {"firstName": "Zoe"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["user"]["username"], "zoe2", "a merge keeps it");
    let (status, twin) =
        post(json!({"email": "twin@example.com", "username": "Zoe.Ng", "password": PASSWORD}))
            .await;
    assert_eq!(status, StatusCode::OK, "{twin}");
}

async fn create_validation(backend: Backend) {
    let server = start(backend).await;
    let post = |user: Value| post_user(&server, user);

    let (status, body) = post(json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&body, "user.email"), ["[blank]user.email"]);
    assert_eq!(
        field_codes(&body, "user.password"),
        ["[blank]user.password"]
    );
    assert!(
        body["fieldErrors"]["user.email"][0]["message"]
            .as_str()
            .unwrap()
            .contains("user.email")
    );
    let (status, body) = call(&server, Method::POST, "/api/user", Some(json!({}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&body, "user.email"), ["[blank]user.email"]);

    let (_, body) = post(json!({"email": "   ", "password": ""})).await;
    assert_eq!(field_codes(&body, "user.email"), ["[blank]user.email"]);
    assert_eq!(
        field_codes(&body, "user.password"),
        ["[blank]user.password"]
    );

    for bad in [
        "plain",
        "@example.com",
        "jane@",
        "jane@@example.com",
        "jane@exa@mple.com",
        "ja ne@example.com",
        "jane@example..com",
        "jane\u{0}@example.com",
    ] {
        let (status, body) = post(json!({"email": bad, "password": PASSWORD})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad:?}");
        assert_eq!(
            field_codes(&body, "user.email"),
            ["[invalid]user.email"],
            "{bad:?}"
        );
    }
    let longest = format!("{}@example.com", "a".repeat(254 - 12));
    let (status, body) = post(json!({"email": format!("a{longest}"), "password": PASSWORD})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&body, "user.email"), ["[invalid]user.email"]);
    let (status, body) = post(json!({"email": longest, "password": PASSWORD})).await;
    assert_eq!(status, StatusCode::OK, "254 characters are fine: {body}");

    let (status, body) = post(json!({"email": "short@example.com", "password": "1234567"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(&body, "user.password"),
        ["[tooShort]user.password"]
    );
    let (status, body) =
        post(json!({"email": "long@example.com", "password": "x".repeat(257)})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(&body, "user.password"),
        ["[tooLong]user.password"]
    );
    let (status, body) =
        post(json!({"email": "nul@example.com", "password": "abcd\u{0}efgh"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(&body, "user.password"),
        ["[invalid]user.password"]
    );
    let (status, body) =
        post(json!({"email": "edge@example.com", "password": "x".repeat(256)})).await;
    assert_eq!(status, StatusCode::OK, "256 bytes are fine: {body}");
    let (status, body) = post(json!({"email": "eight@example.com", "password": "12345678"})).await;
    assert_eq!(status, StatusCode::OK, "8 characters are fine: {body}");

    let (status, body) = post(json!({
        "email": 5, "password": 12345678, "firstName": ["Jane"], "lastName": {}, "data": "x"
    }))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    for field in ["email", "password", "firstName", "lastName", "data"] {
        let path = format!("user.{field}");
        assert_eq!(
            field_codes(&body, &path),
            [format!("[invalid]{path}")],
            "{body}"
        );
    }
    for not_an_object in [json!([]), json!(1), json!("data"), json!(true)] {
        let (status, body) = post(json!({
            "email": "d@example.com", "password": PASSWORD, "data": not_an_object
        }))
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(field_codes(&body, "user.data"), ["[invalid]user.data"]);
    }

    let (status, body) = call(
        &server,
        Method::POST,
        "/api/user",
        Some(json!({"user": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&body, "user"), ["[invalid]user"]);

    let (status, body) = post(json!({
        "email": "names@example.com", "password": PASSWORD, "firstName": "a\u{0}b", "lastName": "\u{0}"
    }))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(&body, "user.firstName"),
        ["[invalid]user.firstName"]
    );
    assert_eq!(
        field_codes(&body, "user.lastName"),
        ["[invalid]user.lastName"]
    );

    for email in [
        "names@example.com",
        "nul@example.com",
        "short@example.com",
        "d@example.com",
    ] {
        let (status, _) = call(
            &server,
            Method::GET,
            &format!("/api/user?email={}", query_escape(email)),
            None,
        )
        .await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{email}: nothing invalid was stored"
        );
    }
}

async fn passwords_are_hashed_and_never_returned(backend: Backend) {
    let server = start(backend).await;
    let (status, created) = call(
        &server,
        Method::POST,
        "/api/user",
        Some(json!({"user": {"email": "secret@example.com", "password": PASSWORD}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_no_secrets(&created, PASSWORD);
    let id = created["user"]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/user/{id}");

    let stored = stored_user(&server, &id).await;
    let first_hash = stored.password_hash.clone().unwrap();
    assert!(
        first_hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "argon2id with OWASP's parameters: {first_hash}"
    );
    assert!(verifies(&first_hash, PASSWORD).await);
    assert!(!verifies(&first_hash, "wrong password").await);

    // Every way of reading or writing the user answers without secrets.
    let (_, fetched) = call(&server, Method::GET, &path, None).await;
    assert_no_secrets(&fetched, PASSWORD);
    let (_, found) = call(
        &server,
        Method::GET,
        "/api/user?email=secret@example.com",
        None,
    )
    .await;
    assert_no_secrets(&found, PASSWORD);

    // PUT without a password keeps the hash.
    let (status, replaced) = call(
        &server,
        Method::PUT,
        &path,
        Some(json!({"user": {"email": "secret@example.com", "firstName": "Kept"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_no_secrets(&replaced, PASSWORD);
    assert_eq!(
        stored_user(&server, &id).await.password_hash.as_deref(),
        Some(first_hash.as_str())
    );

    // PUT with a password hashes it anew.
    let second = "second password";
    let (status, replaced) = call(
        &server,
        Method::PUT,
        &path,
        Some(json!({"user": {"email": "secret@example.com", "password": second}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_no_secrets(&replaced, second);
    let second_hash = stored_user(&server, &id).await.password_hash.unwrap();
    assert_ne!(second_hash, first_hash);
    assert!(verifies(&second_hash, second).await);
    assert!(!verifies(&second_hash, PASSWORD).await);

    // PATCH without a password (or with a null one) keeps it.
    for patch in [
        json!({"user": {"lastName": "Patched"}}),
        json!({"user": {"password": null}}),
    ] {
        let (status, patched) = call(&server, Method::PATCH, &path, Some(patch)).await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert_no_secrets(&patched, second);
        assert_eq!(
            stored_user(&server, &id).await.password_hash.as_deref(),
            Some(second_hash.as_str())
        );
    }
    // PATCH with a password hashes it.
    let third = "third password";
    let (status, patched) = call(
        &server,
        Method::PATCH,
        &path,
        Some(json!({"user": {"password": third}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_no_secrets(&patched, third);
    assert_eq!(patched["user"]["lastName"], "Patched");
    let third_hash = stored_user(&server, &id).await.password_hash.unwrap();
    assert!(verifies(&third_hash, third).await);
    assert!(third_hash.starts_with("$argon2id$"));

    // A password that breaks the rules is refused on PUT and PATCH alike.
    let (status, body) = call(
        &server,
        Method::PATCH,
        &path,
        Some(json!({"user": {"password": "short"}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(&body, "user.password"),
        ["[tooShort]user.password"]
    );
    let (status, body) = call(
        &server,
        Method::PUT,
        &path,
        Some(json!({"user": {"email": "secret@example.com", "password": ""}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(&body, "user.password"),
        ["[blank]user.password"]
    );
    assert_eq!(
        stored_user(&server, &id).await.password_hash.as_deref(),
        Some(third_hash.as_str()),
        "refused changes changed nothing"
    );

    // Error bodies do not echo the password either.
    let (_, body) = call(
        &server,
        Method::POST,
        "/api/user",
        Some(json!({"user": {"email": "bad email", "password": "leaky-password"}})),
    )
    .await;
    assert_no_secrets(&body, "leaky-password");
}

async fn emails_are_unique_regardless_of_case(backend: Backend) {
    let server = start(backend).await;
    let jane = create_user(&server, "Jane.Doe@Example.com").await;
    assert_eq!(jane["email"], "Jane.Doe@Example.com", "kept as given");

    for twin in [
        "jane.doe@example.com",
        "JANE.DOE@EXAMPLE.COM",
        "  jane.doe@example.COM ",
    ] {
        let (status, body) = call(
            &server,
            Method::POST,
            "/api/user",
            Some(json!({"user": {"email": twin, "password": PASSWORD}})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{twin:?}");
        assert_eq!(
            field_codes(&body, "user.email"),
            ["[duplicate]user.email"],
            "{twin:?}"
        );
    }

    // Surrounding space is not part of the address.
    let spaced = create_user(&server, "  spaced@example.com\t").await;
    assert_eq!(spaced["email"], "spaced@example.com");

    // Changing the email checks it again; one's own email in another case is fine.
    let other = create_user(&server, "other@example.com").await;
    let other_path = format!("/api/user/{}", other["id"].as_str().unwrap());
    let (status, body) = call(
        &server,
        Method::PUT,
        &other_path,
        Some(json!({"user": {"email": "JANE.doe@example.com"}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&body, "user.email"), ["[duplicate]user.email"]);
    let (status, body) = call(
        &server,
        Method::PATCH,
        &other_path,
        Some(json!({"user": {"email": "jane.DOE@example.com"}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&body, "user.email"), ["[duplicate]user.email"]);
    let (status, body) = call(
        &server,
        Method::PATCH,
        &other_path,
        Some(json!({"user": {"email": "OTHER@example.com"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["email"], "OTHER@example.com");

    // Once Jane leaves, her address is free again.
    let (status, _) = call(
        &server,
        Method::DELETE,
        &format!("/api/user/{}", jane["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = call(
        &server,
        Method::PATCH,
        &other_path,
        Some(json!({"user": {"email": "jane.doe@example.com"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Concurrent creations with one email: exactly one wins, the others are
    // told why (the database decides, not a check that races).
    let attempts: Vec<_> = (0..4)
        .map(|_| {
            let request = server
                .api(Method::POST, "/api/user")
                .json(&json!({"user": {"email": "race@example.com", "password": PASSWORD}}));
            tokio::spawn(async move { crate::json(request.send().await.unwrap()).await })
        })
        .collect();
    let mut results = Vec::new();
    for attempt in attempts {
        results.push(attempt.await.unwrap());
    }
    let winners = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(winners, 1, "{results:?}");
    for (status, body) in results.iter().filter(|(s, _)| *s != StatusCode::OK) {
        assert_eq!(*status, StatusCode::BAD_REQUEST);
        assert_eq!(field_codes(body, "user.email"), ["[duplicate]user.email"]);
    }
}

async fn find_by_email(backend: Backend) {
    let server = start(backend).await;
    let plus = create_user(&server, "Jane+Tag@Example.com").await;

    for query in [
        "jane+tag@example.com",
        "JANE+TAG@EXAMPLE.COM",
        "Jane+Tag@Example.com",
    ] {
        let (status, found) = call(
            &server,
            Method::GET,
            &format!("/api/user?email={}", query_escape(query)),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{query}");
        assert_eq!(found, json!({"user": plus}), "{query}");
    }

    let (status, body) = call(
        &server,
        Method::GET,
        "/api/user?email=nobody@example.com",
        None,
    )
    .await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, Value::Null));
    let (status, body) = call(&server, Method::GET, "/api/user?email=%00", None).await;
    assert_eq!(
        (status, body),
        (StatusCode::NOT_FOUND, Value::Null),
        "U+0000"
    );

    for no_email in [
        "/api/user",
        "/api/user?email=",
        "/api/user?email=%20",
        "/api/user?other=1",
    ] {
        let (status, body) = call(&server, Method::GET, no_email, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{no_email}");
        assert_eq!(field_codes(&body, "email"), ["[blank]email"], "{no_email}");
    }
}

async fn put_replaces(backend: Backend) {
    let server = start(backend).await;
    let (_, created) = call(
        &server,
        Method::POST,
        "/api/user",
        Some(json!({"user": {
            "email": "put@example.com", "password": PASSWORD,
            "firstName": "First", "lastName": "Last", "data": {"a": 1}
        }})),
    )
    .await;
    let created = &created["user"];
    let path = format!("/api/user/{}", created["id"].as_str().unwrap());

    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let (status, replaced) = call(
        &server,
        Method::PUT,
        &path,
        Some(json!({"user": {"email": "new@example.com", "firstName": "New", "data": {"b": [1, 2]}}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    let replaced = &replaced["user"];
    assert_eq!(replaced["id"], created["id"]);
    assert_eq!(replaced["email"], "new@example.com");
    assert_eq!(replaced["firstName"], "New");
    assert_eq!(
        replaced.get("lastName"),
        None,
        "absent: the default, no name"
    );
    assert_eq!(
        replaced["data"],
        json!({"b": [1, 2]}),
        "data is replaced, not merged"
    );
    assert_eq!(replaced["insertInstant"], created["insertInstant"]);
    assert!(replaced["lastUpdateInstant"].as_i64() > created["lastUpdateInstant"].as_i64());
    let (_, fetched) = call(&server, Method::GET, &path, None).await;
    assert_eq!(&fetched["user"], replaced);
    let (status, _) = call(
        &server,
        Method::GET,
        "/api/user?email=put@example.com",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the old email is gone");

    let (status, reset) = call(
        &server,
        Method::PUT,
        &path,
        Some(json!({"user": {"email": "new@example.com"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(reset["user"]["data"], json!({}));
    assert_eq!(reset["user"].get("firstName"), None);

    let (status, body) = call(
        &server,
        Method::PUT,
        &path,
        Some(json!({"user": {"firstName": "x"}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&body, "user.email"), ["[blank]user.email"]);
    assert!(
        field_codes(&body, "user.password").is_empty(),
        "optional on PUT"
    );
    let (status, body) = call(
        &server,
        Method::PUT,
        &path,
        Some(json!({"user": {"email": "nope", "data": []}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&body, "user.data"), ["[invalid]user.data"]);

    let (status, body) = call(
        &server,
        Method::PUT,
        &format!("/api/user/{}", uuid::Uuid::new_v4()),
        Some(json!({"user": {"email": "ghost@example.com"}})),
    )
    .await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, Value::Null));
    let (status, body) = call(
        &server,
        Method::PUT,
        "/api/user/nope",
        Some(json!({"user": {"email": "ghost@example.com"}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&body, "userId"), ["[invalid]userId"]);
}

async fn patch_merges(backend: Backend) {
    let server = start(backend).await;
    let (_, created) = call(
        &server,
        Method::POST,
        "/api/user",
        Some(json!({"user": {
            "email": "patch@example.com", "password": PASSWORD,
            "firstName": "First", "lastName": "Last",
            "data": {"keep": 1, "drop": 2, "nested": {"a": 1, "b": 2}}
        }})),
    )
    .await;
    let path = format!("/api/user/{}", created["user"]["id"].as_str().unwrap());

    let (status, patched) = call(
        &server,
        Method::PATCH,
        &path,
        Some(json!({"user": {"firstName": "Patched"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    let user = &patched["user"];
    assert_eq!(user["firstName"], "Patched");
    assert_eq!(user["lastName"], "Last", "untouched fields stay");
    assert_eq!(user["email"], "patch@example.com");
    assert_eq!(user["data"], created["user"]["data"]);

    // RFC 7396: objects merge member by member, null removes.
    let (status, patched) = call(
        &server,
        Method::PATCH,
        &path,
        Some(json!({"user": {"lastName": null, "data": {"drop": null, "nested": {"b": 3}, "new": true}}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["user"].get("lastName"), None);
    assert_eq!(
        patched["user"]["data"],
        json!({"keep": 1, "nested": {"a": 1, "b": 3}, "new": true})
    );

    let (status, body) = call(
        &server,
        Method::PATCH,
        &path,
        Some(json!({"user": {"email": null}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&body, "user.email"), ["[blank]user.email"]);
    let (status, body) = call(
        &server,
        Method::PATCH,
        &path,
        Some(json!({"user": {"email": "not an email", "data": 5, "firstName": 1}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&body, "user.data"), ["[invalid]user.data"]);
    assert_eq!(
        field_codes(&body, "user.firstName"),
        ["[invalid]user.firstName"]
    );

    let (_, fetched) = call(&server, Method::GET, &path, None).await;
    assert_eq!(fetched, patched, "failed patches changed nothing");

    // An empty patch changes nothing but the update time.
    let (status, same) = call(&server, Method::PATCH, &path, Some(json!({}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(same["user"]["data"], patched["user"]["data"]);

    let (status, body) = call(
        &server,
        Method::PATCH,
        &format!("/api/user/{}", uuid::Uuid::new_v4()),
        Some(json!({"user": {}})),
    )
    .await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, Value::Null));
}

async fn delete_then_gone(backend: Backend) {
    let server = start(backend).await;
    let user = create_user(&server, "gone@example.com").await;
    let path = format!("/api/user/{}", user["id"].as_str().unwrap());
    let response = server.api(Method::DELETE, &path).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.text().await.unwrap(),
        "",
        "delete answers an empty body"
    );
    let (status, _) = call(&server, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(
        &server,
        Method::GET,
        "/api/user?email=gone@example.com",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = call(&server, Method::DELETE, &path, None).await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, Value::Null));
    let (status, body) = call(&server, Method::DELETE, "/api/user/123", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&body, "userId"), ["[invalid]userId"]);
    // The email can be used again.
    create_user(&server, "GONE@example.com").await;
}

async fn unicode_names_and_data_round_trip(backend: Backend) {
    let server = start(backend).await;
    let first = "Zoë 名前 — ‘quotes’ \"double\" <b>&amp;</b> 🚀";
    let last = "Ñúñez-Łukasiewicz \\ back\\slash \t tab";
    let data = json!({
        "greeting": "こんにちは 👋 \u{2028}",
        "ключ 🔑": {"nested": [1, -2.5, true, null, "é", {"deep": "ü"}]},
        "nul": "a\u{0}b",
        "empty": {},
        "big": 9_007_199_254_740_991_i64
    });
    let password = "pässwörd 密码 🔑";
    let (status, created) = call(
        &server,
        Method::POST,
        "/api/user",
        Some(json!({"user": {
            "email": "zoë@bücher.example", "password": password,
            "firstName": first, "lastName": last, "data": data
        }})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_no_secrets(&created, password);
    let id = created["user"]["id"].as_str().unwrap();
    let (_, fetched) = call(&server, Method::GET, &format!("/api/user/{id}"), None).await;
    assert_eq!(fetched["user"]["firstName"], first);
    assert_eq!(fetched["user"]["lastName"], last);
    assert_eq!(fetched["user"]["data"], data, "data round-trips exactly");
    assert_eq!(fetched["user"]["email"], "zoë@bücher.example");
    let (status, found) = call(
        &server,
        Method::GET,
        &format!("/api/user?email={}", query_escape("ZOË@BÜCHER.EXAMPLE")),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "Unicode case folds too");
    assert_eq!(found, fetched);
    let hash = stored_user(&server, id).await.password_hash.unwrap();
    assert!(verifies(&hash, password).await);
}

async fn bad_inputs_get_clear_4xx(backend: Backend) {
    let server = start(backend).await;
    let user = create_user(&server, "inputs@example.com").await;
    let path = format!("/api/user/{}", user["id"].as_str().unwrap());

    for (method, target) in [
        (Method::POST, "/api/user"),
        (Method::PUT, path.as_str()),
        (Method::PATCH, path.as_str()),
    ] {
        for body in [
            &b"{\"user\": {"[..],
            b"{user: 1}",
            b"",
            b"  ",
            b"[1]",
            b"\"user\"",
        ] {
            let response = server
                .api(method.clone(), target)
                .header("Content-Type", "application/json")
                .body(body.to_vec())
                .send()
                .await
                .unwrap();
            let (status, value) = crate::json(response).await;
            assert_eq!(
                status,
                StatusCode::BAD_REQUEST,
                "{method} {target} {body:?}"
            );
            assert_eq!(
                general_codes(&value),
                ["[invalidJSON]"],
                "{method} {target}"
            );
        }
    }

    // No key: 401 before anything else, on every user route.
    let client = server.client();
    let registration = format!("/api/user/registration/{}", user["id"].as_str().unwrap());
    for (method, target) in [
        (Method::GET, "/api/user?email=inputs@example.com"),
        (Method::POST, "/api/user"),
        (Method::GET, path.as_str()),
        (Method::PUT, path.as_str()),
        (Method::PATCH, path.as_str()),
        (Method::DELETE, path.as_str()),
        (Method::GET, "/api/user/not-a-uuid"),
        (Method::GET, registration.as_str()),
        (Method::POST, registration.as_str()),
    ] {
        let response = client
            .request(method.clone(), server.url(target))
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {target}"
        );
        assert_eq!(response.text().await.unwrap(), "");
    }
    let (status, fetched) = call(&server, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched["user"], user, "nothing changed");
}

async fn registration_rules_that_need_no_application(backend: Backend) {
    let server = start(backend).await;
    let user = create_user(&server, "reg@example.com").await;
    let user_id = user["id"].as_str().unwrap();
    let base = format!("/api/user/registration/{user_id}");
    let stranger = uuid::Uuid::new_v4();

    let (status, list) = call(&server, Method::GET, &base, None).await;
    assert_eq!(
        (status, list),
        (StatusCode::OK, json!({"registrations": []}))
    );

    let post = |body: Value| {
        let server = &server;
        let base = base.clone();
        async move { call(server, Method::POST, &base, Some(body)).await }
    };
    let (status, body) = post(json!({"registration": {}})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(&body, "registration.applicationId"),
        ["[blank]registration.applicationId"]
    );
    let (_, body) = post(json!({"registration": {"applicationId": "  "}})).await;
    assert_eq!(
        field_codes(&body, "registration.applicationId"),
        ["[blank]registration.applicationId"]
    );
    for bad in [json!("not-a-uuid"), json!(stranger.simple().to_string())] {
        let (status, body) = post(json!({"registration": {"applicationId": bad}})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            field_codes(&body, "registration.applicationId"),
            ["[invalid]registration.applicationId"],
            "{bad}"
        );
    }
    let (status, body) =
        post(json!({"registration": {"applicationId": 12, "roles": "admin"}})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(&body, "registration.applicationId"),
        ["[invalid]registration.applicationId"]
    );
    assert_eq!(
        field_codes(&body, "registration.roles"),
        ["[invalid]registration.roles"]
    );
    for roles in [json!([1]), json!(["a", null]), json!({"a": 1})] {
        let (status, body) =
            post(json!({"registration": {"applicationId": stranger, "roles": roles}})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            field_codes(&body, "registration.roles"),
            ["[invalid]registration.roles"],
            "{roles}"
        );
    }
    let (status, body) = post(json!({"registration": {"applicationId": stranger}})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(&body, "registration.applicationId"),
        ["[notFound]registration.applicationId"]
    );
    let (status, body) = post(json!({"registration": []})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(&body, "registration"),
        ["[invalid]registration"]
    );
    let response = server
        .api(Method::POST, &base)
        .header("Content-Type", "application/json")
        .body("{\"registration\":")
        .send()
        .await
        .unwrap();
    let (status, body) = crate::json(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(general_codes(&body), ["[invalidJSON]"]);

    // An unknown user: 404, empty, whatever the body.
    let ghost = format!("/api/user/registration/{}", uuid::Uuid::new_v4());
    let (status, body) = call(&server, Method::GET, &ghost, None).await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, Value::Null));
    let (status, body) = call(
        &server,
        Method::POST,
        &ghost,
        Some(json!({"registration": {"applicationId": stranger}})),
    )
    .await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, Value::Null));

    // No such registration: 404 on every verb.
    let one = format!("{base}/{stranger}");
    for method in [Method::GET, Method::DELETE] {
        let (status, body) = call(&server, method.clone(), &one, None).await;
        assert_eq!(
            (status, body),
            (StatusCode::NOT_FOUND, Value::Null),
            "{method}"
        );
    }
    for method in [Method::PUT, Method::PATCH] {
        let (status, body) = call(
            &server,
            method.clone(),
            &one,
            Some(json!({"registration": {}})),
        )
        .await;
        assert_eq!(
            (status, body),
            (StatusCode::NOT_FOUND, Value::Null),
            "{method}"
        );
    }

    // Ids in the path must be UUIDs; both are reported.
    let (status, body) = call(&server, Method::GET, "/api/user/registration/nope", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&body, "userId"), ["[invalid]userId"]);
    let (status, body) = call(&server, Method::GET, &format!("{base}/nope"), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(&body, "applicationId"),
        ["[invalid]applicationId"]
    );
    assert!(field_codes(&body, "userId").is_empty());
    let (status, body) = call(&server, Method::DELETE, "/api/user/registration/a/b", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&body, "userId"), ["[invalid]userId"]);
    assert_eq!(
        field_codes(&body, "applicationId"),
        ["[invalid]applicationId"]
    );

    // `registration` alone is no user id.
    let (status, body) = call(&server, Method::GET, "/api/user/registration", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&body, "userId"), ["[invalid]userId"]);

    // The registration routes do not shadow the users' own.
    let (status, fetched) = call(&server, Method::GET, &format!("/api/user/{user_id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched["user"], user);
}

/// Needs the Applications API.
async fn registrations_life_cycle(backend: Backend) {
    let server = start(backend).await;
    let application_id = create_application(&server).await;
    let user = create_user(&server, "life@example.com").await;
    let user_id = user["id"].as_str().unwrap();
    let base = format!("/api/user/registration/{user_id}");
    let one = format!("{base}/{application_id}");

    // Without roles: the application's defaults.
    let before = now_millis();
    let (status, created) = call(
        &server,
        Method::POST,
        &base,
        Some(json!({"registration": {"applicationId": application_id}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let registration = &created["registration"];
    assert_eq!(registration["applicationId"], application_id.as_str());
    assert_eq!(registration["roles"], json!(["user"]));
    let inserted = registration["insertInstant"].as_i64().unwrap();
    assert!(inserted >= before - 1000 && inserted <= now_millis() + 1000);
    assert_eq!(
        registration["lastUpdateInstant"],
        registration["insertInstant"]
    );
    let mut keys: Vec<&str> = registration
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "applicationId",
            "insertInstant",
            "lastUpdateInstant",
            "roles"
        ]
    );

    let (status, fetched) = call(&server, Method::GET, &one, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, created);
    let (status, list) = call(&server, Method::GET, &base, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list, json!({"registrations": [registration]}));

    // PUT replaces the roles: duplicates removed, order kept.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let (status, replaced) = call(
        &server,
        Method::PUT,
        &one,
        Some(json!({"registration": {"roles": ["admin", "user", "admin"]}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(replaced["registration"]["roles"], json!(["admin", "user"]));
    assert_eq!(
        replaced["registration"]["insertInstant"],
        registration["insertInstant"]
    );
    assert!(
        replaced["registration"]["lastUpdateInstant"].as_i64()
            > registration["lastUpdateInstant"].as_i64()
    );
    let (_, fetched) = call(&server, Method::GET, &one, None).await;
    assert_eq!(fetched, replaced);

    // PUT naming the same application is fine; absent roles are the defaults.
    let (status, replaced) = call(
        &server,
        Method::PUT,
        &one,
        Some(json!({"registration": {"applicationId": application_id}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(replaced["registration"]["roles"], json!(["user"]));

    // PATCH replaces the roles array whole (RFC 7396) and keeps it otherwise.
    let (status, patched) = call(
        &server,
        Method::PATCH,
        &one,
        Some(json!({"registration": {"roles": ["admin"]}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["registration"]["roles"], json!(["admin"]));
    let (status, patched) = call(&server, Method::PATCH, &one, Some(json!({}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["registration"]["roles"], json!(["admin"]));
    let (status, patched) = call(
        &server,
        Method::PATCH,
        &one,
        Some(json!({"registration": {"roles": []}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        patched["registration"]["roles"],
        json!([]),
        "no roles at all"
    );

    // Delete: 200 empty, then 404.
    let response = server.api(Method::DELETE, &one).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "");
    let (status, body) = call(&server, Method::GET, &one, None).await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, Value::Null));
    let (status, body) = call(&server, Method::DELETE, &one, None).await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, Value::Null));
    let (_, list) = call(&server, Method::GET, &base, None).await;
    assert_eq!(list, json!({"registrations": []}));

    // Registering again after a delete is a new registration.
    let (status, again) = call(
        &server,
        Method::POST,
        &base,
        Some(
            json!({"registration": {"applicationId": application_id, "roles": ["admin", "admin"]}}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["registration"]["roles"], json!(["admin"]));
}

/// Needs the Applications API.
async fn registration_validation(backend: Backend) {
    let server = start(backend).await;
    let application_id = create_application(&server).await;
    let user = create_user(&server, "valid@example.com").await;
    let base = format!("/api/user/registration/{}", user["id"].as_str().unwrap());
    let one = format!("{base}/{application_id}");

    let (status, body) = call(
        &server,
        Method::POST,
        &base,
        Some(json!({"registration": {"applicationId": application_id, "roles": ["admin", "root", "Admin"]}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(&body, "registration.roles"),
        ["[invalid]registration.roles"]
    );
    let message = body["fieldErrors"]["registration.roles"][0]["message"]
        .as_str()
        .unwrap();
    assert!(
        message.contains("\"root\""),
        "names the unknown role: {message}"
    );
    assert!(
        message.contains("\"Admin\""),
        "roles are case-sensitive: {message}"
    );
    let (_, list) = call(&server, Method::GET, &base, None).await;
    assert_eq!(
        list,
        json!({"registrations": []}),
        "nothing invalid was stored"
    );

    let (status, _) = call(
        &server,
        Method::POST,
        &base,
        Some(json!({"registration": {"applicationId": application_id, "roles": []}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "an empty list is no roles");
    let (_, fetched) = call(&server, Method::GET, &one, None).await;
    assert_eq!(fetched["registration"]["roles"], json!([]));

    let (status, body) = call(
        &server,
        Method::POST,
        &base,
        Some(json!({"registration": {"applicationId": application_id.to_uppercase(), "roles": ["user"]}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(&body, "registration.applicationId"),
        ["[duplicate]registration.applicationId"],
        "the same UUID in capitals is the same application"
    );

    for (method, patch) in [
        (
            Method::PUT,
            json!({"registration": {"roles": ["superuser"]}}),
        ),
        (
            Method::PATCH,
            json!({"registration": {"roles": ["superuser"]}}),
        ),
        (Method::PATCH, json!({"registration": {"roles": "admin"}})),
    ] {
        let (status, body) = call(&server, method.clone(), &one, Some(patch)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{method}");
        assert_eq!(
            field_codes(&body, "registration.roles"),
            ["[invalid]registration.roles"],
            "{method}"
        );
    }
    let other = uuid::Uuid::new_v4();
    for method in [Method::PUT, Method::PATCH] {
        let (status, body) = call(
            &server,
            method.clone(),
            &one,
            Some(json!({"registration": {"applicationId": other}})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{method}");
        assert_eq!(
            field_codes(&body, "registration.applicationId"),
            ["[immutable]registration.applicationId"],
            "{method}"
        );
    }
    let (_, fetched) = call(&server, Method::GET, &one, None).await;
    assert_eq!(
        fetched["registration"]["roles"],
        json!([]),
        "failed changes changed nothing"
    );
}

/// Needs the Applications API.
async fn registrations_follow_their_user(backend: Backend) {
    let server = start(backend).await;
    let first = create_application(&server).await;
    let second = create_application(&server).await;
    let user = create_user(&server, "follow@example.com").await;
    let user_id = user["id"].as_str().unwrap().to_owned();
    let base = format!("/api/user/registration/{user_id}");
    for application_id in [&first, &second] {
        let (status, body) = call(
            &server,
            Method::POST,
            &base,
            Some(json!({"registration": {"applicationId": application_id}})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (_, list) = call(&server, Method::GET, &base, None).await;
    let mut ids: Vec<&str> = vec![first.as_str(), second.as_str()];
    ids.sort_unstable();
    let listed: Vec<&str> = list["registrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["applicationId"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ids, "ordered by application id");

    // Another user's registrations are their own.
    let other = create_user(&server, "other@example.com").await;
    let (_, list) = call(
        &server,
        Method::GET,
        &format!("/api/user/registration/{}", other["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(list, json!({"registrations": []}));

    let (status, _) = call(
        &server,
        Method::DELETE,
        &format!("/api/user/{user_id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = call(&server, Method::GET, &base, None).await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, Value::Null));
    let (status, body) = call(&server, Method::GET, &format!("{base}/{first}"), None).await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, Value::Null));

    // A new user with the same email starts with no registrations.
    let again = create_user(&server, "follow@example.com").await;
    let (_, list) = call(
        &server,
        Method::GET,
        &format!("/api/user/registration/{}", again["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(list, json!({"registrations": []}));
}

fn now_millis() -> i64 {
    #[expect(
        clippy::disallowed_methods,
        reason = "comparing with the server's clock"
    )]
    let now = std::time::SystemTime::now();
    now.duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
