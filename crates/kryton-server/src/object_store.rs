//! A small S3 client (path-style requests, AWS Signature V4) for `kryton backup --out s3://...`.
//!
//! Enough of S3 for backups and nothing more: multipart upload from a file in fixed-size parts (so
//! memory stays flat however large the archive), download to a file, list a prefix, delete. Works
//! with AWS S3 and S3-compatible stores (MinIO, Ceph, moto). Credentials come from the usual
//! `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` variables and are never logged.

use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Parts of a multipart upload (S3 requires at least 5 MiB for every part but the last).
const PART_SIZE: usize = 8 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Config(String),
    #[error("object store request failed: {0}")]
    Http(String),
    #[error("object store answered {status} to {operation}: {body}")]
    Status {
        operation: String,
        status: u16,
        body: String,
    },
    #[error("local file: {0}")]
    Io(#[from] std::io::Error),
}

/// `s3://bucket/key/prefix` split into its parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    pub key: String,
}

impl S3Url {
    pub fn parse(url: &str) -> Option<Self> {
        let rest = url.strip_prefix("s3://")?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        (!bucket.is_empty()).then(|| S3Url {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        })
    }
}

/// Where and as whom to talk to the store.
#[derive(Clone)]
pub struct S3Client {
    endpoint: url::Url,
    region: String,
    access_key: String,
    secret_key: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for S3Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Client")
            .field("endpoint", &self.endpoint.as_str())
            .field("region", &self.region)
            .finish()
    }
}

/// One listed object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    pub key: String,
    pub last_modified: String,
}

impl S3Client {
    /// From `S3_ENDPOINT` (default AWS for the region), `S3_REGION` (default us-east-1),
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
    pub fn from_env() -> Result<Self, StoreError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let region = var("S3_REGION")
            .or_else(|| var("AWS_REGION"))
            .unwrap_or_else(|| "us-east-1".to_owned());
        let endpoint = var("S3_ENDPOINT").unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com"));
        let endpoint = url::Url::parse(&endpoint)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| StoreError::Config(format!("S3_ENDPOINT {endpoint:?} is not an http(s) URL")))?;
        let access_key =
            var("AWS_ACCESS_KEY_ID").ok_or_else(|| StoreError::Config("AWS_ACCESS_KEY_ID is not set".into()))?;
        let secret_key = var("AWS_SECRET_ACCESS_KEY")
            .ok_or_else(|| StoreError::Config("AWS_SECRET_ACCESS_KEY is not set".into()))?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(300))
            .build()
            .map_err(|e| StoreError::Http(e.to_string()))?;
        Ok(S3Client {
            endpoint,
            region,
            access_key,
            secret_key,
            http,
        })
    }

    /// Uploads a local file to `bucket/key`, part by part.
    pub async fn upload(&self, file: &Path, bucket: &str, key: &str) -> Result<(), StoreError> {
        let created = self
            .send("POST", bucket, key, &[("uploads", "")], Vec::new(), "start upload")
            .await?;
        let upload_id = xml_values(&created, "UploadId")
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::Http("no UploadId in the answer".into()))?;
        let result = self.upload_parts(file, bucket, key, &upload_id).await;
        if result.is_err() {
            // Do not leave half an upload billed in the bucket.
            let _ = self
                .send(
                    "DELETE",
                    bucket,
                    key,
                    &[("uploadId", &upload_id)],
                    Vec::new(),
                    "abort upload",
                )
                .await;
        }
        result
    }

    async fn upload_parts(&self, file: &Path, bucket: &str, key: &str, upload_id: &str) -> Result<(), StoreError> {
        let mut reader = tokio::fs::File::open(file).await?;
        let mut parts = Vec::new();
        loop {
            let mut chunk = vec![0u8; PART_SIZE];
            let mut filled = 0;
            while filled < PART_SIZE {
                let n = reader.read(&mut chunk[filled..]).await?;
                if n == 0 {
                    break;
                }
                filled += n;
            }
            chunk.truncate(filled);
            if filled == 0 && !parts.is_empty() {
                break;
            }
            let number = (parts.len() + 1).to_string();
            let query = [("partNumber", number.as_str()), ("uploadId", upload_id)];
            let response = self.request("PUT", bucket, key, &query, chunk).await?;
            let etag = response
                .headers()
                .get("etag")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
                .ok_or_else(|| StoreError::Http("no ETag for an uploaded part".into()))?;
            check(response, "upload part").await?;
            parts.push(etag);
            if filled < PART_SIZE {
                break;
            }
        }
        let body: String = std::iter::once("<CompleteMultipartUpload>".to_owned())
            .chain(parts.iter().enumerate().map(|(i, etag)| {
                format!(
                    "<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>",
                    i + 1,
                    xml_escape(etag)
                )
            }))
            .chain(std::iter::once("</CompleteMultipartUpload>".to_owned()))
            .collect();
        let answer = self
            .send(
                "POST",
                bucket,
                key,
                &[("uploadId", upload_id)],
                body.into_bytes(),
                "complete upload",
            )
            .await?;
        if answer.contains("<Error>") {
            return Err(StoreError::Http(format!("completing the upload failed: {answer}")));
        }
        Ok(())
    }

    /// Downloads `bucket/key` into a local file, chunk by chunk.
    pub async fn download(&self, bucket: &str, key: &str, file: &Path) -> Result<(), StoreError> {
        let mut response = self.request("GET", bucket, key, &[], Vec::new()).await?;
        if !response.status().is_success() {
            return Err(check(response, "download")
                .await
                .err()
                .unwrap_or(StoreError::Http("download failed".into())));
        }
        let mut out = tokio::fs::File::create(file).await?;
        while let Some(chunk) = response.chunk().await.map_err(|e| StoreError::Http(e.to_string()))? {
            out.write_all(&chunk).await?;
        }
        out.sync_all().await?;
        Ok(())
    }

    /// Every object under a prefix (one page of up to 1000 is plenty for a backup prefix).
    pub async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<Object>, StoreError> {
        let answer = self
            .send(
                "GET",
                bucket,
                "",
                &[("list-type", "2"), ("prefix", prefix)],
                Vec::new(),
                "list objects",
            )
            .await?;
        let keys = xml_values(&answer, "Key");
        let dates = xml_values(&answer, "LastModified");
        Ok(keys
            .into_iter()
            .zip(dates)
            .map(|(key, last_modified)| Object { key, last_modified })
            .collect())
    }

    pub async fn delete(&self, bucket: &str, key: &str) -> Result<(), StoreError> {
        self.send("DELETE", bucket, key, &[], Vec::new(), "delete object")
            .await
            .map(drop)
    }

    async fn send(
        &self,
        method: &str,
        bucket: &str,
        key: &str,
        query: &[(&str, &str)],
        body: Vec<u8>,
        operation: &str,
    ) -> Result<String, StoreError> {
        let response = self.request(method, bucket, key, query, body).await?;
        check(response, operation).await
    }

    /// A signed request (AWS Signature Version 4, path-style addressing).
    async fn request(
        &self,
        method: &str,
        bucket: &str,
        key: &str,
        query: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<reqwest::Response, StoreError> {
        let now = time::OffsetDateTime::now_utc();
        let amz_date = format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second()
        );
        let date = &amz_date[..8];
        let base_path = self.endpoint.path().trim_end_matches('/');
        let mut path = format!("{base_path}/{}", encode(bucket, false));
        if !key.is_empty() {
            path.push('/');
            path.push_str(&encode(key, true));
        }
        let mut pairs: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (encode(k, false), encode(v, false)))
            .collect();
        pairs.sort();
        let canonical_query = pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let host = match self.endpoint.port() {
            Some(port) => format!("{}:{port}", self.endpoint.host_str().unwrap_or_default()),
            None => self.endpoint.host_str().unwrap_or_default().to_owned(),
        };
        let payload_hash = hex::encode(Sha256::digest(&body));
        let canonical_request = format!(
            "{method}\n{path}\n{canonical_query}\nhost:{host}\nx-amz-content-sha256:{payload_hash}\nx-amz-date:{amz_date}\n\n\
             host;x-amz-content-sha256;x-amz-date\n{payload_hash}"
        );
        let scope = format!("{date}/{}/s3/aws4_request", self.region);
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            hex::encode(Sha256::digest(canonical_request.as_bytes()))
        );
        let mut signing_key = hmac(format!("AWS4{}", self.secret_key).as_bytes(), date.as_bytes());
        for part in [self.region.as_str(), "s3", "aws4_request"] {
            signing_key = hmac(&signing_key, part.as_bytes());
        }
        let signature = hex::encode(hmac(&signing_key, string_to_sign.as_bytes()));
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={signature}",
            self.access_key
        );
        let mut url = self.endpoint.clone();
        url.set_path(&path);
        url.set_query((!canonical_query.is_empty()).then_some(canonical_query.as_str()));
        let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| StoreError::Http(e.to_string()))?;
        self.http
            .request(method, url)
            .header("x-amz-date", &amz_date)
            .header("x-amz-content-sha256", &payload_hash)
            .header("authorization", authorization)
            .body(body)
            .send()
            .await
            .map_err(|e| StoreError::Http(e.to_string()))
    }
}

async fn check(response: reqwest::Response, operation: &str) -> Result<String, StoreError> {
    let status = response.status().as_u16();
    let body = response.text().await.map_err(|e| StoreError::Http(e.to_string()))?;
    if (200..300).contains(&status) {
        Ok(body)
    } else {
        Err(StoreError::Status {
            operation: operation.to_owned(),
            status,
            body: body.chars().take(300).collect(),
        })
    }
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// RFC 3986 percent-encoding as SigV4 wants it; `/` kept in object keys.
fn encode(text: &str, keep_slash: bool) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            b'/' if keep_slash => "/".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(&open)
        .skip(1)
        .filter_map(|rest| rest.split_once(&close).map(|(v, _)| xml_unescape(v)))
        .collect()
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn xml_unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls() {
        assert_eq!(
            S3Url::parse("s3://b/a/c.tar.gz"),
            Some(S3Url {
                bucket: "b".into(),
                key: "a/c.tar.gz".into()
            })
        );
        assert_eq!(
            S3Url::parse("s3://b"),
            Some(S3Url {
                bucket: "b".into(),
                key: String::new()
            })
        );
        assert_eq!(S3Url::parse("s3:///x"), None);
        assert_eq!(S3Url::parse("/tmp/x"), None);
    }

    #[test]
    fn encoding_and_xml() {
        assert_eq!(encode("a b/c~", true), "a%20b/c~");
        assert_eq!(encode("a/b", false), "a%2Fb");
        assert_eq!(
            xml_values("<R><Key>a&amp;b</Key><Key>c</Key></R>", "Key"),
            vec!["a&b", "c"]
        );
    }
}
