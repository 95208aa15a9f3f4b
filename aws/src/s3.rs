//! The S3 seam: where the finish and record-failure tasks put an execution's report (see
//! `drs_waves_report::gather`). One operation, PutObject, because that is all the worker's IAM role may
//! do on the report bucket: no read, list or delete, and the bucket's Object Lock keeps every
//! version for its retention.

use std::future::Future;
use std::pin::Pin;

use crate::AwsError;
use crate::failure::from_sdk;

/// One object to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutObject {
    pub bucket: String,
    pub key: String,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// The object store the reports go to. [`SdkS3`] is the real one; `MemoryS3` (test-util) keeps
/// the objects in memory and can be told to fail or hang.
pub trait ObjectStore: Send + Sync + 'static {
    fn put_object(&self, object: PutObject) -> impl Future<Output = Result<(), AwsError>> + Send;
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// [`ObjectStore`] behind a pointer: the task handlers hold the store without one more type
/// parameter.
pub trait DynObjectStore: Send + Sync + 'static {
    fn put_object_boxed(&self, object: PutObject) -> BoxFuture<'_, Result<(), AwsError>>;
}

impl<T: ObjectStore> DynObjectStore for T {
    fn put_object_boxed(&self, object: PutObject) -> BoxFuture<'_, Result<(), AwsError>> {
        Box::pin(self.put_object(object))
    }
}

/// [`ObjectStore`] over aws-sdk-s3.
#[derive(Clone, Debug)]
pub struct SdkS3 {
    client: aws_sdk_s3::Client,
}

impl SdkS3 {
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        SdkS3 { client }
    }
}

/// An S3 client from the standard AWS environment (`AWS_ENDPOINT_URL_S3` for a local S3), with
/// the worker's short timeouts; path-style requests when asked (LocalStack).
pub fn s3_client(config: &aws_config::SdkConfig, force_path_style: bool) -> aws_sdk_s3::Client {
    use aws_config::timeout::TimeoutConfig;
    use std::time::Duration;
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .read_timeout(Duration::from_secs(30))
        .operation_attempt_timeout(Duration::from_secs(35))
        .build();
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .timeout_config(timeouts)
            .force_path_style(force_path_style)
            // See REPORT_CHECKSUM: "when required" (AWS_REQUEST_CHECKSUM_CALCULATION, or
            // request_checksum_calculation in ~/.aws/config) would send the algorithm's name but
            // no checksum even for an upload that names one, and the locked bucket would refuse it.
            .request_checksum_calculation(
                aws_sdk_s3::config::RequestChecksumCalculation::WhenSupported,
            )
            .build(),
    )
}

/// The checksum every report upload carries. The report bucket has Object Lock with a default
/// retention, and S3 refuses an upload to such a bucket that has neither a Content-MD5 nor an
/// `x-amz-checksum-*` header. The SDK adds a CRC32 on its own by default, but only while its
/// request checksum calculation is "when supported": a default of the SDK and of the caller's
/// AWS config, which "when required" turns off even for an upload that names its algorithm
/// (PutObject does not require one). So the upload names SHA-256 and [`s3_client`] pins "when
/// supported". The body is in memory, so the SDK sends the checksum as a header, not as an
/// aws-chunked trailer.
pub const REPORT_CHECKSUM: aws_sdk_s3::types::ChecksumAlgorithm =
    aws_sdk_s3::types::ChecksumAlgorithm::Sha256;

impl ObjectStore for SdkS3 {
    async fn put_object(&self, object: PutObject) -> Result<(), AwsError> {
        self.client
            .put_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .content_type(&object.content_type)
            .checksum_algorithm(REPORT_CHECKSUM)
            .body(aws_sdk_s3::primitives::ByteStream::from(object.body))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| from_sdk("S3 PutObject", &e))
    }
}

#[cfg(any(test, feature = "fake"))]
pub use memory::MemoryS3;

#[cfg(any(test, feature = "fake"))]
mod memory {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use super::{ObjectStore, PutObject};
    use crate::AwsError;

    /// An in-memory [`ObjectStore`]: objects by (bucket, key), the next put told to fail or
    /// to never answer.
    #[derive(Clone, Default)]
    pub struct MemoryS3 {
        inner: Arc<Mutex<Inner>>,
    }

    #[derive(Default)]
    struct Inner {
        objects: BTreeMap<(String, String), PutObject>,
        fail_next: Option<AwsError>,
        hang: bool,
    }

    impl MemoryS3 {
        pub fn new() -> Self {
            Self::default()
        }

        fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
            self.inner.lock().unwrap_or_else(|e| e.into_inner())
        }

        /// The next put fails with `err`.
        pub fn fail_next(&self, err: AwsError) {
            self.inner().fail_next = Some(err);
        }

        /// Every put from now on never answers (a black-holed endpoint).
        pub fn hang(&self) {
            self.inner().hang = true;
        }

        pub fn object(&self, bucket: &str, key: &str) -> Option<PutObject> {
            self.inner()
                .objects
                .get(&(bucket.to_owned(), key.to_owned()))
                .cloned()
        }

        /// Every key, in order.
        pub fn keys(&self) -> Vec<String> {
            self.inner()
                .objects
                .keys()
                .map(|(_, k)| k.clone())
                .collect()
        }
    }

    impl ObjectStore for MemoryS3 {
        async fn put_object(&self, object: PutObject) -> Result<(), AwsError> {
            let hang = {
                let mut inner = self.inner();
                if let Some(err) = inner.fail_next.take() {
                    return Err(err);
                }
                inner.hang
            };
            if hang {
                std::future::pending::<()>().await;
            }
            self.inner()
                .objects
                .insert((object.bucket.clone(), object.key.clone()), object);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_sdk_s3::config::{
        BehaviorVersion, Credentials, Region, RequestChecksumCalculation, SharedCredentialsProvider,
    };
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpListener;

    use super::{ObjectStore, PutObject, SdkS3, s3_client};

    /// One HTTP request as the local endpoint received it: header names lower-cased.
    struct Received {
        request_line: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    impl Received {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        }
    }

    /// Accepts one connection, reads one request (answering `Expect: 100-continue`), answers
    /// 200 as S3 answers a PutObject, and gives back what it read.
    async fn receive_one_request(listener: TcpListener) -> std::io::Result<Received> {
        let (stream, _) = listener.accept().await?;
        let mut stream = BufReader::new(stream);
        let mut request_line = String::new();
        stream.read_line(&mut request_line).await?;
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            stream.read_line(&mut line).await?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
            }
        }
        let received = Received {
            request_line: request_line.trim_end().to_string(),
            headers,
            body: Vec::new(),
        };
        if received
            .header("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
        {
            stream
                .get_mut()
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await?;
        }
        let length: usize = received
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        stream.read_exact(&mut body).await?;
        stream
            .get_mut()
            .write_all(
                b"HTTP/1.1 200 OK\r\nETag: \"0\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )
            .await?;
        stream.get_mut().shutdown().await?;
        Ok(Received { body, ..received })
    }

    #[tokio::test]
    async fn a_report_upload_carries_its_sha256_even_when_the_sdk_would_add_none() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("address"));
        let server = tokio::spawn(receive_one_request(listener));
        // The SDK's own default checksum turned off, as AWS_REQUEST_CHECKSUM_CALCULATION=
        // when_required does: only what s3_client and the upload set can put one on the request.
        let config = aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "test",
                "test",
                None,
                None,
                "s3-checksum-test",
            )))
            .endpoint_url(&endpoint)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .build();
        let store = SdkS3::new(s3_client(&config, true));
        let body = b"drs-waves report".to_vec();
        tokio::time::timeout(
            Duration::from_secs(20),
            store.put_object(PutObject {
                bucket: "reports".into(),
                key: "billing/drill-1/report.json".into(),
                content_type: "application/json".into(),
                body: body.clone(),
            }),
        )
        .await
        .expect("the upload answered in time")
        .expect("the upload succeeded");
        let received = tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("the request arrived")
            .expect("the endpoint task")
            .expect("the request read");
        assert!(
            received
                .request_line
                .starts_with("PUT /reports/billing/drill-1/report.json"),
            "{}",
            received.request_line
        );
        assert_eq!(received.body, body, "sent as it is, not aws-chunked");
        assert_eq!(
            received.header("x-amz-sdk-checksum-algorithm"),
            Some("SHA256")
        );
        // base64(SHA-256("drs-waves report")), from `printf 'drs-waves report' | openssl dgst
        // -sha256 -binary | base64`.
        assert_eq!(
            received.header("x-amz-checksum-sha256"),
            Some("rA9MOLfLzMBTikp4LJR/NtRS7aw9lkPFw3sCCPkhGEc="),
            "{:?}",
            received.headers
        );
        assert_eq!(
            received.header("x-amz-trailer"),
            None,
            "a header, not a trailer"
        );
    }
}
