use serde_json::json;

use super::*;

#[test]
fn wrong_json_types_are_invalid_fields() {
    let errors = parse_input(&json!({"user": {
        "email": 1, "password": true, "firstName": [], "lastName": {}, "data": "x"
    }}))
    .unwrap()
    .read_errors;
    for path in [
        "user.email",
        "user.password",
        "user.firstName",
        "user.lastName",
        "user.data",
    ] {
        assert_eq!(
            errors.fields[path][0].code,
            format!("[invalid]{path}"),
            "{errors:?}"
        );
    }
    let errors = parse_input(&json!({"user": []})).unwrap_err();
    assert_eq!(errors.fields["user"][0].code, "[invalid]user");
    assert_eq!(parse_input(&json!({})).unwrap(), UserInput::default());
}
