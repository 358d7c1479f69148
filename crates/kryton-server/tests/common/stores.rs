//! Real object stores on loopback for the backup tests: moto (S3, from PyPI) and Azurite (Azure
//! Blob, from npm), both installed by scripts/tools-install.sh. Each is killed on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{TestEnv, free_port};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tool(relative: &str) -> PathBuf {
    let path = root().join(relative);
    assert!(
        path.exists(),
        "{} is required for this test: run scripts/tools-install.sh",
        path.display()
    );
    path
}

fn wait_for_port(port: u16, what: &str) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(60), "{what} did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// moto's S3 server.
pub struct Moto {
    child: Child,
    pub url: String,
}

impl Moto {
    pub fn start() -> Self {
        let port = free_port();
        let child = Command::new(tool(".venv/bin/moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for_port(port, "moto");
        Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Creates a bucket (moto accepts the unsigned request).
    pub async fn create_bucket(&self, bucket: &str) {
        let created = reqwest::Client::new()
            .put(format!("{}/{bucket}", self.url))
            .send()
            .await
            .unwrap();
        assert!(
            created.status().is_success(),
            "creating the bucket: {}",
            created.status()
        );
    }

    /// The keys under `prefix`, listed by moto itself (not through the client under test).
    pub async fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let listing = reqwest::get(format!("{}/{bucket}?list-type=2&prefix={prefix}", self.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        listing
            .split("<Key>")
            .skip(1)
            .filter_map(|k| k.split("</Key>").next())
            .map(str::to_owned)
            .collect()
    }

    /// The settings `kryton backup` reads for an S3-compatible store, as the operator passes them.
    pub fn configure(&self, env: &mut TestEnv) {
        env.set_env("S3_ENDPOINT", &self.url);
        env.set_env("S3_REGION", "us-east-1");
        env.set_env("AWS_ACCESS_KEY_ID", "testing");
        env.set_env("AWS_SECRET_ACCESS_KEY", "testing-secret");
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The well-known development account of the Azure storage emulators (public, documented by
/// Microsoft; not a secret).
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";
pub const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Azurite's Blob service, with its data in a temporary directory.
pub struct Azurite {
    child: Child,
    _dir: tempfile::TempDir,
    pub url: String,
}

impl Azurite {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = Command::new(tool(".tools/azurite/node_modules/.bin/azurite-blob"))
            .args([
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                &port.to_string(),
                "--location",
                dir.path().to_str().unwrap(),
                "--silent",
                "--skipApiVersionCheck",
                "--disableTelemetry",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for_port(port, "Azurite");
        Azurite {
            child,
            _dir: dir,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    fn connection_string(&self) -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};\
             BlobEndpoint={}/{AZURITE_ACCOUNT};",
            self.url
        )
    }

    /// Runs a few lines of Python with Microsoft's own Blob SDK (azure-storage-blob, in .venv):
    /// an independent client for creating the container and listing what Kryton left there.
    fn sdk(&self, script: &str) -> String {
        let output = Command::new(tool(".venv/bin/python"))
            .arg("-c")
            .arg(format!(
                "from azure.storage.blob import BlobServiceClient\n\
                 service = BlobServiceClient.from_connection_string({:?})\n{script}",
                self.connection_string()
            ))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "azure-storage-blob: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    pub fn create_container(&self, name: &str) {
        self.sdk(&format!("service.create_container({name:?})"));
    }

    /// The blob names under `prefix`, listed by the SDK.
    pub fn blobs(&self, container: &str, prefix: &str) -> Vec<String> {
        self.sdk(&format!(
            "for b in service.get_container_client({container:?}).list_blobs(name_starts_with={prefix:?}):\n    print(b.name)"
        ))
        .lines()
        .map(str::to_owned)
        .collect()
    }

    /// The settings object_store's Azure builder reads to use the emulator.
    pub fn configure(&self, env: &mut TestEnv) {
        env.set_env("AZURE_STORAGE_USE_EMULATOR", "true");
        env.set_env("AZURITE_BLOB_STORAGE_URL", &self.url);
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
