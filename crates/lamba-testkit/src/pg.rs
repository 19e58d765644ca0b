use sqlx::Connection;
use sqlx::postgres::PgConnection;

/// The database used to create and drop per-test databases.
fn admin_url() -> String {
    std::env::var("LAMBA_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A PostgreSQL database of its own for one test, dropped with this value.
pub struct PgTestDb {
    name: String,
    url: String,
}

impl PgTestDb {
    pub async fn create(prefix: &str) -> Self {
        let admin = admin_url();
        let id = uuid::Uuid::new_v4().simple().to_string();
        let name = format!("lamba_t_{prefix}_{}", &id[..12]);
        let mut conn = PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {admin} is needed for this test: {e}"));
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .await
            .expect("create the test database");
        let mut url = url_without_db(&admin);
        url.push_str(&name);
        Self { name, url }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Drops the database now, terminating every connection to it: a
    /// database that vanishes under a running server.
    pub async fn drop_database(&self) {
        let mut conn = PgConnection::connect(&admin_url())
            .await
            .expect("connect to PostgreSQL");
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.name
        ))
        .execute(&mut conn)
        .await
        .expect("drop the test database");
    }
}

fn url_without_db(url: &str) -> String {
    let (head, _) = url.rsplit_once('/').expect("a database URL has a path");
    format!("{head}/")
}

impl Drop for PgTestDb {
    fn drop(&mut self) {
        // Drop runs outside async; a thread of its own can block on a small
        // runtime even when the test's runtime is single-threaded.
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime to drop the test database");
            runtime.block_on(async move {
                let mut conn = PgConnection::connect(&admin_url()).await?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut conn)
                    .await
                    .map(|_| ())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("warning: could not drop test database {}", self.name);
        }
    }
}
