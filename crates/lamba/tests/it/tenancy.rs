//! Workspaces, projects, role catalogs and members over HTTP
//! (`/api/workspace/...`, CONTRACTS.md 2.2).

use lamba_testkit::{Backend, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{call, field_codes, on_both_backends, start};

on_both_backends!(
    workspace_life_cycle,
    workspace_ids_and_names_are_checked,
    project_defaults_and_partial_environments,
    project_validation,
    project_patch_archives_and_merges_environments,
    role_catalog,
    roles_in_use_cannot_be_deleted,
    member_life_cycle,
    member_validation,
    routes_under_a_foreign_workspace_are_not_found,
);

/// The session contract an environment has unless told otherwise.
fn default_contract() -> Value {
    json!({
        "refreshable": true,
        "accessTokenTimeToLiveInSeconds": 900,
        "refreshTokenTimeToLiveInMinutes": 1440,
        "idleTimeoutInMinutes": 60,
        "absoluteTimeoutInMinutes": 1440
    })
}

pub(crate) async fn create_workspace(server: &TestServer, name: &str) -> String {
    let (status, body) = call(
        server,
        Method::POST,
        "/api/workspace",
        Some(json!({"workspace": {"name": name}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["workspace"]["id"].as_str().unwrap().to_owned()
}

async fn create_project(server: &TestServer, workspace_id: &str, project: Value) -> Value {
    let (status, body) = call(
        server,
        Method::POST,
        &format!("/api/workspace/{workspace_id}/project"),
        Some(json!({ "project": project })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["project"].clone()
}

pub(crate) async fn create_user(server: &TestServer, email: &str) -> String {
    let (status, body) = call(
        server,
        Method::POST,
        "/api/user",
        Some(json!({"user": {"email": email, "password": "correct horse battery"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["user"]["id"].as_str().unwrap().to_owned()
}

/// A workspace with one project; returns the project's base path.
pub(crate) async fn project_path(server: &TestServer) -> String {
    let workspace_id = create_workspace(server, "Acme").await;
    let project = create_project(server, &workspace_id, json!({"name": "Portal"})).await;
    format!(
        "/api/workspace/{workspace_id}/project/{}",
        project["id"].as_str().unwrap()
    )
}

async fn create_role(server: &TestServer, project_path: &str, role: Value) -> Value {
    let (status, body) = call(
        server,
        Method::POST,
        &format!("{project_path}/role"),
        Some(json!({ "role": role })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["role"].clone()
}

async fn workspace_life_cycle(backend: Backend) {
    let server = start(backend).await;
    let (status, created) = call(
        &server,
        Method::POST,
        "/api/workspace",
        Some(json!({"workspace": {"name": "  Acme  "}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let workspace = &created["workspace"];
    let id = workspace["id"].as_str().unwrap();
    assert_eq!(workspace["name"], "Acme", "names are trimmed");
    assert!(workspace["insertInstant"].as_i64().unwrap() > 0);
    assert_eq!(workspace["insertInstant"], workspace["lastUpdateInstant"]);
    let path = format!("/api/workspace/{id}");

    let (status, fetched) = call(&server, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, created);

    let given = uuid::Uuid::new_v4();
    let given_path = format!("/api/workspace/{given}");
    let body = json!({"workspace": {"name": "Beta"}});
    let (status, with_id) = call(&server, Method::POST, &given_path, Some(body.clone())).await;
    assert_eq!(status, StatusCode::OK, "{with_id}");
    assert_eq!(with_id["workspace"]["id"], given.to_string());
    let (status, again) = call(&server, Method::POST, &given_path, Some(body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(&again, "workspaceId"),
        ["[duplicate]workspaceId"]
    );

    let (status, listed) = call(&server, Method::GET, "/api/workspace", None).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = listed["workspaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Acme", "Beta"]);

    let (status, replaced) = call(
        &server,
        Method::PUT,
        &path,
        Some(json!({"workspace": {"name": "Acme Inc"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(replaced["workspace"]["name"], "Acme Inc");
    assert_eq!(
        replaced["workspace"]["insertInstant"],
        workspace["insertInstant"]
    );
    let (status, patched) = call(
        &server,
        Method::PATCH,
        &path,
        Some(json!({"workspace": {"name": "Acme GmbH"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["workspace"]["name"], "Acme GmbH");
    assert_eq!(patched["workspace"]["id"], id);

    // A workspace with projects cannot go; an empty one can.
    let project = create_project(&server, id, json!({"name": "Portal"})).await;
    let (status, refused) = call(&server, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&refused, "workspaceId"), ["[inUse]workspaceId"]);
    let project_path = format!("{path}/project/{}", project["id"].as_str().unwrap());
    let (status, body) = call(&server, Method::DELETE, &project_path, None).await;
    assert_eq!((status, body), (StatusCode::OK, Value::Null));
    let (status, _) = call(&server, Method::GET, &project_path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = call(&server, Method::DELETE, &path, None).await;
    assert_eq!((status, body), (StatusCode::OK, Value::Null));
    let (status, body) = call(&server, Method::GET, &path, None).await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, Value::Null));
    let (status, _) = call(&server, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn workspace_ids_and_names_are_checked(backend: Backend) {
    let server = start(backend).await;
    for body in [
        json!({"workspace": {}}),
        json!({"workspace": {"name": "   "}}),
        json!({}),
    ] {
        let (status, errors) =
            call(&server, Method::POST, "/api/workspace", Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            field_codes(&errors, "workspace.name"),
            ["[blank]workspace.name"]
        );
    }
    let (status, errors) = call(
        &server,
        Method::POST,
        "/api/workspace",
        Some(json!({"workspace": {"name": 7}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(&errors, "workspace.name"),
        ["[invalid]workspace.name"]
    );

    let id = create_workspace(&server, "Acme").await;
    let (status, errors) = call(
        &server,
        Method::PATCH,
        &format!("/api/workspace/{id}"),
        Some(json!({"workspace": {"name": null}})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "removing the name blanks it"
    );
    assert_eq!(
        field_codes(&errors, "workspace.name"),
        ["[blank]workspace.name"]
    );

    let unknown = uuid::Uuid::new_v4();
    for method in [Method::GET, Method::DELETE] {
        let (status, body) =
            call(&server, method, &format!("/api/workspace/{unknown}"), None).await;
        assert_eq!((status, body), (StatusCode::NOT_FOUND, Value::Null));
    }
    for method in [Method::PUT, Method::PATCH] {
        let (status, body) = call(
            &server,
            method,
            &format!("/api/workspace/{unknown}"),
            Some(json!({"workspace": {"name": "X"}})),
        )
        .await;
        assert_eq!((status, body), (StatusCode::NOT_FOUND, Value::Null));
    }
    let (status, body) = call(
        &server,
        Method::GET,
        &format!("/api/workspace/{unknown}/project"),
        None,
    )
    .await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, Value::Null));

    let (status, errors) = call(&server, Method::GET, "/api/workspace/nope", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(&errors, "workspaceId"),
        ["[invalid]workspaceId"]
    );
    let (status, errors) = call(
        &server,
        Method::GET,
        "/api/workspace/nope/project/also-nope",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(&errors, "workspaceId"),
        ["[invalid]workspaceId"]
    );
    assert_eq!(field_codes(&errors, "projectId"), ["[invalid]projectId"]);
    let (status, errors) = call(
        &server,
        Method::GET,
        &format!("/api/workspace/{id}/project/{id}/role/x"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&errors, "roleId"), ["[invalid]roleId"]);
    let (status, errors) = call(
        &server,
        Method::DELETE,
        &format!("/api/workspace/{id}/project/{id}/member/x"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&errors, "userId"), ["[invalid]userId"]);

    let (status, errors) = call(
        &server,
        Method::POST,
        "/api/workspace",
        Some(json!(["not", "an", "object"])),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(errors["generalErrors"][0]["code"], "[invalidJSON]");
}

async fn project_defaults_and_partial_environments(backend: Backend) {
    let server = start(backend).await;
    let workspace_id = create_workspace(&server, "Acme").await;
    let project = create_project(&server, &workspace_id, json!({"name": "Portal"})).await;
    let id = project["id"].as_str().unwrap();
    assert_eq!(project["workspaceId"], workspace_id.as_str());
    assert_eq!(project["name"], "Portal");
    assert_eq!(project["state"], "active");
    assert_eq!(project["visibility"], "private");
    assert_eq!(
        project["environments"],
        json!([
            {"name": "test", "state": "enabled", "allowedRoles": [], "sessionContract": default_contract()},
            {"name": "prod", "state": "enabled", "allowedRoles": [], "sessionContract": default_contract()},
        ])
    );
    assert!(project["insertInstant"].as_i64().unwrap() > 0);
    let path = format!("/api/workspace/{workspace_id}/project/{id}");
    let (status, fetched) = call(&server, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched["project"], project);

    // Only prod, and only part of its contract: the rest are the defaults.
    let given = uuid::Uuid::new_v4();
    let (status, created) = call(
        &server,
        Method::POST,
        &format!("/api/workspace/{workspace_id}/project/{given}"),
        Some(json!({"project": {
            "name": "Admin",
            "visibility": "public",
            "environments": [{
                "name": "prod",
                "state": "disabled",
                "allowedRoles": ["admin", "admin"],
                "sessionContract": {"refreshable": false, "accessTokenTimeToLiveInSeconds": 300}
            }]
        }})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let created = &created["project"];
    assert_eq!(created["id"], given.to_string());
    assert_eq!(created["visibility"], "public");
    let mut prod_contract = default_contract();
    prod_contract["refreshable"] = json!(false);
    prod_contract["accessTokenTimeToLiveInSeconds"] = json!(300);
    assert_eq!(
        created["environments"],
        json!([
            {"name": "test", "state": "enabled", "allowedRoles": [], "sessionContract": default_contract()},
            {"name": "prod", "state": "disabled", "allowedRoles": ["admin"], "sessionContract": prod_contract},
        ])
    );
    let (status, duplicate) = call(
        &server,
        Method::POST,
        &format!("/api/workspace/{workspace_id}/project/{given}"),
        Some(json!({"project": {"name": "Again"}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(&duplicate, "projectId"),
        ["[duplicate]projectId"]
    );

    let (status, listed) = call(
        &server,
        Method::GET,
        &format!("/api/workspace/{workspace_id}/project"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = listed["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Admin", "Portal"]);

    let unknown = uuid::Uuid::new_v4();
    let (status, body) = call(
        &server,
        Method::POST,
        &format!("/api/workspace/{unknown}/project"),
        Some(json!({"project": {"name": "Orphan"}})),
    )
    .await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, Value::Null));
}

async fn project_validation(backend: Backend) {
    let server = start(backend).await;
    let workspace_id = create_workspace(&server, "Acme").await;
    let projects = format!("/api/workspace/{workspace_id}/project");
    let (status, errors) = call(
        &server,
        Method::POST,
        &projects,
        Some(json!({"project": {
            "state": "deleted",
            "visibility": "secret",
            "environments": [
                {"name": "staging"},
                {"name": "test", "state": "paused", "allowedRoles": ["two words"]},
                {"name": "prod", "sessionContract": {
                    "accessTokenTimeToLiveInSeconds": 0,
                    "refreshTokenTimeToLiveInMinutes": 525_601,
                    "idleTimeoutInMinutes": -5,
                    "absoluteTimeoutInMinutes": 10
                }}
            ]
        }})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let contract = "project.environments.sessionContract";
    let mut invalid: Vec<String> = [
        "project.state",
        "project.visibility",
        "project.environments.name",
        "project.environments.state",
        "project.environments.allowedRoles",
    ]
    .map(str::to_owned)
    .to_vec();
    invalid.extend(
        [
            "accessTokenTimeToLiveInSeconds",
            "refreshTokenTimeToLiveInMinutes",
            "idleTimeoutInMinutes",
        ]
        .map(|field| format!("{contract}.{field}")),
    );
    assert_eq!(
        field_codes(&errors, "project.name"),
        ["[blank]project.name"]
    );
    for path in &invalid {
        assert_eq!(
            field_codes(&errors, path),
            [format!("[invalid]{path}")],
            "{path}: {errors}"
        );
    }
    assert!(
        field_codes(&errors, &format!("{contract}.absoluteTimeoutInMinutes")).is_empty(),
        "{errors}"
    );

    // Listing an environment twice, and members of the wrong JSON type.
    let (status, errors) = call(
        &server,
        Method::POST,
        &projects,
        Some(json!({"project": {
            "name": "P",
            "environments": [{"name": "test"}, {"name": "test"}]
        }})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(&errors, "project.environments.name"),
        ["[duplicate]project.environments.name"]
    );
    let (status, errors) = call(
        &server,
        Method::POST,
        &projects,
        Some(json!({"project": {
            "name": "P",
            "environments": [{"name": "test", "sessionContract": {"refreshable": "yes", "idleTimeoutInMinutes": 1.5}}]
        }})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(&errors, &format!("{contract}.refreshable")),
        [format!("[invalid]{contract}.refreshable")]
    );
    assert_eq!(
        field_codes(&errors, &format!("{contract}.idleTimeoutInMinutes")),
        [format!("[invalid]{contract}.idleTimeoutInMinutes")]
    );
    let (status, errors) = call(
        &server,
        Method::POST,
        &projects,
        Some(json!({"project": {"name": "P", "environments": {"name": "test"}}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(&errors, "project.environments"),
        ["[invalid]project.environments"]
    );
    let (_, listed) = call(&server, Method::GET, &projects, None).await;
    assert_eq!(listed, json!({"projects": []}), "nothing was stored");
}

async fn project_patch_archives_and_merges_environments(backend: Backend) {
    let server = start(backend).await;
    let workspace_id = create_workspace(&server, "Acme").await;
    let project = create_project(
        &server,
        &workspace_id,
        json!({"name": "Portal", "visibility": "public"}),
    )
    .await;
    let path = format!(
        "/api/workspace/{workspace_id}/project/{}",
        project["id"].as_str().unwrap()
    );

    let (status, archived) = call(
        &server,
        Method::PATCH,
        &path,
        Some(json!({"project": {"state": "archived"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{archived}");
    let archived = &archived["project"];
    assert_eq!(archived["state"], "archived");
    assert_eq!(archived["name"], "Portal");
    assert_eq!(archived["visibility"], "public");
    assert_eq!(archived["environments"], project["environments"]);
    assert_eq!(archived["insertInstant"], project["insertInstant"]);

    // A patch naming one environment leaves the other as it was.
    let (status, patched) = call(
        &server,
        Method::PATCH,
        &path,
        Some(json!({"project": {"state": "active", "environments": [
            {"name": "prod", "state": "disabled", "sessionContract": {"idleTimeoutInMinutes": 15}}
        ]}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    let environments = &patched["project"]["environments"];
    assert_eq!(patched["project"]["state"], "active");
    assert_eq!(environments[0], project["environments"][0]);
    assert_eq!(environments[1]["state"], "disabled");
    assert_eq!(
        environments[1]["sessionContract"]["idleTimeoutInMinutes"],
        15
    );
    assert_eq!(
        environments[1]["sessionContract"]["absoluteTimeoutInMinutes"],
        1440
    );

    let (status, errors) = call(
        &server,
        Method::PATCH,
        &path,
        Some(json!({"project": {"visibility": "everyone"}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(&errors, "project.visibility"),
        ["[invalid]project.visibility"]
    );

    let (status, replaced) = call(
        &server,
        Method::PUT,
        &path,
        Some(json!({"project": {"name": "Portal 2", "visibility": "private"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(replaced["project"]["name"], "Portal 2");
    assert_eq!(replaced["project"]["visibility"], "private");
    let (status, fetched) = call(&server, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, replaced);
}

async fn role_catalog(backend: Backend) {
    let server = start(backend).await;
    let project = project_path(&server).await;
    let (status, listed) = call(&server, Method::GET, &format!("{project}/role"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        listed,
        json!({"roles": [{
            "name": "viewer",
            "description": "Built-in: read the project.",
            "permissions": ["project:read"],
            "builtIn": true
        }]})
    );

    let role = create_role(
        &server,
        &project,
        json!({"name": "support", "description": "Helps users.", "permissions": ["members:read", "sessions:write", "members:read"]}),
    )
    .await;
    let role_id = role["id"].as_str().unwrap();
    assert_eq!(role["name"], "support");
    assert_eq!(role["description"], "Helps users.");
    assert_eq!(
        role["permissions"],
        json!(["members:read", "sessions:write"])
    );
    let role_path = format!("{project}/role/{role_id}");
    let (status, fetched) = call(&server, Method::GET, &role_path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched["role"], role);
    let given = uuid::Uuid::new_v4();
    let (status, with_id) = call(
        &server,
        Method::POST,
        &format!("{project}/role/{given}"),
        Some(json!({"role": {"name": "admin", "permissions": ["members:write"]}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{with_id}");
    assert_eq!(with_id["role"]["id"], given.to_string());

    let (_, listed) = call(&server, Method::GET, &format!("{project}/role"), None).await;
    let names: Vec<&str> = listed["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["viewer", "admin", "support"]);
    assert!(
        listed["roles"][0].get("id").is_none(),
        "viewer is not stored"
    );

    for (name, code) in [
        ("support", "[duplicate]role.name"),
        ("viewer", "[duplicate]role.name"),
        ("two words", "[invalid]role.name"),
        ("", "[blank]role.name"),
    ] {
        let (status, errors) = call(
            &server,
            Method::POST,
            &format!("{project}/role"),
            Some(json!({"role": {"name": name}})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}");
        assert_eq!(field_codes(&errors, "role.name"), [code], "{name}");
    }

    let (status, patched) = call(
        &server,
        Method::PATCH,
        &role_path,
        Some(json!({"role": {"description": null, "permissions": ["members:read"]}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["role"]["name"], "support");
    assert_eq!(patched["role"]["description"], Value::Null);
    assert_eq!(patched["role"]["permissions"], json!(["members:read"]));
    let (status, replaced) = call(
        &server,
        Method::PUT,
        &role_path,
        Some(json!({"role": {"name": "support", "description": "Again."}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(replaced["role"]["permissions"], json!([]));
    assert_eq!(replaced["role"]["description"], "Again.");

    for method in [Method::PUT, Method::PATCH] {
        let (status, errors) = call(
            &server,
            method.clone(),
            &role_path,
            Some(json!({"role": {"name": "helpdesk"}})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{method}");
        assert_eq!(
            field_codes(&errors, "role.name"),
            ["[immutable]role.name"],
            "{method}"
        );
    }
    let (status, errors) = call(
        &server,
        Method::PATCH,
        &role_path,
        Some(json!({"role": {"permissions": ["has space"]}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(&errors, "role.permissions"),
        ["[invalid]role.permissions"]
    );

    let (status, body) = call(&server, Method::DELETE, &role_path, None).await;
    assert_eq!((status, body), (StatusCode::OK, Value::Null));
    let (status, body) = call(&server, Method::GET, &role_path, None).await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, Value::Null));
    let (status, _) = call(&server, Method::DELETE, &role_path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn roles_in_use_cannot_be_deleted(backend: Backend) {
    let server = start(backend).await;
    let project = project_path(&server).await;
    let held = create_role(&server, &project, json!({"name": "support"})).await;
    let allowed = create_role(&server, &project, json!({"name": "admin"})).await;
    let user_id = create_user(&server, "ada@example.com").await;
    let (status, body) = call(
        &server,
        Method::POST,
        &format!("{project}/member"),
        Some(json!({"member": {"userId": user_id, "roles": ["support"]}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = call(
        &server,
        Method::PATCH,
        &project,
        Some(json!({"project": {"environments": [{"name": "prod", "allowedRoles": ["admin"]}]}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    for role in [&held, &allowed] {
        let role_path = format!("{project}/role/{}", role["id"].as_str().unwrap());
        let (status, errors) = call(&server, Method::DELETE, &role_path, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{}", role["name"]);
        assert_eq!(field_codes(&errors, "roleId"), ["[inUse]roleId"]);
    }

    // Once nothing names them, both go.
    let (status, body) = call(
        &server,
        Method::PATCH,
        &format!("{project}/member/{user_id}"),
        Some(json!({"member": {"roles": ["viewer"]}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = call(
        &server,
        Method::PATCH,
        &project,
        Some(json!({"project": {"environments": [{"name": "prod", "allowedRoles": []}]}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for role in [&held, &allowed] {
        let role_path = format!("{project}/role/{}", role["id"].as_str().unwrap());
        let (status, body) = call(&server, Method::DELETE, &role_path, None).await;
        assert_eq!((status, body), (StatusCode::OK, Value::Null));
    }
}

async fn member_life_cycle(backend: Backend) {
    let server = start(backend).await;
    let project = project_path(&server).await;
    create_role(&server, &project, json!({"name": "support"})).await;
    create_role(&server, &project, json!({"name": "admin"})).await;
    let ada = create_user(&server, "ada@example.com").await;
    let bob = create_user(&server, "bob@example.com").await;
    let members = format!("{project}/member");

    let (status, added) = call(
        &server,
        Method::POST,
        &members,
        Some(json!({"member": {"userId": ada}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{added}");
    let member = &added["member"];
    assert_eq!(member["userId"], ada.as_str());
    assert_eq!(member["roles"], json!(["viewer"]), "viewer by default");
    assert_eq!(member["locked"], false);
    assert!(member["insertInstant"].as_i64().unwrap() > 0);
    let (status, added_bob) = call(
        &server,
        Method::POST,
        &members,
        Some(json!({"member": {"userId": bob, "roles": ["support", "admin", "support"], "locked": true}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{added_bob}");
    assert_eq!(added_bob["member"]["roles"], json!(["support", "admin"]));
    assert_eq!(added_bob["member"]["locked"], true);

    let (status, again) = call(
        &server,
        Method::POST,
        &members,
        Some(json!({"member": {"userId": ada}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(&again, "member.userId"),
        ["[duplicate]member.userId"]
    );

    let ada_path = format!("{members}/{ada}");
    let (status, fetched) = call(&server, Method::GET, &ada_path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, added);
    let (status, listed) = call(&server, Method::GET, &members, None).await;
    assert_eq!(status, StatusCode::OK);
    let mut expected = [ada.clone(), bob.clone()];
    expected.sort();
    let listed_ids: Vec<&str> = listed["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["userId"].as_str().unwrap())
        .collect();
    assert_eq!(listed_ids, expected, "ordered by user id");

    let (status, updated) = call(
        &server,
        Method::PUT,
        &ada_path,
        Some(json!({"member": {"roles": ["admin"]}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["member"]["roles"], json!(["admin"]));
    assert_eq!(updated["member"]["locked"], false);
    assert_eq!(updated["member"]["insertInstant"], member["insertInstant"]);
    let (status, locked) = call(
        &server,
        Method::PATCH,
        &ada_path,
        Some(json!({"member": {"locked": true}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{locked}");
    assert_eq!(locked["member"]["locked"], true);
    assert_eq!(
        locked["member"]["roles"],
        json!(["admin"]),
        "kept by a patch"
    );
    let (status, replaced) = call(
        &server,
        Method::PUT,
        &ada_path,
        Some(json!({"member": {"userId": ada}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(
        replaced["member"]["roles"],
        json!(["viewer"]),
        "PUT replaces"
    );
    assert_eq!(replaced["member"]["locked"], false);

    for method in [Method::PUT, Method::PATCH] {
        let (status, errors) = call(
            &server,
            method.clone(),
            &ada_path,
            Some(json!({"member": {"userId": bob}})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{method}");
        assert_eq!(
            field_codes(&errors, "member.userId"),
            ["[immutable]member.userId"]
        );
    }
    let (status, errors) = call(
        &server,
        Method::PATCH,
        &ada_path,
        Some(json!({"member": {"roles": ["ghost"]}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(&errors, "member.roles"),
        ["[notFound]member.roles"]
    );

    let (status, body) = call(&server, Method::DELETE, &ada_path, None).await;
    assert_eq!((status, body), (StatusCode::OK, Value::Null));
    for method in [Method::GET, Method::DELETE] {
        let (status, body) = call(&server, method, &ada_path, None).await;
        assert_eq!((status, body), (StatusCode::NOT_FOUND, Value::Null));
    }
    let (status, body) = call(
        &server,
        Method::PUT,
        &ada_path,
        Some(json!({"member": {"roles": ["viewer"]}})),
    )
    .await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, Value::Null));
    let (_, listed) = call(&server, Method::GET, &members, None).await;
    assert_eq!(listed["members"].as_array().unwrap().len(), 1);
}

async fn member_validation(backend: Backend) {
    let server = start(backend).await;
    let project = project_path(&server).await;
    let members = format!("{project}/member");
    let ada = create_user(&server, "ada@example.com").await;
    for (member, path, code) in [
        (
            json!({"userId": uuid::Uuid::new_v4()}),
            "member.userId",
            "[notFound]member.userId",
        ),
        (json!({}), "member.userId", "[blank]member.userId"),
        (
            json!({"userId": "not-a-uuid"}),
            "member.userId",
            "[invalid]member.userId",
        ),
        (
            json!({"userId": ada, "roles": ["viewer", "ghost"]}),
            "member.roles",
            "[notFound]member.roles",
        ),
        (
            json!({"userId": ada, "roles": "viewer"}),
            "member.roles",
            "[invalid]member.roles",
        ),
        (
            json!({"userId": ada, "locked": "no"}),
            "member.locked",
            "[invalid]member.locked",
        ),
    ] {
        let (status, errors) = call(
            &server,
            Method::POST,
            &members,
            Some(json!({ "member": member })),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{member}");
        assert_eq!(field_codes(&errors, path), [code], "{member}: {errors}");
    }
    let (_, listed) = call(&server, Method::GET, &members, None).await;
    assert_eq!(listed, json!({"members": []}), "nothing was stored");
}

async fn routes_under_a_foreign_workspace_are_not_found(backend: Backend) {
    let server = start(backend).await;
    let project = project_path(&server).await;
    let role = create_role(&server, &project, json!({"name": "support"})).await;
    let ada = create_user(&server, "ada@example.com").await;
    let (status, body) = call(
        &server,
        Method::POST,
        &format!("{project}/member"),
        Some(json!({"member": {"userId": ada}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The same project id under another (existing) workspace.
    let other = create_workspace(&server, "Other").await;
    let project_id = project.rsplit('/').next().unwrap();
    let foreign = format!("/api/workspace/{other}/project/{project_id}");
    let role_path = format!("{foreign}/role/{}", role["id"].as_str().unwrap());
    let member_path = format!("{foreign}/member/{ada}");
    for (method, path, body) in [
        (Method::GET, foreign.clone(), None),
        (
            Method::PUT,
            foreign.clone(),
            Some(json!({"project": {"name": "Stolen"}})),
        ),
        (
            Method::PATCH,
            foreign.clone(),
            Some(json!({"project": {"name": "Stolen"}})),
        ),
        (Method::DELETE, foreign.clone(), None),
        (Method::GET, format!("{foreign}/role"), None),
        (
            Method::POST,
            format!("{foreign}/role"),
            Some(json!({"role": {"name": "x"}})),
        ),
        (Method::GET, role_path.clone(), None),
        (Method::DELETE, role_path.clone(), None),
        (Method::GET, format!("{foreign}/member"), None),
        (
            Method::POST,
            format!("{foreign}/member"),
            Some(json!({"member": {"userId": ada}})),
        ),
        (Method::GET, member_path.clone(), None),
        (
            Method::PATCH,
            member_path.clone(),
            Some(json!({"member": {"locked": true}})),
        ),
        (Method::DELETE, member_path.clone(), None),
    ] {
        let (status, response) = call(&server, method.clone(), &path, body).await;
        assert_eq!(
            (status, response),
            (StatusCode::NOT_FOUND, Value::Null),
            "{method} {path}"
        );
    }
    // Nothing changed under the real workspace.
    let (status, fetched) = call(&server, Method::GET, &project, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched["project"]["name"], "Portal");
    let (_, members) = call(&server, Method::GET, &format!("{project}/member"), None).await;
    assert_eq!(members["members"][0]["locked"], false);
}
