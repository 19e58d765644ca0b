use serde_json::json;

use super::*;

#[test]
fn roles_must_be_an_array_of_strings() {
    for bad in [json!("admin"), json!([1]), json!(["a", null]), json!({})] {
        let errors = parse_input(&json!({"registration": {"roles": bad}}))
            .unwrap()
            .read_errors;
        assert_eq!(
            errors.fields["registration.roles"][0].code,
            "[invalid]registration.roles"
        );
    }
    let input =
        parse_input(&json!({"registration": {"applicationId": "x", "roles": ["a", "b"]}})).unwrap();
    assert_eq!(input.roles, Some(vec!["a".to_owned(), "b".to_owned()]));
    assert!(input.read_errors.is_empty());
    let errors = parse_input(&json!({"registration": {"applicationId": 7}}))
        .unwrap()
        .read_errors;
    assert_eq!(
        errors.fields["registration.applicationId"][0].code,
        "[invalid]registration.applicationId"
    );
}
