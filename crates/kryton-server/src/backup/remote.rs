//! Archives in object storage: `s3://`, `gs://`, `az://` and `file://` targets of `kryton backup
//! --out` and sources of `kryton restore`, through Apache Arrow's `object_store` (request signing,
//! the providers' credential chains, multipart uploads and retries are the crate's).
//!
//! Credentials are whatever the provider's builder finds in the environment (`from_env`): for S3
//! the `AWS_*` variables, web identity (IRSA) and container credentials, then the instance metadata
//! service; for GCS `GOOGLE_*` (service account file, or the metadata server: workload identity);
//! for Azure `AZURE_*` (account key, SAS, client secret, workload or managed identity). Kryton's
//! own `S3_ENDPOINT` and `S3_REGION` are honoured as before. Nothing here logs a secret.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::progress::{Progress, Unit};

/// Size of each uploaded part (S3 wants at least 5 MiB for all parts but the last).
pub const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts in flight at once: memory stays near `PART_SIZE * (UPLOAD_CONCURRENCY + 1)` whatever the
/// archive's size.
pub const UPLOAD_CONCURRENCY: usize = 2;

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("{0}")]
    Config(String),
    #[error("{url}: {source}")]
    Store {
        url: String,
        #[source]
        source: object_store::Error,
    },
    #[error("{path}: {source}")]
    Local {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The kinds of URL an archive can be sent to or read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    S3,
    Gcs,
    Azure,
    File,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::S3 => "s3",
            Scheme::Gcs => "gs",
            Scheme::Azure => "az",
            Scheme::File => "file",
        }
    }
}

/// A parsed `scheme://bucket/key` (or `file:///dir/key`), before any connection is made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub scheme: Scheme,
    /// Bucket or container; for `file://`, the directory that holds the archives.
    pub root: String,
    /// The object's key under `root`: a prefix when empty or ending in `/`.
    pub key: String,
}

impl Location {
    /// `None` when `text` is not a URL at all (a local path); an error for a URL this build cannot
    /// use.
    pub fn parse(text: &str) -> Option<Result<Location, RemoteError>> {
        let (scheme, rest) = text.split_once("://")?;
        if scheme.is_empty() || !scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c)) {
            return None;
        }
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "s3" | "s3a" => Scheme::S3,
            "gs" => Scheme::Gcs,
            "az" | "azure" => Scheme::Azure,
            "file" => Scheme::File,
            other => {
                return Some(Err(RemoteError::Config(format!(
                    "{text}: {other}:// is not supported (use s3://, gs://, az:// or file://)"
                ))));
            }
        };
        if scheme == Scheme::File {
            if !rest.starts_with('/') {
                return Some(Err(RemoteError::Config(format!(
                    "{text}: a file:// URL needs an absolute path (file:///dir/ or file:///dir/name.tar.gz)"
                ))));
            }
            let (dir, key) = match rest.rsplit_once('/') {
                Some(("", key)) => ("/", key),
                Some((dir, key)) => (dir, key),
                None => ("/", rest),
            };
            return Some(Ok(Location {
                scheme,
                root: dir.to_owned(),
                key: key.to_owned(),
            }));
        }
        let (root, key) = rest.split_once('/').unwrap_or((rest, ""));
        if root.is_empty() {
            return Some(Err(RemoteError::Config(format!(
                "{text}: no bucket or container name after {}://",
                scheme.as_str()
            ))));
        }
        Some(Ok(Location {
            scheme,
            root: root.to_owned(),
            key: key.to_owned(),
        }))
    }

    /// The URL of `key` in this location, as the operator would write it.
    pub fn url_of(&self, key: &str) -> String {
        match self.scheme {
            Scheme::File => format!("file://{}", Path::new(&self.root).join(key).display()),
            scheme => format!("{}://{}/{key}", scheme.as_str(), self.root),
        }
    }

    /// The key an archive named `file_name` gets: the key itself, or `file_name` under the prefix.
    pub fn key_for(&self, file_name: &str) -> String {
        if self.key.is_empty() || self.key.ends_with('/') {
            format!("{}{file_name}", self.key)
        } else {
            self.key.clone()
        }
    }

    /// For `file://`: the path of `key` on this machine.
    pub fn local_path(&self, key: &str) -> Option<PathBuf> {
        (self.scheme == Scheme::File).then(|| Path::new(&self.root).join(key))
    }
}

/// An opened store: a location and the client for it.
pub struct Remote {
    pub location: Location,
    store: Arc<dyn ObjectStore>,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote").field("location", &self.location).finish()
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Remote {
    /// Builds the client for `location` from the environment.
    pub fn open(location: Location) -> Result<Remote, RemoteError> {
        let url = location.url_of("");
        let store_error = |source| RemoteError::Store {
            url: url.clone(),
            source,
        };
        let store: Arc<dyn ObjectStore> = match location.scheme {
            Scheme::S3 => {
                // A half-given key pair is a mistake, not a reason to fall back to the instance's
                // role: say which half is missing.
                match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
                    (None, Some(_)) => {
                        return Err(RemoteError::Config(
                            "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not set".into(),
                        ));
                    }
                    (Some(_), None) => {
                        return Err(RemoteError::Config(
                            "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not set".into(),
                        ));
                    }
                    _ => {}
                }
                let mut builder = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(&location.root);
                if let Some(region) = var("S3_REGION").or_else(|| var("AWS_REGION")) {
                    builder = builder.with_region(region);
                }
                if let Some(endpoint) = var("S3_ENDPOINT") {
                    let parsed = url::Url::parse(&endpoint)
                        .ok()
                        .filter(|u| matches!(u.scheme(), "http" | "https"))
                        .ok_or_else(|| {
                            RemoteError::Config(format!("S3_ENDPOINT {endpoint:?} is not an http(s) URL"))
                        })?;
                    builder = builder
                        .with_allow_http(parsed.scheme() == "http")
                        .with_endpoint(endpoint);
                }
                Arc::new(builder.build().map_err(store_error)?)
            }
            Scheme::Gcs => Arc::new(
                object_store::gcp::GoogleCloudStorageBuilder::from_env()
                    .with_bucket_name(&location.root)
                    .build()
                    .map_err(store_error)?,
            ),
            Scheme::Azure => Arc::new(
                object_store::azure::MicrosoftAzureBuilder::from_env()
                    .with_container_name(&location.root)
                    .build()
                    .map_err(store_error)?,
            ),
            Scheme::File => {
                let dir = Path::new(&location.root);
                super::archive::private_dir_all(dir).map_err(|source| RemoteError::Local {
                    path: dir.display().to_string(),
                    source,
                })?;
                Arc::new(object_store::local::LocalFileSystem::new_with_prefix(dir).map_err(store_error)?)
            }
        };
        Ok(Remote { location, store })
    }

    fn object_path(&self, key: &str) -> Result<ObjectPath, RemoteError> {
        ObjectPath::parse(key).map_err(|e| RemoteError::Config(format!("{}: {e}", self.location.url_of(key))))
    }

    fn store_error(&self, key: &str) -> impl Fn(object_store::Error) -> RemoteError + '_ {
        let url = self.location.url_of(key);
        move |source| RemoteError::Store {
            url: url.clone(),
            source,
        }
    }

    /// Uploads `file` to `key` as a multipart upload, streamed from the file in parts; an upload
    /// that fails is aborted, so no half object is left behind. Returns the bytes sent.
    pub async fn upload(&self, file: &Path, key: &str) -> Result<u64, RemoteError> {
        let local = |source| RemoteError::Local {
            path: file.display().to_string(),
            source,
        };
        let mut reader = tokio::fs::File::open(file).await.map_err(local)?;
        let size = reader.metadata().await.map_err(local)?.len();
        let path = self.object_path(key)?;
        let upload = self.store.put_multipart(&path).await.map_err(self.store_error(key))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let progress = Progress::start("upload", Unit::Bytes, size);
        let mut buffer = vec![0u8; 1024 * 1024];
        let sent: Result<u64, RemoteError> = async {
            let mut sent = 0u64;
            loop {
                let n = reader.read(&mut buffer).await.map_err(local)?;
                if n == 0 {
                    break;
                }
                writer
                    .wait_for_capacity(UPLOAD_CONCURRENCY)
                    .await
                    .map_err(self.store_error(key))?;
                writer.write(&buffer[..n]);
                sent += n as u64;
                progress.inc(n as u64);
            }
            Ok(sent)
        }
        .await;
        let sent = match sent {
            Ok(sent) => sent,
            Err(error) => {
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(error = %abort, "could not abort the failed upload");
                }
                return Err(error);
            }
        };
        writer.finish().await.map_err(self.store_error(key))?;
        progress.finish();
        if let Some(path) = self.location.local_path(key) {
            // file://: durable like any other archive Kryton writes.
            sync_file_and_dir(&path).map_err(|source| RemoteError::Local {
                path: path.display().to_string(),
                source,
            })?;
        }
        Ok(sent)
    }

    /// Downloads `key` into `dest` (created 0600, fsynced), streamed. Returns the bytes received.
    pub async fn download(&self, key: &str, dest: &Path) -> Result<u64, RemoteError> {
        let local = |source| RemoteError::Local {
            path: dest.display().to_string(),
            source,
        };
        let path = self.object_path(key)?;
        let got = self.store.get(&path).await.map_err(self.store_error(key))?;
        let size = got.meta.size;
        let progress = Progress::start("download", Unit::Bytes, size);
        let file = super::archive::private_file(dest).map_err(local)?;
        let mut file = tokio::fs::File::from_std(file);
        let mut stream = got.into_stream();
        let mut received = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(self.store_error(key))?;
            file.write_all(&chunk).await.map_err(local)?;
            received += chunk.len() as u64;
            progress.inc(chunk.len() as u64);
        }
        file.flush().await.map_err(local)?;
        file.sync_all().await.map_err(local)?;
        progress.finish();
        Ok(received)
    }

    /// Keeps the newest `keep` archives (`kryton-backup-*.tar.gz`) directly under the prefix that
    /// holds `key`, deleting the others; returns the URLs deleted. Names carry a UTC timestamp, so
    /// they sort oldest first.
    pub async fn prune(&self, key: &str, keep: usize) -> Result<Vec<String>, RemoteError> {
        let prefix = key.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
        let prefix_path = if prefix.is_empty() {
            None
        } else {
            Some(self.object_path(prefix)?)
        };
        let listed = self
            .store
            .list_with_delimiter(prefix_path.as_ref())
            .await
            .map_err(self.store_error(prefix))?;
        let mut archives: Vec<ObjectPath> = listed
            .objects
            .into_iter()
            .map(|o| o.location)
            .filter(|p| {
                p.filename()
                    .is_some_and(|n| n.starts_with("kryton-backup-") && n.ends_with(".tar.gz"))
            })
            .collect();
        archives.sort_by(|a, b| a.as_ref().cmp(b.as_ref()));
        let excess = archives.len().saturating_sub(keep.max(1));
        let mut deleted = Vec::new();
        for old in archives.into_iter().take(excess) {
            self.store.delete(&old).await.map_err(self.store_error(old.as_ref()))?;
            deleted.push(self.location.url_of(old.as_ref()));
        }
        Ok(deleted)
    }
}

fn sync_file_and_dir(path: &Path) -> std::io::Result<()> {
    std::fs::File::open(path)?.sync_all()?;
    if let Some(dir) = path.parent() {
        super::archive::sync_dir(dir)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Location {
        Location::parse(text).unwrap().unwrap()
    }

    #[test]
    fn urls() {
        assert_eq!(
            parsed("s3://b/a/c.tar.gz"),
            Location {
                scheme: Scheme::S3,
                root: "b".into(),
                key: "a/c.tar.gz".into()
            }
        );
        assert_eq!(parsed("s3://b").key, "");
        assert_eq!(parsed("gs://b/p/").scheme, Scheme::Gcs);
        assert_eq!(parsed("az://c/p/").root, "c");
        assert_eq!(
            parsed("file:///srv/backups/"),
            Location {
                scheme: Scheme::File,
                root: "/srv/backups".into(),
                key: String::new()
            }
        );
        assert_eq!(parsed("file:///x.tar.gz").root, "/");
        assert!(Location::parse("s3:///x").unwrap().is_err());
        assert!(Location::parse("ftp://h/x").unwrap().is_err());
        assert!(Location::parse("file://relative/x").unwrap().is_err());
        assert!(Location::parse("/tmp/x").is_none());
        assert!(Location::parse("./x.tar.gz").is_none());
    }

    #[test]
    fn keys() {
        assert_eq!(parsed("s3://b/nightly/").key_for("k.tar.gz"), "nightly/k.tar.gz");
        assert_eq!(parsed("s3://b").key_for("k.tar.gz"), "k.tar.gz");
        assert_eq!(parsed("s3://b/exact.tar.gz").key_for("k.tar.gz"), "exact.tar.gz");
        assert_eq!(parsed("s3://b/n/").url_of("n/k"), "s3://b/n/k");
        assert_eq!(parsed("file:///srv/b/").url_of("k"), "file:///srv/b/k");
    }
}
