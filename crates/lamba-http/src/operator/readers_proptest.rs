//! Property tests of every operator JSON reader and of the OAuth form
//! reader (issue 19, item 5): arbitrary structure (biased towards the
//! field names the readers look for, wrapped or not in the resource's
//! root object) and arbitrary bytes never panic, and a refusal always
//! names at least one error, which the handlers answer as a 400.

// Tests fail by panicking; these lints guard request paths, not tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::Value;

use crate::connect::form::parse_form;

/// Names the readers know, and a few they do not.
const KEYS: &[&str] = &[
    "application",
    "lambda",
    "user",
    "registration",
    "webhook",
    "workspace",
    "project",
    "role",
    "member",
    "name",
    "type",
    "body",
    "enabled",
    "debug",
    "email",
    "password",
    "roles",
    "url",
    "eventTypes",
    "projectId",
    "environment",
    "description",
    "permissions",
    "userId",
    "applicationId",
    "oauthConfiguration",
    "jwtConfiguration",
    "lambdaConfiguration",
    "failedAuthenticationConfiguration",
    "clientSecret",
    "clientAuthenticationPolicy",
    "authorizedRedirectURLs",
    "logoutURL",
    "enabledGrants",
    "requireRegistration",
    "authorizedResourceURIs",
    "allowedScopes",
    "accessTokenTimeToLiveInSeconds",
    "refreshTokenUsagePolicy",
    "tooManyAttempts",
    "data",
    "firstName",
    "identityProvider",
    "oauth2",
    "client_id",
    "client_secret",
    "buttonText",
    "domains",
    "attributeMappings",
    "applicationConfiguration",
    "reconcileId",
    "isDefault",
    "",
    "\u{0}",
    "é",
    "__proto__",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(KEYS).prop_map(str::to_owned),
        1 => ".{0,12}",
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
        proptest::sample::select(KEYS).prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 96, 10, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(key(), inner, 0..10)
                .prop_map(|map: BTreeMap<String, Value>| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A body as a client might send it: sometimes wrapped in a root name.
fn body() -> impl Strategy<Value = Value> {
    (proptest::option::of(proptest::sample::select(KEYS)), json()).prop_map(|(root, value)| {
        match root {
            Some(root) => serde_json::json!({ root: value }),
            None => value,
        }
    })
}

/// Runs every reader on one body; each either reads it or says why not.
fn read_everything(body: &Value) {
    for refusal in super::read_every_resource(body).into_iter().flatten() {
        assert!(
            !refusal.is_empty(),
            "a reader refused {body} without saying why"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn operator_readers_never_panic(body in body()) {
        read_everything(&body);
    }

    #[test]
    fn the_form_reader_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_form(&bytes);
    }

    #[test]
    fn the_form_reader_reads_what_it_is_given(
        pairs in proptest::collection::btree_map("[a-z_]{1,12}", ".{0,40}", 0..8)
    ) {
        let encoded = serde_urlencoded::to_string(&pairs).unwrap();
        let read = parse_form(encoded.as_bytes()).unwrap();
        prop_assert_eq!(read.len(), pairs.len());
        for (name, value) in &pairs {
            prop_assert_eq!(read.get(name), Some(value));
        }
    }
}
